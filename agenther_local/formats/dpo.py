"""Goal-contrast DPO rows (AgentHER): the trajectory is fixed, the goals are contrasted.

chosen = (hindsight goal ĝ, τ), rejected = (original goal g, τ), loss scaled by w (SPEC step 4):

    L = -w · log σ(β · [(log π(τ|ĝ) - log π_ref(τ|ĝ)) - (log π(τ|g) - log π_ref(τ|g))])

where log π(τ|x) sums over the agent's tokens only (thoughts, tool calls, final answer), never
over observations. The two sides differ in their *prompt* and share their *completion*, the
opposite of what DPO trainers are built for. One `dpo.jsonl` row:

    {"prompt_chosen":   [system?, user ĝ],
     "prompt_rejected": [system?, user g],
     "completion":      [assistant / tool / user messages of τ, exactly as in sft.jsonl],
     "completion_rejected"?: [...]      only when the rejected side keeps a different run
                                        (the original of a shaped trajectory: `original=`),
     "tools"?: "<json>", "weight": w, "metadata": {...}}

Why this shape, tool by tool:
- TRL's DPOTrainer pairs ONE prompt with two completions: explicit `prompt`/`chosen`/`rejected`,
  or an implicit prompt, `extract_prompt`'s longest common prefix of chosen and rejected
  (trl/data_utils.py). Two full conversations that differ only in the goal (this module's
  previous rows) therefore get the prompt [system] (or [], an error), and trl 1.16 then trains
  "ĝ + τ" against "g + τ" as completions, goals and observations included, logging only "The
  tokenized prompt is not a prefix ..." once. A row without `prompt`, `chosen` and `rejected`
  cannot be misread: DPOTrainer asks `extract_prompt` for `example["chosen"]` and stops with
  KeyError: 'chosen' (tests/test_train.py checks it on the installed TRL). No one-prompt row is
  faithful either: one shared prompt cannot hold two goals.
- `agenther-local train dpo` (agenther_local/train/) reads these rows: each side is its prompt +
  the completion through the chat template, the loss mask keeps the assistant turns only, and
  every row's loss is scaled by its w.
- ms-swift takes `rejected_messages`, a whole second conversation, instead of only a
  `rejected_response` (docs/source/Customization/Custom-dataset.md: "你也可以直接使用
  rejected_messages … 在Agent场景下，你需要额外传入rejected_tools"). Its agent format uses
  `tool_call` messages (content = JSON `{"name", "arguments"}`) and `tool_response` messages,
  `tools` as a JSON string, and consecutive assistant + tool_call messages are joined into one
  assistant turn (so a thought is an assistant message, ending in a newline, right before its
  tool_call); tool responses take no loss (docs/source_en/Instruction/Agent-support.md).
  `to_dpo_ms_swift` writes exactly that, with `tools` and `rejected_tools` when the run has tools.
  Train it with `--loss_scale default`: ms-swift's RLHF default is `last_round` ("Only compute
  loss for the final round of response. ... RLHF defaults to this", Command-line-parameters.md),
  and every tool call of an agent run sits in an earlier round, so only the final answer would
  carry the DPO signal. `default` scores every assistant turn and never a `tool_response`.
- LLaMA-Factory cannot express it: its ranking datasets share `conversations` and differ only in
  one final `chosen`/`rejected` message (data/README.md; data/converter.py). No file is written
  for it (see `dataset_info.NOT_FOR_LLAMA_FACTORY`).

Neither stock TRL nor ms-swift reads a per-row `weight` (ms-swift drops unknown columns);
`agenther-local train dpo` does.
"""
from __future__ import annotations

from typing import Any

from ..trajectory import Trajectory
from ._common import (call_json, check_goal, check_weight, copy_meta, said_to_user,
                      system_prompt, tools_json)
from .sft import to_messages


def _check_contrast(traj: Trajectory, goal: str) -> None:
    check_goal(goal)
    if goal.strip() == traj.goal.strip():
        raise ValueError(f"trajectory {traj.id!r}: the hindsight goal equals the original goal; "
                         "a goal-contrast pair needs two different goals")


def _prompt_length(messages: list[dict[str, Any]]) -> int:
    """Messages up to and including the goal, the first user message (a system one may precede it)."""
    return next(i + 1 for i, m in enumerate(messages) if m["role"] == "user")


