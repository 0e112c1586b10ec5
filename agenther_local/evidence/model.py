"""The evidence model of one run: its records, its actions, and the ids that join them.

    ev = RunEvidence.of(traj)
    ev.records            every record of every tool output (evidence/records.py)
    ev.actions            every tool call with status and kind (evidence/actions.py)
    ev.joined(ids)        the records whose own identity is one of `ids` (one hop)
    ev.call_scope(a)      what a write call did: its arguments, its result's records, and the
                          records its ids join to (the card behind `credit_card_4421486`)
    ev.find_record(vals)  the ONE record (with its joins) that holds every value, if any

What is never evidence stays out: the user's turns, the agent's thoughts and final message
(they are not tool outputs), the arguments of read calls, and the arguments and results of
failed calls; records of a failed call's output are kept only as what the run *saw* (an
error message is a fact about the run, not an achievement). "Nothing found" units are blanked
before records are cut (evidence/grounding.py).
"""
from __future__ import annotations

import re
import weakref
from decimal import Decimal, InvalidOperation
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ..trajectory import Trajectory
from .actions import Action, actions_of
from .grounding import without_nothing_found
from .records import _ID_LIKE, Record, fields_text, norm_id, split_records
from .values import Specific


@dataclass(frozen=True)
class Match:
    """Where one value of a claim was found."""
    value: Specific
    record: Record | None
    start: int = -1            # span in the record's text
    end: int = -1

    @property
    def found(self) -> bool:
        return self.record is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": self.value.text, "kind": self.value.kind, "found": self.found}
        if self.record is not None:
            d.update(step=self.record.step, path=self.record.path,
                     text=_snip(self.record.text, self.start, self.end))
        return d


def _snip(text: str, a: int, b: int, width: int = 50) -> str:
    s, e = max(0, a - width), min(len(text), b + width)
    return ("…" if s else "") + text[s:e] + ("…" if e < len(text) else "")


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}{k}.")
        return out
    if isinstance(value, list):
        if all(not isinstance(x, (dict, list)) for x in value):
            return [(prefix.rstrip("."), ", ".join(map(str, value)))] if prefix else []
        out = []
        for i, v in enumerate(value):
            out += _flatten(v, f"{prefix.rstrip('.')}[{i}].")
        return out
    return [(prefix.rstrip("."), "" if value is None else str(value))]


def call_record(a: Action) -> Record:
    """A write call's arguments as one record (kind 'call')."""
    fields = tuple(_flatten(a.args))
    text = fields_text(fields)
    ids = tuple(dict.fromkeys(norm_id(v) for _, v in fields if _ID_LIKE.match(v or "")))
    return Record(a.step, -1, -1, f"call {a.name}(…)", "call", fields, text, ids, ())


