"""The Wyoming server end to end: the real engine behind ``run_server``, driven over loopback TCP by
wyoming's own client, the way Home Assistant and satellites talk to it.

Texts are short so the suite stays quick on two cores (a second of audio costs ~0.3-0.6 s of CPU).
Every wait is wrapped in a generous guard timeout so a bug shows as a failure, not a hung suite; no
assertion depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient, AsyncTcpClient, AsyncUnixClient
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event, write_event
from wyoming.event import read_event as wyoming_read_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

from wyoming_kokoro.config import Config
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.languages import LANGUAGE_TAGS
from wyoming_kokoro.wyoming_api.discovery import SERVICE_TYPE
from wyoming_kokoro.wyoming_api.handler import CHUNK_SAMPLES
from wyoming_kokoro.wyoming_api.server import KokoroServer, run_server

#: Upper bound on any single wait: a hang guard, far above what any step needs.
GUARD = 60.0

_BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


# -- helpers -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_limits(config: Config, **limits: float) -> Config:
    return config.model_copy(update={"limits": config.limits.model_copy(update=limits)})


@dataclass
class Reply:
    """Everything one request got back, in order."""

    events: list[Event]

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    @property
    def chunks(self) -> list[AudioChunk]:
        return [AudioChunk.from_event(e) for e in self.events if AudioChunk.is_type(e.type)]

    @property
    def audio(self) -> bytes:
        return b"".join(chunk.audio for chunk in self.chunks)

    @property
    def seconds(self) -> float:
        return len(self.audio) / (2 * 24_000)

    @property
    def errors(self) -> list[Error]:
        return [Error.from_event(e) for e in self.events if Error.is_type(e.type)]


async def read_event(client: AsyncClient) -> Event:
    event = await asyncio.wait_for(client.read_event(), GUARD)
    assert event is not None, "the server closed the connection"
    return event


async def read_reply(client: AsyncClient, until: Sequence[str]) -> Reply:
    """Read events up to and including the first whose type is in ``until``."""
    events: list[Event] = []
    while True:
        events.append(await read_event(client))
        if events[-1].type in until:
            return Reply(events)


async def assert_closed(client: AsyncClient) -> None:
    """The server closed the connection (after a failed request's error)."""
    assert await asyncio.wait_for(client.read_event(), GUARD) is None, "the connection is still open"


async def speak(client: AsyncClient, text: str, voice: SynthesizeVoice | None = None) -> Reply:
    await client.write_event(Synthesize(text=text, voice=voice).event())
    return await read_reply(client, ("audio-stop", "error"))


def assert_complete_audio(reply: Reply, min_seconds: float, max_seconds: float) -> None:
    """One audio-start first, chunks in the server's format, one audio-stop last, plausible
    length, not silent."""
    types = reply.types
    assert types[0] == "audio-start", types
    assert types[-1] == "audio-stop", types
    assert types.count("audio-start") == 1 and types.count("audio-stop") == 1, types
    assert set(types[1:-1]) == {"audio-chunk"}, types
    start = AudioStart.from_event(reply.events[0])
    assert (start.rate, start.width, start.channels) == (24_000, 2, 1)
    for chunk in reply.chunks:
        assert (chunk.rate, chunk.width, chunk.channels) == (24_000, 2, 1)
        assert 0 < len(chunk.audio) <= CHUNK_SAMPLES * 2
    assert min_seconds <= reply.seconds <= max_seconds, reply.seconds
    samples = np.frombuffer(reply.audio, dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(samples**2)) > 300, "the audio is (nearly) silent"


@contextlib.asynccontextmanager
async def connect(port: int) -> AsyncIterator[AsyncTcpClient]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        yield client


@contextlib.asynccontextmanager
async def serving(config: Config, engine: KokoroEngine) -> AsyncIterator[int]:
    """run_server as a task on a free port; yields the port, cancels the server afterwards."""
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_server(config.model_copy(update={"uri": f"tcp://127.0.0.1:{port}"}), engine, ready=ready)
    )
    ready_wait = asyncio.create_task(ready.wait())
    await asyncio.wait({task, ready_wait}, timeout=GUARD, return_when=asyncio.FIRST_COMPLETED)
    ready_wait.cancel()
    if task.done():
        task.result()  # raises what went wrong
    assert ready.is_set(), "the server did not start"
    try:
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture(scope="module")
async def port(config: Config, engine: KokoroEngine) -> AsyncIterator[int]:
    async with serving(config, engine) as bound:
        yield bound


