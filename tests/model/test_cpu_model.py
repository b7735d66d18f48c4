"""Tests for model/rewrite/cpu_model.py: the int8 model with its convs as uint8×int8 MatMulInteger.

The promise is "same sound, faster". The conv rewrite alone is exact, so that model is compared
sample for sample with the int8 export on the real voices, and single convs of every shape the
export uses (strides, dilations, pads, one tap) are compared with ConvInteger on random data. The
fused scaling, InstanceNormalization and the STFT as a conv round differently in the last bit, so
the full model is compared by sound (same length, spectra within MAX_BAND_DB) and each rewrite on
its own graph to float rounding. Exactness holds only where MLAS has exact uint8×int8 kernels
(VNNI/AMX); those tests are skipped elsewhere. Every other CPU gets the fused model (convs as
exported, the float rewrites only), tested everywhere, as is the selection logic.
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
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.model.rewrite.cpu_model import (
    FUSED_MODEL_FILENAME,
    GEMM_MODEL_FILENAME,
    MAX_BAND_DB,
    CpuModelError,
    band_distance_db,
    build_cpu_model,
    check_equivalent,
    check_exact_kernels,
    cpu_signature,
    ensure_cpu_model,
    has_exact_fast_u8s8,
    may_saturate,
)
from wyoming_kokoro.model.sessions import session_options

EXACT_HERE = has_exact_fast_u8s8(cpu_signature())
needs_exact_kernels = pytest.mark.skipif(not EXACT_HERE, reason="this CPU has no AVX2/VNNI/AMX u8×s8 kernels")


def session(path: Path | bytes) -> ort.InferenceSession:
    source = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(source, sess_options=session_options(2), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def int8_model(cache_dir: Path) -> Path:
    return ensure_model("auto", cache_dir)


@pytest.fixture(scope="module")
def gemm_model(int8_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cpu_model(int8_model, tmp_path_factory.mktemp("gemm") / GEMM_MODEL_FILENAME)


@pytest.fixture(scope="module")
def exact_model(int8_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cpu_model(int8_model, tmp_path_factory.mktemp("exact") / "exact.onnx", exact=True)


@pytest.fixture(scope="module")
def fused_model(int8_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cpu_model(int8_model, tmp_path_factory.mktemp("fused") / FUSED_MODEL_FILENAME, convs=False)


@pytest.fixture(scope="module")
def sessions(int8_model: Path, gemm_model: Path) -> tuple[ort.InferenceSession, ort.InferenceSession]:
    return session(int8_model), session(gemm_model)


@pytest.fixture(scope="module")
def voices(cache_dir: Path) -> dict[str, npt.NDArray[np.float32]]:
    return load_voices(ensure_voices("auto", cache_dir))


def feeds_for(ids: list[int], table: npt.NDArray[np.float32]) -> dict[str, npt.NDArray[Any]]:
    return {
        "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
        "style": table[len(ids) - 1].reshape(1, -1).astype(np.float32),
        "speed": np.array([1.0], dtype=np.float32),
    }


def test_cpu_signature_keeps_only_the_flags_that_matter() -> None:
    info = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni amx_tile amx_int8\n"
    signature = cpu_signature(info)
    assert signature.endswith(":amx_int8,avx2,avx512_vnni")
    assert cpu_signature("flags : fpu sse avx2\n").endswith(":avx2")
    assert cpu_signature("flags : fpu sse sse4_1\n").endswith(":none")
    assert has_exact_fast_u8s8("x86_64:avx512_vnni")
    assert has_exact_fast_u8s8("x86_64:avx_vnni")
    assert has_exact_fast_u8s8("x86_64:avx2")  # saturating 16-bit pair sums, which the rewrite avoids
    assert not has_exact_fast_u8s8("x86_64:none")  # not measured there: the fused model
    assert not has_exact_fast_u8s8("aarch64:none")


def test_may_saturate_knows_avx2s_pair_sums() -> None:
    def weights(*rows: int) -> npt.NDArray[np.int8]:
        return np.array(rows, dtype=np.int8).reshape(-1, 1)

    assert not may_saturate(weights(100, 28, -128, 0, 127, -128))  # 255 · 128 fits 16 bits
    assert may_saturate(weights(100, 29))
    assert may_saturate(weights(0, 0, -100, -29))
    assert not may_saturate(weights(0, 127, 127, 0))  # rows 1 and 2 are not summed together
    assert may_saturate(weights(0, 0, 120, 120, 0))  # an odd number of rows
    assert not may_saturate(weights(127))
    # The kernel check's worst cases stay within what the rewrite allows (else a correct AVX2
    # kernel would fail it) and reach its limit.
    from wyoming_kokoro.model.rewrite.cpu_model import kernel_check_weights

    check = kernel_check_weights(np.random.default_rng(0))
    assert not may_saturate(check)
    assert may_saturate(np.vstack([np.zeros((1, check.shape[1]), np.int8), check]))  # pairs shifted


def test_every_conv_becomes_a_matmul_and_nothing_else_changes(
    int8_model: Path, gemm_model: Path, exact_model: Path, fused_model: Path
) -> None:
    ops = (
        "ConvInteger",
        "MatMulInteger",
        "MatMulIntegerToFloat",
        "InstanceNormalization",
        "ReduceMean",
        "STFT",
        "Conv",
        "Pow",
    )
    count = {
        name: {op: sum(n.op_type == op for n in onnx.load(str(path)).graph.node) for op in ops}
        for name, path in (
            ("int8", int8_model),
            ("gemm", gemm_model),
            ("exact", exact_model),
            ("fused", fused_model),
        )
    }
    assert count["int8"]["ConvInteger"] == 87
    # All but the two convs whose weights could saturate AVX2's 16-bit pair sums (F0_conv, N_conv).
    convs, kept = 85, 2
    matmuls = count["int8"]["MatMulInteger"]
    assert count["exact"] == {**count["int8"], "ConvInteger": kept, "MatMulInteger": matmuls + convs}
    # Every conv's rescale is fused; every AdaIN normalization (two ReduceMeans) is one op.
    assert count["gemm"]["ConvInteger"] == kept
    assert count["gemm"]["MatMulIntegerToFloat"] == count["int8"]["MatMulIntegerToFloat"] + convs
    assert count["gemm"]["MatMulInteger"] == matmuls
    assert count["gemm"]["InstanceNormalization"] == 62
    assert count["gemm"]["ReduceMean"] == count["int8"]["ReduceMean"] - 2 * 62
    # The vocoder's one STFT is a float conv.
    assert (count["int8"]["STFT"], count["gemm"]["STFT"], count["exact"]["STFT"]) == (1, 0, 1)
    assert count["gemm"]["Conv"] == count["int8"]["Conv"] + 1
    assert (count["int8"]["Pow"], count["gemm"]["Pow"]) == (50, 0)  # all squares
    # The fused model: the same float rewrites, the convs and their rescaling as exported.
    float_ops = ("InstanceNormalization", "ReduceMean", "STFT", "Conv", "Pow")
    assert {op: count["fused"][op] for op in float_ops} == {op: count["gemm"][op] for op in float_ops}
    assert {op: count["fused"][op] for op in ops[:3]} == {op: count["int8"][op] for op in ops[:3]}
    before, after = onnx.load(str(int8_model)), onnx.load(str(gemm_model))
    assert [i.name for i in after.graph.input] == [i.name for i in before.graph.input]
    assert [o.name for o in after.graph.output] == [o.name for o in before.graph.output]
    # The uint8 conv weights are dropped, the int8 ones take their place: about the same size.
    assert 0.95 < gemm_model.stat().st_size / int8_model.stat().st_size < 1.05


@needs_exact_kernels
@pytest.mark.parametrize("length", [1, 27, 120])
def test_conv_rewrite_alone_gives_the_int8_models_audio_exactly(
    int8_model: Path, exact_model: Path, voices: dict[str, npt.NDArray[np.float32]], length: int
) -> None:
    reference, candidate = session(int8_model), session(exact_model)
    ids = ([50, 156, 86, 54, 57, 4, 16, 83, 156, 102, 68] * 20)[:length]
    for voice in ("af_heart", "am_adam"):
        want = reference.run(None, feeds_for(ids, voices[voice]))[0]
        got = candidate.run(None, feeds_for(ids, voices[voice]))[0]
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("rewritten", [pytest.param("gemm_model", marks=needs_exact_kernels), "fused_model"])
@pytest.mark.parametrize(
    "text",
    [
        "Turned on the kitchen lights.",
        "Good morning! Your first meeting starts at nine thirty, and it will rain after three.",
    ],
)
def test_rewritten_models_sound_like_the_int8_model(
    int8_model: Path,
    voices: dict[str, npt.NDArray[np.float32]],
    request: pytest.FixtureRequest,
    rewritten: str,
    text: str,
) -> None:
    from wyoming_kokoro.text.frontend import TextFrontend

    frontend = TextFrontend()
    ids = frontend.tokenize(frontend.phonemize(text, "en-us"))
    reference, candidate = session(int8_model), session(request.getfixturevalue(rewritten))
    for voice in ("af_heart", "am_adam", "bf_emma"):
        want = reference.run(None, feeds_for(ids, voices[voice]))[0].ravel()
        got = candidate.run(None, feeds_for(ids, voices[voice]))[0].ravel()
        assert got.shape == want.shape  # same durations: nothing before the vocoder moved
        # Under 1 dB where measured (gemm 0.57–0.84, fused 0.76 median); the on-machine check's
        # threshold is 2 dB.
        assert band_distance_db(want, got) < 1.2


def test_band_distance_tells_a_rounding_difference_from_a_different_sound() -> None:
    rng = np.random.default_rng(3)
    time = np.arange(48000) / 24000
    voice_like = (np.sin(2 * np.pi * 180 * time) + 0.3 * np.sin(2 * np.pi * 2300 * time)) * 0.1
    voice_like += rng.standard_normal(time.size) * 1e-3
    assert band_distance_db(voice_like, voice_like) == 0.0
    assert band_distance_db(voice_like, voice_like * 1.01) < 0.1  # 0.09 dB louder everywhere
    assert band_distance_db(voice_like, np.clip(voice_like, -0.02, 0.02)) > MAX_BAND_DB  # clipped
    assert band_distance_db(voice_like, voice_like * 0.5) > MAX_BAND_DB  # 6 dB quieter
    assert band_distance_db(voice_like, voice_like[:-600]) == float("inf")  # a frame shorter


def adain_model(channels: int) -> onnx.ModelProto:
    """The export's AdaIN normalization as nine ops, with γ and β as inputs like the style's."""
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=1),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "centred"], ["square"]),
        helper.make_node("ReduceMean", ["square", "axes"], ["var"], keepdims=1),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["normed"]),
        helper.make_node("Mul", ["gamma", "normed"], ["scaled"]),
        helper.make_node("Add", ["scaled", "beta"], ["y"]),
    ]
    shape = [1, channels, 1]
    graph = helper.make_graph(
        nodes,
        "adain",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, None]),
            helper.make_tensor_value_info("gamma", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("beta", TensorProto.FLOAT, shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array([2], np.int64), "axes"),
            numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
        ],
    )
    return helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("frames", [2, 7, 5000])  # 1 frame: both are 0 / sqrt(ε) of rounding noise
def test_adain_becomes_one_instance_normalization(frames: int) -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_instance_norms

    model = adain_model(16)
    rewritten = adain_model(16)
    assert rewrite_instance_norms(rewritten.graph) == 1
    assert [n.op_type for n in rewritten.graph.node] == ["Reshape", "Reshape", "InstanceNormalization"]
    rng = np.random.default_rng(frames)
    feeds = {
        "x": rng.standard_normal((1, 16, frames)).astype(np.float32) * 4 + 1,
        "gamma": rng.standard_normal((1, 16, 1)).astype(np.float32) + 1,
        "beta": rng.standard_normal((1, 16, 1)).astype(np.float32),
    }
    want = session(model.SerializeToString()).run(None, feeds)[0]
    got = session(rewritten.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_normalization_whose_parts_are_used_elsewhere_is_left_alone() -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_instance_norms

    model = adain_model(4)
    model.graph.output.append(helper.make_tensor_value_info("mean", TensorProto.FLOAT, None))
    model.graph.node.append(helper.make_node("Identity", ["std"], ["std_copy"]))
    assert rewrite_instance_norms(model.graph) == 0
    assert len(model.graph.node) == 10


def stft_model(shape_from_reshape: bool = True) -> onnx.ModelProto:
    """The export's STFT: a [1, T] signal made by a Reshape, 20-point Hann frames, hop 5."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(20) / 20)).astype(np.float32)
    nodes = [helper.make_node("STFT", ["signal", "step", "window", "length"], ["y"], onesided=1)]
    if shape_from_reshape:
        nodes.insert(0, helper.make_node("Reshape", ["x", "shape"], ["signal"]))
    graph = helper.make_graph(
        nodes,
        "stft",
        [helper.make_tensor_value_info("x" if shape_from_reshape else "signal", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array([1, -1], np.int64), "shape"),
            numpy_helper.from_array(np.array(5, np.int64), "step"),
            numpy_helper.from_array(window, "window"),
            numpy_helper.from_array(np.array(20, np.int64), "length"),
        ],
    )
    return helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])


