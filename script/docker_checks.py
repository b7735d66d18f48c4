"""Checks of one built image, run by script/docker-test: ``docker_checks.py TARGET IMAGE NAME [WHEEL]``
(and ``docker_checks.py summary CHECK_JSON TARGET IMAGE SIZE BUILD_SECONDS`` for its closing table).

Starts the image twice on one named volume with no network, as a user's first and second start,
and checks it with the real ``wyoming`` client running inside the container (the only way in when
the container has no network). Prints a JSON summary on stdout; exits 1 with the reason on stderr.

The ``wheel`` target instead installs WHEEL (a folder holding the built wheel) with pip into a fresh
venv of a plain Python image, as a ``pip install`` user would (the host network, for PyPI and npm),
runs ``wyoming-kokoro fetch`` and serves; it is checked the same way, once, and ``wyoming-kokoro
synth`` must write a WAV file of speech there too.

Standard library only, so that it runs with whatever Python starts script/docker-test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

VOICES = 54
#: Without the cjk extra (the wheel target installs only [cpu]) the 13 Japanese and Mandarin voices are
#: not offered.
VOICES_WITHOUT_CJK = 41
SAMPLE_RATE = 24_000
READY_TIMEOUT_S = 600
STOP_LIMIT_S = 10.0
PLAIN_TEXT = "Turned on the kitchen lights, and set the thermostat to twenty one degrees."
STREAMED_CHUNKS = ["The weather today ", "is sunny with a high ", "of twenty degrees. ", "Enjoy your day!"]
# Speech of these texts lasts about this long at speed 1 (Kokoro speaks ~14 characters a second).
PLAIN_SECONDS = (3.0, 8.0)
STREAMED_SECONDS = (3.0, 8.0)
SYNTH_TEXT = "Turned on the kitchen lights."
SYNTH_SECONDS = (1.0, 4.0)
OPTIONS_JSON = {"voice": "bf_emma", "speed": 1.0, "blends": [], "device": "auto",
                "release_memory": False, "split_first_piece": True, "debug_logging": False}  # fmt: skip

# Runs inside the container with the image's own Python and wyoming package.
CLIENT = r"""
import asyncio, json, sys
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import (Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop,
                         SynthesizeStopped, SynthesizeVoice)

PLAIN, CHUNKS, VOICE = json.loads(sys.argv[1])

async def reply(client):
    audio, fmt, started = 0, None, None
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    first = None
    while True:
        event = await asyncio.wait_for(client.read_event(), 120)
        if event is None:
            raise SystemExit("connection closed mid-reply")
        if Error.is_type(event.type):
            raise SystemExit(f"error event: {Error.from_event(event).text}")
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            fmt = [start.rate, start.width, start.channels]
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            first = first if first is not None else loop.time() - t0
            audio += len(chunk.audio)
        elif AudioStop.is_type(event.type):
            return {"format": fmt, "bytes": audio, "first_audio_s": first}

async def main():
    out = {}
    async with AsyncTcpClient("127.0.0.1", 10210) as client:
        await client.write_event(Describe().event())
        while True:
            event = await asyncio.wait_for(client.read_event(), 30)
            if Info.is_type(event.type):
                break
        info = Info.from_event(event)
        voices = [v for program in info.tts for v in program.voices]
        out["voices"] = len(voices)
        out["streaming"] = any(program.supports_synthesize_streaming for program in info.tts)
        await client.write_event(Synthesize(text=PLAIN, voice=SynthesizeVoice(name=VOICE)).event())
        out["plain"] = await reply(client)
        voice = SynthesizeVoice(name=VOICE)
        await client.write_event(SynthesizeStart(voice=voice).event())
        for text in CHUNKS:
            await client.write_event(SynthesizeChunk(text=text).event())
        await client.write_event(SynthesizeStop().event())
        out["streamed"] = await reply(client)
        # The streaming reply ends with synthesize-stopped after its audio.
        event = await asyncio.wait_for(client.read_event(), 30)
        out["stopped"] = event is not None and SynthesizeStopped.is_type(event.type)
    print(json.dumps(out))

