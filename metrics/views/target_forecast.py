"""Will the area meet its continuity of care target? A forecast from its own quarters.

The area's single quarters (engaged within 3 weeks of released with a need) are fitted
with a binomial model with a trend in time (metrics.stats.forecast: quasi-binomial
logistic regression on the quarter, each quarter weighted by its releases) and simulated
forward at the recent number of releases a quarter. The target is judged on the rolling
12 months ending at its date, so each simulation's rolling figure is built from the last
known quarters and the simulated ones. From the simulations: the probability of meeting
the target by its date (or, once the date has passed, by a review date: the end of the
financial year after the latest figure), the figure expected then with an 80% interval,
the quarter the target would be reached with an 80% interval, and the engagements a
quarter needed to reach it.

No forecast is made from a series too short (fewer than MIN_QUARTERS quarters) or too
small (under MIN_RELEASED releases a quarter), or from single quarters hidden for small
numbers: the page says which. `backtest` checks the intervals on past data.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metrics.stats import forecast as fc
from metrics.views import continuity as cc

FIT_QUARTERS = 10          # the trend is fitted on the latest ten quarters at most
MIN_QUARTERS = 8           # two years: fewer, and a trend cannot be told from noise
MIN_RELEASED = 10          # median releases a quarter below which no forecast is made
HORIZON = 12               # the quarter reached is searched for over three years
DRAWS = 4000
LEVEL = 0.80
AHEAD = 4                  # dispersion from errors made this many quarters ahead
HISTORY_QUARTERS = 20      # ... by the same 10-quarter fit, over up to five years
SEED = 20250331            # a fixed seed: the same data always give the same forecast


@dataclass(frozen=True)
class TargetForecast:
    available: bool
    why: str = ""                          # why there is no forecast
    target: float = 0.0                    # percentage
    goal_period: str = ""                  # "12 months to 2026/27 Q4"
    goal_date: dt.date | None = None
    review: bool = False                   # the target date has passed: a review date
    probability: float | None = None       # of meeting the target in the goal period
    expected: tuple[float, float, float] | None = None     # median, 10%, 90% (percent)
    reached: tuple[str, str, str] | None = None  # median, 10%, 90% quarter (or words)
    reached_share: float | None = None     # simulations reaching it within HORIZON
    already: bool = False                  # the latest 12 months already meet it
    needed_per_quarter: int | None = None  # engagements a quarter to meet it at the goal
    now_per_quarter: float | None = None   # engagements a quarter, last four quarters
    released_per_quarter: float | None = None
    dispersion: float | None = None
    quarters_used: int = 0
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)   # for the chart

    def sentences(self, area_name: str) -> list[str]:
        if not self.available:
            return [f"No forecast for {area_name}: {self.why}."]
        when = (f"the {self.goal_period} (the review date, {cc.long_date(self.goal_date)}: "
                "the target date has passed)" if self.review else
                f"the {self.goal_period} (the target date, {cc.long_date(self.goal_date)})")
        median, low, high = self.expected
        out = [f"At the trend of its last {self.quarters_used} quarters, the chance that "
               f"{area_name} reaches {self.target:g}% in {when} is "
               f"{_chance(self.probability)}; expected then {median:.0f}% (80% interval "
               f"{low:.0f}% to {high:.0f}%)."]
        if self.already:
            out.append(f"The latest 12 months already meet {self.target:g}%.")
        elif self.reached_share is not None and self.reached_share >= 0.5:
            out.append(f"It would reach {self.target:g}% in the {self.reached[0]} "
                       f"(80% interval: {self.reached[1]} to {self.reached[2]}).")
        else:
            out.append(f"In most simulations it does not reach {self.target:g}% within "
                       f"{HORIZON // 4} years at this trend (it does in "
                       f"{_chance(self.reached_share)}).")
        if self.needed_per_quarter is not None:
            out.append(f"To reach {self.target:g}% in the {self.goal_period}, about "
                       f"{self.needed_per_quarter:,} of the "
                       f"{self.released_per_quarter:,.0f} people released with a need each "
                       f"quarter would have to engage within 3 weeks, against "
                       f"{self.now_per_quarter:,.0f} a quarter over the last four quarters.")
        return out


    def method_words(self) -> list[str]:
        """How the forecast was made and how far to trust it, for the page and the pack."""
        out = [f"A forecast, not a promise: a binomial model with a trend in time, fitted "
               f"to the last {self.quarters_used} single quarters (each weighted by its "
               f"releases), simulated forward {DRAWS:,} times at the recent releases a "
               f"quarter; the band is the {LEVEL:.0%} interval. It assumes the trend "
               "carries on."]
        if self.dispersion and self.dispersion > 2:
            out.append(f"The quarters vary about {self.dispersion:.0f} times more than "
                       "chance alone would make them; the intervals allow for it, but where "
                       "a trend bends (as England's and the regions' did in the back-test) "
                       f"the figure falls outside the {LEVEL:.0%} interval more often than "
                       "1 in 5.")
        return out


def _chance(p: float | None) -> str:
    if p is None:
        return "-"
    if p < 0.01:
        return "under 1%"
    if p > 0.99:
        return "over 99%"
    return f"{p * 100:.0f}%"


def _quarter_label(index: int) -> str:
    return cc._quarter(index).label


def goal_quarter(latest_q: int, target_date: dt.date) -> tuple[int, bool]:
    """The quarter index the forecast is for, and whether it is a review date: the
    target's quarter while it is after the latest figure; otherwise the end of the
    financial year after the latest figure (Q4; a year on when the latest is a Q4)."""
    goal = cc._quarter_index(cc.target_quarter(target_date).label)
    if goal > latest_q:
        return goal, False
    return latest_q + (3 - latest_q % 4 or 4), True


def quarters_of(protected: pd.DataFrame) -> pd.DataFrame:
    """The single quarters as the page shows them, with their running index."""
    q = protected[protected["period_kind"] == "quarter"].copy()
    q["q"] = [cc._quarter_index(p) for p in q["period"]]
    return q.sort_values("q")


def _unavailable(why: str, target: float) -> TargetForecast:
    return TargetForecast(False, why, target)


def target_forecast(protected: pd.DataFrame, target: float, target_date: dt.date,
                    draws: int = DRAWS) -> TargetForecast:
    """The forecast for one area from its protected series (cc.protect_series)."""
    target_pct = target * 100
    if protected.empty:
        return _unavailable("no figures are published", target_pct)
    if bool(protected["quarters_hidden"].iloc[0]):
        return _unavailable("its single-quarter figures are suppressed (some quarters "
                            "have small numbers) and the forecast is built from them",
                            target_pct)
    quarters = quarters_of(protected)
    quarters = quarters[quarters["numerator"].notna() & quarters["denominator"].notna()]
    if quarters.empty:
        return _unavailable("no single-quarter figures are published", target_pct)
    latest_q = int(quarters["q"].iloc[-1])
    window = quarters[quarters["q"] > latest_q - FIT_QUARTERS]
    if len(window) < MIN_QUARTERS:
        return _unavailable(f"the series is too short ({len(window)} quarters; a trend "
                            f"needs at least {MIN_QUARTERS})", target_pct)
    released = float(window["denominator"].median())
    if released < MIN_RELEASED:
        return _unavailable(f"the numbers are too small (about {released:.0f} prison "
                            f"leavers with a need a quarter; at least {MIN_RELEASED} are "
                            "needed for a forecast to say anything)", target_pct)
    last4 = quarters[quarters["q"] > latest_q - 4]
    if len(last4) < 4:
        return _unavailable("one of the last four quarters is missing, so the rolling "
                            "12 months cannot be carried forward", target_pct)
    goal, review = goal_quarter(latest_q, target_date)
    horizon = max(goal - latest_q, HORIZON)
    x = np.full(FIT_QUARTERS, np.nan)
    n = np.full(FIT_QUARTERS, np.nan)
    slots = (window["q"] - (latest_q - FIT_QUARTERS + 1)).to_numpy(int)
    x[slots], n[slots] = window["numerator"].to_numpy(float), \
        window["denominator"].to_numpy(float)
    fit = fc.fit_trend(x, n, predictive=AHEAD,
                       history=_history(quarters.set_index("q"), latest_q))
    if not fit.converged[0]:
        return _unavailable("the model could not be fitted (every quarter at 0% or "
                            "100%)", target_pct)
    future_n = float(last4["denominator"].mean())
    rng = np.random.default_rng(SEED)
    future_x, _ = fc.simulate(fit, np.array([FIT_QUARTERS - 1]), np.array([future_n]),
                              horizon, draws, rng)
    rolling = fc.rolling_rates(last4["numerator"].to_numpy(float)[None, 1:],
                               last4["denominator"].to_numpy(float)[None, 1:], future_x,
                               np.array([future_n]))[0] * 100          # (draws, horizon)
    at_goal = rolling[:, goal - latest_q - 1]
    met = rolling >= target_pct - 1e-9
    first = np.where(met.any(1), met.argmax(1) + 1, horizon + 1)
    low_q, mid_q, high_q = np.quantile(first, [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2],
                                       method="inverted_cdf")

    def label(h: float) -> str:
        return (f"later than the 12 months to {_quarter_label(latest_q + horizon)}"
                if h > horizon else f"12 months to {_quarter_label(latest_q + int(h))}")

    latest_rolling = protected[protected["period_kind"] == "rolling_12m"]
    latest_value = latest_rolling["value"].iloc[-1] if len(latest_rolling) else np.nan
    # Engagements a quarter to meet the target at the goal: the goal's 12 months hold up
    # to four future quarters at the recent releases, and any known quarters left in it.
    ahead = min(goal - latest_q, 4)
    known = last4.iloc[ahead:] if ahead < 4 else last4.iloc[0:0]
    needed_total = math.ceil(round(target * (known["denominator"].sum() + ahead * future_n),
                                   9)) - known["numerator"].sum()
    needed = max(0, math.ceil(needed_total / ahead))
    steps = np.arange(1, horizon + 1)
    quantiles = np.quantile(rolling, [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2], axis=0)
    chart = pd.DataFrame({
        "period_end": pd.to_datetime([cc._quarter(latest_q + h).end for h in steps]),
        "period": [f"12 months to {_quarter_label(latest_q + h)}" for h in steps],
        "median": quantiles[1], "lower": quantiles[0], "upper": quantiles[2]})
    chart = chart[steps <= max(goal - latest_q, 4)]
    return TargetForecast(
        True, "", target_pct, f"12 months to {_quarter_label(goal)}",
        cc._quarter(goal).end, review, float(np.mean(at_goal >= target_pct - 1e-9)),
        tuple(float(v) for v in np.quantile(at_goal, [0.5, (1 - LEVEL) / 2,
                                                      (1 + LEVEL) / 2])),
        (label(mid_q), label(low_q), label(high_q)), float(met.any(1).mean()),
        bool(pd.notna(latest_value) and latest_value >= target_pct), needed,
        float(last4["numerator"].mean()), future_n, float(fit.dispersion[0]), len(window),
        chart.reset_index(drop=True))


def _history(by_q: pd.DataFrame, last_q: int) -> tuple[np.ndarray, np.ndarray]:
    """The HISTORY_QUARTERS quarters up to `last_q` as (1, HISTORY_QUARTERS) arrays of
    numerators and denominators (missing quarters NaN), for the forecast's dispersion."""
    x = np.full(HISTORY_QUARTERS, np.nan)
    n = np.full(HISTORY_QUARTERS, np.nan)
    part = by_q.loc[(by_q.index > last_q - HISTORY_QUARTERS) & (by_q.index <= last_q)]
    slots = (part.index - (last_q - HISTORY_QUARTERS + 1)).to_numpy(int)
    x[slots], n[slots] = part["numerator"].to_numpy(float), \
        part["denominator"].to_numpy(float)
    return x[None, :], n[None, :]


