"""Sample shaping: the demonstration teaches the hindsight goal, and nothing else.

An accepted goal is bound to calls and records of the run (stages/verify.py). The sample:
- ends after the last step the goal needs: its last bound write, or the record its answer
  comes from. Later steps (an add-to-cart nobody asked for, a second search) are cut, as in
  HER's "future" strategy and irrelevant-action masking of hindsight supervised learning;
- ends with a final message that answers or confirms the goal from the bound evidence. The
  original final message is kept when nothing was cut and it claims nothing the tool outputs
  do not show; otherwise one is written from the bound records and calls with
  `prompts/answer.j2` (no model: a message built from what the tools returned).
The rejected side of a DPO pair keeps the original trajectory (formats/dpo.py). What was cut
or rewritten is recorded in the sample's metadata; `--keep-trajectory` turns shaping off.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..evidence.grounding import check_grounding
from ..prompts import Prompts
from ..trajectory import Trajectory

MAX_RESULT_CHARS = 300     # of a call's result quoted in a written confirmation


@dataclass(frozen=True)
class Shaped:
    traj: Trajectory
    cut_after: int | None          # index of the last step kept; None = nothing cut
    steps_cut: int
    final_answer_rewritten: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"cut_after_step": self.cut_after, "steps_cut": self.steps_cut,
                "final_answer_rewritten": self.final_answer_rewritten, "reason": self.reason}


def last_needed_step(verification: dict[str, Any]) -> int | None:
    """The last step any clause of the accepted goal is bound to (None if none is bound).

    >>> last_needed_step({"constraints": [{"holds": True, "bound_to": {"call": "book", "step": 9}},
    ...                                   {"holds": True, "bound_to": {"record": "$", "step": 4}}]})
    9
    """
    steps = [int(c["bound_to"]["step"]) for c in verification.get("constraints", [])
             if c.get("holds") and c.get("bound_to") and c["bound_to"].get("step") is not None]
    return max(steps) if steps else None


def _bound_evidence(verification: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for c in verification.get("constraints", []):
        if c.get("holds") and c.get("bound_to"):
            ev = (c.get("evidence") or [{}])[0]
            out.append({"clause": c.get("clause", c.get("text", "")), "bound_to": c["bound_to"],
                        "text": str(ev.get("text", ""))[:MAX_RESULT_CHARS]})
    return out


def shape_sample(traj: Trajectory, goal: str, verification: dict[str, Any], prompts: Prompts) -> Shaped:
    """The trajectory a sample for `goal` teaches: cut after the last needed step, ending with
    a final message the bound evidence supports."""
    last = last_needed_step(verification)
    if last is None:
        return Shaped(traj, None, 0, False, "no clause is bound to a step: the trajectory is kept")
    steps = traj.steps[: last + 1]
    cut = len(traj.steps) - len(steps)
    kept = dataclasses.replace(traj, steps=steps)
    original = traj.final_answer.strip()
    grounded = bool(original) and bool(kept.evidence_steps) and check_grounding(original, kept).is_grounded
    values = [v["value"].lower() for c in verification.get("constraints", []) for v in c.get("values", []) if v.get("found")]
    answers = not values or any(v in original.lower() for v in values)
    if cut == 0 and grounded and answers:
        return Shaped(traj, None, 0, False, "the original final message is supported by the tool outputs and "
                      "names what the goal asks for")
    why = (f"{cut} later step(s) cut; " if cut else "") + (
        "the original final message claims what no tool output shows" if original and not grounded
        else "the original final message answers another request" if original else "the run gave no final message")
    evidence = _bound_evidence(verification)
    answer = " ".join(prompts.render("answer", goal=goal, evidence=evidence).user.split())
    return Shaped(dataclasses.replace(kept, final_answer=answer), last if cut else None, cut, True, why)

