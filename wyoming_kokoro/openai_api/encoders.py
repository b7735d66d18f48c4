"""Audio encoders for the HTTP API: 16-bit mono 24 kHz PCM in, a file format out, piece by piece.

The engine hands out audio a piece (a sentence or so) at a time. For streaming, each piece has to
leave as bytes as soon as it is ready, so every encoder here takes PCM incrementally and returns
whatever encoded bytes are complete (``encode``), then the rest (``finish``).

* ``pcm`` and ``wav`` need no codec: the standard library's ``wave`` writes a complete file, and a
  streamed WAV gets a header whose sizes say "unknown" (0xFFFFFFFF), which players and ``wave`` read.
* ``mp3``, ``opus`` (in Ogg), ``aac`` (in ADTS) and ``flac`` use FFmpeg's real encoders and muxers
  through PyAV, writing into an in-memory sink that is drained after every piece. When the output is
  a whole file the sink is seekable, so muxers go back and fill in what they learn only at the end
  (FLAC's STREAMINFO length and checksum, MP3's Xing/LAME duration header).
* FLAC is not offered for streaming: without that final rewrite its header has no length and no
  checksum, and many tools then show no duration or refuse to seek. A client asking to stream FLAC is
  told so rather than handed a degraded file.
"""

from __future__ import annotations

import io
import logging
import struct
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

import av
import numpy as np
from av.audio.stream import AudioStream

from ..audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, wav_bytes


@dataclass(frozen=True)
class AudioFormat:
    """One ``response_format`` value: how it is labelled and whether it can be streamed."""

    name: str
    content_type: str
    streamable: bool
    #: FFmpeg muxer and encoder (None for the formats the standard library writes).
    muxer: str | None = None
    codec: str | None = None
    bit_rate: int | None = None
    #: Muxer options; Ogg pages are cut every 100 ms so a piece leaves in whole pages, not 1 s ones.
    muxer_options: dict[str, str] = field(default_factory=dict)


FORMATS: dict[str, AudioFormat] = {
    "mp3": AudioFormat("mp3", "audio/mpeg", True, "mp3", "libmp3lame", 64_000),
    "opus": AudioFormat(
        "opus", "audio/ogg; codecs=opus", True, "ogg", "libopus", 48_000, {"page_duration": "100000"}
    ),
    "aac": AudioFormat("aac", "audio/aac", True, "adts", "aac", 64_000),
    "flac": AudioFormat("flac", "audio/flac", False, "flac", "flac"),
    "wav": AudioFormat("wav", "audio/wav", True),
    "pcm": AudioFormat("pcm", "audio/pcm", True),
}

_LOGGER = logging.getLogger(__name__)

#: What OpenAI answers with when no format is named.
DEFAULT_FORMAT = "mp3"

#: RIFF/data size meaning "unknown length": the de-facto convention for a WAV written as a stream.
_UNKNOWN_SIZE = 0xFFFFFFFF


class AudioEncoder(Protocol):
    """Takes 16-bit mono 24 kHz PCM a piece at a time; returns the encoded bytes that are ready.

    Calls may come from worker threads, one at a time; ``close_encoder`` may come from any thread.
    """

    def encode(self, pcm: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class _PassThrough:
    """Raw PCM: what comes in goes out (``pcm``), after an optional header (streamed ``wav``)."""

    def __init__(self, header: bytes = b"") -> None:
        self._header = header

    def encode(self, pcm: bytes) -> bytes:
        out, self._header = self._header + pcm, b""
        return out

    def finish(self) -> bytes:
        out, self._header = self._header, b""
        return out


class _WholeWav:
    """A complete WAV with exact sizes: only possible once all the audio is known."""

    def __init__(self) -> None:
        self._pcm: list[bytes] = []

    def encode(self, pcm: bytes) -> bytes:
        self._pcm.append(pcm)
        return b""

    def finish(self) -> bytes:
        return wav_bytes(b"".join(self._pcm))


def streaming_wav_header(sample_rate: int = SAMPLE_RATE) -> bytes:
    """A 44-byte WAV header for audio of unknown length (RIFF and data sizes 0xFFFFFFFF).

    The ``wave`` module cannot write one (it needs to seek back to fix the sizes), so the canonical
    PCM ``fmt`` chunk is packed here; it is fixed by the WAV specification.
    """
    block_align = CHANNELS * SAMPLE_WIDTH
    fmt_chunk = struct.pack(
        "<HHIIHH", 1, CHANNELS, sample_rate, sample_rate * block_align, block_align, SAMPLE_WIDTH * 8
    )
    return (
        b"RIFF"
        + struct.pack("<I", _UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt_chunk))
        + fmt_chunk
        + b"data"
        + struct.pack("<I", _UNKNOWN_SIZE)
    )


