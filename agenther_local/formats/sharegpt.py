"""ShareGPT rows for LLaMA-Factory: tool calls and observations as their own turns.

One row is `{"conversations": [...], "system": str, "tools": str, "weight"?: w, "metadata": {...}}`
with turns `{"from": "human"|"gpt"|"function_call"|"observation", "value": str}`:

    human           the goal
    tool step       function_call  [<think>\\nthought\\n</think>\\n\\n]{"name": action, "arguments": {...}}
                    observation    the observation
    user step       gpt            [<think>\\nthought\\n</think>\\n\\n]what the agent said (may be "")
                    human          the observation (the user's reply)
    final answer    gpt            the final answer

What LLaMA-Factory requires, and how this meets it:
- "human and observation should appear in odd positions, while gpt and function should appear in
  even positions" (data/README.md); the converter drops any row that breaks this, or that has an
  odd number of turns, as an "abnormal example" (data/converter.py). So a thought cannot be a gpt
  turn of its own before its function_call (two even turns in a row), and a user reply after an
  observation needs the agent's words as a gpt turn in between; that is why a user-role step is
  always gpt + human, even when the agent said nothing.
- A function_call value is parsed with `json.loads` into `{"name", "arguments"}` after a leading
  `<think>…</think>` block is cut off and kept in front of the formatted call (FunctionFormatter
  in data/formatter.py; thought_words default to ("<think>", "</think>")). That is where the
  thought goes: it stays part of the training target, and the JSON stays parseable.
- `system` and `tools` are always strings, "" when the run has none: LLaMA-Factory treats ""
  as absent, and a column that exists in every row never breaks Arrow. `tools` is a JSON string
  (ToolFormatter `json.loads` it).
- With an empty final answer the last observation (or user reply) is dropped: the row must end
  on an even turn, and a turn nothing answers teaches nothing.
- observation and human turns are prompts, not targets, in LLaMA-Factory's supervised processor.

Inverting a row (the reader lives elsewhere): the first turn is the goal; each function_call +
observation pair is a tool step; each gpt + human pair is a user step; the last gpt turn, if it
follows an observation or human turn, is the final answer. A leading `<think>\\n…\\n</think>\\n\\n`
is the step's thought. A row whose last turn is a function_call had no final answer.
"""
from __future__ import annotations

from typing import Any

from ..trajectory import Trajectory
from ._common import (call_json, check_goal, check_weight, copy_meta, system_prompt,
                      tools_json, utterance)


def with_thought(thought: str, text: str) -> str:
    """Prefix `text` with the thought in LLaMA-Factory's `<think>` block (none when empty).

    >>> with_thought("Search first.", '{"name": "search", "arguments": {}}')
    '<think>\\nSearch first.\\n</think>\\n\\n{"name": "search", "arguments": {}}'
    """
    return f"<think>\n{thought}\n</think>\n\n{text}" if thought else text


def to_sharegpt(traj: Trajectory, goal: str, meta: dict[str, Any] | None = None,
                weight: float | None = None) -> dict[str, Any]:
    """One LLaMA-Factory ShareGPT row of `traj` asked as `goal`.

    `weight`, when given, is carried along; LLaMA-Factory ignores it.

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "old goal", (Step("", "search", {"q": "x"}, "x is 3"),), "3")
    >>> [(turn["from"], turn["value"]) for turn in to_sharegpt(t, "What is x?")["conversations"]]
    [('human', 'What is x?'), ('function_call', '{"name": "search", "arguments": {"q": "x"}}'), ('observation', 'x is 3'), ('gpt', '3')]
    """
    turns = [{"from": "human", "value": check_goal(goal)}]
    for step in traj.steps:
        if step.role == "user":
            turns.append({"from": "gpt", "value": with_thought(step.thought, utterance(step))})
            turns.append({"from": "human", "value": step.observation})
        else:
            turns.append({"from": "function_call", "value": with_thought(step.thought, call_json(step))})
            turns.append({"from": "observation", "value": step.observation})
    if traj.final_answer:
        turns.append({"from": "gpt", "value": traj.final_answer})
    else:
        turns.pop()  # subtle: the goal itself when there are no steps; caught just below
    if len(turns) < 2:
        raise ValueError(f"trajectory {traj.id!r}: no steps and no final answer, nothing to train on")
    row: dict[str, Any] = {"conversations": turns, "system": system_prompt(traj),
                           "tools": tools_json(traj)}
    if weight is not None:
        row["weight"] = check_weight(weight)
    row["metadata"] = copy_meta(meta)
    return row
