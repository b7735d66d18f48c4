"""Word times from made-up durations (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from wyoming_kokoro.engine.timing import word_times

VOCAB = {"a": 1, "b": 2, "c": 3, " ": 16, ".": 4}


def test_each_word_spans_its_tokens_frames() -> None:
    # pad, a, b, ' ', c, '.', pad: 25 ms frames.
    durations = np.array([4, 2, 2, 3, 4, 2, 6])
    words = word_times("ab c.", VOCAB, durations, skip=0, length=10**6)
    assert [w.phonemes for w in words] == ["ab", "c."]
    assert (words[0].start, words[0].end) == pytest.approx((0.100, 0.200))  # frames 4 to 8
    assert (words[1].start, words[1].end) == pytest.approx((0.275, 0.425))  # frames 11 to 17


def test_times_count_from_the_trimmed_start_and_stay_within_the_piece() -> None:
    durations = np.array([4, 2, 2, 3, 4, 2, 6])
    words = word_times("ab c.", VOCAB, durations, skip=2400, length=6000)  # 0.1 s trimmed, 0.25 s kept
    assert (words[0].start, words[0].end) == pytest.approx((0.0, 0.1))
    assert (words[1].start, words[1].end) == pytest.approx((0.175, 0.25))  # cut at the piece's end


def test_symbols_without_a_token_take_no_time() -> None:
    durations = np.array([1, 2, 2, 1])  # pad, a, b, pad
    words = word_times("a?b", VOCAB, durations, skip=0, length=10**6)
    assert len(words) == 1 and words[0].end == pytest.approx(5 * 0.025)
