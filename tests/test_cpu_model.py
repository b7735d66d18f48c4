"""Tests for wyoming_kokoro.cpu_model: the int8 model with its convs as uint8×int8 MatMulInteger.

The promise is "same audio, faster": so the rewritten model is compared sample for sample with the
int8 export on the real voices, and single convs of every shape the export uses (strides,
dilations, pads, one tap) are compared with ConvInteger on random data. Exactness holds only
where MLAS has exact uint8×int8 kernels (VNNI/AMX); those tests are skipped elsewhere, and the
selection logic that keeps such CPUs on the int8 model is tested everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from wyoming_kokoro.assets import MODEL_SHA256, ensure_model, ensure_voices, load_voices
from wyoming_kokoro.cpu_model import (
    GEMM_MODEL_FILENAME,
    CpuModelError,
    build_gemm_model,
    check_identical,
    cpu_signature,
    ensure_gemm_model,
    has_exact_fast_u8s8,
)
from wyoming_kokoro.engine import KokoroEngine, _session_options

EXACT_HERE = has_exact_fast_u8s8(cpu_signature())
needs_exact_kernels = pytest.mark.skipif(not EXACT_HERE, reason="this CPU has no VNNI/AMX u8×s8 kernels")


def session(path: Path | bytes) -> ort.InferenceSession:
    source = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(source, sess_options=_session_options(2), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def int8_model(cache_dir: Path) -> Path:
    return ensure_model("auto", cache_dir)


@pytest.fixture(scope="module")
def gemm_model(int8_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_gemm_model(int8_model, tmp_path_factory.mktemp("gemm") / GEMM_MODEL_FILENAME)


@pytest.fixture(scope="module")
def sessions(int8_model: Path, gemm_model: Path) -> tuple[ort.InferenceSession, ort.InferenceSession]:
    return session(int8_model), session(gemm_model)


def test_cpu_signature_keeps_only_the_flags_that_matter() -> None:
    info = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni amx_tile amx_int8\n"
    signature = cpu_signature(info)
    assert signature.endswith(":amx_int8,avx512_vnni")
    assert cpu_signature("flags : fpu sse avx2\n").endswith(":none")
    assert has_exact_fast_u8s8("x86_64:avx512_vnni")
    assert has_exact_fast_u8s8("x86_64:avx_vnni")
    assert not has_exact_fast_u8s8("x86_64:none")  # AVX2 only: saturating 16-bit sums
    assert not has_exact_fast_u8s8("aarch64:none")  # not measured there: keep the export as is


def test_every_conv_becomes_a_matmul_and_nothing_else_changes(int8_model: Path, gemm_model: Path) -> None:
    before = onnx.load(str(int8_model))
    after = onnx.load(str(gemm_model))
    count = {
        m: {op: sum(n.op_type == op for n in g.graph.node) for op in ("ConvInteger", "MatMulInteger")}
        for m, g in (("int8", before), ("gemm", after))
    }
    assert count["gemm"]["ConvInteger"] == 0
    assert count["gemm"]["MatMulInteger"] == count["int8"]["MatMulInteger"] + count["int8"]["ConvInteger"]
    assert [i.name for i in after.graph.input] == [i.name for i in before.graph.input]
    assert [o.name for o in after.graph.output] == [o.name for o in before.graph.output]
    # The uint8 conv weights are dropped, the int8 ones take their place: about the same size.
    assert 0.95 < gemm_model.stat().st_size / int8_model.stat().st_size < 1.05


@needs_exact_kernels
@pytest.mark.parametrize("length", [1, 27, 120])
def test_audio_is_identical_to_the_int8_model(
    sessions: tuple[ort.InferenceSession, ort.InferenceSession], cache_dir: Path, length: int
) -> None:
    voices = load_voices(ensure_voices("auto", cache_dir))
    ids = ([50, 156, 86, 54, 57, 4, 16, 83, 156, 102, 68] * 20)[:length]
    for voice in ("af_heart", "am_adam"):
        feeds = {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": voices[voice][length - 1].reshape(1, -1).astype(np.float32),
            "speed": np.array([1.0], dtype=np.float32),
        }
        want = sessions[0].run(None, feeds)[0]
        got = sessions[1].run(None, feeds)[0]
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def conv_integer_model(
    c_in: int, c_out: int, taps: int, stride: int, dilation: int, pads: tuple[int, int], seed: int
) -> onnx.ModelProto:
    """DynamicQuantizeLinear → ConvInteger with uint8 weights and a zero point, as the export has."""
    rng = np.random.default_rng(seed)
    weight = rng.integers(0, 256, (c_out, c_in, taps), dtype=np.int64)
    zero = int(rng.integers(100, 156))
    weight = np.clip(weight, zero - 128, zero + 127).astype(np.uint8)
    graph = helper.make_graph(
        [
            helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
            helper.make_node(
                "ConvInteger",
                ["xq", "w", "xz", "wz"],
                ["y"],
                name="conv",
                strides=[stride],
                dilations=[dilation],
                pads=list(pads),
                group=1,
            ),
        ],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, None])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.array(zero, np.uint8), "wz")],
    )
    return helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])


@needs_exact_kernels
@pytest.mark.parametrize(
    ("taps", "stride", "dilation", "pads"),
    [
        (11, 1, 5, (25, 25)),
        (7, 1, 3, (9, 9)),
        (3, 2, 1, (1, 1)),
        (12, 6, 1, (3, 3)),
        (1, 1, 1, (0, 0)),
        (5, 1, 1, (2, 2)),
    ],
)
@pytest.mark.parametrize("frames", [1, 13, 400])
def test_single_conv_matches_conv_integer(
    tmp_path: Path, taps: int, stride: int, dilation: int, pads: tuple[int, int], frames: int
) -> None:
    model = conv_integer_model(16, 24, taps, stride, dilation, pads, seed=taps * 100 + frames)
    if frames + sum(pads) < dilation * (taps - 1) + 1:
        pytest.skip("ConvInteger itself rejects inputs shorter than its receptive field")
    source = tmp_path / "conv.onnx"
    onnx.save(model, str(source))
    # build_gemm_model insists on the Kokoro interface; rewrite the graph through its internals.
    from wyoming_kokoro.cpu_model import _rewrite_convs

    rewritten = onnx.load(str(source))
    assert _rewrite_convs(rewritten.graph) == (1, 0)
    x = np.random.default_rng(frames).standard_normal((1, 16, frames)).astype(np.float32) * 3
    want = session(model.SerializeToString()).run(None, {"x": x})[0]
    got = session(rewritten.SerializeToString()).run(None, {"x": x})[0]
    assert got.dtype == want.dtype == np.int32
    np.testing.assert_array_equal(got, want)


def test_convs_it_cannot_rewrite_exactly_are_left_alone(tmp_path: Path) -> None:
    from wyoming_kokoro.cpu_model import _rewrite_convs

    model = conv_integer_model(4, 4, 3, 1, 1, (1, 1), seed=1)
    weight = model.graph.initializer[0]
    values = numpy_helper.to_array(weight).copy()
    values[0, 0, 0], values[0, 0, 1] = 0, 255  # 0 − zero point and 255 − zero point cannot both fit int8
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(values, "w"))
    assert _rewrite_convs(model.graph) == (0, 1)
    assert [n.op_type for n in model.graph.node] == ["DynamicQuantizeLinear", "ConvInteger"]


class _OffByALittle:
    """A session whose audio differs slightly from the one it wraps: what a saturating kernel does."""

    def __init__(self, inner: ort.InferenceSession) -> None:
        self.inner = inner

    def run(self, outputs: Any, feeds: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
        audio = self.inner.run(outputs, feeds)[0]
        return [audio + np.float32(1e-3)]


def test_check_identical_rejects_different_audio(
    sessions: tuple[ort.InferenceSession, ort.InferenceSession],
) -> None:
    reference = sessions[0]
    check_identical(reference, reference)
    with pytest.raises(CpuModelError, match="differs"):
        check_identical(reference, _OffByALittle(reference))


@needs_exact_kernels
def test_ensure_builds_once_checks_and_rebuilds_when_damaged(int8_model: Path, tmp_path: Path) -> None:
    made: list[Path] = []

    def make(path: Path) -> ort.InferenceSession:
        made.append(path)
        return session(path)

    built = ensure_gemm_model(int8_model, tmp_path, make)
    assert built == tmp_path / GEMM_MODEL_FILENAME
    assert made == [int8_model, built]  # checked against the export before it is trusted
    stamp = json.loads(built.with_name(built.name + ".build.json").read_text())
    assert stamp["checked_on"] == cpu_signature()

    made.clear()
    mtime = built.stat().st_mtime_ns
    assert ensure_gemm_model(int8_model, tmp_path, make) == built
    assert made == [] and built.stat().st_mtime_ns == mtime  # reused: no build, no check
    # The engine passes the default model's already-verified hash: the same stamp, still reused.
    assert ensure_gemm_model(int8_model, tmp_path, make, source_sha256=MODEL_SHA256) == built
    assert made == [] and built.stat().st_mtime_ns == mtime

    with built.open("r+b") as file:  # a damaged cache file is rebuilt, never loaded
        file.seek(built.stat().st_size // 2)
        byte = file.read(1)
        file.seek(-1, 1)
        file.write(bytes([byte[0] ^ 0xFF]))
    assert ensure_gemm_model(int8_model, tmp_path, make) == built
    assert made == [int8_model, built]

    made.clear()  # checked on another CPU: checked again here
    assert ensure_gemm_model(int8_model, tmp_path, make, signature="x86_64:avx_vnni") == built
    assert made == [int8_model, built]


def test_ensure_refuses_cpus_without_exact_kernels_and_failed_checks(
    int8_model: Path, tmp_path: Path
) -> None:
    with pytest.raises(CpuModelError, match="VNNI"):
        ensure_gemm_model(int8_model, tmp_path, session, signature="aarch64:none")
    assert not (tmp_path / GEMM_MODEL_FILENAME).exists()

    def broken(path: Path) -> Any:
        return _OffByALittle(session(path)) if path.name == GEMM_MODEL_FILENAME else session(path)

    with pytest.raises(CpuModelError, match="differs"):
        ensure_gemm_model(int8_model, tmp_path, broken, signature="x86_64:avx512_vnni")
    assert not (tmp_path / GEMM_MODEL_FILENAME).exists()  # not left behind for the next start

    def unloadable(path: Path) -> Any:  # e.g. an onnxruntime without a kernel the graph needs
        if path.name == GEMM_MODEL_FILENAME:
            raise RuntimeError("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED")
        return session(path)

    with pytest.raises(CpuModelError, match=r"cannot run the rearranged model.*NOT_IMPLEMENTED"):
        ensure_gemm_model(int8_model, tmp_path, unloadable, signature="x86_64:avx512_vnni")
    assert not (tmp_path / GEMM_MODEL_FILENAME).exists()


def test_engine_runs_the_rearranged_model_where_it_is_exact(engine: KokoroEngine) -> None:
    expected = GEMM_MODEL_FILENAME if EXACT_HERE else "kokoro-v1.0.int8.onnx"
    assert engine.model_path.name == expected
