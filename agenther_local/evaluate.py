"""Labelled (goal, run) pairs from real runs, and thresholds calibrated on them.

Pairs (made deterministically from a seed, no model):
- positive: a successful run with its own goal;
- off_topic: a successful run with another run's goal from the same file;
- perturbed: a positive whose goal has one specific (number, date, code, name) replaced by a
  specific of the same kind from another run that occurs nowhere in this run.
Each pair records how it was made and whether it is in the calibration or the test split
(30% test, by a hash of the pair id, so calibration never sees it).

Calibration picks, per juror (model@prompt), the lowest P(yes) threshold whose precision on
the calibration split reaches the target; SPEC shows raw P(yes) is not calibrated (Qwen-0.5B
never passes 0.5 even on positives), so each judge and prompt gets its own threshold.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .stages.grounding import check_grounding
from .stages.values import extract_specifics
from .trajectory import Trajectory

TEST_SHARE = 0.3


@dataclass(frozen=True)
class Pair:
    id: str
    kind: str            # positive | off_topic | perturbed
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


def make_pairs(trajs: Iterable[Trajectory], seed: int = 0, max_runs: int | None = None,
               min_tool_steps: int = 1) -> list[Pair]:
    runs = [t for t in trajs if t.is_success and len(t.evidence_steps) >= min_tool_steps]
    rng = random.Random(seed)
    rng.shuffle(runs)
    if max_runs:
        runs = runs[:max_runs]
    pairs: list[Pair] = []
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
