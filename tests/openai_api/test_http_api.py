"""The OpenAI-compatible HTTP API, end to end: the real server on a free port, the real engine, real
HTTP clients (aiohttp and the official ``openai`` package), and every audio format decoded back.

Texts are a few words: the suite shares two CPU cores, and each piece is a real inference.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import av
import numpy as np
import openai
import pytest
import pytest_asyncio

from wyoming_kokoro.audio import SAMPLE_RATE
from wyoming_kokoro.config import Config, HttpConfig
from wyoming_kokoro.engine import KokoroEngine, SynthesisStream
from wyoming_kokoro.openai_api.encoders import encode_all, make_encoder, streaming_wav_header
from wyoming_kokoro.openai_api.server import (
    ACTIVE_STREAMS_KEY,
    HttpServerHandle,
    parse_http_uri,
    start_http_server,
)

API_KEY = "test-key-0123456789"
#: The engine speaks this as two pieces (a first segment needs three words), so a stream has a first
#: chunk and a later one.
TWO_PIECES = "Hi there, friend. See you soon."


def _with_http(config: Config, api_key: str | None = None) -> Config:
    return config.model_copy(update={"http": HttpConfig(uri="tcp://127.0.0.1:0", api_key=api_key)})


@pytest_asyncio.fixture(scope="module")
async def server(engine: KokoroEngine, config: Config) -> AsyncIterator[HttpServerHandle]:
    handle = await start_http_server(engine, _with_http(config))
    yield handle
    await handle.close()


@pytest_asyncio.fixture(scope="module")
async def secured(engine: KokoroEngine, config: Config) -> AsyncIterator[HttpServerHandle]:
    handle = await start_http_server(engine, _with_http(config, API_KEY))
    yield handle
    await handle.close()


@pytest_asyncio.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def url(handle: HttpServerHandle, path: str) -> str:
    return f"http://127.0.0.1:{handle.port}{path}"


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Any compressed format back to mono int16 samples and their rate, with FFmpeg's decoders."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        to_s16 = av.AudioResampler(format="s16", layout="mono")
        frames = [
            converted.to_ndarray().ravel()
            for frame in container.decode(stream)
            for converted in to_s16.resample(frame)
        ]
        frames += [converted.to_ndarray().ravel() for converted in to_s16.resample(None)]
        return np.concatenate(frames), stream.codec_context.sample_rate


def loud(samples: np.ndarray) -> bool:
    return bool(np.abs(samples.astype(np.int32)).max() > 3000)


async def speech(
    client: aiohttp.ClientSession, handle: HttpServerHandle, **body: Any
) -> aiohttp.ClientResponse:
    body.setdefault("model", "kokoro")
    return await client.post(url(handle, "/v1/audio/speech"), json=body)


# -- formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac"])
async def test_compressed_formats_decode_to_the_spoken_audio(
    client: aiohttp.ClientSession, server: HttpServerHandle, fmt: str
) -> None:
    response = await speech(client, server, input="Hi.", voice="af_heart", response_format=fmt)
    body = await response.read()
    assert response.status == 200, body
    assert int(response.headers["Content-Length"]) == len(body)
    assert response.headers["X-Sample-Rate"] == "24000"
    assert int(response.headers["X-Time-To-First-Audio-Ms"]) >= 0
    seconds = float(response.headers["X-Audio-Seconds"])
    samples, rate = decode(body)
    # Opus always decodes at 48 kHz; the others keep Kokoro's 24 kHz.
    assert rate == (48_000 if fmt == "opus" else SAMPLE_RATE)
    # Encoders pad a frame or two at the ends, never more.
    assert abs(samples.size / rate - seconds) < 0.1
    assert loud(samples)


async def test_wav_and_pcm_hold_exactly_the_synthesized_samples(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    wav_response = await speech(client, server, input="Hi.", response_format="wav")
    wav_body = await wav_response.read()
    pcm_response = await speech(client, server, input="Hi.", response_format="pcm")
    pcm = await pcm_response.read()
    assert wav_response.headers["Content-Type"] == "audio/wav"
    assert pcm_response.headers["Content-Type"] == "audio/pcm"
    assert pcm_response.headers["X-Sample-Format"] == "s16le"
    with wave.open(io.BytesIO(wav_body)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        frames = wav.readframes(wav.getnframes())
    # The same text and voice synthesize the same samples; the WAV sizes are exact.
    assert frames == pcm
    assert len(pcm) / (2 * SAMPLE_RATE) == pytest.approx(float(pcm_response.headers["X-Audio-Seconds"]))
    assert loud(np.frombuffer(pcm, dtype="<i2"))


def test_encoders_without_a_server() -> None:
    """Encoding alone: a tone through every format and back, whole and piece by piece."""
    tone = (np.sin(np.arange(SAMPLE_RATE) * 2 * np.pi * 220 / SAMPLE_RATE) * 8000).astype("<i2")
    pcm = tone.tobytes()
    for fmt in ("mp3", "opus", "aac", "flac"):
        samples, _ = decode(encode_all(fmt, pcm))
        assert loud(samples), fmt
        if fmt != "flac":
            encoder = make_encoder(fmt, streaming=True)
            parts = [encoder.encode(pcm[: len(pcm) // 2]), encoder.encode(pcm[len(pcm) // 2 :])]
            parts.append(encoder.finish())
            # The first piece's audio is out (decodable) before the next piece even exists.
            assert decode(parts[0])[0].size > SAMPLE_RATE // 4, fmt
            assert loud(decode(b"".join(parts))[0]), fmt
    with pytest.raises(ValueError, match="cannot be streamed"):
        make_encoder("flac", streaming=True)
    header = streaming_wav_header()
    assert len(header) == 44 and header[4:8] == header[40:44] == b"\xff\xff\xff\xff"


# -- streaming -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pcm", "opus", "wav"])
async def test_streaming_sends_audio_before_synthesis_ends(
    client: aiohttp.ClientSession, server: HttpServerHandle, engine: KokoroEngine, fmt: str
) -> None:
    response = await speech(client, server, input=TWO_PIECES, response_format=fmt, stream=True)
    assert response.status == 200, await response.text()
    assert "Content-Length" not in response.headers
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert int(response.headers["X-Time-To-First-Audio-Ms"]) >= 0
    chunks: list[bytes] = []
    arrivals: list[float] = []
    pieces_at_first_chunk = 0
    async for chunk in response.content.iter_any():
        if not chunks:
            pieces_at_first_chunk = engine.stats.pieces
        chunks.append(chunk)
        arrivals.append(time.monotonic())
    # The first bytes arrived while the engine still had the second piece to synthesize.
    assert engine.stats.pieces > pieces_at_first_chunk
    assert len(chunks) >= 2 and arrivals[0] < arrivals[-1]
    body = b"".join(chunks)
    if fmt == "pcm":
        assert len(body) % 2 == 0 and loud(np.frombuffer(body, dtype="<i2"))
    elif fmt == "wav":
        assert body[4:8] == body[40:44] == b"\xff\xff\xff\xff"  # length unknown while streaming
        with wave.open(io.BytesIO(body)) as wav:
            assert wav.getframerate() == SAMPLE_RATE
            frames = wav.readframes(wav.getnframes())
        assert len(frames) == len(body) - 44 and loud(np.frombuffer(frames, dtype="<i2"))
    else:
        samples, rate = decode(body)
        assert rate in (SAMPLE_RATE, 48_000) and loud(samples)


async def test_client_disconnect_cancels_synthesis(
    client: aiohttp.ClientSession, server: HttpServerHandle, engine: KokoroEngine
) -> None:
    text = " ".join(
        [
            "Hello.",
            "Here is a second one, a little longer than the first.",
            "A third sentence follows, so that the reply needs many pieces.",
            "And a fourth, which nobody will hear.",
            "The fifth sentence is here as well.",
            "Finally, a sixth sentence ends the reply.",
        ]
    )
    app = server.runner.app
    response = await speech(client, server, input=text, response_format="pcm", stream=True)
    assert response.status == 200
    await response.content.readany()
    active = app[ACTIVE_STREAMS_KEY]
    [stream] = list(active)
    assert isinstance(stream, SynthesisStream)
    pieces_at_disconnect = engine.stats.pieces
    response.close()  # drops the connection mid-stream
    for _ in range(600):  # bounded: the handler is cancelled as soon as the server sees the close
        if not app[ACTIVE_STREAMS_KEY]:
            break
        await asyncio.sleep(0.05)
    assert not app[ACTIVE_STREAMS_KEY]
    assert stream.cancelled and not stream.units
    # A short request queues behind the piece that was in flight when the client left; once it is
    # done, nothing more is synthesized for the abandoned reply: at most that one piece.
    done = await speech(client, server, input="Hi.", response_format="pcm")
    await done.read()
    assert engine.stats.pieces - pieces_at_disconnect <= 2


# -- errors ----------------------------------------------------------------------------------------


async def error_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


async def test_unknown_voice_is_a_400_naming_it(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    response = await speech(client, server, input="Hi.", voice="af_nobody")
    assert response.status == 400
    error = await error_of(response)
    assert error["param"] == "voice" and error["code"] == "voice_not_found"
    assert error["type"] == "invalid_request_error" and "af_nobody" in error["message"]
    blend = await speech(client, server, input="Hi.", voice="af_heart:0.5+zz_ghost:0.5")
    assert blend.status == 400 and "zz_ghost" in (await error_of(blend))["message"]
    syntax = await speech(client, server, input="Hi.", voice="af_heart:+")
    assert syntax.status == 400 and (await error_of(syntax))["code"] == "invalid_voice"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "gpt-9-tts", "input": "Hi."}, "model", "model_not_found"),
        (
            {"model": "kokoro", "input": "Hi.", "response_format": "ogg"},
            "response_format",
            "unsupported_format",
        ),
        ({"model": "kokoro", "input": "Hi.", "response_format": "flac", "stream": True}, "stream", None),
        ({"model": "kokoro", "input": "Hi.", "stream_format": "websocket"}, "stream_format", None),
        ({"model": "kokoro", "input": "   "}, "input", "empty_input"),
        ({"model": "kokoro", "input": "x" * 100_001}, "input", "input_too_long"),
        # JSON-escaped as surrogate pairs (1.2 MB): still judged by its length, not refused as a body.
        ({"model": "kokoro", "input": "\U0001f600" * 100_001}, "input", "input_too_long"),
        ({"model": "kokoro"}, "input", "missing_required_parameter"),
        ({"model": "kokoro", "input": 42}, "input", "invalid_value"),
        ({"model": "kokoro", "input": "Hi.", "speed": 4.5}, "speed", "invalid_value"),
        ({"model": "kokoro", "input": "***"}, "input", "no_speech"),
    ],
)
async def test_bad_requests_are_400s_with_openai_error_bodies(
    client: aiohttp.ClientSession,
    server: HttpServerHandle,
    body: dict[str, Any],
    param: str,
    code: str | None,
) -> None:
    response = await client.post(url(server, "/v1/audio/speech"), json=body)
    assert response.status == 400
    error = await error_of(response)
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code


async def test_malformed_json_is_a_400_and_the_server_keeps_serving(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    for raw in (b'{"model": "kokoro", "input": ', b"\xff\xfe", b'["a list"]'):
        response = await client.post(url(server, "/v1/audio/speech"), data=raw)
        assert response.status == 400
        assert (await error_of(response))["code"] == "invalid_json"
    missing = await client.get(url(server, "/v1/nothing-here"))
    assert missing.status == 404 and (await error_of(missing))["code"] == "not_found"
    health = await client.get(url(server, "/health"))
    assert health.status == 200 and (await health.json())["status"] == "ok"


async def test_speed_outside_kokoros_range_is_clamped_and_said_so(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    response = await speech(client, server, input="Hi.", response_format="pcm", speed=4.0)
    await response.read()
    assert response.status == 200
    assert response.headers["X-Speed"] == "2" and response.headers["X-Speed-Requested"] == "4"


# -- listings and auth -----------------------------------------------------------------------------


async def test_a_preset_speaks_at_its_speed_unless_the_request_sets_one(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    lengths = {}
    for name, extra in [("plain", {"voice": "af_heart"}), ("preset", {"voice": "quick_heart"}),
                        ("asked", {"voice": "quick_heart", "speed": 1.0})]:  # fmt: skip
        response = await speech(
            client, server, input="The garage door is closed.", response_format="pcm", **extra
        )
        assert response.status == 200, await response.text()
        lengths[name] = len(await response.read())
    assert lengths["preset"] < 0.8 * lengths["plain"]  # the preset's speed 1.5
    assert lengths["asked"] == pytest.approx(lengths["plain"], rel=0.1)  # the request's own speed wins


async def test_voices_models_and_health(
    client: aiohttp.ClientSession, server: HttpServerHandle, engine: KokoroEngine
) -> None:
    voices = await (await client.get(url(server, "/v1/audio/voices"))).json()
    by_id = {voice["id"]: voice for voice in voices["voices"]}
    assert len(by_id) == len(engine.voices.catalog())
    assert by_id["af_heart"]["language"] == "en-US" and by_id["af_heart"]["gender"] == "female"
    assert by_id["bm_fable"]["language"] == "en-GB" and by_id["bm_fable"]["gender"] == "male"
    assert by_id["warm_mix"]["blend"] == "af_heart:0.6+af_bella:0.4"
    assert voices["aliases"]["alloy"] == "af_alloy" and voices["default"] == engine.config.voice
    models = await (await client.get(url(server, "/v1/models"))).json()
    assert {"kokoro", "tts-1", "tts-1-hd"} <= {model["id"] for model in models["data"]}
    audio_models = await (await client.get(url(server, "/v1/audio/models"))).json()
    assert {model["id"] for model in audio_models["models"]} == {
        "kokoro",
        "tts-1",
        "tts-1-hd",
        "gpt-4o-mini-tts",
    }
    health = await (await client.get(url(server, "/health"))).json()
    assert health["status"] == "ok" and health["voices"] == len(engine.voices.names)


async def test_api_key_guards_synthesis(client: aiohttp.ClientSession, secured: HttpServerHandle) -> None:
    body = {"model": "tts-1", "input": "Hi.", "response_format": "pcm"}
    endpoint = url(secured, "/v1/audio/speech")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        response = await client.post(endpoint, json=body, headers=headers)
        assert response.status == 401
        assert (await error_of(response))["code"] == "invalid_api_key"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Listings stay open (Open WebUI fetches voices without its key).
    assert (await client.get(url(secured, "/v1/audio/voices"))).status == 200
    allowed = await client.post(endpoint, json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert allowed.status == 200 and len(await allowed.read()) > SAMPLE_RATE // 10


# -- the official OpenAI client --------------------------------------------------------------------


async def test_official_openai_client(secured: HttpServerHandle) -> None:
    client = openai.AsyncOpenAI(base_url=url(secured, "/v1"), api_key=API_KEY, max_retries=0)
    try:
        async with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input="Hi.", response_format="wav"
        ) as response:
            assert response.headers["X-Voice"] == "af_alloy"  # OpenAI's name, Kokoro's voice
            data = await response.read()
        with wave.open(io.BytesIO(data)) as wav:
            assert wav.getframerate() == SAMPLE_RATE and wav.getnframes() > SAMPLE_RATE // 10
        async with client.audio.speech.with_streaming_response.create(
            model="kokoro",
            voice="af_heart:0.6+af_bella:0.4",
            input=TWO_PIECES,
            response_format="opus",
            extra_body={"stream": True},
        ) as streamed:
            assert streamed.headers["Transfer-Encoding"] == "chunked"
            chunks = [chunk async for chunk in streamed.iter_bytes()]
        samples, rate = decode(b"".join(chunks))
        assert rate == 48_000 and loud(samples)
        with pytest.raises(openai.BadRequestError, match="af_nobody"):
            await client.audio.speech.create(model="tts-1", voice="af_nobody", input="Hi.")
    finally:
        await client.close()


# -- server lifecycle ------------------------------------------------------------------------------


def test_parse_http_uri() -> None:
    assert parse_http_uri("tcp://0.0.0.0:8880") == ("0.0.0.0", 8880)
    assert parse_http_uri("tcp://[::]:8880") == ("::", 8880)
    for bad in ("http://0.0.0.0:8880", "tcp://0.0.0.0", "unix:///tmp/x.sock", "tcp://host:notaport"):
        with pytest.raises(ValueError, match="tcp://HOST:PORT"):
            parse_http_uri(bad)


async def test_close_cuts_off_replies_in_progress_and_frees_the_port(
    engine: KokoroEngine, config: Config
) -> None:
    handle = await start_http_server(engine, _with_http(config))
    text = "Hello. " + "This reply is far too long to finish before the server stops. " * 4
    async with aiohttp.ClientSession() as session:
        response = await speech(session, handle, input=text, response_format="pcm", stream=True)
        assert response.status == 200
        await response.content.readany()
        await handle.close()
        # Cut off, not ended: a client must not take the audio so far for the whole reply.
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url(handle, "/health"))
    assert not handle.runner.app[ACTIVE_STREAMS_KEY]


# -- what the current OpenAI API defines ------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-03-20", "tts-1-hd", "kokoro"])
async def test_current_openai_model_names_are_accepted(
    client: aiohttp.ClientSession, server: HttpServerHandle, model: str
) -> None:
    response = await speech(client, server, model=model, input="Hi.", voice="af_heart", response_format="pcm")
    assert response.status == 200, await response.text()
    assert len(await response.read()) > 0


async def test_an_unknown_model_is_a_400_naming_the_ones_offered(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    response = await speech(client, server, model="gpt-9-tts", input="Hi.")
    error = await error_of(response)
    assert (
        response.status == 400
        and error["code"] == "model_not_found"
        and "gpt-4o-mini-tts" in error["message"]
    )


async def test_every_openai_voice_name_and_the_object_form(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    names = ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"]
    names += ["marin", "cedar"]
    for voice in [*names, {"id": "af_heart"}, {"id": "coral"}]:
        response = await speech(client, server, input="Hi.", voice=voice, response_format="pcm")
        assert response.status == 200, (voice, await response.text())
        await response.read()
    bad = await speech(client, server, input="Hi.", voice={"name": "af_heart"})
    assert bad.status == 400 and (await error_of(bad))["param"] == "voice"


async def test_stream_format_audio_streams_and_sse_sends_openai_events(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    text = "Turned on the kitchen lights. The garage door is closed."
    whole = await speech(client, server, input=text, voice="af_heart", response_format="pcm")
    expected = len(await whole.read())
    streamed = await speech(
        client, server, input=text, voice="af_heart", response_format="pcm", stream_format="audio"
    )
    assert streamed.status == 200 and streamed.headers.get("Transfer-Encoding") == "chunked"
    assert len(await streamed.read()) == pytest.approx(expected, rel=0.05)  # stochastic generator

    sse = await speech(
        client, server, input=text, voice="af_heart", response_format="pcm", stream_format="sse"
    )
    assert sse.status == 200 and sse.headers["Content-Type"].startswith("text/event-stream")
    events = [
        json.loads(line[len("data: ") :])
        for line in (await sse.text()).splitlines()
        if line.startswith("data: ")
    ]
    assert {e["type"] for e in events[:-1]} == {"speech.audio.delta"} and events[-1][
        "type"
    ] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(events) > 2 and len(audio) == pytest.approx(expected, rel=0.05)

    flac = await speech(client, server, input=text, response_format="flac", stream_format="sse")
    assert flac.status == 400 and (await error_of(flac))["param"] == "stream"
    bogus = await speech(client, server, input=text, stream_format="websocket")
    assert bogus.status == 400 and (await error_of(bogus))["param"] == "stream_format"


async def test_instructions_are_accepted_and_said_to_be_ignored(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    response = await speech(
        client, server, input="Hi.", instructions="Speak like a pirate.", response_format="pcm"
    )
    assert response.status == 200 and "X-Instructions-Ignored" in response.headers
    plain = await speech(client, server, input="Hi.", response_format="pcm")
    assert plain.status == 200 and "X-Instructions-Ignored" not in plain.headers


async def test_cors_is_off_by_default_and_allows_only_configured_pages(
    client: aiohttp.ClientSession, server: HttpServerHandle, engine: KokoroEngine, config: Config
) -> None:
    page = {"Origin": "https://chat.example"}
    closed = await client.post(url(server, "/v1/audio/speech"), json={"input": "Hi."}, headers=page)
    assert closed.status == 200 and "Access-Control-Allow-Origin" not in closed.headers
    await closed.read()
    http = HttpConfig(uri="tcp://127.0.0.1:0", cors_origins=["https://chat.example"])
    handle = await start_http_server(engine, config.model_copy(update={"http": http}))
    try:
        preflight = await client.options(
            url(handle, "/v1/audio/speech"),
            headers={
                **page,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://chat.example"
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        for streamed in (False, True):
            body = {"input": "Hi.", "response_format": "pcm", "stream": streamed}
            allowed = await client.post(url(handle, "/v1/audio/speech"), json=body, headers=page)
            assert (
                allowed.status == 200
                and allowed.headers["Access-Control-Allow-Origin"] == "https://chat.example"
            )
            assert "X-Time-To-First-Audio-Ms" in allowed.headers["Access-Control-Expose-Headers"]
            await allowed.read()
        other = await client.get(url(handle, "/v1/models"), headers={"Origin": "https://evil.example"})
        assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers
    finally:
        await handle.close()


async def test_timestamps_give_each_word_its_time_within_the_audio(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    text = "Turned on the kitchen lights. The garage door is closed."
    response = await speech(
        client, server, input=text, voice="af_heart", response_format="pcm", timestamps=True
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    seconds = len(base64.b64decode(body["audio"])) / 2 / SAMPLE_RATE
    assert body["duration"] == pytest.approx(seconds, abs=0.002)
    words = body["words"]
    said = ["Turned", "on", "the", "kitchen", "lights", "The", "garage", "door", "is", "closed"]
    assert [w["word"] for w in words] == said
    starts, ends = [w["start"] for w in words], [w["end"] for w in words]
    assert starts == sorted(starts) and ends == sorted(ends)  # in order, never overlapping back
    assert all(w["start"] < w["end"] for w in words)
    assert all(end <= start + 1e-3 for end, start in zip(ends, starts[1:], strict=False))
    assert starts[0] < 0.3 and seconds - 0.5 < ends[-1] <= seconds  # they span the audio
    gap = starts[5] - ends[4]  # the pause between the two sentences
    assert gap >= 0.25, gap
    refused = await speech(client, server, input=text, timestamps=True, stream=True)
    assert refused.status == 400 and (await error_of(refused))["param"] == "timestamps"


async def test_numbers_are_said_as_people_say_them_through_the_server(
    client: aiohttp.ClientSession, server: HttpServerHandle
) -> None:
    """What the server says, word by word (timestamps), for a phone number written with a dash
    and a regnal numeral."""
    text = "Call 555-0142 about Henry VIII."
    response = await speech(client, server, input=text, response_format="pcm", timestamps=True)
    assert response.status == 200, await response.text()
    said = [w["word"].lower() for w in (await response.json())["words"]]
    assert said == [
        "call",
        "five",
        "five",
        "five",
        "zero",
        "one",
        "four",
        "two",
        "about",
        "henry",
        "the",
        "eighth",
    ]
