"""Evidence-linked verification: every clause of a goal bound to ONE record or ONE call.

The goal is split into clauses (evidence/claims.py) and each is bound deterministically
(evidence/bind.py): an action clause to one succeeded write call holding all its values, a
lookup clause to one record (with its id joins) holding all its values and what it asks for,
a qualifier through an explicit rule or not at all; and a goal for a run with successful
writes must ask for each of them. This module adds what needs more than the evidence model:
1. narrow questions, only for names and letter codes no value matched (a paraphrased name, a
   city the table of places lacks), asked about the ONE record or call the clause is bound
   to, never the run: "Do these observations show that <clause>?", P(yes) against the
   constraint juror's calibrated threshold. Numbers, dates, ids never go to a model;
2. a goal that asks a question needs an answer: if the run ended without a final answer (a
   ReAct run that HALTED, a ToolBench give-up), no binding makes the question answered;
3. a superlative ("the cheapest") over a listing the run saw only part of ("showing 3 of 148
   products", "page 1 of 9") fails unless the goal limits it to what was shown.
Evidence is what tools returned and the arguments of write calls whose result shows success;
the user's turns, the agent's thoughts, its final message, the arguments of read calls and
of failed calls never are (SPEC, "What counts as evidence").

Departure from the previous verifier: a value found in *some* tool output no longer holds a
claim (SPEC measured precision 0.36 for that on held-out runs), and the writer's citations of
facts are no longer what anchors a goal: the binding is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..config import EvidenceConfig
from ..errors import AgentherError
from ..evidence.bind import Binding, bind_goal, is_narrow
from ..evidence.model import RunEvidence
from ..judges.jury import Juror
from ..prompts import Prompts
from ..trajectory import Trajectory

__all__ = ["Constraint", "Verification", "verify_goal", "is_narrow", "asked_question", "superlative", "partial_view"]

SNIPPET = 60          # characters of context kept around a matched span
MAX_EVIDENCE_CHARS = 1200
# A narrow question reads the ONE bound record or call, cut to this (issue 22: under ~300
# tokens, so the 1.5B answers in about a second or two on 2 cores).
NARROW_EVIDENCE_CHARS = 900


@dataclass(frozen=True)
class Constraint:
    """One clause of the goal (or a goal-level check) and how it was decided."""
    text: str                    # the clause, or the value/word a goal-level check is about
    kind: str                    # action | lookup | write | answer | superlative
    clause: str
    method: str                  # the rule: bound_call | bound_record | narrow_question | action_not_done |
                                 # mixed_records | unmatched | unverifiable | unaccounted | context | omits_write | unanswered | partial_view
    holds: bool
    evidence: tuple[dict[str, Any], ...]   # {"step", "text", "path", "span"} of the bound record or call
    detail: str
    p_yes: float | None = None   # narrow questions only
    facts: tuple[int, ...] = ()
    type: str = ""               # the clause type: action | lookup | qualifier | write | question
    bound_to: dict[str, Any] | None = None
    values: tuple[dict[str, Any], ...] = ()   # each value: found?, step, path, matched text
    open_names: tuple[str, ...] = ()          # names and words a narrow question was (or could be) asked about
    words: tuple[dict[str, Any], ...] = ()    # each content word: how it was accounted for (evidence/accounting.py)

    def to_dict(self) -> dict[str, Any]:
        d = {"text": self.text, "kind": self.kind, "type": self.type or self.kind, "clause": self.clause,
             "method": self.method, "rule": self.method, "holds": self.holds, "bound_to": self.bound_to,
             "values": list(self.values), "evidence": list(self.evidence), "detail": self.detail,
             "facts": list(self.facts), "open_names": list(self.open_names), "words": list(self.words)}
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
                      "the goal asks a question and the run ended without a final answer", type="question")


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
                              f"of it ({shown!r})", type="qualifier")
    return None


def _snippet(text: str, start: int, end: int) -> str:
    a, b = max(0, start - SNIPPET), min(len(text), end + SNIPPET)
    return ("…" if a else "") + text[a:b] + ("…" if b < len(text) else "")


def _bound_texts(b: Binding, ev: RunEvidence, budget: int = 0) -> list[dict[str, Any]]:
    """What the clause is bound to, as evidence entries: the record (with its joins) or the call."""
    if b.record is not None:
        group = ev.group(b.record)
    elif b.call is not None:
        group = ev.call_scope(b.call)
    else:
        return []
    per = (budget or MAX_EVIDENCE_CHARS) // max(1, min(3, len(group)))
    return [{"step": r.step, "path": r.path, "span": [r.start, r.end], "text": r.text[:per]} for r in group[:3]]


def _words(b: Binding) -> tuple[dict[str, Any], ...]:
    """The clause's content words with how each was accounted for (framing left out)."""
    if b.accounting is None:
        return ()
    return tuple(w.to_dict() for w in b.accounting.words if w.how != "framing")


