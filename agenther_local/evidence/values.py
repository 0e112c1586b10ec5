"""Specifics: the values in a hindsight goal that must be found in what the tools returned.

A specific is a number, an amount of money, a date, a time, a quoted string, a code
(airport, flight, reservation, snake_case id), an email, a URL or a named entity. SPEC
("Hard negatives") measured that checking a goal's specifics against tool outputs catches
the perturbed and over-claiming goals that holistic judges miss, and that the weak point is
normalisation ("May 23" vs "2024-05-23", "1,194" vs 1194, a name split into
first_name/last_name). So one extractor and one set of norm_* functions serve both sides,
the goal and the evidence, and values are compared only after normalisation.

Extraction is conservative where a value is hard to tell from ordinary words (entities,
spelled-out numbers): every specific we invent is a true goal we reject. The rules:
- numbers: every digit number is a specific, except the request shapes "top 3" / "first 2"
  (an integer up to 10 after top/first/last/next/best/worst/bottom) and ordinals ("2nd").
  Spelled-out counts two..twelve count only when a noun follows ("two bags", not "the two of
  us"); "one" and "first" never do. A small count attached to a noun ("3 bags", integer
  <= SMALL_COUNT_MAX) must be found NEXT TO that noun ("total_baggages": 3), because "3 bags"
  -> "2 bags" is exactly the perturbation to catch and a bare 2 is in every tool output.
- units: "$5.30/kg" is 5.3 with unit "usd/kg"; units must agree where both sides state them,
  and a bare evidence number grounds an amount with a unit only if its context says so
  ('"price": 5.3' grounds "$5.30"; "rated 4.5/5" does not ground "$5").
- entities: runs of capitalised words, never starting or ending with a stopword ("Find",
  "The", "I", month and weekday names); a single capitalised word that opens a sentence is
  dropped; title-case text yields none. Matched case- and accent-insensitively, and against
  first_name/last_name pairs of JSON-looking evidence.
- codes: letters+digits ("HAT136", "ZFA04Y", "12A"), snake ids ("mia_li_3668"), upper-case
  words ("JFK", "HATHAT") minus vocabulary acronyms ("EST", "MOQ", "ID"); case-insensitive.
Not handled: weekday names, relative dates ("tomorrow"), ranges as one value ("5-10 kg" is
5 and 10 kg), unit conversion (1 kg is not 1000 g), "1k" without a currency, cities vs
airport codes, counts of listed items ("3 passengers" when the tool lists three).
"""
from __future__ import annotations

import calendar
import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterator

KINDS = ("number", "money", "date", "time", "quoted", "code", "entity", "email", "url", "path")

# A bare integer up to this value, attached to a noun ("3 bags"), must be found next to that
# noun in the evidence: tool outputs are full of small integers (seat counts, prices), so the
# bare value alone would ground almost any perturbation of a count.
SMALL_COUNT_MAX = 20
# How far around an evidence number the noun may stand: covers a JSON key ("total_baggages": 3)
# and a heading ("Bags: 3"), not the neighbouring record.
CONTEXT_BEFORE, CONTEXT_AFTER = 60, 25


@dataclass(frozen=True)
class Specific:
    kind: str                    # one of KINDS
    text: str                    # as written
    norm: str | tuple[str, ...]  # normalised form (dates and times: every candidate reading)
    start: int
    end: int
    unit: str = ""               # numbers only: "kg", "usd", "usd/kg", "%", "/kg"
    nouns: tuple[str, ...] = ()  # numbers only: stems of the words after it ("3 bags" -> "bag")


# ---------------------------------------------------------------------------- vocabularies

