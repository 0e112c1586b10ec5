"""Word accounting: every content word of a clause accounted for by what it is bound to.

A clause bound to ONE record or ONE succeeded write call holds only if each of its words is
accounted for (closed world). SPEC ("What makes a sample teach") measured why: a matcher that
checks only the values it recognises accepted "absinthe and prosecco" because absinthe is in
the record, "business class" for a run whose one succeeded update was economy, "sorts them by
age" for code that never sorts. The rules, walked in order for each word (`RULES`; a new kind of
word is one more entry):

- `value`: inside a value of the clause that matched the bound record or call (evidence/bind.py);
  inside a value that did not match, the word is unaccounted whatever else it looks like;
- `framing`: a function word or the framing of a request (`[framing]` of data/words.toml; the
  lookup verbs of a question: "tell me", "find", "what");
- `context`: user context that claims nothing about the run, recognised by form (a reason:
  "because my plans changed"; a fact about the user's life: "I live near Princeton") and only
  when no word of it names something the bound record or call holds;
- `rule`: a qualifier that an explicit rule decided (evidence/qualifiers.py: bounds with their
  strictness, "no X", superlatives with their measure, people counts; and here: an "existing"
  object is one the run read before the call changed it, a "new" one the call created);
- `lexicon`: an action word of the bound call's verb family (claims.py, `[actions]`), a verb the
  written code carries out (`[code_verbs]`: "sort" needs `sort_values`/`sorted(`/`ORDER BY`),
  or an everyday word for a term the record or call holds (`[synonyms]`: "class" for `cabin`);
- `field`: a word of the bound record (its field names, their values, its text, with the records
  its ids join to) or of the bound call (its name, its arguments and what they join to; never
  its result: a result may confirm a change but never supplies it, and the record of what a call
  changed, read before it, is the old state).
A word none of these accounts for is `unaccounted`: verification may ask one narrow question
about the ONE bound record or call (stages/verify.py), or, with no model, the clause is
unverifiable. Numbers, dates and ids are values (evidence/values.py), never words here.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable

from .actions import Action, name_words
from .claims import _LOOKUP_VERBS, _QUALIFIER, call_families, call_matches_verb, context_spans
from .model import call_record
from .qualifiers import _PEOPLE
from .records import Record, norm_id
from .values import extract_specifics

if TYPE_CHECKING:
    from .bind import Binding
    from .model import RunEvidence

HOWS = ("value", "framing", "context", "rule", "lexicon", "field", "question", "unaccounted")
_WORD = re.compile(r"(?<![\w'’-])[^\W_][\w'’]*(?:-[^\W_][\w'’]*)*")
# Argument keys whose value is code or file content: the written code a code goal's verbs need.
_CODE_KEYS = re.compile(r"(?i)^(?:file_text|new_str|content|contents|code|command|cmd|patch|diff|text|script|source)$")
# Qualifiers decided here: an object the call found vs one it made.
_EXISTING = frozenset("existing current same already original old previous".split())
_NEW = frozenset("new another separate second fresh".split())
# Qualifier words evidence/qualifiers.py decides (its rules ran before accounting; a clause
# whose qualifier failed never gets here).
_QUALIFIER_WORDS = frozenset(
    "after later earlier before over under above below more less fewer than least most at no not without "
    "minimum maximum up or cheapest lowest highest longest shortest largest smallest earliest latest fewest "
    "greatest biggest fastest quickest slowest expensive counting including both all just only none greater larger "
    "higher lower equal".split())


@lru_cache(maxsize=1)
def lexicons() -> dict[str, Any]:
    text = resources.files("agenther_local").joinpath("data/words.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def stem(word: str) -> str:
    """A word's comparison key: lower case, no possessive or plural/verb ending, six letters.

    >>> [stem(w) for w in ("Flights", "cancelled", "cancellation", "bags", "baggages", "passenger's")]
    ['flight', 'cancel', 'cancel', 'bag', 'baggag', 'passen']
    >>> [stem(w) for w in ("serve", "serving", "starred", "star", "premiere", "premiered")]
    ['serv', 'serv', 'star', 'star', 'premie', 'premie']
    >>> stem("save") == stem("saves") == stem("saved")
    True
    """
    w = word.lower().replace("’", "'")
    w = re.sub(r"'s?$", "", w)
    for suf, rep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ation", ""), ("ion", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: len(w) - len(suf)] + rep
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouys":
        w = w[:-1]                      # "starr(ed)", "cancell(ed)": the doubled consonant
    elif len(w) > 3 and w.endswith("e"):
        w = w[:-1]                      # "serve" and "serv(ing)", "premiere" and "premier(ed)"
    return w[:6]


def _words(text: str, camel: bool = False) -> list[str]:
    """Words of a field name (`camel`: "flightNumber" -> flight, Number) or of a value."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text) if camel else text
    return [w for w in re.split(r"[\W\d_]+", spaced) if len(w) > 1]


