"""English: the rules in the order they run, each behind a cheap pre-check."""

from __future__ import annotations

import re
from collections.abc import Callable

from .abbreviations import (
    ACRONYM_RE,
    ACRONYMS,
    DR_ST_RE,
    ETC_RE,
    LATIN,
    SUFFIX_ABBR,
    SUFFIX_ABBR_RE,
    TITLE_RE,
    TITLES,
    WEEKDAY_DOT_RE,
    WEEKDAY_RANGE_RE,
    WEEKDAYS,
    dr_st_sub,
    etc_sub,
    suffix_abbr_sub,
    weekday_dot_sub,
    weekday_range_sub,
)
from .dates import (
    DAY_MONTH_RE,
    DURATION_RE,
    HMS_CONTEXT_RE,
    ISO_DATE_RE,
    MONTH_DAY_RE,
    MONTH_YEAR_RE,
    MONTHS,
    SLASH_DATE_RE,
    TIME_RE,
    duration_sub,
    hms_context_sub,
    iso_date_sub,
    month_day_sub,
    month_year_sub,
    slash_date_sub,
    time_sub,
)
from .identifiers import (
    DASHED_DIGITS_RE,
    IPV4_RE,
    KEYWORD_DIGITS_RE,
    LEADING_ZERO_RE,
    LONG_DIGITS_RE,
    PHONE_INTL_RE,
    PHONE_LOCAL_RE,
    PHONE_US_RE,
    VERSION_RE,
    dashed_digits_sub,
    ipv4_sub,
    keyword_digits_sub,
    phone_sub,
    version_sub,
)
from .number_forms import (
    COMPARE_RE,
    COMPARE_WORDS,
    DECADE_RE,
    FRACTION_RE,
    HAS_DIGIT_RE,
    HASH_NUMBER_RE,
    MATH_RE,
    MATH_WORDS,
    NUMBER_RE,
    ORDINAL_RE,
    RANGE_RE,
    SHARP_RE,
    TIMES_RE,
    YEAR_ERA_RE,
    YEAR_RANGE_RE,
    YEAR_RE,
    decade_sub,
    fraction_sub,
    math_sub,
    number_sub,
    ordinal_sub,
    range_sub,
    times_sub,
    year_era_sub,
    year_range_sub,
    year_sub,
)
from .numbers import digits
from .roman import ROMAN_RE, roman_sub
from .symbols import ARROW_RE, PIPE_RE, SPACED_DASH_RE, WORD_SLASH_RE, english_chars
from .units import (
    CUR_CODES,
    CUR_SYMBOLS,
    CURRENCY_PREFIX_RE,
    CURRENCY_SUFFIX_RE,
    DIMENSION_RE,
    KELVIN_RE,
    MINOR_PRICE_RE,
    UNIT_RE,
    currency_prefix_sub,
    currency_suffix_sub,
    dimension_sub,
    kelvin_sub,
    minor_price_sub,
    unit_sub,
)
from .web import (
    DOMAIN_RE,
    EMAIL_RE,
    ENTITY_RE,
    FILE_RE,
    SNAKE_RE,
    URL_RE,
    domain_sub,
    email_sub,
    entity_sub,
    file_sub,
    url_sub,
)

# English: the pipeline
# ---------------------------------------------------------------------------------------------

_Gate = Callable[[str], bool]
_Rewrite = Callable[[str, bool], str]


def _has(*needles: str) -> _Gate:
    """Cheap pre-check: most rules cannot fire without one of these substrings."""
    return lambda t: any(n in t for n in needles)


def _lower_has(*needles: str) -> _Gate:
    """Case-insensitive :func:`_has`."""
    return lambda t: any(n in t.lower() for n in needles)


def _finds(pattern: str) -> _Gate:
    """Pre-check with a pattern that starts with a character class, which re scans quickly."""
    compiled = re.compile(pattern)
    return lambda t: compiled.search(t) is not None


def _always(_text: str) -> bool:
    return True


def _sub(pattern: re.Pattern[str], fn: Callable[[re.Match[str], bool], str]) -> _Rewrite:
    return lambda t, british: pattern.sub(lambda m: fn(m, british), t)


def _sub1(pattern: re.Pattern[str], repl: str | Callable[[re.Match[str]], str]) -> _Rewrite:
    return lambda t, _british: pattern.sub(repl, t)


_MONTH_NEEDLES = tuple(m[:3] for m in MONTHS)
_KEYWORD_NEEDLES = (
    "zip", "post", "pin", "code", "id", "serial", "account", "phone", "tel", "ext", "number",
    "call", "dial",
)  # fmt: skip

# Rules that need no digit: web names first (they contain dots, digits and underscores), then
# acronyms and abbreviations, which must see the original capitalisation and periods.
_WORD_STEPS: list[tuple[_Gate, _Rewrite]] = [
    (_has("://", "www."), _sub1(URL_RE, url_sub)),
    (_has("@"), _sub1(EMAIL_RE, email_sub)),
    (_finds(r"[a-z]\.[a-z0-9_]"), _sub1(ENTITY_RE, entity_sub)),
    (_finds(r"\w\.[a-z]"), _sub1(FILE_RE, file_sub)),
    (_finds(r"\w\.[a-z]"), _sub1(DOMAIN_RE, domain_sub)),
    (_has("_"), _sub1(SNAKE_RE, " ")),
    (_finds(r"[a-z]\.?\s+[MDCLXVI]"), _sub1(ROMAN_RE, roman_sub)),
    (_has(*ACRONYMS), _sub1(ACRONYM_RE, lambda m: ACRONYMS[m.group()])),
    (_has("Dr", "St"), _sub1(DR_ST_RE, dr_st_sub)),
    (_has("Mr", "Ms", "Prof"), _sub1(TITLE_RE, lambda m: TITLES[m.group(1)])),
    (_has(*SUFFIX_ABBR), _sub1(SUFFIX_ABBR_RE, suffix_abbr_sub)),
    *[(_has(needle), _sub1(pattern, words)) for needle, pattern, words in LATIN],
    (_has("etc"), _sub1(ETC_RE, etc_sub)),
    (_has(*WEEKDAYS), _sub1(WEEKDAY_RANGE_RE, weekday_range_sub)),
    (_has(*WEEKDAYS), _sub1(WEEKDAY_DOT_RE, weekday_dot_sub)),
    (_has("#"), _sub1(SHARP_RE, r"\1 sharp")),
]

