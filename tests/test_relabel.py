"""stages/relabel.py: one test per branch of the relabel algorithm (SPEC, "The pipeline", step 3),
driven by ScriptedJudge writers and jurors and the FakeEmbedder.

θ = 0.5 and K = 3 throughout (the paper's values, config.RelabelConfig). A ScriptedJudge raises
if asked anything that was not scripted, so "the jury was not asked" is checked twice: by the
empty history and by the absence of an AssertionError.
"""
from __future__ import annotations

import dataclasses

import pytest
from fakes import FakeEmbedder, ScriptedJudge

from agenther_local.config import Config, GateConfig, RelabelConfig
from agenther_local.judges.jury import Juror, Jury
from agenther_local.prompts import Prompts
from agenther_local.stages.extract import RuleExtractor, extract_outcome
from agenther_local.stages.gates import GATES, run_gates
from agenther_local.stages.relabel import attempt_seed, relabel_goal
from agenther_local.trajectory import Step, Trajectory

PROMPTS = Prompts()
THETA = 0.5

RUN = Trajectory(
    id="copper-small",
    goal="Find copper wire suppliers with prices under $5/kg and MOQ below 100 kg",
    steps=(
        Step("Search small-lot suppliers.", "search_suppliers", {"query": "copper wire small lots"},
             "WireTrade Hub - bare copper wire, small lots welcome\n"
             "Ohio Wire & Cable - $5.30/kg - MOQ 10 kg - Cleveland, OH\n"
             "Rhein Kupfer GmbH - $5.85/kg - MOQ 25 kg - Duisburg, DE"),
        # the user's words are context, never evidence
        Step("", "ask_user", {}, "Please also check the supplier at $4.10/kg that a colleague mentioned.",
             role="user"),
        Step("Compare them.", "python", {"code": "min(small, key=price)"},
             "cheapest with MOQ below 100 kg: Ohio Wire & Cable at $5.30/kg (MOQ 10 kg)"),
    ),
    # the agent's own words are not evidence either
    final_answer="Ohio Wire & Cable is cheapest at $5.30/kg; Acme Metals quoted $4.75/kg by phone.",
    failure_reason="No supplier is under $5/kg.",
    success=False,
)
OUTCOME = extract_outcome(RUN, RuleExtractor(), Config().detect)

# A goal the run fully satisfies: its one specific ("10 kg") is in a tool output.
GOOD = "Compare wire suppliers by price per kg and report the cheapest one with an MOQ of 10 kg"
GOOD_2 = "What does Ohio Wire & Cable charge per kg, and what is its MOQ?"
GOOD_3 = "What does Rhein Kupfer GmbH charge per kg, $5.85, and what is its MOQ?"


def draft(goal: str, valid: bool = True) -> dict:
    """What the writer returns (prompts/relabel.j2): goal, rationale, valid (b), facts."""
    return {"goal": goal, "facts": [1, 3], "valid": valid, "rationale": "facts 1 and 3 show it"}


def self_juror(writer: ScriptedJudge, threshold: float = THETA) -> Juror:
    return Juror(writer, "verify", threshold, "paper θ = 0.5 (test)")


def jury_of(*judges: ScriptedJudge, rule: str = "majority", prompt: str = "verify") -> Jury:
    return Jury([Juror(j, prompt, THETA, "paper θ = 0.5 (test)") for j in judges], rule=rule, prompts=PROMPTS)


def jurors(n: int = 3) -> list[ScriptedJudge]:
    return [ScriptedJudge(id=f"juror{i}") for i in range(1, n + 1)]


def relabel(writer: ScriptedJudge, jury: Jury | None, *, cfg: RelabelConfig = RelabelConfig(),
            gates: GateConfig = GateConfig(), traj: Trajectory = RUN, prompts: Prompts = PROMPTS,
            theta: float = THETA):
    outcome = OUTCOME if traj is RUN else extract_outcome(traj, RuleExtractor(), Config().detect)
    return relabel_goal(traj, outcome, writer, self_juror(writer, theta), jury, FakeEmbedder(), prompts, cfg,
                        gates, seed=0)


def statuses(rl) -> list[str]:
    return [a.status for a in rl.attempts]


