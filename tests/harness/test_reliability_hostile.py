"""Hostile files and values, Ctrl-C, and two ways to lose data (issue 31), table-driven where possible.

Each bad input ends with exit 2 and one clean line (no traceback); Ctrl-C ends with exit 130 and one line;
a run's own files are never written over. Every row fails before a model is loaded or a dataset read.
Placeholders: {d} the scratch folder, {deep} a YAML value nested 20,000 levels, {long} 5,000 characters.
"""

from __future__ import annotations

import json

import pytest

from groundfloor.errors import MAX_MESSAGE
from tests.helpers.reliability_helpers import install_task_plugin, run_cli

RESULTS_HEADER = "model,family,method,round,task,metric,value,ci_low,ci_high,n,kind,partial\n"
ROW = "m,llama,prompting,0,arc_challenge,accuracy,0.5,0.1,0.9,2,eval,False\n"
SUITE = 'models: ["{d}/model"]\ntasks: {tasks}\nrounds: 0\n{extra}\n'
SUITES = {  # name: (tasks, extra)
    "ok": ("[{id: arc_challenge, limit: 2}]", ""),
    "limit_true": ("[{id: arc_challenge, limit: true}]", ""),
    "markup": ("['[/x]']", ""),
    "control": ('["a\\x1b[31mred\\nnext"]', ""),
    "fullwidth": ('["gsm８k"]', ""),
    "zerowidth": ('["gsm8k\\u200b"]', ""),
}
TASK = '''
from tasks.base import DataSource, DataSplit, Item, Score, Task
from tasks.bundles import read_jsonl
from pathlib import Path


class RowsTask(Task):
    id = "rows_task"
    family = "math"

    def load(self, offline):
        rows = read_jsonl(Path(__file__).with_name("rows.jsonl"))
        items = [Item(id=str(i), question=r["q"], target=r["a"]) for i, r in enumerate(rows)]
        return DataSplit(items, [], DataSource("local", "rows", "all"), DataSource("local", "rows", "all"))
{methods}
'''
METHODS = '''
    def messages(self, item, with_context=True):
        return [{"role": "user", "content": item.question}]

    def score(self, output, item):
        return Score(output, float(output == item.target))

    def gold_output(self, item):
        return item.target
'''

