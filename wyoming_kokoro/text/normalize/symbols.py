"""English: character-level rewrites (fractions, symbols, ellipses) and leftover symbols."""

from __future__ import annotations

import re
import unicodedata

# ---------------------------------------------------------------------------------------------
# English: character level
# ---------------------------------------------------------------------------------------------

_VULGAR_RE = re.compile(r"(\d?)([\u00bc-\u00be\u2150-\u215e])")
_ORDINAL_INDICATOR_RE = re.compile(r"(?<=\d)\s?\u00ba")  # "21ºC": º (ordinal o) used as degree
_ELLIPSIS_RE = re.compile(r"\.{3,}")
SPACED_DASH_RE = re.compile(r"\s+(?:--|\u2013|\u2014)\s+|(?<=\w)--(?=\w)")
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


def english_chars(text: str) -> str:
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
# English: leftover symbols
# ---------------------------------------------------------------------------------------------

ARROW_RE = re.compile(r"\s*(?:->|=>|→|⇒|⟶)\s*")
PIPE_RE = re.compile(r"\s+\|\s+|\s*[•·]\s+")
WORD_SLASH_RE = re.compile(r"\b(?!and/or)([a-z]{2,})/([a-z]{2,})\b")
SPACE_RE = re.compile(r"[ \t]+")
SPACE_BEFORE_PUNCT_RE = re.compile(r" +(?=[,.;:!?\u2026])")
DOUBLE_COMMA_RE = re.compile(r",\s*,")


# ---------------------------------------------------------------------------------------------