MONTHS = {"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
          "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
          "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
          "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

CURRENCIES = {"$": "usd", "us$": "usd", "usd": "usd", "dollar": "usd", "dollars": "usd",
              "bucks": "usd", "€": "eur", "eur": "eur", "euro": "eur", "euros": "eur",
              "£": "gbp", "gbp": "gbp", "¥": "jpy", "jpy": "jpy", "yen": "jpy", "₹": "inr",
              "inr": "inr", "rupees": "inr", "c$": "cad", "cad": "cad", "a$": "aud",
              "aud": "aud", "chf": "chf", "cny": "cny", "yuan": "cny"}
UNITS = {"%": "%", "percent": "%", "pct": "%", "kg": "kg", "kgs": "kg", "kilo": "kg",
         "kilos": "kg", "kilogram": "kg", "kilograms": "kg", "g": "g", "gram": "g", "grams": "g",
         "mg": "mg", "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb", "oz": "oz",
         "t": "t", "ton": "t", "tons": "t", "tonne": "t", "tonnes": "t", "km": "km",
         "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km",
         "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m", "cm": "cm",
         "mm": "mm", "mi": "mi", "mile": "mi", "miles": "mi", "ft": "ft", "feet": "ft",
         "foot": "ft", "l": "l", "liter": "l", "liters": "l", "litre": "l", "litres": "l",
         "ml": "ml", "kb": "kb", "mb": "mb", "gb": "gb", "tb": "tb", "kwh": "kwh", "kw": "kw",
         "w": "w", "mph": "mph", "kmh": "kmh", "°c": "°c", "°f": "°f"}
_MAGNITUDES = {"k": 10**3, "thousand": 10**3, "m": 10**6, "mn": 10**6, "million": 10**6,
               "b": 10**9, "bn": 10**9, "billion": 10**9}
# Spelled-out counts; "one" and ordinals are left out on purpose (see _scan_numbers).
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
# Words that never make a number "attached to a noun" ("3 or more", "2 of the").
_FUNCTION_WORDS = frozenset(
    "a an the of or and to in on at for with by from than more less fewer most least times "
    "is are was were be been per each every other others which that who whose where when "
    "into onto over under about after before between up down out off as if but not no nor "
    "so such this these those it its their his her our your my me we you they he she them "
    "us".split())
# Capitalised words that start sentences or requests, and other title-case words that are
# not names. An entity never starts or ends with one, and one breaks a run of names.
_ENTITY_STOPWORDS = frozenset(
    "a an the i i'm i'd i've i'll me my mine we our you your he she it they them their his "
    "her its this that these those there here what which who whom whose when where why how "
    "is are was were be am do does did have has had can could would should will shall may "
    "might must please kindly also then and or but if so yet for from to in on at by with of "
    "as about after before into over under between during since until not no yes ok okay hi "
    "hello hey dear thanks thank find book compare report show list get give tell search "
    "check cancel change update modify upgrade downgrade look help make buy order return "
    "exchange send provide identify determine calculate compute summarize summarise retrieve "
    "fetch locate select choose pick add remove create write explain describe confirm verify "
    "use pay apply ask answer let see note name count rank sort filter open close start stop "
    "keep set try go need want would like all any each every some both either neither "
    "mr mrs ms miss dr prof sir madam".split()) | frozenset(MONTHS) | frozenset(WEEKDAYS)
# Upper-case words that are vocabulary, not codes.
# Words written in capitals for emphasis ("IF and ONLY IF"); function words count too.
_EMPHASIS = frozenset("only never always must none very really important note just".split())
_ACRONYM_STOPWORDS = frozenset(
    "ID IDS OK AM PM EST EDT PST PDT CST CDT MST MDT UTC GMT API APIS URL URLS FAQ PDF CSV JSON "
    "XML HTML HTTP HTTPS SQL CEO CTO CFO HR PR QA IT UI UX OS PC TV AI ML LLM GPU CPU RAM ETA "
    "ASAP DIY FYI NB PS MOQ SKU SKUS USD EUR GBP JPY INR CAD AUD CHF CNY VIP N/A NA TBD".split())
_NAME_KEYS = (("first_name", "last_name"), ("firstName", "lastName"), ("firstname", "lastname"),
              ("given_name", "family_name"), ("givenName", "familyName"), ("first", "last"),
              ("fname", "lname"), ("forename", "surname"))


# ---------------------------------------------------------------------------- normalisation

def _canon(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return "0" if s == "-0" else s


def _to_decimal(digits: str) -> Decimal:
    """'1,194' -> 1194 (groups of three are thousands); '3,50' -> 3.5 (a decimal comma)."""
    s = digits.replace("−", "-")
    if "," in s:
        if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
            s = s.replace(",", "")
        else:
            s = s.replace(",", ".", 1).replace(",", "")
    return Decimal(s)


def norm_number(text: str) -> str:
    """Canonical decimal string of the first number in `text`; currency and unit dropped.

    >>> norm_number("1,194") == norm_number("1194") == "1194"
    True
    >>> norm_number("$5.30"), norm_number("5.30/kg"), norm_number("€3,50"), norm_number("255.0")
    ('5.3', '5.3', '3.5', '255')
    >>> norm_number("$1.2M"), norm_number("3 million")
    ('1200000', '3000000')
    """
    m = re.search(r"[-−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)", text)
    if not m:
        raise ValueError(f"no number in {text!r}")
    value = _to_decimal(m.group().rstrip(","))
    mag = re.match(r"\s?(k|K|M|mn|B|bn)(?![A-Za-z])|\s(thousand|million|billion)\b", text[m.end():])
    if mag:
        value *= _MAGNITUDES[(mag.group(1) or mag.group(2)).lower()]
    return _canon(value)


def norm_unit(text: str) -> str:
    """Canonical unit: measure (currency or unit) and, after '/', what it is per.

    >>> norm_unit("$"), norm_unit("kilograms"), norm_unit("USD per kilogram"), norm_unit("/kg")
    ('usd', 'kg', 'usd/kg', '/kg')
    >>> norm_unit("per night")
    '/night'
    """
    parts = re.split(r"\s*(?:/|\bper\b)\s*", text.strip().lower(), maxsplit=1)
    measure, per = parts[0], (parts[1] if len(parts) > 1 else "")
    measure = CURRENCIES.get(measure) or UNITS.get(measure) or measure
    per = (UNITS.get(per) or _stem(per)) if per else ""
    return measure + ("/" + per if per else "")


def _units_compatible(a: str, b: str) -> bool:
    """Each part (measure, per) must agree where both sides state it: '$5.30' ~ '5.30/kg'."""
    am, _, ap = a.partition("/")
    bm, _, bp = b.partition("/")
    return (not am or not bm or am == bm) and (not ap or not bp or ap == bp)


def _stem(word: str) -> str:
    """Crude noun stem for context checks: 'Bags' -> 'bag', 'passengers' -> 'passe'."""
    w = word.lower().strip("'’")
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("es") and len(w) > 4 and w[-3] in "sxz":
        w = w[:-2]
    elif w.endswith("s") and len(w) > 3 and not w.endswith("ss"):
        w = w[:-1]
    return w[:5]


def _valid_day(y: int | None, m: int, d: int) -> bool:
    return 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y or 2024, m)[1]


def _readings(cands: list[tuple[int | None, int | None, int | None]]) -> tuple[str, ...]:
    """Reading strings: 'YYYY-MM-DD', then month-day projections '--MM-DD'; 'YYYY-MM', '--MM'."""
    full, proj = [], []
    for y, m, d in cands:
        if d is not None and y:
            full.append(f"{y:04d}-{m:02d}-{d:02d}")
            proj.append(f"--{m:02d}-{d:02d}")
        elif d is not None:
            full.append(f"--{m:02d}-{d:02d}")
        elif m is not None:
            full.append(f"{y:04d}-{m:02d}" if y else f"--{m:02d}")
    out = []
    for r in full + proj:
        if r not in out:
            out.append(r)
    return tuple(out)


def _year(s: str | None) -> int | None:
    if not s:
        return None
    y = int(s)
    return y if len(s) == 4 else (2000 + y if y < 70 else 1900 + y)


def _date_candidates(m: re.Match) -> list[tuple[int | None, int | None, int | None]]:
    g = m.groupdict()
    if g.get("iy"):                                  # 2024-05-23
        cands = [(int(g["iy"]), int(g["im"]), int(g["id"]))]
    elif g.get("nm"):                                # May 23rd, 2024 / 23 May 2024
        month = MONTHS[g["nm"].lower().rstrip(".")]
        cands = [(_year(g.get("ny")), month, int(g["nd"]) if g.get("nd") else None)]
    elif g.get("sa"):                                # 05/23/2024, 23/05, 05/06 (both ways)
        a, b, y = int(g["sa"]), int(g["sb"]), _year(g.get("sy"))
        cands = [(y, a, b), (y, b, a)] if a != b else [(y, a, b)]
    else:
        return []
    return [(y, mo, d) for y, mo, d in cands if mo and (d is None or _valid_day(y, mo, d))]


def norm_date(text: str) -> tuple[str, ...]:
    """Every reading of a date; () if `text` is not one date.

    A month-day reading ('--05-23') is added to every full date, so a goal that omits the
    year matches evidence that has it; a slash date valid both ways gives both readings.

    >>> norm_date("May 23"), norm_date("2024-05-23")
    (('--05-23',), ('2024-05-23', '--05-23'))
    >>> norm_date("May 23rd, 2024") == norm_date("23 May 2024") == norm_date("05/23/2024")
    True
    >>> norm_date("23/05"), norm_date("05/06")
    (('--05-23',), ('--05-06', '--06-05'))
    """
    text = text.strip()
    for rx in _DATE_RES:
        m = rx.fullmatch(text)
        if m:
            return _readings(_date_candidates(m))
    return ()


def _hhmm(h: int, mi: int) -> str:
    return f"{h:02d}:{mi:02d}"


def norm_time(text: str) -> tuple[str, ...]:
    """24-hour 'HH:MM' readings; an hour written without a leading zero and without am/pm
    is ambiguous and gives both.

    >>> norm_time("11am"), norm_time("7:00 PM"), norm_time("14:30"), norm_time("06:00:00")
    (('11:00',), ('19:00',), ('14:30',), ('06:00',))
    >>> norm_time("7:30"), norm_time("12am"), norm_time("noon")
    (('07:30', '19:30'), ('00:00',), ('12:00',))
    """
    t = text.strip().lower()
    if t in ("noon", "midday"):
        return ("12:00",)
    if t == "midnight":
        return ("00:00",)
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*(?:([ap])\.?\s?m\.?)?", t)
    if not m or (m.group(2) is None and m.group(3) is None):
        return ()
    h, mi, ap = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if h > 24 or mi > 59:
        return ()
    if ap:
        if not 1 <= h <= 12:
            return ()
        return (_hhmm(h % 12 + (12 if ap == "p" else 0), mi),)
    if 1 <= h <= 11 and not m.group(1).startswith("0"):
        return (_hhmm(h, mi), _hhmm(h + 12, mi))
    return (_hhmm(h % 24, mi),)


def norm_code(text: str) -> str:
    """Codes compare case-insensitively, without a leading '#'.

    >>> norm_code("hat136"), norm_code("#W2378156"), norm_code("mia_li_3668")
    ('HAT136', 'W2378156', 'MIA_LI_3668')
    """
    return text.strip().lstrip("#").upper()


def norm_name(text: str) -> str:
    """Names and quoted strings: accents and case folded, whitespace collapsed.

    >>> norm_name("  Mia   LI "), norm_name("José"), norm_name("Mia Li’s")
    ('mia li', 'jose', "mia li's")
    """
    return " ".join(_fold(text).split())


def norm_email(text: str) -> str:
    """Emails compare case-insensitively.

    >>> norm_email("Mia.Li3818@Example.com")
    'mia.li3818@example.com'
    """
    return _fold(text.strip())


def norm_url(text: str) -> str:
    """Scheme, 'www.', case and a trailing slash do not matter.

    >>> norm_url("https://www.Example.com/a/"), norm_url("example.com/a")
    ('example.com/a', 'example.com/a')
    """
    u = re.sub(r"^[a-z]+://", "", _fold(text.strip()))
    return re.sub(r"^www\.", "", u).rstrip("/.")


def _fold(text: str) -> str:
    """Lower-case, strip accents and straighten quotes, keeping every index in place."""
    text = text.translate(_QUOTES)
    if text.isascii():
        return text.lower()
    out = []
    for ch in text:
        f = unicodedata.normalize("NFKD", ch)[:1].lower()
        out.append(f if len(f) == 1 else ch)
    return "".join(out)


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


# ---------------------------------------------------------------------------- extraction
# Scanners run in priority order; a later match that overlaps an earlier one is dropped
# (so "2024-05-23" is one date, not three numbers). Quoted strings are the exception: they
# claim nothing, because in JSON evidence every value is quoted.

_MONTH_CI = f"(?i:{_MONTH})"
_DATE_RES = [
    # 2024-05-23, 2024/05/23 (a datetime's time part is left for the time scanner)
    re.compile(r"(?<![\d.])(?P<iy>\d{4})(?P<isep>[-/.])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})(?!\d)"),
    # May 23, May 23rd, 2024, Sept. 3 2024
    re.compile(rf"(?<!\w)(?P<nm>{_MONTH_CI})\.?\s+(?P<nd>\d{{1,2}})(?:st|nd|rd|th)?"
               rf"(?:,?\s+(?P<ny>\d{{4}}))?(?![\d:])"),
    # 23 May 2024, 23rd of May
    re.compile(rf"(?<![\w.,:$])(?P<nd>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<nm>{_MONTH_CI})\b\.?"
               rf"(?:,?\s+(?P<ny>\d{{4}})(?!\d))?"),
    # May 2024
    re.compile(rf"(?<!\w)(?P<nm>{_MONTH_CI})\.?,?\s+(?P<ny>\d{{4}})(?!\d)"),
    # 05/23/2024, 23/05, 23.05.2024 (a dot needs the year: "5.30" is a number)
    re.compile(r"(?<![\w/.])(?P<sa>\d{1,2})(?P<ssep>[/.])(?P<sb>\d{1,2})"
               r"(?:(?P=ssep)(?P<sy>\d{4}|\d{2}))?(?![\d/]|\.\d)"),
]
# "in May", "by June": a bare month only after a preposition, and capitalised ("may" is a verb)
_BARE_MONTH = re.compile(rf"\b(?i:in|during|since|until|till|before|after|by|through|early|late"
                         rf"|mid|of)[\s-]+(?P<nm>{_MONTH})\b(?!\.?\s*\d)")
_AMPM = r"(?:[ap]\.\s?m\.|[ap]\.?\s?m)(?![a-z])"     # "pm", "p.m.", not a sentence's "pm."
_TIME_RES = [
    re.compile(rf"(?<![\d:.])\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:\s*{_AMPM})?(?!\d)", re.I),
    re.compile(rf"(?<![\w:.])\d{{1,2}}\s*{_AMPM}", re.I),
    re.compile(r"\b(?:noon|midday|midnight)\b", re.I),
]
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URLS = [
    re.compile(r"\b(?:https?://|www\.)[^\s<>\"'\])]+"),
    re.compile(r"(?<![\w@./-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|gov|edu|ai|dev|app"
               r"|info|co\.uk|co)(?:/[^\s<>\"'\])]*)?(?![\w-])", re.I),
]
_CODE_RES = [
    re.compile(r"(?<![\w#-])(?=[A-Za-z0-9-]*\d)[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+(?![\w-])"),  # SKU-123
    re.compile(r"(?<![\w+-])\+?\d+(?:-\d+){2,}(?![\w-])"),                    # 555-123-4567
    re.compile(r"(?<![\w.])[vV]?\d+(?:\.\d+){2,}(?![\w.])"),               # v3.10.2
    re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w-])"),  # mia_li_3668
    re.compile(r"(?<![\w#-])#?(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{2,}(?![\w-])"),  # HAT136
]
_ALLCAPS = re.compile(r"(?<![\w-])[A-Z]{2,}(?![\w-])")                      # JFK, HATHAT
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−](?=[$€£¥₹\d.]))?"
    r"(?:(?P<sym>US\$|C\$|A\$|[$€£¥₹])\s?|(?P<cur>USD|EUR|GBP|JPY|INR|CAD|AUD|CHF|CNY)\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+,\d{2}(?=\s?(?:€|EUR\b|euros?\b))|\d+(?:\.\d+)?|\.\d+)")
