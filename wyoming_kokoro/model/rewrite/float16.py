"""The float model in float16 (``precision: fp16``), with the subgraphs that need float32 kept in it:
the harmonic source's phase sum and the few convs whose values leave float16's range."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .graph import ModelBuildError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from onnx import ModelProto, NodeProto

# fp16: anchors for the subgraphs that stay float32, see fp32_node_indices().
_F0_UPSAMPLE_SCOPE = "/decoder/decoder/generator/f0_upsamp/"
_NOISE_CONV_SCOPE = "/decoder/decoder/generator/noise_convs."
_CONV_POST_SCOPE = "/decoder/decoder/generator/conv_post/"

# Inputs that must stay float32 even in a float16 node (ONNX type constraints): Resize's roi and
# scales.
_ALWAYS_FLOAT_INPUTS: dict[str, frozenset[int]] = {"Resize": frozenset({1, 2})}
_FP16_MAX = 65504.0
_FP16_MIN_SUBNORMAL = 5.96e-8


def convert_to_fp16(model: ModelProto) -> ModelProto:
    """Convert *model* to float16 except for the subgraphs that need float32.

    ONNX Runtime's and onnxconverter-common's float16 converters accept a node block list, but
    they round every tensor *between* two blocked nodes through float16 (a Cast pair per edge,
    and duplicate Cast names when a tensor feeds several blocked nodes), which defeats the
    point: the harmonic source's phase sum would still overflow. So this is a small converter
    of its own: float tensors are cast only where they cross between the float16 and float32
    regions, model inputs and outputs stay float32, and float32 constants read by both regions
    are stored twice.
    """
    if any(attr.HasField("g") or attr.graphs for node in model.graph.node for attr in node.attribute):
        raise ModelBuildError("fp16 conversion does not support subgraphs (If/Loop/Scan)")
    conversion = _Fp16Conversion(model)
    conversion.convert_initializers()
    conversion.rewire_nodes()
    conversion.cast_outputs()
    graph = model.graph
    del graph.node[:]
    graph.node.extend(conversion.new_nodes)
    del graph.value_info[:]  # stale types; ONNX Runtime infers them again
    return model


class _Fp16Conversion:
    """One model's conversion (see ``convert_to_fp16``), step by step."""

    def __init__(self, model: ModelProto) -> None:
        graph = model.graph
        self.graph = graph
        self.nodes = list(graph.node)
        self.keep_fp32 = fp32_node_indices(self.nodes)
        # Element types of all tensors in the float32 graph; only whether a tensor is FLOAT matters.
        self.elem_type = _infer_elem_types(model)
        self.initializers = {t.name: t for t in graph.initializer}
        self.elem_type.update({name: t.data_type for name, t in self.initializers.items()})
        self.fp32_tensors = {i.name for i in graph.input}  # float tensors computed in float32
        for index in self.keep_fp32:
            self.fp32_tensors.update(self.nodes[index].output)
        self.fp16_init_name: dict[str, str] = {}
        self.casts: dict[tuple[str, int], str] = {}
        self.new_nodes: list[NodeProto] = []

    def wanted(self, index: int, node: NodeProto, position: int) -> int:
        from onnx import TensorProto

        if index in self.keep_fp32 or position in _ALWAYS_FLOAT_INPUTS.get(node.op_type, ()):
            return int(TensorProto.FLOAT)
        return int(TensorProto.FLOAT16)

    def float_inputs(self, index: int, node: NodeProto) -> Iterator[tuple[int, str, int]]:
        from onnx import TensorProto

        for position, name in enumerate(node.input):
            if name and self.elem_type.get(name) == TensorProto.FLOAT:
                yield position, name, self.wanted(index, node, position)
            elif name and name not in self.elem_type:
                raise ModelBuildError(f"fp16: no type inferred for {name!r} ({node.name})")

    def convert_initializers(self) -> None:
        """Float initializers: converted in place when only float16 nodes read them, else copied."""
        from onnx import TensorProto, numpy_helper

        init_wants: dict[str, set[int]] = defaultdict(set)
        for index, node in enumerate(self.nodes):
            for _, name, want in self.float_inputs(index, node):
                if name in self.initializers:
                    init_wants[name].add(want)
        for name, wants in init_wants.items():
            if TensorProto.FLOAT16 not in wants:
                continue
            values = to_fp16_array(numpy_helper.to_array(self.initializers[name]))
            if wants == {TensorProto.FLOAT16}:
                self.initializers[name].CopyFrom(numpy_helper.from_array(values, name))
                self.fp16_init_name[name] = name
            else:
                copy = _unique(f"{name}_fp16", self.elem_type)
                self.fp16_init_name[name] = copy
                self.elem_type[copy] = TensorProto.FLOAT16
                self.graph.initializer.append(numpy_helper.from_array(values, copy))

    def cast(self, name: str, to: int) -> str:
        """Name of *name* cast to *to*, emitting the Cast before its first consumer."""
        from onnx import TensorProto, helper

        if (name, to) not in self.casts:
            suffix = "fp16" if to == TensorProto.FLOAT16 else "fp32"
            out = _unique(f"{name}_{suffix}", self.elem_type)
            self.elem_type[out] = to
            self.new_nodes.append(helper.make_node("Cast", [name], [out], name=out, to=to))
            self.casts[name, to] = out
        return self.casts[name, to]

    def rewire_nodes(self) -> None:
        """Each node reads its float inputs in the precision it computes in."""
        from onnx import TensorProto

        for index, node in enumerate(self.nodes):
            for position, name, want in self.float_inputs(index, node):
                if name in self.initializers:
                    if want == TensorProto.FLOAT16:
                        node.input[position] = self.fp16_init_name[name]
                    continue
                have = TensorProto.FLOAT if name in self.fp32_tensors else TensorProto.FLOAT16
                if have != want:
                    node.input[position] = self.cast(name, want)
            if index not in self.keep_fp32:
                _retype_attributes(node)
            self.new_nodes.append(node)

    def cast_outputs(self) -> None:
        """Model outputs stay float32: cast any that a float16 node computes."""
        from onnx import TensorProto, helper

        renamed: dict[str, str] = {}
        for output in self.graph.output:
            name = output.name
            if self.elem_type.get(name) == TensorProto.FLOAT and name not in self.fp32_tensors:
                renamed[name] = _unique(f"{name}_fp16", self.elem_type)
                self.elem_type[renamed[name]] = TensorProto.FLOAT16
        for node in self.new_nodes:
            for field in (node.input, node.output):
                for position, name in enumerate(field):
                    if name in renamed:
                        field[position] = renamed[name]
        for name, fp16_name in renamed.items():
            self.new_nodes.append(
                helper.make_node("Cast", [fp16_name], [name], name=f"{name}_cast", to=TensorProto.FLOAT)
            )


