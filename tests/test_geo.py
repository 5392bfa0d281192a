"""metrics.geo and metrics.render.map_charts: the committed boundaries, the official lookups, the
urban/rural aggregation and disclosure control in what the maps send to the browser."""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest

from metrics import geo, stats, store
from metrics.reference import catalogue
from metrics.render import map_charts, vega_maps

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"
HOME = "E10000013"  # Gloucestershire, the default home area
# The home area, a county with many districts, areas created in 2023 and 2025, London,
# and the Isles of Scilly (islands only).
SAMPLE_AREAS = [HOME, "E10000014", "E06000063", "E06000065", "E08000039", "E09000001",
                "E06000053"]


@pytest.fixture(scope="module")
def areas() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "areas.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def lsoa11() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "lsoa11.csv", dtype=str)


def _shoelace(ring) -> float:
    pts = np.asarray(ring, float)
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def _area(geometry) -> float:
    return sum(_shoelace(p[0]) - sum(_shoelace(h) for h in p[1:])
               for p in geo.polygons_of(geometry))


# --- Point in polygon ----------------------------------------------------------------------

def test_point_in_polygons_respects_holes_and_parts():
    square = [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
    hole = [[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]
    island = [[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]
    polygons = [[square, hole], [island]]
    assert geo.point_in_polygons(0.5, 0.5, polygons)
    assert not geo.point_in_polygons(2, 2, polygons)          # in the hole
    assert geo.point_in_polygons(10.5, 10.5, polygons)        # on the island
    assert not geo.point_in_polygons(5, 5, polygons)


# --- The committed boundary files --------------------------------------------------------------

def test_every_partnership_has_a_polygon(areas):
    utlas = set(areas.loc[areas["area_type"] == "utla", "area_code"])
    assert len(utlas) == 153
    national = geo.national_boundaries()
    features = {f["properties"]["code"]: f for f in national["features"]}
    assert set(features) == utlas
    for code, feature in features.items():
        assert _area(feature["geometry"]) > 0, code
        x, y = feature["properties"]["point"]
        assert geo.point_in_polygons(x, y, geo.polygons_of(feature["geometry"])), code
    west, south, east, north = national["bbox"]
    assert -6.5 < west < -5.5 and 49.8 < south < 50.1 and 1.6 < east < 1.9 and 55.7 < north < 55.9


def test_every_partnership_has_its_own_small_areas(areas, lsoa11):
    expected = lsoa11.groupby("utla_code")["lsoa11_code"].apply(set)
    for code in areas.loc[areas["area_type"] == "utla", "area_code"]:
        local = geo.local_boundaries(code)
        lsoas = {f["properties"]["code"] for f in local["features"]
                 if f["properties"]["layer"] == "lsoa"}
        assert lsoas == expected[code], code


@pytest.mark.parametrize("utla_code", SAMPLE_AREAS)
def test_every_small_area_falls_in_exactly_its_own_district(utla_code, lsoa11):
    local = geo.local_boundaries(utla_code)
    districts = {f["properties"]["code"]: geo.polygons_of(f["geometry"])
                 for f in local["features"] if f["properties"]["layer"] == "district"}
    expected = lsoa11[lsoa11["utla_code"] == utla_code].set_index("lsoa11_code")["ltla_code"]
    assert set(districts) == set(expected)
    for feature in (f for f in local["features"] if f["properties"]["layer"] == "lsoa"):
        props = feature["properties"]
        x, y = props["point"]
        assert geo.point_in_polygons(x, y, geo.polygons_of(feature["geometry"])), props["code"]
        inside = [code for code, polygons in districts.items()
                  if geo.point_in_polygons(x, y, polygons)]
        assert inside == [expected[props["code"]]], props["code"]
        assert props["ltla_code"] == expected[props["code"]]


def test_districts_are_the_union_of_their_small_areas():
    local = geo.local_boundaries(HOME)
    lsoa_area = {}
    for f in local["features"]:
        if f["properties"]["layer"] == "lsoa":
            key = f["properties"]["ltla_code"]
            lsoa_area[key] = lsoa_area.get(key, 0) + _area(f["geometry"])
    for f in (f for f in local["features"] if f["properties"]["layer"] == "district"):
        assert _area(f["geometry"]) == pytest.approx(lsoa_area[f["properties"]["code"]],
                                                     rel=1e-3)


def test_region_lines_and_manifest():
    lines = geo.region_boundaries()
    codes = {c for f in lines["features"] for c in f["properties"]["codes"]}
    assert len(codes) == 9 and all(c.startswith("E12") for c in codes)
    manifest = geo.boundary_manifest()
    assert manifest["upper_tier_areas"] == 153 and manifest["lsoas"] == 32_844
    assert manifest["districts"] == 296
    assert "Open Government Licence" in manifest["attribution"]


def test_the_largest_local_file_stays_small():
    # The browser gets one area's small areas; keep even the largest area light.
    assert geo.boundary_manifest()["bytes"]["local_largest"] < 600_000
    assert geo.boundary_manifest()["bytes"]["utla"] < 400_000


# --- Building from a boundary file (needs shapely, from requirements-geo.txt) ----------------

def _square(x, y, size=0.01):
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def _tiny_reference(tmp_path: Path) -> Path:
    ref = tmp_path / "reference"
    ref.mkdir()
    pd.DataFrame({
        "lsoa11_code": ["E01000001", "E01000002", "E01000003", "E01000004"],
        "lsoa11_name": ["Alpha 001A", "Alpha 001B", "Beta 001A", "Beta 001B"],
        "ltla_code": ["E07000001", "E07000001", "E07000002", "E07000002"],
        "ltla_name": ["Alpha", "Alpha", "Beta", "Beta"],
        "utla_code": ["E10000001"] * 4, "lon": [0.0] * 4, "lat": [0.0] * 4,
    }).to_csv(ref / "lsoa11.csv", index=False)
    pd.DataFrame([
        {"area_code": "E10000001", "area_name": "Testshire", "area_type": "utla",
         "region_code": "E12000009", "region_name": "South West", "pfa_code": "",
         "pfa_name": "", "lsoa11_count": 4},
        {"area_code": "E12000009", "area_name": "South West", "area_type": "region",
         "region_code": "E12000009", "region_name": "South West", "pfa_code": "",
         "pfa_name": "", "lsoa11_count": 4},
    ]).to_csv(ref / "areas.csv", index=False)
    return ref


def _geojson(path: Path, features: list[tuple[str, str, list]], code_field="LSOA11CD"):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {code_field: c, code_field[:6] + "NM": n},
         "geometry": {"type": "Polygon", "coordinates": g}} for c, n, g in features]}))
    return path


