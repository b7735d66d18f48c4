"""The usual Kokoro set-up, for comparison: a reply synthesized whole before any of it is sent.

kokoro-onnx's ``Kokoro.create`` (the library most Kokoro servers wrap) phonemizes the whole text,
runs the model on it and returns all the audio; a server built on it sends nothing before that.
So its first audio is the time ``create`` takes. This times it on the same replies as
``bench/latency.py`` (``bench/ha_replies.txt``), with the same int8 model and voices this
project's cache holds, after one warm-up call. kokoro-onnx is not a dependency of this project:
run the script with a Python that has it.

    python3 -m venv /tmp/konnx && /tmp/konnx/bin/pip install kokoro-onnx
    /tmp/konnx/bin/python bench/whole_reply.py [--repeat 2] [--voice af_heart]

Prints one line per reply and the p50 / p95 / max (seconds), then a ``RESULT`` JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from kokoro_onnx import Kokoro

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("WYOMING_KOKORO_CACHE", Path.home() / ".cache" / "wyoming-kokoro"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=Path, default=HERE / "ha_replies.txt")
    parser.add_argument("--model", type=Path, default=CACHE / "kokoro-v1.0.int8.onnx")
    parser.add_argument("--voices", type=Path, default=CACHE / "kokoro-v1.0-voices.npz")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    texts = [line.strip() for line in args.texts.read_text("utf-8").splitlines() if line.strip()]
    kokoro = Kokoro(str(args.model), str(args.voices))
    kokoro.create("Hello, this is a test.", voice=args.voice)  # warm-up
    times: list[float] = []
    for _ in range(args.repeat):
        for text in texts:
            started = time.perf_counter()
            audio, rate = kokoro.create(text, voice=args.voice)
            elapsed = time.perf_counter() - started
            times.append(elapsed)
            print(f"{elapsed:6.2f} s  {len(audio) / rate:5.1f} s of audio  {text[:60]!r}")
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    result = {"p50": statistics.median(times), "p95": p95, "max": ordered[-1], "n": len(times)}
    print(f"first audio (whole reply): p50 {result['p50']:.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s")
    print("RESULT", json.dumps(result))


if __name__ == "__main__":
    main()
