"""A long first piece sent in two parts, heard as one: the CPU model cut where it can be resumed.

Why: a reply's first piece is synthesized whole before any of it is sent, and ~95 % of an
inference is the vocoder, so a long first clause ("Today you used 12.4 kWh of electricity,", ~3 s
of speech) is the slowest first audio. Cutting its *text* shorter is no answer: the model ends the
shorter text like a sentence (its last word drawn out, pitch falling; ``bench/split_decode.py``).

How: Kokoro predicts the whole text's durations, pitch and energy first, and its decoder then turns
frame-aligned features (one frame = 600 samples) into audio. So the model is cut in parts:

* ``prosody``: tokens → aligned features, F0, energy and durations (the text encoder and
  predictors, ~5 % of an inference);
* ``frames``: those → the decoder's frame-rate output, the generator's input (~2 %); run over the
  whole piece, so it is exactly what the whole model computes;
* ``head``: the generator (the rest) over frames [0, e), returning, besides the audio, the mean
  and variance of every normalization it did;
* ``tail``: the generator over frames [s, end), normalizing with the head's statistics pooled with its own;
* ``generator``: the generator as it is, over all frames (a piece that is not cut).

The generator's ~54 AdaIN normalizations take mean and variance over the frames they are given, so
a tail decoded on its own comes out at its own level: 2.6 dB louder than its head (median over 68
first clauses, cut in the middle; p90 4.4 dB), a step heard at the seam. Normalizing the tail with
the head's statistics makes the two one consistent decode, but a head of a few words and pauses can
have statistics unlike the clause's, and its tail then came out up to 11 dB off. So the tail pools
the head's statistics (weight ``HEAD_WEIGHT``) with its own, which keeps it within ~2 dB of one
decode of the clause, and ``join_level`` matches its level to the head's at the seam, easing back
over the tail. The frame-rate decoder is not cut at all: in a head its first normalization can see
a channel that hardly moves (variance ~1e-14). Frames near a cut lack their neighbours (zero
padding), so each part decodes ``OVERLAP_FRAMES`` past the cut and the two are crossfaded over the
middle ``CROSSFADE_FRAMES``. The harmonic source's phase (a running sum of F0 from the first frame)
is carried into the tail through a ``phase0`` input.

``prosody`` + ``frames`` + ``generator`` (or ``head`` over all frames) is the whole model's audio
bit for bit (checked once per build and machine, see ``SplitModel.check``), so a piece that is not
cut sounds as before. On the CPU the parts therefore stand in for the whole model too
(``WholeModel``): its weights are not held twice.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .build.float_model import (
    FloatModelError,
    _atomic_write,
    _import_onnx,
    _load,
    _model_bytes,
    _read_stamp,
    _remove_dead_code,
    _sha256_file,
)
from .build.frame_cap import DURATIONS, FrameCapError, cap_frames

if TYPE_CHECKING:
    import onnxruntime as ort
    from onnx import GraphProto, ModelProto

_LOGGER = logging.getLogger(__name__)

BUILDER_VERSION = 5
SAMPLE_RATE = 24_000
SAMPLES_PER_FRAME = 600
#: Frames each part decodes past the cut: a frame's sound depends on ~2 frames around it.
OVERLAP_FRAMES = 4
#: Frames around the cut over which the head fades into the tail.
CROSSFADE_FRAMES = 4
#: Weight of the head's statistics in the tail's normalization (the tail's own: the rest). Measured
#: at the engine's cuts of 68 first clauses: 1.0 (the head's alone) keeps the two parts at one
#: level in most clauses but sends a tail 11 dB off in some (a head of a few words and pauses has
#: statistics unlike the clause's); 0.75 keeps the tail within 2.1 dB of one decode of the clause.
HEAD_WEIGHT = 0.75
#: Largest level correction at the seam, dB (the head is 0.5–2.5 dB quieter than one decode, p10–p90).
MAX_JOIN_DB = 3.0
PARTS = ("prosody", "frames", "head", "tail", "generator")

# Where the Kokoro v1.0 export hands over from one stage to the next.
_FEATURES = "/encoder/MatMul_1_output_0"  # aligned text features [1, 512, frames]
_F0 = "/encoder/Reshape_output_0"  # pitch, two steps per frame [1, 2·frames]
_ENERGY = "/encoder/Reshape_1_output_0"  # energy, two steps per frame
_DECODED = "/decoder/decoder/decode.3/Div_4_output_0"  # the generator's input [1, C, 2·frames]
_PHASE0 = "phase0"
_HARMONICS = np.arange(1, 10, dtype=np.float32)  # the harmonic source's 9 harmonics
_STAT_SUFFIXES = ("/wk_mean", "/wk_var")
_TIME_AXIS = "wk_time_axis"
_HEAD_SHARE = "head_share"


class SplitModelError(FloatModelError):
    """The model cannot be cut (another export) or its parts do not check out: pieces go whole."""


@dataclass(frozen=True)
class Prosody:
    """A piece's prosody and frame-rate decoding: everything the generator needs, any frames."""

    f0: npt.NDArray[np.float32]  # [1, 2·frames]
    decoded: npt.NDArray[np.float32]  # [1, C, 2·frames]
    durations: npt.NDArray[np.int64]  # frames per token, pads included
    style: npt.NDArray[np.float32]

    @property
    def frames(self) -> int:
        return int(self.f0.shape[-1]) // 2


