"""The wyoming-kokoro server the Home Assistant tests talk to, and what they share.

The tests run in the environment script/test-homeassistant makes (Home Assistant, its test fixtures from
pytest-homeassistant-custom-component, and the integration's pinned requirements). The server is
this checkout (``$KOKORO_TEST_SOURCE``) run by ``$KOKORO_TEST_PYTHON`` (a venv with the server's
dependencies) on the assets in ``$KOKORO_TEST_ASSETS``, as a separate process the tests can stop
and start again.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SERVER_PYTHON = os.environ.get("KOKORO_TEST_PYTHON", sys.executable)
SOURCE = Path(os.environ.get("KOKORO_TEST_SOURCE", Path(__file__).resolve().parent.parent))
ASSETS = os.environ.get("KOKORO_TEST_ASSETS", "")
ZEROCONF_NAME = "Kokoro HA test"
#: A blend, offered as a voice of its own.
BLEND = "ha_test_blend"
#: Requests longer than this are refused (to test how Home Assistant sees a refusal).
MAX_TEXT_CHARS = 2000
READY_TIMEOUT_S = 300.0

#: Every test may ask for "what did this measure": printed at the end of the run.
MEASURED: dict[str, float] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KokoroServer:
    """The server as a child process on a fixed port, stoppable and restartable."""

    def __init__(self, workdir: Path) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.config = workdir / "config.yaml"
        self.log = workdir / "server.log"
        self.config.write_text(
            textwrap.dedent(
                f"""\
                uri: tcp://{self.host}:{self.port}
                zeroconf:
                  enabled: true
                  name: {ZEROCONF_NAME}
                  host: {self.host}
                blends:
                  {BLEND}: "af_heart:0.6+af_bella:0.4"
                limits:
                  max_text_chars: {MAX_TEXT_CHARS}
                # Every request is really synthesized, so the timings mean something.
                phrase_cache_size: 0
                """
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("KOKORO_")}
        env["PYTHONPATH"] = str(SOURCE)
        env["ORT_DISABLE_TELEMETRY"] = "1"
        if ASSETS:
            env["WYOMING_KOKORO_CACHE"] = ASSETS
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [SERVER_PYTHON, "-m", "wyoming_kokoro", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        """Until the server answers describe (a Wyoming round trip in a subprocess: pytest-socket
        guards this process's sockets)."""
        began = time.monotonic()
        while time.monotonic() - began < READY_TIMEOUT_S:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()[-3000:]}")
            if describe_answers(self.host, self.port):
                warm_up(self.host, self.port)
                return
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer describe:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.process = None


def describe_answers(host: str, port: int) -> bool:
    script = textwrap.dedent(
        f"""
        import asyncio
        from homeassistant.components.wyoming.data import load_wyoming_info
        info = asyncio.run(load_wyoming_info({host!r}, {port}, retries=0, retry_wait=0, timeout=2))
        raise SystemExit(0 if info is not None else 1)
        """
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True).returncode == 0


def warm_up(host: str, port: int) -> None:
    """One short reply, so that no test times the server's first inference."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from wyoming.client import AsyncTcpClient
        from wyoming.tts import Synthesize

        async def main():
            async with AsyncTcpClient({host!r}, {port}) as client:
                await client.write_event(Synthesize(text="Ready.").event())
                while (event := await client.read_event()) is not None:
                    if event.type in ("audio-stop", "error"):
                        return
        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)


def browse_zeroconf(name: str, timeout: float = 20.0) -> dict[str, object]:
    """The service the server announces, as python-zeroconf resolves it (in a subprocess, which
    may open multicast sockets)."""
    script = textwrap.dedent(
        f"""
        import json, time
        from zeroconf import Zeroconf, ServiceBrowser
        zc = Zeroconf()
        found = []
        class Listener:
            def add_service(self, zc, type_, name):
                found.append(name)
            def update_service(self, zc, type_, name):
                pass
            def remove_service(self, zc, type_, name):
                pass
        ServiceBrowser(zc, "_wyoming._tcp.local.", Listener())
        deadline = time.monotonic() + {timeout}
        while time.monotonic() < deadline:
            for service in found:
                if service.startswith({name!r}):
                    info = zc.get_service_info("_wyoming._tcp.local.", service, 3000)
                    if info is not None:
                        print(json.dumps({{
                            "name": info.name, "type": info.type, "port": info.port,
                            "hostname": info.server,
                            "addresses": info.parsed_addresses(),
                            "properties": {{k.decode(): (v or b"").decode()
                                           for k, v in info.properties.items()}},
                        }}))
                        zc.close()
                        raise SystemExit(0)
            time.sleep(0.2)
        zc.close()
        raise SystemExit(f"no {name!r} service among {{found}}")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found
