"""The narrow question of closed-world verification with the real default constraint juror
(Qwen2.5-Coder-1.5B@constraint, installed by `make test`): properties only, never the sampled
answer (llama.cpp's kernels decide differently on another CPU)."""
from __future__ import annotations

from pathlib import Path

import pytest

from agenther_local.adapters import read
from agenther_local.config import Config
from agenther_local.judges.cache import CallCache
from agenther_local.pipeline import judge_loader, make_juror
from agenther_local.stages.verify import verify_goal

pytestmark = pytest.mark.real_model

TAU = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tau_bench_airline" / "gpt-4o-airline.part1of3.json"
# run 0 booked HAT136 + HAT039; "evening" is a word no rule accounts for, so the ONE bound call
# (with the flight records it joins to) goes to the model
GOAL = "Book a one-way economy evening trip from JFK to Seattle on May 20 on HAT136 and HAT039 for Mia Li."


@pytest.fixture(scope="module")
def juror():
    load, _ = judge_loader(Config(), None)
    return make_juror(load, "qwen2.5-coder-1.5b", "constraint", Config())


def test_the_narrow_question_parses_fits_and_repeats(juror):
    run = next(t for _, t in read(TAU))
    first = verify_goal(GOAL, run, juror)
    (c,) = [c for c in first.constraints if c.method == "narrow_question"]
    assert 0.0 <= c.p_yes <= 1.0
    assert c.holds is (c.p_yes >= juror.threshold) and first.accepted is c.holds
    assert juror.threshold_source.startswith("calibrated")
    words = {w["text"]: w for w in c.words}
    assert words["evening"]["how"] == ("question" if c.holds else "unaccounted")
    stats = juror.judge.stats
    assert stats.prompt_tokens / max(1, stats.calls) < 450          # one call and its joins, not the run
    again = verify_goal(GOAL, run, juror)
    (c2,) = [c for c in again.constraints if c.method == "narrow_question"]
    assert c2.p_yes == pytest.approx(c.p_yes, abs=1e-6) and again.accepted is first.accepted


def test_a_cached_narrow_question_is_not_asked_again(tmp_path):
    load, _ = judge_loader(Config(), CallCache(tmp_path / "calls.sqlite"))
    juror = make_juror(load, "qwen2.5-coder-1.5b", "constraint", Config())
    run = next(t for _, t in read(TAU))
    a = verify_goal(GOAL, run, juror)
    calls = juror.judge.stats.calls
    b = verify_goal(GOAL, run, juror)
    assert juror.judge.stats.calls == calls and a.to_dict() == b.to_dict()
