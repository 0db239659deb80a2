"""Hooks of the run's UI into libraries: their log records and Python warnings reach run.log, their own
progress bars are turned off while a run shows its display, and a TRL/transformers callback reports
training steps, loss and reward margin as a stage of the run."""

from __future__ import annotations

import logging
from collections.abc import Callable

from groundfloor.progress import RunUI, Stage, current

LIBRARY_LOGGERS = ("transformers", "trl", "peft", "accelerate", "datasets", "vllm")


class _LogHandler(logging.Handler):
    """Records of level warning and above into the run's UI (`echo`: on the console too)."""

    def __init__(self, ui: RunUI, echo: bool):
        super().__init__(logging.WARNING)
        self.ui, self.echo = ui, echo

    def emit(self, record: logging.LogRecord) -> None:
        level = "error" if record.levelno >= logging.ERROR else "warning"
        text = f"{record.name}: {record.getMessage()}"
        self.ui.log(text, level) if self.echo else self.ui.write_log(text, level)


def _bars_off() -> Callable[[], None]:
    """Turn off the progress bars of transformers, huggingface_hub and datasets (loading, downloads, map)."""
    undo: list[Callable[[], None]] = []
    try:
        from transformers.utils import logging as tlog

        if tlog.is_progress_bar_enabled():
            tlog.disable_progress_bar()
            undo.append(tlog.enable_progress_bar)
    except ImportError:  # transformers absent: nothing of it to silence
        pass
    try:
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

        if not are_progress_bars_disabled():
            disable_progress_bars()
            undo.append(enable_progress_bars)
    except ImportError:  # an older huggingface_hub without these switches
        pass
    try:
        import datasets

        if datasets.is_progress_bar_enabled():  # dataset.map bars (TRL tokenizing pairs)
            datasets.disable_progress_bars()
            undo.append(datasets.enable_progress_bars)
    except ImportError:  # datasets absent: nothing of it to silence
        pass
    return lambda: [u() for u in undo]


def install(ui: RunUI) -> Callable[[], None]:
    """Route library records to `ui` for a session; returns what undoes it."""
    if ui.silent:
        return lambda: None
    added: list[tuple[logging.Logger, logging.Handler]] = []
    root = logging.getLogger()
    capture = not root.handlers  # only logging's last resort prints root records today: we print them instead
    if capture:
        added.append((root, _LogHandler(ui, echo=True)))
        logging.captureWarnings(True)  # Python warnings too (they reach the root logger as py.warnings)
    for name in LIBRARY_LOGGERS:
        lg = logging.getLogger(name)
        if lg.handlers and not lg.propagate:  # they print themselves: copy them into run.log
            added.append((lg, _LogHandler(ui, echo=False)))
    for lg, h in added:
        lg.addHandler(h)
    bars_on = _bars_off()

    def restore() -> None:
        for lg, h in added:
            lg.removeHandler(h)
        if capture:
            logging.captureWarnings(False)
        bars_on()

    return restore


def trainer_callback(label: str = "training"):
    """A transformers `TrainerCallback` showing the trainer's steps, loss, reward margin and accuracy as a
    stage of the current run (keep `disable_tqdm=True`: this replaces the trainer's own bar)."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        stage: Stage | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.stage = current().start_stage(label, total=state.max_steps or None)

        def on_step_end(self, args, state, control, **kwargs):
            if self.stage is not None:
                self.stage.update(completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.stage is not None and logs:
                self.stage.update(loss=logs.get("loss"), margin=logs.get("rewards/margins"),
                                  accuracy=logs.get("rewards/accuracies"))

        def on_train_end(self, args, state, control, **kwargs):
            if self.stage is not None:
                self.stage.close()
                self.stage = None

    return _Progress()
