"""The registry of negative strategies: how MIPO's rejected response is written when it is not conditioned on x.

Each strategy builds its rejected responses, the counterfactual prompt x' of the PMI diagnostic, and
knows its provenance rule (whose prompt a rejected response may answer). The suite's `negative:` values
and a task's `default_negative` are keys of `NEGATIVES`.

- derangement: the answer the model wrote for another prompt (a permutation with no fixed point);
- resample: a fresh sample for a random other prompt;
- context_drop: the answer to the same query with the user's profile removed;
- partial_prompt: the answer to x with one sentence of the problem removed (an ablation).

Negatives from other prompts (derangement, resample) stay within an item's `meta["pair_group"]`: SVAMP
deranges its own prompts and appends GSM8K pairs built among GSM8K prompts, as the authors do
(../shared/reference/mipo-authors/svamp.py:150-157). The partial prompt is `meta["partial_question"]` when a
task gives one (SVAMP: the question without its body, svamp.py:195), else the task's `partial_rule`:
"period_split" is the authors' GSM8K cut (gsm.py:144-155: split on ".", drop one piece other than the
last; a question without one is skipped), "sentence" drops one non-final sentence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import random
import re
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

from groundfloor.backends.base import Backend, GenParams

if TYPE_CHECKING:
    from tasks.base import Item, Task

Messages = list[dict[str, str]]
Rejected = tuple[list[str | None], list[str | None], list[Messages | None]]  # texts, source ids, prompts


def derangement(n: int, rng: random.Random) -> list[int]:
    """A uniformly random permutation of range(n) with no fixed point (n >= 2)."""
    if n < 2:
        raise ValueError("a derangement needs at least two prompts")
    while True:
        perm = list(range(n))
        rng.shuffle(perm)
        if all(i != p for i, p in enumerate(perm)):
            return perm


def other_index(i: int, n: int, rng: random.Random) -> int:
    """A random index in range(n) other than i."""
    j = rng.randrange(n - 1)
    return j if j < i else j + 1


def drop_sentence(text: str, rng: random.Random) -> str | None:
    """The text with one of its non-final sentences removed (the final one is usually the question)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    if len(sentences) < 2:
        return None
    k = rng.randrange(len(sentences) - 1)
    return " ".join(s for i, s in enumerate(sentences) if i != k)


def drop_period_piece(text: str, rng: random.Random) -> str | None:
    """The authors' GSM8K partial question (gsm.py:144-155): split on ".", drop one piece but the last."""
    pieces = text.split(".")
    head = pieces[:-1]
    if not head:
        return None
    k = rng.randrange(len(head))
    return (".".join(head[:k] + head[k + 1:]) + "." + pieces[-1]).strip()


# how a partial_prompt negative cuts a question: a task's `partial_rule` names one (checked at registration)
PARTIAL_RULES = {"sentence": drop_sentence, "period_split": drop_period_piece}


def partial_question(task: Task, item: Item, rng: random.Random) -> str | None:
    """The question with part of the problem removed (None: the task's rule cannot cut it)."""
    if item.meta.get("partial_question"):
        return item.meta["partial_question"]
    return PARTIAL_RULES[task.partial_rule](item.question, rng)


