"""Altair chart builders, used by pages and by exports alike.

Each builder takes tidy DataFrames prepared by the domain modules and returns a chart
object; none queries data or computes statistics. Comparison with England is drawn in
the benchmark colours and shapes of metrics.render.palette (always with words too), SPC
in NHS "Making Data Count" colours.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from metrics.render import palette

SPC_COLOURS = {
    "common_cause": ("#7B7D7D", "Common cause variation"),
    "special_cause_improvement": ("#289DE0", "Special cause: improvement"),
    "special_cause_concern": ("#FAB428", "Special cause: concern"),
    "special_cause_neutral": ("#361475", "Special cause: neither"),
}
HOME_COLOUR = "#003D73"
ENGLAND_COLOUR = "#222222"
COMPARATOR_COLOUR = "#6A3D9A"
TARGET_COLOUR = "#C00000"
FONT = "Source Sans Pro, Arial, sans-serif"


# Periods a year or longer that are read by their label ("2024/25", "2021", "2019 - 21"):
# plotted at their middle and labelled with the period. A pooled "2019 - 21" ends on
# 31 December 2021, so plotting its end on a year axis put it at 2022, a year late.
LABELLED_KINDS = ("financial_year", "calendar_year", "pooled_3y")
MAX_PERIOD_TICKS = 14


def number_format(unit: str) -> str:
    """Tooltip format: a count is a whole number, anything else one decimal."""
    return ",.0f" if unit == "count" else ",.1f"


def value_places(unit: str) -> int:
    """Decimals a value is sent with: those a viewer is shown (metrics.reference.formatting)."""
    if unit == "count":
        return 0
    return 2 if "1,000,000" in unit else 1


def sent(frame: pd.DataFrame, fields, unit: str | None = None,
         rounded: tuple[str, ...] = ()) -> pd.DataFrame:
    """Only the fields a chart draws or its tooltip shows, with `rounded` fields at the
    displayed precision. Altair writes every column of a chart's frame into the spec
    the browser receives, so anything else (numerators, denominators, full-precision
    rates) would reach a viewer who reads the page's data."""
    out = frame[[f for f in fields if f in frame.columns]].copy()
    places = value_places(unit or "")
    for field in rounded:
        if field in out:
            out[field] = pd.to_numeric(out[field], errors="coerce").astype(float).round(places)
    return out


def layered(layers, *, height=None, autosize=None, description=None, independent_legends=False,
            axis: dict | None = None, legend: dict | None = None, view: dict | None = None
            ) -> alt.LayerChart:
    """alt.layer(*layers) with its height, configuration (axis, legend and view) and legend
    resolution set as it is made: each chained .properties(), .configure_*() or
    .resolve_legend() deep-copies the whole chart with every layer, about 10 ms a call,
    a third of an area change's chart building. `independent_legends`: one legend per
    layer (rules show none, the dots theirs), not one shared legend."""
    kwargs: dict = {}
    if height is not None:
        kwargs["height"] = height
    if autosize is not None:
        kwargs["autosize"] = autosize
    if description is not None:
        kwargs["description"] = description
    if independent_legends:
        kwargs["resolve"] = alt.Resolve(legend=alt.LegendResolveMap(
            color="independent", shape="independent"))
    config = {}
    if axis:
        config["axis"] = alt.AxisConfig(**axis)
    if legend:
        config["legend"] = alt.LegendConfig(**legend)
    if view:
        config["view"] = alt.ViewConfig(**view)
    if config:
        kwargs["config"] = alt.Config(**config)
    return alt.layer(*layers, **kwargs)


# The type scale of the charts on screen.
AXIS_TEXT = {"labelFontSize": 13, "titleFontSize": 13}
LEGEND_TEXT = {"labelFontSize": 13}


def y_axis(unit: str) -> alt.Axis:
    """A value axis whose tick labels never read '1,391.000000'."""
    return alt.Axis(format=",.0f" if unit == "count" else ",~r", labelOverlap=True)