asyncio.run(main())
"""


class CheckFailed(Exception):
    pass


def docker(*args: str, check: bool = True, timeout: float = 120, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise CheckFailed(f"docker {' '.join(args[:3])} … failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def logs(name: str) -> str:
    """What the container wrote, stdout and stderr (the server logs to stderr)."""
    result = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60, check=False)
    return result.stdout + result.stderr


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


#: The wheel target's container: a fresh venv, the wheel with the CPU runtime, the assets, the server.
WHEEL_SCRIPT = (
    'python3 -m venv /venv && /venv/bin/pip install --quiet "$(ls /wheel/*.whl)[cpu]" && '
    "/venv/bin/wyoming-kokoro fetch && "
    "exec /venv/bin/wyoming-kokoro --no-zeroconf"
)
HEALTH_COMMAND = "wyoming-kokoro healthcheck --uri tcp://127.0.0.1:10210 --timeout 10"


def start(target: str, image: str, name: str, volume: str, options: Path | None, wheel: Path | None) -> float:
    """Start a container and return the seconds until Docker reports it healthy."""
    docker("rm", "--force", name, check=False)
    if target == "wheel":
        assert wheel is not None
        args = ["run", "--detach", "--name", name, "--network", "host", "--volume", f"{wheel}:/wheel:ro",
                "--health-cmd", f"/venv/bin/{HEALTH_COMMAND}", "--health-interval", "1s",
                "--health-start-period", "10m", image, "bash", "-c", WHEEL_SCRIPT]  # fmt: skip
        return wait_healthy(name, args)
    # The add-on keeps what it builds in /data (Supervisor's persistent folder), the images in /cache.
    data = "/data" if target == "addon" else "/cache"
    args = ["run", "--detach", "--name", name, "--network", "none", "--volume", f"{volume}:{data}",
            "--health-interval", "1s", "--health-start-period", "10m"]  # fmt: skip
    if target == "addon":
        # The add-on's own start, minus s6 and bashio: kokoro-options.py on a sample options.json.
        assert options is not None
        args += ["--volume", f"{options}:/data/options.json:ro",
                 "--entrypoint", "/usr/local/bin/kokoro-options.py", image,
                 "--options", "/data/options.json",
                 "--config-out", "/tmp/wyoming-kokoro/config.yaml"]  # fmt: skip
    else:
        args.append(image)
    return wait_healthy(name, args)


def _timestamp(text: str) -> datetime:
    """Docker's RFC 3339 times carry nanoseconds; datetime takes microseconds."""
    head, _, rest = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(rest or '0')[:6]:0<6}+00:00")


def wait_healthy(name: str, args: list[str]) -> float:
    """Seconds from the container's start to the end of its first passing health check.

    Counted from Docker's StartedAt, not from ``docker run``: creating the container copies the whole
    image first with the vfs storage driver (15 s here), which overlay2 machines do not pay.
    """
    began = time.monotonic()
    docker(*args)
    while True:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", name))
        health = state.get("Health") or {}
        if health.get("Status") == "healthy":
            passed = next(entry for entry in health["Log"] if entry["ExitCode"] == 0)
            return (_timestamp(passed["End"]) - _timestamp(state["StartedAt"])).total_seconds()
        if not state["Running"]:
            raise CheckFailed(f"{name} exited with {state['ExitCode']}:\n{logs(name)}")
        if time.monotonic() - began > READY_TIMEOUT_S:
            raise CheckFailed(f"{name} not healthy after {READY_TIMEOUT_S} s:\n{logs(name)}")
        time.sleep(0.5)


def speak(name: str, voice: str, python: str = "python3", voices: int = VOICES) -> dict[str, Any]:
    payload = json.dumps([PLAIN_TEXT, STREAMED_CHUNKS, voice])
    out = docker("exec", "--interactive", name, python, "-", payload, stdin=CLIENT, timeout=300)
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    expect(result["voices"] == voices, f"describe lists {result['voices']} voices, not {voices}")
    expect(result["streaming"], "info does not advertise streaming synthesis")
    for kind, (low, high) in (("plain", PLAIN_SECONDS), ("streamed", STREAMED_SECONDS)):
        reply = result[kind]
        expect(reply["format"] == [SAMPLE_RATE, 2, 1], f"{kind} audio format {reply['format']}")
        seconds = reply["bytes"] / (SAMPLE_RATE * 2)
        reply["seconds"] = round(seconds, 2)
        expect(low <= seconds <= high, f"{kind} reply is {seconds:.2f} s of audio, not {low}-{high} s")
    expect(result["stopped"], "the streamed reply did not end with synthesize-stopped")
    return result


