"""The overview: one card per strategy outcome, and the continuity of care headline.

Builds plain data (`OutcomeCard`, `ContinuityHeadline`) from published values; the page
only lays them out. Comparisons use the Fingertips method in metrics.stats.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd

from metrics import stats
from metrics.reference import catalogue, formatting, periods
from metrics.stats import disclosure
from metrics.views import explorer, headlines
from metrics.reference.catalogue import Indicator

ENGLAND = "E92000001"
SPARKLINE_POINTS = 12


@dataclass(frozen=True)
class OutcomeCard:
    outcome: str
    outcome_name: str
    indicator: Indicator
    period: str | None          # the period of the value shown
    value_text: str             # e.g. "48.2%", or "*" when suppressed
    change_text: str            # e.g. "+2.1 pp since 2024/25 Q4"
    # "better"/"worse" (a significant change of a metric with a polarity), "increase"/
    # "decrease" (a significant change of an activity count), "neutral", "not_significant",
    # "no_change" (rounds to zero: no colour, no arrow) or "none" (nothing to compare)
    change_direction: str
    sparkline: list[float]
    england_text: str           # e.g. "England 53.1%"
    comparison: str             # metrics.stats comparison code
    comparison_words: str       # e.g. "Better than England (95% confidence)"
    geography_note: str         # where the figure is published, if not the area itself
    suppressed: bool
    # Why a rate is not published, e.g. "rate not published: fewer than 10 deaths (7)"
    withheld: str = ""
    # The period of each sparkline point, for the words that describe the line.
    sparkline_periods: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContinuityHeadline:
    period: str | None
    rate: float | None          # proportion 0..1
    lower95: float | None
    upper95: float | None
    engaged: float | None
    released: float | None
    target: float
    target_date: dt.date
    gap_points: float | None    # target minus rate, percentage points
    people_short: int | None    # extra engagements needed on the same releases
    england_rate: float | None
    comparison: str
    suppressed: bool


def _series(values: pd.DataFrame, indicator_id: str, area_code: str,
            period_kind: str) -> pd.DataFrame:
    rows = values[(values["indicator_id"] == indicator_id) & (values["area_code"] == area_code)
                  & (values["period_kind"] == period_kind)]
    return rows.sort_values("period_end")


def _hidden(row) -> bool:
    """The row was hidden when the area totals were protected (public mode)."""
    flag = row.get("suppressed", False)
    return not _is_missing(flag) and flag is not pd.NA and bool(flag)


def _is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _display_area(indicator: Indicator, area_code: str, areas: pd.DataFrame) -> tuple[str, str]:
    """Which area's figure to show for this metric, and a note saying so."""
    if indicator.geography == "national":
        return ENGLAND, "England figure: England only (not published for areas)"
    if indicator.geography == "pfa":
        row = areas[areas["area_code"] == area_code]
        if len(row) and row.iloc[0]["pfa_code"]:
            return row.iloc[0]["pfa_code"], f"{row.iloc[0]['pfa_name']} police force area"
        if area_code == ENGLAND:
            return ENGLAND, ""
        return ENGLAND, "England figure: published by police force area"
    return area_code, ""


