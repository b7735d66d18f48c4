"""Turn assistant reply text into plain speakable words before G2P.

Home Assistant and LLM replies are full of things a G2P front end cannot voice or voices wrongly:
Markdown, emoji, units, clock times, currency, entity ids, URLs. misaki (the G2P behind Kokoro)
handles plain prose and simple numbers well, but it drops a minus sign in front of a unit
("-5°C" -> "degrees C"), reads every four-digit number as a year, runs "2-4" together, reads
"1/2" as "one two", "7:05" with a literal colon, "St." always as "Saint", "02134" as a cardinal,
and silently swallows "#", "|" and emoji. This module rewrites only those constructs into the
words a person would say; everything it does not recognise passes through unchanged so that
misaki (and espeak as its fallback) still sees it, and ordinary words keep their case and
position so misaki's spaCy tagger can still tell "read" from "read".

Numbers are always written out here (with num2words) rather than left to misaki: the right
reading depends on context that only these rules see (year, identifier, unit, version), and a
single, deterministic reading keeps the output testable.

Non-English voices get only the language-independent part: Markdown stripping, emoji removal,
quote/space normalisation. No English words are inserted into their text.

The English rules run as an ordered list of (cheap pre-check, regex rewrite) steps: most specific
first (a date before its parts look like a range, a unit before the bare number), and a step is
skipped when its pre-check (a substring or a digit-led pattern) cannot match. Patterns are
compiled once at import; a typical 200-character reply takes well under a millisecond.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import regex
from num2words import CONVERTER_CLASSES

__all__ = ["normalize_text"]

_EN = CONVERTER_CLASSES["en"]

# ---------------------------------------------------------------------------------------------
# Number words
# ---------------------------------------------------------------------------------------------

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MAX_CARDINAL_DIGITS = 15  # beyond this a "number" is an identifier, read digit by digit


def _tidy(words: str, british: bool) -> str:
    """Drop num2words' commas (they would become pauses) and, for US English, its "and"."""
    words = words.replace(",", "")
    if not british:
        words = words.replace(" and ", " ")
    return words


@lru_cache(maxsize=4096)
def _cardinal(n: int, british: bool = False) -> str:
    """Cardinal words; cached because num2words costs ~30-60 µs per call."""
    return _tidy(_EN.to_cardinal(n), british)


@lru_cache(maxsize=1024)
def _ordinal(n: int, british: bool = False) -> str:
    return _tidy(_EN.to_ordinal(n), british)


@lru_cache(maxsize=1024)
def _year(n: int, british: bool = False) -> str:
    """Year reading ("twenty twenty-five"); num2words says "nineteen oh-five" for 1905."""
    return _tidy(_EN.to_year(n), british).replace("oh-", "oh ")


def _int_words(s: str, british: bool) -> str:
    """Cardinal words for a digit string; absurdly long ones are read digit by digit."""
    return _digits(s) if len(s) > _MAX_CARDINAL_DIGITS else _cardinal(int(s), british)


def _digits(s: str) -> str:
    """Read every digit, zeros included: identifiers, codes, phone numbers."""
    return " ".join(_DIGIT_WORDS[int(c)] for c in s if c.isdigit())


def _number(s: str, british: bool) -> str:
    """Words for a plain written number: "-1,250.5" -> "minus one thousand ... point five"."""
    s = s.replace(",", "")
    prefix = ""
    if s[:1] in "-+":
        prefix = "minus " if s[0] == "-" else "plus "
        s = s[1:]
    whole, _, frac = s.partition(".")
    words = _int_words(whole, british) if whole else ""
    if frac:
        words = f"{words} point {_digits(frac)}".strip()
    return prefix + words


def _is_one(s: str) -> bool:
    """Singular unit/currency only for a literal 1 ("1.0 kg" is read as plural)."""
    return s.lstrip("+-") == "1"


# Shared number patterns. A thousands group must be exactly three digits, so "1,2,3" stays a list.
_NUM = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
# A sign counts only where it cannot be a hyphen ("COVID-19") or a range ("5-10").
_SIGN = r"(?:(?<![\w)\]}.,%°])[-+])"
_LB = r"(?<![\w.,])"  # left boundary of an unsigned number
_RB = r"(?![\w]|[.,]\d)"  # right boundary: not glued to a word, not a longer number

# ---------------------------------------------------------------------------------------------
# Language-independent character clean-up
# ---------------------------------------------------------------------------------------------

# "1 000 000" with a thin or no-break space: a thousands separator, unlike a plain space.
_THIN_THOUSANDS_RE = re.compile("(?<=\\d)[\u00a0\u202f\u2009](?=\\d{3}(?!\\d))")
_SPACES = "\u00a0\u202f\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u205f\u3000\t"
_CHAR_TABLE = str.maketrans(
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f" + _SPACES,
    "'" * 4 + '"' * 4 + " " * len(_SPACES),
    "\r\u200b\u2060\ufeff\u00ad",  # zero-width characters and soft hyphens are deleted
)

# Emoji: flags, keycaps, and pictographs with their modifiers / ZWJ sequences. (c) (R) TM and
# the double exclamation marks are Extended_Pictographic but are text symbols in practice.
_EP = r"(?:(?![\u00a9\u00ae\u203c\u2049\u2122])\p{Extended_Pictographic}|[\u2713\u2717])"
_EMOJI_TAIL = r"(?:[\uFE0E\uFE0F]|\p{Emoji_Modifier}|[\U000E0020-\U000E007F])*"
_EMOJI_RE = regex.compile(
    rf"[\U0001F1E6-\U0001F1FF]{{2}}"
    rf"|{_EP}{_EMOJI_TAIL}(?:\u200D{_EP}{_EMOJI_TAIL})*"
    rf"|\p{{Emoji_Modifier}}|[\U0001F1E6-\U0001F1FF]"
)
_KEYCAP_RE = re.compile("([#*0-9])\ufe0f?\u20e3")
_VARIATION_RE = re.compile("[\ufe0e\ufe0f]")


def _emoji_name(seq: str) -> str:
    """Spoken name of one emoji sequence from unicodedata (flags: "flag" plus letters)."""
    if "\U0001f1e6" <= seq[0] <= "\U0001f1ff":
        letters = [chr(ord(c) - 0x1F1E6 + ord("A")) for c in seq]
        return "flag " + "-".join(letters)
    names = []
    for c in seq:
        if c in "\u200d\ufe0e\ufe0f" or "\U000e0020" <= c <= "\U000e007f":
            continue
        if "\U0001f3fb" <= c <= "\U0001f3ff":  # skin tones
            continue
        name = unicodedata.name(c, "")
        if name:
            names.append(name.lower())
    return " ".join(names)


# Every emoji code point lies in one of these blocks; a plain `re` search for them is ~50 times
# cheaper than the Unicode-property pattern above, so most replies skip it.
_EMOJI_CANDIDATE_RE = re.compile("[\u203c-\u3299\U0001f000-\U0001faff\U000e0020-\U000e007f]")


def _replace_emoji(text: str, speak: bool) -> str:
    if text.isascii() or not _EMOJI_CANDIDATE_RE.search(text):
        return text
    text = _KEYCAP_RE.sub(r"\1", text)
    repl: str | Callable[[regex.Match[str]], str] = " "
    if speak:
        repl = lambda m: f" {_emoji_name(m.group())} "  # noqa: E731
    return _VARIATION_RE.sub("", _EMOJI_RE.sub(repl, text))


# ---------------------------------------------------------------------------------------------
# Markdown (language-independent)
# ---------------------------------------------------------------------------------------------

