"""A long first piece sent in two parts, heard as one: the CPU model cut where it can be resumed.

Why: a reply's first piece is synthesized whole before any of it is sent, and most of an
inference is the vocoder, so a long first clause ("Today you used 12.4 kWh of electricity,") is
the slowest first audio. Cutting its *text* shorter is no answer: the model ends the shorter text
like a sentence (its last word drawn out, pitch falling; ``bench/split_decode.py``).

How: Kokoro predicts the whole text's durations, pitch and energy first, and its decoder then turns
frame-aligned features (one frame = 600 samples) into audio. So the model is cut in parts:

* ``prosody``: tokens → aligned features, F0, energy and durations (the text encoder and
  predictors, a small share of an inference);
* ``frames``: those → the decoder's frame-rate output, the generator's input; run over the whole
  piece, so it is exactly what the whole model computes;
* ``head``: the generator (the rest) over frames [0, e), returning, besides the audio, the mean
  and variance of every normalization it did;
* ``tail``: the generator over frames [s, end), normalizing with the head's statistics pooled with its own;
* ``generator``: the generator as it is, over all frames (a piece that is not cut).

The generator's AdaIN normalizations take mean and variance over the frames they are given, so a
tail decoded on its own comes out at its own level, louder than its head: a step heard at the
seam. Normalizing the tail with the head's statistics alone makes the two one consistent decode,
but a head of a few words and pauses can have statistics unlike the clause's, and its tail then
comes out far off. So the tail pools the head's statistics (weight ``HEAD_WEIGHT``) with its own,
and ``join_level`` matches its level to the head's at the seam, easing back over the tail. The
frame-rate decoder is not cut at all: in a head its first normalization can see a channel that
hardly moves (a near-zero variance). The figures are in ``docs/performance.md``.

Frames near a cut lack their neighbours (zero padding), so each part decodes ``OVERLAP_FRAMES``
past the cut and the two are crossfaded over the middle ``CROSSFADE_FRAMES``. The harmonic
source's phase (a running sum of F0 from the first frame) is carried into the tail through a
``phase0`` input.

``prosody`` + ``frames`` + ``generator`` (or ``head`` over all frames) is the whole model's audio
bit for bit (checked once per build and machine, see ``SplitModel.check``), so a piece that is not
cut sounds as before. On the CPU the parts therefore stand in for the whole model too
(``WholeModel``): its weights are not held twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..audio import SAMPLE_RATE
from .rewrite.graph import ModelBuildError
from .sessions import style_for

if TYPE_CHECKING:
    import onnxruntime as ort


SAMPLES_PER_FRAME = 600
#: Frames each part decodes past the cut: a frame's sound depends on ~2 frames around it.
OVERLAP_FRAMES = 4
#: Frames around the cut over which the head fades into the tail.
CROSSFADE_FRAMES = 4
#: Weight of the head's statistics in the tail's normalization (the tail's own: the rest): the
#: head's alone sends some tails far off, pooled they stay near one decode of the clause.
HEAD_WEIGHT = 0.75
#: Largest level correction at the seam, dB: a larger difference says little about the level.
MAX_JOIN_DB = 3.0
PARTS = ("prosody", "frames", "head", "tail", "generator")

# Where the Kokoro v1.0 export hands over from one stage to the next.
FEATURES = "/encoder/MatMul_1_output_0"  # aligned text features [1, 512, frames]
F0 = "/encoder/Reshape_output_0"  # pitch, two steps per frame [1, 2·frames]
ENERGY = "/encoder/Reshape_1_output_0"  # energy, two steps per frame
DECODED = "/decoder/decoder/decode.3/Div_4_output_0"  # the generator's input [1, C, 2·frames]
PHASE0 = "phase0"
_HARMONICS = np.arange(1, 10, dtype=np.float32)  # the harmonic source's 9 harmonics
STAT_SUFFIXES = ("/wk_mean", "/wk_var")
TIME_AXIS = "wk_time_axis"
HEAD_SHARE = "head_share"


class SplitModelError(ModelBuildError):
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
        """Durations, pitch, and the frame-rate decoding of the whole piece."""
        return self.prosody_of(self._feeds_for(ids, style, speed), run_options)

    def _feeds_for(
        self, ids: list[int], style: npt.NDArray[np.float32], speed: float
    ) -> dict[str, npt.NDArray[Any]]:
        """The whole model's (and the prosody part's) inputs for token *ids* (pads added)."""
        return {
            self._tokens: np.array([[0, *ids, 0]], dtype=np.int64),
            "style": style,
            "speed": np.array([speed], dtype=np.float32),
        }

    def prosody_of(self, feeds: dict[str, npt.NDArray[Any]], run_options: ort.RunOptions | None) -> Prosody:
        """The prosody and frames parts over the whole model's *feeds* (tokens with pads, style, speed)."""
        style = feeds["style"]
        features, f0, energy, durations = self.sessions["prosody"].run(None, feeds, run_options)
        frames = {FEATURES: features, F0: f0, ENERGY: energy, "style": style}
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
        feeds = {**self._feeds(p, start, p.frames), **statistics, HEAD_SHARE: share}
        (audio,) = self.sessions["tail"].run(None, feeds, run_options)
        return _audio(audio, p.frames - start)

    def check(self, session: ort.InferenceSession, ids: list[int], table: npt.NDArray[np.float32]) -> None:
        """Before the parts are trusted, on this machine: uncut (through the generator, and through
        the head over all frames) they must give the whole model's audio (*session*; *table*: a
        voice), and a tail decoded apart near the whole decode's level. Raises SplitModelError."""
        style = style_for(table, len(ids))
        feeds = self._feeds_for(ids, style, 1.0)
        whole = np.asarray(session.run(None, feeds)[0], dtype=np.float32).ravel()
        p = self.prosody_of(feeds, None)
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
            DECODED: np.ascontiguousarray(p.decoded[:, :, 2 * start : 2 * end]),
            F0: np.ascontiguousarray(p.f0[:, 2 * start : 2 * end]),
            "style": p.style,
            PHASE0: phase.astype(np.float32).reshape(1, 1, 9),
        }


