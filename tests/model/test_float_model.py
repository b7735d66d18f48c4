"""Tests for wyoming_kokoro.model.rewrite.float_model with the real int8 model, real voices and ONNX Runtime.

The float models are built once for the module; each (model, length) is synthesized once and
shared by the tests. The slow part is the 510-token runs (~26 s of audio each for fp32 and fp16);
they stay because 510 tokens is the model's input limit. The int8 reference length at 510 comes
from the int8 duration predictor alone (checked against full int8 runs at 10 and 100 tokens).

Why the tolerances are what they are (measured on the default int8 model, voice af_heart):

* Length: the float models compute what the int8 graph computes without rounding activations to
  8 bits, so the predicted durations' logits agree to a correlation of 0.9997 but Round() flips on
  a few tokens by one 600-sample frame (10 tokens: 41 vs 43 frames; 100: equal; 250: 554 vs 560;
  510: equal). The bound is 2 %, or two frames for inputs so short that one frame is > 1 %.
* Similarity: waveforms are not comparable sample by sample (the harmonic source integrates F0
  into a phase, so a tiny F0 difference decorrelates the waves: correlation 0.07 to 0.65), and
  one-frame duration shifts misalign spectrograms. So log-mel spectrograms are aligned with DTW
  and correlated. int8 vs fp32/fp16: 0.990-0.995. int8 against itself with another voice of the
  same kind (af_bella): 0.950-0.963; male voice (am_adam): 0.903; other text: 0.813. The 0.98
  threshold separates "same speech, different rounding" from "different speech" with margin on
  both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from wyoming_kokoro.assets import ensure_model, ensure_voices, load_voices
from wyoming_kokoro.model.rewrite import float16
from wyoming_kokoro.model.rewrite.float_model import (
    FLOAT_MODEL_FILENAMES,
    ModelBuildError,
    build_float_model,
    ensure_float_model,
    quantized_op_types,
)
from wyoming_kokoro.model.rewrite.frame_cap import MAX_PIECE_FRAMES

SAMPLE_RATE = 24_000
SAMPLES_PER_FRAME = 600  # one predicted-duration frame (hop 300, upsampled x2)
LENGTHS = (10, 100, 510)
MIN_SPECTRAL_CORRELATION = 0.98

# Phonemes (Kokoro's vocabulary), repeated to reach any length; real speech, no G2P needed.
PHONEMES = (
    "ðə kwˈɪk bɹˈaʊn fˈɑːks dʒˈʌmps ˌoʊvɚ ðə lˈeɪzi dˈɑːɡ. ʃiː sˈɛlz sˈiː ʃˈɛlz baɪ ðə "
    "sˈiːʃɔːɹ, ænd ɪts ə bjˈuːɾɪfəl dˈeɪ! "
)

Audio = npt.NDArray[np.float32]


def phoneme_ids(count: int) -> list[int]:
    vocab: dict[str, int] = json.loads(
        resources.files("wyoming_kokoro").joinpath("data/vocab.json").read_text("utf-8")
    )
    ids = [vocab[ch] for ch in PHONEMES * (count // 40 + 1) if ch in vocab]
    return ids[:count]


def make_session(model: Path | bytes, *, optimize: bool = True) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(
        model if isinstance(model, bytes) else str(model),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )


def model_inputs(voice: npt.NDArray[np.float32], count: int) -> dict[str, npt.NDArray[Any]]:
    ids = phoneme_ids(count)
    return {
        "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
        "style": voice[len(ids) - 1],
        "speed": np.ones(1, dtype=np.float32),
    }


def synthesize(session: ort.InferenceSession, voice: npt.NDArray[np.float32], count: int) -> Audio:
    audio: Audio = session.run(None, model_inputs(voice, count))[0]
    return audio


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def int8_model(cache_dir: Path) -> Path:
    return ensure_model("auto", cache_dir)


@pytest.fixture(scope="module")
def voice(cache_dir: Path) -> npt.NDArray[np.float32]:
    return load_voices(ensure_voices("auto", cache_dir))["af_heart"]


@pytest.fixture(scope="module")
def float_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("float-models")


@pytest.fixture(scope="module")
def models(int8_model: Path, float_cache: Path) -> dict[str, Path]:
    return {
        "int8": int8_model,
        "fp32": ensure_float_model(int8_model, float_cache, "fp32"),
        "fp16": ensure_float_model(int8_model, float_cache, "fp16"),
    }


@pytest.fixture(scope="module")
def loaded(models: dict[str, Path]) -> dict[str, onnx.ModelProto]:
    """The int8 and fp32 graphs, parsed once (read-only: tests must not modify them)."""
    return {name: onnx.load(str(models[name])) for name in ("int8", "fp32")}


@pytest.fixture(scope="module")
def synth(models: dict[str, Path], voice: npt.NDArray[np.float32]) -> Callable[[str, int], Audio]:
    """synth(model, n_tokens) -> audio, each computed once per module."""
    sessions: dict[str, ort.InferenceSession] = {}
    results: dict[tuple[str, int], Audio] = {}

    def run(name: str, count: int) -> Audio:
        if (name, count) not in results:
            if name not in sessions:
                sessions[name] = make_session(models[name])
            results[name, count] = synthesize(sessions[name], voice, count)
        return results[name, count]

    return run


@pytest.fixture(scope="module")
def int8_length(loaded: dict[str, onnx.ModelProto], voice: npt.NDArray[np.float32]) -> Callable[[int], int]:
    """int8_length(n_tokens) -> samples the int8 model will output, from its duration predictor
    alone (the graph cut after the durations' Clip): ~1 s instead of ~45 s at 510 tokens.
    test_int8_length_is_its_predicted_frames checks this against full int8 runs."""
    (clip,) = [node for node in loaded["int8"].graph.node if node.op_type == "Clip"]
    session = make_session(subgraph(loaded["int8"], [], [clip.output[0]]))

    def length(count: int) -> int:
        durations = session.run(None, model_inputs(voice, count))[0]
        return int(durations.sum()) * SAMPLES_PER_FRAME

    return length


# --------------------------------------------------------------------------------------------
# Structure


def test_float_models_have_no_quantized_ops(models: dict[str, Path]) -> None:
    assert quantized_op_types(models["int8"]) == {
        "ConvInteger",
        "DynamicQuantizeLinear",
        "DynamicQuantizeLSTM",
        "MatMulInteger",
    }
    assert quantized_op_types(models["fp32"]) == set()
    assert quantized_op_types(models["fp16"]) == set()


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_float_models_keep_the_interface_and_store_float_weights(
    models: dict[str, Path], loaded: dict[str, onnx.ModelProto], precision: str
) -> None:
    model = loaded["fp32"] if precision == "fp32" else onnx.load(str(models[precision]))
    io_types = {v.name: v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)}
    assert io_types == {
        "tokens": TensorProto.INT64,
        "style": TensorProto.FLOAT,
        "speed": TensorProto.FLOAT,
        "audio": TensorProto.FLOAT,
    }
    weight_type = TensorProto.FLOAT if precision == "fp32" else TensorProto.FLOAT16
    big = [t for t in model.graph.initializer if np.prod(t.dims) >= 4096]
    assert big, "no weights found"
    assert {t.data_type for t in big} == {weight_type}
    if precision == "fp16":
        # The fp32 islands: STFT, the source's CumSum and the inverse STFT run in float32.
        assert {"STFT", "CumSum", "Cast"} <= {n.op_type for n in model.graph.node}


# --------------------------------------------------------------------------------------------
# Exactness of each rewrite


def subgraph(model: onnx.ModelProto, inputs: Iterable[str], outputs: list[str]) -> bytes:
    """The part of *model* that computes *outputs* from *inputs* (plus the model's own inputs)."""
    graph = model.graph
    producer = {name: node for node in graph.node for name in node.output}
    initializers = {t.name: t for t in graph.initializer}
    model_inputs = {v.name: v for v in graph.input}
    cut = set(inputs)
    needed: list[onnx.NodeProto] = []
    used_inits: set[str] = set()
    used_inputs: set[str] = set()
    seen: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if not name or name in seen or name in cut:
            continue
        seen.add(name)
        if name in initializers:
            used_inits.add(name)
        elif name in model_inputs:
            used_inputs.add(name)
        else:
            node = producer[name]
            needed.append(node)
            stack.extend(node.input)
    # Keep the original (topological) order; a node is identified by its first output.
    position = {node.output[0]: i for i, node in enumerate(graph.node)}
    nodes = sorted({position[n.output[0]]: n for n in needed}.items())
    graph_inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, None) for x in cut]
    graph_inputs += [model_inputs[name] for name in sorted(used_inputs)]
    sub = helper.make_model(
        helper.make_graph(
            [node for _, node in nodes],
            "pattern",
            graph_inputs,
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, None) for y in outputs],
            [initializers[name] for name in sorted(used_inits)],
        ),
        opset_imports=list(model.opset_import),
        ir_version=model.ir_version,
    )
    return sub.SerializeToString()