@dataclass(frozen=True)
class Cut:
    """Where a piece is cut: at frame ``frame``, after its first ``words`` phoneme words."""

    frame: int
    words: int


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
        "source_sha256": _sha256_file(Path(model_path)),
    }
    if all(p.is_file() for p in paths.values()):
        hashes = {part: _sha256_file(path) for part, path in paths.items()}
        found = _read_stamp(stamp_path)
        if isinstance(found, dict) and {key: found.get(key) for key in (*stamp, "parts_sha256")} == {
            **stamp,
            "parts_sha256": hashes,
        }:
            return paths
    started = time.monotonic()
    for part, model in build_split_models(Path(model_path)).items():
        props = {"wyoming_kokoro.source": Path(model_path).name, "wyoming_kokoro.part": part}
        _atomic_write(paths[part], _model_bytes(_import_onnx(), model, "wyoming-kokoro split", props))
    stamp["parts_sha256"] = {part: _sha256_file(path) for part, path in paths.items()}
    _atomic_write(stamp_path, json.dumps(stamp, indent=1).encode())
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
    the parts' arithmetic). The check costs ~2 s of every start otherwise."""
    found = _read_stamp(_stamp_path(model_path, cache_dir))
    return isinstance(found, dict) and machine in found.get("checked_on", [])


def remember_checked(model_path: Path, cache_dir: Path, machine: str) -> None:
    """Record that the parts passed ``SplitModel.check`` on *machine* (see ``checked_here``)."""
    stamp_path = _stamp_path(model_path, cache_dir)
    found = _read_stamp(stamp_path)
    if isinstance(found, dict):
        found["checked_on"] = sorted({*found.get("checked_on", []), machine})
        _atomic_write(stamp_path, json.dumps(found, indent=1).encode())


def build_split_models(src: Path) -> dict[str, ModelProto]:
    """The parts (see the module doc) of the Kokoro v1.0 model at *src*."""
    onnx = _import_onnx()
    from onnx import utils

    model = _load(onnx, src, load_external_data=True)
    names = {i.name for i in model.graph.input}
    tokens = "tokens" if "tokens" in names else "input_ids"
    produced = {name for node in model.graph.node for name in node.output}
    missing = {_FEATURES, _F0, _ENERGY, DURATIONS, _DECODED} - produced
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
            "prosody": extractor.extract_model(
                [tokens, "style", "speed"], [_FEATURES, _F0, _ENERGY, DURATIONS]
            ),
            "frames": extractor.extract_model([_FEATURES, _F0, _ENERGY, "style"], [_DECODED]),
        }
        generator = extractor.extract_model([_DECODED, _F0, "style"], [model.graph.output[0].name])
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
    carried = f"{phase}_plus_{_PHASE0}"
    for node in graph.node:
        node.input[:] = [carried if name == phase else name for name in node.input]
    index = list(graph.node).index(cumsums[0])
    graph.node.insert(index + 1, helper.make_node("Add", [phase, _PHASE0], [carried], name="wk_phase0"))
    graph.input.append(helper.make_tensor_value_info(_PHASE0, TensorProto.FLOAT, [1, 1, 9]))


