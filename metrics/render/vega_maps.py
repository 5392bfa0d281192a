"""The maps on the screen, as Vega-Lite specs (plain dicts): the partnership's small areas
(`local_map`) and England's partnerships (`national_map`), each with the legend drawn
beside it (map_charts.legend_html) and a click selection read back by `selected_code`.

Why Vega and not deck.gl (which drew both maps until 2026-12-04): Vega draws SVG, not
WebGL. In software GL (a computer without a graphics card, a remote desktop, the headless
browser the tests use) deck.gl's first drawing of a map froze the page for seconds, paid on
every opening of the Maps page, because each kind of layer (paths, text) prepares its own
drawing program: the England map froze it for 3.2-3.8 s. Drawn by Vega, in the same hour
(bench/bench_browser.py, 2026-12-04): a page switch to Maps 2.85 s before, 0.48 s after;
the England view's first opening 3.63 s before, 0.88 s after; no task over 0.35 s. Neither
map can be zoomed (Vega-Lite has no zoom for maps): a region, or a district, is drawn on
its own instead.

Why plain dicts and not Altair charts: building the England map in Altair and checking it
against the schema took 1.3-1.5 s of the server's time for 150 areas; the dict takes
milliseconds. Its shape is checked by the tests against Vega-Lite's schema instead.
Only the fields a map draws or its tooltip shows are sent: no count a tooltip does not
show, hidden ones as "*".
"""

from __future__ import annotations

import pandas as pd

from metrics.render import palette
from metrics.render.charts import COMPARATOR_COLOUR, FONT, HOME_COLOUR
from metrics.render.map_charts import (
    COMPARATOR_LINE_PX, HOME_LINE_PX, MISSING_COLOUR, Legend, Outline, lsoa_colours,
    measure_title, national_colours)

# The maps' heights in pixels (they take their column's width). The England map is taller,
# so a partnership the size of a county can be found on it.
MAP_HEIGHT = 600
ENGLAND_HEIGHT = 760

# The names of the click selections, read back by the page (st.vega_lite_chart's state).
SELECTION = "area"
LOCAL_SELECTION = "lsoa"
REGION_LINE = "#3c3c3c"
DISTRICT_LINE = "#212121"
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
    # No fill at all (Vega-Lite's default for an unfilled shape is a transparent fill,
    # which took the pointer from the areas under it: no tooltip and no click inside a
    # district or the selected area).
    return _layer(name, features, {"type": "geoshape", "filled": False, "fill": None,
                                   "stroke": colour, "strokeWidth": width,
                                   "strokeJoin": "round", "aria": False})


def _at_point() -> dict:
    return {"longitude": {"field": "lon", "type": "quantitative"},
            "latitude": {"field": "lat", "type": "quantitative"}}


def _shape(geometry: dict, properties: dict | None = None) -> dict:
    """A GeoJSON feature as a map layer draws it (an outline needs no properties)."""
    return {"type": "Feature", "geometry": geometry, "properties": properties or {}}


def selected_code(selection: dict, name: str = SELECTION) -> str | None:
    """The area code a click on a map selected, from st.vega_lite_chart's selection
    state, or None: {name: [{field: code}]}, where Vega names the nested field
    "properties.code" with a backslash before its dot."""
    for item in (selection or {}).get(name) or []:
        for field, value in item.items():
            if field.replace("\\", "") == "properties.code" and value:
                return value
    return None


def _click_to_select(name: str) -> list[dict]:
    """A click selects one area (nothing on hover, so no redraw as the pointer moves); no
    toggling, so a second click on it keeps it selected."""
    return [{"name": name, "select": {"type": "point", "fields": ["properties.code"],
                                      "on": "click", "toggle": False, "clear": False}}]


def _fills(name: str, features: list, stroke_width: float, tooltip: list[tuple[str, str]],
           selection: str) -> dict:
    """The areas, each filled with its own colour (properties.fill), with a white edge,
    a tooltip of (property, title) lines, and a click that selects one."""
    return _layer(name, features, {"type": "geoshape", "stroke": "white",
                                   "strokeWidth": stroke_width, "cursor": "pointer"},
                  {"color": {"field": "properties.fill", "type": "nominal", "scale": None},
                   "tooltip": [{"field": f"properties.{field}", "title": title}
                               for field, title in tooltip]},
                  params=_click_to_select(selection))


def _name_labels(name: str, rows: list, colour: str, dy: int = 0) -> list[dict]:
    """Names at points, on a white halo drawn first so they read on any fill."""
    return [_layer(f"{name}-halo" if halo else name, rows, {
        "type": "text", "fontSize": 14, "fontWeight": "bold", "dy": dy,
        **({"fill": "white", "stroke": "white", "strokeWidth": 4, "strokeJoin": "round",
            "aria": False} if halo else {"fill": colour})},
        {**_at_point(), "text": {"field": "name", "type": "nominal"}}) for halo in (True, False)]


