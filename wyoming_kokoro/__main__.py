"""``python -m wyoming_kokoro``: the same as the ``wyoming-kokoro`` command (``cli.py``)."""

import sys

from .cli import main

sys.exit(main())
