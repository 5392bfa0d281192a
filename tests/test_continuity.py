"""Continuity of care: the target arithmetic checked by hand, the demonstration
breakdowns adding up, secondary suppression that cannot be undone by subtraction, and
the page running headless.

The suppression tests use an independent oracle: a linear programme (scipy) that, for
every suppressed count, finds the smallest and largest values consistent with everything
a viewer can see (the shown counts, and every "total = sum of parts" relation, counts
never negative). A count is safe only if at least two values remain possible.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from streamlit.testing.v1 import AppTest

from metrics.views import continuity as cc
from metrics import demo, store
from metrics.stats import disclosure

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP = PROJECT_ROOT / "app.py"
GLOUCESTERSHIRE = "E10000013"
TARGET, TARGET_DATE = 0.75, dt.date(2025, 3, 31)
THRESHOLD = 5
TOTALS_BREAKDOWNS = ("prison", "substance", "sex", "age")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return demo.build_demo(tmp_path_factory.mktemp("cc_demo"))


@pytest.fixture(scope="module")
def values(published):
    return pd.read_parquet(published.path / "values.parquet")


@pytest.fixture(scope="module")
def continuity(values):
    return values[values["indicator_id"] == "continuity_of_care"]


@pytest.fixture(scope="module")
def totals(continuity):
    return continuity[continuity["breakdown"].isna()]


@pytest.fixture(scope="module")
def breakdowns(continuity):
    return continuity[continuity["breakdown"].notna()]


# --- The target arithmetic, by hand, for Gloucestershire ----------------------------------

def _gloucestershire(totals, up_to):
    return cc.protect_series(totals, GLOUCESTERSHIRE, up_to, THRESHOLD)


def test_people_short_and_gap_for_gloucestershire_by_hand(totals):
    protected = _gloucestershire(totals, dt.date(2026, 6, 30))
    latest = protected[protected["period_kind"] == "rolling_12m"].iloc[-1]
    # The demo data: 133 of 515 prison leavers engaged within 3 weeks in the 12 months
    # to 2026/27 Q1.
    assert latest["period"] == "12 months to 2026/27 Q1"
    assert (latest["numerator"], latest["denominator"]) == (133, 515)
    areas = demo.load_areas()
    head = cc.headline(totals, protected, GLOUCESTERSHIRE, "Gloucestershire", areas, (),
                       TARGET, TARGET_DATE, dt.date(2026, 6, 30), THRESHOLD)
    # Rate: 133 / 515 = 0.258252... = 25.83%.
    assert head.rolling.rate == pytest.approx(25.8252, abs=1e-4)
    # Gap: 75 - 25.8252 = 49.1748 percentage points.
    assert head.gap_points == pytest.approx(49.1748, abs=1e-4)
    # People short: 75% of 515 = 386.25, rounded up to whole people = 387 engagements
    # needed; 387 - 133 = 254 more people.
    assert head.people_short == 254
    assert head.region.label == "South West"


def test_trajectory_after_the_target_date_for_gloucestershire_by_hand(totals):
    protected = _gloucestershire(totals, dt.date(2026, 6, 30))
    path = cc.trajectory(protected, "Gloucestershire", TARGET, TARGET_DATE,
                         today=dt.date(2026, 11, 22))
    # The target is judged on the 12 months ending 31 March 2025 = 2024/25 Q4, which
    # the data reach: the date has passed.
    assert path.passed and path.target_period == "12 months to 2024/25 Q4"
    # Then: 130 of 495 = 26.2626%; gap 75 - 26.2626 = 48.7374 points;
    # 75% of 495 = 371.25 -> 372 needed; 372 - 130 = 242 people short.
    assert path.at_target_rate == pytest.approx(26.2626, abs=1e-4)
    assert path.at_target_gap == pytest.approx(48.7374, abs=1e-4)
    assert path.at_target_people_short == 242
    # Now: 133 of 515 -> 49.1748 points, 254 people short (as the headline).
    assert path.now_gap == pytest.approx(49.1748, abs=1e-4)
    assert path.now_people_short == 254
    # Recent pace: 12 months to 2025/26 Q1 was 134 / 488 = 27.4590%;
    # (25.8252 - 27.4590) / 4 = -0.4085 points a quarter: it would never get there.
    assert path.recent_pace == pytest.approx(-0.4085, abs=1e-4)
    assert path.projected_period is None
    # Drawn as the gap at the target date: from 26.26% up to 75% at 31 March 2025.
    assert list(path.frame["value"]) == pytest.approx([26.2626, 75.0], abs=1e-4)
    assert set(path.frame["period_end"]) == {pd.Timestamp("2025-03-31")}
    assert "has passed" in path.words and "242 people" in path.words


def test_trajectory_before_the_target_date_for_gloucestershire_by_hand(totals):
    # Looking from 2023/24 Q2 (the period selector set to September 2023).
    protected = _gloucestershire(totals, dt.date(2023, 9, 30))
    path = cc.trajectory(protected, "Gloucestershire", TARGET, TARGET_DATE,
                         today=dt.date(2023, 11, 1))
    assert not path.passed
    # Latest: 101 of 501 = 20.1597% in the 12 months to 2023/24 Q2.
    assert path.latest_rate == pytest.approx(20.1597, abs=1e-4)
    # Quarters to the target's quarter: 2023/24 Q3, Q4, 2024/25 Q1, Q2, Q3, Q4 = 6.
    assert path.quarters_left == 6
    # Needed: (75 - 20.1597) / 6 = 54.8403 / 6 = 9.1401 points a quarter.
    assert path.needed_per_quarter == pytest.approx(9.1401, abs=1e-4)
    # Drawn from the latest point to 75% at 31 March 2025 in 6 equal steps.
    assert len(path.frame) == 7
    assert path.frame["value"].iloc[0] == pytest.approx(20.1597, abs=1e-4)
    assert path.frame["value"].iloc[-1] == pytest.approx(75.0)
    assert path.frame["period_end"].iloc[-1] == pd.Timestamp("2025-03-31")
    # Pace: 12 months to 2022/23 Q2 was 72 / 498 = 14.4578%;
    # (20.1597 - 14.4578) / 4 = 1.4255 points a quarter. At that pace the gap of
    # 54.8403 points takes ceil(54.8403 / 1.4255) = ceil(38.47) = 39 quarters:
    # 2023/24 Q2 + 39 quarters = 2033/34 Q1.
    assert path.recent_pace == pytest.approx(1.4255, abs=1e-4)
    assert path.projected_period == "12 months to 2033/34 Q1"
    assert "9.1 percentage points a quarter" in path.words


def test_trajectory_when_the_target_is_met_and_when_the_latest_figure_is_hidden():
    def rows(engaged, released):
        out = []
        for i, (n, d) in enumerate(zip(engaged, released)):
            q = cc._quarter(2023 * 4 + i)
            out.append({"indicator_id": "continuity_of_care", "area_code": "E06000001",
                        "period": f"12 months to {q.label}", "period_kind": "rolling_12m",
                        "period_end": q.end, "numerator": n, "denominator": d,
                        "value": n / d * 100, "suppressed": False})
        return pd.DataFrame(out)

    met = cc.trajectory(rows([70, 80], [100, 100]), "Hartlepool", TARGET, TARGET_DATE)
    assert met.needed_per_quarter == 0 and met.frame.empty and "already" in met.words
    hidden = rows([70, 3], [100, 100])
    hidden.loc[1, ["value", "suppressed"]] = [np.nan, True]
    blank = cc.trajectory(hidden, "Hartlepool", TARGET, TARGET_DATE)
    assert blank.latest_rate is None and "suppressed" in blank.words


def test_target_quarter_is_the_last_quarter_ending_by_the_date():
    assert cc.target_quarter(dt.date(2025, 3, 31)).label == "2024/25 Q4"
    assert cc.target_quarter(dt.date(2025, 2, 15)).label == "2024/25 Q3"
    assert cc.target_quarter(dt.date(2026, 6, 30)).label == "2026/27 Q1"


# --- The demonstration breakdowns add up ------------------------------------------------

def test_every_breakdown_is_published_for_every_area_and_period(totals, breakdowns):
    keys = totals[["area_code", "period"]].drop_duplicates()
    for breakdown in (*TOTALS_BREAKDOWNS, "pathway"):
        have = breakdowns.loc[breakdowns["breakdown"] == breakdown,
                              ["area_code", "period"]].drop_duplicates()
        assert len(have) == len(keys), breakdown
    assert set(breakdowns.loc[breakdowns["breakdown"] == "substance", "category"]) == \
        set(cc.CATEGORY_ORDER["substance"])
    assert set(breakdowns.loc[breakdowns["breakdown"] == "pathway", "category"]) == \
        set(cc.PATHWAY_OUTCOMES)
    prisons = set(breakdowns.loc[breakdowns["breakdown"] == "prison", "category"])
    assert {"HMP Bristol", "HMP Eastwood Park", "HMP Leyhill"} <= prisons
    assert cc.OTHER_PRISONS in prisons


@pytest.mark.parametrize("breakdown", TOTALS_BREAKDOWNS)
def test_breakdown_rows_add_up_to_the_area_totals(totals, breakdowns, breakdown):
    """Every area, region and England, every quarter and rolling 12 months: the
    categories' numerators and denominators sum exactly to the total's."""
    parts = breakdowns[breakdowns["breakdown"] == breakdown]
    summed = parts.groupby(["area_code", "period"])[["numerator", "denominator"]].sum()
    whole = totals.set_index(["area_code", "period"])[["numerator", "denominator"]]
    joined = whole.merge(summed, left_index=True, right_index=True, how="outer",
                         suffixes=("", "_parts"))
    assert len(joined) == len(whole) and joined.notna().all().all()
    assert (joined["numerator"] == joined["numerator_parts"]).all()
    assert (joined["denominator"] == joined["denominator_parts"]).all()
    assert (parts["numerator"] <= parts["denominator"]).all()


def test_pathway_outcomes_add_up_to_the_leavers(totals, breakdowns):
    """Pathway rows hold people with each outcome over all leavers: the outcomes add up
    to the leavers, every denominator is the leavers, and "engaged within 3 weeks" is
    the measure's numerator."""
    path = breakdowns[breakdowns["breakdown"] == "pathway"]
    whole = totals.set_index(["area_code", "period"])
    summed = path.groupby(["area_code", "period"])["numerator"].sum()
    assert (summed.reindex(whole.index) == whole["denominator"]).all()
    dens = path.set_index(["area_code", "period"])["denominator"]
    assert (dens == whole["denominator"].reindex(dens.index)).all()
    engaged = path[path["category"] == "Engaged within 3 weeks"] \
        .set_index(["area_code", "period"])["numerator"]
    assert (engaged == whole["numerator"].reindex(engaged.index)).all()


