"""FireAct runs (anchen1011/FireAct) -> Trajectory, in the three shapes the repo publishes.

FireAct's `generation.py` writes ReAct runs as Thought/Action/Observation text; how the text
is stored depends on the model:
1. chat (gpt-3.5 runs, `trajs/*gpt-3.5*.json`): a dict keyed by question index of
   {reward (bool), em, f1, gt, pred, prompt, traj}; `traj` is a chat list (user question,
   assistant "Thought: ...\\nAction: search[...]", user "Observation: ...").
2. text (Llama-2 runs, `trajs/*llama-2*.json`): the same dict, but `traj` is one string and
   `traj_by_line` the same string split at newlines. With the Alpaca wrapper the question
   sits between "### Instruction:" and "### Response:"; without it, before the first
   Thought line.
3. fine-tuning data (`data/finetune/`): `gpt_format/*.jsonl`, one {"messages": [...]} chat
   per line, and `alpaca_format/*.json`, a list of {instruction, input, output} whose
   output is the run's text. No `reward` key: the label is the reward that the last
   "Observation: Episode finished, reward = True|1|False|0" line reports.

The id is the question index (shapes 1-2) or the record's place in its file (shape 3).
`finish[...]` is not a tool step (see react.steps_from_fields). When an assistant message
holds several Thought/Action pairs, FireAct executed only the first (its
`split("\\nAction: ")[:2]`); the others are counted in `metadata["unexecuted_actions"]`.
A run that finishes with no tool step has nothing to relabel and is a RecordError.

Not handled: FireAct's CoT-only and multi-method records that carry no Action line are
read as runs without a tool step (RecordError), as above.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from .common import Located, as_text, json_records, label, located, need, need_object, record_id
from .react import Field, fields_of, steps_from_fields

FORMAT = "fireact"
_INSTRUCTION, _RESPONSE = "### Instruction:", "### Response:"
_EPISODE_REWARD = re.compile(r"Episode finished, reward = (\w+)")
_ACTION_LINE = re.compile(r"^Action(?: \d+)?: ", re.M)


def is_record(value: Any) -> bool:
    """A FireAct file (a dict of runs keyed by index), one run, or one fine-tuning record."""
    if not isinstance(value, dict) or not value:
        return False
    if "traj" in value:
        return isinstance(value["traj"], (list, str)) and "info" not in value
    if isinstance(value.get("output"), str) and isinstance(value.get("instruction"), str):
        return bool(_ACTION_LINE.search(value["output"]))
    msgs = value.get("messages")
    if isinstance(msgs, list) and msgs:
        return any(isinstance(m, dict) and m.get("role") == "assistant"
                   and isinstance(m.get("content"), str) and _ACTION_LINE.search(m["content"])
                   for m in msgs) and not any(isinstance(m, dict) and m.get("tool_calls")
                                              for m in msgs)
    first = next(iter(value.values()))
    return isinstance(first, dict) and isinstance(first.get("traj"), (list, str))


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per run; `branches` does not apply here."""
    path = Path(path)
    for raw in json_records(path):
        if raw.error is not None:
            yield raw.where, raw.error
        elif (isinstance(raw.value, dict) and raw.key == "" and "traj" not in raw.value
              and "messages" not in raw.value and "instruction" not in raw.value):
            for key, run in raw.value.items():
                yield located(f"{path}:#{key}", FORMAT, lambda: to_native(run, str(key)))
        else:
            rid = record_id(path, raw.key)
            yield located(raw.where, FORMAT, lambda: to_native(raw.value, rid))


def to_native(run: Any, rid: str) -> dict[str, Any]:
    """One FireAct run, of any of the three shapes -> native dict. Raises RecordError."""
    run = need_object(run)
    if "traj" in run:
        traj = need(run, "traj", (list, str))
        goal, fields, unexecuted = (_from_chat(traj, "traj") if isinstance(traj, list)
                                    else _from_text(traj))
    elif "messages" in run:
        goal, fields, unexecuted = _from_chat(need(run, "messages", list), "messages")
    else:
        instruction = need(run, "instruction", str)
        extra = run.get("input") if isinstance(run.get("input"), str) else ""
        goal = f"{instruction}\n{extra}".strip() if extra.strip() else instruction.strip()
        fields, unexecuted = fields_of(need(run, "output", str), "Thought"), 0
    steps, final_answer, meta = steps_from_fields(fields)
    reward = run.get("reward", _episode_reward(meta.get("finish_observation", "")))
    native: dict[str, Any] = {"id": rid, "goal": goal, "steps": steps,
                              "final_answer": final_answer, **label(reward, reward)}
    if reward is False:
        native["failure_reason"] = (f"answer {run['pred']!r} does not match {run.get('gt')!r}"
                                    if "pred" in run else "reward is false")
    meta.update({k: run[k] for k in ("gt", "pred", "em", "f1") if k in run})
    if run.get("prompt"):
        meta["prompt"] = run["prompt"]
    if unexecuted:
        meta["unexecuted_actions"] = unexecuted
    native["metadata"] = meta
    return native


def _from_chat(traj: list, path: str) -> tuple[str, list[Field], int]:
    """(goal, fields, unexecuted actions) of a chat list whose first message is the question."""
    first = need(traj, 0, dict, path)
    if first.get("role") != "user":
        raise RecordError(f"{path}[0].role",
                          f"expected 'user' (the question), got {first.get('role')!r}")
    goal = _strip_question(as_text(first.get("content")))
    fields: list[Field] = []
    unexecuted = 0
    for i, msg in enumerate(traj[1:], 1):
        role = need(need_object(msg, f"{path}[{i}]"), "role", str, f"{path}[{i}]")
        found = fields_of(as_text(msg.get("content")),
                          "Thought" if role == "assistant" else "Observation")
        if role == "assistant":
            actions = [j for j, f in enumerate(found) if f[0] == "Action"]
            if actions:
                unexecuted += len(actions) - 1
                found = found[:actions[0] + 1]
        fields.extend(found)
    return goal, fields, unexecuted


def _from_text(text: str) -> tuple[str, list[Field], int]:
    """(goal, fields, 0) of a run written as one string (Llama-2 runs, Alpaca wrapper or not).

    >>> g, f, _ = _from_text("### Instruction:\\nWho?\\n\\n### Response:\\nThought: t\\nAction: finish[x]\\n")
    >>> g, f
    ('Who?', [('Thought', '', 't'), ('Action', '', 'finish[x]')])
    """
    if _INSTRUCTION in text and _RESPONSE in text:
        head, body = text.split(_RESPONSE, 1)
        goal = head.split(_INSTRUCTION, 1)[1]
        return _strip_question(goal), fields_of(body, "Thought"), 0
    fields = fields_of(text, "Question")
    if not any(kind == "Action" for kind, _, _ in fields):
        raise RecordError("traj", "no Action line in the text: not a ReAct run")
    if fields[0][0] != "Question":
        raise RecordError("traj", "no question before the first Thought/Action line")
    return _strip_question(fields[0][2]), fields[1:], 0


def _strip_question(text: str) -> str:
    text = text.strip()
    return text[len("Question:"):].strip() if text.startswith("Question:") else text


def _episode_reward(observation: str) -> bool | None:
    """The label FireAct's environment printed after finish[]: None when there is none.

    >>> _episode_reward("Episode finished, reward = True"), _episode_reward("reward = 0")
    (True, None)
    >>> _episode_reward("Episode finished, reward = 0")
    False
    """
    m = _EPISODE_REWARD.search(observation)
    if m is None:
        return None
    word = m.group(1).lower()
    return True if word in ("true", "1") else False if word in ("false", "0") else None
