"""Checkable user preferences: how each is stated in a profile and how code verifies it.

Also the judge-free answered-the-question check (`answered`) that every profile_prefs score depends on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-zÀ-ÿ']+")

STOPWORDS = {
    "english": {"the", "and", "is", "of", "to", "with", "you", "for", "this", "that", "are", "in", "it"},
    "spanish": {"el", "la", "de", "que", "y", "los", "las", "con", "para", "es", "una", "por", "en"},
    "french": {"le", "la", "les", "de", "et", "des", "est", "pour", "une", "avec", "vous", "dans", "du"},
    "german": {"der", "die", "das", "und", "ist", "mit", "für", "ein", "eine", "nicht", "sie", "zu", "den"},
}
MEAT = {"chicken", "beef", "pork", "bacon", "ham", "fish", "salmon", "tuna", "shrimp", "lamb", "turkey",
        "sausage", "steak", "anchovy", "anchovies", "prawns", "meat", "mince"}
ANIMAL = MEAT | {"egg", "eggs", "milk", "butter", "cheese", "cream", "yogurt", "yoghurt", "honey", "gelatin"}
IMPERIAL = re.compile(r"\b(miles?|mph|pounds?|lbs?|ounces?|oz|feet|foot|ft|inch(es)?|yards?|gallons?|fahrenheit)\b|°\s?F\b",
                      re.IGNORECASE)
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def dominant_language(text: str) -> str:
    """The language whose stopwords are most frequent in `text` (english on ties or no evidence)."""
    toks = words(text)
    counts = {lang: sum(t in sw for t in toks) for lang, sw in STOPWORDS.items()}
    best = max(counts, key=lambda k: (counts[k], k == "english"))
    return best if counts[best] > 0 else "english"


def bullet_lines(text: str) -> int:
    return sum(bool(re.match(r"\s*([-*•]|\d+[.)])\s+\S", line)) for line in text.splitlines())


@dataclass(frozen=True)
class Preference:
    """One stated preference: its kind, the sentence in the profile, and its checker."""

    kind: str
    statement: str
    check: Callable[[str], bool]
    topics: tuple[str, ...] = ()  # question topics it applies to; empty = any

    @property
    def vacuous(self) -> bool:
        """True when an empty answer passes the check (diet, units, tone): reported apart from the rest."""
        return bool(self.check(""))


def language(lang: str) -> Preference:
    return Preference("language", f"I only read {lang.capitalize()}, so always answer in {lang.capitalize()}.",
                      lambda out, lang=lang: dominant_language(out) == lang)


def max_words(n: int) -> Preference:
    return Preference("length", f"I read on my phone: keep every answer under {n} words.",
                      lambda out, n=n: 0 < len(words(out)) <= n)


def bullets() -> Preference:
    return Preference("format", "Please format answers as a bulleted list, one point per line.",
                      lambda out: bullet_lines(out) >= 2)


def vegetarian() -> Preference:
    return Preference("diet", "I am vegetarian: never suggest meat or fish.",
                      lambda out: not (set(words(out)) & MEAT), ("food",))


def vegan() -> Preference:
    return Preference("diet", "I am vegan: no animal products at all in anything you suggest.",
                      lambda out: not (set(words(out)) & ANIMAL), ("food",))


def metric_units() -> Preference:
    return Preference("units", "I live in Germany; use metric units only (km, kg, °C), never imperial ones.",
                      lambda out: IMPERIAL.search(out) is None, ("travel", "fitness", "food", "home"))


def name(first: str) -> Preference:
    return Preference("name", f"My name is {first}; address me by name.",
                      lambda out, first=first: re.search(rf"\b{re.escape(first)}\b", out, re.IGNORECASE) is not None)


def no_exclamation() -> Preference:
    return Preference("tone", "I dislike hype: no exclamation marks and no emojis.",
                      lambda out: "!" not in out and EMOJI.search(out) is None)


def tldr() -> Preference:
    return Preference("structure", "Start every answer with 'TL;DR:' followed by a one-line summary.",
                      lambda out: out.strip().lower().startswith("tl;dr"))


def budget(limit: int) -> Preference:
    return Preference("budget", f"My budget is tight: mention a price or cost estimate, at most {limit} euros.",
                      lambda out, limit=limit: _prices_within(out, limit), ("travel", "food", "home", "fitness"))


def _prices_within(out: str, limit: int) -> bool:
    # (?<!\d): a number only starts after a non-digit, so a long digit run is scanned once, not quadratically
    found = re.findall(r"(?:€\s?|\beur(?:os?)?\s?)(\d+(?:[.,]\d+)?)"
                       r"|(?<!\d)(\d+(?:[.,]\d+)?)\s?(?:€|euros?\b|eur\b)", out, re.IGNORECASE)
    values = [float((a or b).replace(",", ".")) for a, b in found]
    return bool(values) and max(values) <= limit


KINDS = ("language", "length", "format", "diet", "units", "name", "tone", "structure", "budget")


# --- answered the question ----------------------------------------------------------------------------
MIN_WORDS, MIN_NEW_WORDS, MIN_KEYWORDS = 8, 2, 2
GENERIC = {"what", "which", "how", "should", "could", "would", "can", "do", "does", "did", "i", "me", "my", "a", "an",
           "for", "on", "at", "by", "as", "be", "or", "so", "if", "good", "best", "way", "make", "give", "get", "use",
           "some", "ideas", "suggest", "explain", "without", "your", "from", "more", "each", "whole", "day", "up",
           "what's", "worth", "there", "their", "they", "them", "we", "our", "was", "were", "will", "not", "but",
           "have", "has", "can't", "don't", "i'm", "it's", "than", "then", "also", "very", "just", "all", "any"}
_SUFFIXES = ("ing", "ed", "es", "s", "e")


def stem(word: str) -> str:
    """A crude stem shared by every language here: drop one English suffix, keep the first five letters."""
    if len(word) > 4:
        for suf in _SUFFIXES:
            if word.endswith(suf) and len(word) - len(suf) >= 4:
                word = word[: -len(suf)]
                break
    return word[:5]


def content_words(text: str) -> list[str]:
    stop = GENERIC.union(*STOPWORDS.values())
    return [w for w in words(text) if len(w) > 2 and w not in stop]


def _without_question(output: str, question: str) -> str:
    text = " ".join(output.lower().split())
    for q in {" ".join(question.lower().split()), " ".join(question.lower().split()).rstrip("?.! ")}:
        if q:
            text = text.replace(q, " ")
    return text


def answered(output: str, question: str, keywords: list[str]) -> tuple[bool, str]:
    """(answered?, reason). Cheap and judge-free: after removing any copy of the question, the answer has at
    least MIN_WORDS words, MIN_NEW_WORDS content words the question does not have, and MIN_KEYWORDS distinct
    keywords of the question (its own content words plus `keywords`, compared by `stem`)."""
    rest = _without_question(output, question)
    if len(words(rest)) < MIN_WORDS:
        return False, "too_short_or_only_the_question"
    mine = {stem(w) for w in content_words(rest)}
    asked = {stem(w) for w in content_words(question)}
    if len(mine - asked) < MIN_NEW_WORDS:
        return False, "repeats_the_question"
    if len(mine & (asked | {stem(k.lower()) for k in keywords})) < MIN_KEYWORDS:
        return False, "off_topic"
    return True, "answered"
