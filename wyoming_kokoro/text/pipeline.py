"""Text to the pieces the model runs on, top to bottom, as the engine does it for a whole text.

The engine takes the same steps for every reply, spread over time (``engine/stream.py`` segments
and phonemizes text as it streams in, the scheduler packs a piece when there is room for one);
this module is those steps in one place, in order, for callers that have the whole text.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator

from .frontend import TextFrontend
from .normalize import normalize_text
from .packing import MAX_PIECE_TOKENS, PhonemeUnit, take_piece
from .pronounce import split_markup
from .segmenter import Segment, TextSegmenter

#: Marks stripped from a word shown with its time.
PUNCTUATION = ".,;:!?\"'“”‘’()[]…—–"


def segments(text: str, language: str) -> list[Segment]:
    """1. Where the text is cut: a short first segment (it decides the first audio), then
    sentences. A first clause is measured in spoken words (as the normalizer will say it)."""
    segmenter = TextSegmenter(spoken=functools.partial(normalize_text, language=language))
    return [*segmenter.feed(text), *segmenter.flush()]


def phoneme_units(frontend: TextFrontend, text: str, language: str) -> list[PhonemeUnit]:
    """2. Each segment normalized (numbers, units, Markdown…) and phonemized (misaki, espeak, or
    the CJK front ends), with how it ends (the pause after it)."""
    units = []
    for segment in segments(text, language):
        phonemes = frontend.phonemize(segment.text, language)
        if phonemes:
            units.append(PhonemeUnit(phonemes, segment.boundary))
    return units


def pieces(
    frontend: TextFrontend, text: str, language: str, budget: int = MAX_PIECE_TOKENS
) -> Iterator[PhonemeUnit]:
    """3. The units packed into pieces of at most *budget* tokens: short sentences ready together
    share a piece, a long one is cut at its best boundary."""
    queue = deque(phoneme_units(frontend, text, language))
    while (piece := take_piece(queue, budget)) is not None:
        yield piece


def spoken_words(frontend: TextFrontend, text: str, language: str) -> list[str]:
    """The words of *text* as they are said (normalized: "12.4" is "twelve point four"), one for
    each phoneme word the front end makes of it, segment by segment as the engine phonemizes it;
    where a segment's words and phoneme words do not line up, its phoneme words stand in."""
    words: list[str] = []
    for segment in segments(text, language):
        phonemes = frontend.phonemize(segment.text, language).split()
        normalized = normalize_text(frontend.pronunciations.apply(segment.text), language)
        said = " ".join(written for written, _ in split_markup(normalized)).split()
        said = [word.strip(PUNCTUATION) or word for word in said]
        words += said if len(said) == len(phonemes) else phonemes
    return words