def time_axis(frame: pd.DataFrame) -> tuple[pd.DataFrame, alt.X]:
    """The x position of each row and the x encoding for a chart over time.

    Quarters and rolling 12 months are plotted at their end on a year axis. Financial
    years, calendar years and pooled periods are plotted at their middle, with a tick per
    period labelled with the period itself ('2019 - 21' at mid-2020)."""
    out = frame.copy()
    ends = pd.to_datetime(out["period_end"])
    kinds = set(out["period_kind"].dropna()) if "period_kind" in out else set()
    labelled = bool(kinds) and kinds <= set(LABELLED_KINDS) and "period_start" in out
    if not labelled:
        out["x_date"] = ends
        return out, alt.X("x_date:T", title=None,
                          axis=alt.Axis(format="%Y", tickCount="year", labelOverlap=True))
    starts = pd.to_datetime(out["period_start"])
    # Midnight of the middle day, so the tick and the point share an exact timestamp.
    out["x_date"] = (starts + (ends - starts) / 2).dt.normalize()
    ticks = (out.drop_duplicates("period").sort_values("x_date")[["period", "x_date"]])
    if len(ticks) > MAX_PERIOD_TICKS:     # keep labels readable: every other period
        ticks = ticks.iloc[::-1].iloc[::2].iloc[::-1]
    # Vega parses the dates and the tick values in the viewer's time zone; matching the
    # ticks by their formatted day (not a millisecond stamp) keeps the labels right in
    # British Summer Time too.
    expression = "''"
    for day, period in zip(reversed(ticks["x_date"].dt.strftime("%Y-%m-%d").tolist()),
                           reversed(ticks["period"].tolist())):
        label = str(period).replace("\\", "").replace("'", "\\'")
        expression = (f"timeFormat(datum.value, '%Y-%m-%d') == '{day}' ? '{label}' : "
                      f"({expression})")
    axis = alt.Axis(values=[alt.DateTime(year=t.year, month=t.month, date=t.day)
                            for t in ticks["x_date"]],
                    labelExpr=expression, labelOverlap=False, labelAngle=0, grid=True)
    return out, alt.X("x_date:T", title=None, axis=axis)


def _significance_scale(present=None) -> tuple[alt.Scale, alt.Scale]:
    """Colour and shape scales for the comparison with England (metrics.render.palette),
    limited to the categories present (by their words) so the legend lists only what the
    chart shows."""
    styles = [v for v in palette.VERDICTS.values() if present is None or v.words in set(present)]
    domain = [v.words for v in styles]
    colours = alt.Scale(domain=domain, range=[v.colour for v in styles])
    shapes = alt.Scale(domain=domain, range=[v.shape for v in styles])
    return colours, shapes


def _verdict_legend(title: str, **extra) -> alt.Legend:
    """One legend for colour and shape together (Vega-Lite merges the two when they share
    field and title). Its symbols take the marker's outline and opacity from the mark;
    setting symbol stroke colour or opacity here makes Vega-Lite drop the outline. The
    width is set: Streamlit's theme draws legend symbols with a 2 px outline, which
    fills a small triangle black."""
    return alt.Legend(title=title, orient="bottom", symbolSize=140, symbolStrokeWidth=1,
                      **extra)


def _verdict_encoding(field: str, title: str, colours: alt.Scale, shapes: alt.Scale,
                      **legend) -> dict:
    """Colour and shape encodings of a verdict field, sharing one legend."""
    return {"color": alt.Color(f"{field}:N", title=title, scale=colours,
                               legend=_verdict_legend(title, **legend)),
            "shape": alt.Shape(f"{field}:N", title=title, scale=shapes,
                               legend=_verdict_legend(title, **legend))}


def _highlight_layers(data: pd.DataFrame, x, y_field: str, tooltip) -> list:
    """Rings round the home area and its comparators, drawn with fixed styles so they do
    not share the significance shape scale (Vega-Lite merges scales across layers)."""
    base = alt.Chart(data)
    return [
        base.transform_filter(alt.datum.role == "Comparator").mark_point(
            shape="diamond", size=170, strokeWidth=2, color=COMPARATOR_COLOUR, filled=False)
        .encode(x=x, y=f"{y_field}:Q", tooltip=tooltip),
        base.transform_filter(alt.datum.role == "Home").mark_point(
            shape="circle", size=260, strokeWidth=3, color=HOME_COLOUR, filled=False)
        .encode(x=x, y=f"{y_field}:Q", tooltip=tooltip),
    ]


