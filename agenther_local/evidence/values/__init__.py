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

Where each part lives: vocab.py (`Specific`, `KINDS`, word lists), normalise.py (norm_* of
numbers, units, codes, names, emails, URLs), dates.py (dates and times: readings, scanners,
support), amounts.py (the number/money/unit scanner), extract.py (the other scanners and
`extract_specifics`), match.py (`IndexedText`, `find_in_text`, `place_codes`), leaves.py
(`json_leaves`). This module re-exports what the rest of the package imports from it.
"""
from __future__ import annotations

from .dates import _most_specific, norm_date, norm_time
from .extract import PATH, extract_specifics, paths_in
from .leaves import json_leaves
from .match import CONTEXT_AFTER, CONTEXT_BEFORE, SMALL_COUNT_MAX, IndexedText, _unit_hint_pattern, find_in_text, place_codes
from .normalise import _units_compatible, norm_code, norm_email, norm_name, norm_number, norm_unit, norm_url
from .vocab import CURRENCIES, KINDS, MONTHS, NUMBER_WORDS, UNITS, WEEKDAYS, Specific

# The leading-underscore names are imported by evidence/qualifiers.py.
__all__ = ["CONTEXT_AFTER", "CONTEXT_BEFORE", "CURRENCIES", "KINDS", "MONTHS", "NUMBER_WORDS", "PATH",
           "SMALL_COUNT_MAX", "UNITS", "WEEKDAYS", "IndexedText", "Specific", "extract_specifics", "find_in_text",
           "json_leaves", "norm_code", "norm_date", "norm_email", "norm_name", "norm_number", "norm_time",
           "norm_unit", "norm_url", "paths_in", "place_codes", "_most_specific", "_unit_hint_pattern",
           "_units_compatible"]
