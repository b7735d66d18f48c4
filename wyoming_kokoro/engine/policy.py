"""The scheduling policy: which reply's work runs next, how big a piece is, when a running piece is
stopped, and where a first piece is cut. Pure functions of numbers (a speed model, deadlines, a
clock passed in), so each rule is tested without the model (``tests/engine/test_policy.py``); the
scheduler (``scheduler.py``) asks them and carries out the answer.

The rules, and why (``docs/design.md`` has the reasoning and ``docs/performance.md`` the figures):

* Latency is decided by a reply's first piece; later pieces have the playback time of the audio
  already sent to spare. So first pieces go before continuation pieces, and continuation pieces go
  earliest deadline first (due when their reply's buffered audio runs out).
* A continuation piece is as long as can be made before its reply's audio runs out (at the speed
  the machine has been running, shared with the other replies at work), but no longer than can
  still be stopped for a reply asked meanwhile.
* A running continuation piece is stopped for a waiting first piece when that saves more time than
  it throws away and its own reply can afford making it again after the first piece.
* A first piece sent in two parts has its rest made as a job of its own; other replies' first words
  go before a waiting rest only while the rest can still be made before its own first words have
  played.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from ..audio import SAMPLE_RATE
from ..model.split import CROSSFADE_FRAMES, OVERLAP_FRAMES, SAMPLES_PER_FRAME
from ..text.packing import MIN_BUDGET_TOKENS
from .speed import SpeedModel

#: Share of the time in hand that work is planned to take (the rest is margin for a slower run):
#: of a reply's buffered audio for its next piece, of a first part's playback for its rest.
SAFETY = 0.8
#: Pieces a reply may have synthesized but not yet taken by its consumer.
MAX_UNREAD = 2
#: Tokens of a typical first piece: the split model is warmed up and timed on one, and a
#: continuation piece leaves room to be stopped for one.
TYPICAL_FIRST_PIECE = 48
#: A running continuation piece is stopped for a first piece only if it has at least this many
#: seconds of inference left (and more than it has done).
MIN_PREEMPT_GAIN = 0.25
#: Tokens a continuation piece is never made shorter than to keep it stoppable: about a sentence.
#: Every piece also decodes trimmed silence, and a shorter piece would cut clauses.
SHORTEST_STOPPABLE = 75
#: A first piece is cut only if its first part is at most this share of its frames (cutting later
#: saves too little to be worth a seam).
LATEST_CUT = 0.75


class Reply(Protocol):
    """What the policy reads of a reply (``SynthesisStream`` has it; tests make their own)."""

    @property
    def awaits_first_words(self) -> bool: ...

    @property
    def priority(self) -> tuple[int, float]: ...

    @property
    def deadline(self) -> float: ...

    @property
    def rest_frames(self) -> int | None: ...

    @property
    def first_piece_tokens(self) -> int: ...


R = TypeVar("R", bound=Reply)


def pick(ready: Sequence[R], speed: SpeedModel, now: float) -> R:
    """The reply whose work runs next: first pieces ahead of continuations, then earliest deadline
    first. But rests waiting for their turn go first, earliest deadline first, when they could not
    all wait for one more reply's first words and still be made before their own first words have
    played (``SAFETY`` of it, as ``plan_cut`` plans them)."""
    chosen = min(ready, key=lambda r: r.priority)
    if not chosen.awaits_first_words:
        return chosen
    rests = sorted((r for r in ready if r.rest_frames is not None), key=lambda r: r.deadline)
    needed = speed.first_words_seconds  # seconds from now until each rest is made
    for waiting in rests:
        assert waiting.rest_frames is not None
        needed += speed.decode_seconds(waiting.rest_frames)
        if needed > (waiting.deadline - now) * SAFETY:
            return rests[0]
    return chosen


def work_before_rest(others: Iterable[Reply], speed: SpeedModel) -> float:
    """Seconds of other replies' work expected to run before a rest, were a first piece cut now:
    the first words of every reply waiting for theirs (they go first while the rest can wait, see
    ``pick``), and rests already waiting (due sooner). A first piece cut while others wait is so
    cut later, or sent whole, and their first words come sooner."""
    total = 0.0
    for other in others:
        if other.awaits_first_words:
            total += speed.first_words_seconds
        if other.rest_frames is not None:
            total += speed.decode_seconds(other.rest_frames)
    return total


def continuation_budget(buffered: float, sharing: int, speed: SpeedModel, longest: int) -> int:
    """Tokens for a reply's next continuation piece: as much as can be synthesized before its
    *buffered* seconds of audio run out, at the speed the engine has been running and with
    *sharing* replies at work on the one session; but no more than can still be stopped, in its
    first half, for a reply asked meanwhile while this reply's audio lasts for both
    (``worth_stopping``). Never longer than *longest*, never shorter than MIN_BUDGET_TOKENS."""
    per_token = speed.rtf * speed.audio_per_token
    tokens = (buffered * SAFETY / max(1, sharing) - speed.overhead) / per_token
    stoppable = (buffered * SAFETY - speed.estimate(TYPICAL_FIRST_PIECE)) / (1 + SAFETY / 2)
    tokens = min(tokens, max(SHORTEST_STOPPABLE, (stoppable - speed.overhead) / per_token))
    return max(MIN_BUDGET_TOKENS, min(longest, int(tokens)))


def worth_stopping(
    *,
    tokens: int,
    elapsed: float,
    buffered: float,
    continuation: bool,
    replies: Iterable[Reply],
    speed: SpeedModel,
) -> bool:
    """Whether a running piece of *tokens*, *elapsed* seconds in, whose reply has *buffered*
    seconds of audio left, is stopped for a reply waiting for its first audio. Only a
    *continuation* piece is, and only when

    * the wait this saves (its inference still to go) is longer than the work it throws away (its
      inference so far), and at least MIN_PREEMPT_GAIN: a first piece waits at most about half a
      continuation piece, and stopping never costs more time than it gives;
    * its own reply can afford it: its audio lasts for the first piece and then the whole piece
      again, which starts over exactly as it was (packed anew it could be cut mid-clause).

    A reply whose first words are made but held (a guess not yet confirmed) is not waited for."""
    waiting = [r for r in replies if r.awaits_first_words]
    if not continuation or not waiting:
        return False
    first = min(waiting, key=lambda r: r.priority)
    first_cost = speed.estimate(first.first_piece_tokens)
    piece_cost = speed.estimate(tokens)
    if piece_cost - elapsed < max(elapsed, MIN_PREEMPT_GAIN):
        return False
    return buffered * SAFETY >= first_cost + piece_cost


@dataclass(frozen=True)
class Cut:
    """Where a first piece is cut: at frame ``frame``, after its first ``words`` phoneme words."""

    frame: int
    words: int


def plan_cut(
    symbols: str,
    durations: npt.NDArray[np.int64],
    seconds_per_frame: float,
    overhead: float,
    wait: float = 0.0,
) -> Cut | None:
    """The earliest cut that keeps the rest ahead of playback, or None (send the piece whole).

    Cuts are in the gap between two words (the middle of a space's frames), where the crossfade is
    quietest. A cut qualifies when the rest (from the overlap on) is estimated to decode, at
    *seconds_per_frame* of inference per frame plus *overhead*, after *wait* seconds of other
    work that goes first (other replies' first words), within SAFETY of the time the head plays
    (from its first phoneme), and when the head is at most LATEST_CUT of the piece.
    *symbols*: the piece's phonemes as tokenized (one per token); *durations*: frames per token,
    with the two pads.
    """
    starts = np.concatenate([[0], np.cumsum(durations)])
    frames = int(starts[-1])
    lead = int(durations[0])  # the leading pad: trimmed silence, not playback
    words = 1
    for index, symbol in enumerate(symbols):
        if symbol != " ":
            continue
        cut = int(starts[index + 1] + durations[index + 1] // 2)
        if cut < 2 * OVERLAP_FRAMES:  # the tail would start before the first frame
            words += 1
            continue
        plays = (cut - CROSSFADE_FRAMES // 2 - lead) * SAMPLES_PER_FRAME / SAMPLE_RATE
        rest = wait + overhead + seconds_per_frame * (frames - cut + OVERLAP_FRAMES)
        if cut + OVERLAP_FRAMES > LATEST_CUT * frames:
            return None
        if rest <= SAFETY * plays:
            return Cut(cut, words)
        words += 1
    return None