def test_build_dissolves_small_areas_into_districts(tmp_path):
    pytest.importorskip("shapely")
    ref = _tiny_reference(tmp_path)
    source = _geojson(tmp_path / "lsoa.geojson", [
        ("E01000001", "Alpha 001A", _square(-2.0, 51.0)),
        ("E01000002", "Alpha 001B", _square(-1.99, 51.0)),
        ("E01000003", "Beta 001A", _square(-2.0, 51.01)),
        ("E01000004", "Beta 001B", _square(-1.99, 51.01)),
        ("W01000001", "Wales 001A", _square(-3.0, 51.0)),
    ])
    out = tmp_path / "boundaries"
    manifest = geo.build_boundaries(source, out, ref, verbose=False)
    assert manifest["lsoas"] == 4 and manifest["districts"] == 2
    local = geo.local_boundaries("E10000001", out)
    districts = {f["properties"]["code"]: f for f in local["features"]
                 if f["properties"]["layer"] == "district"}
    assert set(districts) == {"E07000001", "E07000002"}
    # Two 0.01-degree squares side by side dissolve into one 0.02 x 0.01 rectangle.
    assert _area(districts["E07000001"]["geometry"]) == pytest.approx(0.0002)
    assert districts["E07000001"]["geometry"]["type"] == "Polygon"
    national = geo.national_boundaries(out)
    assert [f["properties"]["code"] for f in national["features"]] == ["E10000001"]


def test_build_places_new_2021_small_areas_by_containment(tmp_path):
    pytest.importorskip("shapely")
    ref = _tiny_reference(tmp_path)
    source = _geojson(tmp_path / "lsoa21.geojson", [
        ("E01000001", "Alpha 001A", _square(-2.0, 51.0)),
        ("E01000002", "Alpha 001B", _square(-1.99, 51.0)),
        ("E01000003", "Beta 001A", _square(-2.0, 51.01)),
        ("E01000004", "Beta 001B", _square(-1.99, 51.01)),
        ("E01099999", "Beta 001C", _square(-1.995, 51.012, 0.002)),   # new in 2021
    ], code_field="LSOA21CD")
    lsoas, edition = geo.read_lsoa_features(source)
    assert edition == 2021
    placed = geo.assign_districts(lsoas, pd.read_csv(ref / "lsoa11.csv", dtype=str))
    assert placed.set_index("lsoa_code").loc["E01099999", "ltla_code"] == "E07000002"


