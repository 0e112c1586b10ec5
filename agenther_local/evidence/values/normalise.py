"""Normal forms of numbers, units, codes, names, emails and URLs (dates and times: dates.py).

One set of norm_* functions serves both sides, the goal and the evidence, so values are
compared only after normalisation: "1,194" is 1194, "€3,50" is 3.5, "USD per kilogram" is
usd/kg, "#W2378156" is W2378156, "José" is jose.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from .vocab import _MAGNITUDES, CURRENCIES, UNITS


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
