import datetime as dt

import pandas as pd
import pytest

from tests.test_pages import demo_data_dir  # noqa: F401 - the demonstration set

from metrics.views import overview


def test_people_short_is_the_extra_engagements_needed_on_the_same_releases():
    # 48 of 100 prison leavers engaged; 75% of 100 is 75, so 27 more were needed.
    assert overview.people_short(engaged=48, released=100, target=0.75) == 27
    # 75% of 130 is 97.5: a person cannot half-engage, so 98 are needed -> 98 - 60 = 38.
    assert overview.people_short(engaged=60, released=130, target=0.75) == 38
    # Exactly on target, and above it: nobody short.
    assert overview.people_short(engaged=75, released=100, target=0.75) == 0
    assert overview.people_short(engaged=90, released=100, target=0.75) == 0


def _continuity_rows(area, engaged, released, lower=40.0, upper=56.0):
    return {"indicator_id": "continuity_of_care", "area_code": area,
            "period": "12 months to 2026/27 Q1", "period_kind": "rolling_12m",
            "period_end": dt.date(2026, 6, 30), "numerator": engaged, "denominator": released,
            "value": engaged / released * 100, "lower95": lower, "upper95": upper,
            "lower998": lower - 5, "upper998": upper + 5}


def test_continuity_headline_gap_in_points_and_people():
    values = pd.DataFrame([_continuity_rows("E10000013", 48, 100),
                           _continuity_rows(overview.ENGLAND, 5300, 10000, 52, 54)])
    head = overview.continuity_headline(values, "E10000013", 0.75, dt.date(2025, 3, 31), 5)
    assert head.rate == pytest.approx(0.48)
    assert head.gap_points == pytest.approx(27.0)
    assert head.people_short == 27
    assert head.england_rate == pytest.approx(0.53)
    assert head.comparison == "similar"  # England's 53% lies inside 40-56%


def test_continuity_headline_suppresses_small_counts():
    values = pd.DataFrame([_continuity_rows("E06000053", 3, 7)])
    head = overview.continuity_headline(values, "E06000053", 0.75, dt.date(2025, 3, 31), 5)
    assert head.suppressed and head.rate is None and head.people_short is None


def _treatment_progress(prev_num, num):
    rows = []
    for area, scale in (("E10000013", 1), (overview.ENGLAND, 100)):
        for period, end, n in (("12 months to 2026/27 Q1", dt.date(2026, 6, 30), num),
                               ("12 months to 2025/26 Q4", dt.date(2026, 3, 31), prev_num)):
            rows.append({"indicator_id": "treatment_progress", "area_code": area,
                         "period": period, "period_kind": "rolling_12m", "period_end": end,
                         "numerator": n * scale, "denominator": 1000.0 * scale,
                         "value": n / 10, "lower95": n / 10 - 3, "upper95": n / 10 + 3,
                         "lower998": n / 10 - 5, "upper998": n / 10 + 5})
    return pd.DataFrame(rows)


AREAS = pd.DataFrame({"area_code": ["E10000013"], "pfa_code": ["E23000037"],
                      "pfa_name": ["Gloucestershire"]})


def test_a_change_that_is_not_significant_is_labelled_and_not_coloured():
    card = overview.outcome_card("recovery", _treatment_progress(400, 410), "E10000013",
                                 AREAS, 5)
    assert card.change_text.endswith("(not significant)")
    assert card.change_direction == "not_significant"


def test_a_significant_change_is_coloured_by_polarity():
    card = overview.outcome_card("recovery", _treatment_progress(400, 480), "E10000013",
                                 AREAS, 5)
    assert "not significant" not in card.change_text
    assert card.change_direction == "better"  # treatment progress: higher is better


def _county_lines(previous, latest):
    rows = []
    for period, end, n in (("2025/26 Q4", dt.date(2026, 3, 31), previous),
                           ("2026/27 Q1", dt.date(2026, 6, 30), latest)):
        rows.append({"indicator_id": "county_lines_closed", "area_code": "E23000037",
                     "period": period, "period_kind": "quarter", "period_end": end,
                     "numerator": float(n), "denominator": float("nan"), "value": float(n),
                     "lower95": float("nan"), "upper95": float("nan"),
                     "lower998": float("nan"), "upper998": float("nan")})
    return pd.DataFrame(rows)


def test_an_unchanged_activity_count_gets_no_arrow_and_no_colour():
    card = overview.outcome_card("supply", _county_lines(3, 3), "E10000013", AREAS, 5)
    assert card.change_direction == "no_change"
    assert card.change_text == "no change since 2025/26 Q4"
    assert "+0" not in card.change_text