def _constraint(b: Binding, ev: RunEvidence) -> Constraint:
    kind = b.clause.kind if b.clause.kind != "context" else "lookup"
    return Constraint(b.clause.text, kind, b.clause.text, b.rule, b.holds, tuple(_bound_texts(b, ev)), b.detail,
                      type=kind, bound_to=b.bound_to, values=tuple(m.to_dict() for m in b.matches),
                      open_names=b.open_words, words=_words(b))


def _narrow(b: Binding, ev: RunEvidence, juror: Juror, prompts: Prompts) -> Constraint:
    """One yes/no question about the clause, over the ONE record or call it is bound to: it
    decides the names no value matched and the words no rule accounted for."""
    evidence = [{"step": e["step"] + 1, "text": e["text"]} for e in _bound_texts(b, ev, NARROW_EVIDENCE_CHARS)]
    score = juror.judge.p_yes(prompts.render("constraint", claim=b.clause.text, evidence=evidence))
    ok = score.p_yes >= juror.threshold
    names = ", ".join(repr(w) for w in b.open_words)
    c = _constraint(b, ev)
    words = tuple({**w, "how": "question", "p_yes": round(score.p_yes, 6), "detail": f"asked {juror.judge.id}"}
                  if w["how"] == "unaccounted" and ok else w for w in c.words)
    return Constraint(c.text, c.kind, c.clause, "narrow_question", ok, c.evidence,
                      f"{names} not accounted for by a rule; {juror.judge.id}: P(yes) {score.p_yes:.3f} "
                      f"{'>=' if ok else '<'} {juror.threshold:.3f} ({juror.threshold_source}) about {b.bound_to}",
                      score.p_yes, type=c.type, bound_to=c.bound_to, values=c.values, open_names=c.open_names,
                      words=words)


def verify_goal(goal: str, traj: Trajectory, juror: Juror | None = None, prompts: Prompts | None = None,
                cfg: EvidenceConfig | None = None, answer_written: bool = False) -> Verification:
    """Bind every clause of `goal` to one record or one succeeded write call of `traj`; ask
    `juror` only about names left open in an otherwise bound clause. `answer_written`: the
    sample's final message will be written from the bound evidence (stages/shape.py), so a
    question is not refused because the run itself never answered it."""
    if not goal or not goal.strip():
        raise AgentherError("empty goal: nothing to verify")
    if not traj.evidence_steps:
        raise AgentherError(f"trajectory '{traj.id}' has no tool observations: there is no evidence to verify against")
    cfg = cfg or EvidenceConfig()
    prompts = prompts or Prompts()
    ev = RunEvidence.of(traj, cfg.write_tools, cfg.read_tools)
    bindings = bind_goal(goal, ev, cfg.require_all_writes)
    unanswered = None if answer_written else _unanswered(goal, traj)
    partial = _partial_superlative(goal, traj)
    # A clause that fails on a value, an action or a qualifier decides the goal: no model is asked.
    hard = [b for b in bindings if not b.holds and not b.open_words] + [c for c in (unanswered, partial) if c]
    out: list[Constraint] = []
    for b in bindings:
        if b.open_words and not b.holds and juror is not None and not hard:
            out.append(_narrow(b, ev, juror, prompts))
        else:
            c = _constraint(b, ev)
            if b.open_words and not b.holds:
                why = "not asked: the goal already fails elsewhere" if hard else "no constraint juror was given"
                method = "unverifiable" if c.method == "unaccounted" and not hard else c.method
                c = Constraint(c.text, c.kind, c.clause, method, False, c.evidence, f"{b.detail}; {why}",
                               type=c.type, bound_to=c.bound_to, values=c.values, open_names=c.open_names,
                               words=c.words)
            out.append(c)
    out += [c for c in (unanswered, partial) if c is not None]
    failed = [c for c in out if not c.holds]
    if failed:
        return Verification(False, tuple(out), "; ".join(f"[{c.method}] {c.text[:60]!r}: {c.detail}" for c in failed))
    if not out:
        return Verification(False, (), "no clause to bind: the goal states nothing a record or call could show")
    rules = sorted({c.method for c in out})
    return Verification(True, tuple(out), f"all {len(out)} clause(s) bound ({', '.join(rules)})")
