import datetime as dt

import pandas as pd
import pytest

from metrics import demo, store
from metrics.reference import catalogue
from metrics.stats import comparators
from metrics.views import explorer

UP_TO = dt.date(2026, 6, 30)
HOME = "E10000013"


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    return demo.build_demo(tmp_path_factory.mktemp("explorer"))


@pytest.fixture(scope="module")
def areas(version):
    return store.areas(version)


def outcome_values(version, outcome):
    return store.all_area_values(version, [i.id for i in catalogue.for_outcome(outcome)])


def test_spine_puts_england_at_the_centre_and_the_best_area_on_the_right(version, areas):
    values = outcome_values(version, "recovery")
    rows = explorer.spine_rows(values, "recovery", HOME, areas, (), UP_TO, 5).set_index(
        "indicator_id")
    tpm = rows.loc["treatment_progress"]
    assert tpm.pos_min == pytest.approx(0.0) or tpm.pos_max == pytest.approx(1.0)
    assert 0 <= tpm.pos_min <= tpm.pos_q1 <= tpm.pos_q3 <= tpm.pos_max <= 1
    # Polarity low: a lower value than England sits to the right of centre.
    rep = rows.loc["re_presentations"]
    assert (rep.area_value < rep.england_value) == (rep.pos_area > 0.5)


def test_spine_comparison_matches_the_fingertips_rule(version, areas):
    values = outcome_values(version, "treatment")
    rows = explorer.spine_rows(values, "treatment", HOME, areas, (), UP_TO, 5).set_index(
        "indicator_id")
    latest = values[(values.indicator_id == "continuity_of_care") & (values.area_code == HOME)
                    & (values.period == rows.loc["continuity_of_care", "period"])].iloc[0]
    england = rows.loc["continuity_of_care", "england_value"]
    inside = latest.lower95 <= england <= latest.upper95
    assert (rows.loc["continuity_of_care", "comparison"] == "similar") == inside


def test_national_and_force_metrics_are_shown_at_their_own_geography(areas):
    use = catalogue.get("drug_use_16_59")
    assert explorer.shown_area(use, HOME, areas)[0] == "E92000001"
    lines = catalogue.get("county_lines_closed")
    code, note = explorer.shown_area(lines, HOME, areas)
    assert code == "E23000037" and "police force area" in note


def test_suppression_blanks_small_counts_and_their_complements():
    ind = catalogue.get("continuity_of_care")
    rows = pd.DataFrame({"numerator": [3.0, 50.0, 98.0, 0.0], "denominator": [40.0, 100.0, 100.0, 10.0],
                         "value": [7.5, 50.0, 98.0, 0.0], "lower95": 1.0, "upper95": 99.0,
                         "lower998": 1.0, "upper998": 99.0, "value_note": None})
    out = explorer.suppress(rows, ind, threshold=5)
    assert out["suppressed"].tolist() == [True, False, True, False]
    assert out.loc[[0, 2], ["numerator", "value", "lower95"]].isna().all().all()


def test_values_table_never_shows_a_count_from_one_to_four(version, areas):
    values = outcome_values(version, "harm")
    ind = catalogue.get("deaths_in_treatment")
    all_codes = areas["area_code"].tolist()
    table = explorer.values_table(values, ind, all_codes, areas, UP_TO, 5)
    counts = pd.to_numeric(table["Count"], errors="coerce")
    assert not counts.between(1, 4).any()
    assert (table["Count"] == "*").any()  # the demo set has small counts to hide


def test_trend_series_keeps_the_area_first(version):
    values = outcome_values(version, "treatment")
    ind = catalogue.get("continuity_of_care")
    rows = explorer.trend_series(values, ind, {HOME: "Gloucestershire", "E92000001": "England"},
                                 ("E10000034",), UP_TO, 5)
    assert list(dict.fromkeys(rows["line"])) == ["Gloucestershire", "England",
                                                 "Comparator average"]
    assert rows.loc[rows.line == "Gloucestershire", "is_area"].all()


