"""Directly standardised rates as loaded (issue 13 item 8): intervals approximated without
age bands are marked as approximate wherever they are shown, Dobson's method is used when
the age bands are supplied, and no rate is published on fewer than 10 events."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from metrics import store
from metrics.ingest import load, standardised, validate
from metrics.store import writing

COLUMNS = ["indicator_id", "area_code", "period", "numerator", "denominator", "value"]
# Drug misuse deaths, 2019 - 21, as a file without limits: deaths, 3 years' residents, DSR.
ROWS = [("drug_misuse_deaths", "E06000047", "2019 - 21", 150, 1_590_000, 9.8),
        ("drug_misuse_deaths", "E06000005", "2019 - 21", 34, 321_000, 10.9),
        ("drug_misuse_deaths", "E06000017", "2019 - 21", 7, 120_000, 6.1),
        ("drug_misuse_deaths", "E06000001", "2019 - 21", 61, 281_000, 22.4)]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    monkeypatch.setattr(validate, "today", lambda: dt.date(2026, 12, 1))
    return directory


def _csv(tmp_path, rows, columns=COLUMNS, name="deaths.csv"):
    path = tmp_path / name
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


def _published(data_dir):
    version = store.current_version(data_dir)
    rows = store.all_area_values(version, ["drug_misuse_deaths"])
    return rows.set_index("area_code")


def test_a_dsr_loaded_without_limits_is_published_as_approximate(data_dir, tmp_path):
    report = load([_csv(tmp_path, ROWS)], data_dir)
    assert report.published, [str(i) for i in report.issues]
    rows = _published(data_dir)
    assert rows.loc["E06000047", "ci_approximate"] == True  # noqa: E712 - a nullable boolean
    assert rows.loc["E06000047", "lower95"] < 9.8 < rows.loc["E06000047", "upper95"]
    notes = [str(i) for i in report.issues if "approximate" in str(i)]
    assert notes and "3 standardised rate(s)" in notes[0], notes


def test_limits_given_by_the_file_are_not_marked_approximate(data_dir, tmp_path):
    rows = [r + (r[5] - 1.5, r[5] + 1.7) for r in ROWS if r[3] >= 10]
    path = _csv(tmp_path, rows, COLUMNS + ["lower95", "upper95"])
    report = load([path], data_dir)
    assert report.published, [str(i) for i in report.issues]
    assert not _published(data_dir)["ci_approximate"].fillna(True).any()


def test_no_dsr_is_published_on_fewer_than_10_events(data_dir, tmp_path):
    report = load([_csv(tmp_path, ROWS)], data_dir)
    rutland = _published(data_dir).loc["E06000017"]
    assert np.isnan(rutland["value"]) and np.isnan(rutland["lower95"])
    assert rutland["numerator"] == 7            # the count is kept: the pages say why
    assert rutland["value_note"] == standardised.WITHHELD_NOTE
    assert rutland["ci_approximate"] == False  # noqa: E712 - no interval, nothing to mark
    [note] = [str(i) for i in report.issues if "fewer than 10 events" in str(i)]
    assert "1 standardised rate(s)" in note and "row 4" in note


def test_a_version_published_before_the_flag_still_reads_and_loads(data_dir, tmp_path,
                                                                   monkeypatch):
    # Publish a values table without ci_approximate, as versions before it were written.
    old = pd.DataFrame([{
        "indicator_id": "drug_misuse_deaths", "area_code": "E06000005", "period": "2017 - 19",
        "period_kind": "pooled_3y", "period_start": dt.date(2017, 1, 1),
        "period_end": dt.date(2019, 12, 31), "breakdown": None, "category": None,
        "numerator": 30.0, "denominator": 318_000.0, "value": 9.6, "lower95": 6.4,
        "upper95": 13.6, "lower998": 5.1, "upper998": 15.6, "value_note": None}])
    old = old.astype({c: t for c, t in store.VALUES_COLUMNS.items() if c in old})
    with monkeypatch.context() as patch:
        patch.setattr(writing, "ADDED_VALUES_COLUMNS", {})
        first = store.publish(data_dir, {"values": old}, {"source": "before the flag"})
    assert "ci_approximate" not in pd.read_parquet(first.path / "values.parquet")
    assert store.all_area_values(first, ["drug_misuse_deaths"])["ci_approximate"].isna().all()
    assert store.read_values(first, ["drug_misuse_deaths"])["ci_approximate"].isna().all()
    report = load([_csv(tmp_path, ROWS)], data_dir)
    assert report.published, [str(i) for i in report.issues]
    rows = store.all_area_values(store.current_version(data_dir), ["drug_misuse_deaths"])
    kept = rows[rows["period"] == "2017 - 19"]
    assert len(kept) == 1 and pd.isna(kept["ci_approximate"].iloc[0])
    assert rows.loc[rows["period"] == "2019 - 21", "ci_approximate"].notna().all()