ROWS = [
    # data loss: a run's own files, and run folders inside run folders
    ("compare {d}/real {d}/real --csv {d}/real/results.csv", 2, "is a file of the run folder"),
    ("compare {d}/good {d}/good --csv {d}/good/results.csv", 2, "is a file of the run folder"),
    ("compare {d}/good {d}/good --csv {d}/real/report/gains.csv", 2, "is a file of the run folder"),
    ("run {d}/ok.yaml --out {d}/real/models/nested --dry-run", 2, "lies inside the run folder"),
    ("run {d}/ok.yaml --out {d}/real/models/nested", 2, "lies inside the run folder"),
    ("eval --model {d}/model --tasks arc_challenge --out {d}/real/x", 2, "lies inside the run folder"),
    # YAML that expands or nests without bound
    ("run {d}/laughs.yaml --out {d}/r --dry-run", 2, "once YAML aliases (&name / *name) are expanded"),
    ("run {d}/deep.yaml --out {d}/r --dry-run", 2, "nested too deeply to read"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set x={deep}", 2, "--set x: the value is nested too deeply"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set training.dpo_args.x={nested}", 2, "nested more than 64 levels"),
    # counts and values
    ("run {d}/rounds.yaml --out {d}/r --dry-run", 2, "rounds: Input should be less than or equal to 100"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set tasks.0.limit=100000000000", 2, "less than or equal to"),
    ("run {d}/limit_true.yaml --out {d}/r --dry-run", 2, "tasks.0.limit: got true, but this is not a yes/no"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set training.beta=.inf", 2, "training.beta: Input should be a finite"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set training.epochs=.nan", 2, "Input should be a finite number"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --seed -1", 2, "Invalid value for '--seed'"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set seed=-5", 2, "seed: Input should be greater than or equal to 0"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --limit 100000000000", 2, "Invalid value for '--limit'"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set lm_eval.tasks=[piqa] --set lm_eval.limit=100000000000", 2,
     "lm_eval.limit: Input should be less than or equal to"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set lm_eval.tasks=[piqa] --set lm_eval.num_fewshot=-1", 2,
     "num_fewshot must be from 0 to"),
    # user text printed literally, on one line, cut when very long
    ("run {d}/markup.yaml --out {d}/r --dry-run", 2, "task id '[/x]' is not valid"),
    ("run {d}/[/x]/suite.yaml", 2, "suite file not found: {d}/[/x]/suite.yaml"),
    ("run {d}/control.yaml --out {d}/r --dry-run", 2, "task id 'a\\x1b[31mred\\nnext' is not valid"),
    ("run {d}/ok.yaml --out {d}/r --dry-run --set x=[{long}", 2, "characters)"),
    # look-alike characters keep the did-you-mean hint
    ("run {d}/fullwidth.yaml --out {d}/r --dry-run", 2, "did you mean 'gsm8k'?"),
    ("run {d}/zerowidth.yaml --out {d}/r --dry-run", 2, "'gsm8k\\u200b' is not valid"),
    ("tasks show gsm８k", 2, "did you mean 'gsm8k'?"),
    ("tasks show gsm8k\u200b", 2, "did you mean 'gsm8k'?"),
    # damaged results.csv cells
    ("report {d}/round_text", 2, "line 2 has a round that is not a number"),
    ("report {d}/round_half", 2, "line 2 has a round that is not a whole number"),
    ("report {d}/ci_text", 2, "line 2 has a ci_low that is not a number"),
    ("report {d}/value_inf", 2, "line 2 has a value that is not finite"),
    ("compare {d}/good {d}/nul", 2, "line 2 contains a NUL byte"),
    # user tasks and models
    ("tasks validate rows_task --include {d}/torn_task --offline", 2, "rows.jsonl:2: malformed JSON"),
    ("tasks show rows_task --include {d}/half_task", 2, "task class RowsTask (id 'rows_task') does not define"),
    ("tasks list --include {d}/exit_task", 2, "failed to import (it called sys.exit(0))"),
    ("run {d}/no_model_type.yaml --out {d}/r --dry-run", 2, "config.json: no 'model_type'"),
    ("run {d}/no_model_type.yaml --out {d}/r", 2, "config.json: no 'model_type'"),
]


def _user_task(folder, methods: str, rows: str, extra: str = "") -> None:
    folder.mkdir()
    (folder / "rows_task.py").write_text(extra + TASK.format(methods=methods))
    (folder / "rows.jsonl").write_text(rows)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    for name, model_type in (("model", '"llama"'), ("bare_model", "null")):
        (d / name).mkdir()
        (d / name / "config.json").write_text(f'{{"model_type": {model_type}}}')
    for name, (tasks, extra) in SUITES.items():
        (d / f"{name}.yaml").write_text(SUITE.format(d=d, tasks=tasks, extra=extra))
    (d / "rounds.yaml").write_text(SUITE.format(d=d, tasks="[arc_challenge]", extra="methods: [mipo]")
                                   .replace("rounds: 0", "rounds: 100000000"))
    (d / "no_model_type.yaml").write_text(SUITE.format(d=d, tasks="[arc_challenge]", extra="")
                                          .replace(f"{d}/model", f"{d}/bare_model"))
    aliases = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]"
                                                          for i in range(1, 9)]
    (d / "laughs.yaml").write_text(SUITE.format(d=d, tasks="[{id: arc_challenge, options: {" + ", ".join(aliases)
                                                + "}}]", extra=""))
    (d / "deep.yaml").write_text(SUITE.format(d=d, tasks="[arc_challenge]", extra="x: " + "[" * 20000 + "]" * 20000))
    for name, text in {"good": RESULTS_HEADER + ROW, "round_text": RESULTS_HEADER + ROW.replace(",0,", ",zero,"),
                       "round_half": RESULTS_HEADER + ROW.replace(",0,", ",0.5,"),
                       "ci_text": RESULTS_HEADER + ROW.replace("0.1", "low"),
                       "value_inf": RESULTS_HEADER + ROW.replace("0.5", "inf"),
                       "nul": RESULTS_HEADER + ROW.replace("eval", "ev\x00al")}.items():
        (d / name).mkdir()
        (d / name / "results.csv").write_text(text)
    (d / "real" / "models").mkdir(parents=True)
    (d / "real" / "report").mkdir()
    (d / "real" / "report" / "gains.csv").write_text("x\n")
    (d / "real" / "manifest.json").write_text("{}")
    (d / "real" / "results.csv").write_text(RESULTS_HEADER + ROW)
    good_rows = '{"q": "1+1", "a": "2"}\n'
    _user_task(d / "torn_task", METHODS, good_rows + '{"q": "2+2", "a": \n')
    _user_task(d / "half_task", "", good_rows)
    _user_task(d / "exit_task", METHODS, good_rows, extra="import sys\nsys.exit(0)\n")
    return d


