"""Bad inputs, table-driven: each row is a command line, the exit code and a phrase of its one-line error.

Every input here fails before any model is loaded or any dataset is read, so the whole table runs
in seconds. Placeholders: {d} the scratch folder, {long} a 300-character name, {deep} a path longer
than the filesystem allows, {huge} a 5,000-character model id.
"""

from __future__ import annotations

import os

import pytest

from groundfloor.locks import RunLock
from tests.helpers.reliability_helpers import run_cli

SUITE = """
models: ["{d}/model"]
tasks: [{{id: arc_challenge, limit: 2}}]
rounds: 0
{extra}
"""
SUITES = {
    "ok": "",
    "bad_task": "",  # tasks replaced below
    "big_tokens": "generation: {max_new_tokens: 1000000000}",
    "judge_tokens": "judge: {model: x, max_new_tokens: 0}",
    "unknown_key": "generaton: {greedy: true}",
    "case_clash": "",
    "rel_include": "include: [no_such_folder]",
    "file_include": "include: [afile]",
}
BAD_ID_TASK = """
from tasks.base import Task


class Bad(Task):
    id = "../up"
    family = "math"

    def messages(self, item, with_context=True):
        return []

    def score(self, output, item):
        raise NotImplementedError

    def gold_output(self, item):
        return ""
"""
RESULTS_HEADER = "model,family,method,round,task,metric,value,ci_low,ci_high,n,kind,partial\n"
ROW = "m,llama,prompting,0,arc_challenge,accuracy,0.5,0.1,0.9,2,eval,False\n"

