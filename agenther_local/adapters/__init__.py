"""Adapters: one module per foreign format, each turning its records into `Trajectory`.

    read(path, fmt="auto", branches=False, labels=None) -> iterator of (where, Trajectory | RecordError)

`where` locates the record in its file ("runs.jsonl:17", "runs.json:#12"). A record that
cannot be read comes back as a RecordError located there, never as an exception, and is
never skipped. A whole file that cannot be read (missing, not a known format) raises
InputFileError. `detect_format` looks at the content, never at the file name. An input may
also be a directory holding runs of a folder format (OpenHands conversations, browser-use task
folders, AgentLab experiment folders: `_FOLDERS`), or any folder above them; a labels file or a SWE-bench
predictions file given as an input is named for what it is.

Every Trajectory carries `metadata["source_format"]` and `metadata["source"]`. A format
without a success label gives unlabeled records (success and reward None), never failures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import ConfigError, InputFileError, RecordError
from ..jsonl import check_input_file, iter_json_values
from . import (agentlab, agenther, browser_use, fireact, inspect_ai, mini_swe_agent, native, openai,
               openhands, react, sharegpt, swe_agent, tau2, toolbench)
from .common import Located, first_char
from .labels import Labels, is_labels_file

# The registry: one entry per format, in the order `auto` tries them. Order matters: the
# most specific shapes first (a FireAct run also has "traj", like tau-bench; FireAct's and
# mini-swe-agent's chats are OpenAI messages too; a ShareGPT record may call its list
# "messages", like OpenAI). Every list of names (`--from` choices) comes from here.
_REGISTRY = (swe_agent, mini_swe_agent, openhands, browser_use, tau2, inspect_ai, toolbench, agenther,
             fireact, react, sharegpt, openai, agentlab, native)
# Formats whose input is a folder (or a folder above many): (module, "is there a run at or below?").
_FOLDERS = ((openhands, openhands.is_conversation_dir), (browser_use, browser_use.is_task_dir),
            (agentlab, agentlab.is_experiment_dir))
_MODULES = {m.FORMAT: m for m in _REGISTRY}
FORMATS = tuple(sorted(_MODULES, key=lambda name: (name != "native", name)))
# What `convert --to` writes: a trajectory -> one JSONL row.
WRITERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "native": lambda traj: traj.to_dict(), "agenther": agenther.to_agenther}
_PEEK_RECORDS = 20     # JSONL lines to try before giving up on malformed ones


def _folder_format(path: Path) -> str | None:
    """The format of the runs a directory holds (the first folder format with a run below it)."""
    for module, holds in _FOLDERS:
        if holds(path):
            return module.FORMAT
    return None


def check_input(path: Path) -> None:
    """A file, or a directory that holds runs of a folder format; InputFileError otherwise."""
    if path.is_dir() and _folder_format(path) is not None:
        return
    check_input_file(path)


def detect_format(path: Path | str) -> str:
    """The format of a file, from its content. Raises InputFileError when it cannot tell."""
    path = Path(path)
    if path.is_dir():
        fmt = _folder_format(path)
        if fmt is not None:
            return fmt
        check_input_file(path)          # says "is a directory"
    first = first_char(path)
    if first == "":
        raise InputFileError(f"{path}: empty file, nothing to convert")
    if first == "P" and inspect_ai.is_zip_log(path):
        return inspect_ai.FORMAT
    if first not in ("[", "{"):
        with open(path, "rb") as f:
            head = f.read(64 * 1024).decode("utf-8", errors="replace")
        if react.is_text_log(head):
            return react.FORMAT
        raise InputFileError(f"{path}: cannot tell the format (not JSON, and no "
                             f"Thought/Action/Observation lines); pass --from")
    value, problem = _first_value(path)
    if value is None:
        raise InputFileError(f"{path}: cannot tell the format ({problem}); pass --from")
    for module in _REGISTRY:
        if module.is_record(value):
            return module.FORMAT
    kind = is_labels_file(value)
    if kind is not None:
        raise InputFileError(f"{path}: a {kind} (success labels, no runs); pass it with "
                             f"--labels to label the runs it names")
    if isinstance(value, dict) and {"instance_id", "model_patch"} <= set(value):
        raise InputFileError(f"{path}: SWE-bench predictions (a patch per instance, no steps): "
                             f"nothing to relabel; convert the run's .traj files instead")
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


def read(path: Path | str, fmt: str = "auto", branches: bool = False,
         labels: Labels | None = None) -> Iterator[Located]:
    """(where, Trajectory | RecordError) for every record of one file (or conversation folder).

    `fmt` is one of FORMATS or "auto"; `branches` (ToolBench only) adds every abandoned
    branch of the DFSDT search tree as its own failed trajectory; `labels` (from
    `labels.load_labels`) puts a separate file's verdicts on the runs it names.
    """
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    reader: Callable[..., Iterator[Located]] | None = getattr(_MODULES.get(fmt), "read", None)
    if reader is None:
        raise ConfigError(f"unknown format {fmt!r} (known: auto, {', '.join(FORMATS)})")
    if not (path.is_dir() and fmt in {m.FORMAT for m, _ in _FOLDERS}):
        first_char(path)    # a missing file or a directory fails here, before the first record
    got = reader(path, branches=branches)
    return got if labels is None else _labelled(got, labels)


def _labelled(results: Iterator[Located], labels: Labels) -> Iterator[Located]:
    for where, got in results:
        yield where, (got if isinstance(got, RecordError) else labels.apply(got))
