"""Word tables held packed: a dict's lookups in a fraction of its memory.

Why: the G2Ps keep their dictionaries as Python dicts, and each entry costs a string object for
the word, one for its value and a dict slot. misaki's English lexicons (gold and silver, American
and British, each grown with the capitalized and lower-case forms of its words) are about 730,000
entries, jieba's word frequencies (with every prefix of every word) about 500,000. The G2Ps only
look words up (``in``, ``[]``, ``get``), a few times per word, so the words are kept sorted in
one string and found by binary search, and their values beside them.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

#: A lexicon's entry: phonemes, or a heteronym's phonemes by part of speech.
Entry = str | dict[str, Any]


class _Packed:
    """Strings packed in one string, the ith found through the end offsets (a sequence for
    ``bisect``)."""

    def __init__(self, items: Iterable[str]) -> None:
        parts: list[str] = []
        ends = array("I")
        end = 0
        for item in items:
            parts.append(item)
            end += len(item)
            ends.append(end)
        self._text = "".join(parts)
        self._ends = ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        start = self._ends[index - 1] if index > 0 else 0
        return self._text[start : self._ends[index]]


class PackedWords:
    """Sorted words, each found by binary search: its index, or -1."""

    def __init__(self, words: list[str]) -> None:
        self._words = _Packed(sorted(words))

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return (self._words[i] for i in range(len(self._words)))

    def index(self, word: object) -> int:
        if not isinstance(word, str):
            return -1
        index = bisect.bisect_left(self._words, word)
        return index if index < len(self._words) and self._words[index] == word else -1


class PackedLexicon(Mapping[str, Entry]):
    """A read-only word → phonemes table (misaki's lexicon). Heteronyms (a dict of phonemes per
    part of speech, a few hundred) stay as they are."""

    def __init__(self, table: Mapping[str, Entry]) -> None:
        self._words = PackedWords(list(table))
        self._phonemes = _Packed(e if isinstance(e, str) else "" for e in map(table.__getitem__, self._words))
        self._heteronyms = {word: entry for word, entry in table.items() if not isinstance(entry, str)}

    def __getitem__(self, word: str) -> Entry:
        heteronym = self._heteronyms.get(word)
        if heteronym is not None:
            return heteronym
        index = self._words.index(word)
        if index < 0:
            raise KeyError(word)
        return self._phonemes[index]

    def __contains__(self, word: object) -> bool:
        return self._words.index(word) >= 0

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)


class PackedCounts(Mapping[str, int]):
    """A read-only word → count table (jieba's word frequencies)."""

    def __init__(self, table: Mapping[str, int]) -> None:
        self._words = PackedWords(list(table))
        self._counts = array("q", map(table.__getitem__, self._words))

    def __getitem__(self, word: str) -> int:
        index = self._words.index(word)
        if index < 0:
            raise KeyError(word)
        return self._counts[index]

    def __contains__(self, word: object) -> bool:
        return self._words.index(word) >= 0

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)


def pack_lexicon(lexicon: Any) -> None:
    """Replace a misaki ``en.Lexicon``'s gold and silver dicts by packed tables, in place."""
    lexicon.golds = PackedLexicon(lexicon.golds)
    lexicon.silvers = PackedLexicon(lexicon.silvers)
