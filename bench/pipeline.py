"""Throughput of the whole pipeline on a fixed input (the bundled examples, plus the first N
FireAct failures), with the default fast jury and a fresh call cache. Prints JSON:
trajectories per minute, model calls and tokens per accepted sample, the share of wall time
spent inside the models versus our own code, the cache hit rate of a second identical run,
and peak RSS.

    .venv/bin/python bench/pipeline.py [--jury fast] [--fireact 10] [--rule-based]
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
FIREACT = next((ROOT.parent / "shared" / "fixtures" / "fireact_hotpotqa").glob("*.json"), None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jury", default="fast")
    ap.add_argument("--fireact", type=int, default=10, help="FireAct failures added to the demo input")
    ap.add_argument("--rule-based", action="store_true", default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ["AGENTHER_LOCAL_CACHE"] = str(Path(d) / "cache")
        from agenther_local.adapters import read
        from agenther_local.config import Config
        from agenther_local.pipeline import PipelineOptions, build_pipeline
        from agenther_local.runner import RunOptions, run
        from agenther_local.trajectory import Trajectory

        inp = Path(d) / "in.jsonl"
        rows = (ROOT / "examples" / "demo.jsonl").read_text().splitlines()
        if FIREACT and a.fireact:
            fails = [t for _, t in read(FIREACT, "react") if isinstance(t, Trajectory) and not t.is_success][: a.fireact]
            rows += [json.dumps(t.to_dict()) for t in fails]
        inp.write_text("\n".join(rows) + "\n")
        results = []
        for attempt in ("cold", "warm"):
            pipe, judges, cache = build_pipeline(PipelineOptions(jury=a.jury, rule_based=a.rule_based), Config())
            t0 = time.perf_counter()
            s = run(RunOptions(inputs=[inp], outdir=Path(d) / f"out-{attempt}", source_format="native", quiet=True),
                    Config(), pipe, {})
            wall = time.perf_counter() - t0
            model_s = sum(j.stats.seconds + j.stats.load_seconds for j in judges.values())
            calls = sum(j.stats.calls for j in judges.values())
            tokens = sum(j.stats.prompt_tokens + j.stats.completion_tokens for j in judges.values())
            acc = s.counts.get("accepted", 0)
            results.append({"run": attempt, "trajectories": s.read, "accepted": acc, "wall_s": round(wall, 1),
                            "trajectories_per_min": round(60 * s.read / wall, 2),
                            "model_calls": calls, "model_tokens": tokens,
                            "calls_per_accepted": round(calls / acc, 1) if acc else None,
                            "tokens_per_accepted": round(tokens / acc) if acc else None,
                            "share_in_models": round(model_s / wall, 3) if wall else None,
                            "share_own_code": round(1 - model_s / wall, 3) if wall else None,
                            "cache_hits": cache.hits if cache else 0, "cache_misses": cache.misses if cache else 0,
                            "stage_seconds": {k: round(v, 1) for k, v in pipe.timings.items()}})
            print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"bench": "pipeline", "jury": a.jury, "rule_based": a.rule_based, "results": results,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}, indent=2))


if __name__ == "__main__":
    main()
