"""SWE-agent `.traj` files -> Trajectory.

Follows the `.traj` JSON that SWE-agent writes per instance (SWE-agent/SWE-agent
`tests/test_data/trajectories/`): `history` (the chat sent to the model), `trajectory[]`
(one item per turn: `thought`, `action` = the command line, `observation`) and `info`
(`exit_status`, `submission` = the final diff, `model_stats`).
- goal = the problem statement: the first `user` message of `history` that is not a
  demonstration (`is_demo`), cut to the text between "ISSUE:" and "INSTRUCTIONS:" when
  both markers are present;
- a step's action is the command's first word (`edit`, `open`, `python`), its action_input
  {"command": <the whole command line>}; a 1.x file (function calling: `history` assistant
  messages carry `tool_calls`) gives the call's own name and arguments instead
  (`edit` {"search", "replace", "replace-all"}, `bash` {"command"}), paired by the
  assistant message whose `action` is the step's command;
- `submit` is not a tool step: the final answer is `info.submission` (the patch);
- the system prompt goes to `metadata["system"]`; `exit_status` and `model_stats` too.

A `.traj` file records no success label (whether the patch passes the tests is decided
later by the SWE-bench harness): records are unlabeled, never failures, until `--labels`
joins the run's results.json / harness report on the instance id (the file name's stem,
kept as `metadata["instance_id"]`). Demonstrations (`is_demo` history messages) are worked
examples, not part of the run: only `trajectory[]` gives steps.

Not handled: SWE-bench's `all_preds.jsonl` / evaluation reports (no steps in them), and
the per-step `state` and `response` fields (the response repeats thought + action).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from .common import Located, arguments, as_text, need, need_object, read_each

FORMAT = "swe-agent"
SUBMIT = "submit"


def is_record(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("trajectory"), list)
            and isinstance(value.get("history"), list))


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per record; `branches` does not apply here."""
    return read_each(path, FORMAT, to_native)


def to_native(record: Any, rid: str) -> dict[str, Any]:
    """One `.traj` document -> native dict. Raises RecordError naming the bad field."""
    record = need_object(record)
    history = need(record, "history", list)
    info = need(record, "info", dict, optional=True) or {}
    steps: list[dict[str, Any]] = []
    final_thought = ""
    calls = _tool_calls(history)
    for i, item in enumerate(need(record, "trajectory", list)):
        where = f"trajectory[{i}]"
        item = need_object(item, where)
        command = need(item, "action", str, where).strip()
        thought = as_text(item.get("thought")).strip()
        name = command.split(maxsplit=1)[0] if command else ""
        if name == SUBMIT:
            final_thought = thought
            continue
        call = calls.get(command)
        steps.append({"thought": thought, "action": call[0] if call else name,
                      "action_input": call[1] if call else {"command": command},
                      "observation": as_text(item.get("observation"))})
    submission = need(info, "submission", str, "info", optional=True) or ""
    metadata: dict[str, Any] = {"system": _system(history), "final_thought": final_thought,
                                "instance_id": rid,
                                **{k: info[k] for k in ("exit_status", "model_stats") if k in info}}
    if "environment" in record:
        metadata["environment"] = record["environment"]
    return {"id": rid, "goal": _problem_statement(history), "steps": steps,
            "final_answer": submission, "metadata": metadata}


def _tool_calls(history: list) -> dict[str, tuple[str, dict[str, Any]]]:
    """SWE-agent 1.x: command line -> (tool name, the call's arguments), from the non-demo
    assistant messages that made a function call."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for msg in history:
        if not isinstance(msg, dict) or msg.get("is_demo") or msg.get("role") != "assistant":
            continue
        calls = msg.get("tool_calls")
        if isinstance(calls, list) and len(calls) == 1 and isinstance(msg.get("action"), str):
            fn = calls[0].get("function") if isinstance(calls[0], dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                out.setdefault(msg["action"].strip(), (fn["name"], arguments(fn.get("arguments"))))
    return out


def _problem_statement(history: list) -> str:
    for i, msg in enumerate(history):
        msg = need_object(msg, f"history[{i}]")
        if msg.get("role") == "user" and not msg.get("is_demo"):
            text = as_text(msg.get("content"))
            start, end = text.find("ISSUE:"), text.find("INSTRUCTIONS:")
            if 0 <= start < end:
                return text[start + len("ISSUE:"):end].strip()
            return text.strip()
    raise RecordError("history", "no user message that is not a demonstration: "
                                 "the problem statement is unknown")


def _system(history: list) -> str:
    return "\n\n".join(as_text(m.get("content")) for m in history
                       if isinstance(m, dict) and m.get("role") == "system")
