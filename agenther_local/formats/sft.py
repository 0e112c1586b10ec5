"""SFT rows in TRL's conversational format: (user: goal, assistant: the trajectory).

One row is `{"messages": [...], "tools": "<json>", "weight": w, "metadata": {...}}` (TRL docs,
dataset_formats.md "Tool Calling": a `messages` column of OpenAI-style messages plus a `tools`
column). The messages, in order:

    system      metadata["system"], only when the run has one
    user        the goal (the hindsight goal; the run's own goal for the success baseline)
    tool step   assistant {content: thought, tool_calls: [call_<i>: action(arguments)]}
                tool      {tool_call_id: call_<i>, name: action, content: observation}
    user step   assistant {content: thought + what the agent said}   (left out when empty)
                user      {content: observation, i.e. the user's reply}
    assistant   the final answer (left out when empty: there is nothing to teach)

Observations are inputs, never training targets: they only ever sit in `tool` and `user`
messages, and no assistant message quotes one. Beware, though: TRL's SFTTrainer computes the loss
on the *entire* sequence by default (SFTConfig.assistant_only_loss defaults to False: "If False,
loss is computed on the entire sequence"). Train with `SFTConfig(assistant_only_loss=True)`, which
needs a chat template with `{% generation %}` markers; otherwise the observations are learned too.

Types, and what each loader makes of them:
- `arguments` is a JSON object, as TRL's dataset docs write it and as the chat templates that
  render tool calls expect (`arguments | tojson`; a string would be quoted twice). Arrow gives
  a column one type. datasets >= 4.7 stores messages whose keys or types differ between rows as
  its Json type and returns every call's arguments exactly (checked with datasets 5.2.0:
  `{'messages': List(Json(decode=True))}`). Older versions (seen with 3.6.0) merge all tools'
  argument keys into one struct, fill the keys a call did not pass with None (rendered as
  `"max_results": null`: strip them with TRL's `remove_none_values`), and fail outright when
  one argument name holds a string in one call and a number in another. Read such files with
  datasets >= 4.7, or with `json`.
- `tools` is a JSON string, present only when the run has tool schemas; recent TRL SFTTrainers
  `json.loads` a string `tools` (trl/trainer/sft_trainer.py, tokenize_fn); with an older one,
  parse it in a `map`. Why not a list: see `_common.tools_json`.
- `weight` is always a float, rounded (`_common.WEIGHT_DIGITS`). TRL does not read it:
  `agenther-local train sft` scales each row's loss by it (agenther_local/train/).
"""
from __future__ import annotations

from typing import Any

from ..trajectory import Trajectory
from ._common import (arguments_object, call_id, check_goal, check_weight, copy_meta,
                      said_to_user, system_prompt, tools_json)


def to_messages(traj: Trajectory, goal: str) -> list[dict[str, Any]]:
    """The OpenAI-style conversation of `traj` asked as `goal` (shared with the DPO rows).

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "old goal", (Step("Look it up.", "search", {"q": "x"}, "x is 3"),), "3")
    >>> [m["role"] for m in to_messages(t, "What is x?")]
    ['user', 'assistant', 'tool', 'assistant']
    """
    check_goal(goal)
    messages: list[dict[str, Any]] = []
    system = system_prompt(traj)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": goal})
    for i, step in enumerate(traj.steps):
        if step.role == "user":
            said = said_to_user(step)
            if said:
                messages.append({"role": "assistant", "content": said})
            messages.append({"role": "user", "content": step.observation})
            continue
        messages.append({
            "role": "assistant",
            "content": step.thought,
            "tool_calls": [{"id": call_id(i), "type": "function",
                            "function": {"name": step.action, "arguments": arguments_object(step)}}],
        })
        messages.append({"role": "tool", "tool_call_id": call_id(i), "name": step.action,
                         "content": step.observation})
    if traj.final_answer:
        messages.append({"role": "assistant", "content": traj.final_answer})
    return messages


def to_sft(traj: Trajectory, goal: str, weight: float,
           meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One TRL SFT row: `goal` as the user turn, the trajectory as the assistant's turns.

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "old goal", (Step("Look it up.", "search", {"q": "x"}, "x is 3"),), "3")
    >>> row = to_sft(t, "What is x?", 0.8, {"trajectory_id": "a"})
    >>> row["messages"][1]["tool_calls"][0]["function"], row["weight"], row["metadata"]
    ({'name': 'search', 'arguments': {'q': 'x'}}, 0.8, {'trajectory_id': 'a'})
    """
    row: dict[str, Any] = {"messages": to_messages(traj, goal)}
    tools = tools_json(traj)
    if tools:
        row["tools"] = tools
    row["weight"] = check_weight(weight)
    row["metadata"] = copy_meta(meta)
    return row
