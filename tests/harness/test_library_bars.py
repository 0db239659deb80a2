"""Libraries' progress bars are switched off where stderr is not a terminal (logs, pipes), and only there."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from groundfloor.library_bars import BAR_SWITCHES, silence_library_bars


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_terminal_sets_the_switches_but_keeps_the_users(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    env = {"TQDM_DISABLE": "0"}
    added = silence_library_bars(env)
    assert "TQDM_DISABLE" not in added and env["TQDM_DISABLE"] == "0"
    assert set(added) == set(BAR_SWITCHES) - {"TQDM_DISABLE"} and all(env[k] == "1" for k in added)


def test_in_a_terminal_nothing_changes(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Tty())
    env: dict = {}
    assert silence_library_bars(env) == [] and env == {}


def test_a_piped_command_prints_no_carriage_return_bar():
    """A real tqdm bar, in a child whose stderr is a pipe, after the switch: no carriage return reaches it."""
    code = ("from groundfloor.library_bars import silence_library_bars; silence_library_bars(); "
            "from tqdm.auto import tqdm; [None for _ in tqdm(range(50))]")
    env = {k: v for k, v in os.environ.items() if k not in BAR_SWITCHES}  # as a user's shell would have it
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=env)  # bytes: \r kept
    assert res.returncode == 0 and b"\r" not in res.stderr and b"it/s" not in res.stderr
    bare = subprocess.run([sys.executable, "-c", "from tqdm.auto import tqdm; [None for _ in tqdm(range(50))]"],
                          capture_output=True, timeout=120, env=env)
    assert b"\r" in bare.stderr  # the same bar without the switch does draw (the test can fail)
