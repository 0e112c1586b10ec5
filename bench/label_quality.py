"""Label quality: which judges, prompts, jury rules and checks keep false hindsight goals out.

Builds labelled pairs from every fixture format (`eval make-pairs`: positive, off_topic,
perturbed, over_claim, unmet_original; 30% test split), asks every juror and every narrow
per-constraint question once (`eval judges --compare`), and prints JSON: for each
configuration (each juror alone, jury rules, grounding alone, gates, evidence-linked
verification, and each jury behind them), the threshold fitted on the calibration split for
the target precision and the test-split precision, recall, AUC, ECE and precision at 50%
recall, overall and per negative kind.

    .venv/bin/python bench/label_quality.py [--max-runs 20] [--jurors ...] [--write-thresholds]
    .venv/bin/python bench/label_quality.py --key-only [--key-model qwen2.5-coder-1.5b]

It also scores evidence-linked verification on the development answer key
(`shared/answer_key/`: rater-written true goals and false ones of seven kinds, on fixture runs):
precision, recall, and the share of each invalid kind rejected, with every wrong decision
listed in `bench/out/answer_key.json` to be read (never to fit rules to). `--key-model` adds
the narrow questions of that model for names no value matched.

Model answers go through the call cache: a second run over the same pairs asks no model.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT.parent / "shared" / "fixtures"
CLI = [sys.executable, "-m", "agenther_local"]
JURORS = ("qwen2.5-coder-0.5b@verify,qwen2.5-coder-0.5b@verify_parts,"
          "qwen2.5-coder-1.5b@verify,qwen2.5-coder-1.5b@verify_goal_first,smollm2-135m@verify")
CONSTRAINT_MODELS = "qwen2.5-coder-0.5b,qwen2.5-coder-1.5b"


def inputs() -> list[str]:
    files = [*sorted((FIX / "tau_bench_airline").glob("*.json")), *sorted((FIX / "toolbench").glob("*.json")),
             *sorted((FIX / "fireact_hotpotqa").glob("*.json")), *sorted((FIX / "react_hotpotqa").glob("*.txt"))]
    return [str(f) for f in files]


def answer_key(out: Path, model: str | None) -> dict:
    """Evidence-linked verification on the development answer key."""
    from agenther_local.answer_key import load_key, plan_yield, score
    from agenther_local.stages.verify import verify_goal

    juror = None
    if model:
        from agenther_local.config import Config
        from agenther_local.judges.cache import CallCache
        from agenther_local.paths import cache_dir
        from agenther_local.pipeline import judge_loader, make_juror
        load, _ = judge_loader(Config(), CallCache(cache_dir() / "calls.sqlite"))
        juror = make_juror(load, model, "constraint", Config())
    goals, missing = load_key(sorted((ROOT.parent / "shared" / "answer_key").glob("*.jsonl")), FIX)
    t0 = time.perf_counter()

    def accepts(g):
        v = verify_goal(g.goal, g.traj, juror)
        return v.accepted, v.reason

    result = score(goals, accepts)
    from agenther_local.config import RelabelConfig
    from agenther_local.prompts import Prompts
    from agenther_local.stages.relabel import relabel_from_plans

    def from_plans(traj, n=1):
        rl = relabel_from_plans(traj, Prompts(), RelabelConfig(paraphrase=False, goals_per_run=n))
        return (rl.goals if rl is not None else ()), (rl.reason if rl is not None else "no plan")

    result["goals_from_plans"] = plan_yield(goals, from_plans)
    result["goals_from_plans_3_per_run"] = plan_yield(goals, lambda t: from_plans(t, 3))
    result["seconds_per_goal"] = round((time.perf_counter() - t0) / max(1, len(goals)), 4)
    result["runs_not_found"] = missing
    result["narrow_question_model"] = model
    (out / "answer_key.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    summary = {k: v for k, v in result.items() if k != "rows"}
    for k in ("goals_from_plans", "goals_from_plans_3_per_run"):
        summary[k] = {k2: v for k2, v in result[k].items() if k2 != "rows"}
    return summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-runs", type=int, default=12, help="successful (and failed) runs per input format")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--obs-chars", type=int, default=300, help="observation characters the holistic jurors see "
                    "(the evidence checks read whole tool outputs)")
    ap.add_argument("--jurors", default=JURORS)
    ap.add_argument("--constraint-models", default=CONSTRAINT_MODELS)
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--write-thresholds", action="store_true", help="store each juror's θ in its manifest")
    ap.add_argument("--key-only", action="store_true", help="only the answer key (no pairs, no holistic jurors)")
    ap.add_argument("--key-model", default=None, help="narrow-question model for the answer key (default: none)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    key = answer_key(args.out, args.key_model)
    if args.key_only:
        print(json.dumps({"answer_key": key}, indent=1))
        return
    pairs, result = args.out / "pairs.jsonl", args.out / "label_quality.json"
    subprocess.run([*CLI, "eval", "make-pairs", *inputs(), "--branches", "-o", str(pairs), "--seed", str(args.seed),
                    "--max-runs", str(args.max_runs)], check=True, stdout=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run([*CLI, "eval", "judges", str(pairs), "-o", str(result), "--compare", args.jurors,
                    "--constraint-models", args.constraint_models, "--target-precision", str(args.target_precision),
                    "--obs-chars", str(args.obs_chars),
                    *(["--write-thresholds"] if args.write_thresholds else [])], check=True, stdout=sys.stderr)
    full = json.loads(result.read_text())
    summary = {k: v for k, v in full.items() if k != "rows"}
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    summary["command"] = " ".join(sys.argv)
    summary["answer_key"] = key
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
