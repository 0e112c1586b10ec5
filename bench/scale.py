"""Memory stays flat in the number of trajectories: run 1k, 10k and 100k generated records
through the runner with the rule-based detector and extractor and the deterministic gates
(grounding, well-formedness), the relabel step replaced by a goal built from the first
verified fact (no model), and print records/s and peak RSS (JSON).

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000]

Each size runs in its own process so peak RSS is per size.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    cities = ["Lisbon", "Porto", "Madrid", "Paris", "Berlin", "Vienna", "Prague", "Rome"]
    with open(path, "w") as f:
        for i in range(n):
            city = rng.choice(cities)
            price = round(rng.uniform(50, 400), 2)
            obs = json.dumps({"hotel": f"Hotel {city} {i % 97}", "city": city, "price_eur": price, "rating": rng.randint(6, 9)})
            rec = {"id": f"t{i}", "goal": f"Find a hotel in {city} under {int(price) - 10} EUR", "success": False,
                   "failure_reason": "price exceeds the budget",
                   "steps": [{"thought": "search", "action": "search_hotels", "action_input": {"city": city}, "observation": obs},
                             {"thought": "details", "action": "get_rating", "action_input": {"hotel": i}, "observation": f"Rating {rng.randint(6, 9)}/10 from {rng.randint(10, 900)} reviews"}],
                   "final_answer": f"The cheapest is {price} EUR"}
            f.write(json.dumps(rec) + "\n")


def child(n: int) -> dict:
    from agenther_local.config import Config
    from agenther_local.runner import RunOptions, run
    from agenther_local.stages.detect import RuleDetector, detect_failure
    from agenther_local.stages.extract import RuleExtractor, extract_outcome
    from agenther_local.stages.gates import grounding, well_formed

    cfg = Config()

    class RulePath:
        timings: dict = {}

        def process(self, traj):
            e = {"id": traj.id, "record": traj.to_dict(), "stage": "detect"}
            f = detect_failure(traj, RuleDetector(cfg.detect), cfg.detect)
            e.update(failure=f.to_dict(), weight=f.quality_weight)
            if f.discarded:
                return {**e, "status": "rejected", "reason": f.reason}
            o = extract_outcome(traj, RuleExtractor(), cfg.detect)
            goal = f"What is the {o.facts[0].text.split(':')[0]} of the hotel in the results?" if o.facts else ""
            g = [well_formed(goal, traj, cfg.gates), grounding(goal, traj)]
            ok = all(x.passed for x in g)
            return {**e, "stage": "relabel", "outcome": o.to_dict(), "status": "accepted" if ok else "rejected",
                    "goal": goal, "reason": "; ".join(x.detail for x in g)}

    with tempfile.TemporaryDirectory() as d:
        inp = Path(d) / "in.jsonl"
        generate(inp, n)
        t0 = time.perf_counter()
        s = run(RunOptions(inputs=[inp], outdir=Path(d) / "out", source_format="native", quiet=True), cfg, RulePath(), {})
        dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"records": n, "seconds": round(dt, 2), "records_per_s": round(n / dt, 1), "peak_rss_mb": round(rss, 1),
            "accepted": s.counts.get("accepted", 0)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--child", type=int)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child)))
        return
    results = []
    for n in map(int, a.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"bench": "scale", "path": "rule-based detect+extract, grounding+well_formed gates, runner+journal+formats",
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
