"""How a long first clause is sent in two halves, and why that way: first audio ≤ 1.0 s (#5).

A first piece is synthesized whole before any audio goes out, and ~95 % of an inference is the
vocoder, so a long first clause ("Today you used 12.4 kWh of electricity,", ~3 s of speech) is the
slowest first audio. Two ways to send its first words sooner, each measured here:

* **cut the text** (synthesize "Today you used 12.4 kWh" on its own): the model then ends those
  words like a sentence. Columns ``alone`` / ``inside``: the predicted frames (25 ms each) of the
  last word of the clause's first half, synthesized alone and inside the clause.
* **cut the frames**: predict the whole clause's durations and pitch once (the text encoder and
  predictors, a few % of an inference), decode the frames of its first words, send them, and decode
  the rest while they play. The model is cut where the export hands the aligned features to the
  decoder; the harmonic source's phase is carried into the second half through an input added to
  the graph. Prosody is the clause's; but the decoder's 62 instance normalizations take their
  statistics over the frames they are given, so each half comes out at its own level. Columns
  ``whole s`` / ``head s``: decoding the clause vs its first half (the wait for first audio);
  ``head dB`` / ``tail dB``: each half's level against the same stretch of one decode of the clause
  (the step a listener would hear at the seam is their difference). ``--context K`` lets the first
  half's decode also see part of the rest (every K-th block of 10 frames, decoded and dropped):
  its level comes nearer the clause's, and the wait grows by those frames.
* **what the server does** (``wyoming_kokoro/split_model.py``): the tail normalized with the
  head's statistics pooled with its own. Column ``split dB``: that tail's level against one decode
  (compare with ``tail dB``); the server then also matches its level to the head's at the seam.

    .venv/bin/python bench/split_decode.py                    # the benchmark replies' first clauses
    .venv/bin/python bench/split_decode.py --texts FILE       # one text per line (American English)
    .venv/bin/python bench/split_decode.py --context 2        # the first half sees half the rest

Prints a table, a summary of medians, and one JSON line (prefix ``RESULT``). Its own two halves
are written to a temporary folder; the server's parts are the engine's (cached as the server's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, utils

from wyoming_kokoro.config import load_config
from wyoming_kokoro.engine import KokoroEngine
from wyoming_kokoro.engine.loader import load_engine
from wyoming_kokoro.model.sessions import cpu_session
from wyoming_kokoro.model.split import level_db
from wyoming_kokoro.text.pipeline import segments

HERE = Path(__file__).parent
# Where the export hands over to the decoder (frames of 600 samples; F0/energy two per frame).
FEATURES, F0, NOISE = "/encoder/MatMul_1_output_0", "/encoder/Reshape_output_0", "/encoder/Reshape_1_output_0"
DURATIONS = "/encoder/Clip_output_0"
HOP = 600
OVERLAP = 4  # frames each half decodes past the cut, left out of the levels (edges are zero-padded)
HARMONICS = np.arange(1, 10, dtype=np.float32)


def split_model(src: Path, folder: Path, threads: int) -> tuple[ort.InferenceSession, ort.InferenceSession]:
    """The prosody half (tokens → aligned features, F0, energy, durations) and the decoder half
    (those → audio, with a ``phase0`` input added to the harmonic source's running phase)."""
    extractor = utils.Extractor(onnx.load(str(src)))
    prosody = extractor.extract_model(["tokens", "style", "speed"], [FEATURES, F0, NOISE, DURATIONS])
    decoder = extractor.extract_model([FEATURES, F0, NOISE, "style"], ["audio"])
    cumsum = next(n for n in decoder.graph.node if n.op_type == "CumSum" and "l_sin_gen" in n.name)
    phase = cumsum.output[0]
    for node in decoder.graph.node:
        node.input[:] = [f"{phase}_plus_phase0" if name == phase else name for name in node.input]
    index = list(decoder.graph.node).index(cumsum)
    decoder.graph.node.insert(index + 1, helper.make_node("Add", [phase, "phase0"], [f"{phase}_plus_phase0"]))
    decoder.graph.input.append(helper.make_tensor_value_info("phase0", TensorProto.FLOAT, [1, 1, 9]))
    onnx.save(prosody, str(folder / "prosody.onnx"))
    onnx.save(decoder, str(folder / "decoder.onnx"))
    return cpu_session(folder / "prosody.onnx", threads), cpu_session(folder / "decoder.onnx", threads)


def predict(
    session: ort.InferenceSession, ids: list[int], style: npt.NDArray[np.float32]
) -> list[npt.NDArray]:
    feeds = {"tokens": np.array([[0, *ids, 0]], np.int64), "style": style, "speed": np.ones(1, np.float32)}
    features, f0, noise, durations = session.run(None, feeds)
    return [features, f0, noise, np.asarray(durations).ravel()]


def decode(
    session: ort.InferenceSession,
    p: list[npt.NDArray],
    style: npt.NDArray,
    a: int,
    b: int,
    context: npt.NDArray | None = None,
) -> npt.NDArray:
    """Frames [a, b) as a piece of its own, the harmonic source's phase carried in from frame a.
    *context*: more frame indices decoded after them (and dropped), so the normalizations'
    statistics see more of the clause."""
    frames = np.arange(a, b) if context is None else np.concatenate([np.arange(a, b), context])
    steps_of = np.stack([2 * frames, 2 * frames + 1], axis=1).ravel()
    steps = p[1][0, : 2 * a].astype(np.float32)[:, None] * HARMONICS / np.float32(24000)
    phase = (np.sum((steps - np.floor(steps)).astype(np.float64), axis=0) % 1.0).astype(np.float32)
    feeds = {
        FEATURES: np.ascontiguousarray(p[0][:, :, frames]),
        F0: np.ascontiguousarray(p[1][:, steps_of]),
        NOISE: np.ascontiguousarray(p[2][:, steps_of]),
        "style": style,
        "phase0": phase.reshape(1, 1, 9),
    }
    return np.asarray(session.run(None, feeds)[0], np.float32).ravel()[: (b - a) * HOP]


def server_tail(
    engine: KokoroEngine, ids: list[int], style: npt.NDArray[np.float32], cut: int
) -> npt.NDArray[np.float32]:
    """The clause's tail from frame *cut* as the server decodes it (before its level is matched)."""
    split = engine.synthesizer.split_model
    if split is None:
        raise SystemExit("the engine has no split model (not on the CPU, or split_first_piece: false)")
    prosody = split.prosody(ids, style, 1.0, None)
    _, head_statistics = split.head(prosody, cut + OVERLAP, None)
    return split.tail(prosody, cut - OVERLAP, head_statistics, None)


def first_clauses(texts: list[str]) -> list[str]:
    """Each text's first segment, as the engine cuts it."""
    clauses = []
    for text in texts:
        clauses.append(segments(text, "en-us")[0].text)
    return clauses


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than *low*."""

    def integer(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, not {value}")
        return value

    return integer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=Path, default=HERE / "ha_replies.txt")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--repeat", type=at_least(1), default=3, help="timed decodes per clause (median)")
    parser.add_argument(
        "--context",
        type=at_least(0),
        default=0,
        help="K > 0: the first half's decode also sees every K-th 10-frame block of the rest (then "
        "dropped), so its normalization statistics are nearer the clause's; costs those frames",
    )
    args = parser.parse_args()
    if not args.texts.is_file():
        parser.error(f"--texts: no such file: {args.texts}")
    engine = load_engine(load_config(None, {"phrase_cache_size": 0, "zeroconf": {"enabled": False}}))
    table = engine.voices.resolve(args.voice).table
    with tempfile.TemporaryDirectory() as folder:
        prosody, decoder = split_model(engine.model_path, Path(folder), engine.config.resolved_threads())

        def style_for(ids: list[int]) -> npt.NDArray[np.float32]:
            return table[len(ids) - 1].reshape(1, -1).astype(np.float32)

        texts = [line.strip() for line in args.texts.read_text().splitlines() if line.strip()]
        clauses: list[tuple[str, int]] = []  # each measured clause and its (phoneme) words
        rows: list[dict[str, float]] = []
        header = ["words", "alone", "inside", "whole s", "head s", "head dB", "tail dB", "split dB"]
        print(f"{'first clause':44s} " + " ".join(f"{h:>7s}" for h in header))
        for clause in first_clauses(texts):
            # Only symbols with a token id, so that character and token positions agree.
            ph = engine.frontend.phonemize(clause, "en-us").rstrip(" .,;:!?")
            ph = "".join(ch for ch in ph if ch in engine.frontend.vocab)
            ids = engine.frontend.tokenize(ph)
            words = ph.split(" ")
            if len(words) < 6:
                continue
            # Part 1: the clause's first half as a text of its own vs inside the clause.
            half = len(words) // 2
            alone_ids = engine.frontend.tokenize(" ".join(words[:half]))
            style = style_for(ids)
            whole_p, alone_p = predict(prosody, ids, style), predict(prosody, alone_ids, style_for(alone_ids))
            last = len(words[half - 1])
            start = len(" ".join(words[:half])) - last + 1  # token index of the last word, +1 for the pad
            inside = float(whole_p[3][start : start + last].sum())
            alone = float(alone_p[3][start : start + last].sum())
            # Part 2: the same clause's frames cut after that word.
            cut = int(whole_p[3][: start + last + 1].sum())
            frames = int(whole_p[3].sum())
            rest = np.arange(cut + 2 * OVERLAP, frames)
            context = rest[(rest // 10) % args.context == 0] if args.context > 0 else None
            times: dict[str, list[float]] = {"whole": [], "head": []}
            for _ in range(args.repeat):
                began = time.perf_counter()
                whole = decode(decoder, whole_p, style, 0, frames)
                times["whole"].append(time.perf_counter() - began)
                began = time.perf_counter()
                head = decode(decoder, whole_p, style, 0, cut + OVERLAP, context)
                times["head"].append(time.perf_counter() - began)
            tail = decode(decoder, whole_p, style, cut - OVERLAP, frames)
            keep, skip = (cut - OVERLAP) * HOP, 2 * OVERLAP * HOP
            # The server's way: the same cut, the tail normalized with the head's statistics.
            split_tail = server_tail(engine, ids, style, cut)
            row = {  # in the table's column order
                "last_word_frames_alone": alone,
                "last_word_frames_inside": inside,
                "whole_s": statistics.median(times["whole"]),
                "head_s": statistics.median(times["head"]),
                "head_level_db": level_db(head[:keep], whole[:keep]),
                "tail_level_db": level_db(tail[skip:], whole[keep + skip :]),
                "split_tail_level_db": level_db(split_tail[skip:], whole[keep + skip :]),
            }
            clauses.append((clause, len(words)))
            rows.append(row)
            print(f"{clause[:44]:44s} {len(words):7d} " + " ".join(f"{value:7.2f}" for value in row.values()))

    def median(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    summary = {
        "context": args.context,
        "clauses": len(rows),
        "last_word_frames_inside_p50": median("last_word_frames_inside"),
        "last_word_frames_alone_p50": median("last_word_frames_alone"),
        "whole_decode_s_p50": median("whole_s"),
        "head_decode_s_p50": median("head_s"),
        "head_level_db_p50": median("head_level_db"),
        "tail_level_db_p50": median("tail_level_db"),
        "split_tail_level_db_p50": median("split_tail_level_db"),
    }
    print()
    for key, value in summary.items():
        print(f"{key:32s} {value:.3f}" if isinstance(value, float) else f"{key:32s} {value}")
    measured = [{"clause": c, "words": n, **r} for (c, n), r in zip(clauses, rows, strict=True)]
    print("RESULT " + json.dumps({**summary, "rows": measured}))


if __name__ == "__main__":
    main()
