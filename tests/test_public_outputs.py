"""Public mode: no count from 1 to 4, and no figure built on one, reaches anything a viewer
can see or take away. Small-area map tooltips and the map payload are covered in
tests/test_geo.py; presentation and board pack sentences in tests/test_boardpack.py.

Method: find every (indicator, area, period) whose count is small in the demonstration
data, then check each output built for those areas shows nothing numeric for it."""

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from metrics import demo, store
from metrics.reference import catalogue
from metrics.render import charts
from metrics.views import explorer, overview

THRESHOLD = 5
UP_TO = dt.date(2026, 6, 30)
SMALL_AREAS = ["E06000053", "E09000001", "E06000017"]  # Scilly, City of London, Rutland


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    version = demo.build_demo(tmp_path_factory.mktemp("public"))
    values = store.all_area_values(version, [i.id for i in catalogue.INDICATORS])
    return version, values, store.areas(version)


def _small_keys(values: pd.DataFrame, area: str) -> pd.DataFrame:
    rows = values[values.area_code == area]
    disclosive = rows.indicator_id.map(lambda i: catalogue.get(i).disclosive)
    small = ((rows.numerator > 0) & (rows.numerator < THRESHOLD)) | (
        (rows.denominator - rows.numerator > 0) & (rows.denominator - rows.numerator < THRESHOLD))
    return rows[disclosive & small]


@pytest.mark.parametrize("area", SMALL_AREAS)
def test_figures_tables_and_their_csv_and_excel_downloads(published, area):
    _, values, areas = published
    small = _small_keys(values, area)
    assert len(small) > 0
    for indicator_id, group in small.groupby("indicator_id"):
        ind = catalogue.get(indicator_id)
        table = explorer.values_table(values, ind, [area, "E92000001"], areas, UP_TO,
                                      THRESHOLD)
        mine = table[table["Area code"] == area].set_index("Period")
        for period in group.period:
            if period not in mine.index:
                continue
            row = mine.loc[period]
            assert row["Count"] == "*", (indicator_id, period)
            assert pd.isna(row[f"Value ({ind.unit})"]) and pd.isna(row["Lower 95%"])
        # The downloads are these frames written out.
        csv = table.to_csv(index=False)
        buffer = io.BytesIO()
        table.to_excel(buffer, index=False)
        excel = pd.read_excel(io.BytesIO(buffer.getvalue()))
        counts = pd.to_numeric(excel["Count"], errors="coerce")
        assert not counts.between(1, THRESHOLD - 1).any()
        from_csv = pd.read_csv(io.StringIO(csv), dtype=str)
        marked = from_csv[(from_csv["Area code"] == area) & from_csv.Period.isin(group.period)]
        assert (marked["Count"] == "*").all(), indicator_id


@pytest.mark.parametrize("area", SMALL_AREAS)
def test_chart_data_and_tooltips_hold_nothing_built_on_a_small_count(published, area):
    _, values, areas = published
    small = _small_keys(values, area)
    name = areas.set_index("area_code").loc[area, "area_name"]
    for indicator_id, group in small.groupby("indicator_id"):
        ind = catalogue.get(indicator_id)
        trend = explorer.trend_series(values, ind, {area: name}, (), UP_TO, THRESHOLD)
        spec = charts.trend_chart(trend, ind.unit).to_dict(validate=False)
        rows = [r for d in spec.get("datasets", {}).values() for r in d]
        for period in group.period:
            for r in rows:
                if r.get("period") == period and r.get("line") == name:
                    assert r.get("value") is None or np.isnan(r["value"]), (indicator_id, period)
                    assert r.get("lower95") is None or np.isnan(r["lower95"])
        frame, _ = explorer.spc_frame(values, ind, area, UP_TO, THRESHOLD)
        if not frame.empty:
            hidden = frame[frame["period"].isin(group.period)]
            assert hidden["value"].isna().all(), indicator_id


def test_rankings_and_funnels_leave_suppressed_areas_out(published):
    _, values, areas = published
    for ind in catalogue.INDICATORS:
        if not ind.disclosive or ind.geography != "utla":
            continue
        period = explorer.latest_period(values, ind, UP_TO)
        ranking = explorer.area_ranking(values, ind, period, areas, "E10000013", (), THRESHOLD)
        raw = values[(values.indicator_id == ind.id) & (values.period == period)]
        small = raw[(raw.numerator > 0) & (raw.numerator < THRESHOLD)].area_code
        assert not set(small) & set(ranking.area_code), ind.id


@pytest.mark.parametrize("area", SMALL_AREAS)
def test_spine_rows_and_overview_cards(published, area):
    _, values, areas = published
    small = _small_keys(values, area)
    for outcome in catalogue.OUTCOMES:
        rows = explorer.spine_rows(values, outcome, area, areas, (), UP_TO, THRESHOLD)
        for _, row in rows.iterrows():
            hit = small[(small.indicator_id == row.indicator_id) & (small.period == row.period)]
            if len(hit):
                assert row.area_text == "*" and pd.isna(row.get("pos_area"))
        card = overview.outcome_card(outcome, values, area, areas, THRESHOLD)
        hit = small[(small.indicator_id == card.indicator.id) & (small.period == card.period)]
        if len(hit):
            assert card.value_text == "*" and card.suppressed
            assert card.change_text == ""