def _with_significance_words(frame: pd.DataFrame, column: str = "comparison") -> pd.DataFrame:
    out = frame.copy()
    out["significance"] = [palette.verdict(c).words for c in out[column]]
    return out


# Analysts' notes (metrics.store.annotations): a dotted rule at the note's date, labelled
# with its first words at the top of the chart and the whole text in the tooltip.
NOTE_COLOUR = "#4C2C92"
NOTE_LABEL_CHARS = 22


def note_layers(notes: pd.DataFrame | None, x, first, last) -> list:
    """Layers drawing `notes` (date, text) between the dates `first` and `last` (notes
    outside the plotted span would stretch the axis). Only the date and the text reach
    the chart: the label is cut from the text in the browser."""
    if notes is None or notes.empty:
        return []
    data = pd.DataFrame({"x_date": pd.to_datetime(notes["date"]),
                         "text": notes["text"].astype(str)})
    data = data[(data["x_date"] >= first) & (data["x_date"] <= last)]
    if data.empty:
        return []
    base = alt.Chart(data.sort_values("x_date").reset_index(drop=True))
    tooltip = [alt.Tooltip("x_date:T", title="Date", format="%-d %B %Y"),
               alt.Tooltip("text:N", title="Note")]
    label = base.transform_calculate(label=f"truncate(datum.text, {NOTE_LABEL_CHARS})")
    # A white outline under each label keeps it readable where it crosses a limit line.
    return [base.mark_rule(color=NOTE_COLOUR, strokeDash=[2, 2], strokeWidth=2)
            .encode(x=x, tooltip=tooltip),
            *[label.mark_text(align="left", baseline="top", dx=3, y=2, fontSize=12,
                              color=NOTE_COLOUR, **extra).encode(x=x, text=alt.Text("label:N"),
                                                                 tooltip=tooltip)
              for extra in (dict(stroke="white", strokeWidth=3, strokeJoin="round"), {})]]


def _span(series: pd.DataFrame) -> tuple:
    """The first and last dates a chart over time covers (its first period's start)."""
    ends = pd.to_datetime(series["x_date"])
    starts = pd.to_datetime(series["period_start"]) if "period_start" in series else ends
    return min(starts.min(), ends.min()), ends.max()


