"""The run's UI: live display in a terminal, lines without one, -q/-v levels, run.log, the trainer callback."""

from __future__ import annotations

import io
import logging
import warnings
from types import SimpleNamespace

import pytest
from rich.console import Console

from groundfloor import progress
from groundfloor.progress import RunUI, current
from groundfloor.progress_hooks import trainer_callback


def _ui(terminal: bool, verbosity: int = 0) -> tuple[RunUI, io.StringIO]:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=120, color_system=None)
    return RunUI(console, verbosity), buf


def test_lines_reach_console_and_run_log_literally(tmp_path):
    ui, buf = _ui(terminal=False)
    with ui.session(tmp_path / "run.log"):
        ui.log("gain [0.1, 0.2] [red]not markup[/red]")
        ui.debug("a debug line")
        ui.warning("careful")
    log = (tmp_path / "run.log").read_text()
    shown = buf.getvalue()
    assert "gain [0.1, 0.2] [red]not markup[/red]" in shown and "gain [0.1, 0.2] [red]not markup[/red]" in log
    assert "warning: careful" in shown and "WARNING careful" in log
    assert "a debug line" not in shown and "a debug line" not in log  # -v shows and records debug
    assert log.splitlines()[0].split(" ", 3)[2] == "INFO" and "session starts" in log and "session ends" in log


@pytest.mark.parametrize("verbosity", [-1, 1])
def test_quiet_and_verbose_levels(tmp_path, verbosity):
    ui, buf = _ui(terminal=False, verbosity=verbosity)
    with ui.session(tmp_path / "run.log"):
        ui.log("an info line")
        ui.debug("a debug line")
        ui.warning("a warning")
    shown, log = buf.getvalue(), (tmp_path / "run.log").read_text()
    assert "a warning" in shown and "an info line" in log  # run.log keeps info whatever the console shows
    if verbosity < 0:
        assert "an info line" not in shown and "a debug line" not in shown and "a debug line" not in log
    else:
        assert "an info line" in shown and "a debug line" in shown and "DEBUG   a debug line" in log


def test_stages_without_a_terminal_print_start_progress_done(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_EVERY_S", 0.0)  # a progress line at every update
    ui, buf = _ui(terminal=False)
    with ui.session(tmp_path / "run.log"):
        ui.plan(2)
        with ui.stage("gsm8k: evaluating", total=4) as st:
            st.advance()
            st.advance(2)
            st.update(loss=0.51234, margin=None)
        ui.step_done("gsm8k evaluated")
    shown, log = buf.getvalue(), (tmp_path / "run.log").read_text()
    for text in ("start: gsm8k: evaluating (4)", "gsm8k: evaluating: 3/4", "left", "loss 0.5123",
                 "done: gsm8k: evaluating: 3/4"):
        assert text in shown and text in log, text
    assert "margin" not in shown
    assert "run: step 1/2 done (gsm8k evaluated)" in log
    assert "\r" not in shown and "━" not in shown  # no live display in a pipe


def test_live_display_in_a_terminal(tmp_path):
    ui, buf = _ui(terminal=True)
    with ui.session(tmp_path / "run.log"):
        assert ui.live and current() is ui
        ui.plan(3)
        with ui.stage("training", total=5) as st:
            st.update(completed=2, loss=0.7)
            assert "training" in [t.description for t in ui._progress.tasks]
            task = next(t for t in ui._progress.tasks if t.description == "training")
            assert (task.completed, task.total, task.fields["info"]) == (2, 5, "loss 0.7")
        ui.step_done("trained")
        run_task = next(t for t in ui._progress.tasks if t.description == "run")
        assert (run_task.completed, run_task.total) == (1, 3)
    assert not ui.live and current() is not ui
    log = (tmp_path / "run.log").read_text()
    assert "start: training (5)" in log and "done: training: 2/5" in log  # the bar is gone, the record stays
    assert "done: training" in buf.getvalue()


def test_outside_a_run_stages_are_silent(capsys):
    ui = current()
    with ui.stage("nothing to show", total=2) as st:
        st.advance()
    ui.log("nor this")
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_library_warnings_reach_run_log(tmp_path):
    ui, buf = _ui(terminal=False)
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()  # as in the CLI: no handler on the root logger (pytest adds its own)
    try:
        with ui.session(tmp_path / "run.log"):
            logging.getLogger("trl.trainer").warning("a TRL warning")
            warnings.warn("a python warning", UserWarning, stacklevel=1)
    finally:
        root.handlers[:] = saved
    log, shown = (tmp_path / "run.log").read_text(), buf.getvalue()
    assert "trl.trainer: a TRL warning" in log and "trl.trainer: a TRL warning" in shown
    assert "a python warning" in log
    assert not any(isinstance(h, logging.Handler) and h.__class__.__name__ == "_LogHandler" for h in root.handlers)


def test_trainer_callback_drives_a_stage(tmp_path):
    ui, buf = _ui(terminal=False)
    cb = trainer_callback("DPO training")
    state = SimpleNamespace(max_steps=3, global_step=0)
    with ui.session(tmp_path / "run.log"):
        cb.on_train_begin(None, state, None)
        for step in (1, 2, 3):
            state.global_step = step
            cb.on_step_end(None, state, None)
            cb.on_log(None, state, None, logs={"loss": 0.69 - 0.1 * step, "rewards/margins": 0.2 * step,
                                               "rewards/accuracies": 1.0})
        cb.on_train_end(None, state, None)
    log = (tmp_path / "run.log").read_text()
    assert "start: DPO training (3)" in log
    done = next(line for line in log.splitlines() if "done: DPO training" in line)
    assert "3/3" in done and "loss 0.39" in done and "margin 0.6" in done and "accuracy 1" in done
