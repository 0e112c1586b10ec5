"""Tests of `agenther-local validate` (agenther_local/cli/validate.py): exact problem lines."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import agenther_local.cli.validate  # noqa: F401  (registers the command on the group)
from agenther_local.cli import cli

FIXTURES = Path(os.environ.get("AGENTHER_FIXTURES", "/work/shared/fixtures"))
TB57 = FIXTURES / "toolbench" / "57_ChatGPT_DFS_woFilter_w2.json"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTHER_LOCAL_HOME", str(tmp_path / "home"))


def record(rid: str, **changes) -> dict:
    r = {"id": rid, "goal": f"find {rid}", "final_answer": "4", "success": False,
         "steps": [{"action": "search", "action_input": {"q": rid}, "observation": f"{rid} is 4"}]}
    r.update(changes)
    return {k: v for k, v in r.items() if v is not None}


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def run(*args):
    return CliRunner().invoke(cli, ["validate", *map(str, args)])


def test_a_good_file_gets_a_summary(tmp_path):
    good = write(tmp_path / "good.jsonl", [record("a"), record("b")])
    result = run(good)
    assert result.exit_code == 0, result.output
    assert result.output == "2 records in 1 file, all valid\n"


def test_every_problem_is_one_located_line(tmp_path):
    bad = write(tmp_path / "bad.jsonl", [
        record("a"),
        '{"id": "b", "goal": , "steps": []}',                              # malformed JSON
        record("c", goal=None),                                            # missing field
        record("d", steps=[{"action": "search", "observation": ["d is 4"]}]),  # wrong type
        record("e", success="no"),                                         # wrong type
    ])
    result = run(bad)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad}:2: record: malformed JSON: Expecting value (column 21)",
        f"{bad}:3: goal: missing",
        f"{bad}:4: steps[0].observation: expected a string, got a list",
        f"{bad}:5: success: expected true or false, got a string",
    ]
    assert result.stderr == "Error: 4 of 5 records in 1 file are invalid\n"


def test_a_repeated_id_across_files_is_a_problem(tmp_path):
    first = write(tmp_path / "a.jsonl", [record("a"), record("b")])
    second = write(tmp_path / "b.jsonl", [record("c"), record("a")])
    result = run(first, second)
    assert result.exit_code == 1
    assert result.stdout == f"{second}:2: id: 'a' already read at {first}:1\n"
    assert result.stderr == "Error: 1 of 4 records in 2 files are invalid\n"


def test_foreign_formats_are_read_through_their_adapter():
    result = run(TB57)
    assert result.exit_code == 0, result.output
    assert result.output == "1 record in 1 file, all valid\n"        # one answer file, one run


def test_a_file_that_cannot_be_read(tmp_path):
    result = run(tmp_path / "none.jsonl")
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'none.jsonl'}: no such file\n"
