"""Config validation: the documented file equals the defaults, and bad values name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from wyoming_kokoro.config import Config, ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]


def test_documented_config_is_exactly_the_defaults() -> None:
    assert load_config(REPO / "config" / "config.yaml") == Config()


def test_every_key_is_documented() -> None:
    text = (REPO / "config" / "config.yaml").read_text()

    def keys(model: type, prefix: str = "") -> list[str]:
        found = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            found.append(name)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                found += keys(annotation)
        return found

    for key in keys(Config):
        assert f"{key}:" in text, key


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"device": "gpu"}, "device: 'gpu' is not allowed; use one of 'auto', 'cuda' or 'cpu'"),
        ({"speed": 3}, "speed: Input should be less than or equal to 2"),
        ({"speed": 0.1}, "speed: Input should be greater than or equal to 0.5"),
        ({"threads": 0}, "threads: Value error, must be 'auto' or a whole number of at least 1"),
        ({"zeroconf": {"enbled": True}}, "zeroconf.enbled: unknown key (allowed here: enabled, name, host)"),
        ({"colour": "blue"}, "colour: unknown key (allowed here: uri,"),
        ({"uri": "http://x:1"}, "uri: Value error, must start with tcp://, unix:// or stdio://"),
        ({"log_level": "loud"}, "log_level: 'loud' is not allowed"),
        ({"language_voices": {"de": "x"}}, "unknown language de"),
        ({"limits": {"max_connections": 0}}, "limits.max_connections"),
        ({"http": {"uri": "http://0.0.0.0:8880"}}, "http.uri: Value error, must look like tcp://HOST:PORT"),
        ({"http": {"uri": "tcp://0.0.0.0"}}, "http.uri: Value error, must look like tcp://HOST:PORT"),
    ],
)
def test_bad_values_name_the_key(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    assert message in str(info.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"Config file not found: .*nope\.yaml"):
        load_config(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("uri: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml is not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar)
    bad = tmp_path / "bad.yaml"
    bad.write_text("device: tpu\n")
    with pytest.raises(ConfigError, match=r"Invalid configuration in .*bad.yaml"):
        load_config(bad)


def test_flags_override_file_and_merge_sections(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("voice: am_adam\nzeroconf:\n  name: Kitchen\nspeed: 1.2\n")
    config = load_config(path, {"speed": 0.9, "zeroconf": {"enabled": False}})
    assert config.voice == "am_adam"
    assert config.speed == 0.9
    assert config.zeroconf.name == "Kitchen"
    assert config.zeroconf.enabled is False


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n")
    assert load_config(path) == Config()


def test_language_voices_keep_defaults_for_unlisted_languages() -> None:
    config = load_config(None, {"language_voices": {"en-gb": "bm_george"}})
    assert config.language_voices["en-gb"] == "bm_george"
    assert config.language_voices["en-us"] == "af_heart"


def test_cache_dir_and_threads_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WYOMING_KOKORO_CACHE", str(tmp_path / "c"))
    assert Config().resolved_cache_dir() == tmp_path / "c"
    assert Config(cache_dir=str(tmp_path / "d")).resolved_cache_dir() == tmp_path / "d"
    assert Config(threads=3).resolved_threads() == 3
    assert Config().resolved_threads() >= 1


# ---------------------------------------------------------------------------------- environment


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No KOKORO_* variables from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("KOKORO_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_key_is_settable_from_the_environment(clean_environment: pytest.MonkeyPatch) -> None:
    env = {
        "KOKORO_URI": "tcp://127.0.0.1:10300",
        "KOKORO_ZEROCONF__ENABLED": "false",
        "KOKORO_ZEROCONF__NAME": "Kokoro in the attic",
        "KOKORO_ZEROCONF__HOST": "192.168.1.5",
        "KOKORO_HTTP__URI": "tcp://0.0.0.0:8880",
        "KOKORO_HTTP__API_KEY": "s3cret",
        "KOKORO_HTTP__CORS_ORIGINS": '["https://chat.example"]',
        "KOKORO_MODEL": "/models/kokoro.onnx",
        "KOKORO_VOICES": "/models/voices.bin",
        "KOKORO_DEVICE": "cpu",
        "KOKORO_THREADS": "3",
        "KOKORO_VOICE": "bf_emma",
        "KOKORO_LANGUAGE_VOICES__FR": "ff_siwis",
        "KOKORO_SPEED": "1.25",
        "KOKORO_SENTENCE_SILENCE": "0.2",
        "KOKORO_TRAILING_SILENCE": "0.5",
        "KOKORO_PRESETS": '{"quick": {"voice": "af_heart", "speed": 1.2}}',
        "KOKORO_PRONUNCIATIONS__KOKORO": "/kˈOkəɹO/",
        "KOKORO_BLENDS": '{"duet": "af_heart:0.5+am_adam:0.5"}',
        "KOKORO_PHRASE_CACHE_SIZE": "0",
        "KOKORO_RELEASE_MEMORY": "yes",
        "KOKORO_SPLIT_FIRST_PIECE": "0",
        "KOKORO_CACHE_DIR": "/cache",
        "KOKORO_LOG_LEVEL": "debug",
        "KOKORO_LOG_FORMAT": "%(levelname)s %(message)s",
        "KOKORO_LIMITS__MAX_CONNECTIONS": "4",
        "KOKORO_LIMITS__MAX_CONNECTIONS_PER_CLIENT": "2",
        "KOKORO_LIMITS__FIRST_EVENT_TIMEOUT": "5",
        "KOKORO_LIMITS__IDLE_TIMEOUT": "60",
        "KOKORO_LIMITS__MAX_TEXT_CHARS": "5000",
        "KOKORO_LIMITS__MAX_QUEUED_PIECES": "100",
    }
    for name, value in env.items():
        clean_environment.setenv(name, value)
    config = load_config(None, None, environment=True)
    assert config.model_dump() == {
        "uri": "tcp://127.0.0.1:10300",
        "zeroconf": {"enabled": False, "name": "Kokoro in the attic", "host": "192.168.1.5"},
        "http": {"uri": "tcp://0.0.0.0:8880", "api_key": "s3cret", "cors_origins": ["https://chat.example"]},
        "model": "/models/kokoro.onnx",
        "voices": "/models/voices.bin",
        "device": "cpu",
        "threads": 3,
        "voice": "bf_emma",
        "language_voices": Config().language_voices,
        "speed": 1.25,
        "sentence_silence": 0.2,
        "trailing_silence": 0.5,
        "presets": {
            "quick": {
                "voice": "af_heart",
                "speed": 1.2,
                "sentence_silence": None,
                "trailing_silence": None,
                "description": None,
            }
        },
        "pronunciations": {"kokoro": "/kˈOkəɹO/"},
        "blends": {"duet": "af_heart:0.5+am_adam:0.5"},
        "phrase_cache_size": 0,
        "release_memory": True,
        "split_first_piece": False,
        "cache_dir": "/cache",
        "log_level": "debug",
        "log_format": "%(levelname)s %(message)s",
        "limits": {
            "max_connections": 4,
            "max_connections_per_client": 2,
            "first_event_timeout": 5.0,
            "idle_timeout": 60.0,
            "max_text_chars": 5000,
            "max_queued_pieces": 100,
        },
    }
    # Every key of the model was set above: a new key must be added here (and so be checked).
    assert set(config.model_dump()) == {name.removeprefix("KOKORO_").split("__")[0].lower() for name in env}


def test_environment_sits_between_file_and_flags(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("voice: am_adam\nspeed: 0.9\nhttp:\n  uri: tcp://0.0.0.0:8880\n")
    clean_environment.setenv("KOKORO_SPEED", "1.1")
    clean_environment.setenv("KOKORO_VOICE", "bf_emma")
    clean_environment.setenv("KOKORO_HTTP__API_KEY", "k")
    clean_environment.setenv("KOKORO_BLENDS__DUET", "af_heart:0.5+am_adam:0.5")
    clean_environment.setenv("KOKORO_ZEROCONF__NAME", "")  # empty: left to the file and defaults
    config = load_config(path, {"voice": "af_sky"}, environment=True)
    assert (config.voice, config.speed) == ("af_sky", 1.1)
    assert (config.http.uri, config.http.api_key) == ("tcp://0.0.0.0:8880", "k")
    assert config.blends == {"duet": "af_heart:0.5+am_adam:0.5"}
    assert config.zeroconf.name is None
    # Without environment=True (library use, tests) nothing is read from the environment.
    assert load_config(path).speed == 0.9


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KOKORO_SPEED", "fast", "speed (from KOKORO_SPEED): Input should be a valid number"),
        ("KOKORO_DEVICE", "gpu", "device (from KOKORO_DEVICE): 'gpu' is not allowed"),
        ("KOKORO_HTTP__URI", "8880", "http.uri (from KOKORO_HTTP__URI): Value error, must look like tcp://"),
        ("KOKORO_VIOCE", "bf_emma", "Unknown environment variable KOKORO_VIOCE (allowed: KOKORO_CONFIG,"),
        ("KOKORO_HTTP__KEY", "k", "Unknown environment variable KOKORO_HTTP__KEY"),
        ("KOKORO_BLENDS", "duet=af_heart", 'error parsing value for field "blends"'),
    ],
)
def test_bad_environment_names_the_variable(
    clean_environment: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    clean_environment.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_config(None, None, environment=True)
    assert message in str(info.value)


def test_presets_and_blends_are_named_voices() -> None:
    config = load_config(
        None,
        {
            "presets": {"quick": {"voice": "af_heart", "speed": 1.2, "trailing_silence": 0.5}},
            "blends": {"duet": "af_heart:0.5+am_adam:0.5"},
        },
    )
    named = config.named_voices()
    assert named["quick"].speed == 1.2 and named["quick"].trailing_silence == 0.5
    assert named["duet"].voice == "af_heart:0.5+am_adam:0.5" and named["duet"].speed is None
    with pytest.raises(ConfigError, match="duet is both a preset and a blend"):
        load_config(None, {"presets": {"duet": {"voice": "af_heart"}}, "blends": {"duet": "af_bella"}})
    with pytest.raises(ConfigError, match="speed"):
        load_config(None, {"presets": {"fast": {"voice": "af_heart", "speed": 3}}})
    with pytest.raises(ConfigError, match="voice"):
        load_config(None, {"presets": {"nothing": {"speed": 1.1}}})
    with pytest.raises(ConfigError, match="trailing_silence"):
        load_config(None, {"trailing_silence": -1})


def test_a_bad_pronunciation_stops_the_start_naming_the_entry() -> None:
    with pytest.raises(
        ConfigError, match=r"'gizmo': /wɪ\$ʤət/ has symbols outside the model's phoneme set: \$"
    ):
        load_config(None, {"pronunciations": {"gizmo": "/wɪ$ʤət/"}})
    with pytest.raises(ConfigError, match="'gizmo' has no pronunciation"):
        load_config(None, {"pronunciations": {"gizmo": ""}})
