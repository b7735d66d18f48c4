"""The graph rewrites that make the CPU model (see ``cpu_model.py`` for why each pays): convs as
MatMulInteger with int8 weights, their scaling fused, AdaIN as InstanceNormalization, the STFT as
a Conv, squares as Mul. Each takes a graph and rewrites it in place, returning what it changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .graph import ModelBuildError

if TYPE_CHECKING:
    import numpy.typing as npt
    from onnx import GraphProto, NodeProto


class CpuModelError(ModelBuildError):
    """The rearranged model could not be built, or is not exact on this CPU."""


def rewrite_convs(graph: GraphProto) -> tuple[int, int]:
    """Replace eligible ConvInteger nodes in place; returns (rewritten, left alone)."""
    constants = _Graph(graph).constants
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


def may_saturate(weights: npt.NDArray[Any]) -> bool:
    """Whether AVX2's uint8 × int8 kernel can get the product of any uint8 rows by *weights*
    ([K, N] int8) wrong. It multiplies rows 2j and 2j + 1 of each column into one saturating
    16-bit sum (``vpmaddubsw``), so a pair of weights of one sign whose magnitudes add up to more
    than 128 overflows it for activations near 255 (255 · 128 = 32640 still fits)."""
    import numpy as np

    w = weights.astype(np.int32)
    if len(w) % 2:
        w = np.vstack([w, np.zeros((1, w.shape[1]), np.int32)])
    even, odd = w[0::2], w[1::2]
    positive = np.maximum(even, 0) + np.maximum(odd, 0)
    negative = np.maximum(-even, 0) + np.maximum(-odd, 0)
    return bool(max(positive.max(initial=0), negative.max(initial=0)) > 128)


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


def _centred_weights(
    node: NodeProto, constants: dict[str, npt.NDArray[Any]]
) -> tuple[npt.NDArray[Any], dict[str, Any]] | None:
    """A ConvInteger's weights with their zero point taken off (int32, within int8's range) and its
    attributes, when the conv can be rewritten: constant uint8 weights with one zero point, an
    activation zero point, no groups, explicit padding. None otherwise."""
    import numpy as np
    from onnx import helper

    inputs = list(node.input) + [""] * (4 - len(node.input))
    _, weight_name, x_zero, w_zero_name = inputs[:4]
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
    return centred, attrs


def _conv_as_matmul(
    node: NodeProto, constants: dict[str, npt.NDArray[Any]], builder: _Builder
) -> list[NodeProto] | None:
    """The nodes computing *node* (a ConvInteger) as im2col + MatMulInteger, or None if ineligible."""
    import numpy as np
    from onnx import helper

    eligible = _centred_weights(node, constants)
    if eligible is None:
        return None
    centred, attrs = eligible
    x_q, x_zero = node.input[0], node.input[2]
    c_out, c_in, taps = centred.shape
    dilation = int(attrs.get("dilations", [1])[0])
    stride = int(attrs.get("strides", [1])[0])
    pad_begin, pad_end = (int(p) for p in attrs.get("pads", [0, 0]))

    p = f"{node.name or node.output[0]}/im2col"
    # Row k·C_in + c of the weight matrix multiplies tap k of input channel c.
    w_matrix = centred.astype(np.int8).transpose(2, 1, 0).reshape(taps * c_in, c_out)
    if may_saturate(w_matrix):
        return None
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
    return _named(p, new)


class _Graph:
    """Producer/consumer lookups and constants of a graph, for matching op patterns, and the
    replacements found so far (applied together by ``commit``, so matching sees one graph)."""

    def __init__(self, graph: GraphProto) -> None:
        from onnx import numpy_helper

        self.graph = graph
        self.nodes = list(graph.node)
        self.producer = {name: node for node in self.nodes for name in node.output}
        self.outputs = {output.name for output in graph.output}
        self.consumers: dict[str, list[NodeProto]] = {}
        for node in self.nodes:
            for name in dict.fromkeys(node.input):
                self.consumers.setdefault(name, []).append(node)
        self.constants: dict[str, npt.NDArray[Any]] = {
            init.name: numpy_helper.to_array(init) for init in graph.initializer
        }
        for node in self.nodes:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self._position = {id(node): index for index, node in enumerate(self.nodes)}
        self._gone: set[int] = set()
        self._insert: dict[int, list[NodeProto]] = {}

    def only_consumer(self, name: str, op_type: str) -> NodeProto | None:
        """The one node reading *name*, if it is an *op_type* and *name* is not a graph output (a
        value fused away must not be needed anywhere else)."""
        found = self.consumers.get(name, [])
        if name in self.outputs or len(found) != 1 or found[0].op_type != op_type:
            return None
        return found[0]

    def made_by(self, name: str, op_type: str) -> NodeProto | None:
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def replace(self, old: list[NodeProto], new: list[NodeProto]) -> None:
        """Drop *old*, with *new* where the last of them was (every input of the pattern exists
        by then). Patterns must not overlap."""
        ids = [id(node) for node in old]
        if self._gone.intersection(ids):
            raise CpuModelError("overlapping rewrite patterns")
        self._gone.update(ids)
        last = max(self._position[id(node)] for node in old)
        self._insert[id(self.nodes[last])] = new

    def commit(self) -> None:
        nodes: list[NodeProto] = []
        for node in self.nodes:
            nodes.extend(self._insert.get(id(node), []))
            if id(node) not in self._gone:
                nodes.append(node)
        del self.graph.node[:]
        self.graph.node.extend(nodes)


def _named(prefix: str, nodes: list[NodeProto]) -> list[NodeProto]:
    """*nodes*, named ``prefix/0``, ``prefix/1``…: unique names that say which rewrite made them."""
    for index, node in enumerate(nodes):
        node.name = f"{prefix}/{index}"
    return nodes


def _other(node: NodeProto, name: str) -> str:
    """The input of a two-input *node* that is not *name*."""
    first, second = node.input[0], node.input[1]
    return second if first == name else first


def _scaling_chain(g: _Graph, matmul: NodeProto) -> tuple[Any, ...] | None:
    """The export's nodes after a rewritten conv's MatMulInteger that ``fuse_conv_scaling`` folds
    in: (transpose, unsqueeze, bias add or None, cast, rescale, the scale's name, the activation
    scale's and the weights' scale's names, the weights' constant scale); None when they are not
    laid out as expected."""
    transpose = g.only_consumer(matmul.output[0], "Transpose")
    unsqueeze = transpose and g.only_consumer(transpose.output[0], "Unsqueeze")
    # Convs with a bias add it in int32 first; 1×1 convs without one go straight to the cast.
    add = unsqueeze and g.only_consumer(unsqueeze.output[0], "Add")
    cast = unsqueeze and g.only_consumer((add or unsqueeze).output[0], "Cast")
    rescale = cast and g.only_consumer(cast.output[0], "Mul")
    if not (transpose and unsqueeze and cast and rescale) or len(matmul.input) < 3:
        return None
    if any(a.name == "to" and a.i != 1 for a in cast.attribute):  # to float32 only
        return None
    scale = _other(rescale, cast.output[0])
    scales = g.made_by(scale, "Mul")
    if scales is None:
        return None
    # One factor is the activation's scale (DynamicQuantizeLinear's, a scalar), the other the
    # weights' constant scale: scalar or one per output channel.
    a_scale = next((i for i in scales.input if g.made_by(i, "DynamicQuantizeLinear")), None)
    b_const = g.constants.get(_other(scales, a_scale)) if a_scale else None
    c_out = int(g.constants[matmul.input[1]].shape[1]) if matmul.input[1] in g.constants else -1
    if a_scale is None or b_const is None or b_const.size not in (1, c_out):
        return None
    return transpose, unsqueeze, add, cast, rescale, scale, a_scale, _other(scales, a_scale), b_const


def fuse_conv_scaling(graph: GraphProto) -> int:
    """After a rewritten conv, the export's ``Add(int32 bias) → Cast → Mul(x_scale·w_scale)`` on the
    [1, C_out, T] result becomes the scales and float bias of one ``MatMulIntegerToFloat`` on the
    [T, C_out] product, so the int32 tensor is never written out, added to, cast and rescaled in
    separate passes (the largest are 7 MB each). Returns how many convs were fused."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = _Graph(graph)
    flat, scalar = "wk_fuse_flat", "wk_fuse_scalar"
    graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), flat))
    graph.initializer.append(numpy_helper.from_array(np.zeros(0, dtype=np.int64), scalar))
    fused = 0
    for matmul in [n for n in g.nodes if n.op_type == "MatMulInteger" and "/im2col/" in n.name]:
        chain = _scaling_chain(g, matmul)
        if chain is None:
            continue
        transpose, unsqueeze, add, cast, rescale, scale, a_scale, b_scale, b_const = chain
        p = matmul.name.rsplit("/", 1)[0] + "/fused"
        new, bias = [], ""
        if add is not None:
            bias = p + "/bias"
            new += [
                helper.make_node("Cast", [_other(add, unsqueeze.output[0])], [p + "/bias_i"], to=1),
                helper.make_node("Mul", [p + "/bias_i", scale], [p + "/bias_s"]),
                helper.make_node("Reshape", [p + "/bias_s", flat], [bias]),
            ]
        if b_const.ndim > (0 if b_const.size == 1 else 1):  # the kernel takes a scalar or [C_out]
            shape = flat if b_const.size > 1 else scalar
            new.append(helper.make_node("Reshape", [b_scale, shape], [p + "/b_scale"]))
            b_scale = p + "/b_scale"
        new += [
            helper.make_node(
                "MatMulIntegerToFloat",
                [matmul.input[0], matmul.input[1], a_scale, b_scale, matmul.input[2], "", bias],
                [p + "/y"],
                domain="com.microsoft",
            ),
            helper.make_node("Transpose", [p + "/y"], [p + "/yt"], perm=[1, 0]),
            helper.make_node("Unsqueeze", [p + "/yt", unsqueeze.input[1]], [rescale.output[0]]),
        ]
        g.replace(
            [n for n in (matmul, transpose, unsqueeze, add, cast, rescale) if n is not None], _named(p, new)
        )
        fused += 1
    g.commit()
    return fused