def trend_chart(series: pd.DataFrame, unit_title: str, height: int = 320,
                target: float | None = None, target_label: str = "Target",
                trajectory: pd.DataFrame | None = None,
                target_text: str | None = None,
                notes: pd.DataFrame | None = None) -> alt.LayerChart:
    """Value over time with its 95% interval band, plus benchmark lines.

    `series`: columns period, period_end, value, lower95, upper95, line (e.g. the area's
    name, "England", "Comparator average"), is_area (bool: band drawn for it only).
    `trajectory`: optional period_end, value for a dashed path to a target. `notes`:
    optional date, text of analysts' notes (note_layers)."""
    order = list(dict.fromkeys(series["line"]))
    palette = [HOME_COLOUR, ENGLAND_COLOUR, COMPARATOR_COLOUR, "#999999"][:len(order)]
    series, x = time_axis(series)
    span = _span(series)
    series = sent(series, ["x_date", "period", "line", "is_area", "value", "lower95",
                           "upper95", "interval"], unit_title, ("value", "lower95", "upper95"))
    colour = alt.Color("line:N", title=None, scale=alt.Scale(domain=order, range=palette),
                       legend=alt.Legend(orient="bottom", symbolType="stroke",
                                         symbolStrokeWidth=3))
    tooltip = [alt.Tooltip("line:N", title="Area"), alt.Tooltip("period:N", title="Period"),
               alt.Tooltip("value:Q", title=unit_title, format=number_format(unit_title)),
               alt.Tooltip("lower95:Q", title="95% lower", format=",.1f"),
               alt.Tooltip("upper95:Q", title="95% upper", format=",.1f")]
    if "interval" in series and series["interval"].fillna("").astype(bool).any():
        # Only where some interval is approximate (metrics.views.explorer.APPROXIMATE).
        tooltip.append(alt.Tooltip("interval:N", title="Interval"))
    base = alt.Chart(series)
    band = base.transform_filter(alt.datum.is_area).mark_area(
        opacity=0.18, color=HOME_COLOUR).encode(x=x, y=alt.Y("lower95:Q"), y2=alt.Y2("upper95:Q"))
    lines = base.mark_line(point=True, strokeWidth=2.5).encode(
        x=x, y=alt.Y("value:Q", title=unit_title, scale=alt.Scale(zero=False),
                     axis=y_axis(unit_title)),
        color=colour,
        strokeDash=alt.StrokeDash("line:N", scale=alt.Scale(
            domain=order, range=[[1, 0], [6, 3], [2, 2], [1, 0]][:len(order)]), legend=None),
        tooltip=tooltip)
    layers = [band, lines]
    if target is not None:
        # target_text, when given, replaces the default label (e.g. "75% target by ...").
        target_frame = pd.DataFrame({"y": [target],
                                     "label": [target_text or f"{target_label} {target:g}"
                                               + ("%" if unit_title == "%" else "")]})
        layers.append(alt.Chart(target_frame)
                      .mark_rule(color=TARGET_COLOUR, strokeDash=[4, 4], strokeWidth=2)
                      .encode(y=alt.Y("y:Q"), tooltip=[alt.Tooltip("label:N", title="Target")]))
        layers.append(alt.Chart(target_frame).mark_text(
            align="left", dx=4, dy=-8, color=TARGET_COLOUR, fontSize=13, fontWeight="bold")
            .encode(y=alt.Y("y:Q"), x=alt.value(0), text=alt.Text("label:N")))
    if trajectory is not None and not trajectory.empty:
        trajectory = sent(trajectory.assign(x_date=pd.to_datetime(trajectory["period_end"])),
                          ["x_date", "value", "label"], unit_title, ("value",))
        layers.append(alt.Chart(trajectory).mark_line(
            color=TARGET_COLOUR, strokeDash=[2, 3], strokeWidth=2,
            point=alt.OverlayMarkDef(color=TARGET_COLOUR, filled=True)).encode(
            x=x, y=alt.Y("value:Q"),
            tooltip=[alt.Tooltip("label:N", title="Trajectory"),
                     alt.Tooltip("value:Q", title=unit_title, format=",.1f")]))
    layers += note_layers(notes, x, *span)
    return layered(layers, height=height, axis=AXIS_TEXT, legend=LEGEND_TEXT)