def test_build_refuses_grid_coordinates(tmp_path):
    pytest.importorskip("shapely")
    source = _geojson(tmp_path / "bng.geojson", [
        ("E01000001", "Alpha 001A", _square(398000, 205000, 500))])
    with pytest.raises(ValueError, match="WGS84"):
        geo.read_lsoa_features(source)


# --- Official lookups ------------------------------------------------------------------------

def test_reads_the_ons_rural_urban_lookup(tmp_path):
    path = tmp_path / "RUC11_LSOA11_EW.csv"
    pd.DataFrame({"LSOA11CD": ["E01000001", "E01000002", "W01000001"],
                  "LSOA11NM": ["a", "b", "c"], "RUC11CD": ["A1", "D2", "E1"],
                  "RUC11": ["Urban major conurbation", "Rural town and fringe in a sparse "
                            "setting", "Rural village"], "FID": [1, 2, 3]}).to_csv(path,
                                                                                  index=False)
    [lookup] = geo.read_lookup_file(path)
    assert lookup.name == "ruc" and lookup.meta["edition"].endswith("2011")
    assert lookup.frame.to_dict("list") == {"lsoa_code": ["E01000001", "E01000002"],
                                            "ruc_class": ["A1", "D2"]}


def test_reads_the_2021_rural_urban_lookup_and_the_imd_files(tmp_path):
    ruc = tmp_path / "ruc21.csv"
    pd.DataFrame({"LSOA21CD": ["E01000001"], "LSOA21NM": ["a"], "RUC21CD": ["RSF1"],
                  "RUC21NM": ["Smaller rural: Further from a major town or city"],
                  "Urban_rural_flag": ["Rural"]}).to_csv(ruc, index=False)
    [lookup] = geo.read_lookup_file(ruc)
    assert lookup.frame["ruc_class"].tolist() == ["RSF1"]
    assert geo.ruc_broad("RSF1") == "Rural" and geo.ruc_broad("UN1") == "Urban"

    imd = tmp_path / "File_7_IoD2019.csv"
    pd.DataFrame({"LSOA code (2011)": ["E01000001", "E01000002"],
                  "LSOA name (2011)": ["a", "b"],
                  "Index of Multiple Deprivation (IMD) Score": [30.1, 5.2],
                  "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% "
                  "of LSOAs)": [2, 9]}).to_csv(imd, index=False)
    [lookup] = geo.read_lookup_file(imd)
    assert lookup.name == "imd" and lookup.meta["edition"].endswith("2019")
    assert lookup.frame["imd_decile"].tolist() == [2, 9]


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"LSOA11CD": ["E01000001"], "RUC11CD": ["Z9"]}), "not RUC 2011 classes"),
    (pd.DataFrame({"LSOA code (2011)": ["E01000001"],
                   "Index of Multiple Deprivation (IMD) Decile": [11]}), "1 to 10"),
    (pd.DataFrame({"code": ["E01000001"], "class": ["A1"]}), "not a recognised"),
    (pd.DataFrame({"LSOA11CD": ["E01000001", "E01000001"], "RUC11CD": ["A1", "C1"]}),
     "more than once"),
])
def test_refuses_a_wrong_lookup_with_a_clear_message(tmp_path, frame, message):
    path = tmp_path / "lookup.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=message):
        geo.read_lookup_file(path)


def test_loaded_lookups_replace_the_demonstration_classes(tmp_path):
    path = tmp_path / "ruc.csv"
    pd.DataFrame({"LSOA11CD": ["E01000001", "E01000002"],
                  "RUC11CD": ["F1", "B1"]}).to_csv(path, index=False)
    assert store.lookup_stamp(tmp_path) == ""
    [stored] = geo.load_lookup(tmp_path, path)
    assert stored["matched_lsoa11"] == 2
    stamp = store.lookup_stamp(tmp_path)
    assert stamp and "ruc" in store.lookup_manifest(tmp_path)
    ruc = store.read_lookup(tmp_path, "ruc", ["E01000001"])
    assert ruc.to_dict("list") == {"lsoa_code": ["E01000001"], "ruc_class": ["F1"]}
    table = geo.need_table(_lsoas(2), _need(2), store.read_lookup(tmp_path, "ruc"), None)
    assert table["ruc_class"].tolist() == ["F1", "B1"] and table["ruc_official"].all()
    assert not table["imd_official"].any()          # deciles still the demonstration ones
    store.remove_lookup(tmp_path, "ruc")
    assert store.read_lookup(tmp_path, "ruc") is None and store.lookup_stamp(tmp_path) != stamp


