"""What every adapter shares: where a record is, field access that names the bad field, tool
arguments and tool output as `Step` wants them, and the one call to `Trajectory.from_dict`.

An adapter turns one foreign record into a *native dict* and hands it to `located()`, which
adds `metadata["source_format"]` and `metadata["source"]`, validates it, and returns either a
Trajectory or a RecordError located at the record ("runs.json:#12"). Structural problems
in the foreign record are raised as RecordError by `need()` and end up there too, so one bad
record never stops a file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import RecordError
from ..jsonl import check_input_file, iter_json_values
from ..trajectory import Trajectory, _kind

Located = tuple[str, Trajectory | RecordError]     # (where, what was read there)

_EXPECTED = {str: "a string", list: "a list", dict: "an object", bool: "true or false",
             int: "a number", float: "a number"}


@dataclass(frozen=True)
class Raw:
    """One record of a JSON or JSONL file, before conversion.

    `key` is how the record is addressed inside its file: "" for a file that is one JSON
    object, "#3" for element 3 of a top-level JSON list, ":17" for line 17 of a JSONL file.
    `where` is the file name followed by that address ("runs.json:#3"; "file:1" for "").
    """
    where: str
    key: str
    value: Any = None
    error: RecordError | None = None


def json_records(path: Path) -> Iterator[Raw]:
    """The records of a JSONL file, of a top-level JSON list, or the one object of a JSON file.

    Elements of a list are addressed by index ("file:#0"), not by line: a JSON list is often
    written on one line (tau-bench's is), and "file:1" for every record would locate nothing.
    """
    path = Path(path)
    first = first_char(path)
    for i, item in enumerate(iter_json_values(path)):
        if item.error is not None:
            yield Raw(item.where, "", error=item.error)
        elif first == "[":
            yield Raw(f"{path}:#{i}", f"#{i}", value=item.value)
        elif first == "{" and item.where == f"{path}:1" and i == 0 and _is_document(path):
            yield Raw(item.where, "", value=item.value)
        else:
            yield Raw(item.where, item.where[len(str(path)):], value=item.value)


def first_char(path: Path) -> str:
    """The first non-blank character of a file ('' for an empty file)."""
    check_input_file(path)
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return head[:1].decode("ascii", errors="replace")


def _is_document(path: Path) -> bool:
    # subtle: iter_json_values says "file:1" both for line 1 of a JSONL file and for a file
    # that is one JSON object; a one-object file has one non-blank line, or a first line
    # that is not a whole JSON value (pretty-printed).
    lines: list[bytes] = []
    with open(path, "rb") as f:
        for ln in f:
            if ln.strip():
                lines.append(ln)
            if len(lines) == 2:
                break
    if len(lines) < 2:
        return True
    try:
        json.loads(lines[0])
        return False
    except (json.JSONDecodeError, UnicodeDecodeError):
        return True


def record_id(path: Path, key: str) -> str:
    """A default id from the file name and the record's address.

    >>> record_id(Path("runs/a.json"), "#3"), record_id(Path("b.traj"), "")
    ('a#3', 'b')
    """
    return Path(path).stem + key


def need(obj: Any, key: str | int, kind: type | tuple[type, ...], path: str = "",
         optional: bool = False) -> Any:
    """obj[key], checked against `kind`; a RecordError names the field as 'traj[3].content'.

    >>> need({"a": [1]}, "a", list)
    [1]
    >>> need({"a": 1}, "a", str, "info")
    Traceback (most recent call last):
    agenther_local.errors.RecordError: info.a: expected a string, got a number
    """
    name = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
    if isinstance(key, int):
        value = obj[key] if isinstance(obj, list) and -len(obj) <= key < len(obj) else None
    else:
        value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        if optional:
            return None
        raise RecordError(name, "missing")
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a JSON true is never a number here
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(dict.fromkeys(_EXPECTED.get(k, k.__name__) for k in kinds))
        raise RecordError(name, f"expected {expected}, got {_kind(value)}")
    return value


def need_object(value: Any, name: str = "record") -> dict:
    if not isinstance(value, dict):
        raise RecordError(name, f"expected a JSON object, got {_kind(value)}")
    return value


def arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as the `action_input` dict.

    >>> arguments('{"q": "x"}'), arguments('"x"'), arguments(""), arguments({"a": 1})
    ({'q': 'x'}, {'arguments': '"x"'}, {}, {'a': 1})
    """
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        return {"arguments": raw}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return {"arguments": raw}
    return parsed if isinstance(parsed, dict) else {"arguments": raw}


def as_text(content: Any) -> str:
    """Message content or tool output as a string: text parts joined, anything else JSON.

    >>> as_text(None), as_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    ('', 'ab')
    >>> as_text({"ok": True})
    '{"ok": true}'
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(
            isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    return json.dumps(content, ensure_ascii=False)


def read_each(path: Path, fmt: str, to_native: Callable[[Any, str], dict[str, Any]]) -> Iterator[Located]:
    """The `read` of a format whose file holds one JSON record per line/element/document:
    each record through `to_native(record, default_id)`, bad ones as located RecordErrors."""
    for raw in json_records(path):
        if raw.error is not None:
            yield raw.where, raw.error
            continue
        yield located(raw.where, fmt, lambda: to_native(raw.value, record_id(path, raw.key)))


NO_TOOL_STEP = ("empty: the agent gave its final answer without a tool step, so there is "
                "nothing to relabel")


def is_stepless(error: RecordError) -> bool:
    """Was the record refused only because the run took no tool step?"""
    return error.field == "steps" and error.problem == NO_TOOL_STEP


def located(where: str, fmt: str, make: Callable[[], dict[str, Any]]) -> Located:
    """Run one conversion: (where, Trajectory) or (where, RecordError located at `where`)."""
    try:
        native = make()
        native["metadata"] = _provenance(native.get("metadata") or {}, fmt, where)
        if not native.get("steps") and native.get("final_answer"):
            raise RecordError("steps", NO_TOOL_STEP)
        return where, Trajectory.from_dict(native)
    except RecordError as e:
        return where, e.at(where)


def _provenance(meta: dict[str, Any], fmt: str, where: str) -> dict[str, Any]:
    """Set source_format and source; a record's own values survive as original_*."""
    out = dict(meta)
    for key, value in (("source_format", fmt), ("source", where)):
        if key in out and out[key] != value:
            out[f"original_{key}"] = out[key]
        out[key] = value
    return out


def label(success: Any = None, reward: Any = None) -> dict[str, Any]:
    """The benchmark's own label as native fields; anything else means unlabeled.

    >>> label(True), label(reward=0.0), label("yes")
    ({'success': True}, {'reward': 0.0}, {})
    """
    out: dict[str, Any] = {}
    if isinstance(success, bool):
        out["success"] = success
    if isinstance(reward, (int, float)) and not isinstance(reward, bool):
        out["reward"] = float(reward)
    return out
