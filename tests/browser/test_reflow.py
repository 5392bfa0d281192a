"""Reflow (WCAG 1.4.10) and zoom (1.4.4): every page, tab and slide at 320 CSS px wide,
and at 200% zoom on a 1280 px screen (a 640 CSS px viewport drawn at twice the pixel
density, which is what the browser's 200% zoom gives a page).

Nothing may need a sideways page scroll, and no text may be cut off (the same
measurement as test_overflow.py). Charts, maps and data grids scroll or scale inside
their own boxes and are not measured. A screenshot of the Overview at each size is saved
to artifacts/screenshots/reflow-<width>.png.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOT_DIR, app_pages, wait_for_app_idle
from tests.browser.test_overflow import CUT_OFF_JS, GRID

SIZES = {"320px": ({"width": 320, "height": 640}, 1),
         "200pct-zoom": ({"width": 640, "height": 360}, 2)}

# The page, the main area or the app's view scrolling sideways.
SIDEWAYS_JS = """() => {
  const out = [];
  for (const e of [document.scrollingElement, document.querySelector("[data-testid='stMain']"),
                   document.querySelector("[data-testid='stAppViewContainer']")]) {
    if (e && e.scrollWidth > e.clientWidth + 1)
      out.push(`${(e.dataset && e.dataset.testid) || e.tagName} is ${e.scrollWidth} px ` +
               `wide in ${e.clientWidth} px`);
  }
  return out;
}"""


def _problems(page, where: str) -> list[str]:
    if not page.evaluate(SIDEWAYS_JS) and not page.evaluate(CUT_OFF_JS):
        return []
    page.wait_for_timeout(1000)         # fonts and charts can still be arriving
    # Data grids scroll inside their own box: WCAG 1.4.10 excepts content that needs two
    # dimensions, such as data tables (test_overflow.py reports them at laptop widths).
    return ([f"{where}: sideways scroll: {item}" for item in page.evaluate(SIDEWAYS_JS)] +
            [problem for problem in
             (f"{where}: {item['text']!r} cut off by {item['over']} px ({item['where']})"
              for item in page.evaluate(CUT_OFF_JS)) if GRID not in problem])


@pytest.fixture(scope="module")
def sized_contexts(browser, network_guard, streamlit_server):
    contexts = {}
    for name, (viewport, scale) in SIZES.items():
        context = browser.new_context(viewport=viewport, device_scale_factor=scale,
                                      service_workers="block")
        context.set_default_timeout(60_000)
        network_guard.install(context)
        contexts[name] = context
    yield contexts
    for context in contexts.values():
        context.close()


@pytest.mark.parametrize("size", SIZES)
def test_every_page_and_tab_reflows(sized_contexts, streamlit_server, size):
    page = sized_contexts[size].new_page()
    problems = []
    try:
        for app_page in app_pages(page, streamlit_server.url):
            if app_page.url_path == "present":
                continue                    # slide by slide below
            page.goto(f"{streamlit_server.url}/{app_page.url_path}")
            wait_for_app_idle(page)
            if app_page.is_default:
                SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT_DIR / f"reflow-{size}.png"))
            problems += _problems(page, f"{size} / {app_page.name}")
            tabs = page.locator("[data-testid='stMain'] [role='tab']")
            for index in range(1, tabs.count()):
                label = tabs.nth(index).inner_text().strip()
                tabs.nth(index).click()
                page.wait_for_timeout(400)
                problems += _problems(page, f"{size} / {app_page.name} / tab {label!r}")
    finally:
        page.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES)
def test_every_slide_reflows(sized_contexts, streamlit_server, size):
    page = sized_contexts[size].new_page()
    problems = []
    try:
        page.goto(f"{streamlit_server.url}/present?slide=1")
        wait_for_app_idle(page)
        count = int(re.search(r"Slide 1 of (\d+)", page.inner_text("body")).group(1))
        for number in range(1, count + 1):
            if number > 1:
                page.goto(f"{streamlit_server.url}/present?slide={number}")
                wait_for_app_idle(page)
            problems += _problems(page, f"{size} / slide {number} of {count}")
    finally:
        page.close()
    assert count >= 8
    assert not problems, "\n".join(problems)
