"""Third-party code shipped inside this package, unchanged (see script/vendor-misaki).

``misaki``: misaki 0.9.4, the G2P Kokoro-82M was trained with (Apache-2.0, its LICENSE beside it).
Its only release declares ``Requires-Python <3.13``, which would make pip refuse this package on
Python 3.13 and later; the vendored copy is byte for byte that release (tests/test_vendor.py checks
each file against the release's RECORD), so speech is the same on every Python.
"""
