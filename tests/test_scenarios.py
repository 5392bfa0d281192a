"""What-if scenarios on the continuity forecast (metrics.views.scenarios)."""

import datetime as dt

import pandas as pd
import pytest

from metrics.views import scenarios, target_forecast as tf
from tests.test_forecast import _protected

FLAT = tf.target_forecast(_protected([40] * 12, [100] * 12), 0.75, dt.date(2028, 3, 31))


def test_more_engaged_a_quarter_builds_up_over_four_quarters():
    made = scenarios.scenario(FLAT, more_engaged=10, area_name="Gloucestershire")
    lift = (made.frame["scenario"] - made.frame["baseline"]).tolist()
    # 10 more of 100 released a quarter: +2.5 points in the first rolling 12 months,
    # +10 points once all four quarters carry it.
    assert lift[:5] == pytest.approx([2.5, 5.0, 7.5, 10.0, 10.0])
    assert (made.frame["gap"] == 75 - made.frame["scenario"]).all()
    assert made.words.startswith("Scenario: with 10 more people a quarter engaging within "
                                 "3 weeks, Gloucestershire would be at ")
    assert "the 75% target" in made.words


def test_referrals_raised_convert_at_the_current_share_engaged():
    stages = pd.DataFrame({"key": ["released", "referred", "engaged"],
                           "count": [400.0, 200.0, 160.0]})
    share = scenarios.engaged_share_of_referred(stages)
    assert share == pytest.approx(0.8)
    made = scenarios.scenario(FLAT, referral_points=10, share_engaged=share)
    # 10 points of 100 released = 10 more referred a quarter, 80% engage: 8 a quarter.
    assert made.extra_per_quarter == pytest.approx(8.0)
    assert "about 8 more engaging a quarter, at the 80% of referred people" in made.words
    hidden = stages.assign(count=[400.0, None, 160.0])
    assert scenarios.engaged_share_of_referred(hidden) is None
    made = scenarios.scenario(FLAT, referral_points=10, share_engaged=None)
    assert made.extra_per_quarter == 0 and "not counted" in made.words


def test_no_scenario_without_a_forecast():
    none = tf.target_forecast(_protected([40] * 5, [100] * 5), 0.75, dt.date(2028, 3, 31))
    assert scenarios.scenario(none, more_engaged=10) is None


PRISONS = pd.DataFrame({
    "category": ["HMP A", "HMP B", "HMP C", "HMP D", "HMP Hidden", "Other prisons"],
    "released": [200.0, 120.0, 80.0, 40.0, None, 60.0],
    "rate": [50.0, 30.0, 20.0, 45.0, None, 10.0],
    "suppressed": [False, False, False, False, True, False]})


def test_a_prison_below_the_median_raised_to_it_adds_its_share_of_releases():
    below, median = scenarios.prisons_below_median(PRISONS)
    # The median of the prisons shown (A, B, C, D): hidden ones and "Other prisons" take
    # no part, so nothing hidden can be worked back from the scenario.
    assert median == pytest.approx(37.5)
    assert below == ["HMP C", "HMP B"]
    change = scenarios.prison_change(PRISONS, "HMP C")
    # (37.5% - 20%) of 80 released in 12 months = 14 a year, 3.5 a quarter.
    assert change.extra_per_quarter == pytest.approx(3.5)
    assert scenarios.prison_change(PRISONS, "HMP A") is None          # above the median
    assert scenarios.prison_change(PRISONS, "HMP Hidden") is None
    made = scenarios.build(FLAT, scenarios.ScenarioInputs(None, PRISONS),
                           scenarios.ScenarioRequest(prison="HMP C"), "Gloucestershire")
    assert made.extra_per_quarter == pytest.approx(3.5)
    assert "HMP C's rate raised from 20.0% to the median of the area's prisons, 37.5% " \
           "(about 4 more engaging a quarter)" in made.words
    # Fewer than three prisons shown: no median worth the name.
    assert scenarios.prisons_below_median(PRISONS.iloc[:2]) == ([], None)


def test_the_scenario_table_is_what_the_page_and_the_pack_print():
    made = scenarios.scenario(FLAT, more_engaged=10)
    table = made.table(75)
    assert list(table.columns) == ["Period", "Forecast", "Scenario", "Gap to 75%"]
    assert table["Scenario"].str.endswith("%").all()
