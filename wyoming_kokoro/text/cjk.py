"""Japanese and Mandarin G2P for Kokoro-82M v1.0, built only from installed packages.

Kokoro's own pipeline uses ``misaki.ja.JAG2P()`` (whose default "cutlet" variant romanizes
fugashi/UniDic readings into Kokoro's IPA) and ``misaki.zh.ZHG2P(version=None)`` (jieba + pypinyin;
the "1.1" front end is for the separate Kokoro-82M-v1.1-zh model and its different vocabulary).
We build exactly those, but never through a path that can fetch anything:

- ``misaki.ja`` imports pyopenjtalk at module level even though the cutlet variant never calls it,
  and pyopenjtalk downloads its dictionary on first use. We import ``misaki.cutlet`` (what
  ``JAG2P.__call__`` delegates to) directly, so pyopenjtalk is neither needed nor touched.
- fugashi's ``Tagger()`` prefers the ``unidic`` package, whose dictionary exists only after
  ``python -m unidic download`` (and ``misaki[ja]`` installs that package). We point MeCab at a
  dictionary directory we have checked exists: a downloaded full UniDic, else ``unidic-lite``,
  which ships its dictionary inside the wheel.
- jieba and pypinyin ship their dictionaries in their packages; jieba only writes a cache file to
  the temp directory (and carries on if it cannot).

Install the packages with ``pip install 'wyoming-kokoro[cjk]'`` (pins in ``JAPANESE_PACKAGES`` and
``MANDARIN_PACKAGES``).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .packed import PackedCounts, load_or_pack

_LOGGER = logging.getLogger(__name__)

#: A misaki-style G2P: text → (phonemes, tokens or None).
G2P = Callable[[str], tuple[str, Any]]

#: What ``misaki.cutlet`` imports, as pip requirements (mojimoji has no aarch64 wheel: it builds).
JAPANESE_PACKAGES = ("fugashi==1.5.2", "unidic-lite==1.0.8", "jaconv==0.5.0", "mojimoji==0.0.13")
#: What ``misaki.zh`` (legacy front end) imports, as pip requirements.
MANDARIN_PACKAGES = ("jieba==0.42.1", "pypinyin==0.55.0", "cn2an==0.5.24", "ordered-set==4.1.0")

#: UniDic packages whose ``DICDIR`` fugashi understands, best first. ``unidic`` is only used when
#: its dictionary was already downloaded; we never download it.
UNIDIC_PACKAGES = ("unidic", "unidic_lite")


class CjkUnavailable(Exception):
    """A Japanese or Mandarin G2P cannot be built here without downloading anything."""

    def __init__(self, language: str, reason: str, packages: Sequence[str]) -> None:
        self.language = language
        self.reason = reason
        self.packages = tuple(packages)
        super().__init__(
            f"{language} G2P unavailable: {reason}. "
            f"Install it with: pip install {' '.join(self.packages)} "
            "(or the wyoming-kokoro[cjk] extra)"
        )


def _import_all(names: Sequence[str], language: str, packages: Sequence[str]) -> list[ModuleType]:
    """Import the G2P's dependencies up front so a missing one is reported by name."""
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as err:
            raise CjkUnavailable(language, f"module {name!r} is missing ({err})", packages) from err
    return modules


def find_unidic_dicdir() -> Path | None:
    """The first installed UniDic whose compiled dictionary is on disk, or None.

    Checking ``sys.dic`` rather than trusting the import matters: the ``unidic`` package imports
    fine with no dictionary, and fugashi would then fail (or a user would be told to download it).
    """
    for name in UNIDIC_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        dicdir = Path(getattr(module, "DICDIR", ""))
        if (dicdir / "sys.dic").is_file() and (dicdir / "mecabrc").is_file():
            return dicdir
        _LOGGER.debug("Package %s has no dictionary at %s; skipping it", name, dicdir)
    return None


