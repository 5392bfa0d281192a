"""One source of truth per figure across pages (issue 13, item 12).

The Maps page once said 4,728 estimated opiate and crack users with 38.7% in treatment
for Gloucestershire while the treatment page said 51.5% unmet need of 4,187, and it
counted 634,533 residents where the rates used 660,263. Now the demonstration small areas
add up to their area's published figures (estimated users, users in treatment, residents)
for the table's period, the OCU prevalence and unmet-need metrics share one estimate of
users, and the Maps page names the period and says the totals are the treatment page's,
or, where a loaded small-area table differs, that it is a separate estimate.
"""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics import geo, store
from tests.test_pages import APP, TIMEOUT_S, demo_data_dir, exception_text  # noqa: F401

HOME = "E10000013"


@pytest.fixture(scope="module")
def published(demo_data_dir):  # noqa: F811 - the fixture imported above
    version = store.current_version(demo_data_dir)
    need = store.lsoa_need(version)
    values = store.all_area_values(version, ["unmet_need_ocu", "ocu_prevalence",
                                             "drug_poisoning_admissions",
                                             "neighbourhood_crime"])
    return version, need, values


def _by_area(values, indicator_id, period):
    rows = values[(values["indicator_id"] == indicator_id) & (values["period"] == period)]
    return rows.set_index("area_code")


def test_small_areas_add_up_to_the_published_area_figures(published):
    _, need, values = published
    period = str(need["period"].iloc[0])
    sums = need.groupby("utla_code")[["population", "estimated_ocu", "ocu_in_treatment"]].sum()
    unmet = _by_area(values, "unmet_need_ocu", period).loc[sums.index]
    residents = _by_area(values, "drug_poisoning_admissions", period).loc[sums.index]
    prevalence = _by_area(values, "ocu_prevalence", period).loc[sums.index]
    pd.testing.assert_series_equal(sums["estimated_ocu"], unmet["denominator"],
                                   check_names=False)
    pd.testing.assert_series_equal(sums["ocu_in_treatment"],
                                   unmet["denominator"] - unmet["numerator"],
                                   check_names=False)
    # One population per area and period: the small areas' residents are the rates'.
    pd.testing.assert_series_equal(sums["population"], residents["denominator"],
                                   check_names=False)
    # One estimate of users: the prevalence metric counts the same users.
    pd.testing.assert_series_equal(prevalence["numerator"], unmet["denominator"],
                                   check_names=False)
    assert (need["ocu_in_treatment"] <= need["estimated_ocu"]).all()


def test_population_is_one_number_per_area_and_year(published):
    """Every all-ages rate of the same year divides by the same residents."""
    _, need, values = published
    period = str(need["period"].iloc[0])
    year = _by_area(values, "drug_poisoning_admissions", period)["denominator"]
    crime = values[(values["indicator_id"] == "neighbourhood_crime")
                   & values["period"].str.startswith(period)]
    assert len(crime), "the quarters of the same financial year"
    for _, quarter in crime.groupby("period"):
        q = quarter.set_index("area_code")["denominator"]
        pd.testing.assert_series_equal(q.loc[year.index], year, check_names=False)


def test_need_totals_say_the_period_and_agree_or_say_they_differ(published):
    from metrics.views import need_totals
    version, need, values = published
    lsoas = geo.boundary_lsoas(geo.local_boundaries(HOME))
    table = geo.need_table(lsoas, store.lsoa_need(version, HOME), None, None)
    totals = need_totals.need_totals(table, values, HOME, "Gloucestershire")
    unmet = _by_area(values, "unmet_need_ocu", totals.small_period).loc[HOME]
    assert totals.agrees, totals.words
    assert totals.small_period in totals.words
    assert f"{unmet['value']:.1f}%" in totals.words
    assert f"{unmet['denominator']:,.0f} estimated users" in totals.words
    # A small-area table modelled apart (a real extract) is called an estimate that differs.
    other = table.assign(estimated_ocu=table["estimated_ocu"] + 1)
    differ = need_totals.need_totals(other, values, HOME, "Gloucestershire")
    assert not differ.agrees
    assert "differ" in differ.words and f"{unmet['denominator']:,.0f}" in differ.words
    # A total the page hides is neither shown nor compared.
    hidden = need_totals.need_totals(table, values, HOME, "Gloucestershire",
                                     frozenset({"estimated_ocu", "ocu_in_treatment"}))
    assert f"{unmet['denominator']:,.0f}" not in hidden.words


def _page(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, exception_text(at)
    return at


def test_maps_and_treatment_pages_show_the_same_figures(published):
    _, need, values = published
    period = str(need["period"].iloc[0])
    unmet = _by_area(values, "unmet_need_ocu", period).loc[HOME]
    treatment = _page("pages/treatment.py", metric="unmet_need_ocu")
    shown = {m.label: m.value for m in treatment.metric}
    assert shown.get(f"Gloucestershire, {period}") == f"{unmet['value']:.1f}%", shown
    maps = _page("pages/maps.py")
    texts = [str(e.value) for e in maps.caption] + [str(e.value) for e in maps.markdown]
    words = next((t for t in texts if "published figures" in t), None)
    assert words is not None, texts
    assert period in words and f"unmet need {unmet['value']:.1f}%" in words, words
    assert f"{unmet['denominator']:,.0f} estimated users" in words, words
    total = next(t for t in texts if t.startswith("**Gloucestershire"))
    assert f"Estimated users: {unmet['denominator']:,.0f}" in total, total
    assert f"{unmet['denominator'] - unmet['numerator']:,.0f} in treatment" in words, words
