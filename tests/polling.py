"""Waiting in a test for something the server or engine does in its own time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

#: Longest wait: generous, the machines are shared and a first inference can take seconds.
TIMEOUT = 60.0


async def eventually(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Return once *condition* holds (checked every 10 ms); fail the test, saying *what* never
    happened, after *timeout* seconds."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")
