"""The process's memory, as the engine watches and trims it."""

from __future__ import annotations

import ctypes
import ctypes.util
import os


def resident_bytes() -> int | None:
    """This process's resident memory (Linux; None where /proc is not there)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def give_back_freed_memory() -> None:
    """Hand memory the process has freed back to the system. glibc keeps freed blocks in its heap
    between blocks still in use; after start-up (a session let go, a model rewritten, the text
    front end's loading) that is a lot. Where there is no glibc, nothing happens."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