def test_funnel_limits_contain_england_and_narrow(version):
    ind = catalogue.get("continuity_of_care")
    limits = explorer.funnel_limits_frame(ind, 55.0, pd.Series([20.0, 2000.0]))
    assert (limits.lower95 <= 55.0).all() and (limits.upper95 >= 55.0).all()
    width = limits.upper95 - limits.lower95
    assert width.iloc[0] > width.iloc[-1]
    assert (limits.lower998 <= limits.lower95).all()


def test_ranking_marks_home_and_comparators(version, areas):
    values = outcome_values(version, "treatment")
    ind = catalogue.get("continuity_of_care")
    ranking = explorer.area_ranking(values, ind, "12 months to 2026/27 Q1", areas, HOME,
                                    ("E10000034",), 5)
    # Every area is ranked except those with no rate (no prison leavers) or whose figure
    # is suppressed for small counts.
    rows = values[(values.indicator_id == "continuity_of_care")
                  & (values.period == "12 months to 2026/27 Q1")
                  & values.area_code.str[:3].isin(["E06", "E08", "E09", "E10"])]
    checked = explorer.suppress(rows, ind, 5)
    assert checked["suppressed"].sum() > 0
    assert len(ranking) == checked["value"].notna().sum()
    assert ranking["value"].notna().all()
    assert ranking.set_index("area_code").loc[HOME, "role"] == "Home"
    assert ranking.set_index("area_code").loc["E10000034", "role"] == "Comparator"


def test_activity_counts_have_no_trend_verdict(version):
    values = outcome_values(version, "supply")
    verdict = explorer.recent_trend(values, catalogue.get("county_lines_closed"), "E23000037",
                                    UP_TO, 5)
    assert verdict["code"] == "cannot_be_calculated"
    assert verdict["words"] == "No trend test for counts of activity"


def test_standardised_rates_say_why_they_have_no_trend(version):
    """'Cannot be calculated' read as missing data on a board; the card says the measure
    has no trend test, and why."""
    values = outcome_values(version, "harm")
    verdict = explorer.recent_trend(values, catalogue.get("drug_misuse_deaths"), HOME,
                                    UP_TO, 5)
    assert verdict["code"] == "cannot_be_calculated"
    assert verdict["words"] == "No trend test for standardised rates"
    assert "proportions and crude rates" in verdict["reason"]


def test_spc_of_an_area_series(version):
    values = outcome_values(version, "treatment")
    frame, summary = explorer.spc_frame(values, catalogue.get("continuity_of_care"), HOME,
                                        UP_TO, 5, target=75.0)
    assert len(frame) == 29 and {"mean", "upper_limit", "point_type"} <= set(frame.columns)
    assert summary["assurance"] in ("consistently_failing", "hit_and_miss",
                                    "consistently_passing")


def test_nearest_neighbours_are_the_closest_on_population_and_deprivation():
    summary = pd.DataFrame({
        "utla_code": ["A", "B", "C", "D"], "population": [100_000, 110_000, 1_000_000, 95_000],
        "deprived_share": [0.10, 0.12, 0.10, 0.60], "demo": False})
    features = comparators.area_features(summary)
    assert comparators.nearest("A", features, n=1) == ["B"]
    assert "A" not in comparators.nearest("A", features, n=3)


def test_comparator_groups(version, areas):
    summary = store.area_need_summary(version)
    nearest = comparators.comparator_group("nearest", HOME, areas, (), summary)
    assert len(nearest.codes) == comparators.NEIGHBOURS and HOME not in nearest.codes
    assert "demonstration" in nearest.description
    region = comparators.comparator_group("region", HOME, areas, (), summary)
    assert len(region.codes) == 14  # the other South West areas
    configured = comparators.comparator_group("configured", HOME, areas,
                                              ("E10000034", "E06000054"), summary)
    assert configured.codes == ("E10000034", "E06000054")
    fallback = comparators.comparator_group("configured", HOME, areas, (), summary)
    assert fallback.codes == nearest.codes and "computed" in fallback.description


def _spc_words(values, direction="increase"):
    from metrics import stats
    frame = stats.spc(values, improvement_direction=direction)
    frame["period"] = [f"Q{i + 1}" for i in range(len(values))]
    return explorer.spc_words(frame, stats.spc_summary(frame))