def test_rolling_breakdowns_are_sums_of_their_quarters_and_regions_of_their_areas(
        breakdowns):
    rows = breakdowns[(breakdowns["area_code"] == GLOUCESTERSHIRE)
                      & (breakdowns["breakdown"] == "substance")].set_index(
        ["category", "period"])
    quarters = ["2025/26 Q2", "2025/26 Q3", "2025/26 Q4", "2026/27 Q1"]
    for category in cc.CATEGORY_ORDER["substance"]:
        assert rows.loc[(category, "12 months to 2026/27 Q1"), "denominator"] == \
            sum(rows.loc[(category, q), "denominator"] for q in quarters)
    areas = demo.load_areas().set_index("area_code")
    sex = breakdowns[(breakdowns["breakdown"] == "sex")
                     & (breakdowns["period"] == "12 months to 2026/27 Q1")]
    local = sex[sex["area_code"].str[:3].isin(cc.UTLA_PREFIXES)]
    by_region = local.groupby([local["area_code"].map(areas["region_code"]),
                               "category"])["numerator"].sum()
    regions = sex[sex["area_code"].str.startswith("E12")].set_index(
        ["area_code", "category"])["numerator"]
    assert (by_region.reindex(regions.index) == regions).all()


def test_demo_breakdowns_are_plausible(breakdowns):
    latest = breakdowns[breakdowns["period"] == "12 months to 2026/27 Q1"]
    england = latest[latest["area_code"] == cc.ENGLAND].set_index(["breakdown", "category"])
    share = england["denominator"] / england.groupby(level=0)["denominator"].transform("sum")
    assert 0.05 < share[("sex", "Female")] < 0.15
    rate = england["numerator"] / england["denominator"]
    assert rate[("substance", "Opiate")] > rate[("substance", "Alcohol only")]
    # Women's prisons release few people into any one area.
    womens = latest[(latest["breakdown"] == "prison")
                    & latest["area_code"].str[:3].isin(cc.UTLA_PREFIXES)
                    & latest["category"].isin(demo.WOMENS_PRISONS)]
    assert womens["denominator"].sum() < 0.12 * england.loc["prison", "denominator"].sum()


