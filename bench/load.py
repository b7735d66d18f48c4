"""Load and soak test: N clients at once for a while, every reply checked for completeness.

Each client loops until the time is up, opening a connection per request as Home Assistant does,
and picks at random: ``describe``; a short plain ``synthesize``; a long one; or an LLM-style stream
(``synthesize-start``, word deltas at a steady pace, the compatibility ``synthesize`` with the whole
text, ``synthesize-stop``). Texts come from bench/ha_replies.txt. A reply counts as complete when
its framing is whole (``audio-start``, chunks, ``audio-stop``, and ``synthesize-stopped`` for a
stream) and its length is plausible for its text: at least ``--min-s-per-char`` seconds of audio per
character at speed 1. That bound comes from measurement: over the replies in bench/ha_replies.txt
Kokoro (af_heart, speed 1) spoke 0.046–0.117 s per character, median 0.061 (numbers and units
expand when spoken), so 0.035 s leaves room for faster voices while catching a reply that lost a
sentence or more of a longer text.

With ``--start`` (the default when no ``--uri`` is given) it launches our server itself, as
bench/latency.py does, and reports the server's resident memory (RSS) after warm-up, its peak, and
at the end, so a leak shows as growth over a long run.

    .venv/bin/python bench/load.py                           # 8 clients, 300 s, own server
    .venv/bin/python bench/load.py --clients 8 --duration 60
    .venv/bin/python bench/load.py --uri tcp://127.0.0.1:10210 --clients 4

Prints a table and one JSON line (prefix ``RESULT``) so runs can be compared. Exit status 1 when any
request failed or any audio was truncated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from latency import free_port, percentile, stop_server, wait_ready  # shared helpers (same folder)
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

REPO = Path(__file__).resolve().parents[1]
TEXTS = Path(__file__).with_name("ha_replies.txt")
KINDS = ("describe", "short", "long", "stream")
#: Texts up to this long are "short" (one or two sentences: typical intent confirmations).
SHORT_CHARS = 100


@dataclass
class Request:
    """One request's outcome; times in seconds from its first event sent."""

    kind: str
    text: str = ""
    first_audio: float = math.nan
    total: float = math.nan
    audio_seconds: float = 0.0
    complete: bool = False
    error: str | None = None  # error code, or what went wrong with the connection
    truncated: bool = False


@dataclass
class Stats:
    requests: list[Request] = field(default_factory=list)
    rss_samples: list[int] = field(default_factory=list)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def read_reply(client: AsyncClient, request: Request, t0: float, streaming: bool) -> None:
    """Read one reply to its end and judge whether it is complete."""
    started = stopped = False
    while True:
        event = await client.read_event()
        now = time.perf_counter() - t0
        if event is None:
            request.error = request.error or "connection closed"
            break
        if AudioStart.is_type(event.type):
            started = True
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            if math.isnan(request.first_audio):
                request.first_audio = now
            request.audio_seconds += len(chunk.audio) / (chunk.width * chunk.channels * chunk.rate)
        elif AudioStop.is_type(event.type):
            stopped = started
            if not streaming:
                break
        elif Error.is_type(event.type):
            request.error = Error.from_event(event).code or "error"
            if not streaming:
                break
        elif SynthesizeStopped.is_type(event.type):
            break
    request.total = time.perf_counter() - t0
    request.complete = started and stopped and request.error is None


