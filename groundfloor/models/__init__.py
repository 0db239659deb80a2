"""Model resolution: built-in PyPI-carried aliases, hub ids and local folders."""

from groundfloor.models.resolve import ResolvedModel, resolve_model

__all__ = ["ResolvedModel", "resolve_model"]
