"""Directly standardised rates as loaded (issue 13 item 8): intervals approximated without
age bands are marked as approximate wherever they are shown, Dobson's method is used when
the age bands are supplied, and no rate is published on fewer than 10 events."""

from __future__ import annotations

import datetime as dt
import json

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
    assert notes and "3 standardised rates" in notes[0], notes


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
    assert "1 standardised rate " in note and "row 4" in note
    # The pages say it in the same words as for the demonstration set.
    from metrics.reference import catalogue
    from metrics.views import explorer
    assert explorer.withheld_words(rutland, catalogue.get("drug_misuse_deaths"), 5) == \
        "rate not published: fewer than 10 deaths (7)"


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


# --- Shown as approximate wherever the interval or a comparison built on it appears ---------

def _views_values(approximate):
    """Drug deaths for Gloucestershire (approximate interval, worse than England), two
    other areas and England."""
    rows = []
    for code, num, den, value, low, high, approx in [
            ("E10000013", 210, 1.9e6, 9.9, 8.6, 11.3, approximate),
            ("E06000005", 40, 0.32e6, 11.0, 7.8, 15.0, False),
            ("E10000014", 180, 4.1e6, 4.4, 3.8, 5.1, False),
            ("E92000001", 9_300, 170e6, 5.9, 5.8, 6.0, False)]:
        rows.append(dict(indicator_id="drug_misuse_deaths", area_code=code,
                         period="2023 - 25", period_kind="pooled_3y",
                         period_start=pd.Timestamp("2023-01-01"),
                         period_end=pd.Timestamp("2025-12-31"), numerator=float(num),
                         denominator=den, value=value, lower95=low, upper95=high,
                         lower998=low - 0.8, upper998=high + 0.8, value_note=None,
                         ci_approximate=approx))
    frame = pd.DataFrame(rows)
    frame["ci_approximate"] = frame["ci_approximate"].astype("boolean")
    return frame


@pytest.mark.parametrize("approximate", [True, False, None])
def test_an_approximate_interval_is_said_in_tables_tooltips_downloads_and_pack(approximate):
    from metrics.reference import catalogue
    from metrics.views import explorer, headlines, overview
    from ui import exports

    ind = catalogue.get("drug_misuse_deaths")
    values = _views_values(approximate)
    areas = pd.read_csv(store.REFERENCE_DIR / "areas.csv", dtype=str, keep_default_na=False)
    up_to = dt.date(2025, 12, 31)
    marked = approximate is True
    glos = "E10000013"

    table = explorer.values_table(values, ind, [glos, explorer.ENGLAND], areas, up_to, 5)
    row = table[table["Area code"] == glos].iloc[0]
    assert (explorer.APPROXIMATE_NOTE == row["Note"]) is marked, row["Note"]
    assert row["Compared with England"].endswith("(approximate interval)") is marked
    assert (b"Approximate interval" in exports.csv_bytes(table)) is marked   # the download
    england = table[table["Area code"] == explorer.ENGLAND].iloc[0]
    assert not england["Note"]

    ranking = explorer.area_ranking(values, ind, "2023 - 25", areas, glos, (), 5)
    display = ranking.set_index("area_code")["display"]            # ranking/funnel tooltips
    assert display[glos].endswith("(approximate interval)") is marked, display[glos]
    assert not display["E10000014"].endswith("(approximate interval)")

    spine = explorer.spine_rows(values, "harm", glos, areas, (), up_to, 5,
                                indicators=[ind])                  # spine tooltip, pack table
    assert spine["significance_words"].iloc[0].endswith("(approximate interval)") is marked

    sentences = headlines.metric_sentences(values, ind, glos, "Gloucestershire", areas,
                                           up_to, 5)               # pack and page sentences
    assert ("approximate interval" in sentences[0]) is marked, sentences
    card = overview.outcome_card("harm", values, glos, areas, 5)  # overview and pack summary
    assert card.comparison_words.endswith("(approximate interval)") is marked

    from metrics.render import charts
    series = explorer.trend_series(values, ind, {glos: "Gloucestershire",
                                                 explorer.ENGLAND: "England"}, (), up_to, 5)
    spec = json.dumps(charts.trend_chart(series, ind.unit).to_dict())   # trend tooltip
    assert ("approximate interval" in spec) is marked


