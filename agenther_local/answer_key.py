"""Answer keys: rater-written true and false goals for real runs, and how a verifier scores on them.

A key is a JSONL file, one run per line (`shared/answer_key/README.md`): `source` (a fixture
path: a file, or a run's folder), `index` or `key` (which run of the file; none for a folder), `valid_goals`, `invalid_goals` (`goal`,
`kind`, `why`), `achieved` (facts with verbatim evidence). `load_key` finds each run through
the adapters; `score` counts what a verifier accepts, per invalid kind.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .adapters import read
from .errors import RecordError
from .trajectory import Trajectory


@dataclass(frozen=True)
class KeyGoal:
    run: str                 # "<source>#<index or key>"
    goal: str
    valid: bool
    kind: str                # "valid" or the invalid kind
    why: str
    traj: Trajectory
    achieved: tuple[str, ...]   # the rater's achieved facts, each with its evidence quote


def _matches(traj: Trajectory, entry: dict[str, Any]) -> bool:
    src = str(traj.metadata.get("source", ""))
    if entry.get("index") is None and entry.get("key") is None:
        # a run that is a folder (a browser-use task): its source is that folder
        return src.rstrip("/").endswith(str(entry["source"]).rstrip("/"))
    if "index" in entry and entry["index"] is not None:
        i = entry["index"]
        return src.endswith(f":#{i}") or traj.metadata.get("index") == i
    key = entry.get("key")
    if isinstance(key, dict):
        line = key.get("line")
        return (line is not None and src.endswith(f":{line}")) or (
            traj.metadata.get("trial") == key.get("trial") and traj.goal.strip() == str(key.get("question", "")).strip())
    key = str(key)
    return traj.id == key or src.endswith(f":#{key}") or Path(src.rsplit(":", 1)[0]).name == key \
        or str(traj.metadata.get("instance_id", "")) == key


def load_key(key_files: Iterable[Path], fixtures: Path) -> tuple[list[KeyGoal], list[str]]:
    """Every goal of every key file with its run; and the runs that could not be found/read."""
    goals, missing = [], []
    cache: dict[Path, list[Trajectory]] = {}
    for kf in key_files:
        for line in Path(kf).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            e = json.loads(line)
            path = fixtures / e["source"]
            name = f"{e['source']}#{e.get('index', e.get('key'))}"
            try:
                if path not in cache:
                    cache[path] = [t for _, t in read(path) if not isinstance(t, RecordError)]
            except Exception as err:   # noqa: BLE001 - an unreadable format is reported, not fatal
                missing.append(f"{name}: {err}")
                cache[path] = []
            found = [t for t in cache[path] if _matches(t, e)]
            if len(found) != 1:
                missing.append(f"{name}: {len(found)} matching runs")
                continue
            traj = found[0]
            # each achieved fact as the rater wrote it, with the tool-output quote it rests on
            quotes = tuple(f'{a.get("fact", "")} \n {a.get("evidence", "")}' for a in e.get("achieved", []))
            for g in e.get("valid_goals", []):
                text = g if isinstance(g, str) else g.get("goal", "")
                goals.append(KeyGoal(name, text, True, "valid", "", traj, quotes))
            for g in e.get("invalid_goals", []):
                goals.append(KeyGoal(name, g["goal"], False, g["kind"], g.get("why", ""), traj, quotes))
    return goals, missing


def score(goals: Sequence[KeyGoal], accepts: Callable[[KeyGoal], tuple[bool, str]]) -> dict[str, Any]:
    """Precision, recall and per-kind rejection of a verifier; with every decision and reason."""
    rows = []
    for g in goals:
        ok, why = accepts(g)
        rows.append({"run": g.run, "goal": g.goal, "valid": g.valid, "kind": g.kind, "accepted": ok, "reason": why})
    tp = sum(r["accepted"] and r["valid"] for r in rows)
    fp = sum(r["accepted"] and not r["valid"] for r in rows)
    pos = sum(r["valid"] for r in rows)
    kinds: dict[str, dict[str, int]] = {}
    for r in rows:
        if not r["valid"]:
            k = kinds.setdefault(r["kind"], {"n": 0, "rejected": 0})
            k["n"] += 1
            k["rejected"] += not r["accepted"]
    return {"goals": len(rows), "valid": pos, "invalid": len(rows) - pos, "accepted_valid": tp,
            "accepted_invalid": fp, "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / pos, 3) if pos else None,
            "rejected_by_kind": {k: {**v, "rate": round(v["rejected"] / v["n"], 3)} for k, v in sorted(kinds.items())},
            "rows": rows}


def plan_yield(goals: Sequence[KeyGoal], relabel: Callable[[Trajectory], tuple[Sequence[str], str]]) -> dict[str, Any]:
    """Goals built from the evidence, run by run: how many runs that have true goals get an
    accepted goal (`relabel` returns a run's accepted goals, maybe none, and why), and how
    many accepted goals hold a value that none of the rater's achieved facts (fact text or
    evidence quote) holds."""
    from .evidence.values import extract_specifics, find_in_text

    runs: dict[str, KeyGoal] = {}
    has_valid: set[str] = set()
    for g in goals:
        runs.setdefault(g.run, g)
        if g.valid:
            has_valid.add(g.run)
    rows, accepted, kept, unsupported = [], 0, 0, 0
    for run, g in runs.items():
        found, reason = relabel(g.traj)
        facts = " \n ".join(g.achieved)
        accepted += bool(found) and run in has_valid
        for goal in found or [None]:
            stray = [s.text for s in extract_specifics(goal or "") if find_in_text(s, facts) is None]
            kept += goal is not None
            unsupported += bool(stray)
            rows.append({"run": run, "goal": goal, "reason": reason[:300], "values_not_in_achieved": stray})
    n = len(has_valid)
    return {"runs_with_true_goals": n, "runs_with_an_accepted_goal": accepted,
            "share": round(accepted / n, 3) if n else None, "accepted_goals": kept,
            "accepted_goals_with_a_value_no_achieved_fact_holds": unsupported, "rows": rows}