@pytest.mark.parametrize("goal", [GOOD, GOOD_2, GOOD_3])
def test_the_goals_used_below_pass_every_gate(goal):
    # A precondition of the branch tests: with default gates and the FakeEmbedder these goals
    # reach the judges (otherwise a scripted P(yes) would go to the wrong attempt).
    results = run_gates(goal, RUN, OUTCOME, FakeEmbedder(), GateConfig())
    assert [r.name for r in results] == list(GATES) and all(r.passed for r in results), results


# ------------------------------------------------------------------ accepted by the jury

def test_accepted_on_first_try_at_temperature_0_3_with_one_jury_call():
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.8)
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.9)
    j2.enqueue_p_yes("verify", 0.7)            # j3 has nothing scripted: 2 of 3 decide

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert rl.accepted and rl.goal == GOOD and not rl.via_fallback
    assert statuses(rl) == ["accepted"]
    a = rl.attempts[0]
    assert a.temperature == 0.3 and writer.asked("relabel")[0].temperature == 0.3
    assert writer.asked("relabel")[0].seed == a.seed == attempt_seed(0, RUN.id, 1)
    assert [len(j.history) for j in (j1, j2, j3)] == [1, 1, 0]      # the jury decided once, early
    assert [g.name for g in a.gates] == ["well_formed", "grounding", "not_trivial", "on_topic"]
    assert all(g.passed for g in a.gates)
    assert a.c == 0.8 and a.verdict is not None and a.verdict.accepted
    assert [v.juror for v in a.verdict.votes] == ["juror1@verify", "juror2@verify"]
    assert rl.confidence == pytest.approx((0.8 + (0.9 + 0.7) / 2) / 2)
    assert rl.reason == "c = 0.800 >= θ = 0.500; jury accepted: 2/2 jurors asked voted yes (of 3)"
    assert rl.accepted_attempt is a
    assert writer.remaining() == {} and j1.remaining() == {} and j2.remaining() == {}


def test_accepted_on_retry_at_temperature_0_7_after_a_gate_rejects_attempt_1():
    bad = "Have the agent compare copper wire suppliers by price per kg"
    writer = (ScriptedJudge(id="writer").enqueue_json("relabel", draft(bad), draft(GOOD))
              .enqueue_p_yes("verify", 0.8))       # one self-vote: the gated attempt is never scored
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.9)
    j2.enqueue_p_yes("verify", 0.9)

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert rl.accepted and rl.goal == GOOD
    assert statuses(rl) == ["gate:well_formed", "accepted"]
    assert rl.attempts[0].detail == "mentions 'the agent'"
    assert [a.temperature for a in rl.attempts] == [0.3, 0.7]
    assert [c.temperature for c in writer.asked("relabel")] == [0.3, 0.7]
    assert [c.seed for c in writer.asked("relabel")] == [attempt_seed(0, RUN.id, 1), attempt_seed(0, RUN.id, 2)]
    assert len(writer.asked("verify")) == 1
    assert rl.attempts[0].self_vote is None and rl.attempts[0].verdict is None
    assert [len(j.history) for j in (j1, j2, j3)] == [1, 1, 0]


def test_later_retries_also_use_temperature_0_7():
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD, valid=False), draft(GOOD, valid=False),
                                                     draft(GOOD, valid=False))
    rl = relabel(writer, jury_of(*jurors()))
    assert [a.temperature for a in rl.attempts] == [0.3, 0.7, 0.7]
    assert len({a.seed for a in rl.attempts}) == 3


# ------------------------------------------------------------------ the jury's veto

def test_jury_veto_rejects_the_goal_and_says_so():
    writer = (ScriptedJudge(id="writer")
              .enqueue_json("relabel", draft(GOOD), draft(GOOD_2, valid=False), draft(GOOD_2, valid=False))
              .enqueue_p_yes("verify", 0.9))
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.2)
    j2.enqueue_p_yes("verify", 0.3)

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert not rl.accepted and rl.goal is None and rl.confidence == 0.0
    assert statuses(rl) == ["vetoed", "invalid", "invalid"]
    vetoed = rl.attempts[0]
    assert vetoed.detail == "jury rejected: 0/2 jurors asked voted yes (of 3)"
    assert [(v.juror, v.vote) for v in vetoed.verdict.votes] == [("juror1@verify", False), ("juror2@verify", False)]
    assert rl.reason.startswith("no attempt passed: attempt 1: vetoed (jury rejected: 0/2 jurors asked voted yes")
    assert len(j3.history) == 0


