"""Matplotlib figures (PNG, Agg backend) from the tidy results frame and the paired gains."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from groundfloor.methods import BASELINE  # noqa: E402
from groundfloor.stats import bh_qvalues  # noqa: E402
from reports.tables import DIAG_METRICS, TRAIN_METRICS  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _lines(sub: pd.DataFrame, multi_run: bool):
    """(label, rows by round) per run x model x trained method, and per lineage where the task was evaluated
    after several (lm-eval tasks with scope per_task); round 0 (prompting) starts every line."""
    for (run, model), g in sub.groupby(["run", "model"]):
        base = g[g["round"] == 0]
        methods = sorted(set(g.loc[g["round"] >= 1, "method"])) or [BASELINE]
        for method in methods:
            trained = g[(g["method"] == method) & (g["round"] >= 1)]
            ons = sorted(set(trained["trained_on"])) if "trained_on" in trained.columns else []
            for on in ons if len(ons) > 1 else [None]:
                part = trained if on is None else trained[trained["trained_on"] == on]
                line = pd.concat([base, part]).drop_duplicates("round").sort_values("round")
                label = f"{model} · {method}" + (f" · on {on}" if on else "") + (f" · {run}" if multi_run else "")
                yield label, line


def policy_labels(last: pd.DataFrame, multi_run: bool) -> list[str]:
    """A row label per gain: model · method, with the lineage ('on <tasks>') where a model and method has several
    (per-task lineages, each evaluated on the lm-eval tasks), and the run when several runs are shown."""
    ons = last["trained_on"] if "trained_on" in last.columns else pd.Series("", index=last.index)
    many = ons.groupby([last["run"], last["model"], last["method"]]).transform("nunique") > 1
    return [f"{m} · {me}" + (f" · on {on}" if several else "") + (f" · {r}" if multi_run else "")
            for m, me, r, on, several in zip(last["model"], last["method"], last["run"], ons, many)]


def round_curves(main: pd.DataFrame, out: Path, multi_run: bool = False) -> list[Path]:
    """Main metric against round, one line per model and method with 95% CI bands, one panel per task."""
    if main.empty:
        return []
    tasks = sorted(main["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = main[main["task"] == task]
        for label, line in _lines(sub, multi_run):
            ax.plot(line["round"], line["value"], marker="o", label=label)
            lo, hi = line["ci_low"].astype(float), line["ci_high"].astype(float)
            ax.fill_between(line["round"], lo, hi, alpha=0.15)
        ax.set_title(f"{task} ({sub['metric'].iloc[0]})")
        ax.set_xlabel("round")
        ax.set_xticks(sorted(sub["round"].unique()))
        top = max(1.0, float(np.nanmax(sub[["value", "ci_high"]].astype(float).to_numpy())))
        ax.set_ylim(-0.02, top * 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    return [_save(fig, out / "round_curves.png")]


def heatmap_figure(last: pd.DataFrame, multi_run: bool = False):
    """The gain heatmap's figure and its grid of BH q-values (rows model · method, columns task)."""
    rows = last.assign(row=policy_labels(last, multi_run))
    grid = rows.pivot_table(index="row", columns="task", values="gain", aggfunc="first")
    pvals = rows.pivot_table(index="row", columns="task", values="p_value", aggfunc="first")
    pvals = pvals.reindex(index=grid.index, columns=grid.columns)
    data = grid.to_numpy(dtype=float)
    qvals = bh_qvalues(pvals.to_numpy(dtype=float).ravel()).reshape(data.shape)  # the family: the shown cells
    lim = max(0.05, float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 0.05)
    label_in = 0.07 * max(len(str(r)) for r in grid.index)  # row labels at 8 pt take ~0.07 in a character
    # wide enough for the row labels, the cells, the colour bar and its label; tall enough for that label
    size = (max(4.5, label_in + 1.4 + 1.2 * grid.shape[1]), max(2.6, 1.4 + 0.45 * grid.shape[0]))
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    im = ax.imshow(data, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if np.isfinite(data[i, j]):
                star = "*" if qvals[i, j] < 0.05 else ""
                ax.text(j, i, f"{data[i, j]:+.3f}{star}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax).set_label("gain (last round − round 0)", fontsize=8)
    ax.set_title("Gain over round 0\n* Benjamini–Hochberg q < 0.05 across cells", fontsize=8)
    return fig, qvals


def gain_heatmap(last: pd.DataFrame, out: Path, multi_run: bool = False) -> list[Path]:
    """Gain of the last round over round 0; * marks Benjamini–Hochberg q < 0.05 over the heatmap's cells."""
    if last.empty:
        return []
    fig, _ = heatmap_figure(last, multi_run)
    path = out / "gain_heatmap.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")  # constrained layout keeps the colour-bar label inside
    plt.close(fig)
    return [path]


def shared_legend(fig, axes, ncol: int = 4) -> None:
    """One legend for the whole figure, below the panels (entries de-duplicated by label)."""
    seen: dict[str, object] = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    if seen:
        fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=min(ncol, len(seen)),
                   fontsize=8, frameon=False)


