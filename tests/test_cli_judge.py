"""Tests of `agenther-local judge` (agenther_local/cli/judge.py) on a small native file.

Scoring uses the real SmolLM2 GGUF (the other default model, Qwen-0.5B, would be joined into
every test's home); errors are checked before any model loads.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import agenther_local.cli.judge as judge_cli
from agenther_local.cli import cli
from agenther_local.config import JURY_PRESETS
from agenther_local.judges.manifest import get_manifest
from agenther_local.paths import shipped_models_dir

MODEL = "smollm2-135m"
GOAL = "What is the weather in Paris today?"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTHER_LOCAL_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module", autouse=True)
def free_models():
    """The CLI's judges stay in judges/llama.py's pool; close them when the module is done."""
    yield
    from agenther_local.judges.llama import unload_all
    unload_all()


@pytest.fixture
def runs(tmp_path) -> Path:
    def run(rid, city, obs):
        return {"id": rid, "goal": f"What is the weather in {city} today?", "final_answer": obs, "success": False,
                "steps": [{"thought": "Look it up.", "action": "get_weather", "action_input": {"city": city},
                           "observation": obs}]}
    path = tmp_path / "runs.jsonl"
    rows = [run("rome", "Rome", "Rome, Italy: 24 C, sunny."),
            run("paris", "Paris", "Paris, France: 18 C, light rain, wind 12 km/h from the west."),
            run("oslo", "Oslo", "Oslo, Norway: 3 C, snow."),
            run("lima", "Lima", "Lima, Peru: 20 C, cloudy."),
            run("cairo", "Cairo", "Cairo, Egypt: 31 C, clear."),
            run("quito", "Quito", "Quito, Ecuador: 14 C, showers.")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def invoke(*args):
    return CliRunner().invoke(cli, ["judge", *map(str, args)])


@pytest.mark.real_model
def test_json_line_per_model(runs):
    result = invoke("--goal", GOAL, "--trajectory", runs, "--id", "paris", "--model", MODEL, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["id"], out["where"], out["goal"], out["prompt"]) == ("paris", f"{runs}:2", GOAL, "verify")
    [r] = out["results"]
    assert r["model"] == MODEL and 0 <= r["p_yes"] <= 1 and r["prompt_tokens"] > 0
    assert r["mass_yes"] + r["mass_no"] <= 1 + 1e-6
    assert r["p_yes"] == pytest.approx(r["mass_yes"] / (r["mass_yes"] + r["mass_no"]), abs=1e-4)
    cal = get_manifest(MODEL).threshold_for("verify")        # the manifest's, else the paper's θ
    expected = ((cal.threshold, f"calibrated {cal.date} on {cal.n_pairs} pairs (precision {cal.target_precision})")
                if cal else (0.5, "paper θ = 0.5 (uncalibrated)"))
    assert (r["threshold"], r["threshold_source"]) == expected
    assert r["verdict"] == ("yes" if r["p_yes"] >= r["threshold"] else "no")
    assert r["cuts"] == []


@pytest.mark.real_model
def test_table_and_context_guard(runs, tmp_path):
    big = tmp_path / "big.jsonl"
    row = json.loads(runs.read_text().splitlines()[1])
    row["steps"][0]["observation"] = "Paris, France: 18 C, light rain. " + "x" * 20_000
    big.write_text(json.dumps(row) + "\n")
    result = invoke("--goal", GOAL, "--trajectory", big, "--model", MODEL, "--n-ctx", "512")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"run paris ({big}:1), 1 steps; prompt verify"
    assert lines[1] == f"goal: {GOAL}"
    assert lines[2].split() == ["model", "P(yes)", "mass", "yes", "mass", "no", "top", "token", "tokens",
                                "seconds", "threshold", "verdict"]
    assert lines[3].startswith(MODEL + " ")
    assert re.fullmatch(rf"{MODEL}: context guard cut the step 1 observation from 20033 to \d+ characters", lines[4])


def test_unknown_id_lists_a_few_known_ones(runs):
    result = invoke("--goal", GOAL, "--trajectory", runs, "--id", "nope", "--model", MODEL)
    assert result.exit_code == 1
    assert result.output == (f"Error: {runs}: no record with id 'nope' (known: rome, paris, oslo, lima, cairo, "
                             "… (6 in all)); pass one with --id\n")


def test_unknown_model_is_a_bad_option(runs):
    known = ", ".join(sorted(p.stem for p in shipped_models_dir().glob("*.toml")))
    result = invoke("--goal", GOAL, "--trajectory", runs, "--model", "qwen-7b")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (f"Error: Invalid value for '--model': unknown model 'qwen-7b' "
                                              f"(known: {known}); add one with `agenther-local models add NAME PATH`")


def test_a_file_without_a_valid_record(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "goal": "g", "steps": []}\n')
    result = invoke("--goal", GOAL, "--trajectory", bad, "--model", MODEL)
    assert result.exit_code == 1
    assert result.output == (f"Error: {bad}: no valid record (first problem: {bad}:1: steps: empty: "
                             "a trajectory needs at least one step)\n")


def test_default_models_are_the_fast_presets_self_check_and_jurors():
    preset = JURY_PRESETS["fast"]
    assert preset["self_check"] == "qwen2.5-coder-1.5b" and preset["writer"] == "qwen2.5-coder-0.5b"
    want = [preset["self_check"]] + [j.split("@")[0] for j in preset["jurors"]]
    assert judge_cli.default_models() == list(dict.fromkeys(want))


def test_a_gguf_llama_cpp_cannot_load_is_one_line(runs, tmp_path):
    from agenther_local.judges import manifest as mf

    smol = mf.locate(mf.get_manifest(MODEL))
    cut = tmp_path / "cut.gguf"
    with open(smol, "rb") as f:
        cut.write_bytes(f.read(1 << 20))         # a GGUF header, then nothing: a broken download
    toml = mf.write_user_manifest("cut", cut, "chatml", "", "", 2048)
    result = invoke("--goal", GOAL, "--trajectory", runs, "--model", "cut")
    assert result.exit_code == 1
    assert result.output == (f"Error: model 'cut' ({toml}): llama.cpp cannot load the GGUF (Failed to load model "
                             f"from file: {cut}); the file is truncated or of an architecture this llama.cpp "
                             "does not know\n")
