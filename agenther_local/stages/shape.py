"""Sample shaping: the demonstration teaches the hindsight goal, and nothing else.

An accepted goal is bound to calls and records of the run (stages/verify.py). The sample:
- ends after the last step the goal needs: its last bound write, or the record its answer
  comes from. Later steps (an add-to-cart nobody asked for, a second search) are cut, as in
  HER's "future" strategy and irrelevant-action masking of hindsight supervised learning;
- ends with a final message that answers or confirms the goal from the bound evidence. The
  original final message is kept when nothing was cut and it claims nothing the tool outputs
  do not show; otherwise one is written from the bound records and calls with
  `prompts/answer.j2` (no model: a message built from what the tools returned).
- for a question (every clause bound to a record, no write), keeps only the steps the answer
  needs: the step of the record, and each earlier step whose output gave a value a kept
  call was made with, when every value of every kept call is given so (by the goal or by a
  kept output). A run that searched for something else first ("flights BOS-DEN under $250",
  then the fare of DL 2210) then teaches the direct lookup the goal asks for, not the
  searches of another request. A free-text value (a search query of 3 words or more) need
  not come from anywhere: its call starts the chain. When a kept call holds another value
  neither the goal nor any earlier output gives (a date of the original request), the steps
  stay as they were. Thoughts of steps
  after a dropped one are emptied (they may reason about what was dropped). Runs with writes
  are never thinned: their reads and confirmations before a write are part of doing it.
The rejected side of a DPO pair keeps the original trajectory (formats/dpo.py). What was cut
or rewritten is recorded in the sample's metadata; `--keep-trajectory` turns shaping off.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ..evidence.grounding import check_grounding
from ..evidence.model import written_arguments
from ..evidence.values import json_leaves
from ..prompts import Prompts
from ..trajectory import Trajectory

MAX_RESULT_CHARS = 300     # of a call's result quoted in a written confirmation
# A call value of this many words is free text the agent wrote (a search query), not a value
# that must come from the goal or an output: "bare copper wire supplier price per kg".
FREE_TEXT_WORDS = 3


@dataclass(frozen=True)
class Shaped:
    traj: Trajectory
    cut_after: int | None          # index of the last step kept; None = nothing cut
    steps_cut: int
    final_answer_rewritten: bool
    reason: str
    steps_dropped: tuple[int, ...] = ()   # earlier steps a question's answer did not need

    def to_dict(self) -> dict[str, Any]:
        return {"cut_after_step": self.cut_after, "steps_cut": self.steps_cut,
                "final_answer_rewritten": self.final_answer_rewritten, "reason": self.reason,
                "steps_dropped": list(self.steps_dropped)}


def needed_steps(traj: Trajectory, goal: str, bound: list[int]) -> list[int] | None:
    """The steps a question's sample needs: the bound steps, and for each value a kept call
    was made with that the goal does not state, the latest earlier step whose output shows it.
    None when some value is given by neither (the run's steps are kept as they are).

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "g", (Step("", "search", {"q": "x"}, "found id K7"), Step("", "noop", {}, "ok"),
    ...                           Step("", "get", {"id": "K7"}, '{"id": "K7", "price": 5}')))
    >>> needed_steps(t, "What is the price of K7?", [2]), needed_steps(t, "What is the price of item 7?", [2])
    ([2], None)
    """
    def says(text: str, value: str) -> bool:      # the value as a whole word ("2" is not in "2024")
        return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) is not None

    kept, todo = set(bound), sorted(bound, reverse=True)
    while todo:
        i = todo.pop(0)
        for _, leaf in json_leaves(traj.steps[i].action_input):
            v = "" if leaf is None or isinstance(leaf, bool) else str(leaf).strip()
            if not v:
                continue
            if says(goal, v):
                continue
            src = next((j for j in range(i - 1, -1, -1) if says(traj.steps[j].observation, v)), None)
            if src is None:
                if len(v.split()) >= FREE_TEXT_WORDS:
                    continue      # the agent's own wording (a search query): its call starts the chain
                return None
            if src not in kept:
                kept.add(src)
                todo = sorted(set(todo) | {src}, reverse=True)
    return sorted(kept)


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


def kept_steps(traj: Trajectory, goal: str, verification: dict[str, Any]) -> list[int]:
    """Indices of the steps the sample of `goal` keeps: up to the last bound step, and for a
    question only the steps its answer needs when they can be told (`needed_steps`)."""
    last = last_needed_step(verification)
    if last is None:
        return list(range(len(traj.steps)))
    bound = [c["bound_to"] for c in verification.get("constraints", []) if c.get("holds") and c.get("bound_to")]
    if all("record" in b for b in bound):
        need = needed_steps(traj, goal, sorted({int(b["step"]) for b in bound}))
        if need is not None:
            return need
    return list(range(last + 1))


def shape_sample(traj: Trajectory, goal: str, verification: dict[str, Any], prompts: Prompts) -> Shaped:
    """The trajectory a sample for `goal` teaches: cut after the last needed step, ending with
    a final message the bound evidence supports."""
    last = last_needed_step(verification)
    if last is None:
        return Shaped(traj, None, 0, False, "no clause is bound to a step: the trajectory is kept")
    steps = traj.steps[: last + 1]
    cut = len(traj.steps) - len(steps)
    keep = kept_steps(traj, goal, verification)
    dropped = tuple(i for i in range(len(steps)) if i not in keep)
    if dropped:
        # a thought after a dropped step may reason about it: emptied
        steps = tuple(s if i < dropped[0] else dataclasses.replace(s, thought="")
                      for i, s in enumerate(steps) if i in keep)
    kept = dataclasses.replace(traj, steps=steps)
    original = traj.final_answer.strip()
    grounded = bool(original) and bool(kept.evidence_steps) and \
        check_grounding(original, kept, written_arguments(kept)).is_grounded
    values = [v["value"].lower() for c in verification.get("constraints", []) for v in c.get("values", []) if v.get("found")]
    answers = not values or any(v in original.lower() for v in values)
    if cut == 0 and not dropped and grounded and answers:
        return Shaped(traj, None, 0, False, "the original final message is supported by the tool outputs and "
                      "names what the goal asks for")
    why = (f"{cut} later step(s) cut; " if cut else "") + (
        f"{len(dropped)} earlier step(s) the answer does not need dropped; " if dropped else "") + (
        "the original final message claims what no tool output shows" if original and not grounded
        else "the original final message answers another request" if original else "the run gave no final message")
    evidence = _bound_evidence(verification)
    answer = " ".join(prompts.render("answer", goal=goal, evidence=evidence).user.split())
    return Shaped(dataclasses.replace(kept, final_answer=answer), last if cut else None, cut, True, why, dropped)

