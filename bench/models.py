"""Model × provider benchmark: int8 / gemm / fp32 / fp16, CPU or CUDA, and cuDNN's conv algorithm search.

``gemm`` is the int8 model with its convs as uint8×int8 MatMulInteger and its normalizations fused
(wyoming_kokoro/cpu_model.py), what ``model: auto`` runs on CPUs with VNNI/AMX; ``gemm-exact`` has
only the conv rewrite (bit-for-bit the int8 model's audio).

For each configuration it reports the session load time, the first inference on a new input length
(where cuDNN's EXHAUSTIVE search pays its tuning), the median time for a short reply (time to first
audio) and a long one, the real-time factor, and the throughput of N concurrent requests.

    .venv/bin/python bench/models.py                         # CPU: int8 vs gemm vs fp32 vs fp16
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
from wyoming_kokoro.engine import _run_session, _session_options, cpu_session
from wyoming_kokoro.frontend import TextFrontend
from wyoming_kokoro.providers import CPU, CUDA, CUDA_PROVIDER_OPTIONS

SHORT = "Turned on the kitchen lights."
LONG = (
    "Currently it's eighteen degrees and partly cloudy in Berlin, with winds of twelve kilometers per "
    "hour. Expect a high of twenty-three degrees and a forty percent chance of rain after three PM."
)


def model_path(name: str, cache_dir: Path) -> Path:
    int8 = assets.ensure_model("auto", cache_dir)
    if name == "int8":
        return int8
    if name in ("gemm", "gemm-exact"):
        from wyoming_kokoro.cpu_model import GEMM_MODEL_FILENAME, build_gemm_model, ensure_gemm_model

        if name == "gemm-exact":  # the conv rewrite alone: bit-for-bit the int8 model's audio
            # Built every run (~1 s): no stamp to go stale when the rewrite changes.
            return build_gemm_model(
                int8, cache_dir / GEMM_MODEL_FILENAME.replace(".onnx", "-exact.onnx"), exact=True
            )
        voice = assets.load_voices(assets.ensure_voices("auto", cache_dir))["af_heart"]
        return ensure_gemm_model(int8, cache_dir, lambda path: cpu_session(path, physical_cores()), voice)
    from wyoming_kokoro.float_model import ensure_float_model

    return ensure_float_model(int8, cache_dir, "fp16" if name == "fp16" else "fp32")


def timed(fn: object, *args: object) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    audio = fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start, audio


def bench_one(
    name: str, device: str, search: str, path: Path, threads: int, repeat: int, concurrency: int, tokens: dict
) -> dict[str, object]:
    if device == "cuda":
        providers: list[object] = [(CUDA, {**CUDA_PROVIDER_OPTIONS, "cudnn_conv_algo_search": search}), CPU]
    else:
        providers = [CPU]
    started = time.perf_counter()
    session = ort.InferenceSession(str(path), sess_options=_session_options(threads), providers=providers)
    load_s = time.perf_counter() - started
    table = tokens["voice"]
    first_s, _ = timed(_run_session, session, tokens["short"], table, 1.0)
    short = [timed(_run_session, session, tokens["short"], table, 1.0) for _ in range(repeat)]
    long_ = [timed(_run_session, session, tokens["long"], table, 1.0) for _ in range(repeat)]
    short_audio = short[0][1].size / SAMPLE_RATE
    long_audio = long_[0][1].size / SAMPLE_RATE
    long_median = statistics.median(t for t, _ in long_)
    # Throughput: N requests at once (each the long text), audio seconds produced per wall second.
    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        results = list(
            pool.map(lambda _: _run_session(session, tokens["long"], table, 1.0), range(concurrency))
        )
        wall = time.perf_counter() - started
    return {
        "model": name,
        "device": device,
        "search": search if device == "cuda" else "-",
        "providers": session.get_providers()[0],
        "load_s": load_s,
        "first_call_s": first_s,
        "short_median_s": statistics.median(t for t, _ in short),
        "short_audio_s": short_audio,
        "long_median_s": long_median,
        "long_audio_s": long_audio,
        "rtf": long_median / long_audio,
        "concurrency": concurrency,
        "throughput_audio_s_per_s": sum(r.size for r in results) / SAMPLE_RATE / wall,
        "finite": bool(all(np.isfinite(a).all() for _, a in short + long_)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--models", nargs="+", default=None, choices=("int8", "gemm", "gemm-exact", "fp32", "fp16")
    )
    parser.add_argument("--searches", nargs="+", default=["HEURISTIC", "DEFAULT", "EXHAUSTIVE"])
    parser.add_argument("--threads", type=int, default=physical_cores())
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=assets.default_cache_dir())
    args = parser.parse_args()
    if args.device == "cuda" and CUDA not in ort.get_available_providers():
        raise SystemExit(
            f"CUDAExecutionProvider is not available here ({ort.get_available_providers()}); "
            'install onnxruntime-gpu (pip install ".[gpu]") on a machine with an NVIDIA GPU'
        )
    models = args.models or (["int8", "gemm", "fp32", "fp16"] if args.device == "cpu" else ["fp32", "fp16"])
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
    rows = []
    for name in models:
        path = model_path(name, args.cache_dir)
        for search in searches:
            row = bench_one(
                name, args.device, search, path, args.threads, args.repeat, args.concurrency, tokens
            )
            rows.append(row)
            print("RESULT " + json.dumps(row))
    header = (
        f"{'model':<6} {'search':<11} {'load':>6} {'1st':>6} {'short':>6} {'long':>6} {'RTF':>6} {'tput':>6}"
    )
    print("\n" + header)
    for row in rows:
        print(
            f"{row['model']:<6} {row['search']:<11} {row['load_s']:6.2f} {row['first_call_s']:6.3f} "
            f"{row['short_median_s']:6.3f} {row['long_median_s']:6.3f} {row['rtf']:6.3f} "
            f"{row['throughput_audio_s_per_s']:6.2f}"
        )
    print(
        f"\nshort = {SHORT!r} ({len(short_ids)} tokens); long = {len(long_ids)} tokens; "
        f"times in seconds (medians of {args.repeat}); tput = audio seconds per wall second at "
        f"concurrency {args.concurrency}"
    )


if __name__ == "__main__":
    main()
