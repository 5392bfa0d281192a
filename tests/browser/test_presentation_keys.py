"""Presentation mode paged from the keyboard, as a presentation clicker drives it: Right
arrow, PageDown and Space for the next slide, Left arrow and PageUp for the previous one
(ui/presentation.py: Streamlit button shortcuts). Pressed in headless Chromium; the slide
number shown under the slide must follow each key, one slide per press."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import wait_for_app_idle

POSITION = re.compile(r"Slide (\d+) of (\d+)")


def _position(page) -> tuple[int, int]:
    text = page.locator("[data-testid='stMarkdownContainer']", has_text=POSITION).first
    number, count = POSITION.search(text.inner_text()).groups()
    return int(number), int(count)


def _press(page, key: str, expected: int) -> None:
    page.keyboard.press(key)
    page.wait_for_function(
        """expected => [...document.querySelectorAll("[data-testid='stMarkdownContainer']")]
             .some(e => e.innerText.includes(`Slide ${expected} of`))""",
        arg=expected, timeout=60_000)
    wait_for_app_idle(page)
    assert _position(page)[0] == expected, f"{key}: slide {_position(page)[0]}"


def test_clicker_keys_page_the_slides(page, streamlit_server):
    page.goto(f"{streamlit_server.url}/present?slide=1")
    wait_for_app_idle(page)
    number, count = _position(page)
    assert number == 1 and count >= 5
    for key, expected in (("ArrowRight", 2), ("PageDown", 3), ("Space", 4),
                          ("ArrowLeft", 3), ("PageUp", 2)):
        _press(page, key, expected)
    # The URL keeps the slide, so a reload (or a link) opens it.
    assert "slide=2" in page.url


def test_a_key_after_a_click_moves_one_slide_only(page, streamlit_server):
    """A button clicked with the mouse keeps the focus; Space then must not also press
    that button (two moves, or a move back) but only the next-slide shortcut."""
    page.goto(f"{streamlit_server.url}/present?slide=3")
    wait_for_app_idle(page)
    assert _position(page)[0] == 3
    page.get_by_role("button", name=re.compile("Previous")).first.click()
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='stMarkdownContainer']")]
             .some(e => e.innerText.includes("Slide 2 of"))""", timeout=60_000)
    wait_for_app_idle(page)
    _press(page, "Space", 3)
    page.wait_for_timeout(1500)
    wait_for_app_idle(page)
    assert _position(page)[0] == 3


@pytest.mark.parametrize("width, height", [(1024, 768), (1280, 720), (1366, 768)])
def test_the_summary_slide_fits_one_screen(browser, network_guard, streamlit_server,
                                           width, height):
    """The six outcome tiles and the paging buttons on one screen of a laptop or a
    projector: nothing of the summary slide below the fold."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  service_workers="block")
    context.set_default_timeout(60_000)
    network_guard.install(context)
    page = context.new_page()
    try:
        page.goto(f"{streamlit_server.url}/present?slide=1")
        wait_for_app_idle(page)
        bottoms = page.evaluate("""() => {
          const boxes = [...document.querySelectorAll('[class*="st-key-tile_"]')];
          const next = [...document.querySelectorAll('button')]
            .find(b => b.innerText.includes('Next'));
          return {tiles: boxes.length,
                  lowest: Math.max(...boxes.map(b => b.getBoundingClientRect().bottom)),
                  next: next ? next.getBoundingClientRect().bottom : null};
        }""")
        assert bottoms["tiles"] == 6, bottoms
        assert bottoms["lowest"] <= height and bottoms["next"] is not None \
            and bottoms["next"] <= height, f"{width}x{height}: {bottoms}"
    finally:
        context.close()
