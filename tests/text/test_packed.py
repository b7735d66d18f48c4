"""Packed word tables answer every lookup as the dicts they replace do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wyoming_kokoro.text.frontend import english_lexicon
from wyoming_kokoro.text.packed import PackedCounts, PackedLexicon, load_or_pack
from wyoming_kokoro.vendor.misaki import en

TABLE = {
    "read": {"DEFAULT": "ɹˈid", "VBD": "ɹˈɛd", "VBN": "ɹˈɛd"},
    "a": "ɐ",
    "Zürich": "zˈʊɹɪk",
    "hello": "həlˈO",
    "Hello": "həlˈO",
    "zebra": "zˈibɹə",
    "": "x",
}


def test_packed_lexicon_looks_up_as_a_dict() -> None:
    packed = PackedLexicon.of(TABLE)
    assert len(packed) == len(TABLE)
    assert sorted(packed) == sorted(TABLE)
    for word, entry in TABLE.items():
        assert word in packed
        assert packed[word] == entry
        assert packed.get(word) == entry
    for missing in ("hell", "helloo", "Zebra", "zz", "A", " ", "réad"):
        assert missing not in packed
        assert packed.get(missing) is None
        with pytest.raises(KeyError):
            packed[missing]
    assert None not in packed
    assert 3 not in packed
    again = PackedLexicon.from_arrays(packed.to_arrays())
    assert dict(again) == TABLE


def test_an_empty_lexicon() -> None:
    packed = PackedLexicon.of({})
    assert "a" not in packed
    assert list(packed) == []


@pytest.mark.parametrize("british", [False, True])
def test_english_lexicons_packed_and_cached_give_misakis_entries(british: bool, tmp_path: Path) -> None:
    """Every entry of misaki's own lexicon, packed (the first start) and read back from the cache
    (later starts)."""
    misakis = en.Lexicon(british)
    for start in ("packed", "cached"):
        lexicon = english_lexicon(british, tmp_path)
        assert len(list(tmp_path.glob("lexicon-*.npz"))) == 2, start
        for table, packed in ((misakis.golds, lexicon.golds), (misakis.silvers, lexicon.silvers)):
            assert isinstance(packed, PackedLexicon)
            assert len(packed) == len(table)
            assert all(packed[word] == entry for word, entry in table.items()), start
        assert (lexicon.british, lexicon.cap_stresses) == (misakis.british, misakis.cap_stresses)
        assert lexicon.get_word("Hello", None, 1, None) == misakis.get_word("Hello", None, 1, None)


def test_a_cached_table_is_kept_per_source_and_a_damaged_one_packed_again(tmp_path: Path) -> None:
    source = tmp_path / "words.json"
    source.write_text(json.dumps({"b": 2, "a": 1}))
    builds: list[int] = []

    def build() -> dict[str, int]:
        builds.append(1)
        return dict(json.loads(source.read_text()))

    cache = tmp_path / "cache"
    first = load_or_pack(PackedCounts, build, "words", [source], cache)
    again = load_or_pack(PackedCounts, build, "words", [source], cache)
    assert dict(first) == dict(again) == {"a": 1, "b": 2} and len(builds) == 1
    (stored,) = cache.glob("words-*.npz")
    stored.write_bytes(b"not an npz")
    assert dict(load_or_pack(PackedCounts, build, "words", [source], cache)) == {"a": 1, "b": 2}
    assert len(builds) == 2
    source.write_text(json.dumps({"c": 3}))  # a new source: packed again, the old file removed
    assert dict(load_or_pack(PackedCounts, build, "words", [source], cache)) == {"c": 3}
    assert len(list(cache.glob("words-*.npz"))) == 1 and not stored.exists()
    assert load_or_pack(PackedCounts, build, "words", [source], None).total() == 3


def test_packed_counts_look_up_as_a_dict() -> None:
    table = {"北京": 3, "北": 0, "北京大学": 2053, "大": 144099, "a": 1}
    packed = PackedCounts.of(table)
    assert dict(packed) == table
    assert packed.get("北") == 0 and "北" in packed
    assert packed.get("南") is None and "南" not in packed and packed.get("南", 1) == 1
    assert packed.total() == sum(table.values())
    assert dict(PackedCounts.from_arrays(packed.to_arrays())) == table
