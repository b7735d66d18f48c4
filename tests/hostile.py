"""What a hostile client sends to make one request cost gigabytes (before frames were bounded,
see ``frame_cap``): runs of marks, one giant "word", a run of tiny sentences, a sentence with no
place to cut. Shared by ``test_robustness`` and ``bench/memory.py``."""

from __future__ import annotations

HOSTILE_TEXTS: dict[str, str] = {
    '"?!" x 500': "?!" * 500,
    '"—" x 500': "\u2014" * 500,
    '"a" x 1500': "a" * 1500,
    '"Hmm. " x 300': "Hmm. " * 300,
    '"! " x 500': "! " * 500,
    '"x" x 300 + "?" x 300': "x" * 300 + " " + "?" * 300,
    '"Ok " x 330': "Ok " * 330,
}