def to_dpo(traj: Trajectory, goal: str, weight: float, meta: dict[str, Any] | None = None,
           original: Trajectory | None = None) -> dict[str, Any]:
    """One goal-contrast row: a prompt per side (system?, goal) and the shared completion τ.

    `original`, when given, is the run before shaping: the rejected side keeps it (and its own
    completion, as `completion_rejected`, if it differs), the chosen side is `traj`.

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "Find x < 2", (Step("", "search", {"q": "x"}, "x is 3"),), "x is 3")
    >>> row = to_dpo(t, "What is x?", 0.8)
    >>> row["prompt_chosen"], row["prompt_rejected"], [m["role"] for m in row["completion"]]
    ([{'role': 'user', 'content': 'What is x?'}], [{'role': 'user', 'content': 'Find x < 2'}], ['assistant', 'tool', 'assistant'])
    """
    rejected_traj = traj if original is None else original
    _check_contrast(rejected_traj, goal)
    chosen, rejected = to_messages(traj, goal), to_messages(rejected_traj, rejected_traj.goal)
    kc, kr = _prompt_length(chosen), _prompt_length(rejected)
    row: dict[str, Any] = {"prompt_chosen": chosen[:kc], "prompt_rejected": rejected[:kr],
                           "completion": chosen[kc:]}
    if rejected[kr:] != chosen[kc:]:
        row["completion_rejected"] = rejected[kr:]
    tools = tools_json(traj)
    if tools:
        row["tools"] = tools
    row["weight"] = check_weight(weight)
    row["metadata"] = copy_meta(meta)
    return row


def split_goal_contrast(row: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The two sides of a `to_dpo` row: {prompt, completion} per side, checked.

    Raises ValueError when the row is not a goal contrast: a missing column, a prompt that does
    not end on its goal, or prompts that differ anywhere but in the goal. A `completion_rejected`
    that is missing or None (Arrow fills absent keys with None) means the shared completion.

    >>> row = {"prompt_chosen": [{"role": "user", "content": "A?"}],
    ...        "prompt_rejected": [{"role": "user", "content": "B?"}],
    ...        "completion": [{"role": "assistant", "content": "a"}]}
    >>> sides = split_goal_contrast(row)
    >>> sides["prompt_rejected"][0]["content"], sides["completion_rejected"] == sides["completion_chosen"]
    ('B?', True)
    """
    missing = [k for k in ("prompt_chosen", "prompt_rejected", "completion") if not row.get(k)]
    if missing:
        raise ValueError(f"not a goal-contrast row: '{missing[0]}' is missing or empty")
    pc, pr = row["prompt_chosen"], row["prompt_rejected"]
    for name, prompt in (("prompt_chosen", pc), ("prompt_rejected", pr)):
        if prompt[-1].get("role") != "user" or any(m.get("role") == "user" for m in prompt[:-1]):
            raise ValueError(f"not a goal-contrast row: '{name}' must end on its goal, the only user message")
    if pc[:-1] != pr[:-1]:
        raise ValueError("not a goal-contrast row: the two prompts differ before the goal")
    completion = row["completion"]
    return {"prompt_chosen": pc, "completion_chosen": completion, "prompt_rejected": pr,
            "completion_rejected": row.get("completion_rejected") or completion}


def _swift_messages(traj: Trajectory, goal: str) -> list[dict[str, str]]:
    """The conversation in ms-swift's agent format (roles tool_call / tool_response)."""
    messages: list[dict[str, str]] = []
    system = system_prompt(traj)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": goal})
    for step in traj.steps:
        if step.role == "user":
            said = said_to_user(step)
            if said:
                messages.append({"role": "assistant", "content": said})
            messages.append({"role": "user", "content": step.observation})
            continue
        # ms-swift joins this assistant message and the tool_call after it into one turn by
        # plain concatenation; the newline keeps "thought.Action: ..." from running together.
        if step.thought:
            messages.append({"role": "assistant", "content": step.thought + "\n"})
        messages.append({"role": "tool_call", "content": call_json(step)})
        messages.append({"role": "tool_response", "content": step.observation})
    if traj.final_answer:
        messages.append({"role": "assistant", "content": traj.final_answer})
    return messages


def to_dpo_ms_swift(traj: Trajectory, goal: str, weight: float, meta: dict[str, Any] | None = None,
                    original: Trajectory | None = None) -> dict[str, Any]:
    """One goal-contrast row for ms-swift: `messages` with ĝ, `rejected_messages` with g.

    `original`, when given, is the run before shaping, kept by the rejected side.

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "Find x < 2", (Step("", "search", {"q": "x"}, "x is 3"),), "x is 3")
    >>> row = to_dpo_ms_swift(t, "What is x?", 0.8)
    >>> [m["role"] for m in row["messages"]], row["rejected_messages"][0]["content"]
    (['user', 'tool_call', 'tool_response', 'assistant'], 'Find x < 2')
    """
    rejected_traj = traj if original is None else original
    _check_contrast(rejected_traj, goal)
    row: dict[str, Any] = {"messages": _swift_messages(traj, goal),
                           "rejected_messages": _swift_messages(rejected_traj, rejected_traj.goal)}
    tools = tools_json(traj)
    if tools:
        # With rejected_messages ms-swift does not default rejected_tools to tools.
        row["tools"] = tools
        row["rejected_tools"] = tools
    row["weight"] = check_weight(weight)
    row["metadata"] = copy_meta(meta)
    return row