def losslessly_quantizable(shape: tuple[int, ...], rng: np.random.Generator) -> Audio:
    """Values k * 0.01 with k in [-100, 155], both ends present: DynamicQuantizeLinear recovers
    scale 0.01 and zero point 100 exactly, so the int8 graph's activation rounding is a no-op."""
    k = rng.integers(-100, 156, size=shape)
    k.flat[0], k.flat[1] = -100, 155
    return (k * np.float32(0.01)).astype(np.float32)


@pytest.mark.parametrize(
    ("op_type", "tolerance"),
    [
        # Only float rounding differs: measured 7e-7 of the output's peak.
        ("MatMulInteger", 1e-5),
        # The int8 graph floors the conv bias to the activation x weight scale; the float graph
        # adds the exact bias: measured up to 8e-5 of the peak.
        ("ConvInteger", 5e-4),
    ],
)
def test_rewritten_patterns_compute_what_int8_computes(
    loaded: dict[str, onnx.ModelProto], op_type: str, tolerance: float
) -> None:
    """Every MatMulInteger/ConvInteger pattern of the int8 graph and its float replacement, cut
    out of both models (they keep the tensor names at the pattern's ends) and fed the same
    input. A wrong weight layout, scale axis or zero point shows up as errors of order 1."""
    int8, fp32 = loaded["int8"], loaded["fp32"]
    fp32_nodes = {node.name: node for node in fp32.graph.node}
    fp32_inits = {t.name: t for t in fp32.graph.initializer}
    rng = np.random.default_rng(0)
    feeds: dict[str, Audio] = {}
    outputs: list[str] = []
    for node in int8.graph.node:
        if node.op_type != op_type:
            continue
        replacement = fp32_nodes[node.name]  # the float node keeps the quantized node's name
        assert replacement.op_type == {"MatMulInteger": "MatMul", "ConvInteger": "Conv"}[op_type]
        x, weight = replacement.input[0], fp32_inits[replacement.input[1]].dims
        shape = (1, 7, weight[0]) if op_type == "MatMulInteger" else (1, weight[1], 40)
        feeds.setdefault(x, losslessly_quantizable(shape, rng))
        outputs.append(replacement.output[0])
    assert len(outputs) == {"MatMulInteger": 148, "ConvInteger": 87}[op_type]

    expected = make_session(subgraph(int8, feeds, outputs)).run(outputs, feeds)
    actual = make_session(subgraph(fp32, feeds, outputs)).run(outputs, feeds)
    for name, want, got in zip(outputs, expected, actual, strict=True):
        error = np.abs(want - got).max() / np.abs(want).max()
        assert error < tolerance, f"{name}: relative error {error:.2e}"


