"""One pass over the journal: every count, histogram and example the report shows.

Entries are streamed, and memory stays flat in the number of records: histograms have fixed
bins, jury votes are tallied by pattern, and only a bounded number of examples and goal
pairs is kept (the goal pairs by reservoir sampling with a fixed seed, so the same journal
always gives the same report). A key met twice keeps its first entry, as the runner does.
Entries written by older versions may lack optional keys; each missing key counts as absent,
never as an error.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..runner import rejection_key

FAILURE_STATUSES = ("accepted", "rejected", "error")
FUNNEL = ("input", "failures", "recoverable", "passed gates", "accepted")
BINS = np.linspace(0.0, 1.0, 21)          # every histogram: 20 bins over [0, 1]
EXAMPLES_PER_KEY = 3
MAX_DISTINCT_SPECIFICS = 5000             # bound on the per-constraint counter
CONTEXT_CHARS = 60                        # observation text shown around a grounded specific


@dataclass
class JurorTally:
    votes: int = 0
    yes: int = 0
    p_sum: float = 0.0
    thresholds: Counter = field(default_factory=Counter)
    source: str = ""

    def add(self, v: dict[str, Any]) -> None:
        self.votes += 1
        self.yes += bool(v.get("vote"))
        self.p_sum += float(v.get("p_yes") or 0.0)
        if v.get("threshold") is not None:
            self.thresholds[float(v["threshold"])] += 1
        self.source = str(v.get("threshold_source") or self.source)

    @property
    def yes_rate(self) -> float:
        return self.yes / self.votes if self.votes else float("nan")

    @property
    def mean_p(self) -> float:
        return self.p_sum / self.votes if self.votes else float("nan")


@dataclass
class GateTally:
    attempts: int = 0                      # attempts this gate ended
    records: int = 0                       # records with at least one such attempt
    examples: list[str] = field(default_factory=list)


@dataclass
class Example:
    """One accepted relabel, ready to show (every string still unescaped)."""
    id: str
    where: str
    failure_type: str
    original_goal: str
    hindsight_goal: str
    weight: float | None
    confidence: float | None
    via_fallback: bool
    votes: list[dict[str, Any]]            # juror, p_yes, threshold, vote; the writer's first, as "self-check"
    evidence: list[dict[str, Any]]         # step, action, before, match, after
    constraints: list[dict[str, Any]] = field(default_factory=list)   # per-constraint verification
    more_goals: list[str] = field(default_factory=list)   # the record's other goals (--goals-per-run)


@dataclass
class RunStats:
    entries: int = 0
    statuses: Counter = field(default_factory=Counter)
    funnel: list[int] = field(default_factory=lambda: [0] * len(FUNNEL))
    funnel_by_type: dict[str, list[int]] = field(default_factory=dict)   # failures .. accepted
    weight_hist: dict[str, np.ndarray] = field(default_factory=dict)     # "accepted", "not accepted" (failures)
    weight_sum: float = 0.0
    weight_n: int = 0
    confidence_hist: dict[str, np.ndarray] = field(default_factory=dict)  # "accepted", "jury verdicts"
    jurors: dict[str, JurorTally] = field(default_factory=dict)
    self_check: JurorTally = field(default_factory=JurorTally)
    vote_patterns: Counter = field(default_factory=Counter)   # ((juror, vote), ...) -> verdicts
    rejections: Counter = field(default_factory=Counter)
    rejection_examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    gates: dict[str, GateTally] = field(default_factory=dict)
    specifics: Counter = field(default_factory=Counter)       # (gate, specific) -> failed attempts
    examples: list[Example] = field(default_factory=list)
    accepted_goals: int = 0
    goal_pairs: list[tuple[str, str]] = field(default_factory=list)   # (original, hindsight), a sample


def _hist(values: Iterable[float]) -> np.ndarray:
    return np.histogram(np.clip(np.fromiter(values, float), 0.0, 1.0), bins=BINS)[0]


def attempts(entry: dict[str, Any]) -> list[dict[str, Any]]:
    rl = entry.get("relabel") or {}
    return [a for a in rl.get("attempts") or [] if isinstance(a, dict)]


def passed_all_gates(attempt: dict[str, Any]) -> bool:
    """True when the attempt ran every gate it needed and none failed.

    >>> passed_all_gates({"gates": [{"gate": "well_formed", "passed": True}]}), passed_all_gates({"gates": []})
    (True, False)
    """
    gates = attempt.get("gates") or []
    return bool(gates) and all(g.get("passed") for g in gates)


def funnel_stage(entry: dict[str, Any]) -> int:
    """Index in FUNNEL of the last stage the record reached; each stage includes the later ones.

    >>> funnel_stage({"status": "skipped_success"}), funnel_stage({"status": "accepted"})
    (0, 4)
    >>> funnel_stage({"status": "rejected", "failure": {"recoverable": True, "discarded": False}})
    2
    """
    status = entry.get("status")
    if status == "accepted":
        return 4
    if status not in FAILURE_STATUSES:
        return 0
    if any(passed_all_gates(a) for a in attempts(entry)):
        return 3
    f = entry.get("failure") or {}
    if f and f.get("recoverable", True) and not f.get("discarded", False):
        return 2
    return 1


def verdicts(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Every jury verdict of a record: one per attempt put to the jury, plus the fallback's."""
    out = [a["verdict"] for a in attempts(entry) if isinstance(a.get("verdict"), dict)]
    fb = (entry.get("relabel") or {}).get("fallback_verdict")
    return out + ([fb] if isinstance(fb, dict) else [])


