"""Matplotlib figures (PNG) from the tidy results frame."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from reports.tables import main_metrics  # noqa: E402


def round_curves(df: pd.DataFrame, out: Path) -> list[Path]:
    """Main metric against round, one line per model and method, CI bands, one panel per task."""
    m = main_metrics(df)
    if m.empty:
        return []
    tasks = sorted(m["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = m[m["task"] == task]
        base = sub[sub["method"] == "prompting"]
        methods = sorted(set(sub["method"]) - {"prompting"}) or ["prompting"]
        for model in sorted(sub["model"].unique()):
            for method in methods:
                line = pd.concat([base[base["model"] == model], sub[(sub["model"] == model) &
                                                                  (sub["method"] == method)]])
                line = line.drop_duplicates("round").sort_values("round")
                if line.empty:
                    continue
                label = model if len(methods) == 1 else f"{model} · {method}"
                ax.plot(line["round"], line["value"], marker="o", label=label)
                ax.fill_between(line["round"], line["ci_low"], line["ci_high"], alpha=0.15)
        ax.set_title(task)
        ax.set_xlabel("round")
        ax.set_ylabel(sub["metric"].iloc[0])
        ax.set_xticks(sorted(sub["round"].unique()))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = out / "round_curves.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]
