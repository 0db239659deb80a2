"""The registry names a task declares are checked when the task is registered, not after round 0."""

from __future__ import annotations

import pytest
from tests.helpers.reliability_helpers import run_cli

from groundfloor.errors import UserError
from tasks.negatives import NEGATIVES
from tasks.registry import TaskRegistry

CLASS_TASK = '''from tasks.base import Score, Task

class Word(Task):
    id = "word"
    family = "math"
    {attr}
    def messages(self, item, with_context=True):
        return [{{"role": "user", "content": item.question}}]
    def score(self, output, item):
        return Score(output, 1.0)
'''

FUNCTION_TASK = '''from tasks.define import Recipe, task
from tasks.scorers import Generative
from tasks.sources import jsonl_source

@task(family="math", {attr})
def word():
    return Recipe(data=jsonl_source("w.jsonl"), prompt=lambda item: item.question,
                  scorer=Generative(extract=str.strip, compare=str.__eq__))
'''


def _folder(tmp_path, body: str):
    (tmp_path / "word.py").write_text(body)
    return tmp_path


def test_a_bad_default_negative_fails_at_registration(tmp_path):
    folder = _folder(tmp_path, CLASS_TASK.format(attr='default_negative = "derangment"'))
    with pytest.raises(UserError) as e:
        TaskRegistry([folder], use_entry_points=False)
    msg = str(e.value)
    assert msg == (f"{folder / 'word.py'}: task 'word' sets default_negative = 'derangment', which is not known; "
                   f"did you mean 'derangement'? (choices: {', '.join(sorted(NEGATIVES))})")
    assert "\n" not in msg


def test_a_bad_partial_rule_fails_at_registration(tmp_path):
    folder = _folder(tmp_path, CLASS_TASK.format(attr='partial_rule = "period"'))
    with pytest.raises(UserError, match=r"task 'word' sets partial_rule = 'period', which is not known; did you mean "
                                        r"'period_split'\? \(choices: sentence, period_split\)"):
        TaskRegistry([folder], use_entry_points=False)


def test_a_task_function_is_checked_the_same_way(tmp_path):
    folder = _folder(tmp_path, FUNCTION_TASK.format(attr='default_negative="contextdrop"'))
    with pytest.raises(UserError, match="sets default_negative = 'contextdrop'.*did you mean 'context_drop'"):
        TaskRegistry([folder], use_entry_points=False)


def test_the_cli_prints_one_line(tmp_path, monkeypatch, capsys):
    folder = _folder(tmp_path, CLASS_TASK.format(attr='default_negative = "nope"'))
    code, _, err = run_cli(["tasks", "list", "--include", folder], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "task 'word' sets default_negative = 'nope', which is not known" in err and "choices: " in err


def test_declared_names_are_valid_and_built_ins_register(tmp_path):
    ok = _folder(tmp_path, CLASS_TASK.format(attr='default_negative = "context_drop"'))
    reg = TaskRegistry([ok], use_entry_points=False)
    assert "word" in reg.ids() and "gsm8k" in reg.ids()
    assert reg.get("word").default_negative == "context_drop"