def engine_streams(engine: KokoroEngine) -> int:
    """Replies the engine still holds (a stream cancelled or finished is forgotten)."""
    return len(engine.streams)


async def until_engine_idle(engine: KokoroEngine) -> None:
    async def poll() -> None:
        while engine_streams(engine):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), GUARD)


# -- describe, ping ------------------------------------------------------------------------------
async def test_describe_lists_every_voice_with_bcp47_languages(port: int, engine: KokoroEngine) -> None:
    async with connect(port) as client:
        await client.write_event(Describe().event())
        event = await read_event(client)
    assert Info.is_type(event.type)
    info = Info.from_event(event)
    assert len(info.tts) == 1
    program = info.tts[0]
    assert program.name == "kokoro"
    assert program.installed and program.supports_synthesize_streaming
    assert program.attribution.url == "https://huggingface.co/hexgrad/Kokoro-82M"
    assert program.version

    by_name = {voice.name: voice for voice in program.voices}
    catalog = engine.voices.catalog()
    assert sorted(by_name) == sorted(voice.name for voice in catalog)
    for expected in catalog:
        voice = by_name[expected.name]
        assert voice.languages == [LANGUAGE_TAGS[expected.language]]
        assert _BCP47.match(voice.languages[0]), voice.languages
        assert voice.installed and voice.description and voice.version
        assert voice.attribution.url == "https://huggingface.co/hexgrad/Kokoro-82M"
    assert by_name["af_heart"].languages == ["en-US"]
    if "bf_emma" in by_name:
        assert by_name["bf_emma"].languages == ["en-GB"]
    # The named blend from the test config is offered like a voice.
    assert by_name["warm_mix"].languages == ["en-US"]
    assert "blend" in (by_name["warm_mix"].description or "")


def trailing_silence(audio: bytes) -> float:
    """Seconds of exact digital silence at the end of 16-bit PCM."""
    samples = np.frombuffer(audio, dtype="<i2")
    sounding = np.flatnonzero(samples)
    return (samples.size - (int(sounding[-1]) + 1 if sounding.size else 0)) / 24_000


async def test_presets_speak_with_their_own_speed_and_silences(port: int) -> None:
    """Home Assistant sends only a voice name: a preset is how it gets a speed or silences."""
    async with connect(port) as client:
        await client.write_event(Describe().event())
        voices = {v.name: v for v in Info.from_event(await read_event(client)).tts[0].voices}
    assert voices["quick_heart"].description == "quick_heart — Heart (American English), speed 1.5"
    assert "0.7 s more between sentences" in (voices["spaced_heart"].description or "")
    text = "Turned on the kitchen lights. The garage door is closed."
    replies = {}
    for name in ("af_heart", "quick_heart", "spaced_heart"):
        async with connect(port) as client:
            replies[name] = await speak(client, text, SynthesizeVoice(name=name))
        assert_complete_audio(replies[name], 1.0, 10.0)
    plain, quick, spaced = (replies[name] for name in ("af_heart", "quick_heart", "spaced_heart"))
    assert quick.seconds < 0.8 * plain.seconds  # speed 1.5
    assert trailing_silence(spaced.audio) >= 0.8 > trailing_silence(plain.audio)
    # 0.7 s more between the two sentences, and 0.8 s at the end.
    assert spaced.seconds - plain.seconds == pytest.approx(1.5, abs=0.2)


async def test_pronunciations_change_what_is_said(port: int) -> None:
    """The test config respells "gizmo" as "widget": the two are the same phonemes, so the same
    length of speech (to the trimming of a piece's edges); inline markup is said as given."""
    marked = "[gizmo](/ɡˌɪzmətˈɹɑnɪkəl/)"
    lengths = {}
    for word in ("gizmo", "widget", marked):
        async with connect(port) as client:
            reply = await speak(client, f"Please hand me the {word} from the table.")
        assert_complete_audio(reply, 1.0, 8.0)
        lengths[word] = reply.seconds
    assert lengths["gizmo"] == pytest.approx(lengths["widget"], abs=0.05)
    assert lengths[marked] > lengths["widget"] + 0.2  # five syllables said for the two written


async def test_ping_gets_pong(port: int) -> None:
    async with connect(port) as client:
        await client.write_event(Ping(text="hello?").event())
        event = await read_event(client)
    assert Pong.is_type(event.type)
    assert Pong.from_event(event).text == "hello?"