# --- Small-area need, urban and rural ----------------------------------------------------------

def _lsoas(n: int) -> pd.DataFrame:
    codes = [f"E0100000{i + 1}" for i in range(n)]
    return pd.DataFrame({"lsoa_code": codes, "lsoa_name": [f"Area {i}" for i in range(n)],
                         "ltla_code": ["E07000001"] * n, "ltla_name": ["Alpha"] * n})


def _need(n: int, **columns) -> pd.DataFrame:
    base = {"lsoa11_code": [f"E0100000{i + 1}" for i in range(n)],
            "utla_code": ["E10000001"] * n, "ltla_code": ["E07000001"] * n,
            "population": [1500.0] * n, "imd_decile": list(range(1, n + 1)),
            "ruc11_class": ["A1"] * n, "estimated_ocu": [20.0] * n,
            "ocu_in_treatment": [10.0] * n, "drug_deaths_5y": [0.0] * n,
            "period": ["2025/26"] * n, "demo": [True] * n}
    base.update(columns)
    return pd.DataFrame(base)


def test_need_table_without_a_small_area_table_keeps_the_lookups():
    imd = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"], "imd_decile": [3, 7]})
    table = geo.need_table(_lsoas(2), pd.DataFrame(), None, imd)
    assert table["imd_decile"].tolist() == [3, 7]
    assert geo.available_measures(table) == ["imd_decile"]


def test_urban_rural_arithmetic():
    need = _need(4, ruc11_class=["A1", "C1", "D1", "E1"],
                 population=[1000.0, 2000.0, 1500.0, 500.0],
                 estimated_ocu=[30.0, 50.0, 20.0, 10.0],
                 ocu_in_treatment=[15.0, 25.0, 6.0, 5.0],
                 drug_deaths_5y=[6.0, 4.0, 5.0, 5.0])
    table = geo.need_table(_lsoas(4), need, None, None)
    broad = geo.urban_rural_summary(table, "broad", threshold=5).set_index("group")
    assert broad.index.tolist() == ["Urban", "Rural", "All"]
    assert broad.loc["Urban", ["population", "estimated_ocu", "ocu_in_treatment",
                               "drug_deaths_5y"]].tolist() == [3000, 80, 40, 10]
    assert broad.loc["Rural", "not_in_treatment"] == 19
    assert broad.loc["All", "estimated_ocu"] == 110 and broad.loc["All", "lsoas"] == 4
    assert broad.loc["Urban", "treated_share"] == pytest.approx(50.0)
    assert broad.loc["Rural", "unmet_need"] == pytest.approx(100 - 11 / 30 * 100)
    lower, upper = stats.wilson_ci(11, 30)
    assert broad.loc["Rural", "treated_share_lower95"] == pytest.approx(lower * 100)
    assert broad.loc["Rural", "unmet_need_upper95"] == pytest.approx(100 - lower * 100)
    assert broad.loc["Urban", "ocu_rate"] == pytest.approx(80 / 3000 * 1000)
    assert broad.loc["Rural", "deaths_rate"] == pytest.approx(10 / (2000 * 5) * 100_000)
    lo, hi = stats.rate_ci(10, 2000 * 5, multiplier=100_000)
    assert (broad.loc["Rural", "deaths_rate_lower95"],
            broad.loc["Rural", "deaths_rate_upper95"]) == pytest.approx((lo, hi))

    classes = geo.urban_rural_summary(table, "class", threshold=5, with_total=False)
    assert classes["group"].tolist() == ["A1", "C1", "D1", "E1"]
    assert classes["broad"].tolist() == ["Urban", "Urban", "Rural", "Rural"]
    assert classes["estimated_ocu"].sum() == broad.loc["All", "estimated_ocu"]


