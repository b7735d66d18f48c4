"""Latency benchmark for any Wyoming TTS server, driven through the real Wyoming client.

It measures what a Home Assistant user feels: time to ``audio-start``, to the first audio chunk and
to the last, the real-time factor, and *underrun* seconds — how long a player that starts at the first
chunk would have to stop and wait for audio (a stall). With ``--clients C`` it runs C clients at once
(``--stagger S``: S seconds apart) and also times ``describe`` while they run (Home Assistant polls
it). With ``--start`` it launches our server itself (cold phrase cache) and reports the server's CPU
seconds per second of audio.

    .venv/bin/python bench/latency.py --start                      # plain synthesize, 1 client
    .venv/bin/python bench/latency.py --start --mode stream         # LLM-style streamed text
    .venv/bin/python bench/latency.py --start --clients 3
    .venv/bin/python bench/latency.py --start --clients 3 --stagger 1   # arrivals 1 s apart
    .venv/bin/python bench/latency.py --start --gap 3                   # requests after a quiet spell
    .venv/bin/python bench/latency.py --uri tcp://127.0.0.1:10200   # any Wyoming TTS, e.g. wyoming-piper

Prints a table and one JSON line (prefix ``RESULT``) so runs can be compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
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
DEFAULT_TEXTS = REPO.parent / "shared" / "texts" / "ha_replies.txt"
FALLBACK_TEXTS = Path(__file__).with_name("ha_replies.txt")


@dataclass
class Run:
    """One request's timeline, in seconds from the moment its first event was sent."""

    text: str
    audio_start: float = float("nan")
    first_chunk: float = float("nan")
    last_audio: float = float("nan")
    first_sentence_end_sent: float = float("nan")  # streaming: when the first sentence's end went out
    audio_seconds: float = 0.0
    underrun: float = 0.0
    error: str | None = None
    chunk_times: list[tuple[float, float]] = field(default_factory=list, repr=False)


def underrun_seconds(chunks: list[tuple[float, float]]) -> float:
    """Total stall for a player that starts at the first chunk and plays continuously.

    ``chunks`` are (arrival time, seconds of audio in the chunk). A chunk is late when it arrives
    after the player has run out of the audio before it; each late arrival adds a stall.
    """
    if not chunks:
        return 0.0
    start = chunks[0][0]
    played_until = start  # wall-clock time at which the audio received so far runs out
    stall = 0.0
    for arrival, seconds in chunks:
        if arrival > played_until:
            if arrival != start:
                stall += arrival - played_until
            played_until = arrival
        played_until += seconds
    return stall


async def read_audio(client: AsyncClient, run: Run, t0: float, streamed: bool) -> None:
    """Record the audio of one request: a plain one ends at audio-stop, a stream at synthesize-stopped."""
    rate, width, channels = 24000, 2, 1
    while True:
        event = await client.read_event()
        if event is None:
            run.error = "connection closed"
            return
        now = time.perf_counter() - t0
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            rate, width, channels = start.rate, start.width, start.channels
            if math.isnan(run.audio_start):  # a stream may have one audio-start per sentence
                run.audio_start = now
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            seconds = len(chunk.audio) / (rate * width * channels)
            if not run.chunk_times:
                run.first_chunk = now
            run.chunk_times.append((now, seconds))
            run.audio_seconds += seconds
            run.last_audio = now
        elif AudioStop.is_type(event.type) and not streamed:
            run.underrun = underrun_seconds(run.chunk_times)
            return
        elif SynthesizeStopped.is_type(event.type):
            # A stream ends here, not at audio-stop: a server may send one audio-start/stop per
            # sentence (wyoming-piper does), and Home Assistant reads on until synthesize-stopped.
            run.underrun = underrun_seconds(run.chunk_times)
            return
        elif event.type == "error":
            run.error = str(event.data)
            return


