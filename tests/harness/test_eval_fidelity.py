"""Faithful evaluation: the authors' GSM8K/ARC prompts, lm-eval's gsm8k_cot_llama, the extraction rules,
adversarial answers that must score 0, and the validity figures (no answer, truncation, chance)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from groundfloor.backends.base import Generation
from harness.evaluation.evaluate import sample_row, sample_metrics
from tasks.arc import ArcChallenge
from tasks.base import Item
from tasks.extract import extract_authors_gsm, extract_authors_letter, extract_final_answer
from tasks.gsm8k import FEWSHOT, Gsm8k, build_prompt, lmeval_messages

AUTHORS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "mipo-authors"
GSM_Q = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
         "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
         "egg. How much in dollars does she make every day at the farmers' market?")
GSM = Item(id="g1", question=GSM_Q, target="18")
ARC = Item(id="a1", question="Which gas do plants take in from the air to make food?",
           choices=("oxygen", "carbon dioxide", "nitrogen", "helium"), target="B")
OFF_TOPIC = ("The city council met on Tuesday to discuss the new library hours. Residents praised the longer "
             "weekend schedule, and the reading room will stay open until nine in the evening from next month.")


def test_gsm8k_authors_prompt_is_one_user_turn_with_their_exemplars():
    msgs = Gsm8k().messages(GSM)
    assert [m["role"] for m in msgs] == ["user"]
    text = msgs[0]["content"]
    assert text.startswith("You are a helpful math assistant. Solve the following problem step-by-step and give "
                           "the final answer after ####.\n\nExample 1:\nQuestion: There are 15 trees")
    assert "So the answer is 6.\n#### 6\n\nExample 2:\nQuestion: If there are 3 cars" in text
    assert text.count("Example ") == 8 and text.endswith("#### 8\n\nNew question: " + GSM_Q)
    assert build_prompt(GSM_Q, 0).endswith("after ####.\n\nNew question: " + GSM_Q)


@pytest.mark.skipif(not (AUTHORS / "gsm.py").exists(), reason="authors' reference scripts not present")
def test_gsm8k_authors_prompt_matches_their_script():
    tree = ast.parse((AUTHORS / "gsm.py").read_text())
    src = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "FEWSHOT_SOURCES")
    shots = ast.literal_eval(src)
    assert [(x["question"], x["answer"], x["short_answer"]) for x in shots] == FEWSHOT
    examples = "\n\n".join(f"Example {i+1}:\n" + f"Question: {x['question']}\nAnswer: {x['answer']}\n#### "
                           f"{x['short_answer']}" for i, x in enumerate(shots))  # gsm.py:137-139, 156
    prompt = ("You are a helpful math assistant. Solve the following problem step-by-step and give the final answer "
              "after ####.\n\n" + examples)
    assert build_prompt(GSM_Q) == (prompt + "\n\nNew question: " + GSM_Q).strip()


def test_gsm8k_lm_eval_prompt_matches_lm_eval_fewshot_context(tmp_path):
    """Messages equal to what lm-eval 0.4.13 builds with --apply_chat_template --fewshot_as_multiturn."""
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    data = tmp_path / "test.jsonl"
    data.write_text('{"question": "%s", "answer": "#### 18"}\n' % GSM_Q.replace('"', '\\"'))
    src = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k-cot-llama.yaml"
    (tmp_path / "local.yaml").write_text(f"include: {src}\ntask: gsm8k_local_test\ntag: []\ndataset_path: json\n"
                                         f"dataset_name: null\ndataset_kwargs:\n  data_files:\n    test: {data}\n")
    task = TaskManager(include_path=str(tmp_path)).load(["gsm8k_local_test"])["tasks"]["gsm8k_local_test"]
    doc = next(iter(task.test_docs()))
    got = task.fewshot_context(doc, 8, apply_chat_template=True, fewshot_as_multiturn=True,
                               chat_template=lambda msgs, add_generation_prompt: msgs)
    task_ours = Gsm8k({"prompt": "lm-eval"})
    assert got == lmeval_messages(GSM_Q) == task_ours.messages(GSM)
    assert task_ours.generation.greedy and task_ours.generation.max_new_tokens == 256


def test_arc_prompt_is_the_authors():
    labels = string.ascii_uppercase  # arc.py:58-69
    prompt = ("You are a helpful assistant. The following is a multiple choice question with answer choices. Your "
              "response should show clear and concise reasoning, and you should end with "
              "\"The answer is: <X>\", where X is the correct letter choice.\n\n")
    prompt += ARC.question + "\n\n" + "\n".join(f"{labels[i]}: {c}" for i, c in enumerate(ARC.choices))
    prompt += "\n\nYour response should end with \"The answer is: <X>\", where X is the correct letter choice."
    task = ArcChallenge()
    assert task.messages(ARC) == [{"role": "user", "content": prompt}]
    g = task.generation
    assert (g.temperature, g.top_p, g.max_new_tokens, g.greedy) == (1.0, 0.9, 1024, False)  # arc.py:33-39


def test_gsm8k_extractions():
    assert extract_authors_gsm("so 18.\n#### 18") == "18"
    assert extract_authors_gsm("#### 1,000") == "1"  # their regex stops at the comma (gsm.py:221)
    assert extract_authors_gsm("#### 7 then #### 9") == "7" and extract_authors_gsm("the answer is 18") is None
    assert extract_final_answer("x. The final answer is 5. Again, The final answer is $18") == "18"
    task = Gsm8k()
    sc = task.score("16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars. So the answer is 18.\n#### 18", GSM)
    assert sc.score == 1.0 and sc.extra == {"accuracy_strict": 1.0, "accuracy_flexible": 1.0, "accuracy_marker": 1.0}
    assert sc.details["extraction"] == "marker"
    sc = task.score("She makes 9 * 2 = 18 dollars.", GSM)  # no '####': the authors' model stage decides
    assert sc.extracted is None and sc.extra["accuracy_flexible"] == 1.0 and sc.extra["accuracy_strict"] == 0.0
    assert sc.score is None and sc.details["extraction"] == "not_run"  # not run here: no score, not a zero
    sc = task.score_reply("She makes 9 * 2 = 18 dollars.", GSM, "18")
    assert sc.score == 1.0 and sc.extracted == "18" and sc.details["extraction"] == "model"
    lm = Gsm8k({"prompt": "lm-eval"})
    assert lm.score("9 * 2 = 18. The final answer is 18", GSM).score == 1.0
    assert lm.score("9 * 2 = 18.\n#### 18", GSM).score == 0.0  # strict there is lm-eval's "The final answer is"


def last_number_extractor(messages: list[dict[str, str]]) -> str:
    """A model-stage reply at its most generous: the last number of the quoted text (a copied question's last
    number can be the gold), else a sentence without a number."""
    from tasks.extract import extract_flexible

    return extract_flexible(messages[-1]["content"]) or "There is no number in this reasoning."


@pytest.mark.parametrize("output", ["", "   ", "####", "ok", GSM_Q, "Sure! " + GSM_Q + "\n", OFF_TOPIC,
                                    GSM_Q.replace(" ", "\n")])
@pytest.mark.parametrize("prompt", ["authors", "lm-eval"])
def test_gsm8k_adversarial_answers_score_zero(output, prompt):
    """Empty, copied-question and off-topic outputs: 0 on every metric (a copied question has numbers, and
    its last one can be the gold: flexible extraction ignores copies of the question's sentences, and the
    authors' model stage is shown the output without them, so even an extractor that reads the last number
    it is shown cannot take the gold from the copy)."""
    item = Item(id="g2", question=GSM_Q, target="2")  # the question's last number
    task = Gsm8k({"prompt": prompt})
    sc = task.score(output, item)
    ask = task.follow_up(output, item)
    if ask is not None:
        assert "2" not in ask[-1]["content"].removeprefix(task.extraction_request)
        sc = task.score_reply(output, item, last_number_extractor(ask))
    assert sc.score == 0.0 and set(sc.extra.values()) == {0.0}


def test_gsm8k_raw_extraction_input_is_the_authors():
    """extraction_input: raw sends the output exactly as gsm.py:225 does, copied question included (where a
    generous extractor can read the gold from it: why echo_free is the default)."""
    item = Item(id="g2", question=GSM_Q, target="2")
    raw = Gsm8k({"extraction_input": "raw"})
    assert raw.follow_up(GSM_Q, item) == [{"role": "user", "content": raw.extraction_request + GSM_Q}]
    assert raw.follow_up("", item) == [{"role": "user", "content": raw.extraction_request}]
    assert raw.score_reply(GSM_Q, item, last_number_extractor(raw.follow_up(GSM_Q, item))).score == 1.0
    assert Gsm8k().follow_up(GSM_Q, item) is None and Gsm8k().score(GSM_Q, item).details["extraction"] == "none"


@pytest.mark.parametrize("output", ["", "ok", ARC.question, "mc", OFF_TOPIC, "A: oxygen\nB: carbon dioxide\nC: nitrogen"
                                    "\nD: helium", "the answer is a bit unclear to me"])
@pytest.mark.parametrize("target", ["A", "B", "C", "D"])
def test_arc_adversarial_answers_score_zero(output, target):
    """Whatever the gold letter, a copied prompt (which contains every choice letter and 'The answer is: <X>'),
    the copied choices, an empty or off-topic answer score 0. accuracy_authors reads the raw output as the
    authors do (arc.py:89-95): the only one of these it scores is the copied prompt, whose reminder's "the
    answer is" is followed by the choice line "A: ..." (an artefact of their reading, kept in that column)."""
    item = Item(id="a2", question=ARC.question, choices=ARC.choices, target=target)
    task = ArcChallenge()
    text = task.messages(item)[0]["content"] if output == "mc" else output
    sc = task.score(text, item)
    assert sc.extracted is None and sc.score == 0.0
    assert sc.extra["accuracy_authors"] == float(output == "mc" and target == "A")


