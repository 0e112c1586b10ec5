"""Tables for evidence/values/: each row is (goal-side text, evidence text, found?).

A row reads as a claim about grounding: "a goal saying X is supported by a tool output
saying Y". The negative rows are the perturbations SPEC's hard negatives are made of.
"""
import doctest
import importlib
import pkgutil

import pytest

from agenther_local.evidence import values
from agenther_local.evidence.values import (extract_specifics, find_in_text, norm_code, norm_date,
                                          norm_name, norm_number, norm_time, norm_unit)


def only(text: str, kind: str | None = None):
    """The single specific of `text` (of `kind`, when given)."""
    found = [s for s in extract_specifics(text) if kind is None or s.kind == kind]
    assert len(found) == 1, f"{text!r}: expected one specific, got {found}"
    return found[0]


def test_docstring_examples():
    # values is a package: testmod(values) alone would find none of its modules' examples
    results = [doctest.testmod(importlib.import_module(f"{values.__name__}.{m.name}"))
               for m in pkgutil.iter_modules(values.__path__)]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) >= 21


# ------------------------------------------------------------------ normalisation

@pytest.mark.parametrize("a, b", [
    ("1,194", "1194"), ("$5.30", "5.3"), ("5.30/kg", "5.3"), ("€3,50", "3.5"),
    ("255.0", "255"), ("$1.2M", "1200000"), ("3 million", "3000000"), ("1,194.50", "1194.5"),
])
def test_norm_number(a, b):
    assert norm_number(a) == norm_number(b)


@pytest.mark.parametrize("text, unit", [
    ("$", "usd"), ("USD", "usd"), ("euros", "eur"), ("kilograms", "kg"), ("/kg", "/kg"),
    ("$/kg", "usd/kg"), ("usd per kilogram", "usd/kg"), ("percent", "%"), ("per night", "/night"),
])
def test_norm_unit(text, unit):
    assert norm_unit(text) == unit


@pytest.mark.parametrize("text, readings", [
    ("2024-05-23", ("2024-05-23", "--05-23")),
    ("May 23", ("--05-23",)),
    ("May 23rd", ("--05-23",)),
    ("May 23rd, 2024", ("2024-05-23", "--05-23")),
    ("23 May 2024", ("2024-05-23", "--05-23")),
    ("23rd of May", ("--05-23",)),
    ("Sept. 3", ("--09-03",)),
    ("05/23/2024", ("2024-05-23", "--05-23")),
    ("23/05/2024", ("2024-05-23", "--05-23")),
    ("23.05.2024", ("2024-05-23", "--05-23")),
    ("23/05", ("--05-23",)),
    ("05/23", ("--05-23",)),
    ("05/06", ("--05-06", "--06-05")),          # ambiguous: both readings
    ("05/23/24", ("2024-05-23", "--05-23")),
    ("May 2024", ("2024-05",)),
    ("February 30", ()),                         # no such day
    ("13/13", ()),
])
def test_norm_date(text, readings):
    assert norm_date(text) == readings


@pytest.mark.parametrize("text, readings", [
    ("11am", ("11:00",)), ("11 AM", ("11:00",)), ("11 a.m.", ("11:00",)), ("7pm", ("19:00",)),
    ("7:00 PM", ("19:00",)), ("12pm", ("12:00",)), ("12am", ("00:00",)), ("14:30", ("14:30",)),
    ("06:00:00", ("06:00",)), ("7:30", ("07:30", "19:30")), ("noon", ("12:00",)),
    ("25:00", ()),
])
def test_norm_time(text, readings):
    assert norm_time(text) == readings


@pytest.mark.parametrize("a, b", [
    ("hat136", "HAT136"), ("#W2378156", "W2378156"), (" zfa04y ", "ZFA04Y"),
])
def test_norm_code(a, b):
    assert norm_code(a) == norm_code(b)


@pytest.mark.parametrize("a, b", [
    ("Mia  Li", "mia li"), ("JOSÉ Álvarez", "jose alvarez"), ("Mia\nLi", "MIA LI"),
])
def test_norm_name(a, b):
    assert norm_name(a) == norm_name(b)


# ------------------------------------------------------------------ extraction