class WholeModel:
    """The whole model as the engine runs it (``run``, ``get_inputs``, ``get_providers``, as an
    ONNX Runtime session has them), served by a split model's parts: prosody, frames, generator.
    The audio is the whole model's, bit for bit; the whole model's own session, whose weights the
    parts hold too, is then not needed."""

    def __init__(self, split: SplitModel, model_path: Path) -> None:
        self.split = split
        self.model_path = str(model_path)

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
        prosody = self.split.prosody_of(feeds, run_options)
        return [self.split.whole(prosody, run_options)]


def join_level(overlap: npt.NDArray[np.float32], tail: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """*tail* brought to the head's level at the seam: the level difference over the stretch both
    decoded (*overlap*, the head's; *tail* starts with the same stretch) is applied at the tail's
    start and eased to nothing by its end (the head is normalized over fewer frames than the
    clause and comes out quieter than one decode of it; the tail nearly as one decode)."""
    reference, stretch = (np.square(a, dtype=np.float64).mean() for a in (overlap, tail[: overlap.size]))
    if reference <= 1e-12 or stretch <= 1e-12:
        return tail
    gain_db = float(np.clip(10 * np.log10(reference / stretch), -MAX_JOIN_DB, MAX_JOIN_DB))
    ramp = np.linspace(gain_db, 0.0, tail.size, dtype=np.float32)
    return (tail * np.power(np.float32(10), ramp / np.float32(20))).astype(np.float32)


def _audio(output: Any, frames: int) -> npt.NDArray[np.float32]:
    return np.asarray(output, dtype=np.float32).ravel()[: frames * SAMPLES_PER_FRAME]


def level_db(audio: npt.NDArray[np.float32], reference: npt.NDArray[np.float32]) -> float:
    """How much louder *audio* is than *reference*, in dB (mean power)."""
    power = float(np.mean(np.square(audio, dtype=np.float64)))
    return 10 * float(np.log10(power / max(float(np.mean(np.square(reference, dtype=np.float64))), 1e-20)))
