"""The Home Assistant add-on agrees with the server it wraps.

Its options schema is held to our config schema (every option maps to a real key, every listed
voice ships, bounds and defaults match), and the one piece of logic it has, kokoro-options.py, is run
for real on sample options.json files: the config it writes is loaded with the server's own
``load_config``, so a mapping the server would reject fails here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from wyoming_kokoro import __version__
from wyoming_kokoro.config import DEFAULT_PORT, Config, load_config

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addon"
OPTIONS_SCRIPT = ADDON / "rootfs" / "usr" / "local" / "bin" / "kokoro-options.py"
S6 = ADDON / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"
VOICE_HASHES = ROOT / "wyoming_kokoro" / "data" / "voices-sha256.json"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def addon_config() -> dict[str, Any]:
    return dict(_yaml(ADDON / "config.yaml"))


@pytest.fixture(scope="module")
def options_module() -> ModuleType:
    """kokoro-options.py imported as a module, to read its option table."""
    spec = importlib.util.spec_from_file_location("kokoro_options", OPTIONS_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _choices(schema: str) -> list[str]:
    match = re.fullmatch(r"list\((.*)\)\??", schema.strip())
    assert match, f"not a list(...) schema: {schema!r}"
    return match.group(1).split("|")


def _bounds(schema: str) -> tuple[float, float]:
    match = re.fullmatch(r"(?:float|int)\(([-0-9.]+),([-0-9.]+)\)\??", schema.strip())
    assert match, f"no (min,max) in schema: {schema!r}"
    return float(match.group(1)), float(match.group(2))


def _field_bounds(name: str) -> tuple[float, float]:
    """(minimum, maximum) of a config key, as pydantic publishes them in the JSON schema."""
    prop = Config.model_json_schema()["properties"][name]
    return float(prop["minimum"]), float(prop["maximum"])


def _run_options(tmp_path: Path, options: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], Path]:
    options_path = tmp_path / "options.json"
    options_path.write_text(json.dumps(options))
    config_out = tmp_path / "run" / "config.yaml"
    result = subprocess.run(
        [
            sys.executable,
            str(OPTIONS_SCRIPT),
            "--options",
            str(options_path),
            "--config-out",
            str(config_out),
            "--print",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, config_out


# --------------------------------------------------------------------------------------------
# Metadata


def test_addon_metadata_follows_home_assistant_conventions(
    addon_config: dict[str, Any], options_module: ModuleType
) -> None:
    options = options_module
    for key in ("name", "version", "slug", "description", "url", "arch", "options", "schema"):
        assert key in addon_config, key
    assert addon_config["discovery"] == ["wyoming"]
    assert addon_config["init"] is False
    assert set(addon_config["arch"]) == {"amd64", "aarch64"}
    # Home Assistant reaches the app over its own network: no host port unless the user maps one.
    assert addon_config["ports"] == {f"{DEFAULT_PORT}/tcp": None, f"{options.OPENAI_PORT}/tcp": None}
    # Prebuilt per-arch images, as the official apps ship (the release workflow builds them).
    assert addon_config["image"] == "ghcr.io/wyoming-kokoro/{arch}-addon-kokoro"
    # Streaming TTS arrived in Home Assistant 2025.7.
    assert addon_config["homeassistant"] == "2025.7.0"
    assert {"type": "share", "read_only": True} in addon_config["map"]
    for picture in ("icon.png", "logo.png"):
        assert (ADDON / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture


def test_build_yaml_has_a_base_per_arch_and_the_package_release(
    addon_config: dict[str, Any],
) -> None:
    build = _yaml(ADDON / "build.yaml")
    assert set(build["build_from"]) == set(addon_config["arch"])
    for arch, image in build["build_from"].items():
        # trixie: Debian's Python 3.13, the Python of Home Assistant's own images.
        assert image == f"ghcr.io/home-assistant/{arch}-base-debian:trixie"
    assert str(build["args"]["WYOMING_KOKORO_VERSION"]) == __version__


def test_changelog_starts_with_the_addon_version(addon_config: dict[str, Any]) -> None:
    headings = re.findall(r"^## (.+)$", (ADDON / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] == str(addon_config["version"])


def test_repository_yaml_names_the_repository() -> None:
    repository = _yaml(ROOT / "repository.yaml")
    assert repository["name"]
    assert repository["url"].startswith("https://")


# --------------------------------------------------------------------------------------------
# Options schema ↔ config schema


def test_every_option_maps_to_a_config_key(addon_config: dict[str, Any], options_module: ModuleType) -> None:
    schema, options = addon_config["schema"], addon_config["options"]
    assert set(schema) == set(options_module.OPTION_KEYS)
    assert set(options) <= set(schema)
    for option, key in options_module.OPTION_KEYS.items():
        section, _, sub = key.partition(".")
        assert section in Config.model_fields, f"option {option} maps to unknown config key {key}"
        if sub:
            annotation = Config.model_fields[section].annotation
            assert sub in annotation.model_fields, f"option {option} maps to unknown config key {key}"  # type: ignore[union-attr]
    # The keys the add-on fixes are real keys too.
    load_config(None, options_module.FIXED_CONFIG)


def test_voice_choices_are_exactly_the_shipped_voices(addon_config: dict[str, Any]) -> None:
    shipped = set(json.loads(VOICE_HASHES.read_text()))
    choices = _choices(addon_config["schema"]["voice"])
    assert len(choices) == len(set(choices)) == len(shipped) == 54
    assert set(choices) == shipped


def test_device_choices_are_config_devices(addon_config: dict[str, Any]) -> None:
    allowed = set(typing.get_args(Config.model_fields["device"].annotation))
    choices = _choices(addon_config["schema"]["device"])
    assert set(choices) <= allowed
    # The add-on image has the CPU onnxruntime only, so it must not offer cuda.
    assert "cuda" not in choices


def test_numeric_bounds_match_config(addon_config: dict[str, Any]) -> None:
    schema = addon_config["schema"]
    assert _bounds(schema["speed"]) == _field_bounds("speed")
    for silence in ("sentence_silence", "trailing_silence"):
        assert _bounds(schema[silence]) == _field_bounds(silence)
        assert _bounds(schema["presets"][0][silence].rstrip("?")) == _field_bounds(silence)
    assert _bounds(schema["presets"][0]["speed"].rstrip("?")) == _field_bounds("speed")
    low, _high = _bounds(schema["threads"])
    assert schema["threads"].endswith("?"), "threads must be optional (absent = auto)"
    with pytest.raises(Exception, match="threads"):
        load_config(None, {"threads": int(low) - 1})
    load_config(None, {"threads": int(low)})


def test_defaults_match_config_defaults(tmp_path: Path, addon_config: dict[str, Any]) -> None:
    """The add-on's default options produce exactly the server's default config.

    Only the keys the add-on fixes on purpose may differ: the listening address and mDNS.
    """
    result, config_out = _run_options(tmp_path, addon_config["options"])
    assert result.returncode == 0, result.stderr
    config = load_config(config_out)
    expected = Config().model_dump()
    expected["uri"] = f"tcp://0.0.0.0:{DEFAULT_PORT}"
    expected["zeroconf"]["enabled"] = False
    assert config.model_dump() == expected


def test_translations_and_docs_cover_every_option(addon_config: dict[str, Any]) -> None:
    translations = _yaml(ADDON / "translations" / "en.yaml")
    assert set(translations["configuration"]) == set(addon_config["schema"])
    for entry in translations["configuration"].values():
        assert entry["name"] and entry["description"]
    assert set(translations["network"]) == set(addon_config["ports"])
    docs = (ADDON / "DOCS.md").read_text()
    documented = set(re.findall(r"^### Option: `([a-z_]+)`$", docs, re.MULTILINE))
    assert documented == set(addon_config["schema"])


# --------------------------------------------------------------------------------------------
# Options → server command


def test_sample_options_become_the_exact_server_command(tmp_path: Path) -> None:
    options = {
        "voice": "bf_emma",
        "speed": 1.25,
        "sentence_silence": 0.25,
        "trailing_silence": 0.5,
        "presets": [
            {"name": "quick_heart", "voice": "af_heart", "speed": 1.2, "description": "Heart, quicker"},
            {"name": "slow_emma", "voice": "bf_emma", "speed": 0.8, "trailing_silence": 1.0},
        ],
        "pronunciations": [{"word": "kokoro", "say": "/kˈOkəɹO/"}, {"word": "Nguyen", "say": "Win"}],
        "blends": [  # the deprecated option: read as presets
            {"name": "warm_narrator", "blend": "af_heart:0.6+af_bella:0.4"},
            {"name": "duo", "blend": "bf_emma+bm_george"},
        ],
        "device": "cpu",
        "threads": 2,
        "release_memory": True,
        "split_first_piece": False,
        "model": "/share/kokoro/kokoro-v1.0.onnx",
        "voices": "/share/kokoro/voices",
        "openai_api": True,
        "openai_api_key": "s3cret",
        "debug_logging": True,
    }
    result, config_out = _run_options(tmp_path, options)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["wyoming-kokoro", "--config", str(config_out)]

    config = load_config(config_out)
    assert config.uri == f"tcp://0.0.0.0:{DEFAULT_PORT}"
    assert config.zeroconf.enabled is False
    assert config.voice == "bf_emma"
    assert config.speed == 1.25
    assert (config.sentence_silence, config.trailing_silence) == (0.25, 0.5)
    assert {name: preset.model_dump(exclude_none=True) for name, preset in config.presets.items()} == {
        "quick_heart": {"voice": "af_heart", "speed": 1.2, "description": "Heart, quicker"},
        "slow_emma": {"voice": "bf_emma", "speed": 0.8, "trailing_silence": 1.0},
        "warm_narrator": {"voice": "af_heart:0.6+af_bella:0.4"},
        "duo": {"voice": "bf_emma+bm_george"},
    }
    assert config.pronunciations == {"kokoro": "/kˈOkəɹO/", "Nguyen": "Win"}
    assert config.blends == {}
    assert "blends are deprecated" in result.stderr
    assert config.device == "cpu"
    assert config.threads == 2
    assert config.release_memory is True
    assert config.split_first_piece is False
    assert (config.model, config.voices) == ("/share/kokoro/kokoro-v1.0.onnx", "/share/kokoro/voices")
    assert (config.http.uri, config.http.api_key) == ("tcp://0.0.0.0:8880", "s3cret")
    assert config.log_level == "debug"


def test_openai_api_off_by_default_and_a_key_without_it_is_refused(tmp_path: Path) -> None:
    result, config_out = _run_options(tmp_path, {"openai_api": False, "model": "", "voices": ""})
    assert result.returncode == 0, result.stderr
    config = load_config(config_out)
    assert (config.http.uri, config.model, config.voices) == (None, "auto", "auto")
    result, _ = _run_options(tmp_path, {"openai_api": False, "openai_api_key": "k"})
    assert result.returncode == 1
    assert "openai_api_key is set but openai_api is off" in result.stderr


def test_missing_threads_means_auto_and_no_debug_means_info(tmp_path: Path) -> None:
    result, config_out = _run_options(
        tmp_path, {"voice": "af_heart", "speed": 1.0, "blends": [], "device": "auto",
                   "debug_logging": False}
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = load_config(config_out)
    assert config.threads == "auto"
    assert config.log_level == "info"


def test_leftover_options_are_ignored_with_a_warning(tmp_path: Path) -> None:
    result, config_out = _run_options(tmp_path, {"voice": "am_adam", "old_option": 3})
    assert result.returncode == 0, result.stderr
    assert "ignoring unknown option(s): old_option" in result.stderr
    assert load_config(config_out).voice == "am_adam"


def test_duplicate_preset_names_are_refused(tmp_path: Path) -> None:
    result, config_out = _run_options(
        tmp_path,
        {"blends": [{"name": "x", "blend": "af_heart"}], "presets": [{"name": "x", "voice": "af_bella"}]},
    )
    assert result.returncode == 1
    assert "preset name 'x' is used twice" in result.stderr
    assert not config_out.exists()


def test_without_print_it_execs_the_server_command(tmp_path: Path) -> None:
    """The s6 run script relies on the exec; a stand-in program on PATH shows what it received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "wyoming-kokoro"
    shim.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n')
    shim.chmod(0o755)
    options_path = tmp_path / "options.json"
    options_path.write_text(json.dumps({"voice": "ff_siwis"}))
    config_out = tmp_path / "config.yaml"
    result = subprocess.run(
        [sys.executable, str(OPTIONS_SCRIPT), "--options", str(options_path),
         "--config-out", str(config_out)],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(shim), "--config", str(config_out)]


