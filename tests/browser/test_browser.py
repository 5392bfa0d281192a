"""End-to-end tests in headless Chromium against a real `streamlit run` server.

What AppTest cannot show: that every page actually renders in a browser, that the sidebar
selectors drive the URL (so a link reproduces a view), that nothing is fetched from the
internet, and that the browser console stays clean. Full-page screenshots of every page
are saved to artifacts/screenshots/<page-slug>.png for people to look at.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (PROJECT_ROOT, SCREENSHOT_DIR, AppPage, app_pages,
                                    start_server, stop_server, wait_for_app_idle)

DEMO_BANNER_TEXT = "Demonstration data."
HOME_AREA = ("E10000013", "Gloucestershire")
OTHER_AREA = ("E06000023", "Bristol")
TITLE = "[data-testid='stMain'] h1"
UI_TIMEOUT_MS = 60_000


@dataclass
class Visit:
    page: AppPage
    url: str = ""
    final_url: str = ""
    exceptions: list[str] = field(default_factory=list)
    traceback_shown: bool = False
    banner_visible: bool = False
    screenshot: Path | None = None
    load_error: str = ""
    server_log: str = ""     # what the server wrote to stderr while the page ran

    def problems(self) -> list[str]:
        found = []
        if self.load_error:
            found.append(f"did not load: {self.load_error}")
        if self.exceptions:
            found.append(f"shows {len(self.exceptions)} exception(s): {self.exceptions}")
        if self.traceback_shown:
            found.append('shows the text "Traceback"')
        if not self.banner_visible:
            found.append(f'no visible "{DEMO_BANNER_TEXT}" banner')
        if urlsplit(self.final_url).path.strip("/") != self.page.url_path:
            found.append(f"ended on {self.final_url}, not /{self.page.url_path}")
        if not (self.screenshot and self.screenshot.exists()
                and self.screenshot.stat().st_size > 0):
            found.append("no screenshot saved")
        if found and self.server_log.strip():
            found.append(f"server stderr:\n{self.server_log.strip()}")
        return found


def full_page_screenshot(page, path: Path) -> None:
    """Full-page screenshot; if Streamlit scrolls inside its own container rather than the
    document, grow the viewport to the content height first so nothing is cut off."""
    content_height = page.evaluate("""() => {
        const main = document.querySelector("[data-testid='stMain']");
        const sidebar = document.querySelector("[data-testid='stSidebarContent']");
        return Math.max(document.documentElement.scrollHeight,
                        main ? main.scrollHeight : 0, sidebar ? sidebar.scrollHeight : 0);
    }""")
    original = page.viewport_size
    if content_height > original["height"]:
        page.set_viewport_size({"width": original["width"], "height": int(content_height)})
        page.wait_for_timeout(500)  # let charts re-lay out at the new size
    try:
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        if page.viewport_size != original:
            page.set_viewport_size(original)


@pytest.fixture(scope="module")
def pages_in_navigation(browser_context, streamlit_server) -> list[AppPage]:
    page = browser_context.new_page()
    try:
        pages = app_pages(page, streamlit_server.url)
    finally:
        page.close()
    assert pages, "the navigation lists no pages"
    return pages


@pytest.fixture(scope="module")
def visits(browser_context, streamlit_server, pages_in_navigation) -> list[Visit]:
    """Open every page of the navigation once, in a fresh tab, and record what it shows."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    for app_page in pages_in_navigation:
        visit = Visit(app_page, url=f"{streamlit_server.url}/{app_page.url_path}")
        log_before = len(streamlit_server.stderr())
        tab = browser_context.new_page()
        try:
            tab.goto(visit.url)
            wait_for_app_idle(tab)
            visit.final_url = tab.url
            exceptions = tab.locator("[data-testid='stException']")
            visit.exceptions = [exceptions.nth(i).inner_text()
                                for i in range(exceptions.count())]
            visit.traceback_shown = tab.get_by_text("Traceback").count() > 0
            banner = tab.locator("[data-testid='stAlertContainer']").filter(
                has_text=DEMO_BANNER_TEXT)
            visit.banner_visible = banner.count() > 0 and banner.first.is_visible()
            visit.screenshot = SCREENSHOT_DIR / f"{app_page.slug}.png"
            full_page_screenshot(tab, visit.screenshot)
        except Exception as error:  # noqa: BLE001 - recorded and reported by the test
            visit.load_error = f"{type(error).__name__}: {error}"
        finally:
            tab.close()
        visit.server_log = streamlit_server.stderr()[log_before:]
        results.append(visit)
    return results


def test_every_page_renders_with_demo_banner_and_no_exception(visits):
    report = {f"{v.page.name} (/{v.page.url_path})": v.problems() for v in visits}
    failed = {name: problems for name, problems in report.items() if problems}
    assert not failed, "\n\n".join(f"{name}:\n  " + "\n  ".join(problems)
                                   for name, problems in failed.items())


