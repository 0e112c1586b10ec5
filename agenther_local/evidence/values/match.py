"""Matching: where a goal's specific occurs in one evidence text, both sides normalised.

`IndexedText` extracts and folds an evidence text once so many specifics can be looked up;
numbers must agree in value and unit (a bare evidence number grounds an amount with a unit only
if its context says so), small counts attached to a noun are found next to that noun, names
also match first_name/last_name pairs and a city the codes tools write for it (data/places.toml).
"""
from __future__ import annotations

import functools
import json
import re
from decimal import Decimal

from .dates import _date_fields, _most_specific, _supports
from .extract import _extract, extract_specifics  # noqa: F401 - extract_specifics: find_in_text's doctest
from .normalise import _fold, _units_compatible, norm_code, norm_name
from .vocab import _CURRENCY_CODES, _NAME_KEYS, CURRENCIES, UNITS, Specific

# A bare integer up to this value, attached to a noun ("3 bags"), must be found next to that
# noun in the evidence: tool outputs are full of small integers (seat counts, prices), so the
# bare value alone would ground almost any perturbation of a count.
SMALL_COUNT_MAX = 20
# How far around an evidence number the noun may stand: covers a JSON key ("total_baggages": 3)
# and a heading ("Bags: 3"), not the neighbouring record.
CONTEXT_BEFORE, CONTEXT_AFTER = 60, 25


def _phrase_pattern(phrase: str) -> re.Pattern:
    """Folded phrase -> regex allowing any run of spaces, '-' or '_' between its words."""
    toks = [t for t in re.split(r"[\s_-]+", phrase) if t]
    body = r"[\s_-]+".join(re.escape(t) for t in toks)
    pre = r"(?<![^\W_])" if toks and toks[0][:1].isalnum() else ""
    post = r"(?![^\W_])" if toks and toks[-1][-1:].isalnum() else ""
    return re.compile(pre + body + post)


class IndexedText:
    """One evidence text, extracted and folded once, so many specifics can be looked up."""

    def __init__(self, text: str):
        self.text = text
        self.folded = _fold(text)
        self.specifics = _extract(text, text_kinds=False)
        self.names = _name_pairs(text)
        # The folded text with every number (and the unit written with it) blanked: a unit
        # word left here is not another number's ("1,000 kg" does not make a bare 5 a weight).
        masked = bytearray(self.folded, "utf-32-le")
        for e in self.specifics:
            if e.kind in ("number", "money"):
                masked[4 * e.start:4 * e.end] = " ".encode("utf-32-le") * (e.end - e.start)
        self.unit_words = masked.decode("utf-32-le")
        # A text that is one number and nothing else (a calculator's "255.0").
        nums = [e for e in self.specifics if e.kind in ("number", "money")]
        self.lone_number = nums[0] if len(nums) == 1 and not re.search(
            r"[^\W_]", text[:nums[0].start] + text[nums[0].end:]) else None

    def find(self, s: Specific) -> tuple[int, int] | None:
        """Span in this text where `s` occurs after normalisation, or None."""
        if s.kind in ("number", "money"):
            return self._find_number(s)
        if s.kind == "date":
            goal = _most_specific(s.norm)
            for e in self.specifics:
                if e.kind == "date" and any(_supports(g, _date_fields(r)) for g in goal for r in e.norm):
                    return e.start, e.end
            return None
        if s.kind == "time":
            return next(((e.start, e.end) for e in self.specifics
                         if e.kind == "time" and set(s.norm) & set(e.norm)), None)
        if s.kind == "url":
            for e in self.specifics:
                if e.kind == "url" and (e.norm == s.norm or re.match(re.escape(s.norm) + r"[/?#]", e.norm)):
                    return e.start, e.end
        if s.kind == "code":
            for e in self.specifics:
                if e.kind == "code" and e.norm == s.norm:
                    return e.start, e.end
            return self._search(norm_code(s.text).lower())
        if s.kind == "entity":
            for name, start, end in self.names:
                if name == " ".join(re.split(r"[\s_-]+", s.norm)):
                    return start, end
            for code in place_codes(s.norm):        # "Seattle" is "SEA" in a flight record
                for e in self.specifics:
                    if e.kind == "code" and e.norm == code:
                        return e.start, e.end
        return self._search(s.norm if isinstance(s.norm, str) else s.text.lower())

    def _search(self, folded_phrase: str) -> tuple[int, int] | None:
        m = _phrase_pattern(folded_phrase).search(self.folded)
        if not m and not folded_phrase.isascii():       # JSON escapes non-ASCII: "\u00e9"
            escaped = json.dumps(folded_phrase)[1:-1].lower()
            i = self.folded.find(escaped)
            return (i, i + len(escaped)) if i >= 0 else None
        return (m.start(), m.end()) if m else None

    def _find_number(self, s: Specific) -> tuple[int, int] | None:
        value = Decimal(s.norm)
        for e in self.specifics:
            if e.kind == "date" and not s.unit and 1900 <= value <= 2100 \
                    and any(_date_fields(r)[0] == value for r in e.norm):
                return e.start, e.end               # "in 2024" vs "2024-05-23"
            if e.kind not in ("number", "money"):
                continue
            # subtle: a refund is stored as a negative payment ('"amount": -2544' for "refund
            # the $2,544"), so an amount of money matches its negation too
            if Decimal(e.norm) != value and not (s.kind == "money" and Decimal(e.norm) == -value):
                continue
            if not _units_compatible(s.unit, e.unit):
                continue
            if s.unit.partition("/")[0] and not e.unit and not self._unit_hinted(s, e):
                continue                            # "$5" is not the 5 of "rated 4.5/5"
            if _needs_context(s) and not self._near_noun(s, e):
                continue
            return e.start, e.end
        return None

    def _unit_hinted(self, s: Specific, e: Specific) -> bool:
        """May a bare evidence number stand for the goal's amount with a unit?

        Yes when the observation is nothing but that number (a calculator), or when the unit,
        or for money a money word, stands nearby: '"price": 152' grounds '$152',
        '"moq_kg": 10' grounds '10kg'; 'rated 4.5/5' does not ground '$5', and '10 years'
        (another noun) does not ground '10kg'.
        """
        if e.nouns:
            return False
        if e is self.lone_number:
            return True
        window = self.unit_words[max(0, e.start - CONTEXT_BEFORE):e.end + CONTEXT_AFTER]
        pattern = _unit_hint_pattern(s.unit.partition("/")[0])
        if pattern.search(window):
            return True
        header = self._table_header_cell(e.start)
        return bool(header and pattern.search(header.lower()))

    def _table_header_cell(self, pos: int) -> str | None:
        """The header cell above a pipe-table cell: '| Price (USD/kg) |' for '| 4.90 |'."""
        text = self.text
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start: line_end if line_end >= 0 else len(text)]
        if line.count("|") < 2:
            return None
        col = text[line_start:pos].count("|")
        lines = text[:line_start].split("\n")[:-1]
        block = []
        for prev in reversed(lines):
            if prev.count("|") < 2:
                break
            block.append(prev)
        for prev in reversed(block):          # the first line of the table is its header
            if re.fullmatch(r"[\s|:\-]+", prev):
                continue
            cells = prev.split("|")
            return cells[col] if col < len(cells) else None
        return None

    def _near_noun(self, s: Specific, e: Specific) -> bool:
        if set(s.nouns) & set(e.nouns):
            return True
        window = self.folded[max(0, e.start - CONTEXT_BEFORE):e.end + CONTEXT_AFTER]
        return any(n in window for n in s.nouns)