def _moments(x: str, mean: str, var: str, opset: int) -> list[Any]:
    """Nodes computing the mean and variance of *x* [1, C, T] over time ([1, C, 1] each) in two
    passes (mean and sum of squares; variance = E[x²] − mean²): ~4 % of the generator's time,
    against ~12 % for a centred second pass."""
    from onnx import TensorProto, helper

    on_time: dict[str, Any] = {"keepdims": 1} if opset >= 18 else {"keepdims": 1, "axes": [2]}
    inputs = [x, _TIME_AXIS] if opset >= 18 else [x]
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
    (the generator's largest tensors) alive to the end of the run: ~1.8 MB per frame decoded
    instead of ~0.5 MB, on the CPU. So they are computed just before their normalization."""
    from onnx import TensorProto, helper, numpy_helper

    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([2], np.int64), _TIME_AXIS),
            numpy_helper.from_array(np.array([-1], np.int64), "wk_flat"),
            numpy_helper.from_array(np.array([0.0], np.float32), "wk_zero"),
        ]
    )
    _instance_norms(graph)
    names: list[str] = []
    nodes = []
    for node in graph.node:
        if node.op_type == "InstanceNormalization":
            mean, var = (node.output[0] + suffix for suffix in _STAT_SUFFIXES)
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
            numpy_helper.from_array(np.array([2], np.int64), _TIME_AXIS),
            numpy_helper.from_array(np.array([1.0], np.float32), "wk_one"),
            numpy_helper.from_array(np.array([1, -1, 1], np.int64), "wk_channels"),
        ]
    )
    _instance_norms(graph)
    nodes = [helper.make_node("Sub", ["wk_one", _HEAD_SHARE], ["wk_tail_share"])]  # before its readers
    for node in graph.node:
        if node.op_type != "InstanceNormalization":
            nodes.append(node)
            continue
        (x, gamma, beta), p = node.input, node.output[0]
        head_mean, head_var = (p + suffix for suffix in _STAT_SUFFIXES)
        epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        graph.initializer.append(numpy_helper.from_array(np.array([epsilon], np.float32), p + "/wk_eps"))
        q = p + "/wk_pool"
        nodes += _moments(x, q + "/tail_mean", q + "/tail_var", opset)
        nodes += [
            # E[x²] of each part, then both weighted by their share of the frames.
            helper.make_node("Mul", [head_mean, head_mean], [q + "/head_mean2"]),
            helper.make_node("Add", [head_var, q + "/head_mean2"], [q + "/head_sq"]),
            helper.make_node("Add", [q + "/tail_var", q + "/tail_var/mean2"], [q + "/tail_sq"]),
            helper.make_node("Mul", [head_mean, _HEAD_SHARE], [q + "/head_mean_w"]),
            helper.make_node("Mul", [q + "/tail_mean", "wk_tail_share"], [q + "/tail_mean_w"]),
            helper.make_node("Add", [q + "/head_mean_w", q + "/tail_mean_w"], [q + "/mean"]),
            helper.make_node("Mul", [q + "/head_sq", _HEAD_SHARE], [q + "/head_sq_w"]),
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
    graph.input.append(helper.make_tensor_value_info(_HEAD_SHARE, TensorProto.FLOAT, [1]))
    _remove_dead_code(graph)


class SplitModel:
    """The parts' sessions, and how a piece goes through them."""

    def __init__(self, sessions: dict[str, ort.InferenceSession]) -> None:
        self.sessions = sessions
        self._tokens = next(
            i.name for i in sessions["prosody"].get_inputs() if i.name in ("tokens", "input_ids")
        )
        self._statistics = [o.name for o in sessions["head"].get_outputs()][1:]

    def prosody(
        self, ids: list[int], style: npt.NDArray[np.float32], speed: float, run_options: ort.RunOptions | None
    ) -> Prosody:
        """Durations, pitch, and the frame-rate decoding of the whole piece (~7 % of an inference)."""
        return self._prosody(self._feeds_for(ids, style, speed), run_options)

    def _feeds_for(
        self, ids: list[int], style: npt.NDArray[np.float32], speed: float
    ) -> dict[str, npt.NDArray[Any]]:
        """The whole model's (and the prosody part's) inputs for token *ids* (pads added)."""
        return {
            self._tokens: np.array([[0, *ids, 0]], dtype=np.int64),
            "style": style,
            "speed": np.array([speed], dtype=np.float32),
        }

    def _prosody(self, feeds: dict[str, npt.NDArray[Any]], run_options: ort.RunOptions | None) -> Prosody:
        style = feeds["style"]
        features, f0, energy, durations = self.sessions["prosody"].run(None, feeds, run_options)
        frames = {_FEATURES: features, _F0: f0, _ENERGY: energy, "style": style}
        (decoded,) = self.sessions["frames"].run(None, frames, run_options)
        return Prosody(f0, decoded, np.asarray(durations, np.int64).ravel(), style)

    def whole(self, p: Prosody, run_options: ort.RunOptions | None) -> npt.NDArray[np.float32]:
        """All of a piece's frames in one decode: the whole model's audio."""
        (audio,) = self.sessions["generator"].run(None, self._feeds(p, 0, p.frames), run_options)
        return _audio(audio, p.frames)

    def head(
        self, p: Prosody, end: int, run_options: ort.RunOptions | None
    ) -> tuple[npt.NDArray[np.float32], dict[str, npt.NDArray[np.float32]]]:
        """Frames [0, end) normalized over themselves, and the statistics they were normalized with.
        With *end* = all frames, the whole model's audio."""
        out = self.sessions["head"].run(None, self._feeds(p, 0, end), run_options)
        return _audio(out[0], end), dict(zip(self._statistics, out[1:], strict=True))

    def tail(
        self,
        p: Prosody,
        start: int,
        statistics: dict[str, npt.NDArray[np.float32]],
        run_options: ort.RunOptions | None,
    ) -> npt.NDArray[np.float32]:
        """Frames [start, end), in phase with a head, normalized with the head's *statistics* and
        its own pooled (``HEAD_WEIGHT``)."""
        share = np.array([HEAD_WEIGHT], np.float32)
        feeds = {**self._feeds(p, start, p.frames), **statistics, _HEAD_SHARE: share}
        (audio,) = self.sessions["tail"].run(None, feeds, run_options)
        return _audio(audio, p.frames - start)

    def check(self, session: ort.InferenceSession, ids: list[int], table: npt.NDArray[np.float32]) -> None:
        """Before the parts are trusted, on this machine: uncut (through the generator, and through
        the head over all frames) they must give the whole model's audio (*session*; *table*: a
        voice), and a tail decoded apart near the whole decode's level. Raises SplitModelError."""
        style = table[len(ids) - 1].reshape(1, -1).astype(np.float32)
        feeds = self._feeds_for(ids, style, 1.0)
        whole = np.asarray(session.run(None, feeds)[0], dtype=np.float32).ravel()
        p = self._prosody(feeds, None)
        uncut, _ = self.head(p, p.frames, None)
        for audio in (uncut, self.whole(p, None)):
            if audio.shape != whole.shape or not np.allclose(audio, whole, atol=1e-5):
                raise SplitModelError("the parts do not give the whole model's audio")
        cut = p.frames // 2
        _, statistics = self.head(p, cut + OVERLAP_FRAMES, None)
        tail = self.tail(p, cut - OVERLAP_FRAMES, statistics, None)
        rest = (cut + OVERLAP_FRAMES) * SAMPLES_PER_FRAME
        off = level_db(tail[2 * OVERLAP_FRAMES * SAMPLES_PER_FRAME :], uncut[rest:])
        if not np.isfinite(tail).all() or not abs(off) <= 3.0:
            raise SplitModelError(f"a tail decoded apart is {off:+.1f} dB off the whole decode")

    def _feeds(self, p: Prosody, start: int, end: int) -> dict[str, npt.NDArray[np.float32]]:
        steps = p.f0[0, : 2 * start].astype(np.float32)[:, None] * _HARMONICS / np.float32(SAMPLE_RATE)
        # Per step the source advances by f0·h/24000 cycles; only the fraction matters (float64:
        # hundreds of steps are summed).
        phase = np.sum((steps - np.floor(steps)).astype(np.float64), axis=0) % 1.0
        return {
            _DECODED: np.ascontiguousarray(p.decoded[:, :, 2 * start : 2 * end]),
            _F0: np.ascontiguousarray(p.f0[:, 2 * start : 2 * end]),
            "style": p.style,
            _PHASE0: phase.astype(np.float32).reshape(1, 1, 9),
        }


class WholeModel:
    """The whole model as the engine runs it (``run``, ``get_inputs``, ``get_providers``, as an
    ONNX Runtime session has them), served by a split model's parts: prosody, frames, generator.
    The audio is the whole model's, bit for bit; the whole model's own session, whose weights the
    parts hold too, is then not needed."""

    def __init__(self, split: SplitModel, model_path: Path) -> None:
        self.split = split
        self._model_path = str(model_path)

    def get_inputs(self) -> list[Any]:
        return list(self.split.sessions["prosody"].get_inputs())

    def get_providers(self) -> list[str]:
        return list(self.split.sessions["generator"].get_providers())

    def run(
        self,
        output_names: list[str] | None,
        feeds: dict[str, npt.NDArray[Any]],
        run_options: ort.RunOptions | None = None,
    ) -> list[npt.NDArray[np.float32]]:
        """*feeds*: tokens (with their pads), style and speed, as for the whole model."""
        prosody = self.split._prosody(feeds, run_options)
        return [self.split.whole(prosody, run_options)]


def join_level(overlap: npt.NDArray[np.float32], tail: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """*tail* brought to the head's level at the seam: the level difference over the stretch both
    decoded (*overlap*, the head's; *tail* starts with the same stretch) is applied at the tail's
    start and eased to nothing by its end (the head is normalized over fewer frames than the
    clause, ~1.7 dB quieter than one decode of it; the tail nearly as one decode). Over 270 first
    clauses (three voices), against one decode: without it the seam steps by +1.85 dB (median; p90
    3.44 dB), with it by +0.11 dB (p10 -1.42, p90 +1.27)."""
    reference, stretch = (np.square(a, dtype=np.float64).mean() for a in (overlap, tail[: overlap.size]))
    if reference <= 1e-12 or stretch <= 1e-12:
        return tail
    gain_db = float(np.clip(10 * np.log10(reference / stretch), -MAX_JOIN_DB, MAX_JOIN_DB))
    ramp = np.linspace(gain_db, 0.0, tail.size, dtype=np.float32)
    return (tail * np.power(np.float32(10), ramp / np.float32(20))).astype(np.float32)


def plan_cut(
    symbols: str,
    durations: npt.NDArray[np.int64],
    seconds_per_frame: float,
    overhead: float,
    wait: float = 0.0,
) -> Cut | None:
    """The earliest cut that keeps the rest ahead of playback, or None (send the piece whole).

    Cuts are in the gap between two words (the middle of a space's frames), where the crossfade is
    quietest. A cut qualifies when the rest (from the overlap on) is estimated to decode, at
    *seconds_per_frame* of inference per frame plus *overhead*, after *wait* seconds of other
    work that goes first (other replies' first words), within 80 % of the time the head plays
    (from its first phoneme), and when it saves a quarter of the piece at least.
    *symbols*: the piece's phonemes as tokenized (one per token); *durations*: frames per token,
    with the two pads.
    """
    starts = np.concatenate([[0], np.cumsum(durations)])
    frames = int(starts[-1])
    lead = int(durations[0])  # the leading pad: trimmed silence, not playback
    words = 1
    for index, symbol in enumerate(symbols):
        if symbol != " ":
            continue
        cut = int(starts[index + 1] + durations[index + 1] // 2)
        if cut < 2 * OVERLAP_FRAMES:  # the tail would start before the first frame
            words += 1
            continue
        plays = (cut - CROSSFADE_FRAMES // 2 - lead) * SAMPLES_PER_FRAME / SAMPLE_RATE
        rest = wait + overhead + seconds_per_frame * (frames - cut + OVERLAP_FRAMES)
        if cut + OVERLAP_FRAMES > 0.75 * frames:
            return None
        if rest <= 0.8 * plays:
            return Cut(cut, words)
        words += 1
    return None


def _audio(output: Any, frames: int) -> npt.NDArray[np.float32]:
    return np.asarray(output, dtype=np.float32).ravel()[: frames * SAMPLES_PER_FRAME]


def level_db(audio: npt.NDArray[np.float32], reference: npt.NDArray[np.float32]) -> float:
    """How much louder *audio* is than *reference*, in dB (mean power)."""
    power = float(np.mean(np.square(audio, dtype=np.float64)))
    return 10 * float(np.log10(power / max(float(np.mean(np.square(reference, dtype=np.float64))), 1e-20)))