def accepted_attempt(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The attempt whose goal was accepted: status "accepted", or the fallback's attempt."""
    tries = attempts(entry)
    hit = next((a for a in tries if a.get("status") == "accepted"), None)
    if hit is None and (entry.get("relabel") or {}).get("via_fallback"):
        goal = entry.get("goal")
        hit = next((a for a in reversed(tries) if a.get("goal") == goal and passed_all_gates(a)), None)
    return hit


def _safe_rejection_key(entry: dict[str, Any]) -> str:
    # rejection_key reads entry["relabel"]["attempts"][i]["status"]: give older entries those keys.
    rl = entry.get("relabel")
    if rl:
        rl = {**rl, "attempts": [{"status": "", **a} for a in attempts(entry)]}
    return rejection_key({**entry, "relabel": rl})


def _evidence(entry: dict[str, Any], attempt: dict[str, Any] | None) -> list[dict[str, Any]]:
    grounding = next((g for g in (attempt or {}).get("gates") or [] if g.get("gate") == "grounding"), {})
    steps = (entry.get("record") or {}).get("steps") or []
    out = []
    for ev in (grounding.get("data") or {}).get("evidence") or []:
        step = ev.get("step")
        s = steps[step] if isinstance(step, int) and 0 <= step < len(steps) else {}
        obs = str(s.get("observation", ""))
        start, end = ev.get("start"), ev.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(obs):
            a, b = max(0, start - CONTEXT_CHARS), min(len(obs), end + CONTEXT_CHARS)
            before = ("…" if a else "") + obs[a:start]
            match, after = obs[start:end], obs[end:b] + ("…" if b < len(obs) else "")
        else:
            before, match, after = "", str(ev.get("text", "")), ""
        out.append({"step": step, "action": str(s.get("action", "")), "text": str(ev.get("text", "")),
                    "before": before, "match": match, "after": after})
    return out


def _example(entry: dict[str, Any]) -> Example:
    attempt = accepted_attempt(entry)
    rl = entry.get("relabel") or {}
    verdict = (attempt or {}).get("verdict") or rl.get("fallback_verdict") or {}
    own = (attempt or {}).get("self_vote")
    votes = ([{**own, "juror": f"{own.get('juror', 'writer')} (self-check)"}] if isinstance(own, dict) else [])
    votes += [v for v in verdict.get("votes") or [] if isinstance(v, dict)]
    f = entry.get("failure") or {}
    return Example(id=str(entry.get("id", "")), where=str(entry.get("where", "")),
                   failure_type=str(f.get("failure_type") or ""),
                   original_goal=str((entry.get("record") or {}).get("goal", "")),
                   hindsight_goal=str(entry.get("goal") or ""),
                   weight=entry.get("weight"), confidence=entry.get("confidence"),
                   via_fallback=bool(rl.get("via_fallback")), votes=votes, evidence=_evidence(entry, attempt),
                   constraints=[c for c in ((attempt or {}).get("verification") or {}).get("constraints") or []
                                if isinstance(c, dict)],
                   more_goals=[str(g) for g in (entry.get("goals") or [])[1:]])


class Collector:
    """Feed it entries with `add`; read `stats` at the end."""

    def __init__(self, max_examples: int, max_goal_pairs: int):
        self.stats = RunStats()
        self.max_examples = max_examples
        self.max_goal_pairs = max_goal_pairs
        self._rng = random.Random(0)
        self._seen: set[str] = set()
        self._weights: dict[str, list[float]] = {"accepted": [], "not accepted": []}
        self._conf: dict[str, list[float]] = {"accepted": [], "jury verdicts": []}
        self.stats.weight_hist = {n: np.zeros(len(BINS) - 1, int) for n in self._weights}
        self.stats.confidence_hist = {n: np.zeros(len(BINS) - 1, int) for n in self._conf}

    def add(self, entry: dict[str, Any], line: int) -> None:
        key = str(entry.get("key") or entry.get("id") or f"line:{line}")
        if key in self._seen:
            return
        self._seen.add(key)
        s = self.stats
        s.entries += 1
        status = str(entry.get("status", "unknown"))
        s.statuses[status] += 1
        stage = funnel_stage(entry)
        for i in range(stage + 1):
            s.funnel[i] += 1
        if status in FAILURE_STATUSES:
            ftype = str((entry.get("failure") or {}).get("failure_type") or "unknown")
            row = s.funnel_by_type.setdefault(ftype, [0] * (len(FUNNEL) - 1))
            for i in range(stage):
                row[i] += 1
            if isinstance(entry.get("weight"), (int, float)):
                self._weight(float(entry["weight"]), status == "accepted")
        if status in ("rejected", "error"):
            self._rejection(entry)
        self._votes(entry)
        self._gates(entry)
        if status == "accepted":
            self._accepted(entry)
        self._flush()

    def _weight(self, w: float, accepted: bool) -> None:
        self._weights["accepted" if accepted else "not accepted"].append(w)
        self.stats.weight_sum += w
        self.stats.weight_n += 1

    def _rejection(self, entry: dict[str, Any]) -> None:
        k = _safe_rejection_key(entry)
        self.stats.rejections[k] += 1
        ex = self.stats.rejection_examples.setdefault(k, [])
        if len(ex) < EXAMPLES_PER_KEY:
            ex.append({"id": str(entry.get("id", entry.get("key", ""))), "where": str(entry.get("where", "")),
                       "reason": str(entry.get("reason", ""))})

    def _votes(self, entry: dict[str, Any]) -> None:
        s = self.stats
        for a in attempts(entry):
            if isinstance(a.get("self_vote"), dict):
                s.self_check.add(a["self_vote"])
        for v in verdicts(entry):
            if v.get("confidence") is not None:
                self._conf["jury verdicts"].append(float(v["confidence"]))
            votes = [x for x in v.get("votes") or [] if isinstance(x, dict) and "juror" in x]
            for x in votes:
                s.jurors.setdefault(str(x["juror"]), JurorTally()).add(x)
            s.vote_patterns[tuple(sorted((str(x["juror"]), bool(x.get("vote"))) for x in votes))] += 1

    def _gates(self, entry: dict[str, Any]) -> None:
        s = self.stats
        hit: set[str] = set()
        for a in attempts(entry):
            status = str(a.get("status", ""))
            if not status.startswith("gate:"):
                continue
            gate = status[len("gate:"):]
            t = s.gates.setdefault(gate, GateTally())
            t.attempts += 1
            hit.add(gate)
            detail = str(a.get("detail", ""))
            if detail and detail not in t.examples and len(t.examples) < EXAMPLES_PER_KEY:
                t.examples.append(detail)
            failed = next((g for g in a.get("gates") or [] if not g.get("passed")), {})
            data = failed.get("data") or {}
            for specific in list(data.get("unmet") or []) + list(data.get("missing") or []):
                k = (gate, str(specific))
                if k in s.specifics or len(s.specifics) < MAX_DISTINCT_SPECIFICS:
                    s.specifics[k] += 1
        for gate in hit:
            s.gates[gate].records += 1

    def _accepted(self, entry: dict[str, Any]) -> None:
        s = self.stats
        if entry.get("confidence") is not None:
            self._conf["accepted"].append(float(entry["confidence"]))
        if len(s.examples) < self.max_examples:
            s.examples.append(_example(entry))
        original, goal = (entry.get("record") or {}).get("goal"), entry.get("goal")
        if not (isinstance(original, str) and isinstance(goal, str) and original.strip() and goal.strip()):
            return
        s.accepted_goals += 1
        # reservoir sampling: every accepted pair has the same chance to be in the sample
        if len(s.goal_pairs) < self.max_goal_pairs:
            s.goal_pairs.append((original, goal))
        else:
            j = self._rng.randrange(s.accepted_goals)
            if j < self.max_goal_pairs:
                s.goal_pairs[j] = (original, goal)

    def _flush(self, force: bool = False) -> None:
        # Values wait in small buffers and are binned in batches: flat memory, numpy speed.
        for bufs, hists in ((self._weights, self.stats.weight_hist), (self._conf, self.stats.confidence_hist)):
            for name, buf in bufs.items():
                if buf and (force or len(buf) >= 4096):
                    hists[name] += _hist(buf)
                    buf.clear()

    def finish(self) -> RunStats:
        self._flush(force=True)
        return self.stats