_NUMBER_WORD = re.compile(rf"(?<![\w-])(?i:{'|'.join(NUMBER_WORDS)})(?![\w-])")
_QUOTED = [re.compile(r'(?<!\w)"([^"\n]{1,200})"'), re.compile(r"“([^”\n]{1,200})”"),
           re.compile(r"‘([^’\n]{1,200})’"), re.compile(r"(?<![\w'])'([^'\n]{1,200})'(?!\w)")]
_WORD = re.compile(r"(?<![^\W_])[^\W\d_](?:[^\W_]|['’-](?=[^\W\d_]))*")
_CONNECTORS = frozenset("of de del la le van von der den da di du & y".split())
_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr vs etc no prof inc co ltd".split())
_CURRENCY_CODES = frozenset(CURRENCIES.values())


def _scan_dates(text: str):
    for rx in _DATE_RES:
        for m in rx.finditer(text):
            if m.groupdict().get("nm") == "may" or m.group() == "24/7":
                continue
            if m.groupdict().get("ssep") == "." and not m.group("sy"):
                continue
            readings = _readings(_date_candidates(m))
            if readings:
                yield Specific("date", m.group(), readings, m.start(), m.end())
    for m in _BARE_MONTH.finditer(text):
        yield Specific("date", m.group("nm"), (f"--{MONTHS[m.group('nm').lower()]:02d}",),
                       m.start("nm"), m.end("nm"))


