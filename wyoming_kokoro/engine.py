"""The synthesis engine: one ONNX Runtime session shared by every request, scheduled piece by piece.

Why it is built this way (numbers from the 2-core CPU this project targets):

* Inference cost is linear in the audio produced (~95 % is the vocoder), and two inferences at once
  give at most 25 % more throughput while doubling the wait for the first one. So there is one
  inference at a time, using all physical cores, run in a worker thread so the asyncio loop (and
  with it ``describe`` and every other client) is never blocked. On a GPU (CUDA) up to
  ``CUDA_PARALLEL`` run side by side: there a call is mostly fixed cost that they share.
* Latency is decided by the first piece of each reply; later pieces have the playback time of the
  audio already sent to spare. So a reply's first piece goes ahead of every continuation piece,
  and continuation pieces go earliest-deadline-first (due when their client's buffered audio runs
  out). A short reply therefore overtakes a long announcement, which still rarely stalls.
* A first piece does not wait long for a continuation piece that is already running (up to ~150
  tokens, seconds of inference on a small CPU) either: that run is stopped (ONNX Runtime's
  ``RunOptions.terminate``, checked between nodes) if it is less than half done and its reply has
  the playback time to spare; the first piece runs, and the stopped piece starts over exactly as
  it was. "Turned on the kitchen lights." asked 6 s into the morning briefing: first audio
  0.49–1.86 s, median 0.99 (alone 0.55), against 0.78–3.06 s, median 1.38 (alone 0.65–0.68)
  without it; the briefing did not stall either way. Running the two side by side instead was
  tried: the short reply got its audio after 0.94 s where it took 0.49 s alone, and ONNX
  Runtime's memory arena grew by up to 200 MB to hold two inferences at once. Early in a long
  reply its audio could not afford that for a piece as long as it allowed, so a continuation is
  sized to stay stoppable (``SynthesisStream.next_budget``).
* A first piece is sent in two parts on the CPU when that gets its first words out sooner and the
  rest decodes before they have played (``split_model.py``): its whole prosody is predicted
  first, the frames of its first words are decoded and sent, and the rest is decoded while they
  play, normalized with the first part's statistics so that the two are heard as one. The first
  words keep the clause's timing and pitch (synthesized alone they would end like a sentence).
  The rest is a job of its own: when other replies are waiting for their first words, the first
  piece is cut late enough that its rest can wait for theirs, and they go first (``_pick``).
  Three replies asked at once used to get their first audio one whole first piece after another.
* A first piece found in the phrase cache is sent at once, whatever is running: it needs no
  inference, so it neither waits for one nor has one stopped for it.
* A reply's first sentence is started on a guess: when streamed text ends in a sentence's end
  ("… kitchen lights.") that only the next fragment can confirm (a space or the end of the text;
  a digit would make it "12.4"), its synthesis starts at once and its audio is held until the
  next fragment confirms it, or dropped (its inference stopped) when it does not. The next
  fragment comes a token later (~50 ms from an LLM): one-line replies streamed in-process with
  fragments 50 ms apart got their first audio 59 ms sooner (median), at the cost of an inference
  stopped early on a wrong guess. Text that ends mid-word is not guessed at (it mostly goes on).
* Each reply has at most one piece in flight, which keeps its pieces in order and lets the next
  piece be packed from whatever text has arrived by then (so its size can grow with the buffer).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import hashlib
import logging
import os
import tempfile
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import assets
from .audio import PAUSE_SECONDS, SAMPLE_RATE, crossfade, pause_pcm, pcm_seconds, shape_piece, to_pcm16
from .config import Config
from .model.providers import (
    CPU,
    CUDA,
    CUDA_FELL_BACK,
    ProviderChoice,
    ProviderError,
    choose_provider,
    cuda_starts,
    node_placement,
    preload_cuda_libraries,
    provider_chain,
)
from .model.sessions import cpu_session, run_session, session_options
from .model.split import (
    CROSSFADE_FRAMES,
    OVERLAP_FRAMES,
    SAMPLES_PER_FRAME,
    Cut,
    Prosody,
    SplitModel,
    WholeModel,
    join_level,
    plan_cut,
)
from .text.chunking import (
    MAX_PIECE_TOKENS,
    MIN_BUDGET_TOKENS,
    Boundary,
    PhonemeUnit,
    Segment,
    TextSegmenter,
    piece_token_limit,
    take_piece,
)
from .text.frontend import MAX_TOKENS, TextFrontend
from .text.normalize import normalize_text
from .voices import ResolvedVoice, VoiceError, VoiceLibrary, describe_voice

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import contextlib

import onnxruntime as ort

_LOGGER = logging.getLogger(__name__)

#: Share of the buffered audio a continuation piece may take to synthesize (the rest is margin).
_SAFETY = 0.8
#: Pieces a stream may have synthesized but not yet taken by its consumer.
_MAX_UNREAD = 2
#: Inferences run at once on a GPU. On the CPU one at a time is best (all cores on one piece; see the
#: module doc), but a GPU's call is mostly fixed cost (~0.15 s per piece on an H100, most of it set-up
#: for a new input length), which calls side by side share. H100, `bench/latency.py --start
#: --clients 3`, two pairs: first audio p95 0.40 / 0.45 s three at once against 0.74 / 0.92 s one at a
#: time, no stalls either way.
CUDA_PARALLEL = 3
#: Tokens of a typical first piece (25–70): the split model is warmed up and timed on one, and a
#: continuation piece leaves room to be stopped for one (see ``SynthesisStream.next_budget``).
_TYPICAL_FIRST_PIECE = 48
#: ONNX Runtime's run option that hands back, after the run, the arena memory it leaves unused.
_ARENA_SHRINKAGE = "memory.enable_memory_arena_shrinkage"
#: Resident memory an inference may leave beyond the engine's after warm-up before ONNX Runtime's
#: arena is trimmed (see ``KokoroEngine._trim_memory``).
_MEMORY_ALLOWANCE = 64 * 2**20
#: Weight of the newest observation in the speed model's moving averages.
_WEIGHT = 0.3
#: A running continuation piece is stopped for a first piece only if it has at least this many
#: seconds of inference left (and more than it has done, see ``_preempt_if_worth_it``).
_MIN_PREEMPT_GAIN = 0.25
#: Tokens a continuation piece is never made shorter than to keep it stoppable for a reply asked
#: meanwhile (see ``SynthesisStream.next_budget``): about a sentence. Every piece also decodes
#: ~0.6 s of silence that is trimmed, and a shorter piece would cut clauses; on a slow CPU this
#: many tokens take seconds, and a reply asked meanwhile may wait that long.
_SHORTEST_STOPPABLE = 75


class EngineError(RuntimeError):
    """Synthesis of a request failed; the request is over, the engine keeps serving."""


class EngineBusy(EngineError):
    """Too much work is queued; the caller should say "busy" and try later."""


@dataclass(frozen=True)
class AudioPiece:
    """A run of 16-bit mono PCM at 24 kHz, ready to send."""

    pcm: bytes
    phonemes: str

    @property
    def seconds(self) -> float:
        return pcm_seconds(self.pcm)


@dataclass
class _Stats:
    pieces: int = 0
    inference_seconds: float = 0.0
    audio_seconds: float = 0.0
    cache_hits: int = 0
    preempted: int = 0


@dataclass
class SpeedModel:
    """How fast this machine synthesizes, learned from recent pieces (moving averages).

    Starts from figures measured on a 2-core CPU and adapts within a few pieces, so piece sizes
    fit the hardware the server actually runs on (a GPU gets long pieces, a slow CPU short ones).
    """

    rtf: float = 0.7  # inference seconds per second of audio
    audio_per_token: float = 0.07  # seconds of audio per phoneme token
    overhead: float = 0.05  # fixed seconds per inference
    #: Decoder seconds per frame, from the split model's own decodes (None until one is timed).
    #: ``rtf`` is not this: it spreads each piece's fixed work (prosody, the trimmed silence) over
    #: the audio kept, and overstated a first piece's rest by ~40 % on a 2-core CPU, so its first
    #: words were longer (later) than they had to be.
    decode_per_frame: float | None = None
    #: Seconds a first piece's first words take from the start of its inference (prosody and
    #: the first part's decode, or the whole piece when it is not cut): how long a rest waits
    #: when another reply's first words go before it.
    first_words: float = 0.3

    def estimate(self, tokens: int) -> float:
        """Expected inference seconds for a piece of ``tokens`` phonemes."""
        return self.overhead + self.rtf * self.audio_per_token * tokens

    def update(self, tokens: int, audio_seconds: float, inference_seconds: float) -> None:
        if tokens <= 0 or audio_seconds <= 0:
            return
        self.rtf += _WEIGHT * (inference_seconds / audio_seconds - self.rtf)
        self.audio_per_token += _WEIGHT * (audio_seconds / tokens - self.audio_per_token)

    def seconds_per_frame(self) -> float:
        """Expected decoder seconds per frame (what ``plan_cut`` needs)."""
        if self.decode_per_frame is None:
            return self.rtf * SAMPLES_PER_FRAME / SAMPLE_RATE
        return self.decode_per_frame

    def update_decode(self, frames: int, seconds: float) -> None:
        """A split model decode of *frames* took *seconds* (wall clock, as the reply waits)."""
        if frames <= 0:
            return
        observed = seconds / frames
        if self.decode_per_frame is None:
            self.decode_per_frame = observed
        else:
            self.decode_per_frame += _WEIGHT * (observed - self.decode_per_frame)

    def decode_seconds(self, frames: int) -> float:
        """Expected seconds to decode *frames* of a piece whose prosody is made (a rest)."""
        return self.overhead + self.seconds_per_frame() * frames

    def update_first_words(self, seconds: float) -> None:
        self.first_words += _WEIGHT * (seconds - self.first_words)


class PhraseCache:
    """LRU of finished pieces keyed by phonemes, voice, speed and model, so repeated replies
    ("Turned on the kitchen lights.") start without any inference."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, float, str], bytes] = OrderedDict()

    def get(self, key: tuple[str, str, float, str]) -> bytes | None:
        pcm = self._items.get(key)
        if pcm is not None:
            self._items.move_to_end(key)
        return pcm

    def put(self, key: tuple[str, str, float, str], pcm: bytes) -> None:
        if self.size <= 0:
            return
        self._items[key] = pcm
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


