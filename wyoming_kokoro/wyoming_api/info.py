"""The answer to ``describe``: the TTS program and its voice catalog, as Home Assistant reads it."""

from __future__ import annotations

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from .. import __version__
from ..config import Config
from ..engine import KokoroEngine

#: Kokoro-82M's own attribution, shown for the program and every voice.
KOKORO_ATTRIBUTION = Attribution(
    name="Kokoro-82M by hexgrad", url="https://huggingface.co/hexgrad/Kokoro-82M"
)
#: Release of the Kokoro model and voice pack this server speaks with.
KOKORO_VERSION = "1.0"


def build_info(engine: KokoroEngine, config: Config) -> Info:
    """What ``describe`` answers: one TTS program with every voice and named blend.

    Built once at start: the catalog does not change while the server runs, and ``describe`` must
    be answered at once however busy the engine is. Languages are BCP-47 tags (``en-US``), which
    is how Home Assistant matches voices to a pipeline's language.
    """
    voices = [
        TtsVoice(
            name=voice.name,
            description=voice.description,
            attribution=KOKORO_ATTRIBUTION,
            installed=True,
            version=KOKORO_VERSION,
            languages=[voice.language_tag],
        )
        for voice in engine.voices.catalog()
    ]
    description = (
        f"Kokoro-82M v{KOKORO_VERSION} neural text to speech on ONNX Runtime "
        f"({engine.model_path.name}, {engine.device.upper()}; default voice {config.voice})"
    )
    program = TtsProgram(
        name="kokoro",
        description=description,
        attribution=KOKORO_ATTRIBUTION,
        installed=True,
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])