def spc_chart(frame: pd.DataFrame, unit_title: str, height: int = 320,
              target: float | None = None,
              notes: pd.DataFrame | None = None) -> alt.LayerChart:
    """XmR chart: `frame` is metrics.stats.spc output joined with period and period_end.
    `notes`: optional date, text of analysts' notes (note_layers)."""
    data = frame.copy()
    data["point_words"] = data["point_type"].map(
        lambda t: SPC_COLOURS.get(t, ("#7B7D7D", "No data"))[1])
    data, x = time_axis(data)
    span = _span(data)
    if "rebase_group" not in data:
        data["rebase_group"] = 0
    data = sent(data, ["x_date", "period", "value", "mean", "upper_limit", "lower_limit",
                       "point_words", "rebase_group"], unit_title,
                ("value", "mean", "upper_limit", "lower_limit"))
    base = alt.Chart(data)
    domain = [w for _, w in SPC_COLOURS.values()]
    colours = alt.Scale(domain=domain, range=[c for c, _ in SPC_COLOURS.values()])
    layers = [
        base.mark_line(color=palette.GUIDE_LINE, strokeWidth=1.5).encode(
            x=x, y=alt.Y("value:Q", title=unit_title, scale=alt.Scale(zero=False),
                         axis=y_axis(unit_title))),
        # Mean and limits break where a service change restarts them (rebase_group).
        base.mark_line(color="#231F20", strokeWidth=1.5).encode(
            x=x, y=alt.Y("mean:Q"), detail=alt.Detail("rebase_group:N")),
        base.mark_line(color=palette.GUIDE_LINE, strokeDash=[6, 4]).encode(
            x=x, y=alt.Y("upper_limit:Q"), detail=alt.Detail("rebase_group:N")),
        base.mark_line(color=palette.GUIDE_LINE, strokeDash=[6, 4]).encode(
            x=x, y=alt.Y("lower_limit:Q"), detail=alt.Detail("rebase_group:N")),
        # Making Data Count's own point colours (its orange and blue are 1.9:1 and 3.0:1
        # on white), outlined in dark grey so every point stands out.
        base.mark_point(filled=True, size=70, opacity=1, stroke=palette.MARKER_STROKE,
                        strokeWidth=1).encode(
            x=x, y=alt.Y("value:Q"),
            color=alt.Color("point_words:N", title=None, scale=colours,
                            legend=alt.Legend(orient="bottom")),
            tooltip=[alt.Tooltip("period:N", title="Period"),
                     alt.Tooltip("value:Q", title=unit_title,
                                 format=number_format(unit_title)),
                     alt.Tooltip("point_words:N", title="Variation"),
                     alt.Tooltip("mean:Q", title="Mean", format=",.1f"),
                     alt.Tooltip("lower_limit:Q", title="Lower process limit", format=",.1f"),
                     alt.Tooltip("upper_limit:Q", title="Upper process limit", format=",.1f")]),
    ]
    if target is not None:
        layers.append(alt.Chart(pd.DataFrame({"y": [target]})).mark_rule(
            color=TARGET_COLOUR, strokeDash=[4, 4], strokeWidth=2).encode(y=alt.Y("y:Q")))
    layers += note_layers(notes, x, *span)
    return layered(layers, height=height, axis=AXIS_TEXT, legend=LEGEND_TEXT)


def ranked_chart(rows: pd.DataFrame, unit_title: str, benchmark: float | None,
                 height: int = 380, target: float | None = None,
                 target_text: str = "Target") -> alt.LayerChart:
    """Every area ranked by value with its 95% interval (a caterpillar plot).

    `rows`: area_name, value, lower95, upper95, comparison, role ("Home", "Comparator"
    or "Other"), display (formatted value)."""
    data = _with_significance_words(rows).sort_values("value").reset_index(drop=True)
    data["rank"] = range(1, len(data) + 1)
    data = sent(data, ["rank", "area_name", "display", "value", "lower95", "upper95",
                       "significance", "role"], unit_title, ("value", "lower95", "upper95"))
    colours, shapes = _significance_scale(data["significance"])
    # One explicit domain: the label layers hold only some ranks, and a union of
    # domains could reorder the areas.
    x = alt.X("rank:O", title=None, axis=None, sort=None,
              scale=alt.Scale(domain=data["rank"].tolist()))
    base = alt.Chart(data)
    tooltip = [alt.Tooltip("area_name:N", title="Area"),
               alt.Tooltip("display:N", title=unit_title),
               alt.Tooltip("lower95:Q", title="95% lower", format=",.1f"),
               alt.Tooltip("upper95:Q", title="95% upper", format=",.1f"),
               alt.Tooltip("significance:N", title="Compared with England")]
    layers = [
        base.mark_rule(opacity=0.6).encode(x=x, y=alt.Y("lower95:Q", title=unit_title,
                                                        axis=y_axis(unit_title)),
                                           y2=alt.Y2("upper95:Q"),
                                           color=alt.Color("significance:N",
                                                           scale=colours, legend=None)),
        base.mark_point(filled=True, size=45, opacity=1, stroke=palette.MARKER_STROKE,
                        strokeWidth=0.6).encode(
            x=x, y=alt.Y("value:Q"),
            **_verdict_encoding("significance", "Compared with England", colours, shapes),
            tooltip=tooltip),
        *_highlight_layers(data, x, "value", tooltip),
        *_name_layers(data, x),
    ]
    if benchmark is not None:
        benchmark = round(float(benchmark), value_places(unit_title))
        england = pd.DataFrame({"y": [benchmark], "label": ["England"],
                                "text": [f"England {benchmark:,g}"],
                                # Left of centre, clear of the five lowest's labels.
                                "rank": [ENDS + 3 if len(data) > 2 * ENDS + 3 else 1]})
        layers.append(alt.Chart(england)
                      .mark_rule(color=ENGLAND_COLOUR, strokeDash=[6, 3])
                      .encode(y=alt.Y("y:Q"), tooltip=[alt.Tooltip("label:N", title="Benchmark")]))
        # Named on the chart, at the right-hand end where the line has the room.
        layers.append(alt.Chart(england).mark_text(
            align="left", dy=-8, fontSize=12, fontWeight="bold", color=ENGLAND_COLOUR)
            .encode(x=x, y=alt.Y("y:Q"), text=alt.Text("text:N")))
    if target is not None:   # optional target line (continuity of care)
        layers.append(alt.Chart(pd.DataFrame({"y": [target], "label": [target_text]}))
                      .mark_rule(color=TARGET_COLOUR, strokeDash=[4, 4], strokeWidth=2)
                      .encode(y=alt.Y("y:Q"), tooltip=[alt.Tooltip("label:N", title="Target")]))
    # Legends per layer: the rules show none, the dots theirs (outlined, with shapes).
    # A shared legend would take the rule's look, or vanish with the rule's legend=None.
    return layered(layers, height=height, independent_legends=True, axis=AXIS_TEXT,
                   legend=LEGEND_TEXT)


