"""English: the remaining number forms (years, decades, ordinals, ranges, fractions, maths)."""

from __future__ import annotations

import re

from .abbreviations import text_before
from .numbers import LB, MAX_CARDINAL_DIGITS, NUM, RB, SIGN, cardinal, int_words, number, ordinal, year_words
from .units import fraction_words

# English: remaining number forms
# ---------------------------------------------------------------------------------------------

DECADE_RE = re.compile(
    r"(?<![\w'])(?:(?P<full>1[1-9]\d0|20\d0)'?s"
    r"|'(?P<short>\d0)'?s"
    r"|(?P<pre>\b(?:the|early|mid|late|their|his|her|your|my|our) )(?P<short2>\d0)'?s)\b"
)
ORDINAL_RE = re.compile(r"(?=\d)(?<![\w.,])(?P<n>\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th|ST|ND|RD|TH)\b")
FRACTION_RE = re.compile(r"(?=\d)(?<![\w./])(?:(?P<w>\d+)\s)?(?P<n>\d{1,3})/(?P<d>\d{1,3})(?![\w/]|[.,]\d)")
# A four-digit number is read as a year after words like "in" or "since" (1100-2099), or on
# its own when it lies in 1900-2099; not when a plural noun follows ("in 2000 steps").
_NOT_YEAR_AFTER = (
    r"(?![\w]|[.,]\d|\s?[-\u2013/:]\s?\d"
    r"|\s+(?!(?:was|is|has|this|his|its|as|us|does|thus|plus|s)\b)[a-z]+s\b)"
)
YEAR_RE = re.compile(
    rf"(?=[12])(?<![\w.,$€£¥₹-])(?P<y>1[1-9]\d\d|20\d\d)(?P<era>\s?(?:AD|BC|BCE|CE)\b)?"
    rf"{_NOT_YEAR_AFTER}"
)
_YEAR_WORD_BEFORE_RE = re.compile(
    r"\b(?:in|since|from|until|till|by|of|before|after|during|circa|year|around|to|and|through"
    r"|between|early|late|mid|summer|winter|spring|autumn|fall|Christmas)\s+$",
    re.IGNORECASE,
)
YEAR_ERA_RE = re.compile(r"(?=\d)(?<![\w.,])(?P<y>\d{1,4})\s?(?P<era>AD|BC|BCE|CE)\b")
YEAR_RANGE_RE = re.compile(
    r"(?=[12])(?<![\w.,-])(?P<a>1[1-9]\d\d|20\d\d)\s?(?:-|\u2013|to)\s?(?P<b>1[1-9]\d\d|20\d\d|\d\d)"
    r"(?![\w]|[.,]\d|\s?[-\u2013]\s?\d)"
)
RANGE_RE = re.compile(
    rf"(?=[-.\d])(?:(?<![\w)\]}}.,%°])(?P<sa>-)|{LB})(?P<a>{NUM})(?:-|\s?\u2013\s?)(?P<b>{NUM}){RB}"
)
COMPARE_RE = re.compile(r"(?<![<>=\w])(<=|>=|=<|=>|≤|≥|<|>|~|≈|±)\s?(?=[-+]?\d)")
COMPARE_WORDS = {
    "<=": "at most ",
    "=<": "at most ",
    "≤": "at most ",
    ">=": "at least ",
    "=>": "at least ",
    "≥": "at least ",
    "<": "less than ",
    ">": "more than ",
    "~": "about ",
    "≈": "approximately ",
    "±": "plus or minus ",
}
MATH_RE = re.compile(
    r"(?=[\s+=×÷*])(?<=\d)(?:\s*(?P<tight>[+=×÷*])\s*|\s+(?P<spaced>[-*/x])\s+)(?=[-+]?(?:\d|\.\d))"
)
MATH_WORDS = {
    "+": " plus ",
    "=": " equals ",
    "×": " times ",
    "*": " times ",
    "x": " times ",
    "÷": " divided by ",
    "/": " divided by ",
    "-": " minus ",
}
TIMES_RE = re.compile(rf"(?=[\d.]){LB}(?P<a>{NUM})[x×](?=\s|$|[,.!?;:])")
HASH_NUMBER_RE = re.compile(r"(?<![\w&#])#\s?(?=\d)")
SHARP_RE = re.compile(r"\b([A-G])#(?!\w)")
NUMBER_RE = re.compile(rf"(?=[-+.\d])(?:{SIGN}|{LB})(?P<n>{NUM}){RB}")
HAS_DIGIT_RE = re.compile(r"\d")


def decade_sub(m: re.Match[str], british: bool) -> str:
    if m.group("full"):
        words = year_words(int(m.group("full")), british)
    else:
        words = cardinal(int(m.group("short") or m.group("short2")), british)
    words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return (m.group("pre") or "") + words


def ordinal_sub(m: re.Match[str], british: bool) -> str:
    n = m.group("n").replace(",", "")
    return m.group() if len(n) > MAX_CARDINAL_DIGITS else ordinal(int(n), british)


def fraction_sub(m: re.Match[str], british: bool) -> str:
    num, den = int(m.group("n")), int(m.group("d"))
    whole = m.group("w")
    if whole is None and (num, den) == (24, 7):
        return "twenty-four seven"
    frac = fraction_words(num, den, british, whole is not None)
    if frac is None:
        if (num, den) == (50, 50):
            words = "fifty-fifty"
        else:
            word = "out of" if num <= den else "over"
            words = f"{cardinal(num, british)} {word} {cardinal(den, british)}"
        return words if whole is None else f"{int_words(whole, british)} {words}"
    if whole is not None:
        return f"{int_words(whole, british)} and {frac}"
    return frac


def year_sub(m: re.Match[str], british: bool) -> str:
    year = int(m.group("y"))
    if year < 1900 and not _YEAR_WORD_BEFORE_RE.search(text_before(m)):
        return m.group()
    words = year_words(year, british)
    if era := m.group("era"):
        words += " " + {"AD": "A-D", "BC": "B-C", "BCE": "B-C-E", "CE": "C-E"}[era.strip()]
    return words


def year_era_sub(m: re.Match[str], british: bool) -> str:
    era = {"AD": "A-D", "BC": "B-C", "BCE": "B-C-E", "CE": "C-E"}[m.group("era")]
    return f"{year_words(int(m.group('y')), british)} {era}"


def year_range_sub(m: re.Match[str], british: bool) -> str:
    a, b = m.group("a"), m.group("b")
    if len(b) == 2:
        b = a[:2] + b
    if int(b) <= int(a):
        return m.group()
    return f"{year_words(int(a), british)} to {year_words(int(b), british)}"


def range_sub(m: re.Match[str], british: bool) -> str:
    a = ("-" if m.group("sa") else "") + m.group("a")
    return f"{number(a, british)} to {number(m.group('b'), british)}"


def math_sub(m: re.Match[str]) -> str:
    op = m.group("tight") or m.group("spaced")
    return MATH_WORDS[op]


def times_sub(m: re.Match[str], british: bool) -> str:
    return number(m.group("a"), british) + " times"


def number_sub(m: re.Match[str], british: bool) -> str:
    return number(m.group(), british)


# ---------------------------------------------------------------------------------------------