class RunEvidence:
    def __init__(self, traj: Trajectory, write_tools: Iterable[str] = (), read_tools: Iterable[str] = ()):
        self.traj = traj
        self.actions: list[Action] = actions_of(traj, write_tools, read_tools)
        self.by_step: dict[int, list[Record]] = {}
        for a in self.actions:
            self.by_step[a.step] = [_cleaned(r) for r in split_records(a.step, a.result)]
        self.records: list[Record] = [r for rs in self.by_step.values() for r in rs]
        self._groups: dict[int, list[Record]] = {}     # id(record) -> the record and its joins
        self._scopes: dict[int, list[Record]] = {}     # step -> what the write call at it did
        self._before: dict[tuple[int, bool], list[Record]] = {}
        self._by_id: dict[str, list[Record]] = {}
        for r in self.records:
            for i in r.own_ids:
                self._by_id.setdefault(i, []).append(r)

    _CACHE: dict[tuple, tuple[weakref.ref, "RunEvidence"]] = {}

    @classmethod
    def of(cls, traj: Trajectory, write_tools: Iterable[str] = (), read_tools: Iterable[str] = ()) -> "RunEvidence":
        """The (cached) evidence model of `traj`: records are cut once for many goals."""
        key = (id(traj), tuple(write_tools), tuple(read_tools))
        hit = cls._CACHE.get(key)
        if hit is not None and hit[0]() is traj:
            return hit[1]
        ev = cls(traj, key[1], key[2])
        cls._CACHE[key] = (weakref.ref(traj, lambda _r, key=key: cls._CACHE.pop(key, None)), ev)
        return ev

    @property
    def writes(self) -> list[Action]:
        return [a for a in self.actions if a.is_write]

    @property
    def succeeded_writes(self) -> list[Action]:
        return [a for a in self.actions if a.is_write and a.succeeded]

    def refs(self, record: Record) -> set[str]:
        """Ids a record points to: single-valued fields whose value is another record's identity
        (a payment's `payment_id`). A list of ids (a profile's reservations) joins nothing: it
        would make the whole profile one record."""
        out = set()
        for k, v in record.fields:
            n = norm_id(v)
            if n in self._by_id and n not in record.own_ids and not k.endswith("[]"):
                out.add(n)
        return out

    def joined(self, ids: Iterable[str]) -> list[Record]:
        """Records whose own identity is one of `ids` (the profile's card record for a payment id),
        without the lists of other ids they hold: a customer joined through its id tells the
        customer's name, not that every line it lists was the one changed."""
        out, seen = [], set()
        for i in ids:
            for r in self._by_id.get(i, ()):
                if id(r) not in seen:
                    seen.add(id(r))
                    out.append(_without_lists(r))
        return out

    def group(self, r: Record) -> list[Record]:
        """`r` with the records its ids join to (computed once per record)."""
        hit = self._groups.get(id(r))
        if hit is None or hit[0] is not r:      # subtle: the record is kept, so its id is not reused
            hit = self._groups[id(r)] = [r] + self.joined(self.refs(r))
        return hit

    def call_scope(self, a: Action) -> list[Record]:
        """What a succeeded write did: its arguments, its result's records, and the records its
        ids join to, except through the id of what it changed (the reservation being updated:
        its earlier state is not what the call made)."""
        hit = self._scopes.get(a.step)
        if hit is not None:
            return hit
        # a browser write's scope is what the pages show of it (its arguments), not the whole page
        own = [call_record(a)] + ([] if a.page else self.by_step.get(a.step, []))
        target = norm_id(a.target.split(":", 1)[1]) if ":" in a.target else ""
        ids = set().union(*(self.refs(r) for r in own), *(set(r.ids) for r in own)) - {target}
        joined = [r for r in self.joined(ids) if r.step != a.step and target not in r.own_ids]
        self._scopes[a.step] = own + joined
        return self._scopes[a.step]

    def before_state(self, a: Action, changed: bool = False) -> list[Record]:
        """The object a write changed, as the run read it before the call: what describes it
        ("my one-way ATL→PHL reservation"). Only the fields the call did not set, unless
        `changed` ("from business to economy": the old value of a field it set).

        Cached per call; empty for a write that names no id (a file edit, a new booking)."""
        key = (a.step, changed)
        hit = self._before.get(key)
        if hit is not None:
            return hit
        target = norm_id(a.target.split(":", 1)[1]) if ":" in a.target else ""
        out: list[Record] = []
        if target:
            set_keys = {_leaf(k) for k, _ in call_record(a).fields}
            for r in self.records:
                if r.step >= a.step or target not in r.ids:
                    continue
                # its items only in a list the call did not set: the passengers of a flight change
                # describe it, its old legs do not (their values mixed with one another)
                if target not in r.own_ids and any(_leaf(k) in set_keys for k in re.findall(r"([A-Za-z_]+)\[", r.path)):
                    continue
                fields = tuple((k, v) for k, v in r.fields if changed or _leaf(k) not in set_keys)
                out.append(Record(r.step, r.start, r.end, r.path + " (before the call)", r.kind, fields,
                                  fields_text(fields) if r.fields else r.text, r.ids, r.own_ids))
        self._before[key] = out
        return out

    def full_matches(self, values: Sequence[Specific]) -> list[tuple[list[Match], Record]]:
        """Every record that (with its joins) holds all `values`; records whose own identity is
        one of the values come first (the reservation itself before the profile listing it)."""
        out = []
        for r in self.records:
            matches = [_match_in(v, self.group(r)) for v in values]
            if all(m.found for m in matches):
                own = sum(any(norm_id(m.value.text) == i for i in r.own_ids) for m in matches)
                out.append((-own, len(out), matches, r))
        out.sort(key=lambda x: (x[0], x[1]))
        return [(m, r) for _, _, m, r in out]

    def find_record(self, values: Sequence[Specific], scope: Sequence[Record] | None = None,
                    join: bool = True) -> tuple[list[Match], Record | None]:
        """Bind all `values` to ONE record of `scope` (default: every record), with the records
        its ids join to. Returns the matches of the best record (most values found) and it."""
        best: tuple[int, list[Match], Record | None] = (-1, [Match(v, None) for v in values], None)
        for r in (self.records if scope is None else scope):
            group = self.group(r) if join else [r]
            matches = [_match_in(v, group) for v in values]
            n = sum(m.found for m in matches)
            if n > best[0]:
                best = (n, matches, r)
                if n == len(values):
                    break
        return best[1], best[2]