def _scan_times(text: str):
    for rx in _TIME_RES:
        for m in rx.finditer(text):
            readings = norm_time(m.group())
            if readings:
                yield Specific("time", m.group(), readings, m.start(), m.end())


def _scan_codes(text: str):
    for rx in _CODE_RES:
        for m in rx.finditer(text):
            tok = m.group()
            lead = re.fullmatch(r"\d+([A-Za-z]+)", tok)
            if lead and (lead.group(1).islower() or lead.group(1).lower() in UNITS):
                continue            # "10x", "23rd", "5KG": a number, not a code
            yield Specific("code", tok, norm_code(tok), m.start(), m.end())
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) > 0.6 * len(letters):
        return                      # shouting: every word would look like a code
    for m in _ALLCAPS.finditer(text):
        low = m.group().lower()
        if m.group() not in _ACRONYM_STOPWORDS and low not in _FUNCTION_WORDS \
                and low not in _ENTITY_STOPWORDS and low not in _EMPHASIS:
            yield Specific("code", m.group(), norm_code(m.group()), m.start(), m.end())


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


# A file path ends with a known extension (or several: "L060.py.backup").
PATH = re.compile(r"(?<![\w/.-])(?:\.{0,2}/)?(?:[\w.-]+/)*[\w-]+(?:\.(?:py|pyi|js|ts|tsx|jsx|json|ya?ml|toml|cfg|ini|txt|md|"
                   r"rst|sql|sh|c|h|cc|cpp|hpp|java|go|rs|rb|php|html|css|csv|xlsx|xml|backup|bak|orig|patch|diff))+\b")


