"""A long first piece sent in two parts (split_model.py): the parts against the whole model, the
level and phase at the seam, where a piece is cut, and the engine sending a first piece in two."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest
from onnx import TensorProto, helper

from wyoming_kokoro.audio import SAMPLE_RATE
from wyoming_kokoro.engine import AudioPiece, KokoroEngine, SynthesisStream
from wyoming_kokoro.engine.speed import SpeedModel
from wyoming_kokoro.model.rewrite.split_models import build_split_models
from wyoming_kokoro.model.sessions import cpu_session, run_session
from wyoming_kokoro.model.split import (
    MAX_JOIN_DB,
    OVERLAP_FRAMES,
    SAMPLES_PER_FRAME,
    Prosody,
    SplitModel,
    SplitModelError,
    WholeModel,
    join_level,
    level_db,
)
from wyoming_kokoro.text.pipeline import phoneme_units

CLAUSE = "Today you used twelve point four kilowatt hours of electricity, which is less than yesterday"


@pytest.fixture(scope="module")
def split(engine: KokoroEngine) -> SplitModel:
    assert engine.synthesizer.split_model is not None, "the CPU engine should have cut its model"
    return engine.synthesizer.split_model


@pytest.fixture(scope="module")
def clause(engine: KokoroEngine, split: SplitModel) -> tuple[list[int], npt.NDArray[np.float32], Prosody]:
    ids = engine.frontend.tokenize(engine.frontend.phonemize(CLAUSE, "en-us"))
    table = engine.voices.resolve("af_heart").table
    style = table[len(ids) - 1].reshape(1, -1).astype(np.float32)
    return ids, table, split.prosody(ids, style, 1.0, None)


def test_uncut_parts_are_the_whole_model(engine: KokoroEngine, split: SplitModel, clause: tuple) -> None:
    ids, table, prosody = clause
    whole = run_session(engine.synthesizer.session, ids, table, 1.0)
    uncut, _ = split.head(prosody, prosody.frames, None)
    assert prosody.frames * SAMPLES_PER_FRAME == whole.size
    assert np.array_equal(uncut, whole)


@pytest.mark.parametrize("share", [0.3, 0.5, 0.7])
def test_the_tail_continues_the_clause(split: SplitModel, clause: tuple, share: float) -> None:
    """Away from the cut, a tail decoded apart is the rest of one decode of the clause: its level
    (a tail normalized over its own frames alone came out ~2.6 dB louder, median), and its
    waveform (the harmonic source's phase carried over; without it the error is ~+3 dB)."""
    _, _, prosody = clause
    uncut, _ = split.head(prosody, prosody.frames, None)
    cut = int(prosody.frames * share)
    head, statistics = split.head(prosody, cut + OVERLAP_FRAMES, None)
    tail = split.tail(prosody, cut - OVERLAP_FRAMES, statistics, None)
    skip = 2 * OVERLAP_FRAMES * SAMPLES_PER_FRAME
    rest = uncut[(cut + OVERLAP_FRAMES) * SAMPLES_PER_FRAME :]
    assert abs(level_db(tail[skip:], rest)) < 1.0
    assert level_db(tail[skip:] - rest, rest) < -3.0
    # The head is the clause's start decoded as a piece of its own: a little quieter, same sound.
    before = slice(0, (cut - OVERLAP_FRAMES) * SAMPLES_PER_FRAME)
    assert -3.0 < level_db(head[before], uncut[before]) < 0.5


def test_the_seam_is_brought_to_the_heads_level() -> None:
    t = np.arange(24000, dtype=np.float32) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 220 * t).astype(np.float32)
    overlap = tone[:2400]
    louder = 10 ** (2.0 / 20) * tone  # the tail 2 dB above the head where both decoded
    joined = join_level(overlap, louder)
    assert level_db(joined[:2400], overlap) == pytest.approx(0.0, abs=0.2)  # no step at the seam
    assert level_db(joined[-2400:], louder[-2400:]) == pytest.approx(0.0, abs=0.1)  # eased back
    # A correction is bounded (a quiet stretch says little about the level), and silence is left be.
    assert level_db(join_level(overlap, 10.0 * tone)[:2400], overlap) == pytest.approx(
        20.0 - MAX_JOIN_DB, abs=0.2
    )
    assert np.array_equal(join_level(np.zeros(2400, np.float32), louder), louder)