def _leaf(key: str) -> str:
    """The last name of a field path: "flights[0].date" -> "date"."""
    return re.sub(r"\[\d*\]", "", key).rsplit(".", 1)[-1]


def _without_lists(r: Record) -> Record:
    if not any(k.endswith("[]") for k, _ in r.fields):
        return r
    fields = tuple((k, v) for k, v in r.fields if not k.endswith("[]"))
    text = fields_text(fields)
    return Record(r.step, r.start, r.end, r.path, r.kind, fields, text, r.ids, r.own_ids)


def _cleaned(r: Record) -> Record:
    """The record without its units that report finding nothing (they echo the request)."""
    if not r.fields:
        text = without_nothing_found(r.text)
        return r if text == r.text else Record(r.step, r.start, r.end, r.path, r.kind, r.fields, text, r.ids, r.own_ids)
    fields = tuple((k, without_nothing_found(v).strip()) for k, v in r.fields)
    if fields == r.fields:
        return r
    text = fields_text(fields)
    return Record(r.step, r.start, r.end, r.path, r.kind, fields, text, r.ids, r.own_ids)


def _match_in(v: Specific, records: Sequence[Record], refund: bool | None = None) -> Match:
    """The first record holding `v`. With `refund` set, an amount must have the matching sign:
    a refund is stored negative (`"amount": -476`), a payment positive (`"amount": 786`)."""
    for r in records:
        span = r.indexed.find(v)
        if span is not None and (refund is None or v.kind != "money" or _is_negative(r.text, span) == refund):
            return Match(v, r, *span)
    return _count_match(v, records)


def _is_negative(text: str, span: tuple[int, int]) -> bool:
    before = text[max(0, span[0] - 40):span[0]]
    return text[span[0]:span[0] + 1] == "-" or before.rstrip().endswith("-") or "refund" in before.lower()


_LIST_ITEM = re.compile(r"([A-Za-z_]+)\[(\d+)\]")


def list_count(noun_stem: str, records: Sequence[Record]) -> tuple[int, Record | None]:
    """How many items the list named like `noun_stem` has in `records` (the largest such list):
    "passe" counts `passengers[0..2]` -> 3."""
    best: tuple[int, Record | None] = (0, None)
    for r in records:
        keys = [k for k, _ in r.fields] + [r.path]
        seen: dict[str, set[str]] = {}
        for k in keys:
            for m in _LIST_ITEM.finditer(k):
                if m.group(1).lower().startswith(noun_stem):
                    seen.setdefault(m.group(1), set()).add(m.group(2))
        for items in seen.values():
            if len(items) > best[0]:
                best = (len(items), r)
    # records that are themselves the items ("$.passengers[1]") count across the group
    paths: dict[str, set[str]] = {}
    for r in records:
        for m in _LIST_ITEM.finditer(r.path):
            if m.group(1).lower().startswith(noun_stem):
                paths.setdefault(f"{r.step}:{r.path[:m.start()]}{m.group(1)}", set()).add(m.group(2))
    for items in paths.values():
        if len(items) > best[0]:
            best = (len(items), next(r for r in records if _LIST_ITEM.search(r.path)))
    return best


def _count_match(v: Specific, records: Sequence[Record]) -> Match:
    """A count attached to a noun ("two passengers") holds when the list of that noun in the
    records has that many items."""
    if v.kind != "number" or not v.nouns or v.unit:
        return Match(v, None)
    try:
        want = int(Decimal(v.norm))
    except (InvalidOperation, ValueError):
        return Match(v, None)
    for noun in v.nouns:
        n, r = list_count(noun[:5], records)
        if n == want and r is not None:
            return Match(v, r, 0, 0)
    return Match(v, None)


def match_in_scope(values: Sequence[Specific], scope: Sequence[Record], goal: str = "") -> list[Match]:
    """Each value matched anywhere in `scope` (a write call's scope is one unit). With the
    `goal` text, an amount said to be refunded must be a refund in the evidence."""
    return [_match_in(v, scope, is_refund(v, goal) if goal else None) for v in values]


_REFUND_WORD = re.compile(r"(?i)\b(?:refund(?:ed|s)?|money back|credited back|paid back|returned to)\b")


def is_refund(v: Specific, goal: str) -> bool | None:
    """Is the amount `v` of `goal` a refund (True), a payment (False), or not money (None)?"""
    if v.kind != "money":
        return None
    window = goal[max(0, v.start - 40):v.end + 40]
    return bool(_REFUND_WORD.search(window))


def written_arguments(traj: Trajectory) -> tuple[str, ...]:
    """The arguments of the run's succeeded write calls, one text each: evidence of what it did."""
    return tuple(call_record(a).text for a in RunEvidence.of(traj).succeeded_writes)