_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_HR_RE = re.compile(r"^\s{0,3}(?:[-*_=]\s*){3,}$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_TABLE_ROW_RE = re.compile(r"^\s*\|(.*)\|\s*$")
_LIST_RE = re.compile(r"^\s*(?:[-*+\u2022\u2023\u25e6\u25aa\u25cf]|\d{1,3}[.)])\s+(.*)$")
_QUOTE_RE = re.compile(r"^\s*(?:>\s?)+")
_TERMINAL_RE = re.compile(r"[.!?:;\u2026\u3002\uff01\uff1f\u0964\u0965][\"')\]*_`~]*$")
_ALNUM_RE = re.compile(r"\w")

_ESCAPABLE = "\\`*_{}[]()#+-.!|>~"
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_UNESCAPE_TABLE = str.maketrans({chr(0xE000 + i): c for i, c in enumerate(_ESCAPABLE)})

# Spans are bounded ({1,300}) so that unbalanced markup costs linear, not quadratic, time.
_IMAGE_RE = re.compile(r"!\[([^\]]{0,300})\]\([^)\s\[\]]{0,2000}(?:\s+\"[^\"]{0,300}\")?\)")
_LINK_RE = re.compile(r"\[([^\]]{1,300})\]\([^)\s\[\]]{0,2000}(?:\s+\"[^\"]{0,300}\")?\)")
_REF_LINK_RE = re.compile(r"\[([^\]]{1,300})\]\[[^\]]{0,50}\]")
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp)://[^>\s]+|[^@>\s]+@[^>\s]+)>")
_CODE_SPAN_RE = re.compile(r"(`{1,3})(.{1,300}?)\1")
_STRONG_RE = re.compile(r"(\*\*\*|___|\*\*|__|~~)(?=\S)(.{1,300}?)(?<=\S)\1")
_EM_STAR_RE = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*\n]{1,300}?)(?<=[^\s*])\*(?![\w*])")
_EM_UNDER_RE = re.compile(r"(?<![\w\\])_(?=[^\s_])([^_\n]{1,300}?)(?<=[^\s_])_(?!\w)")
_HTML_TAG_RE = re.compile(
    r"</?(?:a|b|i|u|s|em|strong|br|p|div|span|code|pre|sup|sub|del|ins|mark|small|kbd|ul|ol|li"
    r"|h[1-6]|hr|table|thead|tbody|tr|td|th|blockquote)\b[^<>]*/?>",
    re.IGNORECASE,
)
_HTML_ENTITY_RE = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});")


def _end_sentence(s: str) -> str:
    """Give a list item / heading / table row its own sentence so the speech pauses after it."""
    s = s.rstrip()
    if not s or _TERMINAL_RE.search(s):
        return s
    if s.endswith(","):
        return s[:-1] + "."
    return s + "."


def _strip_markdown_blocks(text: str) -> str:
    """Line-level Markdown: fences, headings, rules, tables, lists, quotes.

    Every non-empty line is a unit; a line that starts with a lowercase letter continues the
    previous unit (a hard-wrapped sentence). Units are joined with a space; all but the last get
    terminal punctuation, and structural units (list items, headings, rows) always do.
    """
    units: list[tuple[list[str], bool]] = []  # (lines, structural); empty lines = paragraph break
    in_fence = False
    for raw in text.split("\n"):
        if _FENCE_RE.match(raw):
            in_fence = not in_fence
            continue
        line = raw.strip()
        structural = False
        if in_fence:
            if not _ALNUM_RE.search(line):
                continue  # a lone "}" or "]" has nothing to say
            structural = True
        elif line:
            line = _QUOTE_RE.sub("", line)
            if _HR_RE.match(line) or _TABLE_SEP_RE.match(line):
                line = ""
            elif m := _HEADING_RE.match(line):
                line, structural = m.group(1), True
            elif m := _TABLE_ROW_RE.match(line):
                cells = [c.strip() for c in m.group(1).split("|")]
                line, structural = ", ".join(c for c in cells if c), True
            elif m := _LIST_RE.match(line):
                line, structural = m.group(1), True
        if not line:
            units.append(([], False))
            continue
        prev = units[-1][0] if units else None
        if not structural and prev and line[0].islower() and not _TERMINAL_RE.search(prev[-1]):
            prev.append(line)
        else:
            units.append(([line], structural))
    parts = [(" ".join(lines), structural) for lines, structural in units if lines]
    return " ".join(
        _end_sentence(t) if structural or i < len(parts) - 1 else t for i, (t, structural) in enumerate(parts)
    )


def _strip_markdown_inline(text: str) -> str:
    escaped = "\\" in text
    if escaped:
        text = _ESCAPE_RE.sub(lambda m: chr(0xE000 + _ESCAPABLE.index(m.group(1))), text)
    if "`" in text:
        text = _CODE_SPAN_RE.sub(lambda m: m.group(2).strip(), text)
    if "](" in text:
        text = _IMAGE_RE.sub(r"\1", text)
        text = _LINK_RE.sub(r"\1", text)
    if "][" in text:
        text = _REF_LINK_RE.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK_RE.sub(r"\1", text)
        text = _HTML_TAG_RE.sub(" ", text)
    if "&" in text:
        text = _HTML_ENTITY_RE.sub(lambda m: html.unescape(m.group()), text)
    for _ in range(2):  # nested emphasis: ***x*** or **_x_**
        if "**" in text or "__" in text or "~~" in text:
            text = _STRONG_RE.sub(r"\2", text)
        if "*" in text:
            text = _EM_STAR_RE.sub(r"\1", text)
        if "_" in text:
            text = _EM_UNDER_RE.sub(r"\1", text)
    return text.translate(_UNESCAPE_TABLE) if escaped else text


# ---------------------------------------------------------------------------------------------
# All languages: runs of punctuation
# ---------------------------------------------------------------------------------------------

#: Marks that end or break a clause, Western and full-width.
_MARKS = ".,;:!?\u2026\u2014\u2013\u00a1\u00bf\u3001\u3002\uff01\uff0c\uff1a\uff1b\uff1f"
_MARK_RUN_RE = re.compile(f"[{_MARKS}](?:\\s*[{_MARKS}]){{2,}}")


def _collapse_mark(m: re.Match[str]) -> str:
    """A run of three or more marks ("!!!!", "?!?!?!", "— — —") as at most its first two kinds:
    the model voices each mark as a pause or a tone, so a run is seconds of silence or noise (and
    frames to compute), where a reader hears one "!" or "?!". Three dots are an ellipsis, left
    for the language's own rules; longer runs of dots become one."""
    run = m.group()
    if run == "...":
        return run
    kinds = list(dict.fromkeys(ch for ch in run if not ch.isspace()))
    return "\u2026" if kinds == ["."] else "".join(kinds[:2])


def _collapse_marks(text: str) -> str:
    return _MARK_RUN_RE.sub(_collapse_mark, text)


# ---------------------------------------------------------------------------------------------
# English: character level
# ---------------------------------------------------------------------------------------------

_VULGAR_RE = re.compile(r"(\d?)([\u00bc-\u00be\u2150-\u215e])")
_ORDINAL_INDICATOR_RE = re.compile(r"(?<=\d)\s?\u00ba")  # "21ºC": º (ordinal o) used as degree
_ELLIPSIS_RE = re.compile(r"\.{3,}")
_SPACED_DASH_RE = re.compile(r"\s+(?:--|\u2013|\u2014)\s+|(?<=\w)--(?=\w)")
_SYMBOL_TABLE = str.maketrans(
    {
        "\u2212": "-",  # minus sign
        "\u2010": "-",
        "\u2011": "-",
        "\u2044": "/",  # fraction slash (NFKC of ½)
        "\u00ae": "",  # ® and ™ are decoration, not speech
        "\u2122": "",
        "\u00a9": " copyright ",
        "\u00ab": '"',
        "\u00bb": '"',
    }
)


def _english_chars(text: str) -> str:
    if text.isascii():  # ASCII is already NFKC; only the ellipsis needs a look
        return _ELLIPSIS_RE.sub("\u2026", text) if "..." in text else text
    text = _VULGAR_RE.sub(
        lambda m: (
            (m.group(1) + " " if m.group(1) else "")
            + unicodedata.normalize("NFKC", m.group(2)).replace("\u2044", "/")
        ),
        text,
    )
    if "\u00ba" in text:
        text = _ORDINAL_INDICATOR_RE.sub("°", text)
    text = text.translate(_SYMBOL_TABLE)
    text = unicodedata.normalize("NFKC", text)  # fullwidth forms, ℃, ², ligatures, µ
    return _ELLIPSIS_RE.sub("\u2026", text)


# ---------------------------------------------------------------------------------------------
# English: URLs, e-mail, entity ids, file names
# ---------------------------------------------------------------------------------------------


def _spell(word: str) -> str:
    """Letters joined by hyphens, which misaki reads one by one ("io" -> "I-O")."""
    return "-".join(word.upper())


