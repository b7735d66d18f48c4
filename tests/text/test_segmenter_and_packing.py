"""Where text is cut: the first segment short and natural, later ones whole sentences; phoneme
pieces within budget and the 510-token window."""

from __future__ import annotations

import functools
from collections import deque

import pytest

from wyoming_kokoro.text.normalize import normalize_text
from wyoming_kokoro.text.packing import (
    MAX_PIECE_TOKENS,
    MIN_BUDGET_TOKENS,
    MIN_REST_TOKENS,
    PhonemeUnit,
    boundary_of,
    piece_token_limit,
    split_phonemes,
    take_piece,
)
from wyoming_kokoro.text.segmenter import TextSegmenter

SPOKEN = functools.partial(normalize_text, language="en-us")


def segments(text: str, spoken: bool = False) -> list[tuple[str, str]]:
    segmenter = TextSegmenter(spoken=SPOKEN if spoken else None)
    return [(s.text, s.boundary) for s in [*segmenter.feed(text), *segmenter.flush()]]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Turned on the kitchen lights.", ("Turned on the kitchen lights.", "end")),
        (
            "The washing machine finished at 2:15 PM, and the dryer still needs about 35 minutes.",
            ("The washing machine finished at 2:15 PM,", "clause"),
        ),
        (
            "The garage door is closed and the front door is locked.",
            ("The garage door is closed", "word"),
        ),
        (
            "Okay, the living room thermostat is now set to 21.5 degrees.",
            ("Okay, the living room thermostat is now set", "word"),
        ),
        ("Good morning! It's Tuesday, March 4th.", ("Good morning! It's Tuesday,", "clause")),
        # 9-10 words: cut only before a conjunction, else the sentence stays whole (below).
        (
            "Your pasta timer has 4 minutes and 30 seconds left.",
            ("Your pasta timer has 4 minutes", "word"),
        ),
        (
            "Please turn off all the lights in the upstairs hallway.",
            ("Please turn off all the lights in the upstairs hallway.", "end"),
        ),
        (
            "Dr. Smith will see you at 3 p.m. today. Bring the forms.",
            ("Dr. Smith will see you at 3 p.m. today.", "sentence"),
        ),
    ],
)
def test_first_segment(text: str, first: tuple[str, str]) -> None:
    assert segments(text)[0] == first


@pytest.mark.parametrize(
    ("text", "written", "spoken"),
    [
        # 8 words written, 10 spoken ("eighteen degrees Celsius"): the 9-10-word rule applies, and
        # a number may end the piece when a conjunction follows (no unit can come next).
        (
            "Currently it's 18°C and partly cloudy in Berlin, with winds of 12 km/h.",
            "Currently it's 18°C and partly cloudy in Berlin,",
            "Currently it's 18°C",
        ),
        # Over 10 words: the earlier phrase boundary, not the number before "and" (a longer piece).
        (
            "Sure! I've dimmed the bedroom lights to 30% and switched them to a warm white, thanks.",
            "Sure! I've dimmed the bedroom lights",
            "Sure! I've dimmed the bedroom lights",
        ),
        # Long spoken, short written, no conjunction: whole, never an arbitrary cut.
        (
            "Your order total is $1,250.50.",
            "Your order total is $1,250.50.",
            "Your order total is $1,250.50.",
        ),
        (
            "Open homeassistant.local:8123 in your browser.",
            "Open homeassistant.local:8123 in your browser.",
            "Open homeassistant.local:8123 in your browser.",
        ),
        ("PM2.5 is at 12 µg/m³ today.", "PM2.5 is at 12 µg/m³ today.", "PM2.5 is at 12 µg/m³ today."),
        # Spoken or written, still short enough to stay whole.
        ("It is 9:45 PM.", "It is 9:45 PM.", "It is 9:45 PM."),
        # 10 spoken words without a conjunction: whole, as before.
        (
            "Today you used 12.4 kWh of electricity, which is 15% less than yesterday.",
            "Today you used 12.4 kWh of electricity,",
            "Today you used 12.4 kWh of electricity,",
        ),
    ],
)
def test_first_segment_counts_spoken_words(text: str, written: str, spoken: str) -> None:
    assert segments(text)[0][0] == written
    assert segments(text, spoken=True)[0][0] == spoken
    streamed = TextSegmenter(spoken=SPOKEN)
    words = text.split(" ")
    pieces = [s for word in words for s in streamed.feed(word + " ")] + streamed.flush()
    assert pieces[0].text == spoken  # word by word, as an LLM streams it: the same cut


def test_a_number_is_not_cut_from_its_unit() -> None:
    text = "Okay, I have set the living room thermostat to 21.5 °C as you asked me to."
    first = segments(text, spoken=True)[0][0]
    assert not first.endswith("21.5")


