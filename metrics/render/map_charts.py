"""Map pictures shared by the screen and print: the colour classes and legends of both
maps (`lsoa_colours`, `national_colours`, `legend_html`), both maps as Altair geoshape
charts for print and export, and the urban and rural chart. The screen's maps are
metrics/render/vega_maps.py, coloured here.

Builders take boundary features (metrics.geo) and tidy per-area tables, and return chart
objects; they query nothing and compute no statistics. The screen's maps draw no legend
of their own, so `legend_html` builds one from the same `Legend` the areas were coloured
with.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from metrics import geo
from metrics.render import palette
from metrics.render.charts import FONT, HOME_COLOUR

# ColorBrewer schemes (colour-blind safe for sequential use).
NEED_RAMP = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]       # YlOrRd: more need
VALUE_RAMP = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]      # YlGnBu: neutral
DECILE_RAMP = ["#a50026", "#d73027", "#f46d43", "#fdae61", "#fee090",
               "#e0f3f8", "#abd9e9", "#74add1", "#4575b4", "#313695"]     # RdYlBu, 1 = red
RUC_COLOURS = {
    "A1": "#7f2704", "B1": "#a63603", "C1": "#d94801", "C2": "#fd8d3c",
    "D1": "#a1d99b", "D2": "#c7e9c0", "E1": "#41ab5d", "E2": "#74c476",
    "F1": "#005a32", "F2": "#238b45",
    "UN1": "#a63603", "UF1": "#fd8d3c", "RLN1": "#a1d99b", "RLF1": "#c7e9c0",
    "RSN1": "#238b45", "RSF1": "#74c476",
}
SUPPRESSED_COLOUR = "#9e9e9e"
MISSING_COLOUR = "#eeeeee"


# --- Legends and colour classes ----------------------------------------------------------

HOME_LINE_PX = 4
COMPARATOR_LINE_PX = 1.5


@dataclass(frozen=True)
class Outline:
    """An outline drawn on the map, as the legend shows it (a box with that line)."""
    label: str
    colour: str
    width: float


@dataclass(frozen=True)
class Legend:
    title: str
    labels: list[str]
    colours: list[str]
    note: str = ""
    # The shape drawn on each area with its colour (comparison with England), as text.
    glyphs: list[str] | None = None
    outlines: tuple[Outline, ...] = ()


def _nice(value: float) -> float:
    """Round a class break to 2 significant figures, for a legend people can read."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = 1 - int(math.floor(math.log10(abs(value))))
    return round(value, max(digits, 0))


def quantile_breaks(values: pd.Series, classes: int = 5) -> list[float]:
    """Class breaks at quantiles of the values (rounded; duplicates removed)."""
    clean = pd.Series(values, dtype=float).dropna()
    if clean.empty:
        return []
    qs = np.quantile(clean, np.linspace(0, 1, classes + 1)[1:-1])
    breaks = sorted({_nice(float(q)) for q in qs})
    return [b for b in breaks if clean.min() < b <= clean.max()] or [_nice(float(clean.median()))]


def _fmt_break(value: float, suffix: str) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.1f}"
    if abs(value) < 1 and not float(value).is_integer():
        text = f"{value:,.2f}"
    return text + suffix


def classify(values: pd.Series, ramp: list[str], suffix: str = "",
             breaks: list[float] | None = None) -> tuple[list[str | None], list[str], list[str]]:
    """Colour per value by class (None where missing), and the legend labels/colours."""
    breaks = quantile_breaks(values, len(ramp)) if breaks is None else breaks
    colours = ramp if len(breaks) + 1 == len(ramp) else \
        [ramp[round(i * (len(ramp) - 1) / max(len(breaks), 1))] for i in range(len(breaks) + 1)]
    out = []
    for v in values:
        if v is None or pd.isna(v):
            out.append(None)
        else:
            out.append(colours[int(np.searchsorted(breaks, float(v), side="left"))])
    labels = []
    edges = [None, *breaks, None]
    for low, high in zip(edges[:-1], edges[1:]):
        if low is None and high is None:
            labels.append("All values")
        elif low is None:
            labels.append(f"up to {_fmt_break(high, suffix)}")
        elif high is None:
            labels.append(f"over {_fmt_break(low, suffix)}")
        else:
            labels.append(f"{_fmt_break(low, suffix)} to {_fmt_break(high, suffix)}")
    return out, labels, list(colours)


