"""The demonstration set keeps its promises: deterministic, anchored to the national
figures in BRIEF.md, internally consistent, and with small counts present."""

import numpy as np
import pandas as pd
import pytest

from metrics import demo, store
from metrics.reference import catalogue


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return demo.build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def all_rows(published):
    return pd.read_parquet(published.path / "values.parquet")


@pytest.fixture(scope="module")
def values(all_rows):
    """Area totals (breakdown rows, e.g. continuity by prison, are tested elsewhere)."""
    return all_rows[all_rows.breakdown.isna()]


def _england(values, indicator_id, period):
    row = values[(values.indicator_id == indicator_id) & (values.area_code == "E92000001")
                 & (values.period == period)]
    assert len(row) == 1, (indicator_id, period)
    return row.iloc[0]


def test_build_is_deterministic(published, tmp_path):
    again = demo.build_demo(tmp_path)
    first = pd.read_parquet(published.path / "values.parquet")
    second = pd.read_parquet(again.path / "values.parquet")
    pd.testing.assert_frame_equal(first, second)


def test_published_as_demonstration(published):
    assert published.is_demo and store.current_version(published.path.parent.parent.parent).is_demo


def test_covers_england_regions_and_all_153_areas(values):
    continuity = values[(values.indicator_id == "continuity_of_care")
                        & (values.period == "12 months to 2026/27 Q1")]
    codes = set(continuity.area_code)
    assert "E92000001" in codes
    assert sum(c.startswith("E12") for c in codes) == 9
    assert sum(c[:3] in ("E06", "E08", "E09", "E10") for c in codes) == 153


def test_quarters_run_from_2019_20_q1_to_2026_27_q1(values):
    quarters = values[values.period_kind == "quarter"].sort_values("period_end").period
    assert quarters.iloc[0] == "2019/20 Q1" and quarters.iloc[-1] == "2026/27 Q1"


@pytest.mark.parametrize("period, published_figure", [
    ("12 months to 2021/22 Q4", 37.4),   # BRIEF.md: England 2021-22
    ("12 months to 2023/24 Q4", 53.0),   # BRIEF.md: England 2023-24
])
def test_continuity_of_care_is_anchored_to_england(values, period, published_figure):
    assert _england(values, "continuity_of_care", period).value == \
        pytest.approx(published_figure, abs=2.5)


def test_regions_and_england_are_sums_of_their_areas(values):
    areas = demo.load_areas().set_index("area_code")
    rows = values[(values.indicator_id == "treatment_progress")
                  & (values.period == "12 months to 2025/26 Q4")].set_index("area_code")
    utlas = rows[rows.index.str[:3].isin(["E06", "E08", "E09", "E10"])]
    for column in ("numerator", "denominator"):
        assert rows.loc["E92000001", column] == utlas[column].sum()
        by_region = utlas[column].groupby(areas.loc[utlas.index, "region_code"]).sum()
        assert rows.loc["E12000009", column] == by_region["E12000009"]


def test_police_force_metrics_are_published_by_force_area_not_locally(values):
    lines = values[values.indicator_id == "county_lines_closed"]
    assert not lines.area_code.str[:3].isin(["E06", "E08", "E09", "E10"]).any()
    assert lines.area_code.str.startswith("E23").any()


def test_national_survey_metrics_exist_only_for_england(values):
    assert set(values[values.indicator_id == "drug_use_16_59"].area_code) == {"E92000001"}


def test_small_counts_are_present_so_disclosure_control_matters(values):
    small = values[(values.numerator > 0) & (values.numerator < 5)]
    assert len(small) > 100


def test_values_lie_inside_their_intervals(values):
    with_ci = values.dropna(subset=["value", "lower95", "upper95"])
    assert (with_ci.lower95 <= with_ci.value + 1e-9).all()
    assert (with_ci.value <= with_ci.upper95 + 1e-9).all()
    assert (with_ci.lower998 <= with_ci.lower95 + 1e-9).all()


def test_every_catalogue_metric_is_published(values):
    assert set(values.indicator_id) == set(catalogue.BY_ID)


def test_rolling_continuity_is_the_sum_of_its_four_quarters(values):
    cc = values[(values.indicator_id == "continuity_of_care") & (values.area_code == "E10000013")]
    quarters = cc[cc.period_kind == "quarter"].set_index("period")
    rolling = cc[cc.period_kind == "rolling_12m"].set_index("period")
    last_four = ["2025/26 Q2", "2025/26 Q3", "2025/26 Q4", "2026/27 Q1"]
    assert rolling.loc["12 months to 2026/27 Q1", "denominator"] == \
        quarters.loc[last_four, "denominator"].sum()