def test_jury_veto_under_the_strongest_rule_names_the_juror():
    writer = (ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.9))
    big, small = ScriptedJudge(id="big"), ScriptedJudge(id="small")
    big.enqueue_p_yes("verify", 0.1)

    rl = relabel(writer, jury_of(big, small, rule="strongest"), cfg=RelabelConfig(max_attempts=1))

    assert not rl.accepted
    assert rl.attempts[0].status == "vetoed"
    assert rl.attempts[0].detail == "jury strongest juror big@verify voted no (P(yes) 0.100 < 0.500)"
    assert "big@verify voted no" in rl.reason
    assert small.history == []


def test_fallback_never_revives_a_vetoed_goal():
    # Attempt 1: GOOD is confident (c = 0.9) and the jury vetoes it. Attempt 2: the writer
    # proposes the same goal again (re-cased, re-punctuated), this time with c in [0.8θ, θ),
    # i.e. exactly what the fallback would accept. Attempt 3: nothing valid.
    writer = (ScriptedJudge(id="writer")
              .enqueue_json("relabel", draft(GOOD), draft(GOOD.lower() + "."), draft(GOOD_2, valid=False))
              .enqueue_p_yes("verify", 0.9, 0.45))
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.1)
    j2.enqueue_p_yes("verify", 0.2)

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert not rl.accepted and rl.goal is None and not rl.via_fallback
    assert statuses(rl) == ["vetoed", "repeat_of_vetoed", "invalid"]
    assert rl.attempts[1].detail == "the jury already rejected this goal"
    assert rl.fallback_verdict is None
    assert [len(j.history) for j in (j1, j2, j3)] == [1, 1, 0]     # the jury was not asked again


def test_fallback_refuses_a_remembered_goal_the_jury_vetoed_later():
    # The other order: GOOD is remembered as the best low-confidence attempt (c = 0.45 in
    # [0.8θ, θ)), then comes back confident and is vetoed. The fallback must not accept it.
    writer = (ScriptedJudge(id="writer")
              .enqueue_json("relabel", draft(GOOD), draft(GOOD), draft(GOOD_2, valid=False))
              .enqueue_p_yes("verify", 0.45, 0.9))
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.1)
    j2.enqueue_p_yes("verify", 0.2)

    rl = relabel(writer, jury_of(j1, j2, j3), cfg=RelabelConfig(fallback_jury=False))

    assert not rl.accepted and rl.goal is None
    assert statuses(rl) == ["low_confidence", "vetoed", "invalid"]
    assert rl.reason == "fallback refused: the jury rejected this goal in another attempt"


# ------------------------------------------------------------------ the fallback (c in [0.8θ, θ))

def three_low_confidence(c1: float, c2: float, c3: float) -> ScriptedJudge:
    return (ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD), draft(GOOD_2), draft(GOOD_3))
            .enqueue_p_yes("verify", c1, c2, c3))


def test_fallback_accepted_at_0_8_theta_when_the_jury_agrees():
    writer = three_low_confidence(0.42, 0.45, 0.30)
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.8)
    j2.enqueue_p_yes("verify", 0.6)

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert rl.accepted and rl.via_fallback and rl.goal == GOOD_2
    assert statuses(rl) == ["low_confidence"] * 3
    assert rl.attempts[1].detail == "c = 0.450 < θ = 0.500"
    assert rl.confidence == pytest.approx((0.45 + 0.7) / 2)
    assert rl.reason == ("fallback: attempt 2, c = 0.450 >= 0.8θ = 0.400; "
                         "jury accepted: 2/2 jurors asked voted yes (of 3)")
    assert rl.fallback_verdict is not None and rl.fallback_verdict.accepted
    # the jury was asked once, for the fallback, about the fallback goal
    assert [len(j.history) for j in (j1, j2, j3)] == [1, 1, 0]
    assert GOOD_2 in j1.history[0].user


def test_fallback_accepted_on_c_alone_when_fallback_jury_is_off():
    writer = three_low_confidence(0.42, 0.45, 0.30)
    j1, j2, j3 = jurors()                           # nothing scripted: asking them would raise

    rl = relabel(writer, jury_of(j1, j2, j3), cfg=RelabelConfig(fallback_jury=False))

    assert rl.accepted and rl.via_fallback and rl.goal == GOOD_2
    assert rl.confidence == 0.45
    assert rl.reason == "fallback: attempt 2, c = 0.450 >= 0.8θ = 0.400"
    assert rl.fallback_verdict is None
    assert all(j.history == [] for j in (j1, j2, j3))


