"""Packed word tables answer every lookup as the dicts they replace do."""

from __future__ import annotations

import pytest

from wyoming_kokoro.text.packed import PackedCounts, PackedLexicon, pack_lexicon
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
    packed = PackedLexicon(TABLE)
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


def test_an_empty_lexicon() -> None:
    packed = PackedLexicon({})
    assert "a" not in packed
    assert list(packed) == []


@pytest.mark.parametrize("british", [False, True])
def test_misakis_lexicons_packed_give_every_entry_back(british: bool) -> None:
    lexicon = en.Lexicon(british)
    golds, silvers = dict(lexicon.golds), dict(lexicon.silvers)
    pack_lexicon(lexicon)
    for table, packed in ((golds, lexicon.golds), (silvers, lexicon.silvers)):
        assert isinstance(packed, PackedLexicon)
        assert len(packed) == len(table)
        assert all(packed[word] == entry for word, entry in table.items())
    assert lexicon.get_word("Hello", None, 1, None)[0] is not None


def test_packed_counts_look_up_as_a_dict() -> None:
    table = {"北京": 3, "北": 0, "北京大学": 2053, "大": 144099, "a": 1}
    packed = PackedCounts(table)
    assert dict(packed) == table
    assert packed.get("北") == 0 and "北" in packed
    assert packed.get("南") is None and "南" not in packed and packed.get("南", 1) == 1
