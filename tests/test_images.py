"""The Docker image, the add-on image and the wheel, built from this checkout and checked for real.

Runs ``script/docker-test cpu addon wheel`` (see that script for what is checked). It needs a Docker
engine: the script starts one where it runs as root on Debian (apt's docker.io, the vfs driver), so
the test is skipped only where that cannot happen (the script's exit status 3, with its reason).
The CUDA image (4.5 GB, ~15 min to build with vfs) is left to ``script/docker-test cuda`` and the
release workflow.
"""

from __future__ import annotations

from docker_scripts import run_docker_script


def test_images_build_start_and_speak() -> None:
    result = run_docker_script("docker-test", "cpu", "addon", "wheel")
    assert "==> all checks passed" in result.stderr
    print(result.stdout)
