"""Judge comparison on labelled pairs (issues: calibrated jury, evidence-linked relabels).

Two phases, so that every configuration is compared on the very same model answers:
1. `score_pairs` asks each model question once per pair and records the answers: the
   holistic P(yes) of every juror (model@prompt), the deterministic checks (grounding, the
   on-topic cosine, per-constraint value matching) and the P(yes) of every narrow
   per-constraint question, per constraint model. Model calls go through the call cache, so
   a second comparison over the same pairs costs no model time.
2. `compare` turns those answers into decisions for every configuration: each juror alone,
   jury rules (majority at calibrated thresholds, mean P, quality-weighted mean, "the
   strongest must agree", all), grounding alone, the gates, evidence-linked verification, and
   each jury behind the gates or behind verification. Each configuration's threshold is fitted
   on the calibration split for a target precision, then measured on the test split it never
   saw: precision and recall over all negatives, per negative kind (precision against the
   positives, share of that kind rejected), AUC, ECE, precision at 50% recall.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .evaluate import (Pair, binary_metrics, calibrate_threshold, expected_calibration_error, precision_at_recall,
                       roc_auc)
from .judges.base import Judge
from .judges.jury import Juror, Jury
from .prompts import Prompts
from .stages.gates import grounding, on_topic
from .stages.verify import verify_goal

Row = dict[str, Any]


def score_pairs(pairs: Sequence[Pair], judges: dict[str, Judge], jurors: Sequence[str], constraint_models: Sequence[str],
                prompts: Prompts, embedder: Any, gate_cfg: Any, detect_cfg: Any,
                progress: Callable[[int], None] | None = None, obs_chars: int | None = None) -> list[Row]:
    """Every model answer and deterministic check the comparison needs, one row per pair.

    `jurors` are "model@prompt" ids; `judges` maps model names to loaded judges. With
    `obs_chars`, the holistic jurors see each observation cut to that many characters (speed);
    the deterministic checks and the narrow questions always read the whole tool outputs.
    """
    from .judges.context import cap_observations

    asked = {}
    for jid in jurors:
        model, _, prompt = jid.partition("@")
        asked[jid] = Juror(judges[model], prompt or "verify", 0.5, "comparison")
    asker = Jury(list(asked.values()) or [Juror(judges[m], "constraint", 0.5, "comparison") for m in constraint_models],
                 prompts=prompts)
    # Pairs of one run together, one juror at a time: a trajectory-first prompt then reuses the
    # run's KV prefix for every goal asked about it (alternating prompts would evict it).
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(p.traj.id, []).append(i)
    by_index: dict[int, Row] = {}
    for members in groups.values():
        for i in members:
            by_index[i] = _checks(pairs[i], judges, constraint_models, prompts, embedder, gate_cfg, detect_cfg)
        seen = {i: cap_observations(pairs[i].traj, obs_chars)[0] if obs_chars else pairs[i].traj for i in members}
        for jid, juror in asked.items():
            for i in members:
                t0 = time.perf_counter()
                by_index[i]["p_yes"][jid] = asker.ask(juror, seen[i], pairs[i].goal).p_yes
                by_index[i]["seconds"][jid] = time.perf_counter() - t0
        if progress:
            progress(len(members))
    return [by_index[i] for i in range(len(pairs))]


def _checks(p: Pair, judges: dict[str, Judge], constraint_models: Sequence[str], prompts: Prompts, embedder: Any,
            gate_cfg: Any, detect_cfg: Any) -> Row:
    """The deterministic checks of one pair, and its narrow per-constraint answers."""
    from .stages.extract import RuleExtractor, extract_outcome

    g = grounding(p.goal, p.traj)
    topic = on_topic(p.goal, extract_outcome(p.traj, RuleExtractor(), detect_cfg), embedder, gate_cfg)
    ver = verify_goal(p.goal, p.traj)
    # every clause bound, except names a narrow question may still decide
    values_hold = all(c.holds or c.open_names for c in ver.constraints)
    narrow: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for m in constraint_models if values_hold and not ver.accepted else ():
        t0 = time.perf_counter()
        v = verify_goal(p.goal, p.traj, Juror(judges[m], "constraint", 0.0, "comparison"), prompts)
        seconds[f"{m}@constraint"] = time.perf_counter() - t0
        narrow[m] = [c.p_yes for c in v.constraints if c.p_yes is not None]
    return {"id": p.id, "kind": p.kind, "label": p.label, "split": p.split, "goal": p.goal,
            "grounded": g.passed, "grounding_detail": g.detail, "on_topic": topic.passed,
            "values_hold": values_hold, "values_accept": ver.accepted, "evidence_detail": ver.reason,
            "narrow": narrow, "p_yes": {}, "seconds": seconds}



@dataclass(frozen=True)
class Config:
    """One way of deciding: a score per row and how its threshold is set."""
    name: str
    score: Callable[[Row], float]
    fitted: bool = True           # threshold fitted on the calibration split; else fixed
    fixed_threshold: float = 0.5
    family: str = ""


def _evidence_score(model: str | None) -> Callable[[Row], float]:
    """1 when every value matched; else the weakest narrow answer (0 when a value fails)."""
    def score(r: Row) -> float:
        if r["values_accept"]:
            return 1.0
        if not r["values_hold"] or model is None or not r["narrow"].get(model):
            return 0.0
        return min(r["narrow"][model])
    return score


def _juror_quality(rows: Sequence[Row], jid: str) -> float:
    return roc_auc([r["p_yes"][jid] for r in rows], [r["label"] for r in rows])


def configurations(cal: Sequence[Row], jurors: Sequence[str], constraint_models: Sequence[str],
                   target: float) -> list[Config]:
    """Every configuration compared; juror thresholds and weights come from `cal` only."""
    configs: list[Config] = [Config(j, lambda r, j=j: r["p_yes"][j], family="juror") for j in jurors]
    theta = {j: calibrate_threshold([r["p_yes"][j] for r in cal], [r["label"] for r in cal], target)["threshold"]
             for j in jurors}
    quality = {j: _juror_quality(cal, j) for j in jurors}
    if len(jurors) >= 2:
        n = len(jurors)
        strongest = max(jurors, key=lambda j: quality[j])
        weights = {j: max(quality[j] - 0.5, 0.01) for j in jurors}

        def yes(r: Row) -> int:
            return sum(r["p_yes"][j] >= theta[j] for j in jurors)
        configs += [
            Config("jury:mean", lambda r: sum(r["p_yes"][j] for j in jurors) / n, family="jury"),
            Config("jury:weighted", lambda r: sum(weights[j] * r["p_yes"][j] for j in jurors) / sum(weights.values()),
                   family="jury"),
            Config("jury:majority", lambda r: yes(r) / n, fitted=False, fixed_threshold=(n // 2 + 1) / n, family="jury"),
            Config(f"jury:strongest({strongest})",
                   lambda r: float(yes(r) >= n // 2 + 1 and r["p_yes"][strongest] >= theta[strongest]),
                   fitted=False, family="jury"),
            Config("jury:all", lambda r: float(yes(r) == n), fitted=False, family="jury"),
        ]
    deciders = [Config("grounding", lambda r: float(r["grounded"]), fitted=False, family="deterministic"),
                Config("gates", lambda r: float(r["grounded"] and r["on_topic"]), fitted=False, family="deterministic")]
    deciders += [Config(f"evidence[{m}]", _evidence_score(m), family="evidence") for m in constraint_models]
    if not constraint_models:
        deciders.append(Config("evidence[values only]", _evidence_score(None), fitted=False, family="evidence"))
    holistic = list(configs)
    configs += deciders
    for front in deciders:
        for h in holistic:
            configs.append(Config(f"{front.name} + {h.name}", _behind(front, h, cal, target), fitted=h.fitted,
                                  fixed_threshold=h.fixed_threshold, family="combined"))
    return configs


def _behind(front: Config, h: Config, cal: Sequence[Row], target: float) -> Callable[[Row], float]:
    """`h`'s score where `front` accepts (at its calibrated threshold), else 0."""
    t = _threshold(front, cal, target)
    return lambda r: h.score(r) if front.score(r) >= t else 0.0


