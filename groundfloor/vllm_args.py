"""`generation.vllm_args` and `generation.vllm_reload`: vLLM engine arguments from the suite, and how a round's
policy reaches the live engine.

vllm_args are keyword arguments of `vllm.LLM` (fields of vLLM's `EngineArgs`), passed over the defaults that
groundfloor/backends/vllm_backend.py sets. At config load they are checked against the installed vLLM's
EngineArgs, read from its source without importing vLLM (seconds of start-up); with no vLLM installed they
are accepted then and checked against the imported dataclass when an engine starts.

vllm_reload: in_place copies the policy's weights into the live engine (this process only); rebuild writes
them to a folder and starts a new engine on it; auto = rebuild when the engine runs several worker
processes (tensor, pipeline or data parallel size > 1), else in place.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path

from groundfloor.errors import closest

RELOADS = ("auto", "in_place", "rebuild")
PARALLEL_KEYS = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size")
# engine arguments the harness sets itself, with the suite key (or mechanism) that decides them
OWNED = {
    "model": "models[].id (the harness passes each policy's folder)",
    "tokenizer": "models[].id (the tokenizer of the model's folder)",
    "dtype": "the model's dtype (models[].dtype, else the suite's dtype)",
    "seed": "generation.seed (one seed per request; the engine's own seed is fixed)",
    "enable_lora": "training.mode (adapters are merged into the engine's weights, not served as LoRA)",
    "max_lora_rank": "training.lora_r (adapters are merged into the engine's weights)",
    "max_loras": "training.mode (adapters are merged into the engine's weights)",
}


@lru_cache(maxsize=1)
def engine_arg_names() -> frozenset[str] | None:
    """Field names of the installed vLLM's `EngineArgs`, read from its source (no import); None without vLLM."""
    spec = importlib.util.find_spec("vllm")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(list(spec.submodule_search_locations)[0]) / "engine" / "arg_utils.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "EngineArgs":
            return frozenset(n.target.id for n in node.body if isinstance(n, ast.AnnAssign)
                             and isinstance(n.target, ast.Name) and "ClassVar" not in ast.unparse(n.annotation))
    return None


def imported_arg_names() -> frozenset[str]:
    """Field names of the imported `vllm.engine.arg_utils.EngineArgs` dataclass (imports vLLM)."""
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    return frozenset(f.name for f in dataclasses.fields(EngineArgs))


def check_vllm_args(args: dict, known=None) -> dict:
    """`args` if every key is an engine argument the suite may set; else ValueError naming the fix.

    `known`: the valid names; None reads them from the installed vLLM, and without vLLM accepts `args`.
    """
    known = engine_arg_names() if known is None else known
    for key in args:
        if not isinstance(key, str):
            raise ValueError(f"{key!r} is not an engine argument name")
        if key in OWNED:
            raise ValueError(f"'{key}' is set by the harness from {OWNED[key]}; set it there")
        if known is not None and key not in known:
            hint = closest(key, sorted(set(known) - set(OWNED)))
            raise ValueError(f"'{key}' is not an argument of vLLM's EngineArgs"
                             + (f"; did you mean '{hint}'?" if hint else ""))
    return args


def reload_path(mode: str, args: dict) -> str:
    """in_place or rebuild for a `vllm_reload` mode and the engine's arguments."""
    if mode not in RELOADS:
        raise ValueError(f"vllm_reload must be one of {', '.join(RELOADS)}, got {mode!r}")
    if mode != "auto":
        return mode
    return "rebuild" if any(_size(args.get(k)) > 1 for k in PARALLEL_KEYS) else "in_place"


def _size(value) -> int:
    try:
        return int(value or 1)
    except (TypeError, ValueError):
        return 1
