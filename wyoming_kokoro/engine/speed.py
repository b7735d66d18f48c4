"""How fast this machine synthesizes, learned from the pieces it makes."""

from __future__ import annotations

from dataclasses import dataclass

from ..audio import SAMPLE_RATE
from ..model.split import SAMPLES_PER_FRAME

#: Weight of the newest observation in the moving averages.
WEIGHT = 0.3


@dataclass
class SpeedModel:
    """Moving averages of inference speed. They start from a small CPU's figures and adapt within a
    few pieces (the warm-up times the real machine first), so pieces fit the hardware the server
    runs on: a GPU gets long pieces, a slow CPU short ones."""

    rtf: float = 0.7  # inference seconds per second of audio
    audio_per_token: float = 0.07  # seconds of audio per phoneme token
    overhead: float = 0.05  # fixed seconds per inference
    #: Decoder seconds per frame, from the split model's own decodes (None until one is timed).
    #: Not ``rtf``: that spreads each piece's fixed work (prosody, the trimmed silence) over the
    #: audio kept, and overstates what decoding a first piece's rest takes.
    decode_per_frame: float | None = None
    #: Seconds a first piece's first words take from the start of its inference (prosody and the
    #: first part's decode, or the whole piece when it is not cut): how long a rest waits when
    #: another reply's first words go before it.
    first_words_seconds: float = 0.3

    def estimate(self, tokens: int) -> float:
        """Expected inference seconds for a piece of ``tokens`` phonemes."""
        return self.overhead + self.rtf * self.audio_per_token * tokens

    def update(self, tokens: int, audio_seconds: float, inference_seconds: float) -> None:
        if tokens <= 0 or audio_seconds <= 0:
            return
        self.rtf += WEIGHT * (inference_seconds / audio_seconds - self.rtf)
        self.audio_per_token += WEIGHT * (audio_seconds / tokens - self.audio_per_token)

    def seconds_per_frame(self) -> float:
        """Expected decoder seconds per frame (what cutting a first piece is planned with)."""
        if self.decode_per_frame is None:
            return self.rtf * SAMPLES_PER_FRAME / SAMPLE_RATE
        return self.decode_per_frame

    def update_decode(self, frames: int, seconds: float) -> None:
        """A split model decode of *frames* took *seconds* (wall clock, as the reply waits)."""
        if frames <= 0:
            return
        observed = seconds / frames
        if self.decode_per_frame is None:
            self.decode_per_frame = observed
        else:
            self.decode_per_frame += WEIGHT * (observed - self.decode_per_frame)

    def decode_seconds(self, frames: int) -> float:
        """Expected seconds to decode *frames* of a piece whose prosody is made (a rest)."""
        return self.overhead + self.seconds_per_frame() * frames

    def update_first_words(self, seconds: float) -> None:
        self.first_words_seconds += WEIGHT * (seconds - self.first_words_seconds)
