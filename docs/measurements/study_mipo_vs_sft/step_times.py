"""How long a suite took, from its run folder's run.log: every step's time, every sitting, and the total.

A sitting starts at `run: N steps` and ends where the next one starts (or at the log's last line). A
step's time runs from the previous step's end (or the sitting's start) to its own `run: step k/N done`
line; steps a resumed sitting found done take no time. The time from a sitting's last finished step to
its end (work a stop cut short, the pause before the next sitting) is counted apart.

    python docs/measurements/study_mipo_vs_sft/step_times.py runs/study_small runs/study_qwen15
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ")
START = re.compile(r"run: (\d+) steps")
DONE = re.compile(r"run: step (\d+)/\d+ done \((.*)\)")


def sittings(log: Path) -> list[list[tuple[datetime, str]]]:
    """The timestamped lines of run.log, one list per sitting."""
    out: list[list[tuple[datetime, str]]] = []
    for line in log.read_text(errors="replace").splitlines():
        m = STAMP.match(line)
        if not m:
            continue
        when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
        if START.search(line):
            out.append([])
        if out:
            out[-1].append((when, line))
    return out


def fmt(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60} h {m % 60:02d} min {s:02d} s" if m >= 60 else f"{m} min {s:02d} s"


def report(run: Path) -> None:
    steps: dict[int, tuple[str, float]] = {}
    lost = 0.0
    print(f"## {run}")
    for k, lines in enumerate(sittings(run / "run.log"), 1):
        start, last = lines[0][0], lines[0][0]
        for when, line in lines:
            m = DONE.search(line)
            if m:
                n = int(m.group(1))
                if n not in steps:
                    steps[n] = (m.group(2), (when - last).total_seconds())
                last = when
        tail = (lines[-1][0] - last).total_seconds()
        lost += tail
        print(f"sitting {k}: {start:%H:%M:%S}-{lines[-1][0]:%H:%M:%S}, {fmt((lines[-1][0] - start).total_seconds())}"
              f" (after its last finished step: {fmt(tail)})")
    for n in sorted(steps):
        print(f"  step {n:>2}: {fmt(steps[n][1]):>16}  {steps[n][0]}")
    total = sum(s for _, s in steps.values())
    print(f"steps finished: {len(steps)}; their time: {fmt(total)}; "
          f"after the sittings' last steps (cut short, paused): {fmt(lost)}\n")


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["runs/study_small", "runs/study_qwen15"]:
        report(Path(arg))