# -- plain synthesize ----------------------------------------------------------------------------
async def test_synthesize_sends_framed_audio_of_plausible_length(port: int) -> None:
    async with connect(port) as client:
        reply = await speak(client, "Hello from Kokoro.")
    assert_complete_audio(reply, 0.5, 5.0)


async def test_requests_on_one_connection_are_answered_in_order(port: int) -> None:
    async with connect(port) as client:
        # Both requests go out before any audio is read: replies must not interleave.
        await client.write_event(Synthesize(text="Good morning.").event())
        await client.write_event(
            Synthesize(text="Lights are off.", voice=SynthesizeVoice(name="am_adam")).event()
        )
        first = await read_reply(client, ("audio-stop", "error"))
        second = await read_reply(client, ("audio-stop", "error"))
        # and the connection is still usable for a third
        third = await speak(client, "Done.")
    for reply in (first, second):
        assert_complete_audio(reply, 0.4, 4.0)
    assert_complete_audio(third, 0.2, 3.0)
    assert first.audio != second.audio


async def test_errors_have_codes_then_the_connection_closes(port: int) -> None:
    """Each refused request gets its error, then the connection closes (Home Assistant before
    2026.8 waits for that, not for the error); the server goes on serving new connections."""
    refused: list[Reply] = []
    for event in (
        Synthesize(text="Hello.", voice=SynthesizeVoice(name="xx_nobody")).event(),
        Synthesize(text="Hello.", voice=SynthesizeVoice(name="af_heart:lots")).event(),
        Synthesize(text="   \n ").event(),
        Synthesize(text="Hello.", voice=SynthesizeVoice(language="tlh")).event(),
        Event("synthesize", {"text": "Hello.", "speed": 9}),
    ):
        async with connect(port) as client:
            await client.write_event(event)
            refused.append(await read_reply(client, ("audio-stop", "error")))
            await assert_closed(client)
    async with connect(port) as client:
        by_language = await speak(client, "Good evening.", SynthesizeVoice(language="en-GB"))

    unknown, bad_blend, empty, no_language, bad_speed = refused
    assert unknown.types == ["error"] and unknown.errors[0].code == "voice-not-found"
    assert "xx_nobody" in unknown.errors[0].text
    assert bad_blend.errors[0].code == "bad-request"
    assert empty.errors[0].code == "bad-request"
    assert no_language.errors[0].code == "voice-not-found"
    assert bad_speed.errors[0].code == "bad-request"
    assert_complete_audio(by_language, 0.4, 4.0)


async def test_requests_queued_behind_a_failed_one_are_not_answered(port: int) -> None:
    """Replies keep their order: the good request before the bad one is spoken, then the error,
    then the connection closes without answering what came after."""
    async with connect(port) as client:
        await client.write_event(Synthesize(text="Good morning.").event())
        await client.write_event(Synthesize(text="Hi.", voice=SynthesizeVoice(name="xx_nobody")).event())
        await client.write_event(Synthesize(text="Never said.").event())
        first = await read_reply(client, ("audio-stop", "error"))
        second = await read_reply(client, ("audio-stop", "error"))
        await assert_closed(client)
    assert_complete_audio(first, 0.4, 4.0)
    assert second.types == ["error"] and second.errors[0].code == "voice-not-found"


async def test_text_over_the_limit_is_refused(config: Config, engine: KokoroEngine) -> None:
    async with serving(with_limits(config, max_text_chars=20), engine) as bound:
        async with connect(bound) as client:
            long = await speak(client, "This sentence is far longer than twenty characters.")
            await assert_closed(client)
        async with connect(bound) as client:
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text="Short start, ").event())
            await client.write_event(SynthesizeChunk(text="and then far too much text.").event())
            await client.write_event(SynthesizeStop().event())
            streamed = await read_reply(client, ("synthesize-stopped",))
            await assert_closed(client)
    assert long.errors[0].code == "text-too-long"
    assert [e.code for e in streamed.errors] == ["text-too-long"]
    assert streamed.types[-1] == "synthesize-stopped"


