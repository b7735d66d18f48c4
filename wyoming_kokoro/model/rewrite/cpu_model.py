"""The int8 model rearranged for fast CPU kernels: ConvInteger as im2col + MatMulInteger, and more.

Why: most of a CPU inference is the vocoder's ``ConvInteger`` nodes, which ONNX Runtime runs as
uint8 × uint8 products (the export stores its weights as uint8 with a zero point). The very same
integer products done as a ``MatMulInteger`` of uint8 activations by *int8* weights hit MLAS's
VNNI/AMX kernels instead, many times faster per product; the extra copies the layout needs (an
im2col ``Gather`` and two transposes per conv) eat part of that. ONNX Runtime takes longer to plan
the larger graph, once per start. Four float rewrites (``cpu_rewrites.py``) do the same arithmetic
in fewer passes: fused scaling after each conv, AdaIN as ``InstanceNormalization``, the STFT as a
``Conv`` with *the STFT op's own basis* (read back by transforming unit impulses: the vocoder takes
the phase of every bin, including DC and Nyquist whose imaginary parts are rounding noise, and a
textbook basis with exact zeros there changes the sound), and ``Pow(x, 2)`` as ``Mul(x, x)``.

The conv rewrite alone is exact: ``W_q - zero_point`` fits int8 for every conv (checked), padding
uses the activation's own zero point as ConvInteger does, and integer sums do not round:
``build_cpu_model(exact=True)`` gives bit for bit the int8 model's audio (tested). The float
rewrites round differently in the last bit, which a re-quantized activation can turn into an 8-bit
step: the waveform is not identical, the sound is (``band_distance_db`` against ``MAX_BAND_DB``).

CPUs with AVX2 but no VNNI/AMX run uint8 × int8 through ``vpmaddubsw``, which adds two neighbouring
weights' products into a *saturating* 16-bit sum: exact only while the two weights' magnitudes of
one sign add up to at most 128. The two convs whose weights could exceed that (``F0_conv`` and
``N_conv``) stay ``ConvInteger`` (``may_saturate``), and the rewrite is exact there too. Other
CPUs (ARM, x86 without AVX2) keep the export's convs and get the float rewrites alone: the *fused*
model, which is also what a gemm model that fails its checks falls back to (its fused
normalizations still let the model be cut for a reply's first audio, ``model/split.py``).

The model is *checked on the machine that uses it* before it is trusted: the integer kernel must
give exact sums for the worst inputs the rewritten weights allow, and the rewritten model must
sound like the int8 model (same length, spectra within ``MAX_BAND_DB``). The result is stamped with
the CPU and ONNX Runtime's version, so a cache moved to another CPU, or an upgrade, is checked
again. The speed-ups on each kind of CPU are in ``docs/performance.md`` (``bench/models.py``).

Per conv (1-D, group 1, batch 1), with ``xq`` [1, C_in, T] uint8 and its zero point ``xz``:

    Squeeze → Transpose [T, C_in] → Pad(value=xz) → Gather rows t·stride + k·dilation
    → Reshape [T_out, K·C_in] → MatMulInteger(·, W [K·C_in, C_out] int8, xz) → Transpose
    → Unsqueeze = [1, C_out, T_out] int32, exactly what ConvInteger produced.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..sessions import CHECK_IDS, style_for
from .cpu_rewrites import (
    CpuModelError,
    fuse_conv_scaling,
    may_saturate,
    rewrite_convs,
    rewrite_instance_norms,
    rewrite_squares,
    rewrite_stft,
)
from .float_model import check_int8_export
from .frame_cap import FrameCapError, cap_frames
from .graph import (
    import_onnx,
    load_model,
    model_bytes,
    read_stamp,
    remove_dead_code,
    sha256_file,
    write_file,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_LOGGER = logging.getLogger(__name__)

GEMM_MODEL_FILENAME = "kokoro-v1.0.int8-gemm.onnx"
#: Convs as exported, the float rewrites only: what CPUs without VNNI/AMX run.
FUSED_MODEL_FILENAME = "kokoro-v1.0.int8-fused.onnx"

# Bump whenever the rewrite's output changes: cached models are then rebuilt.
BUILDER_VERSION = 6

#: The rewritten model's loudest frames may differ from the int8 model's by this much, in dB
#: averaged over mel-spaced bands: above what the float rewrites' rounding moves on real voices,
#: below what a saturating kernel or a wrong rewrite (a textbook STFT basis) does.
MAX_BAND_DB = 2.0

#: x86 feature flags of CPUs whose MLAS uint8 × int8 kernels are faster than the export's convs and
#: exact for the rewritten weights: VNNI and AMX for any weights, AVX2 for weights that cannot
#: saturate its 16-bit pair sums (``may_saturate``). Others get the fused model.
_EXACT_U8S8_FLAGS = frozenset({"avx2", "avx512_vnni", "avx_vnni", "amx_int8"})

#: Token counts of the sound check: a short piece and one long enough for every conv to matter.
_CHECK_LENGTHS = (10, 40)


def cpu_signature(cpuinfo: str | None = None) -> str:
    """What decides which integer kernels MLAS runs: architecture + relevant x86 flags."""
    flags: set[str] = set()
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text("utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    exact = sorted(flags & _EXACT_U8S8_FLAGS)
    return f"{platform.machine()}:{','.join(exact) or 'none'}"


def has_exact_fast_u8s8(signature: str) -> bool:
    """True where the conv rewrite is both faster and exact (x86 with AVX2, VNNI or AMX)."""
    machine, _, flags = signature.partition(":")
    return machine.lower() in {"x86_64", "amd64"} and flags not in ("", "none")


def build_cpu_model(src: Path, dst: Path, *, convs: bool = True, exact: bool = False) -> Path:
    """Rewrite *src* (see the module doc) and write *dst* atomically. *convs*: the conv rewrite
    (exact only where ``has_exact_fast_u8s8``); without it, only the float rewrites (the fused
    model, for every other CPU). *exact*: only the conv rewrite, whose audio is bit-for-bit the
    int8 model's (for tests and comparisons)."""
    if exact and not convs:
        raise ValueError("exact=True is the conv rewrite alone: it needs convs=True")
    onnx = import_onnx()
    started = time.monotonic()
    model = load_model(onnx, Path(src), load_external_data=True)
    check_int8_export(model, Path(src))
    try:
        cap_frames(model.graph)
    except FrameCapError as err:
        raise CpuModelError(f"{src}: {err}") from None
    rewritten, skipped = rewrite_convs(model.graph) if convs else (0, 0)
    if convs and rewritten == 0:
        raise CpuModelError(f"{src} has no ConvInteger nodes to rearrange (not the int8 export?)")
    fused = normalized = stfts = squares = 0
    if not exact:
        fused = fuse_conv_scaling(model.graph) if convs else 0
        normalized = rewrite_instance_norms(model.graph)
        stfts = rewrite_stft(model.graph)
        squares = rewrite_squares(model.graph)
        if fused and not any(o.domain == "com.microsoft" for o in model.opset_import):
            model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    if not convs and normalized == 0:
        raise CpuModelError(f"{src} has no normalizations written out to fuse (not the int8 export?)")
    remove_dead_code(model.graph)  # the uint8 weights the convs no longer read
    data = model_bytes(
        onnx,
        model,
        "wyoming-kokoro cpu_model",
        {"wyoming_kokoro.source": Path(src).name, "wyoming_kokoro.builder_version": str(BUILDER_VERSION)},
    )
    del model
    write_file(Path(dst), data)
    conv_summary = (
        f"{rewritten} convs as MatMulInteger ({skipped} left as they were; {fused} with fused scaling)"
        if convs
        else "convs as exported"
    )
    _LOGGER.info(
        "Built %s: %s, %d InstanceNormalization, %d STFT as Conv, %d Pow(x, 2) as Mul in %.1f s",
        dst,
        conv_summary,
        normalized,
        stfts,
        squares,
        time.monotonic() - started,
    )
    return Path(dst)