def outcome_card(outcome: str, values: pd.DataFrame, area_code: str, areas: pd.DataFrame,
                 disclosure_threshold: int, up_to: dt.date | None = None) -> OutcomeCard:
    """The card for one outcome. `values` holds the headline metrics for the area, its
    police force area and England, up to the selected period (or, with `up_to`, any
    periods: then the card can tell 'not loaded yet' from 'none up to this period')."""
    ind = catalogue.get(catalogue.OUTCOME_HEADLINE[outcome])
    shown_area, note = _display_area(ind, area_code, areas)
    everything = _series(values, ind.id, shown_area, ind.period_kind)
    if up_to is not None:
        values = values[pd.to_datetime(values["period_end"]) <= pd.Timestamp(up_to)]
    series = _series(values, ind.id, shown_area, ind.period_kind)
    england = _series(values, ind.id, ENGLAND, ind.period_kind)
    common = dict(outcome=outcome, outcome_name=catalogue.OUTCOMES[outcome], indicator=ind,
                  geography_note=note)
    if series.empty:
        where = _where_words(ind, shown_area, areas)
        if everything.empty:
            words = f"Not loaded yet for {where}"
        else:
            words = (f"No figure for {where} up to this period; the first loaded is "
                     f"{everything['period'].iloc[0]}")
        return OutcomeCard(period=None, value_text="not loaded yet" if everything.empty
                           else "no figure", change_text="",
                           change_direction="none", sparkline=[], england_text="",
                           comparison="not_compared", comparison_words=words,
                           suppressed=False, **common)
    latest = series.iloc[-1]
    def small_row(row) -> bool:
        """A small count, or a small complement (a proportion of 5 in 8 reveals 3)."""
        return ind.disclosive and (
            _hidden(row) or disclosure.is_small(row["numerator"], disclosure_threshold)
            or disclosure.is_small(row["denominator"] - row["numerator"], disclosure_threshold))

    small = small_row(latest)
    value_text = formatting.SUPPRESSED if small else formatting.with_unit(latest["value"], ind)
    withheld = headlines.withheld_words(latest, ind, disclosure_threshold) or ""
    if withheld and not small:
        value_text = "not published"

    change_text, direction = "", "none"
    if len(series) >= 2 and not small and pd.notna(latest["value"]):
        previous = series.iloc[-2]
        if not small_row(previous) and pd.notna(previous["value"]):
            change_text, direction = _change(ind, previous, latest)

    england_row = england[england["period"] == latest["period"]]
    england_value = england_row["value"].iloc[0] if len(england_row) else None
    england_text = "" if shown_area == ENGLAND or _is_missing(england_value) else \
        f"England {formatting.with_unit(england_value, ind)}"

    if shown_area == ENGLAND and area_code != ENGLAND:
        comparison, words = "not_compared", "Shown for England only"
    elif area_code == ENGLAND:
        comparison, words = "not_compared", "England is the benchmark"
    elif not ind.benchmarkable:
        comparison, words = "not_compared", "Activity count: not compared between areas"
    elif small or _is_missing(england_value):
        comparison = "not_compared"
        words = stats.comparison_words(comparison)
    else:
        comparison = stats.compare_with_benchmark(
            latest["lower95"], latest["upper95"], latest["lower998"], latest["upper998"],
            england_value, ind.polarity)
        words = explorer.with_approximate(
            stats.comparison_words(comparison),
            bool(explorer.is_approximate(latest.to_frame().T)[0]))

    spark = series.tail(SPARKLINE_POINTS)
    spark_values = [None if small_row(row) else float(row["value"])
                    for _, row in spark.iterrows()]
    return OutcomeCard(period=str(latest["period"]), value_text=value_text,
                       change_text=change_text, change_direction=direction,
                       sparkline=spark_values,
                       sparkline_periods=tuple(str(p) for p in spark["period"]),
                       england_text=england_text,
                       comparison=comparison, comparison_words=words, suppressed=small,
                       withheld=withheld, **common)


def _where_words(ind: Indicator, shown_area: str, areas: pd.DataFrame) -> str:
    names = areas.set_index("area_code")["area_name"]
    name = names.get(shown_area, shown_area)
    return f"the {name} police force area" if ind.geography == "pfa" and \
        shown_area != ENGLAND else str(name)


def _change(ind: Indicator, previous, latest) -> tuple[str, str]:
    """The change on the previous period in words, and how it may be coloured.

    A change is coloured only when a test says it is significant; a change that rounds to
    nothing gets neither colour nor arrow. Activity counts (no interval, no polarity: more
    closures may mean more lines, not better policing) are tested with the exact Poisson
    test of the two counts and called an increase or decrease, never better or worse."""
    delta = latest["value"] - previous["value"]
    since = f"since {periods.short_label(previous['period'])}"
    text = formatting.change(delta, ind, unit=False)
    if round(delta, formatting.decimals_for(ind)) == 0:
        return ("no change " + since if delta == 0 else f"{text} {since}"), "no_change"
    if ind.ci_method == "none":
        p_value = stats.poisson_counts_test(previous["value"], latest["value"])
        if p_value < 0.05:
            return f"{text} {since}", "increase" if delta > 0 else "decrease"
        return f"{text} {since} (not significant)", "not_significant"
    if headlines.change_is_significant(ind, previous, latest):
        return f"{text} {since}", _direction(delta, ind.polarity)
    return f"{text} {since} (not significant)", "not_significant"


