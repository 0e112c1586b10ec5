"""Dates and times: their patterns, every reading of one, the scanners, and how a goal's date
is supported by an evidence date.

A date has every reading it may mean ("05/06" is May 6 or June 5) plus a month-day projection,
so a goal that omits the year matches evidence that has it; an hour without am/pm and without
a leading zero reads both ways. Weekdays and relative dates ("tomorrow") are not handled.
"""
from __future__ import annotations

import calendar
import re

from .vocab import _MONTH, MONTHS, Specific


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
