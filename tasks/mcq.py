"""Multiple choice shared by ARC, MMLU and CommonsenseQA: a generative scorer (the authors' ARC protocol:
concise reasoning, then "The answer is: X") and a log-likelihood scorer (acc, acc_norm, acc_mutual_info;
see tasks/loglik.py), chosen when the task is built from the option `scorer: generative|loglik`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from tasks.base import GenerationSettings, Item, Score, Task
from tasks.extract import extract_authors_letter, extract_letter, sentences, strip_echo
from tasks.loglik import LETTERS, MC_METRICS, mc_picks, mc_requests
from tasks.scorers import Generative, Loglik, Scorer

# The authors' ARC prompt, one user turn (../shared/reference/mipo-authors/arc.py:65-69): instruction, the
# question, "A: choice" lines lettered by position, and the closing reminder.
MC_INSTRUCTION = ("You are a helpful assistant. The following is a multiple choice question with answer choices. "
                  "Your response should show clear and concise reasoning, and you should end with "
                  "\"The answer is: <X>\", where X is the correct letter choice.")
MC_REMINDER = "Your response should end with \"The answer is: <X>\", where X is the correct letter choice."
LETTER_PROTOCOL = ("the authors' prompt (arc.py:65-69); first valid letter after 'The answer is' (else a lone leading "
                   "letter), after removing copies of the prompt; accuracy_authors = first stand-alone A-D after the "
                   "first 'the answer is' of the raw output, echoes included (arc.py:89-95); no answer = no letter "
                   "found")
LOGLIK_PROTOCOL = ("raw 'Question: q\\nAnswer:' + ' choice'; acc (reported as accuracy) = max log p; acc_norm per "
                   "character; mutual info against the context 'Answer:'")


class McOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scorer: Literal["generative", "loglik"] = "generative"


def mc_prompt(question: str, choices: tuple[str, ...], instruction: str = MC_INSTRUCTION) -> str:
    """The authors' layout (arc.py:65-69): instruction, question, lettered choices, reminder."""
    lines = "\n".join(f"{LETTERS[i]}: {c}" for i, c in enumerate(choices))
    return f"{instruction}\n\n{question}\n\n{lines}\n\n{MC_REMINDER}"


def mc_echo_free(output: str, question: str, choices: tuple[str, ...]) -> str:
    """The output without copies of the prompt: instruction, reminder and question always; the choice
    lines ("A: text") only when two or more are copied (one alone can be the answer itself)."""
    flat = " ".join((output or "").split())
    lines = [f"{LETTERS[i]}: {c}" for i, c in enumerate(choices)]
    out = strip_echo(output, [MC_INSTRUCTION, MC_REMINDER, question, *sentences(question)])
    if sum(" ".join(line.split()) in flat for line in lines) >= 2:
        out = strip_echo(out, lines, min_chars=1)
    return out


class McTask(Task):
    """Shared prompt and scoring for multiple choice."""

    family = "mcq"
    default_negative = "derangement"
    # The authors sample at T 1.0 / top-p 0.9 with 1024 new tokens for evaluation and pairs (arc.py:33-39).
    generation = GenerationSettings(max_new_tokens=1024, temperature=1.0, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=1024, temperature=1.0, top_p=0.9, greedy=False)
    Options = McOptions
    by: ClassVar[str | None] = None  # a sample field with one accuracy_<value> metric per value (MMLU: subject)

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        return [{"role": "user", "content": mc_prompt(item.question, item.choices)}]

    def scorer_choices(self) -> dict[str, Scorer]:
        letters = Generative(rule=self.letter_score, metrics=("accuracy_authors",), by=self.by,
                             protocol=LETTER_PROTOCOL)
        loglik = Loglik(ask=mc_ask, pick=self.loglik_pick, text=letters, metrics=MC_METRICS, by=self.by,
                        protocol=LOGLIK_PROTOCOL)
        return {"generative": letters, "loglik": loglik}

    def letter_score(self, output: str, item: Item) -> Score:
        """The generative rule: the letter after 'The answer is' (and the authors' reading of it)."""
        text = mc_echo_free(output, item.question, item.choices)
        letter = extract_letter(text, len(item.choices))
        authors = extract_authors_letter(output)  # the raw output, as the authors read it (arc.py:89-95)
        return Score(extracted=letter, score=float(letter == item.target),
                     extra={"accuracy_authors": float(authors == item.target)}, details={"extracted_authors": authors})

    def loglik_pick(self, item: Item, logliks: list[float]) -> Score:
        """The log-likelihood rule: the option of highest log p (acc), per character, and by mutual information."""
        picks = {k: LETTERS[v] for k, v in mc_picks(item.choices, logliks).items()}
        extra = {k: float(picks[k] == item.target) for k in MC_METRICS}
        return Score(extracted=picks["acc"], score=float(picks["acc"] == item.target), extra=extra,
                     details={"picks": picks})

    def gold_output(self, item: Item) -> str:
        return f"The answer is: {item.target}"


def mc_ask(item: Item, backend: Any) -> list[tuple[str, str]]:
    """The log-likelihood requests of a multiple-choice item (raw text, no chat template)."""
    return mc_requests(item.question, item.choices)
