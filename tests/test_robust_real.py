"""Never lose work, never touch the network: real runs of the CLI in a subprocess (SIGKILL,
SIGINT) and in-process with sockets disabled. Real GGUF judges (SmolLM2, the fastest)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenther_local.cli import cli
from agenther_local.cli import commands  # noqa: F401

pytestmark = pytest.mark.real_model
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.jsonl"
IDS = ("demo02_laptop_cart", "demo11_headphones_offtopic", "demo03_flight_bos_den", "demo12_requests_bump")
ARGS = ["--jury", "smollm2-135m", "--rule-stages", "--no-cache", "--no-report", "--quiet", "--seed", "7"]
OUTPUTS = ("sft.jsonl", "dpo.jsonl", "dpo_ms_swift.jsonl", "sharegpt.jsonl", "rejected.jsonl", "invalid.jsonl")


@pytest.fixture(scope="module")
def small_input(tmp_path_factory):
    p = tmp_path_factory.mktemp("in") / "in.jsonl"
    p.write_text("".join(l + "\n" for l in DEMO.read_text().splitlines() if json.loads(l)["id"] in IDS))
    return p


def cmd(inp: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "agenther_local", "run", str(inp), "-o", str(out), *ARGS]


def journal_lines(out: Path) -> int:
    j = out / "journal.jsonl"
    return len(j.read_text().splitlines()) if j.exists() else 0


def wait_for_lines(proc, out: Path, n: int, timeout: float = 600) -> None:
    t0 = time.time()
    while journal_lines(out) < n:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
        assert time.time() - t0 < timeout, "no progress"
        time.sleep(0.2)


def test_sigkill_then_resume_gives_identical_outputs(small_input, tmp_path):
    env = dict(os.environ)
    full = tmp_path / "full"
    subprocess.run(cmd(small_input, full), check=True, env=env, capture_output=True, timeout=900)
    part = tmp_path / "part"
    proc = subprocess.Popen(cmd(small_input, part), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_lines(proc, part, 3)          # header + two records decided
    proc.kill()
    proc.wait()
    assert not (part / "sft.jsonl").exists()
    res = subprocess.run(cmd(small_input, part), env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    assert "resumed: " in res.stdout
    for name in OUTPUTS:
        assert (part / name).read_bytes() == (full / name).read_bytes(), name
    ids = [json.loads(l)["id"] for l in (part / "journal.jsonl").read_text().splitlines()[1:]]
    assert sorted(ids) == sorted(IDS)      # no duplicate, no missing id


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(small_input, tmp_path):
    out = tmp_path / "o"
    proc = subprocess.Popen(cmd(small_input, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lines(proc, out, 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert "Resume with the same command" in err
    assert journal_lines(out) >= 2


def test_whole_pipeline_runs_with_sockets_disabled(small_input, tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    one = tmp_path / "one.jsonl"
    one.write_text(small_input.read_text().splitlines()[0] + "\n")
    res = CliRunner().invoke(cli, ["run", str(one), "-o", str(tmp_path / "o"), *ARGS[:-2]])
    assert res.exit_code == 0, res.output
    assert "1 read, 0 invalid" in res.output


def test_rerun_with_other_formats_or_delta_asks_no_model_again(small_input, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(small_input.read_text().splitlines()[0] + "\n")
    base = ["run", str(one), "--jury", "smollm2-135m", "--rule-stages", "--no-report", "--quiet", "--seed", "7"]
    first = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    assert "misses" in first.output and ", 0 misses" not in first.output
    cfg = tmp_path / "c.toml"
    cfg.write_text("[detect]\ndiscard_below = 0.25\n")
    second = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "b"), "--formats", "sft", "--config", str(cfg)])
    assert second.exit_code == 0, second.output
    assert ", 0 misses" in second.output, second.output
