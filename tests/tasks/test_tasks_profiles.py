"""profile_prefs cannot be gamed: adversarial answers score 0, good hand-written answers score high."""

from __future__ import annotations

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from harness.evaluation.evaluate import evaluate_task
from tasks import profile_checks as pc
from tasks.base import Item
from tasks.profiles import Profiles

OFF_TOPIC = ("Volcanoes form where molten rock rises through cracks in the crust of the planet. Over thousands of "
             "years, eruptions build cones of ash and lava, and geologists examine the layers to date them.")


@pytest.fixture(scope="module")
def task_and_split():
    task = Profiles()
    return task, task.load(offline=True)


def _item(question: str, topic: str, *prefs: pc.Preference) -> Item:
    statements = [p.statement for p in prefs]
    return Item(id="hand", question=question, target=statements, context=" ".join(statements),
                meta={"topic": topic, "kinds": [p.kind for p in prefs]})


def test_names_match_on_word_boundaries():
    chen = pc.name("Chen")
    assert not chen.check("Clean the kitchen first.") and chen.check("Chen, clean the kitchen.")
    assert chen.check("Good luck, CHEN!") and not pc.name("Noor").check("The noodles are on the floor.")


@pytest.mark.parametrize("kind", ["empty", "ok", "question", "question_twice", "off_topic", "question_plus_filler"])
def test_adversarial_answers_score_zero_on_every_item(task_and_split, kind):
    task, split = task_and_split
    for it in split.eval_items:
        output = {"empty": "", "ok": "ok", "question": it.question, "question_twice": f"{it.question} {it.question}",
                  "off_topic": OFF_TOPIC, "question_plus_filler": f"{it.question} Sure! Ok, great."}[kind]
        sc = task.score(output, it)
        assert sc.score == 0.0 and sc.extra["answered"] == 0.0, (kind, it.id, sc)
        assert sc.extra.get("honoured_vacuous", 0.0) == 0.0


def test_good_hand_written_answers_score_high():
    task = Profiles()
    dinner = _item("What should I cook for a quick weeknight dinner?", "food",
                   pc.vegetarian(), pc.name("Chen"), pc.max_words(60))
    answer = ("Chen, try a chickpea and spinach curry: fry onion and garlic, add chickpeas, tomatoes and spices, "
              "simmer for 15 minutes and serve it with rice. It is filling, cheap and ready in under half an hour.")
    sc = task.score(answer, dinner)
    assert sc.score == 1.0 and sc.extra["honoured_vacuous"] == 1.0 and sc.extra["answered"] == 1.0
    assert sc.extra["response_words"] == len(pc.words(answer))
    running = _item("How do I start running as a complete beginner?", "fitness", pc.language("spanish"), pc.tldr())
    spanish = ("TL;DR: empieza despacio. Corre y camina en intervalos de un minuto durante veinte minutos, tres veces "
               "por semana, y aumenta el tiempo de carrera poco a poco. Usa zapatillas cómodas y descansa bien.")
    assert task.score(spanish, running).score == 1.0
    vaccines = _item("Explain how vaccines work.", "general", pc.language("french"), pc.no_exclamation())
    french = ("Un vaccin montre au système immunitaire une partie inoffensive du virus. Le corps fabrique alors des "
              "anticorps et garde la mémoire de la maladie, pour réagir vite en cas de vraie infection.")
    sc = task.score(french, vaccines)
    assert sc.score == 1.0 and sc.extra["honoured_vacuous"] == 1.0
    laptop = _item("How do I pick a good laptop?", "general", pc.language("german"), pc.bullets())
    german = ("- Achte auf einen schnellen Prozessor und mindestens 16 GB Speicher.\n"
              "- Der Akku sollte einen ganzen Tag halten und der Bildschirm hell sein.")
    assert task.score(german, laptop).score == 1.0


def test_collapse_and_kitchen_tricks_do_not_pay():
    task = Profiles()
    item = _item("What should I cook for a quick weeknight dinner?", "food", pc.name("Chen"), pc.max_words(40))
    assert task.score("Cook lentil soup.", item).score == 0.0  # within the word limit, but no answer
    kitchen = ("Use what is in your kitchen: boil pasta, fry garlic and courgette in olive oil, add lemon and "
               "parmesan-free breadcrumbs, and dinner is ready in twenty minutes.")
    sc = task.score(kitchen, item)
    assert sc.extra["answered"] == 1.0 and sc.extra["honoured_name"] == 0.0 and sc.score == 0.5


def test_checks_an_empty_answer_passes_are_reported_apart():
    task = Profiles()
    item = _item("What should I cook for a quick weeknight dinner?", "food", pc.vegetarian(), pc.name("Omar"))
    assert pc.vegetarian().vacuous and not pc.name("Omar").vacuous
    meaty = "Omar, grill a chicken breast with garlic and lemon, and serve it with rice and a green salad tonight."
    sc = task.score(meaty, item)
    assert sc.score == 1.0 and sc.extra["honoured_vacuous"] == 0.0  # main metric: the name; diet reported apart
    assert sc.details["answered_check"] == "answered"


def test_items_always_have_a_check_an_empty_answer_fails(task_and_split):
    from tasks.profiles import preferences_of

    _, split = task_and_split
    for it in split.eval_items + split.train_items:
        assert any(not p.vacuous for p in preferences_of(it)), it.id


def test_gold_answers_pass_everything(task_and_split):
    task, split = task_and_split
    for it in split.eval_items + split.train_items:
        sc = task.score(task.gold_output(it), it)
        assert sc.score == 1.0 and sc.extra.get("honoured_vacuous", 1.0) == 1.0, (it.id, sc)


def test_round_metrics_carry_answered_and_length(task_and_split, tmp_path):
    task, split = task_and_split
    items = split.eval_items[:6]
    metrics = evaluate_task(FakeBackend(lambda text: ""), task, items, GenParams(), tmp_path, header={}).metrics
    for name in ("honoured", "answered", "response_words"):
        assert metrics[name]["value"] == 0.0 and metrics[name]["n"] == 6
    assert "ci_low" in metrics["honoured"]
