"""`run --engine ray`: a local Ray cluster with 2 CPUs; same outputs as the local engine, and a
worker that dies mid-run loses and duplicates nothing."""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ray = pytest.importorskip("ray", reason="the ray extra is installed by `make test`")

import agenther_local.cli.commands  # noqa: E402,F401  (registers the commands)
from agenther_local.cli import cli  # noqa: E402
from agenther_local.config import Config  # noqa: E402
from agenther_local.engines import RAY_MISSING, RayEngine  # noqa: E402
from agenther_local.runner import RunOptions, run  # noqa: E402

import ray_workers  # noqa: E402
from test_runner import rec, write_jsonl  # noqa: E402

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
OUTPUTS = ("sft.jsonl", "dpo.jsonl", "sharegpt.jsonl", "rejected.jsonl", "invalid.jsonl")


@pytest.fixture(scope="module")
def cluster():
    path = os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")])
    os.environ.setdefault("RAY_worker_niceness", "0")      # as RayEngine does for its local clusters
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


def inputs(tmp_path: Path, n: int = 12) -> Path:
    rows = [rec(i) for i in range(n)]
    rows.insert(5, b"{not json")                     # one bad record: quarantined by the runner either way
    return write_jsonl(tmp_path / "in.jsonl", rows)


def do_run(src: Path, out: Path, engine=None, seed: int = 0):
    opts = RunOptions(inputs=[src], outdir=out, source_format="native", quiet=True)
    return run(opts, Config(), ray_workers.make_pipeline(seed), {}, engine=engine)


def outputs(out: Path) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in OUTPUTS}


def journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()[1:]]


def test_ray_gives_the_same_outputs_as_the_local_engine(cluster, tmp_path):
    src = inputs(tmp_path)
    local = do_run(src, tmp_path / "local")
    engine = RayEngine(functools.partial(ray_workers.make_pipeline, 0), workers=2)
    remote = do_run(src, tmp_path / "ray", engine)
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    assert remote.counts == local.counts and local.counts["accepted"] >= 3 and local.counts["rejected"] >= 3
    pids = {e["worker_pid"] for e in journal(tmp_path / "ray") if "worker_pid" in e}
    assert len(pids) == 2 and os.getpid() not in pids       # both actors worked, the driver did not
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["engine"]["engine"] == "ray" and sum(manifest["engine"]["done_per_worker"]) == 12


def test_another_seed_changes_the_accepted_set(cluster, tmp_path):
    """The comparison above can fail: the stand-in's decisions depend on the seed."""
    src = inputs(tmp_path)
    do_run(src, tmp_path / "a", RayEngine(functools.partial(ray_workers.make_pipeline, 0), workers=2))
    do_run(src, tmp_path / "b", RayEngine(functools.partial(ray_workers.make_pipeline, 1), workers=2))
    assert outputs(tmp_path / "a")["sft.jsonl"] != outputs(tmp_path / "b")["sft.jsonl"]


def test_a_worker_dying_mid_run_loses_and_duplicates_nothing(cluster, tmp_path):
    src = inputs(tmp_path)
    do_run(src, tmp_path / "local")
    marker = tmp_path / "died"
    engine = RayEngine(functools.partial(ray_workers.make_pipeline, 0, "r6", str(marker)), workers=2)
    summary = do_run(src, tmp_path / "ray", engine)
    assert marker.exists()                                   # a worker really died, holding r6
    keys = [e["key"] for e in journal(tmp_path / "ray")]
    assert len(keys) == len(set(keys)) == 13                 # 12 records + 1 invalid, each once
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    stats = json.loads((tmp_path / "ray" / "manifest.json").read_text())["engine"]
    assert stats["actor_deaths"] == 1 and stats["retried"] >= 1
    assert summary.counts["accepted"] + summary.counts["rejected"] == 12


def test_resume_after_a_local_run_processes_only_the_rest_on_ray(cluster, tmp_path):
    src = inputs(tmp_path)
    do_run(src, tmp_path / "local")
    out = tmp_path / "mixed"
    opts = RunOptions(inputs=[src], outdir=out, source_format="native", quiet=True, limit=6)
    run(opts, Config(), ray_workers.make_pipeline(0), {})
    summary = do_run(src, out, RayEngine(functools.partial(ray_workers.make_pipeline, 0), workers=2))
    assert summary.resumed == 6
    assert outputs(out) == outputs(tmp_path / "local")
    assert sum(1 for e in journal(out) if "worker_pid" in e and e["worker_pid"] != os.getpid()) == 7


def test_without_ray_the_option_says_how_to_install_it(tmp_path, monkeypatch):
    src = inputs(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)
    r = CliRunner().invoke(cli, ["run", str(src), "-o", str(tmp_path / "out"), "--engine", "ray"])
    assert r.exit_code != 0 and RAY_MISSING in r.output
    assert not (tmp_path / "out" / "journal.jsonl").exists()


def test_ray_options_without_the_ray_engine_are_refused(tmp_path):
    r = CliRunner().invoke(cli, ["run", str(inputs(tmp_path)), "-o", str(tmp_path / "out"), "--workers", "3"])
    assert r.exit_code != 0 and "need --engine ray" in r.output


@pytest.mark.real_model
def test_real_models_on_two_actors_accept_what_the_local_engine_accepts(cluster, tmp_path):
    """The fast jury's real GGUF judges, loaded once in each actor, with no call cache."""
    demo = (ROOT / "examples" / "demo.jsonl").read_text().splitlines()
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(demo[:4]) + "\n")
    common = ["run", str(src), "--quiet", "--jury", "fast", "--no-report", "--no-cache", "--seed", "3"]
    local = CliRunner().invoke(cli, [*common, "-o", str(tmp_path / "local")])
    remote = CliRunner().invoke(cli, [*common, "-o", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2"])
    assert local.exit_code == 0 and remote.exit_code == 0, (local.output, remote.output)
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    stats = manifest["engine"]
    assert stats["done_per_worker"] == [2, 2] and stats["cache"] == {"hits": 0, "misses": 0}
    assert manifest["timings"]["relabel"] > 0         # the models ran in the actors


def test_a_worker_that_cannot_build_its_pipeline_stops_the_run_with_the_cause(cluster, tmp_path):
    src = inputs(tmp_path)
    engine = RayEngine(functools.partial(ray_workers.broken_pipeline, "model file missing on this node"), workers=1)
    with pytest.raises(Exception) as e:
        do_run(src, tmp_path / "out", engine)
    assert "died 3 times" in str(e.value) and "model file missing on this node" in str(e.value)
    assert (tmp_path / "out" / "journal.jsonl").exists()
