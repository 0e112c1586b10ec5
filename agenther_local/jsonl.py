"""Read native records with their line numbers; write JSONL atomically.

`read_records(path)` streams a JSONL file (or parses a JSON list) and yields, per record,
either a Trajectory or a RecordError located at "file:line". It never raises for a bad record,
only for a file that cannot be read at all (InputFileError).
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .errors import InputFileError, RecordError
from .trajectory import Trajectory


@dataclass(frozen=True)
class Item:
    """One record read from a file: exactly one of `value` and `error` is set."""
    where: str                      # "file:line"
    value: Any = None               # the parsed JSON value (raw record)
    error: RecordError | None = None


def check_input_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, expected a JSONL or JSON file")


def iter_json_values(path: Path) -> Iterator[Item]:
    """Yield each JSON value of a JSONL file or of a top-level JSON list, with its line.

    A top-level JSON object that is not a list is yielded as a single value.
    """
    check_input_file(path)
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    doc = _document(path) if head[:1] in (b"[", b"{") else None
    if doc is not None:
        yield from _iter_document(path, *doc)
        return
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield Item(where, error=RecordError("record", f"not UTF-8 (byte {e.start})", where))
                continue
            try:
                yield Item(where, value=json.loads(text))
            except json.JSONDecodeError as e:
                yield Item(where, error=RecordError("record", f"malformed JSON: {e.msg} (column {e.colno})", where))


_BROKEN = object()


def _document(path: Path) -> tuple[bytes, Any] | None:
    """(raw bytes, parsed value) when a file starting with '[' or '{' is one JSON document
    (a list, or one object); None when it is JSONL.

    One document when the whole file parses. When it does not: JSONL if its first non-blank
    line, or any line, is a whole JSON object by itself (so one broken line never takes the
    good records after it down with it); otherwise a broken document (value `_BROKEN`),
    reported once. The file is read and parsed once; the caller reuses both.
    """
    with open(path, "rb") as f:
        first = next((line for line in f if line.strip()), b"")
    try:
        if first.lstrip()[:1] == b"{" and isinstance(json.loads(first), dict):
            return None        # the common JSONL case, decided without reading the whole file
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    raw = path.read_bytes()
    try:
        return raw, json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    for line in raw.splitlines():
        try:
            if isinstance(json.loads(line), dict):
                return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
    return raw, _BROKEN


def decode_utf8(raw: bytes, path: Path, what: str) -> tuple[str | None, RecordError | None]:
    """(text, None), or (None, an error located at the line of the first bad byte)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        where = f"{path}:{line}"
        return None, RecordError("record", f"not UTF-8 (byte {e.start}); {what} is unreadable", where)


def _iter_document(path: Path, raw: bytes, doc: Any) -> Iterator[Item]:
    text, err = decode_utf8(raw, path, "the whole JSON document")
    if err is not None:
        yield Item(err.where, error=err)
        return
    if doc is _BROKEN:
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            where = f"{path}:{e.lineno}"
            yield Item(where, error=RecordError("record", f"malformed JSON: {e.msg} (column {e.colno}); the whole JSON document is unreadable", where))
        return
    if not isinstance(doc, list):
        yield Item(f"{path}:1", value=doc)
        return
    # Line numbers of the list's elements: re-scan with raw_decode (the document parsed once
    # already, so this cannot fail).
    dec = json.JSONDecoder()
    pos = text.index("[") + 1
    line = text.count("\n", 0, pos) + 1
    prev = pos
    for _ in doc:
        while text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", prev, pos)
        prev = pos
        line_at = line
        value, end = dec.raw_decode(text, pos)
        yield Item(f"{path}:{line_at}", value=value)
        pos = end


def read_records(paths: Iterable[Path]) -> Iterator[tuple[str, Trajectory | RecordError]]:
    """Native records from files: ("file:line", Trajectory) or ("file:line", RecordError)."""
    for path in paths:
        for item in iter_json_values(Path(path)):
            if item.error is not None:
                yield item.where, item.error
                continue
            try:
                yield item.where, Trajectory.from_dict(item.value)
            except RecordError as e:
                yield item.where, e.at(item.where)


def file_mode() -> int:
    """The mode `open(path, "w")` would give a new file: 0o666 minus the umask (0644 under 022).

    `tempfile.mkstemp` creates its file 0600 whatever the umask; an output renamed from it
    stays unreadable to anyone else (LLaMA-Factory run by another user: Permission denied).
    """
    umask = os.umask(0)
    os.umask(umask)        # subtle: the only portable way to read the umask is to set it
    return 0o666 & ~umask


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at `path` whole or not at all (temp file, fsync, rename),
    with the mode a plain `open` would give it (see `file_mode`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows to `path` through a temp file + rename, so a reader never sees half a file."""
    n = 0
    with atomic_writer(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_json_atomic(path: Path, obj: Any) -> None:
    with atomic_writer(path) as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_writer(path) as f:
        f.write(text)
