"""judges/jury.py: the four rules, early stopping, per-juror thresholds and their sources.

Each juror is a ScriptedJudge with exactly the answers the rule may ask for: a juror that must
not be asked has nothing scripted, so asking it raises (and its history stays empty).
"""
from __future__ import annotations

import pytest
from fakes import ScriptedJudge

from agenther_local.judges.jury import RULES, Juror, Jury
from agenther_local.prompts import Prompts
from agenther_local.trajectory import Step, Trajectory

PROMPTS = Prompts()
RUN = Trajectory(
    id="jury-run", goal="Find a copper wire supplier under $5/kg",
    steps=(Step("", "search", {"q": "copper wire"}, "Ohio Wire & Cable - $5.30/kg - MOQ 10 kg"),),
    final_answer="Ohio Wire & Cable at $5.30/kg.", success=False)
GOAL = "Which copper wire supplier charges $5.30/kg?"
PAPER = "paper θ = 0.5 (uncalibrated)"


def panel(*answers: float | None, threshold: float = 0.5, prompt: str = "verify") -> list[Juror]:
    """One juror per answer; None = nothing scripted (this juror must not be asked)."""
    out = []
    for i, p in enumerate(answers, 1):
        j = ScriptedJudge(id=f"j{i}")
        if p is not None:
            j.enqueue_p_yes(prompt, p)
        out.append(Juror(j, prompt, threshold, PAPER))
    return out


def asked(jurors: list[Juror]) -> list[int]:
    return [len(j.judge.history) for j in jurors]


def decide(jurors: list[Juror], rule: str):
    return Jury(jurors, rule=rule, prompts=PROMPTS).decide(RUN, GOAL)


# ------------------------------------------------------------------ majority

def test_majority_yes_yes_accepts_without_asking_the_third():
    js = panel(0.9, 0.8, None)
    v = decide(js, "majority")
    assert v.accepted and asked(js) == [1, 1, 0]
    assert v.reason == "accepted: 2/2 jurors asked voted yes (of 3)"
    assert v.confidence == pytest.approx(0.85)          # mean P(yes) of the jurors asked


def test_majority_no_no_rejects_without_asking_the_third():
    js = panel(0.2, 0.4, None)
    v = decide(js, "majority")
    assert not v.accepted and asked(js) == [1, 1, 0]
    assert v.reason == "rejected: 0/2 jurors asked voted yes (of 3)"


def test_majority_split_asks_the_third_juror():
    js = panel(0.9, 0.1, 0.6)
    v = decide(js, "majority")
    assert v.accepted and asked(js) == [1, 1, 1]
    assert v.reason == "accepted: 2/3 jurors asked voted yes (of 3)"
    js = panel(0.9, 0.1, 0.4)
    assert not decide(js, "majority").accepted


def test_majority_is_strict_with_an_even_jury():
    js = panel(0.9, 0.1)
    v = decide(js, "majority")
    assert not v.accepted and asked(js) == [1, 1]
    assert v.reason == "rejected: 1/2 jurors asked voted yes (of 2)"


def test_a_single_juror_decides_alone():
    assert decide(panel(0.7), "majority").accepted
    assert not decide(panel(0.3), "majority").accepted


# ------------------------------------------------------------------ strongest

def test_strongest_first_juror_no_rejects_without_asking_the_others():
    js = panel(0.3, None, None)
    v = decide(js, "strongest")
    assert not v.accepted and asked(js) == [1, 0, 0]
    assert v.reason == "strongest juror j1@verify voted no (P(yes) 0.300 < 0.500)"


def test_strongest_accepts_a_majority_led_by_the_first_juror():
    js = panel(0.9, 0.2, 0.7)
    v = decide(js, "strongest")
    assert v.accepted and asked(js) == [1, 1, 1]
    js = panel(0.9, 0.8, None)
    assert decide(js, "strongest").accepted and asked(js) == [1, 1, 0]


def test_strongest_first_yes_is_not_enough_without_a_majority():
    js = panel(0.9, 0.2, 0.1)
    v = decide(js, "strongest")
    assert not v.accepted and asked(js) == [1, 1, 1]
    assert v.reason == "rejected: 1/3 jurors asked voted yes (of 3)"


def test_strongest_rejects_when_first_says_no_even_if_the_rest_would_say_yes():
    # the others are scripted yes but never asked: the first juror's no is final
    js = panel(0.45, 0.99, 0.99)
    v = decide(js, "strongest")
    assert not v.accepted and asked(js) == [1, 0, 0]


# ------------------------------------------------------------------ mean

