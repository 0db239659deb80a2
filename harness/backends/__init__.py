"""Generation and scoring backends: transformers (CPU/GPU), vLLM (optional), and a fake for tests."""

from harness.backends.base import Backend, GenParams, Generation

__all__ = ["Backend", "GenParams", "Generation"]
