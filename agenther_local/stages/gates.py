"""Cheap checks every hindsight goal passes before any judge is asked, in this order:

1. well_formed: non-empty, no meta words ("the agent", "trajectory", "hindsight", ...), and
   none of the original goal's UNMET specifics (a value of the original goal that no tool
   output shows: carrying it over is the over-claim SPEC warns about);
2. grounding: every specific of the goal (number, date, code, quoted string, name) occurs in
   a tool output, after normalisation (evidence/grounding.py). Tool outputs only: the user's
   words and the agent's final message re-admit unmet constraints (SPEC, "Hard negatives");
3. not_trivial: not a near-copy of the original goal: cosine below `max_original_cosine`,
   or a real difference in specifics;
4. on_topic: cosine(goal, extracted outcome) at least `min_outcome_cosine` (embeddings see
   topic, not truth: this only stops off-topic goals).
No gate reads any model's opinion, so hostile text in observations cannot open them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..config import GateConfig
from ..embeddings import Embedder, cosine
from ..trajectory import Trajectory
from .extract import Outcome
from ..evidence.grounding import check_grounding
from ..evidence.model import written_arguments
from ..evidence.values import extract_specifics

GATES = ("well_formed", "grounding", "not_trivial", "on_topic")


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.name, "passed": self.passed, "detail": self.detail, **({"data": self.data} if self.data else {})}


def _norm_set(text: str) -> set[str]:
    return {str(s.norm) for s in extract_specifics(text)}


def unmet_specifics(traj: Trajectory) -> list[str]:
    """Specifics of the original goal that no tool output shows (its unmet constraints)."""
    g = check_grounding(traj.goal, traj)
    return [s.text for s in g.missing]


def well_formed(goal: str, traj: Trajectory, cfg: GateConfig) -> GateResult:
    if not goal or not goal.strip():
        return GateResult("well_formed", False, "empty goal")
    low = goal.lower()
    for phrase in cfg.banned_phrases:
        if re.search(r"\b" + re.escape(phrase) + r"\b", low):
            return GateResult("well_formed", False, f"mentions {phrase!r}")
    # An unmet constraint is, by definition, in no tool output: only the goal's ungrounded
    # specifics can carry one over, matched by kind and value ("5 suppliers" is not "$5/kg").
    unmet = {(s.kind, str(s.norm)): s.text for s in check_grounding(traj.goal, traj).missing}
    carried = list(dict.fromkeys(unmet[(s.kind, str(s.norm))] for s in check_grounding(goal, traj).missing
                                 if (s.kind, str(s.norm)) in unmet))
    if carried:
        return GateResult("well_formed", False, f"carries over the original goal's unmet constraint(s): {', '.join(carried)}",
                          {"unmet": carried})
    return GateResult("well_formed", True, "ok")


def grounding(goal: str, traj: Trajectory, defer_names: bool = False) -> GateResult:
    """Every specific of the goal in a tool output. With `defer_names`, names and letter codes
    no value matched (a city vs its airport code) are left to the constraint juror's narrow
    question (stages/verify.py) instead of failing here; values never are."""
    from ..evidence.bind import is_narrow

    # what the run did counts too: the arguments of its succeeded writes (evidence/model.py)
    g = check_grounding(goal, traj, written_arguments(traj))
    cited = [{"text": t, "step": st, "start": a, "end": b} for t, st, a, b in g.evidence]
    hard = [s for s in g.missing if not (defer_names and is_narrow(s))]
    if hard:
        missing = ", ".join(f"{s.text!r} ({s.kind})" for s in g.missing)
        return GateResult("grounding", False, f"not in any tool output: {missing}",
                          {"missing": [s.text for s in g.missing]})
    if g.missing:
        deferred = ", ".join(repr(s.text) for s in g.missing)
        return GateResult("grounding", True, f"{len(g.specifics) - len(g.missing)} specific(s) found in tool outputs; "
                          f"{deferred} left to the constraint juror", {"evidence": cited, "deferred": [s.text for s in g.missing]})
    return GateResult("grounding", True, f"{len(g.specifics)} specific(s), all found in tool outputs",
                      {"evidence": cited})


def not_trivial(goal: str, traj: Trajectory, embedder: Embedder, cfg: GateConfig) -> GateResult:
    v = embedder.embed([goal, traj.goal])
    c = cosine(v[0], v[1])
    if c < cfg.max_original_cosine:
        return GateResult("not_trivial", True, f"cosine to the original goal {c:.3f} < {cfg.max_original_cosine}", {"cosine": c})
    if _norm_set(goal) != _norm_set(traj.goal):
        return GateResult("not_trivial", True, f"cosine {c:.3f} but different specifics", {"cosine": c})
    return GateResult("not_trivial", False, f"near-copy of the original goal (cosine {c:.3f} >= "
                      f"{cfg.max_original_cosine}, same specifics)", {"cosine": c})


def on_topic(goal: str, outcome: Outcome, embedder: Embedder, cfg: GateConfig) -> GateResult:
    v = embedder.embed([goal, outcome.summary()])
    c = cosine(v[0], v[1])
    ok = c >= cfg.min_outcome_cosine
    return GateResult("on_topic", ok, f"cosine to the outcome {c:.3f} {'>=' if ok else '<'} {cfg.min_outcome_cosine}",
                      {"cosine": c})


def run_gates(goal: str, traj: Trajectory, outcome: Outcome, embedder: Embedder,
              cfg: GateConfig, defer_names: bool = False) -> tuple[GateResult, ...]:
    """All gates in order, stopping at the first that rejects (later ones are not run)."""
    results = []
    for check in (lambda: well_formed(goal, traj, cfg), lambda: grounding(goal, traj, defer_names),
                  lambda: not_trivial(goal, traj, embedder, cfg), lambda: on_topic(goal, outcome, embedder, cfg)):
        r = check()
        results.append(r)
        if not r.passed:
            break
    return tuple(results)