# --- Dobson's method when the age bands are supplied ----------------------------------------

BANDS = list(standardised.ESP2013)
# Deaths and residents by age band (3 years) for two areas: drug deaths peak at 35-54.
DEATHS = [0, 0, 0, 1, 3, 5, 8, 10, 12, 11, 9, 6, 3, 2, 1, 0, 0, 0, 0]
RESIDENTS = [30_000, 32_000, 31_000, 29_000, 33_000, 36_000, 37_000, 35_000, 34_000, 36_000,
             38_000, 36_000, 31_000, 28_000, 26_000, 18_000, 12_000, 7_000, 3_500]


def test_a_dsr_with_its_age_bands_gets_dobsons_interval(data_dir, tmp_path):
    rows = []
    for code, scale in (("E06000005", 1), ("E10000013", 3)):
        rows += [("drug_misuse_deaths", code, "2019 - 21", band, d * scale, p * scale)
                 for band, d, p in zip(BANDS, DEATHS, RESIDENTS)]
    path = _csv(tmp_path, rows, ["indicator_id", "area_code", "period", "age", "numerator",
                                 "denominator"])
    report = load([path], data_dir)
    assert report.published, [str(i) for i in report.issues]
    published = _published(data_dir)
    weights = np.array([standardised.ESP2013[b] for b in BANDS], float)
    for code, scale in (("E06000005", 1), ("E10000013", 3)):
        counts, pops = np.array(DEATHS) * scale, np.array(RESIDENTS) * scale
        # By hand: DSR = sum(count x w / pop) / sum(w) x 100,000; Dobson's variance.
        dsr = (counts * weights / pops).sum() / weights.sum() * 1e5
        variance = (counts * (weights / pops) ** 2).sum() / weights.sum() ** 2 * 1e10
        row = published.loc[code]
        assert row["value"] == pytest.approx(dsr)
        assert row["numerator"] == counts.sum() and row["denominator"] == pops.sum()
        lower, upper = stats_dsr_ci(counts.sum(), dsr, variance)
        assert (row["lower95"], row["upper95"]) == pytest.approx((lower, upper))
        assert row["ci_approximate"] == False  # noqa: E712 - Dobson's, not approximate
        # The approximation would have been narrower: areas would look different too often.
        approx_low, approx_high = stats_dsr_ci(counts.sum(), dsr, dsr ** 2 / counts.sum())
        assert approx_high - approx_low < upper - lower
    notes = [str(i) for i in report.issues if "worked out from their age bands" in str(i)]
    assert notes and "2 standardised rates" in notes[0], notes


def test_bands_that_do_not_make_up_the_standard_are_said_and_not_standardised(data_dir,
                                                                              tmp_path):
    rows = [("drug_misuse_deaths", "E06000005", "2019 - 21", band, d, p)
            for band, d, p in list(zip(BANDS, DEATHS, RESIDENTS))[:-3]]   # no 80+
    rows.append(("drug_misuse_deaths", "E06000005", "2019 - 21", "All ages", 71, 607_500))
    path = _csv(tmp_path, rows, ["indicator_id", "area_code", "period", "age", "numerator",
                                 "denominator"])
    report = load([path], data_dir, dry_run=True)
    [note] = [str(i) for i in report.issues if "age bands not standardised" in str(i)]
    assert "missing 80-84, 85-89, 90+" in note, note


def test_age_band_labels_as_files_write_them():
    assert standardised.band_key("Aged 0 to 4 years") == "0-4"
    assert standardised.band_key("90 and over") == "90+"
    assert standardised.band_key("85\u201389") == "85-89"
    assert standardised.band_key("Under 1") == "0"
    assert standardised.band_key("All ages") is None
    assert standardised.all_age_bands(["0-4", "5-9"]) and not standardised.all_age_bands(
        ["Persons", "0-4"])


def stats_dsr_ci(total, dsr, variance):
    from metrics import stats
    return stats.dsr_ci(total, dsr, variance)
