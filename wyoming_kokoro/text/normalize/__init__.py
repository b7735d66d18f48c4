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

from ..pronounce import shield, unshield
from .cleanup import (
    CHAR_TABLE,
    THIN_THOUSANDS_RE,
    collapse_marks,
    replace_emoji,
    strip_markdown_blocks,
    strip_markdown_inline,
)
from .english import normalize_english
from .symbols import DOUBLE_COMMA_RE, SPACE_BEFORE_PUNCT_RE, SPACE_RE

# Public API
# ---------------------------------------------------------------------------------------------


def normalize_text(text: str, language: str = "en-us", *, speak_emoji: bool = False) -> str:
    """Rewrite reply text into plain speakable text for the G2P of ``language``.

    ``language`` is a Kokoro language code. "en-us" and "en-gb" get the full English
    normalisation (numbers, units, times, currency, abbreviations, URLs, entity ids); every
    other language only gets Markdown stripping, emoji removal and quote/space clean-up.
    With ``speak_emoji`` English text says an emoji's Unicode name instead of skipping it
    (other languages always skip emoji, as the names are English). Pronunciation markup,
    ``[word](/phonemes/)``, is kept as it is (``text/pronounce.py``).
    """
    text, markups = shield(text)
    lang = language.lower().replace("_", "-")
    english = lang.startswith("en")
    british = english and lang in ("en-gb", "en-uk")
    if english and not text.isascii():
        text = THIN_THOUSANDS_RE.sub(",", text)
    text = text.translate(CHAR_TABLE)
    text = replace_emoji(text, speak_emoji and english)
    text = strip_markdown_blocks(text)
    text = strip_markdown_inline(text)
    text = collapse_marks(text)
    if english:
        text = normalize_english(text, british)
        text = DOUBLE_COMMA_RE.sub(",", text)
        text = SPACE_BEFORE_PUNCT_RE.sub("", SPACE_RE.sub(" ", text))
    else:  # French puts a space before "!" and "?": keep it
        text = SPACE_RE.sub(" ", text)
    return unshield(text.strip(), markups)