def test_stft_becomes_a_conv_that_keeps_the_ops_rounding() -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_stft

    rewritten = stft_model()
    assert rewrite_stft(rewritten.graph) == 1
    assert "STFT" not in [n.op_type for n in rewritten.graph.node]
    # A harmonic-source-like signal: a few harmonics and a little noise, 3 s at 24 kHz.
    rng = np.random.default_rng(7)
    time = np.arange(72000) / 24000
    x = 0.1 * sum(np.sin(2 * np.pi * 140 * h * time) / h for h in range(1, 8))
    x = (x + rng.standard_normal(time.size) * 0.003).astype(np.float32)[None, :]
    want = session(stft_model().SerializeToString()).run(None, {"x": x})[0]
    got = session(rewritten.SerializeToString()).run(None, {"x": x})[0]
    assert got.shape == want.shape == (1, (72000 - 20) // 5 + 1, 11, 2)
    np.testing.assert_allclose(got, want, atol=1e-5 * float(np.abs(want).max()))
    # DC and Nyquist have no imaginary part, only rounding noise, and the vocoder takes its
    # phase: the op's own basis keeps the sign of that noise (a textbook basis makes it 0).
    for k in (0, 10):
        noise_want, noise_got = want[0, :, k, 1], got[0, :, k, 1]
        assert np.abs(noise_want).max() < 1e-5 and np.abs(noise_want).max() > 0
        assert np.mean(np.sign(noise_got) == np.sign(noise_want)) > 0.9


def test_squares_become_products_with_the_same_bits() -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_squares

    def powers() -> onnx.ModelProto:
        graph = helper.make_graph(
            [
                helper.make_node("Pow", ["x", "two"], ["square"]),
                helper.make_node("Pow", ["x", "three"], ["cube"]),
            ],
            "powers",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
            [
                helper.make_tensor_value_info("square", TensorProto.FLOAT, None),
                helper.make_tensor_value_info("cube", TensorProto.FLOAT, None),
            ],
            [
                numpy_helper.from_array(np.array(2.0, np.float32), "two"),
                numpy_helper.from_array(np.array(3.0, np.float32), "three"),
            ],
        )
        return helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])

    rewritten = powers()
    assert rewrite_squares(rewritten.graph) == 1
    assert [n.op_type for n in rewritten.graph.node] == ["Mul", "Pow"]
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(100_000) * np.exp(rng.uniform(-20, 20, 100_000))).astype(np.float32)
    want = session(powers().SerializeToString()).run(None, {"x": x})
    got = session(rewritten.SerializeToString()).run(None, {"x": x})
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_an_stft_of_unknown_signal_rank_is_left_alone() -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_stft

    model = stft_model(shape_from_reshape=False)  # could be complex, [batch, T, 2]
    assert rewrite_stft(model.graph) == 0
    assert [n.op_type for n in model.graph.node] == ["STFT"]


