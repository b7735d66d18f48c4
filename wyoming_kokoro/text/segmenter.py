"""Where to cut incoming text so audio starts early and still sounds natural.

:class:`TextSegmenter` cuts text (all at once, or streamed from an LLM) into segments as soon as
their end is known. The first segment of a reply is short (it decides time to first audio): it ends
at the first sentence or clause boundary that has at least ``first_min_words`` words, or, when the
text runs on without punctuation, after a content word at about 6–8 words. Cuts at punctuation
sound natural; a cut mid-clause draws out the last word with a falling pitch, which is why a
content word is chosen. Later segments are whole sentences. (``packing.py`` then packs their
phonemes into pieces.)
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Boundary = Literal["sentence", "clause", "word", "end"]

#: Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "prof",
        "sr",
        "jr",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "approx",
        "no",
        "nr",
        "fig",
        "ca",
        "inc",
        "ltd",
        "co",
        "mt",
        "ave",
        "rd",
        "blvd",
    ]
)

#: Function words: cutting right after one of these sounds broken ("turn on the | lights").
FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "yet",
        "if",
        "then",
        "than",
        "that",
        "this",
        "these",
        "those",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "not",
        "no",
        "it",
        "its",
        "it's",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "him",
        "her",
        "us",
        "them",
        "my",
        "your",
        "his",
        "our",
        "their",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "where",
        "when",
        "while",
        "because",
        "although",
        "though",
        "until",
        "unless",
        "since",
        "after",
        "before",
        "also",
        "just",
        "very",
        "too",
        "there",
        "here",
    ]
)

#: Words that start a new phrase: the most natural place to cut a run-on first sentence.
CONJUNCTIONS = frozenset(
    [
        "and",
        "but",
        "or",
        "so",
        "because",
        "which",
        "while",
        "then",
        "when",
        "where",
        "with",
        "after",
        "before",
        "until",
        "although",
        "though",
    ]
)

_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)|\n""")
_CLAUSE_END = re.compile(r"""(?:[,;:]["'”’)\]]*|\s[—–-])(?=\s)""")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Segment:
    """A run of text ready to be phonemized, and how it ended (decides the pause after it)."""

    text: str
    boundary: Boundary


def _count_words(text: str) -> int:
    return sum(1 for word in _WORD.findall(text) if any(ch.isalnum() for ch in word))


def _is_abbreviation(text: str, dot_index: int) -> bool:
    """True when the '.' at ``dot_index`` closes an abbreviation or an initial, not a sentence.

    Titles ("Dr.", "Mr.") and initials never end a sentence. Dotted abbreviations ("p.m.", "e.g.")
    may: they do when the next word starts with a capital, and do not when it starts in lower case;
    until the next word has arrived the cut waits.
    """
    start = dot_index
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:dot_index].lower().lstrip("(\"'“")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    if _DOTTED.match(word):
        following = text[dot_index + 1 :].lstrip()
        return not following or not following[0].isupper()
    return False


_DOTTED = re.compile(r"^(?:[a-z]\.)+[a-z]$")


