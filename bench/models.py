"""Model × provider benchmark: int8 / gemm / fp32 / fp16, CPU or CUDA, and cuDNN's conv algorithm search.

``gemm`` is the int8 model with its convs as uint8×int8 MatMulInteger and its normalizations fused
(wyoming_kokoro/cpu_model.py), what ``model: auto`` runs on x86 CPUs with AVX2, VNNI or AMX;
``gemm-exact`` has only the conv rewrite (bit-for-bit the int8 model's audio there); ``fused`` has
only the float rewrites, what every other CPU runs.

For each configuration it reports the session load time, the first inference on a new input length
(where cuDNN's EXHAUSTIVE search pays its tuning), the median time for a short reply (time to first
audio) and a long one, the real-time factor, and the throughput of N concurrent requests. All
sessions are open at once and the timed calls run in interleaved rounds (each configuration once per
round), so a shared host's drift affects every configuration alike: compare the × columns.

    .venv/bin/python bench/models.py                         # CPU: int8 vs gemm/fused vs fp32 vs fp16
    .venv/bin/python bench/models.py --device cuda            # CUDA: fp32/fp16 × HEURISTIC/DEFAULT/EXHAUSTIVE
    .venv/bin/python bench/models.py --device cuda --models fp32 --searches HEURISTIC --concurrency 4

Float models are built from the int8 model into the cache when missing (needs `onnx`).
Prints a table and one JSON line per configuration (prefix ``RESULT``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np
import onnxruntime as ort

from wyoming_kokoro import assets
from wyoming_kokoro.audio import SAMPLE_RATE
from wyoming_kokoro.config import physical_cores
from wyoming_kokoro.model.providers import CPU, CUDA, CUDA_PROVIDER_OPTIONS
from wyoming_kokoro.model.rewrite.cpu_model import cpu_signature, has_exact_fast_u8s8
from wyoming_kokoro.model.sessions import run_session, session_options
from wyoming_kokoro.text.frontend import TextFrontend

SHORT = "Turned on the kitchen lights."
LONG = (
    "Currently it's eighteen degrees and partly cloudy in Berlin, with winds of twelve kilometers per "
    "hour. Expect a high of twenty-three degrees and a forty percent chance of rain after three PM."
)


def model_path(name: str, cache_dir: Path) -> Path:
    int8 = assets.ensure_model("auto", cache_dir)
    if name == "int8":
        return int8
    if name in ("gemm", "gemm-exact", "fused"):
        from wyoming_kokoro.model.rewrite.cpu_model import build_cpu_model

        # Built every run (~3 s): no stamp to go stale when the rewrite changes, and the gemm model
        # is built on any CPU (where its kernels saturate it sounds wrong, but can be timed).
        options = {"gemm": {}, "gemm-exact": {"exact": True}, "fused": {"convs": False}}[name]
        return build_cpu_model(int8, cache_dir / f"kokoro-v1.0.int8-{name}-bench.onnx", **options)
    from wyoming_kokoro.model.rewrite.float_model import ensure_float_model

    return ensure_float_model(int8, cache_dir, "fp16" if name == "fp16" else "fp32")


def timed(fn: object, *args: object) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    audio = fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start, audio


def open_session(
    device: str, search: str, path: Path, threads: int, tokens: dict
) -> tuple[ort.InferenceSession, float, float]:
    """A session for one configuration, its load time and its first call on a new input length."""
    if device == "cuda":
        providers: list[object] = [(CUDA, {**CUDA_PROVIDER_OPTIONS, "cudnn_conv_algo_search": search}), CPU]
    else:
        providers = [CPU]
    started = time.perf_counter()
    session = ort.InferenceSession(str(path), sess_options=session_options(threads), providers=providers)
    load_s = time.perf_counter() - started
    first_s, _ = timed(run_session, session, tokens["short"], tokens["voice"], 1.0)
    return session, load_s, first_s


def throughput(session: ort.InferenceSession, tokens: dict, concurrency: int) -> tuple[float, bool]:
    """N requests at once (each the long text): audio seconds produced per wall second."""
    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        results = list(
            pool.map(lambda _: run_session(session, tokens["long"], tokens["voice"], 1.0), range(concurrency))
        )
        wall = time.perf_counter() - started
    finite = bool(all(np.isfinite(a).all() for a in results))
    return sum(r.size for r in results) / SAMPLE_RATE / wall, finite


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--models", nargs="+", default=None, choices=("int8", "gemm", "gemm-exact", "fused", "fp32", "fp16")
    )
    parser.add_argument("--searches", nargs="+", default=["HEURISTIC", "DEFAULT", "EXHAUSTIVE"])
    parser.add_argument("--threads", type=positive, default=physical_cores())
    parser.add_argument("--repeat", type=positive, default=5)
    parser.add_argument("--concurrency", type=positive, default=2)
    parser.add_argument("--cache-dir", type=Path, default=assets.default_cache_dir())
    args = parser.parse_args()
    if args.device == "cuda" and CUDA not in ort.get_available_providers():
        raise SystemExit(
            f"CUDAExecutionProvider is not available here ({ort.get_available_providers()}); "
            'install onnxruntime-gpu (pip install ".[gpu]") on a machine with an NVIDIA GPU'
        )
    rewritten = "gemm" if has_exact_fast_u8s8(cpu_signature()) else "fused"  # what this CPU runs
    cpu_models = ["int8", rewritten, "fp32", "fp16"]
    models = args.models or (cpu_models if args.device == "cpu" else ["fp32", "fp16"])
    searches = args.searches if args.device == "cuda" else ["-"]
    frontend = TextFrontend(["en-us"])
    voices = assets.load_voices(assets.ensure_voices("auto", args.cache_dir))
    short_ids = frontend.tokenize(frontend.phonemize(SHORT, "en-us"))
    long_ids = frontend.tokenize(frontend.phonemize(LONG, "en-us"))
    tokens = {
        "short": short_ids,
        "long": long_ids,
        "voice": voices["af_heart"],
    }
    configs = [(name, search) for name in models for search in searches]
    opened = {}
    for name, search in configs:
        path = model_path(name, args.cache_dir)
        opened[name, search] = open_session(args.device, search, path, args.threads, tokens)
    # Interleaved rounds: every configuration runs once per round, so the host's drift (a shared
    # machine's speed can move by 25 % within minutes) hits all of them alike and ratios hold.
    short: dict[tuple[str, str], list[float]] = {config: [] for config in configs}
    long_: dict[tuple[str, str], list[float]] = {config: [] for config in configs}
    audio: dict[tuple[str, str, str], np.ndarray] = {}
    finite = dict.fromkeys(configs, True)  # every output of every round
    for _ in range(args.repeat):
        for config in configs:
            session = opened[config][0]
            for kind, times in (("short", short), ("long", long_)):
                elapsed, audio[(*config, kind)] = timed(
                    run_session, session, tokens[kind], tokens["voice"], 1.0
                )
                times[config].append(elapsed)
                finite[config] = finite[config] and bool(np.isfinite(audio[(*config, kind)]).all())
    rows = []
    for name, search in configs:
        session, load_s, first_s = opened[name, search]
        tput, finite_together = throughput(session, tokens, args.concurrency)
        long_median = statistics.median(long_[name, search])
        long_audio = audio[name, search, "long"].size / SAMPLE_RATE
        row = {
            "model": name,
            "device": args.device,
            "search": search if args.device == "cuda" else "-",
            "providers": session.get_providers()[0],
            "load_s": load_s,
            "first_call_s": first_s,
            "short_median_s": statistics.median(short[name, search]),
            "short_audio_s": audio[name, search, "short"].size / SAMPLE_RATE,
            "long_median_s": long_median,
            "long_audio_s": long_audio,
            "rtf": long_median / long_audio,
            "concurrency": args.concurrency,
            "throughput_audio_s_per_s": tput,
            "finite": finite[name, search] and finite_together,
        }
        rows.append(row)
        print("RESULT " + json.dumps(row))
    header = (
        f"{'model':<10} {'search':<11} {'load':>6} {'1st':>6} {'short':>6} {'×':>5} {'long':>6} {'×':>5} "
        f"{'RTF':>6} {'tput':>6}"
    )
    print("\n" + header)
    base = rows[0]
    for row in rows:
        print(
            f"{row['model']:<10} {row['search']:<11} {row['load_s']:6.2f} {row['first_call_s']:6.3f} "
            f"{row['short_median_s']:6.3f} {row['short_median_s'] / base['short_median_s']:5.2f} "
            f"{row['long_median_s']:6.3f} {row['long_median_s'] / base['long_median_s']:5.2f} "
            f"{row['rtf']:6.3f} {row['throughput_audio_s_per_s']:6.2f}"
        )
    print(
        f"\nshort = {SHORT!r} ({len(short_ids)} tokens); long = {len(long_ids)} tokens; "
        f"times in seconds (medians of {args.repeat} interleaved rounds); × = relative to the first "
        f"row; tput = audio seconds per wall second at concurrency {args.concurrency}"
    )


if __name__ == "__main__":
    main()
