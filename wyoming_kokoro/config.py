"""Server configuration: one YAML file, then ``KOKORO_*`` environment variables, then CLI flags.

Every key is documented in ``config/config.yaml``, whose values are exactly the defaults below (a test keeps
the two in step). Unknown keys are an error rather than silently ignored, because a misspelt key that does
nothing is the hardest kind of misconfiguration for a Home Assistant user to find; the same goes for a
misspelt ``KOKORO_*`` variable.

Every key can be set from the environment (the Docker way): ``KOKORO_`` and the key in capitals, with
``__`` between nested keys, e.g. ``KOKORO_SPEED=1.1``, ``KOKORO_HTTP__API_KEY=secret``,
``KOKORO_ZEROCONF__ENABLED=false``; mappings take JSON or one variable per entry
(``KOKORO_BLENDS__MIX=af_heart:0.6+af_bella:0.4``). ``KOKORO_CONFIG`` names the file itself.
"""

from __future__ import annotations

import logging
import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from .languages import DEFAULT_LANGUAGE_VOICES, LANGUAGE_TAGS

DEFAULT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_PORT = 10210
DEFAULT_URI = f"tcp://0.0.0.0:{DEFAULT_PORT}"

#: Kokoro language codes (what voices and the text front end use) → BCP-47 tags for Wyoming ``info``.
#: Speaking rates Kokoro takes (outside them speech breaks up); 1.0 is the voice's own rate.
MIN_SPEED = 0.5
MAX_SPEED = 2.0
#: Longest silence a setting may add (seconds): more is a mistake, not a pause.
MAX_SILENCE = 10.0

#: Environment variables: this prefix, then the key in capitals, ``__`` between nested keys.
ENV_PREFIX = "KOKORO_"
ENV_NESTED_DELIMITER = "__"
#: The environment variable naming the config file (the ``--config`` flag wins over it).
CONFIG_FILE_ENV = "KOKORO_CONFIG"

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
    #: Web pages (origins, e.g. ``https://chat.example.com``, or ``*`` for any) whose scripts may
    #: call the API from a browser; none by default.
    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("uri")
    @classmethod
    def _tcp_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"tcp://(\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):\d{1,5}", value):
            raise ValueError("must look like tcp://HOST:PORT, e.g. tcp://0.0.0.0:8880")
        return value


class PresetConfig(_Section):
    """A voice as Home Assistant lists it, with how it speaks: a voice or blend, and optionally a
    speed and silences of its own (unset ones follow the top-level settings)."""

    #: A voice name or a blend expression, e.g. ``af_heart`` or ``af_heart:0.6+af_bella:0.4``.
    voice: str = Field(min_length=1)
    speed: float | None = Field(None, ge=MIN_SPEED, le=MAX_SPEED)
    sentence_silence: float | None = Field(None, ge=0, le=MAX_SILENCE)
    trailing_silence: float | None = Field(None, ge=0, le=MAX_SILENCE)
    #: Shown in Home Assistant's voice list; a description is made up when unset.
    description: str | None = None


class LimitsConfig(_Section):
    """Bounds that keep one misbehaving client from hurting everyone else."""

    max_connections: int = Field(32, ge=1, le=10_000)
    #: Connections one client address may have open at once, so one that opens many idle ones
    #: cannot take every slot. Half the default total: Home Assistant speaks for every satellite
    #: from its own address, a connection per reply, so it needs room for announcements at once.
    max_connections_per_client: int = Field(16, ge=1, le=10_000)
    #: Seconds a new connection may stay silent before its first event (0 disables): a client
    #: that connects and says nothing holds no slot for long.
    first_event_timeout: float = Field(10.0, ge=0)
    #: Seconds a connection may stay silent before it is closed (0 disables).
    idle_timeout: float = Field(300.0, ge=0)
    #: Longest text accepted in one request (characters).
    max_text_chars: int = Field(100_000, ge=1)
    #: Pieces of text that may wait for the synthesizer across all clients before new work gets ``busy``.
    max_queued_pieces: int = Field(2_000, ge=1)


