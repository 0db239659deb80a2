"""Multi-Bench (kaist-ai/Multifaceted-Bench, hub only): a preference-bearing system message per prompt, judged.

Each row of the dataset (921 rows, one split `train`; Janus, arXiv 2405.17977) has `source` (the benchmark the
prompt came from), `preference_set` (four {dimension, subdimension, preference, description}), `system` (a
system message written from those preferences), `prompt`, `reference_answer` and `rubrics` (four {criteria,
score_descriptions {"1".."5"}}). Item = one row: `question` = `prompt`, `context` = `system`, `target` = the
four preference descriptions, `meta["reference"]` = `reference_answer`.

The authors' mb.py reads a preprocessed file (`multi_bench/rubric_ppo/test.jsonl`, mb.py:28) with the columns
`augmented_prompt` and `base_prompt` (mb.py:33-34, 67-69); how they were made is not released. Here the
augmented prompt is the system message, a blank line, then the prompt, as one user turn (mb.py:32-35); the
base prompt (the MIPO `context_drop` negative) is the prompt alone. Sampling T 0.1, top-p 0.9, 1024 new
tokens (mb.py:48-54); MIPO pairs at 512 (no Multi-Bench pair script is released; mipo-method.md:34). The judge (one call per item, no preference line) sees "User: <augmented prompt>\\n\\n
Assistant: <response>" after the authors' system line (mb.py:95-98); its reply is read as `int(reply)` and
anything else scores 0 (mb.py:130-136). The reference is the dataset's `reference_answer`, rated by the same
judge (the authors' reference answers were GPT-4o's, mb.py:223, 270: docs/fidelity.md). `win_rate` = the
model's score >= the reference's, with the authors' 0 for an unreadable reply on either side (mb.py:274);
`win_rate_strict` = both replies a score in 1-5 and the model's higher. 1/5 of the prompts (by hash of the
prompt text, so one prompt's several system messages stay in one pool) are evaluated, the rest are MIPO prompts.
"""

from __future__ import annotations

from typing import Any, Literal

from groundfloor.errors import UserError
from tasks.base import GenerationSettings, Item, Score
from tasks.judge import AUTHORS_JUDGE, AUTHORS_JUDGE_ALT
from tasks.personal import PersonalOptions, PersonalTask
from tasks.scorers import Judged, Scorer
from tasks.sources import Hub, Part, Source, SplitRule

HUB = "kaist-ai/Multifaceted-Bench"
# The commit that uploaded the data (the only later commit on main edits README.md)
REVISION = "b25a0a32eb080230aaff2df8651b680a009bb3a6"
REQUIRED = ("source", "preference_set", "system", "prompt", "reference_answer", "rubrics")
AUGMENTED = "{system}\n\n{prompt}"
JUDGE_TURN = "User: {prompt}\n\nAssistant: {response}"  # mb.py:98
METRICS = ("win_rate_strict", "judge_score", "judge_score_reference", "judge_unparsed_rate")
PROTOCOL = ("mb.py's judge: one call per item on the full prompt, reply read as int(reply) else 0; win = score >= "
            "the reference answer's (an unreadable reply scores 0 on either side); strict: both 1-5 and higher")


def authors_value(reply: str) -> int:
    """mb.py:130-136: `int(reply)`; a reply that int() cannot read scores 0."""
    try:
        return int(reply)
    except ValueError:
        return 0


def readable(reply: str) -> float | None:
    """The reply as a 1-5 score when int() reads it and it is in range; None (unreadable) otherwise."""
    value = authors_value(reply)
    return float(value) if 1 <= value <= 5 else None


def mb_items(rows) -> list[Item]:
    """One item per row (id = row position at the pinned revision); a missing column is a one-line error."""
    items = []
    for i, row in enumerate(rows):
        missing = [c for c in REQUIRED if c not in row]
        if missing:
            raise UserError(f"task multibench: row {i} lacks the column(s) {', '.join(missing)} "
                            f"(expected {', '.join(REQUIRED)}); pin the revision {REVISION[:8]}")
        prefs = [str(p.get("description") or p.get("preference") or "").strip() for p in row["preference_set"] or []]
        items.append(Item(id=f"mb-{i:04d}", question=str(row["prompt"]).strip(), target=[p for p in prefs if p],
                          context=str(row["system"]).strip(),
                          meta={"reference": str(row["reference_answer"]), "source": str(row["source"])}))
    return items


class MultibenchOptions(PersonalOptions):
    scorer: Literal["judge"] = "judge"  # one reference answer and no candidates: no log-likelihood scorer


class Multibench(PersonalTask):
    id = "multibench"
    description = ("Multi-Bench (hub, Multifaceted-Bench): system message + prompt as one user turn (mb.py); judge "
                   "win rate vs the dataset's reference answer (the authors': GPT-4o's)")
    default_limit = None  # the whole evaluation pool (~1/5 of 921 rows)
    generation = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)
    # no Multi-Bench pair script is released: the personalization pairs' sampling (mipo-method.md:34)
    train_generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    Options = MultibenchOptions
    judge_sees_requirements = True

    def data_sources(self) -> list[Source]:
        return [Source("hub", Part((Hub(HUB, None, "train", revision=REVISION),), mb_items),
                       split=SplitRule("hash", fold=5, held="eval"),
                       note="system = the user's preferences; reference_answer = the reference")]

    def scorer_choices(self) -> dict[str, Scorer]:
        return {"judge": Judged(metric="win_rate", metrics=METRICS, rule=self.judge_score, about=self.judge_info,
                                protocol=PROTOCOL)}

    def judge_info(self) -> dict[str, Any]:
        return {"model": self.options.judge_model, "provider": self.options.judge_provider,
                "authors": f"{AUTHORS_JUDGE} (--use_qwen or a result file named 'qwen', mb.py:80-82) or "
                           f"{AUTHORS_JUDGE_ALT} (otherwise, mb.py:83-84)"}

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        prompt = item.question.strip()
        if with_context and item.context:
            return [{"role": "user", "content": AUGMENTED.format(system=item.context, prompt=prompt)}]
        return [{"role": "user", "content": prompt}]

    def reference(self, item: Item) -> str:
        return item.meta["reference"]

    def _rate(self, item: Item, response: str) -> dict:
        user = JUDGE_TURN.format(prompt=self.judge_question(item), response=response)
        reply = self.judge().ask([user])[0]
        return {"prompt": user, "reply": reply, "authors_score": authors_value(reply), "score": readable(reply)}

    def judge_score(self, output: str, item: Item) -> Score:
        """mb.py's win: the model's judged score >= the reference answer's, unreadable replies scoring 0."""
        mine = self._rate(item, output)
        if item.id not in self._reference:
            self._reference[item.id] = self._rate(item, self.reference(item))
        ref = self._reference[item.id]
        a, b = mine["score"], ref["score"]
        unparsed = (a is None) + (b is None)
        extra = {"win_rate_strict": float(a is not None and b is not None and a > b),
                 "judge_score": float(mine["authors_score"]), "judge_score_reference": float(ref["authors_score"]),
                 "judge_unparsed_rate": unparsed / 2}
        return Score(extracted=mine["authors_score"], score=float(mine["authors_score"] >= ref["authors_score"]),
                     extra=extra, details={"judge_unparsed": unparsed, "judge_calls": [mine],
                                           "judge_reference_calls": [ref]})