def ensure_cpu_model(
    int8_path: Path,
    cache_dir: Path,
    make_session: Callable[[Path], Any],
    voice: npt.NDArray[Any],
    signature: str | None = None,
    source_sha256: str | None = None,
) -> Path:
    """The cached rewritten model for *int8_path* on this CPU, built and checked on first use: the
    gemm model (every rewrite) on x86 CPUs with AVX2, VNNI or AMX, the fused model (convs as
    exported, the float rewrites) elsewhere, and where the gemm model fails its checks. A model
    that failed its checks is not built again at every start while nothing it depends on changed
    (the source, the builder, the CPU, ONNX Runtime's version).

    *make_session* builds an inference session for a model path (the caller's CPU settings), used
    to check that both models sound the same on this machine, spoken by *voice* (a voice table).
    Raises CpuModelError when the fused model fails its check too; the caller then uses the int8
    model as is.
    *source_sha256*: the int8 model's hash when the caller has just verified it (not hashed again).
    """
    signature = cpu_signature() if signature is None else signature
    source_sha256 = source_sha256 or sha256_file(Path(int8_path))
    if has_exact_fast_u8s8(signature):
        try:
            return _ensure_rewritten(
                int8_path, cache_dir, make_session, voice, signature, source_sha256, convs=True
            )
        except CpuModelError as err:
            _LOGGER.warning("Keeping the int8 convs as exported: %s", err)
    return _ensure_rewritten(int8_path, cache_dir, make_session, voice, signature, source_sha256, convs=False)


