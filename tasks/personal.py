"""Shared machinery for hub personalization tasks (PRISM, Community Alignment).

Items: `question` = the user's prompt, `context` = the user's stated preferences joined by spaces,
`target` = the list of stated preferences (preference text only, never demographics), `choices` =
the dataset's candidate responses, `meta["chosen"]` = index of the human-chosen one. Prompt = the
authors' template (prism.py:145, 277): "Give me short 2-3 sentence answers to the following prompt:
<prompt> Please respect the following requirements made by the user: <preferences> Respond with
short 2-3 sentences."; the MIPO negative (`context_drop`) drops the requirements sentence
(prism.py:279). Sampling T 0.1, top-p 0.9, 512 new tokens (prism.py:164-170, ca.py:42-48).
Train/eval split by prompt text: a fixed 1/5 of prompts (by hash) is evaluated, so the same prompt
never appears in both pools, whoever the user.

Scorers (option `scorer`, chosen when the task is built; tasks/scorers.py):
- `judge` (default, the paper): the judge (tasks/judge.py) rates 1-5 per stated preference, averaged,
  for the model's response and for the human-chosen one; `win_rate` = model >= reference (ties are
  wins, prism.py:252, ca.py:166), `win_rate_strict` = model > reference. An unparsed judge reply on
  either side makes the item a loss; `judge_unparsed` counts such replies in the round and
  `judge_unparsed_rate` is their share per item. Judge prompts, replies and scores are kept in samples.
- `loglik` (judge-free): does the model give the user's preferred response the highest
  log-likelihood among the candidates, with the profile (`score`) and without (`acc_without_profile`);
  `profile_gain` = the difference, `pmi_margin` = how much the profile raises the preferred
  response's log-likelihood relative to the mean of the others.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from groundfloor.errors import UserError
from groundfloor.records import MetricCI
from tasks.base import GenerationSettings, Item, Score, Task
from tasks.judge import AUTHORS_JUDGE, AUTHORS_JUDGE_ALT, Judge, load_judge
from tasks.loglik import LETTERS, argmax
from tasks.scorers import Judged, Loglik, Scorer

AUGMENTED = ("Give me short 2-3 sentence answers to the following prompt: {prompt} "
             "Please respect the following requirements made by the user: {request} Respond with short 2-3 sentences.")
BASE = "Give me short 2-3 sentence answers to the following prompt: {prompt} Respond with short 2-3 sentences."
PLACEHOLDERS = {"", "na", "n a", "none", "nothing", "no", "nope", "nil", "null", "nan", "idk", "i don t know",
                "dont know", "don t know", "not sure", "no idea", "no preference", "no preferences", "no comment",
                "not applicable", "nothing in particular", "nothing really", "none really", "test", "x", "1", "0"}
JUDGE_METRICS = ("win_rate_strict", "judge_score", "judge_score_reference", "judge_unparsed_rate")
LOGLIK_METRICS = ("acc_without_profile", "profile_gain", "pmi_margin")
JUDGE_PROTOCOL = ("authors' judge prompt; 1-5 per stated preference, averaged; win = score >= human-chosen's; an "
                  "unparsed judge reply is a loss; judge_unparsed = unreadable replies in the round")
LOGLIK_PROTOCOL = "is the user's preferred candidate the most likely one, with vs without the profile"
END_MARKERS = re.compile(r"<\|(?:end_of_text|eot_id|endoftext|im_end|end)\|>|</s>|<eos>")


def is_placeholder(text: Any) -> bool:
    """True for empty, 'N/A'-like or letter-free texts (survey fillers, the survey's '-1' = unanswered)."""
    raw = "" if text is None else str(text)
    norm = " ".join(re.sub(r"[^a-z0-9]+", " ", raw.lower()).split())
    return norm in PLACEHOLDERS or not re.search(r"[^\W\d_]{2,}", raw)


def strip_markers(text: Any) -> str:
    """A candidate response without end-of-text markers such as <|end_of_text|>."""
    return END_MARKERS.sub("", "" if text is None else str(text)).strip()


class PersonalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scorer: Literal["judge", "loglik"] = "judge"
    judge_model: str | None = None
    judge_provider: Literal["transformers", "inspect"] = "transformers"
    judge_max_new_tokens: int = Field(default=16, ge=1)


class PersonalTask(Task):
    family = "personalization"
    default_negative = "context_drop"
    default_limit = 200
    generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    Options = PersonalOptions
    judge_sees_requirements: ClassVar[bool] = False  # the judge's "User:" turn: the plain prompt or the full one

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self._judge: Judge | None = None
        self._reference: dict[str, dict] = {}

    def scorer_choices(self) -> dict[str, Scorer]:
        judge = Judged(metric="win_rate", metrics=JUDGE_METRICS, rule=self.judge_score, about=self.judge_info,
                       protocol=JUDGE_PROTOCOL)
        return {"judge": judge, "loglik": Loglik(metric="preferred_top_with_profile", metrics=LOGLIK_METRICS,
                                                 ask=self.profile_requests, pick=self.profile_pick, text=judge,
                                                 protocol=LOGLIK_PROTOCOL)}

    # --- judge ----------------------------------------------------------------------------
    def set_judge(self, judge: Judge) -> None:
        self._judge = judge

    def set_judge_config(self, cfg: Any) -> None:
        """Use the suite's `judge:` block unless the task options name a judge already."""
        if self.options.judge_model is None and cfg is not None:
            self.options = self.options.model_copy(update={
                "judge_model": cfg.model, "judge_provider": cfg.provider, "judge_max_new_tokens": cfg.max_new_tokens})

    def judge_info(self) -> dict[str, Any]:
        """The judge the options name, and the authors' judges (for `tasks show`)."""
        return {"model": self.options.judge_model, "provider": self.options.judge_provider,
                "authors": f"{AUTHORS_JUDGE} (--use_qwen, the judge their reference scores are named after: "
                           f"prism.py:105-106) or {AUTHORS_JUDGE_ALT} (their argparse default; prism.py:24-27, "
                           "ca.py:75-79)"}

    def judge(self) -> Judge:
        if self._judge is None:
            if not self.options.judge_model:
                raise UserError(f"task {self.id} needs a judge: set the suite's judge: block (the authors used "
                                f"{AUTHORS_JUDGE}), the task option judge_model, or use the option scorer: loglik")
            self._judge = load_judge(self.options.judge_model, self.options.judge_provider,
                                     self.options.judge_max_new_tokens)
        return self._judge

    # --- prompting ------------------------------------------------------------------------
    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        prompt = item.question.strip()
        if with_context and item.context:
            return [{"role": "user", "content": AUGMENTED.format(prompt=prompt, request=item.context)}]
        return [{"role": "user", "content": BASE.format(prompt=prompt)}]

    def reference(self, item: Item) -> str:
        return item.choices[item.meta["chosen"]]

    def gold_output(self, item: Item) -> str:
        return self.reference(item)

    def judge_question(self, item: Item) -> str:
        return self.messages(item)[-1]["content"] if self.judge_sees_requirements else item.question.strip()

    # --- judge scorer ---------------------------------------------------------------------
    def judge_score(self, output: str, item: Item) -> Score:
        """The judge's rating of the output against the human-chosen response's: a win when not lower."""
        judge, prefs, question = self.judge(), list(item.target), self.judge_question(item)
        mine = judge.rate(question, output, prefs)
        if item.id not in self._reference:
            self._reference[item.id] = judge.rate(question, self.reference(item), prefs)
        ref = self._reference[item.id]
        a, b = mine["score"], ref["score"]
        unparsed = mine["unparsed"] + ref["unparsed"]
        comparable = unparsed == 0 and a is not None and b is not None  # an unparsed reply is a loss, never a win
        extra = {"win_rate_strict": float(comparable and a > b),
                 "judge_unparsed_rate": unparsed / max(1, len(mine["calls"]) + len(ref["calls"]))}
        if a is not None:
            extra["judge_score"] = a
        if b is not None:
            extra["judge_score_reference"] = b
        return Score(extracted=a, score=float(comparable and a >= b), extra=extra,
                     details={"judge_unparsed": unparsed, "judge_calls": mine["calls"],
                              "judge_reference_calls": ref["calls"]})

    def aggregate(self, rows: list[dict], seed: int = 0) -> dict[str, dict]:
        """`judge_unparsed`: how many judge replies of this round could not be read (n = judge calls)."""
        calls = [c for r in rows for key in ("judge_calls", "judge_reference_calls") for c in r.get(key) or []]
        if not calls:
            return {}
        bad = sum(c.get("score") is None for c in calls)
        return {"judge_unparsed": MetricCI.point(float(bad), len(calls)).to_dict()}

    # --- judge-free scorer ----------------------------------------------------------------
    def profile_requests(self, item: Item, backend: Any) -> list[tuple[str, str]]:
        """Every candidate after the prompt with the profile, then after the prompt without it."""
        with_ctx = backend.render(self.messages(item, True))
        without = backend.render(self.messages(item, False))
        return [(with_ctx, c) for c in item.choices] + [(without, c) for c in item.choices]

    def profile_pick(self, item: Item, logliks: list[float]) -> Score:
        """Is the user's preferred candidate the most likely one, with and without the profile."""
        n, chosen = len(item.choices), item.meta["chosen"]
        w, wo = logliks[:n], logliks[n:2 * n]
        top_w, top_wo = float(argmax(w) == chosen), float(argmax(wo) == chosen)

        def margin(v: list[float]) -> float:
            others = [x for i, x in enumerate(v) if i != chosen]
            return v[chosen] - (sum(others) / len(others) if others else 0.0)

        return Score(extracted=LETTERS[argmax(w)], score=top_w,
                     extra={"acc_without_profile": top_wo, "profile_gain": top_w - top_wo,
                            "pmi_margin": margin(w) - margin(wo)},
                     details={"chosen": LETTERS[chosen], "pick_without_profile": LETTERS[argmax(wo)]})
