"""Home Assistant's own wyoming integration gets speech from this checkout's server.

Runs ``script/test-homeassistant`` (tests_homeassistant/: config flows, the TTS entity, speech on the
streaming and plain paths, refusals, describe while speaking, a server restart) with the newest
Home Assistant that installs on Python 3.13, in a Docker image the script builds once. Skipped only
where no Docker engine can be had (the script's exit status 3).
"""

from __future__ import annotations

import re

from docker_scripts import run_docker_script


def test_home_assistant_gets_speech_from_the_server() -> None:
    result = run_docker_script("test-homeassistant")
    assert re.search(r"^homeassistant==\d{4}\.\d+\.\d+$", result.stdout, re.MULTILINE), result.stdout
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, summary
    print(result.stdout[-2000:])
