"""Answer extraction and comparison: numbers (GSM8K style) and multiple-choice letters."""

from __future__ import annotations

import re
from fractions import Fraction

_NUM = r"-?\$?\s?\d[\d,]*(?:\.\d+)?(?:\s?/\s?\d+)?|-?\$?\.\d+"
_NUM_RE = re.compile(_NUM)
_HASH_RE = re.compile(r"####\s*(" + _NUM + ")")


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
    as_float = float(value)
    return repr(round(as_float, 6)) if "/" not in s else f"{value.numerator}/{value.denominator}"


def to_fraction(s: str) -> Fraction | None:
    """Parse '12', '-3.50', '3/4' into an exact Fraction; None when it is not a number."""
    s = s.strip().replace(",", "").replace("$", "").rstrip(".")
    if not s or len(s) > 64:
        return None
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            den_f = Fraction(den.strip())
            return Fraction(num.strip()) / den_f if den_f != 0 else None
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def numbers_equal(a: str | None, b: str | None, tol: float = 1e-6) -> bool:
    """Numeric equality that ignores formatting (commas, `$`, trailing `.` / `.00`, fractions)."""
    if a is None or b is None:
        return False
    fa, fb = to_fraction(str(a)), to_fraction(str(b))
    if fa is None or fb is None:
        return False
    return abs(float(fa - fb)) <= tol * max(1.0, abs(float(fb)))


def extract_strict(text: str) -> str | None:
    """The first number after `####` (GSM8K's answer marker), normalised."""
    m = _HASH_RE.search(text or "")
    return normalize_number(m.group(1)) if m else None


def extract_flexible(text: str) -> str | None:
    """The last number anywhere in the text, normalised."""
    found = _NUM_RE.findall(text or "")
    for cand in reversed(found):
        norm = normalize_number(cand)
        if norm is not None:
            return norm
    return None


_LETTER_AFTER = re.compile(
    r"answer\s*(?:is|:)?\s*[:\-]?\s*(?:option\s*)?[\(\[\*\s]*([A-Ea-e])(?![A-Za-z])", re.IGNORECASE
)
_LEAD_LETTER = re.compile(r"^\s*[\(\[\*]*([A-E])(?:[\)\]\.:\*]|\s*$)")


def extract_letter(text: str, n_choices: int = 5) -> str | None:
    """The choice letter: first A–E after "the answer is"; else a lone leading letter ("B." / "(B)")."""
    valid = "ABCDEFGHIJ"[:max(1, n_choices)]
    text = text or ""
    for m in _LETTER_AFTER.finditer(text):
        letter = m.group(1).upper()
        if letter in valid:
            return letter
    m = _LEAD_LETTER.match(text)
    if m and m.group(1) in valid:
        return m.group(1)
    return None
