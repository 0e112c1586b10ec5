"""Seconds per trajectory of the paper's reference code against ours, on the reference's own
three example runs (issue 15), and the goals each returns. Prints JSON.

The reference (GitHub alphadl/AgentHER) runs its own `AgentHERPipeline` with its CLI defaults
(rule detector, LLM extractor, relabeler with second judge, θ = 0.5), its OpenAI client pointed
at llama-cpp-python's OpenAI server serving the Qwen2.5-Coder-1.5B GGUF of our manifest. The
server gets our judges' context, batch, seed and threads (llama-cpp-python's defaults for both
when RuntimeConfig.n_threads is None: half the cores for generation, all for prompts) and our
OMP_WAIT_POLICY. subtle: llama-cpp-python reads seed 0 as its default seed, and a server draws
each request's seed from the previous one, so a fresh server gives the same answers every run. Ours is `run --from agenther --jury <preset>` without the call cache, models
loaded in this process.

Model loading is reported apart from the work and also included in a total:
- reference: `load_s` is server start until /v1/models answers (the server loads its model
  before it listens); `work_s` sums the per-trajectory `process()` times; `total_s` adds the
  driver process (interpreter start, imports) to the load.
- ours: `load_s` is imports, pipeline build and every GGUF load (MiniLM loads only if used); `work_s` is the run
  less the GGUF loads (they happen lazily inside it); `total_s` is all of it.

Its code is never part of this repository. To get it: clone alphadl/AgentHER into a directory,
create `.venv` inside it and `pip install -e . 'llama-cpp-python[server]==<our pin>'` there
(the same llama-cpp-python as ours, so both sides run the same llama.cpp), then pass `--ref-dir` (default: $AGENTHER_REF, else /work/ref/AgentHER). Timed runs share the
CPU, so run it under the lock the other benchmarks use:

    flock /tmp/agenther-cpu.lock .venv/bin/python bench/reference.py [--ref-dir DIR] [--jury fast]
        [--server-url http://127.0.0.1:8011]   # an already running server: load_s is null
"""
from __future__ import annotations

import argparse
import difflib
import importlib.metadata as md
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_REF = Path(os.environ.get("AGENTHER_REF", "/work/ref/AgentHER"))
MODEL = "qwen2.5-coder-1.5b"     # the GGUF the issue names for the reference
EXAMPLES = Path("examples") / "example_trajectories.json"
READY_TIMEOUT_S = 300            # a 1 GB GGUF loads in ~5 s here; generous for a busy machine
COPPER_WIRE_ID = "traj_001"      # the paper's worked example (MicroMetals, $5.30/kg, MOQ 10 kg)
NEAR_COPY = 0.9                  # difflib ratio from which a goal counts as the original copied back

# Runs inside the reference's venv: its public API with the values its CLI passes by default.
DRIVER = """
import json, sys, time
from agenther.models import FailedTrajectory
from agenther.pipeline import AgentHERPipeline, PipelineConfig
examples, model, base_url = sys.argv[1:4]
pipe = AgentHERPipeline(PipelineConfig(model=model, base_url=base_url, api_key="local"))
rows = []
for item in json.load(open(examples, encoding="utf-8")):
    t = FailedTrajectory.model_validate(item)
    t0 = time.perf_counter()
    r = pipe.process(t)
    rows.append({"id": r.trajectory_id, "seconds": round(time.perf_counter() - t0, 2),
                 "stage": r.stage_reached, "success": r.success, "error": r.error,
                 "goal": r.relabeled.hindsight_prompt if r.sample else None,
                 "confidence": r.relabeled.confidence if r.sample else None,
                 "original": t.original_prompt})
print(json.dumps(rows))
"""


