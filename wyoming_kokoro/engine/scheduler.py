"""The scheduler: one loop that decides which reply's piece is made next, has the synthesizer make
it, and hands the result back to the reply. The rules it follows are ``policy.py``'s; this module
only carries them out, in three steps kept apart:

* decide (``_decide``): serve first pieces found in the phrase cache (they need no inference), pick
  a ready reply (``policy.pick``) and take its next piece, sized by the policy;
* execute (``_execute``): the synthesizer makes the piece in a worker thread, while the loop goes
  on; a running continuation may be stopped for a waiting first piece (``policy.worth_stopping``);
* update (``_update``): the audio goes to its reply, or the piece is queued again as it was
  (stopped for a first piece), or the reply fails.

On the CPU one inference runs at a time (all cores on one piece); on a GPU up to
``Synthesizer.parallel`` run side by side. Each reply has at most one piece in flight, which keeps
its pieces in order and lets its next piece be packed from whatever text has arrived by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

from ..text.packing import PhonemeUnit, take_piece
from .jobs import FirstWords, Job
from .policy import continuation_budget, pick, work_before_rest, worth_stopping
from .results import AudioPiece, EngineError
from .stream import SynthesisStream
from .synthesizer import IDLE_RELEASE_SECONDS, Synthesizer

_LOGGER = logging.getLogger(__name__)


class Scheduler:
    """The replies at work, and the loop that serves them piece by piece."""

    def __init__(self, synthesizer: Synthesizer, warm_up: Callable[[], None]) -> None:
        self.synthesizer = synthesizer
        self.streams: list[SynthesisStream] = []
        #: Runs once, in an inference thread, before the first piece (see ``KokoroEngine.start``).
        self._warm_up = warm_up
        self._warmed_up = False
        #: Whether inferences ran since the memory was last released (``_wait_idle``).
        self._holds_memory = False
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the replies -----------------------------------------------------------------------------
    def add(self, stream: SynthesisStream) -> None:
        self.ensure_running()
        self.streams.append(stream)

    def forget(self, stream: SynthesisStream) -> None:
        if stream in self.streams:
            self.streams.remove(stream)

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def queued(self) -> int:
        """Pieces of text waiting across every reply (what the busy limit counts)."""
        return sum(s.queued for s in self.streams)

    def budget(self, stream: SynthesisStream, now: float) -> int:
        """Tokens for *stream*'s next piece: its first segment whole, then what its buffered audio
        allows (``policy.continuation_budget``), shared with the other replies at work."""
        if stream.tokens_done == 0:
            return stream.first_piece_tokens
        assert stream.first_audio_at is not None
        buffered = stream.first_audio_at + stream.audio_seconds - now
        sharing = sum(1 for s in self.streams if s.at_work)
        return continuation_budget(buffered, sharing, self.synthesizer.speed_model, stream.max_piece_tokens)

    # -- the loop --------------------------------------------------------------------------------
    def ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._task.get_loop() is not loop:
            self._task = None  # a previous event loop (e.g. asyncio.run in the CLI) ended
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run(), name="kokoro-scheduler")

    async def aclose(self) -> None:
        """Stop the loop (pending replies are cancelled)."""
        for stream in list(self.streams):
            stream.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._wakeup = None

    async def _run(self) -> None:
        assert self._wakeup is not None
        wakeup = self._wakeup
        running: dict[asyncio.Task[None], tuple[SynthesisStream, Job]] = {}
        if not self._warmed_up:
            self._warmed_up = True
            await asyncio.get_running_loop().run_in_executor(self.synthesizer.pool, self._warm_up)
            self._holds_memory = True
        try:
            while True:
                self._serve_cached_first_pieces()
                for done in [task for task in running if task.done()]:
                    del running[done]
                if len(running) >= self.synthesizer.parallel:
                    if len(running) == 1:
                        self._stop_if_worth_it(*next(iter(running.values())))
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                decided = self._decide()
                if decided is None:
                    wakeup.clear()
                    if running:
                        await wakeup.wait()
                    else:
                        await self._wait_idle(wakeup)
                    continue
                self._holds_memory = True
                stream, job = decided
                task = asyncio.create_task(self._execute(stream, job))
                task.add_done_callback(lambda _task: wakeup.set())
                running[task] = (stream, job)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _wait_idle(self, wakeup: asyncio.Event) -> None:
        """Wait for work with nothing running; after IDLE_RELEASE_SECONDS of it, the memory the
        last inferences worked in is handed back (``Synthesizer.release_idle_memory``), once."""
        if not self._holds_memory:
            await wakeup.wait()
            return
        try:
            await asyncio.wait_for(wakeup.wait(), IDLE_RELEASE_SECONDS)
        except TimeoutError:
            self._holds_memory = False
            synthesizer = self.synthesizer
            await asyncio.get_running_loop().run_in_executor(
                synthesizer.pool, synthesizer.release_idle_memory
            )

    # -- decide ----------------------------------------------------------------------------------
    def _decide(self) -> tuple[SynthesisStream, Job] | None:
        """The reply whose work runs next and its job, or None when no reply is ready."""
        while ready := [s for s in self.streams if s.ready]:
            now = time.monotonic()
            stream = pick(ready, self.synthesizer.speed_model, now)
            rest, stream.rest = stream.rest, None
            piece, stream.stopped_piece = stream.stopped_piece, None
            if rest is not None:
                piece = rest.unit
            elif piece is None:
                piece = take_piece(stream.units, self.budget(stream, now))
            if piece is None:
                continue
            stream.in_flight = True
            first = stream.first_audio_at is None
            stream.job = Job(piece, first, time.monotonic(), self.synthesizer.run_options(), rest)
            return stream, stream.job
        return None

    def _serve_cached_first_pieces(self) -> None:
        """A reply whose first piece is in the phrase cache gets it now, even while an inference
        runs: it needs no inference, so it neither waits for one nor has one stopped for it."""
        synthesizer = self.synthesizer
        for stream in list(self.streams):  # a reply spoken whole from the cache leaves the list
            if not stream.awaits_first_words:
                continue
            phonemes = stream.units[0].phonemes
            if len(phonemes) > stream.max_piece_tokens:
                continue  # its first piece is cut from it, see take_piece
            pcm = synthesizer.cache.get(synthesizer.cache_key(phonemes, stream.voice, stream.speed))
            if pcm is None:
                continue
            synthesizer.stats.cache_hits += 1
            piece = stream.units.popleft()
            stream.complete(piece, AudioPiece(pcm, piece.phonemes))

    def _stop_if_worth_it(self, stream: SynthesisStream, job: Job) -> None:
        """Stop the running piece when the policy says a waiting first piece is worth it."""
        if job.run_options.terminate:
            return
        now = time.monotonic()
        if worth_stopping(
            tokens=len(job.piece.phonemes),
            elapsed=now - job.started,
            buffered=stream.deadline - now,
            continuation=not job.first and job.rest is None,
            replies=self.streams,
            speed=self.synthesizer.speed_model,
        ):
            _LOGGER.debug("Stopping a %d-token piece for a first piece", len(job.piece.phonemes))
            job.run_options.terminate = True

    # -- execute ---------------------------------------------------------------------------------
    async def _execute(self, stream: SynthesisStream, job: Job) -> None:
        synthesizer, piece = self.synthesizer, job.piece
        try:
            if job.rest is not None:
                audio: AudioPiece | FirstWords = await synthesizer.render_rest(job.rest, job.run_options)
            else:
                # A timed reply's first piece is sent whole: its words' times come with it.
                cut = job.first and not stream.timed
                others = functools.partial(self._work_before_rest, stream) if cut else None
                audio = await synthesizer.render(
                    piece, stream.voice, stream.speed, job.run_options, wait=others, timed=stream.timed
                )
        except asyncio.CancelledError:
            stream.in_flight = False
            stream.job = None
            stream.fail(EngineError("the engine is shutting down"))
            raise
        except Exception as err:
            stream.in_flight = False
            self._stopped_or_failed(stream, job, err)
            stream.job = None
            return
        self._update(stream, piece, audio)
        stream.job = None
        stream.in_flight = False
        if isinstance(audio, AudioPiece):
            stream.complete(piece, audio)

    def _work_before_rest(self, stream: SynthesisStream) -> float:
        others = [s for s in self.streams if s is not stream]
        return work_before_rest(others, self.synthesizer.speed_model)

    # -- update ----------------------------------------------------------------------------------
    def _update(self, stream: SynthesisStream, piece: PhonemeUnit, audio: AudioPiece | FirstWords) -> None:
        """A first piece's first words go out now and its rest waits for its turn; a wrong guess,
        found out while they were made, leaves nothing."""
        if not isinstance(audio, FirstWords):
            return
        if stream.dropped(piece):
            stream.discard(piece)
            return
        if not stream.cancelled:
            stream.rest = audio.rest
        stream.complete(piece, audio.audio, more=True)

    def _stopped_or_failed(self, stream: SynthesisStream, job: Job, err: Exception) -> None:
        """An inference that did not finish: stopped on purpose (a wrong guess, or for another
        reply's first piece: made again after it, exactly as it was), or failed (the reply ends)."""
        piece = job.piece
        if not job.run_options.terminate:
            _LOGGER.exception("Synthesis failed for %r", piece.phonemes, exc_info=err)
            stream.fail(EngineError(f"synthesis failed: {err}"))
        elif stream.dropped(piece):
            stream.discard(piece)  # a wrong guess, stopped
        elif job.rest is not None:
            stream.rest = job.rest  # never stopped on purpose otherwise; made again
        else:
            self.synthesizer.stats.preempted += 1
            if not stream.cancelled:
                stream.stopped_piece = piece
