"""metrics.stats.disclosure: one protection of the area totals for every view, and breakdown
suppression that does not depend on row order."""

import itertools

import numpy as np
import pandas as pd
import pytest

from metrics.reference import catalogue
from metrics.stats import disclosure

THRESHOLD = 5
ENGLAND = "E92000001"


def _areas():
    """England, two regions of three areas each."""
    rows = [(ENGLAND, "England", "country", "", "")]
    for region, codes in (("E12000001", ["E06000001", "E06000002", "E06000003"]),
                          ("E12000002", ["E06000004", "E06000005", "E06000006"])):
        rows.append((region, region, "region", "", ""))
        rows += [(c, c, "utla", region, "") for c in codes]
    return pd.DataFrame(rows, columns=["area_code", "area_name", "area_type", "region_code",
                                       "pfa_code"])


def _values(indicator_id, counts: dict, period="2025/26", kind="financial_year"):
    """Area rows from {area: (numerator, denominator)}, with England and regions as sums."""
    areas = _areas()
    region_of = areas.set_index("area_code")["region_code"]
    totals = dict(counts)
    for region in ("E12000001", "E12000002"):
        members = [c for c in counts if region_of.get(c) == region]
        totals[region] = tuple(sum(counts[c][i] for c in members) for i in (0, 1))
    totals[ENGLAND] = tuple(sum(counts[c][i] for c in counts) for i in (0, 1))
    return pd.DataFrame([{
        "indicator_id": indicator_id, "area_code": code, "period": period,
        "period_kind": kind, "period_start": pd.Timestamp("2025-04-01"),
        "period_end": pd.Timestamp("2026-03-31"), "numerator": float(n),
        "denominator": float(d), "value": n / d * 100, "lower95": n / d * 90,
        "upper95": n / d * 110, "lower998": n / d * 80, "upper998": n / d * 120,
        "value_note": None} for code, (n, d) in totals.items()])


WILSON = catalogue.get("deaths_in_treatment")          # a % of a count of people
POPULATION = catalogue.get("drug_poisoning_admissions")  # a rate per 100,000


def _hidden(protected):
    return set(protected.loc[protected["suppressed"], "area_code"])


def test_england_minus_the_areas_shown_never_isolates_a_hidden_area():
    counts = {"E06000001": (3, 40), "E06000002": (50, 400), "E06000003": (60, 500),
              "E06000004": (70, 600), "E06000005": (80, 700), "E06000006": (90, 800)}
    values = _values(WILSON.id, counts)
    protected = disclosure.protect_area_values(values, _areas(), [WILSON], THRESHOLD)
    hidden = _hidden(protected)
    assert "E06000001" in hidden
    for total, members in ((ENGLAND, list(counts)),
                           ("E12000001", ["E06000001", "E06000002", "E06000003"])):
        shown = [c for c in members if c not in hidden]
        missing = [c for c in members if c in hidden]
        # Subtraction leaves at least two unknowns, adding up to 5 or more.
        assert len(missing) >= 2
        assert sum(counts[c][0] for c in missing) >= THRESHOLD
        assert total not in hidden and shown
    row = protected.set_index("area_code").loc["E06000001"]
    assert pd.isna(row["numerator"]) and pd.isna(row["value"]) and pd.isna(row["upper95"])
    assert row["value_note"] == disclosure.NOTE


def test_a_small_complement_or_denominator_is_hidden_too():
    counts = {"E06000001": (7, 10), "E06000002": (0, 3), "E06000003": (60, 500),
              "E06000004": (70, 600), "E06000005": (80, 700), "E06000006": (90, 800)}
    protected = disclosure.protect_area_values(_values(WILSON.id, counts), _areas(),
                                               [WILSON], THRESHOLD).set_index("area_code")
    assert protected.loc["E06000001", "suppressed"]             # 70% of 10: 3 did not
    assert pd.isna(protected.loc["E06000001", "value"])
    assert protected.loc["E06000002", "denominator_hidden"]     # 3 people at all
    assert pd.isna(protected.loc["E06000002", "denominator"])


def test_population_denominators_stay_and_only_counts_are_protected():
    counts = {"E06000001": (2, 40_000), "E06000002": (50, 400_000),
              "E06000003": (60, 500_000), "E06000004": (70, 600_000),
              "E06000005": (80, 700_000), "E06000006": (90, 800_000)}
    protected = disclosure.protect_area_values(_values(POPULATION.id, counts), _areas(),
                                               [POPULATION], THRESHOLD)
    assert not protected["denominator_hidden"].any()
    assert protected["denominator"].notna().all()
    assert len(_hidden(protected)) >= 2


