"""Goal-contrast DPO rows (AgentHER): the trajectory is fixed, the goals are contrasted.

chosen = (hindsight goal ĝ, τ), rejected = (original goal g, τ), loss scaled by w (SPEC step 4):

    L = -w · log σ(β · [(log π(τ|ĝ) - log π_ref(τ|ĝ)) - (log π(τ|g) - log π_ref(τ|g))])

where log π(τ|x) sums over the agent's tokens only (thoughts, tool calls, final answer), never
over observations. The two sides differ in their *prompt* and share their *completion*, which is
the opposite of what DPO trainers are built for. What each tool accepts:

- TRL DPOTrainer pairs ONE prompt with two completions (dataset_formats.md, "Preference":
  explicit `prompt`/`chosen`/`rejected`, or an implicit prompt that `maybe_extract_prompt` takes
  as the longest common prefix of chosen and rejected; trl/data_utils.py). Here that prefix is
  [] or [system], and TRL's `apply_chat_template` (trl/data_utils.py, version read) then fails:
  IndexError on [], "Invalid role in the last message: system". Even if it did not, the
  "completions" would start with the goals, so the loss would score ĝ against g as text, plus
  every observation. No explicit-prompt row is faithful either: one shared prompt cannot hold
  two goals.
  So `to_dpo` writes the implicit conversational form with NO shared prompt:
  `{"chosen": [system?, user ĝ, ...τ], "rejected": [system?, user g, ...τ], "tools"?, "weight",
  "metadata"}`, each side exactly the SFT conversation (`sft.to_messages`). Nothing is lost and
  stock TRL fails loudly on it instead of training the wrong objective. To train, split a row with
  `split_goal_contrast` into (prompt_chosen, prompt_rejected, completion); tokenize each prompt +
  completion with the chat template, mask all but the assistant tokens
  (`return_assistant_tokens_mask=True` on a template with `{% generation %}`), sum the masked
  log-probs under the policy and the frozen reference, and apply L above (paper: β = 0.1,
  lr 5e-5, LoRA r=16, α=32). That is a small `compute_loss` override, not a new trainer.
- ms-swift takes `rejected_messages`, a whole second conversation, instead of only a
  `rejected_response` (docs/source/Customization/Custom-dataset.md: "你也可以直接使用
  rejected_messages … 在Agent场景下，你需要额外传入rejected_tools"). Its agent format uses
  `tool_call` messages (content = JSON `{"name", "arguments"}`) and `tool_response` messages,
  `tools` as a JSON string, and consecutive assistant + tool_call messages are joined into one
  assistant turn (so a thought is an assistant message, ending in a newline, right before its
  tool_call); tool responses take no loss (docs/source_en/Instruction/Agent-support.md).
  `to_dpo_ms_swift` writes exactly that, with `tools` and `rejected_tools` when the run has tools.
  Check that ms-swift's `--loss_scale` trains every assistant turn, not only the last round.
- LLaMA-Factory cannot express it: its ranking datasets share `conversations` and differ only in
  one final `chosen`/`rejected` message (data/README.md; data/converter.py). No file is written
  for it (see `dataset_info.NOT_FOR_LLAMA_FACTORY`).

Neither TRL's DPOTrainer nor ms-swift reads a per-row `weight`; it is kept for the custom loss
above (ms-swift drops unknown columns).
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


def to_dpo(traj: Trajectory, goal: str, weight: float,
           meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One goal-contrast row for a TRL-style trainer: two full conversations, no shared prompt.

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "Find x < 2", (Step("", "search", {"q": "x"}, "x is 3"),), "x is 3")
    >>> row = to_dpo(t, "What is x?", 0.8)
    >>> row["chosen"][0], row["rejected"][0], row["chosen"][1:] == row["rejected"][1:]
    ({'role': 'user', 'content': 'What is x?'}, {'role': 'user', 'content': 'Find x < 2'}, True)
    """
    _check_contrast(traj, goal)
    row: dict[str, Any] = {"chosen": to_messages(traj, goal),
                           "rejected": to_messages(traj, traj.goal)}
    tools = tools_json(traj)
    if tools:
        row["tools"] = tools
    row["weight"] = check_weight(weight)
    row["metadata"] = copy_meta(meta)
    return row


def split_goal_contrast(row: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Split a `to_dpo` row into its two prompts (up to the goal) and the shared completion.

    Raises ValueError if the two sides differ anywhere but in the goal.

    >>> row = {"chosen": [{"role": "user", "content": "A?"}, {"role": "assistant", "content": "a"}],
    ...        "rejected": [{"role": "user", "content": "B?"}, {"role": "assistant", "content": "a"}]}
    >>> split_goal_contrast(row)["completion"]
    [{'role': 'assistant', 'content': 'a'}]
    """
    chosen, rejected = row["chosen"], row["rejected"]
    # The goal is the first user message; a system message, if any, comes before it.
    k = next((i + 1 for i, m in enumerate(chosen) if m["role"] == "user"), None)
    if (k is None or len(chosen) != len(rejected) or rejected[k - 1]["role"] != "user"
            or chosen[:k - 1] != rejected[:k - 1] or chosen[k:] != rejected[k:]):
        raise ValueError("not a goal-contrast row: chosen and rejected must differ only in the goal")
    return {"prompt_chosen": chosen[:k], "prompt_rejected": rejected[:k], "completion": chosen[k:]}


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


def to_dpo_ms_swift(traj: Trajectory, goal: str, weight: float,
                    meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One goal-contrast row for ms-swift: `messages` with ĝ, `rejected_messages` with g.

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "Find x < 2", (Step("", "search", {"q": "x"}, "x is 3"),), "x is 3")
    >>> row = to_dpo_ms_swift(t, "What is x?", 0.8)
    >>> [m["role"] for m in row["messages"]], row["rejected_messages"][0]["content"]
    (['user', 'tool_call', 'tool_response', 'assistant'], 'Find x < 2')
    """
    _check_contrast(traj, goal)
    row: dict[str, Any] = {"messages": _swift_messages(traj, goal),
                           "rejected_messages": _swift_messages(traj, traj.goal)}
    tools = tools_json(traj)
    if tools:
        # With rejected_messages ms-swift does not default rejected_tools to tools.
        row["tools"] = tools
        row["rejected_tools"] = tools
    row["weight"] = check_weight(weight)
    row["metadata"] = copy_meta(meta)
    return row