# The areas a ranking names on the chart itself (not only in its tooltip): the selected
# area, its comparators, and the five lowest and five highest.
ENDS = 5


def ranking_labels(data: pd.DataFrame) -> pd.DataFrame:
    """Where each named area's label goes on a ranking (`data` sorted by value, with
    rank, area_name, display, value, lower95, upper95, role).

    The curve rises from bottom left to top right, leaving two empty corners: the five
    lowest are listed down the top-left corner and the five highest up the bottom-right
    one, each joined to its dot by a leader line, the lowest first, so no line crosses a
    label. The selected area and comparators get an upright label above their interval
    (left half) or below it (right half), away from the curve."""
    columns = ["rank", "text", "y", "y0", "kind", "align"]
    n = len(data)
    if not n:
        return pd.DataFrame(columns=columns)
    low = float(pd.concat([data["lower95"], data["value"]]).min())
    high = float(pd.concat([data["upper95"], data["value"]]).max())
    span = (high - low) or 1.0
    step = span * 0.06
    rows, named = [], set()
    ends = min(ENDS, n // 2)
    for i in range(ends):
        bottom, top = data.iloc[i], data.iloc[n - 1 - i]
        rows.append({"rank": bottom["rank"], "text": _short(bottom),
                     "y": high - i * step,
                     "y0": bottom["upper95"] if pd.notna(bottom["upper95"]) else bottom["value"],
                     "kind": "end", "align": "left"})
        rows.append({"rank": top["rank"], "text": _short(top),
                     "y": low + i * step,
                     "y0": top["lower95"] if pd.notna(top["lower95"]) else top["value"],
                     "kind": "end", "align": "right"})
        named |= {bottom["rank"], top["rank"]}
    for _, row in data[data["role"].isin(["Home", "Comparator"])].iterrows():
        if row["rank"] in named:
            continue
        upper = row["value"] if pd.isna(row["upper95"]) else row["upper95"]
        lower = row["value"] if pd.isna(row["lower95"]) else row["lower95"]
        # Up or down, whichever has more room: to the chart's edge, or to the corner's
        # list of names where the label would run into it (the lists take about the
        # outer third of the width).
        ceiling = high - (ends - 0.5) * step if ends and row["rank"] <= n * 0.35 else high
        floor = low + (ends - 0.5) * step if ends and row["rank"] > n * 0.65 else min(low, 0)
        above = ceiling - upper >= lower - floor
        edge = upper if above else lower
        rows.append({"rank": row["rank"], "text": row["area_name"],
                     "y": edge + (span * 0.03 if above else -span * 0.03), "y0": None,
                     "kind": row["role"], "align": "left" if above else "right"})
    return pd.DataFrame(rows, columns=columns)


def _short(row: pd.Series) -> str:
    """'Essex 353.8': the name and figure, without the unit the axis already gives."""
    return f"{row['area_name']} {str(row['display']).split(' per ')[0].removesuffix('%')}"


def _name_layers(data: pd.DataFrame, x) -> list:
    labels = ranking_labels(data)
    if labels.empty:
        return []
    base = alt.Chart(labels)
    layers = [base.transform_filter(alt.datum.kind == "end").mark_rule(
        color=palette.GUIDE_LINE, strokeWidth=0.8).encode(x=x, y=alt.Y("y:Q"), y2=alt.Y2("y0:Q"))]
    # Fixed colours per kind, not a colour encoding: Vega-Lite would merge that scale
    # with the verdict colours and list the kinds in the verdict legend.
    looks = {"end": ("#333333", "normal", 0), "Comparator": (COMPARATOR_COLOUR, "bold", 270),
             "Home": (HOME_COLOUR, "bold", 270)}
    for kind, (colour, weight, angle) in looks.items():
        for align, dx in (("left", 5), ("right", -5)):
            chosen = base.transform_filter((alt.datum.kind == kind)
                                           & (alt.datum.align == align))
            # A white outline under each label keeps it readable where it crosses a line.
            for extra in (dict(stroke="white", strokeWidth=3, strokeJoin="round"), {}):
                layers.append(chosen.mark_text(
                    align=align, dx=0 if angle else dx, angle=angle, fontSize=11,
                    fontWeight=weight, color=colour, **extra).encode(
                    x=x, y=alt.Y("y:Q"), text=alt.Text("text:N")))
    return layers


def funnel_chart(points: pd.DataFrame, limits: pd.DataFrame, unit_title: str,
                 denominator_title: str, height: int = 340) -> alt.LayerChart:
    """Funnel plot. `points` (metrics.views.funnel.funnel_model): area_name, display,
    value, denominator, role, and funnel_position / funnel_comparison / funnel_words,
    where the dot sits against the limits drawn, so its colour never contradicts the
    lines; `limits`: denominator, benchmark, lower95, upper95, lower998, upper998 on a
    grid of denominators that includes every dot's own."""
    data = sent(points, ["area_name", "display", "value", "denominator", "funnel_words",
                         "funnel_comparison", "funnel_position", "role"],
                unit_title, ("value",))
    limits = sent(limits, ["denominator", "benchmark", "lower95", "upper95", "lower998",
                           "upper998"], unit_title,
                  ("benchmark", "lower95", "upper95", "lower998", "upper998"))
    # Legend order: from the highest position to the lowest. Each position is drawn as
    # the verdict it amounts to (metrics.stats.funnel_comparison), in the colour and shape
    # that verdict has on every other chart, with the funnel's own words.
    order = ["above_998", "above_95", "inside_95", "below_95", "below_998", "not_plotted"]
    styles = (data.assign(_order=data["funnel_position"].map(
                  lambda p: order.index(p) if p in order else len(order)))
              .sort_values("_order").drop_duplicates("funnel_words"))
    domain = styles["funnel_words"].tolist()
    drawn = [palette.verdict(c) for c in styles["funnel_comparison"]]
    colours = alt.Scale(domain=domain, range=[v.colour for v in drawn])
    shapes = alt.Scale(domain=domain, range=[v.shape for v in drawn])
    data = data.drop(columns=["funnel_comparison", "funnel_position"])
    domain_x = [float(limits["denominator"].min()), float(limits["denominator"].max())]
    x = alt.X("denominator:Q", title=denominator_title,
              scale=alt.Scale(type="log", domain=domain_x, nice=False))
    lim = alt.Chart(limits)
    tooltip = [alt.Tooltip("area_name:N", title="Area"),
               alt.Tooltip("display:N", title=unit_title),
               alt.Tooltip("denominator:Q", title=denominator_title, format=",.0f"),
               alt.Tooltip("funnel_words:N", title="Against the funnel limits")]
    layers = [
        lim.mark_line(color=ENGLAND_COLOUR).encode(x=x, y=alt.Y("benchmark:Q")),
        *[lim.mark_line(color=palette.GUIDE_LINE, strokeDash=dash).encode(x=x, y=alt.Y(limit))
          for limit, dash in (("lower95:Q", [6, 3]), ("upper95:Q", [6, 3]),
                              ("lower998:Q", [2, 2]), ("upper998:Q", [2, 2]))],
        alt.Chart(data).mark_point(filled=True, size=60, opacity=0.9,
                                   stroke=palette.MARKER_STROKE, strokeWidth=0.6).encode(
            x=x, y=alt.Y("value:Q", title=unit_title, scale=alt.Scale(zero=False),
                         axis=y_axis(unit_title)),
            **_verdict_encoding("funnel_words", "Against the funnel limits", colours,
                                shapes, columns=2, labelLimit=360),
            tooltip=tooltip),
        *_highlight_layers(data, x, "value", tooltip),
        alt.Chart(data).transform_filter(alt.datum.role == "Home").mark_text(
            dx=14, align="left", fontSize=14, fontWeight="bold", color=HOME_COLOUR).encode(
            x=x, y=alt.Y("value:Q"), text=alt.Text("area_name:N")),
    ]
    return layered(layers, height=height, axis=AXIS_TEXT, legend=LEGEND_TEXT)


def spine_chart(rows: pd.DataFrame, height_per_row: int = 34) -> alt.LayerChart:
    """Fingertips-style spine chart: one row per metric, England at the centre, worst
    area to the left and best to the right (low to high where there is no polarity).

    `rows` (from metrics.views.explorer.spine_rows): title, pos_min, pos_q1, pos_q3, pos_max,
    pos_area, pos_comparators, comparison, and display columns for the tooltip."""
    data = sent(_with_significance_words(rows),
                ["title", "period", "area_text", "england_text", "comparators_text",
                 "worst_text", "best_text", "significance_words", "significance",
                 "pos_min", "pos_max", "pos_q1", "pos_q3", "pos_area", "pos_comparators"])
    colours, shapes = _significance_scale(data["significance"])
    y = alt.Y("title:N", title=None, sort=None,
              axis=alt.Axis(labelLimit=320, labelFontSize=13))
    x_scale = alt.Scale(domain=[-0.02, 1.02])  # the extremes sit just inside the frame
    tooltip = [alt.Tooltip("title:N", title="Metric"), alt.Tooltip("period:N", title="Period"),
               alt.Tooltip("area_text:N", title="Area"),
               alt.Tooltip("england_text:N", title="England"),
               alt.Tooltip("comparators_text:N", title="Comparator average"),
               alt.Tooltip("worst_text:N", title="Worst / lowest"),
               alt.Tooltip("best_text:N", title="Best / highest"),
               alt.Tooltip("significance_words:N", title="Compared with England")]
    base = alt.Chart(data)
    x = alt.X("pos_min:Q", scale=x_scale, axis=None)
    layers = [
        base.mark_bar(color="#D9D9D9", height=18).encode(x=x, x2=alt.X2("pos_max:Q"), y=y,
                                                           tooltip=tooltip),
        base.mark_bar(color="#8C8C8C", height=18).encode(
            x=alt.X("pos_q1:Q", scale=x_scale, axis=None), x2=alt.X2("pos_q3:Q"), y=y,
            tooltip=tooltip),
        alt.Chart(pd.DataFrame({"x": [0.5]})).mark_rule(color=ENGLAND_COLOUR, strokeWidth=2)
        .encode(x=alt.X("x:Q", scale=x_scale, axis=None)),
        base.transform_filter("isValid(datum.pos_comparators)").mark_point(
            shape="diamond", size=110, color=COMPARATOR_COLOUR, filled=True).encode(
            x=alt.X("pos_comparators:Q", scale=x_scale, axis=None), y=y, tooltip=tooltip),
        base.transform_filter("isValid(datum.pos_area)").mark_point(
            filled=True, size=230, stroke=palette.MARKER_STROKE, strokeWidth=1,
            opacity=1).encode(
            x=alt.X("pos_area:Q", scale=x_scale, axis=None), y=y,
            **_verdict_encoding("significance", "Compared with England", colours, shapes),
            tooltip=tooltip),
    ]
    # A step per row (not a total height) so the legend never squeezes the rows together.
    return layered(layers, height=alt.Step(height_per_row), axis={"labelFontSize": 13},
                   legend=LEGEND_TEXT, view={"stroke": None})
