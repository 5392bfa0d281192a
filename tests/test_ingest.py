"""Loading extracts: real-format files, every validation rule, publishing, rollback, the
drop folder and the command line. Fixtures are in tests/fixtures (see make_fixtures.py)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics import stats, store
from metrics.stats import disclosure
from metrics.ingest import __main__ as cli
from metrics.ingest import drop, load, rollback, versions

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
BROKEN = FIXTURES / "broken"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


def publish_fake_demo(data_dir: Path) -> store.Version:
    """A tiny stand-in for the demonstration set (building the real one takes seconds)."""
    rows = pd.DataFrame({
        "indicator_id": ["continuity_of_care", "adults_in_treatment"],
        "area_code": ["E10000013", "E10000013"],
        "period": ["12 months to 2023/24 Q4", "12 months to 2023/24 Q4"],
        "period_kind": ["rolling_12m"] * 2,
        "period_start": [dt.date(2023, 4, 1)] * 2, "period_end": [dt.date(2024, 3, 31)] * 2,
        "breakdown": [None] * 2, "category": [None] * 2,
        "numerator": [1.0, 2.0], "denominator": [3.0, 4.0], "value": [33.3, 50000.0],
        "lower95": [np.nan] * 2, "upper95": [np.nan] * 2, "lower998": [np.nan] * 2,
        "upper998": [np.nan] * 2, "value_note": [None] * 2, "ci_approximate": [False] * 2,
    }).astype(store.VALUES_COLUMNS)
    lsoa = pd.DataFrame({"lsoa11_code": ["E01000001"], "demo": [True]})
    return store.publish(data_dir, {"values": rows, "lsoa_need": lsoa},
                         {"demo": True, "source": "demo", "loaded_by": "metrics.demo"})


def row(values: pd.DataFrame, **match) -> pd.Series:
    mask = np.ones(len(values), dtype=bool)
    for key, value in match.items():
        mask &= (values[key] == value).fillna(False).to_numpy()
    assert mask.sum() == 1, (match, values[mask])
    return values[mask].iloc[0]


# --- real formats ------------------------------------------------------------------------

def test_fingertips_export_maps_catalogue_indicators_and_keeps_others(data_dir):
    report = load([FIXTURES / "fingertips_export.csv"], data_dir, dry_run=True)
    assert report.ok, [str(i) for i in report.errors]
    v = report.values
    glos = v[(v["indicator_id"] == "drug_misuse_deaths") & (v["area_code"] == "E10000013")
             & (v["period"] == "2021 - 23") & v["breakdown"].isna()].iloc[0]
    assert glos["period_kind"] == "pooled_3y"
    assert glos["period_start"] == dt.date(2021, 1, 1)
    # Fingertips' own intervals are kept, not recomputed.
    assert (glos["value"], glos["lower95"], glos["upper998"]) == (5.67, 4.83, 7.245)
    scilly = row(v, area_code="E06000053")
    assert np.isnan(scilly["value"]) and scilly["value_note"] == disclosure.NOTE
    male = row(v, area_code="E10000013", category="Male")
    assert male["breakdown"] == "sex"      # as the demonstration set names it
    extra = row(v, indicator_id="fingertips_93701", area_code="E10000013")
    assert extra["period"] == "2022/23" and extra["value"] == 41.2
    assert report.indicators["indicator_id"].tolist() == ["fingertips_93701"]
    assert report.indicators["title"].iloc[0].startswith("Adults with substance misuse")


def test_fingertips_saved_with_bom_and_en_dash_reads_the_same(data_dir):
    plain = load([FIXTURES / "fingertips_export.csv"], data_dir, dry_run=True)
    bom = load([FIXTURES / "fingertips_export_bom.csv"], data_dir, dry_run=True)
    assert bom.ok and bom.files[0].encoding == "UTF-8 with BOM"
    assert "2021 - 23" in set(bom.values["period"])
    pd.testing.assert_frame_equal(plain.values, bom.values)


def test_windows_1252_csv_as_excel_saves_it(data_dir):
    report = load([FIXTURES / "windows_1252.csv"], data_dir, dry_run=True)
    assert report.ok and report.files[0].encoding == "Windows-1252"
    glos = row(report.values, area_code="E10000013")
    assert glos["value_note"].startswith("Provisional \u2013 revised")
    assert "\u00a3" in glos["value_note"]
    # A note that is not a suppression does not stop the value being worked out.
    assert glos["value"] == pytest.approx(95 / 180 * 100)


def test_ndtms_workbook_with_title_rows_totals_stars_and_percent_cells(data_dir):
    report = load([FIXTURES / "ndtms_continuity.xlsx"], data_dir, dry_run=True)
    assert report.ok, [str(i) for i in report.errors]
    v = report.values
    assert set(v["indicator_id"]) == {"continuity_of_care"}
    assert set(v["period"]) == {"12 months to 2024/25 Q1"}
    assert set(v["area_code"]) == {"E10000013", "E06000033", "E06000023", "E06000004",
                                   "E06000010", "E08000013", "E06000019"}
    glos = row(v, area_code="E10000013")
    assert glos["value"] == pytest.approx(52.89)          # 0.5289 in a % cell
    lower, upper = stats.wilson_ci(402, 760)
    assert (glos["lower95"], glos["upper95"]) == pytest.approx((lower * 100, upper * 100))
    stockton = row(v, area_code="E06000004")
    assert np.isnan(stockton["value"]) and np.isnan(stockton["numerator"])
    assert stockton["value_note"] == disclosure.NOTE
    notes = " | ".join(str(i) for i in report.notes)
    assert "row 13: totals rows were left out" in notes
    assert "sheet 'Notes'" in notes and "read as percentages" in notes


def test_long_format_computes_values_and_intervals_from_counts(data_dir):
    report = load([FIXTURES / "long_format.csv"], data_dir, dry_run=True)
    assert report.ok
    r = row(report.values, indicator_id="continuity_of_care", area_code="E10000013",
            period="12 months to 2023/24 Q1")
    assert r["value"] == pytest.approx(310 / 640 * 100)
    lower, upper = stats.wilson_ci(310, 640, confidence=0.998)
    assert (r["lower998"], r["upper998"]) == pytest.approx((lower * 100, upper * 100))
    scilly = row(report.values, area_code="E06000053", period="2023/24 Q2")
    assert scilly["value_note"] == disclosure.NOTE and np.isnan(scilly["value"])


def test_the_downloadable_template_loads(data_dir, tmp_path):
    from metrics.ingest.template import template_csv
    path = tmp_path / "template.csv"
    path.write_text(template_csv())
    report = load([path], data_dir, dry_run=True)
    assert report.ok, [str(i) for i in report.errors]
    assert len(report.values) == 3


# --- every validation rule ----------------------------------------------------------------

@pytest.mark.parametrize("name, where, words", [
    ("unknown_area_code.csv", "row 2, column 'area_code'", "did not match (not an England"),
    ("unknown_period.csv", "row 2, column 'period'", "unknown period: '2024 Q5'"),
    ("ambiguous_period.csv", "row 2, column 'period'", "ambiguous period '2024/25 Q1'"),
    ("ndtms_date_period.xlsx", "[Continuity], row 6, column 'Period'", "ambiguous period"),
    ("non_numeric.csv", "row 2, column 'numerator'", "not a number: 'ninety-five'"),
    ("negative_count.csv", "row 2, column 'numerator'", "negative count (-3)"),
    ("numerator_above_denominator.csv", "row 2, column 'numerator'",
     "numerator above denominator (200 > 180)"),
    ("percentage_above_100.csv", "row 2, column 'value'", "percentage above 100 (112.5)"),
    ("interval_not_containing_value.csv", "row 2, column 'value'",
     "95% interval does not contain the value"),
    ("duplicate_rows.csv", "rows 2, 3", "duplicate rows"),
    ("missing_columns.csv", "missing_columns.csv", "missing required columns: period"),
    ("empty.csv", "empty.csv", "the file is empty"),
    ("header_only.csv", "header_only.csv", "no data rows"),
    ("unreadable.xlsx", "unreadable.xlsx", "cannot be read"),
    ("binary.csv", "binary.csv", "cannot be read"),
    ("unknown_indicator.csv", "row 2, column 'indicator_id'",
     "unknown indicator 'continuity_of_cares' (did you mean continuity_of_care?)"),
    ("ndtms_unknown_areas.xlsx", "row 13, column 'DAT name'",
     "'Leicestershire and Rutland' spans Leicestershire (E10000018) and Rutland (E06000017)"),
])
def test_each_rule_refuses_the_file_and_says_where(data_dir, name, where, words):
    before = publish_fake_demo(data_dir)
    report = load([BROKEN / name], data_dir)
    assert not report.ok and not report.published
    messages = [str(i) for i in report.errors]
    assert any(where in m and words in m for m in messages), messages
    assert all(m.startswith(name) for m in messages), messages
    # Nothing was published.
    assert store.current_version_id(data_dir) == before.id
    assert [v.id for v in store.list_versions(data_dir)] == [before.id]


def test_unmatched_areas_are_listed_together(data_dir):
    report = load([BROKEN / "ndtms_unknown_areas.xlsx"], data_dir, dry_run=True)
    summary = [str(i) for i in report.errors if "did not match:" in str(i)]
    assert len(summary) == 1 and "'Cornwall & Isles of Scilly': no area of that name" in summary[0]
    joint = [str(i) for i in report.errors if "joint DAT footprints" in str(i)]
    assert len(joint) == 1 and "Leicestershire and Rutland" in joint[0]


def test_a_good_file_is_not_published_with_a_broken_one(data_dir):
    publish_fake_demo(data_dir)
    report = load([FIXTURES / "long_format.csv", BROKEN / "negative_count.csv"], data_dir)
    assert not report.published and len(store.list_versions(data_dir)) == 1


def test_duplicates_across_files_are_refused(data_dir, tmp_path):
    copy = tmp_path / "again.csv"
    copy.write_bytes((FIXTURES / "long_format.csv").read_bytes())
    report = load([FIXTURES / "long_format.csv", copy], data_dir, dry_run=True)
    dupes = [str(i) for i in report.errors if "duplicate rows" in str(i)]
    assert dupes and any(m.startswith("again.csv") for m in dupes)


def test_a_dat_lookup_file_places_codes_and_joint_footprints(data_dir, tmp_path):
    lookup = tmp_path / "dat_lookup.csv"
    lookup.write_text("code,name,area_code\nK14B,Gloucestershire,E10000013\n"
                      ",Cornwall & Isles of Scilly,E06000052\n"
                      ",Leicestershire and Rutland,E10000018\n")
    report = load([BROKEN / "ndtms_unknown_areas.xlsx"], data_dir, dry_run=True,
                  area_lookup=lookup)
    assert report.ok, [str(i) for i in report.errors]
    assert {"E06000052", "E10000018"} <= set(report.values["area_code"])
    bad = tmp_path / "bad_lookup.csv"
    bad.write_text("code,name,area_code\nK14B,Gloucestershire,E99999999\n")
    report = load([FIXTURES / "long_format.csv"], data_dir, dry_run=True, area_lookup=bad)
    assert any("unknown area code 'E99999999'" in str(i) for i in report.errors)


def test_warnings_do_not_block(data_dir):
    report = load([FIXTURES / "long_format.csv"], data_dir)
    assert report.published
    extra = data_dir.parent / "extra.csv"
    extra.write_text("indicator_id,area_code,period,numerator,denominator\n"
                     "continuity_of_care,E10000013,12 months to 2022/23 Q4,250,600\n"
                     "continuity_of_care,E10000013,12 months to 2024/25 Q2,640,700\n")
    report = load([extra], data_dir)
    warnings = [str(i) for i in report.warnings]
    assert report.published
    assert any("older than the latest published" in w and "row 2" in w for w in warnings)
    assert any("far outside the area's published history" in w and "row 3" in w
               for w in warnings)


# --- publishing ---------------------------------------------------------------------------

def test_first_real_load_replaces_the_demonstration_data(data_dir):
    demo = publish_fake_demo(data_dir)
    report = load([FIXTURES / "long_format.csv"], data_dir, user="analyst@example")
    assert report.published
    version = store.current_version(data_dir)
    assert not version.is_demo and version.manifest["replaced_demo"]
    values = store.read_table(version, "values")
    assert "adults_in_treatment" not in set(values["indicator_id"])   # demo rows dropped
    assert len(values) == len(report.values)
    assert store.read_table(version, "lsoa_need") is None             # demo small areas too
    m = version.manifest
    assert m["loaded_by"] == "analyst@example" and m["base_version"] is None
    assert m["files"][0]["name"] == "long_format.csv"
    import hashlib
    assert m["files"][0]["sha256"] == hashlib.sha256(
        (FIXTURES / "long_format.csv").read_bytes()).hexdigest()
    assert m["files"][0]["rows_loaded"] == 28
    assert m["indicator_sources"]["treatment_progress"]["version"] == version.id
    # The demonstration version is still there to go back to.
    assert store.get_version(data_dir, demo.id).is_demo


def test_a_reissued_period_supersedes_without_deleting(data_dir, tmp_path):
    first = load([FIXTURES / "long_format.csv"], data_dir)
    reissue = tmp_path / "reissue.csv"
    reissue.write_text("indicator_id,area_code,period,numerator,denominator\n"
                       "continuity_of_care,E10000013,12 months to 2023/24 Q4,352,640\n")
    report = load([reissue], data_dir, dry_run=True)
    assert report.ok and len(report.changes) == 1
    change = report.changes.iloc[0]
    assert (change["old_value"], change["new_value"]) == pytest.approx((53.125, 55.0))
    assert any("re-issued period changes 1 published value" in str(w)
               for w in report.warnings)
    report = load([reissue], data_dir)
    current = store.current_version(data_dir)
    values = store.read_table(current, "values")
    glos = values[(values["indicator_id"] == "continuity_of_care")
                  & (values["area_code"] == "E10000013")
                  & (values["period"] == "12 months to 2023/24 Q4")]
    assert glos["value"].tolist() == [pytest.approx(55.0)]
    assert len(values) == 28                                # one replaced, none lost
    assert current.manifest["superseded_keys"] == 1
    assert current.manifest["superseded"] == {"continuity_of_care": ["12 months to 2023/24 Q4"]}
    superseded = store.read_table(current, "superseded")
    # The key of the one row replaced: the area total (no breakdown, no category).
    assert superseded.iloc[0].tolist()[:4] == ["continuity_of_care", "E10000013",
                                               "12 months to 2023/24 Q4", "rolling_12m"]
    assert superseded[["breakdown", "category"]].isna().all(axis=None)
    old = store.read_table(store.get_version(data_dir, first.version), "values")
    assert 53.125 in old["value"].round(3).tolist()          # still in the earlier version


def test_fingertips_additional_metrics_are_published_with_their_names(data_dir):
    load([FIXTURES / "fingertips_export.csv"], data_dir)
    current = store.current_version(data_dir)
    table = store.read_table(current, "indicators")
    assert table["indicator_id"].tolist() == ["fingertips_93701"]
    # A later load keeps them.
    load([FIXTURES / "long_format.csv"], data_dir)
    assert store.read_table(store.current_version(data_dir), "indicators") is not None
    grid = versions.coverage(store.current_version(data_dir), "financial_year")
    assert grid.index[0].startswith("Adults with substance misuse")


def test_rollback_is_a_new_version_and_reversible(data_dir):
    demo = publish_fake_demo(data_dir)
    first = load([FIXTURES / "long_format.csv"], data_dir)
    second = load([FIXTURES / "fingertips_export.csv"], data_dir)
    restored = rollback(first.version, data_dir, user="analyst")
    assert restored.id == "v0004" and store.current_version_id(data_dir) == "v0004"
    a = store.read_table(store.get_version(data_dir, first.version), "values")
    b = store.read_table(restored, "values")
    pd.testing.assert_frame_equal(a, b)
    assert restored.manifest["rollback_of"] == first.version
    back = rollback(second.version, data_dir)
    assert back.id == "v0005" and not back.is_demo
    to_demo = rollback(demo.id, data_dir)
    assert to_demo.is_demo                     # the banner shows again
    hist = versions.history(data_dir)
    assert hist["version"].tolist() == ["v0006", "v0005", "v0004", "v0003", "v0002", "v0001"]
    assert hist.iloc[0]["state"] == "current" and hist.iloc[0]["action"] == "rollback"
    with pytest.raises(Exception, match="no version v0042"):
        rollback("42", data_dir)
    with pytest.raises(Exception, match="already the version shown"):
        rollback("v0006", data_dir)


def test_a_load_after_rolling_back_to_demo_starts_from_real_rows_only(data_dir):
    publish_fake_demo(data_dir)
    load([FIXTURES / "long_format.csv"], data_dir)
    rollback("v0001", data_dir)
    report = load([FIXTURES / "windows_1252.csv"], data_dir)
    values = store.read_table(store.current_version(data_dir), "values")
    assert report.published and len(values) == 2


def test_concurrent_loads_are_serialised_and_both_kept(data_dir):
    env = {"CDP_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-m", "metrics.ingest", "load", str(f)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
             for f in (FIXTURES / "long_format.csv", FIXTURES / "fingertips_export.csv")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert [v.id for v in store.list_versions(data_dir)] == ["v0001", "v0002"]
    values = store.read_table(store.current_version(data_dir), "values")
    # The second load built on the first: both files' rows are in the final version.
    assert {"continuity_of_care", "drug_misuse_deaths"} <= set(values["indicator_id"])


# --- drop folder, status, freshness ------------------------------------------------------------

def test_drop_folder_loads_then_moves_files(data_dir):
    incoming = data_dir / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "long_format.csv").write_bytes((FIXTURES / "long_format.csv").read_bytes())
    (incoming / "~$lock.xlsx").write_bytes(b"excel lock file")
    assert [p.name for p in drop.pending(incoming)] == ["long_format.csv"]
    report = drop.load_drop_folder(data_dir)
    assert report.published
    assert (incoming / "loaded" / report.version / "long_format.csv").exists()
    assert drop.pending(incoming) == [] and drop.load_drop_folder(data_dir) is None
    (incoming / "bad.csv").write_bytes((BROKEN / "negative_count.csv").read_bytes())
    report = drop.load_drop_folder(data_dir)
    assert not report.published
    refused = list((incoming / "refused").iterdir())
    assert len(refused) == 1
    assert "negative count" in (refused[0] / "report.txt").read_text()
    assert (refused[0] / "bad.csv").exists()


def test_status_and_freshness(data_dir):
    load([FIXTURES / "long_format.csv", FIXTURES / "fingertips_export.csv"], data_dir)
    status = versions.status(data_dir)
    tp = status[status["indicator_id"] == "treatment_progress"].iloc[0]
    assert (tp["first_period"], tp["last_period"], tp["rows"]) == (
        "12 months to 2023/24 Q1", "12 months to 2023/24 Q4", 12)
    assert tp["source_files"] == "long_format.csv" and tp["loaded_in"] == "v0001"
    fresh = versions.freshness(store.current_version(data_dir), dt.date(2024, 6, 1))
    ndtms = fresh[fresh["source"] == "NDTMS"].iloc[0]
    assert ndtms["latest period"] == "12 months to 2023/24 Q4"
    assert ndtms["status"] == "up to date"
    later = versions.freshness(store.current_version(data_dir), dt.date(2025, 6, 1))
    assert later[later["source"] == "NDTMS"].iloc[0]["status"] == "overdue"


def test_coverage_grid_shows_gaps(data_dir, tmp_path):
    gappy = tmp_path / "gappy.csv"
    gappy.write_text("indicator_id,area_code,period,numerator,denominator\n"
                     "continuity_of_care,E10000013,2023/24 Q1,10,20\n"
                     "continuity_of_care,E10000013,2023/24 Q3,10,20\n")
    load([gappy], data_dir)
    grid = versions.coverage(store.current_version(data_dir), "quarter")
    assert list(grid.columns) == ["2023/24 Q1", "2023/24 Q2", "2023/24 Q3"]
    row_ = grid.loc["Continuity of care: prison to community"]
    assert row_["2023/24 Q1"] == 1 and np.isnan(row_["2023/24 Q2"])


# --- command line --------------------------------------------------------------------------

def test_cli_load_dry_run_status_history_rollback(data_dir, capsys):
    assert cli.main(["load", "--dry-run", str(FIXTURES / "long_format.csv")]) == 0
    assert store.current_version_id(data_dir) is None
    assert cli.main(["load", str(FIXTURES / "long_format.csv")]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "v0001" and "published v0001" in out.err
    assert cli.main(["load", str(BROKEN / "percentage_above_100.csv")]) == 1
    err = capsys.readouterr().err
    assert "percentage_above_100.csv, row 2, column 'value': percentage above 100" in err
    assert "Traceback" not in err
    assert cli.main(["status"]) == 0
    assert "treatment_progress" in capsys.readouterr().err
    assert cli.main(["load", str(FIXTURES / "fingertips_export.csv")]) == 0
    assert cli.main(["history"]) == 0
    assert "v0002" in capsys.readouterr().err
    assert cli.main(["rollback", "v0001"]) == 0
    assert "a copy of v0001" in capsys.readouterr().err
    assert cli.main(["rollback", "v0099"]) == 1
    assert "refused: there is no version v0099" in capsys.readouterr().err


def test_cli_refuses_a_missing_file_without_a_traceback(data_dir):
    result = subprocess.run([sys.executable, "-m", "metrics.ingest", "load", "nope.csv"],
                            cwd=ROOT, capture_output=True, text=True,
                            env={"CDP_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert "nope.csv: file not found" in result.stderr and "Traceback" not in result.stderr
    json.dumps(result.stderr)


@pytest.mark.parametrize("command", ["load", "status", "history", "rollback", "drop",
                                     "template"])
def test_every_command_line_help_prints_without_a_traceback(command):
    """--help of every command (the unit list holds a '%', which argparse reads as a
    format character unless it is doubled)."""
    result = subprocess.run([sys.executable, "-m", "metrics.ingest", command, "--help"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "usage:" in result.stdout
