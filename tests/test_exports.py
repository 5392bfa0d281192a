"""Downloads cannot carry a live formula (OWASP CSV injection): text from loaded files that
begins with =, +, -, @, a tab or a carriage return is written with a leading quote, in the
CSV and in the Excel workbook; numbers stay numbers."""

import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from metrics.reference import catalogue
from metrics.views import explorer
from ui import exports

HOSTILE = ["=HYPERLINK(\"https://example.com/?\"&A1,\"Details\")", "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _figures_table() -> pd.DataFrame:
    """The Figures table an outcome page offers for download, built from rows whose value
    notes (as a hostile extract could carry) begin with formula characters."""
    ind = catalogue.get("deaths_in_treatment")
    rows = pd.DataFrame({
        "indicator_id": ind.id, "area_code": "E10000013",
        "period": [f"{2015 + i}/{16 + i}" for i in range(len(HOSTILE))],
        "period_kind": "financial_year",
        "period_start": [dt.date(2015 + i, 4, 1) for i in range(len(HOSTILE))],
        "period_end": [dt.date(2016 + i, 3, 31) for i in range(len(HOSTILE))],
        "numerator": 20.0, "denominator": 1000.0, "value": 2.0, "lower95": 1.3,
        "upper95": 3.1, "lower998": 1.0, "upper998": 3.8, "value_note": HOSTILE})
    areas = pd.DataFrame({"area_code": ["E10000013"], "area_name": ["-Gloucestershire"],
                          "area_type": ["utla"]})
    table = explorer.values_table(rows, ind, ["E10000013"], areas, dt.date(2026, 6, 30), 5)
    table["Change"] = -1.5          # a negative number stays a number
    return table


def _is_formula_text(cell) -> bool:
    return isinstance(cell, str) and cell.startswith(exports.FORMULA_START) and \
        not exports._PLAIN_NUMBER.fullmatch(cell) and cell != "-"


def test_today_the_notes_would_be_live_formulas():
    """The frame as built: a plain to_excel would write formula cells (what this fixes)."""
    buffer = io.BytesIO()
    _figures_table().to_excel(buffer, index=False)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active
    assert any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_excel_download_has_no_formula_cell_and_keeps_numbers():
    table = _figures_table()
    sheet = openpyxl.load_workbook(io.BytesIO(exports.excel_bytes(table))).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert not [c.value for c in cells if _is_formula_text(c.value)]
    header = [c.value for c in next(sheet.iter_rows())]
    notes = [row[header.index("Note")].value for row in sheet.iter_rows(min_row=2)]
    # (XML keeps a carriage return as a line feed.)
    assert sorted(notes) == sorted("'" + h.replace("\r", "\n") for h in HOSTILE)
    changes = [row[header.index("Change")].value for row in sheet.iter_rows(min_row=2)]
    assert changes == [-1.5] * len(HOSTILE)
    assert {row[header.index("Count")].value for row in sheet.iter_rows(min_row=2)} == {20}
    assert {row[header.index("Area")].value for row in sheet.iter_rows(min_row=2)} == \
        {"'-Gloucestershire"}


def test_csv_download_quotes_every_formula_cell():
    table = _figures_table()
    back = pd.read_csv(io.BytesIO(exports.csv_bytes(table)), dtype=str, keep_default_na=False)
    assert not [v for v in back.to_numpy().ravel() if _is_formula_text(v)]
    assert sorted(back["Note"]) == sorted("'" + h for h in HOSTILE)
    assert set(back["Change"]) == {"-1.5"}


@pytest.mark.parametrize("value, expected", [
    ("-", "-"), ("-12.5", "-12.5"), ("+44", "+44"), ("-1,234", "-1,234"), ("-3%", "-3%"),
    ("-1+2", "'-1+2"), ("=1", "'=1"), ("@A1", "'@A1"), ("- note", "'- note"),
    ("plain", "plain"), (3.0, 3.0), (-2, -2), (None, None)])
def test_neutralise(value, expected):
    assert exports.neutralise(value) == expected


def test_streamlit_own_table_download_is_off():
    """Streamlit's table toolbar would download a table as CSV without quoting formula
    characters; every table has our own, safe CSV and Excel downloads instead."""
    import tomllib
    from pathlib import Path
    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" /
                            "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


def _counts_table(numerators: list, threshold: int = 5) -> pd.DataFrame:
    ind = catalogue.get("deaths_in_treatment")
    n = len(numerators)
    rows = pd.DataFrame({
        "indicator_id": ind.id, "area_code": "E10000013",
        "period": [f"{2015 + i}/{16 + i}" for i in range(n)], "period_kind": "financial_year",
        "period_start": [dt.date(2015 + i, 4, 1) for i in range(n)],
        "period_end": [dt.date(2016 + i, 3, 31) for i in range(n)],
        "numerator": numerators, "denominator": 634_533.0, "value": 2.0, "lower95": 1.3,
        "upper95": 3.1, "lower998": 1.0, "upper998": 3.8, "value_note": None})
    areas = pd.DataFrame({"area_code": ["E10000013"], "area_name": ["Gloucestershire"],
                          "area_type": ["utla"]})
    return explorer.values_table(rows, ind, ["E10000013"], areas, dt.date(2026, 6, 30),
                                 threshold)


def test_downloads_name_the_indicator_and_write_counts_as_whole_numbers():
    table = _counts_table([2301.0, None, 12.0])
    assert list(table.columns[:2]) == ["Indicator id", "Indicator"]
    assert set(table["Indicator id"]) == {"deaths_in_treatment"}
    assert set(table["Indicator"]) == {catalogue.get("deaths_in_treatment").title}
    assert str(table["Count"].dtype) == "Int64" and str(table["Denominator"].dtype) == "Int64"
    text = exports.csv_bytes(table).decode()
    assert "2301" in text and "2301.0" not in text and "634533.0" not in text
    sheet = openpyxl.load_workbook(io.BytesIO(exports.excel_bytes(table))).active
    header = [c.value for c in next(sheet.iter_rows())]
    counts = [row[header.index("Count")].value for row in sheet.iter_rows(min_row=2)]
    assert sorted(c for c in counts if c is not None) == [12, 2301]
    assert all(isinstance(c, int) for c in counts if c is not None)


def test_counts_beside_a_suppressed_one_are_still_whole_numbers():
    table = _counts_table([2301.0, 3.0])
    assert set(table["Count"]) == {2301, "*"}
    assert [type(c) for c in table["Count"] if c != "*"] == [int]
    text = exports.csv_bytes(table).decode()
    assert "2301.0" not in text and '"*"' in text


def test_downloaded_charts_carry_title_source_period_version_and_licence():
    """Issue 14, item 4: a PNG or SVG that travels without the page still says what it
    is, where it is from, when, from which data version, and under which licence."""
    import vl_convert as vlc
    from metrics.render import exported
    spec = {"mark": "bar", "data": {"values": [{"a": 1}]},
            "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    about = exported.About("Adults in treatment: Gloucestershire", "NDTMS",
                           "2019/20 to 2025/26", "v0003 (published 2026-05-12)")
    svg = vlc.vegalite_to_svg(exported.credited(spec, about))
    for words in ("Adults in treatment: Gloucestershire", "Source: NDTMS",
                  "Period: 2019/20 to 2025/26", "Data version v0003",
                  "Open Government Licence v3.0"):
        assert words in svg, words
    assert "title" not in spec                      # the chart on screen is unchanged
    # Public mode off: the mark leads, the chart's title and credits follow it.
    marked = exports.marked_spec(exported.credited(spec, about))
    assert marked["title"]["subtitle"][0] == about.title
    assert exported.OGL in marked["title"]["subtitle"]
