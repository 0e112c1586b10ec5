"""Label quality: which judges, prompts, jury rules and checks keep false hindsight goals out.

Builds labelled pairs from every fixture format (`eval make-pairs`: positive, off_topic,
perturbed, over_claim, unmet_original; 30% test split), asks every juror and every narrow
per-constraint question once (`eval judges --compare`), and prints JSON: for each
configuration (each juror alone, jury rules, grounding alone, gates, evidence-linked
verification, and each jury behind them), the threshold fitted on the calibration split for
the target precision and the test-split precision, recall, AUC, ECE and precision at 50%
recall, overall and per negative kind.

    .venv/bin/python bench/label_quality.py [--max-runs 20] [--jurors ...] [--write-thresholds]
    .venv/bin/python bench/label_quality.py --key-only [--key-model qwen2.5-coder-1.5b] [--key-dir DIR ...]

It also scores evidence-linked verification on the development answer key
(`shared/answer_key/`: rater-written true goals and false ones of seven kinds, on fixture runs):
precision, recall, and the share of each invalid kind rejected, with every wrong decision
listed in `bench/out/answer_key.json` to be read (never to fit rules to). `--key-model` adds
the narrow questions of that model for names no value matched. `by_source` gives the same
figures on each benchmark's runs alone (tau-bench, tau2, ToolBench, FireAct, ReAct, SWE) and on
all the others: a rule written while reading one benchmark's runs shows whether it holds on the
rest. `word_accounting` counts, for true and false goals, how the verifier accounted for each
word or phrase of a goal (each constraint's `words`, `how`: value, field, lexicon, rule,
context, framing, question, unaccounted) and the share of goals with one left unaccounted (all
zero while the verifier writes no `words`). `--key-dir DIR` (repeatable) scores other key
folders in the same format instead, each reported (and written to `bench/out/<name>.json`)
under its folder name.

`--jury-behind MODEL@PROMPT` (issue 15: does the holistic jury still add precision behind the
verifier?) asks that juror, at its calibrated threshold (`make_juror`), about every goal the
verifier accepts on the key, every goal `relabel_from_plans` accepts on the key runs, and every
goal `run examples/demo.jsonl --rule-based` accepts, and prints verifier alone vs verifier +
juror: accepted true / false, precision, recall, and seconds per juror call. Key goals carry the
rater's truth; plan and demo goals the reading in `bench/jury_readings.jsonl` (one reader's
judgement against the run, not the rater's key). Rows in `bench/out/jury_behind.json`.

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
KEY_DIR = ROOT.parent / "shared" / "answer_key"
CLI = [sys.executable, "-m", "agenther_local"]
JURORS = ("qwen2.5-coder-0.5b@verify,qwen2.5-coder-0.5b@verify_parts,"
          "qwen2.5-coder-1.5b@verify,qwen2.5-coder-1.5b@verify_goal_first,smollm2-135m@verify")
CONSTRAINT_MODELS = "qwen2.5-coder-0.5b,qwen2.5-coder-1.5b"


def inputs() -> list[str]:
    files = [*sorted((FIX / "tau_bench_airline").glob("*.json")), *sorted((FIX / "toolbench").glob("*.json")),
             *sorted((FIX / "fireact_hotpotqa").glob("*.json")), *sorted((FIX / "react_hotpotqa").glob("*.txt"))]
    return [str(f) for f in files]


def key_names(dirs: list[Path]) -> list[str]:
    """The name each key folder is reported under: the default key keeps "answer_key" (and
    bench/out/answer_key.json), another folder its own name, made unique.

    >>> key_names([KEY_DIR, Path("/data/other_key"), Path("/x/other_key"), Path("/y/answer_key")])
    ['answer_key', 'other_key', 'x_other_key', 'y_answer_key']
    """
    names: list[str] = []
    for d in dirs:
        name = "answer_key" if d.resolve() == KEY_DIR.resolve() else d.name
        if name in names or (name == "answer_key" and d.resolve() != KEY_DIR.resolve()):
            name = f"{d.parent.name}_{d.name}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def answer_key(out: Path, model: str | None, key_dir: Path = KEY_DIR, name: str = "answer_key") -> tuple[dict, dict, list]:
    """Evidence-linked verification on an answer key (default: the development key): (summary,
    full result with rows, the key's goals with their runs). The full result goes to
    `out/<name>.json`."""
    from agenther_local.answer_key import load_key, plan_yield, score, score_by_source, word_accounting
    from agenther_local.stages.verify import verify_goal

    juror = None
    if model:
        from agenther_local.config import Config
        from agenther_local.judges.cache import CallCache
        from agenther_local.paths import cache_dir
        from agenther_local.pipeline import judge_loader, make_juror
        load, _ = judge_loader(Config(), CallCache(cache_dir() / "calls.sqlite"))
        juror = make_juror(load, model, "constraint", Config())
    goals, missing = load_key(sorted(key_dir.glob("*.jsonl")), FIX)
    t0 = time.perf_counter()
    from agenther_local.errors import AgentherError
    from agenther_local.stages.verify import Verification

    def verdict(g):
        try:
            return verify_goal(g.goal, g.traj, juror)
        except AgentherError as e:       # a run with no tool output (a tau2 run whose only calls are the user's)
            return Verification(False, (), str(e))

    verdicts = [verdict(g) for g in goals]
    decisions = [(v.accepted, v.reason) for v in verdicts]
    constraints = [v.to_dict()["constraints"] for v in verdicts]
    decided = {id(g): d for g, d in zip(goals, decisions)}
    result = score(goals, lambda g: decided[id(g)])
    for row, cs in zip(result["rows"], constraints):
        row["unaccounted"] = [w.get("text") for c in cs for w in c.get("words", []) if w.get("how") == "unaccounted"]
    result["by_source"] = score_by_source(goals, decisions)
    result["word_accounting"] = word_accounting(goals, constraints)
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
    result["key_dir"] = str(key_dir)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    summary = {k: v for k, v in result.items() if k != "rows"}
    for k in ("goals_from_plans", "goals_from_plans_3_per_run"):
        summary[k] = {k2: v for k2, v in result[k].items() if k2 != "rows"}
    return summary, result, goals


def demo_goals(out: Path) -> list[dict]:
    """The goals `run examples/demo.jsonl --rule-based` accepts (plans only, no model), each
    with the whole run it was written for (what a jury in the pipeline would read)."""
    import shutil

    from agenther_local.trajectory import Trajectory

    run_dir = out / "demo_rule_based"
    shutil.rmtree(run_dir, ignore_errors=True)
    subprocess.run([*CLI, "run", str(ROOT / "examples" / "demo.jsonl"), "-o", str(run_dir), "--rule-based", "-q",
                    "--no-report"], check=True, stdout=sys.stderr)
    lines = (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()[1:]
    entries = [json.loads(line) for line in lines if line.strip()]
    return [{"set": "demo", "run": e["id"], "goal": e["goal"], "traj": Trajectory.from_dict(e["record"])}
            for e in entries if e["status"] == "accepted"]


def tally(rows: list[dict], n_true: int | None, decided: str) -> dict:
    """Accepted true / false, precision and recall of the rows where `decided` is true
    (rows carry `true`: True, False or None when nobody has read the goal).

    >>> tally([{"true": True, "vote": True}, {"true": False, "vote": True}], 4, "vote")
    {'accepted_true': 1, 'accepted_false': 1, 'accepted_unread': 0, 'precision': 0.5, 'recall': 0.25}
    """
    acc = [r for r in rows if r[decided]]
    tp = sum(r["true"] is True for r in acc)
    fp = sum(r["true"] is False for r in acc)
    return {"accepted_true": tp, "accepted_false": fp, "accepted_unread": len(acc) - tp - fp,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / n_true, 3) if n_true else None}


def jury_behind(out: Path, spec: str, key: dict, goals: list, use_cache: bool = True) -> dict:
    """The holistic juror `spec` ("model@prompt") asked about every goal the verifier (key) or
    the plans (key runs, demo) accept; verifier alone vs verifier + juror, per set.

    subtle: a cached answer costs nothing, so the seconds of each call asked of the model are
    kept in `bench/out/jury_behind_seconds.json` (with the 1-minute load average at the time:
    the 2 cores are shared) and a rerun from the cache reports those."""
    import os
    from agenther_local.config import Config
    from agenther_local.judges.cache import CallCache
    from agenther_local.judges.jury import Jury
    from agenther_local.paths import cache_dir
    from agenther_local.pipeline import judge_loader, make_juror
    from agenther_local.prompts import Prompts

    name, _, prompt = spec.partition("@")
    prompts = Prompts()
    load, _ = judge_loader(Config(), CallCache(cache_dir() / "calls.sqlite") if use_cache else None)
    juror = make_juror(load, name, prompt or "verify", Config())
    jury = Jury([juror], prompts=prompts)
    lines = (ROOT / "bench" / "jury_readings.jsonl").read_text(encoding="utf-8").splitlines()
    readings = {(r["run"], r["goal"]): r for r in (json.loads(line) for line in lines if line.strip())}
    trajs = {g.run: g.traj for g in goals}
    items = [{"set": "key", "run": r["run"], "goal": r["goal"], "kind": r["kind"], "true": r["valid"],
              "traj": trajs[r["run"]]} for r in key["rows"] if r["accepted"]]
    items += [{"set": "plans", "run": r["run"], "goal": r["goal"], "traj": trajs[r["run"]]}
              for r in key["goals_from_plans"]["rows"] if r["goal"] is not None]
    items += demo_goals(out)
    for it in items:
        if "true" not in it:
            reading = readings.get((it["run"], it["goal"]))
            it["true"], it["kind"] = (reading["true"], reading["why"]) if reading else (None, "unread")
    # Goals of one run one after another: the verify prompt puts the run first, so the judge
    # evaluates only the goal's tokens after the first question (its KV prefix is kept).
    order = sorted(range(len(items)), key=lambda i: (items[i]["run"], i))
    timings_path = out / "jury_behind_seconds.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    last_run = None
    for n, i in enumerate(order, start=1):
        it = items[i]
        t0 = time.perf_counter()
        v = jury.ask(juror, it["traj"], it["goal"])
        seconds = round(time.perf_counter() - t0, 2)
        tkey = f"{juror.id}\t{it['run']}\t{it['goal']}"
        if not v.cached:
            timings[tkey] = {"seconds": seconds, "first_on_run": it["run"] != last_run,
                             "load_1min": round(os.getloadavg()[0], 2), "date": time.strftime("%Y-%m-%d %H:%M")}
        it.update(p_yes=round(v.p_yes, 4), threshold=round(v.threshold, 6), vote=v.vote, cached=v.cached,
                  prompt_tokens=v.prompt_tokens, observations_cut=len(v.cuts), accepted=True,
                  measured=timings.get(tkey))
        last_run = it["run"]
        print(f"jury-behind {n}/{len(items)} {it['set']} P(yes) {v.p_yes:.3f} {'yes' if v.vote else 'no'} "
              f"{seconds} s{' (cached)' if v.cached else ''}: {it['goal'][:80]}", file=sys.stderr, flush=True)
    timings_path.write_text(json.dumps(timings, indent=1, ensure_ascii=False))
    rows = [{k: v for k, v in it.items() if k != "traj"} for it in items]
    n_true = {"key": key["valid"]}
    sets = {}
    for s in ("key", "plans", "demo"):
        rs = [r for r in rows if r["set"] == s]
        sets[s] = {"goals_asked": len(rs), "verifier_alone": tally(rs, n_true.get(s), "accepted"),
                   f"verifier_plus_{spec}": tally(rs, n_true.get(s), "vote"),
                   "true_goals_kept": f"{sum(r['vote'] for r in rs if r['true'] is True)} of "
                                      f"{sum(r['true'] is True for r in rs)}",
                   "jury_caught_false": [_quote(r) for r in rs if r["true"] is False and not r["vote"]],
                   "jury_missed_false": [_quote(r) for r in rs if r["true"] is False and r["vote"]],
                   "jury_rejected_true": [_quote(r) for r in rs if r["true"] is True and not r["vote"]],
                   "jury_rejected_unread": [_quote(r) for r in rs if r["true"] is None and not r["vote"]],
                   **separation([r for r in rs if r["true"] is not None])}
    read = [r for r in rows if r["true"] is not None]
    sets["all"] = {"goals_asked": len(rows), "verifier_alone": tally(read, None, "accepted"),
                   f"verifier_plus_{spec}": tally(read, None, "vote"), **separation(read)}
    timed = [r["measured"] for r in rows if r["measured"]]
    mean = lambda xs: round(sum(xs) / len(xs), 2) if xs else None   # noqa: E731
    result = {"juror": juror.id, "threshold": juror.threshold, "threshold_source": juror.threshold_source,
              "sets": sets, "calls": len(rows), "calls_not_cached": sum(not r["cached"] for r in rows),
              "calls_timed": len(timed), "seconds_per_call": mean([t["seconds"] for t in timed]),
              "seconds_first_goal_of_a_run": mean([t["seconds"] for t in timed if t["first_on_run"]]),
              "seconds_further_goal_of_a_run": mean([t["seconds"] for t in timed if not t["first_on_run"]]),
              "max_seconds_per_call": max((t["seconds"] for t in timed), default=None),
              "load_1min_while_timed": [min((t["load_1min"] for t in timed), default=None),
                                        max((t["load_1min"] for t in timed), default=None)],
              "verifier_seconds_per_goal": key["seconds_per_goal"]}
    (out / "jury_behind.json").write_text(json.dumps({**result, "rows": rows}, indent=1, ensure_ascii=False))
    return result


def separation(rows: list[dict]) -> dict:
    """How well P(yes) alone orders true above false goals, whatever the threshold: ROC-AUC,
    and how many true goals every threshold that rejects all the false ones also rejects.

    >>> separation([{"true": True, "p_yes": 0.9}, {"true": True, "p_yes": 0.6}, {"true": False, "p_yes": 0.7}])
    {'roc_auc': 0.5, 'true_goals_lost_to_reject_every_false_one': 1}
    """
    pos = [r["p_yes"] for r in rows if r["true"]]
    neg = [r["p_yes"] for r in rows if not r["true"]]
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    return {"roc_auc": round(sum(pairs) / len(pairs), 3) if pairs else None,
            "true_goals_lost_to_reject_every_false_one": sum(p <= max(neg) for p in pos) if neg else 0}


def _quote(r: dict) -> dict:
    return {"run": r["run"], "goal": r["goal"], "p_yes": r["p_yes"], "kind": r["kind"]}


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
    ap.add_argument("--key-only", action="store_true", help="only the answer key (no pairs; a holistic juror only with --jury-behind)")
    ap.add_argument("--key-model", default=None, help="narrow-question model for the answer key (default: none)")
    ap.add_argument("--key-dir", type=Path, action="append", default=None, metavar="DIR",
                    help=f"an answer-key folder (*.jsonl, shared/answer_key's format) to score, reported under its "
                    f"own name; repeatable (default: {KEY_DIR}); --jury-behind uses the first")
    ap.add_argument("--jury-behind", default=None, metavar="MODEL@PROMPT",
                    help="also ask this holistic juror about every goal the verifier or the plans accept")
    ap.add_argument("--jury-no-cache", action="store_true", help="--jury-behind: ask the model even for cached "
                    "answers (to time the calls again)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dirs = args.key_dir or [KEY_DIR]
    keys, first = {}, None
    for key_dir, name in zip(dirs, key_names(dirs)):
        key, key_rows, goals = answer_key(args.out, args.key_model, key_dir, name)
        keys[name] = key
        first = first or (key_rows, goals)
    behind = {"jury_behind": jury_behind(args.out, args.jury_behind, *first, not args.jury_no_cache)} \
        if args.jury_behind else {}
    if args.key_only:
        print(json.dumps({**keys, **behind}, indent=1, ensure_ascii=False))
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
    summary.update(keys)
    summary.update(behind)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
