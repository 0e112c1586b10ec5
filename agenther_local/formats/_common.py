"""Pieces every format renders the same way: weight, metadata, system prompt, tools, one step.

Each helper builds new values (strings, or deep copies) so no output row aliases a mutable part
of its input: a caller may edit a row without touching the Trajectory or the meta it came from.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from ..trajectory import Step, Trajectory


# Digits the quality weight keeps in every row: as many as the detector's journal records
# (stages/detect.py), so a row never reads 0.6000000000000001 where the journal says 0.6.
WEIGHT_DIGITS = 4


def check_weight(weight: Any) -> float:
    """The quality weight w as a float in [0, 1], rounded to WEIGHT_DIGITS; ValueError otherwise.

    Always a float, so a JSONL column never mixes 1 and 0.7 (int and float).

    >>> check_weight(1), check_weight(0.3 + 0.1 + 0.1 + 0.1)
    (1.0, 0.6)
    """
    # NaN fails the range test, so it needs no case of its own.
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise ValueError(f"quality weight must be a number in [0, 1], got {weight!r}")
    return round(float(weight), WEIGHT_DIGITS)


def check_goal(goal: Any) -> str:
    """A goal is a non-empty string; ValueError otherwise.

    >>> check_goal("Compare suppliers")
    'Compare suppliers'
    """
    if not isinstance(goal, str) or not goal.strip():
        raise ValueError(f"goal must be a non-empty string, got {goal!r}")
    return goal


def copy_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """A deep copy of the pipeline's meta dict (None -> {}), unchanged otherwise.

    >>> copy_meta(None), copy_meta({"votes": [0.9, 0.8]})
    ({}, {'votes': [0.9, 0.8]})
    """
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict or None, got {type(meta).__name__}")
    return copy.deepcopy(meta)


def system_prompt(traj: Trajectory) -> str:
    """The run's system prompt from `metadata["system"]`, or "" when it has none.

    >>> system_prompt(Trajectory("a", "g", (), metadata={"system": "Be brief."}))
    'Be brief.'
    """
    system = traj.metadata.get("system")
    return system if isinstance(system, str) and system.strip() else ""


def tools_json(traj: Trajectory) -> str:
    """The tool schemas as one JSON string, or "" when the run has none.

    A string, not a list: Arrow infers one struct for a whole column, so schemas of different
    tools either clash (ToolBench's `example_value` is a string in one API and a number in the
    next: "changed from string to number") or come back with every other tool's parameters
    filled in as None. TRL's SFTTrainer, ms-swift and LLaMA-Factory all read a JSON string.

    >>> tools_json(Trajectory("a", "g", (), tools=({"name": "search"},)))
    '[{"name": "search"}]'
    """
    return json.dumps(list(traj.tools), ensure_ascii=False) if traj.tools else ""


def arguments_object(step: Step) -> dict[str, Any]:
    """A tool call's arguments as a JSON object (a deep copy of `action_input`).

    An object, not the OpenAI wire format's string: the chat templates that render tool calls
    (Qwen2.5, Llama 3.1, Hermes, TRL's training templates) write `arguments | tojson`, which
    quotes a string a second time (`"arguments": "{\\"q\\": ...}"`), and TRL's dataset docs
    use an object.

    >>> arguments_object(Step("", "search", {"q": "copper"}, "obs"))
    {'q': 'copper'}
    """
    return copy.deepcopy(dict(step.action_input))


def call_json(step: Step) -> str:
    """A tool call as `{"name": ..., "arguments": {...}}` in one JSON string.

    The shape LLaMA-Factory's `function_call` turns and ms-swift's `tool_call` messages parse.

    >>> call_json(Step("", "search", {"q": "copper"}, "obs"))
    '{"name": "search", "arguments": {"q": "copper"}}'
    """
    return json.dumps({"name": step.action, "arguments": step.action_input}, ensure_ascii=False)


def call_id(index: int) -> str:
    """The id of the tool call made at step `index` (ties a tool message to its call).

    >>> call_id(2)
    'call_2'
    """
    return f"call_{index}"


def utterance(step: Step) -> str:
    """What the agent said to the user in a user-role step (the user's reply is the observation).

    tau-bench's `respond` action carries it as `{"content": ...}`; a single string argument is
    taken as is; other arguments are kept as JSON so nothing is lost; no arguments -> "".

    >>> utterance(Step("", "respond", {"content": "Which date?"}, "May 20", role="user"))
    'Which date?'
    """
    args = step.action_input
    if isinstance(args.get("content"), str):
        return args["content"]
    if len(args) == 1:
        (only,) = args.values()
        if isinstance(only, str):
            return only
    return json.dumps(args, ensure_ascii=False) if args else ""


def said_to_user(step: Step) -> str:
    """The assistant text of a user-role step in the messages formats: thought, then utterance.

    >>> said_to_user(Step("Ask for the date.", "respond", {"content": "Which date?"}, "May 20", role="user"))
    'Ask for the date.\\n\\nWhich date?'
    """
    return "\n\n".join(part for part in (step.thought, utterance(step)) if part)
