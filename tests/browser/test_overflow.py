"""Nothing cut off on a board's screens: every page, every tab and every slide at the
widths boards use (1024 and 1366 px laptops, a 1280 px projector).

A text is cut off when its box pokes out of an ancestor that clips it (overflow other
than visible, or an ellipsis): the browser's own layout is measured, so the test fails
on "521.7 per 100,…" or "P…" whatever Streamlit's markup. The value shown in an input
(a selectbox's choice, "Nearest neighbours (c…") is measured with the input's own font
against its box, and a data grid (drawn on a canvas) is cut off when its columns are wider
than the grid ("Worst / lowest" half hidden at 1280), as is a board table wider than its
place. Charts (drawn in SVG or canvas,
checked by their own tests) are not measured here, nor are icons (a ligature such as
"thumb_down" is one glyph, and its text is wider than its box until the icon font has
loaded).
"""

from __future__ import annotations

import re

import pytest

from metrics.reference.catalogue import BREAKDOWNS
from tests.browser.conftest import app_pages, wait_for_app_idle

WIDTHS = (1024, 1280, 1366)
HEIGHT = 768

# For each text node: is it inside a clipping ancestor that it does not fit? One entry
# per clipping box (an ellipsised badge holds an icon and a text).
CUT_OFF_JS = r"""() => {
  const found = new Map();
  const root = document.querySelector("[data-testid='stMain']") || document.body;
  const skip = '[data-testid="stVegaLiteChart"], ' +
               '[data-testid="stDataFrame"], [data-testid="stDataFrameResizable"], ' +
               'svg, style, script, [aria-hidden="true"], [role="img"]';
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    const element = node.parentElement;
    if (!text || !element || element.closest(skip) || !element.getClientRects().length) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width === 0) continue;
    for (let a = element; a && a !== root.parentElement; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX === 'visible' && style.textOverflow !== 'ellipsis') continue;
      const clip = a.getBoundingClientRect();
      const pokesOut = box.right > clip.right + 1.5 || box.left < clip.left - 1.5;
      const ellipsised = style.overflowX !== 'visible' && a.scrollWidth > a.clientWidth + 1;
      if ((pokesOut || ellipsised) && !found.has(a)) {
        found.set(a, {text: a.textContent.trim().slice(0, 90),
                      where: [(a.closest('[data-testid]') || {}).dataset?.testid, a.tagName,
                              String(a.className).slice(0, 40), style.overflowX,
                              style.whiteSpace].join(' '),
                      over: Math.round(Math.max(box.right - clip.right,
                                                a.scrollWidth - a.clientWidth))});
      }
      break;
    }
  }
  // The value an input shows: its text in its own font against the box inside its padding.
  const canvas = document.createElement("canvas").getContext("2d");
  const widgets = document.querySelectorAll(
    "[data-testid='stMain'] input, [data-testid='stSidebar'] input");
  for (const input of widgets) {
    if (!input.value || input.type === "hidden" || input.type === "checkbox" ||
        input.type === "radio" || !input.getClientRects().length) continue;
    // A collapsed sidebar (narrow screens) keeps its inputs laid out, off screen.
    const place = input.getBoundingClientRect();
    if (place.right <= 0 || place.left >= window.innerWidth) continue;
    const style = getComputedStyle(input);
    canvas.font = style.font || `${style.fontSize} ${style.fontFamily}`;
    const room = input.clientWidth - parseFloat(style.paddingLeft) -
                 parseFloat(style.paddingRight);
    const needed = canvas.measureText(input.value).width;
    if (needed > room + 1.5) {
      found.set(input, {text: input.value.slice(0, 90),
                        where: [(input.closest('[data-testid]') || {}).dataset?.testid,
                                "INPUT value"].join(' '),
                        over: Math.round(needed - room)});
    }
  }
  // A data grid whose columns are wider than the grid: the last ones are cut off.
  for (const grid of root.querySelectorAll('[data-testid="stDataFrame"]')) {
    const scroller = grid.querySelector('.dvn-scroller');
    if (!scroller || !grid.getClientRects().length) continue;
    if (scroller.scrollWidth > scroller.clientWidth + 1) {
      const headers = [...grid.querySelectorAll('th, [role="columnheader"]')]
        .map(h => h.textContent.trim()).filter(Boolean);
      found.set(grid, {text: "data grid: " + headers.slice(-3).join(" | ").slice(0, 90),
                       where: "stDataFrame columns",
                       over: scroller.scrollWidth - scroller.clientWidth});
    }
  }
  // A board table (ui/tables.board_table) wider than its place on the page.
  for (const box of root.querySelectorAll('.board-table')) {
    const table = box.querySelector('table');
    if (!table || !box.getClientRects().length) continue;
    const over = table.getBoundingClientRect().width - box.clientWidth;
    if (over > 1) {
      found.set(box, {text: "board table: " + box.textContent.trim().slice(0, 80),
                      where: "board table", over: Math.round(over)});
    }
  }
  return [...found.values()];
}"""


