"""Cutting the model in the parts a first piece is sent in two with (see ``model/split.py`` for
what each part is and why): built once per model and cached beside it, with a stamp that says what
they were built from and on which machines they passed their check."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..split import (
    DECODED,
    ENERGY,
    F0,
    FEATURES,
    HEAD_SHARE,
    PARTS,
    PHASE0,
    STAT_SUFFIXES,
    TIME_AXIS,
    SplitModelError,
)
from .frame_cap import DURATIONS, FrameCapError, cap_frames
from .graph import import_onnx, load_model, model_bytes, read_stamp, remove_dead_code, sha256_file, write_file

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto

_LOGGER = logging.getLogger(__name__)

#: Bump whenever the parts' graphs change: cached parts are then rebuilt.
BUILDER_VERSION = 5


def split_paths(model_path: Path, cache_dir: Path) -> dict[str, Path]:
    return {part: Path(cache_dir) / f"{Path(model_path).stem}.{part}.onnx" for part in PARTS}


def _stamp_path(model_path: Path, cache_dir: Path) -> Path:
    """What the parts were built from, their hashes, and where they passed their check."""
    return Path(cache_dir) / f"{Path(model_path).stem}.split.json"


def ensure_split_models(model_path: Path, cache_dir: Path) -> dict[str, Path]:
    """The parts of *model_path* (cached beside it, rebuilt when the model, the builder or a
    part's file changes). Raises SplitModelError when the model has not the export's layout."""
    paths = split_paths(model_path, cache_dir)
    stamp_path = _stamp_path(model_path, cache_dir)
    stamp: dict[str, object] = {
        "builder_version": BUILDER_VERSION,
        "source_sha256": sha256_file(Path(model_path)),
    }
    if all(p.is_file() for p in paths.values()):
        hashes = {part: sha256_file(path) for part, path in paths.items()}
        found = read_stamp(stamp_path)
        if isinstance(found, dict) and {key: found.get(key) for key in (*stamp, "parts_sha256")} == {
            **stamp,
            "parts_sha256": hashes,
        }:
            return paths
    started = time.monotonic()
    for part, model in build_split_models(Path(model_path)).items():
        props = {"wyoming_kokoro.source": Path(model_path).name, "wyoming_kokoro.part": part}
        write_file(paths[part], model_bytes(import_onnx(), model, "wyoming-kokoro split", props))
    stamp["parts_sha256"] = {part: sha256_file(path) for part, path in paths.items()}
    write_file(stamp_path, json.dumps(stamp, indent=1).encode())
    _LOGGER.info(
        "Cut %s in %d parts in %.1f s (cached in %s)",
        model_path,
        len(PARTS),
        time.monotonic() - started,
        cache_dir,
    )
    return paths


def checked_here(model_path: Path, cache_dir: Path, machine: str) -> bool:
    """Whether the parts of *model_path* (as ``ensure_split_models`` last built them) passed
    ``SplitModel.check`` on *machine* (the CPU's kernels and ONNX Runtime's version: what decides
    the parts' arithmetic). The check would cost seconds of every start otherwise."""
    found = read_stamp(_stamp_path(model_path, cache_dir))
    return isinstance(found, dict) and machine in found.get("checked_on", [])


def remember_checked(model_path: Path, cache_dir: Path, machine: str) -> None:
    """Record that the parts passed ``SplitModel.check`` on *machine* (see ``checked_here``)."""
    stamp_path = _stamp_path(model_path, cache_dir)
    found = read_stamp(stamp_path)
    if isinstance(found, dict):
        found["checked_on"] = sorted({*found.get("checked_on", []), machine})
        write_file(stamp_path, json.dumps(found, indent=1).encode())


def build_split_models(src: Path) -> dict[str, ModelProto]:
    """The parts (see the module doc) of the Kokoro v1.0 model at *src*."""
    onnx = import_onnx()
    from onnx import utils

    model = load_model(onnx, src, load_external_data=True)
    names = {i.name for i in model.graph.input}
    tokens = "tokens" if "tokens" in names else "input_ids"
    produced = {name for node in model.graph.node for name in node.output}
    missing = {FEATURES, F0, ENERGY, DURATIONS, DECODED} - produced
    if missing or not {tokens, "style", "speed"} <= names:
        raise SplitModelError(
            f"{src.name} is not laid out like the Kokoro v1.0 export (no {sorted(missing)})"
        )
    try:
        cap_frames(model.graph)  # already there in the CPU model; a model used as it is gets it here
    except FrameCapError as err:
        raise SplitModelError(f"{src.name}: {err}") from None
    extractor = utils.Extractor(model)
    try:
        parts = {
            "prosody": extractor.extract_model([tokens, "style", "speed"], [FEATURES, F0, ENERGY, DURATIONS]),
            "frames": extractor.extract_model([FEATURES, F0, ENERGY, "style"], [DECODED]),
        }
        generator = extractor.extract_model([DECODED, F0, "style"], [model.graph.output[0].name])
    except Exception as err:  # onnx raises plain exceptions for a graph it cannot cut there
        raise SplitModelError(f"cannot cut {src.name}: {type(err).__name__}: {err}") from err
    _add_phase_input(generator.graph)
    opset = next((o.version for o in generator.opset_import if o.domain in ("", "ai.onnx")), 0)
    head, tail, plain = generator, type(generator)(), type(generator)()
    tail.CopyFrom(generator)
    plain.CopyFrom(generator)
    statistics = _expose_statistics(head.graph, opset)
    _pool_statistics(tail.graph, statistics, opset)
    return {**parts, "head": head, "tail": tail, "generator": plain}


def _add_phase_input(graph: GraphProto) -> None:
    """Add ``phase0`` [1, 1, 9] (cycles) to the harmonic source's running phase, right after the
    ``CumSum`` that sums it from the first frame: a tail starts where its head left off."""
    from onnx import TensorProto, helper

    cumsums = [n for n in graph.node if n.op_type == "CumSum" and "l_sin_gen" in n.name]
    if len(cumsums) != 1:
        raise SplitModelError(f"expected one harmonic-source CumSum, found {len(cumsums)}")
    phase = cumsums[0].output[0]
    carried = f"{phase}_plus_{PHASE0}"
    for node in graph.node:
        node.input[:] = [carried if name == phase else name for name in node.input]
    index = list(graph.node).index(cumsums[0])
    graph.node.insert(index + 1, helper.make_node("Add", [phase, PHASE0], [carried], name="wk_phase0"))
    graph.input.append(helper.make_tensor_value_info(PHASE0, TensorProto.FLOAT, [1, 1, 9]))


def _moments(x: str, mean: str, var: str, opset: int) -> list[Any]:
    """Nodes computing the mean and variance of *x* [1, C, T] over time ([1, C, 1] each) in two
    passes (mean and sum of squares; variance = E[x²] − mean²), cheaper than a centred second
    pass."""
    from onnx import TensorProto, helper

    on_time: dict[str, Any] = {"keepdims": 1} if opset >= 18 else {"keepdims": 1, "axes": [2]}
    inputs = [x, TIME_AXIS] if opset >= 18 else [x]
    return [
        helper.make_node("ReduceMean", inputs, [mean], **on_time),
        helper.make_node("ReduceSumSquare", inputs, [var + "/sumsq"], **on_time),
        helper.make_node("Shape", [x], [var + "/shape"], start=2, end=3),
        helper.make_node("Cast", [var + "/shape"], [var + "/count"], to=TensorProto.FLOAT),
        helper.make_node("Div", [var + "/sumsq", var + "/count"], [var + "/meansq"]),
        helper.make_node("Mul", [mean, mean], [var + "/mean2"]),
        helper.make_node("Sub", [var + "/meansq", var + "/mean2"], [var + "/diff"]),
        helper.make_node("Relu", [var + "/diff"], [var]),  # rounding can dip below 0
    ]


def _instance_norms(graph: GraphProto) -> list[Any]:
    """The generator's normalizations, which must be (nearly) all ``InstanceNormalization``: the
    CPU model's. The int8 export writes each as nine ops (two ``ReduceMean``); a model that
    mostly does is not split (its tail would come out at its own level)."""
    norms = [n for n in graph.node if n.op_type == "InstanceNormalization"]
    written_out = sum(1 for n in graph.node if n.op_type == "ReduceMean") // 2
    if not norms or written_out * 9 > len(norms):
        raise SplitModelError(
            f"the generator's normalizations are written out ({written_out} of {written_out + len(norms)})"
        )
    return norms


def _expose_statistics(graph: GraphProto, opset: int) -> list[str]:
    """Make every ``InstanceNormalization``'s input's mean and variance graph outputs ([1, C, 1]
    each), in graph order: the statistics the head was normalized with.

    Each normalization's scale also reads them, times zero (γ + 0 · (mean + var) is γ exactly):
    ONNX Runtime orders nodes back from the graph's outputs, and statistics that nothing on the
    way to the audio needs were computed after all of it, keeping every normalization's input
    (the generator's largest tensors) alive to the end of the run, several times the memory per
    frame decoded. So they are computed just before their normalization."""
    from onnx import TensorProto, helper, numpy_helper

    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([2], np.int64), TIME_AXIS),
            numpy_helper.from_array(np.array([-1], np.int64), "wk_flat"),
            numpy_helper.from_array(np.array([0.0], np.float32), "wk_zero"),
        ]
    )
    _instance_norms(graph)
    names: list[str] = []
    nodes = []
    for node in graph.node:
        if node.op_type == "InstanceNormalization":
            mean, var = (node.output[0] + suffix for suffix in STAT_SUFFIXES)
            q = node.output[0] + "/wk_after"
            nodes += _moments(node.input[0], mean, var, opset)
            nodes += [
                helper.make_node("Add", [mean, var], [q + "/sum"]),
                helper.make_node("Reshape", [q + "/sum", "wk_flat"], [q + "/flat"]),
                helper.make_node("Mul", [q + "/flat", "wk_zero"], [q + "/nothing"]),
                helper.make_node("Add", [node.input[1], q + "/nothing"], [q + "/scale"]),
            ]
            node.input[1] = q + "/scale"
            names += [mean, var]
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names)
    return names