# -- streaming -----------------------------------------------------------------------------------
async def test_streamed_text_is_spoken_while_it_arrives(port: int) -> None:
    first_sentence = ["Hello", " there", ",", " my", " friend", "."]
    rest = [" The", " kitch", "en light", "s are", " on", "."]
    full_text = "".join(first_sentence + rest)
    async with connect(port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="af_heart")).event())
        for delta in [*first_sentence, rest[0]]:  # " The" shows that the first sentence has ended
            await client.write_event(SynthesizeChunk(text=delta).event())
        # Audio for the first sentence arrives while the stream is still open.
        early = [await read_event(client)]
        while not AudioChunk.is_type(early[-1].type):
            early.append(await read_event(client))
        for delta in rest[1:]:
            await client.write_event(SynthesizeChunk(text=delta).event())
        # Home Assistant repeats the whole text for servers that do not stream: it must be ignored.
        await client.write_event(Synthesize(text=full_text, voice=SynthesizeVoice(name="af_heart")).event())
        await client.write_event(SynthesizeStop().event())
        late = await read_reply(client, ("synthesize-stopped",))
        # The next reply on the connection is the next request's: had the repeated text been
        # spoken, its audio would come first.
        after = await speak(client, "Done.")

    streamed = Reply(early + late.events)
    assert streamed.types[0] == "audio-start"
    assert streamed.types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert streamed.types.count("audio-start") == 1, streamed.types
    assert Reply(streamed.events[:-1]).types.count("audio-stop") == 1
    assert_complete_audio(Reply(streamed.events[:-1]), 1.5, 8.0)
    assert_complete_audio(after, 0.2, 1.5)


async def test_streaming_protocol_errors(port: int) -> None:
    async with connect(port) as client:
        await client.write_event(SynthesizeChunk(text="orphan").event())
        chunk_first = await read_event(client)
        await client.write_event(SynthesizeStop().event())
        stop_first = await read_event(client)

        # A second start inside a stream is refused; the first stream goes on.
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeStart().event())
        second_start = await read_event(client)
        await client.write_event(SynthesizeChunk(text="Still here, fine.").event())
        await client.write_event(SynthesizeStop().event())
        finished = await read_reply(client, ("synthesize-stopped",))

    # A stream with an unknown voice: an error, its text is dropped, it still ends properly, and
    # then the connection closes.
    async with connect(port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="xx_nobody")).event())
        await client.write_event(SynthesizeChunk(text="Nobody hears this.").event())
        await client.write_event(SynthesizeStop().event())
        unknown = await read_reply(client, ("synthesize-stopped",))
        await assert_closed(client)

    # A stream without words.
    async with connect(port) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text="  ").event())
        await client.write_event(SynthesizeStop().event())
        empty = await read_reply(client, ("synthesize-stopped",))
        await assert_closed(client)

    for event in (chunk_first, stop_first, second_start):
        assert Error.is_type(event.type)
        assert Error.from_event(event).code == "bad-request"
    assert_complete_audio(Reply(finished.events[:-1]), 0.5, 5.0)
    assert unknown.types == ["error", "synthesize-stopped"]
    assert unknown.errors[0].code == "voice-not-found"
    assert empty.types == ["error", "synthesize-stopped"]
    assert empty.errors[0].code == "bad-request"


# -- concurrency ---------------------------------------------------------------------------------
async def test_three_clients_at_once_all_get_complete_audio(port: int) -> None:
    async def one(text: str, voice: str) -> Reply:
        async with connect(port) as client:
            return await speak(client, text, SynthesizeVoice(name=voice))

    replies = await asyncio.gather(
        one("Front door locked.", "af_heart"),
        one("It is sunny.", "am_michael"),
        one("Timer done.", "af_bella"),
    )
    for reply in replies:
        assert_complete_audio(reply, 0.4, 4.0)


async def test_describe_is_answered_while_a_long_synthesis_runs(port: int) -> None:
    long_text = (
        "This announcement keeps the engine busy for a little while. "
        "Meanwhile, other questions are answered at once."
    )
    events: list[Event] = []
    first_chunk = asyncio.Event()

    async def long_reader(client: AsyncTcpClient) -> None:
        while True:
            event = await read_event(client)
            events.append(event)
            if AudioChunk.is_type(event.type):
                first_chunk.set()
            if AudioStop.is_type(event.type):
                return

    async with connect(port) as long_client:
        await long_client.write_event(Synthesize(text=long_text).event())
        reader = asyncio.create_task(long_reader(long_client))
        await asyncio.wait_for(first_chunk.wait(), GUARD)
        # Another client's describe is not held up by the synthesis...
        async with connect(port) as describer:
            await describer.write_event(Describe().event())
            info = await read_event(describer)
        stopped_before_info = any(AudioStop.is_type(e.type) for e in events)
        # ...and neither is a ping on the busy connection itself: its events are read meanwhile.
        await long_client.write_event(Ping(text="still there?").event())
        await asyncio.wait_for(reader, GUARD)

    assert Info.is_type(info.type)
    assert not stopped_before_info, "describe waited for the long synthesis to finish"
    types = [event.type for event in events]
    assert "pong" in types, "the ping was not answered during the reply"
    audio = Reply([event for event in events if not Pong.is_type(event.type)])
    assert_complete_audio(audio, 3.0, 15.0)


