"""Continuity of care: prison to community treatment, against the national target.

The measure (NDTMS) is the % of adults released from prison with a substance misuse
treatment need who engage in community structured treatment within 3 weeks of release,
published by quarter and for rolling 12 months. From Harm to Hope set 75% by end-March
2025 (seed 003, para 25); the target and its date are settings, passed in here as a
proportion and a date.

Pure functions over the published `values` rows (metrics.store): area totals as
`all_area_values` returns them, breakdown rows (prison, substance, sex, age, pathway) as
`breakdown_values` returns them. Figures are percentages (0-100) like the published
values. Disclosure control happens here, once, so everything built from these results
is already safe: small counts are suppressed; secondary suppression
(metrics.stats.disclosure.protect) stops a suppressed count in a breakdown or the pathway
being worked out from the total or its sibling categories; and an area's single quarters
are hidden where the rolling 12 months (sums of four quarters) would give a small one
away (protect_series).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import stats
from metrics.reference import catalogue, formatting, periods
from metrics.stats import disclosure
from metrics.views import explorer
from metrics.views.overview import people_short
from metrics.reference.catalogue import (BREAKDOWNS, CATEGORY_ORDER, OTHER_PRISONS,
                                        PATHWAY_OUTCOMES)

IND = catalogue.get("continuity_of_care")
QUARTERLY = dataclasses.replace(IND, period_kind="quarter")   # the same measure by quarter
ENGLAND = explorer.ENGLAND
UTLA_PREFIXES = explorer.LEVEL_PREFIXES["utla"]



# --- Periods ------------------------------------------------------------------------------

def _quarter_index(label: str) -> int:
    """A financial-year quarter ("2024/25 Q1", or the quarter a rolling 12 months ends
    with) as a running number, so quarters can be counted and stepped."""
    period = periods.parse_period(periods.short_label(label))
    fy = period.start.year if period.start.month >= 4 else period.start.year - 1
    return fy * 4 + ((period.start.month - 4) % 12) // 3


def _quarter(index: int) -> periods.Period:
    return periods.quarter(index // 4, index % 4 + 1)


def target_quarter(target_date: dt.date) -> periods.Period:
    """The last quarter ending on or before the target date: its rolling 12 months is
    the figure the target is judged on (31 March 2025 -> 2024/25 Q4)."""
    q = periods.quarter_of(target_date)
    return q if q.end == target_date else _quarter(_quarter_index(q.label) - 1)


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


# --- The area's own series, protected --------------------------------------------------------

def _until(rows: pd.DataFrame, up_to: dt.date) -> pd.Series:
    return pd.to_datetime(rows["period_end"]) <= pd.Timestamp(up_to)


def protect_series(values: pd.DataFrame, area_code: str, up_to: dt.date,
                   threshold: int) -> pd.DataFrame:
    """The area's quarter and rolling 12-month rows up to `up_to`, oldest first, with
    columns suppressed (engaged, rate and interval hidden), denominator_hidden and
    quarters_hidden.

    Rolling 12-month figures are shown across the dashboard (outcome pages, rankings)
    with the usual suppression of small counts. Each is the sum of four quarters, so a
    small quarter could be worked out from a rolling figure and the other three
    quarters; and protecting it by hiding other quarters starts a chain that runs to both
    ends of the series. So when any quarter of the area's published series (all of it,
    not just up to `up_to`: otherwise two period selections together could give one
    away) has a small count (engaged, not engaged or released), all its single quarters
    are hidden. The rolling figures then reveal only differences between quarters a year
    apart, never a quarter."""
    rows = values[(values["indicator_id"] == IND.id) & (values["area_code"] == area_code)
                  & values["period_kind"].isin(["quarter", "rolling_12m"])]
    rows = rows.sort_values(["period_end", "period_kind"]).copy()

    def small(series: pd.Series) -> pd.Series:
        return series.map(lambda v: disclosure.is_small(v, threshold)).astype(bool)

    engaged, released = rows["numerator"], rows["denominator"]
    small_rate = small(engaged) | small(released - engaged)
    small_released = small(released)
    # Rows protected across areas already (metrics.stats.disclosure.protect_area_values)
    # keep every cell hidden there.
    if "suppressed" in rows:
        small_rate = small_rate | rows["suppressed"].fillna(False).astype(bool)
    if "denominator_hidden" in rows:
        small_released = small_released | rows["denominator_hidden"].fillna(False).astype(bool)
    quarter = rows["period_kind"] == "quarter"
    quarters_hidden = bool((quarter & (small_rate | small_released)).any())
    rows["suppressed"] = small_rate | (quarter & quarters_hidden)
    rows["denominator_hidden"] = small_released | (quarter & quarters_hidden)
    blank = ["numerator", "value", "lower95", "upper95", "lower998", "upper998"]
    rows.loc[rows["suppressed"], blank] = np.nan
    rows.loc[rows["denominator_hidden"], "denominator"] = np.nan
    rows.loc[rows["suppressed"], "value_note"] = disclosure.NOTE
    rows["quarters_hidden"] = quarters_hidden
    return rows[_until(rows, up_to)].reset_index(drop=True)


def with_protected_area(values: pd.DataFrame, protected: pd.DataFrame,
                        area_code: str) -> pd.DataFrame:
    """`values` with the area's own continuity rows replaced by their protected copies,
    so the shared explorer functions (trend, SPC) never see a hidden figure."""
    others = values[~((values["indicator_id"] == IND.id) & (values["area_code"] == area_code))]
    own = protected.drop(columns=["quarters_hidden"])
    if "suppressed" not in values:
        own = own.drop(columns=["suppressed", "denominator_hidden"])
    return pd.concat([others, own], ignore_index=True)


# --- Headline ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """One area's (or group's) rate for one period; None where unknown or suppressed."""
    label: str
    period: str | None = None
    engaged: float | None = None
    released: float | None = None
    rate: float | None = None          # percentage
    lower95: float | None = None
    upper95: float | None = None
    suppressed: bool = False
    comparison: str = "not_compared"   # against England (Fingertips method)

    @property
    def rate_text(self) -> str:
        if self.suppressed:
            return formatting.SUPPRESSED
        return formatting.with_unit(self.rate, IND)

    @property
    def interval_text(self) -> str:
        if self.lower95 is None or self.upper95 is None:
            return ""
        return f"95% interval {self.lower95:.1f}% to {self.upper95:.1f}%"

    @property
    def counts_text(self) -> str:
        if self.released is None:
            return ""
        engaged = formatting.SUPPRESSED if self.engaged is None else f"{self.engaged:,.0f}"
        return f"{engaged} of {self.released:,.0f} prison leavers"


def _num(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _figure(label: str, row: pd.Series | None, england: float | None = None,
            compare: bool = False) -> Figure:
    if row is None:
        return Figure(label)
    suppressed = bool(row.get("suppressed", False))
    comparison = "not_compared"
    if compare and not suppressed and england is not None and pd.notna(row["lower95"]):
        comparison = stats.compare_with_benchmark(row["lower95"], row["upper95"],
                                                  row["lower998"], row["upper998"],
                                                  england, "high")
    return Figure(label, str(row["period"]), _num(row["numerator"]),
                  _num(row["denominator"]), _num(row["value"]), _num(row["lower95"]),
                  _num(row["upper95"]), suppressed, comparison)


def _pooled(label: str, rows: pd.DataFrame, period: str) -> Figure:
    """A group's rate from its areas' summed counts (areas whose figures are suppressed
    left out, so the group cannot give them away); rate and interval only."""
    rows = rows[rows["value"].notna()]
    engaged, released = rows["numerator"].sum(), rows["denominator"].sum()
    if released <= 0:
        return Figure(label, period)
    lower, upper = stats.wilson_ci(engaged, released)
    return Figure(label, period, None, None, engaged / released * 100, lower * 100,
                  upper * 100)


@dataclass(frozen=True)
class Headline:
    area_name: str
    rolling: Figure                  # latest 12 months
    quarter: Figure                  # latest single quarter
    england: Figure
    region: Figure
    comparators: Figure
    region_comparison: str           # the area against its region
    target: float                    # percentage
    target_date: dt.date
    gap_points: float | None         # target minus the rolling rate, percentage points
    people_short: int | None         # more engagements needed on the same releases
    quarter_gap_points: float | None
    quarter_people_short: int | None

    @property
    def met(self) -> bool:
        return self.gap_points is not None and self.gap_points <= 0


def _latest(rows: pd.DataFrame, kind: str) -> pd.Series | None:
    rows = rows[rows["period_kind"] == kind]
    return None if rows.empty else rows.iloc[-1]


def _gap(figure: Figure, target: float) -> tuple[float | None, int | None]:
    if figure.suppressed or figure.rate is None or figure.released in (None, 0):
        return None, None
    return target - figure.rate, people_short(figure.engaged, figure.released, target / 100)


def headline(values: pd.DataFrame, protected: pd.DataFrame, area_code: str,
             area_name: str, areas: pd.DataFrame, comparators: tuple[str, ...],
             target: float, target_date: dt.date, up_to: dt.date,
             threshold: int) -> Headline:
    """The latest rolling 12 months and latest quarter for the area, with the gap to
    the target in points and people, and England, region and comparators for the same
    12 months. `target` is a proportion (as in settings); figures are percentages."""
    target_pct = target * 100
    latest = _latest(protected, "rolling_12m")
    period = None if latest is None else latest["period"]
    rolling = explorer.suppress(explorer.metric_rows(values, IND), IND, threshold)
    rolling = rolling[rolling["period"] == period]
    by_code = rolling.set_index("area_code")
    england_row = by_code.loc[ENGLAND] if ENGLAND in by_code.index else None
    england_value = None if england_row is None else _num(england_row["value"])
    area_info = areas.set_index("area_code")
    region_code = area_info["region_code"].get(area_code, "") if area_code in \
        area_info.index else ""
    region_row = by_code.loc[region_code] if region_code in by_code.index else None
    region = _figure(str(area_info["area_name"].get(region_code, "Region"))
                     if region_code else "Region", region_row, england_value,
                     compare=True)
    region = dataclasses.replace(region, engaged=None, released=None)   # rates only
    england = dataclasses.replace(_figure("England", england_row), engaged=None,
                                  released=None)
    area_fig = _figure(area_name, latest, england_value, compare=area_code != ENGLAND)
    quarter_row = _latest(protected, "quarter")
    quarter_england = None
    if quarter_row is not None:
        q_rows = explorer.metric_rows(values, QUARTERLY)
        q_eng = q_rows[(q_rows["area_code"] == ENGLAND)
                       & (q_rows["period"] == quarter_row["period"])]["value"]
        quarter_england = _num(q_eng.iloc[0]) if len(q_eng) else None
    quarter_fig = _figure(area_name, quarter_row, quarter_england,
                          compare=area_code != ENGLAND)
    region_comparison = "not_compared"
    if region.rate is not None and not area_fig.suppressed and latest is not None \
            and area_code != region_code and pd.notna(latest["lower95"]):
        region_comparison = stats.compare_with_benchmark(
            latest["lower95"], latest["upper95"], latest["lower998"], latest["upper998"],
            region.rate, "high")
    group = rolling[rolling["area_code"].isin(comparators)]
    gap, short = _gap(area_fig, target_pct)
    q_gap, q_short = _gap(quarter_fig, target_pct)
    return Headline(area_name, area_fig, quarter_fig, england, region,
                    _pooled("Comparator average", group, period), region_comparison,
                    target_pct, target_date, gap, short, q_gap, q_short)


# --- Trajectory ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Trajectory:
    target: float                      # percentage
    target_date: dt.date
    target_period: str                 # the 12 months the target is judged on
    latest_period: str | None
    latest_rate: float | None
    passed: bool                       # the data reach the target date
    quarters_left: int                 # quarters from the latest figure to the target's
    needed_per_quarter: float | None   # percentage points a quarter, from the latest
    recent_pace: float | None          # points a quarter over the last four quarters
    projected_period: str | None       # when the recent pace would reach the target
    at_target_rate: float | None       # the rate in the target's 12 months (if passed)
    at_target_gap: float | None
    at_target_people_short: int | None
    now_gap: float | None
    now_people_short: int | None
    frame: pd.DataFrame                # period_end, value, label: drawn on the trend chart
    words: str
    # The 95% interval of the recent pace, and whether it excludes no change: a date is
    # projected only from a significant rise (otherwise the "pace" may be noise).
    pace_lower: float | None = None
    pace_upper: float | None = None
    pace_significant: bool = False
    projected_range: tuple[str | None, str | None] | None = None  # earliest, latest


def trajectory(protected: pd.DataFrame, area_name: str, target: float,
               target_date: dt.date, today: dt.date | None = None) -> Trajectory:
    """From the latest rolling 12-month figure, the steady quarterly rise needed to
    reach the target in the 12 months ending at the target date; or, once the data
    reach that date, how far off the area was then and is now.

    needed_per_quarter = (target - latest rate) / quarters between the latest period
    and the target's period; the frame runs from the latest point to the target in
    quarterly steps (or, once passed, is the gap drawn at the target date)."""
    target_pct = target * 100
    goal = target_quarter(target_date)
    series = protected[protected["period_kind"] == "rolling_12m"]
    shown = series[series["value"].notna()]
    empty = pd.DataFrame(columns=["period_end", "value", "label"])
    base = dict(target=target_pct, target_date=target_date,
                target_period=f"12 months to {goal.label}")
    if shown.empty or pd.isna(series["value"].iloc[-1]):
        reason = ("no figure is published" if series.empty or
                  series["denominator"].fillna(0).iloc[-1] == 0 and
                  not series["suppressed"].iloc[-1] else
                  "the latest figure is suppressed because the numbers are small")
        return Trajectory(**base, latest_period=None, latest_rate=None, passed=False,
                          quarters_left=0, needed_per_quarter=None, recent_pace=None,
                          projected_period=None, at_target_rate=None, at_target_gap=None,
                          at_target_people_short=None, now_gap=None,
                          now_people_short=None, frame=empty,
                          words=f"No trajectory is drawn for {area_name}: {reason}.")
    latest = series.iloc[-1]
    latest_q = _quarter_index(latest["period"])
    goal_q = _quarter_index(goal.label)
    rate = float(latest["value"])
    now_gap = target_pct - rate
    now_short = people_short(latest["numerator"], latest["denominator"], target)
    pace = None
    earlier = shown[shown["period"] == f"12 months to {_quarter(latest_q - 4).label}"]
    if len(earlier):
        pace = (rate - float(earlier["value"].iloc[0])) / 4
    change = _with_range(_pace_interval(latest, earlier.iloc[0] if len(earlier) else None),
                         now_gap, latest_q)
    target_words = f"{target_pct:g}% by {long_date(target_date)}"
    latest_words = f"{rate:.1f}% in the {latest['period']}"

    if latest_q < goal_q:
        left = goal_q - latest_q
        needed = max(now_gap, 0.0) / left
        steps = [_quarter(latest_q + i) for i in range(left + 1)]
        frame = pd.DataFrame({
            "period_end": pd.to_datetime([p.end for p in steps]),
            "value": [rate + needed * i for i in range(left + 1)],
            "label": f"Needed to reach {target_words}"})
        if now_gap <= 0:
            words = (f"{area_name} is already at or above the target ({latest_words}); "
                     f"it needs to stay there until {long_date(target_date)}.")
            frame = empty
        else:
            words = (f"To reach {target_words}, {area_name} needs to rise by "
                     f"{needed:.1f} percentage points a quarter for the next "
                     f"{left} quarter{'s' if left != 1 else ''}, from {latest_words}.")
        projected = _projection(pace, now_gap, latest_q, change)
        words += " " + _pace_words(pace, projected, target_pct, change)
        if today is not None and today > target_date:
            words += (f" (These are figures to {latest['period'].removeprefix('12 months to ')}"
                      f"; the target date has passed since: choose a later period to see "
                      f"how the area did, if its figures are published.)")
        return Trajectory(**base, latest_period=latest["period"], latest_rate=rate,
                          passed=False, quarters_left=left, needed_per_quarter=needed,
                          recent_pace=pace, projected_period=projected,
                          at_target_rate=None, at_target_gap=None,
                          at_target_people_short=None, now_gap=now_gap,
                          now_people_short=now_short, frame=frame, words=words,
                          **_pace_fields(change))

    # The data reach the target date: how far off was the area then, and now?
    at = series[series["period"] == base["target_period"]]
    at_rate = at_gap = at_short = None
    frame = empty
    if len(at) and pd.notna(at["value"].iloc[0]):
        row = at.iloc[0]
        at_rate = float(row["value"])
        at_gap = target_pct - at_rate
        at_short = people_short(row["numerator"], row["denominator"], target)
        frame = pd.DataFrame({
            "period_end": pd.to_datetime([goal.end, goal.end]),
            "value": [at_rate, target_pct],
            "label": f"Gap at the target date: {max(at_gap, 0):.1f} points"})
    words = f"The target date, {long_date(target_date)}, has passed. "
    if at_rate is None:
        words += (f"The figure for the {base['target_period']} is not available "
                  f"(not published or suppressed). ")
    elif at_gap <= 0:
        words += f"{area_name} met the target: {at_rate:.1f}% in the {base['target_period']}. "
    else:
        words += (f"In the {base['target_period']} {area_name} was at {at_rate:.1f}%: "
                  f"{at_gap:.1f} percentage points{_people(at_short)} short of "
                  f"{target_pct:g}%. ")
    if now_gap <= 0:
        words += f"In the latest {latest['period'].removeprefix('12 months to ')} " \
                 f"12 months it is at {rate:.1f}%, at or above the target."
    else:
        words += (f"Now ({latest['period']}) it is at {rate:.1f}%: {now_gap:.1f} points "
                  f"{_people(now_short).strip()} short.")
    projected = _projection(pace, now_gap, latest_q, change)
    if now_gap > 0:
        words += " " + _pace_words(pace, projected, target_pct, change)
    return Trajectory(**base, latest_period=latest["period"], latest_rate=rate, passed=True,
                      quarters_left=0, needed_per_quarter=None, recent_pace=pace,
                      projected_period=projected, at_target_rate=at_rate,
                      at_target_gap=at_gap, at_target_people_short=at_short,
                      now_gap=now_gap, now_people_short=now_short, frame=frame, words=words,
                      **_pace_fields(change))


def _people(short: int | None) -> str:
    """' (254 people)', or nothing when the extract gave no counts to work it out from."""
    return "" if short is None else f" ({short:,} people)"


def _pace_interval(latest: pd.Series, earlier: pd.Series | None) -> dict | None:
    """The 95% interval of the recent pace (points a quarter), or why there is none.

    The latest 12 months and the 12 months a year before share no quarter, so they are
    independent samples: the change between them gets Newcombe's hybrid score interval
    for a difference of two proportions (Newcombe 1998, method 10, built from the Wilson
    intervals used across the dashboard), divided by four like the pace itself.
    Returns None without an earlier figure; {"reason": ...} when it cannot be tested."""
    if earlier is None:
        return None
    x1, n1 = _num(latest.get("numerator")), _num(latest.get("denominator"))
    x0, n0 = _num(earlier.get("numerator")), _num(earlier.get("denominator"))
    if None in (x1, n1, x0, n0) or n1 <= 0 or n0 <= 0:
        return {"reason": "the counts behind the figures are not given, so the change "
                          "cannot be tested"}
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = stats.wilson_ci(x1, n1)
    l0, u0 = stats.wilson_ci(x0, n0)
    difference = p1 - p0
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return {"lower": lower * 100 / 4, "upper": upper * 100 / 4,
            "significant": lower > 0 or upper < 0}


def _quarters_to(gap: float, pace: float, latest_q: int) -> str:
    return f"12 months to {_quarter(latest_q + math.ceil(gap / pace)).label}"


def _projection(pace: float | None, gap: float, latest_q: int,
                change: dict | None = None) -> str | None:
    """When the recent pace would reach the target: only from a significant rise."""
    if (pace is None or pace <= 0 or gap <= 0 or not change
            or not change.get("significant")):
        return None
    return _quarters_to(gap, pace, latest_q)


def _with_range(change: dict | None, gap: float, latest_q: int) -> dict | None:
    """`change` with the projected period at each end of its interval (a significant
    rise only; the faster end reaches the target first)."""
    if change and change.get("significant") and change["lower"] > 0 and gap > 0:
        change = dict(change, range=(_quarters_to(gap, change["upper"], latest_q),
                                     _quarters_to(gap, change["lower"], latest_q)))
    return change


def _range_of(change: dict) -> tuple[str | None, str | None]:
    return change.get("range", (None, None))


def _pace_fields(change: dict | None) -> dict:
    if not change or "lower" not in change:
        return {}
    return dict(pace_lower=change["lower"], pace_upper=change["upper"],
                pace_significant=change["significant"], projected_range=change.get("range"))


def _pace_words(pace: float | None, projected: str | None, target_pct: float,
                change: dict | None = None) -> str:
    if pace is None:
        return ""
    if not change or "lower" not in change:
        reason = change["reason"] if change else "it cannot be tested"
        return (f"Over the last four quarters it changed by {pace:+.1f} points a quarter, "
                f"but {reason}, so no date can be projected.")
    interval = f"(95% interval {change['lower']:+.1f} to {change['upper']:+.1f})"
    if not change["significant"]:
        return (f"Over the last four quarters it changed by {pace:+.1f} points a quarter "
                f"{interval}; the recent change is not significant, so no date can be "
                f"projected.")
    if projected is None:
        return (f"Over the last four quarters it fell significantly, by {-pace:.1f} points "
                f"a quarter {interval}: at that pace it would not reach {target_pct:g}%.")
    earliest, latest = _range_of(change)
    return (f"Over the last four quarters it rose significantly, by {pace:.1f} points a "
            f"quarter {interval}: at that pace it would reach {target_pct:g}% in the "
            f"{projected} (between the {earliest} and the {latest}, from the ends of the "
            f"interval).")


# --- Trend and SPC --------------------------------------------------------------------------

def trend_rows(values: pd.DataFrame, area_code: str, area_name: str,
               comparators: tuple[str, ...], up_to: dt.date, threshold: int,
               quarterly: bool = False) -> pd.DataFrame:
    """Rows for metrics.render.charts.trend_chart: the area (its protected figures must already
    be in `values`, see with_protected_area), England and the comparator average."""
    lines = {area_code: area_name}
    if area_code != ENGLAND:
        lines[ENGLAND] = "England"
    return explorer.trend_series(values, QUARTERLY if quarterly else IND, lines,
                                 comparators, up_to, threshold)


def spc(values: pd.DataFrame, area_code: str, up_to: dt.date, threshold: int,
        target: float, notes: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """SPC (XmR) of the single quarters, with the assurance against the target.

    Single quarters, not rolling 12 months: each rolling figure shares three quarters
    with the next, which would break the independence the limits assume. `notes`: the
    area's notes on continuity of care (a service change restarts the limits)."""
    return explorer.spc_frame(values, QUARTERLY, area_code, up_to, threshold, target * 100,
                              notes)


