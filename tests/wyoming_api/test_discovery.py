"""Zeroconf discovery: the name and address rules as plain functions, and a real announcement
browsed over multicast on loopback (skipped, with the reason, where the machine has no multicast).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

from wyoming_kokoro.wyoming_api.discovery import (
    MAX_INSTANCE_BYTES,
    SERVICE_TYPE,
    Discovery,
    announce_address,
    instance_name,
    interface_addresses,
    is_wildcard,
    outgoing_address,
)


# -- names ---------------------------------------------------------------------------------------
def test_default_name_uses_the_short_hostname() -> None:
    assert instance_name(None, "kitchen-pi.lan") == "Kokoro on kitchen-pi"
    assert instance_name("", "nas") == "Kokoro on nas"
    assert instance_name("  ", "") == "Kokoro on localhost"


def test_default_name_without_hostname_argument_uses_this_host() -> None:
    assert instance_name(None) == instance_name(None, socket.gethostname())
    assert instance_name(None).startswith("Kokoro on ")


def test_configured_name_is_kept_and_cleaned() -> None:
    assert instance_name("Living room TTS", "ignored") == "Living room TTS"
    assert instance_name("  Two\tlines\nname ", "h") == "Two lines name"


def test_long_names_are_cut_to_one_dns_label_without_breaking_characters() -> None:
    name = instance_name("é" * 40, "h")  # 80 bytes of UTF-8
    assert len(name.encode("utf-8")) <= MAX_INSTANCE_BYTES
    assert name == "é" * 31  # 62 bytes: the 32nd "é" would not fit whole
    assert len(instance_name(None, "h" * 100).encode()) == MAX_INSTANCE_BYTES


# -- addresses -----------------------------------------------------------------------------------
def test_wildcards() -> None:
    assert is_wildcard("0.0.0.0") and is_wildcard("::") and is_wildcard("[::]") and is_wildcard("")
    assert not is_wildcard("127.0.0.1") and not is_wildcard("192.168.1.5")


def test_configured_address_wins() -> None:
    assert announce_address("0.0.0.0", "10.1.2.3", detect=lambda: "192.168.1.9") == "10.1.2.3"


def test_specific_bind_address_is_announced() -> None:
    assert announce_address("192.168.1.20", detect=lambda: "10.0.0.1") == "192.168.1.20"
    assert announce_address("[fd00::5]", detect=lambda: "10.0.0.1") == "fd00::5"
    assert announce_address("localhost", detect=lambda: "10.0.0.1") == "127.0.0.1"


def test_all_interfaces_announce_the_detected_lan_address_never_0000() -> None:
    assert announce_address("0.0.0.0", detect=lambda: "192.168.1.9") == "192.168.1.9"
    assert announce_address("::", detect=lambda: "192.168.1.9") == "192.168.1.9"
    # No LAN at all: loopback (with a warning), still never the wildcard.
    assert announce_address("0.0.0.0", detect=lambda: None) == "127.0.0.1"


def test_outgoing_address_is_one_of_this_hosts_lan_addresses() -> None:
    detected = outgoing_address()
    local = interface_addresses()
    if not local:
        pytest.skip("this machine has no non-loopback IPv4 interface")
    assert detected in local
    assert detected not in ("0.0.0.0", "127.0.0.1")


# -- a real announcement -------------------------------------------------------------------------
@pytest.fixture
async def browser() -> AsyncIterator[AsyncZeroconf]:
    try:
        zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    except OSError as err:
        pytest.skip(f"multicast DNS is not available on loopback here: {err}")
    yield zeroconf
    await zeroconf.async_close()


async def test_registered_service_is_found_by_a_browser(browser: AsyncZeroconf) -> None:
    discovery = Discovery(10210, "Kokoro test on loopback", "127.0.0.1", interfaces=["127.0.0.1"])
    if not await discovery.start():
        pytest.skip("zeroconf could not register on loopback (no multicast here)")
    try:
        assert discovery.name == "Kokoro test on loopback"
        info = await browser.async_get_service_info(
            SERVICE_TYPE, f"{discovery.name}.{SERVICE_TYPE}", timeout=5000
        )
        assert info is not None, "the announcement was not seen on loopback"
        assert info.port == 10210
        assert info.parsed_addresses() == ["127.0.0.1"]
    finally:
        await discovery.stop()
    # Stopping withdraws it: a new browser (nothing cached) gets no answer.
    fresh = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        gone = await fresh.async_get_service_info(
            SERVICE_TYPE, f"Kokoro test on loopback.{SERVICE_TYPE}", timeout=1500
        )
    finally:
        await fresh.async_close()
    assert gone is None


async def test_a_broken_mdns_setup_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    # An interface address this host does not have: zeroconf cannot bind, the server carries on.
    discovery = Discovery(10210, "Kokoro nowhere", "127.0.0.1", interfaces=["203.0.113.77"])
    assert await discovery.start() is False
    assert "Zeroconf discovery unavailable" in caplog.text
    await discovery.stop()  # harmless after a failed start
