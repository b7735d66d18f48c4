"""The engine as the front doors use it: open a reply, feed it text, read its audio.

``KokoroEngine`` ties the parts together and holds none of their logic: the text front end and
the voices (``text/``, ``voices.py``), the synthesizer (sessions, devices, audio), the scheduler
(which piece goes next). ``loader.load_engine`` builds one from the configuration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..config import MAX_SPEED, MIN_SPEED, Config, PresetConfig
from ..languages import language_code
from ..text.frontend import TextFrontend
from ..voices import ResolvedVoice, VoiceError, VoiceLibrary
from .policy import TYPICAL_FIRST_PIECE
from .results import AudioPiece, EngineBusy, Stats
from .scheduler import Scheduler
from .stream import SynthesisStream
from .synthesizer import Synthesizer

_LOGGER = logging.getLogger(__name__)


class KokoroEngine:
    """Text front end + voices + synthesizer + scheduler."""

    def __init__(
        self, config: Config, synthesizer: Synthesizer, frontend: TextFrontend, voices: VoiceLibrary
    ) -> None:
        self.config = config
        self.synthesizer = synthesizer
        self.frontend = frontend
        self.voices = voices
        self.scheduler = Scheduler(synthesizer, self._warm_up_once)
        #: Named voices with their own speed and silences (``presets``, and the old ``blends``).
        self.presets = config.named_voices()
        self._g2p_pool = ThreadPoolExecutor(1, thread_name_prefix="kokoro-g2p")

    # -- what the front doors and the CLI read ---------------------------------------------------
    @property
    def device(self) -> str:
        return self.synthesizer.device

    @property
    def model_path(self) -> Path:
        return self.synthesizer.model_path

    @property
    def stats(self) -> Stats:
        return self.synthesizer.stats

    @property
    def times_words(self) -> bool:
        """Whether replies can come with when each word is said (``open_stream(timed=True)``): the
        split model's prosody part gives the durations (the CPU, ``split_first_piece`` on)."""
        return self.synthesizer.split_model is not None

    @property
    def streams(self) -> tuple[SynthesisStream, ...]:
        """The replies under way."""
        return tuple(self.scheduler.streams)

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the scheduler, which warms up first, while the server already answers
        ``describe``: a restarted server is back in Home Assistant sooner, and a request that
        comes meanwhile waits for the warm-up. Needs a running event loop; without it the first
        request starts it."""
        self.scheduler.ensure_running()

    def warm_up(self) -> None:
        """First calls are slow (spaCy, ONNX Runtime's kernel selection): pay that before the
        first request (the scheduler runs this before its first piece), on a first piece's worth
        of real tokens in the default voice's language (the audio's length, and with it the
        inference's time, follows from them)."""
        phonemes = {
            language: self.frontend.phonemize("Hello, this is a test.", language)
            for language in sorted(self.frontend.languages)
        }
        ids = self.frontend.tokenize(phonemes[self.voices.resolve(self.config.voice).language])
        self.synthesizer.warm_up((ids * (TYPICAL_FIRST_PIECE // max(1, len(ids)) + 1))[:TYPICAL_FIRST_PIECE])

    def _warm_up_once(self) -> None:
        started = time.monotonic()
        try:
            self.warm_up()
        except Exception:  # serve without it rather than not at all: first pieces are slower
            _LOGGER.exception("Warm-up failed")
            return
        _LOGGER.info("Warmed up in %.1f s", time.monotonic() - started)

    async def aclose(self) -> None:
        """Stop the scheduler (pending replies are cancelled)."""
        await self.scheduler.aclose()

    def shutdown(self) -> None:
        self.synthesizer.shutdown()
        self._g2p_pool.shutdown(wait=True, cancel_futures=True)

    # -- requests --------------------------------------------------------------------------------
    def voice_for(self, voice: str | None = None, language: str | None = None) -> str:
        """What a request asks for, as a voice spec: the voice it names (a voice, blend or preset);
        or, naming only a language, that language's configured voice; or the default voice.
        Raises VoiceError for a language without voices."""
        if voice:
            return voice
        if language:
            code = language_code(language)
            if code not in self.voices.languages:
                raise VoiceError(f"No voice for language {language!r}")
            return self.config.language_voices[code]
        return self.config.voice

    def resolve_voice(self, voice: str | None = None, language: str | None = None) -> ResolvedVoice:
        """The voice a request asks for (see ``voice_for``), resolved. Raises VoiceError."""
        return self.voices.resolve(self.voice_for(voice, language))

    def open_stream(
        self,
        voice: str | None = None,
        speed: float | None = None,
        language: str | None = None,
        *,
        timed: bool = False,
    ) -> SynthesisStream:
        """Start a reply. A preset's speed and silences apply where the request sets none. *timed*:
        pieces come with when each word is said (CPU with the split model only; otherwise the
        reply fails with an EngineError saying so). Raises VoiceError (unknown voice), ValueError
        (bad speed), EngineBusy."""
        name = self.voice_for(voice, language)
        resolved = self.voices.resolve(name)
        preset = self.presets.get(name)
        if speed is None:
            speed = preset.speed if preset is not None and preset.speed is not None else self.config.speed
        speed = float(speed)
        if not MIN_SPEED <= speed <= MAX_SPEED or not np.isfinite(speed):
            raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}")
        if self.scheduler.queued() >= self.config.limits.max_queued_pieces:
            raise EngineBusy("too much speech is queued; try again shortly")
        self.scheduler.ensure_running()
        stream = SynthesisStream(
            resolved,
            speed,
            max_chars=self.config.limits.max_text_chars,
            sentence_silence=_preset_or(preset, "sentence_silence", self.config.sentence_silence),
            trailing_silence=_preset_or(preset, "trailing_silence", self.config.trailing_silence),
            timed=timed,
            phonemize=self._phonemize,
            wake=self.scheduler.wake,
            finished=self.scheduler.forget,
        )
        self.scheduler.add(stream)
        return stream

    async def synthesize(
        self, text: str, voice: str | None = None, speed: float | None = None
    ) -> AsyncIterator[AudioPiece]:
        """Plain synthesis: all the text at once, audio pieces as they are ready."""
        stream = self.open_stream(voice, speed)
        try:
            stream.feed(text)
            stream.close()
            async for piece in stream:
                yield piece
        finally:
            stream.cancel()

    def synthesize_to_pcm(self, text: str, voice: str | None = None, speed: float | None = None) -> bytes:
        """Blocking convenience for the CLI: the whole reply as one PCM buffer."""

        async def collect() -> bytes:
            pieces = [piece.pcm async for piece in self.synthesize(text, voice, speed)]
            await self.aclose()
            return b"".join(pieces)

        return asyncio.run(collect())

    async def _phonemize(self, text: str, language: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._g2p_pool, self.frontend.phonemize, text, language)


def _preset_or(preset: PresetConfig | None, setting: str, default: float) -> float:
    """A preset's own silence setting, or the server's where the preset sets none."""
    value = getattr(preset, setting) if preset is not None else None
    return default if value is None else float(value)