def _threshold(c: Config, cal: Sequence[Row], target: float) -> float:
    if not c.fitted:
        return c.fixed_threshold
    return calibrate_threshold([c.score(r) for r in cal], [r["label"] for r in cal], target)["threshold"]


def measure(c: Config, rows: Sequence[Row], threshold: float) -> dict[str, Any]:
    scores = [c.score(r) for r in rows]
    labels = [r["label"] for r in rows]
    pred = [s >= threshold for s in scores]
    m = binary_metrics(pred, labels)
    m.update(auc=roc_auc(scores, labels), ece=expected_calibration_error(scores, labels),
             precision_at_50_recall=precision_at_recall(scores, labels, 0.5))
    kinds = sorted({r["kind"] for r in rows if not r["label"]})
    pos = [i for i, r in enumerate(rows) if r["label"]]
    by_kind = {}
    for k in kinds:
        idx = pos + [i for i, r in enumerate(rows) if r["kind"] == k]
        km = binary_metrics([pred[i] for i in idx], [labels[i] for i in idx])
        neg = [i for i in idx if not labels[i]]
        by_kind[k] = {"n": len(neg), "rejected": sum(not pred[i] for i in neg) / len(neg) if neg else float("nan"),
                      "precision": km["precision"], "recall": km["recall"],
                      "auc": roc_auc([scores[i] for i in idx], [labels[i] for i in idx])}
    m["by_kind"] = by_kind
    return m