def legend_html(legend: Legend) -> str:
    """The legend drawn in HTML beside a screen map (which draws none); a swatch carries the
    shape drawn on the areas of its class, in the same text colour."""
    glyphs = legend.glyphs or [""] * len(legend.labels)
    items = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:2px 12px 2px 0;">'
        f'<span style="display:inline-flex;align-items:center;justify-content:center;'
        f'min-width:16px;height:16px;padding:0 2px;background:{c};'
        f'color:{palette.text_colour(c)};font-size:10px;line-height:1;'
        f'border:1px solid #555;margin-right:6px;">{html.escape(g)}</span>'
        f'{html.escape(label)}</span>'
        for label, c, g in zip(legend.labels, legend.colours, glyphs))
    note = f'<div style="color:#555;font-size:0.85em;">{html.escape(legend.note)}</div>' \
        if legend.note else ""
    # Each outline as a white box drawn with the same line (colour and width) as on the map.
    lines = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:2px 12px 2px 0;">'
        f'<span style="display:inline-block;width:22px;height:14px;background:#fff;'
        f'border:{max(o.width, 1):g}px solid {o.colour};margin-right:6px;"></span>'
        f'{html.escape(o.label)}</span>' for o in legend.outlines)
    lines = f"<div>{lines}</div>" if lines else ""
    return (f'<div class="map-legend" style="font-size:0.9rem;line-height:1.5;">'
            f'<b>{html.escape(legend.title)}</b><br/>{items}{lines}{note}</div>')


# --- Colour classes of each map ----------------------------------------------------------

def measure_title(measure_id: str, ruc_title: str = "Rural-urban class",
                  imd_title: str = "Deprivation decile") -> str:
    """The measure's title with its unit; class and decile titles say whether they are
    demonstration values (the page passes the titles)."""
    measure = geo.MEASURES[measure_id]
    if measure.kind == "class":
        return ruc_title
    if measure.kind == "decile":
        return f"{imd_title} (1 = most deprived)"
    return measure.title + (f" ({measure.unit})" if measure.unit else "")


def _legend(title: str, labels, legend_colours, suppressed: pd.Series,
            colours: list[str]) -> Legend:
    """The classes' legend, plus entries for suppressed and missing areas when present."""
    labels, legend_colours = list(labels), list(legend_colours)
    if suppressed.any():
        labels.append("* suppressed: small count")
        legend_colours.append(SUPPRESSED_COLOUR)
    if any(c == MISSING_COLOUR for c in colours):
        labels.append("no data")
        legend_colours.append(MISSING_COLOUR)
    return Legend(title, labels, legend_colours)


def lsoa_colours(values: pd.DataFrame, measure_id: str,
                 title: str | None = None) -> tuple[list[str], Legend]:
    """Fill colour per LSOA (rows of geo.lsoa_values) and the legend for it."""
    measure = geo.MEASURES[measure_id]
    title = title or measure_title(measure_id)
    if measure.kind == "class":
        present = [c for c in sorted(geo.RUC_CLASSES, key=lambda c: geo.RUC_CLASSES[c].order)
                   if c in set(values["category"].dropna())]
        colours = [RUC_COLOURS.get(c, MISSING_COLOUR) if isinstance(c, str) else MISSING_COLOUR
                   for c in values["category"]]
        labels = [f"{c} {geo.ruc_label(c)}" for c in present]
        legend_colours = [RUC_COLOURS[c] for c in present]
    elif measure.kind == "decile":
        colours = [DECILE_RAMP[int(d) - 1] if pd.notna(d) else MISSING_COLOUR
                   for d in values["value"]]
        present = sorted({int(d) for d in values["value"].dropna()})
        labels = [f"{d}" + (" most deprived" if d == 1 else " least deprived" if d == 10 else "")
                  for d in present]
        legend_colours = [DECILE_RAMP[d - 1] for d in present]
    else:
        ramp = NEED_RAMP if measure.polarity == "low" else VALUE_RAMP
        suffix = "%" if measure.kind == "proportion" else ""
        classes, labels, legend_colours = classify(values["value"], ramp, suffix)
        colours = [SUPPRESSED_COLOUR if s else (c or MISSING_COLOUR)
                   for c, s in zip(classes, values["suppressed"])]
    return colours, _legend(title, labels, legend_colours, values["suppressed"], colours)


# --- England -------------------------------------------------------------------------------

