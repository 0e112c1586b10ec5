"""Judges behind an OpenAI-compatible HTTP server (llama.cpp's llama-server, llama-cpp-python's
server, Ollama, vLLM): the same Judge protocol, for users who serve bigger models on a GPU box.

- P(yes): one chat completion with `max_tokens: 1`, `logprobs: true`, `top_logprobs: 20`;
  P(yes) and P(no) are summed over the returned top tokens that spell yes / no (case,
  leading space). A server that returns no logprobs is an error, never a guess.
- JSON: `response_format` `{"type": "json_object", "schema": ...}` (llama.cpp servers), and
  on a 4xx the OpenAI form `{"type": "json_schema", ...}` (vLLM, OpenAI-style servers).
- A draft cut at `max_tokens` (finish_reason "length") or looping (judges/generation.py) is
  reported in `Generation.finish`, as the llama.cpp judge does.
- Token counts are estimated (characters / 3.5) because the server's tokenizer is remote;
  the context guard therefore keeps a wider margin.
Only the URL the user configured is contacted: nothing else, ever.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import urllib.error
import urllib.request
from typing import Any

from ..errors import AgentherError
from ..prompts import Rendered
from .base import Generation, JudgeStats, Score, is_yes_token, parse_json_object
from .generation import finish_error, repetition

CHARS_PER_TOKEN = 3.5


class HttpJudge:
    def __init__(self, name: str, base_url: str, model: str, n_ctx: int = 4096, api_key: str | None = None,
                 timeout: float = 120.0):
        self.id = name
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.n_ctx = n_ctx
        self.api_key = api_key
        self.timeout = timeout
        # Cache keys need an identity for the weights; the server's URL and model name stand in.
        self.sha256 = hashlib.sha256(f"http:{self.base_url}:{model}".encode()).hexdigest()
        self.stats = JudgeStats()

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self.base_url + "/chat/completions", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", errors="replace")[:200]
            raise _HttpStatus(e.code, f"model '{self.id}' ({self.base_url}): HTTP {e.code}: {body}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            raise AgentherError(f"model '{self.id}': cannot reach {self.base_url} ({getattr(e, 'reason', e)}); "
                                "is the server running?") from None

    def _messages(self, prompt: Rendered) -> list[dict[str, str]]:
        return prompt.messages()

    def count_tokens(self, prompt: Rendered) -> int:
        text = prompt.system + prompt.user + prompt.answer_prefix
        return int(len(text) / CHARS_PER_TOKEN) + 16

    def p_yes(self, prompt: Rendered) -> Score:
        t0 = time.perf_counter()
        out = self._post({"model": self.model, "messages": self._messages(prompt), "max_tokens": 1,
                          "temperature": 0, "logprobs": True, "top_logprobs": 20})
        try:
            top = out["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError):
            raise AgentherError(f"model '{self.id}' ({self.base_url}): the server returned no logprobs; "
                                "P(yes) needs a server that supports `logprobs`/`top_logprobs`") from None
        py = sum(math.exp(t["logprob"]) for t in top if is_yes_token(t["token"]) is True)
        pn = sum(math.exp(t["logprob"]) for t in top if is_yes_token(t["token"]) is False)
        mass = py + pn
        usage = out.get("usage") or {}
        pt = int(usage.get("prompt_tokens") or self.count_tokens(prompt))
        dt = time.perf_counter() - t0
        self.stats.add("p_yes", pt, 0, 0, dt)
        top_token = max(top, key=lambda t: t["logprob"])["token"] if top else ""
        return Score(p_yes=py / mass if mass > 0 else 0.5, mass=mass, top_token=top_token, prompt_tokens=pt, seconds=dt)

    def generate_json(self, prompt: Rendered, schema: dict[str, Any], temperature: float,
                      seed: int, max_tokens: int) -> Generation:
        t0 = time.perf_counter()
        base = {"model": self.model, "messages": self._messages(prompt), "max_tokens": max_tokens,
                "temperature": temperature, "seed": seed}
        try:
            out = self._post({**base, "response_format": {"type": "json_object", "schema": schema}})
        except _HttpStatus as e:
            if not 400 <= e.code < 500:
                raise
            out = self._post({**base, "response_format": {"type": "json_schema",
                                                          "json_schema": {"name": "output", "schema": schema}}})
        text = out["choices"][0]["message"].get("content") or ""
        data, err = parse_json_object(text)
        usage = out.get("usage") or {}
        dt = time.perf_counter() - t0
        pt, ct = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        # A server cannot be stopped mid-draft from here: a loop is recognised afterwards.
        finish, loop = "stop", repetition(text)
        if loop is not None:
            finish, data, err = "repetition", None, finish_error("repetition", max_tokens, loop)
        elif data is None and out["choices"][0].get("finish_reason") == "length":
            finish, err = "length", finish_error("length", max_tokens)
        self.stats.add("generate", pt, ct, 0, dt)
        return Generation(text=text, data=data, error=err, prompt_tokens=pt, completion_tokens=ct, seconds=dt,
                          finish=finish)


class _HttpStatus(AgentherError):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
