"""The int8 model rearranged for fast CPU kernels: every ConvInteger becomes im2col + MatMulInteger.

Why: ~58 % of a CPU inference is the vocoder's 87 ``ConvInteger`` nodes, and ONNX Runtime runs
them as uint8 × uint8 products (the export stores its weights as uint8 with a zero point) at
~85 GFLOP/s on the 2-core Xeon this project targets. The very same integer products done as a
``MatMulInteger`` of uint8 activations by *int8* weights hit MLAS's VNNI/AMX kernels instead,
~20× faster per product (measured: 5.7 ms vs ~40 ms for the largest conv). The extra copies this
layout needs (an im2col ``Gather`` and two transposes per conv) eat part of that; the whole
inference is still ~1.5–1.9× faster (``bench/models.py``). The price is paid once per start:
ONNX Runtime takes ~4 s longer to plan this larger graph (~6 s instead of ~2 s here).

The rewrite is exact: the weights' ``W_q - zero_point`` fits int8 for every conv of the export (it
is checked), padding uses the activation's own zero point as ConvInteger does, and integer
accumulation has no rounding, so the audio is bit-for-bit the int8 model's (tested). It is also
*checked on the machine that uses it* (to 1e-5, leaving room for float kernels that ONNX Runtime
may pick differently around the rewritten nodes) before the model is trusted: CPUs without VNNI run
uint8 × int8 through a 16-bit intermediate that can saturate, which would change the audio. The
check's result is stamped with the CPU it ran on, so a cache moved to another CPU is re-checked.

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

from .float_model import (
    FloatModelError,
    _atomic_write,
    _check_interface,
    _import_onnx,
    _load,
    _model_bytes,
    _read_stamp,
    _remove_dead_code,
    _sha256_file,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    from onnx import GraphProto, NodeProto

_LOGGER = logging.getLogger(__name__)

GEMM_MODEL_FILENAME = "kokoro-v1.0.int8-gemm.onnx"

# Bump whenever the rewrite's output changes: cached models are then rebuilt.
BUILDER_VERSION = 2

#: x86 feature flags of CPUs whose MLAS uint8 × int8 kernels are exact (VNNI, AMX): without them
#: the product goes through saturating 16-bit sums and the audio would differ.
_EXACT_U8S8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})

#: Token ids of the equality check: a short piece and one long enough for every conv to matter.
_CHECK_LENGTHS = (10, 40)


class CpuModelError(FloatModelError):
    """The rearranged model could not be built, or is not exact on this CPU."""


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
    """True where the rewrite is both faster and exact (x86 with VNNI or AMX)."""
    machine, _, flags = signature.partition(":")
    return machine.lower() in {"x86_64", "amd64"} and flags not in ("", "none")


def build_gemm_model(src: Path, dst: Path) -> Path:
    """Rewrite every eligible ConvInteger of *src* (see the module doc) and write *dst* atomically."""
    onnx = _import_onnx()
    started = time.monotonic()
    model = _load(onnx, Path(src), load_external_data=True)
    _check_interface(model, Path(src))
    rewritten, skipped = _rewrite_convs(model.graph)
    if rewritten == 0:
        raise CpuModelError(f"{src} has no ConvInteger nodes to rearrange (not the int8 export?)")
    _remove_dead_code(model.graph)  # the uint8 weights the convs no longer read
    data = _model_bytes(
        onnx,
        model,
        "wyoming-kokoro cpu_model",
        {"wyoming_kokoro.source": Path(src).name, "wyoming_kokoro.builder_version": str(BUILDER_VERSION)},
    )
    del model
    _atomic_write(Path(dst), data)
    _LOGGER.info(
        "Built %s: %d convs as MatMulInteger (%d left as they were) in %.1f s",
        dst,
        rewritten,
        skipped,
        time.monotonic() - started,
    )
    return Path(dst)


def ensure_gemm_model(
    int8_path: Path,
    cache_dir: Path,
    make_session: Callable[[Path], Any],
    signature: str | None = None,
    source_sha256: str | None = None,
) -> Path:
    """The cached rearranged model for *int8_path*, built and checked on first use.

    *make_session* builds an inference session for a model path (the caller's CPU settings), used
    to check that both models give identical audio on this machine. Raises CpuModelError when the
    CPU lacks exact fast kernels or the check fails; the caller then uses the int8 model as is.
    *source_sha256*: the int8 model's hash when the caller has just verified it (not hashed again).
    """
    signature = cpu_signature() if signature is None else signature
    if not has_exact_fast_u8s8(signature):
        raise CpuModelError(f"this CPU ({signature}) has no VNNI/AMX integer kernels")
    dst = Path(cache_dir) / GEMM_MODEL_FILENAME
    stamp_path = dst.with_name(dst.name + ".build.json")
    stamp: dict[str, object] = {
        "builder_version": BUILDER_VERSION,
        "source_sha256": source_sha256 or _sha256_file(Path(int8_path)),
        "checked_on": signature,
    }
    # The model's own hash too: a file damaged on disk is rebuilt, not loaded.
    if dst.is_file() and _read_stamp(stamp_path) == {**stamp, "sha256": _sha256_file(dst)}:
        return dst
    _LOGGER.info("Rearranging %s for this CPU's integer kernels (once; cached at %s)", int8_path, dst)
    build_gemm_model(Path(int8_path), dst)
    try:
        try:
            reference, candidate = make_session(Path(int8_path)), make_session(dst)
            check_identical(reference, candidate)
        except CpuModelError:
            raise
        except Exception as err:  # ONNX Runtime's own errors have no common base class
            raise CpuModelError(
                f"ONNX Runtime cannot run the rearranged model ({type(err).__name__}: {err})"
            ) from err
    except CpuModelError:
        dst.unlink(missing_ok=True)
        raise
    stamp["sha256"] = _sha256_file(dst)
    _atomic_write(stamp_path, json.dumps(stamp, indent=1).encode())
    return dst


def check_identical(reference: Any, candidate: Any) -> None:
    """Both sessions must produce the same audio (to float rounding) for the check inputs."""
    import numpy as np

    style = np.random.default_rng(0).standard_normal((1, 256)).astype(np.float32) * 0.1
    for length in _CHECK_LENGTHS:
        ids = np.array([[0, *([50, 156, 86, 54, 57, 4] * 20)[:length], 0]], dtype=np.int64)
        feeds = {"tokens": ids, "style": style, "speed": np.array([1.0], dtype=np.float32)}
        want = np.asarray(reference.run(None, feeds)[0]).ravel()
        got = np.asarray(candidate.run(None, feeds)[0]).ravel()
        if want.shape != got.shape or not np.allclose(got, want, rtol=0, atol=1e-5):
            diff = float(np.abs(got - want).max()) if want.shape == got.shape else float("inf")
            raise CpuModelError(
                f"the rearranged model differs from the int8 model on this CPU (max diff {diff:.3g})"
            )


# --------------------------------------------------------------------------------------------
# Graph rewriting


def _rewrite_convs(graph: GraphProto) -> tuple[int, int]:
    """Replace eligible ConvInteger nodes in place; returns (rewritten, left alone)."""
    from onnx import numpy_helper

    constants: dict[str, npt.NDArray[Any]] = {
        init.name: numpy_helper.to_array(init) for init in graph.initializer
    }
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)

    builder = _Builder(graph)
    nodes: list[NodeProto] = []
    rewritten = skipped = 0
    for node in graph.node:
        replacement = _conv_as_matmul(node, constants, builder) if node.op_type == "ConvInteger" else None
        if replacement is None:
            skipped += node.op_type == "ConvInteger"
            nodes.append(node)
        else:
            rewritten += 1
            nodes.extend(replacement)
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten, skipped


class _Builder:
    """Makes uniquely named int64 constants (initializers) for the new nodes."""

    def __init__(self, graph: GraphProto) -> None:
        self.graph = graph
        self._ints: dict[tuple[tuple[int, ...], tuple[int, ...]], str] = {}

    def ints(self, values: list[int] | list[list[int]] | int) -> str:
        import numpy as np
        from onnx import numpy_helper

        array = np.array(values, dtype=np.int64)
        key = (tuple(array.shape), tuple(array.ravel().tolist()))
        name = self._ints.get(key)
        if name is None:
            name = f"wk_im2col_const_{len(self._ints)}"
            self.graph.initializer.append(numpy_helper.from_array(array, name))
            self._ints[key] = name
        return name

    def weights(self, name: str, values: npt.NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.graph.initializer.append(numpy_helper.from_array(values, name))
        return name


def _conv_as_matmul(
    node: NodeProto, constants: dict[str, npt.NDArray[Any]], builder: _Builder
) -> list[NodeProto] | None:
    """The nodes computing *node* (a ConvInteger) as im2col + MatMulInteger, or None if ineligible."""
    import numpy as np
    from onnx import helper

    inputs = list(node.input) + [""] * (4 - len(node.input))
    x_q, weight_name, x_zero, w_zero_name = inputs[:4]
    weight = constants.get(weight_name)
    w_zero = constants.get(w_zero_name) if w_zero_name else np.zeros((), dtype=np.uint8)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if (
        weight is None
        or w_zero is None
        or weight.dtype != np.uint8
        or weight.ndim != 3
        or w_zero.size != 1
        or not x_zero
        or attrs.get("group", 1) != 1
        or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
    ):
        return None
    centred = weight.astype(np.int32) - int(w_zero.reshape(()))
    if centred.min() < -128 or centred.max() > 127:
        return None
    c_out, c_in, taps = weight.shape
    dilation = int(attrs.get("dilations", [1])[0])
    stride = int(attrs.get("strides", [1])[0])
    pad_begin, pad_end = (int(p) for p in attrs.get("pads", [0, 0]))

    p = f"{node.name or node.output[0]}/im2col"
    # Row k·C_in + c of the weight matrix multiplies tap k of input channel c.
    w_matrix = centred.astype(np.int8).transpose(2, 1, 0).reshape(taps * c_in, c_out)
    w_name = builder.weights(p + "/W", np.ascontiguousarray(w_matrix))
    axis0 = builder.ints([0])
    new = [
        helper.make_node("Squeeze", [x_q, axis0], [p + "/x"]),
        helper.make_node("Transpose", [p + "/x"], [p + "/xt"], perm=[1, 0]),
    ]
    rows = p + "/xt"
    if pad_begin or pad_end:
        new.append(
            helper.make_node("Pad", [rows, builder.ints([pad_begin, 0, pad_end, 0]), x_zero], [p + "/xp"])
        )
        rows = p + "/xp"
    if taps == 1 and stride == 1:
        columns = rows
    else:
        # Output frame t reads input rows t·stride + k·dilation for k < taps.
        new += [
            helper.make_node("Shape", [rows], [p + "/len"], start=0, end=1),
            helper.make_node("Sub", [p + "/len", builder.ints([dilation * (taps - 1)])], [p + "/limit1"]),
            helper.make_node("Squeeze", [p + "/limit1", axis0], [p + "/limit"]),
            helper.make_node("Range", [builder.ints(0), p + "/limit", builder.ints(stride)], [p + "/t"]),
            helper.make_node("Unsqueeze", [p + "/t", builder.ints([1])], [p + "/t1"]),
            helper.make_node(
                "Add", [p + "/t1", builder.ints([[k * dilation for k in range(taps)]])], [p + "/rows"]
            ),
            helper.make_node("Gather", [rows, p + "/rows"], [p + "/g"], axis=0),
            helper.make_node("Reshape", [p + "/g", builder.ints([-1, taps * c_in])], [p + "/col"]),
        ]
        columns = p + "/col"
    new += [
        helper.make_node("MatMulInteger", [columns, w_name, x_zero], [p + "/y"]),
        helper.make_node("Transpose", [p + "/y"], [p + "/yt"], perm=[1, 0]),
        helper.make_node("Unsqueeze", [p + "/yt", axis0], [node.output[0]]),
    ]
    for index, made in enumerate(new):
        made.name = f"{p}/{index}"
    return new


__all__ = [
    "GEMM_MODEL_FILENAME",
    "CpuModelError",
    "build_gemm_model",
    "check_identical",
    "cpu_signature",
    "ensure_gemm_model",
    "has_exact_fast_u8s8",
]