def test_fallback_accepted_exactly_at_0_8_theta():
    writer = three_low_confidence(0.40, 0.10, 0.20)
    rl = relabel(writer, jury_of(*jurors()), cfg=RelabelConfig(fallback_jury=False))
    assert rl.accepted and rl.goal == GOOD


def test_fallback_refused_when_the_jury_disagrees():
    writer = three_low_confidence(0.42, 0.45, 0.30)
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.2)
    j2.enqueue_p_yes("verify", 0.6)
    j3.enqueue_p_yes("verify", 0.3)

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert not rl.accepted and rl.goal is None and rl.via_fallback
    assert rl.reason == "fallback refused by the jury: rejected: 1/3 jurors asked voted yes (of 3)"
    assert rl.fallback_verdict is not None and not rl.fallback_verdict.accepted


def test_fallback_refused_below_0_8_theta():
    writer = three_low_confidence(0.35, 0.39, 0.20)
    j1, j2, j3 = jurors()                           # nothing scripted: the jury is never asked

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert not rl.accepted and rl.goal is None
    assert rl.confidence == 0.39
    assert rl.reason == "fallback refused: best c = 0.390 < 0.8θ = 0.400"
    assert all(j.history == [] for j in (j1, j2, j3))


# ------------------------------------------------------------------ what the writer says

def test_unparsable_writer_output_counts_as_an_attempt_and_is_rejected():
    writer = ScriptedJudge(id="writer").enqueue_text("relabel", '{"goal": "Compare copper', "[1, 2]", "Sure! Here")
    rl = relabel(writer, jury_of(*jurors()))

    assert not rl.accepted and rl.goal is None
    assert statuses(rl) == ["unparsable"] * 3
    assert rl.attempts[0].detail.startswith("not valid JSON")
    assert rl.attempts[1].detail == "expected a JSON object, got list"
    assert rl.attempts[0].raw == '{"goal": "Compare copper'                 # the raw text is kept
    assert rl.reason.startswith("no attempt passed: attempt 1: unparsable (not valid JSON")
    assert "attempt 3: unparsable" in rl.reason
    assert writer.asked("verify") == []


def test_unparsable_attempt_is_followed_by_a_retry():
    writer = (ScriptedJudge(id="writer").enqueue_text("relabel", '{"goal": ')
              .enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.8))
    j1, j2, j3 = jurors()
    j1.enqueue_p_yes("verify", 0.9)
    j2.enqueue_p_yes("verify", 0.9)

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert rl.accepted and statuses(rl) == ["unparsable", "accepted"]
    assert rl.attempts[1].k == 2 and rl.attempts[1].temperature == 0.7


def test_valid_false_is_never_accepted():
    # A good goal, but the writer says b = 0 every time: it is never scored nor put to the jury
    # (nothing is scripted for "verify": asking would raise).
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", *[draft(GOOD, valid=False)] * 3)
    j1, j2, j3 = jurors()

    rl = relabel(writer, jury_of(j1, j2, j3))

    assert not rl.accepted and rl.goal is None
    assert statuses(rl) == ["invalid"] * 3
    assert rl.attempts[0].detail == "the writer said no valid goal exists (b = 0)"
    assert rl.reason.startswith("no attempt passed: attempt 1: invalid (the writer said no valid goal exists (b = 0))")
    assert writer.asked("verify") == [] and all(j.history == [] for j in (j1, j2, j3))


def test_valid_false_is_not_accepted_in_single_judge_mode_either():
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", *[draft(GOOD, valid=False)] * 3)
    rl = relabel(writer, None)
    assert not rl.accepted and statuses(rl) == ["invalid"] * 3


# ------------------------------------------------------------------ each gate, by name

ONE = RelabelConfig(max_attempts=1)


def gated(goal: str, **kw):
    """One attempt with `goal`; nothing but the writer's draft is scripted (no judge may be asked)."""
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(goal))
    js = jurors()
    rl = relabel(writer, jury_of(*js), cfg=ONE, **kw)
    assert not rl.accepted and len(rl.attempts) == 1
    assert writer.asked("verify") == [] and all(j.history == [] for j in js)
    return rl, rl.attempts[0]


