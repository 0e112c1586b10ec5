"""Several goals per run (`--goals-per-run`, stages/plan.py): how many verified goals the plans
give per failed run, of which kinds, and how alike two goals of one run are.

On the failed runs of the tau-bench airline and ToolBench fixtures plus the 12 demo runs (no
model: plain requests, no paraphrase), for N = 1 and N = `--n`: runs with a goal, goals per
run, goals by strategy (whole run, question on a prefix, earlier writes), near-duplicates
dropped by each rule, and the MiniLM cosine of every pair of kept goals of one run without the
cosine rule (quantiles, and the pairs at or above `[relabel] max_goal_cosine`, to be read).
On the development answer key's runs it counts the kept goals holding a value none of the
rater's `achieved` facts holds (values the run's calls or records hold but the rater did not
quote count too: read them). Prints JSON.

    .venv/bin/python bench/goals_per_run.py [--n 3]
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from agenther_local.adapters import detect_format, read
from agenther_local.config import RelabelConfig
from agenther_local.embeddings import SentenceEmbedder, cosine
from agenther_local.prompts import Prompts
from agenther_local.stages.relabel import relabel_from_plans
from agenther_local.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT.parent / "shared" / "fixtures"


def failed_runs() -> list[Trajectory]:
    runs = [Trajectory.from_dict(json.loads(line)) for line in (ROOT / "examples" / "demo.jsonl").read_text().splitlines()]
    for folder in ("tau_bench_airline", "toolbench"):
        for f in sorted((FIX / folder).glob("*.json")):
            runs += [t for _, t in read(f, detect_format(f)) if isinstance(t, Trajectory) and not t.is_success]
    return runs


def strategy(rationale: str) -> str:
    plan = json.loads(rationale.removeprefix("plan: "))
    kind, whole = plan["kind"], plan["prefix"] is None
    return {("writes", True): "whole run: all writes", ("lookup", True): "question (whole run)",
            ("writes", False): "future: earlier writes", ("lookup", False): "question on a prefix"}[(kind, whole)]


def measure(runs: list[Trajectory], n: int, embedder, max_cosine: float) -> dict:
    prompts, t0 = Prompts(), time.perf_counter()
    per_run, kinds, dropped, sims = Counter(), Counter(), Counter(), []
    for t in runs:
        rl = relabel_from_plans(t, prompts, RelabelConfig(paraphrase=False, goals_per_run=n, max_goal_cosine=max_cosine),
                                embedder=embedder if n > 1 else None)
        goals = rl.goals if rl is not None and rl.accepted else ()
        per_run[len(goals)] += 1
        for a in rl.attempts if rl is not None else ():
            if a.status == "accepted":
                kinds[strategy(a.rationale)] += 1
            elif a.status == "near_duplicate":
                dropped["same calls and records" if "same calls" in a.detail
                        else "same question of another item" if "same question" in a.detail else "cosine"] += 1
        if len(goals) > 1:
            v = embedder.embed(list(goals))
            sims += [(round(cosine(v[i], v[j]), 3), t.id, goals[i], goals[j])
                     for i, j in itertools.combinations(range(len(goals)), 2)]
    sims.sort(reverse=True)
    out = {"n": n, "runs": len(runs), "runs_with_a_goal": len(runs) - per_run[0], "goals": sum(k * c for k, c in per_run.items()),
           "goals_per_run": dict(sorted(per_run.items())), "by_strategy": dict(kinds), "near_duplicates_dropped": dict(dropped),
           "seconds_per_run": round((time.perf_counter() - t0) / max(1, len(runs)), 4)}
    if sims:
        arr = np.array([s[0] for s in sims])
        out["pair_cosine"] = {"pairs": len(arr), "median": round(float(np.median(arr)), 3),
                              "p90": round(float(np.quantile(arr, 0.9)), 3), "max": float(arr.max()),
                              "at_or_above": [{"cosine": s[0], "run": s[1], "goals": [s[2][:120], s[3][:120]]}
                                              for s in sims if s[0] >= RelabelConfig().max_goal_cosine]}
    return out


def key_values(n: int) -> dict:
    from agenther_local.answer_key import load_key, plan_yield
    goals, _ = load_key(sorted((ROOT.parent / "shared" / "answer_key").glob("*.jsonl")), FIX)

    def from_plans(traj: Trajectory):
        rl = relabel_from_plans(traj, Prompts(), RelabelConfig(paraphrase=False, goals_per_run=n))
        return (rl.goals if rl is not None else ()), (rl.reason if rl is not None else "no plan")
    result = plan_yield(goals, from_plans)
    result["rows"] = [r for r in result["rows"] if r["values_not_in_achieved"]]
    return {"n": n, **result}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3, help="goals per run to measure besides 1")
    a = ap.parse_args()
    runs, embedder = failed_runs(), SentenceEmbedder()
    no_cut = 1.01      # the cosine rule off, to see the distribution it cuts
    print(json.dumps({"bench": "goals_per_run", "max_goal_cosine": RelabelConfig().max_goal_cosine,
                      "one": measure(runs, 1, embedder, no_cut),
                      "n_without_cosine_rule": measure(runs, a.n, embedder, no_cut),
                      "n": measure(runs, a.n, embedder, RelabelConfig().max_goal_cosine),
                      "answer_key": [key_values(1), key_values(a.n)]}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