# Top-level domains said as a word; every other one is spelled ("de" -> "D-E").
_TLD_AS_WORD = {"com", "org", "net", "dev", "app", "local", "lan", "home", "co", "me", "info"}
_TLD_AS_WORD |= {"gov", "cloud", "online", "shop", "site", "tech"}
# Bare host names ("example.com") are recognised only with these: "it", "me", "at" or "us"
# after a dot are far more often a missing space than a domain.
_BARE_TLDS = "com|org|net|io|dev|app|ai|local|lan|de|uk|eu|fr|nl|ch|au|tv|info|edu|gov|xyz|cloud"
_FILE_EXTS = {
    ext: _spell(ext)
    for ext in ("yml", "py", "csv", "db", "sh", "js", "html", "md", "png", "pdf", "xml", "css")
}
_FILE_EXTS |= {"mp3": "M-P-three", "mp4": "M-P-four", "json": "Jason", "txt": "text"}
_FILE_EXTS |= {"cfg": "config", "jpg": "jpeg", "wav": "wave"}
_FILE_EXTS |= {ext: ext for ext in ("yaml", "log", "conf", "ini", "jpeg", "gif", "zip", "toml")}
_HA_DOMAINS = (
    "alarm_control_panel|automation|binary_sensor|button|calendar|camera|climate|conversation"
    "|counter|cover|date|datetime|device_tracker|event|fan|group|homeassistant|humidifier|image"
    "|input_boolean|input_button|input_datetime|input_number|input_select|input_text|lawn_mower"
    "|light|lock|media_player|notify|number|person|remote|scene|schedule|script|select|sensor"
    "|siren|stt|sun|switch|text|time|timer|todo|tts|update|vacuum|valve|wake_word|water_heater"
    "|weather|zone"
)

_URL_RE = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)"
    r"(?:[^\s/@]+@)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*)"
    r"(?::(?P<port>\d{1,5}))?(?P<path>/[^\s<>\"')\]]*)?"
)
_EMAIL_RE = re.compile(
    r"\b(?P<user>[A-Za-z0-9][A-Za-z0-9._%+-]*)@(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b"
)
_ENTITY_RE = re.compile(rf"\b(?P<domain>{_HA_DOMAINS})\.(?P<obj>[a-z0-9_]+)\b(?!:\d|\.\w)")
_DOMAIN_RE = re.compile(
    r"(?<![\w@.-])(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    rf"(?P<tld>{_BARE_TLDS}))(?::(?P<port>\d{{1,5}}))?(?![\w-]|\.\w)"
)
_FILE_RE = re.compile(
    rf"(?<![\w.-])(?P<name>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\.(?P<ext>{'|'.join(_FILE_EXTS)})"
    r"(?![\w-]|\.\w)"
)
_SNAKE_RE = re.compile(r"(?<=[A-Za-z0-9])_+(?=[A-Za-z0-9])")
_PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,24}$")


def _say_label(label: str) -> str:
    """One dotted-name label: hyphens/underscores become spaces, digits are read one by one."""
    label = re.sub(r"[-_]+", " ", label)
    return re.sub(r"\d+", lambda m: " " + _digits(m.group()) + " ", label).strip()


def _say_host(host: str) -> str:
    labels = [lab for lab in host.split(".") if lab]
    if len(labels) > 1 and labels[0].lower() == "www":
        labels = labels[1:]
    words = [_say_label(lab) for lab in labels[:-1]]
    tld = labels[-1]
    if not tld.isalpha():  # an IP address
        words.append(_say_label(tld))
    else:
        words.append(tld.lower() if tld.lower() in _TLD_AS_WORD else _spell(tld))
    return " dot ".join(words)


def _url_sub(m: re.Match[str]) -> str:
    text = m.group()
    trail = ""
    while text and text[-1] in ".,;:!?":
        trail = text[-1] + trail
        text = text[:-1]
    m2 = _URL_RE.match(text)
    if m2 is None:
        return m.group()
    spoken = _say_host(m2.group("host"))
    if m2.group("port"):
        spoken += " port " + _digits(m2.group("port"))
    path = (m2.group("path") or "").split("?", 1)[0].split("#", 1)[0].strip("/")
    segments = path.split("/") if path else []
    if 0 < len(segments) <= 3 and all(_PATH_SEGMENT_RE.match(s) for s in segments):
        spoken += "".join(" slash " + _say_label(s) for s in segments)
    return spoken + trail


def _email_sub(m: re.Match[str]) -> str:
    user = " dot ".join(_say_label(p) for p in m.group("user").split(".") if p)
    return f"{user} at {_say_host(m.group('host'))}"


def _domain_sub(m: re.Match[str]) -> str:
    spoken = _say_host(m.group("host"))
    if m.group("port"):
        spoken += " port " + _digits(m.group("port"))
    return spoken


def _file_sub(m: re.Match[str]) -> str:
    name = " dot ".join(_say_label(p) for p in m.group("name").split("."))
    return f"{name} dot {_FILE_EXTS[m.group('ext')]}"


def _entity_sub(m: re.Match[str]) -> str:
    if m.group("obj") in _FILE_EXTS:
        return m.group()  # "script.py" is a file name
    domain = m.group("domain").replace("_", " ")
    obj = re.sub(r"_+", " ", m.group("obj")).strip()
    return f"{domain} {obj}"


# ---------------------------------------------------------------------------------------------
# English: acronyms and abbreviations
# ---------------------------------------------------------------------------------------------

