"""The command line as a user runs it: real subprocesses, real assets, clear errors and exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from wyoming_kokoro.config import Config


def run_cli(
    *args: str, cache_dir: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, with no KOKORO_* variables but those in ``env``."""
    clean = {name: value for name, value in os.environ.items() if not name.upper().startswith("KOKORO_")}
    env = {**clean, "WYOMING_KOKORO_CACHE": str(cache_dir), "ORT_DISABLE_TELEMETRY": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "wyoming_kokoro", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=600,
        check=False,
    )


def test_synth_writes_a_wav_from_text_and_stdin(tmp_path: Path, config: Config) -> None:
    out = tmp_path / "x.wav"
    result = run_cli(
        "synth",
        "Turned on the kitchen lights.",
        "-o",
        str(out),
        "--voice",
        "af_heart",
        "--speed",
        "1.0",
        cache_dir=config.resolved_cache_dir(),
    )
    assert result.returncode == 0, result.stderr
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (24000, 2, 1)
        assert 0.8 < wav.getnframes() / 24000 < 4.0
    assert "Wrote" in result.stdout

    piped = tmp_path / "stdin.wav"
    result = run_cli("synth", "-o", str(piped), cache_dir=config.resolved_cache_dir(), stdin="Good night.")
    assert result.returncode == 0, result.stderr
    assert piped.stat().st_size > 10_000


def test_voices_lists_language_and_gender(config: Config) -> None:
    result = run_cli("voices", cache_dir=config.resolved_cache_dir())
    assert result.returncode == 0, result.stderr
    assert "af_heart         en-US     female  Heart — American English, female" in result.stdout
    assert "bm_george        en-GB     male" in result.stdout


def test_assets_reports_verified_files(config: Config) -> None:
    result = run_cli("assets", cache_dir=config.resolved_cache_dir())
    assert result.returncode == 0, result.stderr
    assert "model    ok" in result.stdout and "voices   ok" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--device", "gpu"), 2, "device: 'gpu' is not allowed"),
        (
            ("synth", "hi", "-o", "/tmp/never.wav", "--speed", "9"),
            2,
            "speed: Input should be less than or equal to 2",
        ),
        (("synth", "   ", "-o", "/tmp/never.wav"), 1, "Nothing to say"),
        (
            ("synth", "-f", "/nonexistent/text.txt", "-o", "/tmp/never.wav"),
            1,
            "Cannot read /nonexistent/text.txt",
        ),
        (("--config", "/nonexistent/config.yaml"), 2, "Config file not found: /nonexistent/config.yaml"),
    ],
)
def test_user_errors_are_one_line_not_tracebacks(
    args: tuple[str, ...], code: int, message: str, config: Config
) -> None:
    result = run_cli(*args, cache_dir=config.resolved_cache_dir())
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_model_names_the_file(tmp_path: Path, config: Config) -> None:
    bad = tmp_path / "kokoro-v1.0.onnx"
    bad.write_bytes(b"\x08\x07" + os.urandom(2_000_000))
    result = run_cli(
        "synth",
        "hi",
        "-o",
        str(tmp_path / "o.wav"),
        "--model",
        str(bad),
        cache_dir=config.resolved_cache_dir(),
    )
    assert result.returncode == 1
    assert str(bad) in result.stderr and "not a usable ONNX model" in result.stderr
    assert "Traceback" not in result.stderr


def test_truncated_model_and_missing_voices(tmp_path: Path, config: Config) -> None:
    small = tmp_path / "tiny.onnx"
    small.write_bytes(b"\x08\x07abc")
    result = run_cli(
        "synth",
        "hi",
        "-o",
        str(tmp_path / "o.wav"),
        "--model",
        str(small),
        cache_dir=config.resolved_cache_dir(),
    )
    assert result.returncode == 1 and str(small) in result.stderr
    missing = tmp_path / "voices-v1.0.bin"
    result = run_cli("voices", "--voices", str(missing), cache_dir=config.resolved_cache_dir())
    assert result.returncode == 1 and str(missing) in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_logging_reports_provider_and_node_placement(tmp_path: Path, config: Config) -> None:
    result = run_cli(
        "synth", "Hi.", "-o", str(tmp_path / "o.wav"), "--debug", cache_dir=config.resolved_cache_dir()
    )
    assert result.returncode == 0, result.stderr
    assert "Using CPU" in result.stderr
    # The int8 model's quantized operators show up as run by the CPU provider (its convs as
    # MatMulIntegerToFloat where the model was rearranged for this CPU's integer kernels).
    placement = r"CPUExecutionProvider ran \d+ nodes: .*(ConvInteger|MatMulInteger(ToFloat)?)×\d+"
    assert re.search(placement, result.stderr)


