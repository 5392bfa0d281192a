"""Layouts as publishers lay them out (ONS workbooks with two-row headers, wide tables,
ODS, national-only survey tables) and what the analyst declares about a file that does
not say it (--indicator, --period, --indicator-name/--unit, --value-column, --sheet).
Fixtures: tests/fixtures/real/layouts (README.md there names each file's source)."""

from __future__ import annotations

import builtins
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics.ingest import __main__ as cli
from metrics.ingest import load
from metrics.ingest.layouts import UNITS, LoadOptions

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ROOT / "tests" / "fixtures" / "real" / "layouts"
ONS_XLSX = LAYOUTS / "ons_drug_deaths_by_la_2021.xlsx"
ONS_ODS = LAYOUTS / "ons_drug_deaths_table6.ods"
POISONING = LAYOUTS / "drug_poisoning_registrations_by_la.csv"
REGIONS = LAYOUTS / "deaths_misuse_england_and_regions.csv"
CSEW_16_59 = LAYOUTS / "csew_drug_use_16_59.csv"
CSEW_16_24 = LAYOUTS / "csew_drug_use_16_24.csv"
NEW_METRIC = dict(indicator="drug_poisoning_deaths",
                  indicator_name="Deaths related to drug poisoning (registrations)",
                  unit="count")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


def notes(report) -> str:
    return "\n".join(str(i) for i in report.notes)


def errors(report) -> str:
    return "\n".join(str(i) for i in report.errors)


def one(values: pd.DataFrame, **match) -> pd.Series:
    mask = np.ones(len(values), dtype=bool)
    for key, value in match.items():
        mask &= (values[key] == value).fillna(False).to_numpy()
    assert mask.sum() == 1, (match, values[mask])
    return values[mask].iloc[0]


# --- ONS workbook as published ---------------------------------------------------------------

def test_ons_workbook_table_6_two_row_header_is_read_by_period(data_dir):
    report = load([ONS_XLSX], data_dir, dry_run=True)
    assert report.ok, errors(report)
    v = report.values
    assert set(v["indicator_id"]) == {"drug_misuse_deaths"}
    assert sorted(v["period"].unique()) == ["2017 - 19", "2018 - 20", "2019 - 21"]
    assert len(v) == 15                                   # 5 areas x 3 periods
    glos = one(v, area_code="E10000013", period="2019 - 21")
    assert (glos["numerator"], glos["value"], glos["lower95"], glos["upper95"]) == \
        (128, 5.0, 4.1, 5.9)
    assert glos["period_kind"] == "pooled_3y"
    older = one(v, area_code="E10000013", period="2017 - 19")
    assert (older["numerator"], older["value"]) == (109, 4.3)
    # ':' (rate not calculated on fewer than 10 deaths) is a missing value, not an error.
    scilly = one(v, area_code="E06000053", period="2017 - 19")
    assert scilly["numerator"] == 1 and np.isnan(scilly["value"])
    # The report says which sheet was read and what was passed over.
    assert report.files[0].sheets == ["Table 6"]
    text = notes(report)
    assert "sheet 'Table 6' was read (header on row 8)" in text
    assert "period row (row 7) above a measure row (row 8): 3 periods" in text
    for sheet in ("Contents", "Notes", "Definitions"):
        assert f"sheet '{sheet}' was not read: it is the workbook's" in text
    assert "sheet 'Table 1' was not read: its title names no metric" in text
    assert "area names spread over columns B to C" in text
    assert "rows with no figures (titles, footnotes, sources)" in text