def conv_with_bias_model(seed: int, bias: bool) -> onnx.ModelProto:
    """DynamicQuantizeLinear → ConvInteger → (+ int32 bias) → Cast → × (x_scale · w_scale): the
    export's pattern around each conv, with the bias quantized at run time as the export does."""
    rng = np.random.default_rng(seed)
    zero = 128
    weight = rng.integers(zero - 64, zero + 64, (24, 16, 5)).astype(np.uint8)
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
        helper.make_node("ConvInteger", ["xq", "w", "xz", "wz"], ["acc"], name="conv", pads=[2, 2]),
        helper.make_node("Mul", ["xs", "ws"], ["scale"]),
    ]
    summed = "acc"
    if bias:
        nodes += [
            helper.make_node("Div", ["b", "scale"], ["b_div"]),
            helper.make_node("Round", ["b_div"], ["b_round"]),
            helper.make_node("Cast", ["b_round"], ["b_int"], to=TensorProto.INT32),
            helper.make_node("Reshape", ["b_int", "b_shape"], ["b_q"]),
            helper.make_node("Add", ["acc", "b_q"], ["acc_b"]),
        ]
        summed = "acc_b"
    nodes += [
        helper.make_node("Cast", [summed], ["acc_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["acc_f", "scale"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(np.array(zero, np.uint8), "wz"),
            numpy_helper.from_array(np.array(0.01, np.float32), "ws"),
            numpy_helper.from_array(rng.standard_normal(24).astype(np.float32), "b"),
            numpy_helper.from_array(np.array([1, 24, 1], np.int64), "b_shape"),
        ],
    )
    return helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])


