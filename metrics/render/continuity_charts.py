"""Charts of the continuity of care page that the shared metrics.render.charts does not draw:
a breakdown (categories with intervals against the target and the area's rate) and the
pathway from release to treatment. Builders return Altair charts; they take frames from
metrics.views.continuity, already suppressed, and compute nothing.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from metrics import stats
from metrics.reference.formatting import plural
from metrics.render import palette
from metrics.render.charts import (AXIS_TEXT, FONT, HOME_COLOUR, LEGEND_TEXT, TARGET_COLOUR,
                                   layered, sent)

PATHWAY_COLOURS = {
    # kind -> (colour, legend words)
    "step": ("#005EB8", "People at this step"),
    "engaged": ("#009E73", "Engaged within 3 weeks (the measure)"),
    "later": ("#56B4E9", "Engaged, but later"),
    "lost": ("#D55E00", "Lost from the pathway"),
}


def _configured(layers, height: int, independent_legends: bool = False):
    """The layers as one chart. `height` is the plotting area's: "fit-x" fills the width
    (Streamlit's default "fit" would squeeze the axes and legend into the height as
    well)."""
    return layered(layers, height=height,
                   autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
                   independent_legends=independent_legends,
                   axis={**AXIS_TEXT, "labelFont": FONT, "titleFont": FONT},
                   legend={**LEGEND_TEXT, "labelFont": FONT}, view={"stroke": None})


def breakdown_chart(table: pd.DataFrame, area_rate: float | None, target: float,
                    area_label: str, category_title: str,
                    row_height: int = 30) -> alt.LayerChart:
    """Each category's rate with its 95% interval, coloured by its comparison with the
    area's overall rate; the target and the area's rate as vertical lines; suppressed
    categories labelled '*'.

    `table`: metrics.views.continuity.breakdown_table output (category, released, engaged,
    rate, lower95, upper95, comparison, suppressed)."""
    data = table.copy()
    data["significance"] = [palette.verdict(c).words for c in data["comparison"]]
    data["comparison_words"] = [stats.comparison_words(c, "the area overall")
                                for c in data["comparison"]]
    data["label"] = [
        "* suppressed (small numbers)" if s else
        ("no releases" if pd.isna(r) else
         f"{r:.1f}%  ({e:,.0f} of {d:,.0f})" if pd.notna(e) and pd.notna(d) else f"{r:.1f}%")
        for r, e, d, s in zip(data["rate"], data["engaged"], data["released"],
                              data["suppressed"])]
    data["released_text"] = ["*" if pd.isna(v) else f"{v:,.0f}" for v in data["released"]]
    data["engaged_text"] = ["*" if pd.isna(v) else f"{v:,.0f}" for v in data["engaged"]]
    data["rate_text"] = ["*" if s else ("-" if pd.isna(v) else f"{v:.1f}%")
                         for v, s in zip(data["rate"], data["suppressed"])]
    data["label_x"] = 100.0
    styles = palette.present(data.loc[data["rate"].notna(), "comparison"]) or \
        [palette.VERDICTS["not_compared"]]
    # Only what is drawn or in a tooltip reaches the browser (metrics.render.charts.sent).
    data = sent(data, ["category", "rate", "lower95", "upper95", "significance",
                       "comparison_words", "label", "label_x", "released_text",
                       "engaged_text", "rate_text"], "%", ("rate", "lower95", "upper95"))
    colours = alt.Scale(domain=[v.words for v in styles], range=[v.colour for v in styles])
    shapes = alt.Scale(domain=[v.words for v in styles], range=[v.shape for v in styles])
    y = alt.Y("category:N", title=None, sort=list(data["category"]),
              axis=alt.Axis(labelLimit=260))
    x_scale = alt.Scale(domain=[0, 100])
    x_axis = alt.Axis(values=list(range(0, 101, 10)), title="% engaged within 3 weeks")
    legend = alt.Legend(orient="bottom", title="Compared with the area overall",
                        titleLimit=400, symbolStrokeWidth=1)
    tooltip = [alt.Tooltip("category:N", title=category_title),
               alt.Tooltip("released_text:N", title="Released with a need"),
               alt.Tooltip("engaged_text:N", title="Engaged within 3 weeks"),
               alt.Tooltip("rate_text:N", title="Rate"),
               alt.Tooltip("lower95:Q", title="95% lower", format=".1f"),
               alt.Tooltip("upper95:Q", title="95% upper", format=".1f"),
               alt.Tooltip("comparison_words:N", title="Compared with the area")]
    base = alt.Chart(data)
    shown = base.transform_filter("isValid(datum.rate)")
    layers = [
        shown.mark_rule(strokeWidth=3, opacity=0.55).encode(
            x=alt.X("lower95:Q", scale=x_scale, axis=x_axis),
            x2=alt.X2("upper95:Q"), y=y,
            color=alt.Color("significance:N", scale=colours, legend=None)),
        shown.mark_point(filled=True, size=120, opacity=1, stroke=palette.MARKER_STROKE,
                         strokeWidth=0.8).encode(
            x=alt.X("rate:Q", scale=x_scale), y=y,
            color=alt.Color("significance:N", scale=colours, legend=legend),
            shape=alt.Shape("significance:N", scale=shapes, legend=legend),
            tooltip=tooltip),
        base.mark_text(align="right", dx=-2, fontSize=12, color="#333333").encode(
            x=alt.X("label_x:Q", scale=x_scale), y=y, text=alt.Text("label:N"), tooltip=tooltip),
        alt.Chart(pd.DataFrame({"x": [target], "label": [f"{target:g}% target"]}))
        .mark_rule(color=TARGET_COLOUR, strokeDash=[4, 4], strokeWidth=2)
        .encode(x=alt.X("x:Q", scale=x_scale),
                tooltip=[alt.Tooltip("label:N", title="Target")]),
    ]
    if area_rate is not None:
        area_rate = round(float(area_rate), 1)
        layers.append(alt.Chart(pd.DataFrame({"x": [area_rate],
                                              "label": [f"{area_label}: {area_rate:.1f}%"]}))
                      .mark_rule(color=HOME_COLOUR, strokeWidth=2)
                      .encode(x=alt.X("x:Q", scale=x_scale),
                              tooltip=[alt.Tooltip("label:N", title="All prison leavers")]))
    # One legend per layer: the dots' (outlined, with shapes), none for the rules, whose
    # faint look a shared legend would take.
    return _configured(layers, max(len(data), 1) * row_height, independent_legends=True)


def pathway_chart(stages: pd.DataFrame, target_count: int | None, target: float,
                  height: int = 6 * 44) -> alt.LayerChart:
    """The route from prison to treatment as horizontal bars, one per stage, coloured
    by whether people are still on the route, engaged, or lost; a tick on the engaged
    bar where the target would be. `stages`: metrics.views.continuity.pathway output."""
    data = stages.copy()
    data["colour_words"] = data["kind"].map(lambda k: PATHWAY_COLOURS[k][1])
    data["label"] = [
        "* suppressed" if s else (f"{c:,.0f}" + (f"  ({p:.0f}%)" if pd.notna(p) else ""))
        for c, p, s in zip(data["count"], data["percent"], data["suppressed"])]
    data["bar"] = data["count"].fillna(0)
    engaged = data[data["key"] == "engaged"]
    widest = max(float(data["bar"].max() or 0), float(target_count or 0), 1.0)
    data = sent(data, ["stage", "bar", "colour_words", "label"], "count", ("bar",))
    domain = [w for _, w in PATHWAY_COLOURS.values()]
    colours = alt.Scale(domain=domain, range=[c for c, _ in PATHWAY_COLOURS.values()])
    y = alt.Y("stage:N", title=None, sort=list(data["stage"]), axis=alt.Axis(labelLimit=280))
    tooltip = [alt.Tooltip("stage:N", title="Stage"), alt.Tooltip("label:N", title="People")]
    base = alt.Chart(data)
    layers = [
        base.mark_bar(height=26).encode(
            x=alt.X("bar:Q", title="People (12 months)",
                    axis=alt.Axis(tickCount=8, format=",.0f"),
                    # Room past the longest bar for its label ("515 (100%)").
                    scale=alt.Scale(domain=[0, widest * 1.2])), y=y,
            color=alt.Color("colour_words:N", scale=colours, title=None,
                            legend=alt.Legend(orient="bottom", columns=2, labelLimit=400)),
            tooltip=tooltip),
        base.mark_text(align="left", dx=5, fontSize=13, color="#222222").encode(
            x=alt.X("bar:Q"), y=y, text=alt.Text("label:N"), tooltip=tooltip),
    ]
    if target_count is not None and len(engaged):
        mark = pd.DataFrame({"x": [target_count], "stage": [engaged["stage"].iloc[0]],
                             "label": [f"{target:g}% target: {target_count:,}"]})
        count = engaged["count"].iloc[0]
        if pd.notna(count) and count < target_count:
            # The people short, as a pale bar from those engaged up to the target.
            gap = pd.DataFrame({"x": [count], "x2": [target_count],
                                "stage": [engaged["stage"].iloc[0]],
                                "label": [plural(target_count - count, "more person",
                                                 "more people") + " needed"]})
            layers.insert(0, alt.Chart(gap).mark_bar(
                height=26, color=TARGET_COLOUR, opacity=0.12).encode(
                x=alt.X("x:Q", title="People (12 months)"), x2=alt.X2("x2:Q"), y=y,
                tooltip=[alt.Tooltip("label:N", title="Gap")]))
        layers += [
            alt.Chart(mark).mark_tick(color=TARGET_COLOUR, thickness=3, size=34).encode(
                x=alt.X("x:Q"), y=y, tooltip=[alt.Tooltip("label:N", title="Target")]),
            # Beside the tick, on its own row: above it, it sat on the next bar's label.
            alt.Chart(mark).mark_text(align="left", dx=7, fontSize=12,
                                      fontWeight="bold", color=TARGET_COLOUR).encode(
                x=alt.X("x:Q"), y=y, text=alt.Text("label:N")),
        ]
    return _configured(layers, height)