async def one_request(uri: str, text: str, mode: str, voice: str | None, wps: float) -> Run:
    run = Run(text)
    synth_voice = SynthesizeVoice(name=voice) if voice else None
    async with AsyncClient.from_uri(uri) as client:
        t0 = time.perf_counter()
        if mode == "plain":
            await client.write_event(Synthesize(text=text, voice=synth_voice).event())
            await read_audio(client, run, t0, streamed=False)
            return run
        # Streaming the way Home Assistant does it with an LLM: start, word deltas with leading
        # spaces at a steady pace, the compatibility synthesize with the full text, stop.
        reader = asyncio.create_task(read_audio(client, run, t0, streamed=True))
        await client.write_event(SynthesizeStart(voice=synth_voice).event())
        words = text.split(" ")
        for index, word in enumerate(words):
            delta = word if index == 0 else " " + word
            await client.write_event(SynthesizeChunk(text=delta).event())
            if math.isnan(run.first_sentence_end_sent) and word.endswith((".", "!", "?")):
                run.first_sentence_end_sent = time.perf_counter() - t0
            await asyncio.sleep(1.0 / wps)
        await client.write_event(Synthesize(text=text, voice=synth_voice).event())
        await client.write_event(SynthesizeStop().event())
        if math.isnan(run.first_sentence_end_sent):
            run.first_sentence_end_sent = time.perf_counter() - t0
        await reader
        return run


async def after(delay: float, request: Coroutine[Any, Any, Run]) -> Run:
    """``request``, started ``delay`` seconds from now (its times count from its own start)."""
    await asyncio.sleep(delay)
    return await request


async def describe_latency(uri: str) -> float:
    async with AsyncClient.from_uri(uri) as client:
        t0 = time.perf_counter()
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            if event is None or Info.is_type(event.type):
                return time.perf_counter() - t0


