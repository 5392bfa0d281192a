"""Invariants of the committed reference geography (data/reference/*.csv).

These read the CSVs only; the packages that metrics.reference.build_areas uses to rebuild
them are not needed here.
"""

from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"

AREA_COLUMNS = ["area_code", "area_name", "area_type", "region_code", "region_name",
                "pfa_code", "pfa_name", "lsoa11_count"]
LSOA_COLUMNS = ["lsoa11_code", "lsoa11_name", "ltla_code", "ltla_name", "utla_code",
                "lon", "lat"]

UTLAS_PER_REGION = {
    "E12000001": 12,  # North East
    "E12000002": 24,  # North West
    "E12000003": 15,  # Yorkshire and The Humber
    "E12000004": 10,  # East Midlands
    "E12000005": 14,  # West Midlands
    "E12000006": 11,  # East of England
    "E12000007": 33,  # London
    "E12000008": 19,  # South East
    "E12000009": 15,  # South West
}

ABOLISHED = ["E10000006", "E10000023", "E10000027", "E08000016", "E08000019",
             "E10000002", "E10000009", "E10000021"]
NEW_SINCE_2021 = {
    "E06000063": "Cumberland",
    "E06000064": "Westmorland and Furness",
    "E06000065": "North Yorkshire",
    "E06000066": "Somerset",
    "E08000038": "Barnsley",
    "E08000039": "Sheffield",
}
ENGLISH_LSOA11 = 32_844


@pytest.fixture(scope="module")
def areas() -> pd.DataFrame:
    df = pd.read_csv(REFERENCE / "areas.csv", dtype=str, keep_default_na=False)
    df["lsoa11_count"] = df["lsoa11_count"].astype(int)
    return df


@pytest.fixture(scope="module")
def lsoa() -> pd.DataFrame:
    return pd.read_csv(
        REFERENCE / "lsoa11.csv",
        dtype={c: str for c in LSOA_COLUMNS[:5]} | {"lon": float, "lat": float},
        keep_default_na=False,
    )


@pytest.fixture(scope="module")
def utlas(areas) -> pd.DataFrame:
    return areas[areas["area_type"] == "utla"]


def test_columns(areas, lsoa):
    assert list(areas.columns) == AREA_COLUMNS
    assert list(lsoa.columns) == LSOA_COLUMNS


def test_area_types_and_unique_codes(areas):
    assert set(areas["area_type"]) <= {"country", "region", "utla", "pfa"}
    assert not areas["area_code"].duplicated().any()
    assert (areas["area_name"] != "").all()


def test_england_and_regions(areas):
    england = areas[areas["area_type"] == "country"]
    assert list(england["area_code"]) == ["E92000001"]
    assert england["lsoa11_count"].iloc[0] == ENGLISH_LSOA11
    regions = areas[areas["area_type"] == "region"].set_index("area_code")
    assert sorted(regions.index) == sorted(UTLAS_PER_REGION)
    assert regions.loc["E12000003", "area_name"] == "Yorkshire and The Humber"
    assert regions.loc["E12000006", "area_name"] == "East of England"
    assert regions["lsoa11_count"].sum() == ENGLISH_LSOA11


def test_153_utlas_with_allowed_prefixes(utlas):
    assert len(utlas) == 153
    assert not utlas["area_code"].duplicated().any()
    assert utlas["area_code"].str.match(r"^E(06|08|09|10)\d{6}$").all()
    assert "E09000001" in set(utlas["area_code"])  # City of London
    assert "E06000053" in set(utlas["area_code"])  # Isles of Scilly


def test_no_abolished_codes(areas, lsoa):
    present = set(areas["area_code"]) | set(lsoa["ltla_code"]) | set(lsoa["utla_code"])
    assert not present & set(ABOLISHED)


def test_codes_from_2023_and_2025_present(utlas):
    names = dict(zip(utlas["area_code"], utlas["area_name"]))
    for code, name in NEW_SINCE_2021.items():
        assert names.get(code) == name


def test_ons_style_names(utlas):
    names = set(utlas["area_name"])
    for name in ["Bristol, City of", "Kingston upon Hull, City of",
                 "Herefordshire, County of", "County Durham",
                 "Bournemouth, Christchurch and Poole"]:
        assert name in names


