"""Goal plans: what a run achieved, read from its evidence, and a plain request for it.

SPEC ("What counts as evidence"): small models word goals badly but a goal built from the
evidence is correct by construction, and checking a wording against its plan is cheap. So the
hindsight goal starts as a plan, not as free text:
- a run with successful writes: ALL of them (one per target: the file, the reservation, the
  line), each with the arguments it was called with;
- a read-only run: a record that answers a question: the record behind the final answer when
  the final answer is supported by one record, else the most specific records the agent
  opened (a named or identified JSON object with values worth asking for).
`render_goal` words a plan with the Jinja template `prompts/goal.j2` (a user can change the
wording without touching code), and the result still goes through verification.

Several plans per run (`plan_goals`, best first), as HER's strategies:
- "final": all the run's writes, verified against the whole run;
- "episode": a question about another record the run read, each its own goal;
- "future": what the run had achieved by step k (a record read, or the writes made up to k),
  verified against the run cut after step k (`GoalPlan.prefix`), and its sample cut there.
A plan on a prefix never sees the steps after it, so a goal about a lookup made before a
write does not have to ask for that write: its sample ends before the write.

Not handled here: prose records (sentences of search snippets; the model writer of the
"strong" preset is used for those runs).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from ..evidence.actions import Action, name_words
from ..judges.generation import fit_budget
from ..evidence.model import RunEvidence
from ..evidence.pages import is_web_run
from ..evidence.records import _ID_KEY, Record, norm_id
from ..evidence.values import extract_specifics, paths_in
from ..prompts import Prompts
from ..trajectory import Trajectory
from .web_plan import render_web_goal, web_plans

MAX_ARGS = 8          # arguments of one call the request names (the rest stay in the call)
MAX_FIELDS = 2        # fields of a record one question asks for
# Arguments that only say who is asking: the goal's user is implicit ("book me ...").
_WHO = frozenset(("user_id", "customer_id", "account_id", "username"))


@dataclass(frozen=True)
class GoalPlan:
    kind: str                                  # writes | lookup
    actions: tuple[Action, ...] = ()           # writes: one call per target
    record: Record | None = None               # lookup: the record asked about
    subject: str = ""                          # lookup: the value that names the record
    fields: tuple[tuple[str, str], ...] = ()   # lookup: (key, value) asked for
    last_step: int = -1                        # the last step the goal needs
    prefix: int | None = None                  # verified against steps[:prefix]; None = the whole run

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "calls": [{"step": a.step, "name": a.name, "target": a.target} for a in self.actions],
                "record": {"step": self.record.step, "path": self.record.path} if self.record else None,
                "subject": self.subject, "fields": [list(f) for f in self.fields], "last_step": self.last_step,
                "prefix": self.prefix}

    @property
    def form(self) -> tuple | None:
        """A question's form: the same fields asked of records in the same place of their
        outputs ("the price of HAT080", "the price of HAT076": items of one list, or two
        reservations' "created at", two lines of one listing) have one form; a goal of writes has none."""
        if self.record is None:
            return None
        return (re.sub(r"\d+", "#", self.record.path), tuple(k for k, _ in self.fields))

    def run_seen(self, traj: Trajectory) -> Trajectory:
        """The run the plan is verified against: the whole run, or its steps up to the plan's
        last one with no final message (the sample's is written from the evidence)."""
        return traj if self.prefix is None else traj.upto(self.prefix)


def human(key: str) -> str:
    """A field name as words: 'gb_amount' -> 'gb amount', 'codePostal' -> 'code postal',
    'prices.economy' -> 'economy price'.

    >>> human("reservation_id"), human("codePostal"), human("prices.economy"), human("flights[0].date")
    ('reservation', 'code postal', 'economy price', 'flight date')
    """
    if re.fullmatch(r"[A-Z]{2,}", key):
        return key                              # "MOQ", "SKU": an acronym stays one
    in_list = re.match(r"\w+\[\d+\]\.", key) is not None
    key = re.sub(r"\[\d+\]", "", key)
    parts = key.split(".")
    if len(parts) > 1 and parts[0].endswith("s") and not parts[0].endswith("ss"):
        # an item of a list is named by the list ("flight date"), a part by its whole ("economy price")
        words = [parts[0][:-1]] + name_words(parts[-1]) if in_list else name_words(parts[-1]) + [parts[0][:-1]]
    else:
        words = name_words(parts[-1])
    if words and words[-1] in ("id", "ids"):
        words = words[:-1] or words
    return " ".join(words)


def _value_text(v: Any) -> str | None:
    if isinstance(v, bool) or v is None:
        return None if v is None else ("yes" if v else "no")
    if isinstance(v, (int, float, str)):
        s = str(v).strip()
        return s if s and len(s) <= 80 else None
    if isinstance(v, list):
        parts = [_value_text(x) if not isinstance(x, dict) else _object_text(x) for x in v]
        parts = [p for p in parts if p]
        return " and ".join(parts) if parts else None
    if isinstance(v, dict):
        return _object_text(v)
    return None


def _object_text(d: dict) -> str | None:
    """A nested argument object: 'HAT136 (2024-05-20)'; a person by name only ('Mia Li')."""
    if "first_name" in d and "last_name" in d:
        return f"{d['first_name']} {d['last_name']}"
    vals = [str(v) for v in d.values() if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    if not vals:
        return None
    return vals[0] + (f" ({', '.join(vals[1:])})" if len(vals) > 1 else "")


def describe_call(a: Action) -> dict[str, Any]:
    """What the template needs of one write: its verb, its object and its arguments as words.

    >>> from ..evidence.actions import Action
    >>> d = describe_call(Action(3, "cancel_reservation", {"reservation_id": "S61CZX"}, "{}", "succeeded", "write", "cancel", ""))
    >>> d["verb"], d["object"], d["args"]
    ('cancel', 'reservation', [('reservation', 'S61CZX')])
    """
    words = name_words(a.name)
    verb = a.verb if a.verb in words else (words[0] if words else a.name)
    rest = [w for w in words if w != verb]
    args = []
    files = []
    for k, v in a.args.items():
        if k in _WHO or isinstance(v, bool) or v in (0, "0", "", None, [], {}):
            continue            # a flag ("send_invites": true) or a zero stays in the call, unworded
        text = _value_text(v)
        if text:
            args.append((human(k), text))
        elif isinstance(v, str):
            files += paths_in(v)      # a patch or script: name the files it touches
    if files:
        # a git diff names each file twice, as a/<path> and b/<path>
        plain = [f[2:] if f.startswith(("a/", "b/")) else f for f in files]
        args.append(("files", " and ".join(dict.fromkeys(plain))))
    return {"verb": verb, "object": " ".join(rest), "args": args[:MAX_ARGS], "name": a.name}


def _writes_plan(writes: list[Action], prefix: int | None = None) -> GoalPlan | None:
    last: dict[str, Action] = {}
    for a in writes:
        last[a.target] = a            # one call per target: the last one is what stands
    if not last:
        return None
    calls = tuple(sorted(last.values(), key=lambda a: a.step))
    if any(not (d["object"] or d["args"]) for d in map(describe_call, calls)):
        # a call nothing names ("edit 35:43" of a file opened earlier): its request would be
        # the bare verb ("then edit ."), which asks for nothing the call did
        return None
    return GoalPlan("writes", actions=calls, last_step=calls[-1].step, prefix=prefix)


def _write_prefix_plans(writes: list[Action]) -> list[GoalPlan]:
    """"future" plans of a run with writes: the writes made up to each earlier write that
    changed a new target, shortest first (least like the whole run's plan, which is not
    among them)."""
    ends = [n for n, a in enumerate(writes) if a.target not in {b.target for b in writes[:n]}][1:]
    plans = [_writes_plan(writes[:n], prefix=writes[n - 1].step + 1) for n in ends]
    return [p for p in plans if p is not None]


_NAME_KEYS = ("name", "title", "full_name", "product", "product_title", "label", "flight", "symbol", "ticker",
              "sku", "asin", "model", "company", "hotel", "city")
_KIND_ORDER = {"money": 0, "date": 1, "time": 2, "number": 3, "email": 4, "url": 5}


def _subject(r: Record) -> tuple[str, str] | None:
    """(key, value) that names a record: a name or title first, then an id with a digit."""
    for key in _NAME_KEYS:
        for k, v in r.fields:
            if k.rsplit(".", 1)[-1].lower() == key and v and not k.endswith("[]") and len(v) <= 80 \
                    and not v.startswith(("[", "{", "<")) and "error" not in v.lower() \
                    and re.search(r"[A-Z0-9]", v) and extract_specifics(f'"{v}"'):
                # "Sony WH-1000XM5 ... - $328.00": the title, without the price after it
                head, _, tail = v.partition(" - ")
                return k, head.strip() if tail and re.search(r"\d", tail) else v
    ids = [(k, v) for k, v in r.fields if "." not in k and _ID_KEY.match(k) and v and not k.endswith("[]")]
    # its own id before one it inherits ("HAT080", not the reservation the flight is in; the
    # reservation "CYPIDV", not its user "mei_brown_7075"; not a lower-case word such as a meta
    # tag's "viewport"); another id only if it has a digit
    own = [(k, v) for k, v in ids if norm_id(v) in r.own_ids and re.search(r"[A-Z0-9]", v)]
    return (own or [(k, v) for k, v in ids if any(c.isdigit() for c in v)] or [None])[0]


def _askable(r: Record, subject_key: str) -> list[tuple[str, str]]:
    """Fields worth a question, amounts and dates first: a specific value, not an id."""
    out = []
    for k, v in r.fields:
        if k == subject_key or k.endswith("[]") or _ID_KEY.match(k.rsplit(".", 1)[-1]) or not v or len(v) > 60:
            continue
        kinds = [s.kind for s in extract_specifics(v) if s.kind in _KIND_ORDER]
        if kinds:
            out.append((_KIND_ORDER[kinds[0]], len(out), k, v))
    return [(k, v) for _, _, k, v in sorted(out)]


_SEGMENT_SPLIT = re.compile(r"\s+[-|·–]\s+")
_LABELLED = re.compile(r"^([A-Za-z][A-Za-z ]{0,20}?)[:\s]+(\d[\d.,]*\s*[A-Za-z%/]*)$")


# "1." / "[2]" / "3)" numbering, maybe after a heading ("Additional results: 6) ...")
_NUMBERING = re.compile(r"^\s*(?:[A-Za-z][^:.]{0,40}:\s*)?(?:\[\d+\]|\d+[.)])\s+")


def segment_fields(text: str) -> tuple[tuple[str, str], ...]:
    """Fields of a listing line whose parts are separated by dashes or bars (a part may hold
    several, separated by commas): the first part names it, a money part is its price, a
    "label value" part is that label.

    >>> segment_fields("Ohio Wire & Cable - $5.30/kg - MOQ 10 kg - Cleveland, OH - in stock")
    (('name', 'Ohio Wire & Cable'), ('price', '$5.30/kg'), ('MOQ', '10 kg'))
    >>> segment_fields("Additional results: 6) MicroMetals - $5.30/kg, MOQ 10kg.")
    (('name', 'MicroMetals'), ('price', '$5.30/kg'), ('MOQ', '10kg'))
    >>> segment_fields("Population, percent change - April 1, 2020 (estimates base) to July 1, 2022")
    ()
    """
    parts = [p.strip() for p in _SEGMENT_SPLIT.split(_NUMBERING.sub("", text)) if p.strip()]
    if len(parts) < 2 or len(parts[0]) > 60:
        return ()
    fields = [("name", parts[0])]
    subparts = [q.strip().rstrip(".;") for p in parts[1:] for q in p.split(", ")]
    for p in filter(None, subparts):
        kinds = [sp.kind for sp in extract_specifics(p)]
        m = _LABELLED.match(p)
        if kinds[:1] == ["money"] and len(kinds) == 1:
            fields.append(("price", p))
        elif m and "date" not in kinds and not m.group(1).lower().startswith(("up", "was", "in")):
            # "MOQ 10 kg" is a label and its value; "April 1" is a date, not a field "April"
            fields.append((m.group(1).strip(), m.group(2).strip()))
    return tuple(fields) if len(fields) > 1 else ()


def _lookup_plans(traj: Trajectory, ev: RunEvidence, limit: int, before: int | None = None,
                  prefixes: bool = True) -> list[GoalPlan]:
    """Questions records answer, best first: the record behind the final answer, then the
    latest specific ones. `before`: only records of steps before it (a run's first write);
    `prefixes`: each plan is verified against the run up to its record's step."""
    answer = {s.text.lower() for s in extract_specifics(traj.final_answer)} if traj.final_answer else set()
    scored = []
    for n, r in enumerate(ev.records):
        if before is not None and r.step >= before:
            continue
        if not r.fields:
            seg = segment_fields(r.text)
            if not seg:
                continue
            r = dataclasses.replace(r, fields=seg)     # the plan reads it as fields; the record is unchanged
        subj = _subject(r)
        if subj is None:
            continue
        ask = _askable(r, subj[0])
        if not ask:
            continue
        in_answer = sum(v.lower() in answer for _, v in ask) + (subj[1].lower() in answer)
        # a record among dated siblings (a price bar) is named with its date too
        date = next((v for k, v in r.fields if k.rsplit(".", 1)[-1] == "date" and k != subj[0]), "")
        subject = f'"{subj[1]}" on {date}' if date and date not in subj[1] else f'"{subj[1]}"'
        ask = [(k, v) for k, v in ask if v != date]
        if not ask:
            continue
        scored.append((-in_answer, -r.step, n, GoalPlan("lookup", record=r, subject=subject,
                                                        fields=tuple(ask[:MAX_FIELDS]), last_step=r.step,
                                                        prefix=r.step + 1 if prefixes else None)))
    scored.sort(key=lambda x: x[:3])
    seen, out = set(), []
    for *_, p in scored:
        if p.subject in seen:
            continue
        seen.add(p.subject)
        out.append(p)
        if len(out) >= limit:
            break
    return out


def plan_goals(traj: Trajectory, ev: RunEvidence, limit: int = 3, prefixes: bool = True) -> list[GoalPlan]:
    """The plans of a run, best first: all its writes (the whole run), then questions about
    records it read before its first write, then the writes made up to an earlier step.
    `limit` bounds the questions. `prefixes=False` (samples keep the whole run): only plans
    that hold for the whole run (all writes; questions only in a run with no write)."""
    if is_web_run(traj):
        # a browser run: its writes as the pages show them, none the state checker contradicts
        # (questions about page records are not planned: a page's fields are not its facts)
        return web_plans(traj, [p for p in _plan_goals(traj, ev, limit, prefixes) if p.kind == "writes"])
    return _plan_goals(traj, ev, limit, prefixes)


def _plan_goals(traj: Trajectory, ev: RunEvidence, limit: int, prefixes: bool) -> list[GoalPlan]:
    writes = list(ev.succeeded_writes)
    whole = _writes_plan(writes)
    if not prefixes:
        return [whole] if whole is not None else _lookup_plans(traj, ev, limit, prefixes=False)
    first_write = writes[0].step if writes else None
    lookups, partial = _lookup_plans(traj, ev, limit, before=first_write), _write_prefix_plans(writes)
    # questions and earlier writes taken in turn: the second goal of a run is of another kind
    mixed = [p for pair in itertools.zip_longest(lookups, partial) for p in pair if p is not None]
    return ([whole] if whole is not None else []) + mixed


def render_goal(plan: GoalPlan, prompts: Prompts) -> str:
    """The plain request of a plan, from prompts/goal.j2 (a browser run's writes: stages/web_plan.py)."""
    if plan.kind == "writes" and plan.actions and all(a.page for a in plan.actions):
        return render_web_goal(plan)
    rendered = prompts.render("goal", kind=plan.kind, calls=[describe_call(a) for a in plan.actions],
                              subject=plan.subject, fields=[(human(k), v) for k, v in plan.fields])
    return " ".join(rendered.user.split())


PARAPHRASE_SCHEMA = {"type": "object", "properties": {"goal": {"type": "string", "maxLength": 400}},
                     "required": ["goal"]}


def bindings(v) -> frozenset[str]:
    """The calls and records a verification bound the goal's clauses to."""
    return frozenset(json.dumps(c.bound_to, sort_keys=True) for c in v.constraints if c.holds and c.bound_to)


def paraphrase(plain: str, verified, traj: Trajectory, writer, prompts: Prompts, verify, seed: int,
               max_tokens: int) -> tuple[str, str, str]:
    """(goal, how, raw): the writer's rewording of `plain` if it verifies and binds to the same
    calls and records as `plain` did; else `plain`, and why the rewording was not kept."""
    # the budget and the schema's bounds agree, so a rewording is never cut mid-JSON
    schema, budget = fit_budget(PARAPHRASE_SCHEMA, max_tokens, where="[relabel] max_paraphrase_tokens")
    gen = writer.generate_json(prompts.render("paraphrase", request=plain), schema, 0.3, seed, budget)
    if gen.data is None:
        return plain, f"paraphrase unparsable ({gen.error}); the plain request is used", gen.text
    text = " ".join(str(gen.data.get("goal", "")).split())
    if not text:
        return plain, "paraphrase empty; the plain request is used", gen.text
    v = verify(text)
    if not v.accepted:
        return plain, f"paraphrase failed verification ({v.reason[:160]}); the plain request is used", gen.text
    if bindings(v) != bindings(verified):
        return plain, "paraphrase binds other calls or records than the plan; the plain request is used", gen.text
    return text, "paraphrase verified against the plan's calls and records", gen.text