def test_arc_real_answers_score():
    task = ArcChallenge()
    assert task.score("Plants take in carbon dioxide for photosynthesis. The answer is: B", ARC).score == 1.0
    assert task.score("B: carbon dioxide", ARC).score == 1.0  # one choice line alone is an answer
    assert task.score("It is oxygen. The answer is: A", ARC).score == 0.0
    assert extract_authors_letter("The answer is (C)") == "C" and extract_authors_letter("the answer is: b") is None


def _gen(text: str, truncated: bool, n: int = 10) -> Generation:
    return Generation(text=text, n_prompt_tokens=5, n_new_tokens=n, seconds=0.1, truncated=truncated)


def test_validity_fields_and_summary():
    task = ArcChallenge()
    items = [Item(id=str(i), question=f"q{i}?", choices=("x", "y", "z", "w"), target="A") for i in range(4)]
    gens = [_gen("The answer is: A", False, 8), _gen("The answer is: B", False, 12), _gen("Let me think", True, 40),
            _gen("Hmm", False, 4)]
    rows = [sample_row(task, it, "p", g) for it, g in zip(items, gens)]
    assert [r["truncated"] for r in rows] == [False, False, True, False]
    assert [r["no_answer"] for r in rows] == [0.0, 0.0, 1.0, 1.0]
    m = sample_metrics(task, rows)
    assert m["accuracy"]["value"] == 0.25 and m["accuracy_answered"] == {**m["accuracy_answered"], "value": 0.5, "n": 2}
    assert m["no_answer_rate"]["value"] == 0.5 and m["truncated_rate"]["value"] == 0.25
    assert m["chance"]["value"] == 0.25 and m["response_tokens"]["value"] == 16.0
    assert all(m[k]["ci_low"] <= m[k]["value"] <= m[k]["ci_high"] for k in ("no_answer_rate", "truncated_rate"))


def test_looping_outputs_are_told_apart_from_answers_cut_short():
    task = ArcChallenge()
    item = Item(id="0", question="q?", choices=("x", "y", "z", "w"), target="A")
    loop = "Here is what to pack:\n" + "- A swimsuit\n" * 80
    prose = ("The moon's gravity pulls on the oceans, raising a bulge of water on the side facing it and another on "
             "the far side, where the Earth is pulled away from the water. As the planet turns, a coast passes under "
             "both bulges each day, so most places see two high tides roughly twelve hours and twenty-five minutes "
             "apart. The sun adds a smaller pull: when it lines up with the moon at new and full moon the tides are "
             "larger (spring tides), and at the quarter moons they partly cancel (neap tides). Local coastlines, "
             "basin shapes and resonance change the timing and the range a great deal, which is why the Bay of Fundy "
             "sees a range of more than fifteen metres")
    rows = [sample_row(task, item, "p", _gen(t, True, 512)) for t in (loop, prose, "The answer is: A")]
    assert [r["repeating"] for r in rows] == [True, False, False]  # a short answer is never called a loop
    m = sample_metrics(task, rows)
    assert m["repeating_rate"]["value"] == 1 / 3 and m["repeating_rate"]["n"] == 3