def _retype_attributes(node: NodeProto) -> None:
    """Make a float16 node's float-typed attributes (Cast targets, constants) float16."""
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    if node.op_type == "Cast":
        for attr in node.attribute:
            if attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    elif node.op_type == "ConstantOfShape" and not any(a.name == "value" for a in node.attribute):
        node.attribute.append(
            helper.make_attribute("value", helper.make_tensor("value", TensorProto.FLOAT16, [1], [0]))
        )
    for attr in node.attribute:
        if attr.type == AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
            values = to_fp16_array(numpy_helper.to_array(attr.t))
            attr.t.CopyFrom(numpy_helper.from_array(values, attr.t.name))
        elif attr.type == AttributeProto.TENSORS or attr.name == "dtype":
            raise ModelBuildError(f"fp16: unsupported attribute {attr.name!r} on {node.name}")


def to_fp16_array(values: npt.NDArray[Any]) -> npt.NDArray[np.float16]:
    """Cast to float16 without creating inf (clip to ±65504) or zeros (tiny -> min subnormal).

    The BERT attention mask uses float32's lowest value; as -inf it would turn 0 * mask into NaN.
    """
    import numpy as np

    clipped = np.clip(values, -_FP16_MAX, _FP16_MAX)
    tiny = (clipped != 0) & (np.abs(clipped) < _FP16_MIN_SUBNORMAL)
    if tiny.any():
        clipped = np.where(tiny, np.sign(clipped) * _FP16_MIN_SUBNORMAL, clipped)
    return clipped.astype(np.float16)


