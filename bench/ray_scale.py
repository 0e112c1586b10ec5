"""Ray scale-out: throughput of `run` with the local engine and with 1 and 2 Ray workers.

Each configuration runs the same trajectories with the fast jury and no call cache (so every
model call is made), into a fresh OUTDIR, as a user would:

    agenther-local run IN -o OUT --jury fast --no-cache [--engine ray --workers N --cpus-per-worker C]

and prints JSON: wall seconds, trajectories per minute, accepted set and every record's
decision and written goals (must be the same for every engine), and each engine's per-worker
counts. On this 2-core machine the workers share
two cores, so more workers cannot add compute: the numbers show the engine's overhead and
that the results do not change. On a cluster, throughput grows with the number of actors as
long as trajectories outnumber them (each actor loads its models once; the driver only reads
input and appends to the journal):

    .venv/bin/python bench/ray_scale.py --address auto --workers 1,8,32 --cpus-per-worker 4
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "agenther_local"]


def accepted(out: Path) -> list[str]:
    rows = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    return sorted(r["metadata"]["trajectory_id"] for r in rows)


def decisions(out: Path) -> list[list]:
    """Every record's outcome: id, status, which stage decided, and each goal the writer tried."""
    from agenther_local.runner import rejection_key
    entries = [e for line in (out / "journal.jsonl").read_text().splitlines() if line.strip()
               for e in [json.loads(line)] if "key" in e]          # the first line is the header
    return sorted([e.get("id", e["key"]), e["status"], rejection_key(e),
                   [a.get("goal") or "" for a in (e.get("relabel") or {}).get("attempts", [])]] for e in entries)


def one(src: Path, out: Path, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    subprocess.run([*CLI, "run", str(src), "-o", str(out), "--jury", "fast", "--no-cache", "--no-report", "--quiet",
                    *extra], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    manifest = json.loads((out / "manifest.json").read_text())
    n = manifest["summary"]["read"]
    return {"wall_seconds": round(wall, 1), "trajectories": n, "per_minute": round(60 * n / wall, 2),
            "accepted": accepted(out), "decisions": decisions(out), "engine": {k: v for k, v in manifest["engine"].items() if k != "timings"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", type=Path, default=ROOT / "examples" / "demo.jsonl")
    ap.add_argument("--limit", type=int, default=6)
    ap.add_argument("--workers", default="1,2", help="comma list of Ray worker counts")
    ap.add_argument("--cpus-per-worker", type=int, default=None, help="default: 2 cores shared among the workers")
    ap.add_argument("--address", default=None, help="Ray cluster address (default: a local cluster)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ray-scale-"))
    src = tmp / "in.jsonl"
    src.write_text("".join(args.input.read_text().splitlines(keepends=True)[: args.limit]))
    results = {"local": one(src, tmp / "local", [])}
    for n in (int(x) for x in args.workers.split(",")):
        cpus = args.cpus_per_worker or max(2 // n, 1)
        extra = ["--engine", "ray", "--workers", str(n), "--cpus-per-worker", str(cpus)]
        if args.address:
            extra += ["--address", args.address]
        results[f"ray_{n}"] = one(src, tmp / f"ray{n}", extra)
    same = all(r["accepted"] == results["local"]["accepted"] for r in results.values())
    same_decisions = all(r["decisions"] == results["local"]["decisions"] for r in results.values())
    for r in results.values():
        r["decisions"] = [d[:3] for d in r["decisions"]]          # the goals were compared; keep the JSON short
    print(json.dumps({"input": str(args.input), "limit": args.limit, "same_accepted_set": same,
                      "same_decisions_and_goals": same_decisions, "outputs": str(tmp) if not same_decisions else None,
                      "results": results}, indent=1))
    if same_decisions:          # a difference keeps every run's outputs for a look
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
