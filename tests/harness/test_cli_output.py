"""List/show output: ids and paths whole in a pipe and in a narrow terminal; --json for scripts."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from rich.console import Console

from groundfloor.models.aliases import ALIASES
from groundfloor.output import Column, emit, plain_text
from tests.helpers.synthetic_runs import make_run

CLI = [sys.executable, "-m", "harness.cli"]


def _piped(args: list[str]) -> subprocess.CompletedProcess:
    """The CLI with stdout a pipe (not a terminal), as in `mipo-bench ... | cat`."""
    res = subprocess.run(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300,
                         env={**__import__("os").environ, "COLUMNS": "40"})
    assert res.returncode == 0, res.stderr
    return res


def test_models_list_in_a_pipe_prints_whole_aliases_and_json():
    out = _piped(["models", "list"]).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["alias", "family", "cached"]
    assert "…" not in " ".join(line.split()[0] for line in lines)  # the id column is never cut
    assert {line.split()[0] for line in lines[1:]} == set(ALIASES)
    assert not any(ch in out for ch in "┃│━")  # plain text, no box drawing
    records = json.loads(_piped(["models", "list", "--json"]).stdout)
    assert [r["alias"] for r in records] == list(ALIASES)
    assert records[0]["hub_id"] == ALIASES[records[0]["alias"]].hub_id


def test_tasks_list_and_show_json():
    listed = json.loads(_piped(["tasks", "list", "--json"]).stdout)
    ids = [r["task"] for r in listed]
    assert {"gsm8k", "arc_challenge", "profile_prefs"} <= set(ids)
    plain = _piped(["tasks", "list"]).stdout.splitlines()
    assert [line.split()[0] for line in plain[1:]] == ids
    shown = _piped(["tasks", "show", "gsm8k", "--json"]).stdout
    assert json.loads(shown)["family"] == "math" and shown == _piped(["tasks", "show", "gsm8k"]).stdout


def test_compare_in_a_pipe_and_as_json(tmp_path):
    ra = make_run(tmp_path / "a", rounds=1, seed=1)
    rb = make_run(tmp_path / "b", rounds=1, seed=2)
    out = _piped(["compare", str(ra), str(rb)]).stdout
    assert str(ra) in out and str(rb) in out and "mcq_task" in out and "│" not in out
    rows = json.loads(_piped(["compare", str(ra), str(rb), "--json"]).stdout)
    assert {r["task"] for r in rows} >= {"mcq_task"} and all({"gain", "ci_low", "p_value", "n"} <= set(r) for r in rows)


LONG = "an-organisation-with-a-long-name/a-model-id-that-is-long-enough-to-matter"
COLUMNS = [Column("id", "id", keep=True), Column("path", "path", keep=True), Column("note", "note")]
RECORDS = [{"id": LONG, "path": "/tmp/some/where/model", "note": "a rather long description " * 4},
           {"id": "short", "path": "/x", "note": None}]


@pytest.mark.parametrize("width", [30, 80, 120, 200])
def test_terminal_tables_never_cut_ids(width, capsys):
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=width, color_system=None)
    emit(RECORDS, COLUMNS, console=console)
    printed = buf.getvalue() + capsys.readouterr().out  # the table, or the plain-text fallback on stdout
    assert LONG in printed and "/tmp/some/where/model" in printed and "…" not in printed


def test_wide_terminal_gets_a_table_and_narrow_one_plain_text(capsys):
    buf = io.StringIO()
    emit(RECORDS, COLUMNS, console=Console(file=buf, force_terminal=True, width=200, color_system=None))
    table = buf.getvalue()
    assert "┃" in table and LONG in table and "/tmp/some/where/model" in table
    emit(RECORDS, COLUMNS, console=Console(file=io.StringIO(), force_terminal=True, width=40, color_system=None))
    plain = capsys.readouterr().out
    assert plain == plain_text(RECORDS, COLUMNS) and plain.splitlines()[1].startswith(LONG + "  ")


def test_plain_text_keeps_one_line_per_record():
    text = plain_text([{"id": "a", "note": "two\nlines"}], [Column("id", "id"), Column("note", "note")])
    assert text.splitlines() == ["id  note", "a   two lines"]
