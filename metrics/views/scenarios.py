"""What-if scenarios for continuity of care: the rate and the gap to the target if more
people engaged each quarter, or if more prison leavers were referred.

A scenario is arithmetic on the forecast (metrics.views.target_forecast), never data: it
is not stored, and every result says it is a scenario. The baseline is the forecast's
median rolling 12-month rate for each coming quarter; a scenario adds engagements to each
coming quarter at the recent releases a quarter, so the rolling 12 months take four
quarters to carry the whole of it. Raising referrals by Y points of those released adds
Y% of releases to the referred, of whom the share referred people engaged within 3 weeks
in the latest 12 months (from the pathway) would engage. Raising one releasing prison's
rate to the median of the area's prisons adds (median - its rate) of its releases; only
prisons whose releases and rate the page shows take part, so a scenario never works from
a figure that is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from metrics.reference.catalogue import OTHER_PRISONS
from metrics.views.target_forecast import TargetForecast

_NOTE = ("Scenario, not a forecast or a record: what the figures would be if the change "
         "were made from next quarter, on the trend so far. {}")
SCENARIO_NOTE = _NOTE.format("It is worked out on this screen and not stored.")
PACK_SCENARIO_NOTE = _NOTE.format("It was worked out for this pack and is not stored.")


@dataclass(frozen=True)
class Scenario:
    extra_per_quarter: float          # engagements a quarter added, in all
    frame: pd.DataFrame               # period, period_end, baseline, scenario, gap
    words: str

    def table(self, target: float) -> pd.DataFrame:
        """The coming quarters as a board table: forecast, scenario and gap to target."""
        return pd.DataFrame({
            "Period": self.frame["period"],
            "Forecast": [f"{v:.1f}%" for v in self.frame["baseline"]],
            "Scenario": [f"{v:.1f}%" for v in self.frame["scenario"]],
            f"Gap to {target:g}%": ["met" if g <= 0 else f"{g:.1f} points"
                                    for g in self.frame["gap"]]})


@dataclass(frozen=True)
class ScenarioRequest:
    """A scenario's inputs, as the page's URL carries them (?more=&referral=&prison=)."""
    more: float = 0.0
    referral: float = 0.0
    prison: str = ""

    def __bool__(self) -> bool:
        return bool(self.more or self.referral or self.prison)


@dataclass(frozen=True)
class PrisonChange:
    prison: str
    rate: float                       # its rate in the latest 12 months (%)
    median: float                     # the median rate of the area's prisons shown (%)
    extra_per_quarter: float          # engagements a quarter at the median instead


def prisons_below_median(table: pd.DataFrame) -> tuple[list[str], float | None]:
    """The releasing prisons (metrics.views.continuity.breakdown_table rows for "prison",
    as the page shows them) whose rate is below the median of the prisons shown, lowest
    first, and that median. "Other prisons" and prisons with a hidden figure take no part."""
    if table is None or table.empty:
        return [], None
    shown = table[(table["category"] != OTHER_PRISONS) & table["rate"].notna()
                  & table["released"].notna() & ~table["suppressed"].astype(bool)]
    if len(shown) < 3:            # a median of two prisons is one of them
        return [], None
    median = float(shown["rate"].median())
    below = shown[shown["rate"] < median].sort_values(["rate", "category"])
    return below["category"].astype(str).tolist(), median


def prison_change(table: pd.DataFrame, prison: str) -> PrisonChange | None:
    """What raising `prison`'s rate to the prisons' median would add a quarter (its 12
    months' releases over four quarters), or None when it is not below the median."""
    below, median = prisons_below_median(table)
    if prison not in below:
        return None
    row = table[table["category"].astype(str) == prison].iloc[0]
    extra = (median - float(row["rate"])) / 100 * float(row["released"]) / 4
    return PrisonChange(prison, float(row["rate"]), median, extra)


def engaged_share_of_referred(stages: pd.DataFrame) -> float | None:
    """Of those referred in the latest 12 months, the share engaged within 3 weeks, from
    the pathway (metrics.views.continuity.pathway); None when either count is hidden."""
    if stages is None or stages.empty:
        return None
    counts = stages.set_index("key")["count"]
    referred, engaged = counts.get("referred"), counts.get("engaged")
    if referred is None or engaged is None or pd.isna(referred) or pd.isna(engaged) \
            or referred <= 0:
        return None
    return float(engaged) / float(referred)


def scenario(forecast: TargetForecast, more_engaged: float = 0.0,
             referral_points: float = 0.0, share_engaged: float | None = None,
             area_name: str = "the area",
             prison: PrisonChange | None = None) -> Scenario | None:
    """The rate and gap for each coming quarter with `more_engaged` people a quarter more
    engaging within 3 weeks, referrals raised by `referral_points` percentage points of
    releases (needs `share_engaged`) and one prison's rate raised to the prisons' median
    (`prison`, from prison_change). None without a forecast to build on."""
    if not forecast.available or forecast.frame.empty:
        return None
    released = forecast.released_per_quarter
    from_referrals = 0.0
    if referral_points and share_engaged is not None:
        from_referrals = referral_points / 100 * released * share_engaged
    extra = max(0.0, float(more_engaged)) + from_referrals + \
        (prison.extra_per_quarter if prison is not None else 0.0)
    frame = forecast.frame[["period", "period_end", "median"]].rename(
        columns={"median": "baseline"}).reset_index(drop=True)
    quarters_in = pd.Series(range(1, len(frame) + 1)).clip(upper=4)
    frame["scenario"] = (frame["baseline"] + extra * quarters_in / (4 * released) * 100) \
        .clip(upper=100)
    frame["gap"] = forecast.target - frame["scenario"]
    at_goal = frame[frame["period"] == forecast.goal_period]
    last = at_goal.iloc[0] if len(at_goal) else frame.iloc[-1]
    parts = []
    if more_engaged:
        parts.append(f"{more_engaged:,.0f} more people a quarter engaging within 3 weeks")
    if referral_points:
        parts.append(f"referrals raised by {referral_points:g} points of those released"
                     + (f" (about {from_referrals:,.0f} more engaging a quarter, at the "
                        f"{share_engaged * 100:.0f}% of referred people who engage now)"
                        if share_engaged is not None else
                        " (not counted: the pathway's counts are not shown for this area)"))
    if prison is not None:
        parts.append(f"{prison.prison}'s rate raised from {prison.rate:.1f}% to the "
                     f"median of the area's prisons, {prison.median:.1f}% (about "
                     f"{prison.extra_per_quarter:,.0f} more engaging a quarter)")
    if not parts:
        words = "No change entered: the scenario is the forecast itself."
    else:
        position = (f"{-last['gap']:.1f} points above" if last["gap"] <= 0
                    else f"{last['gap']:.1f} points short of")
        words = (f"Scenario: with {' and '.join(parts)}, {area_name} would be at "
                 f"{last['scenario']:.1f}% in the {last['period']} (forecast without it "
                 f"{last['baseline']:.1f}%), {position} the {forecast.target:g}% target.")
    return Scenario(extra, frame, words)


@dataclass(frozen=True)
class ScenarioInputs:
    """What a scenario may build on, all as the continuity page shows it (protected)."""
    share_engaged: float | None       # of those referred, the share engaged (pathway)
    prisons: pd.DataFrame             # the releasing-prison breakdown (breakdown_table)


def scenario_inputs(protected: pd.DataFrame, breakdown_rows: pd.DataFrame,
                    raw_totals: pd.DataFrame, area_code: str, threshold: int,
                    target: float) -> ScenarioInputs:
    """The pathway's share engaged and the prison breakdown for the latest 12 months.

    `protected`: metrics.views.continuity.protect_series of the area; `breakdown_rows`:
    continuity of care's breakdown rows for the area and England; `raw_totals`: the
    area's unprotected total rows (what the breakdowns add up to)."""
    from metrics.views import continuity as cc
    rolling = protected[protected["period_kind"] == "rolling_12m"] \
        if len(protected) else protected
    if rolling.empty:
        return ScenarioInputs(None, pd.DataFrame())
    latest = rolling.iloc[-1]
    raw = raw_totals[(raw_totals["indicator_id"] == cc.IND.id)
                     & (raw_totals["area_code"] == area_code)
                     & (raw_totals["period"] == latest["period"])]
    total = raw.iloc[0] if len(raw) else None
    hidden = bool(latest["suppressed"]), bool(latest["denominator_hidden"])
    stages = cc.pathway(breakdown_rows, total, area_code, latest["period"], threshold,
                        target, *hidden)
    prisons = cc.breakdown_table(breakdown_rows, total, area_code, latest["period"],
                                 "prison", threshold, *hidden)
    return ScenarioInputs(engaged_share_of_referred(stages), prisons)


def build(forecast: TargetForecast, inputs: ScenarioInputs, request: ScenarioRequest,
          area_name: str) -> Scenario | None:
    """The scenario a request asks for (a prison not below the median adds nothing)."""
    prison = prison_change(inputs.prisons, request.prison) if request.prison else None
    return scenario(forecast, request.more, request.referral, inputs.share_engaged,
                    area_name, prison)
