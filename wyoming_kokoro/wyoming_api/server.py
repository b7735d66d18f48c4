"""The Wyoming server: listens on the configured URI, announces itself, and shuts down cleanly.

``run_server`` is what ``__main__`` calls. :class:`KokoroServer` underneath it separates start from
stop so that tests (and anything else sharing the event loop) can bind port 0, learn the real port,
and stop the server when they choose.

Shutdown (SIGTERM from Docker or the Home Assistant Supervisor, Ctrl-C, or cancellation) stops
accepting connections first, then cancels every connection's speech, which frees the engine at
once, waits a bounded time for the connections to close, and withdraws the zeroconf announcement
so Home Assistant sees the server leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from wyoming.event import async_get_stdin, async_get_stdout
from wyoming.info import Info
from wyoming.server import AsyncServer, AsyncStdioServer, AsyncTcpServer, AsyncUnixServer

from ..config import Config
from ..engine import KokoroEngine
from .connections import HandlerContext
from .discovery import Discovery, announce_address, instance_name
from .handler import KokoroEventHandler
from .info import build_info

_LOGGER = logging.getLogger(__name__)

#: Seconds shutdown waits for connections to close after their speech was cancelled.
SHUTDOWN_TIMEOUT = 5.0


def bound_port(server: AsyncServer) -> int | None:
    """The TCP port a started server listens on (the real one when the URI asked for port 0)."""
    listener = getattr(server, "_server", None)  # wyoming keeps its asyncio.Server here
    if not isinstance(server, AsyncTcpServer) or listener is None or not listener.sockets:
        return None
    return int(listener.sockets[0].getsockname()[1])


class KokoroServer:
    """One Wyoming endpoint (tcp, unix or stdio) serving one engine."""

    def __init__(self, config: Config, engine: KokoroEngine) -> None:
        """Raises ValueError for a URI wyoming cannot serve."""
        self.config = config
        self.engine = engine
        self.info: Info = build_info(engine, config)
        self.context = HandlerContext(engine, self.info.event(), config.limits)
        self.server = AsyncServer.from_uri(config.uri)
        self.discovery: Discovery | None = None
        self._discovery_task: asyncio.Task[bool] | None = None
        self._stdio: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    @property
    def port(self) -> int | None:
        """The bound TCP port, once started (None for unix and stdio)."""
        return bound_port(self.server)

    def _make_handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> KokoroEventHandler:
        return KokoroEventHandler(reader, writer, self.context)

    async def start(self) -> None:
        """Start listening (and announcing); returns as soon as clients can connect."""
        if isinstance(self.server, AsyncStdioServer):
            # wyoming's stdio server bypasses the handler's run(), which holds the idle watchdog and
            # finishes speaking after stdin ends; so stdin/stdout are wired to a handler directly.
            handler = self._make_handler(await async_get_stdin(), await async_get_stdout())
            self._stdio = asyncio.create_task(handler.run(), name="kokoro stdio")
            self.engine.start()
            _LOGGER.info("Serving Wyoming on stdin/stdout")
            return
        await self.server.start(self._make_handler)
        self.engine.start()  # warms up while describe is already answered
        if isinstance(self.server, AsyncTcpServer) and self.config.zeroconf.enabled:
            self._start_discovery(self.server)
        _LOGGER.info("Serving Wyoming on %s", self._where())

    def _start_discovery(self, server: AsyncTcpServer) -> None:
        """Announce over zeroconf in the background: registration probes the network for about a
        second, and clients need not wait for it. Any failure only costs the announcement."""
        try:
            self.discovery = Discovery(
                self.port or server.port,
                instance_name(self.config.zeroconf.name),
                announce_address(server.host, self.config.zeroconf.host),
            )
        except Exception as err:
            _LOGGER.warning("Zeroconf discovery unavailable (%s); add the server by hand", err)
            return
        self._discovery_task = asyncio.create_task(self.discovery.start(), name="kokoro zeroconf")

    async def wait(self) -> None:
        """Wait until the server ends by itself (stdin closed) or :meth:`stop` is called."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._stopped.wait())]
        if self._stdio is not None:
            waiters.append(asyncio.ensure_future(asyncio.shield(self._stdio)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def announced(self) -> bool:
        """Wait for the zeroconf registration started by ``start``: True when the service is
        announced, False when zeroconf is off or the registration failed."""
        if self._discovery_task is None:
            return False
        return await asyncio.shield(self._discovery_task)

    async def stop(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        """Stop accepting, cancel all speech, close connections (waiting at most ``timeout``), and
        withdraw the zeroconf announcement."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        listener: asyncio.AbstractServer | None = getattr(self.server, "_server", None)
        if listener is not None:
            listener.close()
        handlers = list(self.context.handlers)
        if handlers:
            _LOGGER.info("Closing %d connection(s)", len(handlers))
        await asyncio.gather(*(handler.stop() for handler in handlers), return_exceptions=True)
        closing = [asyncio.ensure_future(handler.wait_closed()) for handler in handlers]
        if self._stdio is not None:
            closing.append(asyncio.ensure_future(asyncio.shield(self._stdio)))
        if closing:
            _, pending = await asyncio.wait(closing, timeout=timeout)
            for waiter in pending:
                waiter.cancel()
            if pending:
                _LOGGER.warning("%d connection(s) did not close within %.0f s", len(pending), timeout)
        if isinstance(self.server, AsyncUnixServer):
            Path(self.server.socket_path).unlink(missing_ok=True)
        if self._discovery_task is not None:
            if not self._discovery_task.done():
                self._discovery_task.cancel()
            await asyncio.wait({self._discovery_task})
        if self.discovery is not None:
            await self.discovery.stop()
        _LOGGER.info("Server stopped")

    def _where(self) -> str:
        if isinstance(self.server, AsyncTcpServer):
            return f"tcp://{self.server.host}:{self.port}"
        return self.config.uri


async def run_server(config: Config, engine: KokoroEngine, *, ready: asyncio.Event | None = None) -> None:
    """Serve ``config.uri`` until SIGTERM/SIGINT (or, for stdio, the end of stdin), then shut down.

    ``ready`` is set once clients can connect. Cancelling the task shuts the server down the same
    way and then lets the cancellation propagate, as asyncio code expects.
    """
    server = KokoroServer(config, engine)
    stop_requested = asyncio.Event()
    installed = _install_signal_handlers(stop_requested)
    try:
        await server.start()
        if ready is not None:
            ready.set()
        stop_waiter = asyncio.ensure_future(stop_requested.wait())
        server_waiter = asyncio.ensure_future(server.wait())
        try:
            await asyncio.wait({stop_waiter, server_waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_waiter.cancel()
            server_waiter.cancel()
    finally:
        _remove_signal_handlers(installed)
        await server.stop()


def _install_signal_handlers(stop: asyncio.Event) -> list[signal.Signals]:
    """SIGTERM/SIGINT set ``stop``: only possible in the main thread (and not on Windows)."""
    if threading.current_thread() is not threading.main_thread():
        return []
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def request_stop(sig: signal.Signals) -> None:
        _LOGGER.info("Received %s; shutting down", sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, request_stop, sig)
            installed.append(sig)
    return installed


def _remove_signal_handlers(installed: list[signal.Signals]) -> None:
    loop = asyncio.get_running_loop()
    for sig in installed:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(sig)
