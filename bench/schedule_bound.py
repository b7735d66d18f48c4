"""The soonest any schedule could start three replies asked at once, on this machine (#5).

Issue #5 asks that with three clients at once the first audio's p95 stay within 2× one client's.
On a CPU that already spends both cores on one inference, three first pieces asked at once share
them, so how near the goal a scheduler can come depends only on what a first piece costs. This
script measures that (in process, the server's own engine) and works out the bound:

* each benchmark reply's first piece goes through the engine once, to get its prosody (frames per
  token, the leading pad) as the server makes it;
* its prosody is timed (median of 5), and the split model's decode at 16, 32, 48 and 64 frames
  (median of 3 each), fitted as ``a + d × frames`` over all pieces;
* **one client**: the soonest first words of each reply when it is cut in two anywhere (its rest
  must be made before its first words have played: no stall), or sent whole;
* **three at once**, for each three the latency benchmark asks together (``bench/latency.py
  --clients 3``: replies k, k+1, k+2): the soonest the last of them can start, over every cut of
  each (any frame, or none) and every order of the six decodes (three first parts, three rests),
  with no stall: each rest made before its first part has played. Nothing else runs (no
  continuations, no client or network time, no safety margin), so in this cost model a real
  server can only be slower.

The bound holds for the server's design, a first piece cut in two at most. A rest decoded in more
parts would let replies take turns in smaller steps and the bound would be lower; but every seam
costs overlap frames, a call and a level match, and chains of three parts measured worse seams
against one decode (level step at the seam p90 +2.55 dB, at worst 8.25 dB, where one cut gives p90
+1.27 dB; issue #5's notes).

    .venv/bin/python bench/schedule_bound.py
    .venv/bin/python bench/schedule_bound.py --texts FILE     # one reply per line

Prints a table, the p50 / p95 of both and their ratio, and one JSON line (prefix ``RESULT``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from latency import DEFAULT_TEXTS, FALLBACK_TEXTS, percentile  # its replies, in its order; its p95

from wyoming_kokoro.config import load_config
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.engine.loader import load_engine
from wyoming_kokoro.model.split import (
    CROSSFADE_FRAMES,
    OVERLAP_FRAMES,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    Prosody,
    SplitModel,
)

FRAME_SECONDS = SAMPLES_PER_FRAME / SAMPLE_RATE
DECODE_SIZES = (16, 32, 48, 64)


class _FirstProsody(SplitModel):
    """The engine's split model, keeping the prosody of each first piece it makes."""

    def __init__(self, sessions: SplitModel) -> None:
        super().__init__(sessions.sessions)
        self.made: list[tuple[list[int], npt.NDArray[np.float32], float, Prosody]] = []

    def prosody(
        self, ids: list[int], style: npt.NDArray[np.float32], speed: float, run_options: ort.RunOptions | None
    ) -> Prosody:
        result = super().prosody(ids, style, speed, run_options)
        self.made.append((list(ids), style, speed, result))
        return result


@dataclass
class Piece:
    """A reply's first piece: its prosody time, frames, leading pad."""

    text: str
    prosody_s: float
    frames: int
    lead: int


@dataclass
class Options:
    """Every way to send a piece: first-part seconds, rest seconds, seconds the first part plays
    (arrays over the cut; the last entry is the piece whole: no rest, plays for ever)."""

    head: npt.NDArray[np.float64]
    rest: npt.NDArray[np.float64]
    plays: npt.NDArray[np.float64]