@pytest.mark.parametrize("args,code,phrase", ROWS, ids=[f"{i:02d}-{r[0].split()[0]}" for i, r in enumerate(ROWS)])
def test_hostile_input_gives_one_line(world, monkeypatch, capsys, args, code, phrase):
    monkeypatch.chdir(world)
    fill = {"d": world, "deep": "[" * 20000 + "]" * 20000, "nested": "[" * 100 + "]" * 100, "long": "y" * 5000}
    argv = args.format(**fill).split(" ")
    before = (world / "real" / "results.csv").read_text()
    got, _out, err = run_cli(argv, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code and len(lines) == 1, err[-2000:]
    assert lines[0].startswith("error:") and phrase.format(**fill) in lines[0], lines[0][:500]
    assert "Traceback" not in err and len(lines[0]) <= MAX_MESSAGE + len("error: ")
    assert (world / "real" / "results.csv").read_text() == before and not any((world / "real" / "models").iterdir())


def test_the_table_covers_the_issue():
    assert len(ROWS) >= 35 and all(code == 2 for _, code, _ in ROWS)


def test_ctrl_c_in_report_is_exit_130_and_leaves_no_report_folder(world, tmp_path, monkeypatch, capsys):
    import reports.build

    def interrupted(runs, out):
        (out / "report.md").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(reports.build, "build_report", interrupted)
    code, _, err = run_cli(["report", world / "good", "--out", tmp_path / "rep"], monkeypatch, capsys)
    assert code == 130 and err.strip().splitlines() == ["interrupted; re-run the same command to resume"], err
    assert list(tmp_path.iterdir()) == []  # neither the report folder nor its staging folder


def test_ctrl_c_in_run_is_exit_130_with_one_line(world, monkeypatch, capsys):
    from harness.run.runner import SuiteRunner

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(SuiteRunner, "execute", interrupted)
    code, _, err = run_cli(["run", world / "ok.yaml", "--out", world / "r_int"], monkeypatch, capsys)
    assert code == 130 and err.strip() == "interrupted; re-run the same command to resume", err


def test_a_staged_folder_appears_whole_or_not_at_all(tmp_path):
    from groundfloor.rundir import staged_folder

    target = tmp_path / "report"
    with pytest.raises(RuntimeError), staged_folder(target) as staged:
        (staged / "a.md").write_text("a")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    target.mkdir()
    (target / "old.png").write_text("kept")
    (target / "a.md").write_text("old")
    with staged_folder(target) as staged:
        (staged / "a.md").write_text("new")
        (staged / "sub").mkdir()
        (staged / "sub" / "b.csv").write_text("b")
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == \
        ["a.md", "old.png", "sub/b.csv"]
    assert (target / "a.md").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["report"]


def _metrics(folder, model: str, value: float) -> None:
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "model": model, "family": "llama", "method": "prompting", "round": 0, "task": "t",
        "metrics": {"accuracy": {"value": value, "ci_low": 0.0, "ci_high": 1.0, "n": 4}}}))


def test_results_come_only_from_the_runs_own_files(tmp_path):
    from groundfloor.results import collect_rows
    from groundfloor.rundir import RunDir

    run = RunDir(tmp_path / "run")
    _metrics(run.round_dir("m", "prompting", 0) / "tasks" / "t", "m", 0.5)
    nested = run.root / "models" / "m" / "inner"  # a run whose --out pointed into this one (before it was refused)
    _metrics(nested / "models" / "x" / "round_0" / "tasks" / "t", "x", 0.25)
    (nested / "manifest.json").write_text("{}")
    rows = collect_rows(run)
    assert [(r["model"], r["value"]) for r in rows] == [("m", 0.5)]


def test_compare_csv_refusal_keeps_the_runs_table(world, monkeypatch, capsys):
    before = (world / "good" / "results.csv").read_bytes()
    code, _, err = run_cli(["compare", world / "good", world / "good", "--csv", world / "good" / "results.csv"],
                           monkeypatch, capsys)
    assert code == 2 and (world / "good" / "results.csv").read_bytes() == before


def test_a_plugin_that_calls_sys_exit_is_named_and_skipped(tmp_path, monkeypatch, capsys):
    install_task_plugin(tmp_path, monkeypatch, "exiting", "import sys\nsys.exit(3)\n")
    code, out, err = run_cli(["tasks", "list"], monkeypatch, capsys)
    assert code == 0 and "gsm8k" in out, err
    assert err.strip().splitlines() == [line for line in err.strip().splitlines() if "SystemExit: 3" in line] != []


def test_a_cache_variable_naming_a_file_is_named_in_the_error(world, monkeypatch, capsys):
    monkeypatch.setenv("MIPO_BENCH_CACHE", str(world / "good" / "results.csv"))
    code, _, err = run_cli(["models", "list"], monkeypatch, capsys)
    assert code == 2 and err.strip() == f"error: MIPO_BENCH_CACHE={world / 'good' / 'results.csv'}: is a file, not a " \
        "folder", err