def assert_no_exception(page, server, log_before: int) -> None:
    """No st.exception on the page. The browser shows viewers a redacted message
    (client.showErrorDetails = "none"), so the failure quotes the server's stderr."""
    shown = page.locator("[data-testid='stException']")
    if shown.count():
        pytest.fail(f"{page.url} shows an exception: {shown.all_inner_texts()}\n"
                    f"server stderr:\n{server.stderr()[log_before:].strip()}", pytrace=False)


def _query(page) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(page.url).query).items()}


def _choose(page, label: str, option_text: str) -> str:
    """Pick an option of a sidebar selectbox the way a person does: click, type, click."""
    combobox = page.get_by_role("combobox", name=label)
    combobox.click()
    combobox.fill(option_text)
    option = page.get_by_role("option").filter(has_text=option_text).first
    chosen = option.inner_text()
    option.click()
    return chosen


def _options(page, label: str) -> list[str]:
    combobox = page.get_by_role("combobox", name=label)
    combobox.click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    texts = options.all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def test_choosing_an_area_changes_the_title_and_the_url(page, streamlit_server):
    log_before = len(streamlit_server.stderr())
    page.goto(streamlit_server.url + "/")
    wait_for_app_idle(page)
    assert_no_exception(page, streamlit_server, log_before)
    expect(page.locator(TITLE).first).to_contain_text(HOME_AREA[1])

    code, name = OTHER_AREA
    chosen = _choose(page, "Partnership area", name)
    expect(page.get_by_role("combobox", name="Partnership area")).to_have_value(
        re.compile(name), timeout=UI_TIMEOUT_MS)
    wait_for_app_idle(page)
    assert_no_exception(page, streamlit_server, log_before)
    expect(page.locator(TITLE).first).to_contain_text(name, timeout=UI_TIMEOUT_MS)
    area = _query(page).get("area")
    assert area == code, (
        f"after choosing {chosen!r} the URL's area parameter is {area!r}, expected the ONS "
        f"code {code!r} ({page.url}); a link copied now would not use the code")


def test_url_with_area_and_older_period_reproduces_the_view(page, streamlit_server):
    page.goto(streamlit_server.url + "/")
    wait_for_app_idle(page)
    quarters = _options(page, "Period")
    assert len(quarters) >= 2, f"need an older quarter to choose, got {quarters}"
    older = quarters[min(4, len(quarters) - 1)]   # a year back where there is one

    code, name = OTHER_AREA
    log_before = len(streamlit_server.stderr())
    page.goto(f"{streamlit_server.url}/?area={code}&period={quote(older)}")
    wait_for_app_idle(page)
    assert_no_exception(page, streamlit_server, log_before)
    expect(page.locator(TITLE).first).to_contain_text(name)
    expect(page.get_by_role("combobox", name="Period")).to_have_value(older)
    assert _query(page) == {"area": code, "period": older}, page.url
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    full_page_screenshot(page, SCREENSHOT_DIR / f"deep-link-{name.lower()}-"
                         f"{re.sub(r'[^a-z0-9]+', '-', older.lower())}.png")


def legacy_page_names() -> set[str]:
    """The URL path Streamlit's legacy (v1) multipage handling gives each file in pages/."""
    from streamlit.source_util import page_icon_and_name
    return {page_icon_and_name(path)[1].lower()
            for path in (PROJECT_ROOT / "pages").glob("*.py")}


def test_a_link_to_a_page_works_as_the_first_request_after_a_restart(
        browser_context, streamlit_server, pages_in_navigation, tmp_path):
    """A bookmarked page opened by the first visitor after the server (re)starts.

    With a folder named pages/ beside app.py, Streamlit runs its legacy multipage
    handling until st.navigation() has run once in the process; until then a request for
    a URL path that is also a file's legacy name (pages/maps.py -> /maps) runs that file
    on its own, without app.py. Each such page gets a fresh server (on the data already
    built) whose very first request is that page. Other pages cannot be misrouted this
    way, so they are not restarted for (each restart costs seconds).
    """
    at_risk = [page for page in pages_in_navigation
               if not page.is_default and page.url_path.lower() in legacy_page_names()]
    if not at_risk:
        pytest.skip("no page's URL path is also the legacy name of a file in pages/")
    failures = []
    for app_page in at_risk:
        server = start_server(streamlit_server.data_dir, tmp_path / app_page.slug)
        tab = browser_context.new_page()
        try:
            tab.goto(f"{server.url}/{app_page.url_path}")
            wait_for_app_idle(tab)
            shown = tab.locator("[data-testid='stException']").count()
            nav = tab.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
            if shown or not tab.get_by_text(DEMO_BANNER_TEXT).count():
                failures.append(
                    f"/{app_page.url_path} ({app_page.name}): {shown} exception(s), sidebar "
                    f"navigation {nav}\nserver stderr:\n{server.stderr().strip()[-2500:]}")
        finally:
            tab.close()
            stop_server(server)
    assert not failures, "\n\n".join(failures)