# --------------------------------------------------------------------------------------------
# s6-overlay services


def test_s6_services_are_wired(options_module: ModuleType) -> None:
    assert (S6 / "kokoro" / "type").read_text().strip() == "longrun"
    assert (S6 / "discovery" / "type").read_text().strip() == "oneshot"
    assert (S6 / "discovery" / "up").read_text().strip() == "/etc/s6-overlay/s6-rc.d/discovery/run"
    assert (S6 / "kokoro" / "dependencies.d" / "base").exists()
    assert (S6 / "discovery" / "dependencies.d" / "kokoro").exists()
    assert {p.name for p in (S6 / "user" / "contents.d").iterdir()} == {"kokoro", "discovery"}
    for script in (S6 / "kokoro" / "run", S6 / "kokoro" / "finish", S6 / "discovery" / "run"):
        assert script.read_text().startswith("#!/command/with-contenv bashio\n"), script
        assert os.access(script, os.X_OK), script
    assert os.access(OPTIONS_SCRIPT, os.X_OK)
    assert options_module.PORT == DEFAULT_PORT


def test_run_script_hands_the_options_to_kokoro_options() -> None:
    run = (S6 / "kokoro" / "run").read_text()
    assert "exec /usr/local/bin/kokoro-options.py" in run
    assert "--options /data/options.json" in run


def test_discovery_waits_for_a_healthy_server_then_announces_it() -> None:
    text = (S6 / "discovery" / "run").read_text()
    assert f"readonly port={DEFAULT_PORT}" in text
    wait = text.index('until wyoming-kokoro healthcheck --uri "tcp://127.0.0.1:${port}"')
    announce = text.index('bashio::discovery "wyoming"')
    assert wait < announce
    assert 'bashio::var.json uri "tcp://$(hostname):${port}"' in text
