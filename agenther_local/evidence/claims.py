"""Claims: a goal split into clauses, each bound to ONE record or ONE call of the run.

A clause is
- an *action* claim (it opens with a write verb: book, cancel, change, send, transfer, refund,
  write, fix ...): it holds only if ONE succeeded write call matches its verb and every value
  of the clause occurs in that call's arguments or result, directly or through a join
  (evidence/model.py `call_scope`). A clause whose verb matches only failed calls, or no call,
  is `action_not_done`;
- a *lookup* claim (a question; find, tell, list, show ...): every value in ONE record, or in
  records joined to it by an id;
- a *qualifier* (a superlative, only/just/all/every/each/none, a condition: if, unless, even
  if, so that, without, before/after/at most ... a value): it holds only through an explicit
  rule (evidence/qualifiers.py), and otherwise fails as `unverifiable`: rejecting a true goal
  costs one sample, accepting a false one teaches the agent to claim what it did not do.
A goal for a run that made successful writes must ask for each of them (by its target: the
file, the reservation, the call), or it fails as `omits_write` (config can relax this).

The verb lists below are English verbs of requests, not words of any goal we measured on.
Not handled: pronouns across clauses ("cancel it"): a clause without values is bound by its
verb alone; negated requests ("don't cancel"); requests written as statements ("I'd like
the cheapest one" with no verb we know is a lookup).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .values import Specific, extract_specifics

# Goal verbs -> the families of tool-name verbs that can carry them out. A goal verb matches a
# call whose name has a verb of one of its families ("rebook" -> update_reservation_flights).
_FAMILIES = {
    "create": "book reserve order purchase buy create add insert post register subscribe schedule open",
    "cancel": "cancel delete remove drop void terminate close unsubscribe",
    "update": "update modify change edit set upgrade downgrade rebook reschedule replace rename move "
              "switch swap apply patch str_replace write save insert append reset toggle enable disable "
              "activate deactivate suspend resume mark",
    "send": "send issue grant email notify message post submit assign give",
    "transfer": "transfer escalate handoff hand connect forward",
    "pay": "pay charge refund refuel topup top recharge purchase buy add",
}
_GOAL_VERBS: dict[str, tuple[str, ...]] = {
    "book": ("create",), "reserve": ("create",), "order": ("create",), "purchase": ("create", "pay"),
    "buy": ("create", "pay"), "create": ("create", "update"), "add": ("create", "update", "pay"),
    "register": ("create",), "schedule": ("create", "update"), "open": ("create",),
    "cancel": ("cancel",), "delete": ("cancel", "update"), "remove": ("cancel", "update"),
    "drop": ("cancel", "update"), "void": ("cancel",), "terminate": ("cancel",),
    "change": ("update",), "modify": ("update",), "update": ("update",), "edit": ("update",),
    "set": ("update",), "upgrade": ("update",), "downgrade": ("update",), "rebook": ("update",),
    "reschedule": ("update",), "replace": ("update",), "rename": ("update",), "move": ("update",),
    "switch": ("update",), "swap": ("update",), "rewrite": ("update",), "fix": ("update",),
    "make": ("update", "create"), "wrap": ("update",), "guard": ("update",), "patch": ("update",),
    "write": ("update", "create"), "save": ("update", "create"), "put": ("update", "create"),
    "enable": ("update",), "disable": ("update",), "turn": ("update",), "reset": ("update",),
    "activate": ("update",), "suspend": ("update",), "resume": ("update",), "restore": ("update",),
    "apply": ("update",), "keep": ("update", "create"), "back": ("update", "create"),
    "send": ("send",), "issue": ("send", "create"), "grant": ("send",),
    "submit": ("send", "update"), "give": ("send",), "request": ("send",),
    "transfer": ("transfer",), "hand": ("transfer",), "escalate": ("transfer",), "connect": ("transfer",),
    "pay": ("pay",), "charge": ("pay",), "refund": ("pay", "update", "cancel"), "refuel": ("pay", "create"),
    "top": ("pay",), "recharge": ("pay",),
}
# Clauses that ask for information (imperatives and question words).
_LOOKUP_VERBS = frozenset(
    "find look tell list show check get retrieve pull search compare confirm report identify "
    "what which who whom whose when where why how is are was were do does did can could will "
    "would give name provide fetch see verify determine calculate count summarize summarise "
    "explain describe display return let i i'm i'd".split())
# Words that may stand before the verb of a request.
_LEAD = re.compile(r"(?i)^(?:(?:please|kindly|also|then|now|next|first|finally|and|so|just|but|"
                   r"can you|could you|would you|will you|i need you to|i want you to|i'd like you to|"
                   r"i need to|i want to|i'd like to|help me|let's|go ahead and)\b[\s,]*)+")
_QUALIFIER = re.compile(
    r"(?i)\b(?:only|just|all|every|each|none|no|any|both|either|neither|"
    r"if|unless|even if|only if|so that|without|whether|instead of|rather than|"
    r"at most|at least|no more than|no less than|up to|under|over|more than|less than|fewer than|"
    r"before|after|no earlier than|no later than|within|"
    r"cheapest|cheaper|lowest|lower|highest|higher|longest|longer|shortest|shorter|largest|larger|smallest|"
    r"smaller|fastest|faster|earliest|earlier|latest|later|newest|oldest|nearest|closest|best|worst|most|least|fewest)\b")
# Clause boundaries: punctuation or and/then, when a verb or question word follows.
_BOUNDARY = re.compile(r"(?:[,;:.?!—–]+\s+|\s+-\s+)(?:(?:and|then|and then|but|so)\s+)?|\s+(?:and|then|and then)\s+")


@dataclass(frozen=True)
class Clause:
    text: str
    start: int                     # offset in the goal
    kind: str                      # action | lookup | qualifier | context
    verb: str                      # the verb it opens with ("" for a qualifier)
    values: tuple[Specific, ...]   # the specifics of the clause (offsets in the goal)
    qualifiers: tuple[str, ...] = ()
    sentence: int = 0              # which sentence of the goal it is in

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "verb": self.verb,
                "values": [v.text for v in self.values], "qualifiers": list(self.qualifiers)}


def _first_word(text: str) -> str:
    rest = _LEAD.sub("", text.strip(" ,;:-—–\"'"))
    m = re.match(r"[A-Za-z']+", rest)
    return m.group().lower() if m else ""


def _opens_clause(text: str) -> bool:
    w = _first_word(text)
    return w in _GOAL_VERBS or w in _LOOKUP_VERBS


def split_clauses(goal: str) -> list[Clause]:
    """The clauses of a goal, each with its verb, kind and values.

    >>> [(c.kind, c.verb, c.text) for c in split_clauses("Cancel S61CZX and refund the $667 to my Visa ending 7238.")]
    [('action', 'cancel', 'Cancel S61CZX'), ('action', 'refund', 'refund the $667 to my Visa ending 7238')]
    >>> [(c.kind, c.verb) for c in split_clauses("What is the price of HAT136, and when does it leave?")]
    [('lookup', 'what'), ('lookup', 'when')]
    """
    specifics = extract_specifics(goal)
    ends = [m.end() for m in re.finditer(r"[.?!](?=\s|$)", goal)]
    cuts = [0]
    for m in _BOUNDARY.finditer(goal):
        if m.end() < len(goal) and (_opens_clause(goal[m.end():m.end() + 60]) or goal[m.start()] in ".?!"):
            if not any(s.start < m.start() < s.end for s in specifics):
                cuts.append(m.end())
    cuts.append(len(goal))
    out: list[Clause] = []
    for a, b in zip(cuts, cuts[1:]):
        raw = goal[a:b]
        text = re.sub(r"(?:[,;:.?!—–\s]+|\s+(?:and|then)\s*)$", "", raw).strip(" ,;")
        if not text:
            continue
        start = a + (len(raw) - len(raw.lstrip()))
        values = tuple(s for s in specifics if a <= s.start < b)
        verb = _first_word(text)
        if verb in _GOAL_VERBS and not (verb in ("give", "send") and re.match(r"(?i)(?:give|send)\s+(?:me|us)\s+(?:the|a|an|its|their|his|her|your|some|all|any|each|every|a few|several|\d+)\b",
                                                                   _LEAD.sub("", text.strip(" ,;:-—–\"'")))):
            kind = "action"
        elif verb in _LOOKUP_VERBS or text.endswith("?") or raw.rstrip().endswith("?"):
            kind = "lookup"
        elif out:
            kind = "context"      # a phrase continuing the previous clause ("connecting to HAT039")
        else:
            kind = "lookup"
        quals = tuple(m.group().lower() for m in _QUALIFIER.finditer(text))
        out.append(Clause(text, start, kind, verb, values, quals, sum(e <= a for e in ends)))
    return _merge_context(out)


def _merge_context(clauses: list[Clause]) -> list[Clause]:
    """A continuation phrase belongs to the clause before it."""
    out: list[Clause] = []
    for c in clauses:
        if c.kind == "context" and out:
            p = out[-1]
            out[-1] = Clause(p.text + ", " + c.text, p.start, p.kind, p.verb, p.values + c.values,
                             p.qualifiers + c.qualifiers, p.sentence)
        else:
            out.append(c)
    return out


def families_of(verb: str) -> tuple[str, ...]:
    return _GOAL_VERBS.get(verb, ())


def call_matches_verb(call_words: list[str], verb: str) -> bool:
    """Can a call whose name has these words carry out the goal verb?

    >>> call_matches_verb(["update", "reservation", "flights"], "rebook"), call_matches_verb(["cancel", "reservation"], "book")
    (True, False)
    """
    fams = families_of(verb)
    if not fams:
        return False
    if verb in call_words:
        return True
    names = set().union(*(set(_FAMILIES[f].split()) for f in fams))
    return any(w in names for w in call_words)


def call_families(call_words: list[str]) -> set[str]:
    """The verb families a call whose name has these words carries out.

    >>> sorted(call_families(["update", "reservation", "flights"])), sorted(call_families(["cancel", "reservation"]))
    (['update'], ['cancel'])
    """
    return {f for f, verbs in _FAMILIES.items() if set(verbs.split()) & set(call_words)}


# User context that claims nothing about the run, by its form (evidence/accounting.py decides
# whether it really names nothing the bound evidence holds): a reason or motive, to the end of
# the clause; a fact of the user's life, to the next punctuation.
_REASON = re.compile(r"(?i)\b(?:because|now that|given that|due to|in order to|so that|so (?:i|we) can|"
                     r"since (?=(?:i|we|my|our|the|it|they|he|she)\b)|as (?=(?:i|we|my|our)\b))")
_LIFE = re.compile(r"(?i)(?:^|(?<=[,;:(]\s)|(?<=\band\s))(?:i|we)(?:'m|'re| am| are)?\s+(?:live|living|work|working|"
                   r"study|studying|based|moved|grew up|staying|come from|am from|'m from)\b[^,;:.?!()]*")


def context_spans(text: str) -> list[tuple[int, int]]:
    """Spans of `text` that may be user context: reasons and facts about the user's life.

    >>> t = "Cancel S61CZX because my plans changed"
    >>> [t[a:b] for a, b in context_spans(t)]
    ['because my plans changed']
    >>> t = "I live near Princeton, so Newark works too"
    >>> [t[a:b] for a, b in context_spans(t)]
    ['I live near Princeton']
    >>> context_spans("Book a flight since May 2")
    []
    """
    out = [(m.start(), len(text.rstrip(" .!?"))) for m in _REASON.finditer(text)][:1]
    out += [(m.start(), m.end()) for m in _LIFE.finditer(text)]
    return sorted(out)


# What a question asks for, and what the record it is bound to must then hold.
_ASK_DATE = re.compile(r"(?i)\b(?:when|what (?:date|year|day|month|time)|which (?:date|year|day|month))\b")
_ASK_NUMBER = re.compile(r"(?i)\bhow (?:many|much|long|old|tall|big|far|high)\b")
_ASK_PERSON = re.compile(r"(?i)\b(?:who|whom|whose)\b(?:\s+(?:else\s+)?([a-z]+))?")
_ASK_NOUN = re.compile(r"(?i)\b(?:which|what|tell (?:me|us)|give (?:me|us)|show (?:me|us)|list|find(?: me| us)?|"
                       r"get(?: me| us)?|report|plus|as well as|along with)\s+((?:[\w'-]+\s*){1,5})")
# "... which of its flights was delayed": the state the question asks about.
_ASK_STATE = re.compile(r"(?i)\b(?:was|were|is|are|got|been|get)\s+([a-z]{4,})\s*[?.!]?\s*$")
_NP_END = frozenset("of for to in on at by from with about into over under than that which who whose when where "
                    "does did do is are was were has have had can could will would should and or but as if "
                    "i you he she it we they me us".split())
_NOT_ASKED = frozenset("is are was were do does did has have had the a an of for to in on at by and or me us "
                       "you it its this that these those other another one ones any some also many much exact "
                       "full whole combined current same new each every few both all".split())
# Auxiliaries after "who": "who is", "who was" ask for a person, not a verb's doer.
_AUX = frozenset("is are was were has have had did does do can could will would should".split())


def _stem(word: str) -> str:
    w = word.lower()
    for suf in ("ing", "ed", "es", "s", "er", "ion"):
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            w = w[: -len(suf)]
            break
    return w[:6]


def _noun_phrases(words: str) -> list[list[str]]:
    """The noun phrases a question asks for, as lists of lower-case content words: "the postal
    code, phone number and website of" -> [['postal', 'code'], ['phone', 'number'], ['website']]."""
    out: list[list[str]] = [[]]
    do_support = after_subject = False
    for m in re.finditer(r"[\w'-]+|,", words):
        w = m.group()
        low = w.lower()
        if low in ("do", "does", "did") and not any(out):
            do_support = True                 # "what does DL2210 cost": a verb follows the subject
            continue
        if w[:1].isupper() or w[:1].isdigit():
            after_subject = do_support and not any(out)
            continue
        if after_subject:
            break                             # ... "cost" is its verb, not what is asked
        if w == "," or low == "and":
            out.append([])
            continue
        if low in _AUX and not any(out):
            continue                 # "what was Nyquist's winning time"
        if low in _NP_END:
            break
        if low in _NOT_ASKED or low in _LOOKUP_VERBS or low in _GOAL_VERBS or w[:1].isupper() or len(low) < 3 \
                or _QUALIFIER.fullmatch(low):
            continue                 # qualifiers ("cheapest") have rules of their own
        out[-1].append(low)
    return [p for p in out if p]