def test_urban_rural_suppresses_small_counts_and_what_reveals_them():
    need = _need(4, ruc11_class=["A1", "C1", "D1", "E1"],
                 estimated_ocu=[30.0, 50.0, 20.0, 10.0],
                 ocu_in_treatment=[15.0, 25.0, 17.0, 3.0],     # E1: 3 treated, 7 not
                 drug_deaths_5y=[6.0, 0.0, 5.0, 7.0])
    table = geo.need_table(_lsoas(4), need, None, None)
    classes = geo.urban_rural_summary(table, "class", threshold=5).set_index("group")
    # E1's 3 in treatment is hidden, and so its 7 not in treatment (10 - 3).
    assert classes.loc["E1", "ocu_in_treatment_hidden"]
    assert classes.loc["E1", "not_in_treatment_hidden"]
    # D1 has 3 not in treatment: hidden too. Two classes are hidden, so no third is needed.
    assert classes.loc["D1", "ocu_in_treatment_hidden"]
    assert not classes.loc["A1", "ocu_in_treatment_hidden"]
    assert np.isnan(classes.loc["E1", "treated_share"])
    assert np.isnan(classes.loc["E1", "unmet_need_lower95"])
    shown = geo.summary_display(classes.reset_index()).set_index("Rural-urban class")
    assert shown.loc["Rural village and dispersed", "In treatment"] == "*"
    assert shown.loc["Rural village and dispersed", "Unmet need (95% CI)"] == "*"
    assert shown.loc["Urban major conurbation", "In treatment"] == "15"


def test_one_hidden_category_hides_another():
    need = _need(3, ruc11_class=["A1", "C1", "D1"], estimated_ocu=[30.0, 50.0, 20.0],
                 ocu_in_treatment=[15.0, 25.0, 10.0], drug_deaths_5y=[6.0, 9.0, 2.0])
    table = geo.need_table(_lsoas(3), need, None, None)
    classes = geo.urban_rural_summary(table, "class", threshold=5).set_index("group")
    hidden = classes.loc[["A1", "C1", "D1"], "drug_deaths_5y_hidden"]
    # D1's 2 deaths are hidden; the total (17) is shown, so the next smallest (A1: 6) too.
    assert hidden.to_dict() == {"A1": True, "C1": False, "D1": True}
    assert not classes.loc["All", "drug_deaths_5y_hidden"]


def test_map_values_and_tooltips_hide_small_counts():
    need = _need(4, estimated_ocu=[20.0, 3.0, 12.0, 30.0],
                 ocu_in_treatment=[10.0, 1.0, 10.0, 28.0], drug_deaths_5y=[0.0, 2.0, 6.0, 0.0])
    table = geo.need_table(_lsoas(4), need, None, None)
    unmet = geo.lsoa_values(table, "unmet_need", threshold=5).set_index("lsoa_code")
    assert unmet.loc["E01000001", "value"] == pytest.approx(50.0)
    assert unmet.loc["E01000001", "treat_text"] == "10"
    # 3 estimated users: everything about them is hidden.
    assert unmet.loc["E01000002", ["est_text", "treat_text", "unmet_text"]].tolist() == \
        ["*", "*", "*"]
    # 12 users, 10 treated: the 2 not treated would show, so the split is hidden; and
    # the class's 65 users less the others shown would give the 3 away, so the next
    # smallest estimate (12) is hidden too.
    assert unmet.loc["E01000003", ["est_text", "treat_text", "unmet_text"]].tolist() == \
        ["*", "*", "*"]
    assert unmet.loc["E01000004", "suppressed"] and np.isnan(unmet.loc["E01000004", "value"])
    deaths = geo.lsoa_values(table, "deaths_rate", threshold=5).set_index("lsoa_code")
    assert deaths.loc["E01000002", "deaths_text"] == "*"
    assert deaths.loc["E01000001", "deaths_text"] == "0"      # zero discloses nothing
    # Deaths are mapped by district: 8 deaths over 4 x 1,500 residents x 5 years.
    assert deaths["value"].tolist() == pytest.approx([8 / 30_000 * 100_000] * 4)
    few = geo.need_table(_lsoas(2), _need(2, drug_deaths_5y=[1.0, 2.0]), None, None)
    few_deaths = geo.lsoa_values(few, "deaths_rate", threshold=5)
    assert few_deaths["value_text"].tolist() == ["*", "*"] and few_deaths["suppressed"].all()
    open_values = geo.lsoa_values(table, "unmet_need", threshold=1).set_index("lsoa_code")
    assert open_values.loc["E01000003", "treat_text"] == "10"  # public mode off


