"""Values in real-format extracts: rounding that puts a value outside its own interval,
sources with 95% limits only (compared with England all the same), units that do not fit
the metric, count-only rows in Coverage and periods after today. Fixtures and their
sources: tests/fixtures/real/values/README.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics import stats, store
from metrics.reference import catalogue
from metrics.views import explorer, headlines
from metrics.ingest import load, validate, versions

VALUES = Path(__file__).resolve().parent / "fixtures" / "real" / "values"
ONS = VALUES / "ons_style_drug_misuse_deaths_95_only.csv"
FINGERTIPS = VALUES / "fingertips_rounding.csv"
COUNTS = VALUES / "ons_drug_poisoning_registrations_count_only.csv"
FINGERTIPS_REAL = VALUES / "fingertips_export_95_only_excerpt.csv"
DEATHS = catalogue.get("drug_misuse_deaths")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The fixtures' periods are all in the past on this date.
    monkeypatch.setattr(validate, "today", lambda: dt.date(2026, 12, 1))


def issues_of(report, level):
    return [str(i) for i in report.issues if i.level == level]


# --- 1. Rounding ----------------------------------------------------------------------------

def test_fingertips_value_outside_its_interval_by_rounding_is_a_warning(data_dir):
    report = load([FINGERTIPS], data_dir, dry_run=True)
    assert report.ok, issues_of(report, "error")
    [warning] = [w for w in issues_of(report, "warning") if "rounding" in w]
    # One message for both rows, naming the file, the rows, the values and the limits.
    assert warning.startswith("fingertips_rounding.csv, rows 3, 4")
    assert "95% interval does not contain the value only by Fingertips' rounding" in warning
    assert "2 rows" in warning
    assert "row 3: 12.3 outside 12.34 to 16.6" in warning
    assert "row 4: 5.13 outside 5.135 to 5.985" in warning
    # Loaded as published.
    blackpool = report.values.set_index("area_code").loc["E06000009"]
    assert blackpool["value"] == 12.3 and blackpool["lower95"] == 12.34


def test_a_value_outside_its_interval_by_more_than_rounding_is_still_an_error(data_dir,
                                                                               tmp_path):
    text = FINGERTIPS.read_text(encoding="utf-8").replace(
        ",12.3,12.34,16.6,", ",12.3,12.45,16.6,")   # 0.15 away: not rounding
    path = tmp_path / "fingertips_bad_interval.csv"
    path.write_text(text, encoding="utf-8")
    report = load([path], data_dir, dry_run=True)
    errors = issues_of(report, "error")
    assert any("row 3" in e and "more than rounding explains" in e for e in errors), errors
    # The Gloucestershire row is still only a rounding warning.
    assert any("row 4: 5.13" in w for w in issues_of(report, "warning"))


def test_proportions_read_as_percentages_keep_their_rounding(data_dir, tmp_path):
    # 0.432 given to 3 places is 43.2% to 1 place: a lower limit of 43.24 is rounding.
    path = tmp_path / "proportions.csv"
    pd.DataFrame({"indicator_id": ["continuity_of_care"] * 3,
                  "area_code": ["E10000013", "E06000023", "E06000009"],
                  "period": ["12 months to 2023/24 Q1"] * 3,
                  "numerator": [432, 300, 250], "denominator": [1000, 600, 500],
                  "value": [0.432, 0.5, 0.5], "lower95": [0.4324, 0.46, 0.456],
                  "upper95": [0.463, 0.54, 0.544]}).to_csv(path, index=False)
    report = load([path], data_dir, dry_run=True)
    assert report.ok, issues_of(report, "error")
    assert any("only by the rounding" in w and "row 2: 43.2" in w
               for w in issues_of(report, "warning"))


def test_decimals_are_read_from_the_cells_as_written():
    cells = pd.Series(["12.3", "12.34", "5", "1,234.5", "43.2%", "1e-3", "2.5E+2"])
    assert validate._decimals(cells).tolist() == [1, 2, 0, 1, 1, 3, 0]


# --- 2. 95% limits only (ONS) ---------------------------------------------------------------

def _published_ranking(data_dir, path):
    report = load([path], data_dir)
    assert report.published, issues_of(report, "error")
    version = store.current_version(data_dir)
    values = store.all_area_values(version, [DEATHS.id])
    ranking = explorer.area_ranking(values, DEATHS, "2019 - 21", store.areas(version),
                                    "E10000013", (), 5)
    table = explorer.values_table(values, DEATHS, ["E06000009", "E10000013", "E09000027",
                                                   "E06000041", "E92000001"],
                                  store.areas(version), dt.date(2026, 12, 1), 5)
    return report, values, ranking.set_index("area_code")["comparison"], table


def test_ons_rates_with_95_limits_only_are_compared_at_both_levels(data_dir):
    report, values, codes, table = _published_ranking(data_dir, ONS)
    # 99.8% limits worked out from the deaths (Dobson, scaled from ONS's 95% limits).
    notes = issues_of(report, "note")
    assert any("99.8% limits were worked out from the count" in n and "rows 3, 4, 5, 6, 7"
               in n for n in notes), notes
    blackpool = values[values.area_code == "E06000009"].iloc[0]
    lower, upper = stats.limits_from_95(92, 18.6, 15.0, 22.8)
    assert blackpool["lower998"] == pytest.approx(lower)
    assert blackpool["upper998"] == pytest.approx(upper)
    assert blackpool["lower998"] < 15.0 and blackpool["upper998"] > 22.8
    # Every significantly different area has a verdict (it read "Not compared" before).
    assert codes["E06000009"] == "worse_998"       # Blackpool, 18.6 against 5.0
    assert codes["E08000012"] == "worse_998"       # Liverpool, 13.8
    assert codes["E09000027"] == "better_998"      # Richmond upon Thames, 2.2 (upper 4.9)
    assert codes["E06000041"] == "better_95"       # Wokingham, 2.1 (99.8% upper 5.1)
    assert codes["E10000013"] == "similar"
    shown = table[table["Area code"] != "E92000001"]["Compared with England"]
    assert not shown.str.startswith("Not compared").any(), shown.tolist()


def _real_fingertips_codes(report):
    rows = report.values[report.values["breakdown"].isna()].set_index("area_code")
    england = rows.loc["E92000001", "value"]
    areas = rows.drop(index=["E92000001", "E12000001"])
    return areas, dict(zip(areas.index, stats.compare_with_benchmark(
        areas["lower95"], areas["upper95"], areas["lower998"], areas["upper998"], england,
        "none")))


def test_a_real_fingertips_export_with_95_limits_only_is_compared_at_both_levels(data_dir):
    # Campylobacter incidence, 2015: Fingertips published 95% limits only, with counts.
    report = load([FINGERTIPS_REAL], data_dir, dry_run=True)
    assert report.ok, issues_of(report, "error")
    # Full-precision values inside their intervals: the rounding rule stays silent.
    assert not [w for w in issues_of(report, "warning") if "interval" in w]
    assert any("Campylobacter incidence rate/100,000: the published 95% limits are Byar's"
               in n and "per 100,000" in n for n in issues_of(report, "note"))
    areas, codes = _real_fingertips_codes(report)
    hartlepool = areas.loc["E06000001"]
    lower, upper = stats.rate_ci(132, 92493, confidence=0.998)
    assert hartlepool["lower998"] == pytest.approx(lower)
    assert hartlepool["upper998"] == pytest.approx(upper)
    # Fingertips' own verdicts in the file: Hartlepool and Torbay "Worse", Halton and
    # Leicester "Better", Blackpool, Rutland and Bristol "Similar" (no polarity here).
    assert codes["E06000001"] == codes["E06000027"] == "higher_998"
    assert codes["E06000006"] == codes["E06000016"] == "lower_998"
    assert {codes["E06000009"], codes["E06000017"], codes["E06000023"]} == {"similar"}


def test_the_real_export_without_its_counts_is_compared_at_95_only(data_dir, tmp_path):
    text = FINGERTIPS_REAL.read_text(encoding="utf-8")
    frame = pd.read_csv(FINGERTIPS_REAL, dtype=str, keep_default_na=False)
    frame["Count"] = ""
    frame["Denominator"] = ""
    path = tmp_path / "fingertips_without_counts.csv"
    frame.to_csv(path, index=False)
    assert text.count("\n") == frame.to_csv(index=False).count("\n")
    report = load([path], data_dir, dry_run=True)
    assert report.ok, issues_of(report, "error")
    assert any("compared with England at 95% only" in n for n in issues_of(report, "note"))
    _, codes = _real_fingertips_codes(report)
    assert codes["E06000001"] == codes["E06000027"] == "higher_95only"
    assert codes["E06000006"] == codes["E06000016"] == "lower_95only"
    assert stats.comparison_words(codes["E06000001"]) == \
        "Higher than England (compared at 95% only)"


def test_without_a_count_the_comparison_is_made_at_95_and_says_so(data_dir, tmp_path):
    frame = pd.read_csv(ONS, skiprows=1, dtype=str, keep_default_na=False)
    frame = frame.drop(columns="Count")
    path = tmp_path / "ons_rates_without_deaths.csv"
    title = ONS.read_text(encoding="utf-8").splitlines()[0]
    path.write_text(title + "\n" + frame.to_csv(index=False), encoding="utf-8")
    report, values, codes, table = _published_ranking(data_dir, path)
    notes = issues_of(report, "note")
    assert any("compared with England at 95% only" in n for n in notes), notes
    assert values["lower998"].isna().all()
    assert codes["E06000009"] == "worse_95only"
    assert codes["E09000027"] == "better_95only"
    assert codes["E10000013"] == "similar"
    words = table.set_index("Area code")["Compared with England"]
    assert words["E06000009"] == "Worse than England (compared at 95% only)"
    version = store.current_version(data_dir)
    [sentence, *_] = headlines.metric_sentences(values, DEATHS, "E06000009", "Blackpool",
                                                store.areas(version), dt.date(2026, 12, 1), 5)
    assert "significantly worse than England" in sentence
    assert sentence.endswith("(compared at 95% only).")


# --- 3. Units that do not fit the metric ----------------------------------------------------

def _long(tmp_path, name, rows, columns):
    path = tmp_path / name
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


def test_counts_loaded_into_a_percentage_are_a_warning_with_the_evidence(data_dir, tmp_path):
    # Drug poisoning deaths (ONS counts, see the README) put into a % metric's value column.
    counts = [("E92000001", 4312), ("E12000001", 389), ("E06000047", 72),
              ("E06000005", 16), ("E06000001", 32), ("E06000002", 35)]
    path = _long(tmp_path, "counts_as_percent.csv",
                 [("deaths_in_treatment", code, "2020/21", v) for code, v in counts],
                 ["indicator_id", "area_code", "period", "value"])
    report = load([path], data_dir, dry_run=True)
    [warning] = [w for w in issues_of(report, "warning") if "look like counts" in w]
    assert warning.startswith("counts_as_percent.csv, rows 2, 3, 4, 5, 6 and 1 more")
    assert "every value is a whole number and 2 of 6 are above 100" in warning
    assert "row 2: 4312, row 3: 389" in warning


def test_a_value_column_holding_the_counts_of_a_rate_is_a_warning(data_dir, tmp_path):
    rows = [("drug_poisoning_admissions", c, "2020/21", n, n) for c, n in
            [("E06000047", 72), ("E06000005", 16), ("E06000001", 32)]]
    path = _long(tmp_path, "rate_as_counts.csv", rows,
                 ["indicator_id", "area_code", "period", "numerator", "value"])
    report = load([path], data_dir, dry_run=True)
    warnings = [w for w in issues_of(report, "warning") if "equals its count" in w]
    assert warnings and "per 100,000" in warnings[0] and "row 2: 72" in warnings[0]


def test_crude_rates_in_an_age_standardised_metric_are_a_warning(data_dir, tmp_path):
    rows = []
    for code, deaths, population in [("E06000047", 150, 1_590_000), ("E06000005", 34, 321_000),
                                     ("E06000001", 61, 281_000), ("E06000002", 87, 423_000)]:
        crude = round(deaths / population * 100_000, 1)
        rows.append(("drug_misuse_deaths", code, "2019 - 21", deaths, population, crude))
    path = _long(tmp_path, "crude_as_dsr.csv", rows,
                 ["indicator_id", "area_code", "period", "numerator", "denominator", "value"])
    report = load([path], data_dir, dry_run=True)
    [warning] = [w for w in issues_of(report, "warning") if "crude rates" in w]
    assert "is age-standardised, but every value equals the crude rate" in warning
    assert "row 2: 9.4 = 150 / 1.59e+06 x 100,000" in warning


def test_real_rates_and_percentages_raise_no_unit_warning(data_dir):
    report = load([ONS, FINGERTIPS], data_dir, dry_run=True)
    unit_words = ("look like counts", "equals its count", "crude rates")
    assert not [w for w in issues_of(report, "warning") if any(u in w for u in unit_words)]


# --- 4. Count-only rows in Coverage --------------------------------------------------------

def test_count_only_rows_count_in_coverage(data_dir):
    report = load([COUNTS, ONS], data_dir)
    assert report.published, issues_of(report, "error")
    version = store.current_version(data_dir)
    years = versions.coverage(version, "calendar_year")
    row = years.loc["Deaths related to drug poisoning (registrations)"]
    assert row["2019"] == 7 and row["2020"] == 7
    # ONS's ':' rate for Rutland (2 deaths) still counts as a published figure.
    pooled = versions.coverage(version, "pooled_3y")
    assert pooled.loc[DEATHS.title, "2019 - 21"] == 7


# --- 5. Periods after today -----------------------------------------------------------------

def test_periods_after_today_are_a_warning_naming_them_and_the_rows(data_dir, tmp_path):
    rows = [("continuity_of_care", "E10000013", p, 95, 180) for p in
            ("2025/26 Q4", "2026/27 Q4", "2029/30 Q4", "2029/30 Q3")]
    path = _long(tmp_path, "future.csv", rows,
                 ["indicator_id", "area_code", "period", "numerator", "denominator"])
    report = load([path], data_dir, dry_run=True)
    assert report.ok
    [warning] = [w for w in issues_of(report, "warning") if "after today" in w]
    assert warning.startswith("future.csv, rows 3, 4, 5, column 'period'")
    assert "period(s) 2026/27 Q4, 2029/30 Q3, 2029/30 Q4 end after today (01 December 2026)" \
        in warning


def test_many_future_rows_are_one_message(data_dir, tmp_path):
    rows = [("continuity_of_care", "E10000013", f"{y}/{str(y + 1)[2:]} Q{q}", 95, 180)
            for y in range(2027, 2030) for q in (1, 2, 3, 4)]
    path = _long(tmp_path, "future_many.csv", rows,
                 ["indicator_id", "area_code", "period", "numerator", "denominator"])
    report = load([path], data_dir, dry_run=True)
    future = [w for w in issues_of(report, "warning") if "after today" in w]
    assert len(future) == 1
    assert "and 7 more, column 'period'" in future[0] and "and 6 more end after" in future[0]


def test_past_periods_raise_no_future_warning(data_dir):
    report = load([ONS], data_dir, dry_run=True)
    assert not [w for w in issues_of(report, "warning") if "after today" in w]


def test_no_hostile_number_crashes_the_value_checks(data_dir, tmp_path):
    rows = [("drug_misuse_deaths", "E06000047", "2019 - 21", "1e308", "1e-308", "inf", "nan",
             "-0"),
            ("drug_misuse_deaths", "E06000005", "2019 - 21", "0", "0", "0", "0", "0")]
    path = _long(tmp_path, "hostile.csv", rows,
                 ["indicator_id", "area_code", "period", "numerator", "denominator", "value",
                  "lower95", "upper95"])
    report = load([path], data_dir, dry_run=True)
    assert isinstance(report.issues, list)
    assert np.isfinite(len(report.values))


def test_limits_that_are_not_the_methods_own_get_no_998_limits_from_the_count(data_dir):
    """OHID's unmet need for opiate and crack users (Fingertips 93517, a real export): a
    percentage of prevalence *estimates*, whose published 95% limits (for example 26.5 to
    65.3 around 52.3) are far wider than Wilson's. Wilson's 99.8% limits from the count
    would be narrower than the published 95% ones, so none are worked out and the areas
    are compared at 95% only, with a note saying why."""
    real = Path(__file__).resolve().parent / "fixtures" / "real" / "areas" / "unmet_opiates.csv"
    report = load([real], data_dir)
    assert report.ok, [str(i) for i in report.issues]
    assert set(report.values["indicator_id"]) == {"unmet_need_ocu"}
    notes = issues_of(report, "note")
    assert any("not those of the metric's method" in n and "at 95% only" in n for n in notes)
    rows = store.all_area_values(store.current_version(data_dir), ["unmet_need_ocu"])
    assert len(rows) == 13
    assert rows["lower998"].isna().all() and rows["upper998"].isna().all()
    assert rows["lower95"].notna().all()


def test_a_decimal_comma_is_refused_not_read_as_a_thousands_separator(data_dir, tmp_path):
    """'45,5' in a semicolon-separated file would otherwise load silently as 455 (in a
    rate nothing else would catch it); '1,234' stays a thousands separator."""
    path = tmp_path / "decimal_comma.csv"
    path.write_text("indicator_id;area_code;period;numerator;denominator;value\n"
                    "drug_misuse_deaths;E10000013;2019 - 21;1,234;;45,5\n",
                    encoding="utf-8")
    report = load([path], data_dir, dry_run=True)
    errors = issues_of(report, "error")
    assert errors and any("'value'" in e and "45,5" in e for e in errors), errors
