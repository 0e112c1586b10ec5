"""Calibrate each default juror's P(yes) threshold on pairs made from real fixture runs.

Pairs: successful FireAct HotpotQA runs (own question = positive, another run's question =
off-topic, own question with one specific swapped = perturbed) and successful tau-bench runs.
Prints JSON (per juror: AUC, threshold, precision/recall on the calibration and test splits)
and, with --write, stores each threshold in its model's manifest ([[calibration]]).

    .venv/bin/python bench/calibrate.py [--target-precision 0.9] [--runs 40] [--write]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import sys
import time
from pathlib import Path

from agenther_local.adapters import read
from agenther_local.evaluate import calibrate_threshold, make_pairs, precision_recall, roc_auc
from agenther_local.judges.context import cap_observations, fit
from agenther_local.judges.llama import LlamaJudge
from agenther_local.judges.manifest import get_manifest, is_present
from agenther_local.prompts import Prompts
from agenther_local.trajectory import Trajectory

FIX = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
SOURCES = [FIX / "fireact_hotpotqa", FIX / "tau_bench_airline"]
JURORS = ["smollm2-135m@verify", "qwen2.5-coder-0.5b@verify", "qwen2.5-coder-0.5b@verify_goal_first",
          "qwen2.5-coder-1.5b@verify", "qwen2.5-coder-1.5b@verify_goal_first"]


def load_runs() -> list[Trajectory]:
    runs = []
    for d in SOURCES:
        for p in sorted(d.iterdir()):
            runs.extend(t for _, t in read(p, "auto") if isinstance(t, Trajectory))
    return runs


def write_calibration(model: str, prompt: str, cal: dict) -> None:
    m = get_manifest(model)
    text = m.manifest_path.read_text()
    block = (f'\n[[calibration]]\nprompt = "{prompt}"\nthreshold = {cal["threshold"]:.6f}\n'
             f'target_precision = {cal["target_precision"]}\npairs_sha256 = "{cal["pairs_sha256"]}"\n'
             f'date = "{cal["date"]}"\nn_pairs = {cal["n_pairs"]}\nprecision = {cal["precision"]:.3f}\n'
             f'recall = {cal["recall"]:.3f}\n')
    # replace an earlier block for the same prompt
    text = re.sub(r'\n\[\[calibration\]\]\nprompt = "' + re.escape(prompt) + r'"\n(?:[a-z_0-9]+ = .*\n)*', "", text)
    m.manifest_path.write_text(text.rstrip("\n") + "\n" + block)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--runs", type=int, default=40, help="successful FireAct runs")
    ap.add_argument("--tau-runs", type=int, default=8, help="successful tau-bench runs (long: ~2k tokens each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--obs-chars", type=int, default=300,
                    help="cut each observation to this many characters (SPEC measured at 300)")
    args = ap.parse_args()
    pairs = []
    runs = load_runs()
    by_source: dict[str, list[Trajectory]] = {}
    for t in runs:
        by_source.setdefault(t.metadata.get("source", "").split(":")[0], []).append(t)
    for src, ts in sorted(by_source.items()):
        ts = [cap_observations(t, args.obs_chars)[0] for t in ts]
        pairs += make_pairs(ts, seed=args.seed, max_runs=args.tau_runs if "tau_bench" in src else args.runs)
    digest = hashlib.sha256(json.dumps([p.to_dict() for p in pairs], sort_keys=True).encode()).hexdigest()
    prompts = Prompts()
    report = {"obs_chars": args.obs_chars, "pairs": len(pairs), "pairs_sha256": digest, "kinds": {}, "jurors": {}}
    for p in pairs:
        report["kinds"][p.kind] = report["kinds"].get(p.kind, 0) + 1
    judges = {}
    for token in JURORS:
        model, prompt = token.split("@")
        m = get_manifest(model)
        if not is_present(m):
            report["jurors"][token] = "not installed"
            continue
        j = judges.setdefault(model, LlamaJudge(m))
        t0 = time.perf_counter()
        scores = []
        for k, p in enumerate(pairs):
            r, _ = fit(j, prompts, prompt, p.traj, 8, goal=p.goal)
            scores.append(j.p_yes(r).p_yes)
            if k % 20 == 0:
                print(f"{token}: {k}/{len(pairs)} pairs, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        dt = (time.perf_counter() - t0) / len(pairs)
        cal_idx = [i for i, p in enumerate(pairs) if p.split == "calibration"]
        test_idx = [i for i, p in enumerate(pairs) if p.split == "test"]
        cal = calibrate_threshold([scores[i] for i in cal_idx], [pairs[i].label for i in cal_idx], args.target_precision)
        tp, tr = precision_recall([scores[i] for i in test_idx], [pairs[i].label for i in test_idx], cal["threshold"])
        per_kind = {}
        for kind in ("off_topic", "perturbed"):
            idx = [i for i, p in enumerate(pairs) if p.kind in ("positive", kind)]
            per_kind[kind] = round(roc_auc([scores[i] for i in idx], [pairs[i].label for i in idx]), 3)
        report["jurors"][token] = {"auc": round(roc_auc(scores, [p.label for p in pairs]), 3), "auc_by_kind": per_kind,
                                   "threshold": round(cal["threshold"], 4), "reached_target": cal["reached"],
                                   "calibration": {"precision": round(cal["precision"], 3), "recall": round(cal["recall"], 3)},
                                   "test": {"precision": round(tp, 3), "recall": round(tr, 3)},
                                   "seconds_per_judgment": round(dt, 3)}
        if args.write:
            write_calibration(model, prompt, {"threshold": cal["threshold"], "target_precision": args.target_precision,
                                              "pairs_sha256": digest, "date": datetime.date.today().isoformat(),
                                              "n_pairs": len(cal_idx),
                                              "precision": cal["precision"], "recall": cal["recall"]})
        print(token, json.dumps(report["jurors"][token]), file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
