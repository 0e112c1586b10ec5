"""agenther_local/answer_key.py on the development answer key (shared/answer_key/): every run is
found and named by its benchmark, the per-source scores partition the whole key's, and the
word accounting counts what the verifier's constraints carry."""
from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from agenther_local import answer_key
from agenther_local.answer_key import load_key, score, score_by_source, source_of, word_accounting
from agenther_local.stages.verify import verify_goal

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="module")
def key():
    goals, missing = load_key(sorted((SHARED / "answer_key").glob("*.jsonl")), SHARED / "fixtures")
    assert missing == [] and goals
    return goals


def test_docstring_examples():
    result = doctest.testmod(answer_key)
    assert result.failed == 0 and result.attempted > 0


def test_every_key_run_belongs_to_a_named_benchmark(key):
    assert {source_of(g.run) for g in key} == {"tau-bench", "tau2", "ToolBench", "FireAct", "ReAct", "SWE"}
    # the SWE group is every coding-agent folder, and nothing else
    assert {g.run.split("/")[0] for g in key if source_of(g.run) == "SWE"} == {"mini_swe_agent",
                                                                                "swe_agent_swebench_verified"}


def test_per_source_scores_partition_the_whole_key(key):
    # a decision that differs from goal to goal: accept every third goal
    decisions = [(i % 3 == 0, "") for i in range(len(key))]
    decided = {id(g): d for g, d in zip(key, decisions)}
    whole = score(key, lambda g: decided[id(g)])
    parts = score_by_source(key, decisions)
    for field in ("goals", "valid", "invalid", "accepted_valid", "accepted_invalid"):
        assert sum(p[field] for p in parts.values()) == whole[field]
    for field in ("goals", "accepted_valid", "accepted_invalid"):
        assert all(p[field] + p["other_sources"][field] == whole[field] for p in parts.values())
    assert 0 < whole["accepted_valid"] < whole["valid"]
    for kind, k in whole["rejected_by_kind"].items():
        assert sum(p["rejected_by_kind"].get(kind, {"rejected": 0})["rejected"] for p in parts.values()) == k["rejected"]
    assert sum(p["runs"] for p in parts.values()) == len({g.run for g in key})


def test_word_accounting_counts_the_words_the_constraints_carry(key):
    goals = key[:40]
    constraints = [verify_goal(g.goal, g.traj).to_dict()["constraints"] for g in goals]
    carried = sum(len(c.get("words", [])) for cs in constraints for c in cs)
    wa = word_accounting(goals, constraints)
    assert wa["true_goals"]["goals"] == sum(g.valid for g in goals) > 0
    assert wa["false_goals"]["goals"] == sum(not g.valid for g in goals) > 0
    assert wa["all_goals"]["words"] == sum(wa["all_goals"]["by_how"].values()) == carried
    # one unaccounted word added to the first false goal shows in its group and nowhere else
    first_false = next(i for i, g in enumerate(goals) if not g.valid)
    extra = [list(cs) for cs in constraints]
    extra[first_false] = [*extra[first_false], {"words": [{"text": "somehow", "how": "unaccounted"}]}]
    wa2 = word_accounting(goals, extra)
    assert wa2["false_goals"]["by_how"]["unaccounted"] == wa["false_goals"]["by_how"]["unaccounted"] + 1
    assert wa2["true_goals"] == wa["true_goals"]
    assert wa2["false_goals"]["goals_with_unaccounted"] >= 1