@needs_exact_kernels
@pytest.mark.parametrize("bias", [True, False])
def test_conv_rescale_is_fused_into_matmul_integer_to_float(bias: bool) -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import fuse_conv_scaling, rewrite_convs

    model = conv_with_bias_model(5, bias)
    rewritten = conv_with_bias_model(5, bias)
    assert rewrite_convs(rewritten.graph) == (1, 0)
    assert fuse_conv_scaling(rewritten.graph) == 1
    rewritten.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    ops = [n.op_type for n in rewritten.graph.node]
    assert "MatMulIntegerToFloat" in ops and "MatMulInteger" not in ops
    assert ops.count("Cast") == (2 if bias else 0)  # the bias's own int → float casts only
    x = np.random.default_rng(1).standard_normal((1, 16, 300)).astype(np.float32) * 2
    want = session(model.SerializeToString()).run(None, {"x": x})[0]
    got = session(rewritten.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


def conv_integer_model(
    c_in: int, c_out: int, taps: int, stride: int, dilation: int, pads: tuple[int, int], seed: int
) -> onnx.ModelProto:
    """DynamicQuantizeLinear → ConvInteger with uint8 weights and a zero point, as the export has
    (within ±64 of it, as the export's are, so AVX2's pair sums cannot saturate)."""
    rng = np.random.default_rng(seed)
    zero = int(rng.integers(100, 156))
    weight = rng.integers(zero - 64, zero + 65, (c_out, c_in, taps)).astype(np.uint8)
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
    # build_cpu_model insists on the Kokoro interface; rewrite the graph through its internals.
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_convs

    rewritten = onnx.load(str(source))
    assert rewrite_convs(rewritten.graph) == (1, 0)
    x = np.random.default_rng(frames).standard_normal((1, 16, frames)).astype(np.float32) * 3
    want = session(model.SerializeToString()).run(None, {"x": x})[0]
    got = session(rewritten.SerializeToString()).run(None, {"x": x})[0]
    assert got.dtype == want.dtype == np.int32
    np.testing.assert_array_equal(got, want)


def test_convs_it_cannot_rewrite_exactly_are_left_alone(tmp_path: Path) -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_convs

    model = conv_integer_model(4, 4, 3, 1, 1, (1, 1), seed=1)
    weight = model.graph.initializer[0]
    values = numpy_helper.to_array(weight).copy()
    values[0, 0, 0], values[0, 0, 1] = 0, 255  # 0 − zero point and 255 − zero point cannot both fit int8
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(values, "w"))
    assert rewrite_convs(model.graph) == (0, 1)
    assert [n.op_type for n in model.graph.node] == ["DynamicQuantizeLinear", "ConvInteger"]


