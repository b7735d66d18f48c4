"""Word tables held packed: a dict's lookups in a fraction of its memory.

Why: the G2Ps keep their dictionaries as Python dicts, and each entry costs a string object for
the word, one for its value and a dict slot. misaki's English lexicons (gold and silver, American
and British, each grown with the capitalized and lower-case forms of its words) are about 730,000
entries, jieba's word frequencies (with every prefix of every word) about 500,000. The G2Ps only
look words up (``in``, ``[]``, ``get``), a few times per word, so the words are kept sorted in
one string and found by binary search, and their values beside them.

Packing takes a while (sorting), and so does reading the dictionaries it starts from (JSON, jieba's
word list), so a packed table is kept in the asset cache (``load_or_pack``) and read from there
on later starts: one file, a few arrays, no dict built at all.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import logging
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import numpy as np
import numpy.typing as npt

from ..files import atomic_write

_LOGGER = logging.getLogger(__name__)

#: Bump when the packed files' layout changes: cached tables are then packed again.
PACKED_FORMAT = 1

#: A lexicon's entry: phonemes, or a heteronym's phonemes by part of speech.
Entry = str | dict[str, Any]
Value = TypeVar("Value")


class _Packed:
    """Strings packed in one string, the ith found through the end offsets (a sequence for
    ``bisect``)."""

    def __init__(self, text: str, ends: array[int]) -> None:
        if ends and ends[-1] != len(text):
            raise ValueError("the offsets do not match the text")
        self._text = text
        self._ends = ends

    @classmethod
    def of(cls, items: Iterable[str]) -> _Packed:
        parts: list[str] = []
        ends = array("I")
        end = 0
        for item in items:
            parts.append(item)
            end += len(item)
            ends.append(end)
        return cls("".join(parts), ends)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        start = self._ends[index - 1] if index > 0 else 0
        return self._text[start : self._ends[index]]

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        text = np.frombuffer(self._text.encode("utf-8"), np.uint8)
        return {f"{prefix}_text": text, f"{prefix}_ends": np.frombuffer(self._ends, np.uint32)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str) -> _Packed:
        text = arrays[f"{prefix}_text"].astype(np.uint8).tobytes().decode("utf-8")
        return cls(text, array("I", arrays[f"{prefix}_ends"].astype(np.uint32).tobytes()))


class PackedWords:
    """Sorted words, each found by binary search: its index, or -1."""

    def __init__(self, words: _Packed) -> None:
        self._words = words

    @classmethod
    def of(cls, words: Iterable[str]) -> PackedWords:
        return cls(_Packed.of(sorted(words)))

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return self._words.to_arrays("words")

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> PackedWords:
        return cls(_Packed.from_arrays(arrays, "words"))

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return (self._words[i] for i in range(len(self._words)))

    def index(self, word: object) -> int:
        if not isinstance(word, str):
            return -1
        index = bisect.bisect_left(self._words, word)
        return index if index < len(self._words) and self._words[index] == word else -1


class _PackedTable(Mapping[str, Value]):
    """A read-only table over packed words: the value of the word at index i is ``_value(i)``."""

    def __init__(self, words: PackedWords, values: int) -> None:
        if values != len(words):
            raise ValueError(f"as many values as words expected ({values} for {len(words)})")
        self._words = words

    def _value(self, index: int) -> Value:
        raise NotImplementedError

    def __getitem__(self, word: str) -> Value:
        index = self._words.index(word)
        if index < 0:
            raise KeyError(word)
        return self._value(index)

    def __contains__(self, word: object) -> bool:
        return self._words.index(word) >= 0

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)


class PackedLexicon(_PackedTable[Entry]):
    """A read-only word → phonemes table (misaki's lexicon). Heteronyms (a dict of phonemes per
    part of speech, a few hundred) stay as they are."""

    def __init__(self, words: PackedWords, phonemes: _Packed, heteronyms: dict[str, Entry]) -> None:
        super().__init__(words, len(phonemes))
        self._phonemes = phonemes
        self._heteronyms = heteronyms

    @classmethod
    def of(cls, table: Mapping[str, Entry]) -> Self:
        words = PackedWords.of(table)
        phonemes = _Packed.of(e if isinstance(e, str) else "" for e in map(table.__getitem__, words))
        return cls(words, phonemes, {word: e for word, e in table.items() if not isinstance(e, str)})

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        heteronyms = np.frombuffer(json.dumps(self._heteronyms).encode(), np.uint8)
        return {**self._words.to_arrays(), **self._phonemes.to_arrays("phonemes"), "heteronyms": heteronyms}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> Self:
        heteronyms = json.loads(arrays["heteronyms"].tobytes())
        return cls(PackedWords.from_arrays(arrays), _Packed.from_arrays(arrays, "phonemes"), heteronyms)

    def __getitem__(self, word: str) -> Entry:
        heteronym = self._heteronyms.get(word)
        return heteronym if heteronym is not None else super().__getitem__(word)

    def _value(self, index: int) -> Entry:
        return self._phonemes[index]


class PackedCounts(_PackedTable[int]):
    """A read-only word → count table (jieba's word frequencies)."""

    def __init__(self, words: PackedWords, counts: array[int]) -> None:
        super().__init__(words, len(counts))
        self._counts = counts

    @classmethod
    def of(cls, table: Mapping[str, int]) -> Self:
        words = PackedWords.of(table)
        return cls(words, array("q", map(table.__getitem__, words)))

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {**self._words.to_arrays(), "counts": np.frombuffer(self._counts, np.int64)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> Self:
        counts = array("q", arrays["counts"].astype(np.int64).tobytes())
        return cls(PackedWords.from_arrays(arrays), counts)

    def total(self) -> int:
        """All the counts added up."""
        return sum(self._counts)

    def _value(self, index: int) -> int:
        return self._counts[index]


class _Packable(Protocol):
    @classmethod
    def of(cls, table: Any) -> Self: ...

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]: ...

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> Self: ...


Table = TypeVar("Table", bound=_Packable)


def load_or_pack(
    kind: type[Table], build: Callable[[], Any], name: str, sources: Sequence[Path], cache_dir: Path | None
) -> Table:
    """``kind.of(build())``, packed from the table *build* reads from *sources*; kept in *cache_dir*
    as ``<name>-<digest>.npz``, the digest over PACKED_FORMAT and the sources' bytes, and read
    from there when it is. A cache that cannot be read or written costs the packing only."""
    if cache_dir is None:
        return kind.of(build())
    digest = hashlib.sha256(str(PACKED_FORMAT).encode())
    for source in sources:
        digest.update(Path(source).read_bytes())
    path = Path(cache_dir) / f"{name}-{digest.hexdigest()[:16]}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            return kind.from_arrays({key: stored[key] for key in stored.files})
    except FileNotFoundError:
        pass
    except Exception as err:  # a damaged file: packed again and replaced
        _LOGGER.warning("Packing %s again: %s could not be read (%s)", name, path, err)
    table = kind.of(build())
    buffer = io.BytesIO()
    arrays: dict[str, Any] = table.to_arrays()
    np.savez(buffer, allow_pickle=False, **arrays)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(buffer.getbuffer()))
        for stale in path.parent.glob(f"{name}-*.npz"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as err:
        _LOGGER.debug("Could not keep the packed %s in %s: %s", name, cache_dir, err)
    return table
