"""Audio shaping at the seams between pieces: trim, fade, pause, and 16-bit PCM conversion.

Each piece is synthesized on its own, and Kokoro pads its output with a little silence of its own at
both ends. Joining pieces as they come would give doubled, uneven gaps; cutting them hard would click.
So every piece is trimmed to its speech (keeping a short margin), given 4 ms fades, and followed by a
pause whose length depends on how the piece ended: a sentence, a clause, or a cut between words.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt

from .text.segmenter import Boundary

SAMPLE_RATE = 24_000
SAMPLE_WIDTH = 2  # bytes, 16-bit signed little-endian
CHANNELS = 1

#: Silence after a piece, by how it ended. "end" is the end of the reply: nothing more to wait for.
PAUSE_SECONDS: dict[Boundary, float] = {
    "sentence": 0.30,
    "clause": 0.12,
    "word": 0.0,
    "end": 0.0,
}

_FRAME = 240  # 10 ms analysis frames
_MARGIN = {"head": 0.02, "tail": 0.06}  # seconds of context kept around speech
_FADE = 96  # 4 ms
_THRESHOLD_DB = -45.0  # relative to the piece's loudest frame


def speech_bounds(audio: npt.NDArray[np.float32], *, start: bool = True, end: bool = True) -> tuple[int, int]:
    """The samples ``trim_silence`` keeps: from the first loud frame (less a margin) when *start*,
    to the last (plus a margin) when *end*."""
    if audio.size < _FRAME * 2:
        return 0, audio.size
    frames = audio[: audio.size - audio.size % _FRAME].reshape(-1, _FRAME)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    peak = float(rms.max())
    if peak <= 1e-6:
        return 0, 0
    loud = np.flatnonzero(rms >= peak * 10 ** (_THRESHOLD_DB / 20))
    first = max(0, int(loud[0]) * _FRAME - int(_MARGIN["head"] * SAMPLE_RATE)) if start else 0
    last = (
        min(audio.size, (int(loud[-1]) + 1) * _FRAME + int(_MARGIN["tail"] * SAMPLE_RATE))
        if end
        else audio.size
    )
    return first, last


def trim_silence(
    audio: npt.NDArray[np.float32], *, start: bool = True, end: bool = True
) -> npt.NDArray[np.float32]:
    """Cut leading (*start*) and trailing (*end*) near-silence, keeping a short margin so no onset
    or decay is lost."""
    first, last = speech_bounds(audio, start=start, end=end)
    return audio[first:last]


def shape_piece(
    audio: npt.NDArray[np.float32], *, start: bool = True, end: bool = True
) -> npt.NDArray[np.float32]:
    """Trim and fade a piece's *start* and *end*; the pause after it is added when it is sent
    (``pause_pcm``), once it is known how the text goes on.

    A piece sent in two parts (split_model.py) is shaped in two: its head with ``end=False`` (it
    goes on in the tail), its tail with ``start=False`` (it goes on from the head).
    """
    audio = trim_silence(np.asarray(audio, dtype=np.float32).ravel(), start=start, end=end).copy()
    if audio.size >= 2 * _FADE:
        ramp = np.linspace(0.0, 1.0, _FADE, dtype=np.float32)
        if start:
            audio[:_FADE] *= ramp
        if end:
            audio[-_FADE:] *= ramp[::-1]
    return audio


def silence_pcm(seconds: float) -> bytes:
    """*seconds* of silence as 16-bit PCM."""
    return bytes(int(seconds * SAMPLE_RATE) * SAMPLE_WIDTH)


def pause_pcm(boundary: Boundary, extra: float = 0.0) -> bytes:
    """The silence (16-bit PCM) that follows a piece ending at *boundary*, and *extra* seconds more
    (a configured ``sentence_silence``).

    Added as a piece is sent, not when it is synthesized: a reply's first sentence may be
    synthesized before it is known whether another follows ("end": none, "sentence": 0.3 s), and
    the phrase cache keeps pieces without it, so a cached sentence gets the pause of where it is
    said this time.
    """
    return silence_pcm(PAUSE_SECONDS[boundary] + extra)


def crossfade(
    head: npt.NDArray[np.float32], tail: npt.NDArray[np.float32], samples: int
) -> npt.NDArray[np.float32]:
    """*tail* with its first *samples* faded in over *head*'s (the same stretch, decoded twice)."""
    ramp = np.linspace(0.0, 1.0, samples + 2, dtype=np.float32)[1:-1]
    mixed = head[:samples] * (1 - ramp) + tail[:samples] * ramp
    return np.concatenate([mixed, tail[samples:]])


def to_pcm16(audio: npt.NDArray[np.float32]) -> bytes:
    """Float samples in [-1, 1] → 16-bit little-endian PCM (clipped, never wrapped)."""
    clipped = np.clip(audio, -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def wav_bytes(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A complete WAV file around 16-bit mono PCM."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def pcm_seconds(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> float:
    return len(pcm) / (SAMPLE_WIDTH * CHANNELS * sample_rate)
