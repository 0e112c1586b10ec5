"""Context guard: make a run's prompt fit the judge's context, deterministically.

If the rendered prompt (plus the answer reserve) exceeds the context, the longest observations
are cut to a cap that shrinks until it fits, keeping head and tail around a visible marker
("[… 12345 characters cut …]"). The cuts are returned so the journal records them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..prompts import Prompts, Rendered
from ..trajectory import Trajectory
from .base import Judge

MARK = "[… {n} characters cut …]"


@dataclass(frozen=True)
class Cut:
    step: int          # -1 = the final answer
    original_chars: int
    kept_chars: int


def shorten(text: str, cap: int) -> str:
    """Keep head and tail of `text` within about `cap` characters.

    >>> shorten("abcdefghij" * 3, 10)
    'abcde[… 20 characters cut …]fghij'
    """
    if len(text) <= cap:
        return text
    head = cap // 2
    tail = cap - head
    return text[:head] + MARK.format(n=len(text) - cap) + text[len(text) - tail:]


def cap_observations(traj: Trajectory, cap: int) -> tuple[Trajectory, tuple[Cut, ...]]:
    """A copy of `traj` whose observations and final answer are at most ~`cap` characters."""
    cuts: list[Cut] = []
    steps = []
    for i, s in enumerate(traj.steps):
        if len(s.observation) > cap:
            cuts.append(Cut(i, len(s.observation), cap))
            s = dataclasses.replace(s, observation=shorten(s.observation, cap))
        if len(s.thought) > cap:
            s = dataclasses.replace(s, thought=shorten(s.thought, cap))
        steps.append(s)
    final = traj.final_answer
    if len(final) > cap:
        cuts.append(Cut(-1, len(final), cap))
        final = shorten(final, cap)
    return dataclasses.replace(traj, steps=tuple(steps), final_answer=final), tuple(cuts)


def fit(judge: Judge, prompts: Prompts, name: str, traj: Trajectory, reserve: int,
        **variables: Any) -> tuple[Rendered, tuple[Cut, ...]]:
    """Render template `name` for `traj`, shortening observations until it fits the context."""
    budget = judge.n_ctx - reserve
    rendered = prompts.render(name, traj=traj, **variables)
    n = judge.count_tokens(rendered)
    if n <= budget:
        return rendered, ()
    longest = max([len(s.observation) for s in traj.steps] + [len(traj.final_answer), 1])
    # First guess from the token overshoot (about 3 characters a token), then shrink by 30%.
    cap = max(200, min(longest, longest - (n - budget) * 3))
    while True:
        short, cuts = cap_observations(traj, cap)
        rendered = prompts.render(name, traj=short, **variables)
        n = judge.count_tokens(rendered)
        if n <= budget or cap <= 64:
            return rendered, cuts
        cap = int(cap * 0.7)
