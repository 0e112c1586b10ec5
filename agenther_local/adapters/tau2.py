"""tau2-bench simulation results -> Trajectory, one per simulation.

Follows the `Results` JSON that tau2-bench writes (sierra-research/tau2-bench
`data/simulations/*.json`): `info` (agent and user-simulator settings), `tasks[]` and
`simulations[]` ({id, task_id, trial, messages[], reward_info, termination_reason, ...}).
- goal = the user simulator's hidden brief, `tasks[task_id].user_scenario.instructions`
  (`reason_for_call`, `known_info`, `task_instructions` joined; a plain string as is);
- messages: assistant `tool_calls` are `{id, name, arguments (a dict), requestor}` and the
  `role: "tool"` message with the same `id` is the result;
- an agent tool call (`requestor: "assistant"`) is a step with role "tool" (evidence);
- the simulated user's own tool calls (`requestor: "user"`, telecom: the user toggles their
  phone) are observations, not agent steps: each is a step with role "user" (context, never
  evidence) whose action and action_input are the user's call and whose observation is its
  result; the user's words are "user_message" steps as in openai.py;
- the final answer is the last assistant text; label = `reward_info.reward` (0.0 = failure).

Not handled: a simulation whose task is missing from `tasks[]` is a RecordError (the goal
is unknown); a tool result whose call is not in the log goes to
`metadata["unpaired_observations"]`, not into a step.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from .common import (Located, arguments, as_text, first_char, json_records, label, located,
                     need, need_object)
from .openai import user_step

FORMAT = "tau2"
_GOAL_PARTS = ("reason_for_call", "known_info", "task_instructions")


def is_record(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("simulations"), list)
            and isinstance(value.get("tasks"), list))


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per simulation; `branches` does not apply here."""
    path = Path(path)
    first_char(path)
    for raw in json_records(path):
        if raw.error is not None:
            yield raw.where, raw.error
            continue
        try:
            doc = need_object(raw.value, "results")
            sims = need(doc, "simulations", list)
            tasks = {t.get("id"): t for t in need(doc, "tasks", list) if isinstance(t, dict)}
        except RecordError as e:
            yield raw.where, e.at(raw.where)
            continue
        for i, sim in enumerate(sims):
            yield located(f"{path}:#{i}", FORMAT, lambda: to_native(sim, tasks, doc.get("info")))


def to_native(sim: Any, tasks: dict[Any, dict], info: Any = None) -> dict[str, Any]:
    """One simulation -> native dict. Raises RecordError naming the bad field."""
    sim = need_object(sim, "simulation")
    task_id = need(sim, "task_id", (str, int))
    if task_id not in tasks:
        raise RecordError("task_id", f"{task_id!r} is not in tasks[]: the goal is unknown")
    task = tasks[task_id]
    walk = _walk(need(sim, "messages", list))
    reward_info = need(sim, "reward_info", dict, optional=True) or {}
    trial = sim.get("trial")
    native: dict[str, Any] = {
        # the simulation's uuid keeps ids unique across result files of the same tasks
        "id": "-".join(str(p) for p in (task_id, f"trial{trial}" if trial is not None else None,
                                        str(sim.get("id") or "")[:8]) if p),
        "goal": goal_of(task), "steps": walk["steps"], "final_answer": walk["final_answer"],
        **label(reward=reward_info.get("reward")),
        "metadata": {"benchmark": "tau2-bench", "task_id": task_id, "trial": trial,
                     "simulation_id": sim.get("id"),
                     "termination_reason": sim.get("termination_reason"),
                     "reward_info": reward_info, "first_user_message": walk["first_user"],
                     "agent": (info or {}).get("agent_info") if isinstance(info, dict) else None},
    }
    if walk["unpaired"]:
        native["metadata"]["unpaired_observations"] = walk["unpaired"]
    if native.get("reward") == 0.0:
        native["failure_reason"] = f"reward 0.0 (termination: {sim.get('termination_reason')})"
    return native


def goal_of(task: dict) -> str:
    """The user simulator's brief.

    >>> goal_of({"user_scenario": {"instructions": {"reason_for_call": "No data.",
    ...     "known_info": "I am J.", "task_instructions": None}}})
    'No data.\\nI am J.'
    """
    scenario = need(task, "user_scenario", dict, "task")
    instructions = need(scenario, "instructions", (dict, str), "task.user_scenario")
    if isinstance(instructions, str):
        return instructions
    return "\n".join(instructions[k].strip() for k in _GOAL_PARTS
                     if isinstance(instructions.get(k), str) and instructions[k].strip())


def _walk(messages: list) -> dict[str, Any]:
    """Steps (agent calls role "tool"; user turns and user calls role "user"), first user
    message and final answer of one simulation."""
    steps: list[dict[str, Any]] = []
    by_id: dict[str, int] = {}
    said: list[str] = []               # agent text not yet attached to a step
    first_user: str | None = None
    final_answer = ""
    unpaired: list[str] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        msg = need_object(msg, where)
        role = need(msg, "role", str, where)
        text = as_text(msg.get("content"))
        calls = need(msg, "tool_calls", list, where, optional=True) or []
        if role == "assistant":
            if text:
                said.append(text)
                final_answer = text
            for k, call in enumerate(calls):
                steps.append(_call_step(call, f"{where}.tool_calls[{k}]",
                                        "\n\n".join(said) if k == 0 else "", "tool"))
                by_id[str(call.get("id"))] = len(steps) - 1
            said = [] if calls else said
        elif role == "user":
            if first_user is None and not calls:
                first_user, said = text, []     # the agent's greeting came before the task
            elif text:
                steps.append(user_step(said, text))
                said = []
            for k, call in enumerate(calls):
                steps.append(_call_step(call, f"{where}.tool_calls[{k}]", "", "user"))
                by_id[str(call.get("id"))] = len(steps) - 1
        elif role == "tool":
            call_id = str(msg.get("id"))
            if call_id in by_id:
                steps[by_id.pop(call_id)]["observation"] = text
            else:       # a result whose call is not in the log: kept, never a step
                unpaired.append(text)
        elif role != "system":
            raise RecordError(f"{where}.role", f"unknown role {role!r}")
    if first_user is None:
        first_user = ""
    return {"steps": steps, "first_user": first_user, "final_answer": final_answer,
            "unpaired": unpaired}


def _call_step(call: Any, where: str, thought: str, role: str) -> dict[str, Any]:
    call = need_object(call, where)
    requestor = call.get("requestor", "assistant")
    if (role == "tool") != (requestor == "assistant"):
        raise RecordError(f"{where}.requestor",
                          f"{requestor!r} in a {'assistant' if role == 'tool' else 'user'} message")
    return {"thought": thought, "action": need(call, "name", str, where),
            "action_input": arguments(call.get("arguments")), "observation": "", "role": role}