def load_japanese_g2p() -> G2P:
    """misaki's cutlet G2P (what ``JAG2P()`` uses for Kokoro v1.0) on a local UniDic.

    Raises CjkUnavailable if a package or the dictionary is missing.
    """
    started = time.perf_counter()
    fugashi, _, _ = _import_all(("fugashi", "jaconv", "mojimoji"), "Japanese", JAPANESE_PACKAGES)
    dicdir = find_unidic_dicdir()
    if dicdir is None:
        raise CjkUnavailable(
            "Japanese",
            "no UniDic dictionary is installed (the 'unidic' package needs a download, which this "
            "server never does; 'unidic-lite' ships its dictionary)",
            JAPANESE_PACKAGES,
        )
    try:
        from ..vendor.misaki import cutlet
    except ImportError as err:
        raise CjkUnavailable(
            "Japanese", f"misaki.cutlet cannot be imported ({err})", JAPANESE_PACKAGES
        ) from err

    try:
        # Explicit -r/-d win over the UniDic fugashi would pick itself (see the module docstring).
        tagger = fugashi.Tagger(f'-r "{dicdir / "mecabrc"}" -d "{dicdir}"')
    except RuntimeError as err:
        raise CjkUnavailable("Japanese", f"MeCab cannot open {dicdir} ({err})", JAPANESE_PACKAGES) from err

    class OfflineCutlet(cutlet.Cutlet):
        """misaki's Cutlet with our tagger instead of ``fugashi.Tagger()``'s own dictionary pick.

        Mirrors ``Cutlet.__init__`` of misaki 0.9.4 (tests compare the output with misaki's own).
        """

        def __init__(self) -> None:
            self.tagger = tagger
            self.table = dict(cutlet.HEPBURN)
            self.exceptions: dict[str, str] = {}

    g2p: G2P = OfflineCutlet()
    _LOGGER.debug("Japanese G2P loaded from %s in %.2fs", dicdir, time.perf_counter() - started)
    return g2p


def load_mandarin_g2p(cache_dir: Path | None = None) -> G2P:
    """misaki's ``ZHG2P(version=None)``, the front end Kokoro-82M v1.0 was trained with.

    Latin words are passed through as letters by this front end (misaki's ``en_callable`` is only
    used by the "1.1" front end), so the caller should voice them with English G2P if it cares.
    Raises CjkUnavailable if a package or jieba's dictionary is missing.
    """
    started = time.perf_counter()
    jieba, _, _, _ = _import_all(("jieba", "pypinyin", "cn2an", "ordered_set"), "Mandarin", MANDARIN_PACKAGES)
    dictionary = Path(str(jieba.__file__)).parent / "dict.txt"
    if not dictionary.is_file():
        raise CjkUnavailable("Mandarin", f"jieba's dictionary {dictionary} is missing", MANDARIN_PACKAGES)
    try:
        from ..vendor.misaki import zh
    except ImportError as err:
        raise CjkUnavailable("Mandarin", f"misaki.zh cannot be imported ({err})", MANDARIN_PACKAGES) from err

    # jieba logs its dictionary build to stderr through its own handler; keep that out of ours.
    jieba.setLogLevel(logging.WARNING)
    # The prefix dictionary now, not on the first request (building it takes seconds on a small CPU).
    _load_jieba_frequencies(jieba, dictionary, cache_dir)
    g2p: G2P = zh.ZHG2P(version=None)
    _LOGGER.debug("Mandarin G2P loaded in %.2fs", time.perf_counter() - started)
    return g2p


def _load_jieba_frequencies(jieba: ModuleType, dictionary: Path, cache_dir: Path | None) -> None:
    """jieba's word frequencies (every word and every prefix of one, and their total) held packed
    (``packed.py``) and kept in *cache_dir*, in place of ``jieba.initialize()``, which builds a
    dict (or reads one from its cache in the temp directory). The segmenter only looks words up;
    adding words to jieba at run time is not supported here."""
    tokenizer = jieba.dt

    def build() -> dict[str, int]:
        frequencies: dict[str, int] = tokenizer.gen_pfdict(dictionary.open("rb"))[0]  # it closes the file
        return frequencies

    with tokenizer.lock:
        frequencies = load_or_pack(PackedCounts, build, "jieba-frequencies", [dictionary], cache_dir)
        tokenizer.FREQ = frequencies
        tokenizer.total = frequencies.total()  # every word's count; prefixes count 0
        tokenizer.initialized = True
