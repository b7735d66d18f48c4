"""Files written whole or not at all: the asset cache and the models built into it are shared by
processes that may start at once or be killed mid-write."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(dest: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``dest`` so that it either appears complete or not at all.

    The temp name is unique per call (pid + random) so two processes building the same file never
    share a temp file; whichever renames last wins with identical content. ``os.open`` with mode
    0o644 (minus umask) keeps the result readable by other users, e.g. a Docker image built as
    root and run as someone else, which ``tempfile`` (0o600) would not.
    """
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def fsync_dir(folder: Path) -> None:
    """Persist the rename itself; best effort because not every OS/filesystem allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