# Only what misaki gets wrong: it reads "CO" as "ko", "CO2" as "ko two", "PM2.5" without the
# "point", "HA" as "hah" and spells JSON out. Letters are joined with hyphens because misaki
# reads "H-A" as two letters while a lone "A" could be tagged as the article.
_ACRONYMS = {
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
_ACRONYM_RE = re.compile(
    r"(?<![\w.-])(?:"
    + "|".join(re.escape(k) for k in sorted(_ACRONYMS, key=len, reverse=True))
    + r")(?![\w-]|\.\d)"
)

_SENT_START_RE = re.compile(r"(?:^|[.!?:;\n\"(]\s*)$")
_CAP_WORD_BEFORE_RE = re.compile(r"(?:(\d+(?:st|nd|rd|th)?)|([A-Z][\w'-]*))\s+$")
_CAP_WORD_AFTER_RE = re.compile(r"\s+[A-Z]")
_SENTENCE_END_AFTER_RE = re.compile(r"\s*$|\s+[A-Z\"(]")


def _before(m: re.Match[str], width: int = 40) -> str:
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


def _keep_period(text: str, end: int, had_period: bool) -> str:
    """A suffix abbreviation at the end of a sentence also carries the sentence's period."""
    return "." if had_period and _SENTENCE_END_AFTER_RE.match(text, end) else ""


_DR_ST_RE = re.compile(r"\b(Dr|St)(\.?)(?=\s|$|[,;:!?)])")
_TITLE_RE = re.compile(r"\b(Mrs|Mr|Ms|Prof)\.?(?=\s+[A-Z])")
_TITLES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor"}
_SUFFIX_ABBR = {
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
_SUFFIX_ABBR_RE = re.compile(r"(?<=[A-Za-z0-9,] )(" + "|".join(_SUFFIX_ABBR) + r")(\.?)(?=\s|$|[,;:!?)])")
# (needle for the cheap pre-check, pattern, words)
_LATIN: list[tuple[str, re.Pattern[str], str]] = [
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
_ETC_RE = re.compile(r"(?<![\w.])etc\.?")
_WEEKDAYS = {
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
_WD = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_WEEKDAY_RANGE_RE = re.compile(rf"\b({_WD})\.?\s?(?:-|\u2013|to)\s?({_WD})\b(\.?)")
_WEEKDAY_DOT_RE = re.compile(rf"\b({_WD})\.(?=\s|,|$)")


def _dr_st_sub(m: re.Match[str]) -> str:
    """Dr./St. before a name is a title (Doctor, Saint); after a street name, a street type."""
    text = m.string
    after_name, after_cap, before_cap = _street_context(text, m.start(), m.end())
    abbr, period = m.group(1), m.group(2)
    street = "Drive" if abbr == "Dr" else "Street"
    title = "Doctor" if abbr == "Dr" else "Saint"
    if after_name or (after_cap and not before_cap):
        return street + _keep_period(text, m.end(), bool(period))
    if before_cap or period:
        return title
    return m.group()


def _suffix_abbr_sub(m: re.Match[str]) -> str:
    return _SUFFIX_ABBR[m.group(1)] + _keep_period(m.string, m.end(), bool(m.group(2)))


def _etc_sub(m: re.Match[str]) -> str:
    had_period = m.group().endswith(".")
    return "et cetera" + _keep_period(m.string, m.end(), had_period)


def _weekday_range_sub(m: re.Match[str]) -> str:
    words = f"{_WEEKDAYS[m.group(1)]} to {_WEEKDAYS[m.group(2)]}"
    return words + _keep_period(m.string, m.end(), bool(m.group(3)))


def _weekday_dot_sub(m: re.Match[str]) -> str:
    return _WEEKDAYS[m.group(1)] + _keep_period(m.string, m.end(), True)


# ---------------------------------------------------------------------------------------------
# English: dates and times
# ---------------------------------------------------------------------------------------------

_MONTHS = (
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
_MONTH_ALIASES = {m: i + 1 for i, m in enumerate(_MONTHS)}
_MONTH_ALIASES.update({m[:3]: i + 1 for i, m in enumerate(_MONTHS)})
_MONTH_ALIASES["Sept"] = 9
# Full names, or a three-letter abbreviation with an optional period ("Jan. 5").
_MONTH_PAT = "|".join(_MONTHS) + "|(?:Sept|" + "|".join(m[:3] for m in _MONTHS) + r")\b\.?"
_AMPM = r"(?:[AaPp]\.?\s?[Mm]\b\.?)"
_NOT_CLOCK_AFTER = r"(?!\s*(?:%|°|:\d|[AaPp]\.?\s?[Mm]\b))"

_ISO_DATE_RE = re.compile(
    r"(?=\d)(?<![\w-])(?P<y>\d{4})-(?P<mo>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])"
)
_SLASH_DATE_RE = re.compile(r"(?=\d)(?<![\w/.])(\d{1,2})/(\d{1,2})/(\d{4})(?![\w/]|\.\d)")
_MONTH_DAY_RE = re.compile(
    rf"\b(?P<mon>{_MONTH_PAT})\s+(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
    rf"{_NOT_CLOCK_AFTER}(?:,?\s+(?P<y>\d{{4}})\b)?"
)
_DAY_MONTH_RE = re.compile(
    rf"(?<![\w.,])(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_MONTH_PAT})"
    r"(?:,?\s+(?P<y>\d{4})\b)?"
)
_MONTH_YEAR_RE = re.compile(rf"\b(?P<mon>{'|'.join(_MONTHS)})\s+(?P<y>\d{{4}})\b(?![.,]\d)")

_TIME_PART = (
    r"(?P<h{n}>\d{{1,2}})(?:(?P<sep{n}>[:.])(?P<m{n}>\d{{2}})(?::(?P<s{n}>\d{{2}}))?)?"
    r"(?:\s?(?P<ap{n}>{ampm}))?"
)
_TIME_RE = re.compile(
    r"(?=\d)(?<![\w:.,/-])"
    + _TIME_PART.format(n=1, ampm=_AMPM)
    + r"(?:\s*(?:-|\u2013|to|until|till)\s*"
    + _TIME_PART.format(n=2, ampm=_AMPM)
    + r")?(?![\w:]|[.,]\d)"
)
_NOON_AFTER_RE = re.compile(r"\s+(?:noon|midnight)\b", re.IGNORECASE)

# "01:30:00" or "05:00" is a duration, not a clock time, only next to words like these.
_HMS_CONTEXT_RE = re.compile(r"(?=\d)(?<![\w:.])\d{1,2}:\d{2}(?::\d{2})?(?![\w:]|[.,]\d)")
_HMS_BEFORE_RE = re.compile(
    r"\b(?P<pre>timer|duration|remaining|elapsed|runtime|run time|for)\s*(?:is|of|:)?\s+$",
    re.IGNORECASE,
)
_HMS_AFTER_RE = re.compile(r"\s+(?:left|remaining|elapsed|to go)\b", re.IGNORECASE)
_DURATION_RE = re.compile(
    r"(?=\d)(?<![\w.])(?:(?P<h>\d{1,4})\s?(?:h|hr|hrs)\s?(?P<m>\d{1,4})\s?(?:m|min|mins)"
    r"(?:\s?(?P<s>\d{1,4})\s?(?:s|sec|secs))?"
    r"|(?P<m2>\d{1,4})\s?(?:m|min|mins)\s?(?P<s2>\d{1,4})\s?(?:s|sec|secs))(?![\w])"
)


def _say_date(y: int | None, mo: int, d: int, british: bool) -> str:
    month = _MONTHS[mo - 1]
    words = f"the {_ordinal(d, True)} of {month}" if british else f"{month} {_ordinal(d)}"
    if y is not None:
        words += f", {_year(y, british)}"
    return words


def _iso_date_sub(m: re.Match[str], british: bool) -> str:
    words = _say_date(int(m.group("y")), int(m.group("mo")), int(m.group("d")), british)
    if t := m.group("time"):
        parts = [int(p) for p in t.split(":")]
        words += " at " + _say_clock(parts[0], parts[1], parts[2] if len(parts) > 2 else 0, None)
    return words


def _slash_date_sub(m: re.Match[str], british: bool) -> str:
    a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    mo, d = (b, a) if british or a > 12 else (a, b)
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group()
    return _say_date(y, mo, d, british)


def _month_year_sub(m: re.Match[str], british: bool) -> str:
    return f"{m.group('mon')} {_year(int(m.group('y')), british)}"


def _month_day_sub(m: re.Match[str], british: bool) -> str:
    """ "March 4" -> "March fourth" (UK: "March the fourth"); "4 March" -> "the fourth of March"."""
    month = _MONTHS[_MONTH_ALIASES[m.group("mon").rstrip(".")] - 1]
    d = _ordinal(int(m.group("d")), british)
    if m.re is _MONTH_DAY_RE:
        words = f"{month} the {d}" if british else f"{month} {d}"
    else:
        the = "" if _before(m).endswith(("the ", "The ")) else "the "
        words = f"{the}{d} of {month}"
    if m.group("y"):
        words += f", {_year(int(m.group('y')), british)}"
    return words


def _say_minutes(m: int) -> str:
    return f"oh {_DIGIT_WORDS[m]}" if m < 10 else _cardinal(m)


def _say_clock(h: int, m: int, s: int, ampm: str | None, noon_word_follows: bool = False) -> str:
    """Clock reading: 12-hour with AM/PM, otherwise the way a 24-hour time is said."""
    if ampm is not None:
        if h == 12 and m == 0 and s == 0 and not noon_word_follows:
            return "noon" if ampm == "PM" else "midnight"
        words = _cardinal(h)
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
        words = f"{_cardinal(h)} o'clock" if h <= 12 else f"{_cardinal(h)} hundred"
    else:
        words = f"{_cardinal(h)} {_say_minutes(m)}"
    if s:
        words += f" and {_cardinal(s)} second{'s' if s != 1 else ''}"
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


def _time_sub(m: re.Match[str]) -> str:
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
        spoken[0] = _cardinal(first.h)
        if first.m:
            spoken[0] += " " + _say_minutes(first.m)
    words = " to ".join(spoken)
    return words + _keep_period(m.string, m.end(), parts[-1].ampm_text.endswith("."))


def _say_duration(h: int, m: int, s: int) -> str:
    items = []
    for value, unit in ((h, "hour"), (m, "minute"), (s, "second")):
        if value:
            items.append(f"{_cardinal(value)} {unit}{'' if value == 1 else 's'}")
    if not items:
        return "zero seconds"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _hms_context_sub(m: re.Match[str]) -> str:
    before = _HMS_BEFORE_RE.search(_before(m))
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


def _duration_sub(m: re.Match[str]) -> str:
    if m.group("h") is not None:
        return _say_duration(int(m.group("h")), int(m.group("m")), int(m.group("s") or 0))
    return _say_duration(0, int(m.group("m2")), int(m.group("s2")))


# ---------------------------------------------------------------------------------------------
# English: identifiers, phone numbers, versions
# ---------------------------------------------------------------------------------------------

_PHONE_INTL_RE = re.compile(
    r"(?=[+0])(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .\-/]?\(?\d{1,6}\)?){2,6}(?![\w]|[.,]\d)"
)
_PHONE_US_RE = re.compile(r"(?=[(\d])(?<![\w+])(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-.]\d{4}(?![\w]|[.,]\d)")
_PHONE_LOCAL_RE = re.compile(r"(?=0)(?<![\w+.,])0\d{1,5}(?:[ /-]\d{2,}){1,4}(?![\w]|[.,]\d)")
# Digits after these words are an identifier: every digit is read, zeros included.
_KEYWORD_DIGITS_RE = re.compile(r"(?=\d)(?<![\w.,:])\d{2,}(?:[ -]\d+)*(?![\w]|[.,]\d)")
_KEYWORD_BEFORE_RE = re.compile(
    r"\b(?:(?:zip|postal|post)\s?code|zip|postcode|PIN|passcode|code|ID|serial(?:\s+number)?"
    r"|account(?:\s+number)?|phone(?:\s+number)?|tel\.?|ext\.?|extension"
    r"|(?:order|confirmation|tracking|reference)\s+number)"
    r"\s*(?:number|no\.?|#)?\s*(?:is|:)?\s*$|\b(?P<call>call|dial)\s+$",
    re.IGNORECASE,
)
_LEADING_ZERO_RE = re.compile(r"(?=0)(?<![\w.,:])0\d+(?![\w]|[.,]\d)")
_LONG_DIGITS_RE = re.compile(r"(?=\d)(?<![\w.,:])\d{10,}(?![\w]|[.,]\d)")
_IPV4_RE = re.compile(r"(?=\d)(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
_VERSION_RE = re.compile(
    r"(?=[vV\d])(?<![\w.])(?:[vV](?P<n1>\d+(?:\.\d+)*)|(?P<n2>\d+(?:\.\d+)+))(?![\w]|\.\d)"
)
_VERSION_WORD_BEFORE_RE = re.compile(r"\b(?:version|firmware|release|build)\s+$", re.IGNORECASE)


def _phone_sub(m: re.Match[str]) -> str:
    text = m.group()
    groups = re.findall(r"\d+", text)
    if not 6 <= sum(len(g) for g in groups) <= 15:
        return text
    prefix = "plus " if text.startswith("+") else ""
    return prefix + ", ".join(_digits(g) for g in groups)


def _keyword_digits_sub(m: re.Match[str]) -> str:
    keyword = _KEYWORD_BEFORE_RE.search(_before(m))
    groups = re.findall(r"\d+", m.group())
    if keyword is None or (keyword.group("call") and sum(map(len, groups)) < 3):
        return m.group()
    return ", ".join(_digits(g) for g in groups)


def _ipv4_sub(m: re.Match[str]) -> str:
    if any(int(g) > 255 for g in m.groups()):
        return m.group()
    return " dot ".join(_digits(g) for g in m.groups())


def _version_components(v: str) -> str:
    parts = []
    for comp in v.split("."):
        parts.append(_digits(comp) if len(comp) > 1 and comp[0] == "0" else _int_words(comp, False))
    return " point ".join(parts)


def _version_sub(m: re.Match[str]) -> str:
    """ "v2.1.3", "1.2.3" and "version 1.10": each part is a whole number ("one point ten")."""
    said = _VERSION_WORD_BEFORE_RE.search(_before(m)) is not None
    if m.group("n1") is not None:
        return ("" if said else "version ") + _version_components(m.group("n1"))
    if m.group("n2").count(".") == 1 and not said:
        return m.group()  # a plain decimal
    return _version_components(m.group("n2"))


# ---------------------------------------------------------------------------------------------
# English: currency and units
# ---------------------------------------------------------------------------------------------


class _Currency(NamedTuple):
    one: str
    many: str
    minor_one: str | None
    minor_many: str | None


_DOLLAR = _Currency("dollar", "dollars", "cent", "cents")
_EURO = _Currency("euro", "euros", "cent", "cents")
_POUND = _Currency("pound", "pounds", "penny", "pence")
_YEN = _Currency("yen", "yen", None, None)
_RUPEE = _Currency("rupee", "rupees", "paisa", "paise")
_CURRENCIES = {
    "$": _DOLLAR, "USD": _DOLLAR, "€": _EURO, "EUR": _EURO, "£": _POUND, "GBP": _POUND,
    "¥": _YEN, "JPY": _YEN, "₹": _RUPEE, "INR": _RUPEE,
    "CHF": _Currency("Swiss franc", "Swiss francs", "centime", "centimes"),
    "CAD": _Currency("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": _Currency("Australian dollar", "Australian dollars", "cent", "cents"),
    "CNY": _Currency("yuan", "yuan", None, None),
}  # fmt: skip
_MAGNITUDES = {
    "k": "thousand", "K": "thousand", "thousand": "thousand",
    "m": "million", "M": "million", "mn": "million", "million": "million",
    "b": "billion", "B": "billion", "bn": "billion", "billion": "billion",
    "trillion": "trillion",
}  # fmt: skip
_MINOR_UNITS = {"p": "£", "ct": "€", "c": "$"}


class _Unit(NamedTuple):
    one: str
    many: str


def _unit_table(spec: str) -> dict[str, _Unit]:
    """Parse "symbol, symbol | singular | plural" lines; the plural defaults to singular + s."""
    table = {}
    for line in spec.strip().splitlines():
        keys, _, names = line.partition("|")
        one, _, many = (n.strip() for n in names.partition("|"))
        for key in keys.split(","):
            table[key.strip()] = _Unit(one, many or one + "s")
    return table


# Written unit -> spoken unit. Single letters (A, V, W, m, g, l, s, h) count only right after a
# number, so "A" (the article) and "m" ("I'm") elsewhere are never touched.
_UNITS = _unit_table(
    """
°C, °c              | degree Celsius | degrees Celsius
°F                  | degree Fahrenheit | degrees Fahrenheit
°                   | degree
%RH, % RH           | percent relative humidity | percent relative humidity
%                   | percent | percent
‰                   | per mille | per mille
kWh, KWh, kwh, KWH  | kilowatt hour
MWh                 | megawatt hour
GWh                 | gigawatt hour
Wh                  | watt hour
kW, KW              | kilowatt
MW                  | megawatt
GW                  | gigawatt
mW                  | milliwatt
W                   | watt
kVA                 | kilovolt amp
VA                  | volt amp
kV                  | kilovolt
mV                  | millivolt
V                   | volt
mAh                 | milliamp hour
Ah                  | amp hour
mA                  | milliamp
A                   | amp
kΩ                  | kilohm
Ω                   | ohm
km/h, kph           | kilometer per hour | kilometers per hour
mph                 | mile per hour | miles per hour
m/s                 | meter per second | meters per second
kn                  | knot
mm                  | millimeter
cm                  | centimeter
km                  | kilometer
μm                  | micrometer
nm                  | nanometer
m                   | meter
mi                  | mile
ft                  | foot | feet
yd                  | yard
m2                  | square meter
km2                 | square kilometer
cm2                 | square centimeter
sq ft, ft2          | square foot | square feet
m3                  | cubic meter
cm3                 | cubic centimeter
kg                  | kilogram
mg                  | milligram
μg, ug              | microgram
g                   | gram
lbs, lb             | pound
oz                  | ounce
fl oz               | fluid ounce
ml, mL              | milliliter
cl                  | centiliter
dl, dL              | deciliter
L, l                | liter
gal                 | gallon
cups, cup           | cup
tbsp, Tbsp          | tablespoon
tsp                 | teaspoon
ppm                 | part per million | parts per million
ppb                 | part per billion | parts per billion
hPa                 | hectopascal
kPa                 | kilopascal
Pa                  | pascal
mbar                | millibar
inHg                | inch of mercury | inches of mercury
mmHg                | millimeter of mercury | millimeters of mercury
psi                 | P-S-I | P-S-I
dB                  | decibel
dBA                 | decibel A | decibels A
TB                  | terabyte
GB                  | gigabyte
MB                  | megabyte
KB, kB              | kilobyte
TiB                 | tebibyte
GiB                 | gibibyte
MiB                 | mebibyte
Gbps, Gbit/s        | gigabit per second | gigabits per second
Mbps, Mbit/s        | megabit per second | megabits per second
kbps                | kilobit per second | kilobits per second
GHz                 | gigahertz | gigahertz
MHz                 | megahertz | megahertz
kHz                 | kilohertz | kilohertz
Hz                  | hertz | hertz
lx, lux             | lux | lux
lm                  | lumen
rpm                 | RPM | RPM
bpm                 | beat per minute | beats per minute
kcal                | kilocalorie
cal                 | calorie
kJ                  | kilojoule
ms                  | millisecond
s, sec, secs        | second
min, mins           | minute
h, hr, hrs          | hour
"""
)
# What may follow a slash after a unit or a price: "km/h", "€/kWh", "L/min", "µg/m³".
_PER_UNITS = {
    key: unit.one
    for key, unit in _unit_table(
        """
h, hr, hour         | hour
min                 | minute
s, sec              | second
d, day              | day
wk, week            | week
mo, month           | month
yr, year            | year
night               | night
person              | person
m2                  | square meter
m3                  | cubic meter
m                   | meter
km                  | kilometer
100km, 100 km       | hundred kilometers
mi                  | mile
kWh, kwh, KWh       | kilowatt hour
MWh                 | megawatt hour
Wh                  | watt hour
kW                  | kilowatt
kg                  | kilogram
g                   | gram
lb                  | pound
L, l                | liter
dL, dl              | deciliter
gal                 | gallon
therm               | therm
"""
    ).items()
}


def _alternation(keys: list[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


_UNIT_ALT = _alternation(list(_UNITS))
_PER_ALT = _alternation(list(_PER_UNITS))
_PER = rf"(?:\s?/\s?(?P<per>{_PER_ALT})(?![\w/]))"
_MAG = r"(?:\s?(?P<mag>thousand|million|billion|trillion|mn|bn|[kKmMbB])(?![\w]))"

_CUR_SYMBOLS = "$€£¥₹"
_CUR_CODES = "USD|EUR|GBP|JPY|INR|CHF|CAD|AUD|CNY"
_CURRENCY_PREFIX_RE = re.compile(
    rf"(?=[-{_CUR_SYMBOLS}A-Z])(?:(?<![\w)\]}}.,])(?P<s1>-)|(?<![\w.,]))"
    rf"(?P<cur>[{_CUR_SYMBOLS}]|\b(?:{_CUR_CODES})\s?)(?P<s2>-)?(?P<a>{_NUM})(?![.,]\d){_MAG}?(?!\w){_PER}?"
)
_CURRENCY_SUFFIX_RE = re.compile(
    rf"(?=[-+\d])(?:(?<![\w)\]}}.,%°])(?P<s1>[-+])|{_LB})(?P<a>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:[.,]\d+)?)"
    rf"\s?(?P<cur>[{_CUR_SYMBOLS}]|(?:{_CUR_CODES})\b)(?!\w){_PER}?"
)
_MINOR_PRICE_RE = re.compile(
    rf"(?=[\d.]){_LB}(?P<a>\d+(?:\.\d+)?)\s?(?P<minor>p|ct|c)\s?/\s?(?P<per>{_PER_ALT})(?![\w/])"
)

_NUM_EXPR = (
    r"(?=[-+.\d])(?:(?<![\w)\]}.,%°/])(?P<sa>[-+])|(?<![\w.,/]))"
    rf"(?:(?:(?P<fw>\d+)\s)?(?P<fn>\d{{1,2}})/(?P<fd>\d{{1,3}})|(?P<a>{_NUM}))"
    rf"(?:(?:-|\s?\u2013\s?|\s(?:to|and)\s)(?P<sb>-)?(?P<b>{_NUM}))?"
)
_UNIT_RE = re.compile(rf"{_NUM_EXPR}\s?(?P<unit>{_UNIT_ALT}){_PER}?(?![\w°/]|[.-]\w)")
_KELVIN_RE = re.compile(rf"(?=\d){_LB}(?P<a>\d{{3,5}})\s?K(?![\w])")
_DIMENSION_RE = re.compile(
    rf"(?=[\d.]){_LB}(?P<a>{_NUM})(?:\s?[x×]\s?(?={_NUM}\s?(?:{_UNIT_ALT})(?![\w]))|x(?=\d+(?![\w]|[.,]\d)))"
)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" or word.startswith("hour") else "a"


def _british_spelling(words: str) -> str:
    return words.replace("meter", "metre").replace("liter", "litre")


def _money(amount: str, cur: _Currency, mag: str | None, british: bool) -> str:
    if mag:
        return f"{_number(amount, british)} {_MAGNITUDES[mag]} {cur.many}"
    amount = amount.replace(",", "")
    whole, _, frac = amount.partition(".")
    if frac and len(frac) == 2 and cur.minor_one is not None and cur.minor_many is not None:
        whole = whole.lstrip("0")
        minor = int(frac)
        parts = []
        if whole or not minor:
            name = cur.one if whole == "1" else cur.many
            parts.append(f"{_int_words(whole or '0', british)} {name}")
        if minor:
            minor_word = cur.minor_one if minor == 1 else cur.minor_many
            parts.append(f"{_cardinal(minor, british)} {minor_word}")
        return " and ".join(parts)
    unit = cur.one if _is_one(amount) else cur.many
    return f"{_number(amount, british)} {unit}"


def _per_words(per: str | None, british: bool) -> str:
    if not per:
        return ""
    words = " per " + _PER_UNITS[per]
    return _british_spelling(words) if british else words


def _currency_prefix_sub(m: re.Match[str], british: bool) -> str:
    code = m.group("cur").strip()
    cur = _CURRENCIES[code]
    words = _money(m.group("a"), cur, m.group("mag"), british)
    if m.group("s1") == "-" or m.group("s2"):
        words = "minus " + words
    return words + _per_words(m.group("per"), british)


def _currency_suffix_sub(m: re.Match[str], british: bool) -> str:
    amount = m.group("a")
    if "," in amount and re.fullmatch(r"\d+,\d{2}", amount):
        amount = amount.replace(",", ".")  # "5,50 €": a decimal comma before a euro sign
    elif re.search(r",\d{1,2}$|,\d{4,}", amount):
        return m.group()
    words = _money(amount, _CURRENCIES[m.group("cur")], None, british)
    if m.group("s1") == "-":
        words = "minus " + words
    return words + _per_words(m.group("per"), british)


def _minor_price_sub(m: re.Match[str], british: bool) -> str:
    cur = _CURRENCIES[_MINOR_UNITS[m.group("minor")]]
    amount = m.group("a")
    unit = cur.minor_one if _is_one(amount) else cur.minor_many
    return f"{_number(amount, british)} {unit}{_per_words(m.group('per'), british)}"


def _fraction_words(num: int, den: int, british: bool, with_whole: bool) -> str | None:
    """'3/4' -> 'three quarters'; None where the slash is not a plain fraction."""
    if den < 2 or num < 1 or num >= den or den > 100:
        return None
    if den == 2:
        name = "half" if num == 1 else "halves"
    elif den == 4:
        name = "quarter" if num == 1 else "quarters"
    else:
        name = _ordinal(den, british) + ("" if num == 1 else "s")
    if num == 1:
        return f"a {name}" if with_whole else f"one {name}"
    return f"{_cardinal(num, british)} {name}"


def _unit_sub(m: re.Match[str], british: bool) -> str:
    unit = _UNITS[m.group("unit")]
    sign = "minus " if m.group("sa") == "-" else ("plus " if m.group("sa") == "+" else "")
    per = _per_words(m.group("per"), british)
    if m.group("fn") is not None:
        if m.group("b") is not None:
            return m.group()
        num, den = int(m.group("fn")), int(m.group("fd"))
        whole = m.group("fw")
        frac = _fraction_words(num, den, british, whole is not None)
        if frac is None:
            return m.group()
        if whole is not None:
            words = f"{_int_words(whole, british)} and {frac} {unit.many}"
        else:
            words = f"{frac} of {_article(unit.one)} {unit.one}"
    else:
        a, b = m.group("a"), m.group("b")
        if b is not None:
            b_sign = "minus " if m.group("sb") else ""
            joiner = " and " if " and " in m.group() else " to "
            words = (
                f"{_number(a, british)}{joiner}{b_sign}{_number(b, british)} "
                f"{unit.one if _is_one(b) and not b_sign else unit.many}"
            )
        else:
            words = f"{_number(a, british)} {unit.one if _is_one(a) else unit.many}"
    words = sign + words + per
    return _british_spelling(words) if british else words


def _kelvin_sub(m: re.Match[str], british: bool) -> str:
    value = int(m.group("a"))
    if value < 1000:
        return m.group()  # "500K" is more likely five hundred thousand: leave it
    return f"{_cardinal(value, british)} kelvin"


def _dimension_sub(m: re.Match[str], british: bool) -> str:
    return f"{_number(m.group('a'), british)} by "


# ---------------------------------------------------------------------------------------------
# English: remaining number forms
# ---------------------------------------------------------------------------------------------

_DECADE_RE = re.compile(
    r"(?<![\w'])(?:(?P<full>1[1-9]\d0|20\d0)'?s"
    r"|'(?P<short>\d0)'?s"
    r"|(?P<pre>\b(?:the|early|mid|late|their|his|her|your|my|our) )(?P<short2>\d0)'?s)\b"
)
_ORDINAL_RE = re.compile(r"(?=\d)(?<![\w.,])(?P<n>\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th|ST|ND|RD|TH)\b")
_FRACTION_RE = re.compile(r"(?=\d)(?<![\w./])(?:(?P<w>\d+)\s)?(?P<n>\d{1,3})/(?P<d>\d{1,3})(?![\w/]|[.,]\d)")
# A four-digit number is read as a year after words like "in" or "since" (1100-2099), or on
# its own when it lies in 1900-2099; not when a plural noun follows ("in 2000 steps").
_NOT_YEAR_AFTER = (
    r"(?![\w]|[.,]\d|\s?[-\u2013/:]\s?\d"
    r"|\s+(?!(?:was|is|has|this|his|its|as|us|does|thus|plus|s)\b)[a-z]+s\b)"
)
_YEAR_RE = re.compile(
    rf"(?=[12])(?<![\w.,$€£¥₹-])(?P<y>1[1-9]\d\d|20\d\d)(?P<era>\s?(?:AD|BC|BCE|CE)\b)?"
    rf"{_NOT_YEAR_AFTER}"
)
_YEAR_WORD_BEFORE_RE = re.compile(
    r"\b(?:in|since|from|until|till|by|of|before|after|during|circa|year|around|to|and|through"
    r"|between|early|late|mid|summer|winter|spring|autumn|fall|Christmas)\s+$",
    re.IGNORECASE,
)
_YEAR_ERA_RE = re.compile(r"(?=\d)(?<![\w.,])(?P<y>\d{1,4})\s?(?P<era>AD|BC|BCE|CE)\b")
_YEAR_RANGE_RE = re.compile(
    r"(?=[12])(?<![\w.,-])(?P<a>1[1-9]\d\d|20\d\d)\s?(?:-|\u2013|to)\s?(?P<b>1[1-9]\d\d|20\d\d|\d\d)"
    r"(?![\w]|[.,]\d|\s?[-\u2013]\s?\d)"
)
_RANGE_RE = re.compile(
    rf"(?=[-.\d])(?:(?<![\w)\]}}.,%°])(?P<sa>-)|{_LB})(?P<a>{_NUM})(?:-|\s?\u2013\s?)(?P<b>{_NUM}){_RB}"
)
_COMPARE_RE = re.compile(r"(?<![<>=\w])(<=|>=|=<|=>|≤|≥|<|>|~|≈|±)\s?(?=[-+]?\d)")
_COMPARE_WORDS = {
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
_MATH_RE = re.compile(
    r"(?=[\s+=×÷*])(?<=\d)(?:\s*(?P<tight>[+=×÷*])\s*|\s+(?P<spaced>[-*/x])\s+)(?=[-+]?(?:\d|\.\d))"
)
_MATH_WORDS = {
    "+": " plus ",
    "=": " equals ",
    "×": " times ",
    "*": " times ",
    "x": " times ",
    "÷": " divided by ",
    "/": " divided by ",
    "-": " minus ",
}
_TIMES_RE = re.compile(rf"(?=[\d.]){_LB}(?P<a>{_NUM})[x×](?=\s|$|[,.!?;:])")
_HASH_NUMBER_RE = re.compile(r"(?<![\w&#])#\s?(?=\d)")
_SHARP_RE = re.compile(r"\b([A-G])#(?!\w)")
_NUMBER_RE = re.compile(rf"(?=[-+.\d])(?:{_SIGN}|{_LB})(?P<n>{_NUM}){_RB}")
_HAS_DIGIT_RE = re.compile(r"\d")


def _decade_sub(m: re.Match[str], british: bool) -> str:
    if m.group("full"):
        words = _year(int(m.group("full")), british)
    else:
        words = _cardinal(int(m.group("short") or m.group("short2")), british)
    words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return (m.group("pre") or "") + words


def _ordinal_sub(m: re.Match[str], british: bool) -> str:
    n = m.group("n").replace(",", "")
    return m.group() if len(n) > _MAX_CARDINAL_DIGITS else _ordinal(int(n), british)


def _fraction_sub(m: re.Match[str], british: bool) -> str:
    num, den = int(m.group("n")), int(m.group("d"))
    whole = m.group("w")
    if whole is None and (num, den) == (24, 7):
        return "twenty-four seven"
    frac = _fraction_words(num, den, british, whole is not None)
    if frac is None:
        if (num, den) == (50, 50):
            words = "fifty-fifty"
        else:
            word = "out of" if num <= den else "over"
            words = f"{_cardinal(num, british)} {word} {_cardinal(den, british)}"
        return words if whole is None else f"{_int_words(whole, british)} {words}"
    if whole is not None:
        return f"{_int_words(whole, british)} and {frac}"
    return frac


def _year_sub(m: re.Match[str], british: bool) -> str:
    year = int(m.group("y"))
    if year < 1900 and not _YEAR_WORD_BEFORE_RE.search(_before(m)):
        return m.group()
    words = _year(year, british)
    if era := m.group("era"):
        words += " " + {"AD": "A-D", "BC": "B-C", "BCE": "B-C-E", "CE": "C-E"}[era.strip()]
    return words


def _year_era_sub(m: re.Match[str], british: bool) -> str:
    era = {"AD": "A-D", "BC": "B-C", "BCE": "B-C-E", "CE": "C-E"}[m.group("era")]
    return f"{_year(int(m.group('y')), british)} {era}"


def _year_range_sub(m: re.Match[str], british: bool) -> str:
    a, b = m.group("a"), m.group("b")
    if len(b) == 2:
        b = a[:2] + b
    if int(b) <= int(a):
        return m.group()
    return f"{_year(int(a), british)} to {_year(int(b), british)}"


def _range_sub(m: re.Match[str], british: bool) -> str:
    a = ("-" if m.group("sa") else "") + m.group("a")
    return f"{_number(a, british)} to {_number(m.group('b'), british)}"


def _math_sub(m: re.Match[str]) -> str:
    op = m.group("tight") or m.group("spaced")
    return _MATH_WORDS[op]


def _times_sub(m: re.Match[str], british: bool) -> str:
    return _number(m.group("a"), british) + " times"


def _number_sub(m: re.Match[str], british: bool) -> str:
    return _number(m.group(), british)


# ---------------------------------------------------------------------------------------------
# English: leftover symbols
# ---------------------------------------------------------------------------------------------

_ARROW_RE = re.compile(r"\s*(?:->|=>|→|⇒|⟶)\s*")
_PIPE_RE = re.compile(r"\s+\|\s+|\s*[•·]\s+")
_WORD_SLASH_RE = re.compile(r"\b(?!and/or)([a-z]{2,})/([a-z]{2,})\b")
_SPACE_RE = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r" +(?=[,.;:!?\u2026])")
_DOUBLE_COMMA_RE = re.compile(r",\s*,")


# ---------------------------------------------------------------------------------------------
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


_MONTH_NEEDLES = tuple(m[:3] for m in _MONTHS)
_KEYWORD_NEEDLES = (
    "zip", "post", "pin", "code", "id", "serial", "account", "phone", "tel", "ext", "number",
    "call", "dial",
)  # fmt: skip

# Rules that need no digit: web names first (they contain dots, digits and underscores), then
# acronyms and abbreviations, which must see the original capitalisation and periods.
_WORD_STEPS: list[tuple[_Gate, _Rewrite]] = [
    (_has("://", "www."), _sub1(_URL_RE, _url_sub)),
    (_has("@"), _sub1(_EMAIL_RE, _email_sub)),
    (_finds(r"[a-z]\.[a-z0-9_]"), _sub1(_ENTITY_RE, _entity_sub)),
    (_finds(r"\w\.[a-z]"), _sub1(_FILE_RE, _file_sub)),
    (_finds(r"\w\.[a-z]"), _sub1(_DOMAIN_RE, _domain_sub)),
    (_has("_"), _sub1(_SNAKE_RE, " ")),
    (_has(*_ACRONYMS), _sub1(_ACRONYM_RE, lambda m: _ACRONYMS[m.group()])),
    (_has("Dr", "St"), _sub1(_DR_ST_RE, _dr_st_sub)),
    (_has("Mr", "Ms", "Prof"), _sub1(_TITLE_RE, lambda m: _TITLES[m.group(1)])),
    (_has(*_SUFFIX_ABBR), _sub1(_SUFFIX_ABBR_RE, _suffix_abbr_sub)),
    *[(_has(needle), _sub1(pattern, words)) for needle, pattern, words in _LATIN],
    (_has("etc"), _sub1(_ETC_RE, _etc_sub)),
    (_has(*_WEEKDAYS), _sub1(_WEEKDAY_RANGE_RE, _weekday_range_sub)),
    (_has(*_WEEKDAYS), _sub1(_WEEKDAY_DOT_RE, _weekday_dot_sub)),
    (_has("#"), _sub1(_SHARP_RE, r"\1 sharp")),
]

# Rules for text with digits, most specific first: a date must be read before its parts look
# like a range, a time before its parts look like a ratio, a unit before the bare number.
_NUMBER_STEPS: list[tuple[_Gate, _Rewrite]] = [
    (_has(*_COMPARE_WORDS), _sub1(_COMPARE_RE, lambda m: _COMPARE_WORDS[m.group(1)])),
    (_has("-"), _sub(_ISO_DATE_RE, _iso_date_sub)),
    (_has("/"), _sub(_SLASH_DATE_RE, _slash_date_sub)),
    (_has(*_MONTH_NEEDLES), _sub(_MONTH_DAY_RE, _month_day_sub)),
    (_has(*_MONTH_NEEDLES), _sub(_DAY_MONTH_RE, _month_day_sub)),
    (_has(*_MONTH_NEEDLES), _sub(_MONTH_YEAR_RE, _month_year_sub)),
    (_finds(r"\d\s?(?:h|m)"), _sub1(_DURATION_RE, _duration_sub)),
    (_finds(r"\d:\d\d"), _sub1(_HMS_CONTEXT_RE, _hms_context_sub)),
    (_finds(r"\d[:.]\d\d|\d\s?[AaPp]\.?\s?[Mm]"), _sub1(_TIME_RE, _time_sub)),
    (_has("+", "00"), _sub1(_PHONE_INTL_RE, _phone_sub)),
    (_finds(r"\d{3}[-.]\d{4}"), _sub1(_PHONE_US_RE, _phone_sub)),
    (_finds(r"0\d{1,5}[ /-]\d\d"), _sub1(_PHONE_LOCAL_RE, _phone_sub)),
    (_lower_has(*_KEYWORD_NEEDLES), _sub1(_KEYWORD_DIGITS_RE, _keyword_digits_sub)),
    (_finds(r"\d\.\d{1,3}\.\d"), _sub1(_IPV4_RE, _ipv4_sub)),
    (_finds(r"[vV]\d|\d\.\d"), _sub1(_VERSION_RE, _version_sub)),
    (_has("/"), _sub(_MINOR_PRICE_RE, _minor_price_sub)),
    (_has(*_CUR_SYMBOLS, *_CUR_CODES.split("|")), _sub(_CURRENCY_PREFIX_RE, _currency_prefix_sub)),
    (_has(*_CUR_SYMBOLS, *_CUR_CODES.split("|")), _sub(_CURRENCY_SUFFIX_RE, _currency_suffix_sub)),
    (_has("0s", "0's"), _sub(_DECADE_RE, _decade_sub)),
    (_finds(r"\d(?:st|nd|rd|th|ST|ND|RD|TH)"), _sub(_ORDINAL_RE, _ordinal_sub)),
    (_has("K"), _sub(_KELVIN_RE, _kelvin_sub)),
    (_has("x", "×"), _sub(_DIMENSION_RE, _dimension_sub)),
    (_always, _sub(_UNIT_RE, _unit_sub)),
    (_has("AD", "BC", "CE"), _sub(_YEAR_ERA_RE, _year_era_sub)),
    (_finds(r"\d{4}\s?(?:-|\u2013|to)"), _sub(_YEAR_RANGE_RE, _year_range_sub)),
    (_finds(r"\d{4}"), _sub(_YEAR_RE, _year_sub)),
    (_has("/"), _sub(_FRACTION_RE, _fraction_sub)),
    (_has("-", "\u2013"), _sub(_RANGE_RE, _range_sub)),
    (_has(*_MATH_WORDS), _sub1(_MATH_RE, _math_sub)),
    (_has("x", "×"), _sub(_TIMES_RE, _times_sub)),
    (_has("#"), _sub1(_HASH_NUMBER_RE, "number ")),
    (_has("0"), _sub1(_LEADING_ZERO_RE, lambda m: _digits(m.group()))),
    (_finds(r"\d{10}"), _sub1(_LONG_DIGITS_RE, lambda m: _digits(m.group()))),
    (_always, _sub(_NUMBER_RE, _number_sub)),
]

_SYMBOL_STEPS: list[tuple[_Gate, _Rewrite]] = [
    (_has("--", "\u2013", "\u2014"), _sub1(_SPACED_DASH_RE, " \u2014 ")),
    (_has("->", "=>", "→", "⇒", "⟶"), _sub1(_ARROW_RE, " to ")),
    (_has("|", "•", "·"), _sub1(_PIPE_RE, ", ")),
    (_has("/"), _sub1(_WORD_SLASH_RE, r"\1 or \2")),
]


def _run(steps: list[tuple[_Gate, _Rewrite]], text: str, british: bool) -> str:
    for gate, rewrite in steps:
        if gate(text):
            text = rewrite(text, british)
    return text


def _normalize_english(text: str, british: bool) -> str:
    text = _english_chars(text)
    text = _run(_WORD_STEPS, text, british)
    if _HAS_DIGIT_RE.search(text):
        text = _run(_NUMBER_STEPS, text, british)
    return _run(_SYMBOL_STEPS, text, british)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def normalize_text(text: str, language: str = "en-us", *, speak_emoji: bool = False) -> str:
    """Rewrite reply text into plain speakable text for the G2P of ``language``.

    ``language`` is a Kokoro language code. "en-us" and "en-gb" get the full English
    normalisation (numbers, units, times, currency, abbreviations, URLs, entity ids); every
    other language only gets Markdown stripping, emoji removal and quote/space clean-up.
    With ``speak_emoji`` English text says an emoji's Unicode name instead of skipping it
    (other languages always skip emoji, as the names are English).
    """
    lang = language.lower().replace("_", "-")
    english = lang.startswith("en")
    british = english and lang in ("en-gb", "en-uk")
    if english and not text.isascii():
        text = _THIN_THOUSANDS_RE.sub(",", text)
    text = text.translate(_CHAR_TABLE)
    text = _replace_emoji(text, speak_emoji and english)
    text = _strip_markdown_blocks(text)
    text = _strip_markdown_inline(text)
    text = _collapse_marks(text)
    if english:
        text = _normalize_english(text, british)
        text = _DOUBLE_COMMA_RE.sub(",", text)
        text = _SPACE_BEFORE_PUNCT_RE.sub("", _SPACE_RE.sub(" ", text))
    else:  # French puts a space before "!" and "?": keep it
        text = _SPACE_RE.sub(" ", text)
    return text.strip()
