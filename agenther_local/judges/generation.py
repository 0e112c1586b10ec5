"""Constrained-JSON generation that is never cut mid-JSON: a token budget from the schema's
bounds, and an early stop on degenerate repetition.

- `json_bound(schema)`: the most characters a JSON value valid under `schema` can take as
  llama.cpp's grammar writes it (llama-cpp-python's converter allows one optional space after
  each separator, bounds every integer to 16 digits and every string by its `maxLength`). One
  token writes at least one character, so a budget of that many tokens cannot cut a draft of
  plain text. (An escape such as `\\u00e9`, or a character outside ASCII split into byte tokens,
  can take more tokens than characters: such a draft still stops at the budget, and is then
  reported as cut, never passed on as a silent parse error.)
- `fit_budget(schema, max_tokens)`: the schema and the budget to ask for. No `max_tokens`: the
  bound. A `max_tokens` below the bound (a user's config) shrinks the schema's string bounds
  until the bound fits, so the budget still cannot cut (the other way round: bounds from the
  budget).
- `repetition(text, cfg)`: a small writer can loop ("facts that are not only facts but also
  facts ..." until the cap). The judge checks the draft after every token and stops it at the
  first sign; the stage then journals it as `degenerate` and draws again.

A Generation's `finish` says which of the three happened: "stop" (the JSON closed), "length"
(cut at the budget) or "repetition" (stopped as degenerate).
"""
from __future__ import annotations

import copy
import json
import re
from collections import Counter
from typing import Any

from ..config import RuntimeConfig
from ..errors import ConfigError

FINISHES = ("stop", "length", "repetition")

# llama-cpp-python's JSON grammar (llama_grammar.py): integral-part is up to 16 digits, with a sign.
MAX_INTEGER_CHARS = 17
# A number may add a fraction and an exponent of up to 16 digits each.
MAX_NUMBER_CHARS = MAX_INTEGER_CHARS + 17 + 19


class UnboundedSchema(ValueError):
    """A schema part whose length has no bound (a string without maxLength, ...)."""


def json_bound(schema: dict[str, Any], where: str = "$") -> int:
    """The most characters of a JSON value valid under `schema`, with its trailing space.

    >>> json_bound({"type": "string", "maxLength": 10})        # '"' + 10 + '"' + ' '
    13
    >>> json_bound({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})
    16
    >>> json_bound({"type": "array", "items": {"type": "integer"}, "maxItems": 2})
    42
    """
    if "enum" in schema:
        return max(len(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]) + 1
    if "const" in schema:
        return len(json.dumps(schema["const"], ensure_ascii=False)) + 1
    t = schema.get("type")
    if t == "string":
        if "maxLength" not in schema:
            raise UnboundedSchema(f"{where}: a string without maxLength has no length bound")
        return int(schema["maxLength"]) + 3
    if t == "integer":
        return MAX_INTEGER_CHARS + 1
    if t == "number":
        return MAX_NUMBER_CHARS + 1
    if t == "boolean":
        return len("false") + 1
    if t == "null":
        return len("null") + 1
    if t == "array":
        if "maxItems" not in schema:
            raise UnboundedSchema(f"{where}: an array without maxItems has no length bound")
        n = int(schema["maxItems"])
        item = json_bound(schema.get("items", {}), where + "[]")
        return 2 + n * item + max(0, n - 1) * 2 + 2            # '[ ' items ', ' separators '] '
    if t == "object":
        props = schema.get("properties", {})
        if not props or schema.get("additionalProperties", False) not in (False, None):
            raise UnboundedSchema(f"{where}: an object with free-form properties has no length bound")
        members = [len(json.dumps(k, ensure_ascii=False)) + 2 + json_bound(v, f"{where}.{k}") for k, v in props.items()]
        return 2 + sum(members) + max(0, len(members) - 1) * 2 + 2   # '{ ' "k": v ', ' '} '
    raise UnboundedSchema(f"{where}: type {t!r} has no length bound this module knows")


def _scale_strings(schema: dict[str, Any], factor: float) -> dict[str, Any]:
    out = copy.deepcopy(schema)

    def walk(s: dict[str, Any]) -> None:
        if s.get("type") == "string" and "maxLength" in s and "enum" not in s:
            s["maxLength"] = max(1, int(s["maxLength"] * factor))
        for v in s.get("properties", {}).values():
            walk(v)
        if isinstance(s.get("items"), dict):
            walk(s["items"])
    walk(out)
    return out


