"""A task from a function: `@task` builds the Task subclass from data, a prompt function and a scorer.

The short route for simple tasks, in the manner of inspect_ai's `@task` (docs/adding-a-task.md):

    @task(family="math", default_limit=100)
    def word_sums():
        '''Arithmetic word problems from a local file; last number in the output.'''
        return Recipe(data=jsonl_source(DATA), prompt=lambda item: item.question,
                      scorer=Generative(extract=extract_flexible, compare=numbers_equal))

The function's name is the task id (or `id=`) and its docstring's first line the description; the
decorator's keywords set the other class attributes of Task. The function's parameters (each with a
default) are the task's options, validated as any task's, and it is called with them once per task
built. The decorator returns the Task subclass, so a module holding it registers as one defining the
class would (`--include` folders, entry points). A task that needs more (several scorers, its own
`load`, train prompts other than its evaluation prompt) subclasses Task.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, create_model

from groundfloor.errors import UserError
from tasks.base import Item, NoOptions, Task
from tasks.scorers import Scorer
from tasks.sources import Source

Messages = list[dict[str, str]]
ATTRIBUTES = ("family", "description", "default_negative", "partial_rule", "default_limit", "default_seed",
              "generation", "train_generation", "label_leak")


@dataclass(frozen=True)
class Recipe:
    """What a task function returns: its data sources (hub first), its prompt and its scorer.

    `prompt(item)` gives the user message's text, or the chat messages; when the user's profile is
    dropped (the `context_drop` negative) it gets the item with `context` None.
    """

    data: Source | Sequence[Source]
    prompt: Callable[[Item], str | Messages]
    scorer: Scorer


class FunctionTask(Task):
    """A task made by `@task`: data, prompt and scorer come from the recipe its function returns."""

    make: ClassVar[Callable[..., Recipe]]

    @cached_property
    def recipe(self) -> Recipe:
        """The function's recipe for this task's options (made once, when the base class asks for the scorer)."""
        made = type(self).make(**self.options.model_dump())
        if not isinstance(made, Recipe):
            raise UserError(f"task {self.id}: its function must return a Recipe, not {type(made).__name__}")
        return made

    def scorer_choices(self) -> dict[str, Scorer]:
        return {self.recipe.scorer.name: self.recipe.scorer}

    def data_sources(self) -> list[Source]:
        data = self.recipe.data
        return [data] if isinstance(data, Source) else list(data)

    def messages(self, item: Item, with_context: bool = True) -> Messages:
        made = self.recipe.prompt(item if with_context else replace(item, context=None))
        return [{"role": "user", "content": made}] if isinstance(made, str) else list(made)


def options_model(fn: Callable[..., Recipe]) -> type[BaseModel]:
    """The options of a task function: one field per parameter, with its annotation and default."""
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn, eval_str=True).parameters.values():
        if p.default is p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"task function {fn.__name__}: parameter {p.name} needs a default (it is an option)")
        fields[p.name] = (Any if p.annotation is p.empty else p.annotation, p.default)
    if not fields:
        return NoOptions
    return create_model(f"{fn.__name__}_options", __config__=ConfigDict(extra="forbid"), **fields)


def task(fn: Callable[..., Recipe] | None = None, /, *, id: str | None = None, **attributes: Any) -> Any:
    """Decorator: the Task subclass made from a function returning a `Recipe`; keywords set Task attributes."""
    if fn is None:
        return lambda f: task(f, id=id, **attributes)
    wrong = sorted(set(attributes) - set(ATTRIBUTES))
    if wrong:
        raise TypeError(f"task function {fn.__name__}: unknown attribute {', '.join(wrong)} "
                        f"(choices: id, {', '.join(ATTRIBUTES)})")
    if "family" not in attributes:
        raise TypeError(f"task function {fn.__name__}: give its family (math | mcq | personalization)")
    doc = inspect.getdoc(fn) or ""
    body = {"id": id or fn.__name__, "description": doc.split("\n\n")[0].replace("\n", " "), **attributes,
            "Options": options_model(fn), "make": staticmethod(fn), "__module__": fn.__module__,
            "__qualname__": fn.__qualname__, "__doc__": fn.__doc__}
    return type(fn.__name__, (FunctionTask,), body)
