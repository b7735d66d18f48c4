"""Language-independent clean-up: characters and spaces, emoji, Markdown, runs of punctuation."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

import regex

# ---------------------------------------------------------------------------------------------
# Language-independent character clean-up
# ---------------------------------------------------------------------------------------------

# "1 000 000" with a thin or no-break space: a thousands separator, unlike a plain space.
THIN_THOUSANDS_RE = re.compile("(?<=\\d)[\u00a0\u202f\u2009](?=\\d{3}(?!\\d))")
_SPACES = "\u00a0\u202f\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u205f\u3000\t"
CHAR_TABLE = str.maketrans(
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


# Every emoji code point lies in one of these blocks; a plain `re` search for them is far
# cheaper than the Unicode-property pattern above, so most replies skip it.
_EMOJI_CANDIDATE_RE = re.compile("[\u203c-\u3299\U0001f000-\U0001faff\U000e0020-\U000e007f]")


def replace_emoji(text: str, speak: bool) -> str:
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


def strip_markdown_blocks(text: str) -> str:
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


def strip_markdown_inline(text: str) -> str:
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


def collapse_marks(text: str) -> str:
    return _MARK_RUN_RE.sub(_collapse_mark, text)
