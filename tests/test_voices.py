"""Voice catalog and blends (unit level; the real voices are exercised in test_engine.py)."""

from __future__ import annotations

import numpy as np
import pytest

from wyoming_kokoro.voices import VoiceError, VoiceLibrary, describe_voice, parse_blend


def table(value: float) -> np.ndarray:
    return np.full((510, 1, 256), value, dtype=np.float32)


@pytest.mark.parametrize(
    ("name", "tag", "gender", "description"),
    [
        ("af_heart", "en-US", "female", "Heart — American English, female"),
        ("bm_george", "en-GB", "male", "George — British English, male"),
        ("pf_dora", "pt-BR", "female", "Dora — Brazilian Portuguese, female"),
        ("jf_alpha", "ja", "female", "Alpha — Japanese, female"),
        ("zm_yunxi", "zh", "male", "Yunxi — Mandarin Chinese, male"),
        ("ff_siwis", "fr", "female", "Siwis — French, female"),
        ("my_voice", "en-US", None, "my_voice — American English"),
    ],
)
def test_describe_voice(name: str, tag: str, gender: str | None, description: str) -> None:
    info = describe_voice(name)
    assert (info.language_tag, info.gender, info.description) == (tag, gender, description)


def test_parse_blend_normalizes_weights() -> None:
    assert parse_blend("af_heart:0.6+af_bella:0.4") == [("af_heart", 0.6), ("af_bella", 0.4)]
    assert parse_blend("af_heart:3 + af_bella:1") == [("af_heart", 0.75), ("af_bella", 0.25)]
    assert parse_blend("af_heart+af_bella") == [("af_heart", 0.5), ("af_bella", 0.5)]
    assert parse_blend("af_heart") == [("af_heart", 1.0)]


@pytest.mark.parametrize(
    "bad", ["af_heart:", "af_heart:-1", "a b", "af_heart:0+af_bella:0", "", "+", "x:1:2"]
)
def test_bad_blends_are_rejected(bad: str) -> None:
    with pytest.raises(VoiceError):
        parse_blend(bad)


def test_library_resolves_voices_blends_and_named_blends() -> None:
    library = VoiceLibrary(
        {"af_heart": table(1.0), "af_bella": table(3.0), "jf_alpha": table(5.0)},
        blends={"mix": "af_heart:0.5+af_bella:0.5"},
        languages={"en-us"},
    )
    assert library.names == ["af_bella", "af_heart"]  # no Japanese G2P → no Japanese voice
    assert float(library.resolve("af_heart").table[0, 0, 0]) == 1.0
    assert float(library.resolve("mix").table[9, 0, 5]) == pytest.approx(2.0)
    assert float(library.resolve("af_heart:1+af_bella:3").table[0, 0, 0]) == pytest.approx(2.5)
    names = [info.name for info in library.catalog()]
    assert names == ["af_bella", "af_heart", "mix"]
    mix = library.catalog()[-1]
    assert mix.blend == "af_heart:0.5+af_bella:0.5" and mix.language_tag == "en-US"
    with pytest.raises(VoiceError, match="Unknown voice jf_alpha"):
        library.resolve("jf_alpha")
    with pytest.raises(VoiceError, match="Unknown voice nope"):
        library.resolve("af_heart:0.5+nope:0.5")


def test_bad_named_blend_fails_at_start() -> None:
    with pytest.raises(VoiceError, match="Unknown voice"):
        VoiceLibrary({"af_heart": table(1.0)}, blends={"mix": "af_heart+ghost"})
    with pytest.raises(VoiceError, match="already the name of a voice"):
        VoiceLibrary({"af_heart": table(1.0)}, blends={"af_heart": "af_heart"})
