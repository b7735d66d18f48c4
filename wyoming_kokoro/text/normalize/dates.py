"""English: dates, clock times and durations."""

from __future__ import annotations

import re
from typing import NamedTuple

from .abbreviations import keep_period, text_before
from .numbers import DIGIT_WORDS, cardinal, ordinal, year_words

# English: dates and times
# ---------------------------------------------------------------------------------------------

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_ALIASES = {m: i + 1 for i, m in enumerate(MONTHS)}
_MONTH_ALIASES.update({m[:3]: i + 1 for i, m in enumerate(MONTHS)})
_MONTH_ALIASES["Sept"] = 9
# Full names, or a three-letter abbreviation with an optional period ("Jan. 5").
_MONTH_PAT = "|".join(MONTHS) + "|(?:Sept|" + "|".join(m[:3] for m in MONTHS) + r")\b\.?"
_AMPM = r"(?:[AaPp]\.?\s?[Mm]\b\.?)"
_NOT_CLOCK_AFTER = r"(?!\s*(?:%|°|:\d|[AaPp]\.?\s?[Mm]\b))"

ISO_DATE_RE = re.compile(
    r"(?=\d)(?<![\w-])(?P<y>\d{4})-(?P<mo>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])"
)
SLASH_DATE_RE = re.compile(r"(?=\d)(?<![\w/.])(\d{1,2})/(\d{1,2})/(\d{4})(?![\w/]|\.\d)")
MONTH_DAY_RE = re.compile(
    rf"\b(?P<mon>{_MONTH_PAT})\s+(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
    rf"{_NOT_CLOCK_AFTER}(?:,?\s+(?P<y>\d{{4}})\b)?"
)
DAY_MONTH_RE = re.compile(
    rf"(?<![\w.,])(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_MONTH_PAT})"
    r"(?:,?\s+(?P<y>\d{4})\b)?"
)
MONTH_YEAR_RE = re.compile(rf"\b(?P<mon>{'|'.join(MONTHS)})\s+(?P<y>\d{{4}})\b(?![.,]\d)")

_TIME_PART = (
    r"(?P<h{n}>\d{{1,2}})(?:(?P<sep{n}>[:.])(?P<m{n}>\d{{2}})(?::(?P<s{n}>\d{{2}}))?)?"
    r"(?:\s?(?P<ap{n}>{ampm}))?"
)
TIME_RE = re.compile(
    r"(?=\d)(?<![\w:.,/-])"
    + _TIME_PART.format(n=1, ampm=_AMPM)
    + r"(?:\s*(?:-|\u2013|to|until|till)\s*"
    + _TIME_PART.format(n=2, ampm=_AMPM)
    + r")?(?![\w:]|[.,]\d)"
)
_NOON_AFTER_RE = re.compile(r"\s+(?:noon|midnight)\b", re.IGNORECASE)

# "01:30:00" or "05:00" is a duration, not a clock time, only next to words like these.
HMS_CONTEXT_RE = re.compile(r"(?=\d)(?<![\w:.])\d{1,2}:\d{2}(?::\d{2})?(?![\w:]|[.,]\d)")
_HMS_BEFORE_RE = re.compile(
    r"\b(?P<pre>timer|duration|remaining|elapsed|runtime|run time|for)\s*(?:is|of|:)?\s+$",
    re.IGNORECASE,
)
_HMS_AFTER_RE = re.compile(r"\s+(?:left|remaining|elapsed|to go)\b", re.IGNORECASE)
DURATION_RE = re.compile(
    r"(?=\d)(?<![\w.])(?:(?P<h>\d{1,4})\s?(?:h|hr|hrs)\s?(?P<m>\d{1,4})\s?(?:m|min|mins)"
    r"(?:\s?(?P<s>\d{1,4})\s?(?:s|sec|secs))?"
    r"|(?P<m2>\d{1,4})\s?(?:m|min|mins)\s?(?P<s2>\d{1,4})\s?(?:s|sec|secs))(?![\w])"
)


def _say_date(y: int | None, mo: int, d: int, british: bool) -> str:
    month = MONTHS[mo - 1]
    words = f"the {ordinal(d, True)} of {month}" if british else f"{month} {ordinal(d)}"
    if y is not None:
        words += f", {year_words(y, british)}"
    return words


def iso_date_sub(m: re.Match[str], british: bool) -> str:
    words = _say_date(int(m.group("y")), int(m.group("mo")), int(m.group("d")), british)
    if t := m.group("time"):
        parts = [int(p) for p in t.split(":")]
        words += " at " + _say_clock(parts[0], parts[1], parts[2] if len(parts) > 2 else 0, None)
    return words


def slash_date_sub(m: re.Match[str], british: bool) -> str:
    a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    mo, d = (b, a) if british or a > 12 else (a, b)
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group()
    return _say_date(y, mo, d, british)


def month_year_sub(m: re.Match[str], british: bool) -> str:
    return f"{m.group('mon')} {year_words(int(m.group('y')), british)}"


