"""The continuity page's forecast: will the area meet the target, and when?

Draws metrics.views.target_forecast for the area's protected series (no forecast where
its single quarters are hidden) with its chart, and a what-if scenario built on it
(metrics.views.scenarios: its inputs live in the URL, nothing is stored); the page calls
`render` once."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from metrics.render import describe, forecast_charts
from metrics.views import continuity as cc, scenarios, target_forecast as tf
from ui import data, exports, tables

IDS = ("continuity_of_care",)


@st.cache_data(max_entries=128, show_spinner=False)
def _model(data_dir, version_id, area_code, area_name, period_end, threshold, target,
           target_date):
    values = data.public_values(data_dir, version_id, IDS, threshold)
    protected = cc.protect_series(values, area_code, period_end, threshold)
    result = tf.target_forecast(protected, target, target_date)
    spec = None
    if result.available:
        observed = protected[(protected["period_kind"] == "rolling_12m")
                             & protected["value"].notna()].tail(12)
        # The forecast's line starts at the latest published figure, so the two join (a
        # set loaded without 12-month figures has none to join: the forecast stands alone).
        forecast = result.frame
        if len(observed):
            last = observed.iloc[[-1]]
            start = pd.DataFrame({"period_end": last["period_end"].to_numpy(),
                                  "period": last["period"].to_numpy(),
                                  **{c: last["value"].to_numpy() for c in
                                     ("median", "lower", "upper")}})
            forecast = pd.concat([start, forecast], ignore_index=True)
        spec = forecast_charts.forecast_chart(
            observed, forecast, target * 100, f"{target * 100:g}% target").to_dict(
            validate=False)
    return result, spec, _share_engaged(data_dir, version_id, area_code, protected,
                                        threshold, target)


def _share_engaged(data_dir, version_id, area_code, protected, threshold, target):
    """Of those referred in the latest 12 months, the share engaged within 3 weeks, from
    the pathway as the page shows it (None where its counts are hidden)."""
    rolling = protected[protected["period_kind"] == "rolling_12m"]
    if rolling.empty:
        return None
    latest = rolling.iloc[-1]
    values = data.all_area_values(data_dir, version_id, IDS)
    raw = values[(values["indicator_id"] == cc.IND.id) & (values["area_code"] == area_code)
                 & (values["period"] == latest["period"])]
    rows = data.breakdown_values(data_dir, version_id, IDS, (area_code, cc.ENGLAND))
    stages = cc.pathway(rows, raw.iloc[0] if len(raw) else None, area_code,
                        latest["period"], threshold, target, bool(latest["suppressed"]),
                        bool(latest["denominator_hidden"]))
    return scenarios.engaged_share_of_referred(stages)


def render(ctx) -> None:
    settings = ctx.settings
    result, spec, share = _model(ctx.data_dir, ctx.version.id, ctx.area_code, ctx.area_name,
                          ctx.period_end, ctx.disclosure_threshold,
                          settings.continuity_target, settings.continuity_target_date)
    st.subheader("Forecast: will the target be met?")
    words = result.sentences(ctx.area_name)
    if not result.available:
        st.info(words[0], icon=":material/query_stats:")
        return
    st.markdown(" ".join(words))
    # The sentences just above are the chart's accessible name too (not repeated under it).
    exports.chart(describe.accessible(spec, " ".join(words)),
                  f"continuity-forecast-{ctx.area_code}", ctx.public)
    notes = [f"A forecast, not a promise: a binomial model with a trend in time, fitted to "
             f"the last {result.quarters_used} single quarters (each weighted by its "
             "releases), simulated forward 4,000 times at the recent releases a quarter; "
             "the band is the 80% interval. It assumes the trend carries on."]
    if result.dispersion and result.dispersion > 2:
        notes.append(f"The quarters vary about {result.dispersion:.0f} times more than "
                     "chance alone would make them; the intervals allow for it, but where "
                     "a trend bends (as England's and the regions' did in the back-test) "
                     "the figure falls outside the 80% interval more often than 1 in 5.")
    st.caption(" ".join(notes))
    _scenario(result, share, ctx.area_name)


def _url_number(label: str, key: str, maximum: float, help: str) -> float:
    """A number input kept in the URL (so a scenario can be shared by its link); any
    value in the URL that is not a number in range is ignored."""
    if key not in st.session_state:
        try:
            wanted = float(st.query_params.get(key, 0))
        except (TypeError, ValueError):
            wanted = 0.0
        st.session_state[key] = wanted if math.isfinite(wanted) and \
            0 <= wanted <= maximum else 0.0
    value = st.number_input(label, min_value=0.0, max_value=float(maximum), step=1.0,
                            key=key, help=help, format="%.0f")
    if value:
        st.query_params[key] = f"{value:g}"
    else:
        st.query_params.pop(key, None)
    return value


def _scenario(result: tf.TargetForecast, share: float | None, area_name: str) -> None:
    with st.container(border=True):
        st.markdown("**What if? A scenario** (not a forecast, not stored)")
        left, right = st.columns(2)
        with left:
            more = _url_number("More people engaged within 3 weeks, per quarter", "more",
                               10_000, "Added to every coming quarter.")
        with right:
            referral = _url_number(
                "Referrals raised by (percentage points of those released)", "referral",
                100, "More prison leavers referred to community treatment; as many of "
                     "them engage as of those referred now.")
        made = scenarios.scenario(result, more, referral, share, area_name)
        if made is None:
            return
        st.markdown(made.words)
        if more or referral:
            shown = made.frame.assign(
                Forecast=[f"{v:.1f}%" for v in made.frame["baseline"]],
                Scenario=[f"{v:.1f}%" for v in made.frame["scenario"]],
                **{f"Gap to {result.target:g}%": [
                    "met" if g <= 0 else f"{g:.1f} points" for g in made.frame["gap"]]})
            st.dataframe(tables.for_display(shown.drop(columns=[
                "period_end", "baseline", "scenario", "gap"]).rename(
                columns={"period": "Period"})), hide_index=True, width="stretch")
        st.caption(scenarios.SCENARIO_NOTE)
