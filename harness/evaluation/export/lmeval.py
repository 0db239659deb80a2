"""`mipo-bench export lm-eval`: task YAMLs (lm-eval 0.4.13) + JSONL data + a `utils.py` scorer.

Each task becomes `mipo_<id>.yaml` (a `generate_until` task over `<id>.jsonl` with an absolute
path), sharing one `utils.py` whose `process_results` calls mipo-bench's `Task.score`. Run it with
`--apply_chat_template`: the doc text is the user message a mipo-bench run sends.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.evaluation.export.common import CONFIG_NAME, ExportedTask, write_config, write_docs

UTILS = '''"""Scoring for tasks exported by `mipo-bench export lm-eval`: mipo-bench's own Task.score."""

import json
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().with_name("{config}")
try:
    from harness.evaluation.export.common import doc_metrics
except ImportError:  # mipo-bench not installed: use the checkout it was exported from
    sys.path.insert(0, json.loads(CONFIG.read_text())["repo"])
    from harness.evaluation.export.common import doc_metrics


def process_results(doc, results):
    """Metrics of the first generation for `doc` (names as in mipo-bench's results.csv)."""
    return doc_metrics(CONFIG, doc, results[0])
'''


def generation_kwargs(ex: ExportedTask) -> dict:
    """lm-eval's generation_kwargs for the run's decoding; no stop strings besides EOS."""
    g = ex.gen
    kwargs: dict = {"until": [], "max_gen_toks": g.max_new_tokens, "do_sample": not g.greedy}
    if g.greedy:
        kwargs["temperature"] = 0.0
    else:
        kwargs.update(temperature=float(g.temperature), top_p=float(g.top_p))
    return kwargs


def task_yaml(ex: ExportedTask, data_path: Path) -> str:
    """The YAML text of one task (JSON scalars are valid YAML; `!function` needs hand-written YAML)."""
    q = json.dumps
    lines = [
        f"# Exported by mipo-bench: task {ex.task.id}, {len(ex.items)} items (seed {ex.seed}) as a run samples them.",
        "# Run with --apply_chat_template so the prompt is sent as the user turn, as mipo-bench does.",
        f"task: {q(ex.name)}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {q(str(data_path))}",
        "test_split: test",
        "output_type: generate_until",
        "num_fewshot: 0",
        "doc_to_text: prompt",
        "doc_to_target: target",
        "process_results: !function utils.process_results",
        f"generation_kwargs: {q(generation_kwargs(ex))}",
        "metric_list:",
    ]
    for m in ex.metrics:
        lines += [f"  - metric: {q(m)}", "    aggregation: mean", "    higher_is_better: true"]
    stage = ex.task.scorer.stage
    if stage is not None:  # lm-eval's process_results cannot call the model: the main metric stays with mipo-bench
        lines.insert(2, f"# {ex.task.metric} (the main metric) needs a second turn of the model under test (the "
                        f"{stage.name} stage), which lm-eval's scoring cannot run: it is not exported; the "
                        "single-pass readings are (`mipo-bench score --model` or `mipo-bench export inspect` "
                        "give the main metric).")
    lines += ["metadata:", "  version: 1.0", f"  mipo_bench_task: {q(ex.task.id)}"]
    return "\n".join(lines) + "\n"


def readme(exports: list[ExportedTask], out: Path) -> str:
    names = ",".join(ex.name for ex in exports)
    return (f"# mipo-bench tasks for lm-eval 0.4.13\n\n"
            f"```\nlm_eval --model hf --model_args pretrained=<model> --include_path {out} \\\n"
            f"  --tasks {names} --apply_chat_template --log_samples --output_path <dir>\n```\n\n"
            "Scores come from mipo-bench's own `Task.score` (utils.py), so mipo-bench must be importable.\n"
            "Sampling settings follow the run; pass `--gen_kwargs` to override.\n")


def export_lmeval(exports: list[ExportedTask], out: Path, include: list[Path]) -> list[Path]:
    """Write data, YAMLs, utils.py, the export config and a README into `out`; returns the YAML paths."""
    out = out.expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, exports, include)
    (out / "utils.py").write_text(UTILS.format(config=CONFIG_NAME), encoding="utf-8")
    paths = []
    for ex in exports:
        data = write_docs(out, ex)
        path = out / f"{ex.name}.yaml"
        path.write_text(task_yaml(ex, data), encoding="utf-8")
        paths.append(path)
    (out / "README.md").write_text(readme(exports, out), encoding="utf-8")
    return paths