# --- Secondary suppression -----------------------------------------------------------------

def feasible_range(counts: dict, relations: list, hidden: set) -> dict:
    """For each hidden cell with a count, the (min, max) a viewer could deduce: a
    linear programme over the hidden cells, non-negative, subject to every relation with
    the shown cells filled in. Independent of metrics.stats.disclosure."""
    keys = sorted(hidden, key=str)
    index = {k: i for i, k in enumerate(keys)}
    a_eq, b_eq = [], []
    for total, parts in relations:
        row, rhs = np.zeros(len(keys)), 0.0
        for key, sign in [(total, 1.0)] + [(p, -1.0) for p in parts]:
            if key in index:
                row[index[key]] += sign
            else:
                rhs -= sign * counts[key]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    out = {}
    for key in keys:
        if not counts.get(key):
            continue
        bounds = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(keys))
            c[index[key]] = sign
            result = linprog(c, A_eq=np.array(a_eq) if a_eq else None,
                             b_eq=np.array(b_eq) if b_eq else None,
                             bounds=[(0, None)] * len(keys), method="highs")
            assert result.status in (0, 3), result.message   # 3: unbounded above
            bounds.append(sign * result.fun if result.status == 0 else math.inf)
        out[key] = tuple(bounds)
    return out


def breakdown_cells(n, d):
    counts = {("n", "total"): sum(n), ("d", "total"): sum(d),
              ("m", "total"): sum(d) - sum(n)}
    relations = [(("d", "total"), [("n", "total"), ("m", "total")])]
    for i, (num, den) in enumerate(zip(n, d)):
        counts |= {("n", i): num, ("d", i): den, ("m", i): den - num}
        relations.append((("d", i), [("n", i), ("m", i)]))
    for kind in "nmd":
        relations.append(((kind, "total"), [(kind, i) for i in range(len(n))]))
    return counts, relations


