"""In-process judges on llama.cpp (llama-cpp-python): a thin adapter, nothing more.

- One `Llama` per GGUF file per process (`_POOL`), shared by every stage and juror that uses
  it; llama-cpp-python objects are not thread-safe, so each loaded model has a lock.
- P(yes) reads the next-token logits of the last position only (`logits_all=False`): with
  llama-cpp-python 0.3.36 `eval()` no longer copies them into `scores`, so they are read right
  after `eval` with `llama_get_logits_ith(ctx, -1)` (SPEC).
- Prefix reuse: the KV cache of the previous prompt is kept; a new prompt evaluates only the
  tokens after the longest common prefix. Judge prompts put the fixed instructions first and
  the run before the goal, so a run's KV state is reused across all goals asked about it.
- Prompts longer than the context never reach llama.cpp ("failed to find a memory slot"):
  `count_tokens` lets stages shorten first (judges/context.py); anything still too long
  raises JudgeError, which the runner journals as that record's failure.
- Constrained JSON is checked for degenerate repetition after every token and stopped there
  (judges/generation.py); `Generation.finish` says whether it closed, was cut or degenerated.
- GPU: `n_gpu_layers` None offloads every layer when this llama.cpp build has a GPU backend
  (`llama_supports_gpu_offload()`), with a one-line notice on stderr; a CPU build uses 0.
"""
from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RuntimeConfig
from ..errors import AgentherError, ModelError
from ..prompts import Rendered
from .base import Generation, JudgeStats, Score, is_yes_token, parse_json_object
from .chat import render_chat
from .generation import RepetitionStop, finish_error
from .manifest import Manifest, verify


ALIGN = 64     # tokens per evaluation chunk; see LlamaJudge._eval_prompt


class JudgeError(AgentherError):
    """A model call failed for one record (too long, decode error)."""


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock
    yes_ids: np.ndarray
    no_ids: np.ndarray
    load_seconds: float
    gguf_template: Any = None


_POOL: dict[tuple, _Loaded] = {}
_POOL_LOCK = threading.Lock()


def _load(path: Path, rt: RuntimeConfig, n_ctx: int, chat_format: str, where: str = "") -> _Loaded:
    key = (str(path), n_ctx, rt.n_gpu_layers, rt.n_threads, rt.batch_size)
    with _POOL_LOCK:
        if key in _POOL:
            return _POOL[key]
        # subtle: with OpenMP's default busy-wait, prompt evaluation ran 4x slower whenever another
        # process held a core (measured by bench/judge_speed.py: 34 -> 128 tokens/s on SmolLM2).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import llama_cpp  # heavy import: only when a model is actually used

        t0 = time.perf_counter()
        layers, notice = gpu_layers(rt.n_gpu_layers)
        try:
            llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=rt.n_threads,
                                    n_threads_batch=rt.n_threads, n_gpu_layers=layers, seed=rt.seed,
                                    n_batch=rt.batch_size, logits_all=False, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{where or path}: llama.cpp cannot load the GGUF ({e}); the file is truncated "
                             "or of an architecture this llama.cpp does not know") from None
        if notice:
            print(f"{path.name}: {notice.format(n_layers=_n_layers(llama))}", file=sys.stderr)
        yes, no = [], []
        for tid in range(llama.n_vocab()):
            piece = llama.detokenize([tid]).decode("utf-8", errors="ignore")
            if len(piece) > 6:
                continue
            v = is_yes_token(piece)
            if v is True:
                yes.append(tid)
            elif v is False:
                no.append(tid)
        template = None
        if chat_format == "gguf":
            template = _gguf_formatter(llama, path)
        loaded = _Loaded(llama, threading.Lock(), np.array(yes, dtype=np.int64),
                         np.array(no, dtype=np.int64), time.perf_counter() - t0, template)
        _POOL[key] = loaded
        return loaded


