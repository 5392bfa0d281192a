"""Presentation mode for a projector at a public board: the summary slide's outcome tiles,
the paging keys, the header, the map slide and the "what changed since the last board"
slide (pages/present.py, ui/presentation.py, metrics.reports.briefing,
metrics.views.changes). Pages run headless through app.py with AppTest on the
demonstration set; tests/browser/test_presentation_keys.py presses the keys in Chromium.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics.reference import catalogue
from metrics.reports import briefing
from metrics.views import changes, headlines
from metrics.views.overview import OutcomeCard
from tests.support import app_on_demo_data

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP = str(PROJECT_ROOT / "app.py")
HOME, CITY = "E10000013", "E09000001"
PARTNERSHIP = "Gloucestershire Combating Drugs Partnership"
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory):
    with app_on_demo_data(tmp_path_factory.mktemp("present_data")) as data_dir:
        yield data_dir


def present(area: str = HOME) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params["area"] = area
    at.run()
    at.switch_page("pages/present.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def htmls(at: AppTest) -> list[str]:
    return [e.proto.body for e in at.get("html")]


def slide_number(at: AppTest) -> int:
    text = " ".join(str(m.value) for m in at.markdown)
    return int(re.search(r"Slide (\d+) of \d+", text).group(1))


def go_to(at: AppTest, key: str) -> AppTest:
    """Page with Next until the slide with this key's title is shown."""
    for _ in range(12):
        if any(f'class="slide-title">{_TITLES[key]}' in h for h in htmls(at)):
            return at
        at.button(key="slide_next").click().run()
        assert not at.exception, [e.message for e in at.exception]
    raise AssertionError(f"no slide {key!r} in the deck")


_TITLES = {"summary": "The six outcomes at a glance",
           "changes": "What changed since the last board",
           "map": "Where need is: unmet need by small area"}


# --- (a) the summary slide: a grid of outcome tiles -----------------------------------------

def test_the_summary_slide_is_a_grid_of_six_outcome_tiles_not_bullets(demo_data_dir):
    at = present()
    bodies = htmls(at)
    assert not any('<ul class="slide-sentences"' in b for b in bodies), \
        "the summary slide still lists its sentences as bullets"
    tiles = [b for b in bodies if 'class="tile-outcome"' in b]
    assert [re.search(r'tile-outcome">([^<]+)<', t).group(1) for t in tiles] == \
        list(catalogue.OUTCOMES.values())
    for tile in tiles:
        value = re.search(r'tile-value">([^<]+)<span class="tile-period">([^<]+)<', tile)
        assert value, f"no value with its period in {tile}"
    # The verdict in words, colour and icon (one badge per tile, from ui/cards).
    badges = [str(m.value) for m in at.markdown if "-badge[" in str(m.value)]
    assert len(badges) == 6
    assert all(re.search(r":material/\w+:", b) for b in badges)
    assert any("Better than England" in b or "Worse than England" in b
               or "Similar to England" in b for b in badges)


def _card(direction: str, change_text: str, **extra) -> OutcomeCard:
    ind = catalogue.get(catalogue.OUTCOME_HEADLINE["treatment"])
    fields = dict(outcome="treatment", outcome_name="Increase engagement in treatment",
                  indicator=ind, period="12 months to 2026/27 Q1",
                  value_text="521.7 per 100,000", change_text=change_text,
                  change_direction=direction, sparkline=[], england_text="England 735.9",
                  comparison="worse", comparison_words="Worse than England (95% confidence)",
                  geography_note="", suppressed=False)
    fields.update(extra)
    return OutcomeCard(**fields)


@pytest.mark.parametrize("direction, change_text, arrow", [
    ("better", "+12.0 since 2025/26 Q4", "up"),
    ("worse", "-3.1 since 2025/26 Q4", "down"),
    ("increase", "+40 since 2025/26 Q4", "up"),
    ("decrease", "-4 since 2025/26 Q4", "down"),
    ("not_significant", "+2.0 since 2025/26 Q4 (not significant)", ""),
    ("no_change", "no change since 2025/26 Q4", ""),
    ("none", "", ""),
])
def test_a_tile_has_a_trend_arrow_only_for_a_significant_change(direction, change_text,
                                                                 arrow):
    tile = briefing._tile(_card(direction, change_text))
    assert tile.arrow == arrow
    if arrow:
        assert direction in tile.change_words
    elif direction == "not_significant":
        assert tile.change_words == "no significant change since 2025/26 Q4"
    assert tile.value_text == "521.7 per 100,000" and tile.period


def test_a_tile_without_a_figure_says_why_and_has_no_verdict(demo_data_dir):
    card = _card("none", "", period=None, value_text="not loaded yet",
                 comparison="not_compared",
                 comparison_words="Not loaded yet for Gloucestershire")
    tile = briefing._tile(card)
    assert tile.period == "" and tile.arrow == ""
    assert tile.note == "Not loaded yet for Gloucestershire"


# --- (b) paging keys -----------------------------------------------------------------------

