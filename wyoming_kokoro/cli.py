"""Command line: wyoming-kokoro serves by default; subcommands do the one-off jobs.

    wyoming-kokoro [--config FILE] [--uri tcp://0.0.0.0:10210] ...   run the Wyoming server
    wyoming-kokoro synth "text" -o out.wav [--voice af_heart] [--speed 1.0]
    wyoming-kokoro voices                                            list voices
    wyoming-kokoro fetch                                             fetch + verify model and voices
    wyoming-kokoro assets                                            show installed assets
    wyoming-kokoro build-float-model [--precision fp32|fp16]         float model for CUDA
    wyoming-kokoro healthcheck [--uri tcp://127.0.0.1:10210]         describe → info round trip

Every user error ends with one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .config import CONFIG_FILE_ENV, MAX_SPEED, MIN_SPEED, Config, ConfigError, load_config

_LOGGER = logging.getLogger("wyoming_kokoro")

COMMANDS = ("serve", "synth", "voices", "fetch", "assets", "build-float-model", "healthcheck")


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def _config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "configuration (flags override KOKORO_* environment variables, which override the config file)"
    )
    group.add_argument("--config", type=Path, help="YAML config file (see config/config.yaml)")
    group.add_argument("--model", help="model .onnx path, or auto")
    group.add_argument("--voices", help="voices .npz/.bin or folder of .bin, or auto")
    group.add_argument("--device", help="auto, cuda or cpu")
    group.add_argument("--threads", help="ONNX Runtime threads, or auto")
    group.add_argument("--cache-dir", "--data-dir", dest="cache_dir", help="where assets are kept")
    group.add_argument("--log-level", help="debug, info, warning or error")
    group.add_argument("--log-format", help="Python logging format of each line")
    group.add_argument("--debug", action="store_true", help="same as --log-level debug")


def _serve_flags(parser: argparse.ArgumentParser) -> None:
    """The server's own flags (where it listens, how it announces itself, memory and latency)."""
    parser.add_argument("--uri", help="tcp://HOST:PORT, unix://PATH or stdio://")
    announce = parser.add_mutually_exclusive_group()
    announce.add_argument(
        "--zeroconf",
        nargs="?",
        const=True,
        metavar="NAME",
        help="announce over mDNS (the default), optionally as NAME (as wyoming-piper's flag)",
    )
    announce.add_argument("--no-zeroconf", action="store_true", help="do not announce over mDNS")
    parser.add_argument("--zeroconf-name", help="instance name shown in Home Assistant")
    parser.add_argument("--http", help="also serve the OpenAI speech API, e.g. tcp://0.0.0.0:8880")
    parser.add_argument("--phrase-cache-size", type=int, help="cached phrases (0 = off)")
    parser.add_argument(
        "--release-memory",
        action="store_true",
        default=None,
        help="give ONNX Runtime's working memory back after every inference (small boards)",
    )
    parser.add_argument(
        "--no-split-first-piece",
        dest="split_first_piece",
        action="store_false",
        default=None,
        help="send every piece whole (by default a long first piece goes out in two parts on the CPU)",
    )


