"""The England map for the screen: every upper-tier area coloured by one metric, the
selected area and its comparators outlined, as a Vega-Lite spec (a plain dict).

Why Vega and not deck.gl (which draws the partnership map): Vega draws with the browser's
2D canvas, not WebGL. In software GL (a computer without a graphics card, a remote desktop,
the headless browser the tests use) deck.gl's first drawing of this map froze the page for
3.2-3.8 s, paid on every opening of the Maps page, because each kind of layer (paths, text)
prepares its own drawing program; drawn by Vega it opened in under 3 s with no freeze over
0.25 s (measured 2026-12-04, bench/bench_browser.py).

Why a plain dict and not an Altair chart: building this chart in Altair and checking it
against the schema took 1.3-1.5 s of the server's time for 150 areas; the dict takes
milliseconds. Its shape is checked by the tests against Vega-Lite's schema instead.
"""

from __future__ import annotations

import pandas as pd

from metrics.render import palette
from metrics.render.charts import COMPARATOR_COLOUR, FONT, HOME_COLOUR
from metrics.render.map_charts import (
    COMPARATOR_LINE_PX, HOME_LINE_PX, MISSING_COLOUR, Legend, Outline, national_colours)
from metrics.render.map_views import ENGLAND_HEIGHT

# The name of the click selection, read back by the page (st.vega_lite_chart's state).
SELECTION = "area"
REGION_LINE = "#3c3c3c"
# The home area's name sits this far above its label point, so it hides none of its colour.
NAME_OFFSET_PX = -22


def _layer(name: str, values: list, mark: dict, encoding: dict | None = None,
           **more) -> dict:
    """One layer of the map with its own data (only the fields it draws)."""
    return {"name": name, "data": {"values": values}, "mark": mark,
            "encoding": encoding or {}, **more}


def _outline(name: str, features: list, colour: str, width: float) -> dict:
    # Hidden from screen readers (aria): a line says nothing the legend and the words
    # under the map do not, and Vega would give it an image role with no name.
    return _layer(name, features, {"type": "geoshape", "filled": False, "stroke": colour,
                                   "strokeWidth": width, "strokeJoin": "round",
                                   "aria": False})


def _at_point() -> dict:
    return {"longitude": {"field": "lon", "type": "quantitative"},
            "latitude": {"field": "lat", "type": "quantitative"}}