def test_paging_buttons_carry_the_keys_a_clicker_sends(demo_data_dir):
    at = present()
    shortcuts = {b.key: b.proto.shortcut for b in at.button}
    assert {shortcuts.get(k) for k in ("slide_next", "slide_next_pagedown",
                                       "slide_next_space")} == {"right", "pagedown", "space"}
    assert {shortcuts.get(k) for k in ("slide_previous", "slide_previous_pageup")} == \
        {"left", "pageup"}
    assert slide_number(at) == 1
    at.button(key="slide_next_space").click().run()
    assert slide_number(at) == 2
    at.button(key="slide_next_pagedown").click().run()
    assert slide_number(at) == 3
    at.button(key="slide_previous_pageup").click().run()
    assert slide_number(at) == 2
    at.button(key="slide_previous").click().run()
    assert slide_number(at) == 1
    assert not at.exception


# --- (c) the header names the area shown ---------------------------------------------------

@pytest.mark.parametrize("area, name, partnership", [
    (CITY, "City of London", False), (HOME, "Gloucestershire", True)])
def test_the_header_names_the_area_shown_and_the_partnership_only_at_home(
        demo_data_dir, area, name, partnership):
    at = present(area)
    head = re.search(r'class="slide-head">([^<]+)<', " ".join(htmls(at))).group(1)
    assert name in head
    assert (PARTNERSHIP in head) is partnership, head


# --- (d) the map slide ---------------------------------------------------------------------