def rewrite_instance_norms(graph: GraphProto) -> int:
    """The export's AdaIN normalization over time, ``(x − mean) / sqrt(var + ε) · γ + β`` written
    as nine ops on [1, C, T], becomes one ``InstanceNormalization`` (γ, β reshaped to [C]): one
    pass over memory instead of several. Returns how many."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = _Graph(graph)
    flat = "wk_norm_flat"
    graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), flat))

    def over_time(node: NodeProto) -> bool:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axes = list(attrs.get("axes", []))
        if len(node.input) > 1 and node.input[1]:
            axes = [int(a) for a in g.constants.get(node.input[1], np.array([], np.int64)).ravel()]
        return axes == [2] and attrs.get("keepdims", 1) == 1

    count = 0
    for mean in [n for n in g.nodes if n.op_type == "ReduceMean"]:
        x = mean.input[0]
        centre = g.only_consumer(mean.output[0], "Sub")
        if not over_time(mean) or centre is None or list(centre.input) != [x, mean.output[0]]:
            continue
        readers = g.consumers.get(centre.output[0], [])
        square = next(
            (n for n in readers if n.op_type == "Mul" and list(n.input) == [centre.output[0]] * 2), None
        )
        divide = next((n for n in readers if n.op_type == "Div" and n.input[0] == centre.output[0]), None)
        if len(readers) != 2 or square is None or divide is None or centre.output[0] in g.outputs:
            continue
        variance = g.only_consumer(square.output[0], "ReduceMean")
        add_eps = variance and over_time(variance) and g.only_consumer(variance.output[0], "Add")
        sqrt = add_eps and g.only_consumer(add_eps.output[0], "Sqrt")
        if not (variance and add_eps and sqrt) or g.only_consumer(sqrt.output[0], "Div") is not divide:
            continue
        eps = g.constants.get(_other(add_eps, variance.output[0]))
        gamma_mul = g.only_consumer(divide.output[0], "Mul")
        beta_add = gamma_mul and g.only_consumer(gamma_mul.output[0], "Add")
        if eps is None or eps.size != 1 or not (gamma_mul and beta_add):
            continue
        p = f"{mean.name or mean.output[0]}/instance_norm"
        new = [
            helper.make_node("Reshape", [_other(gamma_mul, divide.output[0]), flat], [p + "/gamma"]),
            helper.make_node("Reshape", [_other(beta_add, gamma_mul.output[0]), flat], [p + "/beta"]),
            helper.make_node(
                "InstanceNormalization",
                [x, p + "/gamma", p + "/beta"],
                [beta_add.output[0]],
                epsilon=float(eps.ravel()[0]),
            ),
        ]
        g.replace(
            [mean, centre, square, variance, add_eps, sqrt, divide, gamma_mul, beta_add], _named(p, new)
        )
        count += 1
    g.commit()
    return count


def rewrite_stft(graph: GraphProto) -> int:
    """Each one-sided ``STFT`` with constant frame step, window and length becomes a strided float
    ``Conv`` of the signal with ONNX Runtime's own DFT basis (see ``cpu_model.py`` for why its own),
    laid out back to the op's [batch, frames, bins, 2]. ONNX Runtime runs the op as one small DFT
    per frame on one thread; the conv is one threaded GEMM. Returns how many."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = _Graph(graph)
    count = 0
    for node in [n for n in g.nodes if n.op_type == "STFT" and n.domain in ("", "ai.onnx")]:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = list(node.input) + [""] * (4 - len(node.input))
        step, window, length = (g.constants.get(name) if name else None for name in inputs[1:4])
        if attrs.get("onesided", 1) != 1 or step is None or step.size != 1 or window is None:
            continue
        size = int(window.size) if length is None else int(length.reshape(()))
        if window.ndim != 1 or window.size != size or size < 2 or window.dtype != np.float32:
            continue
        if not _is_real_signal(g, node.input[0]):
            continue
        hop, bins = int(step.reshape(())), size // 2 + 1
        p = f"{node.name or node.output[0]}/as_conv"
        weights = p + "/basis"
        graph.initializer.extend(
            [
                numpy_helper.from_array(_stft_basis(window), weights),
                numpy_helper.from_array(np.array([0, 1, -1], dtype=np.int64), p + "/channel"),
                numpy_helper.from_array(np.array([0, bins, 2, -1], dtype=np.int64), p + "/bins"),
            ]
        )
        # A real signal, [batch, T] or [batch, T, 1], as a one-channel sequence [batch, 1, T].
        new = [
            helper.make_node("Reshape", [node.input[0], p + "/channel"], [p + "/x"]),
            helper.make_node("Conv", [p + "/x", weights], [p + "/y"], strides=[hop]),
            helper.make_node("Reshape", [p + "/y", p + "/bins"], [p + "/yr"]),
            helper.make_node("Transpose", [p + "/yr"], [node.output[0]], perm=[0, 3, 1, 2]),
        ]
        g.replace([node], _named(p, new))
        count += 1
    g.commit()
    return count


