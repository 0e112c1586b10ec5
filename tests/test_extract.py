"""stages/extract.py: facts come only from tool outputs, each with a quote that occurs in the
observation it cites. RuleExtractor on JSON and text outputs; JudgeExtractor with a
ScriptedJudge proposing a mix of verified and unverified facts."""
from __future__ import annotations

import pytest
from fakes import ScriptedJudge

from agenther_local.config import DetectConfig
from agenther_local.prompts import Prompts
from agenther_local.stages.extract import (JudgeExtractor, RuleExtractor, extract_outcome, quote_occurs,
                                           rule_facts)
from agenther_local.trajectory import Step, Trajectory

CFG = DetectConfig()
JSON_OBS = ('{"supplier": "Delta Metals", "price_usd_per_kg": 5.30, "moq_kg": 50, "in_stock": true, '
            '"notes": "", "tags": ["bare", "solid"]}')
TEXT_OBS = ("WireTrade Hub > Bare copper wire\n"
            "Ohio Wire & Cable - $5.30/kg - MOQ 10 kg - Cleveland, OH\n"
            "all prices exclude shipping\n"
            "Rhein Kupfer GmbH - $5.85/kg - MOQ 25 kg")
USER_TURN = "My budget is $4.10/kg; Acme Metals quoted that to me last week."
FINAL = "Best option: Acme Metals at $4.75/kg, MOQ 5 kg."

RUN = Trajectory(
    id="extract-run", goal="Find copper wire under $5/kg with MOQ below 100 kg",
    steps=(
        Step("", "get_supplier", {"name": "Delta Metals"}, JSON_OBS),           # 0: JSON tool output
        Step("", "ask_user", {}, USER_TURN, role="user"),                      # 1: user turn
        Step("", "open_page", {"url": "https://wiretradehub.com"}, TEXT_OBS),  # 2: text tool output
        Step("", "open_page", {"url": "https://example.com"}, "Error: 503 Service Unavailable"),  # 3
        Step("", "ping", {}, "OK"),                                            # 4: too short
    ),
    final_answer=FINAL, success=False)


def test_json_observation_gives_facts_quoted_from_that_observation():
    facts = [f for f in rule_facts(RUN, [0])]
    assert [(f.text, f.quote) for f in facts] == [
        ("supplier: Delta Metals", "Delta Metals"),
        ("price_usd_per_kg: 5.3", "5.3"),
        ("moq_kg: 50", "50"),
        ("tags[0]: bare", "bare"),
        ("tags[1]: solid", "solid"),
    ]                                   # booleans and empty strings are not facts
    assert all(f.step == 0 and quote_occurs(f.quote, JSON_OBS) for f in facts)


def test_text_observation_gives_its_informative_lines():
    facts = rule_facts(RUN, [2])
    assert [f.text for f in facts] == ["Ohio Wire & Cable - $5.30/kg - MOQ 10 kg - Cleveland, OH",
                                       "Rhein Kupfer GmbH - $5.85/kg - MOQ 25 kg"]
    assert all(f.step == 2 and f.quote == f.text and quote_occurs(f.quote, TEXT_OBS) for f in facts)


def test_achievements_are_the_substantive_tool_steps_only():
    o = extract_outcome(RUN, RuleExtractor(), CFG)
    # step 1 is a user turn, step 3 an error, step 4 too short to carry anything
    assert [a.split(":")[0] for a in o.achievements] == ["step 0", "step 2"]
    assert o.method == "rule" and o.dropped == 0


def test_facts_never_come_from_user_turns_or_the_final_answer():
    o = extract_outcome(RUN, RuleExtractor(), CFG)
    assert {f.step for f in o.facts} == {0, 2}
    for f in o.facts:
        assert RUN.steps[f.step].is_evidence
        assert quote_occurs(f.quote, RUN.steps[f.step].observation)
    text = o.summary()
    for only_elsewhere in ("4.10", "4.75", "Acme Metals", "budget"):
        assert only_elsewhere not in text


def test_quote_occurs_modulo_whitespace_and_case():
    assert quote_occurs("ohio wire &  cable", TEXT_OBS)
    assert not quote_occurs("", TEXT_OBS)
    assert not quote_occurs("Ohio Wire & Cable - $4.30/kg", TEXT_OBS)


# ------------------------------------------------------------------ JudgeExtractor

def judge_extract(answer: dict | str) -> tuple:
    judge = ScriptedJudge(id="extractor")
    if isinstance(answer, str):
        judge.enqueue_text("extract", answer)
    else:
        judge.enqueue_json("extract", answer)
    o = extract_outcome(RUN, JudgeExtractor(judge, Prompts()), CFG)
    return o, judge


def test_judge_extractor_drops_a_fact_whose_quote_is_not_in_the_cited_observation():
    # The prompt numbers steps from 1: step 1 = RUN.steps[0], step 3 = RUN.steps[2].
    o, judge = judge_extract({"facts": [
        {"fact": "Delta Metals sells at $5.30/kg", "step": 1, "quote": '"price_usd_per_kg": 5.30'},   # kept
        {"fact": "Ohio Wire has a 10 kg MOQ", "step": 3, "quote": "MOQ 10 kg"},                       # kept
        {"fact": "Delta Metals sells at $4.90/kg", "step": 1, "quote": '"price_usd_per_kg": 4.90'},   # not there
        {"fact": "Ohio Wire has a 10 kg MOQ", "step": 1, "quote": "MOQ 10 kg"},                       # wrong step
        {"fact": "The budget is $4.10/kg", "step": 2, "quote": "$4.10/kg"},                           # user turn
        {"fact": "Acme Metals is best", "step": 6, "quote": "Acme Metals at $4.75/kg"},               # final answer
    ]})
    assert [(f.text, f.step) for f in o.facts] == [("Delta Metals sells at $5.30/kg", 0),
                                                   ("Ohio Wire has a 10 kg MOQ", 2)]
    assert o.dropped == 4
    assert o.method == "model extractor"
    (prompt,) = judge.history
    assert prompt.name == "extract"
    assert FINAL not in prompt.user          # the extractor is not even shown the final answer


def test_judge_extractor_falls_back_to_rule_facts_when_no_quote_survives():
    o, _ = judge_extract({"facts": [{"fact": "made up", "step": 1, "quote": "nowhere in the output"}]})
    assert o.dropped == 1
    assert o.method == "rule (model extractor gave no verified fact)"
    assert o.facts == tuple(rule_facts(RUN, [0, 2]))


def test_judge_extractor_unparsable_output_falls_back_to_rule_facts():
    o, _ = judge_extract('{"facts": [{"fact": "Delta')
    assert o.dropped == 0 and o.method.startswith("rule (")
    assert o.facts == tuple(rule_facts(RUN, [0, 2]))


@pytest.mark.parametrize("step", [0, -1, 99])
def test_judge_extractor_drops_a_step_number_out_of_range(step):
    o, _ = judge_extract({"facts": [{"fact": "x", "step": step, "quote": "Delta Metals"}]})
    assert o.dropped == 1
