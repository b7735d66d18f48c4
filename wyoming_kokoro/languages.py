"""The languages Kokoro v1.0 speaks: one table, from which every per-language lookup is derived."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # Kokoro's own code, e.g. "en-us"
    tag: str  # BCP-47, as Home Assistant matches voices to a pipeline's language, e.g. "en-US"
    name: str  # for voice descriptions
    prefix: str  # first letter of its voices' names ("af_heart" is American English)
    default_voice: str  # the voice used when a client asks for the language but names no voice
    espeak: str | None = None  # espeak-ng's voice, where misaki speaks the language through espeak


LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("en-us", "en-US", "American English", "a", "af_heart"),
        Language("en-gb", "en-GB", "British English", "b", "bf_emma"),
        Language("es", "es", "Spanish", "e", "ef_dora", espeak="es"),
        Language("fr", "fr", "French", "f", "ff_siwis", espeak="fr-fr"),
        Language("hi", "hi", "Hindi", "h", "hf_alpha", espeak="hi"),
        Language("it", "it", "Italian", "i", "if_sara", espeak="it"),
        Language("ja", "ja", "Japanese", "j", "jf_alpha"),
        Language("pt-br", "pt-BR", "Brazilian Portuguese", "p", "pf_dora", espeak="pt-br"),
        Language("zh", "zh", "Mandarin Chinese", "z", "zf_xiaobei"),
    )
}

#: Kokoro code → BCP-47 tag.
LANGUAGE_TAGS: dict[str, str] = {code: language.tag for code, language in LANGUAGES.items()}
#: Kokoro code → the voice used when only the language is asked for.
DEFAULT_LANGUAGE_VOICES: dict[str, str] = {code: lang.default_voice for code, lang in LANGUAGES.items()}
#: Kokoro code → its name in voice descriptions.
LANGUAGE_NAMES: dict[str, str] = {code: language.name for code, language in LANGUAGES.items()}
#: First letter of a voice name → Kokoro code.
LANGUAGE_BY_PREFIX: dict[str, str] = {language.prefix: code for code, language in LANGUAGES.items()}
#: Kokoro code → espeak-ng voice, for the languages misaki handles through espeak.
ESPEAK_LANGUAGES: dict[str, str] = {
    code: language.espeak for code, language in LANGUAGES.items() if language.espeak is not None
}
#: Other spellings clients send for a language.
_ALIASES = {"en": "en-us", "pt": "pt-br", "jp": "ja", "cn": "zh", "zh-cn": "zh", "fr-fr": "fr"}


def language_code(language: str) -> str:
    """A BCP-47 tag or Kokoro code ("en-US", "en_us", "pt-BR", "ja") → Kokoro code ("en-us")."""
    code = language.strip().lower().replace("_", "-")
    return _ALIASES.get(code, code)
