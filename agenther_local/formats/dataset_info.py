"""LLaMA-Factory `dataset_info.json` entries for the files we write.

LLaMA-Factory finds a local dataset through an entry `{"file_name", "formatting", "ranking",
"columns", "tags"}` in `dataset_info.json` (data/README.md). Two traps, from data/parser.py:
once `columns` is given, every column left out becomes None (so `messages` must be named), and
once `tags` is given, every tag left out becomes None (so all seven are written).

Only the ShareGPT file gets an entry. The others would load but train the wrong thing
(`NOT_FOR_LLAMA_FACTORY` says why), so they are left out rather than described wrongly.
"""
from __future__ import annotations

from pathlib import PurePath
from typing import Any

SHAREGPT_TAGS = {  # LLaMA-Factory's defaults for the sharegpt format, written out (see above)
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}

NOT_FOR_LLAMA_FACTORY = {
    "sft.jsonl": "LLaMA-Factory's OpenAI-style reader maps only role and content: the `tool_calls` "
                 "would be lost; use sharegpt.jsonl",
    "sft_success.jsonl": "the success-only baseline, written like sft.jsonl: its `tool_calls` would be lost too",
    "dpo.jsonl": "goal contrast needs two prompts; LLaMA-Factory ranking rows share one "
                 "conversation and differ only in the final message",
    "dpo_ms_swift.jsonl": "ms-swift format (rejected_messages); LLaMA-Factory has no such column",
}


def dataset_info(files: dict[str, str], prefix: str = "agenther_") -> dict[str, Any]:
    """`dataset_info.json` entries for written files: {output file name: `file_name` to record}.

    `file_name` is the path LLaMA-Factory should open, relative to its `dataset_dir`. Files in
    NOT_FOR_LLAMA_FACTORY are skipped; any other unknown name is a ValueError.

    >>> info = dataset_info({"sharegpt.jsonl": "run1/sharegpt.jsonl", "dpo.jsonl": "run1/dpo.jsonl"})
    >>> list(info), info["agenther_sharegpt"]["columns"]
    (['agenther_sharegpt'], {'messages': 'conversations', 'system': 'system', 'tools': 'tools'})
    """
    info: dict[str, Any] = {}
    for name, file_name in files.items():
        if name in NOT_FOR_LLAMA_FACTORY:
            continue
        if name != "sharegpt.jsonl":
            known = ["sharegpt.jsonl", *NOT_FOR_LLAMA_FACTORY]
            raise ValueError(f"unknown output file {name!r}, must be one of {known}")
        info[prefix + PurePath(name).stem] = {
            "file_name": file_name,
            "formatting": "sharegpt",
            "ranking": False,
            "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
            "tags": dict(SHAREGPT_TAGS),
        }
    return info