async def one_request(
    uri: str, kind: str, text: str, args: argparse.Namespace, rng: random.Random
) -> Request:
    request = Request(kind, text)
    voice = SynthesizeVoice(name=args.voice) if args.voice else None
    try:
        async with AsyncClient.from_uri(uri) as client:
            t0 = time.perf_counter()
            if kind == "describe":
                await client.write_event(Describe().event())
                while (event := await client.read_event()) is not None and not Info.is_type(event.type):
                    pass
                request.total = time.perf_counter() - t0
                request.complete = event is not None
                request.error = None if event is not None else "connection closed"
                return request
            if kind != "stream":
                await client.write_event(Synthesize(text=text, voice=voice).event())
                await asyncio.wait_for(read_reply(client, request, t0, False), args.request_timeout)
            else:
                reader = asyncio.create_task(read_reply(client, request, t0, True))
                await client.write_event(SynthesizeStart(voice=voice).event())
                for index, word in enumerate(text.split(" ")):
                    delta = word if index == 0 else " " + word
                    await client.write_event(SynthesizeChunk(text=delta).event())
                    await asyncio.sleep(rng.expovariate(args.wps))
                await client.write_event(Synthesize(text=text, voice=voice).event())
                await client.write_event(SynthesizeStop().event())
                await asyncio.wait_for(reader, args.request_timeout)
    except (TimeoutError, OSError) as err:
        request.error = type(err).__name__
    if request.error is None:
        request.truncated = not request.complete or request.audio_seconds < args.min_s_per_char * len(text)
    return request


async def client_loop(
    uri: str, texts: dict[str, list[str]], args: argparse.Namespace, deadline: float, seed: int, stats: Stats
) -> None:
    rng = random.Random(seed)
    weights = [args.describe, args.short, args.long, args.stream]
    while time.monotonic() < deadline:
        kind = rng.choices(KINDS, weights)[0]
        text = rng.choice(texts["long" if kind == "long" else "short" if kind == "short" else "all"])
        stats.requests.append(await one_request(uri, kind, "" if kind == "describe" else text, args, rng))
        await asyncio.sleep(rng.uniform(0, 2 * args.think))


#: Seconds between RSS samples (the timeline in the result shows whether memory levels off).
RSS_PERIOD = 10.0


async def sample_rss(pid: int, stats: Stats, stop: asyncio.Event) -> None:
    while not stop.is_set():
        stats.rss_samples.append(rss_bytes(pid))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({stopped}, timeout=RSS_PERIOD)
        stopped.cancel()


def summarize(stats: Stats, args: argparse.Namespace, rss: dict[str, int], wall: float) -> dict[str, object]:
    requests = stats.requests
    by_kind = {kind: [r for r in requests if r.kind == kind] for kind in KINDS}
    print(
        f"\n{'kind':<9} {'done':>5} {'ok':>5} {'errors':>6} {'trunc':>5} "
        f"{'ttfa p50':>8} {'ttfa p95':>8} {'total p50':>9} {'audio s':>8}"
    )
    per_kind: dict[str, dict[str, float]] = {}
    for kind, runs in by_kind.items():
        ok = [r for r in runs if r.error is None and not r.truncated]
        first = [r.first_audio for r in ok] if kind != "describe" else [r.total for r in ok]
        row: dict[str, float] = {
            "requests": len(runs),
            "ok": len(ok),
            "errors": sum(1 for r in runs if r.error is not None),
            "truncated": sum(1 for r in runs if r.truncated),
            "ttfa_p50": percentile(first, 50),
            "ttfa_p95": percentile(first, 95),
            "total_p50": percentile([r.total for r in ok], 50),
            "audio_seconds": sum(r.audio_seconds for r in ok),
        }
        per_kind[kind] = row
        print(
            f"{kind:<9} {row['requests']:>5} {row['ok']:>5} {row['errors']:>6} {row['truncated']:>5} "
            f"{row['ttfa_p50']:>8.2f} {row['ttfa_p95']:>8.2f} {row['total_p50']:>9.2f} "
            f"{row['audio_seconds']:>8.1f}"
        )
    speech = [r for r in requests if r.kind != "describe" and r.error is None and r.complete and r.text]
    ratios = [r.audio_seconds / len(r.text) for r in speech]
    ttfa = [r.first_audio for r in speech if not r.truncated]
    errors = Counter(r.error for r in requests if r.error is not None)
    result: dict[str, object] = {
        "clients": args.clients,
        "duration_s": args.duration,
        "wall_s": round(wall, 1),
        "requests": len(requests),
        "completed": sum(1 for r in requests if r.error is None and not r.truncated),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "truncated": sum(1 for r in requests if r.truncated),
        "ttfa_p50": percentile(ttfa, 50),
        "ttfa_p95": percentile(ttfa, 95),
        "audio_seconds": sum(r.audio_seconds for r in speech),
        "s_per_char_min": min(ratios) if ratios else math.nan,
        "s_per_char_p50": percentile(ratios, 50),
        "s_per_char_max": max(ratios) if ratios else math.nan,
        **{f"rss_{key}_mb": round(value / 2**20, 1) for key, value in rss.items()},
        "rss_timeline_mb": [round(value / 2**20) for value in stats.rss_samples],
        "per_kind": per_kind,
    }
    print()
    for key, value in result.items():
        if key != "per_kind":
            print(f"{key:<20} {value:.3f}" if isinstance(value, float) else f"{key:<20} {value}")
    print("RESULT " + json.dumps(result, default=str))
    return result


