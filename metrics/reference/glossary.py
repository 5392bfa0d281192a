"""Abbreviations the screens use, with the plain words each gets on its first use on a
page ("SPC (statistical process control)"). A board member reading a projected page
should not need to know them; tests/test_glosses.py checks every page's text.
"""

from __future__ import annotations

import re

# Term -> (pattern finding it in text, words that gloss it, any of which may stand beside
# it on its first use). "Process control (SPC)" glosses SPC: the words are its name.
TERMS = {
    "SPC": (r"\bSPC\b", ("statistical process control", "process control")),
    "pp": (r"\bpp\b", ("percentage point",)),
    "OCU": (r"\bOCUs?\b", ("opiate and/or crack cocaine", "opiate and crack cocaine")),
    "DSR": (r"\bDSR\b", ("directly standardised rate",)),
    "99.8%": (r"99\.8%", ("1 time in 500", "1 in 500")),
}

# The sentences pages use for the two that need more than a name.
CONFIDENCE = ("Compared with England at 95% and at 99.8% confidence: 99.8% is the stricter "
              "test, met by chance only about 1 time in 500.")
POINTS = "Changes in a percentage are in percentage points (pp)."


def unglossed(texts: list[str]) -> dict[str, str]:
    """Each term whose first use in `texts` (a page's text in reading order) has none of
    its gloss words in the same piece of text: term -> that text."""
    problems = {}
    for term, (pattern, words) in TERMS.items():
        first = next((t for t in texts if re.search(pattern, t)), None)
        if first is not None and not any(w in first.lower() for w in words):
            problems[term] = first
    return problems