@pytest.mark.parametrize("text, expected", [
    ("Book HAT136 from JFK on May 20 for user mia_li_3668",
     [("code", "HAT136"), ("code", "JFK"), ("date", "May 20"), ("code", "mia_li_3668")]),
    ("Pay with credit_card_4421486, reservation ZFA04Y, order #W2378156, seat 12A",
     [("code", "credit_card_4421486"), ("code", "ZFA04Y"), ("code", "#W2378156"), ("code", "12A")]),
    ("Prices under $5 per kilogram and MOQ below 10kg",
     [("money", "$5 per kilogram"), ("number", "10kg")]),
    ("It costs €3,50, 5 USD or 1,194 points, 12% off",
     [("money", "€3,50"), ("money", "5 USD"), ("number", "1,194"), ("number", "12%")]),
    ("Fly on May 23rd, 2024 at 11am, back 23/05 at 14:30",
     [("date", "May 23rd, 2024"), ("time", "11am"), ("date", "23/05"), ("time", "14:30")]),
    ("Write to mia.li3818@example.com or see https://www.example.com/a/",
     [("email", "mia.li3818@example.com"), ("url", "https://www.example.com/a/")]),
    ('Find the tier called "Gold" for Mia Li', [("quoted", "Gold"), ("entity", "Mia Li")]),
    ("Find the tier called “Gold”", [("quoted", "Gold")]),
    ("Book a flight for Mr. Li at Bank of America", [("entity", "Li"), ("entity", "Bank of America")]),
    ("Add two bags and 3 checked bags", [("number", "two"), ("number", "3")]),
    # no specifics: request shapes and ordinary words
    ("Compare copper wire suppliers by price and MOQ and report the one with the lowest MOQ", []),
    ("List the top 3 suppliers and the first 2 results", []),
    ("Book a one-way flight for the two of us", []),
    ("Seattle flights are cheap in the morning", []),   # one capitalised word opening a sentence
    ("Find Cheap Flights To Seattle Today", []),         # title case: names cannot be told apart
    ("Cancel IF and ONLY IF the IDs match", []),         # capitals for emphasis, plural acronym
    ("Book the 2nd flight, no matter the ETA in EST", []),
])
def test_extract_specifics(text, expected):
    assert [(s.kind, s.text) for s in extract_specifics(text)] == expected


def test_spans_point_at_the_text():
    text = "Book HAT136 on May 20 for Mia Li at $5.30/kg"
    for s in extract_specifics(text):
        assert text[s.start:s.end] == s.text


def test_number_keeps_unit_and_noun():
    s = only("price $5.30/kg")
    assert (s.kind, s.norm, s.unit) == ("money", "5.3", "usd/kg")
    s = only("with 3 checked bags")
    assert (s.norm, s.unit, s.nouns) == ("3", "", ("check", "bag"))


# ------------------------------------------------------------------ matching, by kind

def found(goal: str, evidence: str, kind: str | None = None) -> bool:
    return find_in_text(only(goal, kind), evidence) is not None


@pytest.mark.parametrize("goal, evidence, expected", [
    ("1,194 points", '{"points": 1194}', True),
    ("1194 points", "a total of 1,194 points", True),
    ("$5.30", '{"price": 5.3}', True),
    ("$5.30/kg", "Supplier A: $5.30/kg, MOQ 100 kg", True),
    ("$5.30/kg", '{"price_per_kg": 5.30}', True),
    ("$5.30", "Supplier A: $5.30/kg", True),              # the goal omits the per-unit
    ("$5 per kilogram", "Supplier A: $5.30/kg", False),
    ("10kg", "MOQ 100 kg", False),
    ("10kg", "10 years in business", False),              # a different noun is not a unit
    ("10 kg", "MOQ: 10kg", True),
    ("10 kilograms", "MOQ: 10 kg", True),
    ("$5", "delivery in 5 kg bags", False),
    ("$5", "Supplier B, rated 4.5/5", False),              # a bare number needs a money context
    ("$152", '"prices": {"basic_economy": 52, "economy": 152}', True),
    ("10kg", '{"moq_kg": 10}', True),
    ("€3,50", "3.50 EUR", True),
    ("5 USD", "costs $5", True),
    ("€5", "costs $5", False),
    ("12%", "a discount of 12 percent", True),
    ("$255", "255.0", True),
    ("$1.2M", "revenue 1,200,000", True),
    ("-5", "5", False),
    ("in 2024", '"date": "2024-05-20"', True),
    # small counts must stand next to their noun
    ("3 bags", '{"total_baggages": 3, "nonfree_baggages": 1}', True),
    ("two bags", '{"total_baggages": 2}', True),
    ("2 bags", '{"total_baggages": 3, "insurance": "no", "cabin": "economy", "flight_type": "one_way", "seats": 2}', False),
    ("2 bags", '{"seats": 2}', False),
    ("1 non-free bag", '{"nonfree_baggages": 1}', True),
    ("150 bags", '{"count": 150}', True),                 # large numbers: the value suffices
])
def test_numbers(goal, evidence, expected):
    assert found(goal, evidence) is expected


@pytest.mark.parametrize("goal, evidence, expected", [
    ("May 20", '{"date": "2024-05-20"}', True),
    ("May 20th", "2024-05-20", True),
    ("May 21", "2024-05-20", False),
    ("May 20, 2024", "2024-05-20", True),
    ("May 20, 2023", "2024-05-20", False),
    ("2024-05-20", "on May 20, 2024", True),
    ("2024-05-20", "on May 20", False),                   # the year is not shown
    ("23/05", "2024-05-23", True),
    ("05/23", "2024-05-23", True),
    ("05/06", "2024-06-05", True),                        # ambiguous: either reading
    ("23 May 2024", "05/23/2024", True),
    ("May 23rd, 2024", '"created_at": "2024-05-23T10:00:00"', True),
    ("June 23rd, 2024", "2024-05-23", False),
    ("flights in May", "2024-05-23", True),
    ("flights in June", "2024-05-23", False),
    ("May 2024", "2024-05-23", True),
    ("April 5, 1990", '"dob": "1990-04-05"', True),
])
def test_dates(goal, evidence, expected):
    assert found(goal, evidence, "date") is expected


