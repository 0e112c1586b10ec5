"""`agenther-local eval make-pairs` and `eval judges` on real fixture runs (few pairs)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenther_local.cli import cli
from agenther_local.cli import commands  # noqa: F401
from agenther_local.evaluate import fleiss_kappa, make_pairs, read_pairs
from agenther_local.adapters import read
from agenther_local.evidence.grounding import check_grounding
from agenther_local.trajectory import Trajectory

FIREACT = next((Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "fireact_hotpotqa").glob("*.json"))


def test_make_pairs_is_deterministic_and_perturbed_goals_leave_the_run(tmp_path):
    runs = [t for _, t in read(FIREACT, "react") if isinstance(t, Trajectory)]
    a = make_pairs(runs, seed=3, max_runs=20)
    b = make_pairs(runs, seed=3, max_runs=20)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    kinds = {p.kind for p in a}
    assert kinds == {"positive", "off_topic", "perturbed", "over_claim"}     # FireAct failures are not visible
    positives = {p.traj.id: p.goal for p in a if p.kind == "positive"}
    for p in a:
        assert p.label == (p.kind == "positive")
        if p.kind == "perturbed":
            assert not check_grounding(p.goal, p.traj).is_grounded or "entity" in p.how, p.how
        if p.kind == "over_claim":      # the true goal, plus a question of another run
            assert p.goal.startswith(positives[p.traj.id].rstrip("?").rstrip()) and ", and " in p.goal, p.goal
    assert {p.split for p in a} == {"calibration", "test"}


def test_make_pairs_cli_writes_the_file_and_counts(tmp_path):
    out = tmp_path / "pairs.jsonl"
    r = CliRunner().invoke(cli, ["eval", "make-pairs", str(FIREACT), "-o", str(out), "--max-runs", "4"])
    assert r.exit_code == 0, r.output
    pairs = read_pairs(out)
    assert r.output.splitlines()[-1] == f"{len(pairs)} pairs written to {out} ({sum(p.split == 'test' for p in pairs)} in the test split)"


def test_eval_judges_refuses_a_file_without_positives(tmp_path):
    out = tmp_path / "pairs.jsonl"
    CliRunner().invoke(cli, ["eval", "make-pairs", str(FIREACT), "-o", str(out), "--max-runs", "3"])
    neg = tmp_path / "neg.jsonl"
    neg.write_text("".join(l + "\n" for l in out.read_text().splitlines() if not json.loads(l)["label"]))
    r = CliRunner().invoke(cli, ["eval", "judges", str(neg), "-o", str(tmp_path / "e.json")])
    assert r.exit_code == 1
    assert r.output.strip() == f"Error: {neg}: no positive pair; precision and recall need positives"


@pytest.mark.parametrize("option", [["--jury", "qwen-7b"], ["--compare", "qwen-7b@verify"]])
def test_eval_judges_with_a_model_that_is_not_installed_is_one_line(tmp_path, option):
    out = tmp_path / "pairs.jsonl"
    CliRunner().invoke(cli, ["eval", "make-pairs", str(FIREACT), "-o", str(out), "--max-runs", "6"])
    r = CliRunner().invoke(cli, ["eval", "judges", str(out), "-o", str(tmp_path / "e.json"), *option])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert r.output.startswith("Error: unknown model 'qwen-7b' (known: ")


def test_fleiss_kappa_wikipedia_style_disagreement_is_negative():
    assert fleiss_kappa([[True, False], [False, True]]) == pytest.approx(-1.0)


@pytest.mark.real_model
def test_eval_judges_reports_every_figure_per_kind(tmp_path):
    out = tmp_path / "pairs.jsonl"
    CliRunner().invoke(cli, ["eval", "make-pairs", str(FIREACT), "-o", str(out), "--max-runs", "4", "--obs-chars", "300"])
    r = CliRunner().invoke(cli, ["eval", "judges", str(out), "-o", str(tmp_path / "e.json"), "--jury", "fast",
                                 "--target-precision", "0.9"])
    assert r.exit_code == 0, r.output
    e = json.loads((tmp_path / "e.json").read_text())
    assert e["pairs"] == len(read_pairs(out))
    for key in ("precision", "recall", "f1", "accuracy", "auc", "ece", "precision_at_50_recall", "theta_for_target"):
        assert key in e["overall"]
    assert set(e["by_kind"]) <= {"off_topic", "perturbed", "over_claim"} and e["by_kind"]
    assert list(e["jurors"]) == ["qwen2.5-coder-1.5b@verify"]          # fast: the 1.5B checks
    assert e["jurors"]["qwen2.5-coder-1.5b@verify"]["threshold_source"].startswith("calibrated")
    assert e["cost"]["model_calls"] >= e["pairs"] and e["cost"]["seconds_per_pair"] > 0


TAU = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tau_bench_airline" / "gpt-4o-airline.part1of3.json"
REACT = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "react_hotpotqa" / "react_base_100_questions_5_trials.txt"


def test_unmet_original_pairs_come_only_from_failures_the_run_shows():
    tau = [t for _, t in read(TAU, "openai") if isinstance(t, Trajectory)]
    pairs = make_pairs(tau, seed=0, max_runs=10)
    unmet = [p for p in pairs if p.kind == "unmet_original"]
    assert len(unmet) == 10 and all(p.traj.is_success is False and p.goal == p.traj.goal for p in unmet)
    react = [t for _, t in read(REACT, "react") if isinstance(t, Trajectory)]
    unmet = [p for p in make_pairs(react, seed=0, max_runs=10) if p.kind == "unmet_original"]
    assert unmet and all(p.traj.metadata["section"] == "HALTED" for p in unmet)     # INCORRECT runs never


def test_tau_bench_over_claims_carry_a_constraint_not_a_persona():
    tau = [t for _, t in read(TAU, "openai") if isinstance(t, Trajectory)]
    over = [p for p in make_pairs(tau, seed=0, max_runs=10) if p.kind == "over_claim"]
    assert over
    for p in over:
        added = p.how.split("'")[1] if p.how.startswith("+ '") else p.how.split('"')[1]
        assert not added.startswith("You are ") and p.goal.endswith(added)


def test_make_pairs_cli_counts_every_kind_per_format(tmp_path):
    out = tmp_path / "pairs.jsonl"
    r = CliRunner().invoke(cli, ["eval", "make-pairs", str(TAU), str(FIREACT), "-o", str(out), "--max-runs", "3"])
    assert r.exit_code == 0, r.output
    assert "openai: 3 off_topic, 3 over_claim, 3 perturbed, 3 positive, 3 unmet_original" in r.output
    assert {p.kind for p in read_pairs(out)} == {"positive", "off_topic", "perturbed", "over_claim", "unmet_original"}
