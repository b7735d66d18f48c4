"""Which model file each execution provider runs, built from the default int8 model when that
serves it better, and the checks that decide whether a built model is trusted."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .. import assets
from .providers import node_placement
from .rewrite.graph import ModelBuildError
from .sessions import CHECK_IDS, cpu_session
from .split import SplitModel, SplitModelError

_LOGGER = logging.getLogger(__name__)


def cpu_model_for(int8_model: Path, cache_dir: Path, threads: int, voice: npt.NDArray[np.float32]) -> Path:
    """The int8 model rewritten for this CPU (``build/cpu_model.py``), which sounds the same and
    runs faster; the int8 model as is when that fails. *int8_model* is the default model, whose
    sha256 ``assets.ensure_model`` has just verified; *voice* (a voice table) speaks the
    on-machine check."""
    from .rewrite.cpu_model import ensure_cpu_model

    try:
        return ensure_cpu_model(
            int8_model,
            cache_dir,
            lambda path: cpu_session(path, threads),
            voice,
            source_sha256=assets.MODEL_SHA256,
        )
    except (ModelBuildError, OSError) as err:
        _LOGGER.info("Using %s as exported: %s", int8_model.name, err)
        return int8_model


def float_model_for_cuda(int8_model: Path, cache_dir: Path) -> Path:
    """CUDA has no kernels for the int8 graph's quantized ops: use a float model built from it.
    *int8_model* is the default model, whose sha256 ``assets.ensure_model`` has just verified."""
    try:
        from .rewrite.float_model import ensure_float_model
    except ImportError as err:
        _LOGGER.warning("Cannot build a float model for CUDA (%s); trying the int8 model", err)
        return int8_model
    try:
        return ensure_float_model(int8_model, cache_dir, "fp32", source_sha256=assets.MODEL_SHA256)
    except Exception as err:  # the onnx package is an optional extra
        _LOGGER.warning("Cannot build a float model for CUDA (%s); trying the int8 model", err)
        return int8_model


def split_model_for(
    session: ort.InferenceSession,
    model_path: Path,
    cache_dir: Path,
    threads: int,
    voice: npt.NDArray[np.float32],
) -> SplitModel | None:
    """The CPU model cut in parts (``split.py``), checked against *session* (the whole model)
    before it is trusted; None (first pieces sent whole) when it cannot be cut or the check
    fails."""
    from .rewrite.cpu_model import cpu_signature
    from .rewrite.split_models import checked_here, ensure_split_models, remember_checked
    from .split import PARTS

    machine = f"{cpu_signature()} onnxruntime {ort.__version__}"
    try:
        paths = ensure_split_models(model_path, cache_dir)
        split = SplitModel({part: cpu_session(paths[part], threads) for part in PARTS})
        if not checked_here(model_path, cache_dir, machine):
            split.check(session, CHECK_IDS * 5, voice)
            remember_checked(model_path, cache_dir, machine)
    except (SplitModelError, ModelBuildError, OSError) as err:
        _LOGGER.info("Sending first pieces whole: %s", err)
        return None
    except Exception as err:  # ONNX Runtime's own errors have no common base class
        _LOGGER.info("Sending first pieces whole: %s: %s", type(err).__name__, err)
        return None
    return split


def log_node_placement(session: ort.InferenceSession) -> None:
    """Debug: which execution provider ran which operators (from ONNX Runtime's profile)."""
    profile = Path(session.end_profiling())
    try:
        for provider, ops in sorted(node_placement(profile).items()):
            summary = ", ".join(f"{op}×{count}" for op, count in ops.most_common())
            _LOGGER.debug("%s ran %d nodes: %s", provider, sum(ops.values()), summary)
    finally:
        profile.unlink(missing_ok=True)


def warn_if_quantized(model_path: Path) -> None:
    """Quantized ops have no CUDA kernels: say so, and which float model to use instead."""
    try:
        from .rewrite.float_model import quantized_op_types

        quantized = bool(quantized_op_types(model_path))
    except ImportError:  # `onnx` not installed: recognise the default int8 model by its hash
        quantized = hashlib.sha256(model_path.read_bytes()).hexdigest() == assets.MODEL_SHA256
    if quantized:
        _LOGGER.warning(
            "%s has quantized ops with no CUDA kernels; they run on the CPU. For GPU speed use a "
            "float model: `model: auto` builds one, or run "
            "`wyoming-kokoro build-float-model`, or point `model:` at kokoro-v1.0.onnx (fp32)",
            model_path.name,
        )
