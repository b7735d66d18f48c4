"""How soon a (re)started server answers ``describe``, and what a request sent right then waits.

Starts ``python -m wyoming_kokoro`` (the default config on a warm asset cache, as after a restart of
the add-on or container), polls ``describe`` every 50 ms from the moment the process is started,
then at once sends one ``synthesize`` and times its first audio chunk (it waits for the warm-up
that runs after ``describe`` is answered), and stops the server. Medians over ``--runs``:

    .venv/bin/python bench/start.py --runs 5

Prints one JSON line (prefix ``RESULT``) as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

from latency import REPO, free_port, stop_server, wait_ready  # shared helpers (same folder)
from wyoming.audio import AudioChunk
from wyoming.client import AsyncClient
from wyoming.tts import Synthesize

TEXT = "Turned on the kitchen lights."


async def first_audio(uri: str) -> float:
    async with AsyncClient.from_uri(uri) as client:
        sent = time.perf_counter()
        await client.write_event(Synthesize(text=TEXT).event())
        while True:
            event = await client.read_event()
            if event is None:
                raise SystemExit("the server closed the connection before any audio")
            if AudioChunk.is_type(event.type):
                return time.perf_counter() - sent


async def one_start(server_args: list[str]) -> tuple[float, float]:
    uri = f"tcp://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "wyoming_kokoro", "--uri", uri, "--no-zeroconf", *server_args]
    started = time.perf_counter()
    server = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        await wait_ready(uri, server, 300, poll=0.05)
        ready = time.perf_counter() - started
        return ready, await first_audio(uri)
    finally:
        stop_server(server, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server-arg", action="append", default=[], help="extra argument for our server")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    ready: list[float] = []
    first: list[float] = []
    for run in range(args.runs):
        describe_s, first_audio_s = asyncio.run(one_start(args.server_arg))
        ready.append(describe_s)
        first.append(first_audio_s)
        print(
            f"run {run + 1}: describe after {describe_s:.2f} s; first audio {first_audio_s:.2f} s after that"
        )
    result = {
        "describe_s_median": round(statistics.median(ready), 2),
        "first_audio_right_after_s_median": round(statistics.median(first), 2),
        "runs": args.runs,
    }
    print(
        f"median: describe after {result['describe_s_median']} s, first audio right after it "
        f"{result['first_audio_right_after_s_median']} s"
    )
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