def _font_sizes(node, path=""):
    """Every font size set anywhere in a Vega-Lite spec, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if "fontsize" in key.lower() and isinstance(value, (int, float)):
                yield f"{path}.{key}", value
            yield from _font_sizes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _font_sizes(value, f"{path}[{i}]")


def test_the_map_slide_is_legible_from_the_back_of_the_room(demo_data_dir):
    at = go_to(present(), "map")
    charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert len(charts) == 1
    import json
    spec = json.loads(charts[0].proto.spec)
    small = [(where, size) for where, size in _font_sizes(spec) if size < 14]
    assert small == [], f"text under 14 px on the map slide: {small}"
    legend = spec["config"]["legend"]
    assert legend["orient"] == "right"
    assert legend["labelFontSize"] >= 14 and legend["titleFontSize"] >= 14
    assert spec.get("height", 0) >= 440, "the map should fill the slide's height"
    # Title and source moved out of the picture into words beside it.
    assert "title" not in spec
    side = " ".join(htmls(at))
    assert "Open Government Licence" in side and 'class="slide-side"' in side


# --- (e) what changed since the last board -------------------------------------------------

def test_the_changes_slide_lists_significant_moves_with_the_test_named(demo_data_dir):
    at = go_to(present(), "changes")
    body = " ".join(htmls(at))
    assert "since the last board (figures up to 2025/26 Q4)" in body
    rows = re.findall(r"<tr><td>(.*?)</td></tr>", body)
    assert rows, "Gloucestershire's demonstration figures have significant changes"
    names = set(headlines.TEST_NAMES.values())
    for row in rows:
        cells = row.split("</td><td>")
        assert cells[-1].replace("&#x27;", "'") in names, cells
        assert cells[3].startswith(("\u2191", "\u2193"))
        assert cells[3].endswith(("better", "worse", "increase", "decrease"))


AREAS = pd.DataFrame({"area_code": [HOME, "E23000035", "E92000001"],
                      "area_name": ["Gloucestershire", "Gloucestershire", "England"],
                      "pfa_code": ["E23000035", "", ""],
                      "pfa_name": ["Gloucestershire", "", ""]})


def _row(ind_id, area, period, end, numerator, denominator, value=None, kind=None,
         lower=None, upper=None):
    ind = catalogue.get(ind_id)
    if value is None:
        value = numerator / denominator * (100 if ind.unit == "%" else 100_000)
    return {"indicator_id": ind_id, "area_code": area, "period": period,
            "period_kind": kind or ind.period_kind, "period_end": pd.Timestamp(end),
            "numerator": numerator, "denominator": denominator, "value": value,
            "lower95": value - 1 if lower is None else lower,
            "upper95": value + 1 if upper is None else upper,
            "lower998": value - 2, "upper998": value + 2, "value_note": None}


def _values(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


LAST, NOW = ("12 months to 2025/26 Q4", "2026-03-31"), ("12 months to 2026/27 Q1", "2026-06-30")


def test_a_significant_change_in_a_proportion_is_named_with_newcombes_interval():
    values = _values(
        _row("treatment_progress", HOME, *LAST, 300, 1000),
        _row("treatment_progress", HOME, *NOW, 400, 1000),
        _row("adults_in_treatment", HOME, *LAST, 3000, 600_000),
        _row("adults_in_treatment", HOME, *NOW, 3010, 600_000))
    since = changes.since_last_board(values, HOME, AREAS, dt.date(2026, 6, 30), 5)
    assert since.compared == 2 and len(since.changes) == 1
    table = since.table()
    assert list(table["Metric"]) == ["Treatment progress measure"]
    assert table["Test"].iloc[0] == headlines.TEST_NAMES["newcombe"]
    assert table["Change"].iloc[0] == "+10.0 pp, better"
    assert table["Last board (2025/26 Q4)"].iloc[0] == "30.0% (12 months to 2025/26 Q4)"
    assert since.sentences()[0].startswith("1 of the 2 metrics with a new figure since "
                                           "the last board (figures up to 2025/26 Q4)")


def test_an_activity_count_is_tested_as_counts_and_named_for_its_police_force_area():
    values = _values(
        _row("county_lines_closed", "E23000035", "2025/26 Q4", "2026-03-31", None, None,
             value=30.0, lower=float("nan"), upper=float("nan")),
        _row("county_lines_closed", "E23000035", "2026/27 Q1", "2026-06-30", None, None,
             value=8.0, lower=float("nan"), upper=float("nan")))
    since = changes.since_last_board(values, HOME, AREAS, dt.date(2026, 6, 30), 5)
    [change] = since.changes
    assert change.test_name == headlines.TEST_NAMES["exact_poisson"]
    assert change.verdict == "decrease"      # never "worse": more closures is not better
    assert since.table()["Metric"].iloc[0] == \
        "County lines closed (Gloucestershire police force area)"


def test_nothing_significant_is_said_in_words_and_small_counts_are_not_compared():
    values = _values(
        _row("adults_in_treatment", HOME, *LAST, 3000, 600_000),
        _row("adults_in_treatment", HOME, *NOW, 3010, 600_000),
        # 3 of 40: a small count now, 30 of 40 at the last board.
        _row("residential_rehab", HOME, *LAST, 30, 40),
        _row("residential_rehab", HOME, *NOW, 3, 40))
    since = changes.since_last_board(values, HOME, AREAS, dt.date(2026, 6, 30), 5)
    assert since.changes == [] and since.table().empty
    text = " ".join(since.sentences())
    assert text.startswith("No metric's figure moved significantly since the last board")
    assert "Residential rehabilitation uptake" in text and "too small to publish" in text
    assert "7.5" not in text and "75.0" not in text


def test_no_new_figure_since_the_last_board_is_no_change():
    values = _values(_row("treatment_progress", HOME, *LAST, 300, 1000))
    since = changes.since_last_board(values, HOME, AREAS, dt.date(2026, 6, 30), 5)
    assert since.compared == 0 and since.sentences() == [
        "No metric has a new figure since the last board (figures up to 2025/26 Q4)."]


def test_the_last_board_is_the_quarter_before():
    assert changes.last_board_end(dt.date(2026, 6, 30)).label == "2025/26 Q4"
    assert changes.last_board_end(dt.date(2026, 3, 31)).label == "2025/26 Q3"
    assert changes.last_board_end(dt.date(2026, 4, 30)).label == "2025/26 Q4"


# --- (f) the deck is ready before the presenter opens it ----------------------------------

def test_the_deck_is_built_in_the_background_after_a_first_page_and_not_again(
        demo_data_dir, monkeypatch):
    """The first page run for a version starts building the home area's deck on a
    thread; opening presentation mode afterwards uses it (briefing.build is not run
    again), so a board does not wait for it."""
    from ui import presentation
    monkeypatch.undo()       # the suite's conftest turns the preparation off
    presentation._deck.clear()
    presentation._prepare_once.clear()
    built, prepared = [], threading.Event()
    real_build, real_prepare = briefing.build, presentation._prepare
    monkeypatch.setattr(briefing, "build",
                        lambda *a, **k: built.append(a[2]) or real_build(*a, **k))
    monkeypatch.setattr(presentation, "_prepare",
                        lambda ctx: (real_prepare(ctx), prepared.set()))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params["area"] = HOME
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert prepared.wait(TIMEOUT_S), "the deck was not prepared in the background"
    assert built == [HOME]
    # Once per version: looking at another area does not start another deck.
    at.selectbox(key="area").set_value(CITY).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [t for t in threading.enumerate() if t.name == presentation.PREPARING_THREAD] == []
    assert built == [HOME]
    at.selectbox(key="area").set_value(HOME).run()
    at.switch_page("pages/present.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert built == [HOME], "the deck was built again when presentation mode opened"
    assert any("slide-title" in h for h in htmls(at))


def test_preparing_the_deck_never_breaks_the_page_that_starts_it(tmp_path, monkeypatch):
    """When building the deck fails, the page that started the preparation still draws:
    everything but starting the thread runs on it, and the failure is only logged there
    (presentation mode raises it again, on its own page, when opened)."""
    from ui import presentation
    monkeypatch.undo()
    presentation._prepare_once.clear()
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "data"))
    done = threading.Event()
    real_prepare = presentation._prepare
    monkeypatch.setattr(presentation, "_prepare",
                        lambda ctx: (real_prepare(ctx), done.set()))
    monkeypatch.setattr(briefing, "build", lambda *a, **k: 1 / 0)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert done.wait(TIMEOUT_S)
    assert at.title, "the page did not draw"
