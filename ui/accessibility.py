"""The accessibility statement (pages/accessibility.py) and the footer that links to it.

The known exceptions are declared here once, as data: the statement lists them and
tests/browser/test_axe.py excludes exactly these (rule and selector) from its checks, so
the statement cannot promise more than the test checks, nor the test skip more than the
statement admits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

# The day the automated checks (tests/browser/test_axe.py) last passed on every page and
# slide of the demonstration set with the markup below. Move it when they are run again.
LAST_TESTED = dt.date(2026, 12, 2)
AXE_VERSION = "4.12"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
STATEMENT_PATH = "accessibility"


@dataclass(frozen=True)
class KnownException:
    rule: str           # axe-core rule id
    selector: str       # the element (and everything inside it) the rule is not applied to
    what: str           # for the statement: what a visitor meets
    reason: str         # why it is not fixed


_NAVIGATION = ("Streamlit's sidebar navigation (st.navigation) puts each section's links "
               "in a division element inside the list, so the list's structure is not announced as a "
               "list; the links themselves are named and keyboard operable. Streamlit draws "
               "this markup and offers no setting to change it.")

KNOWN_EXCEPTIONS: tuple[KnownException, ...] = (
    KnownException("list", "[data-testid='stSidebarNavItems']",
               "The page list in the sidebar is not announced as a list by screen readers "
               "(WCAG 1.3.1 Info and relationships).", _NAVIGATION),
    KnownException("listitem", "[data-testid='stSidebarNavItems']",
               "The same page list: its items are not inside a list element "
               "(WCAG 1.3.1).", _NAVIGATION),
)

# Known problems the automated checks do not find, said plainly.
NOT_AUTOMATED = (
    "An area cannot be chosen on a map with the keyboard (a click chooses it). Choose it "
    "from the sidebar's area list instead, and a district or region with the map's "
    "\"Show\" list; the map's figures are in the tables and downloads beside it.",
    "Chart tooltips appear on mouse hover only. Every chart's figures are in a table on "
    "the same page and download as CSV and Excel.",
    "The board pack (PDF) has not been checked with a screen reader. The same figures are "
    "on the pages and in the CSV and Excel downloads.",
    "Interval bars and the spine's range bars take the comparison's colour or a light grey, "
    "some below 3:1 against the page (the Fingertips yellow is 1.4:1). Every interval and "
    "range is in the chart's table, and every comparison has words and a shape.",
)


def footer() -> None:
    """A link to the statement at the foot of every page (app.py calls it after the page).
    Presentation mode has no footer: a slide fills a 1280 x 720 projector, and the
    statement is linked from every other page."""
    st.divider()
    st.page_link(f"pages/{STATEMENT_PATH}.py", label="Accessibility statement",
                 icon=":material/accessibility_new:")


def _at(contact: str) -> str:
    """' at name@example.gov.uk' (in a code span: Markdown would make a bare address a
    mail link that some screen readers announce twice), or nothing without a contact."""
    contact = contact.strip().replace("`", "'")
    return f" at `{contact}`" if contact else ""


def render(partnership_name: str, contact: str = "") -> None:
    st.title("Accessibility statement")
    st.markdown(
        f"This dashboard is run by the **{partnership_name}**. We want as many people as "
        "possible to be able to use it. You should be able to:\n\n"
        "- change colours, contrast levels and fonts using your browser or device settings\n"
        "- zoom in to 200%, or use a screen 320 pixels wide, without scrolling sideways "
        "or losing text\n"
        "- page through presentation mode with the arrow keys, Page Up, Page Down or Space, "
        "as a presentation clicker sends\n"
        "- read the figures behind the charts as tables, and download them as CSV and "
        "Excel; the Overview's sparklines and the slides' charts are described in words "
        "written from their figures\n"
        "- tell every comparison with England apart without colour: each has words and a "
        "shape (▲ better, ▼ worse, ● similar, ■ not compared)")

    st.header("How accessible this dashboard is")
    tags = ", ".join(WCAG_TAGS)
    st.markdown(
        "We aim to meet the Web Content Accessibility Guidelines (WCAG) version 2.2 at "
        f"level AA. Every page, every tab and every presentation slide is checked with "
        f"axe-core {AXE_VERSION} against the WCAG 2.0, 2.1 and 2.2 level A and AA rules "
        f"({tags}); a check that finds a serious or critical problem fails the build. "
        "Every page, tab and slide is also checked at 320 CSS pixels wide and at 200% "
        "zoom for sideways scrolling and cut-off text. Captions and selected options are "
        "drawn in colours that pass the 4.5:1 contrast ratio, and so are the lines and "
        "markers of the charts (a marker filled in a light colour has a dark outline). Every "
        "chart has a description written from its figures, shown under it, and a table of "
        "exactly what it plots.")

    st.header("Known exceptions")
    st.markdown("These parts are not fully accessible:")
    # Exceptions that share a cause are one item: what a visitor meets, then why.
    reasons: dict[str, list[str]] = {}
    for item in KNOWN_EXCEPTIONS:
        reasons.setdefault(item.reason, []).append(item.what)
    st.markdown("\n".join(f"- {' '.join(whats)} {reason}" for reason, whats in reasons.items()))
    st.markdown("\n".join(f"- {item}" for item in NOT_AUTOMATED))

    st.header("Getting the information in another format")
    st.markdown(
        "Every table on the outcome pages, continuity of care and the maps downloads as "
        "CSV and Excel, and every chart as PNG and SVG; the Overview's board pack is a PDF. "
        f"If you need the information in another format, such as large print, easy read "
        f"or audio, ask the {partnership_name}{_at(contact)}: tell us the page and the "
        "format you need.")

    st.header("Reporting accessibility problems")
    st.markdown(
        "If you find a problem not listed here, or think we are not meeting the "
        f"accessibility requirements, tell the {partnership_name}{_at(contact)}. If you "
        "are not happy "
        "with how we respond, contact the Equality Advisory and Support Service (EASS).")

    st.header("Preparation of this statement")
    st.markdown(
        f"This statement was prepared from automated tests last run on "
        f"{LAST_TESTED:%-d %B %Y}, with axe-core {AXE_VERSION} in Chromium on the "
        "demonstration data set.")
