"""Two tiny lm-eval tasks (multiple choice and generate_until) over a 6-row JSONL file, as YAMLs in a folder."""

from __future__ import annotations

import json
from pathlib import Path

ROWS = [{"q": f"What is {i} plus {i}?", "choices": [str(2 * i), str(2 * i + 1), "no"], "label": i % 3,
         "answer": str(2 * i)} for i in range(6)]

COMMON = """dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
doc_to_text: "Question: {{{{q}}}}\\nAnswer:"
"""

MC = """task: tiny_mc
output_type: multiple_choice
doc_to_choice: "{{choices}}"
doc_to_target: label
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""

GEN = """task: tiny_gen
output_type: generate_until
doc_to_target: answer
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 6
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def write_tasks(folder: Path) -> Path:
    """tiny_mc and tiny_gen in `folder` (lm-eval's --include_path); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    for name, body in (("tiny_mc.yaml", MC), ("tiny_gen.yaml", GEN)):
        (folder / name).write_text(body + COMMON.format(data=data))
    return folder
