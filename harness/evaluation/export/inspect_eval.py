"""`mipo-bench export inspect`: one inspect-ai task file over the same JSONL docs and Task.score.

`mipo_bench_inspect.py` defines an `@task` per exported task (`mipo_<id>`): a MemoryDataset of the
run's sampled items (the user message as input), `generate()`, and a scorer calling `Task.score`.
A scorer's model stage (GSM8K's and SVAMP's extraction turn) is asked of the model under evaluation
(inspect's `get_model()`) with the stage's decoding, and the output scored with its reply.
"""

from __future__ import annotations

from pathlib import Path

from harness.evaluation.export.common import CONFIG_NAME, ExportedTask, write_config, write_docs

FILE_NAME = "mipo_bench_inspect.py"

HEADER = '''"""inspect-ai tasks exported by mipo-bench: the run's items, prompts and Task.score.

Run: inspect eval {file}@<task> --model <provider/model>   (tasks: {names})
"""

import json
import sys
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model
from inspect_ai.scorer import Score, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState, generate

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "{config}"
SETTINGS = json.loads(CONFIG.read_text())
try:
    from harness.evaluation.export.common import doc_follow_up, doc_score
except ImportError:  # mipo-bench not installed: use the checkout it was exported from
    sys.path.insert(0, SETTINGS["repo"])
    from harness.evaluation.export.common import doc_follow_up, doc_score

ROLES = {{"user": ChatMessageUser, "assistant": ChatMessageAssistant, "system": ChatMessageSystem}}


def mipo_dataset(task_id: str) -> MemoryDataset:
    """The exported docs of `task_id` as samples (the doc rides along in metadata for scoring)."""
    lines = (HERE / f"{{task_id}}.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines if line.strip()]
    return MemoryDataset([Sample(input=d["prompt"], target=d["target"], id=d["id"], metadata={{"doc": d}})
                          for d in docs], name=task_id)


@scorer(metrics=[mean(), stderr()])
def mipo_score():
    """mipo-bench's Task.score; extracted answer as `answer`, extra metrics in metadata."""

    async def score(state: TaskState, target: Target) -> Score:
        doc, output = state.metadata["doc"], state.output.completion
        ask, reply = doc_follow_up(CONFIG, doc, output), None
        if ask is not None:  # the scorer's model stage: a second turn of the model under evaluation
            g = ask["generation"]
            seed = SETTINGS["tasks"][doc["mipo_task"]]["generation"]["seed"]
            config = GenerateConfig(max_tokens=g["max_new_tokens"], seed=seed,
                                    temperature=0.0 if g["greedy"] else g["temperature"],
                                    top_p=None if g["greedy"] else g["top_p"])
            turn = [ROLES[m["role"]](content=m["content"]) for m in ask["messages"]]
            reply = (await get_model().generate(turn, config=config)).completion
        sc = doc_score(CONFIG, doc, output, reply)
        answer = None if sc.extracted is None else str(sc.extracted)
        return Score(value=float(sc.score), answer=answer, metadata={{"extra": sc.extra, **sc.details, "reply": reply}})

    return score


def mipo_task(task_id: str) -> Task:
    """A task over the exported items with the run's decoding."""
    g = SETTINGS["tasks"][task_id]["generation"]
    config = GenerateConfig(max_tokens=g["max_new_tokens"], temperature=0.0 if g["greedy"] else g["temperature"],
                            top_p=None if g["greedy"] else g["top_p"], seed=g["seed"])
    return Task(dataset=mipo_dataset(task_id), solver=generate(), scorer=mipo_score(), config=config,
                name=SETTINGS["tasks"][task_id]["name"])
'''

TASK_FN = '''

@task
def {name}():
    """mipo-bench task {task_id}."""
    return mipo_task({task_id!r})
'''


def export_inspect(exports: list[ExportedTask], out: Path, include: list[Path]) -> Path:
    """Write data, the export config and `mipo_bench_inspect.py` into `out`; returns the task file."""
    out = out.expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, exports, include)
    names = ", ".join(ex.name for ex in exports)
    text = HEADER.format(file=FILE_NAME, names=names, config=CONFIG_NAME)
    for ex in exports:
        write_docs(out, ex)
        text += TASK_FN.format(name=ex.name, task_id=ex.task.id)
    path = out / FILE_NAME
    path.write_text(text, encoding="utf-8")
    return path
