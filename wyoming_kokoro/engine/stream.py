"""One reply: text in (all at once or in fragments), audio pieces out, in order.

The stream knows nothing of the engine. It phonemizes its text through the ``phonemize`` it is
given, says ``wake`` when it has work for the scheduler, and ``finished`` when it is done or given
up. The scheduler takes its pieces (``units``, ``stopped_piece``, ``rest``) and hands the audio
back through ``complete``.

A reply's first sentence is started on a guess: when streamed text ends in what only the next
fragment can confirm is a sentence's end ("… kitchen lights." — a digit next would make it
"12.4"), its synthesis starts at once and its audio is held until the next fragment confirms it,
or dropped (its inference stopped) when it does not. Text that ends mid-word is not guessed at.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from ..audio import pause_pcm, silence_pcm
from ..text.normalize import normalize_text
from ..text.packing import PhonemeUnit, piece_token_limit
from ..text.segmenter import Boundary, Segment, TextSegmenter
from ..voices import ResolvedVoice
from .jobs import Job, Rest
from .policy import MAX_UNREAD
from .results import AudioPiece, EngineError

_LOGGER = logging.getLogger(__name__)


@dataclass(eq=False)
class Guess:
    """A reply's first segment as it will be if the next text fragment confirms it, and the audio
    made for it meanwhile."""

    segment: Segment
    unit: PhonemeUnit | None = None  # once phonemized
    boundary: Boundary | None = None  # once confirmed: how the segment really ends
    abandoned: bool = False
    #: Too long to be one piece: it would be cut in pieces (``take_piece``), so it waits in here
    #: until confirmed instead of being made on the guess.
    parked: bool = False
    held: list[tuple[AudioPiece, bool]] = field(default_factory=list)  # (audio, more follows)


class SynthesisStream:
    """One reply. ``feed`` and ``close`` never block; iterate the stream (``async for piece in
    stream``) to get audio. ``cancel`` drops whatever is still queued (a client went away)."""

    def __init__(
        self,
        voice: ResolvedVoice,
        speed: float,
        *,
        max_chars: int,
        sentence_silence: float = 0.0,
        trailing_silence: float = 0.0,
        timed: bool = False,
        phonemize: Callable[[str, str], Awaitable[str]],
        wake: Callable[[], None],
        finished: Callable[[SynthesisStream], None],
    ) -> None:
        self.voice = voice
        self.speed = speed
        self.language = voice.language
        #: Extra silence after each sentence but the last, and after the reply's last audio.
        self.sentence_silence = sentence_silence
        self.trailing_silence = trailing_silence
        #: Pieces come with when each word is said (``AudioPiece.words``).
        self.timed = timed
        self._max_chars = max_chars
        self._phonemize = phonemize
        self._wake = wake
        self._finished = finished
        #: The longest piece of this reply, first piece included (its memory follows its frames).
        self.max_piece_tokens = piece_token_limit(speed)
        self.created = time.monotonic()
        # A first clause long only when spoken ("18°C" is three words) may be cut before "and".
        self._segmenter = TextSegmenter(spoken=functools.partial(normalize_text, language=self.language))
        self._segments: asyncio.Queue[Segment | None] = asyncio.Queue()
        self._waiting_segments = 0  # segments in _segments, not yet phonemized
        self.units: deque[PhonemeUnit] = deque()
        #: The first segment guessed before the text confirms it, until it is confirmed or dropped.
        self._guess: Guess | None = None
        #: Guesses whose work may still be under way (their segments, units or inference).
        self._guesses: list[Guess] = []
        #: The piece being synthesized (set by the scheduler), so a wrong guess can be stopped.
        self.job: Job | None = None
        self._output: asyncio.Queue[AudioPiece | BaseException | None] = asyncio.Queue()
        self.in_flight = False
        self.text_done = False  # all text phonemized
        self._ended = False  # the end of the audio is queued for the consumer
        self.closed = False
        self.cancelled = False
        self.chars = 0
        self.tokens_done = 0
        #: A piece stopped for another reply's first piece: it is made again exactly as it was.
        self.stopped_piece: PhonemeUnit | None = None
        #: The rest of a first piece sent in two parts, waiting for its turn.
        self.rest: Rest | None = None
        self.audio_seconds = 0.0
        self.first_audio_at: float | None = None
        #: Set when the first piece is out (or the stream ends): later text's G2P waits for it.
        self._first_out = asyncio.Event()
        self._pump = asyncio.create_task(self._phonemize_segments())

    # -- input -----------------------------------------------------------------------------
    def feed(self, text: str) -> None:
        if self.closed:
            raise EngineError("text fed after the end of the stream")
        self.chars += len(text)
        if self.chars > self._max_chars:
            raise EngineError(f"text is longer than {self._max_chars} characters")
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

    def cancel(self) -> None:
        """Drop queued work; the piece in flight (if any) finishes but is discarded."""
        if self.cancelled:
            return
        self.cancelled = True
        self.units.clear()
        self.stopped_piece = None
        self.rest = None
        self._pump.cancel()
        self._output.put_nowait(None)
        self._finished(self)

    # -- guesses ---------------------------------------------------------------------------
    @property
    def guessing(self) -> bool:
        """A first segment is under way on a guess the text has not confirmed yet."""
        return self._guess is not None

    @property
    def guesses(self) -> tuple[Guess, ...]:
        """Guesses whose work may still be under way."""
        return tuple(self._guesses)

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
        self._guess = Guess(segment)
        self._guesses.append(self._guess)
        self._waiting_segments += 1
        self._segments.put_nowait(segment)

    def _confirm(self, guess: Guess, boundary: Boundary) -> None:
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
            self._wake()
        for piece, more in guess.held:
            self._deliver(piece, more=more, unit=unit)
            if not more:
                self._retire(guess)
        guess.held.clear()

    def _abandon(self, guess: Guess) -> None:
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
        self._wake()

    def _retire(self, guess: Guess) -> None:
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

    # -- output ----------------------------------------------------------------------------
    async def __aiter__(self) -> AsyncIterator[AudioPiece]:
        while True:
            item = await self._output.get()
            self._wake()  # room in the output again: this stream may be scheduled
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    @property
    def unread(self) -> int:
        """Pieces made (or the end, or an error) that the consumer has not taken yet."""
        return self._output.qsize()

    # -- what the scheduling policy reads --------------------------------------------------
    @property
    def queued(self) -> int:
        """Pieces of text waiting to be spoken: phonemized units, and segments still waiting for
        G2P (which holds back until the first audio is out, so units alone would undercount)."""
        held = (self.stopped_piece is not None) + (self.rest is not None)
        return len(self.units) + self._waiting_segments + held

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
        reading gets at most ``MAX_UNREAD`` pieces synthesized ahead, not its whole text."""
        return (
            bool(self.units or self.stopped_piece or self.rest)
            and not self.in_flight
            and not self.cancelled
            and self._output.qsize() < MAX_UNREAD
        )

    @property
    def awaits_first_words(self) -> bool:
        """Ready to have its first piece made (not the rest of one)."""
        return self.ready and self.first_audio_at is None and self.rest is None

    @property
    def priority(self) -> tuple[int, float]:
        """First pieces before continuation pieces, then earliest deadline first."""
        return (0 if self.first_audio_at is None else 1, self.deadline)

    @property
    def rest_frames(self) -> int | None:
        """Frames of the rest of a first piece waiting for its turn, if any."""
        return None if self.rest is None else self.rest.frames

    @property
    def first_piece_tokens(self) -> int:
        """Tokens of this reply's first piece: its first segment whole, up to the longest piece."""
        return min(len(self.units[0].phonemes), self.max_piece_tokens)

    @property
    def at_work(self) -> bool:
        """Has work queued or under way (it shares the session with the others that have)."""
        return bool(self.units or self.in_flight or self.rest)

    # -- results ---------------------------------------------------------------------------
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
            extra = self.sentence_silence if unit.boundary == "sentence" else 0.0
            piece = AudioPiece(piece.pcm + pause_pcm(unit.boundary, extra), piece.phonemes, piece.words)
            self._first_out.set()
        self.audio_seconds += piece.seconds
        self._output.put_nowait(piece)
        self._finish_if_done()

    def fail(self, error: BaseException) -> None:
        if not self.cancelled:
            self._output.put_nowait(error)
            self.cancelled = True
            self._pump.cancel()
            self._finished(self)

    def _finish_if_done(self) -> None:
        if (
            not self._ended
            and self.text_done
            and not self.units
            and not self.stopped_piece
            and self.rest is None
            and not self.in_flight
            and not self.cancelled
        ):
            if self.trailing_silence > 0 and self.first_audio_at is not None:
                silence = AudioPiece(silence_pcm(self.trailing_silence), "")
                self.audio_seconds += silence.seconds
                self._output.put_nowait(silence)
            self._ended = True
            self._output.put_nowait(None)
            self._finished(self)

    async def _phonemize_segments(self) -> None:
        """G2P for each segment as it arrives, except that once the first segment is phonemized the
        rest waits until its audio is out (all of it, when it is sent in two parts): G2P (spaCy,
        under the GIL) would otherwise take a core from the first piece's inference, and later
        pieces have that audio's playback time to be phonemized in."""
        try:
            while (segment := await self._segments.get()) is not None:
                guess = next((g for g in self._guesses if g.segment is segment), None)
                if guess is None and not self._first_out.is_set() and self._first_under_way():
                    await self._first_out.wait()
                if guess is not None and guess.abandoned:
                    phonemes = ""  # a wrong guess: no G2P for it
                else:
                    phonemes = await self._phonemize(segment.text, self.language)
                self._waiting_segments -= 1
                if guess is not None and (guess.abandoned or not phonemes):
                    self._retire(guess)
                    continue
                if phonemes:
                    self._add_unit(PhonemeUnit(phonemes, segment.boundary), guess)
            self.text_done = True
            self._finish_if_done()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            _LOGGER.exception("Text front end failed")
            self.fail(EngineError(f"text front end failed: {err}"))

    def _add_unit(self, unit: PhonemeUnit, guess: Guess | None) -> None:
        """A phonemized segment joins the queue; a guess too long for one piece is parked until
        the text confirms it."""
        if guess is not None:
            guess.unit = unit
            unit.boundary = guess.boundary or unit.boundary
            guess.parked = guess.boundary is None and len(unit.phonemes) > self.max_piece_tokens
        if guess is None or not guess.parked:
            self.units.append(unit)
            self._wake()
