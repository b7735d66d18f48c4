"""Building an engine from the configuration, in named steps: voices, the session (provider chosen
by a real inference), the split model, the text front end and the voice catalog, checked together
before anything is served. Blocking (seconds): call before serving, or in a thread."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .. import assets
from ..audio import SAMPLE_RATE
from ..config import Config
from ..model.prepare import (
    cpu_model_for,
    float_model_for_cuda,
    log_node_placement,
    split_model_for,
    warn_if_quantized,
)
from ..model.providers import (
    CPU,
    CUDA,
    CUDA_FELL_BACK,
    ProviderChoice,
    ProviderError,
    choose_provider,
    cuda_starts,
    preload_cuda_libraries,
    provider_chain,
)
from ..model.sessions import CHECK_IDS, run_session, session_model_path, session_options
from ..model.split import WholeModel
from ..text.frontend import TextFrontend
from ..voices import VoiceError, VoiceLibrary, describe_voice, parse_first
from .engine import KokoroEngine
from .memory import give_back_freed_memory
from .synthesizer import Synthesizer

_LOGGER = logging.getLogger(__name__)

Chain = list[tuple[str, Any]]


@dataclass
class _Models:
    """How sessions are made for this configuration (see ``_models``)."""

    config: Config
    cache_dir: Path
    int8_model: Path
    threads: int
    check_table: npt.NDArray[np.float32]
    profile_prefix: str | None

    def path_for(self, chain: Chain) -> Path:
        """The model file the chain's first provider runs. Only the default model is rebuilt:
        ``ensure_model`` has just verified its sha256; a user's own file runs as it is."""
        if self.config.model != "auto":
            return self.int8_model
        if chain[0][0] == CUDA:
            return float_model_for_cuda(self.int8_model, self.cache_dir)
        if chain[0][0] == CPU:
            return cpu_model_for(self.int8_model, self.cache_dir, self.threads, self.check_table)
        return self.int8_model

    def session(self, chain: Chain) -> ort.InferenceSession:
        if chain[0][0] == CUDA and not cuda_starts(ort):
            raise ProviderError(CUDA_FELL_BACK)  # before building a float model for nothing
        path = self.path_for(chain)
        options = session_options(self.threads, self.profile_prefix, device=chain[0][0])
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=chain)
        except Exception as err:
            if chain[0][0] != CPU:
                raise
            raise assets.AssetError(
                f"{path} is not a usable ONNX model ({type(err).__name__}: {err}). "
                "Point `model:` at a Kokoro v1.0 .onnx file, or use `model: auto`."
            ) from None
        names = {i.name for i in session.get_inputs()}
        if not {"style", "speed"} <= names or not names & {"tokens", "input_ids"}:
            raise assets.AssetError(f"{path} is not a Kokoro v1.0 model (its inputs are {sorted(names)})")
        return session

    def check(self, session: ort.InferenceSession) -> None:
        """A real inference: the provider is used only if it makes audio."""
        audio = run_session(session, CHECK_IDS, self.check_table, 1.0)
        if audio.size < SAMPLE_RATE // 10 or not np.isfinite(audio).all():
            raise ProviderError("test inference produced no usable audio")


def load_engine(config: Config) -> KokoroEngine:
    """Fetch and verify the assets, start the text front end, choose the provider with a real
    inference, and build the engine (it warms up when started)."""
    started = time.monotonic()
    # The text front end (Python, one core, seconds: spaCy, the lexicons, the dictionaries) loads
    # beside everything else here (ONNX Runtime, mostly outside the GIL). An asset or model error
    # still ends the start at once; the loader is then dropped.
    loader = ThreadPoolExecutor(1, thread_name_prefix="kokoro-frontend")
    loading = loader.submit(TextFrontend, None, config.pronunciations, config.resolved_cache_dir())
    try:
        engine = _load(config, loading)
    finally:
        loader.shutdown(wait=False, cancel_futures=True)
    give_back_freed_memory()
    _LOGGER.info("Engine ready in %.1f s", time.monotonic() - started)
    return engine