@pytest.mark.parametrize("previous, latest", [(3, 5), (5, 3), (10, 12)])
def test_an_activity_count_change_that_is_not_significant_is_grey(previous, latest):
    # Exact Poisson test: 3 then 5 gives p = 0.73, 10 then 12 p = 0.83.
    card = overview.outcome_card("supply", _county_lines(previous, latest), "E10000013",
                                 AREAS, 5)
    assert card.change_direction == "not_significant"
    assert card.change_text.endswith("(not significant)")


@pytest.mark.parametrize("previous, latest, direction", [(2, 10, "increase"),
                                                         (10, 2, "decrease")])
def test_a_significant_activity_count_change_is_named_neutrally(previous, latest, direction):
    # 2 then 10 lines closed: p = 0.039. More closures is not "better" (it may mean more
    # lines), so the card says increase or decrease, never better or worse.
    card = overview.outcome_card("supply", _county_lines(previous, latest), "E10000013",
                                 AREAS, 5)
    assert card.change_direction == direction
    assert "not significant" not in card.change_text


@pytest.mark.parametrize("count, threshold, words", [
    (7, 5, "rate not published: fewer than 10 deaths (7)"),
    (3, 5, "rate not published: fewer than 10 deaths (*)")])
def test_a_withheld_rate_card_says_why_not_no_data(count, threshold, words):
    # The demonstration set withholds Darlington's 2023-25 rate on 7 deaths.
    nan = float("nan")
    rows = []
    for period, end, n, v in (("2022 - 24", dt.date(2024, 12, 31), 12, 9.6),
                              ("2023 - 25", dt.date(2025, 12, 31), count, nan)):
        rows.append({"indicator_id": "drug_misuse_deaths", "area_code": "E10000013",
                     "period": period, "period_kind": "pooled_3y", "period_end": end,
                     "numerator": float(n), "denominator": 120_000.0, "value": v,
                     "lower95": nan, "upper95": nan, "lower998": nan, "upper998": nan,
                     "value_note": None if v == v else
                     "Rate not calculated: fewer than 10 events"})
    card = overview.outcome_card("harm", pd.DataFrame(rows), "E10000013", AREAS, threshold)
    assert card.withheld == words
    # A small count keeps public mode's '*' as the value; the words say why.
    assert card.value_text == ("*" if count < threshold else "not published")
    # No change badge made of a missing value (" since 2022 - 24 (not significant)").
    assert card.change_text == "" and card.change_direction == "none"


def _overview_for(area_code):
    from streamlit.testing.v1 import AppTest
    from tests.test_pages import APP, TIMEOUT_S
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params["area"] = area_code
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_demo_city_of_london_cards_have_no_arrow_on_zero_and_say_why_no_rate(demo_data_dir):
    # City of London in the demonstration set: no county lines closed in either quarter
    # (it was drawn as a green "+0" with an arrow), and no drug deaths rate (2 deaths in
    # 3 years, a count public mode hides; it said "no data").
    at = _overview_for("E09000001")
    lines = next(m for m in at.metric if "County lines" in m.label)
    assert lines.proto.delta == "", lines.proto.delta
    deltas = [m.proto.delta for m in at.metric]
    assert not [d for d in deltas if d.lstrip("+-").replace(".", "").strip("0 pp") == ""
                and d], deltas
    captions = [str(c.value) for c in at.caption]
    assert any(c.startswith("no change since") for c in captions), captions
    assert any(c.startswith("Rate not published: fewer than 10 deaths (*)")
               for c in captions), captions
    assert "no data" not in [m.value for m in at.metric]


def test_demo_rutland_withheld_rate_says_why(demo_data_dir):
    # 7 deaths in 2023-25: no rate published. Public mode hides the 7 as well (secondary
    # suppression: City of London's 2 must not be worked out from England's total), so the
    # card says why in words with "*" (a shown count is tested in test_headlines).
    at = _overview_for("E06000017")
    captions = [str(c.value) for c in at.caption]
    assert any(c.startswith("Rate not published: fewer than 10 deaths (*)")
               for c in captions), captions
    assert "no data" not in [m.value for m in at.metric]


def test_demo_a_non_significant_activity_count_change_is_grey(demo_data_dir):
    # Gloucestershire's force closed 3 then 5 county lines (p = 0.73): it was green.
    from streamlit.proto.Metric_pb2 import Metric
    at = _overview_for("E10000013")
    lines = next(m for m in at.metric if "County lines" in m.label)
    assert lines.proto.delta.startswith("+2"), lines.proto.delta
    assert lines.proto.color == Metric.MetricColor.GRAY, lines.proto.color
