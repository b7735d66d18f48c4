"""English: identifiers read digit by digit (phone numbers, codes, IP addresses, versions)."""

from __future__ import annotations

import re

from .abbreviations import text_before
from .numbers import digits, int_words

# English: identifiers, phone numbers, versions
# ---------------------------------------------------------------------------------------------

PHONE_INTL_RE = re.compile(
    r"(?=[+0])(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .\-/]?\(?\d{1,6}\)?){2,6}(?![\w]|[.,]\d)"
)
PHONE_US_RE = re.compile(
    r"(?=[(\d])(?<![\w+-])(?:1[-. ])?(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-.]\d{4}(?![\w]|[.,]\d)"
)
PHONE_LOCAL_RE = re.compile(r"(?=0)(?<![\w+.,])0\d{1,5}(?:[ /-]\d{2,}){1,4}(?![\w]|[.,]\d)")
#: Digit groups joined by dashes ("555-0142", "2024-0042", "0-3-134"): read digit by digit unless
#: the context says it is a range (``dashed_digits_sub``).
DASHED_DIGITS_RE = re.compile(r"(?=\d)(?<![\w.,:/-])\d+(?:-\d+){1,5}(?![\w-]|[.,:/]\d)")
#: Words before a pair of numbers that make it a range: "from 9-5", "pages 10-20", "ages 3-5".
_RANGE_BEFORE_RE = re.compile(
    r"\b(?:from|between|pages?|pp\.?|ages?|aged|chapters?|sections?|verses?|lines?|rooms?|steps?"
    r"|levels?|floors?|rows?|seats?|items?|days?|weeks?|months?|years?|nights?|hours?|minutes?)\s*$",
    re.IGNORECASE,
)
#: A word after a pair of numbers that makes it a range of a quantity: "100-200 people",
#: "3-4 days", "5-10 km", "20-30%": a plural noun, a unit, or a percent or degree sign.
_RANGE_AFTER_RE = re.compile(
    r"\s?(?:%|°|[a-z]{2,}s\b|(?:km|kg|mg|ml|cm|mm|mph|kph|kwh|kw|mb|gb|tb|ft|lb|oz|in)\b)"
)
# Digits after these words are an identifier: every digit is read, zeros included.
KEYWORD_DIGITS_RE = re.compile(r"(?=\d)(?<![\w.,:])\d{2,}(?:[ -]\d+)*(?![\w]|[.,]\d)")
_KEYWORD_BEFORE_RE = re.compile(
    r"\b(?:(?:zip|postal|post)\s?code|zip|postcode|PIN|passcode|code|ID|serial(?:\s+number)?"
    r"|account(?:\s+number)?|phone(?:\s+number)?|tel\.?|ext\.?|extension"
    r"|(?:order|confirmation|tracking|reference)\s+number)"
    r"\s*(?:number|no\.?|#)?\s*(?:is|:)?\s*$|\b(?P<call>call|dial)\s+$",
    re.IGNORECASE,
)
LEADING_ZERO_RE = re.compile(r"(?=0)(?<![\w.,:])0\d+(?![\w]|[.,]\d)")
LONG_DIGITS_RE = re.compile(r"(?=\d)(?<![\w.,:])\d{10,}(?![\w]|[.,]\d)")
IPV4_RE = re.compile(r"(?=\d)(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
VERSION_RE = re.compile(
    r"(?=[vV\d])(?<![\w.])(?:[vV](?P<n1>\d+(?:\.\d+)*)|(?P<n2>\d+(?:\.\d+)+))(?![\w]|\.\d)"
)
_VERSION_WORD_BEFORE_RE = re.compile(r"\b(?:version|firmware|release|build)\s+$", re.IGNORECASE)


def phone_sub(m: re.Match[str]) -> str:
    text = m.group()
    groups = re.findall(r"\d+", text)
    if not 6 <= sum(len(g) for g in groups) <= 15:
        return text
    prefix = "plus " if text.startswith("+") else ""
    return prefix + ", ".join(digits(g) for g in groups)


def keyword_digits_sub(m: re.Match[str]) -> str:
    keyword = _KEYWORD_BEFORE_RE.search(text_before(m))
    groups = re.findall(r"\d+", m.group())
    if keyword is None or (keyword.group("call") and sum(map(len, groups)) < 3):
        return m.group()
    return ", ".join(digits(g) for g in groups)


def ipv4_sub(m: re.Match[str]) -> str:
    if any(int(g) > 255 for g in m.groups()):
        return m.group()
    return " dot ".join(digits(g) for g in m.groups())


def _version_components(v: str) -> str:
    parts = []
    for comp in v.split("."):
        parts.append(digits(comp) if len(comp) > 1 and comp[0] == "0" else int_words(comp, False))
    return " point ".join(parts)


def version_sub(m: re.Match[str]) -> str:
    """ "v2.1.3", "1.2.3" and "version 1.10": each part is a whole number ("one point ten")."""
    said = _VERSION_WORD_BEFORE_RE.search(text_before(m)) is not None
    if m.group("n1") is not None:
        return ("" if said else "version ") + _version_components(m.group("n1"))
    if m.group("n2").count(".") == 1 and not said:
        return m.group()  # a plain decimal
    return _version_components(m.group("n2"))


# ---------------------------------------------------------------------------------------------


def dashed_digits_sub(m: re.Match[str]) -> str:
    """Digit groups joined by dashes, read digit by digit in groups ("five five five, zero one
    four two"), as phone numbers and codes are said. Left for the range rule (``5 to 10``) when
    the context makes it a range: two groups of one or two digits without a leading zero ("3-4",
    "9-5", "10-20"), or a word before ("from", "pages", "ages" …) or a quantity after ("people",
    "km", "%")."""
    groups = m.group().split("-")
    short = len(groups) == 2 and all(len(g) <= 2 and not (len(g) == 2 and g[0] == "0") for g in groups)
    if short or (
        len(groups) == 2
        and (_RANGE_BEFORE_RE.search(text_before(m)) or _RANGE_AFTER_RE.match(m.string, m.end()))
    ):
        return m.group()
    return ", ".join(digits(g) for g in groups)
