"""English: Roman numerals read as people say them, where the word before them says what they count.

After a counted noun ("World War II", "Chapter IV", "Super Bowl LVIII", "Type II") a numeral is a
cardinal: "World War Two". After a regnal name ("Henry VIII", "Pope John Paul II", "Louis XIV") it
is an ordinal with "the": "Henry the Eighth". Anywhere else capital letters are left alone, so the
pronoun "I", "MIX", "CD" or a title like "Rocky II" are not turned into numbers. A lone "I" counts
only at the end of a clause ("Elizabeth I.") or in "World War I".
"""

from __future__ import annotations

import re

from .numbers import cardinal, ordinal

#: Nouns whose Roman numeral is a count: "Chapter Four".
COUNTED = frozenset(
    [
        "War",
        "Chapter",
        "Part",
        "Section",
        "Volume",
        "Vol",
        "Book",
        "Act",
        "Scene",
        "Phase",
        "Level",
        "Stage",
        "Round",
        "Episode",
        "Season",
        "Type",
        "Class",
        "Grade",
        "Article",
        "Title",
        "Appendix",
        "Bowl",
        "Apollo",
        "Mark",
        "Olympiad",
        "Psalm",
        "Canto",
        "Movement",
        "Symphony",
        "Division",
        "Corps",
        "Council",
        "Gemini",
        "Vatican",
    ]
)
#: Names kings, queens, popes and emperors reign under: "Henry the Eighth".
REGNAL = frozenset(
    [
        "Henry",
        "Elizabeth",
        "Louis",
        "George",
        "Edward",
        "William",
        "Charles",
        "James",
        "Richard",
        "John",
        "Paul",
        "Pius",
        "Benedict",
        "Leo",
        "Gregory",
        "Innocent",
        "Clement",
        "Alexander",
        "Frederick",
        "Peter",
        "Catherine",
        "Mary",
        "Victoria",
        "Philip",
        "Ferdinand",
        "Napoleon",
        "Nicholas",
        "Ivan",
        "Constantine",
        "Otto",
        "Ludwig",
        "Wilhelm",
        "Francis",
        "Felipe",
        "Carl",
        "Gustav",
        "Harald",
        "Olav",
        "Haakon",
        "Christian",
        "Frederik",
        "Margrethe",
        "Willem",
        "Albert",
        "Leopold",
        "Baudouin",
        "Urban",
        "Sixtus",
        "Boniface",
        "Stephen",
        "Malcolm",
        "David",
        "Robert",
        "Edmund",
        "Harold",
        "Alfonso",
        "Pedro",
        "Manuel",
        "Joseph",
        "Maximilian",
        "Rudolf",
        "Sigismund",
        "Casimir",
        "Vladimir",
        "Boris",
        "Rama",
        "Mehmed",
        "Suleiman",
        "Selim",
        "Murad",
        "Ramesses",
        "Thutmose",
        "Amenhotep",
        "Ptolemy",
        "Antiochus",
        "Cleopatra",
        "Darius",
        "Xerxes",
        "Artaxerxes",
        "Sebastian",
        "Juan",
        "Carlos",
        "Hirohito",
    ]
)
#: Up to 399 ("Super Bowl LVIII", "Louis XIV"): a lone C, L, D or M after a noun is a letter
#: ("Part C", "Vitamin D"), and nobody counts chapters in the thousands.
_NUMERAL = r"(?=[CLXVI])C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
ROMAN_RE = re.compile(
    rf"\b(?P<word>[A-Z][a-z]+)\.?(?P<space>\s+)(?P<numeral>{_NUMERAL})(?P<possessive>['’]s)?(?!\w)"
)
_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
#: What may follow a regnal name's lone "I" for it to be a numeral: the end of a clause.
_CLAUSE_END = re.compile(r"\s*(?:[.,;:!?)]|$)")


def roman_value(numeral: str) -> int:
    """The value of a well-formed Roman numeral ("XIV" → 14)."""
    total = 0
    for symbol, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _VALUES[symbol]
        total += -value if following and _VALUES[following] > value else value
    return total


def roman_sub(m: re.Match[str]) -> str:
    word, numeral = m.group("word"), m.group("numeral")
    if len(numeral) == 1 and numeral in "CL":
        return m.group()
    # A lone "I" may be the pronoun ("Then Mark I think…"): a numeral only at a clause's end, or
    # in "World War I".
    if numeral == "I" and word != "War" and not _CLAUSE_END.match(m.string, m.end()):
        return m.group()
    if word in COUNTED:
        said = cardinal(roman_value(numeral))
    elif word in REGNAL:
        said = "the " + ordinal(roman_value(numeral))
    else:
        return m.group()
    return f"{word}{m.group('space')}{said}{m.group('possessive') or ''}"
