"""lm-eval's output (`simple_evaluate(..., log_samples=True)`) as mipo-bench records.

One samples.jsonl line per document, keyed by lm-eval's `doc_id` (groups: `<task>:<doc_id>`), so two
evaluations pair item by item; `score` is the main metric's per-item value (the first metric of the task's
`metric_list`, under its first filter), every other metric sits beside it under lm-eval's name
(`acc`, or `exact_match,strict-match` for a filter other than `none`). The summary keeps lm-eval's names:
a metric averaged per item gets its mean with mipo-bench's CI over the items (the same value as lm-eval's);
any other aggregate keeps lm-eval's value, with lm-eval's standard error as a normal CI where it has one.
"""

from __future__ import annotations

import math
from typing import Any

from groundfloor.records import MetricCI

Z = 1.959964
SKIP_KEYS = {"alias", "name", "sample_len", "sample_count"}


def display(metric: str, filt: str) -> str:
    """lm-eval's `metric,filter` key as a metric name: the filter only when it is not `none`."""
    return metric if filt == "none" else f"{metric},{filt}"


def metric_keys(result: dict) -> list[tuple[str, str, str]]:
    """(results key, metric, filter) for each metric of one task's `results` entry (stderr keys left out)."""
    out = []
    for key in result:
        if key in SKIP_KEYS or "," not in key:
            continue
        metric, filt = key.split(",", 1)
        if not metric.endswith("_stderr"):
            out.append((key, metric, filt))
    return out


def main_key(config: dict, result: dict) -> tuple[str, str] | None:
    """(metric, filter) of the task's headline: its first listed metric under its first filter."""
    keys = metric_keys(result)
    listed = [m.get("metric") for m in config.get("metric_list") or [] if isinstance(m, dict)]
    filters = [f.get("name") for f in config.get("filter_list") or [] if isinstance(f, dict)] or ["none"]
    for metric in listed + [m for _, m, _ in keys]:
        for filt in filters + [f for _, _, f in keys]:
            if any(m == metric and f == filt for _, m, f in keys):
                return metric, filt
    return None


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(float(v)):
        return float(v)
    return None


def _output(sample: dict) -> Any:
    """What the model answered: generated text, the chosen option's index, or a log-likelihood."""
    resp = sample.get("filtered_resps")
    if isinstance(resp, list) and resp and all(isinstance(r, (list, tuple)) and r for r in resp):
        lls = [float(r[0]) for r in resp]
        return max(range(len(lls)), key=lls.__getitem__), lls
    if isinstance(resp, list) and len(resp) == 1:
        return resp[0], None
    return resp, None


def _context(sample: dict) -> str:
    args = sample.get("arguments")
    try:
        first = args[0] if isinstance(args, list) else next(iter(args.values()))
        return str(first[0] if isinstance(first, (list, tuple)) else first)
    except (StopIteration, TypeError, KeyError, IndexError, AttributeError):
        return ""


def sample_rows(samples: list[dict], main: tuple[str, str] | None, prefix: str = "") -> list[dict]:
    """One row per doc_id (in lm-eval's order): each filter's per-item metrics merged into it."""
    rows: dict[Any, dict] = {}
    for s in samples:
        doc_id = s.get("doc_id")
        row = rows.setdefault(doc_id, {"id": f"{prefix}{doc_id}", "doc_id": doc_id, "prompt": _context(s),
                                       "target": s.get("target"), "doc_hash": s.get("doc_hash"),
                                       "prompt_hash": s.get("prompt_hash"), "score": None})
        filt = s.get("filter", "none")
        for metric in s.get("metrics") or []:
            value = s.get(metric)
            row[display(metric, filt)] = value if _number(value) is not None else str(value)
            if main == (metric, filt):
                row["score"] = _number(value)
                row["output"], logliks = _output(s)
                if logliks is not None:
                    row["logliks"] = [round(v, 4) for v in logliks]
    return list(rows.values())


def lm_eval_metrics(result: dict, rows: list[dict], n: int, seed: int, per_item: bool = True) -> dict[str, dict]:
    """metrics.json's `metrics`: per-item means with mipo-bench's CI, other aggregates from lm-eval."""
    out = {}
    for key, metric, filt in metric_keys(result):
        name = display(metric, filt)
        values = [_number(r.get(name)) for r in rows] if per_item else []
        lm_value = _number(result[key])
        if values and all(v is not None for v in values) and lm_value is not None \
                and math.isclose(sum(values) / len(values), lm_value, rel_tol=1e-6, abs_tol=1e-9):
            out[name] = MetricCI.of(values, seed=seed).to_dict()  # type: ignore[arg-type]
            continue
        se = _number(result.get(f"{metric}_stderr,{filt}"))
        ci = (lm_value - Z * se, lm_value + Z * se) if se is not None and lm_value is not None else (None, None)
        out[name] = {"value": lm_value, "ci_low": ci[0], "ci_high": ci[1], "n": n,
                     **({"ci_method": "lm-eval stderr (normal)"} if ci[0] is not None else {})}
    return out
