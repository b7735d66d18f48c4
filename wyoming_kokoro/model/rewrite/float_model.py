"""Rebuild float32 and float16 Kokoro-82M models from the int8 ONNX export, offline.

The default model is ONNX Runtime's *dynamic* int8 quantization of Kokoro v1.0. Its quantized
operators (ConvInteger, DynamicQuantizeLinear, DynamicQuantizeLSTM, and MatMulInteger with the
uint8 activations this graph uses) have no CUDA kernels, so with the CUDA provider most of the
graph falls back to the CPU and tensors bounce between devices. Users without internet cannot
download the fp32 export, but every weight is still in the int8 file (int8 values plus scales and
zero points), so we rewrite the graph instead:

* each quantized weight is dequantized, ``W = (W_q - zero_point) * scale``, per output channel
  where the export stores per-channel scales;
* ``DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul`` becomes ``MatMul``;
* ``DynamicQuantizeLinear -> ConvInteger [-> Add(bias quantized at run time)] -> Cast -> Mul``
  becomes ``Conv`` with the float bias the export still carries;
* ``DynamicQuantizeLSTM`` becomes the standard ``LSTM`` (its weights are stored transposed);
* ``Gather`` of an int8 table followed by ``DequantizeLinear`` becomes ``Gather`` of a float table.

The float graph computes exactly what the int8 graph computes *without* rounding activations to
8 bits (and without flooring the conv biases to the activation scale): the weights are the very
values the int8 graph multiplies by. It is not the original fp32 checkpoint; the weights keep
their 8-bit resolution, so it sounds like the int8 model, minus activation-quantization noise.

The fp16 variant stores weights and computes in float16 except for three float32 islands (118
of ~2400 nodes): the harmonic (sine) source with the STFT of it, the inverse STFT, and the
duration-to-frame alignment. Converted whole, the output is NaN: the source's running phase
reaches ~5e4 rad after 6 s of audio (float16's maximum is 65504, its resolution there 32 rad) and
the STFT phase divides imag by real (up to ~7e5, and 0/0). Model inputs and outputs stay float32.

``onnx`` is imported inside the functions only: the server imports this package on CPU installs
where ``onnx`` is an optional extra.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .float16 import convert_to_fp16
from .frame_cap import FrameCapError, cap_frames
from .graph import (
    ModelBuildError,
    import_onnx,
    iter_nodes,
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
    from onnx import GraphProto, ModelProto, NodeProto, TensorProto

_LOGGER = logging.getLogger(__name__)

Precision = Literal["fp32", "fp16"]

FLOAT_MODEL_FILENAMES: dict[str, str] = {
    "fp32": "kokoro-v1.0.fp32-from-int8.onnx",
    "fp16": "kokoro-v1.0.fp16-from-int8.onnx",
}

# Bump whenever the conversion's output changes: ensure_float_model then rebuilds cached models.
BUILDER_VERSION = 2

# Operators of ONNX Runtime's dynamic quantization that the CUDA provider cannot run (for
# MatMulInteger: not with the uint8 activations DynamicQuantizeLinear produces), so a CUDA
# session silently places them, and the copies around them, on the CPU.
CUDA_UNSUPPORTED_QUANTIZED_OPS: frozenset[str] = frozenset(
    {"ConvInteger", "DynamicQuantizeLinear", "DynamicQuantizeLSTM", "MatMulInteger"}
)

# The Kokoro ONNX interface every variant must keep, so callers can swap models freely.
_EXPECTED_INPUTS = ("tokens", "style", "speed")
_EXPECTED_OUTPUT = "audio"


def quantized_op_types(path: Path) -> set[str]:
    """Return the op types in the model at *path* that ONNX Runtime cannot run on CUDA.

    Used to warn a CUDA user that the int8 model will mostly run on the CPU. Only the graph
    structure is read (external weight files are not loaded).
    """
    model = load_model(import_onnx(), Path(path), load_external_data=False)
    return {
        node.op_type for node in iter_nodes(model.graph) if node.op_type in CUDA_UNSUPPORTED_QUANTIZED_OPS
    }


def build_float_model(src: Path, dst: Path, precision: Precision = "fp32") -> Path:
    """Build the fp32 or fp16 model from the int8 export *src* and write it to *dst*.

    The file is written to a temporary name in the same directory, fsynced and renamed, so a
    crash or a concurrent builder never leaves a truncated model at *dst*. Returns *dst*.
    """
    _check_precision(precision)
    onnx = import_onnx()
    started = time.monotonic()
    model = load_model(onnx, Path(src), load_external_data=True)
    check_int8_export(model, src)
    try:
        cap_frames(model.graph)
    except FrameCapError as err:
        raise ModelBuildError(f"{src}: {err}") from None
    _dequantize_graph(model.graph)
    if precision == "fp16":
        model = convert_to_fp16(model)
    data = model_bytes(
        onnx,
        model,
        "wyoming-kokoro float_model",
        {
            "wyoming_kokoro.source": Path(src).name,
            "wyoming_kokoro.precision": precision,
            "wyoming_kokoro.builder_version": str(BUILDER_VERSION),
        },
    )
    del model
    write_file(Path(dst), data)
    _LOGGER.info(
        "Built %s model %s (%.0f MB) in %.1f s",
        precision,
        dst,
        len(data) / 1e6,
        time.monotonic() - started,
    )
    return Path(dst)


def ensure_float_model(
    int8_path: Path, cache_dir: Path, precision: Precision = "fp32", source_sha256: str | None = None
) -> Path:
    """Return the cached fp32/fp16 model built from *int8_path*, building it on first use.

    A stamp file beside the model records the source's sha256 and the builder version; the
    cached model is reused only when both match, so a different int8 file or a fixed converter
    rebuilds it instead of silently serving a stale one.
    *source_sha256*: the int8 model's hash when the caller has just verified it (not hashed again).
    """
    _check_precision(precision)
    dst = Path(cache_dir) / FLOAT_MODEL_FILENAMES[precision]
    stamp_path = dst.with_name(dst.name + ".build.json")
    stamp = {
        "builder_version": BUILDER_VERSION,
        "precision": precision,
        "source_sha256": source_sha256 or sha256_file(Path(int8_path)),
    }
    if dst.is_file() and read_stamp(stamp_path) == stamp:
        return dst
    _LOGGER.info("Building %s model from %s (once; cached at %s)", precision, int8_path, dst)
    build_float_model(Path(int8_path), dst, precision)
    write_file(stamp_path, json.dumps(stamp, indent=1).encode())
    return dst


def _check_precision(precision: str) -> None:
    if precision not in FLOAT_MODEL_FILENAMES:
        raise ModelBuildError(f"unknown precision {precision!r}, expected 'fp32' or 'fp16'")


# --------------------------------------------------------------------------------------------
# Graph rewriting


def check_int8_export(model: ModelProto, src: Path) -> None:
    inputs = tuple(i.name for i in model.graph.input)
    outputs = tuple(o.name for o in model.graph.output)
    if inputs != _EXPECTED_INPUTS or outputs != (_EXPECTED_OUTPUT,):
        raise ModelBuildError(
            f"{src} is not a Kokoro model: inputs {inputs}, outputs {outputs}; "
            f"expected inputs {_EXPECTED_INPUTS} and output ({_EXPECTED_OUTPUT!r},)"
        )
    ops = {n.op_type for n in model.graph.node}
    if not ops & CUDA_UNSUPPORTED_QUANTIZED_OPS:
        raise ModelBuildError(
            f"{src} is not the int8 (dynamically quantized) Kokoro export: it has no "
            "quantized operators, so there is nothing to dequantize"
        )


class _Rewriter:
    """Pattern-matches the dynamic-quantization subgraphs and replaces them with float ops."""

    def __init__(self, graph: GraphProto) -> None:
        from onnx import numpy_helper

        self._numpy_helper = numpy_helper
        self.graph = graph
        self.initializers: dict[str, TensorProto] = {t.name: t for t in graph.initializer}
        self.producer: dict[str, NodeProto] = {}
        self.consumers: dict[str, list[NodeProto]] = defaultdict(list)
        for node in graph.node:
            for name in node.output:
                self.producer[name] = node
            for name in node.input:
                self.consumers[name].append(node)
        self.new_initializers: dict[str, TensorProto] = {}
        self._dequantized: dict[tuple[str, ...], str] = {}

    # -- helpers -----------------------------------------------------------------------------

    def fail(self, node: NodeProto, why: str) -> ModelBuildError:
        return ModelBuildError(
            f"unexpected int8 graph at {node.op_type} node {node.name!r}: {why}; "
            "this builder only knows the dynamically quantized Kokoro v1.0 export"
        )

    def array(self, name: str, node: NodeProto) -> npt.NDArray[Any]:
        if name not in self.initializers:
            raise self.fail(node, f"{name!r} is not a constant initializer")
        return self._numpy_helper.to_array(self.initializers[name])

    def only_consumer(self, tensor: str, op_type: str, node: NodeProto) -> NodeProto:
        users = self.consumers.get(tensor, [])
        if len(users) != 1 or users[0].op_type != op_type:
            found = [u.op_type for u in users]
            raise self.fail(node, f"expected {tensor!r} to feed one {op_type}, found {found}")
        return users[0]

    def made_by(self, tensor: str, op_type: str, node: NodeProto) -> NodeProto:
        maker = self.producer.get(tensor)
        if maker is None or maker.op_type != op_type:
            found = maker.op_type if maker is not None else "a graph input or constant"
            raise self.fail(node, f"expected {tensor!r} to come from {op_type}, not {found}")
        return maker

    def other_input(self, node: NodeProto, known: str) -> str:
        others = [name for name in node.input if name != known]
        if len(node.input) != 2 or len(others) != 1:
            raise self.fail(node, f"expected a binary op with {known!r} as one input")
        return others[0]

    def add_float(self, base_name: str, key: tuple[str, ...], values: npt.NDArray[Any]) -> str:
        """Store a dequantized weight once, under a name derived from the quantized one."""
        if key in self._dequantized:
            return self._dequantized[key]
        name = base_name.removesuffix("_quantized") or base_name
        taken = self.initializers.keys() | self.new_initializers.keys()
        suffix = 0
        while name in taken:
            suffix += 1
            name = f"{base_name}_float{suffix}"
        import numpy as np

        tensor = self._numpy_helper.from_array(np.ascontiguousarray(values, np.float32), name)
        self.new_initializers[name] = tensor
        self._dequantized[key] = name
        return name

    def dequantize(
        self, node: NodeProto, q_name: str, zp_name: str, scale: npt.NDArray[Any], axis: int
    ) -> npt.NDArray[np.float32]:
        """W = (W_q - zero_point) * scale, with per-channel parameters broadcast along *axis*."""
        import numpy as np

        q = self.array(q_name, node).astype(np.int32)
        zero_point = self.array(zp_name, node).astype(np.int32)
        scale = np.asarray(scale, np.float32)
        if zero_point.size not in (1, scale.size):
            raise self.fail(node, "zero point and scale sizes differ")
        if scale.size != 1:
            if scale.ndim != 1 or q.shape[axis] != scale.size:
                raise self.fail(node, f"scale of shape {scale.shape} does not match {q.shape}")
            shape = [1] * q.ndim
            shape[axis] = scale.size
            scale = scale.reshape(shape)
            zero_point = zero_point.reshape(shape) if zero_point.size != 1 else zero_point
        return ((q - zero_point).astype(np.float32) * scale).astype(np.float32)

    # -- patterns ----------------------------------------------------------------------------

    def dynamic_input(self, node: NodeProto) -> tuple[str, NodeProto]:
        """The float tensor a quantized node's input 0 was dynamically quantized from."""
        dql = self.made_by(node.input[0], "DynamicQuantizeLinear", node)
        if node.input[2] != dql.output[2]:
            raise self.fail(node, "activation zero point is not from the same quantizer")
        return dql.input[0], dql

    def rescale(self, node: NodeProto, out: str, dql: NodeProto) -> tuple[NodeProto, str, str]:
        """Match ``out -> Cast(float) -> Mul(., s_x * s_w)``.

        Returns the Mul (whose output the float node takes over), the name of s_x * s_w and the
        name of the weight scale s_w.
        """
        from onnx import TensorProto

        cast = self.only_consumer(out, "Cast", node)
        if any(a.name == "to" and a.i != TensorProto.FLOAT for a in cast.attribute):
            raise self.fail(node, "the integer result is not cast to float")
        mul = self.only_consumer(cast.output[0], "Mul", node)
        scales = self.other_input(mul, cast.output[0])
        scales_mul = self.made_by(scales, "Mul", node)
        if dql.output[1] not in scales_mul.input:
            raise self.fail(node, "output is not rescaled by the activation scale")
        return mul, scales, self.other_input(scales_mul, dql.output[1])

    def matmul_integer(self, node: NodeProto) -> NodeProto:
        """DQL(x) -> MatMulInteger(., W_q) -> Cast -> Mul(., s_x * s_w)  =>  MatMul(x, W)."""
        from onnx import helper

        x, dql = self.dynamic_input(node)
        if len(node.input) != 4:
            raise self.fail(node, "expected a weight zero point input")
        mul, _, w_scale = self.rescale(node, node.output[0], dql)
        # MatMulInteger B is [K, N]: per-column (output channel) parameters live on axis 1.
        w_q = node.input[1]
        weight = self.dequantize(node, w_q, node.input[3], self.array(w_scale, node), axis=1)
        if weight.ndim != 2:
            raise self.fail(node, f"expected a 2-D weight, got shape {weight.shape}")
        w_name = self.add_float(w_q, (w_q, node.input[3], w_scale), weight)
        return helper.make_node("MatMul", [x, w_name], list(mul.output), name=node.name)

    def conv_integer(self, node: NodeProto) -> NodeProto:
        """DQL(x) -> ConvInteger [-> Add(bias_q)] -> Cast -> Mul(., s_x * s_w)  =>  Conv.

        The export quantizes the float bias at run time, ``floor(bias / (s_x * s_w))``, and adds
        it to the int32 accumulator; the float Conv takes the float bias itself.
        """
        from onnx import helper

        x, dql = self.dynamic_input(node)
        if len(node.input) != 4:
            raise self.fail(node, "expected a weight zero point input")
        users = self.consumers.get(node.output[0], [])
        bias_add = users[0] if len(users) == 1 and users[0].op_type == "Add" else None
        out = bias_add.output[0] if bias_add is not None else node.output[0]
        mul, scales, w_scale = self.rescale(node, out, dql)
        # Conv weights are [M, C/group, k...]: per-channel parameters live on axis 0.
        w_q = node.input[1]
        weight = self.dequantize(node, w_q, node.input[3], self.array(w_scale, node), axis=0)
        inputs = [x, self.add_float(w_q, (w_q, node.input[3], w_scale), weight)]
        if bias_add is not None:
            inputs.append(self.float_bias(node, self.other_input(bias_add, node.output[0]), scales))
        conv = helper.make_node("Conv", inputs, list(mul.output), name=node.name)
        conv.attribute.extend(node.attribute)
        return conv

    def float_bias(self, node: NodeProto, added: str, scales: str) -> str:
        """The float bias behind ``Reshape(Cast(Floor(Div(bias, s_x * s_w))))``."""
        reshape = self.made_by(added, "Reshape", node)
        cast = self.made_by(reshape.input[0], "Cast", node)
        floor = self.made_by(cast.input[0], "Floor", node)
        div = self.made_by(floor.input[0], "Div", node)
        bias = div.input[0]
        if div.input[1] != scales:
            raise self.fail(node, "the bias is not quantized with the output's scale")
        if bias not in self.initializers or self.array(bias, node).ndim != 1:
            raise self.fail(node, f"bias {bias!r} is not a 1-D float initializer")
        return bias

    def dynamic_quantize_lstm(self, node: NodeProto) -> NodeProto:
        """com.microsoft DynamicQuantizeLSTM => ONNX LSTM with dequantized, transposed weights.

        The contrib op stores W as [dirs, input, 4*hidden] and R as [dirs, hidden, 4*hidden];
        ONNX LSTM wants [dirs, 4*hidden, input] / [dirs, 4*hidden, hidden]. Gate order (i, o, f,
        c) is the same. Scales/zero points are per direction ([dirs]) or per direction and
        output column ([dirs, 4*hidden]).
        """
        from onnx import helper

        if len(node.input) != 12:
            raise self.fail(node, f"expected 12 inputs, got {len(node.input)}")
        x, w_q, r_q, b, seq_lens, h0, c0, p, w_s, w_zp, r_s, r_zp = node.input
        weights = []
        for q_name, s_name, zp_name in ((w_q, w_s, w_zp), (r_q, r_s, r_zp)):
            q = self.array(q_name, node)
            scale = self.array(s_name, node)
            zero_point = self.array(zp_name, node)
            if q.ndim != 3 or scale.shape[0] != q.shape[0] or zero_point.shape != scale.shape:
                raise self.fail(node, f"unexpected weight/scale shapes {q.shape}/{scale.shape}")
            import numpy as np

            # Broadcast per-direction or per-direction-and-column parameters over [d, in, 4h].
            shape = (q.shape[0], 1, 1) if scale.ndim == 1 else (q.shape[0], 1, q.shape[2])
            values = (
                (q.astype(np.int32) - zero_point.reshape(shape).astype(np.int32)).astype(np.float32)
                * scale.reshape(shape).astype(np.float32)
            ).astype(np.float32)
            key = (q_name, s_name, zp_name)
            weights.append(self.add_float(q_name, key, values.transpose(0, 2, 1)))
        inputs = [x, weights[0], weights[1], b, seq_lens, h0, c0, p]
        while inputs and not inputs[-1]:
            inputs.pop()
        lstm = helper.make_node("LSTM", inputs, list(node.output), name=node.name)
        lstm.attribute.extend(node.attribute)
        return lstm

    def dequantize_linear(self, node: NodeProto) -> NodeProto | None:
        """DequantizeLinear(Gather(T_q, idx)) => Gather(T, idx) with T dequantized once."""
        from onnx import helper

        gather = self.producer.get(node.input[0])
        if gather is None or gather.op_type != "Gather" or gather.input[0] not in self.initializers:
            return None  # a float-capable DequantizeLinear elsewhere is left alone
        if any(a.name == "axis" for a in node.attribute) or len(node.input) != 3:
            raise self.fail(node, "expected a per-tensor DequantizeLinear")
        self.only_consumer(gather.output[0], "DequantizeLinear", node)  # the Gather goes too
        table_q = gather.input[0]
        scale = self.array(node.input[1], node)
        if scale.size != 1:
            raise self.fail(node, "expected a per-tensor scale")
        table = self.dequantize(node, table_q, node.input[2], scale, axis=0)
        key = (table_q, node.input[1], node.input[2])
        new = helper.make_node(
            "Gather",
            [self.add_float(table_q, key, table), gather.input[1]],
            list(node.output),
            name=gather.name,
        )
        new.attribute.extend(gather.attribute)
        return new


