"""Home Assistant's own wyoming integration gets speech from this checkout's server.

Runs ``script/test-homeassistant`` (tests_homeassistant/: config flows, the TTS entity, speech on the
streaming and plain paths, refusals, describe while speaking, a server restart) with the newest
Home Assistant that installs on Python 3.13, in a Docker image the script builds once. Skipped only
where no Docker engine can be had (the script's exit status 3).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_home_assistant_gets_speech_from_the_server() -> None:
    result = subprocess.run(
        [str(ROOT / "script" / "test-homeassistant")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode == 3:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert re.search(r"^homeassistant==\d{4}\.\d+\.\d+$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout.splitlines()[-1]
    print(result.stdout[-2000:])
