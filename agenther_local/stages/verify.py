"""Evidence-linked verification: every constraint of a goal cites what a tool returned.

A goal's constraints are its specifics (numbers, money, dates, times, codes, quoted strings,
names). Each is checked in this order:
1. value match (no model): the specific occurs, after normalisation of dates, numbers,
   currency, units, split name fields, codes and case, in a TOOL output; the matching span
   and its step are the evidence;
2. narrow question (only for names and codes that no value matched: a city vs its airport
   code, a paraphrased name): one yes/no question per constraint to the constraint juror,
   "Do these observations show that <clause>?", over the tool outputs most related to the
   clause, scored by P(yes) against that juror's calibrated threshold.
Numbers, money, dates and times never go to a model: a changed value is rejected by step 1.
A goal that asks a question also needs an answer: if the run ended without a final answer
(a ReAct run that HALTED, a ToolBench run that gave up), the question was never answered, and
no value match can change that. A superlative ("the cheapest", "the longest battery life")
compares over a set: when a tool output says it shows only part of its results ("showing 3
of 148 products", "page 1 of 9"), the run never saw the whole set, and the superlative fails
unless the goal limits it to what was shown ("of the three listed"). A goal is accepted only
if every constraint holds. Evidence
is tool output only: the user's turns, the agent's thoughts and its final message are
context, never evidence (SPEC).

A relabeled goal also comes with the writer's claims: the parts of the goal, each citing the
verified facts (and so the tool steps) it rests on. A specific is looked for in its claim's
cited steps first, and the constraint records which facts it rests on; a claim that cites no
verified fact fails, so every part of an accepted hindsight goal points at a tool output. A
"part" that shares no word with the goal (a small writer labels its parts "1", "date",
"bars[0].high") is not a part of it: it is ignored and named in the reason, and a written goal
with no value in a tool output and no part citing a verified fact fails as `unanchored`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import AgentherError
from ..judges.jury import Juror
from ..prompts import Prompts
from ..trajectory import Trajectory
from .grounding import evidence_index
from .values import Specific, extract_specifics

NARROW_KINDS = ("entity", "code")   # codes only when they hold no digit ("SEA", not "DL2210")
ANCHORS = ("value_match", "narrow_question", "cited")   # the methods that tie a constraint to a tool output
SNIPPET = 60          # characters of context kept around a matched span
MAX_EVIDENCE_STEPS = 3
MAX_EVIDENCE_CHARS = 1200


@dataclass(frozen=True)
class Constraint:
    text: str                    # the specific as the goal writes it
    kind: str
    clause: str                  # the part of the goal it belongs to
    method: str                  # value_match | narrow_question | unmatched
    holds: bool
    evidence: tuple[dict[str, Any], ...]   # {"step": i, "text": snippet}
    detail: str
    p_yes: float | None = None   # narrow questions only
    facts: tuple[int, ...] = ()  # the writer's facts (1-based) this constraint rests on

    def to_dict(self) -> dict[str, Any]:
        d = {"text": self.text, "kind": self.kind, "clause": self.clause, "method": self.method,
             "holds": self.holds, "evidence": list(self.evidence), "detail": self.detail, "facts": list(self.facts)}
        if self.p_yes is not None:
            d["p_yes"] = round(self.p_yes, 6)
        return d


@dataclass(frozen=True)
class Verification:
    accepted: bool
    constraints: tuple[Constraint, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "constraints": [c.to_dict() for c in self.constraints], "reason": self.reason}


@dataclass(frozen=True)
class Claim:
    """One part of a written goal and the verified facts it cites (numbers and their steps)."""
    text: str
    facts: tuple[int, ...]
    steps: tuple[int, ...]

    def holds_value(self, s: Specific) -> bool:
        """Does this claim state the specific (as a whole word: "CA" is not in "location")?"""
        return re.search(r"(?<!\w)" + re.escape(s.text) + r"(?!\w)", self.text, re.IGNORECASE) is not None


# Why a constraint that is not about a value fails, by its method (value constraints are
# listed together as "not shown by any tool output").
_FAILURE = {"uncited": "{!r} cites no verified fact",
            "unanchored": "no part of {!r} rests on a tool output",
            "unanswered": "{!r} is never answered: the run ended without a final answer",
            "partial_view": "{!r} compares over a set of which the run saw only part"}


def is_narrow(s: Specific) -> bool:
    """May a model decide this constraint? Names and letter codes yes; values never.

    >>> [is_narrow(x) for x in extract_specifics("Fly DL2210 from Boston (SEA) for $5")]
    [False, True, True, False]
    """
    return s.kind in NARROW_KINDS and not (s.kind == "code" and any(ch.isdigit() for ch in s.text))


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[\"'(]?[A-Z])")
_INTERROGATIVE = re.compile(r"(?i)(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|"
                            r"can|could|would|will)\b")
_PREPOSITION_WHAT = re.compile(r"(?i)\b(?:in|for|of|on|at|by|from|with|to|during|since|after|before) what\b")


def asked_question(goal: str) -> str | None:
    """The first sentence of `goal` that asks a question (at least three words), if any: it
    ends with "?", or, unpunctuated as many dataset questions are, opens with an interrogative
    word or asks "in what ...". ("When the agent asks, say no." is an instruction.)

    >>> asked_question("I need news in French. Can you list the top stories? Thanks.")
    'Can you list the top stories?'
    >>> asked_question("when was the stunt performer born")
    'when was the stunt performer born'
    >>> asked_question("The town was destroyed in what year")
    'The town was destroyed in what year'
    >>> [asked_question(g) for g in ("Find the cheapest flight (any airline?) to Denver", "Book UA100 for $228.10.",
    ...                               "When the agent asks, say no.")]
    [None, None, None]
    """
    for sentence in _SENTENCE_END.split(goal.strip()):
        q = sentence.strip()
        if len(q.split()) < 3:
            continue
        end = q.rstrip("\"'”’) ")[-1:]
        if end == "?" or end not in ".!" and (_INTERROGATIVE.match(q) or _PREPOSITION_WHAT.search(q)):
            return q
    return None


def _unanswered(goal: str, traj: Trajectory) -> Constraint | None:
    """A question the run never answered: the run ended with no final answer."""
    q = asked_question(goal)
    if q is None or traj.final_answer.strip():
        return None
    return Constraint(q, "answer", q, "unanswered", False, (),
                      "the goal asks a question and the run ended without a final answer")


_SUPERLATIVE = re.compile(
    r"(?i)\b(?:cheapest|lowest|highest|longest|shortest|largest|biggest|smallest|fastest|slowest|earliest|"
    r"latest|newest|oldest|nearest|closest|farthest|furthest|best(?![- ]known)|worst|greatest|fewest|"
    r"top-rated|best-selling|the (?:most|least) (?!of\b)[a-z]{3,})\b")
# The goal limits its superlative to what the run was shown, or to what it compared.
_SCOPED = re.compile(r"(?i)\b(?:compar(?:e|es|ed|ing)|among|of (?:the|these|those) (?:\d+|two|three|four|five|first|top|listed|shown|"
                     r"returned|results)|(?:top|first) (?:\d+|two|three|four|five)|shown|listed|returned|these|those)\b")
# A tool output announcing that it shows only part of its results, and how its numbers say so.
_PARTIAL = (
    (re.compile(r"(?i)\b(?:showing|results?|displaying|items?|entries|records)\s+(\d[\d,]*)\s*(?:-|–|to)\s*"
                r"(\d[\d,]*)\s+of\s+(?:about\s+|over\s+)?(\d[\d,]*)"), lambda first, last, total: last - first + 1 < total),
    (re.compile(r"(?i)\b(?:showing|displaying|returned|returning)\s+(\d[\d,]*)\s+(?:[a-z]+\s+)?of\s+"
                r"(?:about\s+|over\s+)?(\d[\d,]*)"), lambda shown, total: shown < total),
    (re.compile(r"(?i)\bpage\s+(\d+)\s+of\s+(\d+)"), lambda page, pages: pages > 1),
    (re.compile(r"\"(?:has_more|hasMore|has_next|hasNext|more_results)\"\s*:\s*true"), lambda: True),
)


def superlative(goal: str) -> tuple[str, str] | None:
    """(word, sentence) of the first superlative of `goal` whose sentence does not limit it to
    what the run saw ("of the three listed", "among these", "compare ... and report the cheapest").

    >>> superlative("Which headphones have the longest battery life?")
    ('longest', 'Which headphones have the longest battery life?')
    >>> [superlative(g) for g in ("Which of the three listed headphones lasts longest?",
    ...     "Compare suppliers by price, and report the cheapest one.",
    ...     "Berk Group, best known for representing a pitcher", "Find a flight with at most 1 stop")]
    [None, None, None, None]
    """
    for sentence in re.split(r"(?<=[.?!;])\s+", goal.strip()):
        m = _SUPERLATIVE.search(sentence)
        if m and not _SCOPED.search(sentence):
            return m.group(0), sentence.strip()
    return None


def partial_view(text: str) -> str | None:
    """The words of a tool output that say it shows only part of its results, if any.

    >>> partial_view("SoundHub search: 'headphones' - showing 3 of 148 products")
    'showing 3 of 148'
    >>> [partial_view(t) for t in ("Results 1-4 of 4", "showing 3 of 3 products", "page 1 of 1", '{"a": 1}')]
    [None, None, None, None]
    """
    for pattern, is_part in _PARTIAL:
        for m in pattern.finditer(text):
            if is_part(*(int(g.replace(",", "")) for g in m.groups())):
                return m.group(0)
    return None


def _partial_superlative(goal: str, traj: Trajectory) -> Constraint | None:
    """A superlative over a listing the run saw only part of (no model is asked)."""
    sup = superlative(goal)
    if sup is None:
        return None
    for i, step in traj.evidence_steps:
        shown = partial_view(step.observation)
        if shown is not None:
            word, clause = sup
            at = step.observation.find(shown)
            return Constraint(word, "superlative", clause, "partial_view", False,
                              ({"step": i, "text": _snippet(step.observation, at, at + len(shown))},),
                              f"{word!r} compares over a set, but the output of step {i} shows only part "
                              f"of it ({shown!r})")
    return None


def clause_of(goal: str, s: Specific) -> str:
    """The comma/semicolon/'and'-delimited part of `goal` holding the specific.

    >>> g = "Find flights from Boston to Denver, and report the cheapest fare"
    >>> clause_of(g, extract_specifics(g)[0])
    'Find flights from Boston to Denver'
    """
    bounds = [0] + [m.end() for m in re.finditer(r"[,;]\s+(?:and\s+)?|\s+and\s+", goal)] + [len(goal) + 1]
    for a, b in zip(bounds, bounds[1:]):
        if a <= s.start < b:
            return re.sub(r"(?:[,;]\s*(?:and)?|\s+and)\s*$", "", goal[a:b].strip()).strip(" ,;.")
    return goal


def _snippet(text: str, start: int, end: int) -> str:
    a, b = max(0, start - SNIPPET), min(len(text), end + SNIPPET)
    return ("…" if a else "") + text[a:b] + ("…" if b < len(text) else "")


def _related_steps(traj: Trajectory, clause: str) -> list[dict[str, Any]]:
    """The tool outputs sharing the most words with the clause (at most 3, cut to size)."""
    words = {w for w in re.findall(r"[a-z0-9]{3,}", clause.lower())}
    scored = []
    for i, step in traj.evidence_steps:
        obs = step.observation.lower()
        scored.append((sum(w in obs for w in words), -i, i, step.observation))
    scored.sort(reverse=True)
    per = MAX_EVIDENCE_CHARS // MAX_EVIDENCE_STEPS
    return [{"step": i + 1, "text": obs[:per]} for _, _, i, obs in scored[:MAX_EVIDENCE_STEPS]]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[^\W\d_]{3,}", text.lower())}


def in_goal(c: Claim, goal: str) -> bool:
    """Is the writer's part a part of the goal (sharing a word with it)? A 0.5B writer labels
    its parts "1", "date", "bars[0].high": those are not, and are ignored."""
    return bool(_words(c.text) & _words(goal))


def _cited(c: Claim, traj: Trajectory) -> Constraint:
    """A part of the goal with no checkable value: it holds only by citing a verified fact."""
    if not c.steps:
        return Constraint(c.text, "claim", c.text, "uncited", False, (), "cites no verified fact", facts=c.facts)
    ev = tuple({"step": st, "text": traj.steps[st].observation[:200]} for st in c.steps)
    return Constraint(c.text, "claim", c.text, "cited", True, ev,
                      "rests on fact(s) " + ", ".join(f"[{f}]" for f in c.facts), facts=c.facts)


def _narrow(s: Specific, clause: str, traj: Trajectory, juror: Juror, prompts: Prompts,
            claim: Claim | None = None) -> Constraint:
    per = MAX_EVIDENCE_CHARS // MAX_EVIDENCE_STEPS
    evidence = ([{"step": st + 1, "text": traj.steps[st].observation[:per]} for st in claim.steps[:MAX_EVIDENCE_STEPS]]
                if claim and claim.steps else _related_steps(traj, clause))
    rendered = prompts.render("constraint", claim=clause, evidence=evidence)
    score = juror.judge.p_yes(rendered)
    ok = score.p_yes >= juror.threshold
    return Constraint(s.text, s.kind, clause, "narrow_question", ok,
                      tuple({"step": e["step"] - 1, "text": e["text"][:200]} for e in evidence),
                      f"{juror.judge.id}: P(yes) {score.p_yes:.3f} {'>=' if ok else '<'} "
                      f"{juror.threshold:.3f} ({juror.threshold_source})", score.p_yes, claim.facts if claim else ())


def verify_goal(goal: str, traj: Trajectory, juror: Juror | None = None, prompts: Prompts | None = None,
                claims: Sequence[Claim] = ()) -> Verification:
    """Check every constraint of `goal` against the tool outputs of `traj` (and, with the
    writer's `claims`, link each to the facts it cites)."""
    if not goal or not goal.strip():
        raise AgentherError("empty goal: nothing to verify")
    if not traj.evidence_steps:
        raise AgentherError(f"trajectory '{traj.id}' has no tool observations: there is no evidence to verify against")
    index = evidence_index(traj)
    prompts = prompts or Prompts()
    specifics = extract_specifics(goal)
    matched: dict[int, Constraint] = {}
    claim_of = {n: next((c for c in claims if c.holds_value(s)), None) for n, s in enumerate(specifics)}
    for n, s in enumerate(specifics):
        claim = claim_of[n]
        hit = index.find(s, claim.steps if claim else ())
        if hit is not None:
            step, a, b = hit
            obs = traj.steps[step].observation
            cited = "" if claim is None else (" (a cited fact)" if step in claim.steps else " (not a cited fact)")
            matched[n] = Constraint(s.text, s.kind, clause_of(goal, s), "value_match", True,
                                    ({"step": step, "text": _snippet(obs, a, b)},),
                                    f"{s.text!r} found in the output of step {step}{cited} as {obs[a:b]!r}",
                                    facts=claim.facts if claim else ())
    # A value no tool output shows already decides the goal: no model is asked about the rest.
    hard = [repr(s.text) for n, s in enumerate(specifics) if n not in matched and not is_narrow(s)]
    unanswered = _unanswered(goal, traj)
    if unanswered is not None:
        hard.append("its unanswered question")
    partial = _partial_superlative(goal, traj)
    if partial is not None:
        hard.append(f"{partial.text!r} over a partial listing")
    out: list[Constraint] = []
    for n, s in enumerate(specifics):
        clause = clause_of(goal, s)
        if n in matched:
            out.append(matched[n])
        elif not is_narrow(s):
            out.append(Constraint(s.text, s.kind, clause, "unmatched", False, (), "no tool output shows this value"))
        elif juror is None or hard:
            why = (f"no tool output shows it; not asked, the goal already fails on {hard[0]}" if hard else
                   "no tool output shows it and no constraint juror was given")
            out.append(Constraint(s.text, s.kind, clause, "unmatched", False, (), why))
        else:
            out.append(_narrow(s, clause, traj, juror, prompts, claim_of[n]))
    unvalued = [c for c in claims if not any(c.holds_value(s) for s in specifics)]
    stray = [c.text for c in unvalued if not in_goal(c, goal)]
    out += [_cited(c, traj) for c in unvalued if in_goal(c, goal)]
    out += [c for c in (unanswered, partial) if c is not None]
    if claims and not any(c.holds and c.method in ANCHORS for c in out):
        # A written goal must rest on at least one tool output: one whose parts are all labels
        # ("1" to "6") and that states no value says nothing a tool returned.
        out.append(Constraint(goal, "goal", goal, "unanchored", False, (),
                              "no value of the goal is in a tool output and no part of it cites a verified fact"))
    ignored = f"; ignored the writer's part(s) {', '.join(map(repr, stray))}: not words of the goal" if stray else ""
    failed = [c for c in out if not c.holds]
    if failed:
        shown = [c for c in failed if c.method not in _FAILURE]
        parts = (["not shown by any tool output: " + ", ".join(f"{c.text!r} ({c.method})" for c in shown)] if shown else [])
        parts += [_FAILURE[m].format(c.text) for m in _FAILURE for c in failed if c.method == m]
        return Verification(False, tuple(out), "; ".join(parts) + ignored)
    if not out:
        return Verification(True, (), "no checkable specific (number, date, code, name) in the goal")
    methods = sorted({c.method for c in out})
    return Verification(True, tuple(out), f"all {len(out)} constraint(s) hold ({', '.join(methods)}){ignored}")