def test_public_mode_off_hides_nothing():
    counts = {"E06000001": (3, 40), "E06000002": (50, 400), "E06000003": (60, 500),
              "E06000004": (70, 600), "E06000005": (80, 700), "E06000006": (90, 800)}
    values = _values(WILSON.id, counts)
    protected = disclosure.protect_area_values(values, _areas(), [WILSON], 1)
    assert not protected["suppressed"].any()
    pd.testing.assert_frame_equal(protected[values.columns], values)


def test_the_result_does_not_depend_on_row_order():
    counts = {"E06000001": (3, 40), "E06000002": (9, 90), "E06000003": (9, 90),
              "E06000004": (9, 90), "E06000005": (9, 90), "E06000006": (9, 90)}
    values = _values(WILSON.id, counts)
    first = _hidden(disclosure.protect_area_values(values, _areas(), [WILSON], THRESHOLD))
    reverse = _hidden(disclosure.protect_area_values(values.iloc[::-1], _areas(), [WILSON],
                                                     THRESHOLD))
    assert first == reverse


def test_a_quarter_hidden_hides_the_areas_quarters_when_rolling_figures_exist():
    ind = catalogue.get("continuity_of_care")
    counts = {"E06000001": (20, 40), "E06000002": (50, 400), "E06000003": (60, 500),
              "E06000004": (70, 600), "E06000005": (80, 700), "E06000006": (90, 800)}
    quarters = []
    for q, period in enumerate(["2025/26 Q1", "2025/26 Q2"]):
        these = dict(counts)
        if q == 1:
            these["E06000001"] = (2, 10)
        quarters.append(_values(ind.id, these, period, "quarter"))
    rolling = _values(ind.id, counts, "12 months to 2025/26 Q2", "rolling_12m")
    values = pd.concat([*quarters, rolling], ignore_index=True)
    protected = disclosure.protect_area_values(values, _areas(), [ind], THRESHOLD)
    own = protected[(protected["area_code"] == "E06000001")]
    assert own.loc[own["period_kind"] == "quarter", "suppressed"].all()   # both quarters
    assert not own.loc[own["period_kind"] == "rolling_12m", "suppressed"].any()
    # Every quarter that hides an area hides a second one in England and its region.
    for period in ("2025/26 Q1", "2025/26 Q2"):
        hidden = _hidden(protected[protected["period"] == period])
        assert len(hidden & {"E06000001", "E06000002", "E06000003"}) >= 2


def test_breakdown_suppression_is_the_same_in_any_row_order():
    """Issue 11, item 15: with tied counts the cells hidden depended on the rows' order,
    so two outputs of one table, suppressed in different orders, could be compared."""
    names = ["Opiate", "Non-opiate only", "Non-opiate and alcohol", "Alcohol only"]
    numerators = {"Opiate": 2, "Non-opiate only": 10, "Non-opiate and alcohol": 10,
                  "Alcohol only": 10}
    denominators = {"Opiate": 9, "Non-opiate only": 20, "Non-opiate and alcohol": 20,
                    "Alcohol only": 20}
    outcomes = set()
    for order in itertools.permutations(names):
        table = disclosure.suppress_breakdown(
            [numerators[c] for c in order], [denominators[c] for c in order],
            sum(numerators.values()), sum(denominators.values()), THRESHOLD,
            categories=list(order))
        hidden = frozenset(c for c, h in zip(order, table["rate_hidden"]) if h)
        assert "Opiate" in hidden and len(hidden) >= 2
        outcomes.add(hidden)
    assert len(outcomes) == 1, outcomes


def test_continuity_breakdowns_pass_their_category_names():
    from metrics.views import continuity as cc
    rows = pd.DataFrame({
        "area_code": "E06000001", "period": "p", "breakdown": "substance",
        "category": ["Opiate", "Non-opiate only", "Non-opiate and alcohol", "Alcohol only"],
        "numerator": [2.0, 10, 10, 10], "denominator": [9.0, 20, 20, 20],
        "value": [22.2, 50, 50, 50], "lower95": np.nan, "upper95": np.nan,
        "lower998": np.nan, "upper998": np.nan})
    total = pd.Series({"numerator": 32.0, "denominator": 69.0, "value": 46.4})
    first = cc.breakdown_table(rows, total, "E06000001", "p", "substance", THRESHOLD)
    second = cc.breakdown_table(rows.iloc[::-1], total, "E06000001", "p", "substance",
                                THRESHOLD)
    hidden = [set(t.loc[t["suppressed"], "category"]) for t in (first, second)]
    assert hidden[0] == hidden[1]


@pytest.mark.parametrize("threshold", [5, 1])
def test_no_small_cells_means_nothing_hidden(threshold):
    counts = {c: (50 + i, 500 + i) for i, c in enumerate(
        ["E06000001", "E06000002", "E06000003", "E06000004", "E06000005", "E06000006"])}
    protected = disclosure.protect_area_values(_values(WILSON.id, counts), _areas(),
                                               [WILSON], threshold)
    assert not protected["suppressed"].any()
