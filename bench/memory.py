"""Resident memory of the engine: after start, after the benchmark replies, after each hostile text.

Loads the engine in this process (the default config, phrase cache off, CPU) and starts it as a
server does (it warms up), speaks every reply of the latency benchmark's texts, then each text of
``tests/hostile.py`` (one request each), and prints after each step the resident memory at rest
(VmRSS once the engine has been idle long enough to hand its working memory back), the most the
process has held so far (VmHWM), and the audio each hostile text got:

    .venv/bin/python bench/memory.py
    .venv/bin/python bench/memory.py --set split_first_piece=false --set release_memory=true
    .venv/bin/python bench/memory.py --parts    # what each part costs, added one at a time

Linux only (reads /proc/self). Prints one JSON line (prefix ``RESULT``) as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from latency import DEFAULT_TEXTS, FALLBACK_TEXTS  # the latency benchmark's replies (same folder)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # shared with test_robustness
from hostile import HOSTILE_TEXTS

from wyoming_kokoro.config import ConfigError, load_config
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.engine.loader import load_engine
from wyoming_kokoro.engine.memory import resident_bytes
from wyoming_kokoro.engine.synthesizer import IDLE_RELEASE_SECONDS


def megabytes() -> float:
    resident = resident_bytes()
    if resident is None:
        sys.exit("bench/memory.py: needs /proc/self/statm (Linux)")
    return resident / 2**20


def parts() -> None:
    """Resident memory added by each part, loaded one after another in this process: the text
    front end language by language (each English with its own spaCy pipeline, which a server
    shares), the voices, then each ONNX session (built models and packed dictionaries from the
    cache, as a server on a warm cache loads them)."""
    from wyoming_kokoro import assets
    from wyoming_kokoro.config import Config
    from wyoming_kokoro.model.rewrite.split_models import split_paths
    from wyoming_kokoro.model.sessions import cpu_session
    from wyoming_kokoro.model.split import PARTS
    from wyoming_kokoro.text.frontend import TextFrontend

    config = Config()
    cache = config.resolved_cache_dir()
    built = sorted(cache.glob("kokoro-v1.0.int8-*.onnx"))
    whole = next((p for p in built if not p.name.endswith(tuple(f".{x}.onnx" for x in PARTS))), None)
    if whole is None:
        sys.exit("bench/memory.py: no built CPU model in the cache; start the server once first")
    rows: list[tuple[str, float]] = [("Python and the imports", megabytes())]
    kept: list[object] = []
    for languages in (["en-us"], ["en-gb"], ["ja"], ["zh"], ["es", "fr", "hi", "it", "pt-br"]):
        before = megabytes()
        kept.append(TextFrontend(languages, None, cache))  # packed dictionaries from the cache
        rows.append((f"text front end: {', '.join(languages)}", megabytes() - before))
    before = megabytes()
    kept.append(assets.load_voices(assets.ensure_voices("auto", cache)))
    rows.append(("the 54 voices", megabytes() - before))
    sessions = {"whole model (let go on the CPU)": whole, **split_paths(whole, cache)}
    for name, path in sessions.items():
        before = megabytes()
        kept.append(cpu_session(path, config.resolved_threads()))
        rows.append((f"session: {name}", megabytes() - before))
    for name, mb in rows:
        print(f"{name:45s} {mb:7.0f} MB")
    print("RESULT " + json.dumps({name: round(mb) for name, mb in rows}))


def peak_megabytes() -> float:
    """The most this process has held (VmHWM)."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


async def speak(engine: KokoroEngine, text: str) -> float:
    """One reply through the engine's scheduler, as a server makes it; its seconds of audio."""
    return sum(len(piece.pcm) for piece in [p async for p in engine.synthesize(text)]) / 48_000


async def at_rest() -> float:
    """Resident MB once the server is idle: IDLE_RELEASE_SECONDS after its last piece the engine
    hands its working memory back."""
    await asyncio.sleep(IDLE_RELEASE_SECONDS + 1.0)
    return megabytes()


async def measure(engine: KokoroEngine, texts: list[str]) -> dict[str, object]:
    result: dict[str, object] = {"after_start": megabytes()}  # loaded, before the warm-up
    engine.start()  # warms up, as a server does once it listens (the first reply waits for it)
    for text in texts:
        await speak(engine, text)
    result["after_benchmark"] = await at_rest()
    result["peak_benchmark"] = peak_megabytes()
    print(f"{'step':28s} {'at rest MB':>10s} {'peak MB':>8s} {'audio s':>8s}")
    print(f"{'after start':28s} {result['after_start']:10.0f}")
    benchmark = f"{result['after_benchmark']:10.0f} {result['peak_benchmark']:8.0f}"
    print(f"{'after the benchmark replies':28s} {benchmark}")
    hostile: dict[str, dict[str, float]] = {}
    for name, text in HOSTILE_TEXTS.items():
        seconds = await speak(engine, text)
        peak = peak_megabytes()
        resting = await at_rest()
        hostile[name] = {"mb": round(resting), "peak_mb": round(peak), "audio_s": round(seconds, 2)}
        print(f"{name:28s} {hostile[name]['mb']:10.0f} {peak:8.0f} {seconds:8.2f}")
    result["hostile"] = hostile
    result["peak_over_benchmark"] = round(peak_megabytes() - float(str(result["peak_benchmark"])))
    await engine.aclose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], help="config key=value (JSON value)")
    parser.add_argument("--texts", default=str(DEFAULT_TEXTS if DEFAULT_TEXTS.exists() else FALLBACK_TEXTS))
    parser.add_argument("--parts", action="store_true", help="what each part costs (see parts())")
    args = parser.parse_args()
    if args.parts:
        parts()
        return
    overrides: dict[str, object] = {"device": "cpu", "zeroconf": {"enabled": False}, "phrase_cache_size": 0}
    for item in args.set:
        key, equals, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            equals = ""
        if not key or not equals:
            parser.error(f"--set {item!r}: give key=value, the value in JSON (e.g. release_memory=true)")
    started = time.monotonic()
    try:
        config = load_config(None, overrides)
    except ConfigError as err:
        sys.exit(f"bench/memory.py: {err}")
    engine = load_engine(config)
    ready = round(time.monotonic() - started, 1)
    texts = [line.strip() for line in Path(args.texts).read_text().splitlines() if line.strip()]
    result = {"ready_s": ready, **asyncio.run(measure(engine, texts))}
    engine.shutdown()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
