"""The phonemes the text front end gives, dumped in one environment and compared with another's.

Two front ends (or one on two Pythons, or two spaCy releases) say the same thing exactly when
they give the model the same phonemes. This speaks nothing: it normalizes and phonemizes every
sentence of ``tests/data/intelligibility.tsv`` (American and British English), a table of
heteronyms that need spaCy's part-of-speech tags, a table of numbers, and a few sentences in each
other language, and writes one JSON object per line.

    .venv/bin/python bench/g2p_compare.py dump > py311.jsonl
    /path/to/py313/venv/bin/python bench/g2p_compare.py dump > py313.jsonl
    .venv/bin/python bench/g2p_compare.py diff py311.jsonl py313.jsonl

``diff`` prints every text whose phonemes differ and a per-table count; it exits 1 if any differ.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from wyoming_kokoro.text.frontend import TextFrontend
from wyoming_kokoro.text.normalize import normalize_text

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "intelligibility.tsv"

#: Words spelled alike and said differently by part of speech or tense: only spaCy's tags tell.
HETERONYMS = [
    "I read a book every night.",
    "Yesterday I read the whole book.",
    "I live in Berlin.",
    "The band played a live show.",
    "Please close the garage door.",
    "The station is close to home.",
    "Lead the way to the kitchen.",
    "The pipes are made of lead.",
    "Wind the clock before bed.",
    "The wind is strong today.",
    "Record the show tonight.",
    "That was a record high.",
    "I will present the results.",
    "Here is a present for you.",
    "Do you object to the plan?",
    "The object is on the table.",
    "Wait a minute, please.",
    "The changes are minute.",
    "We use the heater in winter.",
    "What is the use of that?",
    "The wound healed quickly.",
    "She wound the rope around the post.",
    "He wiped a tear from his eye.",
    "Don't tear the paper.",
    "The dove flew away.",
    "He dove into the pool.",
]

#: Numbers as the normalization writes them out, then as misaki and espeak voice them.
NUMBERS = [
    "It is 21.5 degrees.",
    "The meeting is at 7:05 PM.",
    "Set a timer for 90 minutes.",
    "The total is $1,250.50.",
    "Call 911 in an emergency.",
    "It happened in 2025.",
    "The 3rd of May.",
    "We used 4.2 kWh today.",
    "Room 101 is on the 1st floor.",
    "Minus 5 degrees at night.",
    "There are 1,000,000 stars.",
    "Version 2.0 is out.",
]

OTHER_LANGUAGES = {
    "fr": ["Bonjour, il fait beau aujourd'hui.", "Le weekend, je regarde Netflix."],
    "es": ["Hola, ¿cómo estás?", "La temperatura es de veinte grados."],
    "it": ["Buongiorno, come stai?", "Le luci della cucina sono accese."],
    "pt-br": ["Bom dia, tudo bem?", "As luzes da cozinha estão acesas."],
    "hi": ["नमस्ते, आप कैसे हैं?", "आज मौसम अच्छा है।"],
    "ja": ["今日はいい天気ですね。", "東京は晴れです。"],
    "zh": ["今天天气很好。", "北京欢迎你。"],
}


def _items() -> Iterator[tuple[str, str, str]]:
    with CORPUS.open(newline="") as file:
        for row in csv.DictReader(file, delimiter="\t"):
            for language in ("en-us", "en-gb"):
                yield f"corpus/{row['category']}", language, row["text"]
    for text in HETERONYMS:
        yield "heteronyms", "en-us", text
    for text in NUMBERS:
        for language in ("en-us", "en-gb"):
            yield "numbers", language, text
    for language, texts in OTHER_LANGUAGES.items():
        for text in texts:
            yield f"language/{language}", language, text


def dump() -> None:
    frontend = TextFrontend()
    meta = {"python": platform.python_version(), "unavailable": frontend.unavailable}
    print(json.dumps({"meta": meta}, ensure_ascii=False))
    for table, language, text in _items():
        if language not in frontend.languages:
            raise SystemExit(f"{language} cannot be spoken here: {frontend.unavailable.get(language)}")
        phonemes = frontend.phonemize(normalize_text(text, language), language)
        print(json.dumps({"table": table, "language": language, "text": text, "phonemes": phonemes},
                         ensure_ascii=False))  # fmt: skip


def _load(path: Path) -> tuple[dict[str, object], dict[tuple[str, str, str], str]]:
    meta: dict[str, object] = {}
    rows: dict[tuple[str, str, str], str] = {}
    try:
        for line in path.read_text().splitlines():
            item = json.loads(line)
            if "meta" in item:
                meta = item["meta"]
            else:
                rows[(item["table"], item["language"], item["text"])] = item["phonemes"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SystemExit(f"{path} is not a dump of this script ({type(err).__name__}: {err})") from None
    return meta, rows


def diff(old_path: Path, new_path: Path) -> int:
    old_meta, old = _load(old_path)
    new_meta, new = _load(new_path)
    print(f"old: {old_path} {old_meta}\nnew: {new_path} {new_meta}")
    if old.keys() != new.keys():
        print(f"the dumps cover different texts: {len(old.keys() ^ new.keys())} not in both")
        return 1
    total: Counter[str] = Counter()
    differ: Counter[str] = Counter()
    for key, phonemes in old.items():
        table = key[0].split("/")[0]
        total[table] += 1
        if new[key] != phonemes:
            differ[table] += 1
            print(f"\n{key[1]} {key[2]!r}\n  old {phonemes}\n  new {new[key]}")
    print("\n| table | texts | phonemes differ |\n|---|---:|---:|")
    for table in total:
        print(f"| {table} | {total[table]} | {differ[table]} |")
    return 1 if differ else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dump", help="print the phonemes of every table as JSON lines")
    compare = commands.add_parser("diff", help="compare two dumps; exit 1 if any phonemes differ")
    compare.add_argument("old", type=Path)
    compare.add_argument("new", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump()
    else:
        sys.exit(diff(args.old, args.new))


if __name__ == "__main__":
    main()
