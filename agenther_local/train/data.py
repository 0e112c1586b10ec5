"""Rows of an output folder -> tokenized training examples, every problem located at file:line.

`read_rows` checks every row of `dpo.jsonl` (formats/dpo.py) or `sft.jsonl` (formats/sft.py)
before a model is loaded; `dpo_examples` then gives, per row, each side's ids and agent mask
plus w, and `sft_examples` the ids, mask and w of one conversation. A row whose side is longer than
`max_length` tokens is skipped and counted, never cut: cutting an agent run keeps its start and
drops the final answer, the part the hindsight goal is about.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import AgentherError, InputFileError
from ..formats import split_goal_contrast
from ..formats._common import check_weight
from ..jsonl import iter_json_values
from .tokenize import encode, parse_tools


@dataclass
class Examples:
    """Tokenized rows, and what was left out."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)      # "file:line" of rows over max_length

    def summary(self, max_length: int) -> str:
        line = f"{len(self.rows)} rows"
        if self.too_long:
            line += (f"; {len(self.too_long)} longer than {max_length} tokens skipped "
                     f"(first at {self.too_long[0]}; raise --max-length)")
        return line


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not path.is_file():
        raise InputFileError(f"{path}: no such file; point the command at an `agenther-local run` output folder")
    for item in iter_json_values(path):
        if item.error is not None:
            raise item.error
        if not isinstance(item.value, dict):
            raise AgentherError(f"{item.where}: expected a JSON object, got {type(item.value).__name__}")
        yield item.where, item.value


def _weight(row: dict[str, Any], where: str) -> float:
    try:
        return check_weight(row.get("weight", 1.0))
    except ValueError as e:
        raise AgentherError(f"{where}: weight: {e}") from None


def read_rows(path: Path, kind: str) -> list[tuple[str, dict[str, Any], list | None, float]]:
    """Every row of a dpo.jsonl or sft.jsonl, checked before any model loads:
    [(where, row, tools, w)]; AgentherError at the first bad one."""
    rows = []
    for where, row in _records(path):
        if kind == "dpo":
            if "chosen" in row and "prompt_chosen" not in row:
                raise AgentherError(f"{where}: a `chosen`/`rejected` row from an older agenther-local; "
                                    "re-run `agenther-local run` into a new folder to write goal-contrast rows")
            try:
                split_goal_contrast(row)
            except ValueError as e:
                raise AgentherError(f"{where}: {e}") from None
        else:
            messages = row.get("messages")
            if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
                raise AgentherError(f"{where}: messages: expected a list of {{role, content}} messages")
        rows.append((where, row, parse_tools(row.get("tools"), where), _weight(row, where)))
    if not rows:
        raise AgentherError(f"{path}: no rows")
    return rows


def dpo_examples(rows: list[tuple[str, dict[str, Any], list | None, float]], tokenizer: Any, template: str,
                 max_length: int) -> Examples:
    """{chosen_input_ids, chosen_mask, rejected_input_ids, rejected_mask, weight} per `read_rows(.., "dpo")` row."""
    out = Examples()
    for where, row, tools, weight in rows:
        sides = split_goal_contrast(row)
        enc = {side: encode(tokenizer, sides[f"prompt_{side}"] + sides[f"completion_{side}"], template, tools)
               for side in ("chosen", "rejected")}
        for side, e in enc.items():
            if not any(e.agent_mask):
                raise AgentherError(f"{where}: completion_{side}: no assistant turn to train on")
        if max(len(e.input_ids) for e in enc.values()) > max_length:
            out.too_long.append(where)
            continue
        out.rows.append({"chosen_input_ids": enc["chosen"].input_ids, "chosen_mask": enc["chosen"].agent_mask,
                         "rejected_input_ids": enc["rejected"].input_ids,
                         "rejected_mask": enc["rejected"].agent_mask, "weight": weight})
    return out


def sft_examples(rows: list[tuple[str, dict[str, Any], list | None, float]], tokenizer: Any, template: str,
                 max_length: int) -> Examples:
    """{input_ids, agent_mask, weight} per `read_rows(.., "sft")` row (sft.jsonl or sft_success.jsonl)."""
    out = Examples()
    for where, row, tools, weight in rows:
        enc = encode(tokenizer, row["messages"], template, tools)
        if not any(enc.agent_mask):
            raise AgentherError(f"{where}: messages: no assistant turn to train on")
        if len(enc.input_ids) > max_length:
            out.too_long.append(where)
            continue
        out.rows.append({"input_ids": enc.input_ids, "agent_mask": enc.agent_mask, "weight": weight})
    return out
