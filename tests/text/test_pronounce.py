"""Pronunciations from the config and inline markup: matching, normalization, G2P (no model)."""

from __future__ import annotations

import pytest

from wyoming_kokoro.text.frontend import TextFrontend, load_vocab
from wyoming_kokoro.text.normalize import normalize_text
from wyoming_kokoro.text.pronounce import (
    Pronunciations,
    pronunciation_problem,
    shield,
    split_markup,
    unshield,
)

ENTRIES = {"kokoro": "/kˈOkəɹO/", "US": "/jˌuˈɛs/", "gizmo": "widget", "New York": "/nuː jɔːk/"}


def test_lower_case_entries_match_any_case_and_capitals_only_as_written() -> None:
    said = Pronunciations(ENTRIES)
    assert said.apply("Kokoro and KOKORO") == "[Kokoro](/kˈOkəɹO/) and [KOKORO](/kˈOkəɹO/)"
    assert said.apply("the US, not us") == "the [US](/jˌuˈɛs/), not us"
    assert said.apply("a Gizmo!") == "a widget!"
    assert said.apply("gizmos and ungizmo") == "gizmos and ungizmo"  # whole words only
    assert said.apply("New  York and new york") == "[New  York](/nuː jɔːk/) and new york"


def test_markup_in_the_text_is_left_as_the_user_wrote_it() -> None:
    text = "[kokoro](/kˈOkO/) or kokoro"
    assert Pronunciations(ENTRIES).apply(text) == "[kokoro](/kˈOkO/) or [kokoro](/kˈOkəɹO/)"
    assert Pronunciations().apply(text) == text


def test_normalizing_keeps_the_markup_and_still_strips_links() -> None:
    text = "Say [Kokoro](/kˈOkəɹO/) at 7:05, see [docs](https://example.com)."
    for language in ("en-us", "fr"):
        normalized = normalize_text(text, language)
        assert "[Kokoro](/kˈOkəɹO/)" in normalized
        assert "https" not in normalized and "docs" in normalized
    assert "seven oh five" in normalize_text(text, "en-us")
    shielded, markups = shield(text)
    assert "[" not in shielded.split(",")[0] and unshield(shielded, markups) == text


def test_split_markup_gives_the_parts_in_order() -> None:
    assert split_markup("Say [Kokoro](/kˈOkəɹO/), please.") == [
        ("Say ", None),
        ("Kokoro", "kˈOkəɹO"),
        (", please.", None),
    ]


@pytest.mark.parametrize(
    ("word", "value", "problem"),
    [
        ("kokoro", "/kˈOkəɹO/", None),
        ("gizmo", "widget", None),
        ("", "widget", "the word is empty"),
        ("gizmo", " ", "'gizmo' has no pronunciation"),
        ("gizmo", "//", "'gizmo' has no pronunciation"),
        ("gizmo", "/wɪ$ʤ@t/", "symbols outside the model's phoneme set: $ @"),
        ("gizmo", "[widget](x)", "a respelling is plain text"),
    ],
)
def test_bad_entries_are_named(word: str, value: str, problem: str | None) -> None:
    found = pronunciation_problem(word, value, load_vocab())
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    return TextFrontend(["en-us", "es"], ENTRIES)


def test_the_front_end_says_entries_and_markup_as_given(frontend: TextFrontend) -> None:
    assert frontend.phonemize("Kokoro speaks.", "en-us").startswith("kˈOkəɹO ")
    assert frontend.phonemize("Hand me the gizmo, please.", "en-us") == frontend.phonemize(
        "Hand me the widget, please.", "en-us"
    )
    marked = frontend.phonemize("Say [tomato](/təmˈɑːtoʊ/), not tomato.", "en-us")
    assert marked.startswith("sˈA təmˈɑːtoʊ, ") and marked.count("təmˈɑːtoʊ") == 1
    assert "kˈOkəɹO" in frontend.phonemize("Hola, Kokoro.", "es")  # espeak languages too
    plain = frontend.phonemize("Turned on the kitchen lights.", "en-us")
    assert plain == TextFrontend(["en-us"]).phonemize("Turned on the kitchen lights.", "en-us")