def _infer_elem_types(model: ModelProto) -> dict[str, int]:
    """Element type of every tensor, by ONNX type inference on a weightless copy of the graph.

    Large initializers become typed graph inputs so inference does not serialize 300 MB of
    weights; small ones (shape constants) stay, as inference reads their values.
    """
    from onnx import helper, shape_inference

    graph = model.graph
    small = [t for t in graph.initializer if _num_elements(t.dims) <= 64]
    small_names = {t.name for t in small}
    weights = [
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
        for t in graph.initializer
        if t.name not in small_names
    ]
    light = helper.make_model(
        helper.make_graph(
            list(graph.node),
            graph.name,
            [*graph.input, *weights],
            list(graph.output),
            small,
            value_info=list(graph.value_info),
        ),
        opset_imports=list(model.opset_import),
        ir_version=model.ir_version,
    )
    inferred = shape_inference.infer_shapes(light).graph
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in (*inferred.value_info, *inferred.input, *inferred.output)
        if v.type.tensor_type.elem_type
    }
    types.update({t.name: t.data_type for t in graph.initializer})
    # ONNX has no schemas for ONNX Runtime's contrib ops (FastGelu, SkipLayerNormalization,
    # FusedMatMul here); their outputs have the type of their first input.
    for node in graph.node:
        if node.domain == "com.microsoft" and node.input and node.input[0] in types:
            for name in node.output:
                if name:
                    types.setdefault(name, types[node.input[0]])
    return types


def _num_elements(dims: Iterable[int]) -> int:
    count = 1
    for dim in dims:
        count *= dim
    return count


def _unique(name: str, taken: dict[str, int]) -> str:
    candidate, suffix = name, 0
    while candidate in taken:
        suffix += 1
        candidate = f"{name}_{suffix}"
    return candidate


def fp32_node_indices(nodes: list[NodeProto]) -> set[int]:
    """Indices of the nodes that must compute in float32 in the fp16 model.

    * Harmonic source: from the F0 upsampling to the noise convolutions' input. It integrates
      F0 into a running phase (~5e4 rad after 6 s of audio at the 9th harmonic, overflowing
      float16 beyond ~8 s and far too coarse before), then takes an STFT whose phase is
      atan(imag / real): ratios up to ~7e5, and 0/0.
    * Inverse STFT: everything after conv_post (exp of the log magnitude, sin of the phase, the
      overlap-add and its normalisation, which divides by window sums).
    * Alignment: from the duration Round to the token/frame comparisons. Frame indices above
      2048 are not exact in float16 (long inputs at slow speed reach that), which would
      misassign frames to tokens.
    """
    producer = {name: index for index, node in enumerate(nodes) for name in node.output if name}
    consumers: dict[str, list[int]] = defaultdict(list)
    for index, node in enumerate(nodes):
        for name in node.input:
            consumers[name].append(index)

    def descendants(starts: Iterable[int]) -> set[int]:
        seen: set[int] = set()
        stack = list(starts)
        while stack:
            index = stack.pop()
            if index not in seen:
                seen.add(index)
                stack.extend(c for name in nodes[index].output for c in consumers[name])
        return seen

    def ancestors(tensors: Iterable[str]) -> set[int]:
        seen: set[int] = set()
        stack = [producer[name] for name in tensors if name in producer]
        while stack:
            index = stack.pop()
            if index not in seen:
                seen.add(index)
                stack.extend(producer[name] for name in nodes[index].input if name in producer)
        return seen

    def named(prefix: str) -> list[int]:
        found = [index for index, node in enumerate(nodes) if node.name.startswith(prefix)]
        if not found:
            raise ModelBuildError(
                f"fp16: no nodes under {prefix!r}; cannot locate the subgraphs that must stay "
                "float32 (this converter knows the Kokoro v1.0 export)"
            )
        return found

    def of_type(op_type: str) -> list[int]:
        found = [index for index, node in enumerate(nodes) if node.op_type == op_type]
        if len(found) != 1:
            raise ModelBuildError(f"fp16: expected one {op_type} node, found {len(found)}")
        return found

    noise_conv_inputs = [nodes[index].input[0] for index in named(_NOISE_CONV_SCOPE)]
    source = descendants(named(_F0_UPSAMPLE_SCOPE)) & ancestors(noise_conv_inputs)
    conv_post = named(_CONV_POST_SCOPE)
    istft = descendants(conv_post) - set(conv_post)
    alignment = descendants(of_type("Round")) & ancestors(nodes[of_type("And")[0]].output)
    return source | istft | alignment
