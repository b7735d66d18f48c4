"""Shared fixtures: the real engine (model, voices, G2P) loaded once per test session.

Assets come from the same cache that ``script/setup`` fills (``wyoming-kokoro fetch``), so the test
suite never fetches anything it did not verify, and loads the engine once: start-up costs seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from wyoming_kokoro.assets import default_cache_dir
from wyoming_kokoro.config import Config, load_config
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.engine.loader import load_engine


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return default_cache_dir()


@pytest.fixture(scope="session")
def config(cache_dir: Path) -> Config:
    return load_config(
        None,
        {
            "cache_dir": str(cache_dir),
            "device": "cpu",
            "zeroconf": {"enabled": False},
            # Tests measure real synthesis; the phrase cache is tested on its own engine config.
            "phrase_cache_size": 0,
            # Words no other test says: a respelling and phonemes (tests of pronunciations).
            "pronunciations": {"gizmo": "widget", "Kokoro": "/kˈOkəɹO/"},
            "presets": {
                "warm_mix": {"voice": "af_heart:0.6+af_bella:0.4"},
                "quick_heart": {"voice": "af_heart", "speed": 1.5},
                "spaced_heart": {"voice": "af_heart", "sentence_silence": 0.7, "trailing_silence": 0.8},
            },
        },
    )


@pytest.fixture(scope="session")
def engine(config: Config) -> Iterator[KokoroEngine]:
    loaded = load_engine(config)
    yield loaded
    loaded.shutdown()
