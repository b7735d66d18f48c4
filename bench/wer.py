"""Word error rate of the engine's speech as offline Whisper hears it, with/without normalization.

Speaks every sentence of ``tests/data/intelligibility.tsv`` with af_heart at speed 1.0,
transcribes it with Whisper (``base`` by default, or ``tiny.en``), and prints a per-category
table, the sentences with errors, and one JSON line with the corpus WER with and without
``normalize_text`` and the time the text front end (normalization + G2P) takes as a fraction of
synthesis time.

    .venv/bin/python bench/wer.py [--model base|tiny] [--limit N]
    .venv/bin/python bench/wer.py --kokoro-model fp16 --no-plain   # the float models say the same words?

Slow on purpose-built hardware too: every sentence is synthesized twice and transcribed twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the shared Whisper helper lives with the tests

from asr import (  # noqa: E402
    Result,
    by_category,
    category_table,
    corpus_wer,
    describe_errors,
    load_sentences,
    load_whisper,
    round_trip,
)

import wyoming_kokoro.text.frontend  # noqa: E402
from wyoming_kokoro.assets import default_cache_dir  # noqa: E402
from wyoming_kokoro.config import load_config  # noqa: E402
from wyoming_kokoro.engine import KokoroEngine  # noqa: E402
from wyoming_kokoro.engine.loader import load_engine  # noqa: E402
from wyoming_kokoro.text.normalize import normalize_text  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "intelligibility.tsv"


def _progress(label: str) -> Callable[[Result], None]:
    def report(result: Result) -> None:
        mark = "ok" if not result.edits else f"{result.edits} edit(s)"
        print(
            f"[{label}] {result.synth_seconds:5.1f}s {mark}: {result.sentence.text!r}",
            file=sys.stderr,
        )

    return report


def _identity(text: str, *_args: object, **_kwargs: object) -> str:
    return text


def _front_end_seconds(engine: KokoroEngine, texts: list[str]) -> tuple[float, float]:
    """(normalize_text alone, normalize + G2P) over ``texts``, warm, one call per sentence."""
    normalize = g2p = 0.0
    for text in texts:
        start = time.perf_counter()
        normalize_text(text, "en-us")
        middle = time.perf_counter()
        engine.frontend.phonemize(text, "en-us")
        normalize += middle - start
        g2p += time.perf_counter() - middle
    return normalize, g2p


async def _main(args: argparse.Namespace) -> dict[str, object]:
    sentences = load_sentences(CORPUS)[: args.limit]
    model = "auto"
    if args.kokoro_model != "auto":
        # The float models rebuilt from the int8 one (wyoming_kokoro/float_model.py), run on the CPU.
        from wyoming_kokoro.assets import ensure_model
        from wyoming_kokoro.model.rewrite.float_model import ensure_float_model

        int8 = ensure_model("auto", args.cache_dir)
        model = str(ensure_float_model(int8, args.cache_dir, args.kokoro_model))
    config = load_config(
        None,
        {
            "model": model,
            "cache_dir": str(args.cache_dir),
            "device": "cpu",
            "zeroconf": {"enabled": False},
            "phrase_cache_size": 0,  # each mode must really be synthesized
            "split_first_piece": not args.no_split_first_piece,
        },
    )
    engine = load_engine(config)
    whisper = load_whisper(args.cache_dir, args.model)
    try:
        normalized = await round_trip(engine, whisper, sentences, _progress("normalized"))
        plain = normalized
        if not args.no_plain:
            original = wyoming_kokoro.text.frontend.normalize_text
            wyoming_kokoro.text.frontend.normalize_text = _identity
            try:
                plain = await round_trip(engine, whisper, sentences, _progress("plain"))
            finally:
                wyoming_kokoro.text.frontend.normalize_text = original
        normalize_s, front_end_s = _front_end_seconds(engine, [s.text for s in sentences])
        await engine.aclose()
    finally:
        engine.shutdown()

    print(category_table(normalized, plain))
    ours_wer, plain_wer = corpus_wer(normalized), corpus_wer(plain)
    if args.no_plain:
        print(f"\ncorpus WER {ours_wer:.2%} normalized ({args.kokoro_model} model)")
    else:
        print(f"\ncorpus WER {ours_wer:.2%} normalized, {plain_wer:.2%} plain misaki")
    print(f"\nSentences with errors (normalized):\n{describe_errors(normalized) or '(none)'}")
    ours, theirs = by_category(normalized), by_category(plain)
    synth_s = sum(r.synth_seconds for r in normalized)
    return {
        "model": args.model,
        "kokoro_model": args.kokoro_model,
        "sentences": len(sentences),
        "wer_normalized": round(ours_wer, 5),
        "wer_plain": None if args.no_plain else round(plain_wer, 5),
        "categories": {
            category: {
                "sentences": n,
                "words": words,
                "edits": edits,
                "edits_plain": theirs[category][1],
                "words_plain": theirs[category][2],
            }
            for category, (n, edits, words) in ours.items()
        },
        "audio_seconds": round(sum(r.audio_seconds for r in normalized), 2),
        "synth_seconds": round(synth_s, 3),
        "normalize_seconds": round(normalize_s, 4),
        "front_end_seconds": round(front_end_s, 4),
        "normalize_fraction_of_synthesis": round(normalize_s / synth_s, 5),
        "front_end_fraction_of_synthesis": round(front_end_s / synth_s, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("base", "tiny"), default="base")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sentences")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument(
        "--kokoro-model",
        choices=("auto", "fp32", "fp16"),
        default="auto",
        help="auto = what the server runs; fp32/fp16 = the float models rebuilt from the int8 one",
    )
    parser.add_argument("--no-plain", action="store_true", help="skip the un-normalized comparison run")
    parser.add_argument(
        "--no-split-first-piece",
        action="store_true",
        help="send every first piece whole (see split_model.py)",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_main(args))))


if __name__ == "__main__":
    main()
