"""What-if scenarios for continuity of care: the rate and the gap to the target if more
people engaged each quarter, or if more prison leavers were referred.

A scenario is arithmetic on the forecast (metrics.views.target_forecast), never data: it
is not stored, and every result says it is a scenario. The baseline is the forecast's
median rolling 12-month rate for each coming quarter; a scenario adds engagements to each
coming quarter at the recent releases a quarter, so the rolling 12 months take four
quarters to carry the whole of it. Raising referrals by Y points of those released adds
Y% of releases to the referred, of whom the share referred people engaged within 3 weeks
in the latest 12 months (from the pathway) would engage.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from metrics.views.target_forecast import TargetForecast

SCENARIO_NOTE = ("Scenario, not a forecast or a record: what the figures would be if the "
                 "change were made from next quarter, on the trend so far. It is worked "
                 "out on this screen and not stored.")


@dataclass(frozen=True)
class Scenario:
    extra_per_quarter: float          # engagements a quarter added, in all
    frame: pd.DataFrame               # period, period_end, baseline, scenario, gap
    words: str


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
             area_name: str = "the area") -> Scenario | None:
    """The rate and gap for each coming quarter with `more_engaged` people a quarter more
    engaging within 3 weeks and referrals raised by `referral_points` percentage points
    of releases (needs `share_engaged`). None without a forecast to build on."""
    if not forecast.available or forecast.frame.empty:
        return None
    released = forecast.released_per_quarter
    from_referrals = 0.0
    if referral_points and share_engaged is not None:
        from_referrals = referral_points / 100 * released * share_engaged
    extra = max(0.0, float(more_engaged)) + from_referrals
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
    if not parts:
        words = "No change entered: the scenario is the forecast itself."
    else:
        position = (f"{-last['gap']:.1f} points above" if last["gap"] <= 0
                    else f"{last['gap']:.1f} points short of")
        words = (f"Scenario: with {' and '.join(parts)}, {area_name} would be at "
                 f"{last['scenario']:.1f}% in the {last['period']} (forecast without it "
                 f"{last['baseline']:.1f}%), {position} the {forecast.target:g}% target.")
    return Scenario(extra, frame, words)
