"""misaki's English lexicons held packed: the same lookups in a fraction of the memory.

Why: misaki keeps each lexicon (gold and silver, American and British, each grown with the
capitalized and lower-case forms of its words) as a Python dict, about 730,000 entries for both
Englishes, and every entry costs two string objects and a dict slot, some 110 MB in all. The
G2P only looks words up (``in``, ``[]``, ``get``), a few times per word, so the words are kept
sorted in one string and found by binary search; the phonemes beside them in another.
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


class PackedLexicon(Mapping[str, Entry]):
    """A read-only word → entry table with a dict's lookups, packed (see the module docstring).
    Heteronyms (a dict of phonemes per part of speech, a few hundred) stay as they are."""

    def __init__(self, table: Mapping[str, Entry]) -> None:
        words = sorted(table)
        self._words = _Packed(words)
        self._phonemes = _Packed(v if isinstance(v, str) else "" for v in map(table.__getitem__, words))
        self._heteronyms = {word: entry for word, entry in table.items() if not isinstance(entry, str)}

    def _index(self, word: object) -> int:
        if not isinstance(word, str):
            return -1
        index = bisect.bisect_left(self._words, word)
        return index if index < len(self._words) and self._words[index] == word else -1

    def __getitem__(self, word: str) -> Entry:
        heteronym = self._heteronyms.get(word)
        if heteronym is not None:
            return heteronym
        index = self._index(word)
        if index < 0:
            raise KeyError(word)
        return self._phonemes[index]

    def __contains__(self, word: object) -> bool:
        return self._index(word) >= 0

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return (self._words[i] for i in range(len(self._words)))


def pack_lexicon(lexicon: Any) -> None:
    """Replace a misaki ``en.Lexicon``'s gold and silver dicts by packed tables, in place."""
    lexicon.golds = PackedLexicon(lexicon.golds)
    lexicon.silvers = PackedLexicon(lexicon.silvers)
