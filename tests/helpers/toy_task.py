"""A two-field toy task (an optional user profile and a question) and its items, for pair and diagnostic tests."""

from __future__ import annotations

from tasks.base import DataSplit, Item, Score, Task


class ToyTask(Task):
    """A two-field task: an optional user profile (context) and a question."""

    id = "toy"
    family = "personalization"

    def load(self, offline):
        return DataSplit([], [], None, None)

    def messages(self, item, with_context=True):
        text = f"{item.context}\n\n{item.question}" if with_context and item.context else item.question
        return [{"role": "user", "content": text}]

    def score(self, output, item):
        return Score(extracted=output, score=0.0)

    def gold_output(self, item):
        return ""


def toy_items(n, context=True):
    """`n` items with a two-sentence question each, and a user profile unless `context` is False."""
    return [Item(id=f"q{i}", question=f"Fact {i} is known. Fact {i + 1} is too. What is {i}?",
                 context=f"I am user {i}." if context else None) for i in range(n)]
