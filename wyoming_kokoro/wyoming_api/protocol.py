"""Reading Wyoming events from a peer that cannot be trusted, with every size bounded before it is read.

wyoming's own ``async_read_event`` believes what a peer says: it waits for as many bytes as
``data_length`` or ``payload_length`` announce (so ``"data_length": 10**12`` followed by a steady
trickle of bytes grows the server's memory without end), and anything it cannot parse surfaces as
an arbitrary exception (``KeyError``, ``AttributeError``, ``TypeError``, ``IncompleteReadError``) or as
a silent end of the connection. :class:`EventReader` reads the same wire format but refuses, with a
:class:`ProtocolError` that says what was wrong, any event that is malformed or larger than
:class:`EventLimits` allow, *before* buffering its body.

What is a well-formed event here (stricter than wyoming only where wyoming would crash or misbehave):
a header line of UTF-8 JSON that is an object, whose ``type`` is a non-empty string, whose
``data_length`` and ``payload_length`` (when present) are whole numbers of at least zero; an inline
``data`` object and the ``data_length`` bytes after the header (a UTF-8 JSON object, merged into it,
as wyoming does); every string in it valid Unicode (JSON can escape lone surrogates, which cannot be
encoded back to UTF-8 and would fail later when echoed in an error or logged).

After a :class:`ProtocolError` the position in the byte stream can no longer be trusted (a header
that cannot be parsed may be followed by a body of unknown length), so the caller should answer
with an error and close the connection rather than try to read on.

Memory: a reader holds at most one event's limit plus one read step (64 KiB). With the default
``limits.max_text_chars`` (100 000) that is 64 KiB + 600 000 B for the header or data, about
0.7 MB a connection, 21 MB for the default 32 connections at worst.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

#: Room in an event for everything but its text: voice names, speed, extension fields.
EVENT_OVERHEAD_BYTES = 64 * 1024
#: Bytes one character of text can take on the wire: ``\uXXXX`` (6) when the client escapes
#: non-ASCII text, as Python's ``json.dumps`` does by default (Japanese or Mandarin text, for
#: instance); UTF-8 itself needs at most 4.
BYTES_PER_CHAR = 6
#: Largest payload accepted. A TTS server has no use for payloads (they carry audio *to* a
#: server that listens), so one is read and ignored; the cap is several times the largest audio
#: chunk Wyoming peers send (a few KiB), so a stray ``audio-chunk`` is tolerated and nothing more.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Longest event ``type`` (the longest Wyoming type, ``transcript-chunk``-like names, is ~20).
MAX_TYPE_CHARS = 128
#: Bytes taken from the stream at a time.
_READ_STEP = 64 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed Wyoming event (or one too large)."""

    def __init__(self, message: str, *, event_type: str | None = None, too_large: bool = False) -> None:
        super().__init__(message)
        #: The event's type, when the header was readable; lets callers pick an error code.
        self.event_type = event_type
        #: True when the event was refused for its size alone (the peer may be well-behaved).
        self.too_large = too_large


class TruncatedEvent(ProtocolError):
    """The connection ended in the middle of an event."""


@dataclass(frozen=True)
class EventLimits:
    """The largest event accepted; anything larger is refused before its body is read."""

    #: Header line, newline included. Old wyoming versions put ``data`` inline in the header, so it
    #: gets the same room as a data section.
    max_header_bytes: int
    #: The ``data_length`` section (JSON).
    max_data_bytes: int
    max_payload_bytes: int = MAX_PAYLOAD_BYTES

    @classmethod
    def for_text(cls, max_text_chars: int) -> EventLimits:
        """Limits that fit any request whose text is within ``max_text_chars`` however the client
        encodes it, so a too-long text is refused with a proper ``text-too-long`` by the handler
        rather than here, unless it is far over the limit (more than 6 bytes a character)."""
        size = EVENT_OVERHEAD_BYTES + BYTES_PER_CHAR * max_text_chars
        return cls(max_header_bytes=size, max_data_bytes=size)


