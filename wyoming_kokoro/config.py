"""Server configuration: one YAML file, validated at start, overridden by CLI flags.

Every key is documented in ``config/config.yaml``, whose values are exactly the defaults below (a test keeps
the two in step). Unknown keys are an error rather than silently ignored, because a misspelt key that does
nothing is the hardest kind of misconfiguration for a Home Assistant user to find.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_PORT = 10210
DEFAULT_URI = f"tcp://0.0.0.0:{DEFAULT_PORT}"

#: Kokoro language codes (what voices and the text front end use) → BCP-47 tags for Wyoming ``info``.
LANGUAGE_TAGS: dict[str, str] = {
    "en-us": "en-US",
    "en-gb": "en-GB",
    "es": "es",
    "fr": "fr",
    "hi": "hi",
    "it": "it",
    "ja": "ja",
    "pt-br": "pt-BR",
    "zh": "zh",
}

#: The voice used when a client asks for a language but names no voice.
DEFAULT_LANGUAGE_VOICES: dict[str, str] = {
    "en-us": "af_heart",
    "en-gb": "bf_emma",
    "es": "ef_dora",
    "fr": "ff_siwis",
    "hi": "hf_alpha",
    "it": "if_sara",
    "ja": "jf_alpha",
    "pt-br": "pf_dora",
    "zh": "zf_xiaobei",
}

LogLevel = Literal["debug", "info", "warning", "error"]
Device = Literal["auto", "cuda", "cpu"]


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ZeroconfConfig(_Section):
    """Home Assistant discovers Wyoming servers over mDNS (``_wyoming._tcp.local.``)."""

    enabled: bool = True
    #: Instance name shown in Home Assistant; ``None`` means "Kokoro on <hostname>".
    name: str | None = None
    #: Address to announce; ``None`` means the host's LAN address (never 0.0.0.0).
    host: str | None = None


class HttpConfig(_Section):
    """Optional OpenAI-compatible speech endpoint served from the same process and engine."""

    #: e.g. ``tcp://0.0.0.0:8880``; ``None`` (default) keeps it off.
    uri: str | None = None
    #: When set, speech requests must send ``Authorization: Bearer <api_key>``.
    api_key: str | None = None

    @field_validator("uri")
    @classmethod
    def _tcp_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"tcp://(\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):\d{1,5}", value):
            raise ValueError("must look like tcp://HOST:PORT, e.g. tcp://0.0.0.0:8880")
        return value


class LimitsConfig(_Section):
    """Bounds that keep one misbehaving client from hurting everyone else."""

    max_connections: int = Field(32, ge=1, le=10_000)
    #: Seconds a connection may stay silent before it is closed (0 disables).
    idle_timeout: float = Field(300.0, ge=0)
    #: Longest text accepted in one request (characters).
    max_text_chars: int = Field(100_000, ge=1)
    #: Pieces of text that may wait for the synthesizer across all clients before new work gets ``busy``.
    max_queued_pieces: int = Field(2_000, ge=1)


class Config(_Section):
    """Everything the server can be told. Defaults give a working server with no file at all."""

    uri: str = DEFAULT_URI
    zeroconf: ZeroconfConfig = Field(default_factory=ZeroconfConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    #: ``auto`` = the int8 model assembled from PyPI (float model on CUDA), or a path to an .onnx file.
    model: str = "auto"
    #: ``auto`` = the 54 Kokoro v1.0 voices from npm, or a voices .npz/.bin file or a folder of .bin voices.
    voices: str = "auto"
    device: Device = "auto"
    #: ONNX Runtime intra-op threads; ``auto`` = number of physical cores.
    threads: int | Literal["auto"] = "auto"
    #: Voice used when a request names none.
    voice: str = "af_heart"
    #: Voice used when a request names only a language (Kokoro language code → voice).
    language_voices: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LANGUAGE_VOICES))
    speed: float = Field(1.0, ge=0.5, le=2.0)
    #: Named voice blends, offered as voices: ``name: "af_heart:0.6+af_bella:0.4"``.
    blends: dict[str, str] = Field(default_factory=dict)
    #: Recently spoken phrases kept as audio so repeated confirmations start instantly (0 = off).
    phrase_cache_size: int = Field(64, ge=0)
    #: Give ONNX Runtime's working memory back after every inference instead of keeping it.
    release_memory: bool = False
    #: On the CPU, send a long first piece in two parts heard as one (split_model.py).
    split_first_piece: bool = True
    #: ``auto`` = $WYOMING_KOKORO_CACHE, else $XDG_CACHE_HOME/wyoming-kokoro, else ~/.cache/wyoming-kokoro.
    cache_dir: str = "auto"
    log_level: LogLevel = "info"
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    @field_validator("threads")
    @classmethod
    def _threads_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be 'auto' or a whole number of at least 1")
        return value

    @field_validator("uri")
    @classmethod
    def _uri_scheme(cls, value: str) -> str:
        if not value.startswith(("tcp://", "unix://", "stdio://")):
            raise ValueError("must start with tcp://, unix:// or stdio://")
        return value

    @field_validator("language_voices")
    @classmethod
    def _known_languages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(LANGUAGE_TAGS))
        if unknown:
            raise ValueError(f"unknown language {', '.join(unknown)}; allowed: {', '.join(LANGUAGE_TAGS)}")
        return {**DEFAULT_LANGUAGE_VOICES, **value}

    def resolved_cache_dir(self) -> Path:
        """Where assets (model, voices, float models) are kept."""
        if self.cache_dir != "auto":
            return Path(self.cache_dir).expanduser()
        from .assets import default_cache_dir

        return default_cache_dir()

    def resolved_threads(self) -> int:
        """Physical cores: more threads than cores only adds contention for ONNX Runtime."""
        if isinstance(self.threads, int):
            return self.threads
        return physical_cores()


def physical_cores() -> int:
    """Count physical cores (hyper-threads share execution units, so they do not help inference)."""
    cores: set[tuple[str, str]] = set()
    try:
        physical_id = core_id = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "physical id":
                physical_id = value.strip()
            elif key == "core id":
                core_id = value.strip()
                cores.add((physical_id, core_id))
    except OSError:
        pass
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    count = len(cores) or available or os.cpu_count() or 1
    return max(1, min(count, available or count))


def _format_error(error: ValidationError, source: str) -> str:
    lines = [f"Invalid configuration in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            parent = _section_for(item["loc"][:-1])
            allowed = ", ".join(parent.model_fields)
            lines.append(f"  {key}: unknown key (allowed here: {allowed})")
        elif item["type"] == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            lines.append(f"  {key}: {item['input']!r} is not allowed; use one of {expected}")
        else:
            lines.append(f"  {key}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def _section_for(loc: tuple[Any, ...]) -> type[BaseModel]:
    section: type[BaseModel] = Config
    for part in loc:
        annotation = section.model_fields[str(part)].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            section = annotation
    return section


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Read ``path`` (if given), apply ``overrides`` (from CLI flags, nested dicts), validate.

    Raises :class:`ConfigError` with a message that names the file, the key and what is allowed.
    """
    data: dict[str, Any] = {}
    source = "command-line flags"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"Config file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"Cannot read config file {path}: {err}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"Config file {path} is not valid YAML: {err}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"Config file {path} must be a mapping of keys to values, not {type(loaded).__name__}"
            )
        data = loaded
    if overrides:
        data = _merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from None
