"""Offline personalization: generated user profiles with code-checkable preferences, no judge.

Each item is a profile (2-3 stated preferences, at least one that an empty answer fails) plus a
question. Every score depends on a judge-free answered-the-question check (profile_checks.answered):
after removing any copy of the question, the answer must have >= 8 words, >= 2 content words the
question lacks, and >= 2 distinct keywords of the question (its content words plus topic keywords in
English, Spanish, French and German, tasks/profile_topics.py). Unanswered -> every check scores 0, so
"", "ok", the question itself or fluent off-topic text score 0. `honoured` = share of the checks an
empty answer would fail (language, length, format, name, structure, budget) that the answer passes;
`honoured_vacuous` = the same for the checks an empty answer passes (diet, units, tone), reported
apart; `answered` and `response_words` sit beside them. MIPO's negative is the same question without
the profile (`context_drop`). Items are generated from a seed; training questions are a separate bank.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

from tasks import profile_checks as pc
from tasks.profile_topics import keywords
from tasks.base import GenerationSettings, Item, Score, Task, prompt_hash
from tasks.scorers import Generative
from tasks.sources import Generated, Part, Source

QUESTIONS = {
    "food": [
        "What should I cook for a quick weeknight dinner?", "Suggest a high-protein lunch I can bring to work.",
        "What can I bake for a friend's birthday?", "Plan a simple breakfast for a busy morning.",
        "What is a good dish to bring to a potluck?", "How do I make a filling soup for winter?",
        "Give me ideas for healthy snacks.", "What should I make for a picnic?",
        "How can I use up leftover rice?", "Suggest a dinner menu for four guests.",
        "What is an easy dessert for a hot day?", "How do I meal-prep for a whole week?",
    ],
    "travel": [
        "How should I plan a weekend trip to the mountains?", "What should I pack for a week at the beach?",
        "How do I get around a big city cheaply?", "What is a good way to spend a day in Rome?",
        "How far can I comfortably cycle in a day as a beginner?", "Plan a road trip along the coast.",
        "How do I prepare for a long-haul flight?", "What should I do on a rainy day in London?",
        "How do I choose a hiking trail for a family?", "What is worth seeing on a short trip to Lisbon?",
    ],
    "fitness": [
        "How do I start running as a complete beginner?", "What is a good home workout without equipment?",
        "How much water should I drink during a long hike?", "How can I improve my posture at my desk?",
        "What is a sensible plan to train for a 10 km race?", "How do I warm up before lifting weights?",
        "How can I get better sleep after evening workouts?", "What stretches help after cycling?",
    ],
    "home": [
        "How do I keep my apartment cool in summer?", "How can I lower my heating bill?",
        "What is the best way to organise a small kitchen?", "How do I start a balcony herb garden?",
        "How can I soundproof a bedroom cheaply?", "How do I paint a room without a mess?",
        "What should be in a basic home toolkit?", "How do I get rid of damp in a bathroom?",
    ],
    "general": [
        "How do I write a good cover letter?", "Explain how vaccines work.", "How do I learn a new language fast?",
        "What is a good way to save money each month?", "Explain what inflation is.",
        "How do I prepare for a job interview?", "What makes a good presentation?",
        "How do solar panels produce electricity?", "How can I be more productive working from home?",
        "Explain how the stock market works.", "How do I pick a good laptop?", "What is machine learning?",
    ],
}
NAMES = ["Priya", "Mateo", "Aiko", "Lena", "Kwame", "Sofia", "Omar", "Ingrid", "Chen", "Amara", "Tomas", "Noor"]
SHORT_ANSWER = "Give me a short answer (2-3 sentences) and respect these requirements about me:"


def _preference_pool(rng: random.Random, topic: str) -> list[pc.Preference]:
    pool = [
        pc.language(rng.choice(["spanish", "french", "german"])),
        pc.max_words(rng.choice([40, 60, 80])),
        pc.bullets(),
        pc.name(rng.choice(NAMES)),
        pc.no_exclamation(),
        pc.tldr(),
        rng.choice([pc.vegetarian(), pc.vegan()]),
        pc.metric_units(),
        pc.budget(rng.choice([20, 50, 100])),
    ]
    return [p for p in pool if not p.topics or topic in p.topics]


def _split_bank(seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split the question bank into disjoint evaluation and training questions (2/3 : 1/3 per topic)."""
    rng = random.Random(seed)
    evals, train = [], []
    for topic, qs in sorted(QUESTIONS.items()):
        qs = list(qs)
        rng.shuffle(qs)
        cut = max(1, len(qs) // 3)
        train += [(topic, q) for q in qs[:cut]]
        evals += [(topic, q) for q in qs[cut:]]
    return evals, train


def generate_items(questions: list[tuple[str, str]], n: int, seed: int, prefix: str) -> list[Item]:
    """`n` distinct (profile, question) items built deterministically from `seed`."""
    rng = random.Random(seed)
    items, seen = [], set()
    attempts = 0
    while len(items) < n and attempts < n * 50:
        attempts += 1
        topic, question = rng.choice(questions)
        pool = _preference_pool(rng, topic)
        k = rng.choice([2, 3])
        prefs = rng.sample(pool, k)
        kinds = [p.kind for p in prefs]
        if len(set(kinds)) < k or ("length" in kinds and "format" in kinds and rng.random() < 0.5):
            continue
        if all(p.vacuous for p in prefs):  # an empty answer would pass every check
            continue
        context = " ".join(p.statement for p in prefs)
        key = prompt_hash(context + question)
        if key in seen:
            continue
        seen.add(key)
        items.append(Item(id=f"{prefix}-{len(items)}", question=question, target=[p.statement for p in prefs],
                          context=context, meta={"topic": topic, "kinds": kinds, "user": prompt_hash(context)}))
    return items


def _catalogue() -> dict[str, pc.Preference]:
    prefs = [pc.language(lang) for lang in ("spanish", "french", "german")]
    prefs += [pc.max_words(n) for n in (40, 60, 80)] + [pc.budget(b) for b in (20, 50, 100)]
    prefs += [pc.name(n) for n in NAMES]
    prefs += [pc.bullets(), pc.no_exclamation(), pc.tldr(), pc.vegetarian(), pc.vegan(), pc.metric_units()]
    return {p.statement: p for p in prefs}


CATALOGUE = _catalogue()
SENTENCES = {
    "english": "this idea works well and is easy for you",
    "spanish": "la idea es rápida y práctica para usted con la familia",
    "french": "la idée est rapide et pratique pour vous avec la famille",
    "german": "die idee ist schnell und praktisch für sie mit der familie",
}


def preferences_of(item: Item) -> list[pc.Preference]:
    """Rebuild the checkable preferences from the statements stored in the item."""
    return [CATALOGUE[s] for s in item.target]


def compliant_answer(item: Item) -> str:
    """A hand-built answer that honours every preference of the item (used by `tasks validate`)."""
    prefs = {p.kind: p for p in preferences_of(item)}
    lang = next((lng for lng in pc.STOPWORDS if "language" in prefs and lng.capitalize() in prefs["language"].statement),
                "english")
    sentence = SENTENCES[lang]
    who = next((n for n in NAMES if "name" in prefs and n in prefs["name"].statement), "")
    head = f"TL;DR: {sentence} {' '.join(_two_keywords(item))} {who}".strip()
    return f"{head}\n- {sentence} 10 €\n- {sentence}"


def item_keywords(item: Item) -> list[str]:
    return keywords(item.meta.get("topic", ""), item.question)


def _two_keywords(item: Item) -> list[str]:
    """Two keywords of the item's question with distinct stems (so the gold answer is on topic)."""
    out: dict[str, str] = {}
    for w in pc.content_words(item.question) + item_keywords(item):
        out.setdefault(pc.stem(w.lower()), w)
    return list(out.values())[:2]


class ProfilesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pool_size: int = Field(default=400, ge=10)
    train_pool_size: int = Field(default=300, ge=10)


def honoured(output: str, item: Item) -> Score:
    """Share of the profile's checks (those an empty answer fails) the answer passes, if it answered at all."""
    prefs = preferences_of(item)
    ok, why = pc.answered(output, item.question, item_keywords(item))
    results = {p.kind: float(ok and p.check(output)) for p in prefs}
    real = [results[p.kind] for p in prefs if not p.vacuous]
    empty_pass = [results[p.kind] for p in prefs if p.vacuous]
    extra = {f"honoured_{k}": v for k, v in results.items()}
    extra.update(answered=float(ok), response_words=float(len(pc.words(output))))
    if empty_pass:
        extra["honoured_vacuous"] = sum(empty_pass) / len(empty_pass)
    share = sum(real) / len(real) if real else 0.0
    return Score(extracted=results, score=share, extra=extra, details={"answered_check": why})


class Profiles(Task):
    id = "profile_prefs"
    family = "personalization"
    description = ("Generated user profiles with code-checkable preferences (language, length, format, diet, units, "
                   "name, tone, structure, budget); no judge. Every score needs a cheap answered-the-question check "
                   "(>= 8 words beyond any copy of the question, >= 2 new content words, >= 2 keywords of the "
                   "question or its topic, in en/es/fr/de); honoured = share of the checks an empty answer fails; "
                   "honoured_vacuous = the checks an empty answer passes (diet, units, tone); answered and "
                   "response_words beside them")
    default_negative = "context_drop"
    default_limit = 200
    # 512 new tokens, as the authors' personalization scripts (prism.py:164-170, ca.py:42-48): at 256, 4 of
    # 40 Qwen answers that were not looping were cut short (tasks/budgets.py)
    generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    train_generation = GenerationSettings(max_new_tokens=512, temperature=0.1, top_p=0.9, greedy=False)
    scorer = Generative(rule=honoured, metric="honoured", metrics=(
        "honoured_vacuous", "answered", "response_words", *(f"honoured_{kind}" for kind in pc.KINDS)))
    Options = ProfilesOptions

    def data_sources(self) -> list[Source]:
        def bank(which: int, size: int, seed: int, prefix: str):
            return lambda: generate_items(_split_bank(self.default_seed)[which], size, seed=seed, prefix=prefix)

        o = self.options
        return [Source("generated",
                       Part((Generated(f"tasks/profiles.py: {o.pool_size} profiles, evaluation question bank, seed 1",
                                       bank(0, o.pool_size, 1, "eval")),)),
                       Part((Generated(f"tasks/profiles.py: {o.train_pool_size} profiles, disjoint training question "
                                       "bank, seed 2", bank(1, o.train_pool_size, 2, "train")),)))]

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        if with_context and item.context:
            content = f"{SHORT_ANSWER} {item.context}\n\n{item.question}"
        else:
            content = f"Give me a short answer (2-3 sentences).\n\n{item.question}"
        return [{"role": "user", "content": content}]

    def gold_output(self, item: Item) -> str:
        return compliant_answer(item)