def test_lstm_rewrite_matches_dynamic_quantize_lstm(loaded: dict[str, onnx.ModelProto]) -> None:
    """DynamicQuantizeLSTM also quantizes its input and hidden state at every step, so here the
    match is approximate: measured 3-4.4 % of the peak on random input. Mis-assigning the
    per-direction scales alone would be off by 10-35 %; a wrong transpose would not even run."""
    int8, fp32 = loaded["int8"], loaded["fp32"]
    fp32_nodes = {node.name: node for node in fp32.graph.node}
    fp32_inits = {t.name: t for t in fp32.graph.initializer}
    rng = np.random.default_rng(1)
    lstms = [n for n in int8.graph.node if n.op_type == "DynamicQuantizeLSTM"]
    assert len(lstms) == 6
    for node in lstms:
        lstm = fp32_nodes[node.name]
        assert lstm.op_type == "LSTM"
        # Cut at X and the initial states (zeros, as in the model), so no encoder comes along.
        x, h0, c0, y = lstm.input[0], lstm.input[5], lstm.input[6], lstm.output[0]
        assert (node.input[0], node.input[5], node.input[6]) == (x, h0, c0)
        input_size = fp32_inits[lstm.input[1]].dims[2]
        state = np.zeros((2, 1, 256), dtype=np.float32)
        feeds = {
            x: (rng.standard_normal((11, 1, input_size)) * 0.5).astype(np.float32),
            h0: state,
            c0: state,
        }
        want = make_session(subgraph(int8, feeds, [y])).run([y], feeds)[0]
        got = make_session(subgraph(fp32, feeds, [y])).run([y], feeds)[0]
        error = np.abs(want - got).max() / np.abs(want).max()
        assert error < 0.1, f"{node.name}: relative error {error:.3f}"