class EventReader:
    """Reads events from one stream, never holding more than the limits allow.

    It keeps its own buffer (rather than asking the stream for lines) so that a header line is
    refused as soon as it is longer than ``max_header_bytes``, whatever the stream's own limit,
    without waiting for a newline that may never come.
    """

    def __init__(self, reader: asyncio.StreamReader, limits: EventLimits) -> None:
        self.reader = reader
        self.limits = limits
        self._buffer = bytearray()

    async def read_event(self) -> Event | None:
        """The next event, or None at a clean end of the stream (between events).

        Raises :class:`ProtocolError` (or :class:`TruncatedEvent`) for anything else; connection
        errors from the stream (``ConnectionResetError``...) pass through.
        """
        limits = self.limits
        line = await self._read_line()
        if line is None:
            return None
        header = _parse_object(line, "event header")
        event_type = header.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise ProtocolError("event header has no type (a non-empty string)")
        if len(event_type) > MAX_TYPE_CHARS:
            raise ProtocolError(f"event type is longer than {MAX_TYPE_CHARS} characters")
        _check_strings([event_type], None)  # before the type appears in any message
        data_length = _length(header, "data_length", event_type)
        payload_length = _length(header, "payload_length", event_type)
        if data_length > limits.max_data_bytes:
            raise ProtocolError(
                f"{event_type} data is {data_length} bytes; at most {limits.max_data_bytes} are accepted",
                event_type=event_type,
                too_large=True,
            )
        if payload_length > limits.max_payload_bytes:
            raise ProtocolError(
                f"{event_type} payload is {payload_length} bytes; at most {limits.max_payload_bytes} "
                "are accepted (a TTS server takes no audio)",
                event_type=event_type,
                too_large=True,
            )
        data = header.get("data", {})
        if not isinstance(data, dict):
            raise ProtocolError(f"{event_type} data is not a JSON object", event_type=event_type)
        if data_length:
            body = await self._read_exactly(data_length, event_type)
            data.update(_parse_object(body, f"{event_type} data", event_type))
        payload = await self._read_exactly(payload_length, event_type) if payload_length else None
        _check_strings([data], event_type)
        return Event(type=event_type, data=data, payload=payload)

    async def _fill(self) -> bool:
        """Append what the stream has next to the buffer; False at the end of the stream."""
        chunk = await self.reader.read(_READ_STEP)
        self._buffer += chunk
        return bool(chunk)

    async def _read_line(self) -> bytes | None:
        limit = self.limits.max_header_bytes
        searched = 0
        while (newline := self._buffer.find(b"\n", searched)) < 0:
            if len(self._buffer) >= limit:  # the line, newline included, would exceed the limit
                raise ProtocolError(f"event header is longer than {limit} bytes")
            searched = len(self._buffer)
            if not await self._fill():
                if not self._buffer:
                    return None
                raise TruncatedEvent("the connection ended in the middle of an event header")
        if newline + 1 > limit:
            raise ProtocolError(f"event header is longer than {limit} bytes")
        return self._take(newline + 1)

    async def _read_exactly(self, count: int, event_type: str) -> bytes:
        while len(self._buffer) < count:
            if not await self._fill():
                raise TruncatedEvent(
                    f"the connection ended {count - len(self._buffer)} bytes short of the {event_type} event",
                    event_type=event_type,
                )
        return self._take(count)

    def _take(self, count: int) -> bytes:
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_object(raw: bytes, what: str, event_type: str | None = None) -> dict[str, Any]:
    """Strict JSON (UTF-8, no NaN/Infinity) that must be an object."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ProtocolError(f"{what} is not valid UTF-8", event_type=event_type) from None
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        raise ProtocolError(f"{what} is not valid JSON ({err})", event_type=event_type) from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JSON object", event_type=event_type)
    return value


def _length(header: dict[str, Any], key: str, event_type: str) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(
            f"{key} must be a whole number of at least 0, got {_preview(value)}", event_type=event_type
        )
    return value


def _check_strings(values: list[Any], event_type: str | None) -> None:
    """Every string (keys too) must be encodable as UTF-8. Iterative: nesting may be deep."""
    pending = list(values)
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ProtocolError(
                    "event holds text that is not valid Unicode (a lone surrogate)",
                    event_type=event_type,
                ) from None
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = [
    "BYTES_PER_CHAR",
    "EVENT_OVERHEAD_BYTES",
    "MAX_PAYLOAD_BYTES",
    "EventLimits",
    "EventReader",
    "ProtocolError",
    "TruncatedEvent",
]
