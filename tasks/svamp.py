"""SVAMP: the GSM8K prompt and scoring on ChilleD/SVAMP's full test split (hub only).

Scoring is the authors' two-stage reading as for GSM8K (svamp.py:256-295), with their SVAMP wording of the
extraction turn (svamp.py:262, "anythig ele" as written).

MIPO train pool as in the paper: SVAMP train plus 700 GSM8K train prompts (seeded sample).
Pairs as the authors build them (svamp.py:150-157): SVAMP prompts are deranged among themselves and
the GSM8K pairs, built among GSM8K prompts, are appended (`meta["pair_group"]`, see mipo/pairs.py);
a SVAMP partial prompt is its question without the body (svamp.py:195, `meta["partial_question"]`).
No PyPI package carries SVAMP, so offline it fails with one clear line.
"""

from __future__ import annotations

import random

from tasks.base import Item
from tasks.extract import normalize_number
from tasks.gsm8k import Gsm8k, gold_of
from tasks.sources import Hub, Part, Source

N_GSM8K_TRAIN = 700
GSM8K_SAMPLE_SEED = 42  # Task.default_seed, as before


def svamp_item(item_id: str, row: dict) -> Item:
    question = row.get("question_concat") or f"{row['Body'].strip()} {row['Question'].strip()}"
    answer = str(row["Answer"])
    partial = str(row.get("Question") or "").strip()
    return Item(id=item_id, question=question.strip(), target=normalize_number(answer) or answer,
                meta={"partial_question": partial} if partial else {})


def _eval_items(rows) -> list[Item]:
    return [svamp_item(f"test-{i}", r) for i, r in enumerate(rows)]


def _train_items(svamp_train, gsm_train) -> list[Item]:
    gsm = list(gsm_train)
    picked = sorted(random.Random(GSM8K_SAMPLE_SEED).sample(range(len(gsm)), min(N_GSM8K_TRAIN, len(gsm))))
    pool = [svamp_item(f"train-{i}", r) for i, r in enumerate(svamp_train)]
    return pool + [Item(id=f"gsm8k-train-{i}", question=gsm[i]["question"], target=gold_of(gsm[i]["answer"]),
                        meta={"pair_group": "gsm8k"}) for i in picked]


class Svamp(Gsm8k):
    id = "svamp"
    description = "SVAMP test (hub), GSM8K prompt; train pool = SVAMP train + 700 GSM8K train prompts"
    default_limit = None  # the full test split (300)
    extraction_request = ("Extract the numeric answer from this reasoning, and do not include anythig ele in your "
                          "response other than the number. ")  # svamp.py:262, verbatim

    def data_sources(self) -> list[Source]:
        # as the authors (../shared/reference/mipo-authors/svamp.py:182-186): test evaluated, train for MIPO
        return [Source("hub", Part((Hub("ChilleD/SVAMP", None, "test"),), _eval_items),
                       Part((Hub("ChilleD/SVAMP", None, "train"), Hub("openai/gsm8k", "main", "train")), _train_items),
                       note=f"train pool = SVAMP train + {N_GSM8K_TRAIN} GSM8K train prompts (seeded sample)")]
