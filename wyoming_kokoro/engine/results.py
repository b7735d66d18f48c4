"""What the engine hands back: audio to send, the errors that end a request, and its counters."""

from __future__ import annotations

from dataclasses import dataclass

from ..audio import pcm_seconds
from .timing import WordTime


class EngineError(RuntimeError):
    """Synthesis of a request failed; the request is over, the engine keeps serving."""


class EngineBusy(EngineError):
    """Too much work is queued; the caller should say "busy" and try later."""


@dataclass(frozen=True)
class AudioPiece:
    """A run of 16-bit mono PCM at 24 kHz, ready to send, and the phonemes it speaks."""

    pcm: bytes
    phonemes: str
    #: When each word is said, from the piece's start: only for a reply asked with word times.
    words: tuple[WordTime, ...] = ()

    @property
    def seconds(self) -> float:
        return pcm_seconds(self.pcm)


@dataclass
class Stats:
    """Counters since start: for the debug log, the benchmarks and the tests."""

    pieces: int = 0
    inference_seconds: float = 0.0
    audio_seconds: float = 0.0
    cache_hits: int = 0
    preempted: int = 0
