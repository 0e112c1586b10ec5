"""OpenAI chat transcripts -> Trajectory, including tau-bench's historical trajectories.

Follows the Chat Completions message shapes:
- an assistant message's `tool_calls[i].function` (name, JSON `arguments`) is a step's action,
  and the `tool` message with the same `tool_call_id` is its observation; the older
  `function_call` is answered by the next `function` message;
- the assistant text that accompanies a call (tau-bench: usually null) is the step's thought;
- the first user message is the goal; later user messages are steps with role "user": action
  "user_message", action_input {"content": what the agent said to the user before it (text no
  call accompanies)}, observation = the user's words. Context, never evidence;
- the final answer is the last assistant text addressed to the user;
- system messages go to `metadata["system"]`, not into steps.

A record is {"messages": [...], "tools"?, "id"?, "success"?, "reward"?, "metadata"?} or a
tau-bench item {"task_id", "trial", "reward", "info": {"task": {"instruction", ...}},
"traj": [...]}: there the goal is the user simulator's hidden brief `info.task.instruction`
and the label is `reward` (0.0 = failure). `traj[0]` is tau-bench's ~6 kB airline policy;
it goes to `metadata["system"]` like any system message.

Not handled: the Responses API and Anthropic message formats; multimodal content other than
text parts (kept as JSON); a tool result whose call is missing is a RecordError, while a call
without a result keeps an empty observation (the run ended before it returned).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from .common import (Located, arguments, as_text, label, need, need_object, read_each)

FORMAT = "openai"
USER_ACTION = "user_message"
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def is_record(value: Any) -> bool:
    """A chat record: {"messages": [{"role": ...}]} or a tau-bench item with `traj`, whose
    roles are all OpenAI's (LLaMA-Factory's role-tagged ShareGPT has "function_call" etc.)."""
    if not isinstance(value, dict):
        return False
    msgs = value.get("messages", value.get("traj"))
    return (isinstance(msgs, list) and bool(msgs)
            and all(isinstance(m, dict) and m.get("role") in ROLES for m in msgs))


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per record; `branches` does not apply here."""
    return read_each(path, FORMAT, to_native)


def to_native(record: Any, default_id: str) -> dict[str, Any]:
    """One chat record -> native dict. Raises RecordError naming the bad field."""
    record = need_object(record)
    if "traj" in record and "messages" not in record:
        return _tau_bench(record, default_id)
    messages = need(record, "messages", list)
    meta = need(record, "metadata", dict, optional=True) or {}
    walk = walk_messages(messages, "messages")
    rid = record.get("id")
    native: dict[str, Any] = {
        "id": rid if isinstance(rid, (str, int)) and not isinstance(rid, bool) else default_id,
        "goal": walk["first_user"], "steps": walk["steps"], "final_answer": walk["final_answer"],
        **label(record.get("success"), record.get("reward")),
        "metadata": {**meta, **walk["metadata"]},
    }
    if isinstance(record.get("failure_reason"), str):
        native["failure_reason"] = record["failure_reason"]
    tools = record.get("tools")
    if tools is not None:
        native["tools"] = tools
    return native


def _tau_bench(record: dict, default_id: str) -> dict[str, Any]:
    info = need(record, "info", dict)
    task = need(info, "task", dict, "info")
    goal = need(task, "instruction", str, "info.task")
    walk = walk_messages(need(record, "traj", list), "traj")
    task_id, trial = record.get("task_id"), record.get("trial")
    rid = (f"task{task_id}" + (f"-trial{trial}" if trial is not None else "")
           if task_id is not None else default_id)
    return {
        "id": rid, "goal": goal, "steps": walk["steps"], "final_answer": walk["final_answer"],
        **label(reward=record.get("reward")),
        "metadata": {"benchmark": "tau-bench", "task_id": task_id, "trial": trial,
                     "task": task, "reward_info": info.get("reward_info"),
                     "first_user_message": walk["first_user"], **walk["metadata"]},
    }


