"""`--jury strong` with the real Qwen2.5-Coder-1.5B (installed by `make test` through
`make models-strong`): its thresholds come from the manifests, and on fixture pairs a goal
with one value changed scores below its true twin."""
from __future__ import annotations

from pathlib import Path

import pytest

from agenther_local.adapters import read
from agenther_local.config import JURY_PRESETS, Config
from agenther_local.evaluate import make_pairs
from agenther_local.judges.jury import Jury
from agenther_local.pipeline import PipelineOptions, build_pipeline
from agenther_local.trajectory import Trajectory

pytestmark = pytest.mark.real_model

FIREACT = next((Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "fireact_hotpotqa").glob("*.json"))


@pytest.fixture(scope="module")
def strong():
    return build_pipeline(PipelineOptions(jury="strong", use_cache=False), Config())[0]


def test_strong_judges_use_the_calibrations_in_their_manifests(strong):
    assert JURY_PRESETS["strong"]["writer"] == "qwen2.5-coder-1.5b" and strong.jury is None   # measured: one judge
    assert strong.self_juror.id == "qwen2.5-coder-1.5b@verify"
    assert strong.self_juror.threshold_source.startswith("calibrated 2026-")
    assert strong.constraint_juror.id == "qwen2.5-coder-1.5b@constraint"
    assert strong.constraint_juror.threshold_source.startswith("calibrated 2026-")


def test_fast_writes_with_the_0_5b_and_checks_with_the_calibrated_1_5b():
    fast = build_pipeline(PipelineOptions(jury="fast", use_cache=False), Config())[0]
    assert fast.writer.id == "qwen2.5-coder-0.5b" and fast.jury is None
    assert fast.self_juror.id == "qwen2.5-coder-1.5b@verify" and fast.constraint_juror.id == "qwen2.5-coder-1.5b@constraint"
    assert fast.self_juror.threshold == pytest.approx(0.813, abs=0.001)      # models/qwen2.5-coder-1.5b.toml
    # a writer given on the command line writes; the preset's checker still checks
    other = build_pipeline(PipelineOptions(jury="fast", writer="smollm2-135m", use_cache=False), Config())[0]
    assert other.writer.id == "smollm2-135m" and other.self_juror.id == "qwen2.5-coder-1.5b@verify"
    # a jury given as a model list has no separate checker: the writer checks itself (the paper)
    own = build_pipeline(PipelineOptions(jury="qwen2.5-coder-0.5b", single_judge=True, use_cache=False), Config())[0]
    assert own.self_juror.id == "qwen2.5-coder-0.5b@verify"


def test_a_perturbed_goal_scores_below_its_true_twin(strong):
    runs = [t for _, t in read(FIREACT, "react") if isinstance(t, Trajectory)]
    pairs = make_pairs(runs, seed=5, max_runs=12)
    goals = {p.traj.id: p for p in pairs if p.kind == "positive"}
    twins = [(goals[p.traj.id], p) for p in pairs if p.kind == "perturbed"][:4]
    assert len(twins) >= 3
    judge = strong.self_juror
    ask = Jury([judge], prompts=strong.prompts).ask
    for pos, neg in twins:
        p_true, p_false = ask(judge, pos.traj, pos.goal).p_yes, ask(judge, neg.traj, neg.goal).p_yes
        assert p_false < p_true, (neg.how, p_true, p_false)
