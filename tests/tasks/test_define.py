"""`@task` (tasks/define.py): a task from a function, the same as the class it stands for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.helpers.reliability_helpers import install_task_plugin, run_cli

from groundfloor.errors import UserError
from tasks.base import Item
from tasks.registry import TaskRegistry

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-task.md"

OPTIONS_TASK = '''from tasks.define import Recipe, task
from tasks.scorers import Generative
from tasks.sources import jsonl_source

@task(id="greet", family="personalization", default_negative="context_drop", default_limit=None)
def greeting(shout: bool = False, name: str = "you"):
    """Say hello.

    More words that are not the description.
    """
    def prompt(item):
        text = f"{item.context or 'nobody'}: hello {name}"
        return text.upper() if shout else text
    return Recipe(data=jsonl_source("g.jsonl", context="profile"), prompt=prompt,
                  scorer=Generative(extract=str.strip, compare=str.__eq__))
'''


def _routes(tmp_path) -> dict[str, object]:
    """The guide's two examples, each registered from its own folder."""
    out = {}
    for route, code in zip(("function", "class"), re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)):
        folder = tmp_path / route
        folder.mkdir()
        (folder / "word_sums.py").write_text(code)
        out[route] = TaskRegistry([folder], use_entry_points=False).get("word_sums")
    return out


def test_the_guide_function_is_the_guide_class(tmp_path):
    routes = _routes(tmp_path)
    fn, cls = routes["function"], routes["class"]
    item = Item("ws-1", "Ann has 3 apples and buys 4 more.", "7")
    assert fn.messages(item) == cls.messages(item)
    drop = lambda d: {k: v for k, v in d.items() if k not in ("sources", "description")}  # noqa: E731
    assert drop(fn.describe()) == drop(cls.describe())
    assert fn.description == cls.description + "."  # the function's docstring, its sentence's period kept
    same = lambda t: json.dumps(t.describe()["sources"]).replace(str(tmp_path / "class"), "F")  # noqa: E731
    assert same(fn).replace(str(tmp_path / "function"), "F") == same(cls)  # each reads its own folder's file
    for output in ("It is 7", "no idea", "8 then 7"):
        assert fn.score(output, item) == cls.score(output, item)


def test_options_description_and_context(tmp_path):
    (tmp_path / "greet.py").write_text(OPTIONS_TASK)
    reg = TaskRegistry([tmp_path], use_entry_points=False)
    item = Item("g-1", "hi", "x", context="Ann")
    plain = reg.get("greet")
    assert plain.description == "Say hello." and plain.default_negative == "context_drop"
    assert plain.messages(item) == [{"role": "user", "content": "Ann: hello you"}]
    assert plain.messages(item, with_context=False) == [{"role": "user", "content": "nobody: hello you"}]
    loud = reg.get("greet", {"shout": True, "name": "Bo"})
    assert loud.messages(item)[0]["content"] == "ANN: HELLO BO" and loud.options.model_dump() == {
        "shout": True, "name": "Bo"}
    with pytest.raises(UserError, match="unknown option for task greet 'shot'; did you mean 'shout'"):
        reg.get("greet", {"shot": True})
    with pytest.raises(UserError, match="task greet: option shout"):
        reg.get("greet", {"shout": "very"})


def test_bad_definitions_fail_at_import(tmp_path, monkeypatch, capsys):
    bad = OPTIONS_TASK.replace('shout: bool = False', 'shout: bool').replace("default_limit=None", "limit=3")
    (tmp_path / "greet.py").write_text(bad)
    code, _, err = run_cli(["tasks", "list", "--include", tmp_path], monkeypatch, capsys)
    assert code == 2 and "greet.py: failed to import (TypeError: task function greeting: unknown attribute limit" in err


def test_a_task_function_as_an_entry_point(tmp_path, monkeypatch, capsys):
    body = OPTIONS_TASK.replace('"g.jsonl"', repr(str(tmp_path / "g.jsonl")))
    rows = [{"id": f"g{i}", "question": f"q{i}", "answer": "x", "split": "eval" if i < 3 else "train",
             "profile": "p"} for i in range(5)]
    (tmp_path / "g.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    install_task_plugin(tmp_path, monkeypatch, "greetfn", body)
    code, out, err = run_cli(["tasks", "validate", "greet"], monkeypatch, capsys)
    assert code == 0, err
    assert "3 eval items, 2 train prompts" in out