def _direction(delta: float, polarity: str) -> str:
    if delta == 0 or polarity == "none":
        return "neutral"
    improving = (delta > 0) == (polarity == "high")
    return "better" if improving else "worse"


def continuity_headline(values: pd.DataFrame, area_code: str, target: float,
                        target_date: dt.date, disclosure_threshold: int) -> ContinuityHeadline:
    series = _series(values, "continuity_of_care", area_code, "rolling_12m")
    england = _series(values, "continuity_of_care", ENGLAND, "rolling_12m")
    empty = ContinuityHeadline(None, None, None, None, None, None, target, target_date, None,
                               None, None, "not_compared", False)
    if series.empty:
        return empty
    latest = series.iloc[-1]
    engaged, released = float(latest["numerator"]), float(latest["denominator"])
    if _hidden(latest):
        # Hidden where the rows were protected across areas (public mode).
        england_row = england[england["period"] == latest["period"]]
        england_rate = float(england_row["value"].iloc[0]) / 100 \
            if len(england_row) and pd.notna(england_row["value"].iloc[0]) else None
        return ContinuityHeadline(str(latest["period"]), None, None, None, None, None, target,
                                  target_date, None, None, england_rate, "not_compared", True)
    if math.isnan(engaged) or math.isnan(released) or released <= 0:
        # A row without its counts (a rate-only extract): no rate, gap or people to show.
        return ContinuityHeadline(str(latest["period"]), None, None, None, None, None,
                                  target, target_date, None, None, None, "not_compared",
                                  False)
    small = disclosure.is_small(engaged, disclosure_threshold) or \
        disclosure.is_small(released - engaged, disclosure_threshold)
    england_row = england[england["period"] == latest["period"]]
    england_rate = float(england_row["value"].iloc[0]) / 100 \
        if len(england_row) and pd.notna(england_row["value"].iloc[0]) else None
    if small:
        return ContinuityHeadline(str(latest["period"]), None, None, None, None, None, target,
                                  target_date, None, None, england_rate, "not_compared", True)
    rate = engaged / released if released else None
    comparison = "not_compared"
    if area_code != ENGLAND and england_rate is not None and pd.notna(latest["lower95"]):
        comparison = stats.compare_with_benchmark(
            latest["lower95"], latest["upper95"], latest["lower998"], latest["upper998"],
            england_rate * 100, "high")
    return ContinuityHeadline(
        period=str(latest["period"]), rate=rate,
        lower95=_proportion(latest["lower95"]), upper95=_proportion(latest["upper95"]),
        engaged=engaged, released=released, target=target, target_date=target_date,
        gap_points=(target - rate) * 100 if rate is not None else None,
        people_short=people_short(engaged, released, target),
        england_rate=england_rate, comparison=comparison, suppressed=False)


def _proportion(percentage) -> float | None:
    """A published percentage as a proportion; None where the extract left it blank."""
    return None if _is_missing(percentage) or pd.isna(percentage) else float(percentage) / 100


def people_short(engaged: float, released: float, target: float) -> int | None:
    """How many more prison leavers would have had to engage to meet the target on the
    same number of releases: ceil(target x released) - engaged, never below zero; None
    when the extract gave a rate without its counts."""
    if _is_missing(engaged) or _is_missing(released) or pd.isna(engaged) or pd.isna(released):
        return None
    needed = math.ceil(round(target * released, 9))
    return max(0, int(needed - engaged))


def headline_indicator_ids() -> list[str]:
    return sorted(set(catalogue.OUTCOME_HEADLINE.values()) | {"continuity_of_care"})