def fit_budget(schema: dict[str, Any], max_tokens: int | None = None,
               where: str = "max_tokens") -> tuple[dict[str, Any], int]:
    """(schema, token budget) such that no draft of plain text valid under the schema is cut.

    >>> s = {"type": "object", "properties": {"g": {"type": "string", "maxLength": 100}}, "required": ["g"]}
    >>> fit_budget(s)[1]
    112
    >>> small, budget = fit_budget(s, 60)
    >>> small["properties"]["g"]["maxLength"], budget, json_bound(small) <= 60
    (48, 60, True)
    """
    bound = json_bound(schema)
    if max_tokens is None or bound <= max_tokens:
        return schema, bound if max_tokens is None else max_tokens
    lo, hi = 0.0, 1.0            # shrink every string bound by the same factor until it fits
    for _ in range(30):
        mid = (lo + hi) / 2
        if json_bound(_scale_strings(schema, mid)) <= max_tokens:
            lo = mid
        else:
            hi = mid
    shrunk = _scale_strings(schema, lo)
    if json_bound(shrunk) > max_tokens:
        floor = json_bound(_scale_strings(schema, 0.0))
        raise ConfigError(f"{where} = {max_tokens}: too small for the JSON asked for, which needs {floor}+ tokens "
                          f"with empty strings; raise it, or leave it out to use the schema's bound of {bound}")
    return shrunk, max_tokens


_KEY = re.compile(r'"(?:[^"\\]|\\.)*"\s*:')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)("?)')
_WORD = re.compile(r"\w+")
_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,4}|.)")


def repetition(text: str, rt: RuntimeConfig | None = None) -> str | None:
    """Why a (partial) JSON draft is degenerate, or None. Three signs, each bounded by config:
    a word n-gram repeated inside one string, the same string value written again and again,
    and a short unit looping at the end of the draft (digits, punctuation).

    >>> repetition('{"goal": "' + 'facts that are not only facts but also ' * 3)
    "the words 'facts that are not' repeat 3 times in one string"
    >>> repetition('{"goal": "Find flights from BOS to DEN", "constraints": [{"part": "flights from BOS to DEN"')
    >>> repetition('{"facts": [1111111111111111')
    "'1' repeats 16 times at the end"
    """
    rt = rt or RuntimeConfig()
    body = _KEY.sub(":", text)
    values = []
    for m in _STRING.finditer(body):
        words = [w.lower() for w in _WORD.findall(_ESCAPE.sub(" ", m.group(1)))]   # "\r\n" is no word
        grams = Counter(tuple(words[i:i + rt.repeat_ngram]) for i in range(len(words) - rt.repeat_ngram + 1))
        if grams:
            gram, n = grams.most_common(1)[0]
            if n >= rt.repeat_limit:
                return f"the words {' '.join(gram)!r} repeat {n} times in one string"
        if m.group(2) and words:            # a closed string value
            values.append(" ".join(words))
    if values:
        value, n = Counter(values).most_common(1)[0]
        if n >= rt.repeat_values:
            return f"the value {value[:60]!r} is written {n} times"
    # subtle: only the end of the draft can be looping now; an earlier run of it would have
    # stopped the draft then. Searching the last 256 characters keeps the check per token cheap.
    tail = re.search(r"(.{1,%d}?)\1{%d,}$" % (rt.repeat_unit_chars, rt.repeat_tail - 1), text[-256:], re.S)
    if tail and len(tail.group(0)) >= rt.repeat_tail_chars:
        unit = tail.group(1)
        return f"{unit!r} repeats {len(tail.group(0)) // len(unit)} times at the end"
    return None


class RepetitionStop:
    """A llama-cpp-python stopping criterion: checks the draft after each token; sticky once it
    fires (llama-cpp-python asks it again after the loop), so `reason` says why it stopped."""

    def __init__(self, detokenize, prompt_tokens: int, rt: RuntimeConfig):
        self.detokenize, self.prompt_tokens, self.rt = detokenize, prompt_tokens, rt
        self.reason: str | None = None
        self.at_token = 0

    def __call__(self, input_ids, logits) -> bool:
        if self.reason is not None:
            return True
        generated = [int(t) for t in input_ids[self.prompt_tokens:]]
        if not generated:
            return False
        text = self.detokenize(generated).decode("utf-8", errors="ignore")
        self.reason = repetition(text, self.rt)
        self.at_token = len(generated)
        return self.reason is not None


def finish_error(finish: str, max_tokens: int, detail: str | None = None) -> str:
    """The error a Generation carries for a draft that did not close its JSON.

    >>> finish_error("length", 120)
    'cut at the token budget of 120 before the JSON closed'
    """
    if finish == "length":
        return f"cut at the token budget of {max_tokens} before the JSON closed"
    return f"degenerate: {detail}; stopped early"
