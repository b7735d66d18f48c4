"""OpenAI-compatible speech API, served from the Wyoming server's process, event loop and engine.

Open WebUI, LLM agents and scripts speak the OpenAI audio API, so the same Kokoro engine that serves
Home Assistant can serve them too. It is off unless ``http.uri`` (or ``--http``) is set. Requests go
through the engine's scheduler like Wyoming requests do, so a long HTTP reply never starves a voice
assistant's short one.

Endpoints:

* ``POST /v1/audio/speech`` — JSON ``{model, input, voice, response_format, speed, stream}``.

  - ``model``: ``kokoro``, ``tts-1`` or ``tts-1-hd`` (all the same model); anything else is a 400.
  - ``voice``: a Kokoro voice (``af_heart``), a blend (``af_heart:0.6+af_bella:0.4``) or a named
    blend from the config. OpenAI's six classic names map to the Kokoro v1.0 voices made after them
    (:data:`OPENAI_VOICES`: alloy→af_alloy, echo→am_echo, fable→bm_fable, onyx→am_onyx,
    nova→af_nova, shimmer→af_sky), so clients that only know OpenAI's names (Open WebUI's default
    is ``alloy``) work unchanged; an installed voice or blend of the same name wins.
  - ``response_format``: ``mp3`` (default, as OpenAI), ``opus`` (Ogg), ``aac`` (ADTS), ``flac``,
    ``wav``, ``pcm`` (raw 16-bit little-endian mono 24 kHz).
  - ``speed``: OpenAI accepts 0.25–4.0, Kokoro only 0.5–2.0. Values in OpenAI's range are clamped
    to Kokoro's; the response then carries ``X-Speed-Requested`` beside ``X-Speed`` (the speed used).
  - ``input``: OpenAI caps it at 4096 characters. This server does not: its cap is
    ``limits.max_text_chars`` (shared with Wyoming), since it streams and a long text only costs time.
  - ``stream``: ``false`` (default) answers with one complete file and a ``Content-Length``, every
    header in it exact. ``true`` sends audio with chunked transfer as each piece is synthesized;
    WAV then carries "unknown length" sizes. FLAC cannot stream (its header needs the final length
    and checksum): asking for it is a 400.

  The headers are sent only once the first piece of audio is ready, so every error that can happen
  before (unknown voice, failed synthesis, text with nothing to say) still gets a proper status and
  a JSON body, and ``X-Time-To-First-Audio-Ms`` (request received → first audio encoded) is known.

* ``GET /v1/audio/voices`` — voices and blends (``{"voices": [{"id", "name", ...}]}``, the shape
  Open WebUI reads), ``GET /v1/models`` and ``GET /v1/audio/models`` (OpenAI's and Open WebUI's
  shapes), ``GET /health``.

With ``http.api_key`` set, ``POST /v1/audio/speech`` needs ``Authorization: Bearer <key>`` (compared
in constant time). The read-only listings and ``/health`` stay open: they cost nothing, and Open
WebUI fetches the voice list without sending its key.

Errors use OpenAI's body, ``{"error": {"message", "type", "param", "code"}}``, so OpenAI clients
raise readable exceptions. A client that disconnects cancels its synthesis at once.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from ..config import Config
from ..engine import AudioPiece, EngineBusy, EngineError, KokoroEngine, SynthesisStream
from ..text.pipeline import spoken_words
from ..voices import VoiceError
from .encoders import FORMATS, AudioEncoder, close_encoder, make_encoder
from .requests import MODELS, OPENAI_VOICES, ApiError, Speech, validate

_LOGGER = logging.getLogger(__name__)

#: How long ``close`` waits for replies in progress before they are cut off.
_SHUTDOWN_TIMEOUT = 5.0

ENGINE_KEY = web.AppKey("engine", KokoroEngine)
CONFIG_KEY = web.AppKey("config", Config)
#: Synthesis streams of requests in progress (a client that goes away must not leave one behind).
ACTIVE_STREAMS_KEY: web.AppKey[set[SynthesisStream]] = web.AppKey("active_streams")


@dataclass
class HttpServerHandle:
    """A running HTTP API: where it listens, and how to stop it."""

    runner: web.AppRunner
    host: str
    port: int

    async def close(self) -> None:
        """Stop listening, cut off replies in progress (their synthesis is cancelled), free the port."""
        await self.runner.cleanup()


# -- application ---------------------------------------------------------------------------------


def create_app(engine: KokoroEngine, config: Config) -> web.Application:
    """The aiohttp application: routes, error handling and the optional bearer-token check."""
    app = web.Application(
        middlewares=[_cors_middleware, _error_middleware, _auth_middleware],
        # JSON may escape a character as up to 12 bytes (a surrogate pair); leave room for the rest.
        client_max_size=config.limits.max_text_chars * 12 + 64 * 1024,
    )
    app[ENGINE_KEY] = engine
    app[CONFIG_KEY] = config
    app[ACTIVE_STREAMS_KEY] = set()
    app.router.add_post("/v1/audio/speech", _speech)
    app.router.add_get("/v1/audio/voices", _voices)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/v1/audio/models", _audio_models)
    app.router.add_get("/health", _health)
    app.on_shutdown.append(_cancel_active_streams)
    app.on_response_prepare.append(_add_cors_headers)
    return app


async def start_http_server(engine: KokoroEngine, config: Config) -> HttpServerHandle:
    """Serve the API on ``config.http.uri`` (``tcp://HOST:PORT``; port 0 picks a free one) in the
    running event loop, beside the Wyoming server. Raises ValueError for a URI it cannot serve."""
    if not config.http.uri:
        raise ValueError("http.uri is not set")
    host, port = parse_http_uri(config.http.uri)
    # handler_cancellation: a client that disconnects cancels its handler, and with it the synthesis.
    runner = web.AppRunner(
        create_app(engine, config),
        handler_cancellation=True,
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
        access_log=None,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            bound_port = int(address[1])
            break
    _LOGGER.info("OpenAI-compatible speech API on http://%s:%d/v1", host, bound_port)
    return HttpServerHandle(runner, host, bound_port)


def parse_http_uri(uri: str) -> tuple[str, int]:
    """``tcp://0.0.0.0:8880`` → ("0.0.0.0", 8880); ``tcp://[::]:8880`` → ("::", 8880)."""
    parts = urlsplit(uri)
    if parts.scheme != "tcp":
        raise ValueError(f"http.uri must be tcp://HOST:PORT, got {uri!r}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or not parts.hostname:
        raise ValueError(f"http.uri must be tcp://HOST:PORT, got {uri!r}")
    return parts.hostname, port


# -- middlewares ----------------------------------------------------------------------------------

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _error_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every error, ours or aiohttp's (404, 405, 413), as OpenAI's JSON error body."""
    try:
        return await handler(request)
    except ApiError as err:
        # The client gets the details; the log says why a client (Open WebUI, a script) failed.
        level = logging.WARNING if err.status >= 500 else logging.INFO
        _LOGGER.log(level, "%s %s -> %d: %s", request.method, request.path, err.status, err.message)
        return err.response()
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(err.status)
        # Keep what the client needs (Allow on a 405); the body and its type are replaced.
        kept = {k: v for k, v in err.headers.items() if k.lower() not in ("content-type", "content-length")}
        return ApiError(err.status, err.reason, code=code, headers=kept).response()


#: The CORS headers of a request from an allowed web page (set by ``_cors_middleware``).
CORS_KEY = web.RequestKey("cors", dict[str, str])
#: Response headers a browser script may read (with CORS on).
_EXPOSED_HEADERS = (
    "X-Time-To-First-Audio-Ms, X-Audio-Seconds, X-Voice, X-Speed, X-Speed-Requested, X-Sample-Rate"
)


@web.middleware
async def _cors_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Cross-origin requests from the configured web pages (``http.cors_origins``): a preflight
    ``OPTIONS`` is answered here, and every response to such a page says it may read it
    (``_add_cors_headers``, before the headers go out, streamed replies included). Off (no header
    ever added) when no origin is configured."""
    origins = request.app[CONFIG_KEY].http.cors_origins
    origin = request.headers.get("Origin")
    if not origin or not ("*" in origins or origin in origins):
        return await handler(request)
    request[CORS_KEY] = {"Access-Control-Allow-Origin": "*" if "*" in origins else origin, "Vary": "Origin"}
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        preflight = {
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        }
        return web.Response(status=204, headers=preflight)
    return await handler(request)


async def _add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    cors = request.get(CORS_KEY)
    if cors is not None:
        response.headers.update({**cors, "Access-Control-Expose-Headers": _EXPOSED_HEADERS})


@web.middleware
async def _auth_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Bearer token for synthesis, when ``http.api_key`` is set; listings stay open."""
    api_key = request.app[CONFIG_KEY].http.api_key
    if api_key and request.method == "POST":
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        # compare_digest: how long the comparison takes says nothing about how much of the key matched.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode("utf-8"), api_key.encode("utf-8")
        ):
            raise ApiError(
                401,
                "Missing or wrong API key: send 'Authorization: Bearer <key>' (the key in http.api_key)",
                code="invalid_api_key",
                headers={"WWW-Authenticate": 'Bearer realm="wyoming-kokoro"'},
            )
    return await handler(request)


async def _cancel_active_streams(app: web.Application) -> None:
    """On shutdown, stop synthesis for replies in progress so their handlers end promptly."""
    active = app[ACTIVE_STREAMS_KEY]
    for stream in list(active):
        stream.cancel()


# -- speech ---------------------------------------------------------------------------------------


async def _speech(request: web.Request) -> web.StreamResponse:
    received = time.monotonic()
    engine = request.app[ENGINE_KEY]
    speech = validate(await _read_json(request), engine, request.app[CONFIG_KEY])
    stream = _open_stream(engine, speech)
    active = request.app[ACTIVE_STREAMS_KEY]
    active.add(stream)
    encoder: AudioEncoder | None = None
    try:
        stream.feed(speech.text)
        stream.close()
        pieces = aiter(stream)
        first = await _next_piece(pieces)
        if first is None:
            if stream.cancelled:
                raise ApiError(
                    503, "The server is shutting down", code="shutting_down", error_type="server_error"
                )
            raise ApiError(
                400,
                "The input has nothing to speak (no words after normalization)",
                param="input",
                code="no_speech",
            )
        encoder = make_encoder(speech.format, streaming=speech.stream)
        head = await asyncio.to_thread(encoder.encode, first.pcm)
        ttfa_ms = (time.monotonic() - received) * 1000
        headers = _audio_headers(speech, stream, ttfa_ms)
        _LOGGER.info(
            "Speech request: %d chars, voice %s, %s%s, first audio in %.0f ms",
            len(speech.text),
            stream.voice.key,
            speech.format,
            " (streamed)" if speech.stream else "",
            ttfa_ms,
        )
        response: web.StreamResponse
        if speech.timestamps:
            response = await _timed_audio(engine, speech, headers, head, first, pieces, encoder, stream)
        elif speech.sse:
            response = await _sse_audio(request, headers, head, first, pieces, encoder, stream)
        elif speech.stream:
            response = await _stream_audio(request, headers, head, first, pieces, encoder, stream)
        else:
            response = await _whole_audio(headers, head, first, pieces, encoder, stream)
        return response
    finally:
        stream.cancel()
        active.discard(stream)
        if encoder is not None:
            # Frees FFmpeg's state if the reply did not finish. In a worker thread, as it waits for an
            # encode that a cancelled handler left running there.
            asyncio.get_running_loop().run_in_executor(None, close_encoder, encoder)


async def _read_json(request: web.Request) -> Any:
    body = await request.read()
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, f"The request body is not valid JSON: {err}", code="invalid_json") from None


def _open_stream(engine: KokoroEngine, speech: Speech) -> SynthesisStream:
    try:
        return engine.open_stream(voice=speech.voice, speed=speech.speed, timed=speech.timestamps)
    except EngineBusy as err:
        raise ApiError(
            503, str(err), code="engine_busy", error_type="server_error", headers={"Retry-After": "1"}
        ) from None
    except VoiceError as err:
        raise ApiError(400, str(err), param="voice", code="voice_not_found") from None
    except ValueError as err:
        raise ApiError(400, str(err), param="speed", code="invalid_value") from None


async def _next_piece(pieces: AsyncIterator[AudioPiece]) -> AudioPiece | None:
    """The next piece, None at the end; a synthesis failure before any audio was sent is a 500."""
    try:
        return await anext(pieces, None)
    except EngineError as err:
        raise ApiError(
            500, f"Synthesis failed: {err}", code="synthesis_failed", error_type="server_error"
        ) from None


def _audio_headers(speech: Speech, stream: SynthesisStream, ttfa_ms: float) -> dict[str, str]:
    headers = {
        "Content-Type": FORMATS[speech.format].content_type,
        "X-Time-To-First-Audio-Ms": f"{ttfa_ms:.0f}",
        "X-Sample-Rate": str(SAMPLE_RATE),
        "X-Channels": str(CHANNELS),
        "X-Voice": stream.voice.key,
        "X-Speed": f"{stream.speed:g}",
    }
    if speech.format in ("pcm", "wav"):
        headers["X-Sample-Format"] = f"s{SAMPLE_WIDTH * 8}le"
    if speech.requested_speed is not None and speech.requested_speed != stream.speed:
        headers["X-Speed-Requested"] = f"{speech.requested_speed:g}"
    if speech.instructions_ignored:
        headers["X-Instructions-Ignored"] = (
            "Kokoro cannot follow speaking instructions; the voice speaks as it does"
        )
    return headers


async def _whole_audio(
    headers: dict[str, str],
    head: bytes,
    first: AudioPiece,
    pieces: AsyncIterator[AudioPiece],
    encoder: AudioEncoder,
    stream: SynthesisStream,
) -> web.Response:
    """Everything synthesized, then one file with a Content-Length."""
    chunks = [head]
    seconds = first.seconds
    while (piece := await _next_piece(pieces)) is not None:
        chunks.append(await asyncio.to_thread(encoder.encode, piece.pcm))
        seconds += piece.seconds
    if stream.cancelled:
        raise ApiError(503, "The server is shutting down", code="shutting_down", error_type="server_error")
    chunks.append(await asyncio.to_thread(encoder.finish))
    headers["X-Audio-Seconds"] = f"{seconds:.3f}"
    return web.Response(body=b"".join(chunks), headers=headers)


async def _timed_audio(
    engine: KokoroEngine,
    speech: Speech,
    headers: dict[str, str],
    head: bytes,
    first: AudioPiece,
    pieces: AsyncIterator[AudioPiece],
    encoder: AudioEncoder,
    stream: SynthesisStream,
) -> web.Response:
    """``timestamps: true``: the whole audio (base64, in the response format) and when each word
    is said, in seconds from the audio's start, as JSON."""
    chunks, times, offset = [head], [], 0.0
    piece: AudioPiece | None = first
    while piece is not None:
        if piece is not first:
            chunks.append(await asyncio.to_thread(encoder.encode, piece.pcm))
        times += [
            (word, offset + w.start, offset + w.end) for word, w in [(w.phonemes, w) for w in piece.words]
        ]
        offset += piece.seconds
        piece = await _next_piece(pieces)
    if stream.cancelled:
        raise ApiError(503, "The server is shutting down", code="shutting_down", error_type="server_error")
    chunks.append(await asyncio.to_thread(encoder.finish))
    said = await asyncio.to_thread(spoken_words, engine.frontend, speech.text, stream.language)
    labels = said if len(said) == len(times) else [phonemes for phonemes, _, _ in times]
    words = [
        {"word": label, "start": round(start, 3), "end": round(end, 3)}
        for label, (_, start, end) in zip(labels, times, strict=True)
    ]
    body = {
        "audio": base64.b64encode(b"".join(chunks)).decode("ascii"),
        "format": speech.format,
        "duration": round(offset, 3),
        "words": words,
    }
    kept = {k: v for k, v in headers.items() if k != "Content-Type"}
    return web.json_response(body, headers={**kept, "X-Audio-Seconds": f"{offset:.3f}"})


async def _stream_audio(
    request: web.Request,
    headers: dict[str, str],
    head: bytes,
    first: AudioPiece,
    pieces: AsyncIterator[AudioPiece],
    encoder: AudioEncoder,
    stream: SynthesisStream,
) -> web.StreamResponse:
    """Headers and the first piece now, each later piece as soon as it is synthesized."""
    # X-Accel-Buffering: a reverse proxy (nginx and those copying it) must pass pieces on as they come.
    response = web.StreamResponse(headers={**headers, "X-Accel-Buffering": "no"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if await _send_pieces(request, response.write, head, first, pieces, encoder, stream):
        await response.write_eof()
    return response


async def _sse_audio(
    request: web.Request,
    headers: dict[str, str],
    head: bytes,
    first: AudioPiece,
    pieces: AsyncIterator[AudioPiece],
    encoder: AudioEncoder,
    stream: SynthesisStream,
) -> web.StreamResponse:
    """``stream_format: sse``: each piece's audio as a ``speech.audio.delta`` event (base64, in the
    response format), then ``speech.audio.done``, as OpenAI sends them."""
    sse = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    response = web.StreamResponse(headers={**headers, **sse})
    await response.prepare(request)

    async def send(event: dict[str, Any]) -> None:
        await response.write(f"data: {json.dumps(event)}\n\n".encode())

    async def delta(audio: bytes) -> None:
        if audio:
            await send({"type": "speech.audio.delta", "audio": base64.b64encode(audio).decode("ascii")})

    if await _send_pieces(request, delta, head, first, pieces, encoder, stream):
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        await send({"type": "speech.audio.done", "usage": usage})
        await response.write_eof()
    return response


async def _send_pieces(
    request: web.Request,
    send: Callable[[bytes], Awaitable[None]],
    head: bytes,
    first: AudioPiece,
    pieces: AsyncIterator[AudioPiece],
    encoder: AudioEncoder,
    stream: SynthesisStream,
) -> bool:
    """The encoded audio through *send*: the first piece's, each later piece's as it is made, and
    the encoder's end. False (the connection cut, see ``_abort``) when synthesis fails midway or
    the server shuts down."""
    await send(head)
    seconds = first.seconds
    try:
        while (piece := await anext(pieces, None)) is not None:
            await send(await asyncio.to_thread(encoder.encode, piece.pcm))
            seconds += piece.seconds
    except EngineError as err:
        _LOGGER.warning("Synthesis failed after %.1f s of streamed audio: %s", seconds, err)
        _abort(request)
        return False
    if stream.cancelled:  # the server is shutting down
        _abort(request)
        return False
    await send(await asyncio.to_thread(encoder.finish))
    return True


def _abort(request: web.Request) -> None:
    """Cut the connection without the final chunk, so the client sees an incomplete response instead
    of a truncated file that looks whole."""
    if request.transport is not None:
        request.transport.close()


# -- listings -------------------------------------------------------------------------------------


async def _voices(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    voices = [
        {
            "id": info.name,
            "name": info.description,
            "language": info.language_tag,
            "language_code": info.language,
            "gender": info.gender,
            "blend": info.blend,
        }
        for info in engine.voices.catalog()
    ]
    names = set(engine.voices.names)
    aliases = {name: voice for name, voice in OPENAI_VOICES.items() if voice in names}
    return web.json_response({"voices": voices, "aliases": aliases, "default": engine.config.voice})


def _model_entries() -> list[dict[str, Any]]:
    return [{"id": name, "object": "model", "created": 0, "owned_by": "wyoming-kokoro"} for name in MODELS]


async def _models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": _model_entries()})


async def _audio_models(request: web.Request) -> web.Response:
    return web.json_response({"models": _model_entries()})


async def _health(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    return web.json_response(
        {
            "status": "ok",
            "device": engine.device,
            "model": engine.model_path.name,
            "voices": len(engine.voices.names),
            "active_requests": len(request.app[ACTIVE_STREAMS_KEY]),
        }
    )


__all__ = [
    "MODELS",
    "OPENAI_VOICES",
    "ApiError",
    "HttpServerHandle",
    "create_app",
    "parse_http_uri",
    "start_http_server",
]
