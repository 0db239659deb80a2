"""Answer extraction and comparison: numbers (GSM8K style) and multiple-choice letters.

Numbers: a sign only counts when it does not follow a digit or letter ("5-10" is a range, not -10);
thousands separators must be well formed ("1,234" is 1234, "1,2,3" is three numbers); exponents are
not numbers here (a "1e999999999" must not make scoring hang).
"""

from __future__ import annotations

import re
from fractions import Fraction

_INT = r"\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+"
_SIGN = r"(?:(?<![\w.\-])-)?"
_NUM = (rf"{_SIGN}(?:\$\s?)?(?:{_INT})(?:\.\d+)?(?:\s?/\s?\d+)?"
        rf"|\$-(?:{_INT})(?:\.\d+)?"
        rf"|{_SIGN}\$?(?<!\d)\.\d+")
_NUM_RE = re.compile(_NUM)
_HASH_RE = re.compile(r"####\s*(" + _NUM + ")")
_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-"})


def normalize_number(text: str | None) -> str | None:
    """Canonical string for a number: no commas, `$`, spaces, trailing `.` or `.00`; None if not a number."""
    if text is None:
        return None
    s = str(text).strip().replace(",", "").replace("$", "").replace(" ", "")
    s = s.rstrip(".")
    if s.endswith("%"):
        s = s[:-1]
    value = to_fraction(s)
    if value is None:
        return None
    if value.denominator == 1:
        return str(value.numerator)
    if "/" in s:
        return f"{value.numerator}/{value.denominator}"
    text = f"{round(float(value), 6):.6f}".rstrip("0").rstrip(".")  # never exponent notation
    return "0" if text in ("-0", "") else text


def _plain_fraction(s: str) -> Fraction:
    """A decimal without exponent, underscores or words; ValueError otherwise."""
    s = s.strip()
    if not _PLAIN.fullmatch(s):
        raise ValueError(s)
    return Fraction(s)


def to_fraction(s: str) -> Fraction | None:
    """Parse '12', '-3.50', '3/4' into an exact Fraction; None when it is not a number."""
    s = str(s).strip().replace(",", "").replace("$", "").rstrip(".")
    if not s or len(s) > 64:
        return None
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            den_f = _plain_fraction(den)
            return _plain_fraction(num) / den_f if den_f != 0 else None
        return _plain_fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def numbers_equal(a: str | None, b: str | None, tol: float = 1e-6) -> bool:
    """Numeric equality that ignores formatting (commas, `$`, trailing `.` / `.00`, fractions)."""
    if a is None or b is None:
        return False
    fa, fb = to_fraction(str(a)), to_fraction(str(b))
    if fa is None or fb is None:
        return False
    return abs(fa - fb) <= Fraction(tol) * max(1, abs(fb))


def extract_strict(text: str) -> str | None:
    """The first number after `####` (GSM8K's answer marker), normalised."""
    m = _HASH_RE.search((text or "").translate(_MINUS))
    return normalize_number(m.group(1)) if m else None


def extract_flexible(text: str) -> str | None:
    """The last number anywhere in the text, normalised."""
    found = _NUM_RE.findall((text or "").translate(_MINUS))
    for cand in reversed(found):
        norm = normalize_number(cand)
        if norm is not None:
            return norm
    return None


_LETTER_AFTER = re.compile(
    r"answer(?:\s+is|\s*:)\s*[:\-]?\s*(?:option\s*)?[\(\[\*\s]*([A-Ja-j])(?![A-Za-z])", re.IGNORECASE
)
_LEAD_LETTER = re.compile(r"^\s*[\(\[\*]*([A-J])(?:[\)\]\.:\*]|\s*$)")
_LOWER_END = re.compile(r"[\)\]\.\*:,]|[ \t]*(?:\n|$)")


def extract_letter(text: str, n_choices: int = 5) -> str | None:
    """The choice letter: first valid letter after "the answer is" / "answer:"; else a lone leading
    letter ("B." / "(B)" / "**B**", not "Because").

    A lower-case letter counts only when punctuation or the end of the line follows it, so the
    article in "the answer is a bit unclear" is not read as choice A.
    """
    valid = "ABCDEFGHIJ"[:max(1, n_choices)]
    text = text or ""
    for m in _LETTER_AFTER.finditer(text):
        raw = m.group(1)
        if raw.islower() and not _LOWER_END.match(text, m.end()):
            continue
        if raw.upper() in valid:
            return raw.upper()
    m = _LEAD_LETTER.match(text)
    if m and m.group(1) in valid:
        return m.group(1)
    return None


# --- protocol-specific readers ---------------------------------------------------------------------

_AUTHORS_NUM = re.compile(r"\d+\.?\d*")
_FINAL_ANSWER = re.compile(r"The final answer is (" + _NUM + ")")


def extract_authors_gsm(text: str) -> str | None:
    """Stage 1 of the authors' GSM8K/SVAMP reading (gsm.py:219-222, svamp.py:256-259): the text between the
    first and second `####`, its first `\\d+\\.?\\d*` (no sign, no thousands separator: "1,000" reads as 1).

    None sends the output to their stage 2, a model call (gsm.py:223-257; tasks/gsm8k.py runs it).
    """
    parts = (text or "").split("####")
    if len(parts) < 2:
        return None
    m = _AUTHORS_NUM.search(parts[1])
    return normalize_number(m.group()) if m else None


def extract_first_number(text: str) -> str | None:
    """Stage 2 of the authors' reading (gsm.py:253-257): the first `\\d+\\.?\\d*` of the extraction reply."""
    m = _AUTHORS_NUM.search(text or "")
    return normalize_number(m.group()) if m else None


def extract_final_answer(text: str) -> str | None:
    """lm-eval `gsm8k_cot_llama` strict-match: the number after the last "The final answer is "."""
    found = _FINAL_ANSWER.findall((text or "").translate(_MINUS))
    return normalize_number(found[-1]) if found else None


def extract_authors_letter(text: str, letters: str = "ABCD") -> str | None:
    """ARC as the authors' script reads it (arc.py:89-95): after the first "the answer is" (any case),
    the first stand-alone capital A-D."""
    parts = re.split(r"(?i)the answer is", text or "", maxsplit=1)
    if len(parts) < 2:
        return None
    m = re.search(rf"\b([{letters}])\b", parts[1])
    return m.group(1) if m else None


# --- echo guard ------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def _loose(piece: str) -> re.Pattern:
    """A pattern for `piece` that tolerates any run of whitespace between its words."""
    return re.compile(r"\s+".join(re.escape(w) for w in piece.split()))


def strip_echo(text: str, pieces: list[str], min_chars: int = 15) -> str:
    """`text` with every verbatim copy (whitespace aside) of each piece of at least `min_chars` removed.

    Used before extraction so that a question copied back into the answer cannot supply the answer:
    GSM8K questions contain numbers (flexible extraction would read the last one), ARC prompts
    contain the choice letters.
    """
    out = text or ""
    for piece in sorted({p.strip() for p in pieces}, key=len, reverse=True):
        if len(piece) >= min_chars:
            out = _loose(piece).sub(" ", out)
    return out


def sentences(text: str) -> list[str]:
    """`text` split after `.`, `?` or `!`."""
    return [s for s in _SENTENCE_END.split(text or "") if s.strip()]
