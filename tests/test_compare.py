"""The judge comparison (`eval judges --compare`): thresholds fitted on the calibration split
only, figures measured on the test split, every rule and gate combination, per kind."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenther_local.cli import cli
from agenther_local.cli import commands  # noqa: F401
from agenther_local.compare import compare, score_pairs, table
from agenther_local.config import Config
from agenther_local.evaluate import make_pairs
from agenther_local.adapters import read
from agenther_local.prompts import Prompts
from agenther_local.trajectory import Trajectory

from fakes import FakeEmbedder, ScriptedJudge

FIX = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FIREACT = next((FIX / "fireact_hotpotqa").glob("*.json"))


def row(i, kind, split, a, b, grounded=True, values=True, narrow=None):
    label = kind == "positive"
    return {"id": f"p{i}", "kind": kind, "label": label, "split": split, "goal": "g", "grounded": grounded,
            "grounding_detail": "", "on_topic": True, "values_hold": values, "values_accept": values and narrow is None,
            "evidence_detail": "", "narrow": {"m": narrow} if narrow is not None else {},
            "p_yes": {"a@verify": a, "b@verify": b}, "seconds": {"a@verify": 1.0, "b@verify": 0.0}}


def rows():
    """Juror a separates off-topic but not perturbed goals; grounding catches the perturbed."""
    out = []
    for split in ("calibration", "test"):
        for i in range(6):
            out.append(row(len(out), "positive", split, 0.8 + i / 100, 0.6))
            out.append(row(len(out), "off_topic", split, 0.2 + i / 100, 0.7))
            out.append(row(len(out), "perturbed", split, 0.9, 0.3, grounded=False, values=False))
    return out


def test_a_juror_alone_fails_on_perturbed_goals_that_grounding_rejects():
    res = compare(rows(), ["a@verify", "b@verify"], [], target_precision=0.9)["configurations"]
    a = res["a@verify"]["test"]
    assert a["by_kind"]["off_topic"]["rejected"] == 1.0 and a["by_kind"]["perturbed"]["rejected"] == 0.0
    g = res["grounding + a@verify"]["test"]
    assert g["precision"] == 1.0 and g["recall"] == 1.0
    assert res["grounding"]["test"]["by_kind"]["off_topic"]["rejected"] == 0.0


def test_thresholds_come_from_the_calibration_split_only():
    data = rows()
    for r in data:
        if r["split"] == "test" and r["kind"] == "positive":
            r["p_yes"]["a@verify"] = 0.1        # the test split disagrees: recall must collapse, θ must not move
    res = compare(data, ["a@verify"], [], 0.9)["configurations"]["a@verify"]
    assert res["threshold"] >= 0.8 and res["test"]["recall"] == 0.0 and res["calibration"]["recall"] == 1.0


def test_jury_rules_are_all_reported_and_strongest_is_the_best_juror():
    res = compare(rows(), ["a@verify", "b@verify"], [], 0.9)["configurations"]
    assert {"jury:mean", "jury:weighted", "jury:majority", "jury:all"} <= set(res)
    assert "jury:strongest(a@verify)" in res
    assert res["jury:all"]["test"]["recall"] <= res["a@verify"]["test"]["recall"]


def test_evidence_with_a_narrow_model_fits_its_own_threshold():
    data = rows()
    for r in data:       # names only a model can check: low answers on off-topic goals
        if r["kind"] in ("positive", "off_topic"):
            r["values_accept"] = False
            r["narrow"] = {"m": [0.9 if r["label"] else 0.3]}
    res = compare(data, ["a@verify"], ["m"], 0.9)["configurations"]["evidence[m]"]
    assert 0.3 < res["threshold"] <= 0.9
    assert res["test"]["precision"] == 1.0 and res["test"]["recall"] == 1.0


def test_table_prints_one_line_per_configuration():
    res = compare(rows(), ["a@verify"], [], 0.9)
    lines = table(res)
    assert len(lines) == 1 + len(res["configurations"])
    assert any(line.startswith("grounding + a@verify") for line in lines)


def test_score_pairs_asks_every_juror_once_per_pair_and_checks_values_without_a_model():
    runs = [t for _, t in read(FIREACT, "react") if isinstance(t, Trajectory)]
    pairs = make_pairs(runs, seed=2, max_runs=10)
    judge = ScriptedJudge(id="j")
    judge.enqueue_p_yes("verify", *[0.5] * len(pairs))
    judge.enqueue_p_yes("constraint", *[0.5] * 200)
    cfg = Config()
    out = score_pairs(pairs, {"j": judge}, ["j@verify"], ["j"], Prompts(), FakeEmbedder(), cfg.gates, cfg.detect)
    assert [r["id"] for r in out] == [p.id for p in pairs]
    assert len(judge.asked(kind="p_yes", name="verify")) == len(pairs)
    perturbed = [r for r in out if r["kind"] == "perturbed" and not r["values_hold"]]
    assert perturbed and all(not r["narrow"] for r in perturbed)      # a changed value asks no model


def test_obs_chars_cuts_what_the_jurors_read_never_what_the_evidence_check_reads():
    from agenther_local.evaluate import Pair
    from agenther_local.trajectory import Step
    far = "x" * 300 + " the fare was $228.10 on DL2210 " + "y" * 300     # the cut keeps head and tail
    traj = Trajectory("t", "Book a flight", (Step("", "search", {}, far),), final_answer="Booked DL2210")
    pairs = [Pair("t:positive", "positive", True, "What fare does DL2210 have, $228.10?", traj, "", "test")]
    judge = ScriptedJudge(id="j").enqueue_p_yes("verify", 0.5, 0.5)
    cfg = Config()
    cut = score_pairs(pairs, {"j": judge}, ["j@verify"], [], Prompts(), FakeEmbedder(), cfg.gates, cfg.detect,
                      obs_chars=100)
    whole = score_pairs(pairs, {"j": judge}, ["j@verify"], [], Prompts(), FakeEmbedder(), cfg.gates, cfg.detect)
    prompts = [c.prompt.user for c in judge.asked(name="verify")]
    assert "the fare was $228.10" not in prompts[0] and "the fare was $228.10" in prompts[1]
    assert cut[0]["values_accept"] and cut[0]["grounded"] and whole[0]["values_accept"]


def test_compare_needs_both_splits(tmp_path):
    out = tmp_path / "pairs.jsonl"
    CliRunner().invoke(cli, ["eval", "make-pairs", str(FIREACT), "-o", str(out), "--max-runs", "3"])
    cal = tmp_path / "cal.jsonl"
    cal.write_text("".join(l + "\n" for l in out.read_text().splitlines() if json.loads(l)["split"] == "calibration"))
    r = CliRunner().invoke(cli, ["eval", "judges", str(cal), "-o", str(tmp_path / "e.json"), "--compare",
                                 "smollm2-135m@verify"])
    assert r.exit_code == 1
    assert r.output.strip() == f"Error: {cal}: --compare needs pairs in both the calibration and the test split"


@pytest.mark.real_model
def test_written_thresholds_load_from_the_manifest_and_change_decisions(tmp_path, isolated_home):
    from agenther_local.judges.manifest import get_manifest
    from agenther_local.paths import shipped_models_dir, user_models_dir
    from agenther_local.pipeline import PipelineOptions, build_pipeline

    shipped = shipped_models_dir() / "smollm2-135m.toml"
    before = shipped.read_bytes()
    user = user_models_dir()
    user.mkdir(parents=True, exist_ok=True)
    (user / "smollm2-135m.toml").write_bytes(before)        # the user's copy takes the calibration
    pairs = tmp_path / "pairs.jsonl"
    CliRunner().invoke(cli, ["eval", "make-pairs", str(FIREACT), "-o", str(pairs), "--max-runs", "5",
                             "--obs-chars", "200", "--seed", "4"])
    r = CliRunner().invoke(cli, ["eval", "judges", str(pairs), "-o", str(tmp_path / "c.json"), "--compare",
                                 "smollm2-135m@verify", "--constraint-models", "smollm2-135m", "--write-thresholds",
                                 "--target-precision", "0.8"])
    assert r.exit_code == 0, r.output
    assert shipped.read_bytes() == before
    result = json.loads((tmp_path / "c.json").read_text())
    cal = get_manifest("smollm2-135m").threshold_for("verify")
    assert cal.threshold == pytest.approx(result["configurations"]["smollm2-135m@verify"]["threshold"], abs=1e-6)
    assert cal.pairs_sha256 == result["pairs_sha256"] and cal.n_pairs == result["pairs"]["calibration"]
    assert get_manifest("smollm2-135m").threshold_for("constraint") is not None
    pipe, _, _ = build_pipeline(PipelineOptions(jury="smollm2-135m"), Config())
    juror = pipe.jury.jurors[0]
    assert juror.threshold == cal.threshold and juror.threshold_source.startswith("calibrated")
    p_yes = [row["p_yes"]["smollm2-135m@verify"] for row in result["rows"]]
    assert any((p >= cal.threshold) != (p >= 0.5) for p in p_yes)     # the calibration changes votes