def test_gate_well_formed_rejects_a_banned_phrase():
    rl, a = gated("Have the agent compare copper wire suppliers by price per kg")
    assert a.status == "gate:well_formed"
    assert a.detail == "mentions 'the agent'"
    assert [g.name for g in a.gates] == ["well_formed"]             # later gates are not run
    assert rl.reason == "no attempt passed: attempt 1: gate:well_formed (mentions 'the agent')"


def test_gate_well_formed_rejects_an_unmet_original_constraint():
    rl, a = gated("Compare copper wire suppliers and report one under $5/kg")
    assert a.status == "gate:well_formed"
    assert a.detail == "carries over the original goal's unmet constraint(s): $5/kg"
    assert a.gates[0].data == {"unmet": ["$5/kg"]}
    assert "gate:well_formed (carries over the original goal's unmet constraint(s): $5/kg)" in rl.reason


def test_gate_grounding_rejects_a_number_no_tool_returned():
    rl, a = gated("Report the copper wire supplier that charges $5.10/kg")
    assert a.status == "gate:grounding"
    assert a.detail == "not in any tool output: '$5.10/kg' (money)"
    assert [g.name for g in a.gates] == ["well_formed", "grounding"]
    assert "gate:grounding" in rl.reason and "$5.10/kg" in rl.reason


def test_gate_grounding_a_value_only_in_a_user_turn_is_not_evidence():
    # $4.10/kg is written in RUN's user turn, and in no tool output.
    rl, a = gated("Compare copper wire suppliers and report the one at $4.10/kg")
    assert a.status == "gate:grounding"
    assert a.detail == "not in any tool output: '$4.10/kg' (money)"


def test_gate_grounding_a_value_only_in_the_final_answer_is_not_evidence():
    # Acme Metals and $4.75/kg appear only in the agent's final answer.
    _, a = gated("Compare copper wire suppliers and report the one at $4.75/kg")
    assert a.status == "gate:grounding" and "'$4.75/kg' (money)" in a.detail
    _, a = gated("Compare copper wire prices from Acme Metals and Ohio Wire & Cable")
    assert a.status == "gate:grounding" and "'Acme Metals' (entity)" in a.detail


PLAIN = Trajectory(
    id="copper-plain", goal="Find the cheapest copper wire supplier on WireTrade Hub",
    steps=(Step("", "open_page", {"url": "https://wiretradehub.com/copper"},
                "WireTrade Hub - bare copper wire\nOhio Wire & Cable - $5.30/kg - MOQ 10 kg\n"
                "Rhein Kupfer GmbH - $5.85/kg - MOQ 25 kg"),),
    final_answer="Ohio Wire & Cable.", failure_reason="The task wanted the checkout done too.", success=False)


def test_gate_not_trivial_rejects_the_original_goal():
    rl, a = gated(PLAIN.goal, traj=PLAIN)
    assert a.status == "gate:not_trivial"
    assert a.detail == "near-copy of the original goal (cosine 1.000 >= 0.92, same specifics)"
    assert [g.name for g in a.gates] == ["well_formed", "grounding", "not_trivial"]
    assert "gate:not_trivial" in rl.reason


def test_gate_on_topic_rejects_an_unrelated_goal():
    rl, a = gated("What is the return policy for opened headphones?",
                  gates=GateConfig(min_outcome_cosine=0.35))
    assert a.status == "gate:on_topic"
    assert a.detail == "cosine to the outcome 0.000 < 0.35"
    assert [g.name for g in a.gates] == ["well_formed", "grounding", "not_trivial", "on_topic"]
    assert "gate:on_topic (cosine to the outcome 0.000 < 0.35)" in rl.reason


# ------------------------------------------------------------------ single-judge mode (jury=None)

def test_single_judge_mode_accepts_on_the_writers_c_alone():
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.7)
    rl = relabel(writer, None)
    assert rl.accepted and rl.goal == GOOD and rl.confidence == 0.7
    assert rl.reason == "c = 0.700 >= θ = 0.500 (single judge)"
    assert rl.attempts[0].verdict is None
    assert rl.attempts[0].self_vote.juror == "writer@verify"


def test_single_judge_mode_refuses_the_fallback_without_an_independent_yes():
    writer = three_low_confidence(0.30, 0.41, 0.20)
    rl = relabel(writer, None)
    assert not rl.accepted and rl.goal is None
    assert rl.reason == ("fallback refused: attempt 2, c = 0.410 >= 0.8θ = 0.400, but single-judge mode has "
                         "no independent jury to confirm it")


