"""The whole pipeline on the paper's worked example, with fakes: examples/demo.jsonl record
`demo01_copper_wire` (answer key: examples/README.md).

The run compares seven copper-wire suppliers; none is both under $5/kg and below 100 kg MOQ;
the cheapest small-order one is Ohio Wire & Cable at $5.30/kg (MOQ 10 kg). Asked again for the
original goal, the pipeline must refuse it by a gate, before any judge is asked; a hindsight
goal grounded in the observations goes through the writer's self-vote and the jury.

The Pipeline is assembled by hand: RuleDetector, RuleExtractor, a ScriptedJudge writer, a Jury
of three ScriptedJudges, the FakeEmbedder and the shipped prompts.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeEmbedder, ScriptedJudge

from agenther_local.config import JURY_PRESETS, Config
from agenther_local.judges.jury import Juror, Jury
from agenther_local.pipeline import Pipeline, parse_jury, unsupported_answer
from agenther_local.prompts import Prompts
from agenther_local.stages.detect import RuleDetector
from agenther_local.stages.extract import RuleExtractor
from agenther_local.trajectory import Trajectory

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.jsonl"
# These tests drive the model writer's branches: goals from plans (tested in test_plan.py) are off.
CFG = Config().replace("relabel", plan_first=False)
PAPER = "paper θ = 0.5 (uncalibrated)"

# examples/README.md, demo01 row
SATISFIED = ("Compare copper wire suppliers by price per kg and minimum order quantity, and report the "
             "cheapest one that accepts orders below 100 kg.")
OVER_CLAIM = "Find copper wire suppliers with prices under $5/kg and minimum order quantity below 100 kg"
# README "harder negatives": right topic, each value in some tool output, but not together
PERTURBED = ("Compare copper wire suppliers by price per kg and minimum order quantity, and report the "
             "cheapest one that accepts orders below 100 kg, with an MOQ of 25 kg at $5.30/kg.")


def demo(record_id: str) -> Trajectory:
    for line in DEMO.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d["id"] == record_id:
            return Trajectory.from_dict(d)
    raise KeyError(record_id)


COPPER = demo("demo01_copper_wire")


def draft(goal: str, valid: bool = True) -> dict:
    return {"goal": goal, "facts": [1, 2], "valid": valid, "rationale": "the tool outputs show it"}


def pipeline(writer: ScriptedJudge, jurors: list[ScriptedJudge], rule: str = "majority") -> Pipeline:
    prompts = Prompts()
    jury = Jury([Juror(j, "verify", CFG.relabel.paper_threshold, PAPER) for j in jurors], rule=rule, prompts=prompts)
    return Pipeline(
        cfg=CFG,
        detector=RuleDetector(CFG.detect, unsupported_answer(CFG.detect.unsupported_answer_share)),
        extractor=RuleExtractor(),
        writer=writer,
        self_juror=Juror(writer, "verify", CFG.relabel.paper_threshold, PAPER),
        jury=jury,
        embedder=FakeEmbedder(),
        prompts=prompts,
    )


def test_the_demo_record_is_the_papers_example():
    assert COPPER.goal == OVER_CLAIM
    assert "$5.30/kg" in COPPER.final_answer and COPPER.success is False
    assert "both constraints: []" in COPPER.steps[3].observation


def test_copper_wire_original_goal_is_refused_by_a_gate_without_asking_the_jury():
    # The writer proposes the original goal three times; nothing is scripted for "verify", so
    # neither its self-vote nor any juror may be asked.
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", *[draft(OVER_CLAIM)] * 3)
    jurors = [ScriptedJudge(id=f"juror{i}") for i in (1, 2, 3)]

    entry = pipeline(writer, jurors).process(COPPER)

    assert entry["status"] == "rejected" and entry["stage"] == "relabel"
    assert entry["failure"]["discarded"] is False and entry["failure"]["failure_type"] == "constraint_violation"
    assert entry["weight"] == pytest.approx(0.7)
    attempts = entry["relabel"]["attempts"]
    assert [a["status"] for a in attempts] == ["gate:well_formed"] * 3
    assert attempts[0]["detail"] == "carries over the original goal's unmet constraint(s): $5/kg"
    assert entry["reason"].startswith("no attempt passed: attempt 1: gate:well_formed "
                                      "(carries over the original goal's unmet constraint(s): $5/kg)")
    assert entry["goal"] is None
    assert writer.asked("verify") == [] and all(j.history == [] for j in jurors)
    assert [c.name for c in writer.history] == ["relabel"] * 3


def test_copper_wire_grounded_hindsight_goal_is_accepted():
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(SATISFIED)).enqueue_p_yes("verify", 0.8)
    j1, j2, j3 = (ScriptedJudge(id=f"juror{i}") for i in (1, 2, 3))
    j1.enqueue_p_yes("verify", 0.9)
    j2.enqueue_p_yes("verify", 0.7)

    entry = pipeline(writer, [j1, j2, j3]).process(COPPER)

    assert entry["status"] == "accepted", entry["reason"]
    assert entry["goal"] == SATISFIED
    assert entry["confidence"] == pytest.approx((0.8 + 0.8) / 2)
    assert entry["reason"] == "c = 0.800 >= θ = 0.500; jury accepted: 2/2 jurors asked voted yes (of 3)"
    (attempt,) = entry["relabel"]["attempts"]
    assert attempt["temperature"] == 0.3
    assert [(g["gate"], g["passed"]) for g in attempt["gates"]] == [
        ("well_formed", True), ("grounding", True), ("not_trivial", True), ("on_topic", True)]
    # "100 kg" is grounded by the python step's output ("MOQ < 100 kg by price: ...")
    (cited,) = attempt["gates"][1]["data"]["evidence"]
    assert cited["text"] == "100 kg" and cited["step"] == 3
    # the writer is shown the verified facts, not the original goal nor the agent's final answer
    (relabel_prompt,) = writer.asked("relabel")
    assert "Ohio Wire &amp; Cable" not in relabel_prompt.prompt.user       # no HTML escaping
    assert "Ohio Wire & Cable - $5.30/kg - MOQ 10 kg" in relabel_prompt.prompt.user
    assert COPPER.final_answer not in relabel_prompt.prompt.user
    assert COPPER.goal not in relabel_prompt.prompt.user
    # the jurors were asked about the accepted goal
    assert SATISFIED in j1.history[0].user and j3.history == []
    json.dumps(entry, ensure_ascii=False)               # the journal line can be written


def test_copper_wire_over_claim_then_grounded_goal_is_accepted_on_retry():
    writer = (ScriptedJudge(id="writer").enqueue_json("relabel", draft(OVER_CLAIM), draft(SATISFIED))
              .enqueue_p_yes("verify", 0.8))
    j1, j2, j3 = (ScriptedJudge(id=f"juror{i}") for i in (1, 2, 3))
    j1.enqueue_p_yes("verify", 0.9)
    j2.enqueue_p_yes("verify", 0.7)

    entry = pipeline(writer, [j1, j2, j3]).process(COPPER)

    assert entry["status"] == "accepted" and entry["goal"] == SATISFIED
    assert [(a["status"], a["temperature"]) for a in entry["relabel"]["attempts"]] == [
        ("gate:well_formed", 0.3), ("accepted", 0.7)]


def test_copper_wire_perturbed_goal_is_rejected_by_verification_before_any_judge():
    # "MOQ of 25 kg" (Rhein Kupfer) and "$5.30/kg" (Ohio Wire & Cable) each occur in a tool
    # output, so the grounding gate passes; they are not in ONE record, so verification fails
    # it and no judge is asked (before records, this was left to the jury).
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(PERTURBED), *[draft(PERTURBED, False)] * 2)
    big, mid, small = ScriptedJudge(id="big"), ScriptedJudge(id="mid"), ScriptedJudge(id="small")

    entry = pipeline(writer, [big, mid, small], rule="strongest").process(COPPER)

    assert entry["status"] == "rejected"
    first = entry["relabel"]["attempts"][0]
    assert all(g["passed"] for g in first["gates"])
    assert first["status"] == "verify:constraint" and "[mixed_records]" in first["detail"]
    assert "'25 kg'" in first["detail"]
    assert not writer.asked("verify") and big.history == mid.history == small.history == []


@pytest.mark.parametrize("record_id, why", [
    ("demo06_hotel_503", "not recoverable"),
    ("demo08_museum_hallucination", "discarded: w = "),
])
def test_discarded_demo_runs_never_reach_a_judge(record_id, why):
    writer = ScriptedJudge(id="writer")                 # nothing scripted: any call raises
    entry = pipeline(writer, [ScriptedJudge(id="juror1")]).process(demo(record_id))
    assert entry["status"] == "rejected" and entry["stage"] == "detect"
    assert entry["reason"].startswith(why)
    assert writer.history == []


def test_a_successful_run_is_skipped():
    import dataclasses
    entry = pipeline(ScriptedJudge(id="writer"), [ScriptedJudge(id="juror1")]).process(
        dataclasses.replace(COPPER, success=True))
    assert entry["status"] == "skipped_success" and entry["weight"] == 1.0


# ------------------------------------------------------------------ the writer and the jury

def test_a_juror_that_is_the_writer_at_verify_is_asked_the_self_votes_exact_prompt():
    # Shape of both presets (config.JURY_PRESETS): the writer's self-vote is writer@verify, and
    # the first juror is writer@verify too. That juror is asked the identical prompt, so its
    # P(yes) is c again (and a cache hit), not an independent second opinion.
    writer = (ScriptedJudge(id="qwen-1.5b")
              .enqueue_json("relabel", draft(SATISFIED), *[draft(SATISFIED, valid=False)] * 2)
              .enqueue_p_yes("verify", 0.8, 0.8))
    others = [ScriptedJudge(id="qwen-0.5b"), ScriptedJudge(id="smollm2")]
    others[0].enqueue_p_yes("verify", 0.2)
    others[1].enqueue_p_yes("verify", 0.3)
    pipe = pipeline(writer, [writer, *others], rule="strongest")

    entry = pipe.process(COPPER)

    self_vote, juror_vote = [c.prompt for c in writer.asked("verify")]
    assert self_vote == juror_vote
    assert entry["status"] == "rejected"      # here the two others outvote it; see the next test
    votes = entry["relabel"]["attempts"][0]["verdict"]["votes"]
    assert [v["juror"] for v in votes] == ["qwen-1.5b@verify", "qwen-0.5b@verify", "smollm2@verify"]


@pytest.mark.parametrize("preset", sorted(JURY_PRESETS))
def test_preset_juries_do_not_re_ask_the_writers_self_vote(preset):
    # SPEC step 3: after c >= θ "an independent second judge" scores the goal. With the writer's
    # own model@verify among the jurors, one juror always agrees with c: under "strong"
    # (rule "strongest", writer first) the strongest juror can never veto a goal with c >= θ,
    # and every fallback attempt (c < θ) is refused by it (BUG, see report).
    spec = parse_jury(preset)
    assert f"{spec['writer']}@verify" not in spec["jurors"], spec