def national_map(boundaries: dict, regions: dict, values: pd.DataFrame, indicator,
                 mode: str, home: str, comparators: tuple[str, ...] = (),
                 region: str | None = None) -> tuple[dict, Legend]:
    """The England map's Vega-Lite spec and the legend drawn beside it (map_charts.
    legend_html). A click on an area selects it: the selection `SELECTION` holds its code.
    With `region` (a region code) only that region's areas are drawn, filling the map, in
    the colours of the whole of England's classes (the map cannot be zoomed: Vega-Lite
    has no zoom for maps).

    `values`: one row per area: area_code, value, suppressed, value_text, period,
    comparison, comparison_text, note (geo.area_map_values)."""
    colours, legend = national_colours(values, mode, indicator)
    by_code = dict(zip(values["area_code"], values.assign(_fill=colours).to_dict("records")))
    areas, home_shapes, comparator_shapes, home_name, glyphs = [], [], [], [], []
    for feature in boundaries["features"]:
        props = feature["properties"]
        if region and props.get("region_code") != region:
            continue
        code, row = props["code"], by_code.get(props["code"])
        # Only what the tooltip shows and the fill colour: no count, no interval.
        shown = {"code": code, "name": props["name"],
                 "value_text": row["value_text"] if row else "no data",
                 "period": row["period"] if row and isinstance(row["period"], str) else "",
                 "comparison": row["comparison_text"] if row else "",
                 "note": row["note"] if row else "",
                 "fill": row["_fill"] if row else MISSING_COLOUR}
        areas.append({"type": "Feature", "geometry": feature["geometry"], "properties": shown})
        lon, lat = props["point"]
        if row is not None and mode == "comparison":
            # The verdict's shape on the area as well as its colour (projectors and
            # colour-blind readers), in the text colour that reads on the fill.
            shape = palette.verdict(row["comparison"])
            glyphs.append({"lon": lon, "lat": lat, "glyph": shape.glyph,
                           "ink": palette.text_colour(shape.colour)})
        outline = {"type": "Feature", "geometry": feature["geometry"], "properties": {}}
        if code == home:
            home_shapes.append(outline)
            home_name.append({"lon": lon, "lat": lat, "name": props["name"]})
        elif code in comparators:
            comparator_shapes.append(outline)
    # Region boundaries are lines between two regions (properties: their two codes).
    region_shapes = [{"type": "Feature", "geometry": f["geometry"], "properties": {}}
                     for f in regions["features"]
                     if not region or region in f["properties"].get("codes", ())]
    # The tooltip's lines; a note only where some area has one (force area figures),
    # as Vega shows a line for every field, empty or not.
    tooltip = [{"field": "properties.name", "title": "Area"},
               {"field": "properties.code", "title": "Code"},
               {"field": "properties.value_text", "title": indicator.title},
               {"field": "properties.period", "title": "Period"},
               {"field": "properties.comparison", "title": "Compared with England"}]
    if any(a["properties"]["note"] for a in areas):
        tooltip.append({"field": "properties.note", "title": "Note"})
    layers = [
        _layer("areas", areas,
               {"type": "geoshape", "stroke": "white", "strokeWidth": 0.6, "cursor": "pointer"},
               {"color": {"field": "properties.fill", "type": "nominal", "scale": None},
                "tooltip": tooltip},
               # A click selects the area (and nothing on hover: no redraw as the pointer
               # moves); no toggling, so a second click on it keeps it selected.
               params=[{"name": SELECTION, "select": {
                   "type": "point", "fields": ["properties.code"], "on": "click",
                   "toggle": False, "clear": False}}]),
        _outline("regions", region_shapes, REGION_LINE, 1.2),
        # Comparators: a thin purple line. The selected area: a thick dark blue line on a
        # wide white halo, and its name, so it is found at once and never taken for a
        # comparator (the legend draws both lines).
        _outline("comparators", comparator_shapes, COMPARATOR_COLOUR, COMPARATOR_LINE_PX),
        _outline("outline-halo", home_shapes, "white", HOME_LINE_PX + 4),
        _outline("home", home_shapes, HOME_COLOUR, HOME_LINE_PX),
    ]
    if glyphs:
        layers.append(_layer(
            "verdict-shapes", glyphs, {"type": "text", "fontSize": 12},
            {**_at_point(), "text": {"field": "glyph", "type": "nominal"},
             "color": {"field": "ink", "type": "nominal", "scale": None}}))
    for name, mark in (("home-name-halo", {"fill": "white", "stroke": "white",
                                           "strokeWidth": 4, "strokeJoin": "round",
                                           "aria": False}),
                       ("home-name", {"fill": HOME_COLOUR})):
        # A white halo drawn first, the name over it: readable on any fill.
        layers.append(_layer(name, home_name, {
            "type": "text", "fontSize": 14, "fontWeight": "bold", "dy": NAME_OFFSET_PX,
            **mark}, {**_at_point(), "text": {"field": "name", "type": "nominal"}}))
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "height": ENGLAND_HEIGHT,
        "projection": {"type": "mercator"},
        "layer": layers,
        "config": {"view": {"stroke": None}, "font": FONT},
    }
    # The legend explains only the outlines drawn (a region shown may not hold the area).
    outlines = [Outline(f"{home_name[0]['name']} (selected area): thick dark blue outline "
                        "and its name", HOME_COLOUR, HOME_LINE_PX)] if home_name else []
    if comparator_shapes:
        outlines.append(Outline("Comparators: thin purple outline", COMPARATOR_COLOUR,
                                COMPARATOR_LINE_PX))
    legend = Legend(legend.title, legend.labels, legend.colours, glyphs=legend.glyphs,
                    outlines=tuple(outlines))
    return spec, legend


def selected_code(selection: dict) -> str | None:
    """The area code a click on the map selected, from st.vega_lite_chart's selection
    state, or None: {SELECTION: [{field: code}]}, where Vega names the nested field
    "properties.code" with a backslash before its dot."""
    for item in (selection or {}).get(SELECTION) or []:
        for field, value in item.items():
            if field.replace("\\", "") == "properties.code" and value:
                return value
    return None