def national_colours(values: pd.DataFrame, mode: str, indicator) -> tuple[list[str], Legend]:
    """Fill colour per upper-tier area: by value class, or by comparison with England.

    `values`: one row per area with value, suppressed, comparison (metrics.stats code)."""
    unit = "" if indicator.unit == "count" else indicator.unit
    if mode == "comparison":
        colours = [palette.verdict(c).colour for c in values["comparison"]]
        shown = palette.present(values["comparison"])
        legend = Legend("Compared with England", [v.words for v in shown],
                        [v.colour for v in shown], glyphs=[v.glyph for v in shown])
        return colours, legend
    ramp = NEED_RAMP if indicator.polarity == "low" else VALUE_RAMP
    shown = values["value"].where(~values["suppressed"].astype(bool))
    classes, labels, legend_colours = classify(shown, ramp, "%" if unit == "%" else "")
    colours = [SUPPRESSED_COLOUR if s else (c or MISSING_COLOUR)
               for c, s in zip(classes, values["suppressed"])]
    title = indicator.title + (f" ({unit})" if unit and unit != "%" else
                               " (%)" if unit == "%" else "")
    return colours, _legend(title, labels, legend_colours, values["suppressed"], colours)


# --- Static maps (Altair geoshape) for print and export ------------------------------------

def static_map(boundaries: dict, codes: list[str], colours: list[str], legend: Legend,
               title: str, subtitle: str, layer: str | None = "lsoa",
               outline: dict | None = None, width: int = 640,
               height: int = 640, classes: list[str] | None = None,
               shapes: dict[str, str] | None = None) -> alt.LayerChart:
    """The same map as a static Altair chart: each feature filled with its class colour,
    and a legend from the class labels. `layer` filters local files ("lsoa"); `outline`
    is an optional FeatureCollection drawn as lines on top (districts or regions)."""
    colour_of = dict(zip(codes, colours))
    label_of = dict(zip(legend.colours, legend.labels))
    # Classes named per area when two share a colour ("Higher (95%)", "Higher (99.8%)").
    class_of = dict(zip(codes, classes)) if classes is not None else {}
    features = []
    for feature in boundaries["features"]:
        props = feature["properties"]
        if layer and props.get("layer") != layer:
            continue
        if props["code"] not in colour_of:
            continue
        colour = colour_of[props["code"]]
        features.append({"type": "Feature", "geometry": feature["geometry"],
                         "properties": {"code": props["code"], "name": props["name"],
                                        "class": class_of.get(props["code"]) or
                                        label_of.get(colour, "no data")}})
    # With shapes the legend shows each class's shape in its colour (one legend for the
    # fill and the marker); without, a square swatch per class.
    key = (alt.Legend(orient="right", labelLimit=260, titleLimit=300, symbolSize=120,
                      symbolStrokeWidth=1)
           if shapes else
           alt.Legend(orient="right", labelLimit=260, titleLimit=300, symbolType="square",
                      symbolSize=160))
    fill = alt.Chart(alt.Data(values=features)).mark_geoshape(
        stroke="white", strokeWidth=0.3).encode(
        color=alt.Color("properties.class:N", title=legend.title,
                        scale=alt.Scale(domain=legend.labels, range=legend.colours),
                        legend=None if shapes else key),
        tooltip=[alt.Tooltip("properties.name:N", title="Area"),
                 alt.Tooltip("properties.class:N", title="Class")])
    layers = [fill]
    chart = alt.layer
    if shapes:
        # The legend is the markers' (the fill's would draw its white outline on the
        # symbols): one legend per layer, the fill's hidden.
        def chart(*charts):
            return alt.layer(*charts).resolve_legend(color="independent",
                                                     shape="independent")
        # The comparison's shape on each area as well as its colour, outlined so it shows
        # on its own fill; colour and shape share the fill's legend (one field, one title).
        point_of = {f["properties"]["code"]: f["properties"].get("point")
                    for f in boundaries["features"]}
        centres = [{"lon": point_of[f["properties"]["code"]][0],
                    "lat": point_of[f["properties"]["code"]][1],
                    "properties": {"class": f["properties"]["class"]}} for f in features
                   if point_of.get(f["properties"]["code"])]
        layers.append(alt.Chart(alt.Data(values=centres)).mark_point(
            filled=True, size=40, opacity=1, stroke=palette.MARKER_STROKE,
            strokeWidth=0.6).encode(
            longitude=alt.Longitude("lon:Q"), latitude=alt.Latitude("lat:Q"),
            color=alt.Color("properties.class:N", title=legend.title, scale=alt.Scale(
                domain=legend.labels, range=legend.colours), legend=key),
            shape=alt.Shape("properties.class:N", title=legend.title, scale=alt.Scale(
                domain=legend.labels, range=[shapes.get(label, "square")
                                             for label in legend.labels]), legend=key)))
    if outline:
        layers.append(alt.Chart(alt.Data(values=outline["features"])).mark_geoshape(
            filled=False, stroke="#222", strokeWidth=1.2))
    return chart(*layers).project(type="mercator").properties(
        width=width, height=height,
        title=alt.Title(title, subtitle=[subtitle, geo.ATTRIBUTION], anchor="start",
                        subtitleFontSize=10)
    ).configure_view(stroke=None).configure(font=FONT)