def _ensure_rewritten(
    int8_path: Path,
    cache_dir: Path,
    make_session: Callable[[Path], Any],
    voice: npt.NDArray[Any],
    signature: str,
    source_sha256: str,
    *,
    convs: bool,
) -> Path:
    """The gemm model (*convs*) or the fused one, from the cache when its stamp matches, else built
    and checked (and removed again when a check fails: CpuModelError, remembered in a
    ``.failed.json`` beside it so the next start does not spend seconds to fail the same way)."""
    import onnxruntime

    dst = Path(cache_dir) / (GEMM_MODEL_FILENAME if convs else FUSED_MODEL_FILENAME)
    stamp_path = dst.with_name(dst.name + ".build.json")
    failed_path = dst.with_name(dst.name + ".failed.json")
    # The kernels the checks test are ONNX Runtime's: a new version is checked again.
    stamp: dict[str, object] = {
        "builder_version": BUILDER_VERSION,
        "source_sha256": source_sha256,
        "checked_on": signature,
        "onnxruntime": onnxruntime.__version__,
    }
    # The model's own hash too: a file damaged on disk is rebuilt, not loaded.
    if dst.is_file() and read_stamp(stamp_path) == {**stamp, "sha256": sha256_file(dst)}:
        return dst
    failed = read_stamp(failed_path)
    if isinstance(failed, dict) and {key: failed.get(key) for key in stamp} == stamp:
        raise CpuModelError(f"{failed.get('error')} (at an earlier start; not tried again: {failed_path})")
    _LOGGER.info("Rewriting %s for this CPU's kernels (once; cached at %s)", int8_path, dst)
    try:
        if convs:
            check_exact_kernels()
        build_cpu_model(Path(int8_path), dst, convs=convs)
        try:
            reference, candidate = make_session(Path(int8_path)), make_session(dst)
            check_equivalent(reference, candidate, voice)
        except CpuModelError:
            raise
        except Exception as err:  # ONNX Runtime's own errors have no common base class
            raise CpuModelError(
                f"ONNX Runtime cannot run the rearranged model ({type(err).__name__}: {err})"
            ) from err
    except CpuModelError as err:
        dst.unlink(missing_ok=True)
        write_file(failed_path, json.dumps({**stamp, "error": str(err)}, indent=1).encode())
        raise
    failed_path.unlink(missing_ok=True)
    stamp["sha256"] = sha256_file(dst)
    write_file(stamp_path, json.dumps(stamp, indent=1).encode())
    return dst


