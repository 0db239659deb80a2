"""Shared fixtures: a tiny local model, an isolated cache, offline mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groundfloor.library_bars import BAR_SWITCHES
from tests.helpers.tiny_model import build_tiny_model

# engine: auto means hf in tests (set before any fixture, module-scoped ones included); the vLLM tests
# ask for the engine by name
os.environ.setdefault("MIPO_BENCH_ENGINE", "hf")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama with a trained ~400-token BPE tokenizer and a ChatML template."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch):
    """Tests never touch the model hub; the package cache is shared across tests (set MIPO_BENCH_CACHE)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    if not os.environ.get("MIPO_BENCH_CACHE"):
        monkeypatch.setenv("MIPO_BENCH_CACHE", str(Path.home() / ".cache" / "mipo-bench"))
    for name in BAR_SWITCHES:  # an in-process CLI call sets these off-terminal: undone after each test
        monkeypatch.setenv(name, os.environ.get(name, ""))
        monkeypatch.delenv(name)