ROWS = [
    # run: the suite file
    ("run", "run {d}/missing.yaml", 2, "suite file not found"),
    ("run", "run {d}/missing.yaml --out=", 2, "--out is empty; give a path"),
    ("report", "report {d}/good --output-path=", 2, "--output-path is empty; give a path"),
    ("run", "run {d}/adir", 2, "is a folder, not a file"),
    ("run", "run {d}/empty.yaml", 2, "the suite file is empty"),
    ("run", "run {d}/broken.yaml", 2, "malformed YAML at line"),
    ("run", "run {d}/unknown_key.yaml --out {d}/r1", 2, "did you mean 'generation'"),
    ("run", "run {d}/big_tokens.yaml --out {d}/r1", 2, "less than or equal to 32768"),
    ("run", "run {d}/judge_tokens.yaml --out {d}/r1", 2, "greater than 0"),
    ("run", "run {d}/ok.yaml --device tpu --out {d}/r1", 2, "--device must be cpu, cuda or auto"),
    ("run", "run {d}/ok.yaml --limit 0", 2, "Invalid value for '--limit'"),
    # run: the output folder, real run and dry run alike
    ("run", "run {d}/ok.yaml --out {d}/afile", 2, "is a file, not a folder"),
    ("run", "run {d}/ok.yaml --out {d}/afile --dry-run", 2, "is a file, not a folder"),
    ("run", "run {d}/ok.yaml --out {d}/afile/sub --dry-run", 2, "is a file, so nothing can be created inside it"),
    ("run", "run {d}/ok.yaml --out {d}/{long}", 2, "this filesystem allows at most"),
    ("run", "run {d}/ok.yaml --out {d}/{long} --dry-run", 2, "this filesystem allows at most"),
    ("run", "run {d}/ok.yaml --out {deep} --dry-run", 2, "the path is"),
    ("run", "run {d}/ok.yaml --out /proc/mipo-bench-run --dry-run", 2, "cannot create anything in /proc"),
    ("run", "run /dev/null", 2, "suite file /dev/null is not a regular file"),
    ("run", "run {d}/ok.yaml --out {d}/held --dry-run", 2, f"is in use by pid {os.getpid()}"),
    ("run", "run {d}/ok.yaml --out {d}/held", 2, f"is in use by pid {os.getpid()}"),
    ("run", "run {d}/ok.yaml --out {d}/badmanifest --dry-run", 2, "manifest.json is unreadable"),
    # run: names that become paths
    ("run", "run {d}/bad_task.yaml --out {d}/r1 --dry-run", 2, "task id '../../../escaped' is not valid"),
    ("run", "run {d}/bad_task.yaml --out {d}/r1", 2, "task id '../../../escaped' is not valid"),
    ("run", "run {d}/case_clash.yaml --out {d}/r1 --dry-run", 2, "would share the folder"),
    ("run", "run {d}/case_clash.yaml --out {d}/r1", 2, "would share the folder"),
    # run: models and includes
    ("run", "run {d}/rel_include.yaml --out {d}/r1 --dry-run", 2, "no_such_folder not found"),
    ("run", "run {d}/file_include.yaml --out {d}/r1 --dry-run", 2, "is a file, not a folder"),
    ("eval", "eval --model {huge} --tasks arc_challenge --out {d}/e1", 2, "(5000 characters)': not a built-in alias"),
    ("eval", "eval --model org/{long} --tasks arc_challenge --out {d}/e1", 2, "each at most 96 characters"),
    ("eval", "eval --model {d}/afile --tasks arc_challenge --out {d}/e1", 2, "is a file, not a model folder"),
    ("eval", "eval --model {d}/adir --tasks arc_challenge --out {d}/e1", 2, "no config.json"),
    ("eval", "eval --model {d}/model --tasks ../../../escaped --out {d}/e1", 2, "is not valid"),
    ("eval", "eval --model {d}/model --tasks arc_challenge --out {d}/afile", 2, "is a file, not a folder"),
    ("eval", "eval --model {d}/model --tasks , --out {d}/e1", 2, "at least one task"),
    ("models", "models info {huge}", 2, "not a built-in alias"),
    ("models", "models fetch ./no/such/model", 2, "model folder not found"),
    # score
    ("score", "score --task arc_challenge --predictions {d}/missing.jsonl", 2, "predictions file not found"),
    ("score", "score --task arc_challenge --predictions {d}/adir", 2, "is a folder, not a file"),
    ("score", "score --task arc_challenge --predictions /dev/null", 2, "is not a regular file"),
    ("score", "score --task arc_challenge --predictions {d}/p.jsonl --out {d}/adir", 2, "give a file path"),
    ("score", "score --task arc_challenge --predictions {d}/p.jsonl --out {d}/afile/x", 2, "is a file, so nothing"),
    ("score", "score --task arc_challenge --predictions {d}/p.jsonl --out {d}/{long}", 2, "allows at most"),
    ("score", "score --task no_such_task --predictions {d}/p.jsonl", 2, "unknown task 'no_such_task'"),
    ("score", "score --task arc_challenge --predictions {d}/dup.jsonl", 2, "already appeared on line 1 with a"),
    ("score", "score --task arc_challenge --predictions {d}/torn.jsonl", 2, "torn.jsonl:2: malformed JSON"),
    ("score", "score --task arc_challenge --predictions {d}/empty.jsonl", 2, "no predictions"),
    # report and compare
    ("report", "report {d}/missing", 2, "run folder not found"),
    ("report", "report {d}/afile", 2, "is a file, not a run folder"),
    ("report", "report {d}/adir", 2, "not a run folder (no results.csv)"),
    ("report", "report {d}/csvdir", 2, "results.csv is a folder"),
    ("report", "report {d}/zero", 2, "the file is empty"),
    ("report", "report {d}/torn", 2, "line 3 is truncated (5 of 12 fields)"),
    ("report", "report {d}/cut", 2, "ends without a line break"),
    ("report", "report {d}/foreign", 2, "missing column"),
    ("report", "report {d}/nan", 2, "line 2 has a value that is not a number"),
    ("report", "report {d}/good --out {d}/afile", 2, "is a file, not a folder"),
    ("compare", "compare {d}/zero {d}/good", 2, "the file is empty"),
    ("compare", "compare {d}/good {d}/missing", 2, "run folder not found"),
    ("compare", "compare {d}/good {d}/good --csv {d}/adir", 2, "is a folder; give a file path"),
    # export and tasks
    ("export", "export lm-eval --tasks arc_challenge --out {d}/afile", 2, "is a file, not a folder"),
    ("export", "export inspect --tasks arc_challenge --out {d}/afile/x", 2, "is a file, so nothing"),
    ("tasks", "tasks show no_such_task", 2, "unknown task 'no_such_task'"),
    ("tasks", "tasks list --include {d}/afile", 2, "is a file, not a folder"),
    ("tasks", "tasks list --include {d}/missing", 2, "not found"),
    ("tasks", "tasks show bad_id --include {d}/badid_tasks", 2, "task id '../up' is not valid"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The scratch folder every row points into, with a run folder held by this process's lock."""
    d = tmp_path_factory.mktemp("bad")
    (d / "afile").write_text("x")
    (d / "adir").mkdir()
    (d / "model").mkdir()
    (d / "model" / "config.json").write_text('{"model_type": "llama"}')
    (d / "empty.yaml").write_text("")
    (d / "broken.yaml").write_text("models: [a\ntasks: ]\n")
    for name, extra in SUITES.items():
        (d / f"{name}.yaml").write_text(SUITE.format(d=d, extra=extra))
    (d / "bad_task.yaml").write_text(SUITE.format(d=d, extra="").replace("{id: arc_challenge, limit: 2}",
                                                                          "../../../escaped"))
    (d / "case_clash.yaml").write_text(f'models: [{{id: "{d}/model", name: Tiny}}, {{id: "{d}/model", name: tiny}}]\n'
                                       "tasks: [arc_challenge]\nrounds: 0\n")
    (d / "badmanifest").mkdir()
    (d / "badmanifest" / "manifest.json").write_text("{not json")
    (d / "p.jsonl").write_text('{"id": "x", "output": "y"}\n')
    (d / "dup.jsonl").write_text('{"id": "x", "output": "A"}\n{"id": "x", "output": "B"}\n')
    (d / "torn.jsonl").write_text('{"id": "x", "output": "A"}\n{"id": "y", "outp\n')
    (d / "empty.jsonl").write_text("\n")
    for run, text in {"zero": "", "torn": RESULTS_HEADER + ROW + ROW[:30] + "\n", "cut": RESULTS_HEADER + ROW[:-3],
                      "foreign": "a,b\n1,2\n", "nan": RESULTS_HEADER + ROW.replace("0.5", "abc"),
                      "good": RESULTS_HEADER + ROW}.items():
        (d / run).mkdir()
        (d / run / "results.csv").write_text(text)
    (d / "csvdir" / "results.csv").mkdir(parents=True)
    (d / "badid_tasks").mkdir()
    (d / "badid_tasks" / "bad.py").write_text(BAD_ID_TASK)
    with RunLock(d / "held"):
        yield d


@pytest.mark.parametrize("cmd,args,code,phrase", ROWS, ids=[f"{i:02d}-{r[0]}" for i, r in enumerate(ROWS)])
def test_bad_input_gives_one_line(world, monkeypatch, capsys, cmd, args, code, phrase):
    monkeypatch.chdir(world)
    long = "x" * 300
    deep = str(world / "/".join(["y" * 250] * 20))
    argv = args.format(d=world, long=long, deep=deep, huge="m" * 5000).split(" ")
    got, _out, err = run_cli(argv, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code and len(lines) == 1, err[-2000:]
    assert lines[0].startswith("error:") and phrase in lines[0], lines[0][:500]
    assert "Traceback" not in err


def test_the_table_is_wide():
    assert len(ROWS) >= 40 and {r[0] for r in ROWS} >= {"run", "eval", "score", "report", "compare", "export",
                                                        "tasks", "models"}