def test_lsoa_need_covers_every_lsoa_with_plausible_values(published):
    need = pd.read_parquet(published.path / "lsoa_need.parquet")
    assert len(need) == 32_844
    assert need.imd_decile.between(1, 10).all()
    assert (need.ocu_in_treatment <= need.estimated_ocu).all()
    # Most deprived decile has more estimated users per resident than the least.
    rate = need.estimated_ocu / need.population
    assert rate[need.imd_decile == 1].mean() > 2 * rate[need.imd_decile == 10].mean()
    assert np.isin(need.ruc11_class, ["A1", "C1", "D1", "E1", "F1"]).all()


def test_no_standardised_rate_on_fewer_than_ten_deaths(values):
    deaths = values[values.indicator_id == "drug_misuse_deaths"]
    few = deaths[deaths.numerator < 10]
    assert len(few) > 0 and few.value.isna().all()
    assert (few.value_note == demo.DSR_NOTE).all()
    assert deaths[deaths.numerator >= 10].value.notna().all()


def test_help_describes_the_command_and_publishes_nothing(tmp_path, monkeypatch, capsys):
    """`python -m metrics.demo --help` once published a demonstration version instead."""
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as stop:
        demo.main(["--help"])
    assert stop.value.code == 0
    assert "demonstration" in capsys.readouterr().out
    assert store.list_versions(tmp_path) == []


# --- Anchors and period arithmetic (issue 13 item 4) -----------------------------------

def test_pooled_deaths_hold_three_years_of_deaths_and_populations(values, all_rows):
    """"2023 - 25" once held one year's deaths (England 3,245) over one year's population,
    so 41 of 153 areas had no rate. ONS pools 3 years' deaths over 3 years' populations:
    England about 5.9 per 100,000 and 9,000-10,000 deaths."""
    latest = _england(values, "drug_misuse_deaths", "2023 - 25")
    assert 9_000 <= latest.numerator <= 10_000, latest.numerator
    assert 5.5 <= latest.value <= 6.3, latest.value
    # The denominator is three years' residents: three times an annual rate's.
    annual = _england(values, "drug_poisoning_admissions", "2025/26")
    assert latest.denominator == pytest.approx(3 * annual.denominator, rel=1e-6)
    assert demo.years_in_period(demo.pooled_periods()[0]) == 3
    assert demo.years_in_period(demo.fy_periods()[0]) == 1


def test_only_a_handful_of_small_areas_get_no_death_rate(values):
    """Real ONS 3-year tables withhold a rate (fewer than 10 deaths) for a handful of very
    small areas; the demonstration must behave the same."""
    utlas = values[values.area_code.str[:3].isin(["E06", "E08", "E09", "E10"])]
    deaths = utlas[(utlas.indicator_id == "drug_misuse_deaths")]
    for period, rows in deaths.groupby("period"):
        withheld = set(rows.loc[rows.value.isna(), "area_code"])
        assert len(withheld) <= 6, (period, sorted(withheld))
        assert withheld >= {"E09000001", "E06000053"}, (period, withheld)  # City, Scilly


def test_every_metric_in_england_lies_within_its_published_anchor(values):
    for ind in catalogue.INDICATORS:
        spec = demo.SPECS[ind.id]
        low, high = spec.england_range
        assert np.isfinite(low) and np.isfinite(high), f"{ind.id} has no anchor range"
        england = values[(values.indicator_id == ind.id) & (values.area_code == "E92000001")]
        assert len(england), ind.id
        outside = england[~england.value.between(low, high)]
        assert outside.empty, (ind.id, (low, high),
                               outside[["period", "value"]].to_dict("records"))


def test_rate_metrics_vary_between_areas_as_real_ones_do(values):
    """Areas spread around England, neither all the same nor absurdly far apart."""
    for ind in catalogue.INDICATORS:
        if ind.geography != "utla" or ind.ci_method == "none":
            continue
        rows = values[(values.indicator_id == ind.id) & values.area_code.str[:3]
                      .isin(["E06", "E08", "E09", "E10"])]
        latest = rows[rows.period_end == rows.period_end.max()].value.dropna()
        england = _england(values, ind.id, rows.loc[rows.period_end.idxmax(), "period"]).value
        ratio = latest.quantile(0.95) / latest.quantile(0.05)
        assert 1.1 < ratio < 6, (ind.id, ratio)
        assert latest.quantile(0.05) < england < latest.quantile(0.95), ind.id
