"""Number words (num2words, English) and the number patterns the English rules share."""

from __future__ import annotations

from functools import lru_cache

from num2words import CONVERTER_CLASSES

_EN = CONVERTER_CLASSES["en"]

# ---------------------------------------------------------------------------------------------
# Number words
# ---------------------------------------------------------------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MAX_CARDINAL_DIGITS = 15  # beyond this a "number" is an identifier, read digit by digit


def _tidy(words: str, british: bool) -> str:
    """Drop num2words' commas (they would become pauses) and, for US English, its "and"."""
    words = words.replace(",", "")
    if not british:
        words = words.replace(" and ", " ")
    return words


@lru_cache(maxsize=4096)
def cardinal(n: int, british: bool = False) -> str:
    """Cardinal words; cached because num2words is slow per call and numbers repeat."""
    return _tidy(_EN.to_cardinal(n), british)


@lru_cache(maxsize=1024)
def ordinal(n: int, british: bool = False) -> str:
    return _tidy(_EN.to_ordinal(n), british)


@lru_cache(maxsize=1024)
def year_words(n: int, british: bool = False) -> str:
    """Year reading ("twenty twenty-five"); num2words says "nineteen oh-five" for 1905."""
    return _tidy(_EN.to_year(n), british).replace("oh-", "oh ")


def int_words(s: str, british: bool) -> str:
    """Cardinal words for a digit string; absurdly long ones are read digit by digit."""
    return digits(s) if len(s) > MAX_CARDINAL_DIGITS else cardinal(int(s), british)


def digits(s: str) -> str:
    """Read every digit, zeros included: identifiers, codes, phone numbers."""
    return " ".join(DIGIT_WORDS[int(c)] for c in s if c.isdigit())


def number(s: str, british: bool) -> str:
    """Words for a plain written number: "-1,250.5" -> "minus one thousand ... point five"."""
    s = s.replace(",", "")
    prefix = ""
    if s[:1] in "-+":
        prefix = "minus " if s[0] == "-" else "plus "
        s = s[1:]
    whole, _, frac = s.partition(".")
    words = int_words(whole, british) if whole else ""
    if frac:
        words = f"{words} point {digits(frac)}".strip()
    return prefix + words


def is_one(s: str) -> bool:
    """Singular unit/currency only for a literal 1 ("1.0 kg" is read as plural)."""
    return s.lstrip("+-") == "1"


# Shared number patterns. A thousands group must be exactly three digits, so "1,2,3" stays a list.
NUM = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
# A sign counts only where it cannot be a hyphen ("COVID-19") or a range ("5-10").
SIGN = r"(?:(?<![\w)\]}.,%°])[-+])"
LB = r"(?<![\w.,])"  # left boundary of an unsigned number
RB = r"(?![\w]|[.,]\d)"  # right boundary: not glued to a word, not a longer number