@dataclass(eq=False)
class _Guess:
    """A reply's first segment as it will be if the next text fragment confirms it (see
    ``SynthesisStream.feed``), and the audio made for it meanwhile."""

    segment: Segment
    unit: PhonemeUnit | None = None  # once phonemized
    boundary: Boundary | None = None  # once confirmed: how the segment really ends
    abandoned: bool = False
    #: Too long to be one piece: it would be cut in pieces (``take_piece``), so it waits in here
    #: until confirmed instead of being made on the guess.
    parked: bool = False
    held: list[tuple[AudioPiece, bool]] = field(default_factory=list)  # (audio, more follows)


class SynthesisStream:
    """One reply: text goes in (all at once or in fragments), audio pieces come out in order.

    ``feed`` and ``close`` never block; iterate the stream (``async for piece in stream``) to get
    audio. ``cancel`` drops whatever is still queued (a client went away).
    """

    def __init__(self, engine: KokoroEngine, voice: ResolvedVoice, speed: float, language: str) -> None:
        self._engine = engine
        self.voice = voice
        self.speed = speed
        self.language = language
        #: The longest piece of this reply, first piece included (its memory follows its frames).
        self.max_piece_tokens = piece_token_limit(speed)
        self.created = time.monotonic()
        # A first clause long only when spoken ("18°C" is three words) may be cut before "and".
        self._segmenter = TextSegmenter(spoken=functools.partial(normalize_text, language=language))
        self._segments: asyncio.Queue[Segment | None] = asyncio.Queue()
        self._waiting_segments = 0  # segments in _segments, not yet phonemized
        self.units: deque[PhonemeUnit] = deque()
        #: The first segment guessed before the text confirms it, until it is confirmed or dropped.
        self._guess: _Guess | None = None
        #: Guesses whose work may still be under way (their segments, units or inference).
        self._guesses: list[_Guess] = []
        #: The piece being synthesized (set by the scheduler), so a wrong guess can be stopped.
        self.job: _Job | None = None
        self._output: asyncio.Queue[AudioPiece | BaseException | None] = asyncio.Queue()
        self.in_flight = False
        self.text_done = False  # all text phonemized
        self.closed = False
        self.cancelled = False
        self.chars = 0
        self.tokens_done = 0
        #: A piece stopped for another reply's first piece: it starts over exactly as it was.
        self.restart: PhonemeUnit | None = None
        #: The rest of a first piece sent in two parts, waiting for its turn (see ``_Rest``).
        self.rest: _Rest | None = None
        self.audio_seconds = 0.0
        self.first_audio_at: float | None = None
        #: Set when the first piece is out (or the stream ends): later text waits for it, see below.
        self._first_out = asyncio.Event()
        self._pump = asyncio.create_task(self._phonemize_segments())

    # -- input -----------------------------------------------------------------------------
    def feed(self, text: str) -> None:
        if self.closed:
            raise EngineError("text fed after the end of the stream")
        self.chars += len(text)
        if self.chars > self._engine.config.limits.max_text_chars:
            raise EngineError(f"text is longer than {self._engine.config.limits.max_text_chars} characters")
        self._take(self._segmenter.feed(text))
        if self._segmenter.emitted == 0:
            self._guess_first(self._segmenter.peek())

    def close(self) -> None:
        """No more text: what is buffered is spoken, then the audio ends."""
        if self.closed:
            return
        self.closed = True
        self._take(self._segmenter.flush())
        self._segments.put_nowait(None)

    def _take(self, segments: list[Segment]) -> None:
        """Queue segments for G2P; the first one confirms the pending guess (already under way,
        so not queued again) or proves it wrong."""
        guess = self._guess
        if guess is not None and segments:
            self._guess = None
            if segments[0].text == guess.segment.text:
                self._confirm(guess, segments.pop(0).boundary)
            else:
                self._abandon(guess)
        for segment in segments:
            self._waiting_segments += 1
            self._segments.put_nowait(segment)

    def _guess_first(self, segment: Segment | None) -> None:
        """Start on the first segment the text would give if whitespace came next (its end is
        not known yet: "12." may go on as "12.4"), unless the same guess is under way."""
        guess = self._guess
        if guess is not None:
            if segment is not None and segment.text == guess.segment.text:
                return
            self._guess = None
            self._abandon(guess)
        if segment is None:
            return
        _LOGGER.debug("First segment started on a guess: %r", segment.text)
        self._guess = _Guess(segment)
        self._guesses.append(self._guess)
        self._waiting_segments += 1
        self._segments.put_nowait(segment)

    def _confirm(self, guess: _Guess, boundary: Boundary) -> None:
        """The text went on as guessed: the guess is the first segment, and what it has made goes
        out now (with the pause of how the segment really ends)."""
        _LOGGER.debug("Guessed first segment confirmed (%d pieces made meanwhile)", len(guess.held))
        guess.boundary = boundary
        unit = guess.unit
        if unit is None:
            return  # not phonemized yet: the pump makes its unit with this boundary
        unit.boundary = boundary
        if guess.parked:
            self.units.appendleft(unit)
            self._retire(guess)
            self._engine._wake()
        for piece, more in guess.held:
            self._deliver(piece, more=more, unit=unit)
            if not more:
                self._retire(guess)
        guess.held.clear()

    def _abandon(self, guess: _Guess) -> None:
        """The text went on otherwise: drop the guess's unit and audio, stop its inference."""
        _LOGGER.debug("Guessed first segment dropped: %r", guess.segment.text)
        guess.abandoned = True
        guess.held.clear()
        unit = guess.unit
        if unit is None:
            return  # still waiting for G2P: the pump skips it
        self.units = deque(u for u in self.units if u is not unit)
        if self.rest is not None and self.rest.unit is unit:
            self.rest = None  # its first words were held, not sent: none of it goes out
        if self.job is not None and self.job.piece is unit:
            self.job.run_options.terminate = True
        else:
            self._retire(guess)
        self._engine._wake()

    def _retire(self, guess: _Guess) -> None:
        if guess in self._guesses:
            self._guesses.remove(guess)

    def dropped(self, unit: PhonemeUnit) -> bool:
        """Whether *unit* was a wrong guess (its audio is not to be sent, nor made again)."""
        return any(g.unit is unit and g.abandoned for g in self._guesses)

    def discard(self, unit: PhonemeUnit) -> None:
        """A wrong guess's inference has stopped: nothing of it is left."""
        for guess in [g for g in self._guesses if g.unit is unit]:
            self._retire(guess)
        self._finish_if_done()

    def _first_under_way(self) -> bool:
        """A first piece is queued or being made (a wrong guess's inference, stopping, is not)."""
        making = self.in_flight and not (self.job is not None and self.dropped(self.job.piece))
        return bool(self.units) or self.rest is not None or making

    def cancel(self) -> None:
        """Drop queued work; the piece in flight (if any) finishes but is discarded."""
        if self.cancelled:
            return
        self.cancelled = True
        self.units.clear()
        self.restart = None
        self.rest = None
        self._pump.cancel()
        self._output.put_nowait(None)
        self._engine._forget(self)

    # -- output ----------------------------------------------------------------------------
    async def __aiter__(self) -> AsyncIterator[AudioPiece]:
        while True:
            item = await self._output.get()
            self._engine._wake()  # room in the output again: this stream may be scheduled
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    # -- scheduling ------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Pieces of text waiting to be spoken: phonemized units, and segments still waiting for
        G2P (which holds back until the first audio is out, so units alone would undercount)."""
        return len(self.units) + self._waiting_segments + (self.restart is not None) + (self.rest is not None)

    @property
    def deadline(self) -> float:
        """When this reply needs its next piece: now-ish for a first piece, else when the audio
        already sent runs out."""
        if self.first_audio_at is None:
            return self.created
        return self.first_audio_at + self.audio_seconds

    @property
    def ready(self) -> bool:
        """Has text to speak, nothing in flight, and its consumer keeps up: a client that stops
        reading gets at most ``_MAX_UNREAD`` pieces synthesized ahead, not its whole text."""
        return (
            bool(self.units or self.restart or self.rest)
            and not self.in_flight
            and not self.cancelled
            and self._output.qsize() < _MAX_UNREAD
        )

    @property
    def awaits_first_words(self) -> bool:
        """Ready to have its first piece made (not the rest of one)."""
        return self.ready and self.first_audio_at is None and self.rest is None

    @property
    def priority(self) -> tuple[int, float]:
        """First pieces before continuation pieces (those have playback time to spare), then
        earliest deadline first."""
        return (0 if self.first_audio_at is None else 1, self.deadline)

    def next_budget(self) -> int:
        """Tokens for this reply's next piece: the first segment whole; after that as much as can
        be synthesized before the audio already sent runs out, at the speed the engine has
        actually been running (so a slow CPU gets smaller pieces instead of stalls), but no more
        than can still be stopped for another reply's first piece (see below)."""
        if self.tokens_done == 0:
            return min(len(self.units[0].phonemes), self.max_piece_tokens)
        assert self.first_audio_at is not None
        buffered = self.first_audio_at + self.audio_seconds - time.monotonic()
        speed = self._engine.speed_model
        # Other replies with work share the one session: each gets a share of its speed.
        sharing = max(1, sum(1 for s in self._engine._streams if s.units or s.in_flight or s.rest))
        per_token = speed.rtf * speed.audio_per_token
        tokens = (buffered * _SAFETY / sharing - speed.overhead) / per_token
        # A reply asked while this piece is made waits for it, unless the piece is stopped and
        # made again after that reply's first piece: only in its first half, and only while this
        # reply's audio lasts for both (``_preempt_if_worth_it``). A piece as long as the audio
        # allows could not be stopped (the morning briefing's 123-token sentence, ~1.9 s here,
        # kept "It is 9:45 PM." asked 0.25 s into it waiting 1.9 s); so one longer than
        # _SHORTEST_STOPPABLE is no longer than would leave it stoppable for its first half.
        stoppable = (buffered * _SAFETY - speed.estimate(_TYPICAL_FIRST_PIECE)) / (1 + _SAFETY / 2)
        tokens = min(tokens, max(_SHORTEST_STOPPABLE, (stoppable - speed.overhead) / per_token))
        return max(MIN_BUDGET_TOKENS, min(self.max_piece_tokens, int(tokens)))

    def complete(self, unit: PhonemeUnit, piece: AudioPiece, *, more: bool = False) -> None:
        """*unit*'s audio is made: it goes to the consumer, unless *unit* is a guess not yet
        confirmed (held) or a wrong one (dropped). *more*: the rest of the same unit follows (a
        first piece sent in two parts)."""
        guess = next((g for g in self._guesses if g.unit is unit), None)
        if guess is None:
            self._deliver(piece, more=more, unit=unit)
        elif guess.abandoned:
            if not more:
                self._retire(guess)
            self._finish_if_done()
        elif guess.boundary is None:  # not confirmed yet
            guess.held.append((piece, more))
        else:
            if not more:
                self._retire(guess)
            self._deliver(piece, more=more, unit=unit)

    def _deliver(self, piece: AudioPiece, *, more: bool, unit: PhonemeUnit) -> None:
        """Queue *piece* for the consumer, followed (when its unit is done) by the pause for how
        the unit ends. With *more*, later text's G2P keeps waiting until the rest is made too, so
        it does not take a core from the rest, which must be ready before the first part has
        played."""
        if self.cancelled:
            return
        if self.first_audio_at is None:
            self.first_audio_at = time.monotonic()
        if not more:
            self.tokens_done += len(unit.phonemes)
            piece = AudioPiece(piece.pcm + pause_pcm(unit.boundary), piece.phonemes)
            self._first_out.set()
        self.audio_seconds += piece.seconds
        self._output.put_nowait(piece)
        self._finish_if_done()

    def fail(self, error: BaseException) -> None:
        if not self.cancelled:
            self._output.put_nowait(error)
            self.cancelled = True
            self._pump.cancel()
            self._engine._forget(self)

    def _finish_if_done(self) -> None:
        if (
            self.text_done
            and not self.units
            and not self.restart
            and self.rest is None
            and not self.in_flight
            and not self.cancelled
        ):
            self._output.put_nowait(None)
            self._engine._forget(self)

    async def _phonemize_segments(self) -> None:
        """G2P for each segment as it arrives, except that once the first segment is phonemized the
        rest waits until its audio is out (all of it, when it is sent in two parts): G2P (spaCy,
        under the GIL) would otherwise take one of the two cores from the first piece's inference,
        and later pieces have that audio's playback time to be phonemized in."""
        try:
            while (segment := await self._segments.get()) is not None:
                guess = next((g for g in self._guesses if g.segment is segment), None)
                if guess is None and not self._first_out.is_set() and self._first_under_way():
                    await self._first_out.wait()
                if guess is not None and guess.abandoned:
                    phonemes = ""  # a wrong guess: no G2P for it
                else:
                    phonemes = await self._engine._phonemize(segment.text, self.language)
                self._waiting_segments -= 1
                if guess is not None and (guess.abandoned or not phonemes):
                    self._retire(guess)
                    continue
                if phonemes:
                    unit = PhonemeUnit(phonemes, segment.boundary)
                    if guess is not None:
                        guess.unit = unit
                        unit.boundary = guess.boundary or segment.boundary
                        guess.parked = guess.boundary is None and len(phonemes) > self.max_piece_tokens
                    if guess is None or not guess.parked:
                        self.units.append(unit)
                        self._engine._wake()
            self.text_done = True
            self._finish_if_done()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            _LOGGER.exception("Text front end failed")
            self.fail(EngineError(f"text front end failed: {err}"))


