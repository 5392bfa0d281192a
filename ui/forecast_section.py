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
from metrics.reports import boardpack
from metrics.views import continuity as cc, scenarios, target_forecast as tf
from ui import continuity_series as shared, data, exports, tables

IDS = shared.IDS


@st.cache_data(max_entries=128, show_spinner=False)
def _model(data_dir, version_id, area_code, area_name, period_end, threshold, target,
           target_date):
    protected = shared.protected(data_dir, version_id, area_code, period_end, threshold)
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
    inputs = scenarios.scenario_inputs(
        protected, data.breakdown_values(data_dir, version_id, IDS, (area_code, cc.ENGLAND)),
        data.all_area_values(data_dir, version_id, IDS), area_code, threshold, target)
    return result, spec, inputs


def render(ctx) -> None:
    settings = ctx.settings
    result, spec, inputs = _model(ctx.data_dir, ctx.version.id, ctx.area_code, ctx.area_name,
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
    st.caption(" ".join(result.method_words()))
    _scenario(result, inputs, ctx)


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


def _url_prison(below: list[str], median: float) -> str:
    """The prison chosen for the scenario, kept in the URL; a name in the URL that is not
    one of the prisons below the median is ignored."""
    if "prison" not in st.session_state:
        wanted = st.query_params.get("prison", "")
        st.session_state["prison"] = wanted if wanted in below else ""
    choice = st.selectbox(
        "One prison's rate raised to the median of the area's prisons", ["", *below],
        key="prison", format_func=lambda p: p or "No prison chosen",
        help=f"Prisons releasing to this area whose rate is below the median of its "
             f"prisons shown ({median:.1f}%), lowest first. Prisons whose figures are "
             "hidden for small numbers, and 'Other prisons', take no part.")
    if choice:
        st.query_params["prison"] = choice
    else:
        st.query_params.pop("prison", None)
    return choice


def _scenario(result: tf.TargetForecast, inputs: scenarios.ScenarioInputs, ctx) -> None:
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
        below, median = scenarios.prisons_below_median(inputs.prisons)
        prison = _url_prison(below, median) if below else ""
        request = scenarios.ScenarioRequest(more, referral, prison)
        made = scenarios.build(result, inputs, request, ctx.area_name)
        if made is None:
            return
        st.markdown(made.words)
        if request:
            st.dataframe(tables.for_display(made.table(result.target)), hide_index=True,
                         width="stretch")
            # The pack is built with the same inputs: nothing is stored.
            st.download_button(
                "Board pack with this scenario (PDF)",
                data=lambda: boardpack.make_pack(ctx.data_dir, ctx.area_code, ctx.period,
                                                 scenario=request),
                file_name=f"board-pack-scenario-{ctx.area_code}-"
                          f"{ctx.period.replace('/', '-').replace(' ', '-')}.pdf",
                mime="application/pdf", icon=":material/picture_as_pdf:",
                help="The board pack with this scenario printed after the forecast, marked "
                     "as a scenario. Small counts are always suppressed.")
        st.caption(scenarios.SCENARIO_NOTE)
