"""Fuzzing the real server over TCP: hypothesis sends well-formed events with fields of random
types, text streams, and one hostile message here and there (random bytes, broken or mutated
headers, random JSON, lengths that lie, NaN), then checks what came back. The server and engine are
the real ones; only the bytes are made up.

Every example is one connection: the messages are sent, the client half-closes (so a lying length
ends at once instead of at the idle timeout), and everything the server answers is read until it
closes the connection. The answer must be well-formed Wyoming (read with the server's own strict
reader), every ``error`` must carry a known code, audio must be framed, and the connection must end.
After each example the server must answer ``ping`` on a new connection; after all of them it must
still answer ``describe``, synthesize complete audio, and hold no connections or engine work.

Synthesis is kept cheap: the server under test accepts 24 characters of text and speaks at double
speed by default, fuzzed texts are a few characters, mostly with nothing to pronounce, and most
voices and speeds drawn are invalid. ``--hypothesis-show-statistics`` shows what the examples
provoked (event types, error codes).

Profiles (``HYPOTHESIS_PROFILE``, default ``ci`` when $CI is set, else ``dev``): ``ci`` is
derandomized (the same examples every run, no example database), ``dev`` explores new examples each
run; ``FUZZ_EXAMPLES`` overrides how many.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as label
from hypothesis import strategies as st
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import Event

from wyoming_kokoro.config import Config
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.wyoming_api.handler import CHUNK_SAMPLES
from wyoming_kokoro.wyoming_api.protocol import EventLimits, EventReader, ProtocolError
from wyoming_kokoro.wyoming_api.requests import ERROR_CODES
from wyoming_kokoro.wyoming_api.server import KokoroServer

GUARD = 60.0
#: The server's output is read strictly, with room for ``info`` (all voices) and audio chunks.
CLIENT_LIMITS = EventLimits(max_header_bytes=1 << 20, max_data_bytes=1 << 20, max_payload_bytes=1 << 20)

_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
_COMMON: dict[str, Any] = {
    "max_examples": _EXAMPLES,
    "deadline": None,  # a shared 2-core machine makes per-example timing meaningless
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_COMMON)
settings.register_profile("dev", **_COMMON)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="module")
async def server(config: Config, engine: KokoroEngine) -> AsyncIterator[KokoroServer]:
    fuzz_config = config.model_copy(
        update={
            "uri": "tcp://127.0.0.1:0",
            # A small text limit keeps synthesis (and oversized events) cheap; a short idle timeout
            # bounds any example that leaves a connection waiting.
            "limits": config.limits.model_copy(update={"max_text_chars": 24, "idle_timeout": 5.0}),
            "speed": 2.0,  # the default for requests that name none: half the audio to make
        }
    )
    started = KokoroServer(fuzz_config, engine)
    await started.start()
    yield started
    await asyncio.wait_for(started.stop(), GUARD)


# -- strategies ----------------------------------------------------------------------------------
T = TypeVar("T")


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """Draw from each strategy with the given relative weight (``one_of`` weighs its distinct
    branches alike and merges repeated ones)."""
    bag = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(bag) - 1).flatmap(lambda index: bag[index])


#: JSON values (no NaN or Infinity, which are not JSON; hostile messages bring those).
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=6,
)
KNOWN_TYPES = st.sampled_from(
    [
        "describe",
        "ping",
        "synthesize",
        "synthesize-start",
        "synthesize-chunk",
        "synthesize-stop",
        "audio-chunk",
        "info",
    ]
)
#: Mostly types the server knows, sometimes anything.
EVENT_TYPES = weighted((4, KNOWN_TYPES), (1, st.text(max_size=20)))
#: Texts that cost (almost) no synthesis: mostly nothing to pronounce, else a syllable or two.
_SILENT_TEXTS = st.text(alphabet=" .,;:!?-—…\n\t\x00\u200b😀🙃#*", max_size=6)
#: Runs of marks, which the model voiced as long silence or noise (and whose frames, in a long
#: request, took gigabytes): now one mark each, so cheap. Within the server's text limit here;
#: long ones are in test_robustness.
_MARK_RUNS = st.builds(
    lambda mark, times: mark * times,
    st.sampled_from(["?!", "!", "\u2014", "\u2026", "! ", "?! ", ", ", "\uff01", ". "]),
    st.integers(3, 12),
)
CHEAP_TEXTS = weighted((7, _SILENT_TEXTS), (1, st.sampled_from(["Hi.", "a", "No", "7"])), (1, _MARK_RUNS))
VOICE_NAMES = st.sampled_from(
    ["af_heart", "am_adam", "bf_emma", "warm_mix", "xx_nobody", "af_heart:0.5+am_adam:0.5", "af_heart:"]
)
VOICES = st.fixed_dictionaries(
    {},
    optional={
        "name": VOICE_NAMES | JSON_VALUES,
        "language": st.sampled_from(["en-US", "en", "en-GB", "tlh", ""]) | JSON_VALUES,
        "speaker": JSON_VALUES,
    },
)


def _merged(known: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**extra, **known}


#: The fields Wyoming and this server know, with values of the right type or any other, plus
#: fields nobody knows.
DATA: st.SearchStrategy[dict[str, Any]] = st.builds(
    _merged,
    st.fixed_dictionaries(
        {},
        optional={
            "text": weighted((3, CHEAP_TEXTS), (1, JSON_VALUES)),
            "voice": VOICES | JSON_VALUES,
            "speed": st.floats(0.0, 3.0) | JSON_VALUES,
            "rate": JSON_VALUES,
        },
    ),
    st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=2),
)
LIES = st.integers(-3, 300) | st.sampled_from([10**12, 2**63, 70_000])


def encode(
    header: dict[str, Any], data: dict[str, Any], payload: bytes, *, inline: bool, ascii_only: bool
) -> bytes:
    header = dict(header)
    body = b""
    if data and inline:
        header["data"] = data  # the old inline form
    elif data:
        body = json.dumps(data, ensure_ascii=ascii_only).encode()
        header["data_length"] = len(body)
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + body + payload


@st.composite
def well_formed_events(draw: st.DrawFn, event_types: st.SearchStrategy[str] = EVENT_TYPES) -> bytes:
    """Framed right, with random types and fields of random types."""
    header: dict[str, Any] = {"type": draw(event_types)}
    if draw(st.integers(0, 3)) == 0:
        header["version"] = draw(st.sampled_from(["1.5.2", "9.9.9"]) | JSON_VALUES)
    payload = draw(st.binary(min_size=1, max_size=64)) if draw(st.integers(0, 9)) == 0 else b""
    inline: bool = draw(st.booleans())
    ascii_only: bool = draw(st.booleans())
    return encode(header, draw(DATA), payload, inline=inline, ascii_only=ascii_only)


@st.composite
def text_streams(draw: st.DrawFn) -> list[bytes]:
    """synthesize-start, a few chunks (perhaps other events among them), perhaps synthesize-stop."""
    messages = [draw(well_formed_events(st.just("synthesize-start")))]
    for _ in range(draw(st.integers(0, 4))):
        text = draw(weighted((3, CHEAP_TEXTS), (1, JSON_VALUES)))
        messages.append(
            encode({"type": "synthesize-chunk"}, {"text": text}, b"", inline=False, ascii_only=False)
        )
        if draw(st.integers(0, 4)) == 0:
            messages.append(draw(well_formed_events()))
    if draw(st.integers(0, 4)):
        messages.append(b'{"type": "synthesize-stop"}\n')
    return messages


@st.composite
def lying_events(draw: st.DrawFn) -> bytes:
    """A well-formed event whose header then lies about (or garbles) a length."""
    raw = draw(well_formed_events())
    line, _, rest = raw.partition(b"\n")
    header = json.loads(line)
    header[draw(st.sampled_from(["data_length", "payload_length"]))] = draw(LIES | JSON_VALUES)
    return json.dumps(header).encode() + b"\n" + rest


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A well-formed event with a few bytes flipped, dropped, inserted or cut off."""
    raw = bytearray(draw(well_formed_events()))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, max(len(raw) - 1, 0)))
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip" and raw:
            raw[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "delete":
            del raw[position : position + draw(st.integers(1, 8))]
        elif action == "insert":
            raw[position:position] = draw(st.binary(min_size=1, max_size=8) | st.just(b"\n"))
        else:
            del raw[position:]
    return bytes(raw)


#: One message that is not a well-formed event (the server answers it with an error and closes).
HOSTILE = st.one_of(
    lying_events(),
    mutated_events(),
    JSON_VALUES.map(lambda value: json.dumps(value).encode() + b"\n"),  # any JSON as a header
    # NaN and Infinity, which Python writes into "JSON" by default
    st.sampled_from([math.nan, math.inf, -math.inf]).map(
        lambda x: json.dumps({"type": "synthesize", "data": {"text": "a", "speed": x}}).encode() + b"\n"
    ),
    st.binary(max_size=120),  # raw bytes
    st.binary(max_size=60).map(lambda raw: raw + b"\n"),
)


@st.composite
def conversations(draw: st.DrawFn) -> list[bytes]:
    """What one connection sends: well-formed events and text streams, and perhaps one hostile
    message somewhere (after it the server only finishes earlier replies, so one is enough)."""
    parts = draw(st.lists(st.one_of(well_formed_events().map(lambda raw: [raw]), text_streams()), max_size=6))
    messages = [message for part in parts for message in part]
    if not messages or draw(st.booleans()):
        messages.insert(draw(st.integers(0, len(messages))), draw(HOSTILE))
    return messages


# -- checks --------------------------------------------------------------------------------------
async def exchange(port: int, raw: bytes) -> list[Event]:
    """Send ``raw``, half-close, and read every event until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(ConnectionError):  # the server may close before reading it all
            writer.write(raw)
            await writer.drain()
            writer.write_eof()
        answers = EventReader(reader, CLIENT_LIMITS)
        events: list[Event] = []
        while (event := await asyncio.wait_for(answers.read_event(), GUARD)) is not None:
            events.append(event)
        return events
    finally:
        writer.close()


def check_answer(events: list[Event]) -> None:
    """Known event types only; errors with known codes; audio framed and in the server's format."""
    in_audio = False
    for event in events:
        if Error.is_type(event.type):
            assert Error.from_event(event).code in ERROR_CODES, event
        elif event.type == "audio-start":
            assert not in_audio, "audio-start inside audio"
            start = AudioStart.from_event(event)
            assert (start.rate, start.width, start.channels) == (24_000, 2, 1)
            in_audio = True
        elif event.type == "audio-chunk":
            assert in_audio, "audio-chunk outside audio"
            chunk = AudioChunk.from_event(event)
            assert 0 < len(chunk.audio) <= CHUNK_SAMPLES * 2 and len(chunk.audio) % 2 == 0
        elif event.type == "audio-stop":
            assert in_audio, "audio-stop without audio-start"
            in_audio = False
        elif event.type == "synthesize-stopped":
            assert not in_audio, "synthesize-stopped inside audio"
        else:
            # describe and ping are answered at once, even in the middle of another reply's audio
            assert event.type in ("info", "pong"), event.type
    assert not in_audio, "audio never stopped"


async def answers_ping(port: int) -> bool:
    events = await exchange(port, b'{"type": "ping", "data": {"text": "still there?"}}\n')
    return [(event.type, event.data.get("text")) for event in events] == [("pong", "still there?")]


# -- the fuzz test -------------------------------------------------------------------------------
@settings(PROFILE)
@given(messages=conversations())
@example(messages=[b'{"type": "synthesize", "data_length": 1000000000000}\n'])
@example(messages=[b'{"type": "describe", "data": [1]}\n', b"\xff\xfe\n"])
@example(messages=[b'{"type": "synthesize-start"}\n', b'{"type": "synthesize-chunk", "data": {"text": 5}}\n'])
@example(messages=[b'{"type": "synthesize", "data": {"text": "Hi.", "voice": "af_heart"}}\n'])
async def test_random_and_mutated_events_never_break_the_server(
    server: KokoroServer, messages: list[bytes]
) -> None:
    assert server.port is not None
    try:
        events = await exchange(server.port, b"".join(messages))
    except ProtocolError as err:
        pytest.fail(f"the server sent something that is not a well-formed event: {err}")
    check_answer(events)
    # What the examples provoked, shown by --hypothesis-show-statistics.
    for kind in sorted({e.type if e.type != "error" else f"error {e.data.get('code')}" for e in events}):
        label(kind)
    assert await answers_ping(server.port)


async def test_the_server_is_intact_after_fuzzing(server: KokoroServer, engine: KokoroEngine) -> None:
    assert server.port is not None
    described = await exchange(server.port, b'{"type": "describe"}\n')
    assert [event.type for event in described] == ["info"]
    assert len(described[0].data["tts"][0]["voices"]) == len(engine.voices.catalog())
    events = await exchange(server.port, b'{"type": "synthesize", "data": {"text": "Still speaking."}}\n')
    check_answer(events)
    assert events[0].type == "audio-start" and events[-1].type == "audio-stop"
    audio = b"".join(AudioChunk.from_event(e).audio for e in events if AudioChunk.is_type(e.type))
    assert 0.5 <= len(audio) / 48_000 <= 5.0
    assert np.sqrt(np.mean(np.frombuffer(audio, "<i2").astype(np.float64) ** 2)) > 300

    async def settled() -> None:
        while server.context.active or engine.streams:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(settled(), GUARD)  # no connection or engine work left behind