def _has(stem: str, folded: str) -> bool:
    """Does a word of `folded` start with `stem`? ("bred" is not in "thoroughbred")."""
    return re.search(r"(?<![a-z0-9])" + re.escape(stem), folded) is not None


# What a question's head noun asks for: a value of this kind must be in the record.
_TYPED = {("date", "time"): ("time", "date", "year", "day", "month", "premiere", "birthday", "deadline"),
          ("money", "number"): ("price", "cost", "fare", "amount", "total", "budget", "gross", "revenue", "salary",
                                "fee", "balance", "population", "count", "age", "height", "length", "weight",
                                "distance", "score", "rank", "ranking", "number", "percentage", "rate")}


def asked_missing(c: Clause, texts: list[str]) -> str | None:
    """Does the bound record (with its joins) hold what the clause asks for? None if it does,
    else what is missing. A question names what it asks: a date ("when"), an amount ("how
    much"), a person and the verb done ("who directed" needs "direct"), or a noun ("which
    channel" needs "channel"); the record must show it, beyond the clause's own values.

    >>> c = split_clauses("Who directed the 1996 film Ransom?")[0]
    >>> asked_missing(c, ["Ransom is a 1996 American crime film starring Mel Gibson."])
    "'directed': not in the bound record"
    >>> asked_missing(c, ["Ransom is a 1996 film directed by Ron Howard."]) is None
    True
    """
    body = " ".join(texts)
    folded = body.lower()
    own = {v.norm if isinstance(v.norm, str) else v.norm[0] for v in c.values}
    found = extract_specifics(body)
    text = c.text
    if _ASK_DATE.search(text):
        if not any(s.kind in ("date", "time") or (s.kind == "number" and re.fullmatch(r"1\d{3}|20\d\d", s.text))
                   for s in found if (s.norm if isinstance(s.norm, str) else s.norm[0]) not in own):
            return "a date: none in the bound record beyond the question's own"
    if _ASK_NUMBER.search(text):
        if not any(s.kind in ("number", "money") for s in found if s.norm not in own):
            return "an amount: none in the bound record beyond the question's own"
    m = _ASK_PERSON.search(text)
    if m and m.group(1) and m.group(1).lower() not in _AUX and m.group(1).lower() not in _NOT_ASKED:
        if not _has(_stem(m.group(1)), folded):
            return f"{m.group(1)!r}: not in the bound record"
    for m in _ASK_NOUN.finditer(text):
        for phrase in _noun_phrases(m.group(1)):
            head = phrase[-1]
            typed = next((kinds for kinds, nouns in _TYPED.items() if head in nouns), None)
            if typed is not None and not any(s.kind in typed for s in found):
                return f"{head!r}: no {typed[0]} in the bound record"
            # every word of each phrase but one must be there: "direct flight" is a flight
            # record, "cabin class" a record with a cabin; a typed head ("price") is there
            # when a value of its kind is ("Ohio Wire & Cable - $5.30/kg")
            missing = [w for w in phrase if not _has(_stem(w), folded) and not (w == head and typed)]
            if len(missing) > (1 if len(phrase) > 1 else 0):
                return f"{' '.join(phrase)!r}: not in the bound record"
    m = _ASK_STATE.search(text)
    if m and m.group(1).lower() not in _NOT_ASKED and not _has(_stem(m.group(1)), folded):
        return f"{m.group(1)!r}: not in the bound record"
    return None
