"""Voice catalog: what each Kokoro voice is (language, gender, a human name) and voice blends.

A Kokoro voice is a table of style vectors, one row per input length (row n-1 is the style for n
tokens). A blend is a weighted sum of such tables, so it is computed once and then used like any voice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .languages import LANGUAGE_BY_PREFIX, LANGUAGE_NAMES, LANGUAGE_TAGS

StyleTable = npt.NDArray[np.float32]

_GENDER_BY_LETTER = {"f": "female", "m": "male"}

_VOICE_NAME = re.compile(r"^([abefhijpz])([fm])_([a-z0-9]+)$")
_BLEND_PART = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?::\s*([0-9]*\.?[0-9]+)\s*)?$")


class VoiceError(ValueError):
    """A voice name or blend expression that cannot be used; the message says why."""


@dataclass(frozen=True)
class VoiceInfo:
    """What a client is told about one voice."""

    name: str
    language: str  # Kokoro language code, e.g. "en-us"
    gender: str | None
    description: str
    #: For a blend: its expression (e.g. "af_heart:0.6+af_bella:0.4"); None for a plain voice.
    blend: str | None = None

    @property
    def language_tag(self) -> str:
        """BCP-47 tag as Home Assistant expects it (en-US, pt-BR, ja, zh)."""
        return LANGUAGE_TAGS[self.language]


def describe_voice(name: str) -> VoiceInfo:
    """Language, gender and a readable description from a Kokoro voice name like ``af_heart``.

    Voices outside Kokoro's naming scheme (a user's own file) are assumed to be American English.
    """
    match = _VOICE_NAME.match(name)
    if match is None:
        return VoiceInfo(name, "en-us", None, f"{name} — {LANGUAGE_NAMES['en-us']}")
    prefix, gender_letter, short = match.groups()
    language = LANGUAGE_BY_PREFIX[prefix]
    gender = _GENDER_BY_LETTER[gender_letter]
    title = short.capitalize()
    return VoiceInfo(name, language, gender, f"{title} — {LANGUAGE_NAMES[language]}, {gender}")


def parse_blend(expression: str) -> list[tuple[str, float]]:
    """Parse ``"af_heart:0.6+af_bella:0.4"`` into normalized (voice, weight) pairs.

    A part without a weight counts 1, so ``"af_heart+af_bella"`` is an even mix. Weights are
    normalized to sum to 1 so a blend is as loud and as fast as its parts.
    """
    parts = expression.split("+")
    pairs: list[tuple[str, float]] = []
    for part in parts:
        match = _BLEND_PART.match(part)
        if match is None:
            raise VoiceError(
                f"Bad voice blend {expression!r}: each part must be NAME or NAME:WEIGHT, "
                f"joined with '+', e.g. 'af_heart:0.6+af_bella:0.4'"
            )
        name, weight_text = match.groups()
        weight = float(weight_text) if weight_text is not None else 1.0
        pairs.append((name, weight))
    total = sum(weight for _, weight in pairs)
    if total <= 0:
        raise VoiceError(f"Bad voice blend {expression!r}: weights must add up to more than 0")
    merged: dict[str, float] = {}
    for name, weight in pairs:
        merged[name] = merged.get(name, 0.0) + weight / total
    return list(merged.items())


@dataclass(frozen=True)
class ResolvedVoice:
    """A voice ready for the engine: a stable key (for caches), its language and its style table."""

    key: str
    language: str
    table: StyleTable


class VoiceLibrary:
    """The installed voices plus named ones (presets: a name for a voice or blend); resolves what a
    request asks for into a style table."""

    def __init__(
        self,
        tables: Mapping[str, StyleTable],
        blends: Mapping[str, str] | None = None,
        languages: set[str] | None = None,
        descriptions: Mapping[str, str] | None = None,
        notes: Mapping[str, str] | None = None,
    ) -> None:
        """*blends*: name → voice or blend expression. *languages*: languages the text front end
        can speak; voices of others are not offered. *descriptions*: what a named voice's entry in
        the catalog says; where there is none it is made up from its voices, and *notes* (how it
        speaks, e.g. "speed 1.2") are added."""
        self._descriptions = dict(descriptions or {})
        self._notes = dict(notes or {})
        self._languages = set(languages) if languages is not None else set(LANGUAGE_TAGS)
        self._tables = {
            name: table for name, table in tables.items() if describe_voice(name).language in self._languages
        }
        self._resolved: dict[str, ResolvedVoice] = {}
        self._blends: dict[str, str] = {}
        for name, expression in (blends or {}).items():
            if name in self._tables:
                raise VoiceError(f"Preset name {name!r} is already the name of a voice")
            self._blends[name] = expression
            self.resolve(name)  # validate at start, not on the first request

    @property
    def names(self) -> list[str]:
        return sorted(self._tables)

    @property
    def languages(self) -> set[str]:
        return {describe_voice(name).language for name in self._tables}

    def catalog(self) -> list[VoiceInfo]:
        """Every voice and named voice a client may ask for."""
        infos = [describe_voice(name) for name in self.names]
        for name, expression in sorted(self._blends.items()):
            resolved = self.resolve(name)
            pairs = parse_blend(expression)
            if len(pairs) == 1:
                made_of = describe_voice(pairs[0][0]).description.split(" — ")[0]
            else:
                made_of = "blend of " + ", ".join(
                    f"{describe_voice(voice).description.split(' — ')[0]} {weight:.0%}"
                    for voice, weight in pairs
                )
            description = f"{made_of} ({LANGUAGE_NAMES[resolved.language]})"
            if name in self._notes:
                description += f", {self._notes[name]}"
            description = self._descriptions.get(name, description)
            infos.append(VoiceInfo(name, resolved.language, None, f"{name} — {description}", expression))
        return infos

    def resolve(self, spec: str) -> ResolvedVoice:
        """A voice name, a named blend, or a blend expression → style table. Raises VoiceError."""
        cached = self._resolved.get(spec)
        if cached is not None:
            return cached
        expression = self._blends.get(spec, spec)
        pairs = parse_blend(expression)
        missing = [name for name, _ in pairs if name not in self._tables]
        if missing:
            raise VoiceError(
                f"Unknown voice {', '.join(missing)!s}; installed voices: {', '.join(self.names)}"
            )
        if len(pairs) == 1:
            name = pairs[0][0]
            resolved = ResolvedVoice(name, describe_voice(name).language, self._tables[name])
        else:
            table = sum(
                (self._tables[name].astype(np.float64) * weight for name, weight in pairs),
                start=np.zeros_like(self._tables[pairs[0][0]], dtype=np.float64),
            )
            key = "+".join(f"{name}:{weight:.4f}" for name, weight in pairs)
            language = describe_voice(pairs[0][0]).language
            resolved = ResolvedVoice(key, language, table.astype(np.float32))
        self._resolved[spec] = resolved
        return resolved


def parse_first(spec: str) -> str:
    """The first voice named in a voice spec (for its language)."""
    return spec.split("+")[0].split(":")[0].strip()
