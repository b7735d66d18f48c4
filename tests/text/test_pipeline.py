"""Text to pieces, top to bottom, with the real front end (misaki and spaCy; no model)."""

from __future__ import annotations

import pytest

from wyoming_kokoro.text.frontend import TextFrontend
from wyoming_kokoro.text.pipeline import phoneme_units, pieces, segments

TEXT = "Turned on the kitchen lights, and the hallway too. It is 9:45 PM. Anything else?"


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    return TextFrontend(["en-us"])


def test_segments_start_short_then_follow_sentences() -> None:
    cut = segments(TEXT, "en-us")
    assert [s.text for s in cut] == [
        "Turned on the kitchen lights,",
        "and the hallway too.",
        "It is 9:45 PM.",
        "Anything else?",
    ]
    assert [s.boundary for s in cut] == ["clause", "sentence", "sentence", "end"]


def test_units_are_each_segment_normalized_and_phonemized(frontend: TextFrontend) -> None:
    units = phoneme_units(frontend, TEXT, "en-us")
    assert [u.phonemes for u in units] == [
        frontend.phonemize(s.text, "en-us") for s in segments(TEXT, "en-us")
    ]
    assert frontend.phonemize("nine forty-five PM", "en-us") in units[2].phonemes  # "9:45 PM" said


def test_pieces_pack_units_within_the_budget_and_lose_nothing(frontend: TextFrontend) -> None:
    units = phoneme_units(frontend, TEXT, "en-us")
    whole = list(pieces(frontend, TEXT, "en-us"))
    assert len(whole) < len(units)  # short sentences ready together share a piece
    small = list(pieces(frontend, TEXT, "en-us", budget=30))
    assert all(len(piece.phonemes) <= 30 + 15 for piece in small)  # a scrap is never left alone
    for packed in (whole, small):
        assert " ".join(p.phonemes for p in packed).split() == " ".join(u.phonemes for u in units).split()
