"""The run's console: log lines, one live progress display for the whole run, and `run.log`.

One `RunUI` serves a run. In a terminal it shows a live display: a `run` line (steps done of the
run's steps: evaluations and trainings, elapsed and remaining time) and one line per running stage
(label, count, elapsed, remaining, and fields such as the current loss). Without a terminal, or
with `-q`, there is no live display: stage starts, progress every 30 s and stage ends are printed
as lines. Everything the console shows, and those lines, go to `<run>/run.log` with date and time.

Levels: `-q` shows warnings and errors only, `-v` adds debug lines; run.log records info and
above (debug too with `-v`) whatever the console shows. Python warnings and library log records
(transformers, TRL, ...) of level warning and above also reach run.log.

Code that runs inside a run (rounds, training) reports through `current()`, which is the active
run's UI or a silent one outside a run:

    with current().stage("answering 24 train prompts", total=24) as st:
        ... st.advance() ...
    trainer = DPOTrainer(..., callbacks=[trainer_callback("DPO training")])   # steps, loss, margin

(`trainer_callback` lives in `groundfloor.progress_hooks`, with the hooks into library logging.)
"""

from __future__ import annotations

import logging
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
PROGRESS_EVERY_S = 30.0  # progress lines of a stage (run.log; the console when there is no live display)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _fields_text(fields: dict[str, Any]) -> str:
    return " · ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())


class Stage:
    """One running stage: a line of the live display, and start/progress/end lines in run.log."""

    def __init__(self, ui: "RunUI", label: str, total: int | None, task: TaskID | None):
        self.ui, self.label, self.total, self.task = ui, label, total, task
        self.completed = 0
        self.fields: dict[str, Any] = {}
        self.started = self.last_line = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.update(completed=self.completed + n)

    def update(self, completed: int | None = None, total: int | None = None, **fields: Any) -> None:
        """Set the count, the total and display fields (e.g. loss=0.52, margin=1.3); None fields are dropped."""
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        self.fields.update({k: v for k, v in fields.items() if v is not None})
        self.ui._stage_changed(self)

    def status(self) -> str:
        count = f"{self.completed}/{self.total}" if self.total else f"{self.completed}"
        elapsed = time.monotonic() - self.started
        left = ""
        if self.total and 0 < self.completed < self.total:
            left = f", ~{_clock(elapsed / self.completed * (self.total - self.completed))} left"
        extra = f" ({_fields_text(self.fields)})" if self.fields else ""
        return f"{count}, {_clock(elapsed)} elapsed{left}{extra}"

    def close(self) -> None:
        self.ui._stage_closed(self)