# --- Breakdowns -----------------------------------------------------------------------------

def _ordered(table: pd.DataFrame, breakdown: str) -> pd.DataFrame:
    order = CATEGORY_ORDER.get(breakdown)
    if order:
        rank = {c: i for i, c in enumerate(order)}
        key = table["category"].map(lambda c: rank.get(c, len(rank)))
        return table.assign(_k=key).sort_values(["_k", "category"]).drop(columns="_k")
    # Prisons: most releases first (hidden sizes after, by name), "Other prisons" last.
    key = np.where(table["category"] == OTHER_PRISONS, 2,
                   np.where(table["released"].isna(), 1, 0))
    return (table.assign(_k=key, _r=-table["released"].fillna(0))
            .sort_values(["_k", "_r", "category"]).drop(columns=["_k", "_r"]))


def breakdown_table(breakdowns: pd.DataFrame, total: pd.Series | None, area_code: str,
                    period: str, breakdown: str, threshold: int,
                    total_hidden: bool = False,
                    total_denominator_hidden: bool = False) -> pd.DataFrame:
    """One breakdown of the area's figure for one period: a row per category with
    released, engaged, rate and 95% interval (None where suppressed), the same group's
    rate in England, and the comparison with the area's overall rate.

    `total`: the area's total row for the period, unsuppressed (its counts are what the
    categories add up to); `total_hidden` / `total_denominator_hidden`: its engaged
    count / released count is suppressed on the page, so the categories must not give
    it away either."""
    columns = ["category", "released", "engaged", "rate", "lower95", "upper95",
               "england_rate", "comparison", "suppressed", "denominator_hidden"]
    rows = breakdowns[(breakdowns["area_code"] == area_code)
                      & (breakdowns["period"] == period)
                      & (breakdowns["breakdown"] == breakdown)]
    if rows.empty or total is None:
        return pd.DataFrame(columns=columns)
    hide = disclosure.suppress_breakdown(rows["numerator"], rows["denominator"],
                                         total["numerator"], total["denominator"],
                                         threshold, total_hidden=total_hidden,
                                         total_denominator_hidden=total_denominator_hidden,
                                         categories=rows["category"].astype(str).tolist()
                                         if rows["category"].is_unique else None)
    if (hide.attrs["total_hidden"] and not total_hidden) or \
            (hide.attrs["total_denominator_hidden"] and not total_denominator_hidden):
        # Cannot happen with consistent data (a total is only hidden when it is small,
        # and then the page hides it too), but never show a breakdown that would need it.
        hide[:] = True
    england = breakdowns[(breakdowns["area_code"] == ENGLAND)
                         & (breakdowns["period"] == period)
                         & (breakdowns["breakdown"] == breakdown)].set_index("category")
    table = pd.DataFrame({
        "category": rows["category"].to_numpy(),
        "released": np.where(hide["denominator_hidden"], np.nan, rows["denominator"]),
        "engaged": np.where(hide["numerator_hidden"], np.nan, rows["numerator"]),
        "rate": np.where(hide["rate_hidden"], np.nan, rows["value"]),
        "lower95": np.where(hide["rate_hidden"], np.nan, rows["lower95"]),
        "upper95": np.where(hide["rate_hidden"], np.nan, rows["upper95"]),
        "lower998": np.where(hide["rate_hidden"], np.nan, rows["lower998"]),
        "upper998": np.where(hide["rate_hidden"], np.nan, rows["upper998"]),
        "england_rate": rows["category"].map(england["value"]).to_numpy()
        if len(england) and area_code != ENGLAND else np.nan,
        "suppressed": hide["rate_hidden"].to_numpy(),
        "denominator_hidden": hide["denominator_hidden"].to_numpy(),
    })
    overall = None if total_hidden else _num(total["value"])
    table["comparison"] = "not_compared"
    comparable = table["rate"].notna()
    if overall is not None and comparable.any():
        table.loc[comparable, "comparison"] = stats.compare_with_benchmark(
            table.loc[comparable, "lower95"].to_numpy(float),
            table.loc[comparable, "upper95"].to_numpy(float),
            table.loc[comparable, "lower998"].to_numpy(float),
            table.loc[comparable, "upper998"].to_numpy(float), overall, "high")
    return _ordered(table, breakdown)[columns].reset_index(drop=True)


