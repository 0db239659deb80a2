"""`mipo-bench score` and the lm-eval / inspect-ai exports: same items, same prompts, same scores."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundfloor.errors import UserError
from harness.evaluation.score import parse_prediction, read_predictions
from tests.helpers.reliability_helpers import run_cli

TASKS = ("gsm8k", "arc_challenge")
LIMIT = 6




def fixed_outputs(task_id: str, docs: list[dict]) -> dict[str, str]:
    """A deterministic mix of right, wrong, formatted and empty outputs for each doc."""
    outs = {}
    for i, d in enumerate(docs):
        t = d["target"]
        if task_id == "gsm8k":
            options = [f"Step by step.\n#### {t}", f"#### {t}.00", "I think it is 12345.", f"so {t}",
                       "", f"#### {t}\n#### 999"]
        else:
            wrong = "A" if t != "A" else "B"
            options = [f"The answer is: {t}", f"The answer is: {wrong}", f"**{t}**", f"({t}) is correct",
                       "No idea.", f"the answer is ({t.lower()})."]
        outs[d["id"]] = options[i % len(options)]
    return outs


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """Both tasks exported for lm-eval (LIMIT items each, as a run samples them)."""
    from harness.evaluation.export.common import plan_exports
    from harness.evaluation.export.lmeval import export_lmeval

    out = tmp_path_factory.mktemp("lmeval")
    export_lmeval(plan_exports(list(TASKS), [], LIMIT, offline=True), out, [])
    return out


def read_docs(folder: Path, task_id: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{task_id}.jsonl").read_text().splitlines() if line]


def our_scores(task_id: str, outputs: dict[str, str], tmp_path: Path, monkeypatch, capsys) -> dict[str, dict]:
    """Score `outputs` with `mipo-bench score`, by id."""
    preds = tmp_path / f"{task_id}.preds.jsonl"
    preds.write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in outputs.items()))
    scored = tmp_path / f"{task_id}.scored.jsonl"
    code, out, err = run_cli(["score", "--task", task_id, "--predictions", str(preds), "--out", str(scored)],
                             monkeypatch, capsys)
    assert code == 0, err
    assert f"{task_id} accuracy:" in out and f"n={len(outputs)}" in out
    if task_id == "gsm8k":  # some outputs need the model stage: the main metric is said to be not computed
        assert f"{task_id} accuracy: not computed:" in out and "give --model" in out
    return {r["id"]: r for r in map(json.loads, scored.read_text().splitlines())}


GSM_OUTPUTS = ["So she makes 18 dollars.", "The total is \\boxed{42}.", "#### 7", "", "Nothing to say here."]


def gsm_predictions(tmp_path: Path, outputs: list[str]) -> tuple[Path, list]:
    """A predictions file with one output per GSM8K evaluation item (offline data), in item order."""
    from tasks.registry import TaskRegistry

    items = TaskRegistry().get("gsm8k").load(True).eval_items[:len(outputs)]
    preds = tmp_path / "gsm.preds.jsonl"
    preds.write_text("".join(json.dumps({"id": it.id, "output": o}) + "\n" for it, o in zip(items, outputs)))
    return preds, items


def test_score_without_model_reports_the_model_stage_not_run(tmp_path, monkeypatch, capsys):
    preds, _ = gsm_predictions(tmp_path, GSM_OUTPUTS)
    code, out, err = run_cli(["score", "--task", "gsm8k", "--predictions", str(preds)], monkeypatch, capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "gsm.preds.scored.jsonl").read_text().splitlines()]
    assert [r["extraction"] for r in rows] == ["not_run", "not_run", "marker", "none", "not_run"]
    assert [r["score"] is None for r in rows] == [True, True, False, False, True]
    assert all("extraction_reply" not in r for r in rows)
    assert "gsm8k accuracy: not computed: 3 of 5 outputs need the extraction stage" in out
    assert "gsm8k accuracy_strict:" in out and "gsm8k accuracy_marker:" in out
    assert not any(line.startswith("gsm8k accuracy: 0") for line in out.splitlines())  # never a silent zero


def test_score_adapter_needs_a_model(tmp_path, monkeypatch, capsys):
    preds, _ = gsm_predictions(tmp_path, GSM_OUTPUTS[:1])
    code, _, err = run_cli(["score", "--task", "gsm8k", "--predictions", str(preds), "--adapter", str(tmp_path)],
                           monkeypatch, capsys)
    assert code == 2 and "--adapter needs --model" in err
    assert not (tmp_path / "gsm.preds.scored.jsonl").exists()


def test_score_with_model_runs_the_model_stage(tmp_path, monkeypatch, capsys, tiny_model_dir):
    """--model runs the extraction turn with that model (the tiny random one here: whatever it replies is read)."""
    preds, items = gsm_predictions(tmp_path, GSM_OUTPUTS)
    code, out, err = run_cli(["score", "--task", "gsm8k", "--predictions", str(preds), "--model", str(tiny_model_dir),
                              "--device", "cpu", "--seed", "7"], monkeypatch, capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "gsm.preds.scored.jsonl").read_text().splitlines()]
    asked = [r for r in rows if "extraction_reply" in r]
    assert len(asked) == 3 and all(r["extraction"] in ("model", "none") for r in asked)
    assert all(r["score"] in (0.0, 1.0) and r["extraction_seed"] == 7 for r in rows if "extraction_reply" in r)
    assert all(r["extraction_prompt"].count("Extract the numeric answer from this reasoning") == 1 for r in asked)
    assert rows[2]["extraction"] == "marker" and "extraction_reply" not in rows[2]
    assert "not computed" not in out and "extraction stage: 3 of 5 outputs asked" in out
    assert "gsm8k accuracy: " in out and "note" not in rows[0]


# --- score -----------------------------------------------------------------------------------

def test_score_writes_fields_and_aggregate(tmp_path, monkeypatch, capsys, exported):
    docs = read_docs(exported, "gsm8k")
    rows = our_scores("gsm8k", fixed_outputs("gsm8k", docs), tmp_path, monkeypatch, capsys)
    first = rows[docs[0]["id"]]
    assert first["correct"] is True and first["score"] == 1.0 and first["extracted"] == docs[0]["target"]
    assert {"accuracy_strict", "accuracy_flexible", "accuracy_marker", "target", "output"} <= set(first)
    assert first["extraction"] == "marker"
    third = rows[docs[2]["id"]]  # no '####': the authors' reading needs the model stage, not run here
    assert third["correct"] is None and third["score"] is None and third["extraction"] == "not_run"
    assert "not run" in third["note"] and third["accuracy_flexible"] == 0.0
    assert rows[docs[4]["id"]]["extraction"] == "none" and rows[docs[4]["id"]]["score"] == 0.0  # empty: no answer


def test_score_finds_train_pool_ids(tmp_path, monkeypatch, capsys):
    from tasks.registry import TaskRegistry

    split = TaskRegistry().get("gsm8k").load(True)
    item = split.train_items[0]
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": item.id, "output": f"#### {item.target}"}) + "\n")
    code, _, err = run_cli(["score", "--task", "gsm8k", "--predictions", str(preds)], monkeypatch, capsys)
    assert code == 0, err
    row = json.loads((tmp_path / "p.scored.jsonl").read_text())
    assert row["correct"] is True


def test_score_malformed_line_names_file_and_line(tmp_path, monkeypatch, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "test-1", "output": "#### 3"}\n\n{"id": "test-2", "output": 5}\n')
    code, _, err = run_cli(["score", "--task", "gsm8k", "--predictions", str(preds)], monkeypatch, capsys)
    assert code == 2
    assert f"{preds}:3" in err and "'output' must be a string" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.scored.jsonl").exists()


def test_score_unknown_ids_write_nothing(tmp_path, monkeypatch, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "test-1", "output": "#### 3"}\n{"id": "nope-1", "output": "1"}\n'
                     '{"id": "nope-2", "output": "1"}\n')
    code, _, err = run_cli(["score", "--task", "gsm8k", "--predictions", str(preds)], monkeypatch, capsys)
    assert code == 2 and "2 of 3 predictions have ids unknown" in err
    assert not (tmp_path / "p.scored.jsonl").exists()


def test_score_missing_file_and_unknown_task(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(["score", "--task", "gsm8k", "--predictions", str(tmp_path / "x.jsonl")],
                           monkeypatch, capsys)
    assert code == 2 and "not found" in err
    code, _, err = run_cli(["score", "--task", "gsm8kk", "--predictions", str(tmp_path / "x.jsonl")],
                           monkeypatch, capsys)
    assert code == 2 and "did you mean 'gsm8k'" in err


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_prediction_parser_never_crashes_on_text(line):
    try:
        row = parse_prediction(line, "f.jsonl", 7)
    except UserError as e:
        assert str(e).startswith("f.jsonl:7: ") and "\n" not in str(e)
    else:
        assert isinstance(row["id"], str) and isinstance(row["output"], str)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3),
                           max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "output", "extra"]), json_values, max_size=3) | json_values)
def test_prediction_parser_never_crashes_on_json(value):
    try:
        row = parse_prediction(json.dumps(value), "f.jsonl", 1)
    except UserError:
        return
    assert isinstance(row["id"], str) and isinstance(row["output"], str)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_predictions_file_reader_never_crashes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "p.jsonl"
    path.write_bytes(blob)
    try:
        rows = read_predictions(path)
    except UserError as e:
        assert str(path) in str(e)
    else:
        assert rows and all(isinstance(r["output"], str) for r in rows)


def test_deeply_nested_json_is_a_user_error():
    with pytest.raises(UserError, match="f:1"):
        parse_prediction("[" * 100_000, "f", 1)


# --- exports ---------------------------------------------------------------------------------

def test_export_uses_the_runs_items_and_prompts(exported):
    from harness.config import parse_suite
    from harness.run.runner import build_plans

    cfg = parse_suite({"models": ["x"], "tasks": [{"id": t} for t in TASKS]})
    plans = {p.task.id: p for p in build_plans(cfg, LIMIT, offline=True)}
    for tid in TASKS:
        docs = read_docs(exported, tid)
        plan = plans[tid]
        assert [d["id"] for d in docs] == [it.id for it in plan.eval_items]
        assert [d["prompt"] for d in docs] == [plan.task.messages(it)[0]["content"] for it in plan.eval_items]
        yaml_text = (exported / f"mipo_{tid}.yaml").read_text()
        assert f'test: "{exported / (tid + ".jsonl")}"' in yaml_text
        assert "process_results: !function utils.process_results" in yaml_text
    settings_ = json.loads((exported / "mipo_bench_export.json").read_text())
    # GSM8K's main metric needs the model stage, which lm-eval's scoring cannot run: not exported
    assert settings_["tasks"]["gsm8k"]["metrics"] == ["accuracy_strict", "accuracy_flexible", "accuracy_marker"]
    assert "not exported" in (exported / "mipo_gsm8k.yaml").read_text()
    assert settings_["tasks"]["arc_challenge"]["metrics"][0] == "accuracy"


def test_export_cli_and_bad_task(tmp_path, monkeypatch, capsys):
    code, out, err = run_cli(["export", "lm-eval", "--tasks", "gsm8k", "--out", str(tmp_path / "e"), "--limit", "2"],
                             monkeypatch, capsys)
    assert code == 0, err
    assert "mipo_gsm8k.yaml" in out and len(read_docs(tmp_path / "e", "gsm8k")) == 2
    code, _, err = run_cli(["export", "lm-eval", "--tasks", "gsm8k,nope", "--out", str(tmp_path / "f")],
                           monkeypatch, capsys)
    assert code == 2 and "unknown task 'nope'" in err


def test_lm_eval_agrees_item_by_item(exported, tmp_path, monkeypatch, capsys):
    pytest.importorskip("lm_eval")
    from lm_eval.api.model import LM
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.tasks import TaskManager

    outputs = {tid: fixed_outputs(tid, read_docs(exported, tid)) for tid in TASKS}
    contexts = []

    class FixedLM(LM):
        """Returns the fixed prediction of each doc; records the contexts it was asked about."""

        def generate_until(self, requests):
            contexts.extend((r.doc, r.args[0]) for r in requests)
            return [outputs[r.doc["mipo_task"]][r.doc["id"]] for r in requests]

        def loglikelihood(self, requests):
            raise AssertionError("exported tasks are generative")

        def loglikelihood_rolling(self, requests):
            raise AssertionError("exported tasks are generative")

    results = simple_evaluate(model=FixedLM(), tasks=[f"mipo_{t}" for t in TASKS],
                              task_manager=TaskManager(include_path=str(exported), include_defaults=False),
                              log_samples=True, bootstrap_iters=0)
    assert contexts and all(ctx == doc["prompt"] for doc, ctx in contexts)
    for tid in TASKS:
        ours = our_scores(tid, outputs[tid], tmp_path, monkeypatch, capsys)
        samples = results["samples"][f"mipo_{tid}"]
        assert len(samples) == LIMIT
        main = "accuracy" if tid != "gsm8k" else "accuracy_marker"  # GSM8K's accuracy needs the model stage
        for s in samples:
            mine = ours[s["doc"]["id"]]
            if tid == "gsm8k":
                assert "accuracy" not in s
            else:
                assert s["accuracy"] == mine["score"], (tid, s["doc"]["id"], mine["output"])
            for k in ("accuracy_strict", "accuracy_flexible", "accuracy_marker"):
                if k in mine:
                    assert s[k] == mine[k]
        mean = sum(r[main] if main != "accuracy" else r["score"] for r in ours.values()) / len(ours)
        assert results["results"][f"mipo_{tid}"][f"{main},none"] == pytest.approx(mean)
        assert 0 < mean < 1  # the fixed predictions exercise both outcomes


def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"mipo_export_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inspect_agrees_item_by_item(tmp_path, monkeypatch, capsys):
    pytest.importorskip("inspect_ai")
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    from harness.evaluation.export.common import plan_exports
    from harness.evaluation.export.inspect_eval import export_inspect

    tid = "arc_challenge"
    folder = tmp_path / "inspect"
    module = _load_module(export_inspect(plan_exports([tid], [], 4, offline=True), folder, []))
    docs = read_docs(folder, tid)
    outputs = fixed_outputs(tid, docs)
    by_prompt = {d["prompt"]: outputs[d["id"]] for d in docs}

    def respond(messages, tools, tool_choice, config):
        out = ModelOutput.from_content(model="mockllm/model", content=by_prompt[messages[-1].text])
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # no tiktoken download
        return out

    monkeypatch.setenv("INSPECT_LOG_DIR", str(tmp_path / "logs"))
    logs = inspect_eval(module.mipo_arc_challenge(), model=get_model("mockllm/model", custom_outputs=respond),
                        log_dir=str(tmp_path / "logs"), display="none")
    ours = our_scores(tid, outputs, tmp_path, monkeypatch, capsys)
    assert logs[0].status == "success", logs[0].error
    samples = logs[0].samples
    assert len(samples) == len(docs)
    for s in samples:
        score = next(iter(s.scores.values()))
        assert score.value == ours[s.id]["score"]
        assert score.answer == ours[s.id]["extracted"]


def test_inspect_runs_the_model_stage(tmp_path, monkeypatch):
    """GSM8K exported to inspect-ai: outputs without '####' get the extraction turn from the model under evaluation,
    with the stage's decoding, and are scored with its reply exactly as a run scores them."""
    pytest.importorskip("inspect_ai")
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    from harness.evaluation.export.common import item_from_json, plan_exports
    from harness.evaluation.export.inspect_eval import export_inspect
    from tasks.extract import extract_flexible
    from tasks.gsm8k import EXTRACTION_REQUEST, Gsm8k

    folder = tmp_path / "inspect"
    module = _load_module(export_inspect(plan_exports(["gsm8k"], [], 4, offline=True), folder, []))
    docs = read_docs(folder, "gsm8k")
    outputs = {d["id"]: o for d, o in zip(docs, [f"#### {docs[0]['target']}", f"so it is {docs[1]['target']}",
                                                  "I think it is 12345.", ""])}
    by_prompt = {d["prompt"]: outputs[d["id"]] for d in docs}
    asked = []

    def respond(messages, tools, tool_choice, config):
        text = messages[-1].text
        if text.startswith(EXTRACTION_REQUEST):
            asked.append((text, config.temperature, config.top_p, config.max_tokens))
            reply = extract_flexible(text) or "none"
        else:
            reply = by_prompt[text]
        out = ModelOutput.from_content(model="mockllm/model", content=reply)
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return out

    monkeypatch.setenv("INSPECT_LOG_DIR", str(tmp_path / "logs"))
    logs = inspect_eval(module.mipo_gsm8k(), model=get_model("mockllm/model", custom_outputs=respond),
                        log_dir=str(tmp_path / "logs"), display="none")
    assert logs[0].status == "success", logs[0].error
    assert sorted(a[0] for a in asked) == sorted(EXTRACTION_REQUEST + outputs[d["id"]] for d in docs[1:3])
    assert all(a[1:] == (0.1, 0.9, 1024) for a in asked)
    task = Gsm8k()
    for s in logs[0].samples:
        doc = next(d for d in docs if d["id"] == s.id)
        item, output = item_from_json(doc["item"]), outputs[s.id]
        ask = task.follow_up(output, item)
        want = task.score(output, item) if ask is None else task.score_reply(output, item,
                                                                            extract_flexible(ask[-1]["content"]))
        assert next(iter(s.scores.values())).value == want.score
    assert [next(iter(s.scores.values())).value for s in sorted(logs[0].samples, key=lambda s: docs.index(
        next(d for d in docs if d["id"] == s.id)))] == [1.0, 1.0, 0.0, 0.0]
