"""What each task's default token budget cuts off on the built-in models, as measured.

Shown by `mipo-bench tasks show <task>` (`measured_truncation`). Measured with
`mipo-bench run suites/measure_budgets.yaml` (40 evaluation items per task, each task's default
prompt, sampling and budget, the vLLM engine on 2 CPU cores); re-measure after changing a default.
A truncated output stopped at `max_new_tokens` without a stop token; a looping one ends in a repetition
(`repeating` in samples.jsonl) that no budget would end, so the budget is judged on the rest ("cut short").
"""

from __future__ import annotations

MEASURED: dict[str, dict[str, str]] = {  # 2026-11-29, vLLM engine, bf16 on an AVX-512-BF16 CPU
    "gsm8k": {
        "qwen2.5-coder-0.5b-instruct":
            "0/40 truncated (0.0 %) at 512 new tokens, T 0.1, top-p 0.9, the authors' 8-shot prompt",
        "smollm2-135m-instruct":
            "35/40 truncated (87.5 %) at 512 new tokens, T 0.1, top-p 0.9, the authors' 8-shot prompt: 3 looping; "
            "the other 32 go on writing new 'Example N: Question: ...' exemplars after their own answer (26 of "
            "them had already written '#### N', which is what is scored); 6/40 (15 %) were cut before an answer",
    },
    "arc_challenge": {
        "qwen2.5-coder-0.5b-instruct":
            "0/40 truncated (0.0 %) at 1024 new tokens, T 1.0, top-p 0.9",
        "smollm2-135m-instruct":
            "1/40 truncated (2.5 %) at 1024 new tokens, T 1.0, top-p 0.9: that one looping",
    },
    "profile_prefs": {
        "qwen2.5-coder-0.5b-instruct":
            "8/40 truncated (20.0 %) at 512 new tokens, T 0.1, top-p 0.9: 7 looping, 1/40 (2.5 %) cut short "
            "(at 256 tokens: 11/40, 4 cut short)",
        "smollm2-135m-instruct":
            "15/40 truncated (37.5 %) at 512 new tokens, T 0.1, top-p 0.9: 14 looping, 1/40 (2.5 %) cut short "
            "(at 256 tokens: 16/40)",
    },
}
NOT_MEASURED = "not measured on the built-in models (suites/measure_budgets.yaml measures it)"


def measured_truncation(task_id: str) -> dict[str, str] | str:
    """{model: figure} for a built-in task, or a line saying it was not measured."""
    return MEASURED.get(task_id, NOT_MEASURED)