# Rules for text with digits, most specific first: a date must be read before its parts look
# like a range, a time before its parts look like a ratio, a unit before the bare number.
_NUMBER_STEPS: list[tuple[_Gate, _Rewrite]] = [
    (_has(*COMPARE_WORDS), _sub1(COMPARE_RE, lambda m: COMPARE_WORDS[m.group(1)])),
    (_has("-"), _sub(ISO_DATE_RE, iso_date_sub)),
    (_has("/"), _sub(SLASH_DATE_RE, slash_date_sub)),
    (_has(*_MONTH_NEEDLES), _sub(MONTH_DAY_RE, month_day_sub)),
    (_has(*_MONTH_NEEDLES), _sub(DAY_MONTH_RE, month_day_sub)),
    (_has(*_MONTH_NEEDLES), _sub(MONTH_YEAR_RE, month_year_sub)),
    (_finds(r"\d\s?(?:h|m)"), _sub1(DURATION_RE, duration_sub)),
    (_finds(r"\d:\d\d"), _sub1(HMS_CONTEXT_RE, hms_context_sub)),
    (_finds(r"\d[:.]\d\d|\d\s?[AaPp]\.?\s?[Mm]"), _sub1(TIME_RE, time_sub)),
    (_has("+", "00"), _sub1(PHONE_INTL_RE, phone_sub)),
    (_finds(r"\d{3}[-.]\d{4}"), _sub1(PHONE_US_RE, phone_sub)),
    (_finds(r"0\d{1,5}[ /-]\d\d"), _sub1(PHONE_LOCAL_RE, phone_sub)),
    (_lower_has(*_KEYWORD_NEEDLES), _sub1(KEYWORD_DIGITS_RE, keyword_digits_sub)),
    (_finds(r"\d\.\d{1,3}\.\d"), _sub1(IPV4_RE, ipv4_sub)),
    (_finds(r"[vV]\d|\d\.\d"), _sub1(VERSION_RE, version_sub)),
    (_has("/"), _sub(MINOR_PRICE_RE, minor_price_sub)),
    (_has(*CUR_SYMBOLS, *CUR_CODES.split("|")), _sub(CURRENCY_PREFIX_RE, currency_prefix_sub)),
    (_has(*CUR_SYMBOLS, *CUR_CODES.split("|")), _sub(CURRENCY_SUFFIX_RE, currency_suffix_sub)),
    (_has("0s", "0's"), _sub(DECADE_RE, decade_sub)),
    (_finds(r"\d(?:st|nd|rd|th|ST|ND|RD|TH)"), _sub(ORDINAL_RE, ordinal_sub)),
    (_has("K"), _sub(KELVIN_RE, kelvin_sub)),
    (_has("x", "×"), _sub(DIMENSION_RE, dimension_sub)),
    (_always, _sub(UNIT_RE, unit_sub)),
    (_has("AD", "BC", "CE"), _sub(YEAR_ERA_RE, year_era_sub)),
    (_finds(r"\d{4}\s?(?:-|\u2013|to)"), _sub(YEAR_RANGE_RE, year_range_sub)),
    (_finds(r"\d{4}"), _sub(YEAR_RE, year_sub)),
    (_has("/"), _sub(FRACTION_RE, fraction_sub)),
    (_finds(r"\d-\d"), _sub1(DASHED_DIGITS_RE, dashed_digits_sub)),
    (_has("-", "\u2013"), _sub(RANGE_RE, range_sub)),
    (_has(*MATH_WORDS), _sub1(MATH_RE, math_sub)),
    (_has("x", "×"), _sub(TIMES_RE, times_sub)),
    (_has("#"), _sub1(HASH_NUMBER_RE, "number ")),
    (_has("0"), _sub1(LEADING_ZERO_RE, lambda m: digits(m.group()))),
    (_finds(r"\d{10}"), _sub1(LONG_DIGITS_RE, lambda m: digits(m.group()))),
    (_always, _sub(NUMBER_RE, number_sub)),
]

_SYMBOL_STEPS: list[tuple[_Gate, _Rewrite]] = [
    (_has("--", "\u2013", "\u2014"), _sub1(SPACED_DASH_RE, " \u2014 ")),
    (_has("->", "=>", "→", "⇒", "⟶"), _sub1(ARROW_RE, " to ")),
    (_has("|", "•", "·"), _sub1(PIPE_RE, ", ")),
    (_has("/"), _sub1(WORD_SLASH_RE, r"\1 or \2")),
]


def _run(steps: list[tuple[_Gate, _Rewrite]], text: str, british: bool) -> str:
    for gate, rewrite in steps:
        if gate(text):
            text = rewrite(text, british)
    return text


def normalize_english(text: str, british: bool) -> str:
    text = english_chars(text)
    text = _run(_WORD_STEPS, text, british)
    if HAS_DIGIT_RE.search(text):
        text = _run(_NUMBER_STEPS, text, british)
    return _run(_SYMBOL_STEPS, text, british)


# ---------------------------------------------------------------------------------------------