def paths_in(text: str) -> list[str]:
    """File paths written in `text`.

    >>> paths_in("Back up src/rules/L060.py to L060.py.backup, then run tests/test_x.py")
    ['src/rules/L060.py', 'L060.py.backup', 'tests/test_x.py']
    """
    return [m.group() for m in PATH.finditer(text)]


def _scan_paths(text: str):
    """File paths ("src/rules/L060.py", "L060.py.backup"): what a coding run wrote or read."""
    for m in PATH.finditer(text):
        yield Specific("path", m.group(), norm_name(m.group().lstrip("./")), m.start(), m.end())


def _scan_urls_emails(text: str):
    for m in _EMAIL.finditer(text):
        yield Specific("email", m.group(), norm_email(m.group()), m.start(), m.end())
    for rx in _URLS:
        for m in rx.finditer(text):
            u = m.group().rstrip(".,;:!?")
            yield Specific("url", u, norm_url(u), m.start(), m.start() + len(u))


def _sentence_start(text: str, pos: int) -> bool:
    before = text[max(0, pos - 40):pos].rstrip(" \t\"'“‘([*-•")
    if not before or before[-1] in "\n:!?;" or re.search(r"\n\s*\d+[.)]$", before):
        return True
    if before[-1] == ".":
        word = re.search(r"(\w+)\.$", before)
        return not (word and word.group(1).lower() in _ABBREVIATIONS)
    return False


