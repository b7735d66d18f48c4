"""Japanese and Mandarin G2P: loads from installed packages only, and speaks Kokoro's vocabulary.

Where the cjk packages are not installed, the loaders must say so (CjkUnavailable naming the pins)
instead of failing obscurely or reaching for the network; the phoneme tests are then skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType

import pytest

from wyoming_kokoro.text.cjk import (
    G2P,
    JAPANESE_PACKAGES,
    MANDARIN_PACKAGES,
    CjkUnavailable,
    find_unidic_dicdir,
    load_japanese_g2p,
    load_mandarin_g2p,
)
from wyoming_kokoro.text.frontend import load_vocab

HAVE_JA = all(find_spec(name) for name in ("fugashi", "jaconv", "mojimoji", "unidic_lite"))
HAVE_ZH = all(find_spec(name) for name in ("jieba", "pypinyin", "cn2an", "ordered_set"))
requires_ja = pytest.mark.skipif(not HAVE_JA, reason="pip install " + " ".join(JAPANESE_PACKAGES))
requires_zh = pytest.mark.skipif(not HAVE_ZH, reason="pip install " + " ".join(MANDARIN_PACKAGES))

JAPANESE = [
    "今日は良い天気ですね。",
    "東京駅まで、タクシーで二十分かかります！",
    "私の名前は田中です。よろしくお願いします。",
    "3時に会いましょう？",
]
MANDARIN = [
    "今天天气很好。",
    "我有3个苹果，你要吗？",
    "北京是中华人民共和国的首都。",
    "一九四九年十月一日，“中国”成立。",
]


@pytest.fixture(scope="module")
def vocab() -> dict[str, int]:
    return load_vocab()


@pytest.fixture(scope="module")
def japanese() -> G2P:
    return load_japanese_g2p()


@pytest.fixture(scope="module")
def mandarin() -> G2P:
    return load_mandarin_g2p()


def _in_vocab(phonemes: str, vocab: dict[str, int]) -> float:
    return sum(ch in vocab for ch in phonemes) / len(phonemes)


def test_japanese_loader_or_clear_reason() -> None:
    if HAVE_JA:
        assert load_japanese_g2p()("こんにちは")[0] == "koɲɲiʨiβa"
    else:
        with pytest.raises(CjkUnavailable, match=re.escape("fugashi==1.5.2")):
            load_japanese_g2p()


def test_mandarin_loader_or_clear_reason() -> None:
    if HAVE_ZH:
        assert load_mandarin_g2p()("你好")[0] == "ni↓xau↓"
    else:
        with pytest.raises(CjkUnavailable, match=re.escape("jieba==0.42.1")):
            load_mandarin_g2p()


@pytest.mark.parametrize(
    ("module", "loader", "pin"),
    [
        ("fugashi", load_japanese_g2p, "fugashi==1.5.2"),
        ("jieba", load_mandarin_g2p, "jieba==0.42.1"),
    ],
)
def test_missing_package_is_named(
    monkeypatch: pytest.MonkeyPatch, module: str, loader: Callable[[], G2P], pin: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail, as if absent
    with pytest.raises(CjkUnavailable) as info:
        loader()
    message = str(info.value)
    assert repr(module) in message
    assert f"pip install {pin}" in message


@requires_ja
@pytest.mark.parametrize("text", JAPANESE)
def test_japanese_phonemes_are_kokoro_symbols(japanese: G2P, vocab: dict[str, int], text: str) -> None:
    phonemes, _ = japanese(text)
    assert phonemes
    assert _in_vocab(phonemes, vocab) == 1.0, [ch for ch in phonemes if ch not in vocab]


@requires_zh
@pytest.mark.parametrize("text", MANDARIN)
def test_mandarin_phonemes_are_kokoro_symbols(mandarin: G2P, vocab: dict[str, int], text: str) -> None:
    phonemes, _ = mandarin(text)
    assert phonemes
    assert _in_vocab(phonemes, vocab) == 1.0, [ch for ch in phonemes if ch not in vocab]
    assert any(tone in phonemes for tone in "→↗↓↘"), "tones should be marked"


@requires_zh
def test_mandarin_reads_digits_as_chinese_numerals(mandarin: G2P) -> None:
    assert mandarin("3个")[0] == mandarin("三个")[0]


@requires_ja
def test_japanese_matches_misakis_own_cutlet(japanese: G2P) -> None:
    """Our Cutlet only swaps the tagger; with the same dictionary it must read text identically."""
    from wyoming_kokoro.vendor.misaki.cutlet import Cutlet

    if find_spec("unidic") is not None:
        pytest.skip("misaki's Cutlet would pick the 'unidic' package, a different dictionary")
    reference = Cutlet()
    for text in JAPANESE:
        assert japanese(text) == reference(text)


@requires_ja
def test_undownloaded_unidic_is_passed_over(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``pip install unidic`` (pulled in by misaki[ja]) has no dictionary until downloaded.

    fugashi's own ``Tagger()`` would choose it and fail; we must fall back to unidic-lite.
    """
    import unidic_lite

    empty = ModuleType("unidic")
    empty.DICDIR = str(tmp_path / "dicdir")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "unidic", empty)
    assert find_unidic_dicdir() == Path(unidic_lite.DICDIR)
    assert load_japanese_g2p()("天気")[0] == "teŋkʲi"


@pytest.mark.skipif(not (HAVE_JA and HAVE_ZH), reason="cjk packages not installed")
def test_loading_and_phonemizing_touch_no_network() -> None:
    """Any socket or URL opened while loading (e.g. a dictionary download) fails this test.

    Runs in a fresh interpreter, so nothing is already imported or cached in memory, with an
    audit hook that records every connection attempt. Also checks the module imports lazily.
    """
    script = textwrap.dedent(
        """
        import sys
        events = []
        watched = {"socket.connect", "socket.getaddrinfo", "urllib.Request"}
        sys.addaudithook(lambda ev, args: events.append((ev, args)) if ev in watched else None)
        import wyoming_kokoro.text.cjk as cjk
        misaki = {"wyoming_kokoro.vendor.misaki.cutlet", "wyoming_kokoro.vendor.misaki.zh"}
        heavy = {"fugashi", "jieba", "pypinyin", *misaki} & set(sys.modules)
        assert not heavy, f"imported eagerly: {heavy}"
        assert cjk.load_japanese_g2p()("東京")[0]
        assert cjk.load_mandarin_g2p()("北京")[0]
        assert "pyopenjtalk" not in sys.modules, "pyopenjtalk downloads its dictionary on use"
        assert not events, events
        print("offline ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "offline ok" in result.stdout


@requires_zh
def test_jieba_segments_as_with_its_own_dict(mandarin: G2P) -> None:
    """jieba's frequencies are held packed once the Mandarin G2P is loaded; a tokenizer with its
    plain dict cuts a thousand made-up sentences (dictionary words run together) the same."""
    import random

    import jieba

    from wyoming_kokoro.text.packed import PackedCounts

    assert isinstance(jieba.dt.FREQ, PackedCounts)
    plain = jieba.Tokenizer()
    plain.FREQ, plain.total = dict(jieba.dt.FREQ), jieba.dt.total
    plain.initialized = True
    words = [w for w, count in jieba.dt.FREQ.items() if count > 0]
    rng = random.Random(7)
    for _ in range(1000):
        sentence = "".join(rng.choice(words) for _ in range(rng.randint(2, 8)))
        assert jieba.lcut(sentence) == plain.lcut(sentence), sentence