@pytest.mark.parametrize("goal, evidence, expected", [
    ("11am", '"departure": "11:00:00"', True),
    ("11am", '"departure": "23:00:00"', False),
    ("7pm", "19:00:00", True),
    ("7:00 PM", "19:00", True),
    ("14:30", "at 2:30 PM", True),
    ("7:30", "19:30:00", True),
    ("06:00", "6am", True),
    ("noon", "12:00", True),
    ("9:30pm", "21:31:00", False),
])
def test_times(goal, evidence, expected):
    assert found(goal, evidence, "time") is expected


@pytest.mark.parametrize("goal, evidence, expected", [
    ("hat136", '"flight_number": "HAT136"', True),
    ("HAT137", '"flight_number": "HAT136"', False),
    ("HAT13", '"flight_number": "HAT136"', False),
    ("JFK", '"origin": "JFK"', True),
    ("LGA", '"origin": "JFK"', False),
    ("ZFA04Y", "reservation zfa04y", True),
    ("#W2378156", "order W2378156 shipped", True),
    ("mia_li_3668", '"user_id": "mia_li_3668"', True),
    ("mia_li_3669", '"user_id": "mia_li_3668"', False),
    ("credit_card_4421486", '{"id": "credit_card_4421486"}', True),
])
def test_codes(goal, evidence, expected):
    assert found(goal, evidence, "code") is expected


@pytest.mark.parametrize("goal, evidence, expected", [
    ("for Mia Li", '{"name": {"first_name": "Mia", "last_name": "Li"}}', True),
    ("for Mia Li", "{'firstName': 'Mia', 'lastName': 'Li'}", True),
    ("for Mia Li", '{"given_name": "Mia", "middle": "X", "family_name": "Li"}', True),
    ("for Mia Lee", '{"first_name": "Mia", "last_name": "Li"}', False),
    ("for Noah Li", '[{"first_name": "Mia", "last_name": "Li"}, {"first_name": "Noah", "last_name": "Kim"}]', False),
    ("for Mia Li", "Passenger: MIA  LI", True),
    ("for José Álvarez", "passenger jose alvarez", True),
    ("for José Álvarez", '{"name": "Jos\\u00e9 \\u00c1lvarez"}', False),   # escapes of another form
    ("for Mia", '{"first_name": "Mia"}', True),
    ("for Mia", '{"first_name": "Miami"}', False),
    ("in Basic Economy", '{"cabin": "basic_economy"}', True),
    ("at Bank of America", "Bank of America, N.A.", True),
])
def test_names(goal, evidence, expected):
    assert found(goal, evidence, "entity") is expected


@pytest.mark.parametrize("goal, evidence, expected", [
    ('the tier "Gold"', '{"membership": "gold"}', True),
    ('the book "The Great Gatsby"', '{"title": "The Great  Gatsby"}', True),
    ('the book "Great Expectations"', '{"title": "The Great Gatsby"}', False),
    ("the book “The Great Gatsby”", "The Great Gatsby (1925)", True),
    ('the word "gold"', '{"membership": "golden"}', False),
])
def test_quoted(goal, evidence, expected):
    assert found(goal, evidence, "quoted") is expected


@pytest.mark.parametrize("goal, evidence, expected", [
    ("mia.li3818@example.com", '"email": "Mia.Li3818@example.com"', True),
    ("mia.li3819@example.com", '"email": "mia.li3818@example.com"', False),
    ("https://www.example.com/a/", "see http://example.com/a", True),
    ("example.com/a", "see https://example.com/a/b?x=1", True),
    ("example.com/b", "see https://example.com/a", False),
])
def test_emails_and_urls(goal, evidence, expected):
    assert found(goal, evidence) is expected


def test_find_returns_the_span_in_the_evidence():
    evidence = '{"flights": [{"flight_number": "HAT136", "date": "2024-05-20"}]}'
    start, end = find_in_text(only("on May 20"), evidence)
    assert evidence[start:end] == "2024-05-20"
    start, end = find_in_text(only("for Mia Li"), '{"first_name": "Mia", "last_name": "Li"}')
    assert (start, end) == (16, 38)


def test_every_specific_is_found_in_its_own_text():
    """Reflexivity on real text: normalisation never loses a value written the same way."""
    import json
    from pathlib import Path
    runs = json.loads(Path("/work/shared/fixtures/tau_bench_airline/gpt-4o-airline.part1of3.json").read_text())
    texts = [m["content"] for run in runs[:20] for m in run["traj"][1:] if m.get("content")]
    texts += [run["info"]["task"]["instruction"] for run in runs]
    checked = 0
    for text in texts:
        indexed = values.IndexedText(text)
        for s in extract_specifics(text):
            assert text[s.start:s.end] == s.text
            assert indexed.find(s) is not None, (s, text)
            checked += 1
    assert checked > 1000