def test_convs_whose_weights_could_saturate_avx2_are_left_alone() -> None:
    from wyoming_kokoro.model.rewrite.cpu_rewrites import rewrite_convs

    def rewrite(change: dict[tuple[int, int, int], int]) -> tuple[int, int]:
        model = conv_integer_model(4, 4, 3, 1, 1, (1, 1), seed=1)
        values = numpy_helper.to_array(model.graph.initializer[0]).copy()
        zero = int(numpy_helper.to_array(model.graph.initializer[1]))
        for index, centred in change.items():
            values[index] = zero + centred
        model.graph.initializer[0].CopyFrom(numpy_helper.from_array(values, "w"))
        return rewrite_convs(model.graph)

    assert rewrite({}) == (1, 0)
    # Taps 0 and 1 of input channel 0 are weight rows 0 and 4, not summed together; their partners
    # (rows 1 and 5: channel 1) of the other sign.
    large = {(0, 0, 0): 127, (0, 0, 1): 127, (0, 1, 0): -64, (0, 1, 1): -64}
    assert rewrite(large) == (1, 0)
    assert rewrite({**large, (0, 1, 0): 1}) == (1, 0)  # rows 0 and 1: 127 + 1 fits
    assert rewrite({**large, (0, 1, 0): 2}) == (0, 1)  # 127 + 2 does not