def local_static_map(boundaries: dict, values: pd.DataFrame, measure_id: str, title: str,
                     area_name: str) -> alt.LayerChart:
    """The partnership map for print, coloured and classed as on screen (pass values
    computed at the public threshold: exports are always public)."""
    colours, legend = lsoa_colours(values, measure_id, title)
    periods = values["period"].dropna()
    period = f" · {periods.iloc[0]}" if len(periods) else ""
    return static_map(boundaries, values["lsoa_code"].tolist(), colours, legend,
                      f"{area_name}: {legend.title}",
                      f"Small areas (LSOA 2011) with district boundaries{period}",
                      outline=district_outlines(boundaries))


def national_static_map(boundaries: dict, regions: dict, values: pd.DataFrame, indicator,
                        mode: str) -> alt.LayerChart:
    """The England map for print, coloured and classed as on screen."""
    colours, legend = national_colours(values, mode, indicator)
    periods = [p for p in values["period"] if isinstance(p, str) and p]
    period = f" · {periods[0]}" if periods else ""
    classes = shapes = None
    if mode == "comparison":
        classes = [palette.verdict(c).words for c in values["comparison"]]
        shapes = {v.words: v.shape for v in palette.VERDICTS.values()}
    return static_map(boundaries, values["area_code"].tolist(), colours, legend,
                      f"England: {indicator.title}",
                      f"Upper-tier local authorities, with regions{period}", layer=None,
                      outline=regions, width=560, height=640, classes=classes,
                      shapes=shapes)


def district_outlines(boundaries: dict) -> dict:
    return {"type": "FeatureCollection",
            "features": [f for f in boundaries["features"]
                         if f["properties"].get("layer") == "district"]}


# --- Urban and rural chart -----------------------------------------------------------------

def urban_rural_chart(summary: pd.DataFrame, measure: str, title: str, unit: str,
                      england: pd.DataFrame | None = None, height_per_row: int = 34
                      ) -> alt.LayerChart:
    """Dot and 95% interval per rural-urban group for one measure of
    geo.urban_rural_summary, with England's value per group as a tick."""
    # Only the fields drawn go into the chart's data (the spec carries its rows to the
    # browser and into the SVG/PNG downloads): no counts, hidden or not.
    rows = summary[summary[measure].notna()]
    rows = pd.DataFrame({"group_label": rows["group_label"], measure: rows[measure],
                         "lower": rows[f"{measure}_lower95"],
                         "upper": rows[f"{measure}_upper95"]})
    order = summary.sort_values("order")["group_label"].tolist()
    y = alt.Y("group_label:N", sort=order, title=None,
              axis=alt.Axis(labelLimit=320))
    x_title = f"{title} ({unit})" if unit else title
    tooltip = [alt.Tooltip("group_label:N", title="Class"),
               alt.Tooltip(f"{measure}:Q", title=title, format=",.1f"),
               alt.Tooltip("lower:Q", title="95% CI lower", format=",.1f"),
               alt.Tooltip("upper:Q", title="95% CI upper", format=",.1f")]
    base = alt.Chart(rows)
    layers = [
        base.mark_rule(color=HOME_COLOUR, strokeWidth=2).encode(
            x=alt.X("lower:Q", title=x_title, axis=alt.Axis(format=",~r")), x2=alt.X2("upper:Q"),
            y=y, tooltip=tooltip),
        base.mark_point(filled=True, size=90, color=HOME_COLOUR).encode(
            x=f"{measure}:Q", y=y, tooltip=tooltip),
    ]
    if england is not None and not england.empty:
        eng = england.loc[england[measure].notna() & england["group_label"].isin(order),
                          ["group_label", measure]]
        layers.append(alt.Chart(eng).mark_tick(color="#222222", thickness=2, size=22).encode(
            x=f"{measure}:Q", y=y,
            tooltip=[alt.Tooltip("group_label:N", title="Class"),
                     alt.Tooltip(f"{measure}:Q", title=f"England: {title}", format=",.1f")]))
    # A step height (per row), not a total: Streamlit sizes charts to their container
    # and a fixed total can collapse the rows.
    return alt.layer(*layers).properties(
        height=alt.Step(height_per_row),
        title=alt.Title(x_title, subtitle="Dots: this area with 95% interval. "
                        "Black ticks: England.", anchor="start", subtitleFontSize=11))
