"""pages/maps.py run headless through app.py (AppTest) on the demonstration data: each view
draws without an exception, sends only the geometry it needs, labels demonstration classes
and keeps small counts out of what the browser receives."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support import app_on_demo_data, board_tables

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOME = "E10000013"
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory):
    with app_on_demo_data(tmp_path_factory.mktemp("maps_data")) as data_dir:
        yield data_dir


def maps_page(view: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.run()
    at.switch_page("pages/maps.py")
    if view:
        at.session_state["view"] = view
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    # The run went through app.py (tests/conftest.py: use_navigation_only), not the page
    # file alone with an old context.
    assert {w.key for w in at.selectbox} >= {"area", "period"}
    return at


def deck_spec(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("deck_gl_json_chart")[index].proto.json)


def england_charts(at: AppTest) -> list:
    """The England map's chart elements (Vega-Lite, with a layer named "areas")."""
    return [chart for chart in at.get("vega_lite_chart")
            if any(layer.get("name") == "areas"
                   for layer in json.loads(chart.proto.spec).get("layer", []))]


def england_layers(at: AppTest) -> dict:
    (chart,) = england_charts(at)
    return {layer["name"]: layer for layer in json.loads(chart.proto.spec)["layer"]}


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [i.value for i in at.info] + \
        [c.value for c in at.caption]
    return "\n".join(parts)


def test_local_map_sends_only_the_partnerships_small_areas(demo_data_dir):
    at = maps_page()
    spec = deck_spec(at)
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert set(layers) >= {"lsoas", "districts", "district-names"}
    codes = {row["code"] for row in layers["lsoas"]["data"]}
    expected = pd.read_csv(PROJECT_ROOT / "data" / "reference" / "lsoa11.csv", dtype=str)
    assert codes == set(expected.loc[expected["utla_code"] == HOME, "lsoa11_code"])
    assert spec["mapStyle"] == "__MAP_STYLE__"
    assert len(at.get("deck_gl_json_chart")[0].proto.json) < 400_000
    page_text = texts(at)
    assert "Demonstration rural-urban classes and deprivation deciles" in page_text
    assert "map-legend" in page_text and "Open Government Licence" in page_text
    # Public mode (the default): small counts never reach the browser.
    rows = layers["lsoas"]["data"]
    assert any(row["treat_text"] == "*" for row in rows)
    assert all(row["treat_text"] == "*" or row["treat_text"] == "-" or
               int(row["treat_text"].replace(",", "")) == 0 or
               int(row["treat_text"].replace(",", "")) >= 5 for row in rows)
    tooltip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)
    assert "(demonstration)" in tooltip["html"]


@pytest.mark.parametrize("measure", ["unmet_need", "deaths_rate", "imd_decile", "ruc_class"])
def test_every_measure_draws(demo_data_dir, measure):
    at = maps_page(map_measure=measure)
    rows = next(layer for layer in deck_spec(at)["layers"] if layer["id"] == "lsoas")["data"]
    assert len({tuple(row["fill"]) for row in rows}) > 2


def test_england_map_colours_every_partnership_and_outlines_home(demo_data_dir):
    at = maps_page("England")
    layers = england_layers(at)
    areas = [f["properties"] for f in layers["areas"]["data"]["values"]]
    assert len({row["code"] for row in areas}) == 153
    assert layers["home"]["data"]["values"]
    assert layers["home-name"]["data"]["values"][0]["name"] == "Gloucestershire"
    assert layers["comparators"]["data"]["values"]      # computed comparators are outlined
    (chart,) = england_charts(at)
    assert len(chart.proto.spec) + sum(len(d.data.data) for d in chart.proto.datasets) \
        < 450_000
    # Public mode: what the tooltip shows and the fill, no count or interval.
    assert {key for row in areas for key in row} == {
        "code", "name", "value_text", "period", "comparison", "note", "fill"}


def test_neither_map_draws_itself_again_as_the_pointer_moves(demo_data_dir):
    """A hover tint redraws the whole map for every area the pointer enters, which froze
    the page for over a second per area in software GL. The partnership map (deck.gl): no
    autoHighlight, and the pick that finds the tooltip's area draws only the fills
    (map_charts.UNPICKED_OUTLINES). The England map (Vega): its one selection answers a
    click, not the pointer, and no mark's look depends on it."""
    layers = deck_spec(maps_page())["layers"]
    assert not any(layer.get("autoHighlight") for layer in layers)
    picked = [layer for layer in layers if layer.get("pickable")]
    assert [layer["id"] for layer in picked] == ["lsoas"]
    assert picked[0]["_subLayerProps"] == {"stroke": {"pickable": False}}
    (chart,) = england_charts(maps_page("England"))
    spec = json.loads(chart.proto.spec)
    params = [p for layer in spec["layer"] for p in layer.get("params", [])]
    assert [(p["name"], p["select"]["on"]) for p in params] == [("area", "click")]
    assert '"param"' not in chart.proto.spec           # no condition on the selection


def test_england_map_by_comparison_and_by_force_area(demo_data_dir):
    at = maps_page("England", england_metric="drug_homicide", england_mode="comparison")
    rows = [f["properties"] for f in england_layers(at)["areas"]["data"]["values"]]
    assert any("police force area" in row["note"] for row in rows)
    assert "Compared with England" in texts(at)
    assert england_layers(at)["verdict-shapes"]["data"]["values"]
    # The tooltip names the force area's figure; a council's metric has no empty "Note".
    tooltip = [t["title"] for t in england_layers(at)["areas"]["encoding"]["tooltip"]]
    assert tooltip[-1] == "Note"
    default = england_layers(maps_page("England"))["areas"]["encoding"]["tooltip"]
    assert "Note" not in [t["title"] for t in default]


