"""mini-swe-agent runs (`<instance_id>.traj.json`) -> Trajectory.

Follows the file mini-swe-agent writes per instance (SWE-agent/mini-swe-agent): {info
{exit_status, submission, model_stats, config}, messages[], trajectory_format,
instance_id}.
- goal = the task inside the first user message's `<pr_description>` (after its "Consider the
  following PR description:" line), else the whole message;
- `mini-swe-agent-1.1` (tool calling): a step is an assistant `tool_calls[i]` (action `bash`,
  action_input its arguments {"command": ...}) with the `tool` reply of the same
  `tool_call_id` (`<returncode>..</returncode><output>..</output>`); thought = the
  assistant text;
- `mini-swe-agent-1` (text): a step is the one ```bash block of an assistant message, the
  next user message its observation;
- the submission command (it starts with `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` or
  `echo MINI_SWE_AGENT_FINAL_OUTPUT`) is not a tool step; the final answer is
  `info.submission` (the diff), else the `exit` message;
- no label in the file: unlabeled until `--labels` joins the SWE-bench harness report on
  `instance_id` (`resolved_ids` / `unresolved_ids`).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from .common import Located, arguments, as_text, need, need_object, read_each

FORMAT = "mini-swe-agent"
_SUBMIT = ("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "echo MINI_SWE_AGENT_FINAL_OUTPUT")
_BASH_BLOCK = re.compile(r"```bash\s*\n(.*?)\n```", re.S)
_PR = re.compile(r"<pr_description>(.*?)</pr_description>", re.S)


def is_record(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("messages"), list)
            and str(value.get("trajectory_format", "")).startswith("mini-swe-agent"))


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per run; `branches` does not apply here."""
    path = Path(path)
    stem = path.name.removesuffix(".traj.json")      # "<instance_id>.traj.json"
    return read_each(path, FORMAT, lambda rec, rid: to_native(rec, stem if rid == path.stem else rid))


def to_native(record: Any, default_id: str) -> dict[str, Any]:
    """One mini-swe-agent run -> native dict. Raises RecordError naming the bad field."""
    record = need_object(record)
    messages = need(record, "messages", list)
    info = need(record, "info", dict, optional=True) or {}
    rid = record.get("instance_id") if isinstance(record.get("instance_id"), str) else default_id
    steps, first_user, exit_text, system, final_thought = _walk(messages)
    if first_user is None:
        raise RecordError("messages", "no user message: the task is unknown")
    pr = _PR.search(first_user)
    goal = pr.group(1) if pr else first_user
    goal = goal.split("Consider the following PR description:", 1)[-1].strip()
    submission = info.get("submission") if isinstance(info.get("submission"), str) else ""
    return {"id": rid, "goal": goal, "steps": steps, "final_answer": submission or exit_text,
            "metadata": {"instance_id": rid, "exit_status": info.get("exit_status"),
                         "model_stats": info.get("model_stats"), "system": system,
                         "final_thought": final_thought,
                         "trajectory_format": record.get("trajectory_format")}}


def _is_submit(command: str) -> bool:
    return command.lstrip().startswith(_SUBMIT)


def _walk(messages: list) -> tuple[list[dict], str | None, str, str, str]:
    """(steps, first user message, exit text, system text, thought of the submission)."""
    steps: list[dict[str, Any]] = []
    by_id: dict[str, int] = {}
    first_user: str | None = None
    exit_text = system = final_thought = ""
    waiting_text_step = False           # format 1: the next user message answers a bash block
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        msg = need_object(msg, where)
        role = need(msg, "role", str, where)
        text = as_text(msg.get("content"))
        if role == "system":
            system = text
        elif role == "user" and first_user is None:
            first_user = text
        elif role == "assistant":
            calls = need(msg, "tool_calls", list, where, optional=True) or []
            if calls:
                for k, call in enumerate(calls):
                    fn = need(need_object(call, f"{where}.tool_calls[{k}]"), "function", dict,
                              f"{where}.tool_calls[{k}]")
                    args = arguments(fn.get("arguments"))
                    if _is_submit(str(args.get("command", ""))):
                        final_thought = text
                        continue
                    steps.append({"thought": text if k == 0 else "", "observation": "",
                                  "action": need(fn, "name", str, f"{where}.tool_calls[{k}].function"),
                                  "action_input": args})
                    by_id[str(call.get("id"))] = len(steps) - 1
                continue
            block = _BASH_BLOCK.search(text)
            if block and not _is_submit(block.group(1)):
                thought = text[:block.start()].strip()
                steps.append({"thought": thought, "action": "bash",
                              "action_input": {"command": block.group(1)}, "observation": ""})
                waiting_text_step = True
            elif block:
                final_thought = text[:block.start()].strip()
        elif role == "tool":
            call_id = str(msg.get("tool_call_id"))
            if call_id in by_id:
                steps[by_id.pop(call_id)]["observation"] = text
        elif role == "user" and waiting_text_step:
            steps[-1]["observation"] = text
            waiting_text_step = False
        elif role == "exit":
            exit_text = text
    return steps, first_user, exit_text, system, final_thought
