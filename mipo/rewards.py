"""GRPO rewards for `rlvr` and `rlaif`, and the rollouts file both write.

- `gold` (rlvr): the task's own scorer against the gold answer: 1 correct / 0 wrong for math and multiple
  choice; profile_prefs: the share of its checks honoured. An answer the scorer cannot read without its model
  stage (score None) earns 0 and is counted (`unscored`).
- `judge` (rlaif): the authors' 1-5 rubric answered by the initial model (a frozen copy), as in their PPO data
  builders: math, gsm.py:125 (also svamp.py:174; their rubric quotes the gold solution, `item.meta["solution"]`
  here where a task keeps it, else the gold answer, which is all GSM8K items keep); multiple choice, arc.py:187
  (the correct letter); personalization, the judge prompt of
  prism.py:54-55 / ca.py:97-98, one call per stated preference, averaged (tasks/judge.py). The rubric's
  "User: <prompt>\\nAssistant: " is followed by the response, as a single user turn. A reply is read as its
  first integer in 1-5 (tasks/judge.py parse_score); an unreadable reply scores the minimum, 1, and is counted.

Every scored completion is appended to rollouts.jsonl with the trainer's step, its reward and what it rested on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundfloor.backends.base import GenParams
from groundfloor.rundir import append_jsonl
from tasks.base import Item, Task
from tasks.judge import JUDGE_SYSTEM, JUDGE_USER, parse_score

# The authors' rubrics (verbatim, their wording and spelling), gsm.py:125 (= svamp.py:174) and arc.py:187.
GSM_RUBRIC = ("You are a helpful math assistant, that evaluates another assistant's response based on how accurately "
              "the response solves the given problem. Here's the correct response: {gold}\n\nGive a score between 1 "
              "and 5 based on partial correctness. 1 if the reasoning is poor, and 5 if the reasoning is correct and "
              "the answer is correct. Only response with a number between 1 and 5 and do not provide an explanation."
              "\n\nUser: {prompt}\nAssistant: ")
ARC_RUBRIC = ("You are a helpful math assistant, that evaluates another assistant's response based on how accurately "
              "the response answers the given problem. Here's the correct answer: {gold}\n\nGive a score between 1 "
              "and 5 based on partial correctness. 1 if the reasoning is poor, and 5 if the reasoning is correct and "
              "the answer is correct. Only response with a number between 1 and 5 and do not provide an explanation."
              "\n\nUser: {prompt}\nAssistant: ")
JUDGE_MIN = 1.0  # an unreadable judge reply scores the bottom of the 1-5 scale


def completion_text(completion: Any) -> str:
    """A TRL completion as text: conversational ([{"role": "assistant", "content": ...}]) or plain."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if m.get("role") == "assistant")
    return str(completion)


def rubric_messages(task: Task, item: Item, response: str) -> list[list[dict[str, str]]]:
    """The judge's chats for one response: one for math / multiple choice, one per preference otherwise."""
    prompt = task.train_messages(item, with_context=True)[-1]["content"]
    if task.family == "personalization":
        prefs = [str(p) for p in (item.target if isinstance(item.target, (list, tuple)) else [item.target])]
        return [[{"role": "system", "content": JUDGE_SYSTEM},
                 {"role": "user", "content": JUDGE_USER.format(question=prompt, response=response, preference=p)}]
                for p in prefs]
    rubric = GSM_RUBRIC if task.family == "math" else ARC_RUBRIC
    gold = item.meta.get("solution", item.target)
    return [[{"role": "user", "content": rubric.format(gold=gold, prompt=prompt) + response}]]


@dataclass
class Reward:
    """A TRL reward function over (task, prompt id) -> item; `kind` gold or judge; writes rollouts."""

    kind: str
    items: dict[tuple[str, str], tuple[Task, Item]]
    rollouts: Path
    judge: Any = None  # a backend with render/generate (the frozen initial model) for kind judge
    judge_max_new_tokens: int = 16
    counts: dict[str, int] = field(default_factory=lambda: {"completions": 0, "unscored": 0, "judge_calls": 0,
                                                            "judge_unreadable": 0})

    def __post_init__(self) -> None:
        self.__name__ = f"{self.kind}_reward"  # TRL names the reward's log columns after it

    def __call__(self, prompts, completions, prompt_id, task, trainer_state=None, **_) -> list[float]:
        texts = [completion_text(c) for c in completions]
        keys = list(zip(task, prompt_id))
        rows = self._gold(keys, texts) if self.kind == "gold" else self._judged(keys, texts)
        step = trainer_state.global_step if trainer_state is not None else None
        for (t, pid), text, row in zip(keys, texts, rows):
            append_jsonl(self.rollouts, {"step": step, "task": t, "prompt_id": pid, "completion": text, **row})
        self.counts["completions"] += len(rows)
        return [r["reward"] for r in rows]

    def _gold(self, keys, texts) -> list[dict]:
        rows = []
        for key, text in zip(keys, texts):
            task, item = self.items[key]
            score = task.score(text, item).score
            self.counts["unscored"] += score is None
            rows.append({"reward": 0.0 if score is None else float(score), "unscored": score is None})
        return rows

    def _judged(self, keys, texts) -> list[dict]:
        chats = [rubric_messages(*self.items[key], text) for key, text in zip(keys, texts)]
        flat = [c for group in chats for c in group]
        params = GenParams(max_new_tokens=self.judge_max_new_tokens, temperature=0.0, greedy=True,
                           batch_size=max(1, len(flat)))
        replies = [g.text for g in self.judge.generate(flat, params)]
        rows, at = [], 0
        for group in chats:
            got = replies[at:at + len(group)]
            at += len(group)
            parsed = [parse_score(r) for r in got]
            unreadable = sum(p is None for p in parsed)
            self.counts["judge_calls"] += len(got)
            self.counts["judge_unreadable"] += unreadable
            scores = [JUDGE_MIN if p is None else p for p in parsed]
            rows.append({"reward": sum(scores) / len(scores), "judge_replies": got, "judge_unreadable": unreadable})
        return rows
