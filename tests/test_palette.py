"""The benchmark colours users know from Fingertips (GOV.UK palette), with a shape and
words, on every chart, map, badge and the board pack, all from metrics.render.palette."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc
from fpdf import FPDF

from metrics import geo, stats
from metrics.reference import catalogue
from metrics.render import charts, continuity_charts, map_charts, palette, vega_maps
from metrics.reports import boardpack

# The mapping: better/similar/worse at 95%, the 99.8% shades, higher/lower blues.
GOVUK = {
    "better_998": "#85994B", "better_95": "#00703C", "better_95only": "#00703C",
    "similar": "#FFDD00",
    "worse_95": "#D4351C", "worse_95only": "#D4351C", "worse_998": "#831504",
    "higher_998": "#5694CA", "higher_95": "#5694CA", "higher_95only": "#5694CA",
    "lower_998": "#003078", "lower_95": "#003078", "lower_95only": "#003078",
}
SHAPES = {"circle", "square", "cross", "diamond", "triangle-up", "triangle-down",
          "triangle-right", "triangle-left", "triangle", "wedge", "arrow", "stroke"}


def test_every_comparison_code_has_its_govuk_colour_a_shape_and_words():
    assert set(GOVUK) | {"not_compared"} == set(stats.COMPARISON_CODES)
    for code in stats.COMPARISON_CODES:
        drawn = palette.verdict(code)
        if code in GOVUK:
            assert drawn.colour == GOVUK[code], code
        else:
            assert drawn.colour.upper() in {"#B1B4B6", "#505A5F"}   # GOV.UK greys
        # A named Vega-Lite shape or an SVG path in its -1..1 box.
        assert drawn.shape in SHAPES or drawn.shape.startswith("M"), code
        assert drawn.glyph.strip() and drawn.words, code
    # Within one legend no two categories look alike: colour or shape tells them apart.
    looks = [(v.colour, v.shape) for v in palette.VERDICTS.values()]
    assert len(set(looks)) == len(looks)
    # Better and worse point opposite ways at both levels.
    assert palette.verdict("better_95").shape == "triangle-up"
    assert palette.verdict("worse_95").shape == "triangle-down"
    assert palette.verdict(None).key == palette.verdict("nonsense").key == "not_compared"


def test_text_on_every_fill_passes_wcag_aa():
    for v in palette.VERDICTS.values():
        text = palette.text_colour(v.colour)
        assert palette.contrast_ratio(text, v.colour) >= 4.5, (v.key, text)
    # The brief's pairs: dark text on yellow, white on dark green and red.
    assert palette.text_colour(palette.SIMILAR) == palette.DARK_TEXT
    assert palette.text_colour(palette.BETTER) == palette.LIGHT_TEXT
    assert palette.text_colour(palette.WORSE) == palette.LIGHT_TEXT
    assert round(palette.contrast_ratio("#FFFFFF", "#000000"), 1) == 21.0


def _scales(spec: dict, field: str) -> dict:
    """Every colour and shape scale of `field` in a (layered) Vega-Lite spec."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            for channel in ("color", "shape"):
                enc = node.get("encoding", {}).get(channel)
                if isinstance(enc, dict) and enc.get("field") == field and "scale" in enc:
                    found.setdefault(channel, []).append(enc)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(spec)
    return found