def pair_groups(items: list[Item]) -> dict[str, list[int]]:
    """The items' indices by `meta["pair_group"]`, groups in order of first appearance."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        groups[str(it.meta.get("pair_group", ""))].append(i)
    return groups


def grouped_derangement(items: list[Item], rng: random.Random) -> list[int | None]:
    """For each item the index of another item of its pair group (None: the group has a single item)."""
    out: list[int | None] = [None] * len(items)
    for members in pair_groups(items).values():
        if len(members) < 2:
            continue
        for i, p in zip(members, derangement(len(members), rng)):
            out[i] = members[p]
    return out


def generate_some(backend: Backend, prompts: list, params: GenParams) -> list[str | None]:
    """Answers to the prompts that exist (None stays None), in one generation call."""
    idx = [i for i, p in enumerate(prompts) if p is not None]
    texts = [g.text for g in backend.generate([prompts[i] for i in idx], params)] if idx else []
    out: list[str | None] = [None] * len(prompts)
    for i, t in zip(idx, texts):
        out[i] = t
    return out


class Negative(ABC):
    """A negative strategy; `other_prompt`: its rejected response answers another prompt (else x's own query)."""

    name: str = ""
    other_prompt: bool = True
    generates: bool = True  # False: the rejected side costs no generation (and has no sampling seed)

    def check(self, task: Task, items: list[Item]) -> None:
        """Raise ValueError when the strategy cannot build negatives for these items."""

    @abstractmethod
    def rejected(self, task: Task, items: list[Item], positives: list[str], backend: Backend, params: GenParams,
                 rng: random.Random) -> Rejected:
        """Per item: the rejected response, the id of the prompt it answered, the prompt it answered (or None)."""

    def counterfactuals(self, task: Task, items: list[Item], rng: random.Random) -> list[Messages | None]:
        """x' for each prompt of the PMI diagnostic (None: none exists): by default another prompt."""
        prompts = [task.train_messages(it) for it in items]
        return [prompts[p] for p in derangement(len(items), rng)]

    def provenance_problems(self, pair: dict) -> list[str]:
        """What is wrong with the pair's rejected side under this strategy's rule (empty: nothing)."""
        own = pair["rejected_from"] == pair["prompt_id"]
        if self.other_prompt and own:
            return [f"{pair['prompt_id']}: rejected response written for its own prompt"]
        if not self.other_prompt and not own:
            return [f"{pair['prompt_id']}: {self.name} negative from another query"]
        return []


class Derangement(Negative):
    name, generates = "derangement", False

    def rejected(self, task, items, positives, backend, params, rng) -> Rejected:
        other = grouped_derangement(items, rng)
        sources = [items[j].id if j is not None else None for j in other]
        return [positives[j] if j is not None else None for j in other], sources, [None] * len(items)


class Resample(Negative):
    name = "resample"

    def rejected(self, task, items, positives, backend, params, rng) -> Rejected:
        grouped_derangement(items, rng)  # draws as derangement does, so both strategies see the same stream
        group_of = {i: members for members in pair_groups(items).values() for i in members}
        other = [g[other_index(g.index(i), len(g), rng)] if len(g) > 1 else None
                 for i, g in sorted(group_of.items())]
        sources = [items[j].id if j is not None else None for j in other]
        prompts = [task.train_messages(items[j], with_context=True) if j is not None else None for j in other]
        return generate_some(backend, prompts, params), sources, prompts


class ContextDrop(Negative):
    name, other_prompt = "context_drop", False

    def check(self, task, items) -> None:
        if not any(it.context for it in items):
            raise ValueError(f"task {task.id} has no user context to drop; use derangement")

    def rejected(self, task, items, positives, backend, params, rng) -> Rejected:
        prompts = [task.train_messages(it, with_context=False) for it in items]
        return generate_some(backend, prompts, params), [it.id for it in items], prompts

    def counterfactuals(self, task, items, rng) -> list[Messages | None]:
        return [task.train_messages(it, with_context=False) for it in items]

    def provenance_problems(self, pair: dict) -> list[str]:
        problems = super().provenance_problems(pair)
        if pair.get("rejected_prompt") and \
                not _is_subsequence(_WORDS.findall(pair["rejected_prompt"]), _WORDS.findall(pair["prompt"])):
            problems.append(f"{pair['prompt_id']}: context_drop negative asked a different question")
        return problems


class PartialPrompt(Negative):
    name, other_prompt = "partial_prompt", False

    def rejected(self, task, items, positives, backend, params, rng) -> Rejected:
        cuts = [partial_question(task, it, rng) for it in items]
        prompts = [task.train_messages(replace(it, question=q), with_context=True) if q else None
                   for it, q in zip(items, cuts)]
        return generate_some(backend, prompts, params), [it.id for it in items], prompts

    def counterfactuals(self, task, items, rng) -> list[Messages | None]:
        cuts = [partial_question(task, it, rng) for it in items]
        return [task.train_messages(replace(it, question=q)) if q else None for it, q in zip(items, cuts)]


NEGATIVES: dict[str, Negative] = {n.name: n for n in (Derangement(), Resample(), ContextDrop(), PartialPrompt())}

_WORDS = re.compile(r"\w+")


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    """Every word of `short`, in order, occurs in `long`: a context-dropped prompt is the full one minus words."""
    it = iter(long)
    return all(w in it for w in short)