@dataclass(frozen=True)
class Word:
    """One word (or hyphenated compound) of a clause and how it was accounted for."""
    text: str
    start: int                 # offset in the clause text
    how: str                   # one of HOWS
    detail: str = ""
    p_yes: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"text": self.text, "how": self.how, "detail": self.detail}
        if self.p_yes is not None:
            d["p_yes"] = round(self.p_yes, 6)
        return d


@dataclass(frozen=True)
class Accounting:
    words: tuple[Word, ...]
    failure: tuple[str, str] | None = None   # (rule, why): a rule decided against the clause; no question can save it

    @property
    def unaccounted(self) -> tuple[Word, ...]:
        return tuple(w for w in self.words if w.how == "unaccounted")

    def to_list(self) -> list[dict[str, Any]]:
        return [w.to_dict() for w in self.words]


class _Scope:
    """What a clause is bound to, as word stems: (stem -> where it stands)."""

    def __init__(self, b: "Binding", ev: "RunEvidence", compares: bool = False):
        self.call: Action | None = b.call
        self.terms: dict[str, str] = {}
        self.prior: dict[str, str] = {}      # old values of what the call set: only after "from"
        self.pays = False                    # the call names a payment (so it can charge or refund)
        self.code = ""
        self.records: list[Record] = []
        self.kinds: set[str] = set()         # kinds of value the bound record holds (money, date ...)
        if b.call is not None:
            a = b.call
            for w in name_words(a.name):
                self._add(w, f"the call's name {a.name}")
            rec = call_record(a)
            self._add_record(rec, f"the {a.name} call's arguments")
            self.code = "\n".join(v for k, v in rec.fields if _CODE_KEYS.match(k.rsplit(".", 1)[-1])).lower()
            # joined through an argument id (the card behind a payment id), and the object it
            # changed as read before (by the fields it did not set): their values and their own
            # field names describe what the call named, not the names nested below them (a
            # flight's `prices.business` is no cabin the call booked)
            for r in ev.call_scope(a):
                if r.step != a.step:
                    self._add_record(r, f"{r.path} of step {r.step}, joined to the call", keys=False)
            for r in ev.before_state(a):
                self._add_record(r, f"{r.path} of step {r.step}", keys=False)
            self.pays = any("payment" in k for k, _ in rec.fields)
            old, self.terms = self.terms, {}
            for r in ev.before_state(a, changed=True):
                self._add_record(r, f"{r.path} of step {r.step}, the old value", keys=False)
            self.prior, self.terms = self.terms, old
        elif b.record is not None:
            for r in ev.group(b.record):
                self._add_record(r, f"{r.path} of step {r.step}")
            # the tool that returned the record says what it is (`search_suppliers`: suppliers)
            name = ev.traj.steps[b.record.step].action
            for w in name_words(name):
                self._add(w, f"the name of the tool {name} that returned it")
            self.kinds = {s.kind for r in ev.group(b.record) for s in extract_specifics(r.text)}
            if compares:       # "compare the suppliers", "the cheapest": about the lists the run compared
                for r in ev.records:
                    self._add_record(r, f"{r.path} of step {r.step}, among what the run compared")

    def _add(self, word: str, where: str) -> None:
        self.terms.setdefault(stem(word), where)

    def _add_record(self, r: Record, where: str, keys: bool = True) -> None:
        self.records.append(r)
        if r.fields:
            for k, v in r.fields:
                for w in _words(k, camel=True) if keys or "." not in k else ():
                    self._add(w, f"field {k!r} of {where}")
                for w in _words(v):
                    self._add(w, f"{k} = {v[:40]!r} in {where}")
                if "_" in v and len(v) < 40:
                    self.terms.setdefault(v.lower(), f"{k} = {v!r} in {where}")
        else:
            for w in _words(r.text):
                self._add(w, where)
        for w in _words(r.path, camel=True) if keys else ():
            self._add(w, f"{where} (its path)")

    def has(self, word: str) -> str | None:
        return self.terms.get(stem(word))


