"""What is installed, for ``wyoming-kokoro assets``, and fetching everything ahead of time."""

from __future__ import annotations

from pathlib import Path

from .common import (
    AUTO,
    MODEL_FILENAME,
    MODEL_SHA256,
    MODEL_SIZE,
    VOICES_FILENAME,
    AssetError,
    AssetStatus,
    builtin_file,
    file_problem,
    file_size,
)
from .model import check_user_model, ensure_model, model_part_paths, model_problem
from .voices import builtin_voices_problem, check_user_voices, ensure_voices, load_voices, voices_npz_problem

# --------------------------------------------------------------------------------------------
# Listing and pre-fetching


def asset_status(cache_dir: Path, model: str = AUTO, voices: str = AUTO) -> list[AssetStatus]:
    """Describe both assets as configured, verifying but never building or fetching anything."""
    return [_model_status(cache_dir, str(model)), _voices_status(cache_dir, str(voices))]


def _model_status(cache_dir: Path, spec: str) -> AssetStatus:
    if spec != AUTO:
        path = Path(spec).expanduser()
        try:
            check_user_model(path)
        except AssetError as err:
            return AssetStatus("model", path, path.exists(), False, file_size(path), str(err))
        detail = "user file; header looks like ONNX (no pinned sha256)"
        return AssetStatus("model", path, True, True, file_size(path), detail)
    builtin = builtin_file(MODEL_FILENAME, model_problem)
    if builtin is not None:
        return AssetStatus("model", builtin, True, True, MODEL_SIZE, "built in; sha256 verified")
    path = cache_dir / MODEL_FILENAME
    if not path.exists():
        try:
            model_part_paths()
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
    problem = file_problem(path, MODEL_SIZE, MODEL_SHA256)
    if problem is not None:
        detail = f"damaged ({problem}); rebuilt on start"
        return AssetStatus("model", path, True, False, file_size(path), detail)
    return AssetStatus("model", path, True, True, MODEL_SIZE, "sha256 verified")


def _voices_status(cache_dir: Path, spec: str) -> AssetStatus:
    if spec != AUTO:
        path = Path(spec).expanduser()
        try:
            count = len(load_voices(check_user_voices(path)))
        except AssetError as err:
            return AssetStatus("voices", path, path.exists(), False, file_size(path), str(err))
        detail = f"user file; {count} valid voices (no pinned sha256)"
        return AssetStatus("voices", path, True, True, file_size(path), detail)
    builtin = builtin_file(VOICES_FILENAME, builtin_voices_problem)
    if builtin is not None:
        return AssetStatus("voices", builtin, True, True, file_size(builtin), "built in; sha256 verified")
    path = cache_dir / VOICES_FILENAME
    if not path.exists():
        return AssetStatus("voices", path, False, False, 0, "missing; run `wyoming-kokoro fetch`")
    problem = voices_npz_problem(path, repair_sidecar=False)
    if problem is not None:
        detail = f"damaged ({problem}); fetched again on start"
        return AssetStatus("voices", path, True, False, file_size(path), detail)
    return AssetStatus("voices", path, True, True, file_size(path), "sha256 verified")


def fetch_all(cache_dir: Path) -> list[AssetStatus]:
    """Make both default assets present and verified (Docker build, add-on install)."""
    model = ensure_model(AUTO, cache_dir)
    voices = ensure_voices(AUTO, cache_dir)
    return [
        AssetStatus("model", model, True, True, file_size(model), "sha256 verified"),
        AssetStatus("voices", voices, True, True, file_size(voices), "sha256 verified"),
    ]