def test_mean_asks_everyone_and_compares_mean_p_to_mean_threshold():
    # 1 of 3 votes yes, but the mean P(yes) 0.533 reaches the mean threshold 0.5
    js = panel(0.9, 0.4, 0.3)
    v = decide(js, "mean")
    assert v.accepted and asked(js) == [1, 1, 1]
    assert v.confidence == pytest.approx(1.6 / 3)
    assert v.reason == "mean P(yes) 0.533 >= mean threshold 0.500; 1/3 jurors asked voted yes (of 3)"


def test_mean_rejects_below_the_mean_threshold_even_with_a_majority_of_yes():
    js = [Juror(ScriptedJudge(id="a").enqueue_p_yes("verify", 0.55), "verify", 0.5, PAPER),
          Juror(ScriptedJudge(id="b").enqueue_p_yes("verify", 0.55), "verify", 0.5, PAPER),
          Juror(ScriptedJudge(id="c").enqueue_p_yes("verify", 0.05), "verify", 0.9, "calibrated")]
    v = decide(js, "mean")
    assert not v.accepted and asked(js) == [1, 1, 1]
    assert v.reason.startswith("mean P(yes) 0.383 < mean threshold 0.633; 2/3")


# ------------------------------------------------------------------ all

def test_all_stops_at_the_first_no():
    js = panel(0.9, 0.2, None)
    v = decide(js, "all")
    assert not v.accepted and asked(js) == [1, 1, 0]
    assert v.reason == "rejected: 1/2 jurors asked voted yes (of 3)"


def test_all_accepts_only_unanimity():
    js = panel(0.9, 0.6, 0.51)
    v = decide(js, "all")
    assert v.accepted and asked(js) == [1, 1, 1]
    assert v.reason == "accepted: 3/3 jurors asked voted yes (of 3)"


# ------------------------------------------------------------------ thresholds and votes

def test_each_vote_keeps_its_jurors_threshold_and_source():
    # the same P(yes) 0.6 is a no for a juror calibrated at 0.7 and a yes at the paper's θ
    cal = "calibrated 2025-01-10 on 75 pairs (precision 0.95)"
    js = [Juror(ScriptedJudge(id="qwen").enqueue_p_yes("verify", 0.6), "verify", 0.7, cal),
          Juror(ScriptedJudge(id="smol").enqueue_p_yes("verify_goal_first", 0.6), "verify_goal_first", 0.5, PAPER),
          Juror(ScriptedJudge(id="cli").enqueue_p_yes("verify", 0.6), "verify", 0.55, "--accept-threshold")]
    v = decide(js, "majority")
    assert [(x.juror, x.threshold, x.threshold_source, x.vote) for x in v.votes] == [
        ("qwen@verify", 0.7, cal, False),
        ("smol@verify_goal_first", 0.5, PAPER, True),
        ("cli@verify", 0.55, "--accept-threshold", True)]
    assert v.accepted
    d = v.to_dict()
    assert [x["threshold_source"] for x in d["votes"]] == [cal, PAPER, "--accept-threshold"]
    assert d["rule"] == "majority" and d["accepted"] is True


def test_a_vote_at_exactly_the_threshold_is_yes():
    (vote,) = decide(panel(0.5), "majority").votes
    assert vote.vote and vote.p_yes == 0.5


def test_each_juror_is_asked_its_own_template_about_the_goal():
    j = ScriptedJudge(id="qwen").enqueue_p_yes("verify_goal_first", 0.8)
    jury = Jury([Juror(j, "verify_goal_first", 0.5, PAPER)], prompts=PROMPTS)
    vote = jury.ask(jury.jurors[0], RUN, GOAL)
    (prompt,) = j.history
    assert prompt.name == "verify_goal_first" and GOAL in prompt.user
    assert prompt.template_sha256 == PROMPTS.sha256("verify_goal_first")
    assert vote.juror == "qwen@verify_goal_first" and vote.p_yes == 0.8 and vote.mass == 1.0


def test_scripted_judge_fails_loudly_when_asked_more_than_scripted():
    j = ScriptedJudge(id="lonely")
    jury = Jury([Juror(j, "verify", 0.5, PAPER)], prompts=PROMPTS)
    with pytest.raises(AssertionError, match="unscripted p_yes call for template 'verify'"):
        jury.decide(RUN, GOAL)


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_accepts_a_unanimous_yes_and_rejects_a_unanimous_no(rule):
    assert decide(panel(0.9, 0.9, 0.9), rule).accepted
    assert not decide(panel(0.1, 0.1, 0.1), rule).accepted


def test_a_jury_needs_a_juror_and_a_known_rule():
    with pytest.raises(ValueError, match="at least one juror"):
        Jury([], prompts=PROMPTS)
    with pytest.raises(ValueError, match="unknown jury rule 'vibes'"):
        Jury(panel(None), rule="vibes", prompts=PROMPTS)