def hidden_cells(n, d, total_hidden=False):
    table = disclosure.suppress_breakdown(n, d, sum(n), sum(d), THRESHOLD,
                                          total_hidden=total_hidden)
    hidden = set()
    for i, row in table.iterrows():
        if row["numerator_hidden"]:
            hidden.add(("n", i))
        if row["denominator_hidden"]:
            hidden.add(("d", i))
        if row["rate_hidden"]:
            hidden.add(("m", i))   # the rate would give away the complement
    if table.attrs["total_hidden"] or total_hidden:
        hidden |= {("n", "total"), ("m", "total")}
    if table.attrs["total_denominator_hidden"]:
        hidden.add(("d", "total"))
    return table, hidden


def assert_nothing_recoverable(counts, relations, hidden):
    shown_small = [k for k, v in counts.items() if k not in hidden and 0 < v < THRESHOLD]
    assert not shown_small, f"small counts shown: {shown_small}"
    for key, (low, high) in feasible_range(counts, relations, hidden).items():
        assert high - low >= 1 - 1e-7, \
            f"{key} = {counts[key]} can be worked out: only {low:g} to {high:g} possible"


def test_the_oracle_catches_primary_suppression_alone():
    """Hiding only Female: 3 engaged leaves it as the total minus Male: the check that
    the tests below rely on must see that."""
    counts, relations = breakdown_cells([100, 3], [200, 40])
    with pytest.raises(AssertionError, match="can be worked out"):
        assert_nothing_recoverable(counts, relations, {("n", 1), ("m", 1)})


def test_a_small_category_hides_a_sibling_too():
    # Female 3 engaged of 40: Female is suppressed, and so is Male (else 103 - 100 = 3).
    table, hidden = hidden_cells([100, 3], [200, 40])
    assert table["rate_hidden"].tolist() == [True, True]
    assert not table["denominator_hidden"].any()   # released counts are not small
    counts, relations = breakdown_cells([100, 3], [200, 40])
    assert_nothing_recoverable(counts, relations, hidden)


def test_a_small_not_engaged_count_is_protected_like_a_small_engaged_count():
    # 38 of 40 engaged: 2 did not engage, which the rate would give away.
    table, hidden = hidden_cells([100, 38, 30], [200, 40, 60])
    assert table.loc[1, "rate_hidden"] and table["rate_hidden"].sum() >= 2
    counts, relations = breakdown_cells([100, 38, 30], [200, 40, 60])
    assert_nothing_recoverable(counts, relations, hidden)


def test_nothing_is_hidden_when_nothing_is_small():
    table, hidden = hidden_cells([50, 30, 20], [100, 60, 40])
    assert not hidden and not table["rate_hidden"].any()


def test_a_relation_can_ask_for_its_total_to_be_hidden_first():
    counts = {"year": 60, "q1": 3, "q2": 20, "q3": 17, "q4": 20}
    parts = ["q1", "q2", "q3", "q4"]
    assert disclosure.protect(counts, [("year", parts)], THRESHOLD) == {"q1", "q3"}
    assert disclosure.protect(counts, [("year", parts, True)], THRESHOLD) == {"q1", "year"}


