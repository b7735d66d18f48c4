"""The synthesis engine: replies in, audio out, scheduled piece by piece on one model.

``policy`` decides (pure functions), ``scheduler`` carries the decisions out, ``synthesizer``
makes audio, ``stream`` is one reply, ``engine`` the facade, ``loader`` builds it.
"""

from .engine import KokoroEngine
from .results import AudioPiece, EngineBusy, EngineError
from .stream import SynthesisStream

__all__ = ["AudioPiece", "EngineBusy", "EngineError", "KokoroEngine", "SynthesisStream"]