def backends() -> list[str]:
    """The compute backends of this llama.cpp build, GPU ones first, e.g. ["CUDA", "CPU"]:
    the names llama.cpp's system info line gives before " : "."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    names = list(dict.fromkeys(part.split(" : ")[0].strip() for part in info.split("|") if " : " in part))
    return sorted(names, key=lambda n: n == "CPU") or ["CPU"]


def gpu_layers(requested: int | None) -> tuple[int, str | None]:
    """The n_gpu_layers to load with, and the notice to print (None: nothing offloaded).

    None (the default) = every layer (-1) on a build with a GPU backend, 0 on a CPU build; a
    number is the user's (`--gpu-layers`, `[runtime] n_gpu_layers`), said to be ignored by a
    CPU build rather than silently dropped.
    """
    import llama_cpp

    if not llama_cpp.llama_supports_gpu_offload():
        if requested:
            return 0, (f"--gpu-layers {requested} ignored: this llama-cpp-python build has no GPU backend "
                       "(README, 'GPUs'); running on the CPU")
        return 0, None
    layers = -1 if requested is None else requested
    if layers == 0:
        return 0, None
    backend = backends()[0]
    what = "all {n_layers}" if layers < 0 else f"{layers} of {{n_layers}}"
    return layers, f"{what} layers offloaded to {backend} (--gpu-layers {layers}; 0 keeps the model on the CPU)"


def _n_layers(llama: Any) -> str:
    meta = getattr(llama, "metadata", {}) or {}
    arch = meta.get("general.architecture", "")
    return str(meta.get(f"{arch}.block_count", "?"))


def _gguf_formatter(llama: Any, path: Path):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    tmpl = llama.metadata.get("tokenizer.chat_template")
    if not tmpl:
        raise JudgeError(f"{path}: chat_format 'gguf' but the file has no tokenizer.chat_template; "
                         "use `models add --chat-format chatml|gemma|llama3|raw`")
    eos = llama.detokenize([llama.token_eos()]).decode("utf-8", errors="ignore")
    bos = llama.detokenize([llama.token_bos()]).decode("utf-8", errors="ignore")
    fmt = Jinja2ChatFormatter(template=tmpl, eos_token=eos, bos_token=bos)
    return lambda msgs: fmt(messages=msgs).prompt


def unload_all() -> None:
    """Free every loaded model (tests, and the end of a run)."""
    with _POOL_LOCK:
        for loaded in _POOL.values():
            loaded.llama.close() if hasattr(loaded.llama, "close") else None
        _POOL.clear()


# Close models before interpreter teardown: llama-cpp-python's __del__ fails noisily when
# the modules it needs are already gone.
atexit.register(unload_all)


class LlamaJudge:
    """A judge backed by a local GGUF model. Loads lazily on first use."""

    def __init__(self, manifest: Manifest, runtime: RuntimeConfig | None = None):
        self.manifest = manifest
        self.id = manifest.name
        self.sha256 = manifest.sha256
        self.runtime = runtime or RuntimeConfig()
        self.n_ctx = min(self.runtime.n_ctx, manifest.context_length)
        self.stats = JudgeStats()
        self._loaded: _Loaded | None = None
        self._grammars: dict[str, Any] = {}
        self._last_tokens: tuple[str, list[int]] | None = None

    # -- loading ---------------------------------------------------------------------------
    def _model(self) -> _Loaded:
        if self._loaded is not None and not any(self._loaded is v for v in _POOL.values()):
            self._loaded = None     # unloaded by unload_all(): load again rather than use a freed model
        if self._loaded is None:
            path = verify(self.manifest)
            self._loaded = _load(path, self.runtime, self.n_ctx, self.manifest.chat_format, self.manifest.where)
            self.stats.load_seconds = self._loaded.load_seconds
        return self._loaded

    def text(self, prompt: Rendered) -> str:
        m = self._model()
        return render_chat(prompt, self.manifest.chat_format, m.gguf_template)

    def tokens(self, prompt: Rendered) -> list[int]:
        # The context guard counts a prompt's tokens and the call then needs the same tokens:
        # remember the last prompt's, so each prompt is tokenized once.
        text = self.text(prompt)
        if self._last_tokens is not None and self._last_tokens[0] == text:
            return self._last_tokens[1]
        toks = self._model().llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        self._last_tokens = (text, toks)
        return toks

    def count_tokens(self, prompt: Rendered) -> int:
        return len(self.tokens(prompt))

    # -- evaluation with prefix reuse ------------------------------------------------------
    def _eval_prompt(self, m: _Loaded, toks: list[int]) -> int:
        """Evaluate `toks`, reusing the KV cache of the common prefix. Returns reused count.

        subtle: the same token evaluated in a different batch split can get slightly different
        KV values (Qwen's P(yes) moved by up to 0.02 between a reused and a fresh prefix), which
        would make results depend on what was asked before, and break byte-identical resumes.
        So tokens are always evaluated in chunks aligned at multiples of ALIGN, and reuse stops
        at a chunk boundary: every token is computed the same way whatever the history.
        """
        llama = m.llama
        if len(toks) >= self.n_ctx:
            raise JudgeError(f"model '{self.id}': prompt of {len(toks)} tokens does not fit the "
                             f"context of {self.n_ctx}; raise --n-ctx or shorten the input")
        prev = llama.input_ids[: llama.n_tokens]
        n = 0
        limit = min(len(prev), len(toks) - 1)   # re-evaluate at least the last token: we need its logits
        while n < limit and prev[n] == toks[n]:
            n += 1
        n -= n % ALIGN
        llama.n_tokens = n
        try:
            for start in range(n, len(toks), ALIGN):
                llama.eval(toks[start:start + ALIGN])
        except RuntimeError as e:
            llama.n_tokens = 0
            raise JudgeError(f"model '{self.id}': llama.cpp failed on a {len(toks)}-token prompt: {e}") from None
        return n

    def p_yes(self, prompt: Rendered) -> Score:
        import llama_cpp

        m = self._model()
        toks = self.tokens(prompt)
        t0 = time.perf_counter()
        with m.lock:
            reused = self._eval_prompt(m, toks)
            ptr = llama_cpp.llama_get_logits_ith(m.llama._ctx.ctx, -1)
            logits = np.ctypeslib.as_array(ptr, shape=(m.llama.n_vocab(),)).astype(np.float64)
        # Softmax over the whole vocabulary: P(yes) and P(no) are absolute probabilities.
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        py = float(probs[m.yes_ids].sum()) if m.yes_ids.size else 0.0
        pn = float(probs[m.no_ids].sum()) if m.no_ids.size else 0.0
        mass = py + pn
        p = py / mass if mass > 0 else 0.5
        top = m.llama.detokenize([int(np.argmax(probs))]).decode("utf-8", errors="replace")
        dt = time.perf_counter() - t0
        self.stats.add("p_yes", len(toks), 0, reused, dt)
        return Score(p_yes=p, mass=mass, top_token=top, prompt_tokens=len(toks), reused_tokens=reused, seconds=dt)

    def generate_json(self, prompt: Rendered, schema: dict[str, Any], temperature: float,
                      seed: int, max_tokens: int) -> Generation:
        from llama_cpp import LlamaGrammar, StoppingCriteriaList

        m = self._model()
        key = json.dumps(schema)     # not sorted: the model writes the properties in the schema's order
        if key not in self._grammars:
            self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
        toks = self.tokens(prompt)
        budget = self.n_ctx - len(toks) - 1
        if budget < 8:
            raise JudgeError(f"model '{self.id}': prompt of {len(toks)} tokens leaves no room to answer "
                             f"in a context of {self.n_ctx}")
        limit = min(max_tokens, budget)
        t0 = time.perf_counter()
        with m.lock:
            # Aligned evaluation first (see _eval_prompt); create_completion then finds the whole
            # prompt cached and samples from its logits, the same way every time.
            self._eval_prompt(m, toks)
            stop = RepetitionStop(m.llama.detokenize, len(toks), self.runtime)
            try:
                out = m.llama.create_completion(prompt=toks, max_tokens=limit,
                                                temperature=temperature, seed=seed, top_k=40, top_p=0.95,
                                                grammar=self._grammars[key],
                                                stopping_criteria=StoppingCriteriaList([stop]))
            except RuntimeError as e:
                m.llama.n_tokens = 0
                raise JudgeError(f"model '{self.id}': llama.cpp failed while generating: {e}") from None
        text = out["choices"][0]["text"]
        usage = out.get("usage", {})
        ct = usage.get("completion_tokens", 0)
        data, err = parse_json_object(text)
        finish = "stop"
        if stop.reason is not None:
            why = f"{stop.reason} (token {stop.at_token})"
            finish, data, err = "repetition", None, finish_error("repetition", limit, why)
        elif data is None and (out["choices"][0].get("finish_reason") == "length" or ct >= limit):
            finish, err = "length", finish_error("length", limit)   # a JSON closing on the last token is whole
        dt = time.perf_counter() - t0
        self.stats.add("generate", len(toks), ct, 0, dt)
        return Generation(text=text, data=data, error=err, prompt_tokens=len(toks), completion_tokens=ct,
                          seconds=dt, finish=finish)