def test_urban_and_rural_view(demo_data_dir):
    at = maps_page("Urban and rural", ur_by="class")
    assert at.get("vega_lite_chart")
    # The chart's data holds only what it draws: no counts, hidden or shown.
    from tests.support import vega_datasets
    rows = vega_datasets(at.get("vega_lite_chart")[0])
    fields = {key for row in rows for key in row}
    assert rows and fields <= {"group_label", "treated_share", "lower", "upper"}, fields
    # England's table: rates and shares only (its counts less the areas' would give
    # away a class total an area hides).
    counts, rates, england = board_tables(at)
    assert "Estimated users" not in england.columns and "Estimated users" in counts.columns
    assert list(rates["Rural-urban class"]) == list(counts["Rural-urban class"])
    table = counts
    assert table["Rural-urban class"].iloc[-1] == "All small areas"
    assert "Rural village and dispersed" in set(table["Rural-urban class"])
    # Described from the figures it draws, as its accessible name and as text under it.
    words = json.loads(at.get("vega_lite_chart")[0].proto.spec)["description"]
    assert words.startswith(f"{at.subheader[-1].value.split(' by ')[0]}")
    assert "by rural-urban class in Gloucestershire" in words
    for row in rows:    # the area's dots carry an interval; England's ticks do not
        said = f"{row['group_label']} {row['treated_share']:,.1f}" if "lower" in row else \
            f"England {row['treated_share']:,.1f}"
        assert said in words, row
    assert words in {c.value.replace("\\", "") for c in at.caption}


def test_print_version_and_another_area(demo_data_dir):
    at = maps_page(print_version=True, area="E06000023")
    assert "Bristol" in at.title[0].value
    assert len(at.get("image")) == 1        # the static map, rendered offline to PNG
    assert at.get("download_button")


def test_real_data_without_a_small_area_table(tmp_path, monkeypatch):
    """A real extract has no small-area table: the England map still works, the small-area
    views say what is missing, and a loaded IMD lookup brings the deciles back."""
    from metrics import geo, store
    from metrics.demo import build_values, load_areas
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(PROJECT_ROOT)
    store.publish(tmp_path, {"values": build_values(load_areas())}, {"demo": False})
    for view in ("Partnership", "Urban and rural"):
        at = maps_page(view)
        assert "No small-area figures" in texts(at)
    assert england_charts(maps_page("England"))

    lookup = tmp_path / "File_1_IMD2019.csv"
    codes = pd.read_csv(PROJECT_ROOT / "data" / "reference" / "lsoa11.csv",
                        usecols=["lsoa11_code"])["lsoa11_code"]
    pd.DataFrame({"LSOA code (2011)": codes,
                  "Index of Multiple Deprivation (IMD) Decile": (codes.index % 10) + 1}
                 ).to_csv(lookup, index=False)
    geo.load_lookup(tmp_path, lookup)
    at = maps_page()
    assert [o for o in at.selectbox(key="map_measure").options] == ["Deprivation decile"]
    assert "Demonstration rural-urban" not in texts(at)       # no classes at all here
    assert "Official lookups: Index of Multiple Deprivation 2019" in texts(at)


def test_deaths_by_district_as_a_table_with_intervals_and_period(demo_data_dir):
    at = maps_page(map_measure="deaths_rate")
    table = next(f for f in board_tables(at) if "95% CI" in f.columns)
    assert len(table) == 6                                  # Gloucestershire's districts
    assert table["Period"].str.match(r"5 years to \d{4}/\d{2}$").all()
    assert table["95% CI"].str.match(r"[\d.]+ to [\d.]+$|\*$").all()
    rows = next(layer for layer in deck_spec(at)["layers"] if layer["id"] == "lsoas")["data"]
    assert all("95% CI" in row["value_detail"] and "5 years to" in row["value_detail"]
               for row in rows if row["value_text"] not in ("*", "-"))
    tooltip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)
    assert "{value_detail}" in tooltip["html"]


def test_a_view_drawn_once_is_kept_until_the_area_changes(demo_data_dir):
    """Going back to a view shows the map already drawn (same key, same spec) rather than
    building it again; another area draws only the view open."""
    at = maps_page()
    first = at.get("deck_gl_json_chart")[0].proto.json
    at.session_state["view"] = "England"
    at.run()
    (england,) = england_charts(at)
    assert [d.proto.json for d in at.get("deck_gl_json_chart")] == [first]
    at.session_state["view"] = "Partnership"
    at.run()
    assert [d.proto.json for d in at.get("deck_gl_json_chart")] == [first]
    assert [c.proto.spec for c in england_charts(at)] == [england.proto.spec]
    at.session_state["area"] = "E06000023"
    at.run()
    assert not at.exception
    assert len(at.get("deck_gl_json_chart")) == 1 and not england_charts(at)


def test_england_map_shows_one_region_large(demo_data_dir):
    """The map cannot be zoomed: a region is chosen instead, drawn alone and so larger,
    in England's colour classes; an outline not drawn is not in the legend."""
    whole = england_layers(maps_page("England"))
    at = maps_page("England", england_region="E12000007")
    layers = england_layers(at)
    london = [f["properties"] for f in layers["areas"]["data"]["values"]]
    assert len(london) == 33 and {row["code"][:3] for row in london} == {"E09"}
    fills = {f["properties"]["code"]: f["properties"]["fill"]
             for f in whole["areas"]["data"]["values"]}
    assert all(fills[row["code"]] == row["fill"] for row in london)
    assert not layers["home"]["data"]["values"]         # Gloucestershire is not in London
    page_text = texts(at)
    assert "Showing London only (Gloucestershire is not in it and is not drawn)." in page_text
    assert "thick dark blue outline" not in page_text
    assert "thick dark blue outline" in texts(maps_page("England"))
