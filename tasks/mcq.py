"""Multiple choice shared by ARC, MMLU and CommonsenseQA: a generative scorer (the paper's protocol:
brief reasoning, then "The answer is: X") and a log-likelihood scorer (acc, acc_norm, acc_mutual_info;
see tasks/loglik.py), chosen per task with the option `scorer: generative|loglik`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tasks.base import GenerationSettings, Item, Score, Task
from tasks.extract import extract_letter
from tasks.loglik import LETTERS, MC_METRICS, mc_picks, mc_requests

MC_INSTRUCTION = (
    "Answer the following multiple-choice question. Think briefly, then finish with "
    "\"The answer is: X\" where X is the letter of the correct choice."
)


class McOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scorer: Literal["generative", "loglik"] = "generative"


def mc_prompt(question: str, choices: tuple[str, ...], instruction: str = MC_INSTRUCTION) -> str:
    """Question with lettered choices, one user turn."""
    lines = [instruction, "", f"Question: {question}"]
    lines += [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)]
    return "\n".join(lines)


class McTask(Task):
    """Shared prompt and scoring for multiple choice."""

    family = "mcq"
    default_negative = "derangement"
    generation = GenerationSettings(max_new_tokens=256, temperature=1.0, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=256, temperature=1.0, top_p=0.9, greedy=False)
    extra_metrics = MC_METRICS
    Options = McOptions

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        return [{"role": "user", "content": mc_prompt(item.question, item.choices)}]

    def score(self, output: str, item: Item) -> Score:
        letter = extract_letter(output, len(item.choices))
        return Score(extracted=letter, score=float(letter == item.target))

    def gold_output(self, item: Item) -> str:
        return f"The answer is: {item.target}"

    def loglik_requests(self, item: Item, backend: Any) -> list[tuple[str, str]] | None:
        return mc_requests(item.question, item.choices) if self.options.scorer == "loglik" else None

    def score_loglik(self, item: Item, logliks: list[float]) -> Score:
        picks = {k: LETTERS[v] for k, v in mc_picks(item.choices, logliks).items()}
        extra = {k: float(picks[k] == item.target) for k in MC_METRICS}
        return Score(extracted=picks["acc"], score=float(picks["acc"] == item.target), extra=extra,
                     details={"picks": picks})

    def scorers(self) -> list[dict[str, Any]]:
        return [
            {"name": "generative", "active": self.options.scorer == "generative", "metrics": [self.metric],
             "protocol": "chat prompt, brief reasoning, first A-E after 'The answer is'"},
            {"name": "loglik", "active": self.options.scorer == "loglik", "metrics": ["acc (as accuracy)", *MC_METRICS],
             "protocol": "raw 'Question: q\\nAnswer:' + ' choice'; acc_norm per character; "
                         "mutual info against the context 'Answer:'"},
        ]
