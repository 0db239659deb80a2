"""Community Alignment (facebook/community-alignment-dataset, hub only). LEAKS THE LABEL: see LABEL_LEAK.

Each row is one annotator's conversation. Its columns (the dataset's real names): `conversation_id`,
`annotator_id`, `assigned_lang` ("en", "fr", "it", "pt", "hi"); per turn t in first..fourth
`t_turn_prompt`, four candidates `t_turn_response_a`..`_d` (and `t_turn_responses`), the preferred one
`t_turn_preferred_response` ("response_a".."d") and the annotator's written reason `t_turn_feedback`;
demographics `annotator_age`, `_gender`, `_education_level`, `_political`, `_ethnicity`, `_country`;
flags `is_pregenerated_first_prompt`, `in_balanced_subset`, `in_balanced_subset_10`.

No column holds a preference the user stated before seeing responses: the prompts are the request
itself (later-turn prompts are written after reading the first responses), the demographics are not
preferences (the authors never use them), and the only preference text is `first_turn_feedback`, the
annotator's justification of the candidate they picked, written after reading all four. It is the
user context here (the authors' `instructions`, ca.py:96, come from a preprocessing step they did not
release; the dataset has no such column), so the prompt and the judge's rubric describe the reference
response: `label_leak` marks the task, `tasks show`, manifests and reports say so, and no default suite
lists it. Rows without feedback (or with a placeholder such as "none") are skipped. Conversations whose
`assigned_lang` is not in the option `languages` (default ["en"]; null = all) are skipped. End-of-text
markers (<|end_of_text|> ...) are stripped from candidates. Prompt and sampling as in tasks/personal.py;
the judge sees the full prompt with the requirements (ca.py:90). 1/5 of prompts (by hash of the prompt
text) are evaluated, the rest are MIPO prompts, so a prompt shown to many annotators sits in one pool only.
"""

from __future__ import annotations

from typing import Literal

from groundfloor.errors import UserError
from tasks.base import Item
from tasks.personal import PersonalOptions, PersonalTask, is_placeholder, strip_markers
from tasks.sources import Hub, Part, Source, SplitRule

HUB = "facebook/community-alignment-dataset"
LETTERS = "abcd"
PROMPT, PREFERRED, FEEDBACK = "first_turn_prompt", "first_turn_preferred_response", "first_turn_feedback"
RESPONSES = tuple(f"first_turn_response_{x}" for x in LETTERS)
REQUIRED = ("conversation_id", "annotator_id", "assigned_lang", PROMPT, PREFERRED, FEEDBACK, *RESPONSES)


Language = Literal["en", "fr", "it", "pt", "hi"]


LABEL_LEAK = ("the user's preference is the annotator's first_turn_feedback, written after reading the four candidate "
              "responses to justify the one they picked: it describes the reference (preferred) response, so the label "
              "leaks into the prompt and into the judge's rubric. The dataset has no preference stated before the "
              "responses were seen. Win rates measure agreement with that justification, not personalization; the "
              "task is kept out of the default suites.")


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
    description = ("Community Alignment (hub), LABEL LEAK: the context is the annotator's feedback written after seeing "
                   "the responses; judge win rate vs the preferred response, English by default")
    label_leak = LABEL_LEAK
    Options = CAOptions
    judge_sees_requirements = True

    def data_sources(self) -> list[Source]:
        return [Source("hub", Part((Hub(HUB, None, "train"),), lambda rows: ca_items(rows, self.options.languages)),
                       split=SplitRule("hash", fold=5, held="eval"),
                       note=f"languages: {self.options.languages or 'all'}")]