@dataclass
class _Ctx:
    text: str
    clause_kind: str
    scope: _Scope
    value_spans: list[tuple[int, int, bool, str]]     # (start, end, matched, what) in the clause text
    bound_spans: list[tuple[int, int]]
    context: list[tuple[int, int]]
    reasons: list[tuple[int, int]]                    # context-like spans that name the evidence
    people: list[tuple[int, int]]                     # "all three of us": checked by qualifiers.py
    ev: "RunEvidence"
    failure: tuple[str, str] | None = None


Rule = Callable[[str, int, _Ctx], "tuple[str, str] | None"]


def _value(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    for a, b, matched, what in ctx.value_spans:
        if a <= at < b:
            return ("value", what) if matched else ("unaccounted", f"inside the value {what}, which did not match")
    for a, b in ctx.bound_spans:
        if a <= at < b:
            return "rule", "a bound the qualifier rules checked"
    return None


# Nouns that only say what kind of thing a value of the clause is ("the file invoicing/tax.py").
_KIND_NOUNS = {"path": "file files script scripts module modules folder directory".split(),
               "url": "page pages link links site website".split(),
               "email": "email address".split()}


# What a question may ask of a record that holds a value of the kind (the asked-for check of
# evidence/claims.py makes sure the value is there beyond the question's own).
_RECORD_KIND_NOUNS = {"money": "price prices cost costs fare fares amount charge charges".split(),
                      "date": "date dates day".split(), "time": "time times".split()}


def _kind_noun(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    low = word.lower()
    for a, _, ok, what in ctx.value_spans:
        kind = what.split(" ", 1)[0]
        if ok and low in _KIND_NOUNS.get(kind, ()):
            return "value", f"names the kind of {what}"
    for kind in ctx.scope.kinds:
        if low in _RECORD_KIND_NOUNS.get(kind, ()):
            return "field", f"the bound record holds a {kind} value"
    return None


def _framing(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    low = word.lower().replace("’", "'")
    if low in _FRAMING or (ctx.clause_kind == "lookup" and low in _LOOKUP_VERBS):
        return "framing", ""
    return None


def _context(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    for a, b in ctx.context:
        if a <= at < b:
            return "context", "user context: claims nothing about the run"
    return None


def _qualifier(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    low = word.lower()
    call = ctx.scope.call
    if call is not None and (low in _EXISTING or low in _NEW):
        seen = _seen_before(call, ctx.ev)
        creates = "create" in call_families(name_words(call.name))
        if low in _EXISTING:
            if creates or seen is False:
                why = f"{word!r}: the {call.name} call at step {call.step} made a new object, not one the run had"
                ctx.failure = ("action_not_done", why)
                return "unaccounted", why
            return "rule", f"{call.name} changed {call.target}, which the run read before"
        if not creates and seen is not False:
            why = f"{word!r}: the {call.name} call at step {call.step} changed an object the run already had"
            ctx.failure = ("action_not_done", why)
            return "unaccounted", why
        return "rule", f"{call.name} made it"
    if any(a <= at < b for a, b in ctx.people):
        return "rule", "a count of people the qualifier rules checked"
    if low in _LEGS:
        return _legs(low, at, ctx)
    if low in _QUALIFIER_WORDS or _QUALIFIER.fullmatch(low):
        if any(a <= at < b for a, b in ctx.reasons):
            # "since I booked it less than a day ago": a reason that claims a fact of the run
            why = f"{word!r} inside a reason: a claim about the run no rule checks"
            ctx.failure = ctx.failure or ("unverifiable", why)
            return "unaccounted", why
        return "rule", "a qualifier the qualifier rules checked"
    return None


_COMPARES = re.compile(r"(?i)\b(?:compar\w*|cheapest|lowest|highest|longest|shortest|largest|smallest|earliest|latest|"
                       r"fewest|fastest|quickest|slowest|most|least|best|among)\b")
_LEGS = frozenset("nonstop non-stop direct connecting connection connections layover layovers stopover".split())


def _legs(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    """"the nonstop HAT041": one flight number is one leg, so a nonstop claim holds when a
    matched flight code follows it; "connecting"/"layover" when the bound evidence has two legs
    or more."""
    from .model import list_count
    if word in ("nonstop", "non-stop", "direct"):
        after = ctx.text[at + len(word):at + len(word) + 14]
        for a, _, ok, what in ctx.value_spans:
            if ok and what.startswith("code") and at < a <= at + len(word) + 14 and re.match(r"\s+(?:flight\s+)?$", after[:a - at - len(word)]):
                return "rule", f"one flight number is one leg ({what})"
        return None                  # a field or the tool's name may still say so ("search_direct_flight")
    records = ctx.scope.records
    legs = max([list_count("fligh", records)[0]] + [0])
    if legs >= 2:
        return "rule", f"the bound evidence lists {legs} flights"
    return None


def _seen_before(call: Action, ev: "RunEvidence") -> bool | None:
    """Did an output before the call show the id it changed? None: the call names no id."""
    if ":" not in call.target:
        return None
    target = norm_id(call.target.split(":", 1)[1])
    return any(target in r.ids or target in r.text.upper() for r in ev.records if r.step < call.step)


def _action(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    call = ctx.scope.call
    if call is None:
        return None
    low = word.lower()
    words = name_words(call.name) + [call.verb]
    if call_matches_verb(words, low):
        return "lexicon", f"a verb the {call.name} call carries out"
    fams = call_families(words) | ({"pay"} if ctx.scope.pays else set())
    for fam, extra in lexicons()["actions"].items():
        if fam in fams and low in extra:
            return "lexicon", f"{fam}: what the {call.name} call does" + (" (it names a payment)" if fam == "pay" else "")
    return None


def _code_verb(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    code = ctx.scope.code
    key = next((v for v in lexicons()["code_verbs"] if stem(v) == stem(word)), None)
    if not code or key is None:
        return None
    hit = next((p for p in lexicons()["code_verbs"][key] if p in code), None)
    if hit:
        return "lexicon", f"{key!r}: the written code holds {hit!r}"
    return "unaccounted", f"{key!r}: none of the calls that {key} ({', '.join(lexicons()['code_verbs'][key])}) is in the written code"


def _field(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    where = ctx.scope.has(word)
    if where is None and re.search(r"(?i)\bfrom\s+(?:the\s+|my\s+)?$", ctx.text[max(0, at - 12):at]):
        where = ctx.scope.prior.get(stem(word))
    if where is None and "-" in word:
        parts = [ctx.scope.has(p) for p in word.split("-") if len(p) > 1]
        where = parts[0] if parts and all(parts) else None
    return ("field", where) if where else None


def _synonym(word: str, at: int, ctx: _Ctx) -> tuple[str, str] | None:
    low = word.lower()
    for term, words in lexicons()["synonyms"].items():
        if low in words and (term in ctx.scope.terms or stem(term) in ctx.scope.terms
                             or all(stem(p) in ctx.scope.terms for p in term.split("_"))):
            return "lexicon", f"{low!r} for {term!r}, which the bound evidence holds"
    return None


# The registry verification walks, in order: the first rule that speaks decides a word.
RULES: tuple[tuple[str, Rule], ...] = (
    ("value", _value), ("value", _kind_noun), ("framing", _framing), ("context", _context), ("rule", _qualifier),
    ("lexicon", _action), ("lexicon", _code_verb), ("field", _field), ("lexicon", _synonym))
_FRAMING = frozenset(w.lower() for w in lexicons()["framing"]["words"])


def _is_context(text: str, a: int, b: int, scope: _Scope, values: list[tuple[int, int, bool, str]]) -> bool:
    """A reason or life fact claims nothing about the run only if no value (but a place a user
    lives in) and no word of it names something the bound evidence holds."""
    if any(a <= va < b and not what.startswith("entity") for va, _, _, what in values):
        return False
    for m in _WORD.finditer(text[a:b]):
        w = m.group()
        if w.lower() in _FRAMING or w[:1].isupper():
            continue
        if scope.has(w) or w.lower() in _QUALIFIER_WORDS:
            return False
    return True


def account_clause(b: "Binding", ev: "RunEvidence", bound_texts: tuple[str, ...] = ()) -> Accounting:
    """How each word of the clause `b` binds is accounted for by what it is bound to.

    `bound_texts`: the texts of the clause's values that are bounds a qualifier rule decided
    ("after 11am"), which the record need not hold.
    """
    c = b.clause
    text = c.text
    spans: list[tuple[int, int, bool, str]] = []
    bounds: list[tuple[int, int]] = []
    taken = 0
    matched = {id(m.value): m for m in b.matches}
    for v in c.values:
        at = text.find(v.text, taken if v.text in text[taken:] else 0)
        if at < 0:
            continue
        taken = at + len(v.text)
        if v.text in bound_texts:
            bounds.append((at, at + len(v.text)))
            continue
        m = matched.get(id(v))
        ok = m.found if m is not None else b.holds
        where = f"{v.kind} {v.text!r}" + (f" in {m.record.path} of step {m.record.step}" if m is not None and m.found else "")
        spans.append((at, at + len(v.text), ok, where))
    scope = _Scope(b, ev, compares=bool(_COMPARES.search(text)))
    candidates = context_spans(text)
    context = [(x, y) for x, y in candidates if _is_context(text, x, y, scope, spans)]
    reasons = [s for s in candidates if s not in context]
    people = [(m.start(), m.end()) for m in _PEOPLE.finditer(text)]
    ctx = _Ctx(text, c.kind, scope, spans, bounds, context, reasons, people, ev)
    words: list[Word] = []
    counted = _count_nouns(c, text, spans)
    for m in _WORD.finditer(text):
        w = re.sub(r"['’]s?$", "", m.group())
        if not w or any(ch.isdigit() for ch in w):
            continue
        if m.start() in counted:
            words.append(Word(w, m.start(), "value", counted[m.start()]))
            continue
        how, detail = "unaccounted", "no rule accounts for it"
        for _, rule in RULES:
            got = rule(w, m.start(), ctx)
            if got is not None:
                how, detail = got
                break
        words.append(Word(w, m.start(), how, detail))
    return Accounting(tuple(words), ctx.failure)


def _count_nouns(c, text: str, spans) -> dict[int, str]:
    """The noun a matched count stands for ("two passengers": the list it counted) is part of
    the value: offsets of those words."""
    out = {}
    for v in c.values:
        if v.kind != "number" or not v.nouns:
            continue
        at = text.find(v.text)
        if at < 0 or not any(a == at and ok for a, _, ok, _ in spans):
            continue
        for m in _WORD.finditer(text, at + len(v.text)):
            if stem(m.group())[:5] in v.nouns or any(stem(m.group()).startswith(n) for n in v.nouns):
                out[m.start()] = f"the count {v.text!r}"
                break
            if m.start() - at > 40:
                break
    return out


def standalone_context(c) -> Accounting | None:
    """A clause that is user context and nothing else ("I live near Princeton"): its accounting,
    or None. Its values may only be names (a place the user lives in), never amounts, dates or ids."""
    spans = context_spans(c.text)
    if not spans or any(v.kind not in ("entity",) for v in c.values):
        return None
    words = []
    for m in _WORD.finditer(c.text):
        w = m.group()
        if any(a <= m.start() < b for a, b in spans):
            words.append(Word(w, m.start(), "context", "user context: claims nothing about the run"))
        elif w.lower() in _FRAMING:
            words.append(Word(w, m.start(), "framing"))
        else:
            return None
    return Accounting(tuple(words))


def tally(words: tuple[Word, ...]) -> dict[str, int]:
    """How many content words each way of accounting took (framing not counted)."""
    out = {h: 0 for h in HOWS if h != "framing"}
    for w in words:
        if w.how != "framing":
            out[w.how] += 1
    return out
