"""stages/detect.py with the RuleDetector (zero model calls): success runs, discarding at
w < δ, recoverability, the paper's w = min(1, 0.3 + 0.1·hits), the six failure types, and the
demo runs against the answer key of examples/README.md."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agenther_local.config import DetectConfig
from agenther_local.pipeline import unsupported_answer
from agenther_local.stages.detect import FAILURE_TYPES, RuleDetector, detect_failure, is_error_observation
from agenther_local.trajectory import Step, Trajectory

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.jsonl"
CFG = DetectConfig()
RULES = RuleDetector(CFG)
RULES_WITH_ANSWER_CHECK = RuleDetector(CFG, unsupported_answer(CFG.unsupported_answer_share))

# A neutral tool output: no lexicon phrase in it, so only the failure reason moves w.
HOTEL = '{"hotel": "Hotel Aurora", "city": "Lisbon", "price_eur": 180, "rating": 4.4}'


def run(failure_reason: str | None = None, final_answer: str = "Hotel Aurora, 180 EUR per night.",
        observations: tuple[str, ...] = (HOTEL,), success: bool | None = False, reward: float | None = None):
    steps = tuple(Step("", "search_hotels", {"city": "Lisbon"}, o) for o in observations)
    return Trajectory("d", "Book a hotel in Lisbon under 150 EUR per night", steps, final_answer=final_answer,
                      failure_reason=failure_reason, success=success, reward=reward)


def demo(record_id: str) -> Trajectory:
    for line in DEMO.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d["id"] == record_id:
            return Trajectory.from_dict(d)
    raise KeyError(record_id)


# ------------------------------------------------------------------ success runs

@pytest.mark.parametrize("traj", [run(success=True), run(success=None, reward=1.0)], ids=["success", "reward1"])
def test_success_runs_are_not_failures(traj):
    f = detect_failure(traj, RULES, CFG)
    assert not f.is_failure and not f.discarded and f.failure_type is None
    assert f.quality_weight == 1.0
    assert f.reason == "the run succeeded (benchmark label)"


# ------------------------------------------------------------------ discarded: w < δ

def test_major_flaw_in_the_failure_reason_is_discarded_below_delta():
    f = detect_failure(run("The agent fabricated a booking reference"), RULES, CFG)
    assert f.is_failure and f.recoverable and f.discarded
    assert f.failure_type == "hallucination"
    assert f.quality_weight == pytest.approx(0.2)               # 0.3 - 0.1 · 1 major hit
    assert f.reason == "discarded: w = 0.20 < δ = 0.3 (major flaw (fabricat): w = 0.20)"
    assert f.evidence["major"] == ["fabricat"]


def test_unsupported_final_answer_is_a_major_flaw():
    # The answer states a price and a reference no tool output shows.
    traj = run(None, final_answer="Hotel Aurora is booked for $119.00 a night, reference ZX9K2P.")
    assert not detect_failure(traj, RULES, CFG).discarded          # without the check: kept
    f = detect_failure(traj, RULES_WITH_ANSWER_CHECK, CFG)
    assert f.discarded and f.failure_type == "hallucination"
    assert f.quality_weight < CFG.discard_below
    assert "final answer states '$119.00', no tool output shows it" in f.evidence["hits"]["hallucination"]
    assert f.reason.startswith("discarded: w = 0.10 < δ = 0.3 (major flaw (unsupported: $119.00; unsupported: ZX9K2P)")


def test_supported_final_answer_is_not_a_flaw():
    f = detect_failure(run(None, final_answer="Hotel Aurora in Lisbon, rated 4.4."), RULES_WITH_ANSWER_CHECK, CFG)
    assert not f.discarded and f.evidence["major"] == []


def test_a_supported_final_answer_opening_with_a_verb_is_not_a_hallucination():
    # Every value of this answer is in the tool output. But values.py reads the sentence-initial
    # verb as part of the name ("Booked Hotel Aurora"), finds that in no tool output, and the
    # run is discarded as a hallucination (BUG, see the report). Same for "Added Lenovo IdeaPad
    # Slim 5 14 to your cart", "Reserved ...", "Cancelled ...".
    f = detect_failure(run(None, final_answer="Booked Hotel Aurora for you."), RULES_WITH_ANSWER_CHECK, CFG)
    assert not f.discarded, f.reason


def test_demo08_hallucinated_opening_hours_are_discarded():
    f = detect_failure(demo("demo08_museum_hallucination"), RULES_WITH_ANSWER_CHECK, CFG)
    assert f.is_failure and f.recoverable and f.discarded
    assert f.failure_type == "hallucination"
    assert f.quality_weight < CFG.discard_below
    assert any(m.startswith("unsupported: ") for m in f.evidence["major"])


def test_w_at_exactly_delta_is_kept():
    f = detect_failure(run("The reported total is incorrect"), RULES, CFG)   # 0 mild hits
    assert f.quality_weight == pytest.approx(0.3) and not f.discarded


# ------------------------------------------------------------------ recoverability

def test_run_whose_every_tool_output_is_an_error_is_not_recoverable():
    traj = run("The hotel API was down", observations=("Error: 503 Service Unavailable",) * 3)
    f = detect_failure(traj, RULES, CFG)
    assert f.is_failure and not f.recoverable and f.discarded
    assert f.failure_type == "tool_error"
    assert f.reason == "not recoverable: no tool step returned a substantive, non-error output"
    assert f.evidence["substantive_steps"] == []


def test_demo06_hotel_503_is_not_recoverable():
    f = detect_failure(demo("demo06_hotel_503"), RULES, CFG)
    assert not f.recoverable and f.discarded and f.failure_type == "tool_error"


def test_one_substantive_output_among_errors_keeps_the_run_recoverable():
    traj = run(None, observations=("Error: 503 Service Unavailable", HOTEL))
    f = detect_failure(traj, RULES, CFG)
    assert f.recoverable and not f.discarded
    assert f.failure_type == "tool_error"
    assert f.evidence["hits"]["tool_error"] == ["error output at step 0"]
    assert f.evidence["substantive_steps"] == [1]


@pytest.mark.parametrize("obs, is_error", [
    ("Error: 503 Service Unavailable", True), ("", True), ("[]", True), ("No results found.", True),
    (HOTEL, False), ("Traceback (most recent call last):\n  File ...", True),
])
def test_is_error_observation(obs, is_error):
    assert is_error_observation(obs) is is_error


# ------------------------------------------------------------------ w = min(1, 0.3 + 0.1 · mild hits)

def test_quality_weight_is_0_3_plus_0_1_per_mild_hit():
    # "more than" and "cheapest" are the two mild-lexicon phrases here: w = 0.3 + 0.1 · 2
    f = detect_failure(run("The cheapest hotel found costs more than the budget"), RULES, CFG)
    assert f.evidence["mild"] == ["more than", "cheapest"]
    assert f.quality_weight == pytest.approx(0.5)
    assert f.reason == "constraint_violation (more than); 2 mild signal(s): w = 0.50"
    assert not f.discarded


def test_quality_weight_is_capped_at_1():
    reason = ("Price exceeds the budget; the closest alternative was booked instead, only found partial "
              "results, could not find cheaper, ran out of steps, over budget, nearest, higher than")
    f = detect_failure(run(reason), RULES, CFG)
    assert len(f.evidence["mild"]) == 11
    assert f.quality_weight == 1.0


def test_quality_weight_follows_the_config():
    cfg = DetectConfig(rule_base_weight=0.5, rule_weight_per_hit=0.2)
    f = detect_failure(run("The cheapest hotel found costs more than the budget"), RuleDetector(cfg), cfg)
    assert f.quality_weight == pytest.approx(0.9)


# ------------------------------------------------------------------ the six types

@pytest.mark.parametrize("failure_reason, expected", [
    ("Hit max steps before finishing", "incomplete"),
    ("The hotel price exceeds the budget", "constraint_violation"),
    ("The reported total is incorrect", "wrong_result"),
    ("The API call timed out", "tool_error"),
    ("The agent fabricated a booking reference", "hallucination"),
    ("The agent answered an unrelated question", "off_topic"),
])
def test_each_failure_type_is_reachable(failure_reason, expected):
    assert detect_failure(run(failure_reason), RULES, CFG).failure_type == expected


def test_the_six_types_are_the_papers():
    assert FAILURE_TYPES == ("incomplete", "constraint_violation", "wrong_result", "tool_error",
                             "hallucination", "off_topic")


def test_no_lexicon_hit_is_wrong_result_or_incomplete():
    assert detect_failure(run(None), RULES, CFG).failure_type == "wrong_result"
    assert detect_failure(run(None, final_answer=""), RULES, CFG).failure_type == "incomplete"


# ------------------------------------------------------------------ the demo runs, against the answer key

# examples/README.md, column "expected": demo06 (not recoverable) and demo08 (hallucination)
# are discarded, the ten others kept.
ANSWER_KEY_DISCARDED = {"demo06_hotel_503", "demo08_museum_hallucination"}
DEMO_IDS = [json.loads(line)["id"] for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("record_id", DEMO_IDS)
def test_demo_runs_are_kept_or_discarded_as_the_answer_key_says(record_id):
    f = detect_failure(demo(record_id), RULES_WITH_ANSWER_CHECK, CFG)
    assert f.is_failure
    assert f.discarded == (record_id in ANSWER_KEY_DISCARDED), f.reason


def test_demo05_close_prices_ground_dollar_amounts():
    # Why demo05 fails the answer key: its tool output is
    # {"symbol": "NVDA", "currency": "USD", "bars": [... "close": 926.69 ...]}, yet "$926.69"
    # and "$875.28" are "unsupported" (values.py lets a bare number ground a money amount only
    # with a money word within ~60 characters, and "close" is not one; the object's
    # "currency": "USD" is further away). 5 of 7 answer specifics look unsupported instead of
    # 3 of 7 (NVIDIA, the sign-flipped $51.41 and 5.55%), and the run is discarded.
    from agenther_local.evidence.grounding import check_grounding
    traj = demo("demo05_nvda_close")
    assert check_grounding("NVDA closed at $926.69 on 2024-03-07", traj).is_grounded
    assert check_grounding("NVDA closed at $875.28 on 2024-03-08", traj).is_grounded


def test_demo_answer_key_covers_twelve_runs():
    assert len(DEMO_IDS) == 12