def _spec(layers: list, height: int) -> dict:
    # No "$schema": the spec names no address at all (Streamlit draws it with its own
    # Vega-Lite; nothing is fetched).
    return {"height": height, "projection": {"type": "mercator"}, "layer": layers,
            "config": {"view": {"stroke": None}, "font": FONT}}


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
        areas.append(_shape(feature["geometry"], shown))
        lon, lat = props["point"]
        if row is not None and mode == "comparison":
            # The verdict's shape on the area as well as its colour (projectors and
            # colour-blind readers), in the text colour that reads on the fill.
            shape = palette.verdict(row["comparison"])
            glyphs.append({"lon": lon, "lat": lat, "glyph": shape.glyph,
                           "ink": palette.text_colour(shape.colour)})
        outline = _shape(feature["geometry"])
        if code == home:
            home_shapes.append(outline)
            home_name.append({"lon": lon, "lat": lat, "name": props["name"]})
        elif code in comparators:
            comparator_shapes.append(outline)
    # Region boundaries are lines between two regions (properties: their two codes).
    region_shapes = [_shape(f["geometry"]) for f in regions["features"]
                     if not region or region in f["properties"].get("codes", ())]
    # The tooltip's lines; a note only where some area has one (force area figures),
    # as Vega shows a line for every field, empty or not.
    tooltip = [("name", "Area"), ("code", "Code"), ("value_text", indicator.title),
               ("period", "Period"), ("comparison", "Compared with England")]
    if any(a["properties"]["note"] for a in areas):
        tooltip.append(("note", "Note"))
    layers = [
        _fills("areas", areas, 0.6, tooltip, SELECTION),
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
    layers += _name_labels("home-name", home_name, HOME_COLOUR, NAME_OFFSET_PX)
    spec = _spec(layers, ENGLAND_HEIGHT)
    # The legend explains only the outlines drawn (a region shown may not hold the area).
    outlines = [Outline(f"{home_name[0]['name']} (selected area): thick dark blue outline "
                        "and its name", HOME_COLOUR, HOME_LINE_PX)] if home_name else []
    if comparator_shapes:
        outlines.append(Outline("Comparators: thin purple outline", COMPARATOR_COLOUR,
                                COMPARATOR_LINE_PX))
    legend = Legend(legend.title, legend.labels, legend.colours, glyphs=legend.glyphs,
                    outlines=tuple(outlines))
    return spec, legend


def local_map(boundaries: dict, values: pd.DataFrame, measure_id: str,
              selected: str | None = None, ruc_title: str = "Rural-urban class",
              imd_title: str = "Deprivation decile", district: str | None = None
              ) -> tuple[dict, Legend]:
    """The partnership's small areas coloured by a measure, its districts drawn and named
    over them; the small area `selected` outlined. With `district` (a district code) only
    that district is drawn, filling the map, in the partnership's colour classes.

    `values`: rows of geo.lsoa_values (lsoa_code, ltla_name, value_text and the other
    tooltip texts, hidden counts as "*"). Only these small areas go into the map."""
    label = measure_title(measure_id, ruc_title, imd_title)
    colours, legend = lsoa_colours(values, measure_id, label)
    by_code = dict(zip(values["lsoa_code"], values.assign(_fill=colours).to_dict("records")))
    areas, chosen, districts, names = [], [], [], []
    for feature in boundaries["features"]:
        props = feature["properties"]
        if props["layer"] == "district":
            if not district or props["code"] == district:
                districts.append(_shape(feature["geometry"]))
                names.append({"lon": props["point"][0], "lat": props["point"][1],
                              "name": props["name"]})
            continue
        row = by_code.get(props["code"])
        if row is None or (district and props.get("ltla_code") != district):
            continue
        detail = row.get("value_detail") or ""
        shown = {"code": props["code"], "name": props["name"], "district": row["ltla_name"],
                 "value_text": f"{row['value_text']} {detail}".strip(),
                 "ruc_text": row["ruc_text"], "imd_text": row["imd_text"],
                 "est_text": row["est_text"], "treat_text": row["treat_text"],
                 "unmet_text": row["unmet_text"], "deaths_text": row["deaths_text"],
                 "fill": row["_fill"]}
        areas.append(_shape(feature["geometry"], shown))
        if props["code"] == selected:
            chosen.append(_shape(feature["geometry"]))
    tooltip = [("name", "Small area"), ("code", "Code"), ("district", "District"),
               ("value_text", label), ("ruc_text", ruc_title), ("imd_text", imd_title),
               ("est_text", "Estimated opiate/crack users"), ("treat_text", "In treatment"),
               ("unmet_text", "Unmet need"), ("deaths_text", "Drug-related deaths, 5 years")]
    layers = [
        _fills("lsoas", areas, 0.5, tooltip, LOCAL_SELECTION),
        _outline("districts", districts, DISTRICT_LINE, 2),
        _outline("selected-halo", chosen, "white", HOME_LINE_PX + 3),
        _outline("selected", chosen, HOME_COLOUR, HOME_LINE_PX),
        *_name_labels("district-names", names, "#141414"),
    ]
    return _spec(layers, MAP_HEIGHT), legend