def test_a_model_without_the_exports_layout_is_not_cut(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["tokens"], ["audio"])],
        "not-kokoro",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, None])],
        [helper.make_tensor_value_info("audio", TensorProto.INT64, [1, None])],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(SplitModelError, match=r"not laid out like the Kokoro v1\.0 export"):
        build_split_models(path)


async def test_a_long_first_piece_is_sent_in_two_parts(engine: KokoroEngine) -> None:
    text = "Today you used 12.4 kWh of electricity, which is less than yesterday."
    pieces = [piece async for piece in engine.synthesize(text)]
    first_piece = engine.frontend.phonemize("Today you used 12.4 kWh of electricity,", "en-us")
    head, tail = pieces[0], pieces[1]
    assert first_piece.startswith(head.phonemes + " ")  # the first words, sent on their own
    assert f"{head.phonemes} {tail.phonemes}".split() == first_piece.split()
    whole_engine_seconds = (
        run_session(
            engine.synthesizer.session,
            engine.frontend.tokenize(first_piece),
            engine.voices.resolve("af_heart").table,
            1.0,
        ).size
        / SAMPLE_RATE
    )
    # The two parts together are the clause (trimmed of its edges' silence), not a clause and a half.
    assert 0.8 * whole_engine_seconds < head.seconds + tail.seconds < whole_engine_seconds + 0.15


async def test_the_cut_follows_the_decoders_measured_speed(engine: KokoroEngine) -> None:
    """Where a first piece is cut comes from the time split decodes really take per frame (timed
    at start and on every split piece), not from the overall real-time factor: that one spreads a
    piece's fixed work over its audio and overstated the rest's decode by ~40 % on a 2-core CPU."""
    text = "Today you used 12.4 kWh of electricity, which is less."
    real = engine.synthesizer.speed_model
    assert real.decode_per_frame is not None  # timed by the warm-up
    first_words = {}
    try:
        for label, per_frame in [("fast", 0.0005), ("slow", 0.05)]:
            # The same overall speed both times: only the decoder's figure differs.
            engine.synthesizer.speed_model = SpeedModel(rtf=0.45, decode_per_frame=per_frame)
            pieces = [p async for p in engine.synthesize(text)]
            first_words[label] = len(pieces[0].phonemes.split())
            measured = engine.synthesizer.speed_model.decode_per_frame
            assert measured is not None and measured != per_frame  # learned from the decode
    finally:
        engine.synthesizer.speed_model = real
    clause = len(engine.frontend.phonemize("Today you used 12.4 kWh of electricity,", "en-us").split())
    assert first_words["slow"] == clause  # no cut keeps the rest ahead: sent whole
    assert first_words["fast"] < clause / 2  # the earliest cut: a few words ahead


class FrozenSpeed(SpeedModel):
    """A speed model that learns nothing: where pieces are cut, and what goes first, then does not
    depend on how fast the host is."""

    def update(self, tokens: int, audio_seconds: float, inference_seconds: float) -> None:
        pass

    def update_decode(self, frames: int, seconds: float) -> None:
        pass

    def update_first_words(self, seconds: float) -> None:
        pass