def _scan_entities(text: str, claimed: bytearray):
    """Runs of capitalised words: 'flight for Mia Li' -> 'Mia Li'; 'Bank of America' is one.

    Conservative: stopwords ('Find', 'The', months) break runs and are trimmed; a single
    word that opens a sentence is dropped ('Seattle flights...' cannot be told from
    'Cheap flights...'); title-case text ('Find Cheap Flights') yields nothing; all-caps
    words are codes, not entity words.
    """
    words = [w for w in _WORD.finditer(text) if not any(claimed[w.start():w.end()])]
    caps = [w for w in words if w.group()[0].isupper()]
    lower = [w.group() for w in words if not w.group()[0].isupper()]
    if len(words) >= 4 and len(caps) > 0.6 * len(words) and all(w.lower() in _FUNCTION_WORDS for w in lower):
        return                      # title case ("Find Cheap Flights to Denver"): no names to tell apart
    run: list[re.Match] = []

    def flush():
        while run and (run[-1].group().lower() in _CONNECTORS
                       or run[-1].group().lower() in _ENTITY_STOPWORDS):
            run.pop()
        if not run:
            return None
        if len(run) == 1 and (_sentence_start(text, run[0].start()) or len(run[0].group()) < 2):
            return None
        if len(run) > 1 and _sentence_start(text, run[0].start()):
            # subtle: a sentence-opening capital may be a verb ("Booked Hotel Aurora"): keep
            # the name after it, which still has to be grounded
            run.pop(0)
        s, e = run[0].start(), run[-1].end()
        name = re.sub(r"['’]s$", "", text[s:e])
        return Specific("entity", name, norm_name(name), s, s + len(name))

    prev_end = None
    for w in words:
        tok = w.group()
        low = tok.lower()
        is_name = (tok[0].isupper() and not tok[:2].isupper() and any(c.islower() for c in tok)
                   and low not in _ENTITY_STOPWORDS) or (run and len(tok) == 1 and tok.isupper())
        joins = prev_end is not None and re.fullmatch(r"[ \t]+", text[prev_end:w.start()] or "x")
        if run and joins and (is_name or low in _CONNECTORS):
            run.append(w)
        else:
            if run:
                ent = flush()
                if ent:
                    yield ent
            run = [w] if is_name else []
        prev_end = w.end()
    if run:
        ent = flush()
        if ent:
            yield ent


