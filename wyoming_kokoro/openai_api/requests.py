"""What a request to ``/v1/audio/speech`` asks for, checked before any synthesis, and the errors
that answer a bad one (OpenAI's error body, naming the field)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import MAX_SPEED, MIN_SPEED, Config
from ..engine import KokoroEngine
from ..voices import VoiceError, parse_blend
from .encoders import DEFAULT_FORMAT, FORMATS

#: Model names accepted in ``model``; they all mean the one Kokoro model this server runs.
#: OpenAI's dated snapshots (``gpt-4o-mini-tts-2025-03-20``) are accepted too. Any other name is a
#: 400 naming these: a client asking for a model it does not get should hear so.
MODELS: tuple[str, ...] = ("kokoro", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
_DATED = re.compile(r"(?P<model>gpt-4o-mini-tts|tts-1|tts-1-hd)-\d{4}-\d{2}-\d{2}")

#: OpenAI's voice names → Kokoro v1.0 voices: the six classic ones to the voices named after them,
#: the newer ones to a voice of the same gender and accent.
OPENAI_VOICES: dict[str, str] = {
    "alloy": "af_alloy",
    "ash": "am_adam",
    "ballad": "bm_george",
    "cedar": "am_michael",
    "coral": "af_heart",
    "echo": "am_echo",
    "fable": "bm_fable",
    "marin": "af_bella",
    "nova": "af_nova",
    "onyx": "am_onyx",
    "sage": "af_sarah",
    "shimmer": "af_sky",
    "verse": "am_puck",
}
#: How a streamed reply is sent: raw audio (``audio``) or server-sent events (``sse``).
STREAM_FORMATS = ("audio", "sse")

#: The speed range OpenAI's API accepts, and the narrower one Kokoro can render.
OPENAI_SPEED_RANGE = (0.25, 4.0)


class ApiError(Exception):
    """A request that cannot be served; becomes an OpenAI-style JSON error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.error_type = error_type
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }
        return web.json_response(body, status=self.status, headers=self.headers)


class SpeechRequest(BaseModel):
    """The JSON body of ``POST /v1/audio/speech``. Unknown fields (``instructions``, a client's
    extras) are ignored, as a drop-in replacement for OpenAI must not choke on them."""

    model_config = ConfigDict(extra="ignore")

    model: str = "kokoro"
    input: str
    #: A voice name, or OpenAI's object form ``{"id": "..."}``.
    voice: str | dict[str, Any] | None = None
    response_format: str = DEFAULT_FORMAT
    speed: float | None = None
    stream: bool = False
    #: ``audio`` streams raw audio (as ``stream: true``); ``sse`` sends server-sent events.
    stream_format: str | None = None
    #: How gpt-4o-mini-tts should speak; Kokoro has no such control: accepted, and ignored (a
    #: response header says so).
    instructions: str | None = None
    #: This server's extension: answer JSON with the audio (base64) and each word's start and end.
    timestamps: bool = False


@dataclass(frozen=True)
class Speech:
    """A validated speech request, in the engine's terms."""

    text: str
    voice: str | None
    format: str
    speed: float | None
    requested_speed: float | None
    stream: bool
    #: Send the audio as server-sent events (``stream_format: sse``).
    sse: bool = False
    #: ``instructions`` were given (and cannot be followed).
    instructions_ignored: bool = False
    #: Answer JSON with the audio and each word's times (``timestamps: true``).
    timestamps: bool = False