@pytest.mark.parametrize("seed", range(150))
def test_no_suppressed_count_can_be_worked_out_in_random_tables(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    d = rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40, 120], size=k).astype(float)
    n = np.floor(d * rng.uniform(0, 1, size=k)).astype(float)
    total_hidden = bool(rng.integers(0, 4) == 0)
    _, hidden = hidden_cells(n.tolist(), d.tolist(), total_hidden=total_hidden)
    counts, relations = breakdown_cells(n.tolist(), d.tolist())
    assert_nothing_recoverable(counts, relations, hidden)


def test_no_suppressed_count_can_be_worked_out_in_the_demo_breakdowns(totals, breakdowns):
    """Every area's breakdowns for the latest 12 months, as the page shows them."""
    period = "12 months to 2026/27 Q1"
    latest = breakdowns[breakdowns["period"] == period]
    checked = suppressed = 0
    for (area, breakdown), rows in latest[latest["area_code"].str[:3].isin(
            cc.UTLA_PREFIXES)].groupby(["area_code", "breakdown"]):
        if breakdown == "pathway":
            continue
        total = totals[(totals["area_code"] == area) & (totals["period"] == period)].iloc[0]
        total_hidden = disclosure.is_small(total["numerator"], THRESHOLD) or \
            disclosure.is_small(total["denominator"] - total["numerator"], THRESHOLD)
        table = cc.breakdown_table(latest, total, area, period, breakdown, THRESHOLD,
                                   total_hidden=total_hidden)
        n, d = rows["numerator"].tolist(), rows["denominator"].tolist()
        counts, relations = breakdown_cells(n, d)
        order = {c: i for i, c in enumerate(rows["category"])}
        hidden = set()
        for _, row in table.iterrows():
            i = order[row["category"]]
            if pd.isna(row["engaged"]):
                hidden.add(("n", i))
            if pd.isna(row["released"]):
                hidden.add(("d", i))
            if row["suppressed"]:
                hidden.add(("m", i))
        if total_hidden:
            hidden |= {("n", "total"), ("m", "total")}
        assert_nothing_recoverable(counts, relations, hidden)
        checked += 1
        suppressed += len(hidden)
    assert checked == 153 * 4 and suppressed > 50   # small counts do occur


def test_pathway_hides_enough_that_nothing_small_can_be_worked_out(totals, breakdowns):
    period = "12 months to 2026/27 Q1"
    latest = breakdowns[(breakdowns["period"] == period)
                        & (breakdowns["breakdown"] == "pathway")]
    relations = [("released", ["referred", "not_referred"]),
                 ("referred", ["engaged", "later", "referred_not_engaged"]),
                 ("released", ["engaged", "not_engaged_3w"]),
                 ("not_engaged_3w", ["later", "referred_not_engaged", "not_referred"])]
    hid_any = 0
    for area in latest["area_code"].unique():
        if area[:3] not in cc.UTLA_PREFIXES:
            continue
        total = totals[(totals["area_code"] == area) & (totals["period"] == period)].iloc[0]
        small_total = disclosure.is_small(total["numerator"], THRESHOLD) or \
            disclosure.is_small(total["denominator"] - total["numerator"], THRESHOLD)
        stages = cc.pathway(latest, total, area, period, THRESHOLD, TARGET,
                            total_hidden=small_total)
        counts = dict(zip(stages["key"], [float(v) if v is not None else None
                                          for v in stages["count"]]))
        true = latest[latest["area_code"] == area].set_index("category")["numerator"]
        counts = {"released": total["denominator"], "engaged": true["Engaged within 3 weeks"],
                  "later": true["Engaged after 3 weeks"],
                  "referred_not_engaged": true["Referred, not engaged"],
                  "not_referred": true["Not referred"]}
        counts["referred"] = counts["engaged"] + counts["later"] + counts["referred_not_engaged"]
        counts["not_engaged_3w"] = counts["released"] - counts["engaged"]
        hidden = set(stages.loc[stages["suppressed"], "key"])
        if small_total:
            hidden |= {"engaged", "not_engaged_3w"}
        hid_any += bool(hidden)
        assert_nothing_recoverable(counts, relations, hidden)
    assert hid_any > 5