async def test_replies_asked_at_once_get_their_first_words_before_a_rest_that_can_wait(
    engine: KokoroEngine,
) -> None:
    """Three replies asked at once used to get their first audio one whole first piece after
    another; now the first one's first piece is cut so that its rest can wait for the others'
    first words, and the next one's go out before that rest."""
    texts = [
        "Today you used 12.4 kWh of electricity, which is less than yesterday.",
        "The washing machine finished at 2:15 PM, and the dryer still needs about 35 minutes.",
        "Currently it's 18°C and partly cloudy in Berlin, with winds of 12 km/h.",
    ]
    arrivals: list[tuple[int, int]] = []  # (reply, piece) as they reach their consumers
    replies: list[list[AudioPiece]] = [[], [], []]

    async def read(reply: int, stream: SynthesisStream) -> None:
        async for piece in stream:
            arrivals.append((reply, len(replies[reply])))
            replies[reply].append(piece)

    real = engine.synthesizer.speed_model
    engine.synthesizer.speed_model = FrozenSpeed(rtf=0.3, decode_per_frame=0.002, first_words_seconds=0.3)
    try:
        streams = [engine.open_stream() for _ in texts]
        for stream, text in zip(streams, texts, strict=True):
            stream.feed(text)
            stream.close()
        await asyncio.gather(*(read(n, stream) for n, stream in enumerate(streams)))
    finally:
        engine.synthesizer.speed_model = real
    first_clause = engine.frontend.phonemize("Today you used 12.4 kWh of electricity,", "en-us")
    assert len(replies[0][0].phonemes.split()) < len(first_clause.split())  # sent in two
    assert arrivals.index((1, 0)) < arrivals.index((0, 1))  # the second reply's words first
    for reply, text in zip(replies, texts, strict=True):  # and nothing lost or repeated
        units = phoneme_units(engine.frontend, text, "en-us")
        expected = " ".join(unit.phonemes for unit in units)
        assert " ".join(p.phonemes for p in reply).split() == expected.split()


async def test_split_first_piece_off_sends_it_whole(engine: KokoroEngine) -> None:
    split, engine.synthesizer.split_model = engine.synthesizer.split_model, None
    try:
        pieces = [
            p async for p in engine.synthesize("Today you used 12.4 kWh of electricity, which is less.")
        ]
    finally:
        engine.synthesizer.split_model = split
    first_piece = engine.frontend.phonemize("Today you used 12.4 kWh of electricity,", "en-us")
    assert pieces[0].phonemes.split() == first_piece.split()


class BrokenSession:
    """A part whose inference fails (the rest of the stack is real)."""

    def run(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("out of memory")


async def test_a_failing_tail_fails_only_that_request(engine: KokoroEngine, split: SplitModel) -> None:
    from wyoming_kokoro.engine import EngineError

    real = split.sessions["tail"]
    split.sessions["tail"] = BrokenSession()  # type: ignore[assignment]
    try:
        stream = engine.open_stream()
        stream.feed("Today you used 12.4 kWh of electricity, which is less than yesterday.")
        stream.close()
        pieces = []
        with pytest.raises(EngineError, match="synthesis failed: out of memory"):
            async for piece in stream:
                pieces.append(piece)
        assert len(pieces) == 1  # the head went out before the tail failed
    finally:
        split.sessions["tail"] = real
    assert [p async for p in engine.synthesize("This one works.")]


@pytest.mark.parametrize("speed", [1.0, 0.7])
def test_on_the_cpu_the_parts_stand_in_for_the_whole_model(engine: KokoroEngine, speed: float) -> None:
    """The whole model's session is let go (its weights are the parts' too): whole pieces come
    from prosody, frames and generator, bit for bit what the whole model makes."""
    assert isinstance(engine.synthesizer.session, WholeModel)
    whole = cpu_session(engine.model_path, 2)
    table = engine.voices.resolve("af_heart").table
    for text in (
        "Turned on the kitchen lights.",
        "Today you used 12.4 kWh of electricity, less than yesterday.",
    ):
        ids = engine.frontend.tokenize(engine.frontend.phonemize(text, "en-us"))
        expected = run_session(whole, ids, table, speed)
        assert np.array_equal(run_session(engine.synthesizer.session, ids, table, speed), expected)
