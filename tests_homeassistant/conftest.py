"""Fixtures: Home Assistant (from pytest-homeassistant-custom-component) and a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from kokoro_server import MEASURED, KokoroServer
from pytest_homeassistant_custom_component.common import MockConfigEntry


@pytest.fixture(autouse=True)
def _sockets(socket_enabled: None) -> None:
    """Home Assistant's fixtures forbid sockets (its own tests mock every server); these tests
    talk to a real one, on loopback."""


@pytest.fixture(scope="session")
def kokoro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KokoroServer]:
    pytest_socket.enable_socket()  # set up inside the first test, whose sockets are still off
    server = KokoroServer(tmp_path_factory.mktemp("kokoro"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
async def _core(hass: HomeAssistant) -> None:
    """Home Assistant's core integration, which the wyoming integration's dependencies expect."""
    assert await async_setup_component(hass, "homeassistant", {})


@pytest.fixture
async def entry(hass: HomeAssistant, kokoro: KokoroServer) -> MockConfigEntry:
    """The integration set up against the server, as after the user flow."""
    config_entry = MockConfigEntry(
        domain="wyoming", data={"host": kokoro.host, "port": kokoro.port}, title="Kokoro"
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASURED:
        terminalreporter.section("measured")
        for key, value in MEASURED.items():
            terminalreporter.write_line(f"{key}: {value:.3f}")
