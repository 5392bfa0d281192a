"""Headline sentences written from the data, for slides and the board pack.

The rule a public board needs: a change or a difference is stated as real only when it is
statistically significant (95%). Otherwise the sentence says "similar". Methods:
- difference with England: the Fingertips comparison (metrics.stats.compare_with_benchmark);
- change on a year earlier, proportions: Newcombe's hybrid score interval for a difference
  of two proportions (Newcombe 1998, method 10) excluding zero;
- change on a year earlier, rates of counts: the exact conditional test for two Poisson
  rates (the earlier count out of both, binomial given their shares of the denominators);
- directly standardised rates: non-overlapping 95% intervals (conservative).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from scipy.stats import binomtest

from metrics import stats
from metrics.reference import catalogue, formatting
from metrics.views import explorer
from metrics.reference.catalogue import Indicator

YEAR_BEFORE = {"quarter": 4, "rolling_12m": 4, "financial_year": 1, "calendar_year": 1,
               "pooled_3y": 3}


def newcombe_difference_ci(x1, n1, x2, n2, confidence=0.95) -> tuple[float, float]:
    """95% interval for p1 - p2 by Newcombe's hybrid score method (Wilson limits)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = stats.wilson_ci(x1, n1, confidence)
    l2, u2 = stats.wilson_ci(x2, n2, confidence)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


def change_is_significant(ind: Indicator, earlier: pd.Series, later: pd.Series) -> bool:
    """Is the change from `earlier` to `later` (rows of values) significant at 95%?
    (Activity counts, with no interval, are not tested here: see `change_test`.)"""
    return ind.ci_method != "none" and change_test(ind, earlier, later)[0]


# The test behind each verdict on a change, named as a slide or paper names it.
TEST_NAMES = {
    "newcombe": "Newcombe's interval for a difference of proportions",
    "conditional_poisson": "exact conditional Poisson test of two rates",
    "exact_poisson": "exact Poisson test of two counts",
    "intervals": "non-overlapping 95% intervals",
}


def change_test(ind: Indicator, earlier: pd.Series, later: pd.Series) -> tuple[bool, str]:
    """Whether the change from `earlier` to `later` is significant at 95%, and the key of
    the test in TEST_NAMES that decided it ("" when the figures cannot be tested: a value
    missing or hidden, or counts that are not whole numbers)."""
    if any(pd.isna(r.get("value")) for r in (earlier, later)):
        return False, ""
    if ind.ci_method == "none":
        # Activity counts (closures, disruptions): the two counts themselves.
        p_value = stats.poisson_counts_test(earlier["value"], later["value"])
        return (False, "") if math.isnan(p_value) else (p_value < 0.05, "exact_poisson")
    counts = [r.get(c) for r in (earlier, later) for c in ("numerator", "denominator")]
    if ind.ci_method == "dsr" or (ind.ci_method in ("wilson", "byars")
                                  and any(pd.isna(c) for c in counts)):
        # A standardised rate, or a rate published without its counts (a Fingertips row
        # with a blank Count): the conservative test, intervals that do not overlap.
        bounds = [r.get(c) for r in (earlier, later) for c in ("lower95", "upper95")]
        if any(pd.isna(b) for b in bounds):
            return False, ""
        return (bool(later["lower95"] > earlier["upper95"]
                     or later["upper95"] < earlier["lower95"]), "intervals")
    if ind.ci_method == "wilson":
        lower, upper = newcombe_difference_ci(later["numerator"], later["denominator"],
                                              earlier["numerator"], earlier["denominator"])
        return bool(lower > 0 or upper < 0), "newcombe"
    if ind.ci_method == "byars":
        a, b = int(later["numerator"]), int(earlier["numerator"])
        if a + b == 0:
            return False, "conditional_poisson"
        share = later["denominator"] / (later["denominator"] + earlier["denominator"])
        return bool(binomtest(a, a + b, share).pvalue < 0.05), "conditional_poisson"
    return False, ""


# Why a standardised rate is not published, in the words every page uses (defined beside
# the suppression it sits with, so the Figures table can use it without an import cycle).
DSR_MIN_EVENTS = explorer.DSR_MIN_EVENTS
withheld_words = explorer.withheld_words


def _period_words(period: str) -> str:
    """'12 months to 2025/26 Q1' -> 'the 12 months to 2025/26 Q1'; others unchanged."""
    return f"the {period}" if period.startswith("12 months") else period


def _row(rows: pd.DataFrame, area: str, period: str) -> pd.Series | None:
    hit = rows[(rows["area_code"] == area) & (rows["period"] == period)]
    return None if hit.empty else hit.iloc[0]