def test_single_judge_mode_fallback_at_0_8_theta_with_the_papers_rule():
    writer = three_low_confidence(0.30, 0.41, 0.20)
    rl = relabel(writer, None, cfg=RelabelConfig(fallback_jury=False))
    assert rl.accepted and rl.via_fallback and rl.goal == GOOD_2 and rl.confidence == 0.41
    assert rl.reason == "fallback: attempt 2, c = 0.410 >= 0.8θ = 0.400"


def test_single_judge_mode_uses_the_writers_threshold():
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.6)
    rl = relabel(writer, None, cfg=ONE, theta=0.8)              # a calibrated, stricter θ
    assert not rl.accepted and rl.attempts[0].status == "low_confidence"
    assert rl.attempts[0].detail == "c = 0.600 < θ = 0.800"
    assert rl.attempts[0].self_vote.threshold == 0.8
    assert rl.reason == "fallback refused: best c = 0.600 < 0.8θ = 0.640"


def test_self_vote_uses_the_prompts_it_was_given(tmp_path):
    # A `--prompts DIR` override of verify.j2 must reach the writer's self-vote. In single-judge
    # mode relabel_goal builds `Jury([self_juror], prompts=Prompts())` and so renders the
    # SHIPPED verify.j2, ignoring the `prompts` argument (BUG, see the report).
    (tmp_path / "verify.j2").write_text(
        "{% block user %}CUSTOM VERIFY: is {{ goal }} what the run did? Answer Yes or No.{% endblock %}\n",
        encoding="utf-8")
    custom = Prompts(tmp_path)
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.7)

    rl = relabel(writer, None, prompts=custom)

    assert rl.accepted
    (verify,) = [c.prompt for c in writer.asked("verify")]
    assert verify.template_sha256 == custom.sha256("verify")
    assert verify.user.startswith("CUSTOM VERIFY")


def test_relabel_does_not_mutate_its_inputs():
    before = dataclasses.replace(RUN)
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.7)
    relabel(writer, None)
    assert RUN == before and RUN.to_dict() == before.to_dict()


# ------------------------------------------------------------------ what the writer is shown

def test_the_writer_does_not_see_the_original_goal_by_default():
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.7)
    relabel(writer, None)
    (call,) = writer.asked("relabel", kind="generate_json")
    assert RUN.goal not in call.prompt.user
    assert "Ohio Wire & Cable - $5.30/kg - MOQ 10 kg" in call.prompt.user     # the verified facts are


def test_the_papers_layout_shows_the_original_goal():
    writer = (ScriptedJudge(id="writer").enqueue_json("relabel_with_original", draft(GOOD))
              .enqueue_p_yes("verify", 0.7))
    rl = relabel(writer, None, cfg=RelabelConfig(template="relabel_with_original"))
    assert rl.accepted
    (call,) = writer.asked("relabel_with_original")
    assert RUN.goal in call.prompt.user


# ------------------------------------------------------------------ constraints cite facts

def constrained(goal: str, *constraints: tuple[str, list[int]]) -> dict:
    """The writer's JSON as prompts/relabel.j2 asks for it: the goal's parts, each citing facts."""
    return {"goal": goal, "constraints": [{"part": p, "facts": f} for p, f in constraints], "valid": True,
            "rationale": "the facts show it"}


def test_each_clause_of_an_accepted_goal_names_its_record_and_tool_step():
    fact = 3       # "cheapest with MOQ below 100 kg: Ohio Wire & Cable at $5.30/kg (MOQ 10 kg)", step 2
    writer = ScriptedJudge(id="writer").enqueue_json("relabel", constrained(
        GOOD, ("compare small-lot suppliers by price per kg", [1]), ("the cheapest one with an MOQ of 10 kg", [fact])))
    writer.enqueue_p_yes("verify", 0.8)
    j1 = ScriptedJudge(id="j1").enqueue_p_yes("verify", 0.9)
    rl = relabel(writer, jury_of(j1))
    assert rl.accepted
    a = rl.accepted_attempt
    # the writer's parts are journaled as it wrote them; verification binds the clauses itself
    assert [c.facts for c in a.claims] == [(1,), (fact,)] and a.facts == (1, fact)
    moq = next(c for c in a.verification.constraints if "10 kg" in c.text)
    assert moq.method == "bound_record" and moq.bound_to["step"] == 0
    assert [v["value"] for v in moq.values] == ["10 kg"] and moq.values[0]["found"]


