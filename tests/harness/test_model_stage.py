"""A scorer's model stage in a run: the authors' GSM8K/SVAMP extraction turn asked of the run's own backend,
all pending follow-ups in one generation call, seeded with the run's seed, saved per sample, resumable."""

from __future__ import annotations

import json
import re

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from harness.evaluation.evaluate import evaluate_task, follow_ups
from tasks.base import Item
from tasks.gsm8k import EXTRACTION_REQUEST, Gsm8k
from tasks.svamp import Svamp

ITEMS = [Item(id=f"g{i}", question=f"Tom has {i} apples and buys {i + 10} more. How many apples does he have now?",
              target=str(2 * i + 10)) for i in range(5)]
# per item: '####' (stage 1), \boxed (stage 2 reads it), a wrong number, no number at all, an empty answer
OUTPUTS = {"g0": "0 + 10 = 10.\n#### 10", "g1": "1 + 11 = 12, so \\boxed{12}", "g2": "He has 99 apples.",
           "g3": "Apples are tasty.", "g4": ""}


class Recording(FakeBackend):
    """The fake backend, recording each generate call's prompts and decoding."""

    def __init__(self, responder):
        super().__init__(responder)
        self.log: list[tuple[list, GenParams]] = []

    def generate(self, prompts, params, on_done=None):
        self.log.append((prompts, params))
        return super().generate(prompts, params, on_done)


def respond(text: str) -> str:
    """The model under test: an item's fixed output, or for the extraction turn the last number it quotes."""
    if EXTRACTION_REQUEST in text:
        quoted = text.split(EXTRACTION_REQUEST, 1)[1]
        found = re.findall(r"\d+", quoted)
        return found[-1] if found else "I could not find a number."
    return next(out for it_id, out in OUTPUTS.items() if f"Tom has {it_id[1:]} apples" in text)


def rows_of(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def test_follow_ups_are_one_seeded_call_and_saved_per_sample(tmp_path):
    backend = Recording(respond)
    params = GenParams(max_new_tokens=64, temperature=0.1, top_p=0.9, greedy=False, batch_size=5, seed=123)
    got = evaluate_task(backend, Gsm8k(), ITEMS, params, tmp_path, header={}).record
    assert len(backend.log) == 2  # the evaluation's call, then one call for every follow-up
    asked, fparams = backend.log[1]
    assert len(asked) == 3  # \boxed, wrong number, no number; '####' needs none, an empty output has nothing to ask
    assert (fparams.temperature, fparams.top_p, fparams.max_new_tokens, fparams.greedy) == (0.1, 0.9, 1024, False)
    assert fparams.seed == 123 and fparams.batch_size == 5  # the run's seed: one seed per request from it
    assert asked[0] == [{"role": "user", "content": EXTRACTION_REQUEST + OUTPUTS["g1"]}]
    rows = {r["id"]: r for r in rows_of(tmp_path)}
    assert len(rows_of(tmp_path)) == len(ITEMS)  # rewritten, not appended twice
    assert [rows[i]["extraction"] for i in OUTPUTS] == ["marker", "model", "model", "none", "none"]
    assert [rows[i]["score"] for i in OUTPUTS] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert rows["g1"]["extracted"] == "12" and rows["g1"]["extraction_reply"] == "12"
    assert rows["g1"]["extraction_prompt"] == backend.render(asked[0]) and rows["g1"]["extraction_seed"] == 123
    assert rows["g3"]["extraction_reply"] == "I could not find a number." and rows["g3"]["no_answer"] == 1.0
    assert "extraction_reply" not in rows["g0"] and "extraction_reply" not in rows["g4"]
    assert rows["g1"]["accuracy_strict"] == 0.0 and rows["g1"]["accuracy_flexible"] == 1.0
    m = got["metrics"]
    assert m["accuracy"]["value"] == pytest.approx(2 / 5) and m["accuracy_strict"]["value"] == pytest.approx(1 / 5)
    assert m["accuracy_marker"]["value"] == pytest.approx(1 / 5)
    assert m["accuracy_flexible"]["value"] == pytest.approx(2 / 5)
    assert got["model_stage"] == {"name": "extraction", "asked": 3, "generation": fparams.to_dict()}
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["main_metric"] == "accuracy" and saved["model_stage"]["asked"] == 3


def test_pending_follow_ups_are_asked_on_resume(tmp_path):
    """A run stopped after the evaluation's generation: the resumed run generates nothing again and asks only the
    follow-ups still pending."""

    class Stopped(Recording):
        def generate(self, prompts, params, on_done=None):
            if self.log:
                raise KeyboardInterrupt
            return super().generate(prompts, params, on_done)

    with pytest.raises(KeyboardInterrupt):
        evaluate_task(Stopped(respond), Gsm8k(), ITEMS, GenParams(), tmp_path, header={})
    pending = rows_of(tmp_path)
    assert len(pending) == 5 and pending[1]["extraction"] == "not_run" and pending[1]["score"] is None
    backend = Recording(respond)
    got = evaluate_task(backend, Gsm8k(), ITEMS, GenParams(), tmp_path, header={}).record
    assert len(backend.log) == 1 and len(backend.log[0][0]) == 3  # the follow-ups only
    assert got["metrics"]["accuracy"]["value"] == pytest.approx(2 / 5)
    again = Recording(respond)
    evaluate_task(again, Gsm8k(), ITEMS, GenParams(), tmp_path, header={})
    assert again.log == []  # all answered: nothing is asked twice


def test_lm_eval_prompt_has_no_model_stage(tmp_path):
    backend = Recording(lambda text: "So 12. The final answer is 12")
    got = evaluate_task(backend, Gsm8k({"prompt": "lm-eval"}), ITEMS[:2], GenParams(), tmp_path, header={})
    assert len(backend.log) == 1 and "model_stage" not in got.record
    assert all("extraction" not in r for r in rows_of(tmp_path))


def test_svamp_asks_in_the_authors_svamp_wording():
    ask = Svamp().follow_up("He has 5 apples.", ITEMS[0])
    assert ask == [{"role": "user", "content": "Extract the numeric answer from this reasoning, and do not include "
                    "anythig ele in your response other than the number. He has 5 apples."}]
    assert Svamp().metric == "accuracy" and Svamp().scorer.stage.name == "extraction"


def test_follow_up_replies_do_not_depend_on_the_batch(tiny_model_dir):
    """Seeded like every other sample: an output's extraction reply is the same asked alone or among others."""
    from groundfloor.backends.hf import HFBackend

    backend = HFBackend.load(str(tiny_model_dir))
    task = Gsm8k({"extraction_max_new_tokens": 24})  # the random tiny model rarely stops early
    params = GenParams(batch_size=4, seed=5)
    entries = [(ITEMS[i], OUTPUTS[f"g{i}"]) for i in (1, 2, 3)]
    together = follow_ups(backend, task, entries, params)
    alone = follow_ups(backend, task, entries[1:2], params)
    assert sorted(together) == [0, 1, 2] and together[1] == alone[0]
    assert together[1]["extraction_seed"] == 5