def _assert_palette(spec: dict, field: str, codes_by_words: dict) -> None:
    """Colour and shape of `field` follow the palette for each category drawn, and the
    legend of colour and shape is one (same title), so its symbols match the markers."""
    found = _scales(spec, field)
    assert found.get("color") and found.get("shape"), found.keys()
    for channel, key in (("color", "colour"), ("shape", "shape")):
        for enc in found[channel]:
            scale = enc["scale"]
            for words, shown in zip(scale["domain"], scale["range"]):
                assert shown == getattr(palette.verdict(codes_by_words[words]), key), \
                    (channel, words, shown)
    titles = {enc.get("title") for encs in found.values() for enc in encs
              if enc.get("legend", {}) is not None}
    assert len(titles) == 1, titles
    assert all(enc.get("legend") is not None for enc in found["shape"]), \
        "the shape legend is hidden: the legend would show circles, not the markers"
    # As Vega draws it: one legend with the markers' shapes, outline and full colour.
    legends = [legend for legend in vlc.vegalite_to_vega(spec).get("legends", [])
               if legend.get("shape")]
    assert len(legends) == 1, legends
    assert legends[0].get("fill") or legends[0].get("stroke"), legends
    symbols = legends[0].get("encode", {}).get("symbols", {}).get("update", {})
    assert symbols.get("stroke") == {"value": palette.MARKER_STROKE}, symbols
    assert symbols.get("opacity", {"value": 1})["value"] >= 0.85, symbols
    # Thin enough not to fill a small triangle (Streamlit's theme would draw 2 px).
    assert legends[0].get("symbolStrokeWidth") == 1, legends[0]


CODES = ["better_998", "better_95", "similar", "worse_95", "worse_998", "not_compared"]


def _ranking() -> pd.DataFrame:
    n = len(CODES)
    return pd.DataFrame({"area_name": [f"Area {i}" for i in range(n)],
                         "value": np.linspace(10, 60, n), "lower95": np.linspace(5, 55, n),
                         "upper95": np.linspace(15, 65, n), "comparison": CODES,
                         "role": ["Home"] + ["Comparator"] + ["Other"] * (n - 2),
                         "display": [f"{v:.1f}" for v in np.linspace(10, 60, n)],
                         "denominator": np.geomspace(200, 50_000, n)})


def test_ranking_uses_the_palette_with_shapes_in_its_legend():
    spec = charts.ranked_chart(_ranking(), "%", 30.0).to_dict(validate=False)
    words = {palette.verdict(c).words: c for c in CODES}
    _assert_palette(spec, "significance", words)
    assert _scales(spec, "significance")["color"][-1]["scale"]["range"][:2] == \
        ["#85994B", "#00703C"]


def test_spine_uses_the_palette():
    codes = ["better_95", "higher_998", "lower_95", "similar", "worse_998", "not_compared"]
    rows = pd.DataFrame({
        "title": [f"Metric {i}" for i in range(len(codes))], "period": "2025/26",
        "area_text": "x", "england_text": "y", "comparators_text": "z", "worst_text": "w",
        "best_text": "b", "significance_words": "words", "pos_min": 0.0, "pos_max": 1.0,
        "pos_q1": 0.3, "pos_q3": 0.7, "pos_area": np.linspace(0.1, 0.9, len(codes)),
        "pos_comparators": 0.5, "comparison": codes})
    spec = charts.spine_chart(rows).to_dict(validate=False)
    _assert_palette(spec, "significance", {palette.verdict(c).words: c for c in codes})


@pytest.mark.parametrize("polarity", ["high", "low", "none"])
def test_funnel_dots_take_the_colour_and_shape_of_the_verdict_their_position_means(polarity):
    positions = ["above_998", "above_95", "inside_95", "below_95", "below_998", "not_plotted"]
    points = _ranking().assign(
        funnel_position=positions,
        funnel_comparison=[stats.funnel_comparison(p, polarity) for p in positions],
        funnel_words=[stats.funnel_position_words(p, polarity) for p in positions])
    limits = pd.DataFrame({"denominator": np.geomspace(100, 60_000, 20), "benchmark": 30.0,
                           "lower95": 25.0, "upper95": 35.0, "lower998": 20.0,
                           "upper998": 40.0})
    spec = charts.funnel_chart(points, limits, "%", "People").to_dict(validate=False)
    words = dict(zip(points["funnel_words"], points["funnel_comparison"]))
    _assert_palette(spec, "funnel_words", words)
    # Its categories kept, highest position first, each in its own look.
    domain = _scales(spec, "funnel_words")["color"][0]["scale"]["domain"]
    assert domain == points["funnel_words"].tolist()