def metric_sentences(values: pd.DataFrame, ind: Indicator, area_code: str, area_name: str,
                     areas: pd.DataFrame, up_to: dt.date, threshold: int) -> list[str]:
    """Two or three plain sentences on one metric for one area, safe for a public board."""
    shown, _ = explorer.shown_area(ind, area_code, areas)
    where = area_name if shown == area_code else \
        explorer.where_words(ind, area_code, areas)
    # A source not loaded yet (or not for this area) is said plainly, not guessed round.
    missing = explorer.missing_words(values, ind, area_code, areas, up_to)
    if missing:
        return [missing]
    period = explorer.latest_period(values, ind, up_to)
    rows = explorer.suppress(explorer.metric_rows(values, ind), ind, threshold)
    latest = _row(rows, shown, period)
    withheld = withheld_words(latest, ind, threshold)
    if withheld:
        return [f"{ind.title} for {where}, {_period_words(period)}: {withheld}."]
    if latest is None or pd.isna(latest["value"]):
        reason = "the count is too small to publish" if latest is not None and \
            latest.get("suppressed") else "no figure is available"
        return [f"{ind.title} for {where}, {_period_words(period)}, is not shown: "
                f"{reason}."]
    value = formatting.with_unit(latest["value"], ind)
    sentence = f"{ind.title}: {value} in {where}, {_period_words(period)}"
    if ind.geography == "national" and area_code != explorer.ENGLAND:
        sentence += " (published for England only, not for local areas)"
    england = _row(rows, explorer.ENGLAND, period)
    if shown != explorer.ENGLAND and england is not None and ind.benchmarkable:
        code = stats.compare_with_benchmark(latest["lower95"], latest["upper95"],
                                            latest["lower998"], latest["upper998"],
                                            england["value"], ind.polarity)
        england_text = formatting.with_unit(england["value"], ind)
        group = code.split("_")[0]
        relation = {"better": "better than", "worse": "worse than", "higher": "higher than",
                    "lower": "lower than"}.get(group)
        # A source with 95% limits only and no count was tested at 95% alone: say so.
        only95 = " (compared at 95% only)" if code.endswith("_95only") else ""
        sentence += (f", significantly {relation} England ({england_text}){only95}"
                     if relation else f", similar to England ({england_text})")
        if explorer.is_approximate(latest.to_frame().T)[0]:
            sentence += f" ({explorer.APPROXIMATE}: no age bands were supplied)"
    elif shown != explorer.ENGLAND and england is not None:
        sentence += f"; England {formatting.with_unit(england['value'], ind)}"
    out = [sentence + "."]

    series = rows[rows["area_code"] == shown].sort_values("period_end")
    series = series[explorer._until(series, up_to)]
    back = YEAR_BEFORE.get(ind.period_kind, 1)
    if len(series) > back:
        earlier = series.iloc[-1 - back]
        if pd.notna(earlier["value"]):
            earlier_text = formatting.with_unit(earlier["value"], ind)
            if ind.ci_method != "none" and change_is_significant(ind, earlier, latest):
                direction = "up" if latest["value"] > earlier["value"] else "down"
                out.append(f"That is significantly {direction} on "
                           f"{_period_words(earlier['period'])} ({earlier_text}).")
            elif ind.ci_method != "none":
                out.append(f"That is not significantly different from "
                           f"{_period_words(earlier['period'])} ({earlier_text}).")
            else:
                out.append(f"A year earlier, {_period_words(earlier['period'])}, it was "
                           f"{earlier_text}.")
    return out


def continuity_sentence(rate: float | None, period: str | None, target: float,
                        target_date: dt.date, england_rate: float | None,
                        area_name: str) -> str:
    """'Continuity of care was 48% in 2025/26 Q2, 27 points below the 75% target; England
    53%.' The gap to a target is a fact about the figure, so it is stated as it is."""
    if period is None or rate is None:
        return f"Continuity of care for {area_name} is not shown for this period."
    gap = (target - rate) * 100
    position = (f"{gap:.0f} points below the {target * 100:.0f}% target" if gap > 0.5 else
                f"meeting the {target * 100:.0f}% target")
    england = f"; England {england_rate * 100:.0f}%" if england_rate is not None else ""
    due = "" if dt.date.today() <= target_date else \
        f" (the target date, {target_date:%-d %B %Y}, has passed)"
    return (f"Continuity of care in {area_name} was {rate * 100:.0f}% in "
            f"{_period_words(period)}, {position}{due}{england}.")


def outcome_summary(values: pd.DataFrame, outcome: str, area_code: str, area_name: str,
                    areas: pd.DataFrame, up_to: dt.date, threshold: int) -> list[str]:
    """The headline metric's sentences for one outcome."""
    ind = catalogue.get(catalogue.OUTCOME_HEADLINE[outcome])
    return metric_sentences(values, ind, area_code, area_name, areas, up_to, threshold)
