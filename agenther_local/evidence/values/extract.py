"""Extraction: every specific in a text, and the scanners for codes, paths, URLs, emails, names
and quoted strings (numbers: amounts.py; dates and times: dates.py).

Scanners run in priority order; a later match that overlaps an earlier one is dropped (so
"2024-05-23" is one date, not three numbers). Quoted strings are the exception: they claim
nothing, because in JSON evidence every value is quoted.
"""
from __future__ import annotations

import re

from .amounts import _scan_numbers
from .dates import _scan_dates, _scan_times
from .normalise import norm_code, norm_email, norm_name, norm_url
from .vocab import (_ABBREVIATIONS, _ACRONYM_STOPWORDS, _CONNECTORS, _EMPHASIS, _ENTITY_STOPWORDS,
                    _FUNCTION_WORDS, UNITS, Specific)

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
_QUOTED = [re.compile(r'(?<!\w)"([^"\n]{1,200})"'), re.compile(r"“([^”\n]{1,200})”"),
           re.compile(r"‘([^’\n]{1,200})’"), re.compile(r"(?<![\w'])'([^'\n]{1,200})'(?!\w)")]
_WORD = re.compile(r"(?<![^\W_])[^\W\d_](?:[^\W_]|['’-](?=[^\W\d_]))*")


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