def check_exact_kernels() -> None:
    """ONNX Runtime's uint8 × int8 MatMulInteger must give exact sums on this CPU for the worst
    weights the conv rewrite keeps (``may_saturate``) and activations near 255, on long rows: that
    is what the rewrite relies on. Each column is one pattern: neighbouring rows of one sign whose
    magnitudes add up to 128, and large weights in rows 2j + 1 and 2j + 2 (pairs a kernel must not
    join), at random signs."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    a = np.where(rng.random((64, 1152)) < 0.9, 255, rng.integers(0, 256, (64, 1152))).astype(np.uint8)
    b = kernel_check_weights(rng)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "az"], ["y"])],
        "kernel-check",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [64, 1152])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [64, b.shape[1]])],
        [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.array(3, np.uint8), "az")],
    )
    model = helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"a": a})[0]
    want = (a.astype(np.int64) - 3) @ b.astype(np.int64)
    if not np.array_equal(got, want):
        raise CpuModelError("ONNX Runtime's uint8 × int8 products are not exact on this CPU")


def kernel_check_weights(rng: np.random.Generator) -> npt.NDArray[np.int8]:
    """[1152, 42] int8: ``check_exact_kernels``'s weight patterns, each column one of them repeated
    down the rows at random signs (within what ``may_saturate`` allows: tested)."""
    import numpy as np

    patterns = [(127, 1), (1, 127), (64, 64), (-128, 0), (-100, -28), (127, -128), (0, 127, 127, 0)]
    columns = []
    for pattern in patterns * 6:
        signs = rng.choice([-1, 1], 1152 // len(pattern)).repeat(len(pattern))
        columns.append(np.resize(np.array(pattern), 1152) * signs)
    return np.clip(np.stack(columns, axis=1), -128, 127).astype(np.int8)


def _mel(hertz: float) -> float:
    import math

    return 2595 * math.log10(1 + hertz / 700)


def band_distance_db(reference: npt.NDArray[Any], audio: npt.NDArray[Any]) -> float:
    """How different two renderings of the same text sound: the mean absolute difference in dB
    between their spectra in 40 mel-spaced bands (60 Hz–11 kHz), over the reference's loud
    frames (within 20 dB of its loudest). Waveforms are compared by sound, not sample by sample,
    because the int8 graph turns a last-bit float difference into an 8-bit step somewhere."""
    import numpy as np

    size, hop, rate = 1024, 256, 24000
    if reference.shape != audio.shape or reference.size < size:
        return float("inf")
    mel = np.linspace(_mel(60.0), _mel(11000.0), 41)
    edges = np.unique((700 * (10 ** (mel / 2595) - 1) * size / rate).round().astype(int))
    window = np.hanning(size)

    def bands(signal: npt.NDArray[Any]) -> npt.NDArray[Any]:
        frames = np.lib.stride_tricks.sliding_window_view(signal.astype(np.float64), size)[::hop]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
        return np.add.reduceat(power, edges, axis=1)[:, :-1]

    want, got = bands(reference), bands(audio)
    loud = want.sum(axis=1) >= want.sum(axis=1).max() * 0.01
    diff = 10 * np.log10(got[loud] + 1e-10) - 10 * np.log10(want[loud] + 1e-10)
    return float(np.abs(diff).mean())


def check_equivalent(reference: Any, candidate: Any, voice: npt.NDArray[Any]) -> None:
    """Both sessions must make the same length of audio that sounds the same (see
    ``band_distance_db``) for the check inputs, spoken by *voice* (a voice table, one style row
    per token count): a real voice, since random styles make noise that is not speech."""
    import numpy as np

    table = np.asarray(voice, dtype=np.float32).reshape(len(voice), -1)
    for length in _CHECK_LENGTHS:
        ids = np.array([[0, *(CHECK_IDS * 20)[:length], 0]], dtype=np.int64)
        style = style_for(table, length)
        feeds = {"tokens": ids, "style": style, "speed": np.array([1.0], dtype=np.float32)}
        want = np.asarray(reference.run(None, feeds)[0]).ravel()
        got = np.asarray(candidate.run(None, feeds)[0]).ravel()
        distance = band_distance_db(want, got) if np.isfinite(got).all() else float("inf")
        if distance > MAX_BAND_DB:
            raise CpuModelError(
                f"the rearranged model sounds different from the int8 model on this CPU "
                f"({distance:.2f} dB apart, {len(got)} vs {len(want)} samples)"
            )


# --------------------------------------------------------------------------------------------
# Graph rewriting


__all__ = [
    "FUSED_MODEL_FILENAME",
    "GEMM_MODEL_FILENAME",
    "CpuModelError",
    "band_distance_db",
    "build_cpu_model",
    "check_equivalent",
    "check_exact_kernels",
    "cpu_signature",
    "ensure_cpu_model",
    "has_exact_fast_u8s8",
    "may_saturate",
]
