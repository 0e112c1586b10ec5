"""Numbers, amounts of money and units in text: the number scanner and what follows a number.

"$5.30/kg" is 5.3 with unit usd/kg, "$5k" is 5000, "3 checked bags" is 3 with nouns
("check", "bag"); request shapes ("top 3"), ordinals ("23rd") and digits inside codes are not
numbers; spelled-out counts two..twelve count only when a noun follows ("two bags").
"""
from __future__ import annotations

import re

from .normalise import _canon, _stem, _to_decimal
from .vocab import _CURRENCY_CODES, _FUNCTION_WORDS, _MAGNITUDES, CURRENCIES, NUMBER_WORDS, UNITS, Specific

_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−](?=[$€£¥₹\d.]))?"
    r"(?:(?P<sym>US\$|C\$|A\$|[$€£¥₹])\s?|(?P<cur>USD|EUR|GBP|JPY|INR|CAD|AUD|CHF|CNY)\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+,\d{2}(?=\s?(?:€|EUR\b|euros?\b))|\d+(?:\.\d+)?|\.\d+)")
_NUMBER_WORD = re.compile(rf"(?<![\w-])(?i:{'|'.join(NUMBER_WORDS)})(?![\w-])")

_MAG_SUFFIX = re.compile(r"\s?(k|K|M|mn|B|bn)(?![A-Za-z])")         # only after a currency
_MAG_WORD = re.compile(r"\s(thousand|million|billion)\b")
_UNIT_AFTER = re.compile(r"[ \t]?-?[ \t]?(%|°[CF]|[€£¥₹]|[A-Za-z]+\b)")
_PER = re.compile(r"[ \t]*(/|per[ \t]+|an?[ \t]+)[ \t]*([A-Za-z]+)\b")
_NOUN = re.compile(r"(?:[ \t]+-?[ \t]*|-)([A-Za-z][a-z'’]*)")


def _tail(text: str, pos: int, has_currency: bool):
    """Parse what follows a number: (multiplier, measure, per, nouns, end) or None to drop it.

    "10kg" -> measure kg; "5.30/kg" -> per kg; "$5k" -> x1000; "3 checked bags" -> nouns
    ("check", "bag"); "23rd" (an ordinal) and "4WQ150" (part of a code) -> None.
    """
    if text[pos:pos + 1] == "." and text[pos + 1:pos + 2].isdigit():
        return None                                     # 3.10.2
    attached = re.compile(r"[A-Za-z_]+").match(text, pos)
    if attached:
        a = attached.group()
        if not (a.lower() in UNITS or a.lower() in CURRENCIES
                or (has_currency and a in ("k", "K", "M", "B", "bn", "mn"))):
            return None
    mult, measure, per, nouns = 1, "", "", ()
    mag = (has_currency and _MAG_SUFFIX.match(text, pos)) or _MAG_WORD.match(text, pos)
    if mag:
        mult, pos = _MAGNITUDES[mag.group(1).lower()], mag.end()
    u = _UNIT_AFTER.match(text, pos)
    if u:
        tok = u.group(1)
        low = tok.lower()
        # one-letter units ("5m", "10g") only when attached and lower-case: "5 m" may be anything
        single = len(low) == 1 and low.isalpha()
        if low in UNITS and not (single and (u.group()[0] in " \t-" or tok.isupper())):
            measure, pos = UNITS[low], u.end()
        elif low in CURRENCIES:
            measure, pos = CURRENCIES[low], u.end()
    p = _PER.match(text, pos)
    if p and (p.group(1).strip() in ("/", "per") or p.group(2).lower() in UNITS):
        per, pos = UNITS.get(p.group(2).lower()) or _stem(p.group(2)), p.end()
    if not measure and not per:
        words, q = [], pos
        while len(words) < 2:
            w = _NOUN.match(text, q)
            if not w or w.group(1).lower() in _FUNCTION_WORDS:
                break
            words.append(_stem(w.group(1)))
            q = w.end()
        nouns = tuple(words)
    return mult, measure, per, nouns, pos


def _scan_numbers(text: str):
    for m in _NUMBER.finditer(text):
        sym = m.group("sym") or m.group("cur")
        currency = CURRENCIES.get(sym.lower()) if sym else ""
        end = m.end()
        digits = m.group("num")
        if currency == "eur" and "," not in digits and "." not in digits:
            dc = re.compile(r",\d{2}(?!\d)").match(text, end)       # €3,50
            if dc:
                digits, end = digits + dc.group(), dc.end()
        tail = _tail(text, end, bool(currency))
        if tail is None:
            continue
        mult, measure, per, nouns, _ = tail
        value = _to_decimal(digits) * mult * (-1 if m.group("sign") else 1)
        measure = currency or measure
        unit = measure + ("/" + per if per else "")
        if (not unit and value == value.to_integral() and 0 <= value <= 10
                and re.search(r"\b(?:top|first|last|next|best|worst|bottom)\s+$",
                              text[max(0, m.start() - 8):m.start()], re.I)):
            continue                # "top 3": the shape of a request, not a fact about the run
        kind = "money" if measure in _CURRENCY_CODES else "number"
        span_end = tail[4] if (measure or per) else end
        yield Specific(kind, text[m.start():span_end], _canon(value), m.start(), span_end,
                       unit, nouns)
    # Spelled-out counts only when attached to a noun or unit: "two bags", not "the two of us".
    for m in _NUMBER_WORD.finditer(text):
        if not re.match(r"[ \t]+[A-Za-z]", text[m.end():m.end() + 2]):
            continue
        tail = _tail(text, m.end(), False)
        if tail is None or not (tail[1] or tail[2] or tail[3]):
            continue
        mult, measure, per, nouns, _ = tail
        yield Specific("number", m.group(), str(NUMBER_WORDS[m.group().lower()]), m.start(),
                       m.end(), measure + ("/" + per if per else ""), nouns)
