"""Bind each clause of a goal to ONE call or ONE record of the run, and check the goal asks
for every write the run made. Deterministic: no model is asked here (stages/verify.py asks
the narrow questions for names this leaves open).

    bindings = bind_goal(goal, RunEvidence.of(traj), cfg)

Rules (each failing binding names the rule):
- `bound_call`: an action clause, all values in one succeeded write call's scope;
- `bound_record`: a lookup clause, all values in one record (with its id joins);
- `action_not_done`: an action clause whose verb matches no succeeded write (a failed call, a
  refusal, or no call at all) or whose values are only in failed calls;
- `mixed_records`: every value occurs in the run, but no one record (or call) holds them all;
- `unmatched`: a value no tool output (and no succeeded write) shows;
- `unverifiable`: a qualifier with no rule (evidence/qualifiers.py), or a lookup clause with
  no value to check and no model to ask;
- `unaccounted`: bound, but a word of the clause that no rule of evidence/accounting.py accounts
  for (closed world: "prosecco" next to a bound "absinthe"); a narrow question may still decide
  it (stages/verify.py);
- `context`: a clause that is user context only ("I live near Princeton"): it claims nothing;
- `omits_write`: a succeeded write whose target no clause asks for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from .accounting import Accounting, account_clause, standalone_context, stem
from .actions import Action, name_words
from .values import paths_in
from .claims import Clause, asked_missing, call_matches_verb, context_spans, families_of, split_clauses
from .model import Match, RunEvidence, call_record, match_in_scope
from .qualifiers import bound_holds, check_qualifiers, comparison_bounds
from .records import Record
from .values import Specific

NARROW_KINDS = ("entity", "code")   # codes only when they hold no digit ("SEA", not "DL2210")


def is_narrow(s: Specific) -> bool:
    """May a model decide this value? Names and letter codes yes; numbers, dates, ids, and names
    that hold a number ("the 2015 French Open") never.

    >>> from .values import extract_specifics
    >>> [is_narrow(x) for x in extract_specifics("Fly DL2210 from Boston (SEA) for $5")]
    [False, True, True, False]
    """
    return s.kind in NARROW_KINDS and not any(ch.isdigit() for ch in s.text)


@dataclass(frozen=True)
class Binding:
    clause: Clause
    holds: bool
    rule: str
    detail: str
    call: Action | None = None
    record: Record | None = None
    matches: tuple[Match, ...] = ()
    open_names: tuple[Specific, ...] = ()     # unmatched names a narrow question may still decide
    accounting: Accounting | None = None      # how each word of the clause was accounted for

    @property
    def open_words(self) -> tuple[str, ...]:
        """The words a narrow question must decide: unmatched names and unaccounted words."""
        words = [s.text for s in self.open_names]
        if self.accounting is not None and (self.rule == "unaccounted" or self.open_names):
            words += [w.text for w in self.accounting.unaccounted if not any(w.text in n for n in words)]
        return tuple(words)

    @property
    def bound_to(self) -> dict[str, Any] | None:
        if self.call is not None:
            return {"call": self.call.name, "step": self.call.step, "status": self.call.status}
        if self.record is not None:
            return {"record": self.record.path, "step": self.record.step,
                    "span": [self.record.start, self.record.end]}
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"clause": self.clause.text, "type": self.clause.kind, "verb": self.clause.verb,
                "holds": self.holds, "rule": self.rule, "detail": self.detail, "bound_to": self.bound_to,
                "values": [m.to_dict() for m in self.matches],
                "open_names": [s.text for s in self.open_names],
                "words": self.accounting.to_list() if self.accounting is not None else []}


def _call_families(a: Action) -> list[str]:
    words = name_words(a.name) + [a.verb]
    if a.verb in ("shell", "create", "str_replace", "insert", "edit", "write", "append", "undo_edit"):
        words += ["update", "create"]       # a file write carries out "make", "fix", "add", "back up"
    return words


def _missing_text(ms: Sequence[Match]) -> str:
    return ", ".join(repr(m.value.text) for m in ms if not m.found)


def _elsewhere(ev: RunEvidence, values: Sequence[Specific]) -> bool:
    """Does every value occur in some record of the run (just not together)?"""
    return all(ev.find_record([v], join=False)[1] is not None for v in values)


# Values a call's result may supply by itself: what the system computed (an amount charged or
# refunded) or created (the new reservation's id). Anything else that describes the change
# (cabin, flights, passengers, bags, payment, file content) must be in the arguments.
_RESULT_KINDS = ("money", "code")


def match_call(values: Sequence[Specific], a: Action, ev: RunEvidence, goal: str = "") -> list[Match]:
    """Each value matched in what the write `a` did (evidence/model.py `call_scope`), its result
    supplying only `_RESULT_KINDS`; else in the object it changed as the run read it before
    (fields the call did not set: "my one-way ATL→PHL reservation"), or, after "from", the old
    value of a field it set ("from business to economy")."""
    scope = ev.call_scope(a)
    args = [r for r in scope if r.kind == "call" or r.step != a.step]
    out = []
    for v, m in zip(values, match_in_scope(values, scope, goal)):
        if m.found and m.record.step == a.step and m.record.kind != "call" and v.kind not in _RESULT_KINDS:
            m = match_in_scope([v], args, goal)[0]
        if not m.found:
            m = match_in_scope([v], ev.before_state(a), goal)[0]
        if not m.found and re.search(r"(?i)\bfrom\s+(?:the\s+|my\s+)?$", goal[max(0, v.start - 12):v.start]):
            m = match_in_scope([v], ev.before_state(a, changed=True), goal)[0]
        out.append(m)
    return out


def bind_action(c: Clause, ev: RunEvidence, values: Sequence[Specific], goal: str = "",
                used: frozenset[int] = frozenset()) -> Binding:
    """Bind to ONE succeeded write matching the verb and holding every value; among several,
    the one whose name shares most words with the clause ("update reservation baggages"),
    then one no other clause is bound to yet."""
    cands = [a for a in ev.writes if call_matches_verb(_call_families(a), c.verb)]
    words = {w.rstrip("s") for w in re.findall(r"[a-z]+", c.text.lower())}
    done = sorted((a for a in cands if a.succeeded),
                  key=lambda a: (-len(words & {w.rstrip("s") for w in name_words(a.name)}), a.step in used, a.step))
    best: tuple[int, Action | None, list[Match]] = (-1, None, [])
    for a in done:
        ms = match_call(values, a, ev, goal)
        n = sum(m.found for m in ms)
        if n > best[0]:
            best = (n, a, ms)
        if n == len(values):
            return Binding(c, True, "bound_call", f"{a.name} at step {a.step} succeeded and holds "
                           f"{len(values)} value(s) of the clause", a, None, tuple(ms))
    if not done:
        failed = [a for a in cands if not a.succeeded]
        if failed:
            a = failed[-1]
            return Binding(c, False, "action_not_done", f"the {a.name} call at step {a.step} {a.status}: "
                           f"{a.result.strip()[:120]!r}", a)
        fams = "/".join(families_of(c.verb))
        return Binding(c, False, "action_not_done", f"no {fams} call for {c.verb!r} succeeded in the run")
    n, a, ms = best
    missing = [m for m in ms if not m.found]
    if all(is_narrow(m.value) for m in missing):
        return Binding(c, False, "unmatched", f"{_missing_text(ms)} not in the {a.name} call at step {a.step}",
                       a, None, tuple(ms), tuple(m.value for m in missing))
    failed_hit = [f for f in cands if not f.succeeded and all(m.found for m in match_in_scope(
        [m.value for m in missing], [call_record(f), *ev.by_step.get(f.step, [])]))]
    if failed_hit:
        return Binding(c, False, "action_not_done", f"{_missing_text(ms)} only in the {failed_hit[0].name} call at "
                       f"step {failed_hit[0].step}, which {failed_hit[0].status}", failed_hit[0], None, tuple(ms))
    rule = "mixed_records" if _elsewhere(ev, [m.value for m in missing]) else "unmatched"
    where = "occur elsewhere in the run, not in" if rule == "mixed_records" else "not in"
    return Binding(c, False, rule, f"{_missing_text(ms)} {where} the {a.name} call at step {a.step}", a, None, tuple(ms))


def bind_lookup(c: Clause, ev: RunEvidence, values: Sequence[Specific],
                check: Callable[[Binding], str | None] = lambda b: None) -> Binding:
    """Bind to the first record that holds every value and passes `check` (the clause's
    qualifiers and what it asks for); the first failure is reported if none passes."""
    if not values:
        return Binding(c, False, "unverifiable", "the clause names no value to find in a record")
    first_failure: Binding | None = None
    for ms, r in ev.full_matches(values):
        b = Binding(c, True, "bound_record", f"all {len(values)} value(s) in one record ({r.path}) of step {r.step}",
                    None, r, tuple(ms))
        why = check(b)
        if why is None:
            return b
        if first_failure is None:
            first_failure = Binding(c, False, "unverifiable", why, None, r, tuple(ms))
    if first_failure is not None:
        return first_failure
    ms, r = ev.find_record(values)
    missing = [m for m in ms if not m.found]
    if r is not None and all(is_narrow(m.value) for m in missing) and len(missing) < len(ms):
        return Binding(c, False, "unmatched", f"{_missing_text(ms)} not in record {r.path} of step {r.step}",
                       None, r, tuple(ms), tuple(m.value for m in missing))
    if len(missing) < len(ms) and _elsewhere(ev, [m.value for m in missing]):
        return Binding(c, False, "mixed_records", f"{_missing_text(ms)} occur in the run, but not in the record "
                       f"({r.path}, step {r.step}) that holds the rest" if r else "no record holds them together",
                       None, r, tuple(ms))
    if missing and all(is_narrow(m.value) for m in missing):
        return Binding(c, False, "unmatched", f"{_missing_text(ms)} in no record", None, r, tuple(ms),
                       tuple(m.value for m in missing))
    return Binding(c, False, "unmatched", f"{_missing_text(ms)} in no tool output", None, r, tuple(ms))


def bind_bounds(c: Clause, ev: RunEvidence, bounds, check: Callable[[Binding], str | None]) -> Binding:
    """A clause whose only values are bounds ("suppliers under $5/kg with an MOQ below 100 kg"):
    bound to the first record that meets every bound (and passes `check`)."""
    for r in ev.records:
        fields = list(r.fields) or [("text", r.text)]
        if all(bound_holds(op, v, fields) for op, v in bounds):
            b = Binding(c, True, "bound_record", f"record {r.path} of step {r.step} meets every bound", None, r)
            if check(b) is None:
                return b
    said = ", ".join(f"{op} {v.text}" for op, v in bounds)
    return Binding(c, False, "unmatched", f"no record meets every bound ({said})")


def bind_goal(goal: str, ev: RunEvidence, require_all_writes: bool = True) -> list[Binding]:
    """One binding per clause, then one per succeeded write the goal leaves out.

    Two clauses of one sentence share what they are about: a clause with no value of its own
    ("tell me the cabin class" after "for my reservation 4OG6T3") is bound to the record or
    call its neighbour is bound to, and an action clause whose verb no call carries out
    ("and refund the difference to my gift card") may be a consequence of the call another
    clause is bound to, if every value it names is in that call.
    """
    clauses = split_clauses(goal)
    parts = [comparison_bounds(c) for c in clauses]
    out: list[Binding | None] = [None] * len(clauses)
    used: set[int] = set()
    for i, c in enumerate(clauses):
        values = parts[i][0]
        ctx = standalone_context(c)
        if ctx is not None:
            out[i] = Binding(c, True, "context", "user context: it claims nothing about the run", accounting=ctx)
        elif c.kind == "action":
            out[i] = bind_action(c, ev, values, goal, frozenset(used))
            if out[i].holds and out[i].call is not None:
                used.add(out[i].call.step)
        elif values:
            out[i] = bind_lookup(c, ev, values, lambda b, i=i: _check(b, parts[i][1], ev))
        elif parts[i][1]:
            out[i] = bind_bounds(c, ev, parts[i][1], lambda b, i=i: _check(b, parts[i][1], ev))
    bound_calls = [b.call for b in out if b is not None and b.holds and b.call is not None]
    for i, c in enumerate(clauses):
        b = out[i]
        # only a payment can be a consequence of another write (the refund of a rebooking);
        # "enable roaming" is a call of its own or not done
        if c.kind == "action" and b is not None and not b.holds and not b.open_names and "pay" in families_of(c.verb):
            for a in bound_calls:
                ms = match_in_scope(parts[i][0], ev.call_scope(a), goal)
                if all(m.found for m in ms) and parts[i][0]:
                    out[i] = Binding(c, True, "bound_call", f"a consequence of the {a.name} call at step {a.step}, "
                                     f"which holds its {len(ms)} value(s)", a, None, tuple(ms))
                    break
        if out[i] is None:
            out[i] = _inherit(c, i, clauses, out, ev)
    final: list[Binding] = []
    for i, c in enumerate(clauses):
        b = out[i]
        assert b is not None
        wrong = _attribute_mismatch(goal, b.matches) if b.holds else None
        if wrong:
            b = Binding(c, False, "mixed_records", wrong, b.call, b.record, b.matches)
        if (b.holds or b.open_names) and not (c.kind == "lookup" and b.rule == "bound_record" and c.values):
            q = _check(b, parts[i][1], ev)
            if q is not None:
                b = Binding(c, False, "unverifiable", q, b.call, b.record, b.matches)
        final.append(_accounted(b, ev, tuple(v.text for _, v in parts[i][1])))
    if require_all_writes:
        final += _omitted_writes(goal, ev, final)
    return final


def _accounted(b: Binding, ev: RunEvidence, bound_texts: tuple[str, ...]) -> Binding:
    """The binding with its word accounting; a bound clause with a word no rule accounts for
    no longer holds by itself (a narrow question may decide it), and one a rule decided
    against ("my existing reservation" for a new booking) fails."""
    if b.accounting is not None or (b.record is None and b.call is None):
        return b
    acc = account_clause(b, ev, bound_texts)
    if b.holds and acc.failure:
        rule, why = acc.failure
        return replace(b, holds=False, rule=rule, detail=why, accounting=acc)
    if b.holds and acc.unaccounted and b.call is not None:
        failed = _failed_with(b.call, [w.text for w in acc.unaccounted], ev)
        if failed is not None:
            return replace(b, holds=False, rule="action_not_done", accounting=acc,
                           detail=f"{', '.join(repr(w.text) for w in acc.unaccounted)}: only in the arguments of the "
                                  f"{failed.name} call at step {failed.step}, which {failed.status}; the one that "
                                  f"succeeded (step {b.call.step}) did otherwise")
    if b.holds and acc.unaccounted:
        what = f"the {b.call.name} call at step {b.call.step}" if b.call is not None else \
            f"record {b.record.path} of step {b.record.step}"
        words = ", ".join(repr(w.text) for w in acc.unaccounted)
        return replace(b, holds=False, rule="unaccounted", detail=f"{words}: no rule accounts for it in {what}",
                       accounting=acc)
    return replace(b, accounting=acc)


def _failed_with(call: Action, words: Sequence[str], ev: RunEvidence) -> Action | None:
    """A failed call of the same tool whose arguments hold one of `words` ("business" of the
    failed upgrades beside the economy update that succeeded)."""
    stems = {stem(w) for w in words}
    for f in ev.writes:
        if f.name == call.name and not f.succeeded:
            held = {stem(w) for _, v in call_record(f).fields for w in re.findall(r"[A-Za-z]{2,}", v)}
            if stems & held:
                return f
    return None


# "activated on 2025-01-10", "born in 1955": a participle that says what a date or amount is.
_PARTICIPLE = re.compile(r"(?i)\b([a-z]{3,}ed)\s+(?:on|in|at|for|by|since|until)?\s*$")


def _attribute_mismatch(goal: str, ms: Sequence[Match]) -> str | None:
    """A date, time or amount the goal calls 'activated', 'born', 'due' ... must stand next to
    that word (or a key with its stem) in the record it was found in: the plan-change date of
    a line is not its phone's activation date."""
    for m in ms:
        if not m.found or m.value.kind not in ("date", "time", "money") or m.start < 0:
            continue
        p = _PARTICIPLE.search(goal[max(0, m.value.start - 30):m.value.start])
        if not p:
            continue
        stem = p.group(1).lower()[:-2][:5]
        window = m.record.text[max(0, m.start - 60):m.end + 20].lower()
        if stem not in window:
            return f"{m.value.text!r} is {p.group(1)!r} in the goal, but its record says otherwise: {window.strip()!r}"
    return None


