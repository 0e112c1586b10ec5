"""Where things live: shipped data (prompts, manifests) and the user's home for caches.

Shipped data sits at the repository top (`prompts/`, `models/`) in a checkout and inside the
package (`agenther_local/_data/`) in an installed wheel; both are looked up here, nowhere else.
`AGENTHER_LOCAL_HOME` (default `~/.agenther-local`) holds user manifests and, unless
`AGENTHER_LOCAL_CACHE` says otherwise, the cache (joined GGUFs, the model-call SQLite cache);
point either at a writable place on a read-only or air-gapped home.
"""
from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name


def shipped_prompts_dir() -> Path:
    return _shipped("prompts")


def shipped_models_dir() -> Path:
    return _shipped("models")


def home_dir() -> Path:
    return Path(os.environ.get("AGENTHER_LOCAL_HOME", "~/.agenther-local")).expanduser()


def user_models_dir() -> Path:
    return home_dir() / "models"


def cache_dir() -> Path:
    env = os.environ.get("AGENTHER_LOCAL_CACHE")
    return Path(env).expanduser() if env else home_dir() / "cache"


def model_cache_dir() -> Path:
    """Where chunked GGUFs are joined: `AGENTHER_LOCAL_MODEL_CACHE`, else `<cache>/models`."""
    env = os.environ.get("AGENTHER_LOCAL_MODEL_CACHE")
    return Path(env).expanduser() if env else cache_dir() / "models"
