"""The health check against real Wyoming servers on loopback: real TCP, real protocol, no mocks.

The Kokoro server itself must pass it. For each failure mode the check must catch (silence, no TTS,
no voices, nothing listening), a ``wyoming.server.AsyncTcpServer`` with a tiny handler produces it
for real.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncServer

from wyoming_kokoro.config import Config
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.healthcheck import HealthCheckError, check_server, local_uri, main, summarize
from wyoming_kokoro.wyoming_api.server import KokoroServer

SHIPPED_VOICES = Path(__file__).resolve().parent.parent / "wyoming_kokoro" / "data" / "voices-sha256.json"

_ATTRIBUTION = Attribution(name="test", url="https://example.invalid/")


def _voice(name: str, installed: bool = True) -> TtsVoice:
    return TtsVoice(
        name=name,
        description=name,
        attribution=_ATTRIBUTION,
        installed=installed,
        version=None,
        languages=["en-US"],
    )


def _tts_info(*voices: TtsVoice) -> Info:
    program = TtsProgram(
        name="kokoro",
        description="test TTS",
        attribution=_ATTRIBUTION,
        installed=True,
        version="9.9.9",
        voices=list(voices),
    )
    return Info(tts=[program])


def _asr_only_info() -> Info:
    model = AsrModel(
        name="tiny",
        description="tiny",
        attribution=_ATTRIBUTION,
        installed=True,
        version=None,
        languages=["en"],
    )
    program = AsrProgram(
        name="asr",
        description="speech to text",
        attribution=_ATTRIBUTION,
        installed=True,
        version=None,
        models=[model],
    )
    return Info(asr=[program])


class _DescribeHandler(AsyncEventHandler):
    """Answers ``describe`` with a fixed ``info`` (or not at all, when ``info`` is None)."""

    def __init__(self, info: Info | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self._info = info

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type) and self._info is not None:
            await self.write_event(self._info.event())
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _serving(info: Info | None) -> AsyncIterator[str]:
    """Run a real Wyoming TCP server on loopback for the duration of the block; yield its URI."""
    uri = f"tcp://127.0.0.1:{_free_port()}"
    server = AsyncServer.from_uri(uri)

    def factory(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> AsyncEventHandler:
        return _DescribeHandler(info, reader, writer)

    await server.start(factory)
    try:
        yield uri
    finally:
        await server.stop()


async def test_the_kokoro_server_is_healthy(config: Config, engine: KokoroEngine) -> None:
    """The real server, on a free port, passes the check that Docker and the add-on run."""
    server = KokoroServer(config.model_copy(update={"uri": "tcp://127.0.0.1:0"}), engine)
    await server.start()
    try:
        info = await check_server(f"tcp://127.0.0.1:{server.port}", timeout=30)
    finally:
        await server.stop()
    offered = {voice.name for program in info.tts for voice in program.voices}
    assert set(json.loads(SHIPPED_VOICES.read_text())) <= offered
    assert summarize(info).startswith("kokoro ")


async def test_healthy_server_returns_its_info() -> None:
    async with _serving(_tts_info(_voice("af_heart"), _voice("bf_emma"))) as uri:
        info = await check_server(uri, timeout=5)
    assert [program.name for program in info.tts] == ["kokoro"]
    assert [voice.name for voice in info.tts[0].voices] == ["af_heart", "bf_emma"]


async def test_server_that_never_answers_times_out() -> None:
    async with _serving(None) as uri:
        with pytest.raises(HealthCheckError, match=r"no info from .* within 0.3 s"):
            await check_server(uri, timeout=0.3)


async def test_server_without_tts_is_unhealthy() -> None:
    async with _serving(_asr_only_info()) as uri:
        with pytest.raises(HealthCheckError, match="no TTS program"):
            await check_server(uri, timeout=5)


async def test_tts_without_installed_voices_is_unhealthy() -> None:
    async with _serving(_tts_info(_voice("af_heart", installed=False))) as uri:
        with pytest.raises(HealthCheckError, match="no installed voice"):
            await check_server(uri, timeout=5)


async def test_nothing_listening_is_a_clear_error() -> None:
    uri = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(HealthCheckError, match=r"cannot talk to tcp://127\.0\.0\.1"):
        await check_server(uri, timeout=5)


async def test_bad_uri_is_a_clear_error() -> None:
    with pytest.raises(HealthCheckError, match="bad URI"):
        await check_server("tcp://127.0.0.1", timeout=5)


async def test_command_line_exits_0_and_prints_one_line_for_a_healthy_server() -> None:
    """The same command Docker's HEALTHCHECK runs, as a separate process against a live server."""
    async with _serving(_tts_info(_voice("af_heart"))) as uri:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wyoming_kokoro.healthcheck",
            "--uri",
            uri,
            "--timeout",
            "10",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().splitlines() == [f"healthy: {uri}: kokoro 9.9.9 (1 voices)"]


def test_command_line_exits_1_when_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"tcp://127.0.0.1:{_free_port()}"
    assert main(["--uri", uri, "--timeout", "5"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"unhealthy: cannot talk to {uri}")
    assert len(captured.err.splitlines()) == 1


@pytest.mark.parametrize(
    ("listen", "ask"),
    [
        ("tcp://0.0.0.0:10210", "tcp://127.0.0.1:10210"),
        ("tcp://[::]:10300", "tcp://[::1]:10300"),
        ("tcp://192.168.1.5:10210", "tcp://192.168.1.5:10210"),
        ("unix:///run/kokoro.sock", "unix:///run/kokoro.sock"),
    ],
)
def test_the_listening_address_is_asked_on_loopback(listen: str, ask: str) -> None:
    assert local_uri(listen) == ask


def test_stdio_has_no_address_to_check() -> None:
    with pytest.raises(HealthCheckError, match="stdio"):
        local_uri("stdio://")


async def test_without_uri_the_command_checks_the_configured_address() -> None:
    """Docker's HEALTHCHECK runs without --uri: a container given KOKORO_URI checks that port."""
    async with _serving(_tts_info(_voice("af_heart"))) as uri:
        port = uri.rsplit(":", 1)[1]
        env = {name: value for name, value in os.environ.items() if not name.upper().startswith("KOKORO_")}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wyoming_kokoro.healthcheck", "--timeout", "10",
            env={**env, "KOKORO_URI": f"tcp://0.0.0.0:{port}"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().startswith(f"healthy: tcp://127.0.0.1:{port}: ")


def test_a_bad_configuration_is_unhealthy_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KOKORO_URI", "http://nope")
    assert main(["--timeout", "1"]) == 1
    assert "cannot tell which address to check" in capsys.readouterr().err
    monkeypatch.setenv("KOKORO_URI", "stdio://")
    assert main(["--timeout", "1"]) == 1
    assert "stdio" in capsys.readouterr().err