class TextSegmenter:
    """Cuts a stream of text fragments into speakable segments, as early as the policy allows.

    ``feed`` takes arbitrary fragments (mid-word, with or without spaces, as LLM deltas arrive) and
    returns the segments whose end is now known; ``flush`` returns the rest at the end of the text.
    A boundary is only trusted once the whitespace after it has arrived, so "21." followed later by
    "5" is never cut.

    *spoken* rewrites text as it will be said (the text front end's normalizer). A first clause
    short in written words but long in spoken ones ("Currently it's 18°C and partly cloudy in
    Berlin," is 8 written, 10 spoken: "eighteen degrees Celsius") may then be cut before its
    conjunction, as a 9–10-word one is; every other rule counts written words.
    """

    def __init__(
        self,
        first_min_words: int = 3,
        first_max_words: int = 8,
        spoken: Callable[[str], str] | None = None,
    ) -> None:
        self.first_min_words = first_min_words
        self.first_max_words = first_max_words
        self._spoken = spoken
        self._buffer = ""
        self._emitted = 0  # segments emitted so far

    def _spoken_words(self, text: str) -> int:
        return _count_words(self._spoken(text) if self._spoken is not None else text)

    def feed(self, text: str) -> list[Segment]:
        self._buffer += text
        segments: list[Segment] = []
        while (segment := self._next_segment()) is not None:
            segments.append(segment)
        return segments

    @property
    def emitted(self) -> int:
        """Segments returned so far."""
        return self._emitted

    def peek(self) -> Segment | None:
        """The next segment if whitespace came next, without taking it: its end is in the text
        but not yet known to be one ("12." may go on as "12.4", "lights." as "lights.\"").
        Only text that ends in punctuation is looked at: one that ends mid-word ("kitch") is
        most likely to go on."""
        last = self._buffer[-1:]
        if not last or last.isalnum() or last.isspace():
            return None
        probe = copy.copy(self)
        segments = probe.feed(" ")
        return segments[0] if segments else None

    def flush(self) -> list[Segment]:
        """End of text: everything left is one last segment (if it has anything to say)."""
        # The end of the text is whitespace too: its last sentence end and last word are final.
        segments = self.feed(" ")
        rest = self._buffer.strip()
        self._buffer = ""
        if rest:
            segments.append(Segment(rest, "end"))
            self._emitted += 1
        elif segments:
            segments[-1] = Segment(segments[-1].text, "end")
        return segments

    def _next_segment(self) -> Segment | None:
        cut = self._find_cut()
        if cut is None:
            return None
        end, boundary = cut
        text = self._buffer[:end].strip()
        self._buffer = self._buffer[end:]
        if not text:
            return self._next_segment()
        self._emitted += 1
        return Segment(text, boundary)

    def _find_cut(self) -> tuple[int, Boundary] | None:
        buffer = self._buffer
        first = self._emitted == 0
        candidates: list[tuple[int, Boundary]] = []
        for match in _SENTENCE_END.finditer(buffer):
            if match.group().startswith(".") and _is_abbreviation(buffer, match.start()):
                continue
            if "\n" in match.group() and _count_words(buffer[: match.end()]) > 0:
                # A line break (list item, heading) always ends a segment.
                candidates.append((match.end(), "sentence"))
                break
            candidates.append((match.end(), "sentence"))
        if first:
            candidates += [(m.end(), "clause") for m in _CLAUSE_END.finditer(buffer)]
            candidates.sort()
        for end, boundary in candidates:
            words = _count_words(buffer[:end])
            line_break = buffer[:end].endswith("\n")
            if words >= self.first_min_words or (line_break and words > 0):
                if first and words > self.first_max_words + 2:
                    # The first boundary comes late: cut the run-on text at a content word instead.
                    return self._content_word_cut(buffer) or (end, boundary)
                if first and words > self.first_max_words:
                    # A little long (9-10 words): cut only where a new phrase starts ("Your pasta
                    # timer has 4 minutes | and 30 seconds left."), which sounds as natural as
                    # punctuation; otherwise the whole clause.
                    return self._content_word_cut(buffer, min_score=3) or (end, boundary)
                if (
                    first
                    and self._spoken is not None
                    and self._spoken_words(buffer[:end]) > self.first_max_words
                ):
                    # Short written, long spoken ("18°C" is three words): the same cut before a
                    # conjunction, with words counted as spoken; never a cut anywhere else.
                    return self._content_word_cut(buffer, min_score=3, spoken=True) or (end, boundary)
                return end, boundary
        if first:
            return self._content_word_cut(buffer)
        return None

    def _content_word_cut(
        self, buffer: str, min_score: int = 0, spoken: bool = False
    ) -> tuple[int, Boundary] | None:
        """Cut run-on text after a content word, preferring a phrase boundary.

        Waits until more than ``first_max_words + 1`` complete words are here, then scores each cut
        after word ``first_min_words + 1`` .. ``first_max_words + 1``: best before a conjunction
        ("closed | and the front door"), then before a preposition or article ("set | to 21.5"),
        then anywhere after a content word; never right after a function word ("the | lights"),
        nor after a number (its unit or AM/PM may come next: "21.5 | °C" would orphan it). With
        ``min_score`` 3 only a cut before a conjunction will do (None when there is none), and then
        after a number too ("18°C | and partly cloudy": no unit can follow). *spoken*: count words
        as said (only with ``min_score`` 3, which never falls back to an arbitrary cut).
        """
        last = self.first_max_words + 1
        complete = [w for w in _WORD.finditer(buffer) if w.end() < len(buffer)]
        if spoken:
            # Spoken words are never fewer than written ones: the cut is among the first few.
            complete = complete[: last + 2]
            counts = [self._spoken_words(buffer[: w.end()]) for w in complete]
        else:
            counts = list(range(1, len(complete) + 1))
        if not counts or counts[-1] <= last:
            return None
        best: tuple[int, int] | None = None  # (score, index)
        for index in range(1, len(complete)):  # a cut after word index, before word index + 1
            if not self.first_min_words + 1 <= counts[index - 1] <= last:
                continue
            word = _bare(complete[index - 1].group())
            following = _bare(complete[index].group())
            score = phrase_score(word, following, FUNCTION_WORDS, CONJUNCTIONS)
            if not word or score is None or not following[:1].isalpha():
                continue
            if any(ch.isdigit() for ch in word) and not (min_score and following in CONJUNCTIONS):
                continue
            if best is None or score >= best[0]:
                best = (score, index)
        if best is None or best[0] < min_score:
            if min_score:
                return None
            best = (0, self.first_max_words)
        return complete[best[1] - 1].end(), "word"


def phrase_score(
    word: str, following: str, function_words: frozenset[str], conjunctions: frozenset[str]
) -> int | None:
    """How natural a cut between *word* and *following* is: 3 before a conjunction, 2 before
    another function word, 1 after any content word; None right after a function word ("the |
    lights"). The same for text and for phonemes, with their word lists."""
    if word in function_words:
        return None
    return 3 if following in conjunctions else 2 if following in function_words else 1


def _bare(word: str) -> str:
    return word.lower().strip(".,;:!?\"'“”()[]")