def test_spc_words_say_what_the_markers_show():
    # The latest point is special cause: say so, when, and by which rule.
    assert _spc_words([12, 8] * 6 + [13] * 7) == (
        "Special cause (improvement) at Q19: 7 or more points in a row above the mean.")
    assert _spc_words([12, 8] * 6 + [13] * 7, "decrease").startswith(
        "Special cause (concern) at Q19")
    # Every point common cause: say so.
    assert _spc_words([10, 12] * 6) == "Common cause variation: no point is special cause."
    # The latest point common cause beside a marked one: never "no significant change".
    words = _spc_words([8, 12] * 6 + [40, 12, 8])
    assert words.startswith("Common cause variation at the latest point (Q15), but 1 "
                            "earlier point is special cause")
    assert "at Q13: above the upper process limit" in words
    assert "no significant change" not in words


def test_recent_trend_skips_a_suppressed_year_and_says_which():
    # Fingertips tests the five most recent valid points: a year hidden for a small count
    # is skipped (it used to make the trend "cannot be calculated").
    ind = catalogue.get("deaths_in_treatment")
    years = [2020, 2021, 2022, 2023, 2024, 2025]
    numerators = [10.0, 15.0, 3.0, 20.0, 25.0, 30.0]
    values = pd.DataFrame({
        "indicator_id": ind.id, "area_code": HOME, "period_kind": ind.period_kind,
        "period": [f"{y}/{str(y + 1)[2:]}" for y in years],
        "period_start": [dt.date(y, 4, 1) for y in years],
        "period_end": [dt.date(y + 1, 3, 31) for y in years],
        "numerator": numerators, "denominator": 100.0,
        "value": numerators, "lower95": 1.0, "upper95": 50.0, "lower998": 0.5,
        "upper998": 60.0, "value_note": None})
    verdict = explorer.recent_trend(values, ind, HOME, UP_TO, 5)
    assert verdict["code"] == "increasing"
    assert verdict["skipped"] == ["2022/23"]
    assert verdict["periods"] == ["2020/21", "2021/22", "2023/24", "2024/25", "2025/26"]


def _trend_series_by_period(values, ind, lines, group, up_to, threshold):
    """The comparator average as trend_series worked it out before: one _group_value per
    period (kept here as the reference the one-groupby version must equal)."""
    rows = explorer.suppress(explorer.metric_rows(values, ind), ind, threshold)
    rows = rows[explorer._until(rows, up_to)]
    members = rows[rows["area_code"].isin(group)]
    pooled = pd.DataFrame([{"period": p, "period_kind": g["period_kind"].iloc[0],
                            "period_start": g["period_start"].iloc[0],
                            "period_end": g["period_end"].iloc[0],
                            "value": explorer._group_value(g, ind), "lower95": None,
                            "upper95": None, "line": "Comparator average", "is_area": False}
                           for p, g in members.groupby("period")])
    return pooled


@pytest.mark.parametrize("threshold", [5, 1])
def test_comparator_average_in_one_groupby_equals_the_loop_per_period(version, areas,
                                                                       threshold):
    values = store.all_area_values(version, [i.id for i in catalogue.INDICATORS])
    group = comparators.comparator_group("region", HOME, areas, (), None).codes
    checked = 0
    for ind in catalogue.INDICATORS:
        if ind.geography != "utla":
            continue
        series = explorer.trend_series(values, ind, {HOME: "Gloucestershire"}, group,
                                       UP_TO, threshold)
        got = series[series["line"] == "Comparator average"].reset_index(drop=True)
        got = got.drop(columns=["interval"], errors="ignore")
        want = _trend_series_by_period(values, ind, {}, group, UP_TO, threshold)
        if want.empty:
            assert got.empty, ind.id
            continue
        want["period_end"] = pd.to_datetime(want["period_end"])
        want["period_start"] = pd.to_datetime(want["period_start"])
        pd.testing.assert_frame_equal(got.astype({"value": float}),
                                      want.astype({"value": float}), check_dtype=False,
                                      check_exact=True, obj=ind.id)
        checked += 1
    assert checked >= 10
