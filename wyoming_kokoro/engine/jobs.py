"""The work the scheduler hands the synthesizer: a piece being made, and the rest of a first piece
sent in two parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from ..model.split import OVERLAP_FRAMES, Prosody, SplitModel
from ..text.packing import PhonemeUnit
from .cache import CacheKey
from .policy import Cut
from .results import AudioPiece


@dataclass
class Job:
    """The piece being synthesized for a reply, and the handle that can stop its inference."""

    piece: PhonemeUnit
    first: bool  # the reply's first piece
    started: float  # monotonic
    run_options: ort.RunOptions
    #: Set when the job is the rest of a first piece (``piece`` is then that first piece).
    rest: Rest | None = None


@dataclass
class Rest:
    """What is left of a first piece sent in two parts once its first words are out. It is made as
    a job of its own, so another reply's first words can go before it while it has time to spare
    (``policy.pick``); never stopped for them once running."""

    split: SplitModel
    unit: PhonemeUnit  # the whole first piece
    prosody: Prosody
    cut: Cut
    overlap: npt.NDArray[np.float32]  # the first part's end, to fade in under
    statistics: dict[str, npt.NDArray[np.float32]]  # what the first part was normalized with
    phonemes: str  # the rest's words
    head_pcm: bytes  # the first words' audio (with the rest, what the phrase cache keeps)
    key: CacheKey
    tokens: int
    spent: float  # inference seconds so far: prosody and the first words
    wait: float  # other replies' work planned to go first (for the debug log)
    since: float  # monotonic time the first words went out

    @property
    def frames(self) -> int:
        """Frames the rest decodes (from the overlap on)."""
        return self.prosody.frames - self.cut.frame + OVERLAP_FRAMES


@dataclass(frozen=True)
class FirstWords:
    """A first piece's first words, ready to send, and the rest still to make."""

    audio: AudioPiece
    rest: Rest