def test_ons_table_1_wide_by_year_loads_as_a_new_metric_with_sheet_and_indicator(data_dir):
    report = load([ONS_XLSX], data_dir, dry_run=True,
                  options=LoadOptions(sheet="Table 1", **NEW_METRIC))
    assert report.ok, errors(report)
    v = report.values
    assert len(v) == 15 and set(v["period"]) == {"2018", "2019", "2020"}
    assert one(v, area_code="E06000001", period="2020")["value"] == 32
    assert one(v, area_code="E92000001", period="2018")["value"] == 3983
    assert report.files[0].sheets == ["Table 1"]
    assert "sheet 'Table 6' was not read (--sheet 'Table 1')" in notes(report)
    assert "a wide table (an area per row and a period per column" in notes(report)


def test_ods_reads_the_same_as_the_workbook(data_dir):
    xlsx = load([ONS_XLSX], data_dir, dry_run=True).values
    ods = load([ONS_ODS], data_dir, dry_run=True)
    assert ods.ok, errors(ods)
    key = ["area_code", "period"]
    cols = key + ["numerator", "value", "lower95", "upper95"]
    pd.testing.assert_frame_equal(
        xlsx[cols].sort_values(key).reset_index(drop=True),
        ods.values[cols].sort_values(key).reset_index(drop=True))
    assert "sheet 'Table 6' was read" in notes(ods)