def month_day_sub(m: re.Match[str], british: bool) -> str:
    """ "March 4" -> "March fourth" (UK: "March the fourth"); "4 March" -> "the fourth of March"."""
    month = MONTHS[_MONTH_ALIASES[m.group("mon").rstrip(".")] - 1]
    d = ordinal(int(m.group("d")), british)
    if m.re is MONTH_DAY_RE:
        words = f"{month} the {d}" if british else f"{month} {d}"
    else:
        the = "" if text_before(m).endswith(("the ", "The ")) else "the "
        words = f"{the}{d} of {month}"
    if m.group("y"):
        words += f", {year_words(int(m.group('y')), british)}"
    return words


def _say_minutes(m: int) -> str:
    return f"oh {DIGIT_WORDS[m]}" if m < 10 else cardinal(m)


def _say_clock(h: int, m: int, s: int, ampm: str | None, noon_word_follows: bool = False) -> str:
    """Clock reading: 12-hour with AM/PM, otherwise the way a 24-hour time is said."""
    if ampm is not None:
        if h == 12 and m == 0 and s == 0 and not noon_word_follows:
            return "noon" if ampm == "PM" else "midnight"
        words = cardinal(h)
        if m or s:
            words += " " + _say_minutes(m)
        words += " " + ampm
    elif h in (0, 24) and m == 0 and s == 0:
        return "twelve" if noon_word_follows else "midnight"
    elif h == 12 and m == 0 and s == 0:
        return "twelve" if noon_word_follows else "noon"
    elif h == 0:
        words = f"twelve {_say_minutes(m)} AM"
    elif m == 0:
        words = f"{cardinal(h)} o'clock" if h <= 12 else f"{cardinal(h)} hundred"
    else:
        words = f"{cardinal(h)} {_say_minutes(m)}"
    if s:
        words += f" and {cardinal(s)} second{'s' if s != 1 else ''}"
    return words


class _Clock(NamedTuple):
    """One written time inside a (possible) range, as the time regex found it."""

    h: int
    m: int
    s: int
    has_minutes: bool  # "7:05" rather than "7"
    dot: bool  # "7.30pm": only a time when AM/PM follows
    ampm: str | None
    ampm_text: str


def _clock_part(m: re.Match[str], n: str) -> _Clock | None:
    if m.group("h" + n) is None:
        return None
    ap = m.group("ap" + n)
    return _Clock(
        h=int(m.group("h" + n)),
        m=int(m.group("m" + n) or 0),
        s=int(m.group("s" + n) or 0),
        has_minutes=m.group("m" + n) is not None,
        dot=m.group("sep" + n) == ".",
        ampm=None if ap is None else ("AM" if ap[0] in "Aa" else "PM"),
        ampm_text=ap or "",
    )


def time_sub(m: re.Match[str]) -> str:
    """Clock times and time ranges; a bare number counts only with AM/PM ("7 PM", "2-4 PM")."""
    parts = [p for p in (_clock_part(m, "1"), _clock_part(m, "2")) if p is not None]
    # "2-4 PM": the first time shares the AM/PM of the second; it is said once, at the end.
    shared = len(parts) == 2 and parts[0].ampm is None and parts[1].ampm is not None
    for i, p in enumerate(parts):
        has_ampm = p.ampm is not None or (i == 0 and shared)
        if not (p.has_minutes or has_ampm) or (p.dot and not has_ampm):
            return m.group()
        if p.m > 59 or p.s > 59 or p.h > 24 or (has_ampm and not 1 <= p.h <= 12):
            return m.group()
    noon_follows = bool(_NOON_AFTER_RE.match(m.string, m.end()))
    spoken = [
        _say_clock(p.h, p.m, p.s, p.ampm, noon_follows and i == len(parts) - 1) for i, p in enumerate(parts)
    ]
    if shared:
        first = parts[0]
        spoken[0] = cardinal(first.h)
        if first.m:
            spoken[0] += " " + _say_minutes(first.m)
    words = " to ".join(spoken)
    return words + keep_period(m.string, m.end(), parts[-1].ampm_text.endswith("."))


def _say_duration(h: int, m: int, s: int) -> str:
    items = []
    for value, unit in ((h, "hour"), (m, "minute"), (s, "second")):
        if value:
            items.append(f"{cardinal(value)} {unit}{'' if value == 1 else 's'}")
    if not items:
        return "zero seconds"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def hms_context_sub(m: re.Match[str]) -> str:
    before = _HMS_BEFORE_RE.search(text_before(m))
    after = _HMS_AFTER_RE.match(m.string, m.end())
    if before is None and after is None:
        return m.group()
    parts = [int(p) for p in m.group().split(":")]
    if len(parts) == 3:
        h, mi, s = parts
    elif after is None and before is not None and before.group("pre").lower() == "for":
        return m.group()  # "for 10:30" is an appointment, not a duration
    else:
        h, mi, s = 0, parts[0], parts[1]
    if mi > 59 or s > 59:
        return m.group()
    return _say_duration(h, mi, s)


def duration_sub(m: re.Match[str]) -> str:
    if m.group("h") is not None:
        return _say_duration(int(m.group("h")), int(m.group("m")), int(m.group("s") or 0))
    return _say_duration(0, int(m.group("m2")), int(m.group("s2")))


# ---------------------------------------------------------------------------------------------
