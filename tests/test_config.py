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