async def test_client_leaving_mid_stream_cancels_its_speech(port: int, engine: KokoroEngine) -> None:
    async with connect(port) as other:
        await other.write_event(Synthesize(text="Somebody else is served.").event())
        leaver = AsyncTcpClient("127.0.0.1", port)
        await leaver.connect()
        await leaver.write_event(SynthesizeStart().event())
        await leaver.write_event(SynthesizeChunk(text="I will leave before the end. And this is ").event())
        while not AudioChunk.is_type((await read_event(leaver)).type):
            pass
        await leaver.disconnect()  # mid-stream: no synthesize-stop will ever come
        other_reply = await read_reply(other, ("audio-stop", "error"))
    assert_complete_audio(other_reply, 0.5, 5.0)

    async with connect(port) as newcomer:
        assert_complete_audio(await speak(newcomer, "Still working."), 0.4, 4.0)
    # An open stream never ends by itself: the engine forgets it only because it was cancelled.
    await until_engine_idle(engine)


async def test_half_closed_client_still_gets_its_audio(port: int) -> None:
    """A client may send its request and close its sending side (``nc -N``): the reply
    still comes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await async_write_event(Synthesize(text="Half closed.").event(), writer)
        writer.write_eof()
        events: list[Event] = []
        while (event := await asyncio.wait_for(async_read_event(reader), GUARD)) is not None:
            events.append(event)
    finally:
        writer.close()
    assert_complete_audio(Reply(events), 0.4, 4.0)


# -- limits and lifecycle ------------------------------------------------------------------------
async def test_connection_limit_and_idle_timeout(config: Config, engine: KokoroEngine) -> None:
    limited = with_limits(config, max_connections=1, idle_timeout=0.5)
    async with serving(limited, engine) as bound:
        async with connect(bound) as first:
            # The reply takes several times the idle timeout to make; a connection waiting for its
            # audio is busy, not idle, so it must not be cut off.
            await first.write_event(
                Synthesize(text="Keep talking. This reply takes a while to make.").event()
            )
            # Over the limit meanwhile: told "busy", then closed.
            async with connect(bound) as extra:
                refusal = await read_event(extra)
                assert await asyncio.wait_for(extra.read_event(), GUARD) is None
            assert Error.is_type(refusal.type) and Error.from_event(refusal).code == "busy"
            reply = await read_reply(first, ("audio-stop", "error"))
            assert_complete_audio(reply, 2.0, 10.0)
            # Then the client stays silent, and the server closes the connection.
            assert await asyncio.wait_for(first.read_event(), GUARD) is None
        # Its slot is free again.
        async with connect(bound) as later:
            await later.write_event(Describe().event())
            assert Info.is_type((await read_event(later)).type)


async def test_a_client_flooding_idle_connections_locks_nobody_else_out(
    config: Config, engine: KokoroEngine
) -> None:
    """300 idle connections from 127.0.0.1: it gets its 4 (the rest are told "busy"), those are
    closed once they stay silent past first_event_timeout, and 127.0.0.2 is served throughout."""
    limited = with_limits(config, max_connections=16, max_connections_per_client=4, first_event_timeout=1.0)
    async with serving(limited, engine) as bound:
        flood = [await asyncio.open_connection("127.0.0.1", bound) for _ in range(300)]
        try:
            await asyncio.sleep(0.3)  # every flood connection is admitted or refused by now
            reader, writer = await asyncio.open_connection("127.0.0.1", bound, local_addr=("127.0.0.2", 0))
            try:
                await async_write_event(Describe().event(), writer)
                assert Info.is_type((await asyncio.wait_for(async_read_event(reader), GUARD)).type)
                await async_write_event(Synthesize(text="Still here for everyone else.").event(), writer)
                events = []
                while not AudioStop.is_type(
                    (event := await asyncio.wait_for(async_read_event(reader), GUARD)).type
                ):
                    events.append(event)
                assert (
                    sum(len(AudioChunk.from_event(e).audio) for e in events if AudioChunk.is_type(e.type)) > 0
                )
            finally:
                writer.close()
            answers = await asyncio.gather(
                *(asyncio.wait_for(async_read_event(flood_reader), GUARD) for flood_reader, _ in flood)
            )
            refused = [a for a in answers if a is not None]
            assert len(refused) == 300 - 4  # told "busy", then closed
            assert all(Error.from_event(a).code == "busy" for a in refused)
            assert answers.count(None) == 4  # admitted, silent, closed after first_event_timeout
        finally:
            for _, flood_writer in flood:
                flood_writer.close()


async def test_stop_cancels_speech_and_closes_connections(
    config: Config, engine: KokoroEngine, tmp_path: Path
) -> None:
    server = KokoroServer(config.model_copy(update={"uri": "tcp://127.0.0.1:0"}), engine)
    await server.start()
    assert server.port is not None and server.port > 0  # the real port behind port 0
    async with connect(server.port) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text="A stream that the shutdown interrupts. More ").event())
        while not AudioChunk.is_type((await read_event(client)).type):
            pass
        await asyncio.wait_for(server.stop(), GUARD)
        # The connection is closed (whatever audio was already on its way may still be read).
        while (event := await asyncio.wait_for(client.read_event(), GUARD)) is not None:
            assert not SynthesizeStopped.is_type(event.type)
    await until_engine_idle(engine)

    # The same server over a Unix socket.
    socket_path = tmp_path / "kokoro.sock"
    unix = KokoroServer(config.model_copy(update={"uri": f"unix://{socket_path}"}), engine)
    await unix.start()
    try:
        async with AsyncUnixClient(str(socket_path)) as client:
            await client.write_event(Describe().event())
            assert Info.is_type((await read_event(client)).type)
    finally:
        await unix.stop()
    assert not socket_path.exists()


async def test_sigterm_stops_run_server(config: Config, engine: KokoroEngine) -> None:
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_server(config.model_copy(update={"uri": f"tcp://127.0.0.1:{port}"}), engine, ready=ready)
    )
    await asyncio.wait_for(ready.wait(), GUARD)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, GUARD)
    assert not task.cancelled()  # it returned normally
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_zeroconf_announces_the_real_port(config: Config, engine: KokoroEngine) -> None:
    announced = config.model_copy(
        update={
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": config.zeroconf.model_copy(update={"enabled": True, "name": "Kokoro CI"}),
        }
    )
    server = KokoroServer(announced, engine)
    await server.start()
    port = server.port
    try:
        assert server.discovery is not None
        if not await asyncio.wait_for(server.announced(), GUARD):
            pytest.skip("zeroconf cannot register on this machine (no multicast)")
        browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        try:
            name = f"{server.discovery.name}.{SERVICE_TYPE}"
            info = await browser.async_get_service_info(SERVICE_TYPE, name, timeout=5000)
        finally:
            await browser.async_close()
    finally:
        await server.stop()
    assert info is not None
    assert info.port == port and port != 0
    assert info.parsed_addresses() == ["127.0.0.1"]


async def test_stdio_speaks_until_stdin_ends(
    config: Config, engine: KokoroEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stdio://``: requests on stdin, events on stdout; at the end of stdin the pending reply is
    still spoken, then run_server returns by itself."""
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    # The server's pipe transports own the descriptors; these wrappers must not close them too.
    monkeypatch.setattr("sys.stdin", open(in_read, "rb", closefd=False))  # noqa: SIM115
    monkeypatch.setattr("sys.stdout", open(out_write, "wb", closefd=False))  # noqa: SIM115
    with os.fdopen(in_write, "wb") as requests:
        write_event(Describe().event(), requests)
        write_event(Synthesize(text="Over the pipe.").event(), requests)

    def read_all() -> list[Event]:
        events = []
        with os.fdopen(out_read, "rb") as replies:
            while (event := wyoming_read_event(replies)) is not None:
                events.append(event)
        return events

    reading = asyncio.get_running_loop().run_in_executor(None, read_all)
    stdio = config.model_copy(update={"uri": "stdio://"})
    try:
        await asyncio.wait_for(run_server(stdio, engine), GUARD)
    finally:
        os.close(in_read)
    events = await asyncio.wait_for(reading, GUARD)
    assert Info.is_type(events[0].type)
    assert_complete_audio(Reply(events[1:]), 0.4, 4.0)
