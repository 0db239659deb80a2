"""PRISM (HannahRoseKirk/prism-alignment, hub only): personalised short answers judged per stated preference.

User context = the user's stated preferences from the survey, as text: their own written instruction
for assistants (`system_string`, dropped when it is a placeholder such as "N/A" or "none") plus the
behaviours they rated highest (`stated_prefs`, 0-100 sliders; at most three, only those on the
"agree" side, > 50), each as the survey's own statement ("It is important to me that an AI language
model ..."). The survey's `other` slider is a number with no meaning of its own: it is used only
when the user typed what it stands for (`other_text`), and then that text is the preference.
Item = the opening prompt of a conversation; candidates = the first-turn model responses;
reference = the one the user chose (`if_chosen`). Prompt, sampling and judge as in the authors'
prism.py (see tasks/personal.py); the judge sees the plain prompt (prism.py:210). 1/5 of the
prompts (by hash of the prompt text) are evaluated, the rest are MIPO prompts.
"""

from __future__ import annotations

from tasks.base import Item
from tasks.personal import PersonalTask, is_placeholder
from tasks.sources import Hub, Part, Source, SplitRule

HUB = "HannahRoseKirk/prism-alignment"
# The survey's statements (PRISM repo, data/storage/mappings/header_prefs_mapping.csv, column survey_text).
ATTRIBUTES = {
    "values": "reflects my values or cultural perspectives",
    "creativity": "produces responses that are creative and inspiring",
    "fluency": "produces responses that are well-written and coherent",
    "factuality": "produces factual and informative responses",
    "diversity": "summarises multiple viewpoints or different worldviews",
    "safety": "produces responses that are safe and do not risk harm to myself and others",
    "personalisation": "learns from our conversations and feels personalised to me",
    "helpfulness": "produces responses that are helpful and relevant to my requests",
}
AGREE = 50  # sliders run 0-100 from "strongly disagree" to "strongly agree"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def rated_preferences(stated: dict, top: int = 3) -> list[str]:
    """The user's highest-rated behaviours (agree side only) as statements; `other` only with its typed text."""
    other_text = stated.get("other_text")
    usable = {k: v for k, v in stated.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
              and v > AGREE and (k in ATTRIBUTES or (k == "other" and not is_placeholder(other_text)))}
    out = []
    for attr in sorted(usable, key=lambda k: (-usable[k], k))[:top]:
        if attr == "other":
            out.append(_sentence(str(other_text).strip()))
        else:
            out.append(f"It is important to me that an AI language model {ATTRIBUTES[attr]}.")
    return out


def stated_preferences(survey: dict, top: int = 3) -> list[str]:
    """The user's written instruction (unless a placeholder) and their top-rated behaviours."""
    prefs = []
    text = survey.get("system_string")
    if not is_placeholder(text):
        prefs.append(_sentence(str(text).strip()))
    return prefs + rated_preferences(survey.get("stated_prefs") or {}, top)


def prism_items(survey_rows, conversation_rows) -> list[Item]:
    """Join conversations to their user's survey; keep first turns with >= 2 responses and one chosen."""
    prefs = {r["user_id"]: stated_preferences(r) for r in survey_rows}
    items = []
    for conv in conversation_rows:
        stated = prefs.get(conv.get("user_id"))
        first = [h for h in conv.get("conversation_history") or []
                 if h.get("role") == "model" and int(h.get("turn") or 0) == 0]
        chosen = [i for i, h in enumerate(first) if h.get("if_chosen")]
        prompt = (conv.get("opening_prompt") or "").strip()
        if not stated or len(first) < 2 or len(chosen) != 1 or is_placeholder(prompt):
            continue
        items.append(Item(id=str(conv["conversation_id"]), question=prompt, target=stated,
                          choices=tuple(h["content"] for h in first), context=" ".join(stated),
                          meta={"user": str(conv["user_id"]), "chosen": chosen[0]}))
    return items


class Prism(PersonalTask):
    id = "prism"
    description = ("PRISM (hub): the user's written instruction and top-rated behaviours as context (authors' "
                   "2-3 sentence template); judge win rate vs the user's chosen response")

    def data_sources(self) -> list[Source]:
        return [Source("hub", Part((Hub(HUB, "survey", "train"), Hub(HUB, "conversations", "train")), prism_items),
                       split=SplitRule("hash", fold=5, held="eval"),
                       note="survey = stated preferences; conversations = opening prompts + chosen response")]
