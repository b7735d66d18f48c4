"""The phrase cache: finished pieces kept by what they say and how."""

from __future__ import annotations

from collections import OrderedDict

#: (phonemes, voice, speed, model): everything the audio of a piece depends on.
CacheKey = tuple[str, str, float, str]


class PhraseCache:
    """LRU of finished pieces, so repeated replies ("Turned on the kitchen lights.") start without
    any inference."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[CacheKey, bytes] = OrderedDict()

    def get(self, key: CacheKey) -> bytes | None:
        pcm = self._items.get(key)
        if pcm is not None:
            self._items.move_to_end(key)
        return pcm

    def put(self, key: CacheKey, pcm: bytes) -> None:
        if self.size <= 0:
            return
        self._items[key] = pcm
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