class _Sink:
    """A write-only file for PyAV: collects what the muxer writes until it is taken.

    It has no ``seek``, so FFmpeg treats the output as a stream (as it is: the bytes already left).
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class _SeekableSink(io.BytesIO):
    """An in-memory file the muxer may seek in; its bytes are only taken at the end."""

    def take(self) -> bytes:
        return b""


class _FFmpegEncoder:
    """One PyAV output container with one audio stream, fed s16 mono frames."""

    def __init__(self, fmt: AudioFormat, streaming: bool) -> None:
        assert fmt.muxer is not None and fmt.codec is not None
        self._sink: _Sink | _SeekableSink = _Sink() if streaming else _SeekableSink()
        # flush_packets: hand every muxed packet to the sink at once instead of filling a 32 KiB
        # buffer first; that buffer would hold back the first second or more of a stream.
        options = {"flush_packets": "1", **fmt.muxer_options}
        self._container = av.open(
            self._sink, mode="w", format=fmt.muxer, container_options=options, buffer_size=4096
        )
        stream = self._container.add_stream(fmt.codec, rate=SAMPLE_RATE, layout="mono")
        assert isinstance(stream, AudioStream)
        if fmt.bit_rate is not None:
            stream.bit_rate = fmt.bit_rate
        self._stream = stream
        self._samples = 0
        self._finished = False
        # Encoding runs in worker threads (the event loop must not wait on it): one call at a
        # time, and never a close under a running encode.
        self._lock = threading.Lock()

    def encode(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype="<i2")
        with self._lock:
            if self._finished:
                raise ValueError("encoder already finished")
            if samples.size:
                frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate = SAMPLE_RATE
                frame.time_base = Fraction(1, SAMPLE_RATE)
                frame.pts = self._samples
                self._samples += samples.size
                self._container.mux(self._stream.encode(frame))
            return self._sink.take()

    def finish(self) -> bytes:
        with self._lock:
            if self._finished:
                return b""
            self._finished = True
            self._container.mux(self._stream.encode(None))
            self._container.close()
            if isinstance(self._sink, _SeekableSink):
                return self._sink.getvalue()
            return self._sink.take()

    def close(self) -> None:
        """Free FFmpeg's state when a stream is abandoned half way (client went away). Waits for an
        ``encode`` running in another thread, as FFmpeg's state must not be freed under it."""
        with self._lock:
            if not self._finished:
                self._finished = True
                self._container.close()


def make_encoder(format_name: str, *, streaming: bool) -> AudioEncoder:
    """An encoder for ``format_name`` (a key of :data:`FORMATS`).

    ``streaming``: bytes must leave piece by piece; otherwise the result is one complete file with
    every header exact. Raises ValueError for an unknown format or one that cannot be streamed.
    """
    fmt = FORMATS.get(format_name)
    if fmt is None:
        raise ValueError(f"unknown audio format {format_name!r}; use one of {', '.join(FORMATS)}")
    if streaming and not fmt.streamable:
        raise ValueError(f"{format_name} cannot be streamed")
    if fmt.name == "pcm":
        return _PassThrough()
    if fmt.name == "wav":
        return _PassThrough(streaming_wav_header()) if streaming else _WholeWav()
    return _FFmpegEncoder(fmt, streaming)


def close_encoder(encoder: AudioEncoder) -> None:
    """Release an encoder that may not have been finished (its output is no longer wanted). Never
    raises: it runs where nobody waits for it."""
    if isinstance(encoder, _FFmpegEncoder):
        try:
            encoder.close()
        except Exception:
            _LOGGER.debug("Closing an abandoned encoder failed", exc_info=True)


def encode_all(format_name: str, pcm: bytes) -> bytes:
    """A complete file of ``format_name`` holding ``pcm``."""
    encoder = make_encoder(format_name, streaming=False)
    return encoder.encode(pcm) + encoder.finish()


__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "AudioEncoder",
    "AudioFormat",
    "close_encoder",
    "encode_all",
    "make_encoder",
    "streaming_wav_header",
]
