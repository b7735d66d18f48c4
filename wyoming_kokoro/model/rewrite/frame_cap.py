"""A hard bound on the audio one inference can make, written into the model graph.

Why: an inference's memory (ONNX Runtime's arena, the generator's tensors at 24 kHz) grows with
the frames the model predicts for a piece, not with its tokens, and the frames follow from text.
A piece of runs of punctuation or one giant "word" at the slowest speed is many times the frames
of a sentence, and the memory it takes is never given back. The scheduler keeps pieces short
enough (``text.packing.piece_token_limit``), but how many frames a token gets is the model's guess;
this cap makes the bound hold whatever the text.

How: Kokoro rounds and clips its predicted durations (frames per token, at least 1) in
``/encoder/Clip``; everything downstream (alignment, pitch, decoder) reads that tensor. The cap
renames the clip's output and computes the original name from it: when the durations sum to more
than ``MAX_PIECE_FRAMES``, each token's frames beyond its first are scaled down alike (the piece
is spoken faster, its rhythm kept); otherwise they pass unchanged, so any piece under the cap
sounds bit for bit as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import GraphProto

#: Frames (25 ms each) one inference may make: 12.5 s of audio, about what the longest piece of
#: ordinary text makes (150 tokens: ~9–11 s); pieces the scheduler makes stay under it at every
#: speed (``text.packing.piece_token_limit``). Every token keeps one frame even so.
MAX_PIECE_FRAMES = 500
#: Where the Kokoro v1.0 export holds its durations: frames per token (float), pads included.
DURATIONS = "/encoder/Clip_output_0"

_PREFIX = "wk_frame_cap"
_UNCAPPED = f"{DURATIONS}/uncapped"


class FrameCapError(ValueError):
    """The graph has no duration tensor where the Kokoro v1.0 export has it."""


def cap_frames(graph: GraphProto, max_frames: int = MAX_PIECE_FRAMES) -> bool:
    """Bound the frames the model makes for any input to *max_frames* (see the module doc).
    Returns False when the graph is already capped. Raises FrameCapError."""
    from onnx import helper, numpy_helper

    if any(node.name.startswith(_PREFIX) for node in graph.node):
        return False
    producers = [node for node in graph.node if DURATIONS in node.output]
    if len(producers) != 1:
        raise FrameCapError(f"no single {DURATIONS} in the graph: not the Kokoro v1.0 export")
    producer = producers[0]
    producer.output[:] = [_UNCAPPED if name == DURATIONS else name for name in producer.output]

    def name(suffix: str) -> str:
        return f"{_PREFIX}/{suffix}"

    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(max_frames, np.float32), name("max")),
            numpy_helper.from_array(np.array(1.0, np.float32), name("one")),
            numpy_helper.from_array(np.array(1e-6, np.float32), name("tiny")),
            numpy_helper.from_array(np.array(-1, np.int64), name("axis")),
        ]
    )
    d = _UNCAPPED
    nodes = [
        # n tokens (pads included) each keep one frame; the frames beyond those are scaled by
        # min(1, (max - n) / (total - n)). Each token gets the difference of the scaled running
        # sum rounded down before and after it, so the piece loses no more than the scaling says
        # (rounding each token down alone would take most of a short token's frames) and sums to
        # n + floor((total - n) · scale) ≤ max.
        helper.make_node("Size", [d], [name("n_int")]),
        helper.make_node("Cast", [name("n_int")], [name("n")], to=1),
        helper.make_node("ReduceSum", [d], [name("total")], keepdims=0),
        helper.make_node("Sub", [name("max"), name("n")], [name("room_raw")]),
        helper.make_node("Relu", [name("room_raw")], [name("room")]),
        helper.make_node("Sub", [name("total"), name("n")], [name("extra_raw")]),
        helper.make_node("Max", [name("extra_raw"), name("tiny")], [name("extra")]),
        helper.make_node("Div", [name("room"), name("extra")], [name("ratio")]),
        helper.make_node("Min", [name("ratio"), name("one")], [name("scale")]),
        helper.make_node("Sub", [d, name("one")], [name("beyond")]),
        helper.make_node("CumSum", [name("beyond"), name("axis")], [name("after")]),
        helper.make_node("CumSum", [name("beyond"), name("axis")], [name("before")], exclusive=1),
        helper.make_node("Mul", [name("after"), name("scale")], [name("after_scaled")]),
        helper.make_node("Mul", [name("before"), name("scale")], [name("before_scaled")]),
        helper.make_node("Floor", [name("after_scaled")], [name("after_floor")]),
        helper.make_node("Floor", [name("before_scaled")], [name("before_floor")]),
        helper.make_node("Sub", [name("after_floor"), name("before_floor")], [name("kept")]),
        helper.make_node("Add", [name("kept"), name("one")], [DURATIONS]),
    ]
    for index, node in enumerate(nodes):
        node.name = name(f"{node.op_type}_{index}")
    position = list(graph.node).index(producer) + 1
    for offset, node in enumerate(nodes):
        graph.node.insert(position + offset, node)
    return True
