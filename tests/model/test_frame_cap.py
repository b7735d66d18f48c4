"""The bound on the frames (audio, memory) of one inference: written into the graph, exact under
it, and reaching every model the engine runs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.model.rewrite.frame_cap import DURATIONS, MAX_PIECE_FRAMES, FrameCapError, cap_frames
from wyoming_kokoro.model.sessions import run_session
from wyoming_kokoro.model.split import SAMPLES_PER_FRAME
from wyoming_kokoro.text.frontend import MAX_TOKENS


def durations_graph() -> onnx.GraphProto:
    """A stand-in for the export's last duration step: predicted frames per token, rounded and
    clipped to at least 1 in ``/encoder/Clip``, read by what follows (here: the output)."""
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    return helper.make_graph(
        [
            helper.make_node("Round", ["predicted"], ["rounded"]),
            helper.make_node("Clip", ["rounded", "one"], [DURATIONS], name="/encoder/Clip"),
            helper.make_node("Identity", [DURATIONS], ["frames"]),
        ],
        "durations",
        [helper.make_tensor_value_info("predicted", TensorProto.FLOAT, [1, None])],
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, [1, None])],
        [one],
    )


def capped(max_frames: int) -> ort.InferenceSession:
    graph = durations_graph()
    assert cap_frames(graph, max_frames)
    assert not cap_frames(graph, max_frames)  # once is enough: a second call changes nothing
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    onnx.checker.check_model(model, full_check=True)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def frames(session: ort.InferenceSession, predicted: list[float]) -> list[float]:
    (out,) = session.run(None, {"predicted": np.array([predicted], np.float32)})
    return [float(f) for f in np.asarray(out).ravel()]


def test_durations_under_the_cap_pass_unchanged() -> None:
    session = capped(100)
    predicted = [3.0, 7.2, 1.0, 0.2, 12.0, 40.0, 2.6]
    assert frames(session, predicted) == [3, 7, 1, 1, 12, 40, 3]


@pytest.mark.parametrize("seed", range(5))
def test_durations_over_the_cap_are_scaled_down_to_it_and_every_token_keeps_a_frame(seed: int) -> None:
    rng = np.random.default_rng(seed)
    predicted = list(rng.uniform(0, 50, size=int(rng.integers(10, 100))))
    out = frames(capped(120), predicted)
    uncapped = np.maximum(1, np.round(predicted))
    assert sum(uncapped) > 120
    assert len(out) == len(predicted)
    assert sum(out) <= 120 and sum(out) >= min(120, len(out)) - 1
    assert min(out) >= 1 and all(f == int(f) for f in out)
    # Scaled alike: a token given more frames than another keeps at least as many.
    order = np.argsort(uncapped, kind="stable")
    assert np.all(np.diff(np.asarray(out)[order]) >= -1)


def test_more_tokens_than_the_cap_keep_a_frame_each() -> None:
    assert frames(capped(5), [9.0] * 8) == [1.0] * 8


def test_a_graph_without_the_exports_durations_is_refused() -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(FrameCapError, match=r"not the Kokoro v1\.0 export"):
        cap_frames(graph)


@pytest.mark.parametrize("text", ["?!" * 200, "Hmm. " * 60, "a " * 300])
def test_no_inference_of_the_engine_makes_more_frames_than_the_cap(engine: KokoroEngine, text: str) -> None:
    """The whole model and the split model's prosody, on hostile tokens at the slowest speed (the
    text is phonemized as it is, not normalized: what the graph bounds is any token sequence)."""
    ids = engine.frontend.tokenize(engine.frontend.phonemize(text, "en-us"))[:MAX_TOKENS]
    table = engine.voices.resolve("af_heart").table
    audio = run_session(engine.synthesizer.session, ids, table, 0.5)
    most = max(MAX_PIECE_FRAMES, len(ids) + 2)  # every token, pads included, keeps a frame
    assert 0 < audio.size <= most * SAMPLES_PER_FRAME
    assert engine.synthesizer.split_model is not None
    style = table[len(ids) - 1].reshape(1, -1).astype(np.float32)
    prosody = engine.synthesizer.split_model.prosody(ids, style, 0.5, None)
    assert prosody.frames <= most
    assert int(prosody.durations.sum()) == prosody.frames