# --- Pathway --------------------------------------------------------------------------------

PATHWAY_STAGES = (
    # key, label, kind (for colour)
    ("released", "Released with a treatment need", "step"),
    ("referred", "Referred to community treatment", "step"),
    ("engaged", "Engaged within 3 weeks", "engaged"),
    ("later", "Engaged after 3 weeks", "later"),
    ("referred_not_engaged", "Referred, not engaged", "lost"),
    ("not_referred", "Not referred", "lost"),
)


def pathway(breakdowns: pd.DataFrame, total: pd.Series | None, area_code: str,
            period: str, threshold: int, target: float, total_hidden: bool = False,
            total_denominator_hidden: bool = False) -> pd.DataFrame:
    """The route from release to treatment for one period: one row per stage with the
    count, % of those released with a need, and whether it is suppressed.

    Stored outcomes (which add up to the leavers) are engaged within 3 weeks, engaged
    after 3 weeks, referred but not engaged, and not referred; "referred" is the sum of
    the first three. Every count a viewer can see or subtract (including not engaged
    within 3 weeks, from the headline) is protected together. attrs: target_count (the
    engagements the target needs on these releases), complete (the stored outcomes add
    up to the area's totals)."""
    columns = ["key", "stage", "kind", "count", "percent", "suppressed", "order"]
    rows = breakdowns[(breakdowns["area_code"] == area_code) & (breakdowns["period"] == period)
                      & (breakdowns["breakdown"] == "pathway")].set_index("category")
    if total is None or rows.empty or not set(PATHWAY_OUTCOMES) <= set(rows.index):
        return pd.DataFrame(columns=columns)
    outcome = rows["numerator"].reindex(list(PATHWAY_OUTCOMES)).astype(float)
    engaged, later, ref_not, not_ref = outcome.tolist()
    released = float(total["denominator"])
    counts = {"released": released, "engaged": engaged, "later": later,
              "referred_not_engaged": ref_not, "not_referred": not_ref,
              "referred": engaged + later + ref_not, "not_engaged_3w": released - engaged}
    relations = [("released", ["referred", "not_referred"]),
                 ("referred", ["engaged", "later", "referred_not_engaged"]),
                 ("released", ["engaged", "not_engaged_3w"]),
                 ("not_engaged_3w", ["later", "referred_not_engaged", "not_referred"])]
    hidden = disclosure.protect(
        counts, relations, threshold,
        hidden=(["engaged", "not_engaged_3w"] if total_hidden else [])
        + (["released"] if total_denominator_hidden else []))
    out = pd.DataFrame([{
        "key": key, "stage": label, "kind": kind,
        "count": None if key in hidden else counts[key],
        "percent": None if key in hidden or "released" in hidden or released <= 0
        else counts[key] / released * 100,
        "suppressed": key in hidden, "order": i}
        for i, (key, label, kind) in enumerate(PATHWAY_STAGES)], columns=columns)
    out.attrs["target_count"] = None if "released" in hidden else \
        math.ceil(round(target * released, 9))
    out.attrs["complete"] = bool(sum(outcome) == released
                                 and engaged == float(total["numerator"]))
    return out


