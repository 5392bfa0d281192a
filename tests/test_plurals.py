"""Counts in words read as a board paper writes them: "1 person", "1 file", "2 files",
never "1 people" or "1 file(s)"."""

import re

import pytest

from metrics.reference.formatting import plural
from metrics.settings import PROJECT_ROOT


@pytest.mark.parametrize("count, singular, plural_form, expected", [
    (1, "person", "people", "1 person"),
    (0, "person", "people", "0 people"),
    (2_301, "person", "people", "2,301 people"),
    (1.0, "more person", "more people", "1 more person"),
    (254.0, "more person", "more people", "254 more people"),
    (1, "file", None, "1 file"),
    (2, "file", None, "2 files"),
    (1, "area code", None, "1 area code"),
])
def test_plural_puts_the_noun_in_the_right_number(count, singular, plural_form, expected):
    assert plural(count, singular, plural_form) == expected


# A count placed in an f-string just before a noun written "word(s)": "{n} file(s)".
HEDGED_PLURAL = re.compile(r"\{[^{}]*\}\s+[A-Za-z][\w ]*\(s\)")


def test_no_message_hedges_a_counted_noun_with_s_in_brackets():
    found = []
    for folder in ("metrics", "ui", "pages"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if HEDGED_PLURAL.search(line):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert not found, "use metrics.reference.formatting.plural:\n" + "\n".join(found)

