"""What every connection shares: the engine, the prepared ``info`` answer, the limits, and the
connections open (in all, and per client address), which admission counts against the limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wyoming.event import Event

from ..config import LimitsConfig
from ..engine import KokoroEngine

if TYPE_CHECKING:
    from .handler import KokoroEventHandler


@dataclass
class HandlerContext:
    """What every connection shares: the engine, the prepared ``info`` answer, the limits, and the
    set of live handlers (so the server can stop them and enforce ``max_connections``)."""

    engine: KokoroEngine
    info_event: Event
    limits: LimitsConfig
    handlers: set[KokoroEventHandler] = field(default_factory=set)
    #: Connections admitted (under ``limits.max_connections``) and still open.
    active: int = 0
    #: The same, per client address (under ``limits.max_connections_per_client``).
    per_client: dict[str, int] = field(default_factory=dict)

    def admit(self, address: str) -> str | None:
        """Count a new connection from *address* in, or say why it is refused (a limit reached)."""
        if self.active >= self.limits.max_connections:
            return f"{self.active} connections are open (limits.max_connections)"
        open_here = self.per_client.get(address, 0)
        if open_here >= self.limits.max_connections_per_client:
            return f"{open_here} connections from {address} are open (limits.max_connections_per_client)"
        self.active += 1
        self.per_client[address] = open_here + 1
        return None

    def release(self, address: str) -> None:
        """A connection counted in by ``admit`` has closed."""
        self.active -= 1
        self.per_client[address] -= 1
        if not self.per_client[address]:
            del self.per_client[address]


def peer_name(writer: asyncio.StreamWriter) -> str:
    """The client's address and port, as the log names it."""
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer) if peer else "client"
