"""Answer extraction: numbers (strict `####` and flexible last number) and choice letters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.extract import extract_flexible, extract_letter, extract_strict, normalize_number, numbers_equal

NUMBERS = [
    ("#### -5", "-5", "-5"),
    ("The balance is -12 dollars.\n#### -12", "-12", "-12"),
    ("#### 1,234", "1234", "1234"),
    ("He paid $1,234,567.", None, "1234567"),
    ("#### 3.50", "3.5", "3.5"),
    ("#### 0.25", "0.25", "0.25"),
    ("#### 3/4", "3/4", "3/4"),
    ("a ratio of 6/8", None, "3/4"),
    ("#### $18", "18", "18"),
    ("#### $ 18.00", "18", "18"),
    ("#### $-5", "-5", "-5"),
    ("It costs -$7.", None, "-7"),
    ("#### 7\nQuestion: ...\n#### 8", "7", "8"),  # strict: the first marker; flexible: the last number
    ("I don't know.", None, None),
    ("", None, None),
    ("#### 42.", "42", "42"),
    ("The answer is 42.", None, "42"),
    ("#### 42.00", "42", "42"),
    ("between 5-10 apples", None, "10"),  # a range, not -10
    ("1,2,3", None, "3"),  # a list, not 123
    ("pages 1,2345", None, "2345"),
    ("x \u2212 y = \u22123", None, "-3"),  # unicode minus
    ("item-3 costs 4", None, "4"),
    ("#### -.5", "-0.5", "-0.5"),
]


@pytest.mark.parametrize("text,strict,flexible", NUMBERS)
def test_numbers(text, strict, flexible):
    assert extract_strict(text) == strict
    assert extract_flexible(text) == flexible


@pytest.mark.parametrize("a,b,equal", [
    ("18", "18.00", True), ("$1,000", "1000", True), ("0.5", "1/2", True), ("-3", "3", False),
    ("1/3", "0.333333", True), ("5.", "5", True), ("1e3", "1000", False), ("abc", "1", False),
    (None, "1", False), ("3/0", "3", False),
])
def test_numbers_equal(a, b, equal):
    assert numbers_equal(a, b) is equal


def test_normalize_number():
    assert normalize_number("$1,234.00.") == "1234"
    assert normalize_number("50%") == "50"
    assert normalize_number("-0") == "0"
    assert normalize_number("1e999999999") is None  # exponents are rejected, so this cannot hang
    assert normalize_number("nan") is None and normalize_number("inf") is None
    assert normalize_number(None) is None


LETTERS = [
    ("The answer is (B)", "B"),
    ("The answer is: C", "C"),
    ("Answer: D", "D"),
    ("the answer is b", "B"),
    ("the answer is (c).", "C"),
    ("The answer is a bit unclear, but the answer is: D", "D"),  # the article "a" is not choice A
    ("B.", "B"), ("B) because ...", "B"), ("(B)", "B"), ("B", "B"),
    ("Because the sky is blue", None), ("Bob is right", None), ("A lot depends on it", None),
    ("**B**", "B"), ("The answer is **C**.", "C"),
    ("No letter here.", None), ("", None),
    ("The answer is: E", None),  # not a valid letter with 4 choices
    ("To answer this, note that ...", None),
    ("The answer is: A. Wait, the answer is: B", "A"),  # the first one counts
]


@pytest.mark.parametrize("text,letter", LETTERS)
def test_letters(text, letter):
    assert extract_letter(text, 4) == letter


def test_letters_beyond_e():
    assert extract_letter("The answer is: H", 10) == "H"
    assert extract_letter("H.", 10) == "H"
    assert extract_letter("The answer is: H", 4) is None


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_extractors_never_crash(text):
    for fn in (extract_strict, extract_flexible, normalize_number):
        out = fn(text)
        assert out is None or isinstance(out, str)
    assert extract_letter(text) in (None, *"ABCDE")
    numbers_equal(text, text)


number_texts = st.from_regex(r"-?\$?[0-9,]{0,12}(\.[0-9]{0,4})?(/[0-9]{1,3})?\.?", fullmatch=True)


@settings(max_examples=500, deadline=None)
@given(number_texts, st.text(alphabet="0123456789.,$-/e ", max_size=40), st.integers(-3, 20))
def test_number_functions_never_crash(num, junk, n_choices):
    for s in (num, junk, f"#### {num}", f"#### {junk}"):
        extract_strict(s)
        extract_flexible(s)
        norm = normalize_number(s)
        if norm is not None:
            assert normalize_number(norm) == norm  # idempotent
        numbers_equal(s, num)
        extract_letter(s, n_choices)


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**9, 10**9), st.integers(0, 99))
def test_formatted_integers_round_trip(n, cents):
    text = f"{n:,}" if cents else f"${n:,}.00"
    assert extract_strict(f"#### {text}") == str(n)
    assert extract_flexible(f"So the total is {text}.") == str(n)


@pytest.mark.parametrize("text,norm", [("0.00001", "0.00001"), ("3.5", "3.5"), ("0.3333333", "0.333333"),
                                       ("-0.0", "0"), ("123456789012.5", "123456789012.5")])
def test_decimals_never_use_exponents(text, norm):
    assert normalize_number(text) == norm
    assert numbers_equal(normalize_number(text), text)
