"""PRISM (HannahRoseKirk/prism-alignment, hub only): personalised short answers judged per stated preference.

User context = the user's stated preferences from the survey: their own written instruction for
assistants (`system_string`) plus the three behaviours they rated most important (`stated_prefs`),
one statement each. Item = the opening prompt of a conversation; candidates = the first-turn model
responses; reference = the one the user chose (`if_chosen`). 1/5 of items (by hash of profile +
prompt) are evaluated, the rest are MIPO prompts. See tasks/personal.py for the scorers.
"""

from __future__ import annotations

from tasks.base import DataSource, DataSplit, Item
from tasks.hub import load_hub_split
from tasks.personal import PersonalTask, split_by_prompt

HUB = "HannahRoseKirk/prism-alignment"
ATTRIBUTES = {
    "values": "responses that reflect my values and cultural perspective",
    "creativity": "creative and inspiring responses", "fluency": "fluent, well-written responses",
    "factuality": "factually accurate responses", "diversity": "responses that present a range of viewpoints",
    "safety": "safe responses that avoid harm", "personalisation": "responses personalised to me",
    "helpfulness": "helpful responses",
}


def stated_preferences(survey: dict, top: int = 3) -> list[str]:
    """The user's stated preferences as short first-person statements."""
    prefs = []
    text = (survey.get("system_string") or "").strip()
    if text:
        prefs.append(text if text.endswith((".", "!", "?")) else text + ".")
    rated = {k: v for k, v in (survey.get("stated_prefs") or {}).items() if isinstance(v, (int, float))}
    for attr in sorted(rated, key=lambda k: (-rated[k], k))[:top]:
        prefs.append(f"I value {ATTRIBUTES.get(attr, attr)}.")
    return prefs


def prism_items(survey_rows, conversation_rows) -> list[Item]:
    """Join conversations to their user's survey; keep first turns with >= 2 responses and one chosen."""
    prefs = {r["user_id"]: stated_preferences(r) for r in survey_rows}
    items = []
    for conv in conversation_rows:
        stated = prefs.get(conv.get("user_id"))
        first = [h for h in conv.get("conversation_history") or []
                 if h.get("role") == "model" and int(h.get("turn") or 0) == 0]
        chosen = [i for i, h in enumerate(first) if h.get("if_chosen")]
        if not stated or len(first) < 2 or len(chosen) != 1 or not conv.get("opening_prompt"):
            continue
        items.append(Item(id=str(conv["conversation_id"]), question=conv["opening_prompt"].strip(),
                          target=stated, choices=tuple(h["content"] for h in first), context=" ".join(stated),
                          meta={"user": str(conv["user_id"]), "chosen": chosen[0]}))
    return items


class Prism(PersonalTask):
    id = "prism"
    description = "PRISM (hub): stated preferences as context; judge win rate vs the user's chosen response"

    def sources(self) -> list[DataSource]:
        return [DataSource("hub", f"{HUB} (survey)", "train", "users' stated preferences"),
                DataSource("hub", f"{HUB} (conversations)", "train",
                           "opening prompts + chosen response; 1/5 evaluated, 4/5 MIPO prompts (by prompt hash)")]

    def load(self, offline: bool) -> DataSplit:
        survey = load_hub_split(self.id, HUB, "survey", "train", offline)
        convs = load_hub_split(self.id, HUB, "conversations", "train", offline)
        evals, train = split_by_prompt(prism_items(survey, convs))
        return DataSplit(evals, train, DataSource("hub", HUB, "conversations (1/5 by prompt hash)"),
                         DataSource("hub", HUB, "conversations (4/5 by prompt hash)"))
