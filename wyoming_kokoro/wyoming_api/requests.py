"""What a Wyoming request asks for, read from its event, and the errors that answer a bad one."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import SynthesizeVoice

from ..engine import EngineError, SynthesisStream

# Error codes, sent as ``Error.code``.
VOICE_NOT_FOUND = "voice-not-found"
BAD_REQUEST = "bad-request"
BUSY = "busy"
SYNTHESIS_FAILED = "synthesis-failed"
TEXT_TOO_LONG = "text-too-long"
ERROR_CODES = (VOICE_NOT_FOUND, BAD_REQUEST, BUSY, SYNTHESIS_FAILED, TEXT_TOO_LONG)


class RequestError(Exception):
    """A request that cannot be served; becomes an ``error`` event with ``code``."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text

    def event(self) -> Event:
        return Error(text=self.text, code=self.code).event()


def feed(stream: SynthesisStream, text: str) -> None:
    try:
        stream.feed(text)
    except EngineError as err:
        raise RequestError(SYNTHESIS_FAILED, str(err)) from None


def text_of(event: Event) -> str:
    text = event.data.get("text")
    if not isinstance(text, str):
        raise RequestError(BAD_REQUEST, f"{event.type} needs a text string")
    return text


def voice_of(data: dict[str, Any]) -> SynthesizeVoice | None:
    voice = data.get("voice")
    if voice is None:
        return None
    if not isinstance(voice, dict):
        raise RequestError(BAD_REQUEST, "voice must be an object with a name or a language")
    parsed = SynthesizeVoice.from_dict(voice)
    for value in (parsed.name, parsed.language) if parsed is not None else ():
        if value is not None and not isinstance(value, str):
            raise RequestError(BAD_REQUEST, "voice name and language must be strings")
    return parsed


def speed_of(data: dict[str, Any]) -> float | None:
    """Speaking rate, an extension field (``"speed": 1.2``) that Wyoming itself does not define."""
    speed = data.get("speed")
    if speed is None:
        return None
    if isinstance(speed, bool) or not isinstance(speed, (int, float, str)):
        raise RequestError(BAD_REQUEST, f"speed must be a number, got {speed!r}")
    try:
        value = float(speed)
    except ValueError:
        raise RequestError(BAD_REQUEST, f"speed must be a number, got {speed!r}") from None
    if not math.isfinite(value):
        raise RequestError(BAD_REQUEST, f"speed must be a finite number, got {speed!r}")
    return value


@dataclass(eq=False)
class Reply:
    """One request's answer, from the moment it is asked for until its last event is sent."""

    streaming: bool
    stream: SynthesisStream | None = None
    #: Set when the request failed; the speaker sends it in place of (or after part of) the audio.
    error: RequestError | None = None
    chars: int = 0
    has_words: bool = False
    #: The speaker has finished with the audio (all of it, or it failed): later text is dropped.
    audio_done: bool = False
    #: ``synthesize-stop`` has arrived; ``synthesize-stopped`` may go out once the audio is done.
    stop_received: asyncio.Event = field(default_factory=asyncio.Event)
    received_at: float = field(default_factory=time.monotonic)

    def fail(self, error: RequestError) -> None:
        """Give up on this reply: the engine drops its queued work, the client gets ``error``."""
        if self.error is None:
            self.error = error
        self.cancel()

    def cancel(self) -> None:
        if self.stream is not None:
            self.stream.cancel()