def _check(b: Binding, bounds, ev: RunEvidence) -> str | None:
    """Why a binding's qualifiers or its question fail on what it is bound to (None: they hold)."""
    q = check_qualifiers(b.clause, b, bounds, ev)
    if q is None and b.clause.kind == "lookup":
        missing = asked_missing(b.clause, _group_texts(b, ev))
        q = f"asks for {missing}" if missing else None
    return q


def _group_texts(b: Binding, ev: RunEvidence) -> list[str]:
    if b.record is not None:
        return [r.text for r in ev.group(b.record)]
    if b.call is not None:
        return [r.text for r in ev.call_scope(b.call)]
    return []


def _inherit(c: Clause, i: int, clauses: Sequence[Clause], out: Sequence[Binding | None], ev: RunEvidence) -> Binding:
    """A lookup clause with no value: bound to what a neighbour of its sentence is bound to."""
    order = list(range(i - 1, -1, -1)) + list(range(i + 1, len(clauses)))
    for j in order:
        n = out[j]
        if clauses[j].sentence != c.sentence or n is None or not n.holds:
            continue
        if n.record is not None or n.call is not None:
            what = n.record.path if n.record is not None else f"the {n.call.name} call"
            return Binding(c, True, "bound_record" if n.record is not None else "bound_call",
                           f"about what {clauses[j].text[:40]!r} is bound to ({what}, step "
                           f"{(n.record or n.call).step})", n.call, n.record)
    return Binding(c, False, "unverifiable", "the clause names no value to find in a record, and no clause "
                   "of its sentence is bound to one")


def _omitted_writes(goal: str, ev: RunEvidence, bindings: Sequence[Binding]) -> list[Binding]:
    """A succeeded write whose target no clause is bound to, and whose file the goal never names."""
    # a clause bound to the call covers it, also while a narrow question has still to decide its words
    covered = {b.call.target for b in bindings if b.call is not None and b.call.succeeded and (b.holds or b.open_words)}
    named = {p.rsplit("/", 1)[-1] for p in paths_in(goal)}
    out = []
    for a in ev.succeeded_writes:
        if a.target in covered:
            continue
        if "/" in a.target or "." in a.target.rsplit("/", 1)[-1]:
            if a.target.rsplit("/", 1)[-1] in named:
                continue
        c = Clause(f"{a.name} at step {a.step}", -1, "write", "", ())
        out.append(Binding(c, False, "omits_write", f"the run's {a.name} call at step {a.step} succeeded "
                           f"(target {a.target}); the goal does not ask for it", a))
    return out
