"""The paraphrase stage (stages/plan.py `paraphrase`) on the real Qwen2.5-Coder-0.5B GGUF, the
fast preset's writer: properties only (llama.cpp samples differently on another CPU).

Each verified plan of a demo run is reworded with several goals per run: every rewording
parses, fits the schema's bound, is kept only when it binds the same calls and records as the
plain request (else the plain request is kept with the reason), and a second pass in the same
process makes the same decisions.
"""
from __future__ import annotations

import json

import pytest
from fakes import demo_record

from agenther_local.config import RelabelConfig, RuntimeConfig
from agenther_local.judges.llama import LlamaJudge, unload_all
from agenther_local.judges.manifest import get_manifest, verify
from agenther_local.prompts import Prompts
from agenther_local.stages.plan import PARAPHRASE_SCHEMA
from agenther_local.stages.relabel import relabel_from_plans

pytestmark = pytest.mark.real_model

RUNS = ("demo01_copper_wire", "demo03_flight_bos_den")


@pytest.fixture(scope="module")
def writer(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTHER_LOCAL_HOME", str(tmp_path_factory.mktemp("home")))
        m = get_manifest("qwen2.5-coder-0.5b")
        verify(m)
        yield LlamaJudge(m, RuntimeConfig(seed=0))
    unload_all()


def _decide(writer):
    cfg = RelabelConfig(goals_per_run=2)
    out = {}
    for name in RUNS:
        t = demo_record(name)
        plain = relabel_from_plans(t, Prompts(), RelabelConfig(goals_per_run=2, paraphrase=False))
        rl = relabel_from_plans(t, Prompts(), cfg, writer=writer, seed=0)
        out[name] = (plain, rl)
    return out


def test_rewordings_parse_bind_alike_and_repeat_within_a_run(writer):
    first = _decide(writer)
    limit = PARAPHRASE_SCHEMA["properties"]["goal"]["maxLength"]
    for name, (plain, rl) in first.items():
        assert rl.accepted and len(rl.goals) == len(plain.goals), name     # rewording never loses a goal
        for a, p in zip([a for a in rl.attempts if a.status == "accepted"],
                        [a for a in plain.attempts if a.status == "accepted"]):
            assert json.loads(a.raw)["goal"] is not None and len(a.goal) <= limit   # parses, fits its bound
            if a.goal == p.goal:
                assert "plain request is used" in a.detail or "verified against the plan" in a.detail
            else:        # a kept rewording binds exactly what the plain request bound
                assert "verified against the plan's calls and records" in a.detail
                bound = lambda x: sorted(json.dumps(c.bound_to, sort_keys=True) for c in x.verification.constraints if c.bound_to)
                assert bound(a) == bound(p) and a.verification.accepted
    again = _decide(writer)
    assert {n: rl.goals for n, (_, rl) in again.items()} == {n: rl.goals for n, (_, rl) in first.items()}