# --- Back-test -------------------------------------------------------------------------------

def backtest(quarters: pd.DataFrame, ahead: int = 4, draws: int = 1000,
             seed: int = SEED) -> pd.DataFrame:
    """Fit on each area's quarters up to each past quarter, forecast `ahead` quarters,
    and record whether the 80% interval held what happened: one row per area and origin
    with columns area_code, origin (quarter index), h (1 .. ahead), covered_rolling (the
    rolling 12 months ending h quarters on), covered_quarter (that single quarter).

    `quarters`: columns area_code, q (quarter index), numerator, denominator: single
    quarters (unsuppressed: only the coverage is reported). An origin is used when the
    forecast would be shown there (MIN_QUARTERS, MIN_RELEASED, four known quarters)."""
    rows, xs, ns, known_x, known_n, future, hxs, hns = [], [], [], [], [], [], [], []
    for area, part in quarters.groupby("area_code"):
        part = part.dropna(subset=["numerator", "denominator"]).sort_values("q")
        by_q = part.set_index("q")
        for origin in by_q.index:
            if origin + ahead not in by_q.index:
                continue
            window = by_q.loc[(by_q.index > origin - FIT_QUARTERS) & (by_q.index <= origin)]
            last4 = by_q.loc[(by_q.index > origin - 4) & (by_q.index <= origin)]
            following = by_q.loc[(by_q.index > origin) & (by_q.index <= origin + ahead)]
            if len(window) < MIN_QUARTERS or len(last4) < 4 or len(following) < ahead \
                    or window["denominator"].median() < MIN_RELEASED:
                continue
            x = np.full(FIT_QUARTERS, np.nan)
            n = np.full(FIT_QUARTERS, np.nan)
            slots = (window.index - (origin - FIT_QUARTERS + 1)).to_numpy(int)
            x[slots], n[slots] = window["numerator"], window["denominator"]
            xs.append(x)
            ns.append(n)
            hx, hn = _history(by_q, origin)          # only quarters up to the origin
            hxs.append(hx[0])
            hns.append(hn[0])
            known_x.append(last4["numerator"].to_numpy(float)[1:])
            known_n.append(last4["denominator"].to_numpy(float)[1:])
            future.append(last4["denominator"].mean())
            all_x = np.concatenate([last4["numerator"], following["numerator"]])
            all_n = np.concatenate([last4["denominator"], following["denominator"]])
            rows.append((area, origin, all_x, all_n))
    if not rows:
        return pd.DataFrame(columns=["area_code", "origin", "h", "covered_rolling",
                                     "covered_quarter"])
    fit = fc.fit_trend(np.array(xs), np.array(ns), predictive=AHEAD,
                       history=(np.array(hxs), np.array(hns)))
    rng = np.random.default_rng(seed)
    future = np.array(future)
    sim_x, _ = fc.simulate(fit, np.full(len(rows), FIT_QUARTERS - 1), future, ahead, draws,
                           rng)
    rolling = fc.rolling_rates(np.array(known_x), np.array(known_n), sim_x, future)
    single = sim_x / np.rint(future)[:, None, None]
    lo_r, hi_r = np.quantile(rolling, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=1)
    lo_q, hi_q = np.quantile(single, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=1)
    out = []
    for i, (area, origin, all_x, all_n) in enumerate(rows):
        for h in range(1, ahead + 1):
            actual_r = all_x[h:h + 4].sum() / all_n[h:h + 4].sum()
            actual_q = all_x[3 + h] / all_n[3 + h]
            out.append((area, origin, h,
                        bool(lo_r[i, h - 1] <= actual_r <= hi_r[i, h - 1]),
                        bool(lo_q[i, h - 1] <= actual_q <= hi_q[i, h - 1]),
                        bool(fit.converged[i])))
    frame = pd.DataFrame(out, columns=["area_code", "origin", "h", "covered_rolling",
                                       "covered_quarter", "converged"])
    return frame[frame["converged"]].drop(columns="converged").reset_index(drop=True)