def test_utlas_per_region(utlas, areas):
    assert utlas["region_code"].value_counts().to_dict() == UTLAS_PER_REGION
    region_names = dict(zip(areas.loc[areas.area_type == "region", "area_code"],
                            areas.loc[areas.area_type == "region", "area_name"]))
    assert (utlas["region_name"] == utlas["region_code"].map(region_names)).all()
    assert (utlas.loc[utlas["area_code"].str.startswith("E09"), "region_code"]
            == "E12000007").all()


def test_every_utla_has_region_and_lsoas(utlas):
    assert (utlas["region_code"] != "").all()
    assert (utlas["lsoa11_count"] >= 1).all()


def test_lsoas(lsoa):
    assert len(lsoa) == ENGLISH_LSOA11
    assert not lsoa["lsoa11_code"].duplicated().any()
    assert lsoa["lsoa11_code"].str.match(r"^E01\d{6}$").all()
    assert lsoa["ltla_code"].str.match(r"^E0[6789]\d{6}$").all()
    # England lies roughly within these bounds.
    assert lsoa["lon"].between(-6.5, 2.0).all()
    assert lsoa["lat"].between(49.8, 55.9).all()


def test_every_lsoa_in_exactly_one_utla(lsoa, utlas):
    assert lsoa["utla_code"].isin(set(utlas["area_code"])).all()
    # Each district sits in one UTLA.
    assert (lsoa.groupby("ltla_code")["utla_code"].nunique() == 1).all()
    counts = lsoa["utla_code"].value_counts().to_dict()
    assert dict(zip(utlas["area_code"], utlas["lsoa11_count"])) == counts


def test_296_districts(lsoa):
    assert lsoa["ltla_code"].nunique() == 296
    assert (lsoa.groupby("ltla_code")["ltla_name"].nunique() == 1).all()


def test_region_counts_are_sums(areas, utlas):
    sums = utlas.groupby("region_code")["lsoa11_count"].sum().to_dict()
    regions = areas[areas["area_type"] == "region"]
    assert dict(zip(regions["area_code"], regions["lsoa11_count"])) == sums


def test_gloucestershire(lsoa, utlas):
    glos = lsoa[lsoa["utla_code"] == "E10000013"]
    assert set(glos["ltla_name"]) == {"Cheltenham", "Cotswold", "Forest of Dean",
                                      "Gloucester", "Stroud", "Tewkesbury"}
    assert 370 <= len(glos) <= 380
    row = utlas[utlas["area_code"] == "E10000013"].iloc[0]
    assert row["area_name"] == "Gloucestershire"
    assert row["region_code"] == "E12000009"


def test_unitaries_are_their_own_district(lsoa):
    # A unitary, metropolitan or London borough is both tiers; counties are not.
    single_tier = lsoa[~lsoa["utla_code"].str.startswith("E10")]
    assert (single_tier["ltla_code"] == single_tier["utla_code"]).all()
    counties = lsoa[lsoa["utla_code"].str.startswith("E10")]
    assert counties["ltla_code"].str.startswith("E07").all()


def test_police_force_areas(areas, utlas):
    pfas = areas[areas["area_type"] == "pfa"]
    if pfas.empty:
        # PFAs are optional; without them no UTLA may claim one.
        assert (utlas["pfa_code"] == "").all()
        return
    assert len(pfas) == 39
    assert pfas["area_code"].str.match(r"^E23\d{6}$").all()
    assert (pfas["pfa_code"] == pfas["area_code"]).all()
    names = dict(zip(pfas["area_code"], pfas["area_name"]))
    assert names["E23000001"] == "Metropolitan Police"
    assert names["E23000034"] == "London, City of"
    # Every UTLA lies in exactly one known force area, and every force has a UTLA.
    assert utlas["pfa_code"].isin(set(pfas["area_code"])).all()
    assert set(utlas["pfa_code"]) == set(pfas["area_code"])
    assert (utlas["pfa_name"] == utlas["pfa_code"].map(names)).all()
    pfa_of = dict(zip(utlas["area_code"], utlas["pfa_code"]))
    assert pfa_of["E09000001"] == "E23000034"
    assert all(pfa_of[c] == "E23000001" for c in pfa_of
               if c.startswith("E09") and c != "E09000001")
    # Each force area sits inside one region and its counts add up.
    assert (utlas.groupby("pfa_code")["region_code"].nunique() == 1).all()
    sums = utlas.groupby("pfa_code")["lsoa11_count"].sum().to_dict()
    assert dict(zip(pfas["area_code"], pfas["lsoa11_count"])) == sums
    assert pfas["lsoa11_count"].sum() == 32_844
