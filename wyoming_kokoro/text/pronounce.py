"""Pronunciations given by the user: in the config (``pronunciations:``), or inline in the text.

The inline form is misaki's: ``[Kokoro](/kˈOkəɹO/)`` says the bracketed text with the phonemes
between the slashes (Kokoro's phoneme set). A config entry maps a word or phrase either to phonemes
(``/…/``, put into the text as that markup) or to a respelling in plain letters (put in its place,
then normalized and phonemized as any text, in every language).

Case: an entry written all in lower case matches the word in any case ("kokoro" matches "Kokoro"
and "KOKORO"); an entry with a capital letter matches only as written ("US" but not "us"). Entries
match whole words, the longest first.

The normalizer keeps the markup intact (``shield``/``unshield``), and the front end phonemizes the
text around it and puts the given phonemes in between (``split_markup``), so the markup works in
every language, not only where misaki's own parser runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: ``[text](/phonemes/)``: what is written, and how it is said.
PHONEME_MARKUP = re.compile(r"\[([^\[\]\n]{1,300})\]\(/([^/()\[\]\n]{1,300})/\)")
#: Stand-ins for markup while the text is normalized: private-use characters no rule touches.
_SHIELD = 0xF0000


def is_phonemes(value: str) -> bool:
    """Whether a pronunciation is phonemes (``/…/``) rather than a respelling."""
    return len(value) > 2 and value.startswith("/") and value.endswith("/")


def pronunciation_problem(word: str, value: str, vocab: Iterable[str]) -> str | None:
    """What is wrong with one entry, or None: an empty word or value, phonemes with symbols the
    model has no token for, or a respelling with markup characters in it."""
    if not word.strip():
        return "the word is empty"
    if not value.strip() or value.strip() == "//":
        return f"{word!r} has no pronunciation"
    if is_phonemes(value):
        known = set(vocab) | {" "}
        unknown = sorted({symbol for symbol in value[1:-1] if symbol not in known})
        if unknown:
            return f"{word!r}: {value} has symbols outside the model's phoneme set: {' '.join(unknown)}"
        return None
    if any(ch in value for ch in "[]()/"):
        return f"{word!r}: a respelling is plain text; write phonemes as /…/"
    return None


class Pronunciations:
    """The configured entries, applied to text before it is normalized."""

    def __init__(self, entries: Mapping[str, str] | None = None) -> None:
        self._entries: dict[str, str] = {}
        alternatives = []
        for word in sorted(entries or {}, key=len, reverse=True):
            value = (entries or {})[word].strip()
            key = word.strip()
            key = " ".join(key.split())
            self._entries[key.lower() if key.islower() else key] = value
            escaped = re.escape(key).replace(r"\ ", r"\s+")
            alternatives.append(f"(?i:{escaped})" if key.islower() else escaped)
        self._pattern = re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)") if alternatives else None

    def apply(self, text: str) -> str:
        """*text* with each entry's word said as configured (markup already in the text is kept)."""
        if self._pattern is None:
            return text
        pattern = self._pattern
        parts, last = [], 0
        for markup in PHONEME_MARKUP.finditer(text):  # text the user marked is not touched again
            parts.append(pattern.sub(self._replace, text[last : markup.start()]) + markup.group())
            last = markup.end()
        return "".join(parts) + pattern.sub(self._replace, text[last:])

    def _replace(self, match: re.Match[str]) -> str:
        written = match.group()
        spaced = " ".join(written.split())  # a phrase matches across any run of spaces
        value = self._entries.get(spaced) or self._entries[spaced.lower()]
        return f"[{written}]({value})" if is_phonemes(value) else value


def shield(text: str) -> tuple[str, list[str]]:
    """*text* with each phoneme markup replaced by a stand-in character, and the markups."""
    markups: list[str] = []

    def stand_in(match: re.Match[str]) -> str:
        markups.append(match.group())
        return chr(_SHIELD + len(markups) - 1)

    return PHONEME_MARKUP.sub(stand_in, text), markups


def unshield(text: str, markups: list[str]) -> str:
    """The markups back in place of their stand-ins."""
    for index, markup in enumerate(markups):
        text = text.replace(chr(_SHIELD + index), markup)
    return text


def split_markup(text: str) -> list[tuple[str, str | None]]:
    """*text* as (plain text, None) and (marked text, its phonemes) in order."""
    parts: list[tuple[str, str | None]] = []
    last = 0
    for match in PHONEME_MARKUP.finditer(text):
        if match.start() > last:
            parts.append((text[last : match.start()], None))
        parts.append((match.group(1), match.group(2).strip()))
        last = match.end()
    if last < len(text):
        parts.append((text[last:], None))
    return parts