def test_public_mode_off_shows_the_counts_so_the_tests_above_can_fail(published):
    """With a threshold of 1 (public mode off) the same small counts do appear."""
    _, values, areas = published
    small = _small_keys(values, "E06000053").iloc[0]
    ind = catalogue.get(small.indicator_id)
    table = explorer.values_table(values, ind, ["E06000053"], areas, UP_TO, 1)
    row = table[(table["Area code"] == "E06000053") & (table.Period == small.period)].iloc[0]
    assert row["Count"] == int(small.numerator)


# --- Issue 11: one protection for every view -----------------------------------------------

@pytest.fixture(scope="module")
def protected(published):
    _, values, areas = published
    return explorer.protect(values, areas, catalogue.INDICATORS, THRESHOLD)


def _rows(spec):
    return [r for d in spec.get("datasets", {}).values() for r in d]


def test_ranking_and_funnel_charts_send_no_counts(published, protected):
    """Item 2: the 'All areas' datasets carried every area's numerator and denominator,
    so England's count minus theirs gave the hidden area's. Now the ranking sends no
    counts, the funnel only the denominators it draws, and values rounded as shown."""
    _, _, areas = published
    ind = catalogue.get("young_people_in_treatment")
    period = explorer.latest_period(protected, ind, UP_TO)
    ranking = explorer.area_ranking(protected, ind, period, areas, "E10000013", (), THRESHOLD)
    england = explorer.england_value(protected, ind, period)
    ranked = _rows(charts.ranked_chart(ranking, ind.unit, england).to_dict(validate=False))
    model = explorer.funnel_model(ind, ranking, england)
    funnel = _rows(charts.funnel_chart(model["points"], model["limits"], ind.unit, "d")
                   .to_dict(validate=False))
    assert ranked and funnel
    assert not any("numerator" in r or "denominator" in r for r in ranked)
    assert not any("numerator" in r for r in funnel)
    assert all(r["value"] == round(r["value"], 1) for r in ranked if r.get("value") is not None)
    # And the areas left out are never one alone: England minus those shown is no count.
    raw = protected[(protected.indicator_id == ind.id) & (protected.period == period)]
    hidden = raw[raw.area_code.str[:3].isin(explorer.LEVEL_PREFIXES["utla"]) & raw.suppressed]
    assert len(hidden) >= 2 or hidden.empty


def test_england_map_hides_small_complements():
    """Item 3: 70.0% of 10 shows that 3 did not engage."""
    from metrics import geo
    ind = catalogue.get("continuity_of_care")
    areas = pd.DataFrame({"area_code": ["E92000001", "E09000001"],
                          "area_name": ["England", "City of London"],
                          "area_type": ["country", "utla"], "pfa_code": ["", ""],
                          "pfa_name": ["", ""]})
    values = pd.DataFrame({
        "indicator_id": ind.id, "area_code": ["E92000001", "E09000001"],
        "period": "12 months to 2025/26 Q1", "period_kind": "rolling_12m",
        "period_end": pd.Timestamp("2025-06-30"), "numerator": [500.0, 7.0],
        "denominator": [1000.0, 10.0], "value": [50.0, 70.0], "lower95": [47.0, 39.7],
        "upper95": [53.0, 89.2], "lower998": [45.0, 30.0], "upper998": [55.0, 93.0]})
    row = geo.area_map_values(values, ind, areas, THRESHOLD).set_index("area_code") \
        .loc["E09000001"]
    assert row["suppressed"] and np.isnan(row["value"]) and row["value_text"] == "*"


def test_figures_tables_print_no_small_denominator(published, protected):
    """Item 4: Isles of Scilly continuity showed 1 and 3 prison leavers."""
    _, values, areas = published
    ind = catalogue.get("continuity_of_care")
    raw = explorer.metric_rows(values, ind)
    small = raw[(raw.area_code == "E06000053") & raw.denominator.between(1, THRESHOLD - 1)]
    assert len(small)
    table = explorer.values_table(protected, ind, ["E06000053", "E92000001"], areas, UP_TO,
                                  THRESHOLD)
    mine = table[table["Area code"] == "E06000053"]
    denominators = pd.to_numeric(mine["Denominator"], errors="coerce")
    assert not denominators.between(1, THRESHOLD - 1).any()
    assert (mine.loc[mine.Period.isin(small.period), "Denominator"] == "*").all()


def test_comparator_average_uses_shown_figures_rounded_as_displayed(published, protected):
    """Item 6: a full-precision pooled line gave a member's hidden quarter back."""
    ind = catalogue.get("completions_opiate")
    group = ("E06000053", "E09000001", "E06000017", "E06000001", "E06000005")
    series = explorer.trend_series(protected, ind, {"E10000013": "Gloucestershire"}, group,
                                   UP_TO, THRESHOLD)
    pooled = series[series.line == "Comparator average"]
    assert len(pooled)
    rows = explorer.metric_rows(protected, ind)
    for r in pooled.itertuples():
        if pd.isna(r.value):           # every member hidden that quarter
            continue
        assert r.value == round(r.value, 1)
        members = rows[(rows.period == r.period) & rows.area_code.isin(group)
                       & ~rows.suppressed]
        expected = members.numerator.sum() / members.denominator.sum() * 100
        assert abs(r.value - expected) <= 0.05 + 1e-9