def not_root(name: str) -> int:
    status = docker("exec", name, "cat", "/proc/1/status")
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    server = docker("exec", name, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
    expect("wyoming-kokoro" in server or "wyoming_kokoro" in server, "no server process found")
    return uid


def stop(name: str) -> float:
    began = time.monotonic()
    docker("stop", "--time", "30", name, timeout=60)
    took = time.monotonic() - began
    code = int(docker("inspect", "--format", "{{.State.ExitCode}}", name))
    expect(code == 0, f"{name} exited with {code} after docker stop:\n{logs(name)[-2000:]}")
    expect(took < STOP_LIMIT_S, f"docker stop took {took:.1f} s (limit {STOP_LIMIT_S} s)")
    return took


def cuda_checks(image: str, name: str, volume: str) -> dict[str, Any]:
    """No GPU here: device auto serves on the CPU and says why; device cuda refuses to start."""
    said = [line for line in logs(name).splitlines() if "Using CPU" in line and "CUDA" in line]
    expect(bool(said), f"no log line says why the CPU serves:\n{logs(name)[-3000:]}")
    refusing = f"{name}-refuses"
    docker("rm", "--force", refusing, check=False)
    docker("run", "--detach", "--name", refusing, "--network", "none", "--volume", f"{volume}:/cache",
           "--env", "KOKORO_DEVICE=cuda", image)  # fmt: skip
    began = time.monotonic()
    while True:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", refusing))
        if not state["Running"]:
            break
        serving = "Serving Wyoming" in logs(refusing)
        if serving or time.monotonic() - began > READY_TIMEOUT_S:
            docker("rm", "--force", refusing, check=False)
            raise CheckFailed("with KOKORO_DEVICE=cuda and no GPU the server started")
        time.sleep(0.5)
    message = logs(refusing).strip().splitlines()
    docker("rm", refusing)
    expect(state["ExitCode"] != 0, "with KOKORO_DEVICE=cuda and no GPU the server exited with 0")
    expect(any("cuda" in line.lower() for line in message[-3:]), f"unclear refusal: {message[-5:]}")
    return {"device_auto_log": said[0], "device_cuda_refusal": message[-1]}


def synth(name: str) -> dict[str, Any]:
    """``wyoming-kokoro synth`` in the wheel's venv writes a WAV of speech of the expected length."""
    docker("exec", name, "/venv/bin/wyoming-kokoro", "synth", SYNTH_TEXT, "-o", "/tmp/synth.wav", timeout=300)
    probe = (
        "import json, platform, wave; w = wave.open('/tmp/synth.wav'); "
        "print(json.dumps([platform.python_version(), w.getframerate(), w.getnframes()]))"
    )
    python, rate, frames = json.loads(docker("exec", name, "/venv/bin/python", "-c", probe))
    seconds = frames / rate
    low, high = SYNTH_SECONDS
    expect(rate == SAMPLE_RATE, f"synth wrote {rate} Hz, not {SAMPLE_RATE}")
    expect(low <= seconds <= high, f"synth wrote {seconds:.2f} s of audio, not {low}-{high} s")
    return {"python": python, "synth_seconds": round(seconds, 2)}


def main(target: str, image: str, name: str, wheel: str | None = None) -> dict[str, Any]:
    if target == "wheel":
        assert wheel is not None
        summary: dict[str, Any] = {"image": image}
        summary["first_ready_s"] = round(start(target, image, name, "", None, Path(wheel)), 1)
        summary["reply"] = speak(name, "af_heart", python="/venv/bin/python", voices=VOICES_WITHOUT_CJK)
        summary.update(synth(name))
        summary["stop_s"] = round(stop(name), 1)
        summary["second_ready_s"] = None
        docker("rm", name)
        return summary
    volume = name
    docker("volume", "rm", "--force", volume, check=False)
    docker("volume", "create", volume)
    options: Path | None = None
    voice = "af_heart"
    if target == "addon":
        folder = Path(tempfile.mkdtemp(prefix="kokoro-addon-"))
        options = folder / "options.json"
        options.write_text(json.dumps(OPTIONS_JSON))
        options.chmod(0o644)
        voice = str(OPTIONS_JSON["voice"])
    summary = {"image": image}
    summary["first_ready_s"] = round(start(target, image, name, volume, options, None), 1)
    summary["reply"] = speak(name, voice)
    summary["server_uid"] = not_root(name)
    if target != "addon":  # the add-on runs as root, as every Home Assistant add-on does
        expect(summary["server_uid"] != 0, "the server runs as root")
    if target == "cuda":
        summary.update(cuda_checks(image, name, volume))
    summary["stop_s"] = round(stop(name), 1)
    docker("rm", name)
    second = f"{name}-2"
    summary["second_ready_s"] = round(start(target, image, second, volume, options, None), 1)
    speak(second, voice)
    stop(second)
    docker("rm", second)
    expect(
        summary["second_ready_s"] < summary["first_ready_s"],
        f"the second start ({summary['second_ready_s']} s) was not faster than the first "
        f"({summary['first_ready_s']} s)",
    )
    return summary


def summary_line(check_json: str, target: str, tag: str, size: str, built: str) -> str:
    """One line of script/docker-test's closing table."""
    result = json.loads(Path(check_json).read_text())
    if target == "wheel":
        return (
            f"{'wheel, fresh venv':<28} Python {result['python']}: install + fetch + ready "
            f"{result['first_ready_s']:5.1f} s; synth {result['synth_seconds']} s of speech"
        )
    return (
        f"{tag:<28} {int(size) / 1e9:5.2f} GB  build {built:>4} s  ready {result['first_ready_s']:5.1f} s "
        f"(first start), {result['second_ready_s']:5.1f} s (second); docker stop {result['stop_s']} s"
    )


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        print(summary_line(*sys.argv[2:7]))
        sys.exit(0)
    try:
        print(json.dumps(main(*sys.argv[1:5]), indent=1))
    except (CheckFailed, subprocess.TimeoutExpired) as err:
        print(f"docker_checks: {err}", file=sys.stderr)
        sys.exit(1)