class Config(BaseSettings):
    """Everything the server can be told. Defaults give a working server with no file at all.

    A settings class so that pydantic-settings reads the environment with the same field types;
    constructing one reads nothing: :func:`load_config` merges file, environment and flags.
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        validate_assignment=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        env_ignore_empty=True,
        case_sensitive=False,
    )

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
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    #: Extra silence after each sentence but the last, in seconds (on top of the natural pause).
    sentence_silence: float = Field(0.0, ge=0, le=MAX_SILENCE)
    #: Silence after a reply's last audio, in seconds: for speakers that clip a reply's end.
    trailing_silence: float = Field(0.0, ge=0, le=MAX_SILENCE)
    #: Named voices offered in Home Assistant's list: a voice or blend with its speed and silences.
    presets: dict[str, PresetConfig] = Field(default_factory=dict)
    #: How words are said: ``word: /phonemes/`` (Kokoro's phoneme set) or ``word: respelling``.
    pronunciations: dict[str, str] = Field(default_factory=dict)
    #: Deprecated: ``name: "af_heart:0.6+af_bella:0.4"``, read as presets without a speed.
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
    #: Python logging format of a log line (``%(asctime)s``, ``%(levelname)s``, ``%(message)s``…).
    log_format: str = Field(DEFAULT_LOG_FORMAT, min_length=1)
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

    @field_validator("log_format")
    @classmethod
    def _log_format_usable(cls, value: str) -> str:
        try:
            logging.Formatter(value, validate=True).format(logging.makeLogRecord({"msg": "x"}))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"not a logging format ({err}), e.g. {DEFAULT_LOG_FORMAT!r}") from None
        return value

    @field_validator("pronunciations")
    @classmethod
    def _pronunciations_sayable(cls, value: dict[str, str]) -> dict[str, str]:
        from .text.frontend import load_vocab
        from .text.pronounce import pronunciation_problem

        vocab = load_vocab()
        problems = [p for word, said in value.items() if (p := pronunciation_problem(word, said, vocab))]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _presets_and_blends_apart(self) -> Config:
        both = sorted(set(self.presets) & set(self.blends))
        if both:
            raise ValueError(f"{', '.join(both)} is both a preset and a blend; keep it under presets only")
        return self

    def named_voices(self) -> dict[str, PresetConfig]:
        """Every named voice: the presets, and the deprecated ``blends`` read as presets."""
        return {**{name: PresetConfig(voice=spec) for name, spec in self.blends.items()}, **self.presets}

    def voice_spec(self, name: str) -> str:
        """The voice or blend a name stands for: a preset's voice, else the name itself."""
        preset = self.named_voices().get(name)
        return name if preset is None else preset.voice

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

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


def _env_name(path: tuple[str, ...]) -> str:
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(part.upper() for part in path)


def _leaf_paths(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            paths.extend(_leaf_paths(value, (*prefix, str(key))))
        else:
            paths.append((*prefix, str(key)))
    return paths


def _mapping_keys() -> list[str]:
    """Keys whose value maps the user's own names (blends, language_voices): one variable per entry."""
    return [
        name for name, field in Config.model_fields.items() if typing.get_origin(field.annotation) is dict
    ]


def environment_names() -> list[str]:
    """Every ``KOKORO_*`` variable the server reads (mappings take any entry after ``__``)."""
    names = [CONFIG_FILE_ENV]
    for name, field in Config.model_fields.items():
        names.append(_env_name((name,)))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(_env_name((name, sub)) for sub in annotation.model_fields)
        elif name in _mapping_keys():
            names.append(_env_name((name,)) + ENV_NESTED_DELIMITER + "<KEY>")
    return names


def _unknown_environment(environ: Mapping[str, str]) -> list[str]:
    known = {name for name in environment_names() if not name.endswith("<KEY>")}
    mapping_prefixes = tuple(_env_name((key,)) + ENV_NESTED_DELIMITER for key in _mapping_keys())
    return sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX)
        and name.upper() not in known
        and not name.upper().startswith(mapping_prefixes)
    )


def read_environment() -> dict[str, Any]:
    """The ``KOKORO_*`` variables as nested config keys (pydantic-settings does the parsing).

    Raises :class:`ConfigError` for a variable that names no key, or a mapping that is not JSON.
    """
    unknown = _unknown_environment(os.environ)
    if unknown:
        allowed = ", ".join(environment_names())
        raise ConfigError(f"Unknown environment variable {', '.join(unknown)} (allowed: {allowed})")
    try:
        values = EnvSettingsSource(Config)()
    except SettingsError as err:
        cause = f": {err.__cause__}" if err.__cause__ else ""
        raise ConfigError(f"Invalid {ENV_PREFIX}* environment variable ({err}{cause})") from None
    return values


def _format_error(error: ValidationError, source: str, from_env: Mapping[tuple[str, ...], str]) -> str:
    lines = [f"Invalid configuration in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        variable = from_env.get(tuple(str(part) for part in item["loc"]))
        if variable:
            key = f"{key} (from {variable})"
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


def load_config(
    path: Path | None = None, overrides: Mapping[str, Any] | None = None, environment: bool = False
) -> Config:
    """Read ``path`` (if given), then the ``KOKORO_*`` variables (if ``environment``), then apply
    ``overrides`` (from CLI flags, nested dicts), validate.

    Raises :class:`ConfigError` with a message that names the file or variable, the key and what
    is allowed.
    """
    data: dict[str, Any] = {}
    sources: list[str] = []
    if path is not None:
        sources.append(str(path))
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
    from_env: dict[tuple[str, ...], str] = {}
    if environment:
        values = read_environment()
        if values:
            sources.append("the environment")
            from_env = {leaf: _env_name(leaf) for leaf in _leaf_paths(values)}
            data = _merge(data, values)
    if overrides:
        sources.append("command-line flags")
        data = _merge(data, overrides)
    source = ", ".join(sources) or "the defaults"
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source, from_env)) from None