def _scan_quoted(text: str):
    for rx in _QUOTED:
        for m in rx.finditer(text):
            inner = m.group(1).strip()
            if inner:
                start = m.start(1) + m.group(1).index(inner)
                yield Specific("quoted", inner, norm_name(inner), start, start + len(inner))


def _extract(text: str, text_kinds: bool = True) -> list[Specific]:
    claimed = bytearray(len(text))
    out: list[Specific] = []
    for scan in (_scan_paths, _scan_urls_emails, _scan_dates, _scan_times, _scan_codes, _scan_numbers):
        for s in scan(text):
            if not any(claimed[s.start:s.end]):
                claimed[s.start:s.end] = b"\x01" * (s.end - s.start)
                out.append(s)
    if text_kinds:
        quoted = list(_scan_quoted(text))
        for q in quoted:            # a name inside quotes is checked as part of the quote
            claimed[q.start:q.end] = b"\x01" * (q.end - q.start)
        out.extend(_scan_entities(text, claimed))
        out.extend(quoted)
    return sorted(out, key=lambda s: (s.start, s.end))


def extract_specifics(text: str) -> list[Specific]:
    """Every specific in `text`, in order of position.

    >>> [(s.kind, s.text) for s in extract_specifics("Book HAT136 on May 20 for Mia Li, $5.30/kg")]
    [('code', 'HAT136'), ('date', 'May 20'), ('entity', 'Mia Li'), ('money', '$5.30/kg')]
    """
    return _extract(text)


# ---------------------------------------------------------------------------- matching

def _date_fields(r: str) -> tuple[int | None, int | None, int | None]:
    """'2024-05-23' -> (2024, 5, 23); '--05-23' -> (None, 5, 23); '--05' -> (None, 5, None)."""
    y, _, rest = r.partition("-") if not r.startswith("--") else ("", "", r[2:])
    parts = [int(p) for p in rest.split("-") if p]
    return (int(y) if y else None, parts[0] if parts else None, parts[1] if len(parts) > 1 else None)


def _supports(goal: tuple, ev: tuple) -> bool:
    return all(g is None or g == e for g, e in zip(goal, ev))


def _most_specific(readings: tuple[str, ...]) -> list[tuple]:
    """Drop projections: of ('2024-05-23', '--05-23') only the full date must be supported."""
    fields = [_date_fields(r) for r in readings]
    return [f for f in fields if not any(o != f and _supports(f, o) for o in fields)]


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


def json_leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every scalar in parsed JSON, in document order.

    >>> list(json_leaves({"a": [1, {"b": None}], "c": "x"}))
    [('a[0]', 1), ('a[1].b', None), ('c', 'x')]
    """
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_leaves(v, f"{path}[{i}]")
    else:
        yield path, value
