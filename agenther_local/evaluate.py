"""Labelled (goal, run) pairs from real runs, and thresholds calibrated on them.

Pairs (made deterministically from a seed, no model):
- positive: a successful run with its own goal;
- off_topic: a successful run with another run's goal from the same file;
- perturbed: a positive whose goal has one specific (number, date, code, name) replaced by a
  specific of the same kind from another run that occurs nowhere in this run;
- unmet_original: a failed run with its own original goal, only where the benchmark's failure
  shows in the run itself (tau-bench reward 0, ToolBench give-ups, ReAct HALTED); HotpotQA
  INCORRECT runs are left out: their failure is a wrong fact only the gold answer reveals;
- over_claim: a positive's true goal plus one constraint carried over from another task's
  goal (a sentence or question holding a number, date, code or name), which this run never
  worked on. The donor is picked without looking at this run's evidence, so grounding is
  not favoured by construction; the true half makes it hard for a holistic judge.
Each pair records how it was made and whether it is in the calibration or the test split
(30% test, by a hash of the pair id, so calibration never sees it).

Calibration picks, per juror (model@prompt), the lowest P(yes) threshold whose precision on
the calibration split reaches the target; SPEC shows raw P(yes) is not calibrated (Qwen-0.5B
never passes 0.5 even on positives), so each judge and prompt gets its own threshold.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .evidence.grounding import check_grounding
from .evidence.values import extract_specifics
from .trajectory import Trajectory

TEST_SHARE = 0.3


@dataclass(frozen=True)
class Pair:
    id: str
    kind: str            # positive | off_topic | perturbed | unmet_original | over_claim
    label: bool
    goal: str
    traj: Trajectory
    how: str
    split: str           # calibration | test

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "goal": self.goal, "how": self.how,
                "split": self.split, "record": self.traj.to_dict()}


def split_of(pair_id: str, seed: int) -> str:
    h = int(hashlib.sha256(f"{seed}:{pair_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < TEST_SHARE else "calibration"


def perturb(goal: str, traj: Trajectory, donors: Sequence[Trajectory], rng: random.Random) -> tuple[str, str] | None:
    """Replace one specific of `goal` by a same-kind specific of a donor run absent from `traj`.

    Returns (new goal, how) or None when no replacement keeps the run from satisfying it.
    """
    specifics = [s for s in extract_specifics(goal) if s.kind in ("number", "money", "date", "code", "entity")]
    rng.shuffle(specifics)
    for s in specifics:
        pool = [d for d in donors if d.id != traj.id]
        rng.shuffle(pool)
        for donor in pool[:20]:
            for cand in extract_specifics(donor.goal):
                if cand.kind != s.kind or cand.text.lower() == s.text.lower():
                    continue
                new = goal[: s.start] + cand.text + goal[s.end:]
                if not check_grounding(new, traj).is_grounded or s.kind == "entity":
                    if check_grounding(cand.text, traj).is_grounded:
                        continue     # the substitute occurs in this run: it might still be satisfied
                    return new, f"{s.kind} {s.text!r} -> {cand.text!r} (from {donor.id})"
    return None


OVER_CLAIM_KINDS = ("number", "money", "date", "code", "entity")
QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
                  "were", "do", "does", "did", "can", "in", "the"}


def failure_is_visible(t: Trajectory) -> bool:
    """Does the run itself show that it failed its original goal (not only a gold answer)?

    tau-bench (reward 0: the database is not in the goal's state), ToolBench runs and search
    branches that gave up, ReAct runs that HALTED without an answer.
    """
    m = t.metadata
    return (m.get("benchmark") == "tau-bench" or m.get("finish_type") not in (None, "give_answer")
            or m.get("branch") is not None or m.get("section") == "HALTED")


def _carried_constraint(goal: str, donor: str) -> str | None:
    """One sentence or question of `donor` that names a specific absent from `goal`."""
    for sentence in re.split(r"(?<=[.?!])\s+", donor.strip()):
        if sentence.startswith("You are "):     # tau-bench persona lines, not constraints
            continue
        specs = [s for s in extract_specifics(sentence) if s.kind in OVER_CLAIM_KINDS]
        if specs and 12 <= len(sentence) <= 200 and not any(s.text.lower() in goal.lower() for s in specs):
            return sentence.strip()
    return None


def over_claim(goal: str, traj: Trajectory, donors: Sequence[Trajectory], rng: random.Random) -> tuple[str, str] | None:
    """`goal` (true of `traj`) plus one constraint from another task's goal.

    >>> a = Trajectory.from_dict({"id": "a", "goal": "Who wrote Dune?", "steps": [{"action": "search", "observation": "Dune by Frank Herbert"}]})
    >>> b = Trajectory.from_dict({"id": "b", "goal": "When did Paris host the 1924 Olympics?", "steps": [{"action": "search", "observation": "x"}]})
    >>> over_claim(a.goal, a, [b], random.Random(0))[0]
    'Who wrote Dune, and when did Paris host the 1924 Olympics?'
    """
    pool = [d for d in donors if d.id != traj.id and d.goal != goal]
    rng.shuffle(pool)
    for donor in pool[:20]:
        carried = _carried_constraint(goal, donor.goal)
        if carried is None:
            continue
        if goal.rstrip().endswith("?") != carried.endswith("?"):
            continue                    # a question takes a question, a request a request
        if goal.rstrip().endswith("?"):
            first, _, rest = carried.partition(" ")
            if first.lower() in QUESTION_WORDS:
                carried = f"{first.lower()} {rest}"
            new = f"{goal.rstrip().rstrip('?').rstrip()}, and {carried}"
        else:
            new = f"{goal.rstrip()} {carried}"
        return new, f"+ {carried!r} (from {donor.id})"
    return None


def make_pairs(trajs: Iterable[Trajectory], seed: int = 0, max_runs: int | None = None,
               min_tool_steps: int = 1) -> list[Pair]:
    """Labelled pairs of every kind (module docstring), deterministic given `seed`."""
    all_runs = [t for t in trajs if len(t.evidence_steps) >= min_tool_steps]
    runs = [t for t in all_runs if t.is_success]
    failed = [t for t in all_runs if t.is_success is False and failure_is_visible(t)]
    rng = random.Random(seed)
    rng.shuffle(runs)
    rng.shuffle(failed)
    if max_runs:
        runs, failed = runs[:max_runs], failed[:max_runs]
    pairs: list[Pair] = []
    for t in failed:
        pid = f"{t.id}:unmet_original"
        pairs.append(Pair(pid, "unmet_original", False, t.goal, t, "the failed run's own original goal",
                          split_of(pid, seed)))
    for i, t in enumerate(runs):
        def add(kind: str, label: bool, goal: str, how: str) -> None:
            pid = f"{t.id}:{kind}"
            pairs.append(Pair(pid, kind, label, goal, t, how, split_of(pid, seed)))
        add("positive", True, t.goal, "the run's own goal")
        other = runs[(i + 1 + rng.randrange(len(runs) - 1)) % len(runs)] if len(runs) > 1 else None
        if other is not None and other.goal != t.goal:
            add("off_topic", False, other.goal, f"goal of {other.id}")
        p = perturb(t.goal, t, runs, rng)
        if p is not None:
            add("perturbed", False, p[0], p[1])
        o = over_claim(t.goal, t, runs, rng)
        if o is not None:
            add("over_claim", False, o[0], o[1])
    return pairs


def precision_recall(scores: Sequence[float], labels: Sequence[bool], t: float) -> tuple[float, float]:
    tp = sum(1 for s, y in zip(scores, labels) if s >= t and y)
    fp = sum(1 for s, y in zip(scores, labels) if s >= t and not y)
    pos = sum(labels)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / pos if pos else 0.0)


def calibrate_threshold(scores: Sequence[float], labels: Sequence[bool], target_precision: float) -> dict[str, float]:
    """Lowest threshold reaching `target_precision`; if none does, the one with best precision.

    >>> calibrate_threshold([0.9, 0.8, 0.4, 0.3], [True, True, False, True], 0.99)["threshold"]
    0.8
    """
    cands = sorted(set(scores))
    best = None
    for t in cands:
        p, r = precision_recall(scores, labels, t)
        if p >= target_precision and r > 0:
            return {"threshold": t, "precision": p, "recall": r, "reached": True}
        if best is None or (p, r) > (best["precision"], best["recall"]):
            best = {"threshold": t, "precision": p, "recall": r, "reached": False}
    return best or {"threshold": 1.0, "precision": 0.0, "recall": 0.0, "reached": False}


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def expected_calibration_error(conf: Sequence[float], labels: Sequence[bool], bins: int = 10) -> float:
    """ECE: |accuracy - confidence| per equal-width bin, weighted by bin size.

    >>> round(expected_calibration_error([0.9, 0.9, 0.1, 0.1], [True, True, False, False]), 3)
    0.1
    """
    n = len(conf)
    if not n:
        return float("nan")
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(conf) if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if idx:
            acc = sum(labels[i] for i in idx) / len(idx)
            avg = sum(conf[i] for i in idx) / len(idx)
            total += len(idx) / n * abs(acc - avg)
    return total


def fleiss_kappa(votes: Sequence[Sequence[bool]]) -> float:
    """Fleiss' κ of binary votes: one row per item, one column per rater.

    >>> fleiss_kappa([[True, True], [False, False]])
    1.0
    """
    rows = [r for r in votes if len(r) >= 2]
    if not rows:
        return float("nan")
    n = len(rows[0])
    rows = [r for r in rows if len(r) == n]
    p_yes = sum(sum(r) for r in rows) / (len(rows) * n)
    pe = p_yes ** 2 + (1 - p_yes) ** 2
    pi = [(sum(r) * (sum(r) - 1) + (n - sum(r)) * (n - sum(r) - 1)) / (n * (n - 1)) for r in rows]
    pbar = sum(pi) / len(pi)
    return 1.0 if pe == 1 else (pbar - pe) / (1 - pe)


def binary_metrics(pred: Sequence[bool], labels: Sequence[bool]) -> dict[str, float]:
    tp = sum(p and y for p, y in zip(pred, labels))
    fp = sum(p and not y for p, y in zip(pred, labels))
    fn = sum((not p) and y for p, y in zip(pred, labels))
    tn = sum((not p) and (not y) for p, y in zip(pred, labels))
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
    return {"n": len(pred), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": prec, "recall": rec, "f1": f1,
            "accuracy": (tp + tn) / len(pred) if pred else float("nan")}


def precision_at_recall(scores: Sequence[float], labels: Sequence[bool], recall: float = 0.5) -> float:
    """Best precision among thresholds whose recall reaches `recall`."""
    best = float("nan")
    for t in sorted(set(scores)):
        p, r = precision_recall(scores, labels, t)
        if r >= recall and (best != best or p > best):
            best = p
    return best


def read_pairs(path) -> list[Pair]:
    import json
    from pathlib import Path

    from .errors import AgentherError, RecordError

    pairs = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            pairs.append(Pair(d["id"], d["kind"], bool(d["label"]), d["goal"], Trajectory.from_dict(d["record"]),
                              d.get("how", ""), d.get("split", "calibration")))
        except json.JSONDecodeError as e:
            raise AgentherError(f"{path}:{lineno}: malformed JSON: {e.msg}") from None
        except KeyError as e:
            raise AgentherError(f"{path}:{lineno}: {e.args[0]}: missing") from None
        except RecordError as e:
            raise AgentherError(f"{path}:{lineno}: record.{e.line()}") from None
    return pairs


def evaluate_jury(pairs: Sequence[Pair], pipe: Any, judges: dict[str, Any], gates: bool = True,
                  target_precision: float = 0.95,
                  progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Gates (grounding, on-topic) then every juror on every pair; metrics per pair kind.

    `progress(1)` is called after each pair (a progress bar's `update`).

    Every juror is asked on every pair (no early stop) so per-juror figures and κ exist; the
    jury verdict applies its rule to those votes, which gives the same decision.
    """
    import time

    from .stages.extract import RuleExtractor, extract_outcome
    from .stages.gates import grounding, on_topic

    from .pipeline import deciding_jury

    jury = deciding_jury(pipe)
    rows = []
    t0 = time.perf_counter()
    calls0 = {n: j.stats.calls for n, j in judges.items()}
    tokens0 = {n: j.stats.prompt_tokens for n, j in judges.items()}
    for p in pairs:
        gate = None
        if gates:
            g = grounding(p.goal, p.traj)
            if g.passed:
                outcome = extract_outcome(p.traj, RuleExtractor(), pipe.cfg.detect)
                g = on_topic(p.goal, outcome, pipe.embedder, pipe.cfg.gates)
            gate = g
        votes = [jury.ask(j, p.traj, p.goal) for j in jury.jurors]
        verdict = jury._verdict(votes, len(votes), len(votes) // 2 + 1)
        accepted = verdict.accepted and (gate is None or gate.passed)
        rows.append({"id": p.id, "kind": p.kind, "label": p.label, "split": p.split, "gate": gate.name if gate and not gate.passed else None,
                     "confidence": verdict.confidence if (gate is None or gate.passed) else 0.0,
                     "jury_confidence": verdict.confidence, "accepted": accepted,
                     "votes": {v.juror: {"p_yes": v.p_yes, "vote": v.vote} for v in votes}})
        if progress is not None:
            progress(1)
    seconds = time.perf_counter() - t0

    def block(sel: list[dict[str, Any]]) -> dict[str, Any]:
        labels = [r["label"] for r in sel]
        conf = [r["confidence"] for r in sel]
        m = binary_metrics([r["accepted"] for r in sel], labels)
        m.update(auc=roc_auc(conf, labels), ece=expected_calibration_error(conf, labels),
                 precision_at_50_recall=precision_at_recall(conf, labels, 0.5),
                 theta_for_target=calibrate_threshold(conf, labels, target_precision))
        return m

    positives = [r for r in rows if r["label"]]
    by_kind = {k: block(positives + [r for r in rows if r["kind"] == k])
               for k in sorted({r["kind"] for r in rows if not r["label"]})}
    jurors = {}
    for j in jury.jurors:
        scores = [r["votes"][j.id]["p_yes"] for r in rows]
        labels = [r["label"] for r in rows]
        m = binary_metrics([r["votes"][j.id]["vote"] for r in rows], labels)
        m.update(auc=roc_auc(scores, labels), threshold=j.threshold, threshold_source=j.threshold_source,
                 precision_at_50_recall=precision_at_recall(scores, labels, 0.5),
                 auc_by_kind={k: roc_auc([r["votes"][j.id]["p_yes"] for r in positives + [x for x in rows if x["kind"] == k]],
                                         [r["label"] for r in positives + [x for x in rows if x["kind"] == k]])
                              for k in by_kind})
        jurors[j.id] = m
    calls = sum(j.stats.calls for j in judges.values()) - sum(calls0.values())
    tokens = sum(j.stats.prompt_tokens for j in judges.values()) - sum(tokens0.values())
    return {"pairs": len(rows), "jury": jury.ids, "rule": jury.rule, "gates": gates,
            "target_precision": target_precision, "overall": block(rows), "by_kind": by_kind, "jurors": jurors,
            "fleiss_kappa": fleiss_kappa([[r["votes"][j.id]["vote"] for j in jury.jurors] for r in rows]),
            "cost": {"model_calls": calls, "prompt_tokens": tokens, "seconds": seconds,
                     "seconds_per_pair": seconds / len(rows) if rows else 0.0},
            "rows": rows}