class _Saturating:
    """A session whose audio is clipped: what products through a saturating 16-bit intermediate
    do to the sound."""

    def __init__(self, inner: ort.InferenceSession) -> None:
        self.inner = inner

    def run(self, outputs: Any, feeds: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
        audio = self.inner.run(outputs, feeds)[0]
        return [np.clip(audio, -0.02, 0.02)]


def test_check_equivalent_rejects_a_different_sound(
    sessions: tuple[ort.InferenceSession, ort.InferenceSession],
    voices: dict[str, npt.NDArray[np.float32]],
) -> None:
    reference = sessions[0]
    check_equivalent(reference, reference, voices["af_heart"])
    with pytest.raises(CpuModelError, match="sounds different"):
        check_equivalent(reference, _Saturating(reference), voices["af_heart"])


@needs_exact_kernels
def test_check_equivalent_accepts_the_rearranged_model(
    sessions: tuple[ort.InferenceSession, ort.InferenceSession],
    voices: dict[str, npt.NDArray[np.float32]],
) -> None:
    for voice in ("af_heart", "am_michael", "bf_isabella"):
        check_equivalent(*sessions, voices[voice])


@needs_exact_kernels
def test_integer_kernels_are_exact_here() -> None:
    check_exact_kernels()  # raises CpuModelError where MatMulInteger u8×s8 saturates


def test_ensure_builds_once_checks_and_rebuilds_when_damaged(
    int8_model: Path, tmp_path: Path, voices: dict[str, npt.NDArray[np.float32]]
) -> None:
    voice = voices["af_heart"]
    made: list[Path] = []

    def make(path: Path) -> ort.InferenceSession:
        made.append(path)
        return session(path)

    built = ensure_cpu_model(int8_model, tmp_path, make, voice)
    assert built == tmp_path / (GEMM_MODEL_FILENAME if EXACT_HERE else FUSED_MODEL_FILENAME)
    assert made == [int8_model, built]  # checked against the export before it is trusted
    stamp = json.loads(built.with_name(built.name + ".build.json").read_text())
    assert stamp["checked_on"] == cpu_signature()

    made.clear()
    mtime = built.stat().st_mtime_ns
    assert ensure_cpu_model(int8_model, tmp_path, make, voice) == built
    assert made == [] and built.stat().st_mtime_ns == mtime  # reused: no build, no check
    # The engine passes the default model's already-verified hash: the same stamp, still reused.
    assert ensure_cpu_model(int8_model, tmp_path, make, voice, source_sha256=MODEL_SHA256) == built
    assert made == [] and built.stat().st_mtime_ns == mtime

    with built.open("r+b") as file:  # a damaged cache file is rebuilt, never loaded
        file.seek(built.stat().st_size // 2)
        byte = file.read(1)
        file.seek(-1, 1)
        file.write(bytes([byte[0] ^ 0xFF]))
    assert ensure_cpu_model(int8_model, tmp_path, make, voice) == built
    assert made == [int8_model, built]

    made.clear()  # checked on another CPU (of the same kind): checked again here
    other = "x86_64:avx_vnni" if EXACT_HERE else "aarch64:none"
    assert ensure_cpu_model(int8_model, tmp_path, make, voice, signature=other) == built
    assert made == [int8_model, built]


def test_the_fused_model_is_built_only_from_the_export(fused_model: Path, tmp_path: Path) -> None:
    # A model whose normalizations are already fused (or another export) has nothing to rewrite.
    with pytest.raises(CpuModelError, match="no normalizations written out"):
        build_cpu_model(fused_model, tmp_path / "again.onnx", convs=False)
    assert not (tmp_path / "again.onnx").exists()
    with pytest.raises(ValueError, match="conv rewrite alone"):
        build_cpu_model(fused_model, tmp_path / "nothing.onnx", convs=False, exact=True)


def test_ensure_builds_the_fused_model_without_exact_kernels_and_refuses_failed_checks(
    int8_model: Path, tmp_path: Path, voices: dict[str, npt.NDArray[np.float32]]
) -> None:
    voice = voices["af_heart"]
    fused = tmp_path / FUSED_MODEL_FILENAME
    # An ARM board: no uint8 × int8 kernel check (it would fail on a CPU like that), the fused model.
    assert ensure_cpu_model(int8_model, tmp_path, session, voice, signature="aarch64:none") == fused
    assert not (tmp_path / GEMM_MODEL_FILENAME).exists()
    fused.unlink()

    def broken(path: Path) -> Any:
        return _Saturating(session(path)) if path.name == FUSED_MODEL_FILENAME else session(path)

    with pytest.raises(CpuModelError, match="sounds different"):
        ensure_cpu_model(int8_model, tmp_path, broken, voice, signature="x86_64:none")
    assert not fused.exists()  # not left behind for the next start

    def unloadable(path: Path) -> Any:  # e.g. an onnxruntime without a kernel the graph needs
        if path.name == FUSED_MODEL_FILENAME:
            raise RuntimeError("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED")
        return session(path)

    other = tmp_path / "other"  # this cache remembers the failure above (tested below)
    with pytest.raises(CpuModelError, match=r"cannot run the rearranged model.*NOT_IMPLEMENTED"):
        ensure_cpu_model(int8_model, other, unloadable, voice, signature="x86_64:none")
    assert not (other / FUSED_MODEL_FILENAME).exists()


def test_a_gemm_model_failing_its_checks_falls_back_to_the_fused_model(
    int8_model: Path, tmp_path: Path, voices: dict[str, npt.NDArray[np.float32]]
) -> None:
    # A CPU that reports VNNI: where its kernels are not exact for the rewritten weights the kernel
    # check fails, elsewhere (AVX2 and VNNI CPUs) the sound check (the gemm model made to
    # saturate); the fused model is next best either way.
    def broken(path: Path) -> Any:
        return _Saturating(session(path)) if path.name == GEMM_MODEL_FILENAME else session(path)

    voice = voices["af_heart"]
    built = ensure_cpu_model(int8_model, tmp_path, broken, voice, signature="x86_64:avx512_vnni")
    assert built == tmp_path / FUSED_MODEL_FILENAME
    assert not (tmp_path / GEMM_MODEL_FILENAME).exists()

    # The next start does not build and check the gemm model again (~10 s) to fail the same way.
    made: list[Path] = []

    def counted(path: Path) -> Any:
        made.append(path)
        return broken(path)

    assert ensure_cpu_model(int8_model, tmp_path, counted, voice, signature="x86_64:avx512_vnni") == built
    assert made == []
    # On another CPU (a cache moved there) it is tried again.
    assert ensure_cpu_model(int8_model, tmp_path, counted, voice, signature="x86_64:avx_vnni") == built
    assert tmp_path / GEMM_MODEL_FILENAME in made


def test_a_model_that_failed_is_tried_again_after_an_onnx_runtime_upgrade(
    int8_model: Path, tmp_path: Path, voices: dict[str, npt.NDArray[np.float32]]
) -> None:
    def unloadable(path: Path) -> Any:
        if path.name == FUSED_MODEL_FILENAME:
            raise RuntimeError("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED")
        return session(path)

    voice = voices["af_heart"]
    with pytest.raises(CpuModelError, match="NOT_IMPLEMENTED"):
        ensure_cpu_model(int8_model, tmp_path, unloadable, voice, signature="aarch64:none")
    with pytest.raises(CpuModelError, match=r"NOT_IMPLEMENTED.*earlier start"):
        ensure_cpu_model(int8_model, tmp_path, session, voice, signature="aarch64:none")
    failed = tmp_path / (FUSED_MODEL_FILENAME + ".failed.json")
    record = json.loads(failed.read_text())
    assert record["onnxruntime"] == ort.__version__
    failed.write_text(json.dumps({**record, "onnxruntime": "0.0.1"}))  # another version failed
    fused = ensure_cpu_model(int8_model, tmp_path, session, voice, signature="aarch64:none")
    assert fused == tmp_path / FUSED_MODEL_FILENAME
    assert not failed.exists()


def test_engine_runs_the_model_rewritten_for_this_cpu(engine: KokoroEngine) -> None:
    assert engine.model_path.name == (GEMM_MODEL_FILENAME if EXACT_HERE else FUSED_MODEL_FILENAME)