def _dequantize_graph(graph: GraphProto) -> None:
    """Rewrite every quantized pattern in *graph* in place, then drop what became dead."""
    rewriter = _Rewriter(graph)
    handlers: dict[str, Callable[[NodeProto], NodeProto | None]] = {
        "MatMulInteger": rewriter.matmul_integer,
        "ConvInteger": rewriter.conv_integer,
        "DynamicQuantizeLSTM": rewriter.dynamic_quantize_lstm,
        "DequantizeLinear": rewriter.dequantize_linear,
    }
    # (node, is_new). A float node sits where its quantized node was, which keeps the list in
    # topological order: its input precedes the quantizer, its consumers follow the pattern.
    rewritten: list[tuple[NodeProto, bool]] = []
    for node in graph.node:
        handler = handlers.get(node.op_type)
        new = handler(node) if handler is not None else None
        rewritten.append((node, False) if new is None else (new, True))
    # A float node takes over the output name of the last node of its pattern (the rescaling
    # Mul), so that node goes now; the rest of each pattern is dead code, removed below.
    taken = {name for node, is_new in rewritten if is_new for name in node.output}
    nodes = [n for n, is_new in rewritten if is_new or not taken.intersection(n.output)]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(rewriter.new_initializers.values())
    remove_dead_code(graph)
    leftovers = [n.name for n in graph.node if n.op_type in CUDA_UNSUPPORTED_QUANTIZED_OPS]
    if leftovers:
        raise ModelBuildError(f"quantized nodes not matched by any known pattern: {leftovers[:5]}")