def series_cells(rows: pd.DataFrame):
    """Cells and relations of an area's quarters and rolling 12 months, built here
    independently: rolling = the sum of its four quarters (quarters before the series
    are unknown), released = engaged + not engaged."""
    counts, relations = {}, []
    labels = set(rows["period"])
    for _, r in rows.iterrows():
        p = r["period"]
        counts |= {("n", p): r["numerator"], ("d", p): r["denominator"],
                   ("m", p): r["denominator"] - r["numerator"]}
        relations.append((("d", p), [("n", p), ("m", p)]))
        if r["period_kind"] == "rolling_12m":
            end = r["period_end"]
            quarters = []
            for back in range(4):
                month = pd.Timestamp(end) - pd.DateOffset(months=3 * back)
                quarters.append(cc.periods.quarter_of(month.date()).label)
            for cell in "nmd":
                relations.append(((cell, p), [(cell, q) for q in quarters]))
                for q in quarters:
                    if q not in labels:
                        counts[(cell, q)] = None   # before the series: unknown
    return counts, relations


def assert_series_protected(totals, area):
    up_to = dt.date(2026, 6, 30)
    raw = totals[(totals["area_code"] == area)
                 & totals["period_kind"].isin(["quarter", "rolling_12m"])
                 & (pd.to_datetime(totals["period_end"]) <= pd.Timestamp(up_to))]
    protected = cc.protect_series(totals, area, up_to, THRESHOLD).set_index("period")
    counts, relations = series_cells(raw)
    hidden = {k for k, v in counts.items() if v is None}
    for p, r in protected.iterrows():
        if r["suppressed"]:
            hidden |= {("n", p), ("m", p)}
        if r["denominator_hidden"]:
            hidden.add(("d", p))
    known = {k: (0.0 if v is None else v) for k, v in counts.items()}
    # Unknown quarters before the series are free variables, not counts to protect.
    ranges = feasible_range({k: v for k, v in known.items()},
                            relations, hidden)
    for key, (low, high) in ranges.items():
        if counts[key] is None:
            continue
        assert high - low >= 1 - 1e-7, \
            f"{area} {key} = {counts[key]} can be worked out: only {low:g} to {high:g}"
    shown_small = [k for k, v in counts.items() if v is not None and k not in hidden
                   and 0 < v < THRESHOLD]
    assert not shown_small, f"{area}: small counts shown: {shown_small}"
    return protected


@pytest.mark.parametrize("area", ["E06000017", "E06000023", "E06000001", "E09000001",
                                  "E06000053", "E08000004", "E09000012", "E06000055"])
def test_no_suppressed_quarter_can_be_worked_out_from_the_rolling_figures(totals, area):
    """Rutland, Bristol, Hartlepool, City of London, Isles of Scilly and others with
    small quarters: no hidden count of any quarter or 12 months can be worked out from
    the shown ones, given that each 12 months is the sum of its four quarters."""
    protected = assert_series_protected(totals, area)
    quarters = protected[protected["period_kind"] == "quarter"]
    assert quarters["suppressed"].all() and quarters["denominator"].isna().all()


def test_quarters_stay_hidden_whatever_period_is_chosen(totals):
    """Hartlepool's small quarters come late (2023/24 Q4); looking from 2021/22 must
    not show the earlier quarters, or the two views together would give them away."""
    early = cc.protect_series(totals, "E06000001", dt.date(2022, 3, 31), THRESHOLD)
    assert early["quarters_hidden"].all()
    assert early.loc[early["period_kind"] == "quarter", "numerator"].isna().all()
    assert early.loc[early["period_kind"] == "rolling_12m", "numerator"].notna().any()


def test_nothing_is_hidden_for_an_area_without_small_counts(totals):
    assert not cc.protect_series(totals, GLOUCESTERSHIRE, dt.date(2026, 6, 30),
                                 THRESHOLD)["suppressed"].any()


# --- The page, headless ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def page_data(published):
    data_dir = published.path.parent.parent.parent
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_DATA_DIR", str(data_dir))
        patch.chdir(PROJECT_ROOT)
        yield data_dir


