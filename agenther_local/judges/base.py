"""The Judge protocol: two questions a stage may ask a model.

- `p_yes(prompt)`: the probability mass the model puts on "yes" versus "no" as its next
  token, normalised: P(yes) / (P(yes) + P(no)). This is the only confidence we use: small
  models write "confidence: 1.0" for everything (SPEC), their next-token distribution does not.
- `generate_json(prompt, schema, temperature, seed, max_tokens)`: text constrained by a JSON
  schema, stopped early when it degenerates into repetition; `finish` says how it ended
  (judges/generation.py derives `max_tokens` from the schema so that it is never cut).

Backends: `judges/llama.py` (in-process llama.cpp) and `judges/http.py` (an OpenAI-compatible
server). `judges/cache.py` wraps any judge with the on-disk cache.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..prompts import Rendered


@dataclass(frozen=True)
class Score:
    p_yes: float            # P(yes) / (P(yes) + P(no)) of the next token
    mass: float             # P(yes) + P(no): how much of the distribution the two answers hold
    top_token: str          # the most likely next token, for the journal
    prompt_tokens: int
    reused_tokens: int = 0  # prompt tokens whose KV state was reused from the previous call
    cached: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class Generation:
    text: str
    data: dict[str, Any] | None     # parsed JSON, None when it did not parse
    error: str | None               # why `data` is None
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False
    seconds: float = 0.0
    # "stop": the JSON closed; "length": cut at the token budget; "repetition": stopped early as
    # degenerate (judges/generation.py). Only "stop" can carry data.
    finish: str = "stop"


@dataclass
class JudgeStats:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, prompt_tokens: int, completion_tokens: int, reused: int, seconds: float) -> None:
        self.calls += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.reused_tokens += reused
        self.seconds += seconds
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


class Judge(Protocol):
    id: str                  # manifest name, e.g. "smollm2-135m"
    sha256: str              # of the weights; part of every cache key
    n_ctx: int
    stats: JudgeStats

    def count_tokens(self, prompt: Rendered) -> int: ...

    def p_yes(self, prompt: Rendered) -> Score: ...

    def generate_json(self, prompt: Rendered, schema: dict[str, Any], temperature: float,
                      seed: int, max_tokens: int) -> Generation: ...


def parse_json_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse model output as one JSON object; (data, None) or (None, reason).

    >>> parse_json_object('{"goal": "x"}')
    ({'goal': 'x'}, None)
    >>> parse_json_object('{"goal": ')[1]
    'not valid JSON: Expecting value at char 9 (output cut at the token limit?)'
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"not valid JSON: {e.msg} at char {e.pos} (output cut at the token limit?)"
    if not isinstance(data, dict):
        return None, f"expected a JSON object, got {type(data).__name__}"
    return data, None


def is_yes_token(piece: str) -> bool | None:
    """True for a token spelling yes, False for no, None otherwise (case, leading space, ▁, Ġ).

    >>> [is_yes_token(t) for t in (" Yes", "YES", "▁no", "Ġyes", "Nope", "yes.")]
    [True, True, False, True, None, None]
    """
    s = piece.replace("▁", " ").replace("Ġ", " ").strip().lower()
    if s == "yes":
        return True
    if s == "no":
        return False
    return None