def copy_ratio(goal: str, original: str) -> float:
    """How much of the original goal a returned goal is, after case and whitespace.

    >>> copy_ratio("Find  copper wire.", "find copper wire.")
    1.0
    """
    return round(difflib.SequenceMatcher(None, _norm(goal), _norm(original)).ratio(), 3)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def start_server(python: Path, gguf: Path, port: int, log: Path) -> tuple[subprocess.Popen, float]:
    """Start llama-cpp-python's OpenAI server on our runtime settings; (process, seconds to ready)."""
    from agenther_local.config import Config

    rt = Config().runtime
    cmd = [str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(rt.n_ctx),
           "--n_batch", str(rt.batch_size), "--seed", str(rt.seed)]
    if rt.n_threads is not None:      # ours passes the same count for generation and prompts
        cmd += ["--n_threads", str(rt.n_threads), "--n_threads_batch", str(rt.n_threads)]
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")   # as judges/llama.py sets for ours
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    while time.perf_counter() - t0 < READY_TIMEOUT_S:
        if proc.poll() is not None:
            sys.exit(f"llama_cpp.server exited with {proc.returncode} before it was ready; see {log}:\n"
                     + log.read_text()[-2000:])
        if get_json(f"http://127.0.0.1:{port}/v1/models"):
            return proc, time.perf_counter() - t0
        time.sleep(0.25)
    stop(proc)
    sys.exit(f"llama_cpp.server not ready after {READY_TIMEOUT_S} s; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_reference(ref_dir: Path, python: Path, server_url: str | None, port: int, work: Path) -> dict:
    examples = ref_dir / EXAMPLES
    proc, load_s = None, None
    if server_url is None:
        from agenther_local.judges.manifest import get_manifest, locate

        proc, load_s = start_server(python, locate(get_manifest(MODEL)), port, work / "server.log")
        server_url = f"http://127.0.0.1:{port}"
    try:
        served = get_json(f"{server_url}/v1/models")
        if not served:
            sys.exit(f"no OpenAI server answers at {server_url}/v1/models")
        model = served["data"][0]["id"]
        t0 = time.perf_counter()
        out = subprocess.run([str(python), "-c", DRIVER, str(examples), model, f"{server_url}/v1"],
                             cwd=work, capture_output=True, text=True)
        process_s = time.perf_counter() - t0
    finally:
        if proc is not None:
            stop(proc)
    if out.returncode != 0:
        sys.exit(f"reference driver failed ({out.returncode}):\n{out.stderr[-3000:]}")
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    for r in rows:
        r["copy_of_original"] = copy_ratio(r["goal"], r["original"]) if r["goal"] else None
    work_s = sum(r["seconds"] for r in rows)
    goals = [r for r in rows if r["goal"]]
    return {"model": model, "load_s": _r(load_s), "work_s": _r(work_s), "process_s": _r(process_s),
            "s_per_traj": _r(work_s / len(rows)),
            "total_s": _r((load_s or 0) + process_s), "total_s_per_traj": _r(((load_s or 0) + process_s) / len(rows)),
            "goals_returned": len(goals),
            "goals_copied_from_original": sum(r["copy_of_original"] >= NEAR_COPY for r in goals),
            "trajectories": rows}


def run_ours(ref_dir: Path, jury: str, work: Path) -> dict:
    t0 = time.perf_counter()
    from agenther_local.config import Config
    from agenther_local.pipeline import PipelineOptions, build_pipeline
    from agenther_local.runner import RunOptions, run

    cfg = Config()
    pipe, judges, _ = build_pipeline(PipelineOptions(jury=jury, use_cache=False), cfg)
    # MiniLM loads lazily, only if a stage uses it (the fast preset with one goal per run does
    # not); when it does, its load counts as work here
    setup_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    outdir = work / "ours"
    s = run(RunOptions(inputs=[ref_dir / EXAMPLES], outdir=outdir, source_format="agenther", quiet=True),
            cfg, pipe, {})
    run_s = time.perf_counter() - t1
    gguf_load_s = sum(j.stats.load_seconds for j in judges.values())
    entries = [json.loads(line) for line in (outdir / "journal.jsonl").read_text().splitlines()[1:]]
    rows = [{"id": e["id"], "status": e["status"], "goal": e.get("goal"), "reason": e.get("reason")}
            for e in entries]
    work_s = run_s - gguf_load_s
    accepted = [r for r in rows if r["status"] == "accepted"]
    copper = next((r for r in rows if r["id"] == COPPER_WIRE_ID), {})
    return {"jury": jury, "load_s": _r(setup_s + gguf_load_s), "work_s": _r(work_s),
            "s_per_traj": _r(work_s / s.read), "total_s": _r(setup_s + run_s),
            "total_s_per_traj": _r((setup_s + run_s) / s.read),
            "model_calls": sum(j.stats.calls for j in judges.values()),
            "goals_accepted": len(accepted),
            "copper_wire_accepted": copper.get("status") == "accepted", "copper_wire_goal": copper.get("goal"),
            "trajectories": rows}


def our_code() -> dict:
    """Which agenther_local ran: an editable install may point at another checkout than this one."""
    import agenther_local

    root = Path(agenther_local.__file__).resolve().parents[1]
    return {"path": str(root), "commit": _git(root, "rev-parse", "--short", "HEAD"),
            "dirty": bool(_git(root, "status", "--porcelain"))}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True).stdout.strip()


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref-dir", type=Path, default=DEFAULT_REF, help="checkout of alphadl/AgentHER")
    ap.add_argument("--ref-python", type=Path, default=None, help="its interpreter (default: REF_DIR/.venv/bin/python)")
    ap.add_argument("--server-url", default=None, help="an OpenAI server already serving the model (not started here)")
    ap.add_argument("--port", type=int, default=8011)
    ap.add_argument("--jury", default="fast")
    ap.add_argument("--keep", type=Path, default=None, help="keep the server log and our run's outputs here")
    a = ap.parse_args()
    python = a.ref_python or a.ref_dir / ".venv" / "bin" / "python"
    if not (a.ref_dir / EXAMPLES).exists() or not python.exists():
        sys.exit(f"reference code not found: need {a.ref_dir / EXAMPLES} and {python}. Clone GitHub "
                 "alphadl/AgentHER there (or pass --ref-dir / set AGENTHER_REF), then in it: python -m venv .venv && "
                 f".venv/bin/pip install -e . 'llama-cpp-python[server]=={md.version('llama_cpp_python')}'")
    # SIGTERM (a killed bench) still stops the server through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.keep and a.keep.exists() and any(a.keep.iterdir()):
        sys.exit(f"--keep {a.keep}: not empty (a journal there would make our run resume, not run)")
    load_before = os.getloadavg()[0]     # other jobs on the cores inflate both sides' seconds
    with tempfile.TemporaryDirectory() as d:
        work = a.keep or Path(d)
        work.mkdir(parents=True, exist_ok=True)
        ref = run_reference(a.ref_dir, python, a.server_url, a.port, work)
        ours = run_ours(a.ref_dir, a.jury, work)
    print(json.dumps({
        "bench": "reference", "trajectories": len(ref["trajectories"]),
        "ours_speedup": _r(ref["s_per_traj"] / ours["s_per_traj"]),
        "ours_speedup_with_load": _r(ref["total_s_per_traj"] / ours["total_s_per_traj"]),
        "target_s_per_traj": _r(ref["s_per_traj"] / 5),      # issue 15: at most 1/5 of the reference
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "reference": ref, "ours": ours, "our_code": our_code()}, indent=2))


if __name__ == "__main__":
    main()
