"""Charts and sparklines carry words written from their figures (WCAG 1.1.1)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from metrics.reference import catalogue
from metrics.render import describe, sparkline


def _indicator(unit: str):
    return next(i for i in catalogue.INDICATORS if i.unit == unit)


class _Svg(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_sparkline_is_an_image_named_from_its_figures():
    ind = _indicator("%")
    periods = ["2025/26 Q2", "2025/26 Q3", "2025/26 Q4", "2026/27 Q1"]
    text = sparkline.svg([48.25, 47.0, 51.2, 50.1], periods, ind)
    parser = _Svg()
    parser.feed(text)
    tag, attrs = parser.tags[0]
    assert tag == "svg" and attrs["role"] == "img"
    label = attrs["aria-label"]
    assert "2025/26 Q2 to 2026/27 Q1" in label
    assert "from 48.2% in 2025/26 Q2 to 50.1% in 2026/27 Q1" in label or \
        "from 48.3% in 2025/26 Q2 to 50.1% in 2026/27 Q1" in label
    assert "lowest 47.0%, highest 51.2%" in label
    assert ind.title in label


def test_a_suppressed_point_breaks_the_line_and_is_said():
    ind = _indicator("%")
    periods = ["A", "B", "C", "D", "E"]
    text = sparkline.svg([10.0, 12.0, None, 13.0, 14.0], periods, ind)
    assert text.count("<polyline") == 2
    assert "1 period not shown (small numbers suppressed)" in text
    # Hidden values never reach the page, not even in the words.
    assert "None" not in text and "nan" not in text


def test_too_few_figures_draw_nothing():
    ind = _indicator("%")
    assert sparkline.svg([None, 5.0], ["A", "B"], ind) == ""
    assert "no trend" in sparkline.description([None], ["A"], ind)


def test_words_in_an_attribute_are_escaped():
    ind = _indicator("%")
    text = sparkline.svg([1.0, 2.0], ['"><script>', "B"], ind)
    assert "<script>" not in text


def test_accessible_spec_names_the_chart_and_hides_unnamed_marks():
    spec = {"mark": "point", "data": {"values": []}, "config": {"view": {"stroke": None}}}
    described = describe.accessible(spec, "Deaths rose\n from 5.2 to 7.5.")
    assert described["description"] == "Deaths rose from 5.2 to 7.5."
    assert described["config"]["aria"] is False
    assert described["config"]["mark"] == {"aria": False}
    assert described["config"]["view"] == {"stroke": None}
    assert "description" not in spec and "aria" not in spec["config"]   # a copy
    assert re.search(r"\S", described["description"])


# --- Every chart on the outcome and continuity pages, through the app -------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from metrics.views import chart_words  # noqa: E402
from tests.support import app_on_demo_data, board_tables  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    with app_on_demo_data(tmp_path_factory.mktemp("cdp_data")):
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        yield at


def _described_charts(at) -> list[str]:
    assert not at.exception, [e.message for e in at.exception]
    charts = at.get("vega_lite_chart")
    assert charts, "no chart drawn"
    words = [json.loads(c.proto.spec).get("description") or "" for c in charts]
    assert all(w.strip() for w in words), f"a chart has no description: {words}"
    return words


def _latest_period(at) -> str:
    """The latest period the page draws, from its own headline ('Area, period')."""
    label = next(m.label for m in at.metric if ", " in m.label)
    return label.split(", ", 1)[1]


@pytest.mark.parametrize("page,views,funnel", [
    ("pages/harm.py", ["Trend", "Process control (SPC)", "All areas"], False),
    ("pages/treatment.py", ["All areas"], True),
])
def test_every_outcome_chart_is_described_with_the_area_and_latest_period(
        demo_app, page, views, funnel):
    at = demo_app
    at.switch_page(page)
    at.run()
    area = at.title[0].value.split(": ", 1)[1]
    period = _latest_period(at)
    seen = []
    for view in views:
        at.segmented_control(key="view").set_value(view).run()
        for words in _described_charts(at):
            seen.append(words)
            assert period in words, f"{view}: {period!r} not in {words!r}"
            # Every chart names the area (the ranking and funnel name it among all areas
            # or place it: the funnel alone speaks of every area, so is not held to it).
            if not words.startswith("Funnel plot"):
                assert area in words, f"{view}: {area!r} not in {words!r}"
        # The plotted figures are a table beside the chart (the spine's is always shown).
        assert any(e.label == "Table" for e in at.expander), f"{view}: no Table"
        # Shown under each chart as text too (Markdown-escaped), not only to a screen reader.
        captions = {c.value.replace("\\", "") for c in at.caption}
        missing = [w for w in _described_charts(at) if w not in captions]
        assert not missing, f"{view}: not shown as text: {missing}"
    assert any(w.startswith("Funnel plot") for w in seen) == funnel


def test_every_continuity_chart_is_described_with_the_area_and_latest_period(demo_app):
    at = demo_app
    at.switch_page("pages/continuity.py")
    at.run()
    area = at.title[0].value.split(": ", 1)[1]
    for view in ["Breakdowns", "Pathway", "Process control (SPC)", "All areas"]:
        at.segmented_control(key="show").set_value(view).run()
        words = _described_charts(at)
        trend = words[0]
        latest = trend.split(" and ")[-1].split(";")[0]
        assert area in trend and latest.startswith("12 months to "), trend
        for w in words:
            if not w.startswith("Funnel plot"):
                assert area in w, f"{view}: {area!r} not in {w!r}"
    assert any(e.label == "Table" for e in at.expander)


def _indicator_by_id(metric_id):
    return catalogue.BY_ID[metric_id]


def test_trend_words_say_the_change_in_figures_and_england():
    ind = _indicator_by_id("drug_misuse_deaths")
    rows = pd.DataFrame({
        "period": ["2017 - 19", "2020 - 22", "2023 - 25", "2023 - 25"],
        "period_end": pd.to_datetime(["2019-12-31", "2022-12-31", "2025-12-31",
                                      "2025-12-31"]),
        "value": [5.2, None, 7.5, 5.9],
        "line": ["Gloucestershire"] * 3 + ["England"],
        "is_area": [True, True, True, False]})
    words = chart_words.trend(rows, ind, "Gloucestershire")
    assert words.startswith(f"{ind.title} in Gloucestershire rose from 5.2 to 7.5 per "
                            "100,000 between 2017 - 19 and 2023 - 25; England 5.9 per 100,000")
    assert "1 period not shown" in words
    assert "significant" not in words


def test_a_suppressed_figure_is_never_said():
    ind = _indicator_by_id("drug_misuse_deaths")
    ranking = pd.DataFrame({"area_name": ["A", "B", "C"], "value": [9.0, None, 3.0],
                            "role": ["Other", "Home", "Other"]})
    words = chart_words.ranking(ranking, ind, "B", "2023 - 25", 5.0)
    assert "2 areas ranked from 9.0 per 100,000 (A) to 3.0 per 100,000 (C)" in words
    assert "B has no figure drawn" in words and "nan" not in words


def test_england_map_has_every_area_as_a_table(demo_app):
    """The England map's figures for those who cannot use a map: every partnership, by
    name, with the figure as drawn (a suppressed one reads '*', never its value)."""
    # A fresh session: the outcome pages' view (also keyed "view", in the URL) would
    # otherwise choose the maps page's tab.
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("pages/maps.py")
    at.session_state["view"] = "England"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    title = catalogue.get("adults_in_treatment").title
    tables = [t for t in board_tables(at) if title in t.columns]
    assert tables, "no table of the England map"
    table = tables[0]
    assert len(table) == 153 and table["Area"].is_unique
    assert "Gloucestershire" in set(table["Area"])
    assert not table[title].astype(str).str.contains("nan").any()


def test_urban_rural_words_count_a_hidden_class_and_never_value_it():
    from metrics.views import chart_words
    rows = pd.DataFrame({"group_label": ["Urban", "Rural town", "Rural village"],
                         "order": [1, 2, 3], "treated_share": [48.04, None, 51.0],
                         "treated_share_lower95": [44.0, None, 37.7],
                         "treated_share_upper95": [52.1, None, 64.1]})
    england = pd.DataFrame({"group_label": ["Urban", "Rural town", "Rural village"],
                            "treated_share": [49.6, 47.0, 49.2]})
    words = chart_words.urban_rural(rows, "treated_share", "In treatment per estimated user",
                                    "%", "Testshire", england)
    assert words == ("In treatment per estimated user (%) by rural-urban class in Testshire: "
                     "Urban 48.0 (95% interval 44.0 to 52.1), England 49.6; Rural village "
                     "51.0 (95% interval 37.7 to 64.1), England 49.2. 1 class not shown "
                     "(small numbers suppressed or no figure).")


def test_small_area_map_words_name_the_ends_and_count_what_is_hidden():
    from metrics.views import chart_words
    values = pd.DataFrame({
        "lsoa_name": ["Stroud 001A", "Stroud 002B", "Cheltenham 003C", "Forest 004D"],
        "ltla_name": ["Stroud", "Stroud", "Cheltenham", "Forest of Dean"],
        "value": [12.0, None, 30.0, 20.0], "suppressed": [False, True, False, False],
        "value_text": ["12%", "*", "30%", "20%"]})
    words = chart_words.small_area_map(values, "proportion", "Unmet need", "Testshire")
    assert words == ("Map of 4 small areas in Testshire coloured by unmet need. Lowest 12% in "
                     "Stroud 001A (Stroud); highest 30% in Cheltenham 003C (Cheltenham); half "
                     "the small areas are at or below 20%. 1 hidden (small numbers).")
    classes = values.assign(value_text=["Urban", "Rural", "Urban", None])
    words = chart_words.small_area_map(classes, "class", "Rural-urban class", "Testshire")
    assert words.endswith("Small areas by rural-urban class: Rural: 1; Urban: 2; no class: 1.")


def test_england_map_words_give_home_range_verdicts_and_never_a_hidden_value():
    from metrics.views import chart_words
    ind = _indicator_by_id("drug_misuse_deaths")
    rows = pd.DataFrame({
        "area_code": ["H", "A", "B", "C"], "value": [7.5, 3.1, None, 9.9],
        "suppressed": [False, False, True, False],
        "value_text": ["7.5 per 100,000", "3.1 per 100,000", "*", "9.9 per 100,000"],
        "period": ["2023 - 25"] * 4,
        "comparison_text": ["Worse than England", "Better than England", "",
                            "Worse than England"]})
    names = {"H": "Homeshire", "A": "Ashire", "B": "Bshire", "C": "Cshire"}
    words = chart_words.england_map(rows, ind, "H", names, ("A", "H"), "comparison")
    assert words.startswith(f"Map of England's 4 partnerships coloured by {ind.title.lower()}, "
                            "2023 - 25. Homeshire (outlined): 7.5 per 100,000, worse than "
                            "England; lowest 3.1 per 100,000 in Ashire; highest 9.9 per "
                            "100,000 in Cshire")
    assert "worse than England 2; better than England 1" in words
    assert "1 comparator area outlined in purple" in words and "1 hidden" in words


def test_both_maps_carry_their_description_as_name_and_caption(demo_app):
    """The words are the map's accessible name (the Vega chart's description) and are
    shown under the map."""
    for view in ("Partnership", "England"):
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        at.switch_page("pages/maps.py")
        at.session_state["view"] = view
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        alt = json.loads(at.get("vega_lite_chart")[0].proto.spec)["description"]
        assert alt.startswith("Map of ") and "Gloucestershire" in alt
        assert alt in {c.value for c in at.caption}


def test_small_area_map_words_list_deciles_in_number_order():
    from metrics.views import chart_words
    values = pd.DataFrame({"value_text": ["10", "2", "1", "10"], "lsoa_name": list("abcd"),
                           "ltla_name": list("abcd")})
    words = chart_words.small_area_map(values, "decile", "Deprivation decile", "Testshire")
    assert words.endswith("Small areas by deprivation decile: 1: 1; 2: 1; 10: 2.")