def test_first_cut_never_follows_a_function_word() -> None:
    text = "Please remember to take the blue umbrella with you to the office in the morning"
    first = segments(text)[0][0]
    assert first.split()[-1].lower() not in {"the", "to", "with", "in", "a"}
    assert 4 <= len(first.split()) <= 9


def test_nothing_is_lost_or_reordered() -> None:
    text = (
        "Sure! I've dimmed the bedroom lights to 30% and switched them to a warm white. "
        "Ok. I also noticed that the hallway light is still on, so you might want me to turn it off. Done"
    )
    joined = " ".join(t for t, _ in segments(text))
    assert joined.split() == text.split()


def test_short_later_sentences_wait_for_company() -> None:
    result = segments("The first sentence is here. Ok. And then another one follows.")
    assert result[1][0] == "Ok. And then another one follows."


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_streaming_fragments_give_the_same_segments(step: int) -> None:
    text = "Currently it's 18°C in Berlin, with winds of 12 km/h. Expect a high of 23.5°C later today."
    segmenter = TextSegmenter()
    streamed = []
    for index in range(0, len(text), step):
        streamed += segmenter.feed(text[index : index + step])
    streamed += segmenter.flush()
    assert [(s.text, s.boundary) for s in streamed] == segments(text)


def test_streaming_waits_for_whitespace_after_a_period() -> None:
    segmenter = TextSegmenter()
    assert segmenter.feed("It is now 21.") == []  # could be "21.5"
    assert segmenter.feed("5 degrees inside. ")[0].text == "It is now 21.5 degrees inside."


def test_sentence_is_released_as_soon_as_its_end_is_known() -> None:
    segmenter = TextSegmenter()
    segmenter.feed("Turned on the kitchen lights.")
    out = segmenter.feed(" ")
    assert [s.text for s in out] == ["Turned on the kitchen lights."]


def test_peek_guesses_the_next_segment_without_taking_it() -> None:
    segmenter = TextSegmenter()
    assert segmenter.feed("It is now 21.") == []
    guess = segmenter.peek()
    assert guess is not None and (guess.text, guess.boundary) == ("It is now 21.", "sentence")
    assert segmenter.emitted == 0
    # The guess was wrong ("21.5"): nothing of it was taken, the real cut comes as before.
    assert segmenter.feed("5 degrees inside. ")[0].text == "It is now 21.5 degrees inside."
    assert segmenter.emitted == 1


@pytest.mark.parametrize(
    "text",
    [
        "Turned on the kitch",  # mid-word: most likely goes on
        "Turned on the kitchen lights ",  # whitespace: any cut would already have been made
        "Please call Dr.",  # a title never ends a sentence
        "Yes.",  # too short for a first segment
        "",
    ],
)
def test_peek_has_no_guess(text: str) -> None:
    segmenter = TextSegmenter()
    segmenter.feed(text)
    assert segmenter.peek() is None


def test_line_breaks_end_segments() -> None:
    result = segments("Shopping list:\n- milk\n- eggs and bread\n")
    assert [t for t, _ in result] == ["Shopping list:", "- milk", "- eggs and bread"]


def test_split_phonemes_prefers_sentence_then_clause_then_space() -> None:
    assert split_phonemes("abc def. ghi jkl", 12) == ("abc def.", "ghi jkl")
    assert split_phonemes("abc, def ghi jkl", 12) == ("abc,", "def ghi jkl")
    assert split_phonemes("abc def ghi jkl", 12) == ("abc def ghi", "jkl")
    assert split_phonemes("abcdefghijkl", 5) == ("abcde", "fghijkl")
    assert split_phonemes("short", 510) == ("short", "")


