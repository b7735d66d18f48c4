"""When each word is said in a piece, from the durations the model predicted for its tokens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..audio import SAMPLE_RATE
from ..model.split import SAMPLES_PER_FRAME


@dataclass(frozen=True)
class WordTime:
    """A word of a piece (its phonemes) and when it is said, in seconds from the piece's start."""

    phonemes: str
    start: float
    end: float


def word_times(
    phonemes: str, vocab: set[str] | dict[str, int], durations: npt.NDArray[np.int64], skip: int, length: int
) -> tuple[WordTime, ...]:
    """Each space-separated word of *phonemes*: from the first frame of its first token to the last
    frame of its last. *durations*: frames per token, the two pads included (the model's own, as
    the split model's prosody part returns them); only symbols in *vocab* are tokens. Times count
    from the first sample kept after *skip* trimmed samples, within a piece of *length* samples."""
    starts = np.concatenate([[0], np.cumsum(durations)]) * SAMPLES_PER_FRAME
    tokens = len(durations) - 2
    words: list[WordTime] = []
    token = 0  # index of the next token (pads not counted)
    for word in phonemes.split(" "):
        first = token
        token += sum(1 for symbol in word if symbol in vocab)
        if word and token > first and first < tokens:
            begin = (int(starts[first + 1]) - skip) / SAMPLE_RATE
            end = (int(starts[min(token, tokens) + 1]) - skip) / SAMPLE_RATE
            limit = length / SAMPLE_RATE
            words.append(WordTime(word, min(max(0.0, begin), limit), min(max(0.0, end), limit)))
        if " " in vocab:
            token += 1  # the space between words is a token too
    return tuple(words)