def _local_boundaries(n: int) -> dict:
    features = [{"type": "Feature", "properties": {
        "layer": "lsoa", "code": f"E0100000{i + 1}", "name": f"Area {i}",
        "ltla_code": "E07000001", "point": [-2.0 + 0.01 * i + 0.005, 51.005]},
        "geometry": {"type": "Polygon", "coordinates": _square(-2.0 + 0.01 * i, 51.0)}}
        for i in range(n)]
    features.append({"type": "Feature", "properties": {
        "layer": "district", "code": "E07000001", "name": "Alpha", "point": [-1.99, 51.005]},
        "geometry": {"type": "Polygon", "coordinates": [[[-2.0, 51.0], [-2.0 + 0.01 * n, 51.0],
                                                         [-2.0 + 0.01 * n, 51.01],
                                                         [-2.0, 51.01], [-2.0, 51.0]]]}})
    return {"type": "FeatureCollection", "bbox": [-2.0, 51.0, -2.0 + 0.01 * n, 51.01],
            "features": features}


def test_local_map_is_offline_and_carries_no_small_count():
    need = _need(3, estimated_ocu=[20.0, 3.0, 12.0], ocu_in_treatment=[10.0, 2.0, 10.0])
    table = geo.need_table(_lsoas(3), need, None, None)
    values = geo.lsoa_values(table, "treatment_rate", threshold=5)
    spec, legend = vega_maps.local_map(_local_boundaries(3), values, "treatment_rate")
    sent = json.dumps(spec)
    assert "http" not in sent and '"url"' not in sent      # no tiles, nothing fetched
    assert all(layer.get("name") and "values" in layer["data"] for layer in spec["layer"])
    layers = {layer["name"]: layer for layer in spec["layer"]}
    by_code = {f["properties"]["code"]: f["properties"]
               for f in layers["lsoas"]["data"]["values"]}
    assert set(by_code) == {"E01000001", "E01000002", "E01000003"}
    assert by_code["E01000002"]["est_text"] == "*"
    assert by_code["E01000003"]["treat_text"] == "*"
    assert by_code["E01000003"]["value_text"] == "*"
    assert by_code["E01000003"]["fill"] == map_charts.SUPPRESSED_COLOUR
    assert "* suppressed: small count" in legend.labels
    assert "suppressed" in map_charts.legend_html(legend)
    # Only what the tooltip shows and the fill: the counts behind a rate stay home.
    assert set(by_code["E01000001"]) == {
        "code", "name", "district", "value_text", "ruc_text", "imd_text", "est_text",
        "treat_text", "unmet_text", "deaths_text", "fill"}
    alt.LayerChart.from_dict(spec)           # a valid Vega-Lite spec


def test_area_map_values_use_the_force_figure_and_suppress(areas):
    indicator = catalogue.get("deaths_in_treatment")
    utlas = areas[areas["area_type"] == "utla"]
    rows = pd.DataFrame({
        "indicator_id": indicator.id, "area_code": list(utlas["area_code"][:2]) + ["E92000001"],
        "period": "2025/26", "period_kind": "financial_year",
        "period_end": pd.Timestamp("2026-03-31"), "breakdown": None,
        "numerator": [3.0, 40.0, 2000.0], "denominator": [300.0, 3000.0, 150000.0],
        "value": [1.0, 1.3333, 1.3333], "lower95": [0.3, 0.98, 1.27],
        "upper95": [2.9, 1.8, 1.39], "lower998": [0.2, 0.9, 1.25], "upper998": [3.5, 1.9, 1.41]})
    out = geo.area_map_values(rows, indicator, areas, threshold=5).set_index("area_code")
    first, second = utlas["area_code"].iloc[:2]
    assert len(out) == 153
    assert out.loc[first, ["value_text", "suppressed"]].tolist() == ["*", True]
    assert out.loc[first, "comparison"] == "not_compared"
    assert out.loc[second, "comparison"] == "similar"
    assert out.loc[utlas["area_code"].iloc[5], "value_text"] == "no data"

    crime = catalogue.get("drug_homicide")                  # published by force area
    home = utlas.set_index("area_code").loc[HOME]
    force = pd.DataFrame({
        "indicator_id": crime.id, "area_code": [home["pfa_code"], "E92000001"],
        "period": "2025/26", "period_kind": "financial_year",
        "period_end": pd.Timestamp("2026-03-31"), "breakdown": None,
        "numerator": [6.0, 250.0], "denominator": [640000.0, 57e6], "value": [9.4, 4.4],
        "lower95": [3.4, 3.9], "upper95": [20.4, 5.0], "lower998": [2.0, 3.7],
        "upper998": [25.0, 5.2]})
    out = geo.area_map_values(force, crime, areas, threshold=5).set_index("area_code")
    assert out.loc[HOME, "source_code"] == home["pfa_code"]
    assert "police force area" in out.loc[HOME, "note"]