@pytest.mark.parametrize(
    ("phonemes", "budget", "head"),
    [
        # "... to thirty percent and switched them to a warm | white": the last space splits a phrase.
        (
            "tə θˈɜɹTi pəɹsˈɛnt ænd swˈɪʧt ðˌɛm tə ɐ wˈɔɹm wˈIt, wˌɪʧ ʃˌʊd hˈɛlp",
            45,
            "tə θˈɜɹTi pəɹsˈɛnt ænd swˈɪʧt",
        ),
        # "and the front door is | locked." never right after a function word.
        ("ænd ðə fɹˈʌnt dˈɔɹ ɪz lˈɑkt.", 24, "ænd ðə fɹˈʌnt dˈɔɹ"),
        # Best before a conjunction: "the lights are on in the kitchen | and the hall".
        ("ðə lˈIts ɑɹ ˌɔn ɪn ðə kˈɪʧᵊn ænd ðə hˈɔl ɪz dˈɑɹk", 40, "ðə lˈIts ɑɹ ˌɔn ɪn ðə kˈɪʧᵊn"),
        # ... but not one that leaves less than half the budget: the last content word's space.
        ("ɡˈʊd ænd wˈɔɹm bɹˈIt sˈʌni dˈA tədˈA", 30, "ɡˈʊd ænd wˈɔɹm bɹˈIt sˈʌni"),
        # Only function words to cut after: the last space, as before.
        ("ɪt ɪz ɪn ðə ʌv ɪt ɪz ɪn ðə ʌv ɪt ɪz", 20, "ɪt ɪz ɪn ðə ʌv ɪt"),
    ],
)
def test_split_phonemes_cuts_between_phrases(phonemes: str, budget: int, head: str) -> None:
    first, rest = split_phonemes(phonemes, budget)
    assert first == head
    assert len(first) <= budget
    assert f"{first} {rest}" == phonemes


def test_phoneme_word_lists_follow_the_text_ones() -> None:
    from wyoming_kokoro.text.frontend import TextFrontend
    from wyoming_kokoro.text.packing import PHONEME_CONJUNCTIONS, PHONEME_FUNCTION_WORDS, bare_phonemes
    from wyoming_kokoro.text.segmenter import CONJUNCTIONS, FUNCTION_WORDS

    frontend = TextFrontend()

    def spelled(word: str) -> str:  # a word as misaki says it between two content words
        said = frontend.phonemize(f"Bob went {word} home.", "en-us").split(" ")
        assert len(said) == 4, said
        return bare_phonemes(said[2])

    assert {spelled(w) for w in CONJUNCTIONS} <= PHONEME_CONJUNCTIONS
    assert {spelled(w) for w in FUNCTION_WORDS} <= PHONEME_FUNCTION_WORDS


def test_long_text_is_split_within_the_window_and_nothing_is_lost() -> None:
    words = [f"wɜɹd{i}" + ("," if i % 7 == 0 else "") for i in range(400)]
    units = deque([PhonemeUnit(" ".join(words), "end")])
    pieces = []
    while (piece := take_piece(units, 150)) is not None:
        assert len(piece.phonemes) <= 150
        pieces.append(piece.phonemes)
    assert " ".join(pieces).split() == words


def test_take_piece_merges_ready_units_within_budget() -> None:
    units = deque(
        [
            PhonemeUnit("ə" * 20 + ".", "sentence"),
            PhonemeUnit("b" * 30 + ".", "sentence"),
            PhonemeUnit("c" * 200, "end"),
        ]
    )
    piece = take_piece(units, 100)
    assert piece is not None and piece.phonemes.count(".") == 2 and piece.boundary == "sentence"
    assert len(units) == 1


def test_a_budget_cut_leaves_no_scrap() -> None:
    # "and the time is 7:05 AM." with 30 tokens to spare: cut at the last space, "AM." would be a
    # piece of its own (seen in the benchmark); the cut moves earlier instead.
    unit = "ænd ðə tˈIm ɪz sˈɛvən ˈO fˈIv ˌAˈɛm."
    units = deque([PhonemeUnit(unit, "sentence")])
    first = take_piece(units, 30)
    assert first is not None and len(units) == 1
    assert len(units[0].phonemes) >= MIN_REST_TOKENS
    assert f"{first.phonemes} {units[0].phonemes}" == unit


def test_a_unit_too_short_to_split_without_a_scrap_is_taken_whole() -> None:
    unit = "ðə ɡˈɛɹɪʤ dˈɔɹ ɪz klˈOzd."  # 25 tokens: any cut leaves a piece under 15
    units = deque([PhonemeUnit(unit, "sentence")])
    piece = take_piece(units, 24)
    assert piece is not None and piece.phonemes == unit and not units


@pytest.mark.parametrize(
    ("phonemes", "boundary"),
    [("ab.", "sentence"), ("ab?”", "sentence"), ("ab,", "clause"), ("ab", "word"), ("", "word")],
)
def test_boundary_of(phonemes: str, boundary: str) -> None:
    assert boundary_of(phonemes) == boundary


@pytest.mark.parametrize(
    ("speed", "limit"),
    [(2.0, MAX_PIECE_TOKENS), (1.0, MAX_PIECE_TOKENS), (0.75, 112), (0.5, 75), (0.01, MIN_BUDGET_TOKENS)],
)
def test_slower_speech_gets_shorter_pieces(speed: float, limit: int) -> None:
    """A piece's frames (its audio, and its inference's memory) stay about the same at any speed."""
    assert piece_token_limit(speed) == limit
