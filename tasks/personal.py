"""Shared machinery for hub personalization tasks (PRISM, Community Alignment).

Items: `question` = the user's prompt, `context` = the user's stated preferences (one string),
`target` = the list of stated preferences, `choices` = the candidate responses of the dataset,
`meta["chosen"]` = index of the human-chosen / preferred one. MIPO negative: `context_drop`.

Scorers (option `scorer`):
- `judge` (default, the paper): the judge rates 1-5 per stated preference (averaged) for the model's
  response and for the human-chosen one; `win_rate` = model >= reference (ties are wins),
  `win_rate_strict` = model > reference. Judge prompts, replies and scores are kept in samples.
  The judge comes from the options `judge_model` / `judge_provider` / `judge_max_new_tokens`,
  or from the suite's `judge:` block (harness/plan.py calls `set_judge_config`).
- `loglik` (judge-free): does the model give the user's preferred response the highest
  log-likelihood among the candidates, with the profile (`score`) and without (`acc_without_profile`);
  `profile_gain` = the difference, `pmi_margin` = how much the profile raises the preferred
  response's log-likelihood relative to the mean of the others.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import UserError
from tasks.base import GenerationSettings, Item, Score, Task, prompt_hash
from tasks.judge import Judge, load_judge
from tasks.loglik import LETTERS, argmax

SHORT_ANSWER = "Give me a short answer (2-3 sentences) and respect these requirements about me:"
PLAIN = "Give me a short answer (2-3 sentences)."


class PersonalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scorer: Literal["judge", "loglik"] = "judge"
    judge_model: str | None = None
    judge_provider: Literal["transformers", "inspect"] = "transformers"
    judge_max_new_tokens: int = Field(default=16, ge=1)


def split_by_prompt(items: list[Item], fold: int = 5) -> tuple[list[Item], list[Item]]:
    """(eval, train): a fixed 1/fold of the items (by hash of profile + prompt) is evaluated."""
    evals = [it for it in items if int(prompt_hash((it.context or "") + it.question), 16) % fold == 0]
    ids = {it.id for it in evals}
    return evals, [it for it in items if it.id not in ids]


class PersonalTask(Task):
    family = "personalization"
    default_negative = "context_drop"
    default_limit = 200
    generation = GenerationSettings(max_new_tokens=256, temperature=0.1, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    metric = "win_rate"
    extra_metrics = ("win_rate_strict", "judge_score", "judge_score_reference", "acc_without_profile",
                     "profile_gain", "pmi_margin")
    Options = PersonalOptions

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self._judge: Judge | None = None
        self._reference: dict[str, dict] = {}
        if self.options.scorer == "loglik":
            self.metric = "preferred_top_with_profile"

    # --- judge ----------------------------------------------------------------------------
    def set_judge(self, judge: Judge) -> None:
        self._judge = judge

    def set_judge_config(self, cfg: Any) -> None:
        """Use the suite's `judge:` block unless the task options name a judge already."""
        if self.options.judge_model is None and cfg is not None:
            self.options = self.options.model_copy(update={
                "judge_model": cfg.model, "judge_provider": cfg.provider, "judge_max_new_tokens": cfg.max_new_tokens})

    def judge(self) -> Judge:
        if self._judge is None:
            if not self.options.judge_model:
                raise UserError(f"task {self.id} needs a judge: set the task option judge_model, the suite's "
                                "judge: block, or use the option scorer: loglik")
            self._judge = load_judge(self.options.judge_model, self.options.judge_provider,
                                     self.options.judge_max_new_tokens)
        return self._judge

    # --- prompting ------------------------------------------------------------------------
    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        if with_context and item.context:
            return [{"role": "user", "content": f"{SHORT_ANSWER} {item.context}\n\n{item.question}"}]
        return [{"role": "user", "content": f"{PLAIN}\n\n{item.question}"}]

    def reference(self, item: Item) -> str:
        return item.choices[item.meta["chosen"]]

    def gold_output(self, item: Item) -> str:
        return self.reference(item)

    # --- judge scorer ---------------------------------------------------------------------
    def score(self, output: str, item: Item) -> Score:
        judge = self.judge()
        mine = judge.rate(item.question, output, list(item.target))
        if item.id not in self._reference:
            self._reference[item.id] = judge.rate(item.question, self.reference(item), list(item.target))
        ref = self._reference[item.id]
        a, b = mine["score"], ref["score"]
        win = float(a is not None and (b is None or a >= b))
        strict = float(a is not None and (b is None or a > b))
        extra = {"win_rate_strict": strict}
        if a is not None:
            extra["judge_score"] = a
        if b is not None:
            extra["judge_score_reference"] = b
        return Score(extracted=a, score=win, extra=extra,
                     details={"judge_calls": mine["calls"], "judge_reference_calls": ref["calls"]})

    # --- judge-free scorer ----------------------------------------------------------------
    def loglik_requests(self, item: Item, backend: Any) -> list[tuple[str, str]] | None:
        if self.options.scorer != "loglik":
            return None
        with_ctx = backend.render(self.messages(item, True))
        without = backend.render(self.messages(item, False))
        return [(with_ctx, c) for c in item.choices] + [(without, c) for c in item.choices]

    def score_loglik(self, item: Item, logliks: list[float]) -> Score:
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

    def scorers(self) -> list[dict[str, Any]]:
        return [
            {"name": "judge", "active": self.options.scorer == "judge",
             "metrics": ["win_rate", "win_rate_strict", "judge_score", "judge_score_reference"],
             "judge": {"model": self.options.judge_model, "provider": self.options.judge_provider},
             "protocol": "judge rates 1-5 per stated preference, averaged; win = score >= human-chosen's"},
            {"name": "loglik", "active": self.options.scorer == "loglik",
             "metrics": ["preferred_top_with_profile", "acc_without_profile", "profile_gain", "pmi_margin"],
             "protocol": "is the user's preferred candidate the most likely one, with vs without the profile"},
        ]
