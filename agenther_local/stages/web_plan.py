"""Goal plans for browser runs: the writes the pages show took effect, worded as a user asks.

A browser run's writes are classified by evidence/pages.py: a click, a choice or typed text
counts only when a later page shows its effect (the switch now on, "Filter created", the row
gone), and its arguments are what the pages show of it (the element, the row it acted on,
the values chosen in its form, the effect). `web_plans` keeps the plan of all of them (one
per target, as stages/plan.py does) unless the app's state checker says one of them did not
happen; `render_web_goal` words it ("Turn on Mobile.", "Create filter with From
carlos.m@logisticspro.net.", "Delete 'Claim your $500 Amazon Gift Card' (Free Gift Cards).").

The checker's message (`metadata.verifier_message`, e.g. "Email address 'x' not found in
blockedSenders list") is a label, not evidence: it never makes a write succeed, but a plan
that claims a write whose values the checker names in a negative statement ("still exists",
"not found", "expected ...") is refused (`checker_refuses`).

Not handled: questions about what a page showed (the lookup plans of stages/plan.py read
page records like any other, and rarely find a field worth asking for in a page).
"""
from __future__ import annotations

import re
from typing import Any

from ..evidence.actions import Action
from ..evidence.pages import words

# The goal verb a write is worded with (a verb evidence/claims.py knows), by the write's verb.
_GOAL_VERB = {"delete": "Delete", "remove": "Remove", "move": "Move", "create": "Create", "send": "Send",
              "mark": "Set", "save": "Save", "enable": "Enable", "disable": "Disable", "set": "Set",
              "submit": "Submit"}
_NEGATIVE = re.compile(r"(?i)\b(?:not|no|never|still|missing|expected|instead|wrong|incorrect|failed|without)\b")
_QUOTED = re.compile(r"'([^']{2,})'|\"([^\"]{2,})\"")


def _parts(text: str) -> list[str]:
    return [p.strip() for p in str(text).split(" · ") if p.strip()]


def describe_web(a: Action) -> dict[str, Any]:
    """What a user would ask of one web write: {"text": ..., "values": [...]}.

    >>> from ..evidence.actions import Action
    >>> a = Action(3, "click", {"element": "Mobile", "effect": "Mobile now checked=true, aria-checked=true"},
    ...            "", "succeeded", "write", "set", "click:id=channel-mobile", page=True)
    >>> describe_web(a)["text"]
    'Turn on Mobile'
    """
    args = a.args
    element = str(args.get("element", "")).strip()
    effect = str(args.get("effect", ""))
    verb = _GOAL_VERB.get(a.verb, "Set")
    family = a.verb
    values: list[str] = []
    if " now " in effect and re.search(r"checked=(?:true|false)", effect) and not args.get("chosen"):
        on = "checked=true" in effect
        radio = "value=" in effect and on
        text = f"Select {element}" if radio else f"Turn {'on' if on else 'off'} {element}"
        where = _page_name(str(args.get("url", "")))
        return {"text": text + (f" on the {where} page" if where else ""), "values": [element], "family": "set"}
    obj_words = [w for w in element.split() if w.lower() not in words()["verbs"].get(a.verb, ()) | {verb.lower()}]
    # a one-word UI label is a common noun in a request ("Create Filter" -> Create filter)
    obj = " ".join(obj_words)
    text = f"{verb} {obj.lower() if len(obj_words) == 1 else obj}".strip()
    banner = _banner(effect)
    if banner is not None:
        # the page's own words for what happened: 'Label "Cloud" created' -> Create label "Cloud"
        what, where, said_verb = banner
        if said_verb:
            verb, family = said_verb, _FAMILY.get(said_verb.lower(), said_verb.lower())
        text = f"{verb} {what}{' ' + where if where else ''}".strip()
        values += [m.group(1) or m.group(2) for m in _QUOTED.finditer(what)]
    rows = [p for r in args.get("selected", []) for p in [_parts(r)] if p]
    if rows:
        r = rows[0]
        where = f" {banner[1]}" if banner and banner[1] else ""
        text = (f"{verb} '{r[1]}' from {r[0]}" if len(r) > 1 else f"{verb} '{r[0]}'") + where
        values += r[:2]
    chosen = [str(c) for c in args.get("chosen", [])]
    if chosen:
        said = []
        for c in chosen:
            k, _, v = c.rpartition(": ")
            k = re.sub(r"(?i)^(?:enter|type)\s+", "", k).strip()
            if v and banner is not None and v in banner[0]:
                continue            # the confirmation already names it ('label "Cloud" created')
            said.append((k, v))
            values.append(v)
        if len(said) == 1 and said[0][0].lower().endswith(" name") and not obj_words and banner is None:
            # "Create" with "label name: Review Needed" -> Create label 'Review Needed'
            text = f"{verb} {said[0][0][:-5].strip()} '{said[0][1]}'"
        elif a.verb == "save":
            text = "Set " + ", ".join(f"{k} to {v}" if k else v for k, v in said) + " and save"
        elif said:
            text += (" with " + ", ".join(f"{k} {v}" if k else v for k, v in said)) if said else ""
    return {"text": text, "values": values or ([element] if element else []), "family": family}