def _open(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    at.switch_page("pages/continuity.py")
    at.run()
    return at


def _texts(at):
    return [str(e.value) for kind in ("warning", "info", "markdown", "caption", "title")
            for e in at.get(kind)]


def test_page_runs_with_every_view_and_no_exception(page_data):
    at = _open()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Continuity of care: Gloucestershire"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Latest 12 months (2026/27 Q1)"] == "25.8%"
    assert metrics["Gap to the 75% target"] == "49.2 points"
    texts = _texts(at)
    assert any("Demonstration data." in t for t in texts)
    assert any("has passed" in t and "242 people" in t for t in texts)
    assert any("254 more people" in t for t in texts)
    assert at.get("vega_lite_chart"), "no trend chart"
    for view in cc_views():
        at.segmented_control(key="show").set_value(view).run()
        assert not at.exception, (view, [e.message for e in at.exception])
        if view == "Process control (SPC)":
            # The verdict names the latest point and its rule, as the markers do.
            plain = [t.replace("\\", "") for t in _texts(at)]
            assert any(t.startswith("**Special cause (improvement) at 2026/27 Q1: ")
                       for t in plain), plain
    at.segmented_control(key="series").set_value("Single quarters").run()
    assert not at.exception
    # The single-quarter trend (built only when chosen): quarters, not 12-month periods.
    assert any("Single quarters vary more" in t for t in _texts(at))
    trend = json.loads(at.get("vega_lite_chart")[0].proto.spec)["description"]
    assert "between 2019/20 Q1 and 2026/27 Q1" in trend, trend


def cc_views():
    from ui.continuity_page import VIEWS
    return VIEWS


def _figures(at):
    """The page's figures table: the first grid with an "Engaged within 3 weeks" column
    (the trend chart's own table of plotted rows comes before it)."""
    return next(frame.value for frame in at.dataframe
                if "Engaged within 3 weeks" in frame.value.columns)


def test_page_before_the_target_date_and_for_a_small_area(page_data, tmp_path, monkeypatch):
    from tests.support import allow_unsuppressed
    allow_unsuppressed(monkeypatch, tmp_path)      # the public-mode switch, on localhost
    at = _open({"period": "2023/24 Q2"})
    assert not at.exception, [e.message for e in at.exception]
    assert any("needs to rise by 9.1 percentage points a quarter" in t for t in _texts(at))
    at.selectbox(key="area").set_value("E09000001").run()   # City of London: tiny numbers
    assert not at.exception, [e.message for e in at.exception]
    for view in ("Breakdowns", "Pathway", "Process control (SPC)", "Figures"):
        at.segmented_control(key="show").set_value(view).run()
        assert not at.exception, (view, [e.message for e in at.exception])
    assert "Continuity of care: City of London" == at.title[0].value
    # An analyst switching public mode off sees the small counts (and no exception).
    at.segmented_control(key="show").set_value("Figures").run()
    hidden = (_figures(at)["Engaged within 3 weeks"] == "*").sum()
    assert hidden > 0
    at.toggle(key="public").set_value(False).run()
    assert not at.exception, [e.message for e in at.exception]
    assert (_figures(at)["Engaged within 3 weeks"] == "*").sum() == 0


def _rolling(engaged, released):
    """Rolling 12-month rows a quarter apart from 2023/24 Q1 (a year apart at 0 and 4)."""
    out = []
    for i, (n, d) in enumerate(zip(engaged, released)):
        q = cc._quarter(2023 * 4 + i)
        out.append({"indicator_id": "continuity_of_care", "area_code": "E06000017",
                    "period": f"12 months to {q.label}", "period_kind": "rolling_12m",
                    "period_end": q.end, "numerator": n, "denominator": d,
                    "value": n / d * 100, "suppressed": False})
    return pd.DataFrame(out)


def test_no_date_is_projected_from_a_change_that_is_not_significant():
    # Rutland-sized: 8 of 24 (33.3%) a year ago, 13 of 24 (54.2%) now: +5.2 points a
    # quarter, but with 24 leavers the 95% interval of the change includes no change
    # (the pace the page used to project "75% in 2027/28 Q1" from).
    path = cc.trajectory(_rolling([8, 8, 8, 8, 13], [24] * 5), "Rutland",
                         TARGET, dt.date(2030, 3, 31))
    assert path.recent_pace == pytest.approx((13 - 8) / 24 * 100 / 4)
    assert not path.pace_significant and path.pace_lower < 0 < path.pace_upper
    assert path.projected_period is None and path.projected_range is None
    assert "not significant, so no date can be projected" in path.words
    assert "would reach" not in path.words


