"""Measure the embedding gates on pairs made from real fixture runs (no judge model).

on_topic: cosine(goal, extracted outcome) for positives (a successful run's own goal) versus
off-topic goals (another run's goal) and perturbed goals. Prints JSON with the quantiles of
each kind and, for candidate thresholds, the share of positives kept and of off-topic goals
rejected; `GateConfig.min_outcome_cosine` is chosen from it (README, "Gate thresholds").

    .venv/bin/python bench/gates.py [--runs 60]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from agenther_local.adapters import read
from agenther_local.config import Config
from agenther_local.embeddings import SentenceEmbedder, cosine
from agenther_local.evaluate import make_pairs
from agenther_local.stages.extract import RuleExtractor, extract_outcome
from agenther_local.trajectory import Trajectory

FIX = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    a = ap.parse_args()
    pairs = []
    for d in ("fireact_hotpotqa", "tau_bench_airline", "react_hotpotqa"):
        for p in sorted((FIX / d).iterdir()):
            runs = [t for _, t in read(p, "auto") if isinstance(t, Trajectory)]
            pairs += make_pairs(runs, seed=0, max_runs=a.runs)
    emb, cfg = SentenceEmbedder(), Config()
    cos: dict[str, list[float]] = {}
    for p in pairs:
        o = extract_outcome(p.traj, RuleExtractor(), cfg.detect)
        v = emb.embed([p.goal, o.summary()])
        cos.setdefault(p.kind, []).append(cosine(v[0], v[1]))
    out = {"pairs": {k: len(v) for k, v in cos.items()},
           "quantiles": {k: {q: round(float(np.quantile(v, q / 100)), 3) for q in (5, 25, 50, 75, 95)} for k, v in cos.items()},
           "thresholds": {}}
    for t in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
        out["thresholds"][t] = {"positives_kept": round(float(np.mean(np.array(cos["positive"]) >= t)), 3),
                                "off_topic_rejected": round(float(np.mean(np.array(cos["off_topic"]) < t)), 3),
                                "perturbed_rejected": round(float(np.mean(np.array(cos.get("perturbed", [1])) < t)), 3)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
