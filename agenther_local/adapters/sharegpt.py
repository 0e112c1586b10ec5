"""ShareGPT records (LLaMA-Factory's tool-calling layout) -> Trajectory.

Follows LLaMA-Factory's `data/README.md` ShareGPT format:
{"conversations": [{"from": "human" | "gpt" | "function_call" | "observation" | "system",
"value": ...}], "tools": "<JSON list of function schemas>", "system": "..."}.
- the first human turn is the goal;
- a function_call value is a JSON string {"name", "arguments"} (a list of them for parallel
  calls), optionally after a `<think>...</think>` block, which is the step's thought (so is
  gpt text just before the call, or a "thought" key in the JSON); each call is a step, and
  the following observation turns answer them in order;
- a gpt turn followed by a later human turn is a step with role "user": action
  "user_message", action_input {"content": the gpt text}, observation = the human turn;
- the final answer is the last gpt text addressed to the user (normally the last turn).
This is the inverse of `formats.sharegpt.to_sharegpt`, so native -> ShareGPT -> native keeps
the goal and the steps (the action name of a user step comes back as "user_message").
`role`/`content` tags and user/assistant/tool role names are accepted as aliases, and
the list may be called "messages".

ShareGPT carries no success label: records are unlabeled (success and reward None) unless a
`metadata` object carries `success` or `reward`. `id` comes from the record, then from its
metadata, then from the file name and position.

Not handled: multimodal turns (images, videos); LLaMA-Factory's alpaca format; several
observations packed in one turn as a JSON list (read as one observation of the first call).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from .common import (Located, arguments, as_text, label, need, need_object, read_each)
from .openai import user_step

FORMAT = "sharegpt"
_THINK = re.compile(r"^<think>\n?(.*?)\n?</think>\n*(.*)$", re.S)
_ROLES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt",
          "function_call": "function_call", "observation": "observation", "tool": "observation",
          "function": "observation", "system": "system"}


def is_record(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    turns = value.get("conversations", value.get("messages"))
    return (isinstance(turns, list) and bool(turns) and isinstance(turns[0], dict)
            and ("from" in turns[0] or "conversations" in value))


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per record; `branches` does not apply here."""
    return read_each(path, FORMAT, to_native)


def to_native(record: Any, default_id: str) -> dict[str, Any]:
    """One ShareGPT record -> native dict. Raises RecordError naming the bad field."""
    record = need_object(record)
    key = "conversations" if "conversations" in record else "messages"
    turns = need(record, key, list)
    meta = need(record, "metadata", dict, optional=True) or {}
    steps: list[dict[str, Any]] = []
    waiting: list[int] = []        # steps without an observation yet, oldest first
    system = [record["system"]] if isinstance(record.get("system"), str) else []
    goal: str | None = None
    said: list[str] = []           # gpt text not yet attached to a step
    final_answer = ""              # the last gpt text addressed to the user
    for i, turn in enumerate(turns):
        where = f"{key}[{i}]"
        turn = need_object(turn, where)
        tag = "from" if "from" in turn else "role"
        role = _ROLES.get(need(turn, tag, str, where))
        text = as_text(turn.get("value", turn.get("content")))
        if role is None:
            raise RecordError(f"{where}.{tag}", f"unknown role {turn[tag]!r} (expected "
                                                "human, gpt, function_call, observation or system)")
        if role == "system":
            system.append(text)
        elif role == "human" and goal is None:
            goal = text
        elif role == "human":
            thought, utterance = split_think("\n\n".join(said))
            steps.append(user_step([utterance] if utterance else [], text, thought))
            final_answer, said = (utterance or final_answer), []
        elif role == "gpt":
            said += [text] if text else []
        elif role == "function_call":
            thought, value = split_think(text)
            thought = thought or "\n\n".join(said)
            for k, call in enumerate(_calls(value, where)):
                own = call.get("thought")
                steps.append({"thought": own if isinstance(own, str) else thought if k == 0 else "",
                              "action": need(call, "name", str, f"{where}.value"),
                              "action_input": arguments(call.get("arguments")),
                              "observation": ""})
                waiting.append(len(steps) - 1)
            said = []
        elif waiting:
            steps[waiting.pop(0)]["observation"] = text
        else:
            raise RecordError(where, "an observation with no function_call before it")
    if goal is None:
        raise RecordError(key, "no human turn: the goal is unknown")
    if said:
        final_answer = split_think("\n\n".join(said))[1]
    rid = record.get("id", meta.get("id"))
    native: dict[str, Any] = {
        "id": rid if isinstance(rid, (str, int)) and not isinstance(rid, bool) else default_id,
        "goal": goal, "steps": steps, "final_answer": final_answer,
        **label(meta.get("success"), meta.get("reward")),
        "tools": _tools(record.get("tools")),
        "metadata": {k: v for k, v in meta.items() if k not in ("success", "reward", "id")},
    }
    if any(system):
        native["metadata"]["system"] = "\n\n".join(t for t in system if t)
    if isinstance(native["metadata"].get("failure_reason"), str):
        native["failure_reason"] = native["metadata"].pop("failure_reason")
    if "weight" in record:
        native["metadata"]["weight"] = record["weight"]
    return native


def split_think(text: str) -> tuple[str, str]:
    """(thought, rest) of a turn that starts with a `<think>` block, as LLaMA-Factory writes.

    >>> split_think("<think>\\nSearch first.\\n</think>\\n\\n{}"), split_think("hi")
    (('Search first.', '{}'), ('', 'hi'))
    """
    m = _THINK.match(text)
    return (m.group(1), m.group(2)) if m else ("", text)


def _calls(value: str, where: str) -> list[dict]:
    """The call(s) of a function_call turn: a JSON object, or a list of them."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        raise RecordError(f"{where}.value", f"not JSON ({e.msg}); expected "
                                            '{"name": ..., "arguments": ...}') from None
    calls = parsed if isinstance(parsed, list) else [parsed]
    for j, call in enumerate(calls):
        need_object(call, f"{where}.value" + (f"[{j}]" if isinstance(parsed, list) else ""))
    return calls


def _tools(raw: Any) -> list[dict]:
    """`tools`: a JSON string (LLaMA-Factory) or a list of function schemas."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            raise RecordError("tools", f"not JSON ({e.msg})") from None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise RecordError("tools", "expected a list of function schemas")
    return raw