# A goal verb a confirmation line gave -> the write verb whose checker words apply.
_FAMILY = {"add": "create", "apply": "mark", "update": "save", "change": "save", "enable": "save", "disable": "save"}


def _page_name(url: str) -> str:
    """'http://host/#/notifications' -> 'Notifications' (the last path or fragment word)."""
    tail = re.split(r"[/#?]+", url.rstrip("/#"))[-1] if url else ""
    return tail.replace("-", " ").replace("_", " ").capitalize() if tail and not re.search(r"[:.]", tail) else ""


def _to(said: str) -> str:
    """'Display density Comfortable' -> 'Display density to Comfortable' (the last word is the value)."""
    head, _, last = said.rpartition(" ")
    return f"{head} to {last}" if head else said


def _banner(effect: str) -> tuple[str, str, str | None] | None:
    """(what, where, verb) of a confirmation line: 'says Label "Cloud" created' -> ('label "Cloud"',
    '', 'Create'); 'says 1 conversation(s) moved to Trash' -> ('1 conversation(s)', 'to Trash', 'Move')."""
    if not effect.startswith(("says ", "shows ")):
        return None
    line = effect.split(" ", 1)[1]
    confirm = words()["effects"]["confirm"]
    m = next((m for m in re.finditer(r"[A-Za-z]+", line) if m.group().lower() in confirm), None)
    if m is None:
        return None
    what, where = line[:m.start()].strip(), line[m.end():].strip(" .!")
    if what[:1].isupper() and what.split()[:1] and what.split()[0].lower() in ("label", "filter", "settings"):
        what = what[:1].lower() + what[1:]
    return what, where, words()["banner"].get(m.group().lower())


_ACTUAL = re.compile(r"(?i)\bgot\s+'?(true|false)\b|\bis\s+'?(true|false)'?,\s*expected\b|=(true|false),\s*expected\b")


def checker_refuses(traj, actions: tuple[Action, ...]) -> str | None:
    """Why the app's state checker says a write of the plan did not happen, or None.

    A write is refused when a value it names (a quoted subject, an address, a label) occurs in
    a negative clause of the failed run's checker message that says a write of its verb did
    not happen (`data/web.toml` [checker]: "still exists" for a delete, "not found in blocked"
    for a block), or, for a switch turned on or off, when that clause says the switch's state
    is the other one ("got True").

    >>> from ..evidence.actions import Action
    >>> class T: is_success = False; metadata = {"verifier_message": "Email with subject 'Claim it' still exists."}
    >>> a = Action(3, "click", {"element": "Delete", "selected": ["Spam Co · Claim it · text"]}, "", "succeeded", "write", "delete", "x", page=True)
    >>> checker_refuses(T, (a,))[:40]
    "the state checker says 'claim it' did no"
    """
    msg = str(traj.metadata.get("verifier_message") or "")
    if not msg or traj.is_success:
        return None
    clauses = [c for c in re.split(r"(?<=[.;])\s+|;\s*", msg) if _NEGATIVE.search(c)]
    topics = words()["checker"]
    for a in actions:
        d = describe_web(a)
        for c in clauses:
            low = c.lower()
            named = [v for v in map(str, d["values"]) if len(v.strip()) >= 3 and v.strip().lower() in low]
            if not named:
                continue
            state = _ACTUAL.search(c)
            said_on = d["text"].startswith("Turn on")
            if d["text"].startswith(("Turn on", "Turn off")) and state:
                actual = next(g for g in state.groups() if g).lower() == "true"
                if actual != said_on:
                    return f"the state checker says {named[0]!r} is {'on' if actual else 'off'}: {msg[:160]!r}"
                continue
            # a setting's value the checker names as expected (or wrong) was not saved
            settings = d.get("family") in ("save", "set")
            pattern = topics.get(d.get("family", a.verb))
            if settings or (pattern and re.search(pattern, c, re.I)):
                return f"the state checker says {named[0].lower()!r} did not happen: {msg[:160]!r}"
    return None


def web_plans(traj, plans: list) -> list:
    """The plans of a browser run with the ones the state checker contradicts left out."""
    return [p for p in plans if not (p.kind == "writes" and checker_refuses(traj, p.actions))]


def render_web_goal(plan) -> str:
    """The plain request of a browser run's writes plan: its writes in order, one clause each."""
    texts = [describe_web(a)["text"] for a in plan.actions]
    if not texts:
        return ""
    if len(texts) == 1:
        return texts[0] + "."
    return ", then ".join(texts[:-1]) + ", and then " + texts[-1][0].lower() + texts[-1][1:] + "."
