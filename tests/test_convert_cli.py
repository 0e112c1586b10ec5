"""Tests of `agenther-local convert` (agenther_local/cli/convert.py), through click's CliRunner.

Each test asserts the exit code and the exact lines printed; every output goes under tmp_path.
Counts are the ones tests/test_adapters.py takes from the fixture files.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import agenther_local.cli.convert  # noqa: F401  (registers the command on the group)
from agenther_local.cli import cli
from agenther_local.trajectory import Trajectory

FIXTURES = Path(os.environ.get("AGENTHER_FIXTURES", "/work/shared/fixtures"))
TAU = FIXTURES / "tau_bench_airline" / "gpt-4o-airline.part1of3.json"
TB57 = FIXTURES / "toolbench" / "57_ChatGPT_DFS_woFilter_w2.json"
SWE = FIXTURES / "swe_agent" / "swe-agent__test-repo-i1.traj"
PREDS = FIXTURES / "swe_agent" / "pydicom__pydicom-1458.all_preds.jsonl"
FIREACT = next((FIXTURES / "fireact_hotpotqa").glob("*.json"))


def run(*args: str):
    return CliRunner().invoke(cli, ["convert", *map(str, args)])


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_writes_native_jsonl_and_counts_each_file(tmp_path):
    out = tmp_path / "runs.jsonl"
    result = run(TAU, TB57, SWE, "--branches", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{TAU}: openai (detected), 67 read: 42 failures, 25 successes, 0 unlabeled, 0 invalid",
        f"{TB57}: toolbench (detected), 4 read: 3 failures, 1 successes, 0 unlabeled, 0 invalid",
        f"{SWE}: swe-agent (detected), 1 read: 0 failures, 0 successes, 1 unlabeled, 0 invalid",
        f"wrote 72 trajectories to {out}",
    ]
    rows = lines(out)
    trajs = [Trajectory.from_dict(r) for r in rows]        # every line is a valid native record
    assert [t.id for t in trajs][:2] == ["task0-trial0", "task1-trial0"]   # file order
    assert trajs[-1].success is None and "success" not in rows[-1]
    assert {t.metadata["source_format"] for t in trajs} == {"openai", "toolbench", "swe-agent"}
    assert not (tmp_path / "runs.invalid.jsonl").exists()


def test_converted_output_reads_back_as_native(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run(TAU, "-o", first).exit_code == 0
    result = run(first, "-o", second)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (f"{first}: native (detected), 67 read: 42 failures, "
                                             "25 successes, 0 unlabeled, 0 invalid")
    assert lines(first) == lines(second)       # provenance kept: source still points at tau


def test_bad_records_go_to_the_sidecar(tmp_path):
    out = tmp_path / "fireact.jsonl"
    result = run("--from", "react", FIREACT, "-o", out)
    assert result.exit_code == 0, result.output
    sidecar = tmp_path / "fireact.invalid.jsonl"
    assert result.output.splitlines() == [
        f"{FIREACT}: react (given), 465 read: 185 failures, 130 successes, 0 unlabeled, 0 invalid, "
        "150 without a tool step",
        f"wrote 315 trajectories to {out}; 150 records not converted, listed in {sidecar}",
    ]
    bad = lines(sidecar)
    assert len(bad) == 150 and all(set(row) == {"where", "reason"} for row in bad)
    assert bad[0] == {"where": f"{FIREACT}:#6238",
                      "reason": "steps: empty: the agent gave its final answer without a tool "
                                "step, so there is nothing to relabel"}


def test_a_repeated_id_is_invalid_not_overwritten(tmp_path):
    result = run(TAU, TAU, "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (f"{TAU}: openai (detected), 67 read: 0 failures, "
                                             "0 successes, 0 unlabeled, 67 invalid")
    first = lines(tmp_path / "out.invalid.jsonl")[0]
    assert first == {"where": f"{TAU}:#0", "reason": f"id: 'task0-trial0' already read at {TAU}:#0"}


def test_a_stale_sidecar_is_emptied(tmp_path):
    sidecar = tmp_path / "out.invalid.jsonl"
    sidecar.write_text('{"where": "old", "reason": "old"}\n')
    assert run(SWE, "-o", tmp_path / "out.jsonl").exit_code == 0
    assert sidecar.read_text() == ""


@pytest.mark.parametrize("make_args, message", [
    (lambda tmp: [PREDS], f"{PREDS}: SWE-bench predictions (a patch per instance, no steps): "
                          "nothing to relabel; convert the run's .traj files instead"),
    (lambda tmp: [tmp / "nope.json"], "{tmp}/nope.json: no such file"),
    (lambda tmp: [tmp], "{tmp}: is a directory, expected a JSONL or JSON file"),
    (lambda tmp: [TAU, tmp / "nope.json"], "{tmp}/nope.json: no such file"),
])
def test_user_errors_are_one_line_and_write_nothing(tmp_path, make_args, message):
    out = tmp_path / "out.jsonl"
    result = run(*make_args(tmp_path), "-o", out)
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Error: " + message.format(tmp=tmp_path)]
    assert not out.exists()


def test_bad_options_are_usage_errors(tmp_path):
    result = run("--from", "xml", TAU, "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--from': 'xml' is not one of 'auto', 'native', 'agenther', "
        "'agentlab', 'browser_use', 'fireact', 'inspect', 'mini-swe-agent', 'openai', 'openhands', 'react', 'sharegpt', "
        "'swe-agent', 'tau2', 'toolbench'.")
    result = run(TAU)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "Error: Missing option '-o' / '--output'."


def test_help_is_the_docstring():
    result = CliRunner().invoke(cli, ["convert", "--help"])
    assert result.exit_code == 0
    assert ("Convert agent runs (any --from format) to native JSONL or AgentHER's format."
            in " ".join(result.output.split()))