class KokoroEngine:
    """Assets + text front end + one ONNX session + the piece scheduler."""

    def __init__(
        self,
        config: Config,
        session: ort.InferenceSession,
        device: str,
        model_path: Path,
        frontend: TextFrontend,
        voices: VoiceLibrary,
    ) -> None:
        self.config = config
        self.session = session
        self.device = device
        self.model_path = model_path
        self.model_id = f"{model_path.name}:{model_path.stat().st_size}"
        self.frontend = frontend
        self.voices = voices
        self.cache = PhraseCache(config.phrase_cache_size)
        self.stats = _Stats()
        self.speed_model = SpeedModel()
        self._streams: list[SynthesisStream] = []
        #: Inferences at once: one on the CPU, CUDA_PARALLEL on a GPU (ONNX Runtime's sessions may
        #: run from several threads).
        self.parallel = CUDA_PARALLEL if device == "cuda" else 1
        self._infer_pool = ThreadPoolExecutor(CUDA_PARALLEL, thread_name_prefix="kokoro-infer")
        self._switching = asyncio.Lock()  # one switch from a failed GPU to the CPU
        self._g2p_pool = ThreadPoolExecutor(1, thread_name_prefix="kokoro-g2p")
        self._wakeup: asyncio.Event | None = None
        self._scheduler: asyncio.Task[None] | None = None
        #: Builds a CPU session, for falling back when CUDA fails at run time (device: auto).
        self.cpu_session_factory: Callable[[], ort.InferenceSession] | None = None
        #: The model cut in parts, to send a long first piece in two (CPU only; see load).
        self.split_model: SplitModel | None = None
        #: Resident bytes above which the arena is trimmed after a piece (None: never; see
        #: ``_trim_memory``).
        self._memory_mark: int | None = None
        self._warmed_up = False

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def load(cls, config: Config) -> KokoroEngine:
        """Fetch/verify assets, start the text front end, choose the provider with a real inference,
        and warm everything up. Blocking (seconds): call before serving, or in a thread."""
        started = time.monotonic()
        # The text front end (Python, one core, seconds: spaCy, the lexicons, the dictionaries)
        # loads beside everything else here (ONNX Runtime, mostly outside the GIL). An asset or
        # model error still ends the start at once; the loader is then dropped.
        loader = ThreadPoolExecutor(1, thread_name_prefix="kokoro-frontend")
        loading = loader.submit(TextFrontend)
        try:
            engine = cls._load(config, started, loading)
        finally:
            loader.shutdown(wait=False, cancel_futures=True)
        _give_back_freed_memory()
        return engine

    @classmethod
    def _load(cls, config: Config, started: float, loading: Future[TextFrontend]) -> KokoroEngine:
        cache_dir = config.resolved_cache_dir()
        voices_path = assets.ensure_voices(config.voices, cache_dir)
        tables = assets.load_voices(voices_path)
        check_table = tables.get(parse_first(config.voice))
        if check_table is None:
            check_table = next(iter(tables.values()))
        threads = config.resolved_threads()
        profile_prefix = (
            str(Path(tempfile.gettempdir()) / f"wyoming-kokoro-{os.getpid()}")
            if config.log_level == "debug"
            else None
        )
        int8_model = assets.ensure_model(config.model, cache_dir)

        def model_for(chain: list[tuple[str, Any]]) -> Path:
            # Only the default model is rebuilt: ensure_model has just verified its sha256.
            if config.model != "auto":
                return int8_model  # the user's own file, as it is
            if chain[0][0] == CUDA:
                return _float_model_for_cuda(int8_model, cache_dir)
            if chain[0][0] == CPU:
                return _cpu_model_for(int8_model, cache_dir, threads, check_table)
            return int8_model

        def make_session(chain: list[tuple[str, Any]]) -> ort.InferenceSession:
            if chain[0][0] == CUDA and not cuda_starts(ort):
                raise ProviderError(CUDA_FELL_BACK)  # before building a float model for nothing
            path = model_for(chain)
            try:
                session = ort.InferenceSession(
                    str(path), sess_options=session_options(threads, profile_prefix), providers=chain
                )
            except Exception as err:
                if chain[0][0] != CPU:
                    raise
                raise assets.AssetError(
                    f"{path} is not a usable ONNX model ({type(err).__name__}: {err}). "
                    "Point `model:` at a Kokoro v1.0 .onnx file, or use `model: auto`."
                ) from None
            names = {i.name for i in session.get_inputs()}
            if not {"style", "speed"} <= names or not names & {"tokens", "input_ids"}:
                raise assets.AssetError(f"{path} is not a Kokoro v1.0 model (its inputs are {sorted(names)})")
            return session

        def check(session: ort.InferenceSession) -> None:
            audio = run_session(session, [50, 156, 86, 54, 57, 4], check_table, 1.0)
            if audio.size < SAMPLE_RATE // 10 or not np.isfinite(audio).all():
                raise ProviderError("test inference produced no usable audio")

        preload_cuda_libraries(ort, config.device)
        choice: ProviderChoice[ort.InferenceSession] = choose_provider(
            config.device,
            ort.get_available_providers(),
            make_session,
            check,
            active_providers=lambda session: session.get_providers(),
        )
        providers = choice.session.get_providers()
        model_path = Path(choice.session._model_path)
        _LOGGER.info(
            "Using %s (%s); providers %s; model %s; %d threads",
            choice.device.upper(),
            choice.reason,
            providers,
            model_path,
            threads,
        )
        if choice.device == "cuda":
            _warn_if_quantized(model_path)
        split_model: SplitModel | None = None
        if choice.device != "cuda" and config.split_first_piece:
            split_model = _split_model_for(choice.session, model_path, cache_dir, threads, check_table)
        frontend = loading.result()
        library = VoiceLibrary(tables, config.blends, frontend.languages)
        if not library.names:
            raise assets.AssetError(f"No usable voices in {voices_path}")
        for spec in {config.voice, *config.language_voices.values()}:
            language = describe_voice(parse_first(spec)).language
            if language in frontend.languages:
                try:
                    library.resolve(spec)
                except VoiceError as err:
                    raise VoiceError(f"Configured voice {spec!r} cannot be used: {err}") from None
        default_language = describe_voice(parse_first(config.voice)).language
        if default_language not in frontend.languages:
            reason = frontend.unavailable.get(default_language, "no text front end")
            raise VoiceError(f"Default voice {config.voice!r} needs {default_language} G2P: {reason}")
        if profile_prefix is not None:
            _log_node_placement(choice.session)
        # On the CPU the split model's parts hold the whole model's weights: they serve whole
        # pieces too (bit for bit the same audio), and the whole model's session is let go.
        session = choice.session if split_model is None else WholeModel(split_model, model_path)
        engine = cls(config, session, choice.device, model_path, frontend, library)
        if choice.device == "cuda":
            engine.cpu_session_factory = lambda: make_session(provider_chain("cpu"))
        engine.split_model = split_model
        _LOGGER.info("Engine ready in %.1f s", time.monotonic() - started)
        return engine

    def start(self) -> None:
        """Start the scheduler, which warms up first (``warm_up``, ~2 s on 2 cores), while the
        server already answers ``describe``: a restarted server is back in Home Assistant sooner,
        and a request that comes meanwhile waits for the warm-up. Needs a running event loop;
        without it the first request starts it."""
        self._ensure_scheduler()

    def warm_up(self) -> None:
        """First calls are slow (spaCy, ONNX Runtime's kernel selection): pay that before the
        first request (the scheduler runs this before its first piece; see ``start``).

        The longest piece the scheduler makes (MAX_PIECE_TOKENS) also grows ONNX Runtime's memory
        arena (one for every session) to most of its working size now, so the first long reply
        does not pay for the allocation, and the arena's trim mark is set above it. Its speed is
        where the speed model starts, so the first reply's pieces (and where its first piece is
        cut) are sized for this machine rather than for a guess.
        """
        phonemes = {
            language: self.frontend.phonemize("Hello, this is a test.", language)
            for language in sorted(self.frontend.languages)
        }
        voice = self.voices.resolve(self.config.voice)
        # Real phonemes: the audio's length (what the arena is sized by) follows from them.
        ids = self.frontend.tokenize(phonemes[voice.language])
        ids = (ids * (MAX_PIECE_TOKENS // max(1, len(ids)) + 1))[:MAX_PIECE_TOKENS]
        for length in (12, MAX_PIECE_TOKENS):
            started = time.perf_counter()
            audio = run_session(self.session, ids[:length], voice.table, 1.0, self.run_options())
            elapsed = time.perf_counter() - started
        seconds = audio.size / SAMPLE_RATE
        if seconds > 0:
            self.speed_model.rtf = max(0.0, elapsed - self.speed_model.overhead) / seconds
            self.speed_model.audio_per_token = seconds / len(ids[:MAX_PIECE_TOKENS])
        if self.split_model is not None:
            # Only first pieces go through it, and they are mostly short: a first piece's size is
            # enough (its decoder speed per frame is a long piece's, ±10 %), and timed at this size
            # it is the warm speed (the same on a second run), where a first run on the longest
            # piece pays for the memory it needs and comes out slower.
            length = min(_TYPICAL_FIRST_PIECE, len(ids))
            style = voice.table[length - 1].reshape(1, -1).astype(np.float32)
            started = time.perf_counter()
            prosody = self.split_model.prosody(ids[:length], style, 1.0, self.run_options())
            half = prosody.frames // 2
            decoding = time.perf_counter()
            _, statistics = self.split_model.head(prosody, half, self.run_options())
            self.speed_model.first_words = time.perf_counter() - started
            self.split_model.tail(prosody, half, statistics, self.run_options())
            self.speed_model.update_decode(prosody.frames, time.perf_counter() - decoding)

    # -- requests ----------------------------------------------------------------------------
    def resolve_voice(self, voice: str | None = None, language: str | None = None) -> ResolvedVoice:
        """A voice name / blend / named blend; or only a language (its configured voice); or the
        default. Raises VoiceError."""
        if voice:
            return self.voices.resolve(voice)
        if language:
            code = language_code(language)
            if code not in self.voices.languages:
                raise VoiceError(f"No voice for language {language!r}")
            return self.voices.resolve(self.config.language_voices[code])
        return self.voices.resolve(self.config.voice)

    def open_stream(
        self, voice: str | None = None, speed: float | None = None, language: str | None = None
    ) -> SynthesisStream:
        """Start a reply. Raises VoiceError (unknown voice), ValueError (bad speed), EngineBusy."""
        resolved = self.resolve_voice(voice, language)
        speed = self.config.speed if speed is None else float(speed)
        if not 0.5 <= speed <= 2.0 or not np.isfinite(speed):
            raise ValueError(f"speed must be between 0.5 and 2.0, got {speed}")
        queued = sum(s.queued for s in self._streams)
        if queued >= self.config.limits.max_queued_pieces:
            raise EngineBusy("too much speech is queued; try again shortly")
        self._ensure_scheduler()
        stream = SynthesisStream(self, resolved, speed, resolved.language)
        self._streams.append(stream)
        return stream

    async def synthesize(
        self, text: str, voice: str | None = None, speed: float | None = None
    ) -> AsyncIterator[AudioPiece]:
        """Plain synthesis: all the text at once, audio pieces as they are ready."""
        stream = self.open_stream(voice, speed)
        try:
            stream.feed(text)
            stream.close()
            async for piece in stream:
                yield piece
        finally:
            stream.cancel()

    def synthesize_to_pcm(self, text: str, voice: str | None = None, speed: float | None = None) -> bytes:
        """Blocking convenience for the CLI: the whole reply as one PCM buffer."""

        async def collect() -> bytes:
            pieces = [piece.pcm async for piece in self.synthesize(text, voice, speed)]
            await self.aclose()
            return b"".join(pieces)

        return asyncio.run(collect())

    async def aclose(self) -> None:
        """Stop the scheduler (pending streams are cancelled)."""
        for stream in list(self._streams):
            stream.cancel()
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
            self._wakeup = None

    def shutdown(self) -> None:
        self._infer_pool.shutdown(wait=True, cancel_futures=True)
        self._g2p_pool.shutdown(wait=True, cancel_futures=True)

    def _warm_up_once(self) -> None:
        if self._warmed_up:
            return
        started = time.monotonic()
        self._warmed_up = True
        try:
            self.warm_up()
        except Exception:  # serve without it rather than not at all: first pieces are slower
            _LOGGER.exception("Warm-up failed")
            return
        if self.device == "cpu" and not self.config.release_memory:
            # The mark sits above what warm-up grew the arena to (the longest piece's working
            # memory): ordinary replies stay under it, so only unusual growth is trimmed.
            resident = resident_bytes()
            self._memory_mark = None if resident is None else resident + _MEMORY_ALLOWANCE
        _LOGGER.info("Warmed up in %.1f s", time.monotonic() - started)

    def _shrink_arena(self) -> None:
        """A one-token inference after which ONNX Runtime hands back the arena it does not use."""
        options = ort.RunOptions()
        options.add_run_config_entry(_ARENA_SHRINKAGE, "cpu:0")
        run_session(self.session, [16], self.voices.resolve(self.config.voice).table, 1.0, options)

    def run_options(self) -> ort.RunOptions:
        """Options for one inference. With ``release_memory`` ONNX Runtime hands its arena back
        after the run (the warm-up grew it to the longest piece's size, ~200 MB on the CPU), so a
        small board keeps that memory between requests; the peak during a run is unchanged."""
        options = ort.RunOptions()
        if self.config.release_memory:
            devices = "cpu:0;gpu:0" if self.device == "cuda" else "cpu:0"
            options.add_run_config_entry(_ARENA_SHRINKAGE, devices)
        return options

    # -- internals ---------------------------------------------------------------------------
    async def _phonemize(self, text: str, language: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._g2p_pool, self.frontend.phonemize, text, language)

    def _ensure_scheduler(self) -> None:
        loop = asyncio.get_running_loop()
        if self._scheduler is not None and self._scheduler.get_loop() is not loop:
            self._scheduler = None  # a previous event loop (e.g. asyncio.run in the CLI) ended
        if self._scheduler is None or self._scheduler.done():
            self._wakeup = asyncio.Event()
            self._scheduler = loop.create_task(self._schedule(), name="kokoro-scheduler")

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _forget(self, stream: SynthesisStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    async def _schedule(self) -> None:
        assert self._wakeup is not None
        wakeup = self._wakeup
        running: dict[asyncio.Task[None], _Job] = {}
        if not self._warmed_up:
            await asyncio.get_running_loop().run_in_executor(self._infer_pool, self._warm_up_once)
        try:
            while True:
                self._serve_cached_first_pieces()
                for done in [task for task in running if task.done()]:
                    del running[done]
                if len(running) >= self.parallel:
                    if len(running) == 1:
                        self._preempt_if_worth_it(next(iter(running.values())))
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                ready = [s for s in self._streams if s.ready]
                if not ready:
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                stream = self._pick(ready)
                rest, stream.rest = stream.rest, None
                piece, stream.restart = stream.restart, None
                if rest is not None:
                    piece = rest.unit
                elif piece is None:
                    piece = take_piece(stream.units, stream.next_budget())
                if piece is None:
                    continue
                stream.in_flight = True
                stream.job = job = _Job(
                    stream,
                    piece,
                    first=stream.first_audio_at is None,
                    started=time.monotonic(),
                    run_options=self.run_options(),
                    rest=rest,
                )
                task = asyncio.create_task(self._synthesize_piece(job))
                task.add_done_callback(lambda _task: wakeup.set())
                running[task] = job
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _pick(self, ready: list[SynthesisStream]) -> SynthesisStream:
        """The reply whose work runs next: first pieces ahead of continuations, then earliest
        deadline first (see the module doc). But rests waiting for their turn go first, earliest
        deadline first, when they could not all wait for one more reply's first words and still
        be made before their own first words have played (80 %, as ``plan_cut`` plans them)."""
        stream = min(ready, key=lambda s: s.priority)
        if not stream.awaits_first_words:
            return stream
        rests = sorted((s for s in ready if s.rest is not None), key=lambda s: s.deadline)
        now = time.monotonic()
        needed = self.speed_model.first_words  # seconds from now until each rest is made
        for waiting in rests:
            assert waiting.rest is not None
            needed += self.speed_model.decode_seconds(waiting.rest.frames)
            if needed > (waiting.deadline - now) * _SAFETY:
                return rests[0]
        return stream

    def _work_before_rest(self, stream: SynthesisStream) -> float:
        """Seconds of other replies' work expected to run before *stream*'s rest, were its first
        piece cut now: the first words of every reply waiting for theirs (they go first while the
        rest can wait, see ``_pick``), and rests already waiting (due sooner). A first piece cut
        while others wait is so cut later, or sent whole (a one-liner, when two others wait), and
        their first words come sooner: the first reply's a little later, the last one's sooner.

        Measured here (2-core AMD EPYC Zen 4, `bench/latency.py --start --clients 3`, three rounds
        of this, the code before, and planning for the next waiting reply only): first audio p95
        1.37 s (median of the rounds) against 1.82 s and 1.63 s; the first, second and third reply
        of each three asked at once 0.47 / 0.88 / 1.19 s against 0.28 / 0.87 / 1.47 s and
        0.37 / 0.84 / 1.35 s (medians); stalled replies 0, 7, 1 of 36 against 4, 5, 3 and 6, 15, 1.
        """
        others = [s for s in self._streams if s is not stream]
        words = sum(1 for s in others if s.awaits_first_words) * self.speed_model.first_words
        speed = self.speed_model
        return words + sum(speed.decode_seconds(s.rest.frames) for s in others if s.rest is not None)

    def _serve_cached_first_pieces(self) -> None:
        """A reply whose first piece is in the phrase cache gets it now, even while an inference
        runs: a repeated confirmation needs no inference, so it neither waits for one nor has one
        stopped for it."""
        for stream in list(self._streams):  # a reply spoken whole from the cache leaves the list
            if not stream.awaits_first_words:
                continue
            phonemes = stream.units[0].phonemes
            if len(phonemes) > stream.max_piece_tokens:
                continue  # its first piece is cut from it, see take_piece
            pcm = self.cache.get(self._cache_key(phonemes, stream))
            if pcm is None:
                continue
            self.stats.cache_hits += 1
            piece = stream.units.popleft()
            stream.complete(piece, AudioPiece(pcm, piece.phonemes))

    def _cache_key(self, phonemes: str, stream: SynthesisStream) -> tuple[str, str, float, str]:
        return (phonemes, stream.voice.key, stream.speed, self.model_id)

    def _preempt_if_worth_it(self, job: _Job) -> None:
        """Stop the running continuation piece when a reply is waiting for its first audio, and

        * the wait this saves (the piece's inference still to go) is longer than the work it
          throws away (its inference so far), and at least ``_MIN_PREEMPT_GAIN``: so a first
          piece waits at most about half a continuation piece, and stopping never costs the
          machine more time than it gives the waiting reply;
        * the stopped piece's own reply can afford it: its buffered audio lasts for the first
          piece and then the whole piece again, which starts over exactly as it was (packed
          anew from a smaller budget it could be cut mid-clause, which is heard).
        """
        if job.first or job.rest is not None or job.run_options.terminate:
            return
        # Not a rest whose first words are held (a guess not yet confirmed): it has no piece to
        # take, and it is not stopped for.
        waiting = [s for s in self._streams if s.awaits_first_words]
        if not waiting:
            return
        now = time.monotonic()
        first = min(waiting, key=lambda s: s.priority)
        first_cost = self.speed_model.estimate(first.next_budget())  # the first piece is taken whole
        piece_cost = self.speed_model.estimate(len(job.piece.phonemes))
        elapsed = now - job.started
        if piece_cost - elapsed < max(elapsed, _MIN_PREEMPT_GAIN):
            return
        if (job.stream.deadline - now) * _SAFETY < first_cost + piece_cost:
            return
        _LOGGER.debug("Stopping a %d-token piece for a first piece", len(job.piece.phonemes))
        job.run_options.terminate = True

    async def _synthesize_piece(self, job: _Job) -> None:
        stream, piece = job.stream, job.piece
        try:
            if job.rest is not None:
                audio: AudioPiece | None = await self._render_rest(job.rest, job.run_options)
            else:
                ahead = functools.partial(stream.complete, piece, more=True) if job.first else None
                audio = await self._render(piece, stream, job.run_options, ahead)
        except asyncio.CancelledError:
            stream.in_flight = False
            stream.fail(EngineError("the engine is shutting down"))
            raise
        except Exception as err:
            stream.in_flight = False
            if not job.run_options.terminate:
                _LOGGER.exception("Synthesis failed for %r", piece.phonemes)
                stream.fail(EngineError(f"synthesis failed: {err}"))
            elif stream.dropped(piece):
                stream.discard(piece)  # a wrong guess, stopped
            elif job.rest is not None:
                stream.rest = job.rest  # never stopped on purpose otherwise; made again
            else:
                self.stats.preempted += 1  # stopped for a first piece: starts over after it
                if not stream.cancelled:
                    stream.restart = piece
            return
        finally:
            stream.job = None
        stream.in_flight = False
        if audio is not None:  # None: the first words are out and the rest waits (stream.rest)
            stream.complete(piece, audio)
        await self._trim_memory()

    async def _trim_memory(self) -> None:
        """Hand ONNX Runtime's unused arena back when the process holds more than after warm-up
        (plus ``_MEMORY_ALLOWANCE``). The arena grows to the largest run it has served and keeps
        it, and it grows in doubling steps: a piece of an unusual shape (a long run of short
        sentences, say) can add a hundred MB or more, kept for good. Trimming after every run
        (``release_memory``) bounds that too, but every piece then pays for its memory afresh;
        this costs a tiny inference only when the memory has grown. Runs after the piece is
        delivered, before the next inference starts."""
        if self._memory_mark is None:
            return
        resident = resident_bytes()
        if resident is None or resident <= self._memory_mark:
            return
        await asyncio.get_running_loop().run_in_executor(self._infer_pool, self._shrink_arena)
        after = resident_bytes()
        _LOGGER.debug(
            "Arena trimmed: %.0f MB resident, %.0f MB after", resident / 2**20, (after or 0) / 2**20
        )
        if after is not None:  # what the trim cannot give back (not the arena's) is the new floor
            self._memory_mark = max(self._memory_mark, after + _MEMORY_ALLOWANCE)

    async def _render(
        self,
        piece: PhonemeUnit,
        stream: SynthesisStream,
        run_options: ort.RunOptions,
        ahead: Callable[[AudioPiece], None] | None = None,
    ) -> AudioPiece | None:
        """The piece's audio (from the phrase cache, or synthesized). With *ahead* (a first piece)
        and a split model, the piece's first words may be passed to *ahead*, and None returned:
        the rest is then left in ``stream.rest``, to be made as a job of its own."""
        key = self._cache_key(piece.phonemes, stream)
        cached = self.cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return AudioPiece(cached, piece.phonemes)
        ids = self.frontend.tokenize(piece.phonemes)[:MAX_TOKENS]
        if ahead is not None and self.split_model is not None:
            return await self._render_in_two(piece, ids, stream, run_options, ahead, key)
        loop = asyncio.get_running_loop()
        # Trimming and PCM conversion (~4 ms for 10 s of audio) run in the inference thread too:
        # on the event loop they would delay every other client's events (describe included).
        job = functools.partial(
            _render_pcm,
            ids=ids,
            table=stream.voice.table,
            speed=stream.speed,
            run_options=run_options,
        )
        session = self.session
        try:
            pcm, elapsed = await loop.run_in_executor(self._infer_pool, job, session)
        except Exception as err:
            if run_options.terminate:
                raise  # stopped on purpose (see _synthesize_piece), not a failing GPU
            if session is self.session and (
                self.device != "cuda" or self.config.device != "auto" or self.cpu_session_factory is None
            ):
                raise
            # A GPU can fail at run time (driver reset, out of memory). With device: auto the
            # server keeps speaking on the CPU rather than failing every request from now on. With
            # pieces running side by side, the first to fail switches; the others run again after.
            async with self._switching:
                if session is self.session:
                    assert self.cpu_session_factory is not None
                    _LOGGER.error(
                        "CUDA inference failed (%s: %s); switching to the CPU", type(err).__name__, err
                    )
                    self.session = await loop.run_in_executor(self._infer_pool, self.cpu_session_factory)
                    self.device = "cpu"
                    self.parallel = 1
                    self.model_path = Path(self.session._model_path)
                    self.model_id = f"{self.model_path.name}:{self.model_path.stat().st_size}"
            pcm, elapsed = await loop.run_in_executor(self._infer_pool, job, self.session)
        self._record(key, len(ids), pcm, elapsed, piece.boundary)
        return AudioPiece(pcm, piece.phonemes)

    def _record(
        self, key: tuple[str, str, float, str], tokens: int, pcm: bytes, elapsed: float, boundary: Boundary
    ) -> None:
        """A synthesized piece's audio into the statistics, the speed model and the phrase cache.
        The statistics and the speed model count the pause that will follow it (as played)."""
        seconds = pcm_seconds(pcm) + PAUSE_SECONDS[boundary]
        self.stats.pieces += 1
        self.stats.inference_seconds += elapsed
        self.stats.audio_seconds += seconds
        self.speed_model.update(tokens, seconds, elapsed)
        _LOGGER.debug(
            "Piece of %d tokens: %.2f s audio in %.3f s [%s] %r",
            tokens,
            pcm_seconds(pcm),
            elapsed,
            boundary,
            key[0],
        )
        self.cache.put(key, pcm)

    async def _render_in_two(
        self,
        piece: PhonemeUnit,
        ids: list[int],
        stream: SynthesisStream,
        run_options: ort.RunOptions,
        ahead: Callable[[AudioPiece], None],
        key: tuple[str, str, float, str],
    ) -> AudioPiece | None:
        """A first piece through the split model: its prosody, then (when ``plan_cut`` finds a cut
        that keeps the rest ahead of playback) its first words sent through *ahead*, and the rest
        left in ``stream.rest`` (None returned); else the whole piece, as ``run_session`` would
        make it (bit for bit)."""
        assert self.split_model is not None
        split, loop, pool = self.split_model, asyncio.get_running_loop(), self._infer_pool
        started = time.perf_counter()
        style = stream.voice.table[len(ids) - 1].reshape(1, -1).astype(np.float32)
        prosody = await loop.run_in_executor(pool, split.prosody, ids, style, stream.speed, run_options)
        symbols = "".join(ch for ch in piece.phonemes if ch in self.frontend.vocab)[: len(ids)]
        speed = self.speed_model
        wait = self._work_before_rest(stream)
        cut = plan_cut(symbols, prosody.durations, speed.seconds_per_frame(), speed.overhead, wait)
        if cut is None:
            decoding = time.perf_counter()
            whole = functools.partial(_decode_whole, split, prosody, run_options)
            pcm = await loop.run_in_executor(pool, whole)
            done = time.perf_counter()
            speed.update_decode(prosody.frames, done - decoding)
            speed.update_first_words(done - started)
            self._record(key, len(ids), pcm, done - started, piece.boundary)
            return AudioPiece(pcm, piece.phonemes)
        head = functools.partial(_decode_head, split, prosody, cut, run_options)
        head_pcm, overlap, statistics = await loop.run_in_executor(pool, head)
        spent = time.perf_counter() - started
        speed.update_first_words(spent)
        if stream.dropped(piece):  # a wrong guess, found out while its first words were made
            stream.discard(piece)
            return None
        words = piece.phonemes.split(" ")
        if not stream.cancelled:
            stream.rest = _Rest(
                split=split,
                unit=piece,
                prosody=prosody,
                cut=cut,
                overlap=overlap,
                statistics=statistics,
                phonemes=" ".join(words[cut.words :]),
                head_pcm=head_pcm,
                key=key,
                tokens=len(ids),
                spent=spent,
                wait=wait,
                since=time.monotonic(),
            )
        ahead(AudioPiece(head_pcm, " ".join(words[: cut.words])))
        return None

    async def _render_rest(self, rest: _Rest, run_options: ort.RunOptions) -> AudioPiece:
        """The rest of a first piece sent in two parts (its first words are out): the frames from
        the cut on, faded in under the first part's end."""
        loop = asyncio.get_running_loop()
        # The rest's own time, from when it starts: what plan_cut predicts.
        started = time.perf_counter()
        tail = functools.partial(
            _decode_tail, rest.split, rest.prosody, rest.cut, rest.overlap, rest.statistics, run_options
        )
        pcm = await loop.run_in_executor(self._infer_pool, tail)
        elapsed = time.perf_counter() - started
        self.speed_model.update_decode(rest.frames, elapsed)
        _LOGGER.debug(
            "First piece of %d tokens sent in two: %.2f s + %.2f s of audio (the rest planned to wait"
            " %.2f s for other replies, waited %.2f s)",
            rest.tokens,
            pcm_seconds(rest.head_pcm),
            pcm_seconds(pcm),
            rest.wait,
            time.monotonic() - rest.since - elapsed,
        )
        whole = rest.head_pcm + pcm
        self._record(rest.key, rest.tokens, whole, rest.spent + elapsed, rest.unit.boundary)
        return AudioPiece(pcm, rest.phonemes)


@dataclass
class _Job:
    """The piece being synthesized, and the handle that can stop its inference."""

    stream: SynthesisStream
    piece: PhonemeUnit
    first: bool
    started: float
    run_options: ort.RunOptions
    #: Set when the job is the rest of a first piece (``piece`` is then that first piece).
    rest: _Rest | None = None


@dataclass
class _Rest:
    """What is left of a first piece sent in two parts once its first words are out. It is made
    as a job of its own, so another reply's first words can go before it while it has time to
    spare (``KokoroEngine._pick``); never stopped for them once running."""

    split: SplitModel
    unit: PhonemeUnit  # the whole first piece
    prosody: Prosody
    cut: Cut
    overlap: npt.NDArray[np.float32]  # the first part's end, to fade in under
    statistics: dict[str, npt.NDArray[np.float32]]  # what the first part was normalized with
    phonemes: str  # the rest's words
    head_pcm: bytes  # the first words' audio (with the rest, what the phrase cache keeps)
    key: tuple[str, str, float, str]
    tokens: int
    spent: float  # inference seconds so far: prosody and the first words
    wait: float  # other replies' work planned to go first (for the debug log)
    since: float  # monotonic time the first words went out

    @property
    def frames(self) -> int:
        """Frames the rest decodes (from the overlap on)."""
        return self.prosody.frames - self.cut.frame + OVERLAP_FRAMES


def _render_pcm(
    session: ort.InferenceSession,
    *,
    ids: list[int],
    table: npt.NDArray[np.float32],
    speed: float,
    run_options: ort.RunOptions,
) -> tuple[bytes, float]:
    """One piece as it is sent (before its pause): inference, then trimmed, faded PCM; and the
    inference's own seconds (what the speed model learns from)."""
    started = time.perf_counter()
    audio = run_session(session, ids, table, speed, run_options)
    elapsed = time.perf_counter() - started
    return to_pcm16(shape_piece(audio)), elapsed


def _decode_whole(split: SplitModel, prosody: Prosody, run_options: ort.RunOptions) -> bytes:
    """All of a piece's frames in one decode, shaped as ``_render_pcm`` shapes a piece."""
    audio = split.whole(prosody, run_options)
    return to_pcm16(shape_piece(audio))


def _decode_head(
    split: SplitModel, prosody: Prosody, cut: Cut, run_options: ort.RunOptions
) -> tuple[bytes, npt.NDArray[np.float32], dict[str, npt.NDArray[np.float32]]]:
    """The frames before the cut and past it by the overlap: the PCM to send now (up to the
    crossfade), the crossfade's stretch (to fade into the tail), and the statistics the tail must
    be normalized with."""
    audio, statistics = split.head(prosody, cut.frame + OVERLAP_FRAMES, run_options)
    keep = (cut.frame - CROSSFADE_FRAMES // 2) * SAMPLES_PER_FRAME
    return (
        to_pcm16(shape_piece(audio[:keep], end=False)),
        audio[keep : keep + CROSSFADE_FRAMES * SAMPLES_PER_FRAME],
        statistics,
    )


def _decode_tail(
    split: SplitModel,
    prosody: Prosody,
    cut: Cut,
    overlap: npt.NDArray[np.float32],
    statistics: dict[str, npt.NDArray[np.float32]],
    run_options: ort.RunOptions,
) -> bytes:
    """The rest of the frames, from the crossfade on: brought to the head's level at the seam and
    faded in over the head's *overlap*."""
    audio = split.tail(prosody, cut.frame - OVERLAP_FRAMES, statistics, run_options)
    audio = join_level(overlap, audio[(OVERLAP_FRAMES - CROSSFADE_FRAMES // 2) * SAMPLES_PER_FRAME :])
    return to_pcm16(shape_piece(crossfade(overlap, audio, overlap.size), start=False))


def _give_back_freed_memory() -> None:
    """Hand the memory start-up freed (the whole model's session let go, a model rewritten, the
    text front end's loading) back to the system: glibc keeps it in the heap otherwise, between
    what is still in use (~110 MB after start-up). Where there is no glibc, nothing happens."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def resident_bytes() -> int | None:
    """This process's resident memory (Linux; None where /proc is not there)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def parse_first(spec: str) -> str:
    """The first voice named in a voice spec (for its language)."""
    return spec.split("+")[0].split(":")[0].strip()


def language_code(language: str) -> str:
    """A BCP-47 tag or Kokoro code ("en-US", "en_us", "pt-BR", "ja") → Kokoro code ("en-us")."""
    code = language.strip().lower().replace("_", "-")
    aliases = {"en": "en-us", "pt": "pt-br", "jp": "ja", "cn": "zh", "zh-cn": "zh", "fr-fr": "fr"}
    return aliases.get(code, code)


def _cpu_model_for(int8_model: Path, cache_dir: Path, threads: int, voice: npt.NDArray[np.float32]) -> Path:
    """The int8 model rewritten for this CPU (see cpu_model.py), which sounds the same and runs
    faster: on x86 CPUs with AVX2, VNNI or AMX its convs as uint8×int8 MatMulInteger and its
    normalizations fused (~1.6–2× with VNNI, ~1.25× with AVX2 alone), elsewhere the fused
    normalizations alone (~7 %); either lets a first piece be cut (see split_model.py). The int8
    model as is when that fails. *int8_model* is the default
    model, whose sha256 assets.ensure_model has just verified; *voice* (a voice table) speaks the
    on-machine check."""
    from .model.build.cpu_model import ensure_cpu_model
    from .model.build.float_model import FloatModelError

    try:
        return ensure_cpu_model(
            int8_model,
            cache_dir,
            lambda path: cpu_session(path, threads),
            voice,
            source_sha256=assets.MODEL_SHA256,
        )
    except (FloatModelError, OSError) as err:
        _LOGGER.info("Using %s as exported: %s", int8_model.name, err)
        return int8_model


def _float_model_for_cuda(int8_model: Path, cache_dir: Path) -> Path:
    """CUDA has no kernels for the int8 graph's quantized ops: use a float model built from it.
    *int8_model* is the default model, whose sha256 assets.ensure_model has just verified."""
    try:
        from .model.build.float_model import ensure_float_model
    except ImportError as err:
        _LOGGER.warning("Cannot build a float model for CUDA (%s); trying the int8 model", err)
        return int8_model
    try:
        return ensure_float_model(int8_model, cache_dir, "fp32", source_sha256=assets.MODEL_SHA256)
    except Exception as err:  # the onnx package is an optional extra
        _LOGGER.warning("Cannot build a float model for CUDA (%s); trying the int8 model", err)
        return int8_model


def _split_model_for(
    session: ort.InferenceSession,
    model_path: Path,
    cache_dir: Path,
    threads: int,
    voice: npt.NDArray[np.float32],
) -> SplitModel | None:
    """The CPU model cut in parts (see split_model.py), checked against *session* (the whole
    model) before it is trusted; None (first pieces sent whole) when it cannot be cut or the check
    fails."""
    from .model.build.cpu_model import cpu_signature
    from .model.split import PARTS, SplitModelError, checked_here, ensure_split_models, remember_checked

    machine = f"{cpu_signature()} onnxruntime {ort.__version__}"
    try:
        paths = ensure_split_models(model_path, cache_dir)
        split = SplitModel({part: cpu_session(paths[part], threads) for part in PARTS})
        if not checked_here(model_path, cache_dir, machine):
            split.check(session, [50, 156, 86, 54, 57, 4] * 5, voice)
            remember_checked(model_path, cache_dir, machine)
    except (SplitModelError, OSError) as err:
        _LOGGER.info("Sending first pieces whole: %s", err)
        return None
    except Exception as err:  # ONNX Runtime's own errors have no common base class
        _LOGGER.info("Sending first pieces whole: %s: %s", type(err).__name__, err)
        return None
    return split


def _log_node_placement(session: ort.InferenceSession) -> None:
    """Debug: which execution provider ran which operators (from ONNX Runtime's profile)."""
    profile = Path(session.end_profiling())
    try:
        for provider, ops in sorted(node_placement(profile).items()):
            summary = ", ".join(f"{op}×{count}" for op, count in ops.most_common())
            _LOGGER.debug("%s ran %d nodes: %s", provider, sum(ops.values()), summary)
    finally:
        profile.unlink(missing_ok=True)


def _warn_if_quantized(model_path: Path) -> None:
    """Quantized ops have no CUDA kernels: say so, and which float model to use instead."""
    try:
        from .model.build.float_model import quantized_op_types

        quantized = bool(quantized_op_types(model_path))
    except ImportError:  # `onnx` not installed: recognise the default int8 model by its hash
        quantized = hashlib.sha256(model_path.read_bytes()).hexdigest() == assets.MODEL_SHA256
    if quantized:
        _LOGGER.warning(
            "%s has quantized ops with no CUDA kernels; they run on the CPU. For GPU speed use a "
            "float model: `model: auto` builds one, or run "
            "`wyoming-kokoro build-float-model`, or point `model:` at kokoro-v1.0.onnx (fp32)",
            model_path.name,
        )


__all__ = [
    "AudioPiece",
    "EngineBusy",
    "EngineError",
    "KokoroEngine",
    "PhraseCache",
    "SynthesisStream",
]
