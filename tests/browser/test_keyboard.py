"""The dashboard with the keyboard alone (WCAG 2.1.1 keyboard, 2.4.7 focus visible).

Tab is pressed in headless Chromium from the top of the page, and at each stop the
focused element is read: the Overview's sidebar area selector and page links must be
reached, Enter on a link must open that page, and an outcome page's metric selector and
view control must be reached. At every stop the focus must be visible: the element (or
the control's own frame, which Streamlit's widgets draw the focus ring on) has an outline
or a box shadow that it does not have unfocused. Paging the slides by key is
tests/browser/test_presentation_keys.py.
"""

from __future__ import annotations

import re

from tests.browser.conftest import wait_for_app_idle

MAX_TABS = 120

# What has the focus, and whether a ring is drawn on it or on its widget's frame (up to
# seven ancestors: a select's ring is on the box around its <input>).
FOCUSED_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const ring = e => {
    const s = getComputedStyle(e);
    const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
    return outline || (s.boxShadow && s.boxShadow !== "none");
  };
  let visible = false;
  for (let e = el, i = 0; e && i < 8; e = e.parentElement, i++) {
    if (ring(e)) { visible = true; break; }
  }
  const widget = el.closest("[data-testid]");
  return {tag: el.tagName.toLowerCase(), label: el.getAttribute("aria-label") || "",
          text: (el.innerText || "").trim().slice(0, 80), href: el.getAttribute("href") || "",
          testid: widget ? widget.getAttribute("data-testid") : "",
          sidebar: !!el.closest("[data-testid='stSidebar']"), visible};
}"""


def _walk(page, wanted, limit: int = MAX_TABS) -> list[dict]:
    """Press Tab until `wanted(stop)` holds for a stop (returned last) or `limit` presses;
    every stop is returned, to say where the focus went when the control is not reached."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED_JS)
        if stop is None:
            continue
        stops.append(stop)
        if wanted(stop):
            return stops
    raise AssertionError("not reached with Tab; stops: "
                         + "; ".join(f"{s['testid']}:{s['tag']}:{s['label'] or s['text']}"
                                     for s in stops[-40:]))


def _unringed(stops: list[dict]) -> list[str]:
    return [f"{s['testid']} {s['tag']} {s['label'] or s['text']!r}"
            for s in stops if not s["visible"]]


def _start(page, url: str) -> None:
    page.goto(url)
    wait_for_app_idle(page)
    # Start from the document, as a keyboard user arriving at the page does.
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")


def test_overview_by_keyboard_area_selector_and_page_links(page, streamlit_server):
    _start(page, streamlit_server.url)
    stops = _walk(page, lambda s: s["sidebar"] and s["testid"] == "stSelectbox"
                  and s["tag"] == "input")
    area = stops[-1]
    assert area["visible"], f"the area selector's focus is not visible: {area}"
    stops += _walk(page, lambda s: s["testid"] == "stSidebarNavLink"
                   and "/continuity" in s["href"])
    assert not _unringed(stops), f"focus not visible on: {_unringed(stops)}"
    before = page.url
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/continuity"), timeout=60_000)
    wait_for_app_idle(page)
    assert page.url != before
    assert page.get_by_role("heading", name=re.compile("Continuity of care")).count()


def test_outcome_page_by_keyboard_metric_and_view(page, streamlit_server):
    _start(page, f"{streamlit_server.url}/harm")
    stops = _walk(page, lambda s: not s["sidebar"] and s["testid"] == "stSelectbox"
                  and "Metric" in s["label"])
    stops += _walk(page, lambda s: s["testid"] in ("stButtonGroup", "stBaseButton-segmented_control")
                   and s["text"] == "Trend")
    assert not _unringed(stops), f"focus not visible on: {_unringed(stops)}"
    # The view changes from the keyboard. Tab stops once on the control (on the chosen
    # view); the arrow keys move between its views, Enter chooses one.
    page.keyboard.press("ArrowRight")
    stop = page.evaluate(FOCUSED_JS)
    assert stop and stop["text"] == "Process control (SPC)" and stop["visible"], stop
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"view=Process"), timeout=60_000)
    wait_for_app_idle(page)
    assert page.get_by_text(re.compile("Statistical process control chart of")).count()
