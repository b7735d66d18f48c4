"""The synthesizer: the ONNX sessions and the device they run on, and how a piece becomes audio.

It owns what a piece's audio depends on and what is learned from making it: the session (and the
split model's parts on the CPU), the phrase cache, the speed model and the counters. Inference
runs in worker threads so the event loop, and with it every other client, is never blocked. It
knows nothing of replies or of which piece goes next (``scheduler.py`` decides that).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from ..audio import (
    PAUSE_SECONDS,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    crossfade,
    pcm_seconds,
    shape_piece,
    speech_bounds,
    to_pcm16,
)
from ..config import Config
from ..model.sessions import run_session, session_model_path, style_for
from ..model.split import CROSSFADE_FRAMES, OVERLAP_FRAMES, SAMPLES_PER_FRAME, Prosody, SplitModel, join_level
from ..text.frontend import MAX_TOKENS, TextFrontend
from ..text.packing import PhonemeUnit
from ..text.segmenter import Boundary
from ..voices import ResolvedVoice
from .cache import CacheKey, PhraseCache
from .jobs import FirstWords, Rest
from .memory import give_back_freed_memory, resident_bytes
from .policy import TYPICAL_FIRST_PIECE, Cut, plan_cut
from .results import AudioPiece, EngineError, Stats
from .speed import SpeedModel
from .timing import WordTime, word_times

_LOGGER = logging.getLogger(__name__)

#: Inferences run at once on a GPU. On the CPU one at a time is best (all cores on one piece; two
#: at once add little throughput and double the wait for the first), but a GPU's call is mostly
#: fixed cost, which calls side by side share (``docs/performance.md``, "GPU").
CUDA_PARALLEL = 3
#: ONNX Runtime's run option that hands back, after the run, the arena memory it leaves unused.
ARENA_SHRINKAGE = "memory.enable_memory_arena_shrinkage"
#: Seconds without a piece to make after which the working memory of the last inferences goes back
#: to the system (see ``Synthesizer.release_idle_memory``).
IDLE_RELEASE_SECONDS = 1.0


class Synthesizer:
    """Sessions, devices and the making of audio, for the scheduler to call."""

    def __init__(
        self,
        config: Config,
        session: ort.InferenceSession,
        device: str,
        frontend: TextFrontend,
        maintenance_table: npt.NDArray[np.float32],
        split_model: SplitModel | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.model_path = Path()
        self.model_id = ""
        self._take_model(session)
        self.device = device
        self.frontend = frontend
        #: The voice the warm-up and the arena trims run with (the default voice's table).
        self.maintenance_table = maintenance_table
        #: The model cut in parts, to send a long first piece in two (CPU only).
        self.split_model = split_model
        self.cache = PhraseCache(config.phrase_cache_size)
        self.stats = Stats()
        self.speed_model = SpeedModel()
        #: Inferences at once: one on the CPU, CUDA_PARALLEL on a GPU (ONNX Runtime's sessions may
        #: run from several threads).
        self.parallel = CUDA_PARALLEL if device == "cuda" else 1
        self.pool = ThreadPoolExecutor(CUDA_PARALLEL, thread_name_prefix="kokoro-infer")
        self._switching = asyncio.Lock()  # one switch from a failed GPU to the CPU
        #: Builds a CPU session, for falling back when CUDA fails at run time (device: auto).
        self.cpu_session_factory: Callable[[], ort.InferenceSession] | None = None

    def _take_model(self, session: ort.InferenceSession) -> None:
        """Serve with *session* from now on."""
        self.session = session
        self.model_path = session_model_path(session)
        #: The model a cached piece was made with: a cache never serves another model's audio.
        self.model_id = f"{self.model_path.name}:{self.model_path.stat().st_size}"

    def cache_key(self, phonemes: str, voice: ResolvedVoice, speed: float) -> CacheKey:
        return (phonemes, voice.key, speed, self.model_id)

    def run_options(self) -> ort.RunOptions:
        """Options for one inference. With ``release_memory`` ONNX Runtime hands its arena back
        after the run, so a small board keeps that memory between requests; the peak during a run
        is unchanged."""
        options = ort.RunOptions()
        if self.config.release_memory:
            devices = "cpu:0;gpu:0" if self.device == "cuda" else "cpu:0"
            options.add_run_config_entry(ARENA_SHRINKAGE, devices)
        return options

    # -- warm-up and memory ---------------------------------------------------------------------
    def warm_up(self, ids: list[int]) -> None:
        """First calls are slow (ONNX Runtime's kernel selection): pay that before the first
        request, on what it needs, a first piece (*ids*: TYPICAL_FIRST_PIECE real tokens).
        The speed model starts from its timing, so the first reply's pieces are sized for this
        machine rather than for a guess (a piece's inference time grows with its audio nearly in
        proportion, and every piece made updates the model)."""
        table = self.maintenance_table
        for length in (12, TYPICAL_FIRST_PIECE):
            started = time.perf_counter()
            audio = run_session(self.session, ids[:length], table, 1.0, self.run_options())
            self._set_speed(len(ids[:length]), audio, time.perf_counter() - started)
        if self.split_model is not None:
            self._warm_up_split(self.split_model, ids[: min(TYPICAL_FIRST_PIECE, len(ids))])

    def _set_speed(self, tokens: int, audio: npt.NDArray[np.float32], elapsed: float) -> None:
        seconds = audio.size / SAMPLE_RATE
        if seconds > 0 and tokens > 0:
            self.speed_model.rtf = max(0.0, elapsed - self.speed_model.overhead) / seconds
            self.speed_model.audio_per_token = seconds / tokens

    def _warm_up_split(self, split: SplitModel, ids: list[int]) -> None:
        """Only first pieces go through the split model, and they are mostly short: timed on a
        typical first piece it gives the warm speed (a first run on the longest piece pays for the
        memory it needs and comes out slower)."""
        started = time.perf_counter()
        prosody = split.prosody(ids, style_for(self.maintenance_table, len(ids)), 1.0, self.run_options())
        half = prosody.frames // 2
        decoding = time.perf_counter()
        _, statistics = split.head(prosody, half, self.run_options())
        self.speed_model.first_words_seconds = time.perf_counter() - started
        split.tail(prosody, half, statistics, self.run_options())
        self.speed_model.update_decode(prosody.frames, time.perf_counter() - decoding)

    def _shrink_arena(self) -> None:
        """A one-token run after which ONNX Runtime hands back the arena it does not use. All CPU
        sessions share one arena, so the cheapest will do: the split model's prosody part (a
        run of the whole model costs several times the CPU for the same release)."""
        options = ort.RunOptions()
        options.add_run_config_entry(ARENA_SHRINKAGE, "cpu:0")
        split = self.split_model
        session = split.sessions["prosody"] if split is not None else self.session
        run_session(session, [16], self.maintenance_table, 1.0, options)

    def release_idle_memory(self) -> None:
        """When no piece is left to make: ONNX Runtime's arena (grown to the largest piece since
        the last release) and the heap memory freed since go back to the system, so an idle server
        holds its models and dictionaries only. The next reply's first piece is small and pays
        for its own memory; its later pieces grow the arena again while the first one plays. During
        a busy spell the arena keeps what its largest piece took, which the frame cap bounds
        (``model/rewrite/frame_cap.py``). Only on the CPU (a GPU's host memory is small); runs in
        the inference pool."""
        if self.device != "cpu":
            return
        resident = resident_bytes()
        self._shrink_arena()
        give_back_freed_memory()
        after = resident_bytes()
        if resident is not None and after is not None:
            _LOGGER.debug("Idle: %.0f MB resident, %.0f MB after release", resident / 2**20, after / 2**20)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    # -- pieces ---------------------------------------------------------------------------------
    async def render(
        self,
        piece: PhonemeUnit,
        voice: ResolvedVoice,
        speed: float,
        run_options: ort.RunOptions,
        *,
        wait: Callable[[], float] | None = None,
        timed: bool = False,
    ) -> AudioPiece | FirstWords:
        """The piece's audio, from the phrase cache or synthesized. With *wait* (a first piece:
        the seconds of other replies' work that would go before its rest) and a split model, the
        piece may come back as its first words and a rest to make later. *timed*: with when each
        word is said (``AudioPiece.words``), which needs the split model's durations."""
        if timed:
            return await self._render_timed(piece, voice, speed, run_options)
        key = self.cache_key(piece.phonemes, voice, speed)
        cached = self.cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return AudioPiece(cached, piece.phonemes)
        ids = self.frontend.tokenize(piece.phonemes)[:MAX_TOKENS]
        if wait is not None and self.split_model is not None:
            return await self._render_first(piece, ids, voice, speed, run_options, wait, key)
        # Trimming and PCM conversion run in the inference thread too: on the event loop they
        # would delay every other client's events (describe included).
        job = functools.partial(render_pcm, ids=ids, table=voice.table, speed=speed, run_options=run_options)
        pcm, elapsed = await self._infer(job, run_options)
        self._record(key, len(ids), pcm, elapsed, piece.boundary)
        return AudioPiece(pcm, piece.phonemes)

    async def _render_timed(
        self, piece: PhonemeUnit, voice: ResolvedVoice, speed: float, run_options: ort.RunOptions
    ) -> AudioPiece:
        """A whole piece through the split model's parts (the whole model's audio, bit for bit), and
        its words' times from the durations its prosody part predicted."""
        split = self.split_model
        if split is None:
            raise EngineError("word times need the CPU's split model (split_first_piece: true; not on a GPU)")
        ids = self.frontend.tokenize(piece.phonemes)[:MAX_TOKENS]
        started = time.perf_counter()
        timed = functools.partial(render_timed, split, ids, voice.table, speed, run_options, piece.phonemes)
        pcm, words = await asyncio.get_running_loop().run_in_executor(self.pool, timed, self.frontend.vocab)
        key = self.cache_key(piece.phonemes, voice, speed)
        self._record(key, len(ids), pcm, time.perf_counter() - started, piece.boundary)
        return AudioPiece(pcm, piece.phonemes, words)

    async def _infer(
        self, job: Callable[[ort.InferenceSession], tuple[bytes, float]], run_options: ort.RunOptions
    ) -> tuple[bytes, float]:
        """Run *job* on the session in a worker thread. A GPU can fail at run time (driver reset,
        out of memory): with ``device: auto`` the server then goes on on the CPU rather than
        failing every request from now on. With pieces side by side, the first to fail switches;
        the others run again after."""
        loop = asyncio.get_running_loop()
        session = self.session
        try:
            return await loop.run_in_executor(self.pool, job, session)
        except Exception as err:
            if run_options.terminate:
                raise  # stopped on purpose (see the scheduler), not a failing GPU
            falls_back = self.device == "cuda" and self.config.device == "auto"
            if session is self.session and (not falls_back or self.cpu_session_factory is None):
                raise
            async with self._switching:
                if session is self.session:
                    assert self.cpu_session_factory is not None
                    _LOGGER.error(
                        "CUDA inference failed (%s: %s); switching to the CPU", type(err).__name__, err
                    )
                    self._take_model(await loop.run_in_executor(self.pool, self.cpu_session_factory))
                    self.device = "cpu"
                    self.parallel = 1
            return await loop.run_in_executor(self.pool, job, self.session)

    async def _render_first(
        self,
        piece: PhonemeUnit,
        ids: list[int],
        voice: ResolvedVoice,
        speed: float,
        run_options: ort.RunOptions,
        wait: Callable[[], float],
        key: CacheKey,
    ) -> AudioPiece | FirstWords:
        """A first piece through the split model: its prosody, then (when ``plan_cut`` finds a cut
        that keeps the rest ahead of playback) its first words and the rest to make; else the
        whole piece, as ``run_session`` would make it (bit for bit)."""
        assert self.split_model is not None
        split, loop, speed_model = self.split_model, asyncio.get_running_loop(), self.speed_model
        started = time.perf_counter()
        style = style_for(voice.table, len(ids))
        prosody = await loop.run_in_executor(self.pool, split.prosody, ids, style, speed, run_options)
        symbols = "".join(ch for ch in piece.phonemes if ch in self.frontend.vocab)[: len(ids)]
        waits = wait()
        cut = plan_cut(
            symbols, prosody.durations, speed_model.seconds_per_frame(), speed_model.overhead, waits
        )
        if cut is None:
            decoding = time.perf_counter()
            pcm = await loop.run_in_executor(self.pool, decode_whole, split, prosody, run_options)
            done = time.perf_counter()
            speed_model.update_decode(prosody.frames, done - decoding)
            speed_model.update_first_words(done - started)
            self._record(key, len(ids), pcm, done - started, piece.boundary)
            return AudioPiece(pcm, piece.phonemes)
        head = functools.partial(decode_head, split, prosody, cut, run_options)
        head_pcm, overlap, statistics = await loop.run_in_executor(self.pool, head)
        spent = time.perf_counter() - started
        speed_model.update_first_words(spent)
        words = piece.phonemes.split(" ")
        rest = Rest(
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
            wait=waits,
            since=time.monotonic(),
        )
        return FirstWords(AudioPiece(head_pcm, " ".join(words[: cut.words])), rest)

    async def render_rest(self, rest: Rest, run_options: ort.RunOptions) -> AudioPiece:
        """The rest of a first piece sent in two parts (its first words are out): the frames from
        the cut on, faded in under the first part's end."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()  # the rest's own time, from when it starts: what plan_cut predicts
        tail = functools.partial(
            decode_tail, rest.split, rest.prosody, rest.cut, rest.overlap, rest.statistics, run_options
        )
        pcm = await loop.run_in_executor(self.pool, tail)
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
        self._record(rest.key, rest.tokens, rest.head_pcm + pcm, rest.spent + elapsed, rest.unit.boundary)
        return AudioPiece(pcm, rest.phonemes)

    def _record(self, key: CacheKey, tokens: int, pcm: bytes, elapsed: float, boundary: Boundary) -> None:
        """A synthesized piece's audio into the counters, the speed model and the phrase cache.
        The counters and the speed model count the pause that will follow it (as played)."""
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


def render_pcm(
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


def decode_whole(split: SplitModel, prosody: Prosody, run_options: ort.RunOptions) -> bytes:
    """All of a piece's frames in one decode, shaped as ``render_pcm`` shapes a piece."""
    return to_pcm16(shape_piece(split.whole(prosody, run_options)))


def decode_head(
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


def decode_tail(
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


def render_timed(
    split: SplitModel,
    ids: list[int],
    table: npt.NDArray[np.float32],
    speed: float,
    run_options: ort.RunOptions,
    phonemes: str,
    vocab: dict[str, int],
) -> tuple[bytes, tuple[WordTime, ...]]:
    """One piece as it is sent, and when each of its words is said (see ``timing.word_times``)."""
    prosody = split.prosody(ids, style_for(table, len(ids)), speed, run_options)
    audio = split.whole(prosody, run_options)
    skip, _ = speech_bounds(audio)
    pcm = to_pcm16(shape_piece(audio))
    symbols = "".join(ch for ch in phonemes if ch in vocab)[: len(ids)]
    return pcm, word_times(symbols, vocab, prosody.durations, skip, len(pcm) // SAMPLE_WIDTH)