def walk_messages(messages: list, path: str) -> dict[str, Any]:
    """Steps, first user message, final answer and system text of a chat message list.

    >>> w = walk_messages([{"role": "user", "content": "find x"},
    ...     {"role": "assistant", "content": "looking", "tool_calls": [{"id": "1",
    ...      "function": {"name": "search", "arguments": '{"q": "x"}'}}]},
    ...     {"role": "tool", "tool_call_id": "1", "content": "x=3"},
    ...     {"role": "assistant", "content": "x is 3"}], "messages")
    >>> w["first_user"], w["steps"][0]["action"], w["steps"][0]["observation"], w["final_answer"]
    ('find x', 'search', 'x=3', 'x is 3')
    """
    steps: list[dict[str, Any]] = []
    by_call_id: dict[str, int] = {}     # tool_call_id -> index in steps
    waiting: list[int] = []             # steps still without a result, oldest first
    system: list[str] = []
    first_user: str | None = None
    said: list[str] = []            # assistant text not yet attached to a step
    final_answer = ""               # the last assistant text addressed to the user
    for i, msg in enumerate(messages):
        where = f"{path}[{i}]"
        msg = need_object(msg, where)
        role = need(msg, "role", str, where)
        text = as_text(msg.get("content"))
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user" and first_user is None:
            first_user = text
        elif role == "user":
            steps.append(user_step(said, text))
            final_answer, said = (said[-1] if said else final_answer), []
        elif role == "assistant":
            calls = _calls(msg, where)
            said += [text] if text else []
            if not calls:
                continue
            for k, (call_id, name, args) in enumerate(calls):
                steps.append({"thought": "\n\n".join(said) if k == 0 else "", "action": name,
                              "action_input": arguments(args), "observation": ""})
                waiting.append(len(steps) - 1)
                if call_id is not None:
                    by_call_id[call_id] = len(steps) - 1
            said = []
        elif role in ("tool", "function"):
            k = _answered_step(msg, where, by_call_id, waiting)
            steps[k]["observation"] = text
        else:
            raise RecordError(f"{where}.role",
                              f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    if first_user is None:
        raise RecordError(path, "no user message: the goal is unknown")
    final_answer = said[-1] if said else final_answer
    metadata: dict[str, Any] = {}
    if system:
        metadata["system"] = "\n\n".join(system)
    return {"first_user": first_user, "steps": steps, "final_answer": final_answer,
            "metadata": metadata}


def user_step(said: list[str], reply: str, thought: str = "") -> dict[str, Any]:
    """A user turn as a step: what the agent said to the user, and the user's reply.

    >>> user_step(["Which date?"], "May 20")["action_input"]
    {'content': 'Which date?'}
    """
    return {"thought": thought, "action": USER_ACTION,
            "action_input": {"content": "\n\n".join(said)} if said else {},
            "observation": reply, "role": "user"}


def _calls(msg: dict, where: str) -> list[tuple[str | None, str, Any]]:
    """(call id, function name, raw arguments) of an assistant message, in order."""
    out = []
    tool_calls = need(msg, "tool_calls", list, where, optional=True) or []
    for j, call in enumerate(tool_calls):
        cw = f"{where}.tool_calls[{j}]"
        fn = need(need_object(call, cw), "function", dict, cw)
        call_id = call.get("id")
        out.append((call_id if isinstance(call_id, str) else None,
                    need(fn, "name", str, f"{cw}.function"), fn.get("arguments")))
    legacy = need(msg, "function_call", dict, where, optional=True)
    if legacy is not None:
        out.append((None, need(legacy, "name", str, f"{where}.function_call"),
                    legacy.get("arguments")))
    return out


def _answered_step(msg: dict, where: str, by_call_id: dict[str, int], waiting: list[int]) -> int:
    """Index of the step a tool/function result answers: by tool_call_id, else the oldest."""
    call_id = msg.get("tool_call_id")
    if isinstance(call_id, str):
        if call_id not in by_call_id:
            raise RecordError(f"{where}.tool_call_id", f"no earlier tool call has id {call_id!r}")
        k = by_call_id.pop(call_id)
    elif waiting:
        k = waiting[0]
    else:
        raise RecordError(where, "a tool result with no tool call before it")
    if k in waiting:
        waiting.remove(k)
    return k