def _pool_statistics(graph: GraphProto, statistics: list[str], opset: int) -> None:
    """Normalize with the statistics of head and tail together: each ``InstanceNormalization``
    becomes ``x · a + (β − mean · a)``, ``a = γ / sqrt(var + ε)`` per channel, where mean and
    variance pool the head's (inputs named as ``_expose_statistics``'s outputs) and the tail's
    own, weighted by the ``head_share`` input (``HEAD_WEIGHT``) and the rest."""
    from onnx import TensorProto, helper, numpy_helper

    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([2], np.int64), TIME_AXIS),
            numpy_helper.from_array(np.array([1.0], np.float32), "wk_one"),
            numpy_helper.from_array(np.array([1, -1, 1], np.int64), "wk_channels"),
        ]
    )
    _instance_norms(graph)
    nodes = [helper.make_node("Sub", ["wk_one", HEAD_SHARE], ["wk_tail_share"])]  # before its readers
    for node in graph.node:
        if node.op_type != "InstanceNormalization":
            nodes.append(node)
            continue
        (x, gamma, beta), p = node.input, node.output[0]
        head_mean, head_var = (p + suffix for suffix in STAT_SUFFIXES)
        epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        graph.initializer.append(numpy_helper.from_array(np.array([epsilon], np.float32), p + "/wk_eps"))
        q = p + "/wk_pool"
        nodes += _moments(x, q + "/tail_mean", q + "/tail_var", opset)
        nodes += [
            # E[x²] of each part, then both weighted by their share of the frames.
            helper.make_node("Mul", [head_mean, head_mean], [q + "/head_mean2"]),
            helper.make_node("Add", [head_var, q + "/head_mean2"], [q + "/head_sq"]),
            helper.make_node("Add", [q + "/tail_var", q + "/tail_var/mean2"], [q + "/tail_sq"]),
            helper.make_node("Mul", [head_mean, HEAD_SHARE], [q + "/head_mean_w"]),
            helper.make_node("Mul", [q + "/tail_mean", "wk_tail_share"], [q + "/tail_mean_w"]),
            helper.make_node("Add", [q + "/head_mean_w", q + "/tail_mean_w"], [q + "/mean"]),
            helper.make_node("Mul", [q + "/head_sq", HEAD_SHARE], [q + "/head_sq_w"]),
            helper.make_node("Mul", [q + "/tail_sq", "wk_tail_share"], [q + "/tail_sq_w"]),
            helper.make_node("Add", [q + "/head_sq_w", q + "/tail_sq_w"], [q + "/sq"]),
            helper.make_node("Mul", [q + "/mean", q + "/mean"], [q + "/mean2"]),
            helper.make_node("Sub", [q + "/sq", q + "/mean2"], [q + "/diff"]),
            helper.make_node("Relu", [q + "/diff"], [q + "/var"]),
            # The normalization itself, as a per-channel scale and shift.
            helper.make_node("Add", [q + "/var", p + "/wk_eps"], [q + "/var_eps"]),
            helper.make_node("Sqrt", [q + "/var_eps"], [q + "/sd"]),
            helper.make_node("Reshape", [gamma, "wk_channels"], [q + "/gamma"]),
            helper.make_node("Reshape", [beta, "wk_channels"], [q + "/beta"]),
            helper.make_node("Div", [q + "/gamma", q + "/sd"], [q + "/scale"]),
            helper.make_node("Mul", [q + "/mean", q + "/scale"], [q + "/mean_scaled"]),
            helper.make_node("Sub", [q + "/beta", q + "/mean_scaled"], [q + "/shift"]),
            helper.make_node("Mul", [x, q + "/scale"], [q + "/scaled"]),
            helper.make_node("Add", [q + "/scaled", q + "/shift"], [p]),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.input.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in statistics)
    graph.input.append(helper.make_tensor_value_info(HEAD_SHARE, TensorProto.FLOAT, [1]))
    remove_dead_code(graph)
