"""`rlaif.judge_model`: the initial model judges by default (the authors'); a named model judges when set."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.models.resolve import ResolvedModel
from groundfloor.policy import Policy
from harness.config import parse_suite
from mipo import grpo_round


def _inp(judge_model: str | None, logs: list[str]):
    cfg = SimpleNamespace(rlaif=SimpleNamespace(judge_model=judge_model))
    return SimpleNamespace(cfg=cfg, device="cpu", dtype=None, log=logs.append)


def test_default_judge_is_the_initial_model(tiny_model_dir, monkeypatch):
    monkeypatch.setattr("groundfloor.models.resolve.resolve_model",
                        lambda *a, **k: pytest.fail("no model is resolved when the initial model judges"))
    judge = grpo_round._judge(_inp(None, []), Policy(base=str(tiny_model_dir)))
    try:
        assert judge.name == "judge:initial"
    finally:
        judge.close()


def test_a_named_judge_model_is_resolved_loaded_and_logged(tiny_model_dir, monkeypatch):
    asked = []

    def resolve(model_id, log=None, **kw):
        asked.append(model_id)
        return ResolvedModel(id=model_id, path=str(tiny_model_dir), family="llama", source="local")

    monkeypatch.setattr("groundfloor.models.resolve.resolve_model", resolve)
    logs: list[str] = []
    initial = Policy(base="/nonexistent/initial")  # would fail to load: the named model must be the one loaded
    judge = grpo_round._judge(_inp("my-judge", logs), initial)
    try:
        assert asked == ["my-judge"] and judge.name == "judge:my-judge"
        assert any("rlaif judge: my-judge" in m for m in logs)
        out = judge.generate([[{"role": "user", "content": "Score: 1-5"}]], GenParams(max_new_tokens=2, greedy=True))
        assert len(out) == 1
    finally:
        judge.close()


def test_judge_model_is_checked_in_the_suite():
    base = {"models": ["m"], "tasks": ["profile_prefs"], "methods": ["rlaif"]}
    assert parse_suite(base).rlaif.judge_model is None
    assert parse_suite({**base, "rlaif": {"judge_model": "qwen2.5-coder-0.5b-instruct"}}).rlaif.judge_model == \
        "qwen2.5-coder-0.5b-instruct"
    from groundfloor.errors import UserError

    with pytest.raises(UserError):
        parse_suite({**base, "rlaif": {"judge_model": ""}})
    with pytest.raises(UserError):
        parse_suite({**base, "rlaif": {"judge": "x"}})