def test_england_map_outlines_home_and_comparators_and_sends_only_what_it_draws(areas):
    national, regions = geo.national_boundaries(), geo.region_boundaries()
    indicator = catalogue.get("adults_in_treatment")
    codes = areas.loc[areas["area_type"] == "utla", "area_code"].tolist()
    values = pd.DataFrame({"area_code": codes, "value": np.linspace(400, 900, len(codes)),
                           "suppressed": False, "value_text": "x", "period_text": "",
                           "comparison": "similar", "comparison_text": "", "note": "",
                           "period": "2025/26", "numerator": 7.0, "lower95": 1.0})
    spec, legend = vega_maps.national_map(national, regions, values, indicator, "value",
                                          HOME, ("E10000034",))
    layers = {layer["name"]: layer for layer in spec["layer"]}
    features = layers["areas"]["data"]["values"]
    assert {f["properties"]["code"] for f in features} == set(codes)
    # The tooltip's text and the fill: no count, no interval, nothing else.
    assert {key for f in features for key in f["properties"]} == {
        "code", "name", "value_text", "period", "comparison", "note", "fill"}
    assert len(layers["home"]["data"]["values"]) == 1
    assert len(layers["comparators"]["data"]["values"]) == 1
    assert layers["home-name"]["data"]["values"][0]["name"] == "Gloucestershire"
    assert len(legend.labels) == 5
    assert len(json.dumps(spec, separators=(",", ":"))) < 450_000   # what England costs
    # A valid Vega-Lite spec (it is written as a dict, not built by Altair): this raises
    # on a misspelt property.
    alt.LayerChart.from_dict(spec)


def test_a_click_on_the_england_map_gives_the_area_code():
    """Vega names the selection's nested field with its dot escaped (as Streamlit passes
    it back from the browser: seen in Chromium, 2026-12-04)."""
    assert vega_maps.selected_code({"area": [{"properties\\.code": "E10000017"}]}) \
        == "E10000017"
    assert vega_maps.selected_code({"area": [{"properties.code": "E10000017"}]}) \
        == "E10000017"
    assert vega_maps.selected_code({"area": []}) is None
    assert vega_maps.selected_code({}) is None


def test_classes_and_legend_labels():
    values = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, None])
    colours, labels, legend_colours = map_charts.classify(values, map_charts.NEED_RAMP)
    assert colours[-1] is None and colours[0] == map_charts.NEED_RAMP[0]
    assert colours[9] == map_charts.NEED_RAMP[-1]
    assert labels[0].startswith("up to") and labels[-1].startswith("over")
    assert len(labels) == len(legend_colours) == 5


def test_static_maps_build():
    need = _need(3)
    table = geo.need_table(_lsoas(3), need, None, None)
    values = geo.lsoa_values(table, "ocu_rate", threshold=5)
    chart = map_charts.local_static_map(_local_boundaries(3), values, "ocu_rate", "Users",
                                        "Testshire")
    spec = chart.to_dict()
    assert spec["layer"][0]["mark"]["type"] == "geoshape"
    assert "Open Government Licence" in json.dumps(spec)


def test_a_class_total_less_the_small_areas_shown_gives_nothing_away():
    """Two classes, one with a hidden small area: the class total (shown) less the small
    areas shown must not leave exactly the hidden one (its 3 users in treatment)."""
    need = _need(5, ruc11_class=["A1", "A1", "A1", "D1", "D1"],
                 estimated_ocu=[20.0, 25.0, 30.0, 40.0, 50.0],
                 ocu_in_treatment=[3.0, 12.0, 15.0, 20.0, 25.0])
    table = geo.need_table(_lsoas(5), need, None, None)
    protection = geo.protect_small_areas(table, threshold=5)
    values = geo.lsoa_values(table, "treatment_rate", 5, protection).set_index("lsoa_code")
    classes = geo.urban_rural_summary(table, "class", 5, protection=protection) \
        .set_index("group")
    shown = [float(t) for t in values.loc[values["ruc_class"] == "A1", "treat_text"]
             if t != "*"]
    assert values.loc["E01000001", "treat_text"] == "*"
    if not classes.loc["A1", "ocu_in_treatment_hidden"]:
        # At least two small areas of the class are hidden: their sum is not one count.
        assert len(shown) <= 1
    # Whatever is shown, the class treated share hides with its counts.
    assert np.isnan(classes.loc["A1", "treated_share"]) == bool(
        classes.loc["A1", ["ocu_in_treatment_hidden", "not_in_treatment_hidden"]].any())
    # With public mode off nothing is hidden.
    assert not geo.protect_small_areas(table, threshold=1).lsoas.to_numpy().any()