def test_continuity_breakdown_uses_the_palette():
    codes = ["better_95", "similar", "worse_998"]
    table = pd.DataFrame({"category": ["A", "B", "C"], "released": [100.0, 200.0, 300.0],
                          "engaged": [60.0, 90.0, 80.0], "rate": [60.0, 45.0, 26.7],
                          "lower95": [50.0, 38.0, 22.0], "upper95": [69.0, 52.0, 32.0],
                          "comparison": codes, "suppressed": False})
    spec = continuity_charts.breakdown_chart(table, 44.0, 75.0, "Area", "Group") \
        .to_dict(validate=False)
    _assert_palette(spec, "significance", {palette.verdict(c).words: c for c in codes})


def _england_values(codes: list[str]) -> pd.DataFrame:
    areas = geo.national_boundaries()["features"]
    cycle = [*stats.COMPARISON_CODES]
    return pd.DataFrame({"area_code": [f["properties"]["code"] for f in areas],
                         "value": 1.0, "suppressed": False, "value_text": "1.0",
                         "period_text": "", "period": "2025/26",
                         "comparison": [cycle[i % len(cycle)] for i in range(len(areas))],
                         "comparison_text": "words", "note": ""})


def test_england_map_by_comparison_uses_the_palette_and_a_shape_per_area():
    national, regions = geo.national_boundaries(), geo.region_boundaries()
    indicator = catalogue.get("adults_in_treatment")
    values = _england_values([])
    spec, legend = vega_maps.national_map(national, regions, values, indicator,
                                          "comparison", "E10000013")
    layers = {layer["name"]: layer for layer in spec["layer"]}
    fills = {f["properties"]["code"]: f["properties"]["fill"]
             for f in layers["areas"]["data"]["values"]}
    for code, comparison in zip(values["area_code"], values["comparison"]):
        assert fills[code] == palette.verdict(comparison).colour
    glyphs = {row["glyph"] for row in layers["verdict-shapes"]["data"]["values"]}
    assert glyphs == {v.glyph for v in palette.VERDICTS.values()}
    # The legend beside the map shows the same shape in the same colour.
    assert legend.colours == [v.colour for v in palette.VERDICTS.values()]
    assert legend.glyphs == [v.glyph for v in palette.VERDICTS.values()]
    html = map_charts.legend_html(legend)
    for v in palette.VERDICTS.values():
        assert f"background:{v.colour}" in html and v.words in html
    # The printed map: fills, markers and their legend from the palette.
    spec = map_charts.national_static_map(national, regions, values, indicator,
                                          "comparison").to_dict(validate=False)
    _assert_palette(spec, "properties.class",
                    {v.words: v.key for v in palette.VERDICTS.values()})


def _fills(pdf: bytes) -> set[tuple[float, float, float]]:
    """Fill colours set in a PDF's content streams ('r g b rg')."""
    out = set()
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            text = zlib.decompress(stream).decode("latin-1")
        except zlib.error:
            continue
        for r, g, b in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) rg", text):
            out.add((round(float(r), 2), round(float(g), 2), round(float(b), 2)))
    return out


def test_pack_summary_cells_are_filled_with_the_screen_colours():
    codes = ["better_998", "better_95", "similar", "worse_95", "worse_998", "higher_95"]
    frame = pd.DataFrame({"Outcome": [f"Outcome {i}" for i in range(len(codes))],
                          "Compared with England": [stats.comparison_words(c)
                                                    for c in codes]})
    pdf = boardpack._Pack("Test pack", demo=False)
    pdf.add_page()
    boardpack._summary_table(pdf, frame)
    fills = _fills(bytes(pdf.output()))
    for code in codes:
        rgb = tuple(round(c / 255, 2) for c in palette.rgb(palette.verdict(code).colour))
        assert rgb in fills, code
    # Legible: white on dark green and red, dark text on yellow.
    def style(words):
        face = boardpack.verdict_style(words)
        return tuple(round(c * 255) for c in (face.color.r, face.color.g, face.color.b)), \
            tuple(round(c * 255) for c in (face.fill_color.r, face.fill_color.g,
                                            face.fill_color.b))
    assert style(stats.comparison_words("similar"))[0] == palette.rgb(palette.DARK_TEXT)
    assert style(stats.comparison_words("worse_95"))[0] == palette.rgb("#FFFFFF")
    assert style(stats.comparison_words("better_95"))[0] == palette.rgb("#FFFFFF")
    # A card without a comparison says why in words: drawn as not compared.
    assert style("No figure yet")[1] == palette.rgb(palette.NOT_COMPARED)


