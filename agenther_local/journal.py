"""Append-only JSONL journal in OUTDIR: one line per processed input record.

The first line is a header {"format": "agenther-local journal", "version": 1, ...}. Every
later line is one record's full result (status, stage, reason, the detector's, extractor's,
relabeler's and jury's decisions with probabilities and raw model text), appended and
fsynced as soon as the record is decided. Outputs are rebuilt from it, so a run can be
resumed, audited and re-scored without calling a model.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from .errors import AgentherError

FORMAT = "agenther-local journal"
VERSION = 1


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._f = None

    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def header(self) -> dict[str, Any]:
        """The header line ({} for no journal yet); a bad one raises as reading does."""
        if not self.exists():
            return {}
        next(self._lines(), None)          # checks format and version
        with open(self.path, "rb") as f:
            return json.loads(f.readline().decode("utf-8", errors="replace"))

    def read(self) -> Iterator[dict[str, Any]]:
        """Entries after the header. A torn last line (killed mid-write) is ignored."""
        for _, line in self._lines():
            yield json.loads(line)

    def read_in_order(self, order: dict[str, int]) -> Iterator[dict[str, Any]]:
        """The first entry of each key in `order`, sorted by its position there.

        Entries of keys not in `order` (records an earlier run had that this input no longer
        has) are skipped. Only one file offset per entry is held in memory; when the journal is
        already in order (the local engine) it is streamed in one pass.
        """
        first: dict[str, int] = {}
        in_order, last = True, -1
        for offset, line in self._lines():
            key = json.loads(line)["key"]
            if key in order and key not in first:
                first[key] = offset
                in_order, last = in_order and order[key] > last, order[key]
        if in_order:
            for offset, line in self._lines():
                e = json.loads(line)
                if first.get(e["key"]) == offset:
                    yield e
            return
        with open(self.path, "rb") as f:
            for key in sorted(first, key=order.__getitem__):
                f.seek(first[key])
                yield json.loads(f.readline().decode("utf-8"))

    def _lines(self) -> Iterator[tuple[int, str]]:
        """(byte offset, line) of every complete entry after the header."""
        if not self.exists():
            return
        with open(self.path, "rb") as f:
            header = f.readline().decode("utf-8", errors="replace")
            try:
                h = json.loads(header)
            except json.JSONDecodeError:
                raise AgentherError(f"{self.path}:1: not an agenther-local journal (bad header)") from None
            if h.get("format") != FORMAT or h.get("version") != VERSION:
                raise AgentherError(f"{self.path}:1: journal format {h.get('format')!r} v{h.get('version')} "
                                    f"is not {FORMAT!r} v{VERSION}; use another OUTDIR")
            offset = f.tell()
            for raw in f:
                if not raw.endswith(b"\n"):
                    break       # torn write from a kill: the record will be processed again
                yield offset, raw.decode("utf-8")
                offset += len(raw)

    def truncate_torn_tail(self) -> None:
        """Drop a partial last line so appends start on a fresh line."""
        if not self.exists():
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            f.truncate(cut)

    def open(self, header: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.exists()
        if not new:
            self.truncate_torn_tail()
        self._f = open(self.path, "a", encoding="utf-8")
        if new:
            self._write({"format": FORMAT, "version": VERSION, **header})

    def _write(self, obj: dict[str, Any]) -> None:
        assert self._f is not None
        self._f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def append(self, entry: dict[str, Any]) -> None:
        self._write(entry)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