def test_values_from_two_records_are_rejected_before_any_judge():
    # each value is in a tool output (the grounding gate passes), but $5.85 is Rhein Kupfer's
    writer = ScriptedJudge(id="writer")
    for _ in range(3):
        writer.enqueue_json("relabel", constrained("What does Ohio Wire & Cable charge per kg, $5.85?", ("charge", [1])))
    j1 = ScriptedJudge(id="j1")
    rl = relabel(writer, jury_of(j1))
    assert not rl.accepted and statuses(rl) == ["verify:constraint"] * 3
    assert "[mixed_records]" in rl.attempts[0].detail
    assert not writer.asked("verify") and not j1.history


# ------------------------------------------------------------------ cut and degenerate drafts

CUT = '{"goal": "Compare small-lot copper wire suppliers by price per kg and report the cheap'
LOOP = '{"goal": "Find ' + "facts that are not only facts but also " * 3


def test_the_writer_budget_is_the_schema_bound_and_the_run_is_fitted_to_leave_it():
    from agenther_local.judges.generation import json_bound
    from agenther_local.stages.relabel import SCHEMA

    writer = ScriptedJudge(id="writer").enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.7)
    relabel(writer, None)
    (call,) = writer.asked("relabel", kind="generate_json")
    assert call.max_tokens == json_bound(SCHEMA) > 1000      # goal 240 + 6 parts of 120 + rationale 80


def test_a_cut_draft_is_journaled_as_cut_and_drawn_again_without_using_up_an_attempt():
    writer = (ScriptedJudge(id="writer").enqueue_text("relabel", CUT, finish="length")
              .enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.7))
    rl = relabel(writer, None)

    assert rl.accepted and statuses(rl) == ["cut", "accepted"]
    cut, ok = rl.attempts
    assert (cut.k, cut.draw, ok.k, ok.draw) == (1, 0, 1, 1)            # still attempt 1
    assert cut.raw == CUT and cut.detail.startswith("cut at the token budget of ")
    first, second = writer.asked("relabel")
    assert first.seed == attempt_seed(0, RUN.id, 1) and second.seed == attempt_seed(0, RUN.id, 1, 1) != first.seed
    assert (first.temperature, second.temperature) == (0.3, 0.7)      # a redraw samples at the retry temperature
    assert ok.temperature == 0.7 and ok.seed == second.seed
    assert cut.to_dict()["status"] == "cut" and cut.to_dict()["draw"] == 0


def test_degenerate_drafts_are_redrawn_at_most_max_redraws_times_then_the_next_attempt_runs():
    loops = [LOOP] * 3                                                # attempt 1: every draw loops
    writer = (ScriptedJudge(id="writer").enqueue_text("relabel", *loops, finish="repetition")
              .enqueue_json("relabel", draft(GOOD)).enqueue_p_yes("verify", 0.7))
    rl = relabel(writer, None)

    assert rl.accepted
    assert [(a.k, a.draw, a.status) for a in rl.attempts] == [
        (1, 0, "degenerate"), (1, 1, "degenerate"), (1, 2, "degenerate"), (2, 0, "accepted")]
    assert "facts that are not" in rl.attempts[0].detail and rl.attempts[0].detail.startswith("degenerate: ")
    assert len({c.seed for c in writer.asked("relabel")}) == 4


def test_a_record_whose_every_draft_degenerates_is_rejected_for_that_reason():
    from agenther_local.runner import rejection_key

    cfg = RelabelConfig(max_redraws=0)
    writer = ScriptedJudge(id="writer").enqueue_text("relabel", LOOP, LOOP, LOOP, finish="repetition")
    rl = relabel(writer, None, cfg=cfg)
    assert not rl.accepted and statuses(rl) == ["degenerate"] * 3
    assert "attempt 3: degenerate (degenerate: " in rl.reason
    entry = {"status": "rejected", "relabel": rl.to_dict()}
    assert rejection_key(entry) == "relabel:writer_degenerate"


def test_a_max_goal_tokens_too_small_for_the_schema_is_a_config_error():
    from agenther_local.errors import ConfigError

    writer = ScriptedJudge(id="writer")
    with pytest.raises(ConfigError, match=r"^\[relabel\] max_goal_tokens = 160: too small"):
        relabel(writer, None, cfg=RelabelConfig(max_goal_tokens=160))
    assert writer.calls == []
