"""English: currency and units of measure, with their numbers."""

from __future__ import annotations

import re
from typing import NamedTuple

from .numbers import LB, NUM, cardinal, int_words, is_one, number, ordinal

# English: currency and units
# ---------------------------------------------------------------------------------------------


class _Currency(NamedTuple):
    one: str
    many: str
    minor_one: str | None
    minor_many: str | None


_DOLLAR = _Currency("dollar", "dollars", "cent", "cents")
_EURO = _Currency("euro", "euros", "cent", "cents")
_POUND = _Currency("pound", "pounds", "penny", "pence")
_YEN = _Currency("yen", "yen", None, None)
_RUPEE = _Currency("rupee", "rupees", "paisa", "paise")
_CURRENCIES = {
    "$": _DOLLAR, "USD": _DOLLAR, "€": _EURO, "EUR": _EURO, "£": _POUND, "GBP": _POUND,
    "¥": _YEN, "JPY": _YEN, "₹": _RUPEE, "INR": _RUPEE,
    "CHF": _Currency("Swiss franc", "Swiss francs", "centime", "centimes"),
    "CAD": _Currency("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": _Currency("Australian dollar", "Australian dollars", "cent", "cents"),
    "CNY": _Currency("yuan", "yuan", None, None),
}  # fmt: skip
_MAGNITUDES = {
    "k": "thousand", "K": "thousand", "thousand": "thousand",
    "m": "million", "M": "million", "mn": "million", "million": "million",
    "b": "billion", "B": "billion", "bn": "billion", "billion": "billion",
    "trillion": "trillion",
}  # fmt: skip
_MINOR_UNITS = {"p": "£", "ct": "€", "c": "$"}


class _Unit(NamedTuple):
    one: str
    many: str


def _unit_table(spec: str) -> dict[str, _Unit]:
    """Parse "symbol, symbol | singular | plural" lines; the plural defaults to singular + s."""
    table = {}
    for line in spec.strip().splitlines():
        keys, _, names = line.partition("|")
        one, _, many = (n.strip() for n in names.partition("|"))
        for key in keys.split(","):
            table[key.strip()] = _Unit(one, many or one + "s")
    return table


# Written unit -> spoken unit. Single letters (A, V, W, m, g, l, s, h) count only right after a
# number, so "A" (the article) and "m" ("I'm") elsewhere are never touched.
_UNITS = _unit_table(
    """
°C, °c              | degree Celsius | degrees Celsius
°F                  | degree Fahrenheit | degrees Fahrenheit
°                   | degree
%RH, % RH           | percent relative humidity | percent relative humidity
%                   | percent | percent
‰                   | per mille | per mille
kWh, KWh, kwh, KWH  | kilowatt hour
MWh                 | megawatt hour
GWh                 | gigawatt hour
Wh                  | watt hour
kW, KW              | kilowatt
MW                  | megawatt
GW                  | gigawatt
mW                  | milliwatt
W                   | watt
kVA                 | kilovolt amp
VA                  | volt amp
kV                  | kilovolt
mV                  | millivolt
V                   | volt
mAh                 | milliamp hour
Ah                  | amp hour
mA                  | milliamp
A                   | amp
kΩ                  | kilohm
Ω                   | ohm
km/h, kph           | kilometer per hour | kilometers per hour
mph                 | mile per hour | miles per hour
m/s                 | meter per second | meters per second
kn                  | knot
mm                  | millimeter
cm                  | centimeter
km                  | kilometer
μm                  | micrometer
nm                  | nanometer
m                   | meter
mi                  | mile
ft                  | foot | feet
yd                  | yard
m2                  | square meter
km2                 | square kilometer
cm2                 | square centimeter
sq ft, ft2          | square foot | square feet
m3                  | cubic meter
cm3                 | cubic centimeter
kg                  | kilogram
mg                  | milligram
μg, ug              | microgram
g                   | gram
lbs, lb             | pound
oz                  | ounce
fl oz               | fluid ounce
ml, mL              | milliliter
cl                  | centiliter
dl, dL              | deciliter
L, l                | liter
gal                 | gallon
cups, cup           | cup
tbsp, Tbsp          | tablespoon
tsp                 | teaspoon
ppm                 | part per million | parts per million
ppb                 | part per billion | parts per billion
hPa                 | hectopascal
kPa                 | kilopascal
Pa                  | pascal
mbar                | millibar
inHg                | inch of mercury | inches of mercury
mmHg                | millimeter of mercury | millimeters of mercury
psi                 | P-S-I | P-S-I
dB                  | decibel
dBA                 | decibel A | decibels A
TB                  | terabyte
GB                  | gigabyte
MB                  | megabyte
KB, kB              | kilobyte
TiB                 | tebibyte
GiB                 | gibibyte
MiB                 | mebibyte
Gbps, Gbit/s        | gigabit per second | gigabits per second
Mbps, Mbit/s        | megabit per second | megabits per second
kbps                | kilobit per second | kilobits per second
GHz                 | gigahertz | gigahertz
MHz                 | megahertz | megahertz
kHz                 | kilohertz | kilohertz
Hz                  | hertz | hertz
lx, lux             | lux | lux
lm                  | lumen
rpm                 | RPM | RPM
bpm                 | beat per minute | beats per minute
kcal                | kilocalorie
cal                 | calorie
kJ                  | kilojoule
ms                  | millisecond
s, sec, secs        | second
min, mins           | minute
h, hr, hrs          | hour
"""
)
# What may follow a slash after a unit or a price: "km/h", "€/kWh", "L/min", "µg/m³".
_PER_UNITS = {
    key: unit.one
    for key, unit in _unit_table(
        """
h, hr, hour         | hour
min                 | minute
s, sec              | second
d, day              | day
wk, week            | week
mo, month           | month
yr, year            | year
night               | night
person              | person
m2                  | square meter
m3                  | cubic meter
m                   | meter
km                  | kilometer
100km, 100 km       | hundred kilometers
mi                  | mile
kWh, kwh, KWh       | kilowatt hour
MWh                 | megawatt hour
Wh                  | watt hour
kW                  | kilowatt
kg                  | kilogram
g                   | gram
lb                  | pound
L, l                | liter
dL, dl              | deciliter
gal                 | gallon
therm               | therm
"""
    ).items()
}


def _alternation(keys: list[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


_UNIT_ALT = _alternation(list(_UNITS))
_PER_ALT = _alternation(list(_PER_UNITS))
_PER = rf"(?:\s?/\s?(?P<per>{_PER_ALT})(?![\w/]))"
_MAG = r"(?:\s?(?P<mag>thousand|million|billion|trillion|mn|bn|[kKmMbB])(?![\w]))"

CUR_SYMBOLS = "$€£¥₹"
CUR_CODES = "USD|EUR|GBP|JPY|INR|CHF|CAD|AUD|CNY"
CURRENCY_PREFIX_RE = re.compile(
    rf"(?=[-{CUR_SYMBOLS}A-Z])(?:(?<![\w)\]}}.,])(?P<s1>-)|(?<![\w.,]))"
    rf"(?P<cur>[{CUR_SYMBOLS}]|\b(?:{CUR_CODES})\s?)(?P<s2>-)?(?P<a>{NUM})(?![.,]\d){_MAG}?(?!\w){_PER}?"
)
CURRENCY_SUFFIX_RE = re.compile(
    rf"(?=[-+\d])(?:(?<![\w)\]}}.,%°])(?P<s1>[-+])|{LB})(?P<a>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:[.,]\d+)?)"
    rf"\s?(?P<cur>[{CUR_SYMBOLS}]|(?:{CUR_CODES})\b)(?!\w){_PER}?"
)
MINOR_PRICE_RE = re.compile(
    rf"(?=[\d.]){LB}(?P<a>\d+(?:\.\d+)?)\s?(?P<minor>p|ct|c)\s?/\s?(?P<per>{_PER_ALT})(?![\w/])"
)

_NUM_EXPR = (
    r"(?=[-+.\d])(?:(?<![\w)\]}.,%°/])(?P<sa>[-+])|(?<![\w.,/]))"
    rf"(?:(?:(?P<fw>\d+)\s)?(?P<fn>\d{{1,2}})/(?P<fd>\d{{1,3}})|(?P<a>{NUM}))"
    rf"(?:(?:-|\s?\u2013\s?|\s(?:to|and)\s)(?P<sb>-)?(?P<b>{NUM}))?"
)
UNIT_RE = re.compile(rf"{_NUM_EXPR}\s?(?P<unit>{_UNIT_ALT}){_PER}?(?![\w°/]|[.-]\w)")
KELVIN_RE = re.compile(rf"(?=\d){LB}(?P<a>\d{{3,5}})\s?K(?![\w])")
DIMENSION_RE = re.compile(
    rf"(?=[\d.]){LB}(?P<a>{NUM})(?:\s?[x×]\s?(?={NUM}\s?(?:{_UNIT_ALT})(?![\w]))|x(?=\d+(?![\w]|[.,]\d)))"
)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" or word.startswith("hour") else "a"


def _british_spelling(words: str) -> str:
    return words.replace("meter", "metre").replace("liter", "litre")


def _money(amount: str, cur: _Currency, mag: str | None, british: bool) -> str:
    if mag:
        return f"{number(amount, british)} {_MAGNITUDES[mag]} {cur.many}"
    amount = amount.replace(",", "")
    whole, _, frac = amount.partition(".")
    if frac and len(frac) == 2 and cur.minor_one is not None and cur.minor_many is not None:
        whole = whole.lstrip("0")
        minor = int(frac)
        parts = []
        if whole or not minor:
            name = cur.one if whole == "1" else cur.many
            parts.append(f"{int_words(whole or '0', british)} {name}")
        if minor:
            minor_word = cur.minor_one if minor == 1 else cur.minor_many
            parts.append(f"{cardinal(minor, british)} {minor_word}")
        return " and ".join(parts)
    unit = cur.one if is_one(amount) else cur.many
    return f"{number(amount, british)} {unit}"


def _per_words(per: str | None, british: bool) -> str:
    if not per:
        return ""
    words = " per " + _PER_UNITS[per]
    return _british_spelling(words) if british else words


def currency_prefix_sub(m: re.Match[str], british: bool) -> str:
    code = m.group("cur").strip()
    cur = _CURRENCIES[code]
    words = _money(m.group("a"), cur, m.group("mag"), british)
    if m.group("s1") == "-" or m.group("s2"):
        words = "minus " + words
    return words + _per_words(m.group("per"), british)


def currency_suffix_sub(m: re.Match[str], british: bool) -> str:
    amount = m.group("a")
    if "," in amount and re.fullmatch(r"\d+,\d{2}", amount):
        amount = amount.replace(",", ".")  # "5,50 €": a decimal comma before a euro sign
    elif re.search(r",\d{1,2}$|,\d{4,}", amount):
        return m.group()
    words = _money(amount, _CURRENCIES[m.group("cur")], None, british)
    if m.group("s1") == "-":
        words = "minus " + words
    return words + _per_words(m.group("per"), british)


def minor_price_sub(m: re.Match[str], british: bool) -> str:
    cur = _CURRENCIES[_MINOR_UNITS[m.group("minor")]]
    amount = m.group("a")
    unit = cur.minor_one if is_one(amount) else cur.minor_many
    return f"{number(amount, british)} {unit}{_per_words(m.group('per'), british)}"


def fraction_words(num: int, den: int, british: bool, with_whole: bool) -> str | None:
    """'3/4' -> 'three quarters'; None where the slash is not a plain fraction."""
    if den < 2 or num < 1 or num >= den or den > 100:
        return None
    if den == 2:
        name = "half" if num == 1 else "halves"
    elif den == 4:
        name = "quarter" if num == 1 else "quarters"
    else:
        name = ordinal(den, british) + ("" if num == 1 else "s")
    if num == 1:
        return f"a {name}" if with_whole else f"one {name}"
    return f"{cardinal(num, british)} {name}"


def unit_sub(m: re.Match[str], british: bool) -> str:
    unit = _UNITS[m.group("unit")]
    sign = "minus " if m.group("sa") == "-" else ("plus " if m.group("sa") == "+" else "")
    per = _per_words(m.group("per"), british)
    if m.group("fn") is not None:
        if m.group("b") is not None:
            return m.group()
        num, den = int(m.group("fn")), int(m.group("fd"))
        whole = m.group("fw")
        frac = fraction_words(num, den, british, whole is not None)
        if frac is None:
            return m.group()
        if whole is not None:
            words = f"{int_words(whole, british)} and {frac} {unit.many}"
        else:
            words = f"{frac} of {_article(unit.one)} {unit.one}"
    else:
        a, b = m.group("a"), m.group("b")
        if b is not None:
            b_sign = "minus " if m.group("sb") else ""
            joiner = " and " if " and " in m.group() else " to "
            words = (
                f"{number(a, british)}{joiner}{b_sign}{number(b, british)} "
                f"{unit.one if is_one(b) and not b_sign else unit.many}"
            )
        else:
            words = f"{number(a, british)} {unit.one if is_one(a) else unit.many}"
    words = sign + words + per
    return _british_spelling(words) if british else words


def kelvin_sub(m: re.Match[str], british: bool) -> str:
    value = int(m.group("a"))
    if value < 1000:
        return m.group()  # "500K" is more likely five hundred thousand: leave it
    return f"{cardinal(value, british)} kelvin"


def dimension_sub(m: re.Match[str], british: bool) -> str:
    return f"{number(m.group('a'), british)} by "


# ---------------------------------------------------------------------------------------------
