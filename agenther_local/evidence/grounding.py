"""Grounding: every specific of a hindsight goal must occur in what the TOOLS returned.

SPEC ("Hard negatives") measured that small judges cannot tell a satisfied goal from one
with a single value changed, while this check can: a goal is grounded only if each of its
specifics (evidence/values/: numbers, money, dates, times, codes, quoted strings, names,
emails, URLs) is found, after normalisation on both sides, in the observation of a step
whose `is_evidence` is true. The user's turns, the agent's thoughts, its tool-call
arguments and its final answer are never evidence: they re-admit the unmet constraints of
the original goal (tool outputs + user turns rejected only 30% of over-claims). A caller
that has a reason to trust other text passes it explicitly as `extra_evidence`.

A tool output's report that it found nothing ("No flights match max_stops=0 and
max_price=250", "0 results match: ... Price <= $900", ReAct's "Could not find [query]") echoes
the agent's request, not an outcome: such a sentence is never evidence. Measured on the demo,
it let "the cheapest nonstop flight ... with a maximum price of $250" pass the value check
for a run whose search found none.

What this does not do: check that specifics belong together (a flight number and another
flight's date are each grounded), or map a city to its airport code ("Seattle" vs "SEA":
SPEC suggests asking a judge one narrow question for those).
"""
from __future__ import annotations

import copy
import re
import weakref
from dataclasses import dataclass
from typing import Collection

from ..trajectory import Trajectory
from .values import IndexedText, Specific, extract_specifics


# Where a sentence-like unit of a tool output ends: a line, a sentence, a parenthesis, or a
# JSON string ('"message": "No flights match ..."').
_UNIT_END = re.compile(r'\n|[.!?](?=\s|$|")|[()]|"\s*[:,\]}]|[\[{:,]\s*"')
_NOTHING_FOUND = re.compile(
    r"^\W*(?:(?i:could ?n[o']t find|nothing (?:found|matched))|(?i:no)\s+(?:(?i:results?)\b|[a-z]))"   # not "No Problem" (a title)
    r"|(?i:\b(?:0|no|zero)\s+(?:[\w-]+\s+){0,3}?(?:results?|match(?:es|ed)?)\b|\bnot found\b)")


def without_nothing_found(text: str) -> str:
    """`text` with every unit that reports finding nothing blanked (offsets are kept).

    >>> without_nothing_found('{"results": [], "message": "No flights match max_price=250. Lowest fare: 289.00"}')
    '{"results": [], "message":                                  Lowest fare: 289.00"}'
    """
    out, start = list(text), 0
    for end in [m.end() for m in _UNIT_END.finditer(text)] + [len(text)]:
        if _NOTHING_FOUND.search(text[start:end]):
            out[start:end] = [c if c.isspace() else " " for c in text[start:end]]
        start = end
    return "".join(out)


@dataclass(frozen=True)
class Grounding:
    specifics: tuple[Specific, ...]                   # every specific of the goal
    missing: tuple[Specific, ...]                     # those found in no evidence
    evidence: tuple[tuple[str, int, int, int], ...]   # per found specific: (text, step_index, start, end)

    @property
    def is_grounded(self) -> bool:
        """True when nothing is missing (a goal without specifics is trivially grounded)."""
        return not self.missing

    def reason(self) -> str:
        """One line for a journal: 'missing: 'HAT137' (code), 'May 21' (date)' or 'grounded (3 specifics)'."""
        if self.missing:
            named = dict.fromkeys(f"{s.text!r} ({s.kind})" for s in self.missing)   # once each
            return "missing: " + ", ".join(named)
        return f"grounded ({len(self.specifics)} specifics)"


class EvidenceIndex:
    """The tool observations of one trajectory, indexed once for many goals.

    `find` reports steps by their index in `traj.steps`; `extra_evidence[k]` is reported as
    step index -(k + 1), so it can never be mistaken for a step.
    """

    def __init__(self, traj: Trajectory, extra_evidence: tuple[str, ...] = ()):
        self.entries: list[tuple[int, IndexedText]] = [
            (i, IndexedText(without_nothing_found(step.observation))) for i, step in traj.evidence_steps]
        self.entries += [(-(k + 1), IndexedText(t)) for k, t in enumerate(extra_evidence)]

    def with_extra(self, extra_evidence: tuple[str, ...]) -> "EvidenceIndex":
        """A copy that also searches `extra_evidence` (the tool steps are not re-indexed)."""
        new = copy.copy(self)
        new.entries = self.entries + [(-(k + 1), IndexedText(t)) for k, t in enumerate(extra_evidence)]
        return new

    def find(self, specific: Specific, prefer: Collection[int] = ()) -> tuple[int, int, int] | None:
        """(step_index, start, end) of the first evidence that contains `specific`, or None;
        the steps in `prefer` (a claim's cited facts) are searched first."""
        entries = sorted(self.entries, key=lambda e: e[0] not in prefer) if prefer else self.entries
        for index, text in entries:
            span = text.find(specific)
            if span is not None:
                return index, span[0], span[1]
        return None


# One index per live trajectory, so check_grounding(goal, traj) for several goals of one run
# indexes its observations once. Keyed by id() because a Trajectory holds dicts and cannot be
# hashed; the weak reference drops the entry when the trajectory is garbage-collected.
_INDEXES: dict[int, tuple[weakref.ref, EvidenceIndex]] = {}


def evidence_index(traj: Trajectory) -> EvidenceIndex:
    """The (cached) EvidenceIndex of `traj`."""
    key = id(traj)
    hit = _INDEXES.get(key)
    if hit is not None and hit[0]() is traj:
        return hit[1]
    index = EvidenceIndex(traj)
    _INDEXES[key] = (weakref.ref(traj, lambda _ref, key=key: _INDEXES.pop(key, None)), index)
    return index


def check_grounding(goal: str, traj: Trajectory, extra_evidence: tuple[str, ...] = (),
                    *, index: EvidenceIndex | None = None) -> Grounding:
    """Find every specific of `goal` in the tool observations of `traj` (plus `extra_evidence`).

    >>> from agenther_local.trajectory import Step
    >>> traj = Trajectory("t", "g", (Step("", "search", {}, '{"flight_number": "HAT136", "date": "2024-05-20"}'),))
    >>> check_grounding("Book HAT136 on May 20", traj).is_grounded
    True
    >>> [s.text for s in check_grounding("Book HAT137 on May 21", traj).missing]
    ['HAT137', 'May 21']
    """
    index = index or evidence_index(traj)
    if extra_evidence:
        index = index.with_extra(tuple(extra_evidence))
    specifics = tuple(extract_specifics(goal))
    missing, found = [], []
    for s in specifics:
        hit = index.find(s)
        if hit is None:
            missing.append(s)
        else:
            found.append((s.text, *hit))
    return Grounding(specifics, tuple(missing), tuple(found))