# --------------------------------------------------------------------------------------------
# End to end


@pytest.mark.parametrize("count", [10, 100])
def test_int8_length_is_its_predicted_frames(
    synth: Callable[[str, int], Audio], int8_length: Callable[[int], int], count: int
) -> None:
    assert len(synth("int8", count)) == int8_length(count)


@pytest.mark.parametrize("count", LENGTHS)
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_output_is_finite_and_as_long_as_int8(
    synth: Callable[[str, int], Audio],
    int8_length: Callable[[int], int],
    precision: str,
    count: int,
) -> None:
    audio = synth(precision, count)
    assert audio.dtype == np.float32
    assert np.isfinite(audio).all()
    assert 0.05 < np.abs(audio).max() < 2.0  # speech, not silence or blow-up
    # The float model's frames are capped (frame_cap.py); the export's are not.
    reference = min(int8_length(count), max(MAX_PIECE_FRAMES, count + 2) * SAMPLES_PER_FRAME)
    allowed = max(0.02 * reference, 2 * SAMPLES_PER_FRAME)
    assert abs(len(audio) - reference) <= allowed, (len(audio), reference)


@pytest.mark.parametrize("count", [10, 100])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_output_sounds_like_int8(synth: Callable[[str, int], Audio], precision: str, count: int) -> None:
    correlation = aligned_log_mel_correlation(synth("int8", count), synth(precision, count))
    assert correlation > MIN_SPECTRAL_CORRELATION


def test_fp16_numerics_stay_finite_with_fp32_islands(
    models: dict[str, Path], voice: npt.NDArray[np.float32]
) -> None:
    """ONNX Runtime's CPU provider runs most float16 nodes in float32 (it inserts casts), so the
    fp16 model on CPU cannot show float16 overflow. This test rounds every tensor outside the
    float32 islands to float16 in the fp32 graph instead. Measured: without the islands the
    output is all NaN from 50 tokens (~3 s) on; with them it is finite at 50, 100 and 510 tokens
    (510 takes ~2 min this way, too slow for the suite)."""
    model = onnx.load(str(models["fp32"]))
    keep_fp32 = float16.fp32_node_indices(list(model.graph.node))
    audio = synthesize(make_session(round_to_fp16(model, keep_fp32), optimize=False), voice, 50)
    assert np.isfinite(audio).all()
    assert 0.05 < np.abs(audio).max() < 2.0


def round_to_fp16(model: onnx.ModelProto, keep_fp32: set[int]) -> bytes:
    """Emulate float16 storage: round weights and node outputs outside *keep_fp32* to fp16."""
    from onnx import numpy_helper, shape_inference

    inferred = shape_inference.infer_shapes(model).graph
    is_float = {
        v.name
        for v in (*inferred.value_info, *inferred.output)
        if v.type.tensor_type.elem_type == TensorProto.FLOAT
    }
    nodes: list[onnx.NodeProto] = []
    read_in_fp16: set[str] = set()
    for index, node in enumerate(model.graph.node):
        nodes.append(node)
        if index in keep_fp32:
            continue
        read_in_fp16.update(node.input)
        for position, name in enumerate(list(node.output)):
            if name in is_float:
                node.output[position] = f"{name}/fp32"
                nodes.append(
                    helper.make_node("Cast", [f"{name}/fp32"], [f"{name}/fp16"], to=TensorProto.FLOAT16)
                )
                nodes.append(helper.make_node("Cast", [f"{name}/fp16"], [name], to=TensorProto.FLOAT))
    for tensor in model.graph.initializer:
        if tensor.data_type == TensorProto.FLOAT and tensor.name in read_in_fp16:
            rounded = float16.to_fp16_array(numpy_helper.to_array(tensor)).astype(np.float32)
            tensor.CopyFrom(numpy_helper.from_array(rounded, tensor.name))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.value_info[:]
    return model.SerializeToString()


