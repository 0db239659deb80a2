"""Community Alignment (facebook/community-alignment-dataset, hub only).

Each row is one annotator's conversation (real column names): `conversation_id`, `annotator_id`,
`assigned_lang` ("en", "fr", "it", "pt", "hi"), `first_turn_prompt`, four candidates
`first_turn_response_a`..`_d`, the preferred one `first_turn_preferred_response` ("response_a".."d"),
and the annotator's written reason `first_turn_feedback` (later turns and `annotator_*` demographics
are not used). User context = what the user asked for, in their own words: the written feedback on
the first turn (the authors use an `instructions` field, ca.py:96; the feedback is the dataset's own
text for it). Demographics never become preferences; rows without feedback (or with a placeholder
such as "none") are skipped. Conversations whose `assigned_lang` is not in the option `languages`
(default ["en"]; null = all) are skipped. End-of-text markers (<|end_of_text|> ...) are stripped from
candidates. Prompt and sampling as in tasks/personal.py; the judge sees the full prompt with the
requirements (ca.py:90). 1/5 of prompts (by hash of the prompt text) are evaluated, the rest are MIPO
prompts, so a prompt shown to many annotators sits in one pool only.
"""

from __future__ import annotations

from typing import Literal

from harness.errors import UserError
from tasks.base import Item
from tasks.personal import PersonalOptions, PersonalTask, is_placeholder, strip_markers
from tasks.sources import Hub, Part, Source, SplitRule

HUB = "facebook/community-alignment-dataset"
LETTERS = "abcd"
PROMPT, PREFERRED, FEEDBACK = "first_turn_prompt", "first_turn_preferred_response", "first_turn_feedback"
RESPONSES = tuple(f"first_turn_response_{x}" for x in LETTERS)
REQUIRED = ("conversation_id", "annotator_id", "assigned_lang", PROMPT, PREFERRED, FEEDBACK, *RESPONSES)


Language = Literal["en", "fr", "it", "pt", "hi"]


class CAOptions(PersonalOptions):
    languages: list[Language] | None = ["en"]  # null = every language


def check_schema(row: dict) -> None:
    missing = [c for c in REQUIRED if c not in row]
    if missing:
        raise UserError(f"community_alignment: the dataset lacks the column(s) {', '.join(missing)} "
                        f"(it has {', '.join(sorted(row)[:10])}, ...)")


def preferred_index(value) -> int | None:
    """'response_c' -> 2 (also accepts a bare letter); None for anything else."""
    s = str(value or "").strip().lower().removeprefix("response_")
    return LETTERS.index(s) if len(s) == 1 and s in LETTERS else None


def row_item(row: dict, index: int) -> Item | None:
    """One item from one row, or None when the row has no usable prompt, preference text or choice."""
    prompt, feedback = str(row.get(PROMPT) or "").strip(), row.get(FEEDBACK)
    chosen = preferred_index(row.get(PREFERRED))
    if is_placeholder(prompt) or is_placeholder(feedback) or chosen is None:
        return None
    texts = [strip_markers(row.get(c)) for c in RESPONSES]
    if not texts[chosen]:
        return None
    keep = [i for i, t in enumerate(texts) if t]
    if len(keep) < 2:
        return None
    pref = " ".join(str(feedback).split())
    conv = row.get("conversation_id")
    return Item(id=f"ca-{conv if conv is not None else index}", question=prompt, target=[pref],
                choices=tuple(texts[i] for i in keep), context=pref,
                meta={"user": str(row.get("annotator_id")), "chosen": keep.index(chosen),
                      "lang": row.get("assigned_lang")})


def ca_items(rows, languages: list[str] | tuple[str, ...] | None = ("en",)) -> list[Item]:
    items, wanted = [], None if languages is None else {lang.lower() for lang in languages}
    for i, row in enumerate(rows):
        if i == 0:
            check_schema(row)
        if wanted is not None and str(row.get("assigned_lang") or "").lower() not in wanted:
            continue
        item = row_item(row, i)
        if item is not None:
            items.append(item)
    return items


class CommunityAlignment(PersonalTask):
    id = "community_alignment"
    description = ("Community Alignment (hub): the annotator's written feedback (what they asked for) as context, "
                   "English by default; judge win rate vs the preferred response")
    Options = CAOptions
    judge_sees_requirements = True

    def data_sources(self) -> list[Source]:
        return [Source("hub", Part((Hub(HUB, None, "train"),), lambda rows: ca_items(rows, self.options.languages)),
                       split=SplitRule("hash", fold=5, held="eval"),
                       note=f"languages: {self.options.languages or 'all'}")]
