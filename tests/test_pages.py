"""Every page, run headless through app.py with Streamlit's AppTest on demonstration data.

Pages are discovered from pages/*.py, so a new page is tested without editing this file;
a page file that app.py's navigation does not list fails here (switch_page cannot reach
it). The data set is built once per module into a temporary directory that CDP_DATA_DIR
points at, so the tests never touch the real data directory. AppTest cannot render:
tests/browser covers what a browser shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests.support import app_on_demo_data

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP = PROJECT_ROOT / "app.py"
PAGES_DIR = PROJECT_ROOT / "pages"
PAGE_FILES = sorted(p for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_"))
OVERVIEW = PAGES_DIR / "overview.py"
DEMO_BANNER_TEXT = "Demonstration data."
OUTCOMES = ("Reduce drug-related crime", "Reduce drug-related harm", "Reduce drug use",
            "Reduce drug supply", "Increase engagement in treatment",
            "Improve recovery outcomes")
OTHER_AREA = ("E06000023", "Bristol")
# The first run of a page can be slow on a shared 2-core machine (cold caches, imports).
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory):
    with app_on_demo_data(tmp_path_factory.mktemp("cdp_data")) as data_dir:
        yield data_dir


def run_page(page_file: Path) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    if page_file != OVERVIEW or at.exception:   # the overview is the default page
        at.switch_page(page_file.relative_to(PROJECT_ROOT).as_posix())
        at.run()
    return at


def assert_app_frame_ran(at: AppTest) -> None:
    """The run went through app.py: the shared frame drew its sidebar selectors.

    A page that reads its context from session state still renders, with the previous
    run's context, when a run executes the page file alone; without this check such a
    run looks like a pass.
    """
    keys = {widget.key for widget in at.selectbox}
    if not {"area", "period"} <= keys:
        pytest.fail(
            f"this run did not go through app.py (sidebar selectboxes {sorted(keys)}). "
            "Streamlit treats a folder named pages/ beside the main script as legacy (v1) "
            "multipage pages until st.navigation has run; AppTest resets that flag on every "
            "run, so a run that asks for a page whose URL path equals its file name "
            "(pages/overview.py -> 'overview', pages/maps.py -> 'maps') executes the page "
            "file alone. tests/conftest.py's use_navigation_only() is meant to prevent this "
            "in tests; renaming the folder (e.g. views/) removes the ambiguity for good.",
            pytrace=False)


def exception_text(at: AppTest) -> str:
    return "\n\n".join(f"{e.message}\n" + "\n".join(e.stack_trace) for e in at.exception)


def visible_texts(at: AppTest) -> list[str]:
    """Text of the elements that carry words (alerts, markdown, captions, titles)."""
    texts = []
    for kind in ("warning", "info", "error", "success", "markdown", "caption", "title",
                 "header", "subheader"):
        texts.extend(str(element.value) for element in at.get(kind))
    return texts


@pytest.mark.parametrize("page_file", PAGE_FILES, ids=[p.stem for p in PAGE_FILES])
def test_page_runs_with_demo_banner_and_no_exception(demo_data_dir, page_file):
    at = run_page(page_file)
    assert not at.exception, exception_text(at)
    assert_app_frame_ran(at)
    assert any(DEMO_BANNER_TEXT in text for text in visible_texts(at)), (
        f"no element contains {DEMO_BANNER_TEXT!r} on {page_file.name}")


@pytest.mark.parametrize("page_file", PAGE_FILES, ids=[p.stem for p in PAGE_FILES])
def test_page_survives_a_change_of_area(demo_data_dir, page_file):
    at = run_page(page_file)
    assert not at.exception, exception_text(at)
    assert_app_frame_ran(at)
    at.selectbox(key="area").set_value(OTHER_AREA[0]).run()
    assert not at.exception, exception_text(at)
    assert_app_frame_ran(at)
    assert at.selectbox(key="area").value == OTHER_AREA[0]
    assert any(DEMO_BANNER_TEXT in text for text in visible_texts(at))


def test_pages_were_discovered():
    assert OVERVIEW in PAGE_FILES, f"no pages/overview.py among {PAGE_FILES}"


def test_overview_title_names_the_home_area(demo_data_dir):
    at = run_page(OVERVIEW)
    assert not at.exception, exception_text(at)
    assert at.title and "Gloucestershire" in at.title[0].value, [t.value for t in at.title]


def test_overview_shows_a_card_for_each_of_the_six_outcomes(demo_data_dir):
    at = run_page(OVERVIEW)
    assert not at.exception, exception_text(at)
    markdown = [str(m.value) for m in at.markdown]
    missing = [name for name in OUTCOMES if not any(name in text for text in markdown)]
    assert not missing, f"no card for {missing}"
    # Each outcome card carries one headline metric (the continuity card adds its own).
    assert len(at.metric) >= len(OUTCOMES), [m.label for m in at.metric]


def test_overview_says_not_significant_under_the_card_not_in_the_cut_off_delta(demo_data_dir):
    """The delta badge is one line Streamlit cuts off at narrow widths, so the words
    "not significant" go in the caption under the card, where they wrap."""
    at = run_page(OVERVIEW)
    assert not at.exception, exception_text(at)
    deltas = [str(m.proto.delta) for m in at.metric]
    assert not [d for d in deltas if "significant" in d], deltas
    captions = [str(c.value) for c in at.caption]
    assert any(c.startswith("change not significant") for c in captions), captions


def test_overview_follows_the_area_selector(demo_data_dir):
    at = run_page(OVERVIEW)
    at.selectbox(key="area").set_value(OTHER_AREA[0]).run()
    assert not at.exception, exception_text(at)
    assert_app_frame_ran(at)
    assert OTHER_AREA[1] in at.title[0].value, at.title[0].value


def test_overview_opens_on_the_area_and_period_in_the_url(demo_data_dir):
    # The first run of a session, as when someone opens a shared link.
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params["area"] = OTHER_AREA[0]
    at.query_params["period"] = "2025/26 Q1"
    at.run()
    assert not at.exception, exception_text(at)
    assert OTHER_AREA[1] in at.title[0].value, at.title[0].value
    assert at.selectbox(key="period").value == "2025/26 Q1"


def test_figures_table_shows_values_before_the_data_status(demo_data_dir):
    """The status column (on every downloaded row) goes last on screen, so the values are
    not pushed off to the right; the indicator is named in the heading, not per row."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params["metric"] = "deaths_in_treatment"
    at.run()
    at.switch_page("pages/harm.py").run()
    at.segmented_control(key="view").set_value("Figures").run()
    assert not at.exception, exception_text(at)
    columns = list(at.dataframe[-1].value.columns)
    assert columns[:2] == ["Period", "Area"], columns
    assert columns[-1] == "Data status", columns
