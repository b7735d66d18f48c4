"""Packing phonemized segments into inference pieces.

:func:`take_piece` packs segment phonemes into pieces: several short sentences that are ready
together become one piece (fewer seams, better prosody), and a piece never exceeds the budget the
scheduler gives it (which grows as the reply's buffered audio grows) nor the model's window; an
over-long sentence is split at its best boundary (sentence, clause, word), the way the segmenter
cuts text.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from .segmenter import Boundary, phrase_score

#: Largest piece at the normal speed: big enough for natural prosody, small enough to keep a stream
#: agile (a first piece is a short clause, but text with no place to cut is cut at this too).
MAX_PIECE_TOKENS = 150

#: Smallest continuation budget (about 3–4 words): smaller pieces sound rushed and cost overhead.
MIN_BUDGET_TOKENS = 24
#: Smallest rest a budget cut may leave of a segment (about 3 words): a word or two alone ("AM.")
#: is spoken unnaturally slowly, and costs a whole piece's fixed work (its trimmed silence).
MIN_REST_TOKENS = 15


def piece_token_limit(speed: float) -> int:
    """The most tokens one piece may have at *speed* (0.5–2.0): ``MAX_PIECE_TOKENS`` at the normal
    speed and faster, proportionally fewer when slower. A piece's audio, and the memory its
    inference takes (which follows its frames, see ``frame_cap``), so stays about the same at
    every speed, under ``frame_cap.MAX_PIECE_FRAMES`` with room to spare for ordinary text."""
    return max(MIN_BUDGET_TOKENS, int(MAX_PIECE_TOKENS * min(1.0, speed)))


_SPLITS = (
    re.compile(r"[.!?…]+[\"'”’)]*\s+"),
    re.compile(r"[,;:—–]+[\"'”’)]*\s+"),
    re.compile(r"\s+"),
)

#: The segmenter's ``CONJUNCTIONS`` and ``FUNCTION_WORDS`` as misaki spells them in American
#: English, stress marks removed (a test keeps the two in step), so a piece cut for its token
#: budget is cut as the segmenter cuts text.
PHONEME_CONJUNCTIONS = frozenset(
    [
        "bəfɔɹ",
        "bəkʌz",
        "bʌt",
        "sO",
        "wIl",
        "wɛn",
        "wɛɹ",
        "wɪð",
        "wɪʧ",
        "æftəɹ",
        "ænd",
        "ðO",
        "ðɛn",
        "ɔlðO",
        "ɔɹ",
        "ʌntɪl",
    ]
)
PHONEME_FUNCTION_WORDS = PHONEME_CONJUNCTIONS | frozenset(
    [
        "I",
        "Ovəɹ",
        "Wəɹ",
        "bI",
        "bi",
        "biɪŋ",
        "bɪn",
        "du",
        "dɪd",
        "dʌz",
        "fɔɹ",
        "fɹʌm",
        "hi",
        "hu",
        "hum",
        "huz",
        "hæd",
        "hæv",
        "hæz",
        "hɜɹ",
        "hɪm",
        "hɪz",
        "hɪɹ",
        "ju",
        "jɛt",
        "jʊɹ",
        "kæn",
        "kʊd",
        "mA",
        "mI",
        "mIt",
        "mi",
        "mʌst",
        "nO",
        "nɑt",
        "nɔɹ",
        "sɪns",
        "tu",
        "tə",
        "tʊ",
        "vɛɹi",
        "wi",
        "wɜɹ",
        "wɪl",
        "wʊd",
        "wʌt",
        "wʌz",
        "æt",
        "æz",
        "ðA",
        "ðOz",
        "ði",
        "ðiz",
        "ðæt",
        "ðə",
        "ðən",
        "ðɛm",
        "ðɛɹ",
        "ðɪs",
        "ɐ",
        "ɐm",
        "ɐn",
        "ɑntu",
        "ɑɹ",
        "ɔlsO",
        "ɔn",
        "əbWt",
        "ənlɛs",
        "ɪf",
        "ɪn",
        "ɪntu",
        "ɪt",
        "ɪts",
        "ɪz",
        "ʃi",
        "ʃæl",
        "ʃʊd",
        "ʌndəɹ",
        "ʌs",
        "ʌv",
        "ʤʌst",
    ]
)


def split_phonemes(phonemes: str, max_tokens: int) -> tuple[str, str]:
    """Split ``phonemes`` into a head of at most ``max_tokens`` symbols and the rest.

    Cuts at the last sentence end that fits, else the last clause end, else at a space chosen as
    text is chosen (``_phrase_cut``: "switched them to a warm | white" would end the piece
    mid-phrase, its last word drawn out), else the last space, and only as a last resort (one
    "word" longer than the window) mid-word.
    """
    if len(phonemes) <= max_tokens:
        return phonemes, ""
    window = phonemes[: max_tokens + 1]
    for pattern in _SPLITS:
        cuts = [m.end() for m in pattern.finditer(window) if 0 < m.start() < max_tokens]
        if cuts:
            cut = (_phrase_cut(window, max_tokens) if pattern is _SPLITS[-1] else None) or cuts[-1]
            return phonemes[:cut].rstrip(), phonemes[cut:].lstrip()
    return phonemes[:max_tokens], phonemes[max_tokens:]


def _phrase_cut(window: str, max_tokens: int) -> int | None:
    """The space to cut *window* at, scored as ``_content_word_cut`` scores text
    (``phrase_score``). Only among cuts that keep at least half of *max_tokens* (a piece much
    shorter than its budget costs another piece's overhead); None when none qualifies."""
    best: tuple[int, int] | None = None  # (score, cut)
    for space in re.finditer(r"\s+", window):
        if not max_tokens // 2 <= space.start() < max_tokens:
            continue
        before = bare_phonemes(window[: space.start()].rsplit(" ", 1)[-1])
        after = bare_phonemes(window[space.end() :].split(" ", 1)[0])
        score = phrase_score(before, after, PHONEME_FUNCTION_WORDS, PHONEME_CONJUNCTIONS)
        if score is None:
            continue
        if best is None or score >= best[0]:
            best = (score, space.end())
    return None if best is None else best[1]


def bare_phonemes(word: str) -> str:
    return word.replace("ˈ", "").replace("ˌ", "").strip(".,;:!?—–…\"'“”()")


@dataclass
class PhonemeUnit:
    """One segment's phonemes, waiting to be packed into a piece."""

    phonemes: str
    boundary: Boundary


def take_piece(units: deque[PhonemeUnit], budget: int) -> PhonemeUnit | None:
    """Pop the next inference piece from ``units``: whole units while they fit in ``budget``.

    The first unit is always taken (split if it alone is over budget), so progress is guaranteed.
    A split never leaves a scrap of fewer than ``MIN_REST_TOKENS`` for the next piece: the cut
    moves earlier, and a unit too short to split so (under twice that) is taken whole: over a
    continuation budget (``MIN_BUDGET_TOKENS`` at least) by a few tokens, well within the
    scheduler's margin.
    """
    if not units:
        return None
    head = units.popleft()
    limit = min(budget, len(head.phonemes) - MIN_REST_TOKENS)
    if len(head.phonemes) > budget and limit >= MIN_REST_TOKENS:
        first, rest = split_phonemes(head.phonemes, limit)
        units.appendleft(PhonemeUnit(rest, head.boundary))
        return PhonemeUnit(first, boundary_of(first))
    text, boundary = head.phonemes, head.boundary
    while units and len(text) + 1 + len(units[0].phonemes) <= budget:
        unit = units.popleft()
        text = f"{text} {unit.phonemes}"
        boundary = unit.boundary
    if text is head.phonemes:
        return head  # the unit itself: the engine knows a guessed first segment by it
    return PhonemeUnit(text, boundary)


def boundary_of(phonemes: str) -> Boundary:
    """How a piece of phonemes ends, judged by its last punctuation."""
    stripped = phonemes.rstrip(" \"'”’)")
    if not stripped:
        return "word"
    if stripped[-1] in ".!?…":
        return "sentence"
    if stripped[-1] in ",;:—–":
        return "clause"
    return "word"
