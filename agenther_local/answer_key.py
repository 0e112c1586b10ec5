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


# The benchmark a key run comes from, by the first folder of its `source` (fixtures/README):
# (folder prefix, name); the first prefix that matches wins, an unknown folder is its own name.
SOURCES = (("tau2", "tau2"), ("tau_bench", "tau-bench"), ("toolbench", "ToolBench"), ("fireact", "FireAct"),
           ("react", "ReAct"), ("swe_agent", "SWE"), ("mini_swe_agent", "SWE"))


def source_of(run: str) -> str:
    """The benchmark of a key run ("<source>#<index or key>"), from its source's first folder.

    >>> source_of("tau_bench_airline/gpt-4o-airline.part1of3.json#0"), source_of("tau2_bench/x.json#1")
    ('tau-bench', 'tau2')
    >>> source_of("mini_swe_agent/a.traj.json#astroid"), source_of("swe_agent_swebench_verified/b#c")
    ('SWE', 'SWE')
    >>> source_of("react_hotpotqa/r.txt#3"), source_of("fireact_hotpotqa/f.json#k"), source_of("other/x#1")
    ('ReAct', 'FireAct', 'other')
    """
    folder = run.rsplit("#", 1)[0].split("/", 1)[0]
    return next((name for prefix, name in SOURCES if folder.startswith(prefix)), folder)


def score_by_source(goals: Sequence[KeyGoal], decisions: Sequence[tuple[bool, str]]) -> dict[str, Any]:
    """`score` on each source's runs alone (`decisions[i]` is what the verifier said of
    `goals[i]`), and, under `other_sources`, on the runs of every other source: does a rule
    hold past the runs it was written for?"""
    decided = {id(g): d for g, d in zip(goals, decisions, strict=True)}
    out: dict[str, Any] = {}
    for src in sorted({source_of(g.run) for g in goals}):
        mine = score([g for g in goals if source_of(g.run) == src], lambda g: decided[id(g)])
        rest = score([g for g in goals if source_of(g.run) != src], lambda g: decided[id(g)])
        del mine["rows"]
        out[src] = {"runs": len({g.run for g in goals if source_of(g.run) == src}), **mine,
                    "other_sources": {k: rest[k] for k in ("goals", "accepted_valid", "accepted_invalid",
                                                           "precision", "recall")}}
    return out


# How the verifier accounts for a word or phrase of a goal (each constraint's `words`).
WORD_HOWS = ("value", "field", "lexicon", "rule", "context", "framing", "question", "unaccounted")


def word_accounting(goals: Sequence[KeyGoal], constraints: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Words and phrases per `how`, over every constraint of each goal (`constraints[i]`:
    `Verification.to_dict()["constraints"]` of `goals[i]`), true and false goals apart, and the
    share of goals with at least one `unaccounted`. A constraint without `words` counts none.

    >>> g = lambda valid: KeyGoal("r#0", "", valid, "", "", None, ())
    >>> wa = word_accounting([g(True), g(False)], [[{"words": [{"text": "Mia", "how": "value"},
    ...     {"text": "please", "how": "unaccounted"}]}], [{"detail": "no words"}]])
    >>> wa["true_goals"]["by_how"]["value"], wa["true_goals"]["by_how"]["unaccounted"], wa["true_goals"]["words"]
    (1, 1, 2)
    >>> wa["false_goals"]["goals_with_words"], wa["false_goals"]["share_with_unaccounted"], wa["all_goals"]["share_with_unaccounted"]
    (0, 0.0, 0.5)
    """
    out: dict[str, Any] = {}
    groups = (("true_goals", (True,)), ("false_goals", (False,)), ("all_goals", (True, False)))
    for label, truths in groups:
        by_how = dict.fromkeys(WORD_HOWS, 0)
        n = with_words = with_unaccounted = 0
        for g, cs in zip(goals, constraints, strict=True):
            if g.valid not in truths:
                continue
            words = [w for c in cs for w in c.get("words", [])]
            n += 1
            with_words += bool(words)
            with_unaccounted += any(w.get("how") == "unaccounted" for w in words)
            for w in words:
                how = str(w.get("how"))
                by_how[how] = by_how.get(how, 0) + 1       # an unknown `how` is counted, not lost
        out[label] = {"goals": n, "goals_with_words": with_words, "words": sum(by_how.values()),
                      "by_how": by_how, "goals_with_unaccounted": with_unaccounted,
                      "share_with_unaccounted": round(with_unaccounted / n, 3) if n else None}
    return out


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