def aligned_log_mel_correlation(reference: Audio, other: Audio) -> float:
    """Correlation of two log-mel spectrograms after aligning their frames with DTW."""
    a, b = log_mel(reference), log_mel(other)
    floor = max(a.max(), b.max()) - 80.0  # ignore differences below -80 dB
    a, b = np.maximum(a, floor), np.maximum(b, floor)
    path = dtw_path(a, b)
    return float(np.corrcoef(a[path[:, 0]].ravel(), b[path[:, 1]].ravel())[0, 1])


def log_mel(audio: Audio, n_fft: int = 1024, hop: int = 300, bands: int = 80) -> npt.NDArray[np.float64]:
    def to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    edges = 700.0 * (10 ** (np.linspace(0.0, to_mel(np.array(12_000.0)), bands + 2) / 2595.0) - 1)
    bins = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (bins - lower) / (center - lower), (upper - bins) / (upper - center)
    filters = np.clip(np.minimum(rising, falling), 0.0, None)
    padded = np.pad(audio.astype(np.float64), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    return 10.0 * np.log10(power @ filters.T + 1e-8)


def dtw_path(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Minimal-cost monotonic alignment of frames (steps (1,1), (1,0), (0,1)); RMS dB cost.

    Each row is solved with a cumulative minimum: D[i, j] = S[j] + min_k<=j (A[k] - S[k-1]),
    where S is the row's running cost and A the best step into column k from the previous row.
    """
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).mean(axis=-1))
    rows, cols = cost.shape
    total = np.empty_like(cost)
    total[0] = np.cumsum(cost[0])
    for i in range(1, rows):
        previous = total[i - 1]
        enter = np.concatenate(([previous[0]], np.minimum(previous[1:], previous[:-1])))
        running = np.cumsum(cost[i])
        before = np.concatenate(([0.0], running[:-1]))
        total[i] = running + np.minimum.accumulate(enter - before)
    i, j = rows - 1, cols - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            step = int(np.argmin((total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])))
            i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
        path.append((i, j))
    return np.array(path[::-1], dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Errors and caching


def test_rejects_garbage_missing_and_non_int8_sources(models: dict[str, Path], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe not a model at all" * 100)
    with pytest.raises(ModelBuildError, match=r"garbage\.onnx"):
        build_float_model(garbage, tmp_path / "out.onnx")

    with pytest.raises(ModelBuildError, match=r"missing\.onnx"):
        build_float_model(tmp_path / "missing.onnx", tmp_path / "out.onnx")

    with pytest.raises(ModelBuildError, match="no quantized operators"):
        build_float_model(models["fp32"], tmp_path / "out.onnx")

    other = tmp_path / "other.onnx"
    identity = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(identity), str(other))
    with pytest.raises(ModelBuildError, match="not a Kokoro model"):
        build_float_model(other, tmp_path / "out.onnx")

    with pytest.raises(ModelBuildError, match="precision"):
        build_float_model(models["int8"], tmp_path / "out.onnx", "bf16")  # type: ignore[arg-type]

    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.onnx", "other.onnx"]


def test_ensure_reuses_the_cached_model(models: dict[str, Path], int8_model: Path, float_cache: Path) -> None:
    cached = float_cache / FLOAT_MODEL_FILENAMES["fp32"]
    assert models["fp32"] == cached
    before = cached.stat()
    assert ensure_float_model(int8_model, float_cache, "fp32") == cached
    after = cached.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    stamp = json.loads((float_cache / f"{cached.name}.build.json").read_text("utf-8"))
    assert stamp["precision"] == "fp32"
    assert len(stamp["source_sha256"]) == 64
    assert oct(cached.stat().st_mode & 0o777) == oct(0o644)


def test_ensure_rebuilds_a_model_it_did_not_stamp(int8_model: Path, tmp_path: Path) -> None:
    """A file left by something else (or an older builder) is replaced, not trusted."""
    stale = tmp_path / FLOAT_MODEL_FILENAMES["fp32"]
    stale.write_bytes(b"left over")
    assert ensure_float_model(int8_model, tmp_path, "fp32") == stale
    assert stale.stat().st_size > 300_000_000
    assert quantized_op_types(stale) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == [stale.name, f"{stale.name}.build.json"]


def test_importing_the_module_does_not_import_onnx() -> None:
    code = "import sys, wyoming_kokoro.model.rewrite.float_model; sys.exit('onnx' in sys.modules)"
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1"}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