def _load(config: Config, loading: Future[TextFrontend]) -> KokoroEngine:
    cache_dir = config.resolved_cache_dir()
    voices_path = assets.ensure_voices(config.voices, cache_dir)
    tables = assets.load_voices(voices_path)
    models = _models(config, cache_dir, tables)
    choice = _choose_session(config, models)
    split = None
    if choice.device != "cuda" and config.split_first_piece:
        split = split_model_for(
            choice.session, session_model_path(choice.session), cache_dir, models.threads, models.check_table
        )
    frontend = loading.result()
    library = _voice_library(config, tables, frontend, voices_path)
    if models.profile_prefix is not None:
        log_node_placement(choice.session)
    # On the CPU the split model's parts hold the whole model's weights: they serve whole pieces
    # too (bit for bit the same audio), and the whole model's session is let go.
    session = choice.session
    if split is not None:
        session = WholeModel(split, session_model_path(choice.session))
    default_table = library.resolve(config.voice).table
    synthesizer = Synthesizer(config, session, choice.device, frontend, default_table, split)
    if choice.device == "cuda":
        synthesizer.cpu_session_factory = _cpu_fallback(models)
    return KokoroEngine(config, synthesizer, frontend, library)


def _models(config: Config, cache_dir: Path, tables: dict[str, npt.NDArray[np.float32]]) -> _Models:
    check_table = tables.get(parse_first(config.voice_spec(config.voice)))
    if check_table is None:
        check_table = next(iter(tables.values()))
    profile_prefix = None
    if config.log_level == "debug":
        profile_prefix = str(Path(tempfile.gettempdir()) / f"wyoming-kokoro-{os.getpid()}")
    return _Models(
        config=config,
        cache_dir=cache_dir,
        int8_model=assets.ensure_model(config.model, cache_dir),
        threads=config.resolved_threads(),
        check_table=check_table,
        profile_prefix=profile_prefix,
    )


def _choose_session(config: Config, models: _Models) -> ProviderChoice[ort.InferenceSession]:
    """The first provider of the configured device that makes audio (``providers.py``)."""
    preload_cuda_libraries(ort, config.device)
    choice: ProviderChoice[ort.InferenceSession] = choose_provider(
        config.device,
        ort.get_available_providers(),
        models.session,
        models.check,
        active_providers=lambda session: session.get_providers(),
    )
    model_path = session_model_path(choice.session)
    _LOGGER.info(
        "Using %s (%s); providers %s; model %s; %d threads",
        choice.device.upper(),
        choice.reason,
        choice.session.get_providers(),
        model_path,
        models.threads,
    )
    if choice.device == "cuda":
        warn_if_quantized(model_path)
    return choice


def _cpu_fallback(models: _Models) -> Callable[[], ort.InferenceSession]:
    """Builds a CPU session, for when CUDA fails at run time (``device: auto``)."""
    return lambda: models.session(provider_chain("cpu"))


def _voice_library(
    config: Config, tables: dict[str, npt.NDArray[np.float32]], frontend: TextFrontend, voices_path: Path
) -> VoiceLibrary:
    """The voice catalog for the languages the front end speaks; every configured voice must
    resolve, and the default voice's language must have its G2P."""
    library = voice_library(config, tables, frontend.languages)
    if not library.names:
        raise assets.AssetError(f"No usable voices in {voices_path}")
    for spec in {config.voice, *config.language_voices.values()}:
        language = describe_voice(parse_first(config.voice_spec(spec))).language
        if language in frontend.languages:
            try:
                library.resolve(spec)
            except VoiceError as err:
                raise VoiceError(f"Configured voice {spec!r} cannot be used: {err}") from None
    default_language = describe_voice(parse_first(config.voice_spec(config.voice))).language
    if default_language not in frontend.languages:
        reason = frontend.unavailable.get(default_language, "no text front end")
        raise VoiceError(f"Default voice {config.voice!r} needs {default_language} G2P: {reason}")
    return library


def voice_library(
    config: Config, tables: dict[str, npt.NDArray[np.float32]], languages: set[str] | None = None
) -> VoiceLibrary:
    """The installed voices and the configured presets (with the old ``blends`` read as presets),
    each preset described by its voices and how it speaks unless it has a description."""
    if config.blends:
        _LOGGER.warning(
            "`blends:` is deprecated and will be removed in a later release; it is read as "
            '`presets:` now. Move each entry to presets: {name: {voice: "..."}}'
        )
    named = config.named_voices()
    notes = {}
    for name, preset in named.items():
        said = []
        if preset.speed is not None:
            said.append(f"speed {preset.speed:g}")
        if preset.sentence_silence:
            said.append(f"{preset.sentence_silence:g} s more between sentences")
        if preset.trailing_silence:
            said.append(f"{preset.trailing_silence:g} s of silence at the end")
        if said:
            notes[name] = ", ".join(said)
    descriptions = {name: p.description for name, p in named.items() if p.description}
    specs = {name: preset.voice for name, preset in named.items()}
    return VoiceLibrary(tables, specs, languages, descriptions, notes)
