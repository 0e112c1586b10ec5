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

    def read(self) -> Iterator[dict[str, Any]]:
        """Entries after the header. A torn last line (killed mid-write) is ignored."""
        if not self.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            header = f.readline()
            try:
                h = json.loads(header)
            except json.JSONDecodeError:
                raise AgentherError(f"{self.path}:1: not an agenther-local journal (bad header)") from None
            if h.get("format") != FORMAT or h.get("version") != VERSION:
                raise AgentherError(f"{self.path}:1: journal format {h.get('format')!r} v{h.get('version')} "
                                    f"is not {FORMAT!r} v{VERSION}; use another OUTDIR")
            for line in f:
                if not line.endswith("\n"):
                    break       # torn write from a kill: the record will be processed again
                yield json.loads(line)

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