@pytest.mark.parametrize("name", ["hostile_xfd1048576.xlsx", "hostile_xfd1048576.ods"])
def test_a_cell_at_xfd1048576_is_refused_without_allocating_the_sheet(data_dir, name):
    # Run in a child with 2.5 GB of address space: reading the sheet would ask calamine
    # for 17 billion cells and abort the process; measuring it first refuses it.
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2_500_000_000, 2_500_000_000))

    done = subprocess.run(
        [sys.executable, "-m", "metrics.ingest", "--data-dir", str(data_dir), "load",
         str(LAYOUTS / name), "--dry-run"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, preexec_fn=limit)
    assert done.returncode == 1, done.stderr
    assert "XFD1048576" in done.stderr and "17,179,869,184 cells" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_reader_says_what_it_could_not_do(data_dir, monkeypatch):
    real_import = builtins.__import__

    def no_calamine(name, *args, **kwargs):
        if name == "python_calamine":
            raise ImportError("No module named 'python_calamine'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_calamine)
    # Files are read in a child process, which imports for itself: read in this one,
    # where the package is missing.
    from metrics.ingest import readers
    monkeypatch.setattr(readers, "read_guarded",
                        lambda data, name, issues, **_: readers.read_bytes(data, name, issues))
    report = load([ONS_ODS], data_dir, dry_run=True)
    text = errors(report)
    assert "cannot read OpenDocument spreadsheets here: the python-calamine package is " \
           "not installed" in text


def test_installed_reader_that_fails_names_the_failure_not_an_install(data_dir, tmp_path):
    broken = tmp_path / "broken.ods"
    data = ONS_ODS.read_bytes()
    broken.write_bytes(data[:len(data) // 2])             # a truncated download
    report = load([broken], data_dir, dry_run=True)
    text = errors(report)
    assert "cannot be read as an OpenDocument spreadsheet" in text
    assert "install" not in text


# --- wide tables --------------------------------------------------------------------------------

def test_area_per_row_period_per_column_is_melted(data_dir):
    report = load([POISONING], data_dir, dry_run=True, options=LoadOptions(**NEW_METRIC))
    assert report.ok, errors(report)
    v = report.values
    assert len(v) == 10 * 28
    assert one(v, area_code="E06000001", period="2020")["value"] == 32
    assert one(v, area_code="E06000010", period="1993")["value"] == 7   # "Hull, City of"
    assert one(v, area_code="E12000002", period="2019")["value"] == 736  # "NORTH WEST "
    ind = report.indicators.set_index("indicator_id").loc["drug_poisoning_deaths"]
    assert (ind["title"], ind["unit"]) == (NEW_METRIC["indicator_name"], "count")


def test_wide_table_without_an_indicator_says_how_to_declare_it(data_dir):
    report = load([POISONING], data_dir, dry_run=True)
    assert not report.ok
    assert "declare it with --indicator ID" in errors(report)


def test_period_per_row_area_per_column_is_melted(data_dir):
    report = load([REGIONS], data_dir, dry_run=True,
                  options=LoadOptions("drug_misuse_regions", None,
                                      "Deaths related to drug misuse, England and regions",
                                      "count"))
    assert report.ok, errors(report)
    v = report.values
    assert len(v) == 10 * 10
    assert one(v, area_code="E12000007", period="2018")["value"] == 9.1      # London
    assert one(v, area_code="E92000001", period="2009")["value"] == 10.26
    assert "a period per row and an area per column" in notes(report)


def test_ambiguous_wide_table_is_refused_with_how_to_declare_it(data_dir, tmp_path):
    path = tmp_path / "national_by_year.csv"
    path.write_text("Measure,2019,2020,2021\nDrug seizures,100,120,130\n")
    report = load([path], data_dir, dry_run=True)
    text = errors(report)
    assert "looks wide (columns '2019', '2020', '2021' are periods)" in text
    assert "'Area code' or 'Area name'" in text
    path = tmp_path / "by_area.csv"
    path.write_text("Measure,England,North East,South West\nDrug seizures,100,120,130\n")
    text = errors(load([path], data_dir, dry_run=True))
    assert "looks wide (columns 'England', 'North East', 'South West' are areas)" in text
    assert "--period PERIOD" in text
    path = tmp_path / "both.csv"
    path.write_text("Area name,Rate,2019,2020\nGloucestershire,5,6,7\n")
    text = errors(load([path], data_dir, dry_run=True,
                       options=LoadOptions(indicator="drug_misuse_deaths")))
    assert "is ambiguous" in text and "'Rate' also holds figures" in text


# --- national-only sources (CSEW) -------------------------------------------------------------

def test_csew_table_needs_a_value_column_and_names_the_choices(data_dir):
    report = load([CSEW_16_59], data_dir, dry_run=True,
                  options=LoadOptions(indicator="drug_use_16_59"))
    text = errors(report)
    assert "'Any drug', 'Cannabis', 'Any Class A drug'" in text
    assert '--value-column "Any drug"' in text


def test_csew_loads_into_the_england_only_metric(data_dir):
    report = load([CSEW_16_59], data_dir,
                  options=LoadOptions(indicator="drug_use_16_59", value_column="Any drug"))
    assert report.published, errors(report)
    v = report.values
    assert set(v["area_code"]) == {"E92000001"}
    assert one(v, period="2012/13")["value"] == 8.1
    assert one(v, period="2022/23")["value"] == 9.5
    assert "every row read as England (E92000001)" in notes(report)
    young = load([CSEW_16_24], data_dir,
                 options=LoadOptions(indicator="drug_use_16_24", value_column="Cannabis"))
    assert young.published, errors(young)
    assert one(young.values, period="2019/20")["value"] == 18.7
    assert set(young.values["area_code"]) == {"E92000001"}
    assert "England and Wales figures were read as England" in notes(young)


# --- declarations -------------------------------------------------------------------------------

def test_period_comes_from_the_file_name_or_the_option(data_dir, tmp_path):
    path = tmp_path / "seizures_2023-24.csv"
    path.write_text("Force name,Seizures,Drug\nGloucestershire,1234,Cannabis\n"
                    "Dorset,987,Cannabis\n")
    report = load([path], data_dir, dry_run=True,
                  options=LoadOptions(indicator="drug_seizures", value_column="Seizures"))
    assert report.ok, errors(report)
    assert set(report.values["period"]) == {"2023/24"}
    assert "found in the file name" in notes(report)
    assert one(report.values, value=1234)["area_code"].startswith("E23")
    report = load([path], data_dir, dry_run=True,
                  options=LoadOptions(indicator="drug_seizures", period="2022/23",
                                      value_column="Seizures"))
    assert set(report.values["period"]) == {"2022/23"}
    # Unasked, a year in the name of an ordinary extract is not taken as its period.
    named = tmp_path / "drug_seizures_2023-24.csv"
    named.write_text("Force name,Value\nGloucestershire,1234\n")
    text = errors(load([named], data_dir, dry_run=True))
    assert "missing required columns: period" in text and "--period PERIOD" in text
    bare = tmp_path / "seizures.csv"
    bare.write_bytes(path.read_bytes())
    text = errors(load([bare], data_dir, dry_run=True,
                       options=LoadOptions(indicator="drug_seizures",
                                           value_column="Seizures")))
    assert "--period PERIOD" in text


def test_option_mistakes_are_refused_with_the_choices(data_dir):
    assert "unknown unit 'percent'" in " ".join(
        LoadOptions("new_metric", None, "A new metric", "percent").problems())
    assert all(f"'{u}'" in " ".join(LoadOptions("x_y", None, "n", "bad").problems())
               for u in UNITS)
    assert "needs --indicator-name TEXT and --unit UNIT" in " ".join(
        LoadOptions("new_metric").problems())
    assert "give its id with --indicator ID" in " ".join(
        LoadOptions(indicator_name="A name", unit="%").problems())
    assert "only for new metrics" in " ".join(
        LoadOptions("drug_use_16_59", None, "Name", "%").problems())
    assert "--period" in " ".join(LoadOptions("drug_use_16_59", "next Tuesday").problems())
    report = load([CSEW_16_59], data_dir, dry_run=True,
                  options=LoadOptions("new_metric", None, "A new metric", "percent"))
    assert not report.ok and "unknown unit" in errors(report)


def test_command_line_options(data_dir, capsys):
    code = cli.main(["load", str(CSEW_16_59), "--indicator", "drug_use_16_59",
                     "--unit", "percent"])
    assert code == 2
    assert "only for new metrics" in capsys.readouterr().err
    code = cli.main(["load", str(POISONING), "--indicator", "drug_poisoning_deaths",
                     "--indicator-name", "Deaths related to drug poisoning", "--unit",
                     "per cent"])
    assert code == 2 and "'per 100,000'" in capsys.readouterr().err
    code = cli.main(["load", str(CSEW_16_59), "--indicator", "drug_use_16_59",
                     "--value-column", "Any Class A drug"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "the figure was read from column 'Any Class A drug'" in out.err
    code = cli.main(["load", str(ONS_XLSX), "--sheet", "Table 9", "--dry-run"])
    out = capsys.readouterr()
    assert code == 1 and "--sheet 'Table 9': no sheet of that name holds a table " \
        "(sheets with a table: 'Table 1', 'Table 6')" in out.err
    code = cli.main(["load", str(ONS_XLSX), "--sheet", "Table 6", "--dry-run"])
    out = capsys.readouterr()
    assert code == 0 and "sheet 'Table 6' was read" in out.err


# --- the Data page offers the same choices ---------------------------------------------------

def test_data_page_choices_match_the_command_line_options():
    from metrics.ingest import layouts
    same = layouts.options_from_choices(layouts.NEW_METRIC, "drug_poisoning_deaths",
                                        "Deaths related to drug poisoning", "count", "",
                                        layouts.FROM_FILE, "Table 1")
    assert same.as_dict() == {"indicator": "drug_poisoning_deaths",
                              "indicator_name": "Deaths related to drug poisoning",
                              "unit": "count", "sheet": "Table 1"}
    assert layouts.options_from_choices(layouts.FROM_FILE).as_dict() == {}
    found = layouts.describe_sources([type("S", (), {"name": CSEW_16_59.name,
                                                     "data": CSEW_16_59.read_bytes()})])
    assert found["value_columns"] == ["Any drug", "Cannabis", "Any Class A drug"]
    found = layouts.describe_sources([type("S", (), {"name": ONS_XLSX.name,
                                                     "data": ONS_XLSX.read_bytes()})])
    assert found["sheets"] == ["Table 1", "Table 6"]


def test_data_page_upload_with_declared_metric_and_column(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    class Upload:
        name = CSEW_16_59.name

        def getvalue(self):
            return CSEW_16_59.read_bytes()

    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace("allow_upload = false",
                                                                 "allow_upload = true"))
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CDP_CONFIG", str(config))
    monkeypatch.chdir(ROOT)
    # AppTest cannot drop a file on the uploader: hand the page one as Streamlit would.
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: [Upload()])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    words = "\n".join(str(m.value) for m in at.markdown)
    assert "could hold the figure" in words and "Column holding the figure" in words
    at.selectbox(key="opt_indicator").set_value("drug_use_16_59")
    at.selectbox(key="opt_value").set_value("Any drug")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("No errors: 3 rows are ready to publish" in str(s.value) for s in at.success)


def test_map_lookup_spreadsheets_use_the_installed_reader_and_refuse_hostile_sheets(tmp_path):
    from metrics import geo
    path = tmp_path / "ruc.ods"
    from tests.fixtures.real.layouts.make_layouts import _ods_table, write_ods
    write_ods(path, [_ods_table("RUC", [["LSOA11CD", "RUC11CD"], ["E01000001", "A1"]])])
    frame = geo.lookups._read_table(path)[0]          # pandas' own .ods engine (odfpy) is not needed
    assert frame.iloc[0].tolist() == ["E01000001", "A1"]
    with pytest.raises(ValueError, match="XFD1048576"):
        geo.lookups._read_table(LAYOUTS / "hostile_xfd1048576.xlsx")


# --- nothing a publisher lays out crashes the loader ---------------------------------------------

CELLS = ["", "Area Codes", "Area Names", "Area code", "Period", "Year", "Value", "Rate",
         "Deaths", "Lower Confidence Limit", "2019–21", "2020", "2019/20", "England",
         "England and Wales", "Gloucestershire", "E10000013", "E92000001", "K04000001",
         ":", "[x]", "[c]", "..", "12", "3.5", "-1", "Any drug", "Table 6: Deaths related "
         "to drug misuse", "Source: ONS", "Total"]


def test_random_layouts_are_reported_never_raised(data_dir, tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    grid = st.lists(st.lists(st.sampled_from(CELLS), min_size=1, max_size=7),
                    min_size=1, max_size=9)
    options = st.sampled_from([LoadOptions(), LoadOptions(indicator="drug_use_16_59"),
                               LoadOptions(indicator="drug_misuse_deaths", period="2020"),
                               LoadOptions(value_column="Rate"),
                               LoadOptions(**NEW_METRIC)])

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=grid, above=grid, opts=options)
    def check(rows, above, opts):
        path = tmp_path / "random_2020.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            import csv
            csv.writer(handle).writerows(above + rows)
        report = load([path], data_dir, dry_run=True, options=opts)
        # Either rows were read or the report says why; never an unexplained failure.
        assert report.ok or report.errors
        assert not any("cannot be reshaped" in str(i) or "cannot be checked" in str(i)
                       for i in report.errors), errors(report)

    check()


@pytest.mark.parametrize("name, expected", [
    ("seizures_2023-24.csv", "2023/24"),
    ("deaths_2019-21.xlsx", "2019 - 21"),
    ("table_2024.csv", "2024"),
    # A year beside other period words means something else: not guessed, --period asked.
    ("table_2024_Q1.csv", None),
    ("seizures_year_ending_March_2024.csv", None),
    ("drug_misuse_2023_to_2024.csv", None),
])
def test_a_period_is_taken_from_a_file_name_only_when_the_name_says_nothing_else(name,
                                                                                  expected):
    from metrics.ingest.layouts import _period_from_name
    found = _period_from_name(name)
    assert (found.label if found else None) == expected
