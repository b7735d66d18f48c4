"""Running the repository's Docker scripts from a test (script/docker-test, script/test-homeassistant).

They need a Docker engine and start one where they run as root on Debian; where none can be had
they exit with status 3 and the reason, and the test is skipped with that reason.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NO_ENGINE = 3


def run_docker_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script/<script> ARGS``; skip the test if no Docker engine, fail it on any other error."""
    result = subprocess.run(
        [str(ROOT / "script" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode == NO_ENGINE:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result
