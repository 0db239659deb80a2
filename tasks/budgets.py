"""What each task's default token budget cuts off on the built-in models, as measured.

Shown by `mipo-bench tasks show <task>` (`measured_truncation`). Measured with
`mipo-bench run suites/measure_budgets.yaml` (40 evaluation items per task, each task's default
prompt, sampling and budget, the vLLM engine on 2 CPU cores); re-measure after changing a default.
A truncated output stopped at `max_new_tokens` without a stop token.
"""

from __future__ import annotations

MEASURED: dict[str, dict[str, str]] = {}
NOT_MEASURED = "not measured on the built-in models (suites/measure_budgets.yaml measures it)"


def measured_truncation(task_id: str) -> dict[str, str] | str:
    """{model: figure} for a built-in task, or a line saying it was not measured."""
    return MEASURED.get(task_id, NOT_MEASURED)
