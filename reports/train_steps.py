"""Per-step training curves from every round's train/train_log.jsonl, rounds concatenated along one step axis.

One row per metric (loss; DPO's reward margin, GRPO's reward), one column per lineage (the task a per-task
policy trains on; 'joint' for a joint policy), one line per model · method; a dotted line marks where each
round starts. Steps continue across rounds: round k's steps follow round k-1's last step.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from groundfloor.rundir import RunDir, read_jsonl  # noqa: E402
from reports.figures import save_grid, style_panel  # noqa: E402
from reports.load import Run  # noqa: E402

STEP_METRICS = {"loss": "loss", "rewards/margins": "reward margin", "reward": "reward (GRPO)"}


def _where(run: Run, path: Path, names: dict[str, str]) -> dict:
    """model, method, round and lineage of a train_log.jsonl from its place in the run folder."""
    parts = path.relative_to(run.path / "models").parts
    lineage = parts[parts.index("lineages") + 1] if "lineages" in parts else "joint"
    return {"run": run.label, "model": names.get(parts[0], parts[0]), "method": parts[1],
            "round": int(parts[2][len("round_"):]), "lineage": lineage}


def train_steps(runs: list[Run]) -> pd.DataFrame:
    """Long frame of every logged step: run, model, method, round, lineage, step, global_step, metric, value."""
    rows = []
    for run in runs:
        models = run.path / "models"
        if not models.is_dir():
            continue
        folder = RunDir(run.path).model_folder
        names = {folder(m): m for m in (run.manifest.get("models") or {})}
        for path in sorted(models.rglob("train/train_log.jsonl")):
            where = _where(run, path, names)
            for r in read_jsonl(path, repair=False):
                if "step" not in r or "train_runtime" in r:  # the trainer's closing summary line
                    continue
                rows += [{**where, "step": int(r["step"]), "metric": m, "value": float(r[m])}
                         for m in STEP_METRICS if isinstance(r.get(m), (int, float))]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    keys = ["run", "model", "method", "lineage"]
    last = df.groupby(keys + ["round"])["step"].max().rename("last").reset_index()
    last["offset"] = last.sort_values("round").groupby(keys)["last"].transform(lambda s: s.cumsum().shift(1,
                                                                                                 fill_value=0))
    df = df.merge(last[keys + ["round", "offset"]], on=keys + ["round"])
    return df.assign(global_step=df["step"] + df["offset"]).drop(columns="offset")


def _panel(ax, sub: pd.DataFrame, multi: bool, colours: dict) -> None:
    for (run, model, method), g in sub.groupby(["run", "model", "method"]):
        label = f"{model} · {method}" + (f" · {run}" if multi else "")
        colour = colours.setdefault(label, f"C{len(colours) % 10}")
        g = g.sort_values("global_step")
        ax.plot(g["global_step"], g["value"], lw=1.2, label=label, color=colour)
        for k, start in g.groupby("round")["global_step"].min().items():
            if k > 1:
                ax.axvline(start - 0.5, color=colour, ls=":", lw=0.8)
                ax.text(start - 0.4, 0.98, f"round {k}", transform=ax.get_xaxis_transform(), fontsize=6,
                        va="top", color="#555")
    style_panel(ax, sub.empty)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def step_curves(runs: list[Run], out: Path) -> list[Path]:
    """train_steps.png: loss and reward margin (or GRPO reward) per optimizer step, rounds concatenated."""
    df = train_steps(runs)
    if df.empty:
        return []
    metrics = [m for m in STEP_METRICS if m in set(df["metric"])]
    columns = sorted(df["lineage"].unique(), key=lambda c: (c == "joint", c))
    multi = df["run"].nunique() > 1
    fig, axes = plt.subplots(len(metrics), len(columns), squeeze=False,
                             figsize=(max(6.0, 2.9 * len(columns)), 2.1 * len(metrics) + 0.9))
    colours: dict[str, str] = {}
    for i, metric in enumerate(metrics):
        for j, column in enumerate(columns):
            ax = axes[i][j]
            _panel(ax, df[(df["metric"] == metric) & (df["lineage"] == column)], multi, colours)
            if i == 0:
                ax.set_title(column, fontsize=9)
            if j == 0:
                ax.set_ylabel(STEP_METRICS[metric], fontsize=8)
            if i == len(metrics) - 1:
                ax.set_xlabel("step (rounds concatenated)", fontsize=7)
    return save_grid(fig, axes, len(colours), out / "train_steps.png")