def options(piece: Piece, a: float, d: float) -> Options:
    cuts = np.arange(2 * OVERLAP_FRAMES, piece.frames - OVERLAP_FRAMES)
    plays = (cuts - CROSSFADE_FRAMES // 2 - piece.lead) * FRAME_SECONDS
    cuts, plays = cuts[plays > 0], plays[plays > 0]
    head = piece.prosody_s + a + d * (cuts + OVERLAP_FRAMES)
    rest = a + d * (piece.frames - cuts + OVERLAP_FRAMES)
    whole = piece.prosody_s + a + d * piece.frames
    return Options(np.append(head, whole), np.append(rest, 0.0), np.append(plays, np.inf))


def one_client(opts: Options) -> float:
    return float(opts.head[opts.rest <= opts.plays].min())


def orders() -> list[tuple[int, ...]]:
    """Orders of the six decodes (k < 3: reply k's first part; k ≥ 3: reply k − 3's rest), each
    rest after its own first part."""
    return [
        order
        for order in itertools.permutations(range(6))
        if all(order.index(k) < order.index(k + 3) for k in range(3))
    ]


def three_at_once(opts: list[Options]) -> list[float]:
    """The soonest first audio of three replies asked together, sorted, over all cuts and orders."""
    grids = np.meshgrid(*(np.arange(o.head.size) for o in opts), indexing="ij")
    head = [o.head[g] for o, g in zip(opts, grids, strict=True)]
    rest = [o.rest[g] for o, g in zip(opts, grids, strict=True)]
    plays = [o.plays[g] for o, g in zip(opts, grids, strict=True)]
    best, best_starts = np.inf, [np.inf] * 3
    for order in orders():
        t = np.zeros_like(head[0])
        starts: list[npt.NDArray[np.float64]] = [t] * 3
        feasible = np.ones(t.shape, dtype=bool)
        for job in order:
            if job < 3:
                t = t + head[job]
                starts[job] = t
            else:
                reply = job - 3
                t = t + rest[reply]
                feasible &= t <= starts[reply] + plays[reply]
        last = np.where(feasible, np.maximum(np.maximum(starts[0], starts[1]), starts[2]), np.inf)
        index = np.unravel_index(int(np.argmin(last)), last.shape)
        if last[index] < best:
            best, best_starts = float(last[index]), sorted(float(s[index]) for s in starts)
    return best_starts


def measure(texts: list[str]) -> tuple[list[Piece], float, float]:
    """Each text's first piece as the engine makes it, and the decoder's a + d × frames."""
    config = load_config(None, {"zeroconf": {"enabled": False}, "phrase_cache_size": 0, "device": "cpu"})
    engine = load_engine(config)
    try:
        if engine.synthesizer.split_model is None:
            raise SystemExit("the split model is off or could not be built: first pieces go whole here")
        split = _FirstProsody(engine.synthesizer.split_model)
        engine.synthesizer.split_model = split
        asyncio.run(_speak(engine, texts))
        firsts = split.made[: len(texts)]  # nothing but first pieces goes through the split model
        run_options = engine.synthesizer.run_options()
        pieces, sizes, seconds = [], [], []
        for text, (ids, style, speed, prosody) in zip(texts, firsts, strict=True):
            timed = []
            for _ in range(5):
                started = time.perf_counter()
                split.prosody(ids, style, speed, run_options)
                timed.append(time.perf_counter() - started)
            pieces.append(Piece(text, statistics.median(timed), prosody.frames, int(prosody.durations[0])))
            for size in (s for s in DECODE_SIZES if s <= prosody.frames):
                timed = []
                for _ in range(3):
                    started = time.perf_counter()
                    split.head(prosody, size, run_options)
                    timed.append(time.perf_counter() - started)
                sizes.append(size)
                seconds.append(statistics.median(timed))
        d, a = np.polyfit(sizes, seconds, 1)
        return pieces, max(float(a), 0.0), float(d)
    finally:
        engine.shutdown()


async def _speak(engine: KokoroEngine, texts: list[str]) -> None:
    """Each text as one reply, one after the other."""
    for text in texts:
        stream = engine.open_stream()
        stream.feed(text)
        stream.close()
        async for _ in stream:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", default=str(DEFAULT_TEXTS if DEFAULT_TEXTS.exists() else FALLBACK_TEXTS))
    args = parser.parse_args()
    if not Path(args.texts).is_file():
        parser.error(f"no such file: {args.texts}")
    texts = [line.strip() for line in Path(args.texts).read_text().splitlines() if line.strip()]
    if len(texts) < 3:
        parser.error(f"{args.texts}: three replies at least (one per line), found {len(texts)}")
    pieces, a, d = measure(texts)
    opts = [options(p, a, d) for p in pieces]
    single = [one_client(o) for o in opts]
    print(f"\ndecoder: {a * 1000:.1f} ms + {d * 1000:.2f} ms per frame\n")
    print(f"{'first of the three asked':<34} {'frames':>6} {'prosody':>7} {'alone':>6}   together")
    together: list[float] = []
    for k, piece in enumerate(pieces):
        trio = [(k + j) % len(pieces) for j in range(3)]
        starts = three_at_once([opts[j] for j in trio])
        together += starts
        label = piece.text if len(piece.text) <= 34 else piece.text[:31] + "..."
        times = " / ".join(f"{s:.2f}" for s in starts)
        print(f"{label:<34} {piece.frames:6d} {piece.prosody_s:7.3f} {single[k]:6.2f}   {times}")
    result = {
        "decode_fixed_s": a,
        "decode_per_frame_s": d,
        "one_client_p50": percentile(single, 50),
        "one_client_p95": percentile(single, 95),
        "three_at_once_p50": percentile(together, 50),
        "three_at_once_p95": percentile(together, 95),
    }
    result["p95_ratio"] = result["three_at_once_p95"] / result["one_client_p95"]
    print()
    for key, value in result.items():
        print(f"{key:<24} {value:.4f}")
    print("RESULT " + json.dumps(result | {"pieces": [p.__dict__ for p in pieces]}))


if __name__ == "__main__":
    main()
