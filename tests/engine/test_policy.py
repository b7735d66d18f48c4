"""The scheduling policy on made-up replies, costs and clocks: no model, no event loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from wyoming_kokoro.audio import SAMPLE_RATE
from wyoming_kokoro.engine.policy import (
    Cut,
    continuation_budget,
    pick,
    plan_cut,
    work_before_rest,
    worth_stopping,
)
from wyoming_kokoro.engine.speed import SpeedModel
from wyoming_kokoro.model.split import OVERLAP_FRAMES, SAMPLES_PER_FRAME
from wyoming_kokoro.text.packing import MAX_PIECE_TOKENS, MIN_BUDGET_TOKENS

NOW = 1000.0


@dataclass
class FakeReply:
    """A reply as the policy sees it."""

    awaits_first_words: bool = False
    deadline: float = NOW
    rest_frames: int | None = None
    first_piece_tokens: int = 20
    started: bool = True  # its first audio is out

    @property
    def priority(self) -> tuple[int, float]:
        return (1 if self.started else 0, self.deadline)


def asking(tokens: int = 20, deadline: float = NOW) -> FakeReply:
    """A reply waiting for its first words, whose first piece is *tokens* long."""
    return FakeReply(awaits_first_words=True, deadline=deadline, first_piece_tokens=tokens, started=False)


def test_a_running_piece_is_stopped_only_when_that_is_worth_it() -> None:
    speed = SpeedModel(rtf=0.3, audio_per_token=0.07, overhead=0.05)  # 150 tokens ≈ 3.2 s here
    replies = [asking(20)]  # its first piece: the 20-token unit whole

    def stopped(tokens: int, elapsed: float, buffered: float, first: bool = False) -> bool:
        return worth_stopping(
            tokens=tokens,
            elapsed=elapsed,
            buffered=buffered,
            continuation=not first,
            replies=replies,
            speed=speed,
        )

    assert stopped(150, 0.2, 10.0)  # early in a long piece, plenty of audio buffered
    assert not stopped(150, 2.0, 10.0)  # past half way: finishing it is cheaper than starting over
    assert not stopped(150, 0.2, 4.0)  # its reply's audio would run out before it is made again
    assert not stopped(10, 0.05, 10.0)  # nearly done anyway
    assert not stopped(150, 0.2, 10.0, first=True)  # a first piece is never stopped
    # A reply whose first words are made and held (a guess not yet confirmed), with its rest to
    # go: it has no first piece to take, and nothing is stopped for it.
    held = FakeReply(awaits_first_words=False, deadline=NOW - 1.0, started=False)
    waiting = replies[0]
    replies.insert(0, held)
    assert stopped(150, 0.2, 10.0)  # for the reply waiting for its first piece
    replies.remove(waiting)
    assert not stopped(150, 0.2, 10.0)  # but not for the held one alone
    replies.append(FakeReply(awaits_first_words=False))  # nobody waits for first audio
    assert not stopped(150, 0.2, 10.0)


def test_a_continuation_piece_can_be_stopped_for_a_reply_asked_while_it_is_made() -> None:
    """A continuation as long as its reply's buffered audio allows could not be stopped for a
    reply asked meanwhile (its reply could not afford that piece again after the other's first
    piece), which then waited for all of it. A piece longer than SHORTEST_STOPPABLE stays
    stoppable in its first half."""
    speed = SpeedModel(rtf=0.3, audio_per_token=0.07, overhead=0.05)  # 48 tokens ≈ 1.06 s

    def budget(buffered: float) -> int:
        return continuation_budget(buffered, 1, speed, MAX_PIECE_TOKENS)

    def stopped(tokens: int, elapsed: float, buffered: float) -> bool:
        """Whether a piece of *tokens*, *elapsed* seconds in, is stopped for a reply asked now."""
        return worth_stopping(
            tokens=tokens,
            elapsed=elapsed,
            buffered=buffered - elapsed,
            continuation=True,
            replies=[asking(48)],
            speed=speed,
        )

    for buffered in (5.0, 6.0, 8.0):
        tokens = budget(buffered)
        seconds = speed.estimate(tokens)
        assert tokens > 75  # longer than SHORTEST_STOPPABLE: (asked in its last half, it is
        for share in (0.05, 0.25, 0.45):  # finished first: cheaper than making it again)
            assert stopped(tokens, share * seconds, buffered), (buffered, tokens, share)
    assert budget(3.0) == 75  # not cut below a sentence's length to be stoppable
    assert budget(1.2) == int((1.2 * 0.8 - 0.05) / (0.3 * 0.07))  # a short piece is not cut shorter
    assert budget(20.0) == MAX_PIECE_TOKENS  # and with audio enough, the longest piece is stoppable


def test_a_continuation_shares_the_session_and_keeps_its_bounds() -> None:
    speed = SpeedModel(rtf=0.3, audio_per_token=0.07, overhead=0.05)
    alone, shared = continuation_budget(2.0, 1, speed, 150), continuation_budget(2.0, 2, speed, 150)
    assert shared < alone  # two replies at work: each gets about half the session
    assert continuation_budget(0.0, 1, speed, 150) == MIN_BUDGET_TOKENS  # audio ran out: still a piece
    assert continuation_budget(60.0, 1, speed, 90) == 90  # never past the reply's longest piece


def test_a_rest_goes_before_other_first_words_only_when_it_cannot_wait_for_them() -> None:
    # A 40-frame rest: 0.25 s.
    speed = SpeedModel(overhead=0.05, decode_per_frame=0.005, first_words_seconds=0.3)
    first = asking(deadline=NOW)

    def resting(plays_for: float) -> FakeReply:
        """A reply whose first words play for *plays_for* more seconds, with a 40-frame rest."""
        return FakeReply(deadline=NOW + plays_for, rest_frames=40)

    def chosen(*ready: FakeReply) -> FakeReply:
        return pick(list(ready), speed, NOW)

    assert chosen(resting(2.0), first) is first  # 0.3 + 0.25 s well within 80 % of 2 s
    tight = resting(0.6)  # 0.55 s > 80 % of 0.6 s: the rest first
    assert chosen(tight, first) is tight
    sooner, later = resting(0.9), resting(0.95)
    assert chosen(sooner, first) is first and chosen(later, first) is first  # each could wait alone
    assert chosen(later, sooner, first) is sooner  # not both: the sooner due first
    assert chosen(sooner) is sooner  # nobody waiting for first words


def test_first_pieces_go_first_then_earliest_deadline() -> None:
    speed = SpeedModel()
    due_soon, due_later = FakeReply(deadline=NOW + 1), FakeReply(deadline=NOW + 5)
    assert pick([due_later, due_soon], speed, NOW) is due_soon
    newcomer = asking(deadline=NOW + 9)  # asked last, but waiting for its first audio
    assert pick([due_later, due_soon, newcomer], speed, NOW) is newcomer


def test_work_before_a_rest_counts_first_words_and_waiting_rests() -> None:
    speed = SpeedModel(overhead=0.05, decode_per_frame=0.005, first_words_seconds=0.3)
    assert work_before_rest([], speed) == 0.0
    others = [asking(), asking(), FakeReply(rest_frames=40), FakeReply()]
    assert work_before_rest(others, speed) == pytest.approx(2 * 0.3 + 0.05 + 0.005 * 40)


def test_speed_model_decoder_figure() -> None:
    speed = SpeedModel(rtf=0.48)
    assert speed.seconds_per_frame() == pytest.approx(0.48 * SAMPLES_PER_FRAME / SAMPLE_RATE)
    speed.update_decode(0, 1.0)  # nothing decoded: ignored
    assert speed.decode_per_frame is None
    speed.update_decode(100, 1.0)
    assert speed.seconds_per_frame() == pytest.approx(0.01)  # the first measurement as it is
    speed.update_decode(100, 2.0)
    assert 0.01 < speed.seconds_per_frame() < 0.02  # then a moving average


def test_a_piece_is_cut_between_words_as_early_as_keeps_the_rest_ahead() -> None:
    symbols = "ab cd ef gh"
    # pad, a, b, ' ', c, d, ' ', e, f, ' ', g, h, pad
    durations = np.array([4, 10, 10, 4, 10, 10, 4, 10, 10, 4, 10, 10, 4])
    # Instant decoding: the first gap qualifies (frame 24 + 2 = 26), after one word.
    assert plan_cut(symbols, durations, 0.0, 0.0) == Cut(26, 1)
    # Slower: the rest must decode within 80 % of the head's playback, so the cut moves later.
    cut = plan_cut(symbols, durations, 0.012, 0.05)
    assert cut == Cut(50, 2)
    plays = (cut.frame - 2 - 4) * SAMPLES_PER_FRAME / SAMPLE_RATE
    assert 0.05 + 0.012 * (96 - cut.frame + OVERLAP_FRAMES) <= 0.8 * plays
    # Too slow to gain a quarter of the piece, or no gap between words: whole.
    assert plan_cut(symbols, durations, 0.05, 0.05) is None
    assert plan_cut("abcdefgh", np.full(10, 10), 0.0, 0.0) is None
    # A gap so early that the tail, which starts OVERLAP_FRAMES before it, would start before frame 0.
    assert plan_cut("a b cd", np.array([1, 2, 2, 2, 2, 20, 20, 1]), 0.0, 0.0) == Cut(8, 2)
    # Other replies' first words to go before the rest: the first words must play longer.
    assert plan_cut(symbols, durations, 0.0, 0.0, wait=0.5) == Cut(50, 2)  # 0.5 s > 80 % of 0.5 s
    assert plan_cut(symbols, durations, 0.0, 0.0, wait=1.0) is None  # more than 80 % of 1.1 s
