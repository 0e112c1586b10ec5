"""stages/gates.py, gate by gate, on hand-written runs and the demo copper-wire run. No gate
asks a model; the embedding gates use the FakeEmbedder (bag of words: same text -> cosine 1,
no shared word -> 0)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from fakes import FakeEmbedder

from agenther_local.config import DetectConfig, GateConfig
from agenther_local.stages.extract import RuleExtractor, extract_outcome
from agenther_local.stages.gates import (GATES, grounding, not_trivial, on_topic, run_gates, unmet_specifics,
                                         well_formed)
from agenther_local.trajectory import Step, Trajectory

GC = GateConfig()
EMB = FakeEmbedder()
DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.jsonl"

RUN = Trajectory(
    id="gates-run", goal="Find copper wire suppliers with prices under $5/kg and MOQ below 100 kg",
    steps=(
        Step("", "search_suppliers", {"query": "copper wire"},
             "Found 5 suppliers of copper wire: Ohio Wire & Cable at $5.30/kg (MOQ 10 kg), "
             "Rhein Kupfer GmbH at $5.85/kg (MOQ 25 kg), Pacific Conductor at $6.10/kg (MOQ 50 kg), "
             "Monterrey Alambres at $5.45/kg (MOQ 80 kg), Hubei Metalworks at $4.65/kg (MOQ 500 kg)"),
        Step("", "ask_user", {}, "Check the one at $4.10/kg too.", role="user"),
    ),
    final_answer="Acme Metals quoted $4.75/kg.", success=False)
OUTCOME = extract_outcome(RUN, RuleExtractor(), DetectConfig())


def copper() -> Trajectory:
    return Trajectory.from_dict(json.loads(DEMO.read_text(encoding="utf-8").splitlines()[0]))


# ------------------------------------------------------------------ well_formed

@pytest.mark.parametrize("goal, phrase", [
    ("Ask the agent which copper wire supplier is cheapest", "the agent"),
    ("Summarise this trajectory", "trajectory"),
    ("Write a hindsight request about copper wire", "hindsight"),
    ("Repeat the original goal", "original goal"),
    ("What did The Assistant find about copper wire?", "the assistant"),
    ("Find the exact number of deprecated functions in the given facts.", "given facts"),   # the demo, 0.5B writer
])
def test_well_formed_rejects_meta_words(goal, phrase):
    r = well_formed(goal, RUN, GC)
    assert not r.passed and r.name == "well_formed" and r.detail == f"mentions {phrase!r}"


def test_well_formed_matches_banned_phrases_as_whole_words():
    assert well_formed("Summarise the agenda of the copper wire fair", RUN, GC).passed


@pytest.mark.parametrize("goal", ["", "   "])
def test_well_formed_rejects_an_empty_goal(goal):
    assert well_formed(goal, RUN, GC).detail == "empty goal"


def test_unmet_specifics_of_the_copper_wire_run():
    assert unmet_specifics(copper()) == ["$5/kg"]       # 100 kg occurs in the python output


def test_well_formed_rejects_a_carried_over_unmet_constraint():
    r = well_formed("Which copper wire supplier sells under 5 dollars per kg?", copper(), GC)
    assert not r.passed
    assert r.detail == "carries over the original goal's unmet constraint(s): $5/kg"


def test_well_formed_does_not_confuse_a_count_with_an_unmet_price():
    # "5 suppliers" is a count the tool output shows; the unmet constraint is the price
    # "$5/kg". well_formed compares bare normalised values (str(s.norm): "5" == "5") without
    # kind or unit, so this true, grounded goal is rejected as an over-claim (BUG, see report).
    goal = "Compare the 5 suppliers of copper wire by price per kg and report the cheapest"
    assert grounding(goal, RUN).passed
    r = well_formed(goal, RUN, GC)
    assert r.passed, r.detail


# ------------------------------------------------------------------ grounding

def test_grounding_cites_the_tool_step_of_each_specific():
    r = grounding("Which copper wire supplier charges $5.30/kg with an MOQ of 10 kg?", RUN)
    assert r.passed and r.detail == "2 specific(s), all found in tool outputs"
    assert {e["step"] for e in r.data["evidence"]} == {0}


def test_grounding_rejects_values_from_a_user_turn_but_accepts_them_from_a_tool():
    goal = "Which copper wire supplier charges $4.10/kg?"
    r = grounding(goal, RUN)
    assert not r.passed and r.detail == "not in any tool output: '$4.10/kg' (money)"
    assert r.data == {"missing": ["$4.10/kg"]}
    # control: the very same text, returned by a tool, grounds the goal
    as_tool = dataclasses.replace(RUN.steps[1], role="tool")
    assert grounding(goal, dataclasses.replace(RUN, steps=(RUN.steps[0], as_tool))).passed


def test_grounding_rejects_values_from_the_final_answer():
    r = grounding("Which copper wire supplier charges $4.75/kg?", RUN)
    assert not r.passed and "'$4.75/kg' (money)" in r.detail


def test_a_goal_without_specifics_is_grounded():
    assert grounding("Compare copper wire suppliers by price", RUN).detail == "0 specific(s), all found in tool outputs"


# ------------------------------------------------------------------ not_trivial

def test_not_trivial_rejects_the_original_goal_itself():
    r = not_trivial(RUN.goal, RUN, EMB, GC)
    assert not r.passed and r.data["cosine"] == pytest.approx(1.0)
    assert r.detail == "near-copy of the original goal (cosine 1.000 >= 0.92, same specifics)"


def test_not_trivial_rejects_a_reworded_copy_with_the_same_specifics():
    # same words in another order and case: cosine 1 for a bag of words
    goal = "with prices under $5/kg and MOQ below 100 kg, find copper wire suppliers"
    assert not not_trivial(goal, RUN, EMB, GC).passed


def test_not_trivial_passes_a_near_copy_whose_specifics_differ():
    base = ("Find bare solid copper wire suppliers on the open market with good prices per kg, "
            "fast shipping, stock on hand and MOQ below {} kg")
    traj = dataclasses.replace(RUN, goal=base.format(100))
    r = not_trivial(base.format(25), traj, EMB, GC)
    assert r.passed and r.data["cosine"] >= GC.max_original_cosine
    assert r.detail.endswith("but different specifics")


def test_not_trivial_passes_a_different_goal():
    r = not_trivial("Which copper wire supplier ships from Cleveland?", RUN, EMB, GC)
    assert r.passed and r.data["cosine"] < GC.max_original_cosine


# ------------------------------------------------------------------ on_topic

def test_on_topic_rejects_an_unrelated_goal():
    r = on_topic("What is the return policy for opened headphones?", OUTCOME, EMB, GC)
    assert not r.passed and r.detail == f"cosine to the outcome 0.000 < {GC.min_outcome_cosine}"


def test_on_topic_threshold_comes_from_the_config():
    goal = "Compare copper wire suppliers by price per kg and MOQ"
    c = on_topic(goal, OUTCOME, EMB, GC).data["cosine"]
    assert 0 < c < 1
    assert on_topic(goal, OUTCOME, EMB, GateConfig(min_outcome_cosine=c)).passed
    assert not on_topic(goal, OUTCOME, EMB, GateConfig(min_outcome_cosine=c + 0.01)).passed


# ------------------------------------------------------------------ run_gates

def test_run_gates_runs_in_order_and_stops_at_the_first_rejection():
    ok = run_gates("Which copper wire supplier charges $5.30/kg with an MOQ of 10 kg?", RUN, OUTCOME, EMB, GC)
    assert [r.name for r in ok] == list(GATES) == ["well_formed", "grounding", "not_trivial", "on_topic"]
    assert all(r.passed for r in ok)
    bad = run_gates("Which copper wire supplier charges $5.10/kg?", RUN, OUTCOME, EMB, GC)
    assert [(r.name, r.passed) for r in bad] == [("well_formed", True), ("grounding", False)]


def test_gate_results_serialise_with_their_name():
    (r,) = run_gates("Ask the agent", RUN, OUTCOME, EMB, GC)
    assert r.to_dict() == {"gate": "well_formed", "passed": False, "detail": "mentions 'the agent'"}


@pytest.mark.parametrize("goal", ["Which copper wire supplier charges $4.90/kg?",
                                  "Which copper wire supplier charges $5.45/kg?"])
def test_grounding_reads_a_price_from_a_table_whose_header_gives_the_unit(goal):
    # demo01, step 1: "| Supplier | Price (USD/kg) | MOQ | ... |" then "| Anatolia Cable Supply |
    # 4.90 | 250 kg |" and "| Monterrey Alambres S.A. | 5.45 | 80 kg |". Both goals are true
    # (Anatolia, Monterrey), but a bare number grounds "$4.90/kg" only with a money word or unit
    # within ~60 characters, and the header is further away (BUG, see report).
    assert grounding(goal, copper()).passed
