"""Community Alignment (facebook/community-alignment-dataset, hub only).

Each row: an annotator (demographic columns), a prompt, four candidate responses and the one the
annotator preferred. User context = the annotator's self-reported attributes, one statement each
(the judge rates the response against each). Columns are found by name among the usual spellings
(`first_turn_prompt`/`prompt`, `first_turn_response_a..d`/`response_a..d`, `first_turn_preferred_response`/
`preferred_response`, `annotator_*`); a missing one is a one-line error. 1/5 of items (by hash of
profile + prompt) are evaluated, the rest are MIPO prompts. See tasks/personal.py for the scorers.
"""

from __future__ import annotations

from harness.errors import UserError
from tasks.base import DataSource, DataSplit, Item
from tasks.hub import load_hub_split
from tasks.personal import PersonalTask, split_by_prompt

HUB = "facebook/community-alignment-dataset"
PROMPT = ("first_turn_prompt", "prompt")
PREFERRED = ("first_turn_preferred_response", "preferred_response", "preferred")
RESPONSES = (("first_turn_response_{}", "response_{}"), "abcd")
SKIP = ("annotator_id", "annotator_ids")


def _col(row: dict, names: tuple[str, ...]) -> str:
    for n in names:
        if n in row:
            return n
    raise UserError(f"community_alignment: none of the columns {', '.join(names)} in the dataset "
                    f"(it has {', '.join(sorted(row)[:12])}...)")


def _preferred_index(value, n: int) -> int | None:
    s = str(value).strip().lower().removeprefix("response_").removeprefix("first_turn_response_")
    if len(s) == 1 and "a" <= s < chr(ord("a") + n):
        return ord(s) - ord("a")
    return int(s) if s.isdigit() and int(s) < n else None


def annotator_profile(row: dict) -> list[str]:
    """One statement per non-empty annotator attribute column."""
    out = []
    for key in sorted(k for k in row if k.startswith("annotator_") and k not in SKIP):
        val = row[key]
        if val is None or str(val).strip() in ("", "nan", "None"):
            continue
        out.append(f"My {key.removeprefix('annotator_').replace('_', ' ')}: {str(val).strip()}.")
    return out


def ca_items(rows) -> list[Item]:
    items = []
    for i, row in enumerate(rows):
        prompt_col, pref_col = _col(row, PROMPT), _col(row, PREFERRED)
        pattern = next((p for p in RESPONSES[0] if p.format("a") in row), None)
        if pattern is None:
            raise UserError(f"community_alignment: no response columns ({RESPONSES[0][0].format('a')}, ...)")
        cands = [row.get(pattern.format(x)) for x in RESPONSES[1]]
        cands = [c for c in cands if c]
        chosen = _preferred_index(row.get(pref_col), len(cands))
        profile = annotator_profile(row)
        if chosen is None or len(cands) < 2 or not profile or not row.get(prompt_col):
            continue
        user = str(row.get("annotator_id") or " ".join(profile))
        items.append(Item(id=f"ca-{i}", question=str(row[prompt_col]).strip(), target=profile,
                          choices=tuple(cands), context=" ".join(profile), meta={"user": user, "chosen": chosen}))
    return items


class CommunityAlignment(PersonalTask):
    id = "community_alignment"
    description = "Community Alignment (hub): annotator profile as context; judge win rate vs the preferred response"

    def sources(self) -> list[DataSource]:
        return [DataSource("hub", HUB, "train", "1/5 evaluated, 4/5 MIPO prompts (by hash of profile + prompt)")]

    def load(self, offline: bool) -> DataSplit:
        rows = load_hub_split(self.id, HUB, None, "train", offline)
        evals, train = split_by_prompt(ca_items(rows))
        return DataSplit(evals, train, DataSource("hub", HUB, "train (1/5 by prompt hash)"),
                         DataSource("hub", HUB, "train (4/5 by prompt hash)"))
