"""Zeroconf (mDNS) announcement, so Home Assistant finds the server by itself.

Home Assistant's Wyoming integration browses ``_wyoming._tcp.local.`` and offers every server it
finds. It identifies a discovered server by its instance name, so the name must be stable across
restarts and unique on the network: "Kokoro on <hostname>" by default, and zeroconf renames it
("... -2") when another host already uses it. The announced address must be one Home Assistant can
connect to; a server bound to all interfaces (0.0.0.0) announces the address of the interface its
traffic leaves by, never 0.0.0.0.

The name and address logic are plain functions (unit-tested); :class:`Discovery` only wires them to
the ``zeroconf`` package. A failing mDNS stack (no multicast, port 5353 taken) only logs a warning:
the server still serves, and Home Assistant can be pointed at it by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."

#: A DNS label (the instance name is one) holds at most 63 bytes.
MAX_INSTANCE_BYTES = 63

#: Destinations used only to ask the routing table which local address traffic leaves from
#: (connecting a UDP socket sends nothing): the mDNS group first, as that is the network Home
#: Assistant listens on, then a public address for hosts without a multicast route.
_ROUTE_PROBES: tuple[tuple[str, int], ...] = (("224.0.0.251", 5353), ("8.8.8.8", 53))

#: Seconds to wait for the goodbye packets that tell Home Assistant the server has left.
_GOODBYE_TIMEOUT = 3.0

_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})


def instance_name(configured: str | None, hostname: str | None = None) -> str:
    """The readable name Home Assistant shows: the configured one, else "Kokoro on <hostname>".

    Control characters are dropped and the result is cut to one DNS label (63 bytes of UTF-8,
    never mid-character), because zeroconf refuses longer instance names.
    """
    name = " ".join((configured or "").split())
    if not name:
        host = (hostname if hostname is not None else socket.gethostname()).split(".")[0].strip()
        name = f"Kokoro on {host or 'localhost'}"
    name = "".join(ch for ch in name if ch.isprintable())
    return name.encode("utf-8")[:MAX_INSTANCE_BYTES].decode("utf-8", "ignore").strip()


def is_wildcard(host: str) -> bool:
    """True for a bind address that means "every interface"."""
    return host.strip("[]") in _WILDCARDS


def outgoing_address() -> str | None:
    """The LAN address of this host: the source address the routing table picks for outgoing
    traffic, else the first non-loopback IPv4 interface address; ``None`` if there is neither."""
    for target in _ROUTE_PROBES:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(target)
                address = str(probe.getsockname()[0])
        except OSError:
            continue
        if _usable(address):
            return address
    return next(iter(interface_addresses()), None)


def interface_addresses() -> list[str]:
    """Non-loopback, non-link-local IPv4 addresses of this host's interfaces."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and _usable(ip.ip):
                found.append(ip.ip)
    return found


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_loopback or ip.is_link_local)


def announce_address(
    bind_host: str,
    configured: str | None = None,
    *,
    detect: Callable[[], str | None] = outgoing_address,
) -> str:
    """The address to announce for a server bound to ``bind_host``.

    The configured address wins (a container whose LAN address the server cannot see); a server
    bound to one address announces that address (a host name is resolved); a server bound to
    every interface announces the detected LAN address, and only when there is none, loopback.
    """
    if configured:
        return configured
    host = bind_host.strip("[]")
    if not is_wildcard(host):
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        try:
            return socket.gethostbyname(host)
        except OSError as err:
            _LOGGER.warning("Cannot resolve %s (%s); announcing the LAN address instead", host, err)
    detected = detect()
    if detected:
        return detected
    _LOGGER.warning(
        "Found no LAN address to announce over zeroconf; announcing 127.0.0.1. Set zeroconf.host "
        "to the address Home Assistant should connect to."
    )
    return "127.0.0.1"


class Discovery:
    """Announces one Wyoming server over mDNS while it runs."""

    def __init__(
        self,
        port: int,
        name: str,
        address: str,
        *,
        interfaces: Sequence[str] | InterfaceChoice = InterfaceChoice.All,
    ) -> None:
        self.port = port
        self.address = address
        self.requested_name = name
        self._interfaces = interfaces
        self._zeroconf: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None

    @property
    def name(self) -> str | None:
        """The registered instance name (zeroconf may have renamed it to make it unique)."""
        if self._info is None:
            return None
        return self._info.name.removesuffix(f".{SERVICE_TYPE}")

    async def start(self) -> bool:
        """Register the service; False (after a warning) when mDNS does not work here."""
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.requested_name}.{SERVICE_TYPE}",
            parsed_addresses=[self.address],
            port=self.port,
        )
        ip_version = IPVersion.V6Only if ":" in self.address else IPVersion.V4Only
        try:
            self._zeroconf = AsyncZeroconf(interfaces=self._interfaces, ip_version=ip_version)
            # allow_name_change: a second Kokoro server with the same name gets "<name>-2".
            await self._zeroconf.async_register_service(info, allow_name_change=True)
        except Exception as err:  # any failure of the mDNS stack must not stop the server
            _LOGGER.warning(
                "Zeroconf discovery unavailable (%s: %s); add the server in Home Assistant by hand "
                "(host %s, port %d)",
                type(err).__name__,
                err,
                self.address,
                self.port,
            )
            await self._close()
            return False
        self._info = info
        _LOGGER.info("Announced %r over zeroconf at %s:%d", self.name, self.address, self.port)
        return True

    async def stop(self) -> None:
        """Withdraw the announcement (Home Assistant then sees the server leave) and close."""
        if self._zeroconf is not None and self._info is not None:
            with contextlib.suppress(Exception):
                goodbyes = await self._zeroconf.async_unregister_service(self._info)
                await asyncio.wait_for(goodbyes, _GOODBYE_TIMEOUT)
        self._info = None
        await self._close()

    async def _close(self) -> None:
        if self._zeroconf is not None:
            with contextlib.suppress(Exception):
                await self._zeroconf.async_close()
        self._zeroconf = None
