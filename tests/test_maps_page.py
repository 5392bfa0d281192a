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


def map_charts_named(at: AppTest, first_layer: str) -> list:
    """The map charts (Vega-Lite) whose layers include one named `first_layer`: "lsoas"
    for the partnership map, "areas" for the England map."""
    return [chart for chart in at.get("vega_lite_chart")
            if any(layer.get("name") == first_layer
                   for layer in json.loads(chart.proto.spec).get("layer", []))]


def england_charts(at: AppTest) -> list:
    return map_charts_named(at, "areas")


def local_charts(at: AppTest) -> list:
    return map_charts_named(at, "lsoas")


def layers_of(chart) -> dict:
    return {layer["name"]: layer for layer in json.loads(chart.proto.spec)["layer"]}


def england_layers(at: AppTest) -> dict:
    (chart,) = england_charts(at)
    return layers_of(chart)


def local_layers(at: AppTest) -> dict:
    (chart,) = local_charts(at)
    return layers_of(chart)


def small_areas(at: AppTest) -> list[dict]:
    """What the partnership map sends for each small area."""
    return [f["properties"] for f in local_layers(at)["lsoas"]["data"]["values"]]


def sent_size(chart) -> int:
    return len(chart.proto.spec) + sum(len(d.data.data) for d in chart.proto.datasets)


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [i.value for i in at.info] + \
        [c.value for c in at.caption]
    return "\n".join(parts)


def test_local_map_sends_only_the_partnerships_small_areas(demo_data_dir):
    at = maps_page()
    layers = local_layers(at)
    assert set(layers) >= {"lsoas", "districts", "district-names"}
    rows = small_areas(at)
    codes = {row["code"] for row in rows}
    expected = pd.read_csv(PROJECT_ROOT / "data" / "reference" / "lsoa11.csv", dtype=str)
    assert codes == set(expected.loc[expected["utla_code"] == HOME, "lsoa11_code"])
    (chart,) = local_charts(at)
    assert sent_size(chart) < 400_000
    assert "http" not in chart.proto.spec                # nothing to fetch: no tiles, no URL
    page_text = texts(at)
    assert "Demonstration rural-urban classes and deprivation deciles" in page_text
    assert "map-legend" in page_text and "Open Government Licence" in page_text
    # Public mode (the default): small counts never reach the browser.
    assert any(row["treat_text"] == "*" for row in rows)
    assert all(row["treat_text"] == "*" or row["treat_text"] == "-" or
               int(row["treat_text"].replace(",", "")) == 0 or
               int(row["treat_text"].replace(",", "")) >= 5 for row in rows)
    titles = [t["title"] for t in layers["lsoas"]["encoding"]["tooltip"]]
    assert "Rural-urban class (demonstration)" in titles


@pytest.mark.parametrize("measure", ["unmet_need", "deaths_rate", "imd_decile", "ruc_class"])
def test_every_measure_draws(demo_data_dir, measure):
    rows = small_areas(maps_page(map_measure=measure))
    assert len({row["fill"] for row in rows}) > 2


def test_the_partnership_map_shows_one_district_large(demo_data_dir):
    whole = small_areas(maps_page())
    at = maps_page(local_district="E07000081")                    # Gloucester
    district = small_areas(at)
    assert district and {row["district"] for row in district} == {"Gloucester"}
    assert len(district) < len(whole)
    fills = {row["code"]: row["fill"] for row in whole}       # the partnership's classes
    assert all(fills[row["code"]] == row["fill"] for row in district)
    assert [n["name"] for n in local_layers(at)["district-names"]["data"]["values"]] == \
        ["Gloucester"]
    assert "Showing Gloucester only." in texts(at)
    # Another area has other districts: its whole area is shown.
    at.session_state["area"] = "E06000023"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="local_district").value == ""
    assert not [c.value for c in at.caption if " only. " in c.value]
    assert len(small_areas(at)) > 100


def test_england_map_colours_every_partnership_and_outlines_home(demo_data_dir):
    at = maps_page("England")
    layers = england_layers(at)
    areas = [f["properties"] for f in layers["areas"]["data"]["values"]]
    assert len({row["code"] for row in areas}) == 153
    assert layers["home"]["data"]["values"]
    assert layers["home-name"]["data"]["values"][0]["name"] == "Gloucestershire"
    assert layers["comparators"]["data"]["values"]      # computed comparators are outlined
    (chart,) = england_charts(at)
    assert sent_size(chart) < 450_000
    # Public mode: what the tooltip shows and the fill, no count or interval.
    assert {key for row in areas for key in row} == {
        "code", "name", "value_text", "period", "comparison", "note", "fill"}


def test_neither_map_draws_itself_again_as_the_pointer_moves(demo_data_dir):
    """A hover tint redraws the whole map for every area the pointer enters (with deck.gl
    in software GL that froze the page for over a second per area). Each map's one
    selection answers a click, not the pointer, and no mark's look depends on it."""
    for chart in (*local_charts(maps_page()), *england_charts(maps_page("England"))):
        spec = json.loads(chart.proto.spec)
        params = [p for layer in spec["layer"] for p in layer.get("params", [])]
        assert [p["select"]["on"] for p in params] == ["click"]
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
    # The tooltip gives each small area's district figure with its interval and period.
    assert all("95% CI" in row["value_text"] and "5 years to" in row["value_text"]
               for row in small_areas(at) if row["value_text"] not in ("*", "-"))


def test_a_view_drawn_once_is_kept_until_the_area_changes(demo_data_dir):
    """Going back to a view shows the map already drawn (same key, same spec) rather than
    building it again; another area draws only the view open."""
    at = maps_page()
    (local,) = local_charts(at)
    at.session_state["view"] = "England"
    at.run()
    (england,) = england_charts(at)
    assert [c.proto.spec for c in local_charts(at)] == [local.proto.spec]
    at.session_state["view"] = "Partnership"
    at.run()
    assert [c.proto.spec for c in local_charts(at)] == [local.proto.spec]
    assert [c.proto.spec for c in england_charts(at)] == [england.proto.spec]
    at.session_state["area"] = "E06000023"
    at.run()
    assert not at.exception
    assert len(local_charts(at)) == 1 and not england_charts(at)