def percentile(values: list[float], q: float) -> float:
    clean = sorted(v for v in values if not math.isnan(v))
    if not clean:
        return float("nan")
    if len(clean) == 1:
        return clean[0]
    return statistics.quantiles(clean, n=100, method="inclusive")[int(q) - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_ready(
    uri: str, server: subprocess.Popen[bytes] | None, timeout: float, poll: float = 0.5
) -> None:
    """Until the server answers ``describe`` (it loads the model first), trying every *poll*
    seconds; fail early if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode} while starting")
        try:
            await asyncio.wait_for(describe_latency(uri), 5)
            return
        except (TimeoutError, OSError):
            await asyncio.sleep(poll)
    raise SystemExit(f"server at {uri} did not answer describe within {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (the server finishes or cancels its work and exits 0), then kill if it hangs."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    texts = [line.strip() for line in Path(args.texts).read_text().splitlines() if line.strip()]
    server: subprocess.Popen[bytes] | None = None
    uri = args.uri
    if args.start:
        uri = f"tcp://127.0.0.1:{free_port()}"
        command = [
            sys.executable, "-m", "wyoming_kokoro", "--uri", uri, "--no-zeroconf",
            "--phrase-cache-size", "0", "--log-level", "warning", *args.server_arg,
        ]  # fmt: skip
        server = subprocess.Popen(command, cwd=REPO)
        await wait_ready(uri, server, 300)
    assert uri, "give --uri or --start"
    try:
        # One warm-up request so first-call effects (page cache, allocator) are not in the numbers,
        # nor our server's own warm-up, which runs once it answers describe.
        await one_request(uri, "Warming up.", "plain", args.voice, args.wps)
        cpu_before = cpu_seconds(server.pid) if server else 0.0
        runs: list[Run] = []
        describes: list[float] = []
        for _ in range(args.repeat):
            for offset in range(0, len(texts), 1):
                await asyncio.sleep(args.gap)
                batch = [texts[(offset + k) % len(texts)] for k in range(args.clients)]
                tasks = [
                    asyncio.create_task(
                        after(k * args.stagger, one_request(uri, t, args.mode, args.voice, args.wps))
                    )
                    for k, t in enumerate(batch)
                ]
                if args.clients > 1:
                    await asyncio.sleep(0.3)
                    while not all(task.done() for task in tasks):
                        describes.append(await describe_latency(uri))
                        await asyncio.sleep(0.5)
                runs += await asyncio.gather(*tasks)
        cpu_used = (cpu_seconds(server.pid) - cpu_before) if server else float("nan")
    finally:
        if server is not None:
            stop_server(server, 30)

    ok = [r for r in runs if r.error is None]
    audio_total = sum(r.audio_seconds for r in ok)
    first = [r.first_chunk for r in ok]
    after_sentence = [r.first_chunk - r.first_sentence_end_sent for r in ok if args.mode == "stream"]
    result: dict[str, object] = {
        "uri": "self" if args.start else uri,
        "mode": args.mode,
        "clients": args.clients,
        "stagger_s": args.stagger,
        "gap_s": args.gap,
        "requests": len(runs),
        "errors": len(runs) - len(ok),
        "audio_start_p50": percentile([r.audio_start for r in ok], 50),
        "audio_start_p95": percentile([r.audio_start for r in ok], 95),
        "first_chunk_p50": percentile(first, 50),
        "first_chunk_p95": percentile(first, 95),
        "first_chunk_max": max(first) if first else float("nan"),
        "last_audio_p50": percentile([r.last_audio for r in ok], 50),
        "rtf": sum(r.last_audio for r in ok) / audio_total if audio_total else float("nan"),
        "underrun_total_s": sum(r.underrun for r in ok),
        "stalled_requests": sum(1 for r in ok if r.underrun > 0.01),
        "server_cpu_per_audio_s": cpu_used / audio_total if audio_total else float("nan"),
        "describe_p50_ms": percentile(describes, 50) * 1000,
        "describe_max_ms": max(describes) * 1000 if describes else float("nan"),
    }
    if after_sentence:
        result["first_chunk_after_first_sentence_p50"] = percentile(after_sentence, 50)
    print(f"\n{'text':<52} {'start':>6} {'first':>6} {'last':>6} {'audio':>6} {'stall':>6}")
    for run in runs[: len(texts)]:
        label = (run.text[:49] + "...") if len(run.text) > 52 else run.text
        print(
            f"{label:<52} {run.audio_start:6.2f} {run.first_chunk:6.2f} {run.last_audio:6.2f} "
            f"{run.audio_seconds:6.2f} {run.underrun:6.2f}" + (f"  ERROR {run.error}" if run.error else "")
        )
    print()
    for key, value in result.items():
        print(f"{key:<40} {value:.3f}" if isinstance(value, float) else f"{key:<40} {value}")
    print(
        "RESULT "
        + json.dumps(result | {"runs": [asdict(r) | {"chunk_times": None} for r in runs]}, default=str)
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", help="server to test, e.g. tcp://127.0.0.1:10210")
    parser.add_argument("--start", action="store_true", help="start our own server (cold phrase cache)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra argument for our server")
    parser.add_argument("--mode", choices=("plain", "stream"), default="plain")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients")
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="seconds between the clients' starts (0: all at once, the worst case for first pieces; "
        "e.g. 1: later clients ask while earlier replies are still being synthesized)",
    )
    parser.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="seconds of quiet between one round of requests and the next (0: back to back; at "
        "home requests come minutes apart, and an idle server hands its working memory back)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="passes over the texts")
    parser.add_argument("--wps", type=float, default=20.0, help="streaming pace in words per second")
    parser.add_argument("--voice", help="voice name (default: the server's)")
    parser.add_argument("--texts", default=str(DEFAULT_TEXTS if DEFAULT_TEXTS.exists() else FALLBACK_TEXTS))
    args = parser.parse_args()
    if not args.start and not args.uri:
        parser.error("give --uri or --start")
    if args.stagger < 0 or args.gap < 0:
        parser.error("--stagger and --gap must be 0 or more seconds")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
