"""Shared fixtures. Every test writes under tmp_path: the autouse fixture below points the
user home (manifests) and the cache (joined GGUFs, the model-call cache) there, as llm's
conftest does with LLM_USER_PATH."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """Joined GGUFs (Qwen chunk packages -> one file) are shared by the whole session: joining
    the 491 MB model costs seconds, and the file is read-only once verified."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch, model_cache):
    """AGENTHER_LOCAL_HOME and AGENTHER_LOCAL_CACHE inside tmp_path, for every test."""
    home = tmp_path / "agenther-home"
    cache = tmp_path / "agenther-cache"
    monkeypatch.setenv("AGENTHER_LOCAL_HOME", str(home))
    monkeypatch.setenv("AGENTHER_LOCAL_CACHE", str(cache))
    monkeypatch.setenv("AGENTHER_LOCAL_MODEL_CACHE", str(model_cache))
    return home
