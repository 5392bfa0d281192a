"""Issue 14, item 6: every abbreviation (SPC, pp, OCU, DSR, 99.8%) has its plain words on
its first use on each page, read from the page's text in reading order as AppTest runs it
(markdown, captions, alerts, headings, metric cards, badges, choices, table headers and
cells)."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics.reference import glossary
from tests.test_pages import APP, PAGE_FILES, PROJECT_ROOT, TIMEOUT_S, demo_data_dir  # noqa: F401


def page_texts(node, out: list[str] | None = None) -> list[str]:
    """Every piece of text under `node`, depth first in the order the page draws it."""
    out = [] if out is None else out
    if type(node).__name__ == "Html":     # st.html: its text without the tags
        out.append(re.sub(r"<[^>]+>", " ", html.unescape(node.proto.body)))
    for attr in ("label", "value", "delta", "options"):
        try:
            value = getattr(node, attr)
        except Exception:      # elements without the attribute, or widgets not set yet
            continue
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, pd.DataFrame):
            out.append(" | ".join(map(str, value.columns)))
            for column in value.columns:
                if value[column].dtype == object:
                    out.extend(str(v) for v in value[column].dropna().unique()[:200])
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out.extend(value)
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for key in sorted(children):
            page_texts(children[key], out)
    return out


def _run(page: str, view: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    at.switch_page(page)
    if view:
        at.session_state["view"] = view
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_check_finds_an_abbreviation_without_its_words():
    assert glossary.unglossed(["Worse than England (99.8% confidence)"]) == \
        {"99.8%": "Worse than England (99.8% confidence)"}
    assert glossary.unglossed(["A +2.1 pp change", glossary.POINTS]) == \
        {"pp": "A +2.1 pp change"}
    assert glossary.unglossed([glossary.CONFIDENCE, "Worse (99.8%)", "SPC (statistical "
                               "process control)", "3 OCUs"]) == {"OCU": "3 OCUs"}


@pytest.mark.parametrize("page", [p.relative_to(PROJECT_ROOT).as_posix() for p in PAGE_FILES])
def test_every_abbreviation_is_glossed_on_first_use(demo_data_dir, page):   # noqa: F811
    texts = page_texts(_run(page).main)
    assert texts
    assert glossary.unglossed(texts) == {}, page


@pytest.mark.parametrize("page, view", [("pages/harm.py", "Figures"),
                                        ("pages/treatment.py", "Process control (SPC)"),
                                        ("pages/continuity.py", "Process control (SPC)"),
                                        ("pages/continuity.py", "Figures")])
def test_the_other_views_gloss_them_too(demo_data_dir, page, view):   # noqa: F811
    assert glossary.unglossed(page_texts(_run(page, view).main)) == {}, (page, view)