def pathway_words(stages: pd.DataFrame, target: float) -> str:
    """Where people are lost, in a sentence."""
    if stages.empty:
        return ""
    get = stages.set_index("key")["count"]

    def part(key, words):
        v = get.get(key)
        if v is None or pd.isna(v):
            return f"{formatting.SUPPRESSED} {words}"
        share = v / get["released"] * 100 if pd.notna(get.get("released")) and \
            get["released"] else None
        return f"{v:,.0f} {words}" + (f" ({share:.0f}%)" if share is not None else "")

    if pd.isna(get.get("released")):
        return "The pathway is suppressed: the numbers are too small to show."
    return (f"Of {get['released']:,.0f} people released with a treatment need, "
            f"{part('not_referred', 'were not referred to community treatment')}; "
            f"{part('referred_not_engaged', 'were referred but did not engage')}; "
            f"{part('later', 'engaged, but after more than 3 weeks')}; and "
            f"{part('engaged', 'engaged within 3 weeks')}.")


# --- All areas ------------------------------------------------------------------------------

def ranking(values: pd.DataFrame, period: str, areas: pd.DataFrame, home: str,
            comparators: tuple[str, ...], threshold: int, target: float) -> pd.DataFrame:
    """Every upper-tier area in one rolling 12-month period (metrics.views.explorer
    area_ranking: suppressed, compared with England, home and comparators marked), with
    whether each meets the target."""
    ranked = explorer.area_ranking(values, IND, period, areas, home, comparators, threshold)
    ranked["meets_target"] = ranked["value"] >= target * 100
    return ranked


