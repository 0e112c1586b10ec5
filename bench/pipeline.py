"""Throughput of the whole pipeline on a fixed input (the bundled examples, plus the first N
FireAct failures), with the default fast jury and a fresh call cache. Prints JSON:
trajectories per minute, model calls and tokens per accepted sample, the share of wall time
spent inside the models versus our own code, the cache hit rate of a second identical run,
peak RSS, and the writer drafts lost to a cut or degenerate generation (`generation`: drafts,
drafts_cut, drafts_degenerate, attempts_lost).

    .venv/bin/python bench/pipeline.py [--jury fast] [--fireact 10] [--rule-based] [--no-warm]
    .venv/bin/python bench/pipeline.py --inputs ../shared/fixtures/browser_use_webarena_infinity   # web runs
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAU = ROOT.parent / "shared" / "fixtures" / "tau_bench_airline"
FIREACT = next((ROOT.parent / "shared" / "fixtures" / "fireact_hotpotqa").glob("*.json"), None)


def lost_drafts(journal: Path) -> dict:
    """Writer drafts that did not close their JSON (stages/relabel.py): cut at the token budget
    or stopped as degenerate, each redrawn; `attempts_lost` counts attempts k none of whose
    draws closed (each such attempt is one of the K the record did not get to use)."""
    cut = degenerate = drafts = 0
    lost: set[tuple[str, int]] = set()
    decisions = {}
    for line in journal.read_text().splitlines()[1:]:
        e = json.loads(line)
        decisions[e["id"]] = [e["status"], e.get("goal")]
        by_k: dict[int, list[str]] = {}
        for a in (e.get("relabel") or {}).get("attempts", []):
            drafts += 1
            cut += a["status"] == "cut"
            degenerate += a["status"] == "degenerate"
            by_k.setdefault(a["k"], []).append(a["status"])
        lost |= {(e["id"], k) for k, st in by_k.items() if all(s in ("cut", "degenerate") for s in st)}
    return {"drafts": drafts, "drafts_cut": cut, "drafts_degenerate": degenerate, "attempts_lost": len(lost),
            "decisions": decisions}      # id -> [status, goal]: to compare builds or machines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jury", default="fast")
    ap.add_argument("--fireact", type=int, default=10, help="FireAct failures added to the demo input")
    ap.add_argument("--rule-based", action="store_true", help="no model at all, as `run --rule-based`: goals only from plans")
    ap.add_argument("--tau", type=int, default=0, help="tau-bench airline failures added to the input")
    ap.add_argument("--no-warm", action="store_true", help="skip the second (cache-warm) run")
    ap.add_argument("--inputs", nargs="+", type=Path, default=None, metavar="PATH",
                    help="measure on these runs instead (any format `--from auto` reads, e.g. the browser-use "
                         "fixture folder); --fireact/--tau are then ignored")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ["AGENTHER_LOCAL_CACHE"] = str(Path(d) / "cache")
        from agenther_local.adapters import read
        from agenther_local.config import Config
        from agenther_local.pipeline import PipelineOptions, build_pipeline
        from agenther_local.runner import RunOptions, run
        from agenther_local.trajectory import Trajectory

        inp = Path(d) / "in.jsonl"
        rows = (ROOT / "examples" / "demo.jsonl").read_text().splitlines() if a.inputs is None else []
        for path in a.inputs or ():
            rows += [json.dumps(t.to_dict()) for _, t in read(path) if isinstance(t, Trajectory)]
        if FIREACT and a.fireact and a.inputs is None:
            fails = [t for _, t in read(FIREACT, "react") if isinstance(t, Trajectory) and not t.is_success][: a.fireact]
            rows += [json.dumps(t.to_dict()) for t in fails]
        if a.tau and a.inputs is None:
            from agenther_local.adapters import detect_format
            taus = []
            for f in sorted(TAU.glob("*.json")):
                taus += [t for _, t in read(f, detect_format(f)) if isinstance(t, Trajectory) and not t.is_success]
            rows += [json.dumps(t.to_dict()) for t in taus[: a.tau]]
        inp.write_text("\n".join(rows) + "\n")
        results = []
        for attempt in ("cold",) if a.no_warm else ("cold", "warm"):
            pipe, judges, cache = build_pipeline(PipelineOptions(jury=a.jury, rule_based=a.rule_based or None,
                                                                        no_model=a.rule_based), Config())
            t0 = time.perf_counter()
            s = run(RunOptions(inputs=[inp], outdir=Path(d) / f"out-{attempt}", source_format="native", quiet=True),
                    Config(), pipe, {})
            wall = time.perf_counter() - t0
            model_s = sum(j.stats.seconds + j.stats.load_seconds for j in judges.values())
            calls = sum(j.stats.calls for j in judges.values())
            tokens = sum(j.stats.prompt_tokens + j.stats.completion_tokens for j in judges.values())
            acc = s.counts.get("accepted", 0)
            drafts = lost_drafts(Path(d) / f"out-{attempt}" / "journal.jsonl")
            results.append({"run": attempt, "trajectories": s.read, "failures": s.read - sum(v for k, v in s.counts.items() if k.startswith("skipped")),
                            "accepted": acc, "wall_s": round(wall, 1),
                            "trajectories_per_min": round(60 * s.read / wall, 2),
                            "model_calls": calls, "model_tokens": tokens,
                            "calls_per_accepted": round(calls / acc, 1) if acc else None,
                            "tokens_per_accepted": round(tokens / acc) if acc else None,
                            "share_in_models": round(model_s / wall, 3) if wall else None,
                            "share_own_code": round(1 - model_s / wall, 3) if wall else None,
                            "cache_hits": cache.hits if cache else 0, "cache_misses": cache.misses if cache else 0,
                            "stage_seconds": {k: round(v, 1) for k, v in pipe.timings.items()},
                            "generation": drafts})
            print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"bench": "pipeline", "jury": a.jury, "rule_based": a.rule_based, "results": results,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}, indent=2))


if __name__ == "__main__":
    main()
