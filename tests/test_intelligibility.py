"""Round-trip intelligibility: assistant replies -> the real engine -> offline Whisper -> words.

Each sentence of ``data/intelligibility.tsv`` (weather, energy, timers, Markdown, URLs, ...) is
spoken by af_heart at speed 1.0 and transcribed by Whisper ``base``; the corpus word error rate
against what a person would say must stay within 1 %. The second test speaks the same text with the
normalizer switched off (plain misaki) and must do worse: it is the evidence that normalization,
not luck in the corpus, is what makes these replies intelligible.

The round trip is slow (about 17 minutes on the loaded 2-core machine: every sentence is
synthesized twice and transcribed twice), so those two tests carry the ``asr`` marker; run them
with ``pytest -m asr tests/test_intelligibility.py -s`` to see the tables. The tests of the
scoring itself (Whisper's written forms against spoken words) are fast and always run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asr import (
    Result,
    Sentence,
    category_table,
    corpus_wer,
    describe_errors,
    load_sentences,
    load_whisper,
    resample,
    round_trip,
    score,
    speak,
    transcribe,
    wer,
)
from faster_whisper import WhisperModel

import wyoming_kokoro.text.frontend
from wyoming_kokoro.engine import KokoroEngine

CORPUS = Path(__file__).parent / "data" / "intelligibility.tsv"

#: The goal: Kokoro with hand-normalized text reaches about 0.6 %, plain misaki about 5.6 %.
MAX_WER = 0.01


@pytest.fixture(scope="module")
def whisper(cache_dir: Path) -> WhisperModel:
    return load_whisper(cache_dir, "base")


@pytest.fixture(scope="module")
async def normalized(engine: KokoroEngine, whisper: WhisperModel) -> list[Result]:
    """The corpus through the engine as shipped; computed once, shared by both tests."""
    return await round_trip(engine, whisper, load_sentences(CORPUS))


# -- the scoring itself (fast) ----------------------------------------------------------------

#: Transcripts as Whisper base really writes them for this corpus, and what was said.
WHISPER_FORMS = [
    ("Tonight's low is minus 5 degrees Celsius.", "tonight's low is minus five degrees celsius"),
    ("The alarm is set for 6.30 a.m. tomorrow.", "the alarm is set for six thirty am tomorrow"),
    ("The laundry will be done at 705 pm.", "the laundry will be done at seven oh five pm"),
    ("on March 4th, 2025 at 1030.", "on march fourth twenty twenty five at ten thirty"),
    (
        "Your zip code 0-2-134 has been saved.",
        "your zip code zero two one three four has been saved",
    ),
    ("Call 911 in an emergency.", "call nine one one in an emergency"),
    (
        "Your order total is $1,250 and 50 cents.",
        "your order total is one thousand two hundred fifty dollars and fifty cents",
    ),
    (
        "The bill came to £42.99 this month.",
        "the bill came to forty two pounds and ninety nine pence this month",
    ),
    (
        "The air quality shows CO2 at 800 ppm.",
        "the air quality shows c o two at eight hundred parts per million",
    ),
    (
        "PM2.5 is at 12 µg/m³ today.",
        "p m two point five is at twelve micrograms per cubic meter today",
    ),
    (
        "The bedroom light is set to 2,700 Kelvin.",
        "the bedroom light is set to two thousand seven hundred kelvin",
    ),
    ("Dr. Smith's office is on Oak Dr.", "doctor smith's office is on oak drive"),
    ("We're visiting St. Louis next week.", "we're visiting saint louis next week"),
    ("Bring snacks, e.g. chips, fruit, etc.", "bring snacks for example chips fruit et cetera"),
    (
        "Open homeassistant.local:8123 now.",
        "open homeassistant dot local port eight one two three now",
    ),
    (
        "The docs are at home-assistant.io/docs.",
        "the docs are at home assistant dot i o slash docs",
    ),
    ("The pool holds 50,000 litres.", "the pool holds fifty thousand liters"),
    (
        "That's about 3/4 of it. 5 + 3 = 8.",
        "that's about three quarters of it five plus three equals eight",
    ),
]


@pytest.mark.parametrize(("transcript", "spoken"), WHISPER_FORMS)
def test_written_forms_score_as_the_words_said(transcript: str, spoken: str) -> None:
    edits, _words, _reference, heard = score(spoken, transcript)
    assert edits == 0, heard


@pytest.mark.parametrize(
    ("transcript", "spoken", "edits"),
    [
        ("Tonight's low is 5 degrees Celsius.", "tonight's low is minus five degrees celsius", 1),
        ("Done at 7.50 pm.", "done at seven oh five pm", 2),
        ("It is 2015.", "it is twenty twenty five", 2),
        ("It costs $12.", "it costs twelve euros", 1),
        ("Call 912.", "call nine one one", 1),
    ],
)
def test_wrong_words_still_count(transcript: str, spoken: str, edits: int) -> None:
    assert score(spoken, transcript)[0] == edits


def test_wer_counts_edits_but_not_spacing() -> None:
    assert wer(["a", "b", "c", "d"], ["a", "x", "c"]) == (2, 4)
    spaced, closed = ["at", "home", "assistant", "dot", "io"], ["at", "homeassistant", "dot", "io"]
    assert wer(spaced, closed) == (0, 5)
    assert wer([], ["extra"]) == (1, 0)


def test_resampling_keeps_a_tone_and_drops_what_16k_cannot_hold() -> None:
    t = np.arange(24000) / 24000
    audio = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 10000 * t)).astype(np.float32)
    out = resample(audio, 24000, 16000)
    assert out.size == 16000
    spectrum = np.abs(np.fft.rfft(out))
    assert spectrum[440] > 1000 * spectrum[6000]  # 10 kHz is gone, not folded to 6 kHz
    assert np.isclose(np.sqrt(np.mean(out**2)), 0.5 / np.sqrt(2), rtol=0.01)


def test_corpus_is_well_formed() -> None:
    sentences = load_sentences(CORPUS)
    assert len(sentences) == 78
    assert all(s.category and s.text and s.expected for s in sentences)
    assert any("\n" in s.text for s in sentences)  # Markdown lists keep their line breaks


# -- the round trip (slow) ----------------------------------------------------------------------


@pytest.mark.asr
async def test_normalized_replies_are_understood(normalized: list[Result]) -> None:
    rate = corpus_wer(normalized)
    print(f"\n{category_table(normalized)}\ncorpus WER {rate:.2%}\n{describe_errors(normalized)}")
    assert rate <= MAX_WER, f"corpus WER {rate:.2%} > {MAX_WER:.0%}:\n{describe_errors(normalized)}"


@pytest.mark.asr
async def test_normalization_is_what_makes_them_understood(
    engine: KokoroEngine,
    whisper: WhisperModel,
    normalized: list[Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three sentences per category are enough to show the difference and keep CI time down; both
    # sides are scored on the same sentences.
    subset: list[Sentence] = []
    for sentence in load_sentences(CORPUS):
        if sum(s.category == sentence.category for s in subset) < 3:
            subset.append(sentence)
    monkeypatch.setattr(wyoming_kokoro.text.frontend, "normalize_text", lambda text, *a, **k: text)
    plain = await round_trip(engine, whisper, subset)
    ours_subset = [result for result in normalized if result.sentence in subset]
    ours, theirs = corpus_wer(ours_subset), corpus_wer(plain)
    print(f"\n{category_table(ours_subset, plain)}\nWER {ours:.2%} with, {theirs:.2%} without")
    assert theirs > ours


@pytest.mark.asr
async def test_a_respelled_word_is_heard_as_respelled(engine: KokoroEngine, whisper: WhisperModel) -> None:
    """The test config respells "gizmo" as "widget": Whisper hears the respelling."""
    heard = transcribe(whisper, await speak(engine, "Please hand me the gizmo from the table.")).lower()
    assert "widget" in heard and "gizmo" not in heard, heard