_MONEY_WORDS = ("price", "prices", "cost", "costs", "amount", "fee", "fees", "fare", "total",
                "paid", "pay", "payment", "refund", "balance", "charge", "budget", "spent",
                "revenue", "income", "sales", "salary", "value", "worth", "saved", "savings",
                "deposit", "bill", "rent", "tax", "close", "open", "high", "low", "currency")
_QUANTITY_WORDS = {"%": ("rate", "discount", "share"), "kg": ("weight", "moq", "quantity", "qty")}


@functools.lru_cache(maxsize=None)
def _unit_hint_pattern(measure: str) -> re.Pattern:
    """Words that say a bare number is in `measure`: its aliases (and money words for money)."""
    words = [k for k, v in {**UNITS, **CURRENCIES}.items() if v == measure]
    words += list(_MONEY_WORDS if measure in _CURRENCY_CODES else _QUANTITY_WORDS.get(measure, ()))
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z])(?:{alt})(?![a-z])" if alt else r"(?!)")


@functools.lru_cache(maxsize=1)
def _places() -> dict[str, tuple[str, ...]]:
    import tomllib
    from importlib import resources
    data = tomllib.loads(resources.files("agenther_local").joinpath("data/places.toml").read_text(encoding="utf-8"))
    return {norm_name(k): tuple(v) for k, v in data.get("airports", {}).items()}


def place_codes(name: str) -> tuple[str, ...]:
    """The codes tools write for a city (data/places.toml).

    >>> place_codes("Seattle"), place_codes("new  york")[:2], place_codes("Springfield")
    (('SEA',), ('JFK', 'LGA'), ())
    """
    return _places().get(norm_name(name), ())


def _needs_context(s: Specific) -> bool:
    """A small count attached to a noun ('3 bags') is checked next to that noun."""
    if s.kind != "number" or s.unit.partition("/")[0] or not s.nouns:
        return False
    v = Decimal(s.norm)
    return v == v.to_integral() and 0 <= v <= SMALL_COUNT_MAX


_KV = re.compile(r"""["'](?P<key>\w+)["']\s*:\s*["'](?P<val>[^"'\n]{1,80})["']""")


def _name_pairs(text: str) -> list[tuple[str, int, int]]:
    """Names held in split fields, joined: {"first_name": "Mia", "last_name": "Li"} -> 'mia li'.

    Pairs are taken within one JSON-like object (no brace between the two fields).
    """
    if ":" not in text:
        return []
    kvs = [m for m in _KV.finditer(text)]
    out = []
    for first_key, last_key in _NAME_KEYS:
        firsts = [m for m in kvs if m.group("key") == first_key]
        lasts = [m for m in kvs if m.group("key") == last_key]
        for f in firsts:
            near = [l for l in lasts if abs(l.start() - f.start()) < 400 and not re.search(
                r"[{}]", text[min(f.end(), l.end()):max(f.start(), l.start())])]
            if near:
                l = min(near, key=lambda l: abs(l.start() - f.start()))
                start, end = min(f.start("val"), l.start("val")), max(f.end("val"), l.end("val"))
                out.append((norm_name(f.group("val") + " " + l.group("val")), start, end))
    return out


def find_in_text(specific: Specific, text: str) -> tuple[int, int] | None:
    """Where `specific` occurs in `text`, both sides normalised; None if it does not.

    >>> s = extract_specifics("flight on May 20")[0]
    >>> find_in_text(s, '{"date": "2024-05-20"}')
    (10, 20)
    >>> find_in_text(extract_specifics("passenger Mia Li")[0], '{"first_name": "Mia", "last_name": "Li"}')
    (16, 38)
    """
    return IndexedText(text).find(specific)
