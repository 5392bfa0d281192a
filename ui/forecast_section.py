"""The continuity page's forecast: will the area meet the target, and when?

Draws metrics.views.target_forecast for the area's protected series (no forecast where
its single quarters are hidden) with its chart; the page calls `render` once."""

from __future__ import annotations


import pandas as pd
import streamlit as st

from metrics.render import forecast_charts
from metrics.views import continuity as cc, target_forecast as tf
from ui import data, exports

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
        # The forecast's line starts at the latest published figure, so the two join.
        last = observed.iloc[[-1]]
        start = pd.DataFrame({"period_end": last["period_end"].to_numpy(),
                              "period": last["period"].to_numpy(),
                              **{c: last["value"].to_numpy() for c in
                                 ("median", "lower", "upper")}})
        spec = forecast_charts.forecast_chart(
            observed, pd.concat([start, result.frame], ignore_index=True), target * 100,
            f"{target * 100:g}% target").to_dict(validate=False)
    return result, spec


def render(ctx) -> None:
    settings = ctx.settings
    result, spec = _model(ctx.data_dir, ctx.version.id, ctx.area_code, ctx.area_name,
                          ctx.period_end, ctx.disclosure_threshold,
                          settings.continuity_target, settings.continuity_target_date)
    st.subheader("Forecast: will the target be met?")
    words = result.sentences(ctx.area_name)
    if not result.available:
        st.info(words[0], icon=":material/query_stats:")
        return
    st.markdown(" ".join(words))
    exports.chart(spec, f"continuity-forecast-{ctx.area_code}", ctx.public)
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