async def main_async(args: argparse.Namespace) -> int:
    lines = [line.strip() for line in args.texts.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = {
        "short": [t for t in lines if len(t) <= SHORT_CHARS],
        "long": [t for t in lines if len(t) > SHORT_CHARS] or lines,
        "all": lines,
    }
    texts["short"] = texts["short"] or lines
    server: subprocess.Popen[bytes] | None = None
    uri = args.uri
    if uri is None:
        uri = f"tcp://127.0.0.1:{free_port()}"
        command = [
            sys.executable, "-m", "wyoming_kokoro", "--uri", uri, "--no-zeroconf",
            "--phrase-cache-size", "0", "--log-level", "warning", *args.server_arg,
        ]  # fmt: skip
        server = subprocess.Popen(command, cwd=REPO, env={**os.environ, "ORT_DISABLE_TELEMETRY": "1"})
    stats = Stats()
    rss: dict[str, int] = {}
    stop_sampling = asyncio.Event()
    sampler: asyncio.Task[None] | None = None
    try:
        await wait_ready(uri, server, 600)
        warm = await one_request(uri, "short", texts["short"][0], args, random.Random(0))
        if warm.error:
            raise SystemExit(f"warm-up request failed: {warm.error}")
        if server is not None:
            rss["start"] = rss_bytes(server.pid)
            sampler = asyncio.create_task(sample_rss(server.pid, stats, stop_sampling))
        print(f"{args.clients} clients for {args.duration:.0f} s against {uri} ...", flush=True)
        started = time.monotonic()
        deadline = started + args.duration
        await asyncio.gather(
            *(client_loop(uri, texts, args, deadline, args.seed + n, stats) for n in range(args.clients))
        )
        wall = time.monotonic() - started
        if server is not None:
            await asyncio.sleep(1.0)  # let the server settle after the last reply
            rss["end"] = rss_bytes(server.pid)
    finally:
        stop_sampling.set()
        if sampler is not None:
            await sampler
        if server is not None:
            stop_server(server, 60)
    if stats.rss_samples:
        rss["peak"] = max(stats.rss_samples)
    result = summarize(stats, args, rss, wall)
    if server is not None:
        print(f"server exit status {server.returncode}")
        if server.returncode != 0:
            return 1
    return 0 if not result["errors"] and not result["truncated"] else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", help="server to load (default: start our own)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra argument for our server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds to keep starting requests")
    parser.add_argument("--texts", type=Path, default=TEXTS)
    parser.add_argument("--voice", help="voice name (default: the server's)")
    parser.add_argument("--wps", type=float, default=20.0, help="streaming pace, words per second")
    parser.add_argument("--think", type=float, default=0.5, help="mean pause between a client's requests")
    parser.add_argument("--describe", type=float, default=1.0, help="weight of describe requests")
    parser.add_argument("--short", type=float, default=4.0, help="weight of short plain requests")
    parser.add_argument("--long", type=float, default=2.0, help="weight of long plain requests")
    parser.add_argument("--stream", type=float, default=3.0, help="weight of streamed requests")
    parser.add_argument(
        "--min-s-per-char", type=float, default=0.035, help="shortest plausible audio per character"
    )
    parser.add_argument("--request-timeout", type=float, default=600.0, help="give up on one request")
    parser.add_argument("--seed", type=int, default=1)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