def save_grid(fig, axes, entries: int, path: Path) -> list[Path]:
    """A panel grid with one shared legend of `entries` lines (4 per row) below it, saved to `path` and closed."""
    shared_legend(fig, axes)
    rows_of_legend = -(-entries // 4)
    fig.tight_layout(rect=(0, min(0.3, 0.32 * rows_of_legend / fig.get_figheight()), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def style_panel(ax, empty: bool) -> None:
    """Grid and small ticks; an empty panel says so instead of showing a bare 0-1 axis; tiny values in
    scientific notation (relative weight changes are ~1e-4)."""
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    if empty:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", va="center", fontsize=8,
                color="#888")
    else:
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4), useOffset=False)
        ax.yaxis.get_offset_text().set_fontsize(7)


def _diag_column(task: str, trained_on) -> str:
    """The grid column of a row: its task; a training row goes under the task it trained on ('joint' if several)."""
    if task != "_train":
        return task
    on = str(trained_on) if isinstance(trained_on, str) and trained_on else ""
    return on if on and "+" not in on and "," not in on else "joint"


def diagnostics_curves(df: pd.DataFrame, out: Path) -> list[Path]:
    """Training (loss, reward margin, weight change) and diagnostic metrics (pmi, response_words, distinct_2)
    against round: one row per metric, one column per task, one line per model · method, one shared legend."""
    tr = df[(df["kind"] == "train") & df["metric"].isin(TRAIN_METRICS)]
    dg = df[(df["kind"] == "diagnostic") & df["metric"].isin(DIAG_METRICS)]
    both = pd.concat([tr, dg])
    if both.empty:
        return []
    on = both["trained_on"] if "trained_on" in both.columns else pd.Series("", index=both.index)
    both = both.assign(column=[_diag_column(t, o) for t, o in zip(both["task"], on)])
    metrics = [m for m in (*TRAIN_METRICS, *DIAG_METRICS) if m in set(both["metric"])]
    columns = sorted(both["column"].unique(), key=lambda c: (c == "joint", c))
    multi = both["run"].nunique() > 1
    fig, axes = plt.subplots(len(metrics), len(columns), squeeze=False, sharex=True,
                             figsize=(max(6.0, 2.7 * len(columns)), 1.9 * len(metrics) + 0.9))
    colours: dict[str, object] = {}
    for i, metric in enumerate(metrics):
        for j, column in enumerate(columns):
            ax, sub = axes[i][j], both[(both["metric"] == metric) & (both["column"] == column)]
            for label, line in _lines(sub, multi):
                colour = colours.setdefault(label, f"C{len(colours) % 10}")
                lo, hi = line["ci_low"].astype(float), line["ci_high"].astype(float)
                ax.plot(line["round"], line["value"], marker="o", ms=4, label=label, color=colour)
                if lo.notna().any():
                    ax.fill_between(line["round"], lo, hi, alpha=0.12, color=colour)
            style_panel(ax, sub.empty)
            if i == 0:
                ax.set_title(column, fontsize=9)
            if j == 0:
                ax.set_ylabel(metric, fontsize=8)
            if i == len(metrics) - 1:
                ax.set_xlabel("round", fontsize=8)
                ax.set_xticks(sorted(both["round"].unique()))
    return save_grid(fig, axes, len(colours), out / "training_diagnostics.png")


def method_bars(main: pd.DataFrame, out: Path) -> list[Path]:
    """Main metric per method at the last round every method reached, with 95% CI error bars."""
    trained = main[main["round"] >= 1]
    if trained["method"].nunique() < 2:
        return []
    tasks = sorted(trained["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = main[main["task"] == task]
        k = int(sub[sub["round"] >= 1].groupby("method")["round"].max().min())
        pick = pd.concat([sub[sub["round"] == 0], sub[sub["round"] == k]])
        pick = pick.groupby(["model", "method"], as_index=False).agg(
            value=("value", "mean"), ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"))
        models = sorted(pick["model"].unique())
        methods = sorted(pick["method"].unique(), key=lambda m: (m != BASELINE, m))
        width = 0.8 / len(methods)
        for i, method in enumerate(methods):
            p = pick[pick["method"] == method].set_index("model").reindex(models)
            err = np.vstack([p["value"] - p["ci_low"], p["ci_high"] - p["value"]]).clip(min=0)
            ax.bar(np.arange(len(models)) + i * width, p["value"], width, yerr=err, capsize=3,
                   label=method if method != BASELINE else f"{BASELINE} (round 0)")
        ax.set_xticks(np.arange(len(models)) + 0.4 - width / 2, models, rotation=20, ha="right", fontsize=7)
        ax.set_title(f"{task}, round {k}")
        ax.legend(fontsize=6)
    return [_save(fig, out / "method_comparison.png")]