# How a data grid's problem is named: at 320 px (test_reflow) a grid may scroll inside
# itself, as WCAG 1.4.10 allows for data tables; at laptop widths it may not.
GRID = "(stDataFrame columns)"


def _verdict(problems: list[str]) -> None:
    """Fail on any text, input value or data grid cut off. (The grids that were wider
    than a 1024 px page, the outcome pages' "All metrics" table, the Data page's and the
    urban/rural summary, are now board tables whose cells wrap: ui/tables.board_table.)"""
    assert not problems, "\n".join(problems)


def _cut_off(page, where: str) -> list[str]:
    """What is cut off once the layout has settled: measured again a second later, as
    web fonts and charts can still be arriving when the script has finished."""
    if not page.evaluate(CUT_OFF_JS):
        return []
    page.wait_for_timeout(1000)
    return [f"{where}: {item['text']!r} cut off by {item['over']} px ({item['where']})"
            for item in page.evaluate(CUT_OFF_JS)]


def _every_tab(page, where: str) -> list[str]:
    """Check what each tab shows (tabs switch in the browser, without a rerun)."""
    problems = _cut_off(page, where)
    tabs = page.locator("[data-testid='stMain'] [role='tab']")
    for index in range(1, tabs.count()):
        tab = tabs.nth(index)
        label = tab.inner_text().strip()
        tab.click()
        page.wait_for_timeout(400)
        problems += _cut_off(page, f"{where} / tab {label!r}")
    return problems


@pytest.fixture(scope="module")
def narrow_pages(browser, network_guard, streamlit_server):
    contexts = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": HEIGHT},
                                      service_workers="block")
        context.set_default_timeout(60_000)
        network_guard.install(context)
        contexts[width] = context
    yield contexts
    for context in contexts.values():
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_text_is_cut_off_on_any_page_or_tab(narrow_pages, streamlit_server, width):
    page = narrow_pages[width].new_page()
    problems = []
    try:
        for app_page in app_pages(page, streamlit_server.url):
            if app_page.url_path == "present":
                continue                    # walked slide by slide below
            page.goto(f"{streamlit_server.url}/{app_page.url_path}")
            wait_for_app_idle(page)
            problems += _every_tab(page, f"{width} px / {app_page.name}")
    finally:
        page.close()
    _verdict(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_text_is_cut_off_on_any_slide(narrow_pages, streamlit_server, width):
    page = narrow_pages[width].new_page()
    problems = []
    try:
        page.goto(f"{streamlit_server.url}/present?slide=1")
        wait_for_app_idle(page)
        count = int(re.search(r"Slide 1 of (\d+)", page.inner_text("body")).group(1))
        for number in range(1, count + 1):
            if number > 1:
                page.goto(f"{streamlit_server.url}/present?slide={number}")
                wait_for_app_idle(page)
            problems += _cut_off(page, f"{width} px / slide {number} of {count}")
    finally:
        page.close()
    assert count >= 8
    _verdict(problems)


# The views chosen with a segmented control (a rerun each, not tabs), on an outcome page
# published for councils, one published by police force area, and continuity of care.
VIEW_PAGES = [("harm", "view", "ui.outcome_page"), ("supply", "view", "ui.outcome_page"),
              ("continuity", "show", "ui.continuity_page")]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_table_is_cut_off_in_any_view_with_its_tables_open(narrow_pages, streamlit_server,
                                                               width):
    """Every view of those pages with each folded "Table" (a chart's figures) opened: a
    table that runs past the page there is as cut off as one in sight."""
    import importlib
    from urllib.parse import quote

    page = narrow_pages[width].new_page()
    problems = []
    try:
        for path, key, module in VIEW_PAGES:
            for view in importlib.import_module(module).VIEWS:
                # Continuity's breakdowns are shown one at a time: each of them.
                choices = [f"&breakdown={quote(t)}" for t in BREAKDOWNS.values()] \
                    if (path, view) == ("continuity", "Breakdowns") else [""]
                for choice in choices:
                    page.goto(f"{streamlit_server.url}/{path}?{key}={quote(view)}{choice}")
                    wait_for_app_idle(page)
                    for summary in page.locator("[data-testid='stExpander'] summary").all():
                        if summary.is_visible() and summary.inner_text().strip() == "Table":
                            summary.click()
                    page.wait_for_timeout(500)
                    problems += _cut_off(page, f"{width} px / {path} / {view}{choice}")
    finally:
        page.close()
    _verdict(problems)