def build_parser(command: str) -> argparse.ArgumentParser:
    prog = "wyoming-kokoro" if command == "serve" else f"wyoming-kokoro {command}"
    if command == "serve":
        # The server's help also lists the subcommands (the module docstring's table).
        parser = argparse.ArgumentParser(
            prog=prog,
            description=__doc__.split("\n\nEvery user error")[0],
            epilog="Each subcommand has its own --help: wyoming-kokoro synth --help",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
    else:
        parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--version", action="version", version=__version__)
    if command in ("serve", "synth", "voices"):
        _config_flags(parser)
    if command in ("fetch", "assets", "build-float-model"):
        parser.add_argument("--config", type=Path, help="YAML config file")
        parser.add_argument("--cache-dir", "--data-dir", dest="cache_dir", help="where assets are kept")
        parser.add_argument("--model", help="model .onnx path, or auto")
        parser.add_argument("--voices", help="voices .npz/.bin or folder, or auto")
        parser.add_argument("--log-level", default=None)
        parser.add_argument("--debug", action="store_true")
    if command in ("serve", "synth"):
        parser.add_argument("--voice", help="voice name, blend (af_heart:0.6+af_bella:0.4) or named blend")
        parser.add_argument("--speed", type=float, help=f"speaking rate {MIN_SPEED}–{MAX_SPEED}")
    if command == "serve":
        _serve_flags(parser)
    if command == "synth":
        parser.add_argument("text", nargs="?", help="text to speak; '-' or omitted reads stdin")
        parser.add_argument("-f", "--file", type=Path, help="read the text from a file")
        parser.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    if command == "build-float-model":
        parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp32")
        parser.add_argument("--output", type=Path, help="where to write (default: the cache dir)")
    if command == "healthcheck":
        parser.add_argument("--uri", default="tcp://127.0.0.1:10210")
        parser.add_argument("--timeout", type=float, default=5.0)
    return parser


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Flags that were given → nested config overrides."""
    flat = {
        "uri": getattr(args, "uri", None),
        "model": getattr(args, "model", None),
        "voices": getattr(args, "voices", None),
        "device": getattr(args, "device", None),
        "cache_dir": getattr(args, "cache_dir", None),
        "voice": getattr(args, "voice", None),
        "speed": getattr(args, "speed", None),
        "phrase_cache_size": getattr(args, "phrase_cache_size", None),
        "release_memory": getattr(args, "release_memory", None),
        "split_first_piece": getattr(args, "split_first_piece", None),
        "log_level": "debug" if getattr(args, "debug", False) else getattr(args, "log_level", None),
        "log_format": getattr(args, "log_format", None),
    }
    overrides: dict[str, Any] = {key: value for key, value in flat.items() if value is not None}
    threads = getattr(args, "threads", None)
    if threads is not None:
        overrides["threads"] = int(threads) if threads.isdigit() else threads
    zeroconf: dict[str, Any] = {}
    if getattr(args, "no_zeroconf", False):
        zeroconf["enabled"] = False
    announce = getattr(args, "zeroconf", None)
    if announce is not None:
        zeroconf["enabled"] = True
        if isinstance(announce, str):
            zeroconf["name"] = announce
    if getattr(args, "zeroconf_name", None):
        zeroconf["name"] = args.zeroconf_name
    if zeroconf:
        overrides["zeroconf"] = zeroconf
    if getattr(args, "http", None):
        overrides["http"] = {"uri": args.http}
    return overrides


def _config_path(args: argparse.Namespace) -> Path | None:
    """``--config``, else ``$KOKORO_CONFIG``; a file named either way must exist."""
    flag: Path | None = getattr(args, "config", None)
    if flag is not None:
        return flag
    named = os.environ.get(CONFIG_FILE_ENV)
    return Path(named) if named else None


def _setup_logging(level: str, log_format: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format=log_format)
    # phonemizer warns on every espeak call about things that do not affect Kokoro (language
    # switches in French or Hindi text with English words). A level would not hold: phonemizer
    # sets its logger back to WARNING each time misaki makes an espeak backend (at start-up, for
    # every language); a filter stays.
    logging.getLogger("phonemizer").addFilter(lambda record: record.levelno >= logging.ERROR)


def _load_engine(config: Config) -> Any:
    from .engine.loader import load_engine

    return load_engine(config)


def _cmd_serve(config: Config) -> int:
    from .wyoming_api.server import run_server

    engine = _load_engine(config)

    async def serve() -> None:
        http = None
        try:
            if config.http.uri:
                from .openai_api.server import start_http_server

                http = await start_http_server(engine, config)
                _LOGGER.info("OpenAI speech API on http://%s:%d/v1/audio/speech", http.host, http.port)
            await run_server(config, engine)
        finally:
            if http is not None:
                await http.close()
            await engine.aclose()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    finally:
        engine.shutdown()
    return 0


def _read_text(args: argparse.Namespace) -> str:
    if args.file is not None:
        try:
            return str(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise CliError(f"Cannot read {args.file}: {err}") from None
    if args.text is None or args.text == "-":
        return sys.stdin.read()
    return str(args.text)


def _cmd_synth(config: Config, args: argparse.Namespace) -> int:
    from .audio import pcm_seconds, wav_bytes

    text = _read_text(args)
    if not text.strip():
        raise CliError("Nothing to say: the text is empty")
    engine = _load_engine(config)
    try:
        pcm = engine.synthesize_to_pcm(text, args.voice, args.speed)
    finally:
        engine.shutdown()
    try:
        args.output.write_bytes(wav_bytes(pcm))
    except OSError as err:
        raise CliError(f"Cannot write {args.output}: {err}") from None
    print(f"Wrote {args.output} ({pcm_seconds(pcm):.2f} s of audio)")
    return 0


def _cmd_voices(config: Config) -> int:
    from . import assets
    from .engine.loader import voice_library
    from .voices import describe_voice, parse_first

    tables = assets.load_voices(assets.ensure_voices(config.voices, config.resolved_cache_dir()))
    library = voice_library(config, tables)
    print(f"{'voice':<16} {'language':<9} {'gender':<7} description")
    for info in library.catalog():
        print(f"{info.name:<16} {info.language_tag:<9} {info.gender or '-':<7} {info.description}")
    default = describe_voice(parse_first(config.voice_spec(config.voice)))
    print(f"\n{len(library.names)} voices; default {config.voice} ({default.language_tag})")
    return 0


def _cmd_fetch(config: Config) -> int:
    from . import assets

    cache_dir = config.resolved_cache_dir()
    rows = assets.fetch_all(cache_dir)
    if config.model != "auto":
        assets.ensure_model(config.model, cache_dir)
    if config.voices != "auto":
        assets.ensure_voices(config.voices, cache_dir)
    _print_status(rows)
    return 0 if all(row.verified for row in rows) else 1


def _cmd_assets(config: Config) -> int:
    from . import assets

    rows = assets.asset_status(config.resolved_cache_dir(), config.model, config.voices)
    _print_status(rows)
    return 0 if all(row.verified for row in rows) else 1


def _print_status(rows: Sequence[Any]) -> None:
    for row in rows:
        state = "ok" if row.verified else ("present, NOT verified" if row.present else "missing")
        print(f"{row.name:<8} {state:<22} {row.size:>12,} B  {row.path}")
        if row.detail:
            print(f"         {row.detail}")


def _cmd_build_float_model(config: Config, args: argparse.Namespace) -> int:
    from . import assets
    from .model.rewrite.float_model import FLOAT_MODEL_FILENAMES, build_float_model, ensure_float_model

    cache_dir = config.resolved_cache_dir()
    int8 = assets.ensure_model("auto", cache_dir)
    if args.output is not None:
        path = build_float_model(int8, args.output, args.precision)
    else:
        path = ensure_float_model(int8, cache_dir, args.precision)
    print(f"{FLOAT_MODEL_FILENAMES[args.precision]}: {path} ({path.stat().st_size:,} B)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else "serve"
    if argv and argv[0] == command:
        argv = argv[1:]
    if command == "healthcheck":
        from .healthcheck import main as healthcheck_main

        return healthcheck_main(argv)

    args = build_parser(command).parse_args(argv)
    try:
        config = load_config(_config_path(args), config_overrides(args), environment=True)
        quiet = "info" if command in ("fetch", "build-float-model") else "warning"
        _setup_logging(config.log_level if command == "serve" or args.debug else quiet, config.log_format)
        if command == "serve":
            return _cmd_serve(config)
        if command == "synth":
            return _cmd_synth(config, args)
        if command == "voices":
            return _cmd_voices(config)
        if command == "fetch":
            return _cmd_fetch(config)
        if command == "assets":
            return _cmd_assets(config)
        return _cmd_build_float_model(config, args)
    except (ConfigError, CliError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ConfigError) else 1
    except Exception as err:
        return _known_error(err)


def _known_error(err: Exception) -> int:
    """Expected failures (bad assets, bad voice, no CUDA) → one line; anything else is a bug."""
    from .assets import AssetError
    from .model.providers import ProviderError
    from .text.frontend import FrontendError
    from .voices import VoiceError

    known: tuple[type[Exception], ...] = (
        AssetError,
        FrontendError,
        ProviderError,
        VoiceError,
        ValueError,
        OSError,  # e.g. the port is already in use
    )
    try:
        from .model.rewrite.float_model import ModelBuildError

        known = (*known, ModelBuildError)
    except ImportError:
        pass
    if isinstance(err, known):
        print(f"error: {err}", file=sys.stderr)
        return 1
    raise err