def test_espeak_language_switch_warnings_stay_out_of_the_log(tmp_path: Path, config: Config) -> None:
    """phonemizer warns about language switches (English words in French text) on every espeak
    call and on every espeak backend misaki makes at start-up: noise in a Home Assistant log,
    nothing a user can act on. Even at debug level they are kept out."""
    result = run_cli(
        "synth",
        "Le weekend, je regarde Netflix.",
        "--voice",
        "ff_siwis",
        "-o",
        str(tmp_path / "fr.wav"),
        "--debug",
        cache_dir=config.resolved_cache_dir(),
    )
    assert result.returncode == 0, result.stderr
    assert "Using CPU" in result.stderr  # the log is there
    assert "phonemizer" not in result.stderr


def test_serve_flags_become_config_overrides() -> None:
    from wyoming_kokoro.cli import build_parser, config_overrides

    args = build_parser("serve").parse_args(
        ["--release-memory", "--no-split-first-piece", "--phrase-cache-size", "0", "--threads", "2"]
    )
    assert config_overrides(args) == {
        "release_memory": True,
        "split_first_piece": False,
        "phrase_cache_size": 0,
        "threads": 2,
    }
    # Absent flags leave the file's values.
    assert config_overrides(build_parser("serve").parse_args([])) == {}


def test_environment_variables_and_config_file_variable_reach_the_cli(tmp_path: Path, config: Config) -> None:
    """`voices` prints the default voice: the file's, or KOKORO_VOICE's."""
    file = tmp_path / "config.yaml"
    file.write_text("voice: am_adam\n")
    env = {"KOKORO_CONFIG": str(file)}
    result = run_cli("voices", cache_dir=config.resolved_cache_dir(), env=env)
    assert result.returncode == 0, result.stderr
    assert "default am_adam" in result.stdout
    result = run_cli("voices", cache_dir=config.resolved_cache_dir(), env={**env, "KOKORO_VOICE": "bf_emma"})
    assert "default bf_emma" in result.stdout
    # A flag is not taken for a longer one: `voices --voice` is an error, not `--voices`.
    result = run_cli("voices", "--voice", "af_sky", cache_dir=config.resolved_cache_dir())
    assert result.returncode == 2
    assert "unrecognized arguments: --voice af_sky" in result.stderr

    result = run_cli("voices", cache_dir=config.resolved_cache_dir(), env={"KOKORO_SPEEED": "1"})
    assert result.returncode == 2
    assert "Unknown environment variable KOKORO_SPEEED" in result.stderr
    result = run_cli(
        "voices", cache_dir=config.resolved_cache_dir(), env={"KOKORO_CONFIG": str(tmp_path / "no")}
    )
    assert result.returncode == 2
    assert f"Config file not found: {tmp_path / 'no'}" in result.stderr


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    """``wyoming-kokoro --help`` is where a user looks first: it names each subcommand, and each
    subcommand's own --help works."""
    from wyoming_kokoro.cli import COMMANDS

    result = run_cli("--help", cache_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        if command != "serve":
            assert f"wyoming-kokoro {command}" in result.stdout, command
            own = run_cli(command, "--help", cache_dir=tmp_path)
            assert own.returncode == 0 and "usage: wyoming-kokoro" in own.stdout, (command, own.stderr)


def test_wyoming_piper_flags_are_accepted() -> None:
    """Flags users carry over from wyoming-piper mean the same here."""
    from wyoming_kokoro.cli import build_parser, config_overrides

    parse = build_parser("serve").parse_args
    assert config_overrides(parse(["--zeroconf"])) == {"zeroconf": {"enabled": True}}
    assert config_overrides(parse(["--zeroconf", "Kitchen"])) == {
        "zeroconf": {"enabled": True, "name": "Kitchen"}
    }
    assert config_overrides(parse(["--no-zeroconf"])) == {"zeroconf": {"enabled": False}}
    assert config_overrides(parse(["--data-dir", "/data"])) == {"cache_dir": "/data"}
    assert config_overrides(parse(["--log-format", "%(levelname)s %(message)s"])) == {
        "log_format": "%(levelname)s %(message)s"
    }
    with pytest.raises(SystemExit):
        parse(["--zeroconf", "--no-zeroconf"])


def test_log_format_shapes_every_line_and_a_bad_one_is_refused(tmp_path: Path, config: Config) -> None:
    out = tmp_path / "x.wav"
    args = ("synth", "Hi.", "-o", str(out), "--debug")
    cache = config.resolved_cache_dir()
    result = run_cli(*args, "--log-format", "KOKORO|%(levelname)s|%(message)s", cache_dir=cache)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("KOKORO|") for line in lines), lines[:5]
    assert any(line.startswith("KOKORO|INFO|Using CPU") for line in lines), lines[:5]
    bad = run_cli(*args, "--log-format", "%(nosuchfield", cache_dir=cache)
    assert bad.returncode != 0 and "log_format" in bad.stderr and "Traceback" not in bad.stderr
