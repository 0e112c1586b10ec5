"""What a specific is (`Specific`, `KINDS`) and the word lists every scanner and matcher reads.

Month and weekday names, currencies and units with their canonical codes, magnitude words,
spelled-out counts, and the stopword sets that keep ordinary words from being read as names
or codes (see the package docstring for the rules they serve).
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("number", "money", "date", "time", "quoted", "code", "entity", "email", "url", "path")


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
# Words that may join the words of one name ("Bank of America"), and abbreviations whose
# full stop does not end a sentence ("Dr. Li").
_CONNECTORS = frozenset("of de del la le van von der den da di du & y".split())
_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr vs etc no prof inc co ltd".split())
_CURRENCY_CODES = frozenset(CURRENCIES.values())