def compare(rows: Sequence[Row], jurors: Sequence[str], constraint_models: Sequence[str],
            target_precision: float = 0.9) -> dict[str, Any]:
    cal = [r for r in rows if r["split"] == "calibration"]
    test = [r for r in rows if r["split"] == "test"]
    results = {}
    for c in configurations(cal, jurors, constraint_models, target_precision):
        t = _threshold(c, cal, target_precision)
        cal_m = measure(c, cal, t)
        results[c.name] = {"family": c.family, "threshold": t, "threshold_fitted": c.fitted,
                           "calibration": {"precision": cal_m["precision"], "recall": cal_m["recall"]},
                           "test": measure(c, test, t)}
    return {"target_precision": target_precision, "pairs": {"calibration": len(cal), "test": len(test)},
            "kinds": _counts(rows), "seconds_per_judgment": _seconds(rows), "configurations": results}


def _counts(rows: Iterable[Row]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        k = out.setdefault(r["kind"], {"calibration": 0, "test": 0})
        k[r["split"]] += 1
    return out


def _seconds(rows: Sequence[Row]) -> dict[str, float]:
    """Mean seconds per model question, counting only answers not served by the call cache."""
    spent: dict[str, list[float]] = {}
    for r in rows:
        for k, s in r["seconds"].items():
            if s > 0.02:
                spent.setdefault(k, []).append(s)
    return {k: sum(v) / len(v) for k, v in sorted(spent.items())}


def table(result: dict[str, Any], families: Sequence[str] | None = None) -> list[str]:
    """Plain-text lines: one configuration per line, test-split figures."""
    lines = [f"{'configuration':<58} {'θ':>6} {'prec':>5} {'rec':>5} {'AUC':>5} {'p@50r':>5}  rejected per kind"]
    for name, c in result["configurations"].items():
        if families and c["family"] not in families:
            continue
        t = c["test"]
        kinds = " ".join(f"{k}={v['rejected']:.2f}" for k, v in t["by_kind"].items())
        lines.append(f"{name[:58]:<58} {c['threshold']:>6.3f} {_f(t['precision'])} {_f(t['recall'])} "
                     f"{_f(t['auc'])} {_f(t['precision_at_50_recall'])}  {kinds}")
    return lines


def _f(x: float) -> str:
    return "  nan" if x != x else f"{x:5.2f}"