class RunUI:
    """The console, the live display and run.log of one run; `verbosity` -1 (-q), 0, or 1 (-v)."""

    def __init__(self, console: Console | None = None, verbosity: int = 0, silent: bool = False):
        self.console = console or Console(stderr=True)
        self.verbosity = verbosity
        self.silent = silent  # the stand-in outside a run: prints and writes nothing
        self.console_level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
        self.file_level = logging.DEBUG if verbosity > 0 else logging.INFO
        self._log_file: IO[str] | None = None
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._run_task: TaskID | None = None
        self._run_done = 0
        self._run_total: int | None = None

    @property
    def live(self) -> bool:
        return self._progress is not None

    # ---- lines -------------------------------------------------------------------------------
    def log(self, msg: str, level: str = "info") -> None:
        """A line on the console (if the level passes -q/-v) and in run.log."""
        if self.silent:
            return
        lv = LEVELS[level]
        if lv >= self.console_level:
            prefix = {"warning": ("warning: ", "yellow"), "error": ("error: ", "red")}.get(level, ("", ""))
            line = Text.assemble((time.strftime("%H:%M:%S"), "dim"), " ", prefix, msg)
            (self._progress.console if self._progress else self.console).print(line, soft_wrap=True)
        self.write_log(msg, level)

    def debug(self, msg: str) -> None:
        self.log(msg, "debug")

    def warning(self, msg: str) -> None:
        self.log(msg, "warning")

    def write_log(self, msg: str, level: str = "info") -> None:
        """A line in run.log only."""
        if self._log_file is None or LEVELS[level] < self.file_level:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self._lock:
            self._log_file.write(f"{stamp} {level.upper():7s} {msg}\n")
            self._log_file.flush()

    # ---- stages ------------------------------------------------------------------------------
    def start_stage(self, label: str, total: int | None = None) -> Stage:
        """A stage that `close()` ends (for callbacks); prefer the `stage` context manager."""
        task = None
        if self._progress is not None:
            task = self._progress.add_task(label, total=total, info="")
        st = Stage(self, label, total, task)
        if self._progress is None:
            self.log(f"start: {label}" + (f" ({total})" if total else ""))
        else:
            self.write_log(f"start: {label}" + (f" ({total})" if total else ""))
        return st

    @contextmanager
    def stage(self, label: str, total: int | None = None) -> Iterator[Stage]:
        st = self.start_stage(label, total)
        try:
            yield st
        finally:
            st.close()

    def _stage_changed(self, st: Stage) -> None:
        if self._progress is not None and st.task is not None:
            self._progress.update(st.task, completed=st.completed, total=st.total, info=_fields_text(st.fields))
        if self.silent:
            return
        now = time.monotonic()
        if now - st.last_line >= PROGRESS_EVERY_S:
            st.last_line = now
            msg = f"{st.label}: {st.status()}"
            self.write_log(msg) if self.live else self.log(msg)
        elif st.fields:
            self.write_log(f"{st.label}: {st.status()}", "debug")

    def _stage_closed(self, st: Stage) -> None:
        if self._progress is not None and st.task is not None:
            self._progress.remove_task(st.task)
        self.log(f"done: {st.label}: {st.status()}")

    # ---- the run line ------------------------------------------------------------------------
    def plan(self, total_steps: int) -> None:
        """The run's steps (evaluations and trainings): the `run` line counts them."""
        self._run_total = total_steps
        if self._progress is not None:
            self._run_task = self._progress.add_task("run", total=total_steps, info="")
        self.write_log(f"run: {total_steps} steps (evaluations and trainings)")

    def step_done(self, what: str) -> None:
        """One step of the run finished (or was found finished on resume)."""
        self._run_done += 1
        if self._progress is not None and self._run_task is not None:
            self._progress.update(self._run_task, completed=self._run_done, info=what)
        self.write_log(f"run: step {self._run_done}/{self._run_total or '?'} done ({what})")

    # ---- the session -------------------------------------------------------------------------
    @contextmanager
    def session(self, log_path: Path | None) -> Iterator["RunUI"]:
        """Activate this UI for a run: open run.log (appended), start the live display, catch library logs."""
        global _current
        previous, _current = _current, self
        self._open_log(log_path)
        from groundfloor.progress_hooks import install

        restore = install(self)  # library logs and warnings into run.log; library progress bars off
        if self.console.is_terminal and self.verbosity >= 0 and not self.silent:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("~"), TimeRemainingColumn(),
                                      TextColumn("{task.fields[info]}"), console=self.console, transient=True)
            self._progress.start()
        try:
            yield self
        except BaseException as e:
            self.write_log(f"stopped: {type(e).__name__}: {e}", "error")
            raise
        finally:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
            restore()
            _current = previous
            if self._log_file is not None:
                self.write_log("session ends")
                self._log_file.close()
                self._log_file = None

    def _open_log(self, log_path: Path | None) -> None:
        if log_path is None or self.silent:
            return
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(log_path, "a", encoding="utf-8")
        self.write_log("session starts: " + " ".join(shlex.quote(a) for a in ["mipo-bench", *sys.argv[1:]]))


_SILENT = RunUI(Console(stderr=True, quiet=True), silent=True)
_current: RunUI | None = None


def current() -> RunUI:
    """The active run's UI; outside a run a silent one (stages and lines go nowhere)."""
    return _current or _SILENT

