"""rlvr's and rlaif's rewards against hand-made cases, and the GRPO config they train with."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from harness.config import TrainingConfig
from groundfloor.errors import UserError
from mipo.grpo import grpo_args, grpo_config
from mipo.rewards import ARC_RUBRIC, GSM_RUBRIC, Reward, rubric_messages
from tasks.base import Item, Score, Task
from tasks.judge import JUDGE_SYSTEM
from tasks.scorers import Generative


def _exact(output: str, item: Item) -> Score:
    if output == "?":
        return Score(extracted=None, score=None)  # a reading that needs the scorer's model stage
    return Score(extracted=output, score=float(output == item.target))


class Sums(Task):
    id = "sums"
    family = "math"
    scorer = Generative(rule=_exact)

    def messages(self, item, with_context=True):
        return [{"role": "user", "content": item.question}]


class Letters(Sums):
    id = "letters"
    family = "mcq"


class Prefs(Sums):
    id = "prefs"
    family = "personalization"

    def messages(self, item, with_context=True):
        return [{"role": "user", "content": f"{item.context}\n\n{item.question}" if with_context else item.question}]


def _call(reward, keys, texts, step=3):
    return reward(prompts=[None] * len(texts), completions=[[{"role": "assistant", "content": t}] for t in texts],
                  prompt_id=[k[1] for k in keys], task=[k[0] for k in keys],
                  trainer_state=SimpleNamespace(global_step=step))


def test_gold_reward_is_one_for_a_correct_answer_and_zero_otherwise(tmp_path):
    task, item = Sums(), Item("a", "1+1?", "2")
    reward = Reward("gold", {("sums", "a"): (task, item)}, tmp_path / "rollouts.jsonl")
    assert _call(reward, [("sums", "a")] * 3, ["2", "3", "?"]) == [1.0, 0.0, 0.0]
    assert reward.counts["unscored"] == 1 and reward.counts["completions"] == 3
    rows = [json.loads(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert [(r["step"], r["completion"], r["reward"], r["unscored"]) for r in rows] == \
        [(3, "2", 1.0, False), (3, "3", 0.0, False), (3, "?", 0.0, True)]


def test_judge_reward_reads_the_grade_and_scores_an_unreadable_reply_as_one(tmp_path):
    task, item = Sums(), Item("a", "1+1?", "2")
    judge = FakeBackend(lambda text: "4" if "Assistant: 2" in text else "I cannot say")
    reward = Reward("judge", {("sums", "a"): (task, item)}, tmp_path / "rollouts.jsonl", judge=judge)
    assert _call(reward, [("sums", "a")] * 2, ["2", "3"]) == [4.0, 1.0]
    assert reward.counts == {"completions": 2, "unscored": 0, "judge_calls": 2, "judge_unreadable": 1}


def test_personalization_judge_averages_one_call_per_preference(tmp_path):
    task = Prefs()
    item = Item("p", "What to cook?", ["I am vegetarian.", "Answer in Spanish."], context="I am vegetarian.")
    judge = FakeBackend(lambda text: "5" if "vegetarian.</user>" in text else "2")
    reward = Reward("judge", {("prefs", "p"): (task, item)}, tmp_path / "r.jsonl", judge=judge)
    assert _call(reward, [("prefs", "p")], ["Pasta with beans."]) == [3.5]
    chats = rubric_messages(task, item, "Pasta with beans.")
    assert len(chats) == 2 and all(c[0] == {"role": "system", "content": JUDGE_SYSTEM} for c in chats)
    assert chats[1][1]["content"].endswith("User's preference: Answer in Spanish.")


def test_math_and_mcq_rubrics_quote_the_gold_and_the_prompt_then_the_response():
    [[math]] = rubric_messages(Sums(), Item("a", "1+1?", "2"), "It is 2")
    assert math["content"] == GSM_RUBRIC.format(gold="2", prompt="1+1?") + "It is 2"
    [[mcq]] = rubric_messages(Letters(), Item("b", "Pick one", "C"), "The answer is: C")
    assert "Here's the correct answer: C" in mcq["content"] and mcq["content"].startswith(ARC_RUBRIC[:40])
    assert mcq["content"].endswith("User: Pick one\nAssistant: The answer is: C")


def test_grpo_config_samples_rollouts_at_t1_with_the_task_budget_and_grpo_args(tiny_model_dir, tmp_path):
    sampling = GenParams(max_new_tokens=32, temperature=0.1, top_p=0.9, greedy=False)
    args = grpo_config(TrainingConfig(), tmp_path, "cpu", True, sampling, str(tiny_model_dir))
    # not the task's near-greedy T 0.1: a group's completions must differ for any advantage to be non-zero
    assert (args.num_generations, args.temperature, args.top_p, args.max_completion_length) == (4, 1.0, 1.0, 32)
    assert args.top_k == 50 and args.learning_rate == 2e-4  # the engines' top-k; the LoRA default
    args = grpo_config(TrainingConfig(grpo_args={"temperature": 0.7, "beta": 0.04}), tmp_path, "cpu", True, sampling,
                       str(tiny_model_dir))
    assert (args.temperature, args.beta) == (0.7, 0.04)
    with pytest.raises(UserError, match="not a field of TRL's GRPOConfig"):
        grpo_args(TrainingConfig(grpo_args={"temprature": 1.0}))
    with pytest.raises(UserError, match="set from the training section"):
        grpo_args(TrainingConfig(grpo_args={"seed": 1}))
