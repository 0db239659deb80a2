"""Generation and scoring backends: transformers (CPU/GPU), vLLM (optional), and a fake for tests."""

from groundfloor.backends.base import Backend, Generation, GenParams

__all__ = ["Backend", "GenParams", "Generation"]