def regions(values: pd.DataFrame, period: str, areas: pd.DataFrame) -> pd.DataFrame:
    """The nine regions (and England) in one period, highest first: rates only."""
    rows = explorer.metric_rows(values, IND)
    rows = rows[(rows["period"] == period)
                & (rows["area_code"].str.startswith("E12") | (rows["area_code"] == ENGLAND))]
    names = areas.set_index("area_code")["area_name"]
    return pd.DataFrame({
        "Region": rows["area_code"].map(names).to_numpy(),
        "Rate": [f"{v:.1f}%" for v in rows["value"]],
        "95% interval": [f"{lo:.1f}% to {hi:.1f}%" for lo, hi in
                         zip(rows["lower95"], rows["upper95"])],
        "_v": rows["value"].to_numpy(),
    }).sort_values("_v", ascending=False).drop(columns="_v").reset_index(drop=True)


# --- Figures (table and download) ---------------------------------------------------------------

def figures_table(values: pd.DataFrame, protected: pd.DataFrame) -> pd.DataFrame:
    """The area's protected quarter and rolling figures, newest first, with England."""
    england = explorer.metric_rows(values, IND)
    england = pd.concat([england, explorer.metric_rows(values, QUARTERLY)])
    england = england[england["area_code"] == ENGLAND].set_index("period")["value"]
    rows = protected.iloc[::-1]

    def count(v):   # text throughout, so '*' and numbers share a column type
        return formatting.SUPPRESSED if pd.isna(v) else str(int(v))

    return pd.DataFrame({
        "Period": rows["period"].to_numpy(),
        "Type": np.where(rows["period_kind"] == "quarter", "Quarter", "Rolling 12 months"),
        "Engaged within 3 weeks": [count(v) for v in rows["numerator"]],
        "Released with a need": [count(v) for v in rows["denominator"]],
        "Rate (%)": rows["value"].round(1).to_numpy(),
        "Lower 95%": rows["lower95"].round(1).to_numpy(),
        "Upper 95%": rows["upper95"].round(1).to_numpy(),
        "England (%)": rows["period"].map(england).round(1).to_numpy(),
        "Note": rows["value_note"].fillna("").to_numpy(),
    })
