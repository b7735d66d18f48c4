#!/usr/bin/env python3
"""Turn the add-on's options (/data/options.json) into a wyoming-kokoro config file and command.

This is the one place where add-on options meet the server: the s6 run script only calls it, and the
tests run it on a sample options.json. Options become a config *file* rather than flags because some
(presets) have no flag; the server then validates the file with the same rules as any other
config, so a bad option fails with the server's own message naming the key.

Standard library only: it runs before anything else in the container and must not depend on the venv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROGRAM = "wyoming-kokoro"
PORT = 10210
#: Where the OpenAI-compatible endpoint listens when the ``openai_api`` option is on.
OPENAI_PORT = 8880

#: Add-on option → top-level key of wyoming-kokoro's config (see config/config.yaml).
OPTION_KEYS: dict[str, str] = {
    "voice": "voice",
    "speed": "speed",
    "sentence_silence": "sentence_silence",
    "trailing_silence": "trailing_silence",
    "presets": "presets",
    "pronunciations": "pronunciations",
    "blends": "blends",
    "device": "device",
    "threads": "threads",
    "release_memory": "release_memory",
    "split_first_piece": "split_first_piece",
    "model": "model",
    "voices": "voices",
    "openai_api": "http.uri",
    "openai_api_key": "http.api_key",
    "debug_logging": "log_level",
}

#: Config keys the add-on fixes: the port Home Assistant maps, and no mDNS (the add-on announces
#: itself through Supervisor discovery, and mDNS from inside the add-on network would name an
#: address Home Assistant cannot use).
FIXED_CONFIG: dict[str, Any] = {
    "uri": f"tcp://0.0.0.0:{PORT}",
    "zeroconf": {"enabled": False},
}


class OptionsError(Exception):
    """The options cannot be turned into a config; the message names the option."""


def options_to_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """Map add-on options to a config mapping.

    Options this version does not know (left over from an older add-on version) are skipped with a
    warning rather than refused, so an upgrade never leaves the add-on unable to start.
    """
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        print(f"kokoro-options: ignoring unknown option(s): {', '.join(unknown)}", file=sys.stderr)

    config: dict[str, Any] = json.loads(json.dumps(FIXED_CONFIG))  # deep copy
    for option in (
        "voice",
        "speed",
        "sentence_silence",
        "trailing_silence",
        "device",
        "release_memory",
        "split_first_piece",
    ):
        if option in options:
            config[OPTION_KEYS[option]] = options[option]
    # Optional in the schema: absent means the server's own default ("auto" = physical cores).
    if options.get("threads") is not None:
        config["threads"] = options["threads"]
    # Optional paths under /share: absent or empty means the built-in model and voices.
    for option in ("model", "voices"):
        if options.get(option):
            config[option] = options[option]
    if options.get("openai_api"):
        config["http"] = {"uri": f"tcp://0.0.0.0:{OPENAI_PORT}"}
        if options.get("openai_api_key"):
            config["http"]["api_key"] = options["openai_api_key"]
    elif options.get("openai_api_key"):
        raise OptionsError("openai_api_key is set but openai_api is off; turn openai_api on to use it")
    if "debug_logging" in options:
        config["log_level"] = "debug" if options["debug_logging"] else "info"

    presets: dict[str, dict[str, Any]] = {}
    for item in options.get("presets") or []:
        name, voice = item.get("name"), item.get("voice")
        if not name or not voice:
            raise OptionsError(f"each preset needs a name and a voice, got {item!r}")
        if name in presets:
            raise OptionsError(f"preset name {name!r} is used twice")
        presets[name] = {key: value for key, value in item.items() if key != "name" and value is not None}
    # The old option: blends are presets without a speed (kept working for one release).
    for item in options.get("blends") or []:
        name, blend = item.get("name"), item.get("blend")
        if not name or not blend:
            raise OptionsError(f"each blend needs a name and a blend, got {item!r}")
        if name in presets:
            raise OptionsError(f"preset name {name!r} is used twice")
        print(f"kokoro-options: blends are deprecated; {name!r} is read as a preset", file=sys.stderr)
        presets[name] = {"voice": blend}
    if presets or "presets" in options or "blends" in options:
        config["presets"] = presets
    pronunciations: dict[str, str] = {}
    for item in options.get("pronunciations") or []:
        word, say = item.get("word"), item.get("say")
        if not word or not say:
            raise OptionsError(f"each pronunciation needs a word and how to say it, got {item!r}")
        if word in pronunciations:
            raise OptionsError(f"pronunciation of {word!r} is given twice")
        pronunciations[word] = say
    if pronunciations or "pronunciations" in options:
        config["pronunciations"] = pronunciations
    return config


def server_command(config_path: Path) -> list[str]:
    """The command that serves with the generated config."""
    return [PROGRAM, "--config", str(config_path)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--options", type=Path, default=Path("/data/options.json"))
    parser.add_argument("--config-out", type=Path, default=Path("/tmp/wyoming-kokoro/config.yaml"))
    parser.add_argument(
        "--print",
        action="store_true",
        help="write the config, then print the command as JSON instead of running it",
    )
    args = parser.parse_args(argv)

    try:
        options = json.loads(args.options.read_text(encoding="utf-8"))
        if not isinstance(options, dict):
            raise OptionsError(f"{args.options} must hold a JSON object")
        config = options_to_config(options)
    except (OSError, ValueError, OptionsError) as err:
        print(f"kokoro-options: {err}", file=sys.stderr)
        return 1

    # JSON is valid YAML, so the server reads this file like any hand-written config.yaml.
    args.config_out.parent.mkdir(parents=True, exist_ok=True)
    args.config_out.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    command = server_command(args.config_out)
    if args.print:
        print(json.dumps(command))
        return 0
    sys.stdout.flush()
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