def validate(data: Any, engine: KokoroEngine, config: Config) -> Speech:
    """Check everything that can be checked before synthesis; raise ApiError naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", code="invalid_json")
    try:
        request = SpeechRequest.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        code = "missing_required_parameter" if first["type"] == "missing" else "invalid_value"
        raise ApiError(400, f"{param}: {first['msg']}", param=param, code=code) from None
    dated = _DATED.fullmatch(request.model)
    if request.model not in MODELS and dated is None:
        raise ApiError(
            400,
            f"Unknown model {request.model!r}; this server offers {', '.join(MODELS)} (all Kokoro-82M)",
            param="model",
            code="model_not_found",
        )
    fmt = _checked_format(request)
    text = _checked_input(request.input, config)
    speed = _checked_speed(request.speed)
    return Speech(
        text=text,
        voice=_voice_spec(engine, _voice_name(request.voice)),
        format=fmt,
        speed=speed,
        requested_speed=request.speed,
        stream=request.stream or request.stream_format is not None,
        sse=request.stream_format == "sse",
        instructions_ignored=bool(request.instructions and request.instructions.strip()),
        timestamps=_checked_timestamps(request, engine),
    )


def _checked_timestamps(request: SpeechRequest, engine: KokoroEngine) -> bool:
    """Whether word times are asked for; raises ApiError where they cannot be given."""
    if not request.timestamps:
        return False
    if request.stream or request.stream_format:
        raise ApiError(
            400,
            "timestamps come with the whole audio in one JSON answer: ask without stream",
            param="timestamps",
            code="unsupported_value",
        )
    if not engine.times_words:
        raise ApiError(
            400,
            "word timestamps need the CPU's split model (split_first_piece: true; not on a GPU)",
            param="timestamps",
            code="unsupported_value",
        )
    return True


def _voice_name(voice: str | dict[str, Any] | None) -> str | None:
    """The voice's name, given as a string or as OpenAI's ``{"id": "..."}``."""
    if isinstance(voice, dict):
        name = voice.get("id")
        if not isinstance(name, str):
            raise ApiError(
                400, 'voice must be a name or an object {"id": "<name>"}', param="voice", code="invalid_value"
            )
        return name
    return voice


def _checked_format(request: SpeechRequest) -> str:
    """The response format, lower-cased; raises ApiError for one this server cannot send (as
    asked: streamed or not)."""
    fmt = request.response_format.lower()
    if fmt not in FORMATS:
        raise ApiError(
            400,
            f"Unsupported response_format {request.response_format!r}; use one of {', '.join(FORMATS)}",
            param="response_format",
            code="unsupported_format",
        )
    if request.stream_format not in (None, *STREAM_FORMATS):
        raise ApiError(
            400,
            f"stream_format {request.stream_format!r} is not supported; use 'audio' (raw audio) or 'sse'"
            " (server-sent events)",
            param="stream_format",
            code="unsupported_stream_format",
        )
    if (request.stream or request.stream_format) and not FORMATS[fmt].streamable:
        streamable = ", ".join(name for name, info in FORMATS.items() if info.streamable)
        raise ApiError(
            400,
            f"{fmt} cannot be streamed: its header needs the total length and checksum, known only at "
            f"the end. Use stream: false for {fmt}, or stream one of {streamable}",
            param="stream",
            code="unsupported_stream_format",
        )
    return fmt


def _checked_input(text: str, config: Config) -> str:
    """The text to speak; raises ApiError when it is empty or over the length limit."""
    if not text.strip():
        raise ApiError(400, "input is empty", param="input", code="empty_input")
    limit = config.limits.max_text_chars
    if len(text) > limit:
        raise ApiError(
            400,
            f"input is {len(text)} characters; this server accepts at most {limit} (limits.max_text_chars)",
            param="input",
            code="input_too_long",
        )
    return text


def _checked_speed(speed: float | None) -> float | None:
    """A speed in OpenAI's range, brought into Kokoro's; raises ApiError outside OpenAI's."""
    if speed is not None:
        low, high = OPENAI_SPEED_RANGE
        if not low <= speed <= high:
            raise ApiError(
                400,
                f"speed must be between {low} and {high}, got {speed}",
                param="speed",
                code="invalid_value",
            )
        speed = min(max(speed, MIN_SPEED), MAX_SPEED)
    return speed


def _voice_spec(engine: KokoroEngine, requested: str | None) -> str | None:
    """The voice spec for the engine: as given, or an OpenAI name mapped to its Kokoro voice."""
    if requested is None or not requested.strip():
        return None
    requested = requested.strip()
    try:
        parse_blend(requested)
    except VoiceError as err:
        raise ApiError(400, str(err), param="voice", code="invalid_voice") from None
    try:
        engine.voices.resolve(requested)
        return requested
    except VoiceError as err:
        alias = OPENAI_VOICES.get(requested.lower())
        if alias is not None and alias in engine.voices.names:
            return alias
        raise ApiError(
            400,
            f"Voice {requested!r} not found: {err}. GET /v1/audio/voices lists voices and blends",
            param="voice",
            code="voice_not_found",
        ) from None
