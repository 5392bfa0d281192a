"""Map lookups as published: Defra's RUC lookup (its own headers, class codes padded with
spaces and non-breaking spaces, title rows above the header) and ONS's IMD lookup that
carries only ranks. Fixtures and their sources: tests/fixtures/real/lookups/README.md."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from metrics import geo, store

LOOKUPS = Path(__file__).resolve().parent / "fixtures" / "real" / "lookups"
RUC_CSV = LOOKUPS / "RUC11_LSOA_excerpt.csv"
RUC_XLSX = LOOKUPS / "RUC11_LSOA_defra_layout.xlsx"
RUC_ODS = LOOKUPS / "RUC11_LSOA_defra_layout.ods"       # Defra publishes the lookup as .ods
IMD_RANKS = LOOKUPS / "IMD_December_2019_Lookup_in_England_excerpt.csv"


def test_defra_ruc_csv_with_defra_headers_and_padded_codes_loads():
    raw = pd.read_csv(RUC_CSV, dtype=str)
    # The fixture really carries the padding the loader must remove.
    assert "D1 " in set(raw["Rural Urban Classification 2011 code"])
    assert "C1  " in set(raw["Rural Urban Classification 2011 code"])
    [lookup] = geo.read_lookup_file(RUC_CSV)
    assert lookup.name == "ruc"
    assert lookup.meta["code_column"] == "Lower Super Output Area 2011 Code"
    assert lookup.meta["column"] == "Rural Urban Classification 2011 code"
    frame = lookup.frame.set_index("lsoa_code")["ruc_class"]
    # Welsh LSOAs are dropped; every English one kept, with its class unpadded.
    english = raw[raw.iloc[:, 0].str.startswith("E01")]
    assert len(frame) == len(english) == 34
    assert frame["E01000001"] == "A1"
    assert frame["E01028926"] == "D1"
    assert frame["E01028929"] == "C1"
    assert frame["E01028992"] == "D2"
    assert frame["E01029006"] == "C2"
    assert frame["E01028991"] == "E2"
    assert set(frame) <= set(geo.RUC_EDITION_CODES[2011])


def test_defra_workbook_layout_with_title_rows_and_non_breaking_spaces_loads():
    raw = pd.read_excel(RUC_XLSX, sheet_name="LSOA11", header=None, dtype=str)
    assert raw.iloc[0, 0].startswith("Rural Urban Classification")   # title above header
    assert raw.iloc[2, 0] == "Lower Super Output Area 2011 Code"
    assert raw.iloc[3, 2] == "A1\u00a0"
    [from_book] = geo.read_lookup_file(RUC_XLSX)
    [from_csv] = geo.read_lookup_file(RUC_CSV)
    pd.testing.assert_frame_equal(from_book.frame, from_csv.frame)


def test_defra_ods_workbook_loads_with_calamine():
    raw = pd.read_excel(RUC_ODS, sheet_name="LSOA11", header=None, dtype=str,
                        engine="calamine")
    assert raw.iloc[3, 2] == "A1\u00a0"
    [from_ods] = geo.read_lookup_file(RUC_ODS)
    [from_csv] = geo.read_lookup_file(RUC_CSV)
    pd.testing.assert_frame_equal(from_ods.frame, from_csv.frame)


@pytest.mark.parametrize("name", ["broken.xlsx", "broken.ods"])
def test_a_damaged_workbook_is_refused_with_a_message(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ValueError, match=f"{name}: could not be read as a"):
        geo.read_lookup_file(path)


def test_title_and_note_rows_above_a_csv_header_are_skipped(tmp_path):
    path = tmp_path / "ruc_with_titles.csv"
    path.write_text(
        "Rural Urban Classification 2011 of LSOAs,,\n"
        "Source: Defra,,\n"
        ",,\n"
        "Lower\u00a0Super Output Area 2011 Code,Lower Super Output Area 2011 Name,"
        "Rural Urban Classification 2011 code\n"
        "E01000001,City of London 001A,A1\u00a0\n"
        "E01028991,Shropshire 030A,E2\u00a0\u00a0\n", encoding="utf-8")
    [lookup] = geo.read_lookup_file(path)
    assert lookup.frame["ruc_class"].tolist() == ["A1", "E2"]


def test_ons_imd_lookup_with_ranks_only_gives_deciles_from_ranks():
    raw = pd.read_csv(IMD_RANKS, dtype={"IMD19": int})
    [lookup] = geo.read_lookup_file(IMD_RANKS)
    assert lookup.name == "imd" and lookup.meta["edition"].endswith("2019")
    assert lookup.meta["column"] == "IMD19"
    assert "3,284" in lookup.meta["derived"]
    deciles = lookup.frame.set_index("lsoa_code")["imd_decile"]
    for code, rank in zip(raw["LSOA11CD"], raw["IMD19"]):
        assert deciles[code] == math.ceil(rank * 10 / 32844), code
    # Ranks from the file itself: 2,878 and 3,229 are in the most deprived tenth.
    assert deciles["E01000221"] == 1 and deciles["E01000105"] == 1
    assert deciles["E01000001"] == 9          # rank 29,199
    assert deciles["E01000005"] == 3          # rank 8,678


@pytest.mark.parametrize("rank, decile", [(1, 1), (3284, 1), (3285, 2), (6568, 2),
                                          (6569, 3), (29559, 9), (29560, 10), (32844, 10)])
def test_decile_boundaries_follow_the_ranks(rank, decile):
    assert geo.deciles_from_ranks(pd.Series([rank]), 32844).iloc[0] == decile


def test_a_decile_column_is_preferred_to_the_rank(tmp_path):
    # MHCLG's File 1 carries both; its deciles are used as published.
    path = tmp_path / "File_1_IMD2019.csv"
    pd.DataFrame({"LSOA code (2011)": ["E01000001", "E01000105"],
                  "Index of Multiple Deprivation (IMD) Rank": [29199, 3229],
                  "Index of Multiple Deprivation (IMD) Decile": [9, 1]}).to_csv(path, index=False)
    [lookup] = geo.read_lookup_file(path)
    assert lookup.meta["column"] == "Index of Multiple Deprivation (IMD) Decile"
    assert lookup.frame["imd_decile"].tolist() == [9, 1]


@pytest.mark.parametrize("ranks, words", [([0, 5], "whole numbers 1 to 32,844"),
                                          ([40000, 5], "E01000001: '40000'"),
                                          (["x", 5], "1 of 2 English rows")])
def test_ranks_out_of_range_are_refused_naming_the_lsoa(tmp_path, ranks, words):
    path = tmp_path / "imd.csv"
    pd.DataFrame({"LSOA11CD": ["E01000001", "E01000002"], "IMD19": ranks}).to_csv(
        path, index=False)
    with pytest.raises(ValueError, match="IMD ranks") as caught:
        geo.read_lookup_file(path)
    assert words in str(caught.value)


def test_load_lookup_command_loads_both_published_files(tmp_path, capsys):
    status = geo.main(["load-lookup", str(RUC_XLSX), str(IMD_RANKS),
                       "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Rural-Urban Classification 2011 for 34 English LSOAs" in out
    assert "Index of Multiple Deprivation 2019 for 60 English LSOAs" in out
    assert "ceil(rank x 10 / 32,844)" in out
    imd = store.read_lookup(tmp_path, "imd", ["E01000001"])
    assert imd["imd_decile"].tolist() == [9]
    ruc = store.read_lookup(tmp_path, "ruc", ["E01028992"])
    assert ruc["ruc_class"].tolist() == ["D2"]
