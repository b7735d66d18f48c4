"""English: acronyms misaki misreads, titles, street and suffix abbreviations, Latin, weekdays."""

from __future__ import annotations

import re

# English: acronyms and abbreviations
# ---------------------------------------------------------------------------------------------

# Only what misaki gets wrong: it reads "CO" as "ko", "CO2" as "ko two", "PM2.5" without the
# "point", "HA" as "hah" and spells JSON out. Letters are joined with hyphens because misaki
# reads "H-A" as two letters while a lone "A" could be tagged as the article.
ACRONYMS = {
    "CO2": "C-O two",
    "CO": "C-O",
    "NO2": "N-O two",
    "NOx": "N-O-X",
    "SO2": "S-O two",
    "PM2.5": "P-M two point five",
    "PM10": "P-M ten",
    "PM1": "P-M one",
    "PM1.0": "P-M one",
    "PM4": "P-M four",
    "HA": "H-A",
    "JSON": "Jason",
    "YAML": "yaml",
}
ACRONYM_RE = re.compile(
    r"(?<![\w.-])(?:"
    + "|".join(re.escape(k) for k in sorted(ACRONYMS, key=len, reverse=True))
    + r")(?![\w-]|\.\d)"
)

_SENT_START_RE = re.compile(r"(?:^|[.!?:;\n\"(]\s*)$")
_CAP_WORD_BEFORE_RE = re.compile(r"(?:(\d+(?:st|nd|rd|th)?)|([A-Z][\w'-]*))\s+$")
_CAP_WORD_AFTER_RE = re.compile(r"\s+[A-Z]")
_SENTENCE_END_AFTER_RE = re.compile(r"\s*$|\s+[A-Z\"(]")


def text_before(m: re.Match[str], width: int = 40) -> str:
    """The text just before a match, for rules that look at the preceding word(s)."""
    return m.string[max(0, m.start() - width) : m.start()]


def _street_context(text: str, start: int, end: int) -> tuple[bool, bool, bool]:
    """(follows a name mid-sentence or a number, follows any capitalised word, precedes one)."""
    before = text[max(0, start - 60) : start]
    after_name = after_cap = False
    if m := _CAP_WORD_BEFORE_RE.search(before):
        after_cap = True
        after_name = bool(m.group(1)) or not _SENT_START_RE.search(before[: m.start()])
    return after_name, after_cap, bool(_CAP_WORD_AFTER_RE.match(text, end))


def keep_period(text: str, end: int, had_period: bool) -> str:
    """A suffix abbreviation at the end of a sentence also carries the sentence's period."""
    return "." if had_period and _SENTENCE_END_AFTER_RE.match(text, end) else ""


DR_ST_RE = re.compile(r"\b(Dr|St)(\.?)(?=\s|$|[,;:!?)])")
TITLE_RE = re.compile(r"\b(Mrs|Mr|Ms|Prof)\.?(?=\s+[A-Z])")
TITLES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor"}
SUFFIX_ABBR = {
    "Ave": "Avenue",
    "Blvd": "Boulevard",
    "Rd": "Road",
    "Ln": "Lane",
    "Hwy": "Highway",
    "Jr": "Junior",
    "Sr": "Senior",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Corp": "Corporation",
}
SUFFIX_ABBR_RE = re.compile(r"(?<=[A-Za-z0-9,] )(" + "|".join(SUFFIX_ABBR) + r")(\.?)(?=\s|$|[,;:!?)])")
# (needle for the cheap pre-check, pattern, words)
LATIN: list[tuple[str, re.Pattern[str], str]] = [
    ("g.", re.compile(r"(?<![\w.])e\.\s?g\.(?:,)?|(?<![\w.])eg\.,?(?=\s)"), "for example,"),
    ("e.", re.compile(r"(?<![\w.])i\.\s?e\.(?:,)?"), "that is,"),
    ("k", re.compile(r"(?<![\w.])(?:a\.k\.a\.|aka)(?![\w])"), "also known as"),
    ("cf.", re.compile(r"(?<![\w.])cf\.(?=\s)"), "compare"),
    ("vs", re.compile(r"(?<![\w.])vs\.?(?=\s)"), "versus"),
    ("VS", re.compile(r"(?<![\w.])VS\.?(?=\s)"), "versus"),
    ("pprox", re.compile(r"(?<![\w.])[Aa]pprox\.?(?=\s)"), "approximately"),
    ("incl.", re.compile(r"(?<![\w.])incl\.(?=\s)"), "including"),
    ("excl.", re.compile(r"(?<![\w.])excl\.(?=\s)"), "excluding"),
    ("w/o", re.compile(r"(?<![\w.])w/o(?=\s)"), "without"),
    ("w/", re.compile(r"(?<![\w.])w/(?=\s)"), "with"),
    ("ca.", re.compile(r"(?<![\w.])ca\.(?=\s*\d)"), "about"),
    ("No.", re.compile(r"(?<![\w.])No\.(?=\s*\d)"), "number"),
    ("no.", re.compile(r"(?<![\w.])no\.(?=\s*\d)"), "number"),
]
ETC_RE = re.compile(r"(?<![\w.])etc\.?")
WEEKDAYS = {
    "Mon": "Monday",
    "Tue": "Tuesday",
    "Tues": "Tuesday",
    "Wed": "Wednesday",
    "Thu": "Thursday",
    "Thur": "Thursday",
    "Thurs": "Thursday",
    "Fri": "Friday",
    "Sat": "Saturday",
    "Sun": "Sunday",
}
_WD = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
WEEKDAY_RANGE_RE = re.compile(rf"\b({_WD})\.?\s?(?:-|\u2013|to)\s?({_WD})\b(\.?)")
WEEKDAY_DOT_RE = re.compile(rf"\b({_WD})\.(?=\s|,|$)")


def dr_st_sub(m: re.Match[str]) -> str:
    """Dr./St. before a name is a title (Doctor, Saint); after a street name, a street type."""
    text = m.string
    after_name, after_cap, before_cap = _street_context(text, m.start(), m.end())
    abbr, period = m.group(1), m.group(2)
    street = "Drive" if abbr == "Dr" else "Street"
    title = "Doctor" if abbr == "Dr" else "Saint"
    if after_name or (after_cap and not before_cap):
        return street + keep_period(text, m.end(), bool(period))
    if before_cap or period:
        return title
    return m.group()


def suffix_abbr_sub(m: re.Match[str]) -> str:
    return SUFFIX_ABBR[m.group(1)] + keep_period(m.string, m.end(), bool(m.group(2)))


def etc_sub(m: re.Match[str]) -> str:
    had_period = m.group().endswith(".")
    return "et cetera" + keep_period(m.string, m.end(), had_period)


def weekday_range_sub(m: re.Match[str]) -> str:
    words = f"{WEEKDAYS[m.group(1)]} to {WEEKDAYS[m.group(2)]}"
    return words + keep_period(m.string, m.end(), bool(m.group(3)))


def weekday_dot_sub(m: re.Match[str]) -> str:
    return WEEKDAYS[m.group(1)] + keep_period(m.string, m.end(), True)


# ---------------------------------------------------------------------------------------------