def test_a_significant_rise_is_projected_with_its_interval():
    # 2,000 of 10,000 (20%) a year ago, 2,800 of 10,000 (28%) now: 2.0 points a quarter.
    # Newcombe's interval for 0.28 - 0.20 from the Wilson limits (0.27127, 0.28889) and
    # (0.19230, 0.20800): 0.08 -/+ sqrt(0.00873^2 + 0.00800^2) = 0.06816 to 0.09184 ...
    path = cc.trajectory(_rolling([2000] * 4 + [2800], [10000] * 5), "Big", TARGET,
                         dt.date(2035, 3, 31))
    lower, upper = path.pace_lower, path.pace_upper
    assert path.pace_significant and 0 < lower < 2.0 < upper
    assert lower == pytest.approx(1.70, abs=0.01) and upper == pytest.approx(2.30, abs=0.01)
    # The gap of 47 points: ceil(47 / 2.0) = 24 quarters at the pace, ceil(47 / upper) =
    # 21 at the fast end and ceil(47 / lower) = 28 at the slow end, after the latest.
    latest_q = 2023 * 4 + 4
    assert path.projected_period == f"12 months to {cc._quarter(latest_q + 24).label}"
    assert path.projected_range == (f"12 months to {cc._quarter(latest_q + 21).label}",
                                    f"12 months to {cc._quarter(latest_q + 28).label}")
    assert "95% interval +1.7 to +2.3" in path.words and "between the" in path.words


@pytest.mark.parametrize("code, name", [("E06000017", "Rutland"),
                                        (GLOUCESTERSHIRE, "Gloucestershire")])
def test_continuity_spc_words_agree_with_the_markers(totals, code, name):
    # Public mode off (threshold 1), so the single quarters are shown, as in the issue.
    up_to = pd.to_datetime(totals["period_end"]).max().date()
    protected = cc.protect_series(totals, code, up_to, 1)
    frame, summary = cc.spc(cc.with_protected_area(totals, protected, code), code, up_to,
                            1, TARGET)
    shown = frame[frame["value"].notna()]
    latest, marked = shown.iloc[-1], shown[shown["special_cause"]]
    words = summary["words"]
    if latest["special_cause"]:
        kind = latest["point_type"].removeprefix("special_cause_")
        assert words.startswith(f"Special cause ({kind}) at {latest['period']}: ")
    elif len(marked):
        assert words.startswith(f"Common cause variation at the latest point "
                                f"({latest['period']}), but {len(marked)} earlier point")
        assert f"at {marked['period'].iloc[-1]}: " in words
    else:
        assert words.startswith("Common cause variation: no point is special cause")
    rules = {"outside_limits": ("process limit",), "in_trend": ("rising", "falling"),
             "two_of_three": ("2 of 3 points",), "in_run": ("the mean",)}
    point = latest if latest["special_cause"] else (marked.iloc[-1] if len(marked) else None)
    for rule, text in rules.items():
        if point is not None and point[rule]:
            assert any(t in words for t in text), (name, rule, words)


def test_breakdowns_show_one_chosen_breakdown_after_the_groups_lower_in_any(page_data):
    """As on Fingertips' inequalities view: one breakdown's chart and table at a time
    (only its chart is built and sent), chosen with a control kept in the URL; the groups
    significantly lower than the area overall are listed across every breakdown first."""
    from ui import continuity_breakdowns
    at = _open({"show": "Breakdowns"})
    assert not at.exception, [e.message for e in at.exception]
    model = continuity_breakdowns._breakdown_model(
        str(page_data), store.current_version(page_data).id, GLOUCESTERSHIRE,
        "Gloucestershire", dt.date(2026, 6, 30), (), THRESHOLD, TARGET)
    titles = [p["title"] for p in model["parts"]]
    assert len(titles) >= 2
    choice = at.segmented_control(key="breakdown")
    assert list(choice.options) == titles and choice.value == titles[0]
    lower = [f"{', '.join(p['lower'])} ({p['title'].lower()})" for p in model["parts"]
             if p["lower"]]
    summary = next(t for t in _texts(at) if t.startswith("**Who engages"))
    assert all(group in summary for group in lower), (lower, summary)
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    drawn = [c for c in charts if titles[0].lower() in c.get("description", "").lower()]
    assert len(drawn) == 1 and not any(titles[1].lower() in c.get("description", "").lower()
                                       for c in charts)
    choice.set_value(titles[1]).run()
    assert not at.exception, [e.message for e in at.exception]
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert any(titles[1].lower() in c.get("description", "").lower() for c in charts)
    assert not any(titles[0].lower() in c.get("description", "").lower() for c in charts)
    # The choice is kept in the URL: a shared link opens on the same breakdown.
    linked = _open({"show": "Breakdowns", "breakdown": titles[1]})
    assert linked.segmented_control(key="breakdown").value == titles[1]