def test_no_request_left_the_machine(visits, network_guard):
    # Runs after the other tests in this module, so it covers the whole session; it also
    # depends on `visits`, so every page has been opened even when run on its own.
    assert not network_guard.external, (
        "requests tried to leave the machine (blocked):\n  "
        + "\n  ".join(sorted(set(network_guard.external))))


def test_browser_console_has_no_errors(visits, network_guard):
    errors = network_guard.unexplained_console_errors()
    assert not errors and not network_guard.page_errors, (
        "browser console errors:\n  "
        + "\n  ".join(f"{e['text']} (from {e['url'] or '?'} on {e['page']})" for e in errors)
        + ("\nuncaught page errors:\n  " + "\n  ".join(network_guard.page_errors)
           if network_guard.page_errors else ""))


def _map_on_show(page, url: str):
    """Open a view of the Maps page and return its map (the Vega chart on show) and box."""
    page.goto(url)
    wait_for_app_idle(page)
    chart = page.locator("[data-testid='stVegaLiteChart']:visible").first
    chart.scroll_into_view_if_needed()
    return chart, chart.bounding_box()


def _point_until_tooltip(page, box, left: float, top: float, read):
    """Move the pointer over a grid of points from (left, top) of the map's box until
    read(the tooltip's text) gives an answer: a point on a boundary line or a name finds
    no area. Returns the answer and the point."""
    tooltip = page.locator("#vg-tooltip-element")
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    step = 0
    while time.monotonic() < deadline:
        x = box["x"] + box["width"] * (left + 0.03 * (step % 5))
        y = box["y"] + box["height"] * (top + 0.03 * (step // 5 % 5))
        step += 1
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        text = tooltip.inner_text() if tooltip.count() and tooltip.is_visible() else ""
        answer = read(text)
        if answer:
            return answer, (x, y)
    return None, (None, None)


def test_a_small_area_on_the_partnership_map_answers_hover_and_click(page, streamlit_server):
    """The partnership map (drawn by Vega): the pointer near the middle of the area finds
    a small area and its tooltip, and a click shows its figures beside the map."""
    log_before = len(streamlit_server.stderr())
    chart, box = _map_on_show(page, streamlit_server.url + "/maps")
    assert box and box["width"] > 300, f"the partnership map is not drawn: {box}"
    # All of the area inside the map's box (the Forest of Dean was once cut off).
    margins = chart.evaluate("""el => {
      const c = el.getBoundingClientRect();
      const a = el.querySelector(".lsoas_marks").getBoundingClientRect();
      return [a.left - c.left, a.top - c.top, c.right - a.right, c.bottom - a.bottom]; }""")
    assert min(margins) >= -1, f"the area runs out of the map by {margins} px"
    # Gloucestershire's middle (between Gloucester and Stroud) is built-up: small areas.
    code, (x, y) = _point_until_tooltip(
        page, box, 0.44, 0.44,
        lambda text: (re.search(r"E01\d{6}", text) or [None])[0])
    assert code, "no small area's tooltip at the middle of the partnership map"
    page.mouse.click(x, y)
    wait_for_app_idle(page)
    assert_no_exception(page, streamlit_server, log_before)
    expect(page.locator("[data-testid='stMain']").get_by_text(
        re.compile(rf"{code} · ")).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("Click a small area on the map")).to_have_count(0)


def _other_area(text: str) -> str | None:
    found = re.search(r"Area\s+(.+?)\s*\n", text)
    return found.group(1) if found and found.group(1) != "Gloucestershire" else None


def test_a_click_on_the_england_map_selects_that_area(page, streamlit_server):
    """The England map (drawn by Vega): the pointer on an area shows its tooltip, and a
    click makes it the selected area (the page's title names it). The click's selection
    comes back from the browser in Vega's own form (vega_maps.selected_code)."""
    log_before = len(streamlit_server.stderr())
    chart, box = _map_on_show(page, streamlit_server.url + "/maps?view=England")
    assert box and box["height"] > 500, f"the England map is not drawn: {box}"
    # The north of England, away from Gloucestershire.
    name, (x, y) = _point_until_tooltip(page, box, 0.45, 0.25, _other_area)
    assert name, "no area's tooltip on the England map"
    assert re.search(r"Code\s+E\d{8}", page.locator("#vg-tooltip-element").inner_text())
    page.mouse.click(x, y)
    wait_for_app_idle(page)
    assert_no_exception(page, streamlit_server, log_before)
    expect(page.locator("h1").first).to_contain_text(f"{name}: where need is",
                                                     timeout=UI_TIMEOUT_MS)
