"""SVAMP: the GSM8K prompt and scoring on ChilleD/SVAMP's full test split (hub only).

MIPO train pool as in the paper: SVAMP train plus 700 GSM8K train prompts (seeded sample).
No PyPI package carries SVAMP, so offline it fails with one clear line.
"""

from __future__ import annotations

import random

from tasks.base import DataSource, DataSplit, Item
from tasks.extract import normalize_number
from tasks.gsm8k import Gsm8k, gold_of
from tasks.hub import load_hub_split
from tasks.mcq import drop_overlap

N_GSM8K_TRAIN = 700


def svamp_item(item_id: str, row: dict) -> Item:
    question = row.get("question_concat") or f"{row['Body'].strip()} {row['Question'].strip()}"
    answer = str(row["Answer"])
    return Item(id=item_id, question=question.strip(), target=normalize_number(answer) or answer)


class Svamp(Gsm8k):
    id = "svamp"
    description = "SVAMP test (hub), GSM8K prompt; train pool = SVAMP train + 700 GSM8K train prompts"
    default_limit = None  # the full test split (300)

    def sources(self) -> list[DataSource]:
        return [
            DataSource("hub", "ChilleD/SVAMP", "test", "evaluation"),
            DataSource("hub", "ChilleD/SVAMP", "train", "MIPO prompts"),
            DataSource("hub", "openai/gsm8k (main)", "train", f"{N_GSM8K_TRAIN} more MIPO prompts (seeded sample)"),
        ]

    def load(self, offline: bool) -> DataSplit:
        test = load_hub_split(self.id, "ChilleD/SVAMP", None, "test", offline)
        train = load_hub_split(self.id, "ChilleD/SVAMP", None, "train", offline)
        gsm = list(load_hub_split(self.id, "openai/gsm8k", "main", "train", offline))
        picked = sorted(random.Random(self.default_seed).sample(range(len(gsm)), min(N_GSM8K_TRAIN, len(gsm))))
        pool = [svamp_item(f"train-{i}", r) for i, r in enumerate(train)]
        pool += [Item(id=f"gsm8k-train-{i}", question=gsm[i]["question"], target=gold_of(gsm[i]["answer"]))
                 for i in picked]
        evals = [svamp_item(f"test-{i}", r) for i, r in enumerate(test)]
        return DataSplit(evals, drop_overlap(evals, pool),
                         DataSource("hub", "ChilleD/SVAMP", "test"),
                         DataSource("hub", "ChilleD/SVAMP + openai/gsm8k", f"train + {N_GSM8K_TRAIN} GSM8K train"))
