"""Adapters: one module per foreign format, each turning its records into `Trajectory`.

    read(path, fmt="auto", branches=False) -> iterator of (where, Trajectory | RecordError)

`where` locates the record in its file ("runs.jsonl:17", "runs.json:#12"). A record that
cannot be read comes back as a RecordError located there, never as an exception, and is
never skipped. A whole file that cannot be read (missing, not a known format) raises
InputFileError. `detect_format` looks at the content, never at the file name.

Every Trajectory carries `metadata["source_format"]` and `metadata["source"]`. A format
without a success label gives unlabeled records (success and reward None), never failures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from ..errors import ConfigError, InputFileError
from ..jsonl import iter_json_values
from . import native, openai, react, sharegpt, swe_agent, toolbench
from .common import Located, first_char

FORMATS = ("native", "openai", "toolbench", "react", "sharegpt", "swe-agent")

_MODULES = {"native": native, "openai": openai, "toolbench": toolbench, "react": react,
            "sharegpt": sharegpt, "swe-agent": swe_agent}
# Order matters: the most specific shapes first (a FireAct run also has "traj", like
# tau-bench; a ShareGPT record may call its list "messages", like OpenAI).
_DETECT_ORDER = ("swe-agent", "toolbench", "react", "sharegpt", "openai", "native")
_PEEK_RECORDS = 20     # JSONL lines to try before giving up on malformed ones


def detect_format(path: Path | str) -> str:
    """The format of a file, from its content. Raises InputFileError when it cannot tell."""
    path = Path(path)
    first = first_char(path)
    if first == "":
        raise InputFileError(f"{path}: empty file, nothing to convert")
    if first not in ("[", "{"):
        with open(path, "rb") as f:
            head = f.read(64 * 1024).decode("utf-8", errors="replace")
        if react.is_text_log(head):
            return "react"
        raise InputFileError(f"{path}: cannot tell the format (not JSON, and no "
                             f"Thought/Action/Observation lines); pass --from")
    value, problem = _first_value(path)
    if value is None:
        raise InputFileError(f"{path}: cannot tell the format ({problem}); pass --from")
    for fmt in _DETECT_ORDER:
        if _MODULES[fmt].is_record(value):
            return fmt
    what = (f"first record has keys {', '.join(sorted(map(str, value))[:8])}"
            if isinstance(value, dict) else "first record is not a JSON object")
    raise InputFileError(f"{path}: cannot tell the format ({what}); pass --from with one of "
                         f"{', '.join(FORMATS)}")


def _first_value(path: Path) -> tuple[object, str]:
    """(first readable JSON value, or None with the reason none was found)."""
    problem = "no records"
    for n, item in enumerate(iter_json_values(path)):
        if item.error is None:
            return item.value, ""
        problem = item.error.problem
        if n + 1 >= _PEEK_RECORDS:
            break
    return None, problem


def read(path: Path | str, fmt: str = "auto", branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) for every record of one file.

    `fmt` is one of FORMATS or "auto"; `branches` (ToolBench only) adds every abandoned
    branch of the DFSDT search tree as its own failed trajectory.
    """
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    reader: Callable[..., Iterator[Located]] | None = getattr(_MODULES.get(fmt), "read", None)
    if reader is None:
        raise ConfigError(f"unknown format {fmt!r} (known: auto, {', '.join(FORMATS)})")
    first_char(path)    # a missing file or a directory fails here, before the first record
    return reader(path, branches=branches)
