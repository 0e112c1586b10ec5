"""Qualifiers: the words of a clause that claim more than its values do.

"the cheapest", "only", "all seven", "no insurance", "leaves after 11am", "at most $100",
"even if I get no refund": each is checked by an explicit rule against the record or call the
clause is bound to, or the clause fails as unverifiable. A rule exists for:
- comparisons with a value ("after 11am", "before May 20", "under $300", "at least 3 bags"):
  the bound record or call must hold a value of the same kind on the right side of it (the
  compared value is a bound, not a value the record must contain);
- "no X" / "without X": a field of the bound call or record named like X is empty, no, none,
  false or 0 ("no insurance" -> `"insurance": "no"`);
- superlatives ("the cheapest", "the lowest MOQ", "the earliest"): the bound record is a list
  item whose field (price for cheap, the noun's field otherwise, times for early/late) is the
  extreme among its siblings, and the list was not announced as partial;
everything else (only, just, all, every, each, both, any, none, if, unless, so that, whether,
within, comparatives) is unverifiable.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Sequence

from .claims import _QUALIFIER, Clause, context_spans
from .values import Specific, _most_specific, _unit_hint_pattern, _units_compatible, extract_specifics

if TYPE_CHECKING:
    from .bind import Binding
    from .model import RunEvidence

_COMPARATORS = {
    "after": ">", "later than": ">", "no earlier than": ">=", "not before": ">=", "over": ">",
    "more than": ">", "above": ">", "greater than": ">", "larger than": ">", "higher than": ">",
    "greater than or equal to": ">=", "less than or equal to": "<=", "lower than": "<", "at least": ">=", "no less than": ">=", "minimum of": ">=",
    "before": "<", "earlier than": "<", "no later than": "<=", "not after": "<=", "under": "<",
    "less than": "<", "fewer than": "<", "below": "<", "at most": "<=", "no more than": "<=",
    "up to": "<=", "maximum of": "<=", "or less": "<=", "or fewer": "<=", "or more": ">=",
}
_CMP = re.compile(r"(?i)\b(" + "|".join(sorted((k for k in _COMPARATORS if not k.startswith("or ")), key=len,
                                               reverse=True)) + r")\s+(?:the\s+|a\s+|an\s+)?$")
_CMP_AFTER = re.compile(r"(?i)^\s*(or less|or fewer|or more)\b")
# lower-case only: "No Good" in a title is not a negation
_NO = re.compile(r"\b(?:[Nn]o|without(?: any)?)\s+((?:checked\s+|extra\s+|travel\s+)?[a-z]+(?:\s+(?:or|and|nor)\s+[a-z]+)*)")
_FALSY = frozenset(("", "no", "none", "false", "0", "null", "0.0", "[]", "n", "not"))
_SUPER = re.compile(r"(?i)\b(cheapest|least expensive|lowest|highest|longest|shortest|largest|smallest|"
                    r"earliest|latest|fewest|most|least|greatest|biggest|fastest|quickest|slowest)\b(?:\s+([a-z]+(?:\s+[a-z]+)?))?")
_CHEAP_FIELDS = re.compile(r"(?i)price|cost|fare|amount|total|rate|fee")
_TIME_FIELDS = re.compile(r"(?i)time|date|depart|start|at$")
_DURATION = re.compile(r"(?i)duration|travel_?time|total_?time|elapsed|minutes|hours")
_TOTAL_DURATION = re.compile(r"(?i)total_?(?:duration|travel_?time|time)")
_UNVERIFIABLE = ("only", "just", "all", "every", "each", "both", "any", "none", "either", "neither", "if",
                 "unless", "whether", "within", "so that", "instead of", "rather than", "even if", "only if",
                 "cheaper", "lower", "higher", "longer", "shorter", "larger", "smaller", "faster", "earlier",
                 "later", "best", "worst", "nearest", "closest", "newest", "oldest", "because", "since", "due to",
                 "besides", "apart from", "other than", "in order to", "a few", "a couple", "several", "some")


def comparison_bounds(c: Clause) -> tuple[list[Specific], list[tuple[str, Specific]]]:
    """Split a clause's values into those a record must hold and (operator, value) bounds.

    >>> from .claims import split_clauses
    >>> vals, bounds = comparison_bounds(split_clauses("Book HAT136 on May 20 leaving after 11am")[0])
    >>> [v.text for v in vals], [(op, b.text) for op, b in bounds]
    (['HAT136', 'May 20'], [('>', '11am')])
    """
    values, bounds = [], []
    goal_text = c.text
    for v in c.values:
        at = v.start - c.start
        before = goal_text[max(0, at - 30):at] if 0 <= at <= len(goal_text) else ""
        after = goal_text[at + len(v.text):at + len(v.text) + 12] if at >= 0 else ""
        m = _CMP.search(before)
        m2 = _CMP_AFTER.match(after)
        if m and v.kind in ("number", "money", "date", "time"):
            bounds.append((_COMPARATORS[m.group(1).lower()], v))
        elif m2 and v.kind in ("number", "money"):
            bounds.append((_COMPARATORS[m2.group(1).lower()], v))
        else:
            values.append(v)
    return values, bounds


def _fields(b: "Binding", ev: "RunEvidence") -> list[tuple[str, str]]:
    if b.call is not None:
        return [f for r in ev.call_scope(b.call) if r.step == b.call.step for f in r.fields]
    if b.record is not None:
        return list(b.record.fields) or [("text", b.record.text)]
    return []


def _as_number(text: str) -> Decimal | None:
    try:
        return Decimal(re.sub(r"[^\d.\-]", "", text) or "x")
    except InvalidOperation:
        return None


def _key_of(v: Specific) -> tuple | None:
    if v.kind == "time":
        return tuple(int(x) for x in v.norm[0].split(":"))
    if v.kind == "date":
        f = _most_specific(v.norm)
        return f[0] if f else None
    try:
        return (Decimal(v.norm),) if isinstance(v.norm, str) else None
    except InvalidOperation:
        return None


def _compare(op: str, a: tuple, b: tuple) -> bool:
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def bound_holds(op: str, bound: Specific, fields: list[tuple[str, str]]) -> bool:
    """Some value of the same kind (and a compatible unit) in `fields` stands on the right side
    of the bound, or the fields state the condition itself (code: `df['age'] > 30`).

    >>> from .values import extract_specifics
    >>> b = extract_specifics("under $5/kg")[0]
    >>> bound_holds("<", b, [("price", "4.90")]), bound_holds("<", b, [("text", "2.5 mm wire at $5.30/kg")])
    (True, False)
    """
    target = _key_of(bound)
    if target is None:
        return False
    numeric = ("money", "number")
    for key_name, val in fields:
        # code that states the condition: with its strictness ("at least 30" is `>= 30`, never `> 30`)
        stated = re.search(rf"([<>]=?)\s*{re.escape(bound.text.lstrip('$'))}(?![\d.])", val)
        if stated:
            if stated.group(1) == op:
                return True
            continue
        for e in extract_specifics(val):
            if e.kind != bound.kind and not (bound.kind in numeric and e.kind in numeric):
                continue
            if bound.kind in numeric and not _units_compatible(bound.unit, e.unit):
                continue
            measure = bound.unit.partition("/")[0]
            if bound.kind in numeric and measure and not e.unit and (
                    not _unit_hint_pattern(measure).search(key_name.lower())
                    or (measure != "usd" and _unit_hint_pattern("usd").search(key_name.lower()))):
                continue            # "under $5" is not met by the 3 of "Results 1-3", only by a price;
                                    # "below 100 kg" not by a "Price (USD/kg)" column
            key = _key_of(e)
            if key is None or len(key) != len(target):
                continue
            # a date bound without a year compares month and day only
            pairs = [(x, t) for x, t in zip(key, target) if t is not None and x is not None]
            if pairs and _compare(op, tuple(x for x, _ in pairs), tuple(t for _, t in pairs)):
                return True
    return False


def _no_rule(nouns: str, fields: list[tuple[str, str]]) -> bool | None:
    """True if, for each noun of "no bags or insurance", a field named like it is empty, no or 0;
    False if one has a value; None if some noun names no field."""
    for noun in re.split(r"\s+(?:or|and|nor)\s+", nouns.lower()):
        word = noun.split()[-1]
        stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
        stem = stem[:4] if len(stem) > 4 else stem
        hits = [(k, v) for k, v in fields if stem in k.lower()]
        if not hits:
            return None
        if not all(v.strip().lower() in _FALSY for _, v in hits):
            return False
    return True


def _superlative_holds(word: str, noun: str, b: "Binding", ev: "RunEvidence") -> bool:
    """Is the bound record the extreme, by the superlative's measure, of the records of its
    kind in the same tool output (the list the run saw)?"""
    r = b.record
    if r is None:
        return False
    w = word.lower()
    lowest = w in ("cheapest", "least expensive", "lowest", "shortest", "smallest", "earliest", "fewest", "least")
    stems: list[str] = []
    if w in ("cheapest", "least expensive"):
        pick, kinds = _CHEAP_FIELDS, ("money",)
    elif w in ("earliest", "latest"):
        pick, kinds = _TIME_FIELDS, ("time", "date")
    elif w in ("fastest", "quickest", "slowest"):
        # by a duration the records state; "counting layovers" needs a total that includes them
        lowest = w != "slowest"
        pick, kinds = (_TOTAL_DURATION if re.search(r"(?i)layover|stop|connection|wait", noun) else _DURATION), ("number", "time")
    else:
        stems = [x[:4] for x in re.findall(r"[a-z]+", noun.lower()) if len(x) > 2 and x not in ("one", "the")]
        if not stems:
            return False
        pick, kinds = re.compile("|".join(map(re.escape, stems)), re.I), ("number", "money")
    if r.fields:
        parent = r.path.rsplit("[", 1)[0]
        siblings = [x for x in ev.by_step.get(r.step, []) if x.kind == r.kind and x.path.endswith("]")
                    and x.path.rsplit("[", 1)[0] == parent and x.path.count("[") == r.path.count("[")]
        keys = [k for k, _ in r.fields if pick.search(k)]
        if kinds == ("number", "money") and stems:
            keys = [k for k in keys if all(st in k.lower() for st in stems)]
            exact = [k for k in keys if k.rsplit(".", 1)[-1].lower().startswith(stems[0])]
            keys = exact or keys
        if not keys or len(siblings) < 2:
            return False
        # the extreme by every field the measure names: "cheapest" over basic, economy and
        # business fares holds only for a flight cheapest in all three
        lows = []
        for key in keys:
            vals = {id(x): _as_number(dict(x.fields).get(key, "")) for x in siblings}
            if any(v is None for v in vals.values()) or vals.get(id(r)) is None:
                return False
            lows.append(vals[id(r)] == (min(vals.values()) if lowest else max(vals.values())))
        return all(lows)
    # text records (lines of a listing): the value of the measure each line states
    siblings = [x for x in ev.by_step.get(r.step, []) if not x.fields]

    def value(x) -> Decimal | None:
        for sp in extract_specifics(x.text):
            if sp.kind not in kinds:
                continue
            if kinds == ("money",) or kinds == ("time", "date"):
                key = _key_of(sp)
                return key[0] if key and len(key) == 1 else None
            near = x.text[max(0, sp.start - 12):sp.end + 12]
            if pick.search(near):
                return Decimal(sp.norm) if isinstance(sp.norm, str) else None
        return None

    mine = value(r)
    others = [v for v in (value(x) for x in siblings) if v is not None]
    if mine is None or len(others) < 2:
        return False
    return mine == (min(others) if lowest else max(others))


_WORD_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
# "all three of us", "both passengers", "just me": a count of the people a call or record holds.
_PEOPLE = re.compile(r"(?i)\b(?:(?:all\s+(?P<n>\w+)|(?P<both>both)|the\s+(?P<k>two|three|four|five|six|seven|eight|nine|\d))"
                     r"(?:\s+of)?\s+(?:us|them|(?:the\s+)?(?:passengers|travell?ers|guests|people))"
                     r"|(?:just|only)\s+(?:for\s+)?(?:me|myself))\b")
_PEOPLE_LISTS = ("passe", "trave", "guest", "peopl", "membe", "occup")


def _people_rule(text: str, records) -> tuple[str, str | None]:
    """(the text with each people-count phrase blanked, why one fails or None)."""
    from .model import list_count
    out = text
    for m in _PEOPLE.finditer(text):
        word = (m.group("n") or m.group("k") or "").lower()
        want = 2 if m.group("both") else (1 if not word else _WORD_NUM.get(word, int(word) if word.isdigit() else -1))
        have = max(list_count(p, records)[0] for p in _PEOPLE_LISTS)
        if have != want:
            return out, f"{m.group(0)!r}: the bound {'record' if records else 'clause'} lists {have} people, not {want}"
        out = out[:m.start()] + " " * (m.end() - m.start()) + out[m.end():]
    return out, None


def check_qualifiers(c: Clause, b: "Binding", bounds: Sequence[tuple[str, Specific]], ev: "RunEvidence") -> str | None:
    """None if every qualifier of the clause holds by a rule; else why not (one line)."""
    fields = _fields(b, ev)
    if b.call is not None:
        fields += [f for r in ev.call_scope(b.call) for f in r.fields]
    for op, bound in bounds:
        if not bound_holds(op, bound, fields):
            return f"{bound.text!r} as a bound ({op}) is not met by the bound {'call' if b.call else 'record'}"
    scope = (ev.call_scope(b.call) if b.call is not None else [b.record] if b.record is not None else [])
    text, why = _people_rule(_without_values(c), scope)
    if why:
        return why
    for m in _NO.finditer(text):
        ok = _no_rule(m.group(1), fields)
        if ok is None:
            return f"{m.group(0)!r}: no field of the bound {'call' if b.call else 'record'} says so"
        if not ok:
            return f"{m.group(0)!r}: the bound {'call' if b.call else 'record'} has a {m.group(1)!r} value"
        text = _blank(text, m.start(), m.end())
    for m in _SUPER.finditer(text):
        word = m.group(1).lower()
        if word in ("most", "least") and not m.group(2):
            continue
        measure = m.group(2) or ""
        if word in ("fastest", "quickest", "slowest"):
            measure = text[m.end(1):]             # "..., counting layover time": what it compares on
        if not _superlative_holds(word, measure, b, ev):
            return f"{m.group(0)!r}: no rule shows the bound record is the {word} of what the run saw"
        text = _blank(text, m.start(), m.start() + len(m.group(1)))
    plain = text.lower()
    for q in sorted(_UNVERIFIABLE, key=len, reverse=True):
        if re.search(rf"(?<![\w'-]){re.escape(q)}(?![\w'-])", plain):
            return f"{q!r}: no rule checks it against the run"
    # closed world: a qualifier no rule above decided (a comparator is decided with its bound)
    for op, bound in bounds:
        at = bound.start - c.start
        m = _CMP.search(text[max(0, at - 30):max(0, at)]) if at > 0 else None
        if m:
            text = _blank(text, max(0, at - 30) + m.start(), at)
        m2 = _CMP_AFTER.match(text[at + len(bound.text):]) if at >= 0 else None
        if m2:
            text = _blank(text, at + len(bound.text), at + len(bound.text) + m2.end())
    for left in _QUALIFIER.finditer(text):
        word = left.group()
        if word[:1].isupper() and text[:left.start()].strip():
            continue                # "No Good" in a title, not a negation
        if word.lower() in _COMPARATOR_WORDS and not _VALUE_NEXT.match(text, left.end()):
            continue                # "hand me over to", "after that": a preposition, not a bound
        return f"{word!r}: no rule checks it against the run"
    return None


# Comparators are qualifiers only before an amount, a count, a date or a time.
_COMPARATOR_WORDS = frozenset("over under before after within more less fewer at most least up to no earlier later "
                              "than".split()) | frozenset(_COMPARATORS)
_VALUE_NEXT = re.compile(r"(?i)\s+(?:than\s+)?(?:the\s+|a\s+)?(?:[$€£]?\d|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|"
                         r"noon|midnight|one|two|three|four|five|six|seven|eight|nine|ten)")


def _blank(text: str, a: int, b: int) -> str:
    return text[:a] + " " * (b - a) + text[b:]


def _without_values(c: Clause) -> str:
    """The clause with its values (names, titles) blanked: "Best Buy" and "What's Wrong With
    Secretary Kim" hold no qualifier; and its user context ("because my plans changed"), whose
    words evidence/accounting.py accounts for (a qualifier inside a reason stays unaccounted)."""
    chars = list(c.text)
    for v in c.values:
        a = v.start - c.start
        for i in range(max(0, a), min(len(chars), a + len(v.text))):
            chars[i] = " "
    for a, b in context_spans(c.text):
        chars[a:b] = " " * (b - a)
    return "".join(chars)
