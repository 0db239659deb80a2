"""Libraries' own progress bars (tqdm: lm-eval, datasets, vLLM's weight loading) kept out of pipes and logs.

In a terminal they redraw in place; anywhere else (a pipe, `> file`, CI) every redraw is a carriage-return
line, so a log fills with half-drawn bars. The run's own progress (groundfloor.progress) prints plain lines there.
"""

from __future__ import annotations

import os
import sys

# tqdm >= 4.66 reads TQDM_* variables as its defaults; the hub and datasets have their own switches
BAR_SWITCHES = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def bar_free() -> bool:
    """True when stderr is not a terminal, where a redrawn bar would land as carriage-return lines."""
    stream = sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


def silence_library_bars(environ: dict | None = None) -> list[str]:
    """Off-terminal, switch the libraries' bars off (a variable the user set is kept); the names set."""
    env = os.environ if environ is None else environ
    if not bar_free():
        return []
    added = [k for k in BAR_SWITCHES if k not in env]
    for k in added:
        env[k] = BAR_SWITCHES[k]
    return added
