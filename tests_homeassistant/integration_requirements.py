"""Print the pip requirements of Home Assistant's wyoming integration and of every integration it
depends on, one a line, read from the installed Home Assistant's own manifests.

Home Assistant installs these when it loads an integration; its test fixtures never do (they run
with ``skip_pip``), so the test image installs them up front, at the versions that release pins.
"""

import json
from pathlib import Path

import homeassistant.components

COMPONENTS = Path(homeassistant.components.__file__).parent
EXTRA = ("tts", "stt", "wake_word", "zeroconf", "network")

seen: set[str] = set()
requirements: list[str] = []
todo = ["wyoming", *EXTRA]
while todo:
    domain = todo.pop()
    if domain in seen:
        continue
    seen.add(domain)
    manifest = json.loads((COMPONENTS / domain / "manifest.json").read_text())
    requirements += manifest.get("requirements", [])
    todo += manifest.get("dependencies", []) + manifest.get("after_dependencies", [])
print("\n".join(sorted(set(requirements))))
