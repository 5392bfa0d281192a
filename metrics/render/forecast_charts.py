"""The target forecast's chart: the rolling 12 months so far, the forecast's median and
its 80% interval, and the target. Takes frames from metrics.views.target_forecast and
computes nothing."""

from __future__ import annotations

import altair as alt
import pandas as pd

from metrics.render.charts import (AXIS_TEXT, FONT, HOME_COLOUR, LEGEND_TEXT, TARGET_COLOUR,
                                   layered, sent)

FORECAST_COLOUR = "#6A3D9A"


def forecast_chart(observed: pd.DataFrame, forecast: pd.DataFrame, target: float,
                   target_text: str, height: int = 300) -> alt.LayerChart:
    """`observed`: period, period_end, value (shown rolling figures); `forecast`: period,
    period_end, median, lower, upper (percentages)."""
    seen = sent(observed.assign(x=pd.to_datetime(observed["period_end"]),
                                line="Published 12-month figure"),
                ["x", "period", "value", "line"], "%", ("value",))
    ahead = sent(forecast.assign(x=pd.to_datetime(forecast["period_end"]),
                                 line="Forecast (median)"),
                 ["x", "period", "median", "lower", "upper", "line"], "%",
                 ("median", "lower", "upper"))
    x = alt.X("x:T", title=None, axis=alt.Axis(format="%b %Y", labelOverlap=True))
    y = alt.Y("value:Q", title="% engaged within 3 weeks", scale=alt.Scale(zero=False))
    colour = alt.Color("line:N", title=None, scale=alt.Scale(
        domain=["Published 12-month figure", "Forecast (median)"],
        range=[HOME_COLOUR, FORECAST_COLOUR]), legend=alt.Legend(orient="bottom"))
    band = alt.Chart(ahead).mark_area(opacity=0.22, color=FORECAST_COLOUR).encode(
        x=x, y=alt.Y("lower:Q", title="% engaged within 3 weeks"), y2=alt.Y2("upper:Q"),
        tooltip=[alt.Tooltip("period:N", title="Period"),
                 alt.Tooltip("lower:Q", title="80% interval from", format=".1f"),
                 alt.Tooltip("upper:Q", title="80% interval to", format=".1f")])
    median = alt.Chart(ahead).mark_line(strokeDash=[6, 3], strokeWidth=2.5, point=True) \
        .encode(x=x, y=alt.Y("median:Q"), color=colour,
                tooltip=[alt.Tooltip("period:N", title="Period"),
                         alt.Tooltip("median:Q", title="Forecast (median)", format=".1f")])
    line = alt.Chart(seen).mark_line(strokeWidth=2.5, point=True).encode(
        x=x, y=y, color=colour,
        tooltip=[alt.Tooltip("period:N", title="Period"),
                 alt.Tooltip("value:Q", title="% engaged", format=".1f")])
    goal = pd.DataFrame({"y": [target], "label": [target_text]})
    rule = alt.Chart(goal).mark_rule(color=TARGET_COLOUR, strokeDash=[4, 4], strokeWidth=2) \
        .encode(y=alt.Y("y:Q"), tooltip=[alt.Tooltip("label:N", title="Target")])
    text = alt.Chart(goal).mark_text(align="left", dx=4, dy=-8, color=TARGET_COLOUR,
                                     fontSize=13, fontWeight="bold") \
        .encode(y=alt.Y("y:Q"), x=alt.value(0), text=alt.Text("label:N"))
    return layered(
        [band, line, median, rule, text], height=height,
        description="Continuity of care: published rolling 12-month figures, the "
                    "forecast's median with its 80% interval, and the target.",
        axis={**AXIS_TEXT, "labelFont": FONT, "titleFont": FONT},
        legend={**LEGEND_TEXT, "labelFont": FONT})
