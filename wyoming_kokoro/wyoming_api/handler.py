"""One Wyoming connection: answers ``describe``, speaks ``synthesize`` requests (plain or streamed).

How a reply travels. The connection's read loop never waits for synthesis: each request becomes a
:class:`Reply` on the connection's queue and the loop goes back to reading. One *speaker* task per
connection takes replies in order and sends each one as the engine produces it (``audio-start``,
``audio-chunk``..., ``audio-stop``, and ``synthesize-stopped`` for a stream). That is what makes
streaming work: while an LLM is still sending text (``synthesize-chunk``), the first sentence is
already being heard. It also keeps the loop free to notice a client that leaves (its speech is then
cancelled, freeing the engine for others) and to answer ``describe`` and ``ping`` at once.

Errors are Wyoming ``error`` events with a machine-readable code (``requests.ERROR_CODES``), sent
in request order after earlier audio; a failed streamed request still gets ``synthesize-stopped``,
then the connection closes (``docs/design.md``, "A failed request closes its connection"). An event the
server cannot place at all (``synthesize-chunk`` with no stream open) gets an ``error`` at once
and the connection goes on.

Whatever reaches the port is untrusted. :class:`.protocol.EventReader` bounds every size before
reading. Bytes that are not a well-formed event end the connection (where the next event starts is
then unknown), after the replies asked for before them and the error. Unknown event types are
ignored, as Wyoming peers do. A connection holds at most :data:`MAX_PENDING_REQUESTS` unanswered
requests: beyond that its events wait to be read, which bounds the work one client can queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from ..audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, pcm_seconds
from ..engine import EngineBusy, EngineError, SynthesisStream
from ..voices import VoiceError, parse_blend
from .connections import HandlerContext, peer_name
from .protocol import EventLimits, EventReader, ProtocolError
from .requests import (
    BAD_REQUEST,
    BUSY,
    SYNTHESIS_FAILED,
    TEXT_TOO_LONG,
    VOICE_NOT_FOUND,
    Reply,
    RequestError,
    feed,
    speed_of,
    text_of,
    voice_of,
)

_LOGGER = logging.getLogger(__name__)

#: Samples per ``audio-chunk`` (42.7 ms, 2 KiB of PCM): what wyoming-piper sends and satellites
#: expect; it sets how finely receivers get a piece, not when its first sound can play.
CHUNK_SAMPLES = 1024
#: Audio chunks written between yields to the event loop (~0.7 s of audio).
_CHUNKS_PER_YIELD = 16

#: Requests one connection may have waiting or being answered before its next events wait to be
#: read: room for clients that queue a few announcements (Home Assistant sends one per connection).
MAX_PENDING_REQUESTS = 16

#: Seconds a client that is being closed on (refused, or after a malformed event) gets to read its
#: error while the server drops what it still sends.
_REFUSAL_GRACE = 2.0


class _IdleTimeout(Exception):
    """The client has been silent for ``limits.idle_timeout`` seconds."""


class _StalledClient(ConnectionError):
    """The client has not read what it was sent for ``limits.idle_timeout`` seconds."""


class KokoroEventHandler(AsyncEventHandler):
    """Handles the events of one Wyoming connection (see the module docstring for the design)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: HandlerContext
    ) -> None:
        super().__init__(reader, writer)
        self.context = context
        self.engine = context.engine
        self._replies: asyncio.Queue[Reply | None] = asyncio.Queue()
        self._speaker: asyncio.Task[None] | None = None
        self._current: Reply | None = None  # the reply the speaker is sending
        self._open: Reply | None = None  # the streamed reply still taking text
        self._aborted = False
        self._waiting_for_engine = False
        self._last_activity = time.monotonic()
        self._closed = asyncio.Event()
        #: Set whenever a reply is done (or the connection aborts): room for another request.
        self._room = asyncio.Event()
        self._events = EventReader(reader, EventLimits.for_text(context.limits.max_text_chars))
        self._protocol_error: ProtocolError | None = None
        #: Set by the speaker once a failed request's error is sent: the connection then closes.
        self._failed = asyncio.Event()
        self._peer = peer_name(writer)
        #: The client's address without its port: what ``max_connections_per_client`` counts.
        self._address = self._peer.rpartition(":")[0] or self._peer
        self._heard = False  # an event has arrived (before it, ``first_event_timeout`` applies)
        context.handlers.add(self)

    # -- connection lifecycle --------------------------------------------------------------------
    async def run(self) -> None:
        """Read events until the client leaves, goes silent too long, or the server stops.

        Replaces the base class loop to add the connection limit, the idle watchdog and bounded
        reading, and to finish speaking for a client that closed only its sending side after its
        last request. Nothing a client sends escapes as an exception: a bug shows as one logged
        traceback and a closed connection, never as an unretrieved task exception.
        """
        context = self.context
        try:
            if self._aborted:
                return
            refusal = context.admit(self._address)
            if refusal is not None:
                await self._refuse(refusal)
                return
            try:
                self._is_running = True
                ended = await self._read_events()
                if ended == "eof" and not self._aborted:
                    if self._open is not None:
                        # The client left in the middle of a text stream: that reply is dropped at
                        # once (its text will never end), the ones asked for before it are sent.
                        _LOGGER.info("%s left in the middle of a text stream", self._peer)
                        self._open.cancel()
                        self._open.stop_received.set()
                        self._open = None
                    await self.finish()
                elif ended == "protocol" and self._protocol_error is not None and not self._aborted:
                    await self._end_with_protocol_error(self._protocol_error)
                elif ended == "failed" and not self._aborted:
                    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                        await self._close_gently()
            except Exception:
                _LOGGER.exception("Unexpected error on the connection to %s; closing it", self._peer)
            finally:
                context.release(self._address)
        finally:
            await self.disconnect()
            self.writer.close()
            context.handlers.discard(self)
            self._closed.set()

    async def finish(self) -> None:
        """Send every reply already asked for, then return (the client half-closed, or stdin ended).

        A client that went away entirely is noticed at the next audio write, which cancels the rest.
        """
        speaker = self._speaker
        if speaker is None or speaker.done():
            return
        self._replies.put_nowait(None)  # the speaker ends after the replies already queued
        if not await self._watch(speaker):
            _LOGGER.info("Closing %s: it stopped reading its audio", self._peer)
            self._abort()

    async def disconnect(self) -> None:
        """The connection is over: drop what the client will never hear, so the engine moves on."""
        self._abort()
        if self._speaker is not None:
            await asyncio.wait({self._speaker})

    async def stop(self) -> None:
        """Server shutdown: cancel this connection's speech and end its read loop."""
        self._abort()
        await super().stop()

    async def wait_closed(self) -> None:
        """Wait until :meth:`run` has finished and the connection is closed."""
        await self._closed.wait()

    async def _read_events(self) -> str:
        while self._is_running:
            try:
                await self._wait_for_room()
                event = await self._next_event()
            except ProtocolError as err:
                self._protocol_error = err
                return "protocol"
            except _IdleTimeout:
                limit = "idle_timeout" if self._heard else "first_event_timeout"
                _LOGGER.info("Closing %s: silent for %g s (limits.%s)", self._peer, self._timeout(), limit)
                return "idle"
            except (ConnectionError, OSError) as err:
                _LOGGER.debug("Connection to %s lost: %s", self._peer, err)
                return "lost"
            if event is None:
                return "failed" if self._failed.is_set() else "eof"
            if not await self.handle_event(event):
                return "handler"
        return "stopped"

    async def _next_event(self) -> Event | None:
        """The next event; None at the end of input or once a failed request ends the connection;
        :class:`_IdleTimeout` once the client has been silent too long. Raises
        :class:`ProtocolError` for bytes that are not a well-formed event."""
        read = asyncio.ensure_future(self._events.read_event())
        failed = asyncio.ensure_future(self._failed.wait())
        either = asyncio.ensure_future(asyncio.wait({read, failed}, return_when=asyncio.FIRST_COMPLETED))
        try:
            if not await self._watch(either):
                raise _IdleTimeout
            return None if self._failed.is_set() else read.result()
        finally:
            for future in (read, failed, either):
                if not future.done():
                    future.cancel()

    def _pending_requests(self) -> int:
        return self._replies.qsize() + (self._current is not None)

    async def _wait_for_room(self) -> None:
        """Hold off reading while :data:`MAX_PENDING_REQUESTS` requests are unanswered. The client's
        further events wait in the socket (TCP slows the client down) instead of in memory."""
        while self._pending_requests() >= MAX_PENDING_REQUESTS and not self._aborted:
            self._room.clear()
            room = asyncio.ensure_future(self._room.wait())
            try:
                if not await self._watch(room):
                    raise _IdleTimeout
            finally:
                room.cancel()

    async def _watch(self, future: asyncio.Future[Any]) -> bool:
        """Wait for ``future``; False if the connection went idle first.

        Idle means nothing received and nothing sent for ``idle_timeout`` seconds while the speaker
        is not waiting on the engine: a queue of other clients' speech is never the client's fault,
        but a client that neither talks nor reads its audio is gone in all but name.
        """
        timeout = self._timeout()
        if timeout <= 0:
            await asyncio.wait({future})
            return True
        while not future.done():
            remaining = self._last_activity + timeout - time.monotonic()
            if remaining <= 0:
                if not self._engine_owes_audio():
                    return False
                remaining = timeout
            await asyncio.wait({future}, timeout=remaining)
        return True

    def _timeout(self) -> float:
        """Seconds of silence allowed now: until the first event, ``first_event_timeout`` (when it
        is the shorter), then ``idle_timeout``."""
        limits = self.context.limits
        if not self._heard and limits.first_event_timeout > 0:
            return min(limits.first_event_timeout, limits.idle_timeout or limits.first_event_timeout)
        return limits.idle_timeout

    def _engine_owes_audio(self) -> bool:
        """True while the speaker waits for audio of text that is complete (not still streaming in,
        which is the client's turn to talk)."""
        current = self._current
        return self._waiting_for_engine and current is not None and current is not self._open

    async def _refuse(self, why: str) -> None:
        """Over a connection limit: say ``busy`` and close, after the client read it."""
        _LOGGER.warning("Refusing %s: %s", self._peer, why)
        error = RequestError(BUSY, "Too many connections to the Kokoro server; try again shortly")
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await self.write_event(error.event())
            await self._close_gently()

    async def _end_with_protocol_error(self, err: ProtocolError) -> None:
        """Answer bytes that are not a well-formed event: the replies asked for before them are
        sent first, then the error (so it cannot be taken for an earlier request's answer), then
        the connection closes. A text stream still open has lost text, so it ends with the error."""
        event_type = err.event_type or ""
        too_long = err.too_large and (Synthesize.is_type(event_type) or SynthesizeChunk.is_type(event_type))
        error = RequestError(TEXT_TOO_LONG if too_long else BAD_REQUEST, f"Malformed event: {err}")
        _LOGGER.warning("Closing %s after a malformed event: %s", self._peer, err)
        if self._open is not None:
            self._open.fail(error)
            self._open.stop_received.set()
            self._open = None
        else:
            self._submit(Reply(streaming=False, error=error))
        await self.finish()
        if not self._aborted:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await self._close_gently()

    async def _close_gently(self) -> None:
        """Half-close, then drop what the client still sends for a moment before the socket is
        closed: closing with unread input resets the connection, which can destroy the error the
        client has not read yet."""
        if self.writer.can_write_eof():
            self.writer.write_eof()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._discard_input(), _REFUSAL_GRACE)

    async def _discard_input(self) -> None:
        while await self.reader.read(65536):
            pass

    def _abort(self) -> None:
        """Cancel every reply of this connection (the client is gone, or the server is stopping)."""
        self._aborted = True
        replies = [self._current, self._open]
        while not self._replies.empty():
            replies.append(self._replies.get_nowait())
        for reply in replies:
            if reply is not None:
                reply.cancel()
        self._open = None
        self._room.set()
        speaker = self._speaker
        if speaker is not None and not speaker.done() and speaker is not asyncio.current_task():
            speaker.cancel()

    async def write_event(self, event: Event) -> None:
        """Send one event. A client that reads nothing for ``idle_timeout`` seconds while the
        server has something to send is gone in all but name (or half-open: its host vanished);
        without this bound a write would wait for it forever, and with it the read loop that
        answers ``describe``, so no idle check would ever close the connection."""
        timeout = self.context.limits.idle_timeout
        if timeout <= 0:
            await super().write_event(event)
            return
        # asyncio.wait rather than wait_for: before Python 3.12, wait_for loses a cancellation that
        # arrives as the write completes, and the speaker must stay cancellable (disconnect waits
        # for it).
        write = asyncio.ensure_future(super().write_event(event))
        try:
            done, _ = await asyncio.wait({write}, timeout=timeout)
        finally:
            if not write.done():
                write.cancel()
        if not done:
            raise _StalledClient(f"the client read nothing for {timeout:g} s")
        write.result()

    # -- events ----------------------------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        """Dispatch one event; never waits for synthesis. False ends the connection."""
        self._last_activity = time.monotonic()
        self._heard = True
        try:
            if Describe.is_type(event.type):
                await self.write_event(self.context.info_event)
            elif Ping.is_type(event.type):
                await self.write_event(Pong(text=Ping.from_event(event).text).event())
            elif Synthesize.is_type(event.type):
                self._on_synthesize(event)
            elif SynthesizeStart.is_type(event.type):
                self._on_synthesize_start(event)
            elif SynthesizeChunk.is_type(event.type):
                self._on_synthesize_chunk(event)
            elif SynthesizeStop.is_type(event.type):
                self._on_synthesize_stop()
            else:
                _LOGGER.debug("Ignoring %s event from %s", event.type, self._peer)
        except RequestError as err:
            _LOGGER.info("Rejected %s from %s: %s (%s)", event.type, self._peer, err.text, err.code)
            try:
                await self.write_event(err.event())
            except (ConnectionError, OSError) as lost:
                _LOGGER.info("Closing %s: %s", self._peer, lost)
                return False
        except (ConnectionError, OSError) as lost:
            _LOGGER.info("Closing %s: %s", self._peer, lost)
            return False
        return True

    def _on_synthesize(self, event: Event) -> None:
        if self._open is not None:
            # Home Assistant sends the whole text once more inside a stream, for servers that do
            # not stream; the text has already arrived in chunks.
            _LOGGER.debug("Ignoring synthesize inside a text stream")
            return
        reply = Reply(streaming=False)
        try:
            text = text_of(event)  # inside: a bad request is answered in order, like any other
            reply.chars = len(text)
            reply.has_words = bool(text.strip())
            if not reply.has_words:
                raise RequestError(BAD_REQUEST, "Nothing to say: the text is empty")
            self._check_length(reply.chars)
            reply.stream = self._open_stream(event.data)
            feed(reply.stream, text)
            reply.stream.close()
        except RequestError as err:
            reply.fail(err)
        self._submit(reply)

    def _on_synthesize_start(self, event: Event) -> None:
        if self._open is not None:
            raise RequestError(
                BAD_REQUEST,
                "synthesize-start while a text stream is open; send synthesize-stop first",
            )
        reply = Reply(streaming=True)
        try:
            reply.stream = self._open_stream(event.data)
        except RequestError as err:
            reply.fail(err)
        self._open = reply
        self._submit(reply)

    def _on_synthesize_chunk(self, event: Event) -> None:
        reply = self._open
        if reply is None:
            raise RequestError(BAD_REQUEST, "synthesize-chunk without synthesize-start")
        if reply.stream is None or reply.error is not None or reply.audio_done:
            return  # the stream already failed; its text is dropped until synthesize-stop
        try:
            # A chunk that cannot be read fails the stream: its audio would have a hole otherwise.
            text = text_of(event)
            reply.chars += len(text)
            reply.has_words = reply.has_words or bool(text.strip())
            self._check_length(reply.chars)
            feed(reply.stream, text)  # verbatim: fragments may split words or lack spaces
        except RequestError as err:
            reply.fail(err)

    def _on_synthesize_stop(self) -> None:
        reply = self._open
        if reply is None:
            raise RequestError(BAD_REQUEST, "synthesize-stop without synthesize-start")
        self._open = None
        if reply.stream is not None and reply.error is None:
            if reply.has_words:
                reply.stream.close()
            else:
                reply.fail(RequestError(BAD_REQUEST, "Nothing to say: the text stream was empty"))
        reply.stop_received.set()

    def _check_length(self, chars: int) -> None:
        limit = self.context.limits.max_text_chars
        if chars > limit:
            raise RequestError(TEXT_TOO_LONG, f"The text is longer than {limit} characters")

    def _open_stream(self, data: dict[str, Any]) -> SynthesisStream:
        """Start a reply in the engine with the voice, language and speed a request asks for."""
        voice = voice_of(data)
        name = voice.name if voice is not None else None
        language = voice.language if voice is not None else None
        speed = speed_of(data)
        if name:
            try:
                parse_blend(name)  # a malformed blend is the client's mistake, not a missing voice
            except VoiceError as err:
                raise RequestError(BAD_REQUEST, str(err)) from None
        try:
            return self.engine.open_stream(voice=name or None, speed=speed, language=language)
        except VoiceError as err:
            raise RequestError(VOICE_NOT_FOUND, str(err)) from None
        except ValueError as err:
            raise RequestError(BAD_REQUEST, str(err)) from None
        except EngineBusy as err:
            raise RequestError(BUSY, str(err)) from None
        except EngineError as err:
            raise RequestError(SYNTHESIS_FAILED, str(err)) from None

    def _submit(self, reply: Reply) -> None:
        if self._aborted:
            reply.cancel()
            return
        if self._speaker is None or self._speaker.done():
            self._speaker = asyncio.create_task(self._speak(), name=f"kokoro speaker {self._peer}")
        self._replies.put_nowait(reply)

    # -- sending ---------------------------------------------------------------------------------
    async def _speak(self) -> None:
        """Send queued replies in order, each as its audio is produced."""
        while (reply := await self._replies.get()) is not None:
            self._current = reply
            try:
                await self._send_reply(reply)
                if reply.error is not None:
                    self._end_after_failure()
                    return
            except Exception as err:
                if isinstance(err, (ConnectionError, OSError)):
                    _LOGGER.info("%s went away during a reply (%s); cancelling its speech", self._peer, err)
                else:
                    _LOGGER.exception("Unexpected error while answering %s; closing", self._peer)
                self._abort()
                self._is_running = False
                self.reader.feed_eof()  # ends the read loop
                return
            finally:
                reply.cancel()  # frees the engine's bookkeeping; a no-op for a finished stream
                self._current = None
                self._last_activity = time.monotonic()
                self._room.set()

    def _end_after_failure(self) -> None:
        """A request failed and its error is sent: end the connection (see the module docstring)."""
        later = 0
        while not self._replies.empty():
            queued = self._replies.get_nowait()
            if queued is not None:
                queued.cancel()
                later += 1
        _LOGGER.info(
            "Closing %s after the error%s",
            self._peer,
            f" ({later} later request(s) on it not answered)" if later else "",
        )
        self._failed.set()

    async def _send_reply(self, reply: Reply) -> None:
        started = False
        audio_seconds = 0.0
        first_audio: float | None = None
        if reply.stream is not None and reply.error is None:
            pieces = aiter(reply.stream)
            try:
                while True:
                    self._waiting_for_engine = True
                    try:
                        piece = await anext(pieces)
                    except StopAsyncIteration:
                        break
                    finally:
                        self._waiting_for_engine = False
                    if not started:
                        first_audio = time.monotonic()
                        await self._send(AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS))
                        started = True
                    await self._send_pcm(piece.pcm)
                    audio_seconds += pcm_seconds(piece.pcm)
            except EngineError as err:
                reply.fail(RequestError(SYNTHESIS_FAILED, f"Synthesis failed: {err}"))
        reply.audio_done = True
        if reply.error is not None:
            _LOGGER.info("Request from %s failed: %s (%s)", self._peer, reply.error.text, reply.error.code)
            await self._send_event(reply.error.event())
        if started or reply.error is None:
            if not started:  # valid text with nothing to pronounce: empty audio, properly framed
                await self._send(AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS))
            await self._send(AudioStop())
        if reply.error is None:
            _LOGGER.info(
                "Spoke %.1f s of audio (%d characters) to %s in %.2f s, first audio after %.2f s",
                audio_seconds,
                reply.chars,
                self._peer,
                time.monotonic() - reply.received_at,
                (first_audio or time.monotonic()) - reply.received_at,
            )
        if reply.streaming:
            await reply.stop_received.wait()
            await self._send(SynthesizeStopped())

    async def _send_pcm(self, pcm: bytes) -> None:
        step = CHUNK_SAMPLES * SAMPLE_WIDTH * CHANNELS
        for index, offset in enumerate(range(0, len(pcm), step)):
            if index and index % _CHUNKS_PER_YIELD == 0:
                # Writing does not yield while the socket keeps up, and a long piece is hundreds
                # of events: let other connections (a describe, another reply) in between.
                await asyncio.sleep(0)
            chunk = AudioChunk(
                rate=SAMPLE_RATE,
                width=SAMPLE_WIDTH,
                channels=CHANNELS,
                audio=pcm[offset : offset + step],
            )
            await self._send(chunk)

    async def _send(self, message: AudioStart | AudioChunk | AudioStop | SynthesizeStopped) -> None:
        await self._send_event(message.event())

    async def _send_event(self, event: Event) -> None:
        await self.write_event(event)
        self._last_activity = time.monotonic()
