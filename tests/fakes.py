"""Test doubles for the two things a stage asks a model: a Judge and an Embedder.

- `ScriptedJudge` implements the Judge protocol (judges/base.py). A test queues answers per
  template name (`enqueue_json("relabel", {...})`, `enqueue_p_yes("verify", 0.9)`); the judge
  records every prompt it receives (`history`, plus `calls` with the sampling parameters) and
  raises AssertionError, naming the template, when asked for more than was scripted. This is
  llm's `MockModel.enqueue()`, made loud: a test can never pass on an answer nobody wrote.
- `FakeEmbedder` embeds a bag of words hashed into a fixed-size vector and unit-normalised:
  the same text has cosine 1, texts with no word in common have cosine ~0. Deterministic
  across processes (crc32, not Python's salted `hash`).
"""
from __future__ import annotations

import json
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from agenther_local.judges.base import Generation, JudgeStats, Score, parse_json_object
from agenther_local.judges.generation import FINISHES, finish_error, repetition
from agenther_local.prompts import Rendered


@dataclass
class Call:
    kind: str                   # "p_yes" | "generate_json"
    name: str                   # the template name of the prompt
    prompt: Rendered
    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None


@dataclass
class ScriptedJudge:
    id: str = "scripted"
    sha256: str = "0" * 64
    n_ctx: int = 1_000_000       # large: `fit` never has to shorten a run for a fake
    stats: JudgeStats = field(default_factory=JudgeStats)
    history: list[Rendered] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queues: dict[tuple[str, str], deque] = {}

    # ------------------------------------------------------------------ scripting
    def enqueue_p_yes(self, name: str, *p_yes: float, mass: float = 1.0) -> "ScriptedJudge":
        """Queue one or more P(yes) answers for template `name`."""
        for p in p_yes:
            assert 0.0 <= p <= 1.0, f"P(yes) must be in [0, 1], got {p}"
            self._queue("p_yes", name).append(("score", p, mass))
        return self

    def enqueue_json(self, name: str, *data: dict[str, Any]) -> "ScriptedJudge":
        """Queue one or more JSON objects as generations for template `name`."""
        for d in data:
            self._queue("generate_json", name).append(("text", json.dumps(d), "stop"))
        return self

    def enqueue_text(self, name: str, *texts: str, finish: str = "stop") -> "ScriptedJudge":
        """Queue raw generated text (parsed like the real backend: bad JSON -> data None).

        `finish="length"` scripts a draft cut at the token budget, `finish="repetition"` one
        the backend stopped as degenerate (judges/generation.py); either carries no data."""
        assert finish in FINISHES, f"finish must be one of {FINISHES}, got {finish!r}"
        for t in texts:
            self._queue("generate_json", name).append(("text", t, finish))
        return self

    def remaining(self) -> dict[str, int]:
        """Scripted answers not yet asked for: {"p_yes:verify": 1, ...} (empty when all used)."""
        return {f"{k}:{n}": len(q) for (k, n), q in self._queues.items() if q}

    def asked(self, name: str | None = None, kind: str | None = None) -> list[Call]:
        return [c for c in self.calls if (name is None or c.name == name) and (kind is None or c.kind == kind)]

    def _queue(self, kind: str, name: str) -> deque:
        return self._queues.setdefault((kind, name), deque())

    def _next(self, kind: str, prompt: Rendered) -> tuple:
        q = self._queues.get((kind, prompt.name))
        if not q:
            done = sum(1 for c in self.calls if c.kind == kind and c.name == prompt.name)
            raise AssertionError(
                f"ScriptedJudge {self.id!r}: unscripted {kind} call for template {prompt.name!r} "
                f"(answered {done} before; still scripted: {self.remaining() or 'nothing'})")
        return q.popleft()

    # ------------------------------------------------------------------ the Judge protocol
    def count_tokens(self, prompt: Rendered) -> int:
        return len(prompt.system + prompt.user + prompt.answer_prefix) // 4

    def p_yes(self, prompt: Rendered) -> Score:
        _, p, mass = self._next("p_yes", prompt)
        self.history.append(prompt)
        self.calls.append(Call("p_yes", prompt.name, prompt))
        n = self.count_tokens(prompt)
        self.stats.add("p_yes", n, 0, 0, 0.0)
        return Score(p_yes=p, mass=mass, top_token="Yes" if p >= 0.5 else "No", prompt_tokens=n)

    def generate_json(self, prompt: Rendered, schema: dict[str, Any], temperature: float,
                      seed: int, max_tokens: int) -> Generation:
        _, text, finish = self._next("generate_json", prompt)
        self.history.append(prompt)
        self.calls.append(Call("generate_json", prompt.name, prompt, temperature, seed, max_tokens))
        data, err = parse_json_object(text)
        if finish != "stop":
            data, err = None, finish_error(finish, max_tokens, repetition(text) or "scripted loop")
        n = self.count_tokens(prompt)
        self.stats.add("generate_json", n, len(text) // 4, 0, 0.0)
        return Generation(text=text, data=data, error=err, prompt_tokens=n, completion_tokens=len(text) // 4,
                          finish=finish)


_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Hashed bag of words, unit-normalised.

    >>> e = FakeEmbedder()
    >>> v = e.embed(["copper wire", "copper wire", "weather forecast"])
    >>> round(float(v[0] @ v[1]), 3), round(float(v[0] @ v[2]), 3)
    (1.0, 0.0)
    """

    def __init__(self, dim: int = 4096):
        self.id = f"fake-bow-{dim}"
        self.dim = dim
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for w in _WORD.findall(text.lower()):
                out[row, zlib.crc32(w.encode()) % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out


def demo_record(record_id: str):
    """One run of examples/demo.jsonl, by id, as a Trajectory."""
    from pathlib import Path
    from agenther_local.trajectory import Trajectory
    for line in (Path(__file__).resolve().parents[1] / "examples" / "demo.jsonl").read_text().splitlines():
        d = json.loads(line)
        if d["id"] == record_id:
            return Trajectory.from_dict(d)
    raise KeyError(record_id)
