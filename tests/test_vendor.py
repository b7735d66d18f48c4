"""The vendored misaki is misaki 0.9.4 as released, byte for byte, and the one the server uses.

script/vendor-misaki copies the files and keeps their lines of the release's RECORD beside them; a
file edited by hand, added or missing fails here. Speech then matches the release's on every Python.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import wyoming_kokoro.vendor

VENDOR = Path(wyoming_kokoro.vendor.__file__).parent
RECORD = VENDOR / "MISAKI_RECORD"


def _record() -> dict[str, tuple[str, int]]:
    entries: dict[str, tuple[str, int]] = {}
    for line in RECORD.read_text().splitlines():
        if line.startswith("#") or not line:
            continue
        path, digest, size = line.rsplit(",", 2)
        entries[path] = (digest, int(size))
    return entries


def test_every_vendored_file_is_the_released_one() -> None:
    entries = _record()
    assert "misaki/en.py" in entries and "misaki/data/us_gold.json" in entries
    for path, (digest, size) in entries.items():
        data = (VENDOR / path).read_bytes()
        actual = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (actual, len(data)) == (digest, size), f"{path} differs from misaki 0.9.4"


def test_nothing_but_the_released_files_and_the_license() -> None:
    present = {
        str(path.relative_to(VENDOR))
        for path in (VENDOR / "misaki").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert present == {*_record(), "misaki/LICENSE"}


def test_the_front_end_never_imports_an_installed_misaki() -> None:
    """With every ``import misaki`` made to fail, English and espeak languages still speak."""
    script = (
        "import sys\n"
        "sys.modules['misaki'] = None  # any 'import misaki' now raises ImportError\n"
        "from wyoming_kokoro.text.frontend import TextFrontend\n"
        "frontend = TextFrontend(['en-us', 'fr'])\n"
        "print(frontend.phonemize('Hello there.', 'en-us'), frontend.phonemize('Bonjour.', 'fr'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "hələʊ" in result.stdout or "həlˈO" in result.stdout, result.stdout