def rewrite_squares(graph: GraphProto) -> int:
    """``Pow(x, 2)`` (Snake's sin², 48 times on the vocoder's largest tensors) becomes ``Mul(x, x)``:
    the same correctly rounded product, on a quicker kernel. Returns how many."""
    import numpy as np
    from onnx import helper

    g = _Graph(graph)
    count = 0
    for node in [n for n in g.nodes if n.op_type == "Pow" and n.domain in ("", "ai.onnx")]:
        exponent = g.constants.get(node.input[1])
        if exponent is None or exponent.size != 1 or float(exponent.ravel()[0]) != 2.0:
            continue
        if exponent.dtype != np.float32:
            continue
        square = helper.make_node("Mul", [node.input[0]] * 2, list(node.output), name=f"{node.name}/as_mul")
        g.replace([node], [square])
        count += 1
    g.commit()
    return count


def _is_real_signal(g: _Graph, name: str) -> bool:
    """True if *name* is provably a real signal for STFT, [batch, T] or [batch, T, 1] (a complex
    one, [batch, T, 2], cannot be a one-channel conv input): its shape is set by a Reshape whose
    target has 2 entries, or 3 ending in a constant 1."""
    reshape = g.made_by(name, "Reshape")
    if reshape is None:
        return False
    target = g.constants.get(reshape.input[1])
    if target is not None:
        return target.size == 2 or (target.size == 3 and int(target.ravel()[2]) == 1)
    concat = g.made_by(reshape.input[1], "Concat")  # e.g. [batch, length] from two dims
    if concat is None:
        return False
    # Constants count their entries, a scalar made 1-D by Unsqueeze one (a shape target is 1-D, so
    # an Unsqueeze in it unsqueezed a scalar); anything else leaves the rank unknown.
    entries = 0
    for part in concat.input:
        constant = g.constants.get(part)
        if constant is not None:
            entries += int(constant.size)
        elif g.made_by(part, "Unsqueeze") is not None:
            entries += 1
        else:
            return False
    return entries == 2


def _stft_basis(window: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """ONNX Runtime's one-sided STFT of one frame, as conv kernels [bins · 2, 1, size] (real and
    imaginary part of each bin, in that order): the op applied to each unit impulse. One frame per
    signal, so the frame step plays no part."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    size = int(window.size)
    graph = helper.make_graph(
        [helper.make_node("STFT", ["x", "step", "window", "length"], ["y"], onesided=1)],
        "stft-basis",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array(1, dtype=np.int64), "step"),
            numpy_helper.from_array(np.asarray(window, dtype=np.float32), "window"),
            numpy_helper.from_array(np.array(size, dtype=np.int64), "length"),
        ],
    )
    model = helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    impulses = np.eye(size, dtype=np.float32)[:, :, None]
    spectra = session.run(None, {"x": impulses})[0]  # [impulse n, 1 frame, bin k, re/im]
    return np.ascontiguousarray(spectra[:, 0].transpose(1, 2, 0).reshape(-1, 1, size), dtype=np.float32)
