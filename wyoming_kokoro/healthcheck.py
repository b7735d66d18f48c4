"""Health check: a real Wyoming ``describe`` → ``info`` round trip against a running server.

An open port only proves that something is listening; Home Assistant needs a server that
answers ``describe`` with a TTS program and voices. So the check speaks the protocol exactly as
Home Assistant does, and treats anything less (refused connection, silence, an ``info`` without
TTS or voices) as unhealthy. Docker's ``HEALTHCHECK`` and the Home Assistant add-on's discovery
step both use it: ``wyoming-kokoro healthcheck [--uri tcp://127.0.0.1:10210] [--timeout 5]``; without
``--uri`` it checks the address the server's own settings give.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from wyoming.client import AsyncClient
from wyoming.info import Describe, Info

from .config import CONFIG_FILE_ENV, DEFAULT_URI, ConfigError, load_config

DEFAULT_TIMEOUT = 5.0


class HealthCheckError(Exception):
    """The server is not usable for text to speech; the message says why, in one line."""


async def check_server(uri: str, timeout: float = DEFAULT_TIMEOUT) -> Info:
    """Ask the server at ``uri`` to describe itself and return its ``info``.

    ``timeout`` bounds the whole exchange (connect, describe, info) so a hung server cannot hang
    the check. Raises :class:`HealthCheckError` when the server cannot be reached, does not answer
    in time, closes the connection, or describes no TTS program with at least one installed voice.
    """
    try:
        client = AsyncClient.from_uri(uri)
    except ValueError as err:  # unsupported scheme or missing port
        raise HealthCheckError(f"bad URI {uri!r}: {err}") from None
    try:
        info = await asyncio.wait_for(_describe(client, uri), timeout=timeout)
    except TimeoutError:
        raise HealthCheckError(f"no info from {uri} within {timeout:g} s") from None
    except EOFError:  # asyncio.IncompleteReadError: the server hung up mid-event
        raise HealthCheckError(f"{uri} closed the connection in the middle of an event") from None
    except (KeyError, TypeError, ValueError) as err:  # Info.from_event on data it cannot read
        raise HealthCheckError(f"{uri} sent an info event that cannot be read: {err!r}") from None
    except OSError as err:
        # asyncio words a refused connection as "Connect call failed (...)"; errno says it plainly.
        plain = os.strerror(err.errno) if err.errno and err.errno > 0 else None
        reason = plain or err.strerror or str(err) or type(err).__name__
        raise HealthCheckError(f"cannot talk to {uri}: {reason}") from None

    voices = [
        voice.name for program in info.tts if program.installed for voice in program.voices if voice.installed
    ]
    if not info.tts:
        raise HealthCheckError(f"{uri} answered describe but offers no TTS program")
    if not voices:
        raise HealthCheckError(f"{uri} offers TTS but no installed voice")
    return info


async def _describe(client: AsyncClient, uri: str) -> Info:
    async with client:
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            if event is None:
                raise HealthCheckError(f"{uri} closed the connection before sending info")
            # Servers may send other events first (e.g. a pending ``error``); only ``info`` answers.
            if Info.is_type(event.type):
                return Info.from_event(event)


def summarize(info: Info) -> str:
    """One line naming the TTS program, its version and how many voices it offers."""
    programs = [program for program in info.tts if program.installed] or info.tts
    parts = []
    for program in programs:
        version = f" {program.version}" if program.version else ""
        count = sum(1 for voice in program.voices if voice.installed)
        parts.append(f"{program.name}{version} ({count} voices)")
    return ", ".join(parts)


def local_uri(listen_uri: str) -> str:
    """Where a client on the same host reaches a server listening on ``listen_uri``.

    A server bound to every address (0.0.0.0, ::) is asked on loopback; ``stdio://`` has no address.
    """
    if listen_uri.startswith("stdio://"):
        raise HealthCheckError("the server is configured with uri: stdio://, which has no address to check")
    for everywhere, loopback in (("tcp://0.0.0.0:", "tcp://127.0.0.1:"), ("tcp://[::]:", "tcp://[::1]:")):
        if listen_uri.startswith(everywhere):
            return loopback + listen_uri[len(everywhere) :]
    return listen_uri


def configured_uri() -> str:
    """The address of the server as this environment configures it: ``$KOKORO_CONFIG`` and the
    ``KOKORO_*`` variables, as the server reads them, so a container started with another port
    (``KOKORO_URI``) checks that port."""
    named = os.environ.get(CONFIG_FILE_ENV)
    try:
        config = load_config(Path(named) if named else None, None, environment=True)
    except ConfigError as err:
        raise HealthCheckError(f"cannot tell which address to check: {err}") from None
    return local_uri(config.uri)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the check's options; shared with the ``wyoming-kokoro healthcheck`` subcommand."""
    parser.add_argument(
        "--uri",
        default=None,
        help=(
            "server to check (default: the uri that $KOKORO_CONFIG and the KOKORO_* variables configure, "
            f"on loopback: {local_uri(DEFAULT_URI)} without them)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds for the whole describe/info round trip (default: {DEFAULT_TIMEOUT:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Check the server named by parsed ``args``; print one line; 0 when healthy, 1 when not."""
    try:
        uri = args.uri or configured_uri()
        info = asyncio.run(check_server(uri, args.timeout))
    except HealthCheckError as err:
        print(f"unhealthy: {err}", file=sys.stderr)
        return 1
    print(f"healthy: {uri}: {summarize(info)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m wyoming_kokoro.healthcheck``; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="wyoming-kokoro healthcheck",
        description="Exit 0 if a Wyoming TTS server answers describe with voices, else 1.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