# --- Chart marks against the white background ----------------------------------------------
#
# axe checks text, not what a chart draws. Lines, rules and symbols that carry figures must
# stand out from the page at 4.5:1: a literal stroke or fill that dark, or (symbols filled
# by the verdict or SPC scale, whose yellow, orange and light blue are 1.4-3:1) an outline
# that dark. Filled rectangles and bands (the spine's range bars, interval bands) are
# backgrounds behind the markers, and their figures are in the table beside each chart.

def _vega_marks(spec: dict) -> list[tuple[str, dict]]:
    found = []

    def walk(marks):
        for mark in marks or []:
            encode = {}
            for phase in ("enter", "update"):
                encode.update((mark.get("encode") or {}).get(phase) or {})
            found.append((mark.get("type"), encode))
            walk(mark.get("marks"))
    walk(vlc.vegalite_to_vega(spec).get("marks"))
    return found


def _literal(encode: dict, channel: str) -> str | None:
    value = encode.get(channel)
    if isinstance(value, dict) and isinstance(value.get("value"), str) \
            and value["value"].startswith("#"):
        return value["value"]
    return None


def _spc_frame() -> pd.DataFrame:
    values = np.r_[np.full(12, 40.0) + np.sin(np.arange(12)), 60.0, 20.0]
    frame = stats.spc(values, improvement_direction="increase")
    quarters = pd.period_range("2021Q2", periods=len(values), freq="Q-MAR")
    frame["period"] = [f"Q{i}" for i in range(len(values))]
    frame["period_kind"] = "quarter"
    frame["period_start"] = quarters.start_time
    frame["period_end"] = quarters.end_time.normalize()
    return frame


def _chart_specs() -> dict[str, dict]:
    positions = ["above_998", "above_95", "inside_95", "below_95", "below_998", "not_plotted"]
    points = _ranking().assign(
        funnel_position=positions,
        funnel_comparison=[stats.funnel_comparison(p, "high") for p in positions],
        funnel_words=[stats.funnel_position_words(p, "high") for p in positions])
    limits = pd.DataFrame({"denominator": np.geomspace(100, 60_000, 20), "benchmark": 30.0,
                           "lower95": 25.0, "upper95": 35.0, "lower998": 20.0,
                           "upper998": 40.0})
    return {
        "ranking": charts.ranked_chart(_ranking(), "%", 30.0).to_dict(validate=False),
        "funnel": charts.funnel_chart(points, limits, "%", "People").to_dict(validate=False),
        "spc": charts.spc_chart(_spc_frame(), "%", target=75.0).to_dict(validate=False),
    }


@pytest.mark.parametrize("name", ["ranking", "funnel", "spc"])
def test_lines_and_markers_stand_out_from_the_page(name):
    spec = _chart_specs()[name]
    weak = []
    for kind, encode in _vega_marks(spec):
        stroke, fill = _literal(encode, "stroke"), _literal(encode, "fill")
        if kind in ("line", "rule") and stroke:
            if palette.contrast_ratio(stroke, "#FFFFFF") < 4.5:
                weak.append((kind, "stroke", stroke))
        elif kind == "symbol":
            outlined = stroke and palette.contrast_ratio(stroke, "#FFFFFF") >= 4.5 \
                and (encode.get("strokeWidth") or {}).get("value", 1) > 0
            dark = fill and palette.contrast_ratio(fill, "#FFFFFF") >= 4.5
            if not (outlined or dark):
                weak.append((kind, "fill", fill or encode.get("fill"), "stroke", stroke))
    assert not weak, weak
    assert any(kind == "symbol" for kind, _ in _vega_marks(spec)), "no markers drawn"
