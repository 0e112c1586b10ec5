"""On-disk cache of model calls (SQLite), wrapping any Judge.

Key: model sha256 + template sha256 + call kind + sampling parameters + the rendered prompt.
A re-run with another θ, δ, gate threshold or output format asks no model again for the
judgments it already made. One table, one row per call; the value is the JSON of the result.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ..prompts import Rendered
from .base import Generation, Judge, Score

SCHEMA_VERSION = 1


class CallCache:
    def __init__(self, path: Path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (key, json.dumps(value)))

    def close(self) -> None:
        self._db.close()


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class CachedJudge:
    """The same Judge protocol; answers from the cache when it can."""

    def __init__(self, judge: Judge, cache: CallCache):
        self.inner = judge
        self.cache = cache

    def __getattr__(self, name: str) -> Any:   # id, sha256, n_ctx, stats, manifest
        return getattr(self.inner, name)

    def count_tokens(self, prompt: Rendered) -> int:
        key = _key("count", self.inner.sha256, prompt.template_sha256, prompt.system, prompt.user, prompt.answer_prefix)
        hit = self.cache.get(key)
        if hit is not None:
            return int(hit["n"])
        n = self.inner.count_tokens(prompt)
        self.cache.put(key, {"n": n})
        return n

    def p_yes(self, prompt: Rendered) -> Score:
        key = _key("p_yes", self.inner.sha256, prompt.template_sha256, prompt.system, prompt.user, prompt.answer_prefix)
        hit = self.cache.get(key)
        if hit is not None:
            self.inner.stats.cache_hits += 1
            return dataclasses.replace(Score(**hit), cached=True, seconds=0.0)
        s = self.inner.p_yes(prompt)
        self.cache.put(key, dataclasses.asdict(s))
        return s

    def generate_json(self, prompt: Rendered, schema: dict[str, Any], temperature: float,
                      seed: int, max_tokens: int) -> Generation:
        key = _key("gen", self.inner.sha256, prompt.template_sha256, prompt.system, prompt.user,
                   prompt.answer_prefix, schema, temperature, seed, max_tokens)
        hit = self.cache.get(key)
        if hit is not None:
            self.inner.stats.cache_hits += 1
            return dataclasses.replace(Generation(**hit), cached=True, seconds=0.0)
        g = self.inner.generate_json(prompt, schema, temperature, seed, max_tokens)
        self.cache.put(key, dataclasses.asdict(g))
        return g