def test_deaths_by_district_carry_their_interval_and_period():
    # 8 and 30 deaths in two districts of 2 x 1,500 residents, over 5 years.
    districts = ["E07000001", "E07000001", "E07000002", "E07000002"]
    need = _need(4, ltla_code=districts, drug_deaths_5y=[3.0, 5.0, 10.0, 20.0])
    lsoas = _lsoas(4).assign(ltla_code=districts, ltla_name=["Alpha"] * 2 + ["Beta"] * 2)
    table = geo.need_table(lsoas, need, None, None)
    districts = geo.district_deaths(table, threshold=5).set_index("ltla_code")
    low, high = stats.rate_ci(np.array([30.0]), np.array([15_000.0]), multiplier=100_000)
    second = districts.loc["E07000002"]
    assert second["rate_text"] == "200.0"
    assert second["interval_text"] == f"{low[0]:,.1f} to {high[0]:,.1f}"
    assert second["period"] == "5 years to 2025/26"
    values = geo.lsoa_values(table, "deaths_rate", threshold=5)
    detail = values.set_index("lsoa_code").loc["E01000004", "value_detail"]
    assert f"95% CI {low[0]:,.1f} to {high[0]:,.1f}" in detail and "5 years to 2025/26" in detail
    # The tooltip shows it beside the figure.
    spec, _ = vega_maps.local_map(_local_boundaries(4), values, "deaths_rate")
    rows = [f["properties"] for f in spec["layer"][0]["data"]["values"]]
    assert "95% CI" in next(r for r in rows if r["code"] == "E01000004")["value_text"]
    # Other measures carry no district detail.
    assert (geo.lsoa_values(table, "ocu_rate", threshold=5)["value_detail"] == "").all()


def test_a_hidden_district_hides_its_interval_too():
    need = _need(2, drug_deaths_5y=[3.0, 1.0])          # 4 deaths: a small count
    table = geo.need_table(_lsoas(2), need, None, None)
    district = geo.district_deaths(table, threshold=5).iloc[0]
    assert district["deaths_text"] == "*" and district["rate_text"] == "*"
    assert district["interval_text"] == "*" and np.isnan(district["lower95"])
    assert "CI" not in district["detail_text"]


def test_england_legend_tells_home_from_comparators():
    national, regions = geo.national_boundaries(), geo.region_boundaries()
    indicator = catalogue.get("adults_in_treatment")
    codes = [f["properties"]["code"] for f in national["features"]]
    values = pd.DataFrame({"area_code": codes, "value": np.linspace(400, 900, len(codes)),
                           "suppressed": False, "value_text": "x", "period_text": "",
                           "comparison": "similar", "comparison_text": "", "note": "",
                           "period": "2025/26"})
    spec, legend = vega_maps.national_map(national, regions, values, indicator, "value",
                                          HOME, ("E10000034",))
    layers = {layer["name"]: layer for layer in spec["layer"]}
    home, comparators = legend.outlines
    assert "Gloucestershire" in home.label and "Comparators" in comparators.label
    # Drawn differently (colour and width), and the legend draws the same lines.
    assert (home.colour, home.width) != (comparators.colour, comparators.width)
    assert layers["home"]["mark"]["strokeWidth"] == home.width
    assert layers["home"]["mark"]["stroke"] == home.colour
    assert layers["comparators"]["mark"]["strokeWidth"] == comparators.width
    assert layers["comparators"]["mark"]["stroke"] == comparators.colour
    assert layers["outline-halo"]["data"] == layers["home"]["data"]   # halo: home only
    key = map_charts.legend_html(legend)
    assert f"{home.width:g}px solid {home.colour}" in key
    assert f"{comparators.width:g}px solid {comparators.colour}" in key
