"""Areas: DAT codes from the shipped table, former codes recoded or skipped, area kinds the
dashboard does not show skipped with one note, police force names on police force areas
(whatever an area lookup says), and messages that count instead of repeating.

The police force list is a real public file (tests/fixtures/real/areas, see its README).
The other tables are built here in the layouts NDTMS, Fingertips and the Home Office use,
with real codes and names and made-up figures."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from metrics.ingest import areas, load
from metrics.ingest.loading import Source

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "real" / "areas"
FORCES = REAL / "crime_uk_forces.csv"
FINGERTIPS_HEADER = ["Indicator ID", "Indicator Name", "Parent Code", "Parent Name",
                     "Area Code", "Area Name", "Area Type", "Sex", "Age", "Category Type",
                     "Category", "Time period", "Value", "Lower CI 95.0 limit",
                     "Upper CI 95.0 limit", "Count", "Denominator", "Value note"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


def csv_source(name: str, header: list[str], rows: list[list]) -> Source:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Source(name, buffer.getvalue().encode("utf-8"))


def fingertips(name: str, rows: list[tuple[str, str, str, str]]) -> Source:
    """Drug misuse deaths (Fingertips 92432) rows: (code, name, area type, period)."""
    out = []
    for i, (code, area, kind, period) in enumerate(rows):
        out.append([92432, "Deaths from drug misuse", "", "", code, area, kind, "Persons",
                    "All ages", "", "", period, 5.0 + i % 7, "", "", 20 + i % 11, "", ""])
    return csv_source(name, FINGERTIPS_HEADER, out)


def messages(report, level="errors") -> list[str]:
    return [str(i) for i in getattr(report, level)]


def lookup_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "area_lookup.csv"
    path.write_text(text)
    return path


# --- police force areas --------------------------------------------------------------------

def test_every_force_in_a_published_list_lands_on_its_police_force_area(tmp_path):
    """The real list: 39 English forces on 39 different E23 codes, the 4 Welsh forces and
    British Transport Police skipped, even with a lookup naming counties."""
    lookup = lookup_file(tmp_path, "code,name,area_code\nK14B,Gloucestershire,E10000013\n"
                                   ",Lancashire,E10000017\n,Kent,E10000016\n")
    index, problems = areas.load_index(lookup)
    assert problems == []
    forces = pd.read_csv(FORCES, dtype=str, keep_default_na=False)
    outcomes = {label: index.resolve_name(label, "utla") for label in forces["Label"]}
    placed = {label: o.area_code for label, o in outcomes.items() if o.kind == areas.PLACED}
    skipped = {label for label, o in outcomes.items() if o.kind == areas.SKIPPED}
    assert len(placed) == 39 and len(set(placed.values())) == 39
    assert all(code.startswith("E23") for code in placed.values())
    assert placed["Gloucestershire Constabulary"] == "E23000037"
    assert placed["Metropolitan Police Service"] == "E23000001"
    assert skipped == {"Dyfed Powys Police", "Gwent Police", "North Wales Police",
                       "South Wales Police", "British Transport Police"}


def test_a_lookups_name_rows_never_pull_a_force_onto_a_county(data_dir, tmp_path):
    """The reported harm: with an NDTMS lookup in place, 19 of 39 forces of a Home Office
    table landed on county codes. Plain force names, header 'Police force'."""
    forces = pd.read_csv(FORCES, dtype=str, keep_default_na=False)
    plain = (forces["Label"].str.replace(r" (Constabulary|Police Service|Police)$", "",
                                         regex=True))
    rows = [["drug_seizures", name, "2023/24", 100 + i] for i, name in enumerate(plain)]
    rows += [["drug_seizures", "Border Force", "2023/24", 5000],
             ["drug_seizures", "England and Wales", "2023/24", 99999]]
    source = csv_source("seizures_by_force.csv",
                        ["indicator_id", "Police force", "Financial year", "Count"], rows)
    county_names = "".join(f",{n},{c}\n" for n, c in [
        ("Gloucestershire", "E10000013"), ("Lancashire", "E10000017"), ("Kent", "E10000016"),
        ("Essex", "E10000012"), ("Surrey", "E10000030"), ("Norfolk", "E10000020")])
    lookup = lookup_file(tmp_path, "code,name,area_code\n" + county_names)
    report = load([source], data_dir, dry_run=True, area_lookup=lookup)
    assert report.ok, messages(report)
    codes = report.values["area_code"].astype(str)
    assert len(codes) == 39 and codes.str.startswith("E23").all()
    glos = report.values[report.values["numerator"] == 113]   # Gloucestershire's row
    assert glos["area_code"].tolist() == ["E23000037"]
    notes = [m for m in messages(report, "notes") if "rows skipped" in m]
    assert len(notes) == 1
    for words in ("Welsh police force area: 4 rows", "British Transport Police",
                  "Border Force", "England and Wales total"):
        assert words in notes[0], notes


def test_a_police_force_file_and_a_dat_keyed_file_load_together(data_dir):
    """One load: the real force list (with the columns the loader needs added: a metric,
    its name and unit, a period) and an NDTMS-layout table keyed by DAT code only."""
    forces = pd.read_csv(FORCES, dtype=str, keep_default_na=False)
    police_rows = [["pfa_population_2010", "Population (2010) by police force area", "count",
                    "2010", label, population]
                   for label, population in zip(forces["Label"], forces["Population 2010"])]
    police = csv_source("crime_uk_forces_with_period.csv",
                        ["indicator_id", "indicator_name", "unit", "Year", "Police force",
                         "Count"], police_rows)
    ndtms = csv_source("NDTMS continuity of care by DAT.csv", ["DAT code", "Period", "Numerator",
                                                "Denominator"],
                       [["K14B", "12 months to 2023/24 Q4", 402, 760],
                        ["G06B", "12 months to 2023/24 Q4", 71, 150],
                        ["A12B", "12 months to 2023/24 Q4", 140, 260]])
    # continuity of care is named in the file name, as NDTMS tables name it in their title
    report = load([police, ndtms], data_dir, dry_run=True)
    assert report.ok, messages(report)
    values = report.values
    pfa = values[values["indicator_id"] == "pfa_population_2010"]["area_code"].astype(str)
    cc = values[values["indicator_id"] == "continuity_of_care"]
    assert len(pfa) == 39 and pfa.str.startswith("E23").all()
    assert sorted(cc["area_code"].astype(str)) == ["E06000033", "E08000024", "E10000013"]


# --- DAT codes ------------------------------------------------------------------------------

def test_dat_codes_load_from_the_shipped_table_and_a_lookup_wins(data_dir, tmp_path):
    source = csv_source("NDTMS treatment progress.csv",
                        ["DAT code", "Period", "Numerator", "Denominator"],
                        [["K14B", "12 months to 2023/24 Q4", 500, 1100],
                         ["A09B", "12 months to 2023/24 Q4", 300, 700]])
    report = load([source], data_dir, dry_run=True)
    assert report.ok, messages(report)
    assert sorted(report.values["area_code"].astype(str)) == ["E08000037", "E10000013"]
    lookup = lookup_file(tmp_path, "code,name,area_code\nK14B,Somewhere,E06000023\n")
    report = load([source], data_dir, dry_run=True, area_lookup=lookup)
    assert report.ok, messages(report)
    assert sorted(report.values["area_code"].astype(str)) == ["E06000023", "E08000037"]


def test_a_joint_footprint_is_refused_once_naming_the_areas_it_spans(data_dir, tmp_path):
    rows = [["Z99Z", "Leicestershire and Rutland", f"12 months to 2023/24 Q{q}", 90, 200]
            for q in (1, 2, 3, 4)]
    rows += [["M01X", "Merton & Sutton", "12 months to 2023/24 Q4", 40, 90],
             ["K14B", "Gloucestershire", "12 months to 2023/24 Q4", 402, 760]]
    source = csv_source("NDTMS continuity of care.csv",
                        ["DAT code", "DAT name", "Period", "Numerator", "Denominator"], rows)
    report = load([source], data_dir, dry_run=True)
    errors = messages(report)
    assert len(errors) == 1, errors
    assert "'Leicestershire and Rutland' spans Leicestershire (E10000018) and Rutland " \
           "(E06000017)" in errors[0]
    assert "'Merton and Sutton' spans Merton (E09000024) and Sutton (E09000029)" in errors[0]
    assert "rows 2, 3, 4, 5, 6" in errors[0]
    lookup = lookup_file(tmp_path, "code,name,area_code\n,Leicestershire and Rutland,"
                                   "E10000018\n,Merton and Sutton,E09000024\n")
    report = load([source], data_dir, dry_run=True, area_lookup=lookup)
    assert report.ok, messages(report)


def test_the_dat_table_rebuilds_from_its_sources():
    built = subprocess.run([sys.executable, "-c",
                            "import sys; sys.path.insert(0, 'scripts'); "
                            "import build_dat_codes as b; "
                            "print(b.build([]).to_csv(index=False), end='')"],
                           cwd=ROOT, capture_output=True, text=True, check=True)
    committed = (ROOT / "data" / "reference" / "dat_codes.csv").read_text()
    assert built.stdout.replace("\r\n", "\n") == committed.replace("\r\n", "\n")


# --- boundary changes ----------------------------------------------------------------------

def test_former_codes_are_recoded_or_skipped_never_placed_on_another_footprint(data_dir):
    rows = [
        ("E10000002", "Buckinghamshire", "Counties & UAs (2019/20)", "2016 - 18"),
        ("E08000016", "Barnsley", "Counties & UAs (from Apr 2023)", "2020 - 22"),
        ("E10000023", "North Yorkshire", "Counties & UAs (2021/22-2022/23)", "2019 - 21"),
        ("E10000027", "Somerset", "Counties & UAs (2021/22-2022/23)", "2019 - 21"),
        ("E10000021", "Northamptonshire", "Counties & UAs (2019/20)", "2016 - 18"),
        ("E10000006", "Cumbria", "Counties & UAs (2021/22-2022/23)", "2019 - 21"),
        ("E10000009", "Dorset", "County & UA (pre 4/19)", "2015 - 17"),
        ("E06000028", "Bournemouth", "County & UA (pre 4/19)", "2015 - 17"),
        ("E06000029", "Poole", "County & UA (pre 4/19)", "2015 - 17"),
        ("E10000013", "Gloucestershire", "Counties & UAs (from Apr 2023)", "2020 - 22"),
    ]
    report = load([fingertips("drug_deaths_old_codes.csv", rows)], data_dir, dry_run=True)
    assert report.ok, messages(report)
    placed = dict(zip(report.values["area_code"].astype(str), report.values["period"]))
    assert set(placed) == {"E06000060", "E08000038", "E06000065", "E06000066", "E10000013"}
    assert "E06000059" not in placed and "E06000058" not in placed   # Dorset, BCP
    notes = messages(report, "notes")
    recoded = [m for m in notes if "recoded to today's area codes" in m]
    assert len(recoded) == 1 and recoded[0].split(": ", 1)[1].startswith("4 rows recoded")
    assert "Buckinghamshire E10000002 -> E06000060 (April 2020)" in recoded[0]
    gone = [m for m in notes if "no longer exist" in m]
    assert len(gone) == 1, notes
    for words in ("Northamptonshire (E10000021) was split into North Northamptonshire "
                  "(E06000061) and West Northamptonshire (E06000062) in April 2021",
                  "Cumbria (E10000006) was split into Cumberland (E06000063)",
                  "Dorset (E10000009) was split into Bournemouth, Christchurch and Poole "
                  "(E06000058) and Dorset (E06000059) in April 2019",
                  "Bournemouth (E06000028) was merged into", "Poole (E06000029)"):
        assert words in gone[0], gone


def test_a_name_that_now_means_another_footprint_is_read_by_its_period(data_dir):
    """'Dorset' before April 2019 is the county with Christchurch, not today's Dorset."""
    source = csv_source("ndtms_by_name.csv", ["DAT name", "Period", "Numerator",
                                              "Denominator"],
                        [["Dorset", "12 months to 2018/19 Q3", 100, 300],
                         ["Dorset", "12 months to 2023/24 Q4", 120, 310],
                         ["Northamptonshire", "12 months to 2019/20 Q4", 90, 250],
                         ["Gloucestershire", "12 months to 2018/19 Q3", 300, 640]])
    report = load([Source("continuity_of_care.csv", source.data)], data_dir, dry_run=True)
    assert report.ok, messages(report)
    kept = set(zip(report.values["area_code"].astype(str), report.values["period"]))
    assert kept == {("E06000059", "12 months to 2023/24 Q4"),
                    ("E10000013", "12 months to 2018/19 Q3")}
    notes = messages(report, "notes")
    assert any("'Dorset' for a period before April 2019 means the former area" in m
               for m in notes), notes
    assert any("Northamptonshire (E10000021) was split" in m for m in notes), notes


def test_two_codes_landing_on_one_area_are_named_with_the_area(data_dir):
    rows = [("E08000016", "Barnsley", "Counties & UAs (2021/22-2022/23)", "2020 - 22"),
            ("E08000038", "Barnsley", "Counties & UAs (from Apr 2023)", "2020 - 22")]
    report = load([fingertips("barnsley_twice.csv", rows)], data_dir, dry_run=True)
    errors = messages(report)
    assert len(errors) == 1, errors
    assert "'E08000016' and 'E08000038' both land on Barnsley (E08000038)" in errors[0]


# --- area kinds the dashboard does not show ------------------------------------------------

def test_an_all_areas_download_keeps_counties_and_skips_the_rest_with_one_note(data_dir):
    rows = [("E92000001", "England", "England", "2020 - 22"),
            ("E12000009", "South West region", "Region", "2020 - 22"),
            ("E10000013", "Gloucestershire", "Counties & UAs (from Apr 2023)", "2020 - 22"),
            ("E06000023", "Bristol", "Counties & UAs (from Apr 2023)", "2020 - 22"),
            # the same unitary authority again under districts: not a duplicate
            ("E06000023", "Bristol", "Districts & UAs (from Apr 2023)", "2020 - 22")]
    districts = [(f"E0700{i:04d}", f"District {i}", "Districts & UAs (from Apr 2023)",
                  "2020 - 22") for i in range(1, 151)]
    others = [("E54000008", "NHS Cheshire and Merseyside ICB", "ICB", "2020 - 22"),
              ("E38000001", "NHS Somewhere", "Sub-ICB", "2020 - 22"),
              ("W06000001", "Isle of Anglesey", "Welsh UA", "2020 - 22"),
              ("E11000001", "Greater Manchester (Met County)", "Met county", "2020 - 22"),
              ("E13000001", "Inner London", "London", "2020 - 22"),
              ("E47000001", "Greater Manchester", "Combined authorities", "2020 - 22")]
    report = load([fingertips("all_areas.csv", rows + districts + others)], data_dir,
                  dry_run=True)
    assert report.ok, messages(report)
    assert sorted(report.values["area_code"].astype(str)) == [
        "E06000023", "E10000013", "E12000009", "E92000001"]
    skipped = [m for m in messages(report, "notes") if "rows skipped" in m]
    assert len(skipped) == 1, messages(report, "notes")
    assert "157 rows skipped" in skipped[0]
    assert ("Districts & UAs (from Apr 2023): 151 rows ('E06000023' (Bristol), "
            "'E07000001' (District 1)") in skipped[0]
    assert "and 146 more" in skipped[0]
    for kind in ("ICB: 1 row ('E54000008' (NHS Cheshire and Merseyside ICB))",
                 "Sub-ICB: 1 row", "Welsh UA: 1 row", "Met county: 1 row",
                 "London: 1 row", "Combined authorities: 1 row"):
        assert kind in skipped[0], skipped


def test_a_file_with_nothing_usable_left_is_refused(data_dir):
    rows = [(f"E0700{i:04d}", f"District {i}", "Districts & UAs (from Apr 2023)",
             "2020 - 22") for i in range(1, 5)]
    report = load([fingertips("districts_only.csv", rows)], data_dir, dry_run=True)
    assert any("nothing usable is left" in m for m in messages(report)), messages(report)


def test_many_unknown_codes_are_one_message_with_a_count_and_the_first_few(data_dir):
    rows = [(f"E0600{900 + i:04d}", f"Nowhere {i}", "Counties & UAs (from Apr 2023)",
             "2020 - 22") for i in range(150)]
    rows.append(("E10000013", "Gloucestershire", "Counties & UAs (from Apr 2023)",
                 "2020 - 22"))
    report = load([fingertips("unknown_codes.csv", rows)], data_dir, dry_run=True)
    errors = messages(report)
    assert len(errors) == 1, errors
    assert "150 area codes did not match" in errors[0]
    assert "'E06000900' (Nowhere 0), 'E06000901' (Nowhere 1)" in errors[0]
    assert "and 145 more" in errors[0] and "rows 2, 3, 4, 5, 6 and 145 more" in errors[0]


def test_police_force_area_codes_have_no_successors():
    successors = pd.read_csv(ROOT / "data" / "reference" / "area_successors.csv", dtype=str)
    reference = pd.read_csv(ROOT / "data" / "reference" / "areas.csv", dtype=str)
    assert not successors["old_code"].str.startswith("E23").any()
    assert (reference["area_code"].str.startswith("E23").sum()) == 39
    # every successor named exists today
    current = set(reference["area_code"])
    for codes in successors["new_code"]:
        assert set(codes.split(";")) <= current, codes
    assert not set(successors["old_code"]) & current


def test_a_real_fingertips_export_lands_every_row_on_its_area(data_dir):
    """OHID's own export: older area type names ('County', 'UA'); nothing skipped."""
    report = load([REAL / "unmet_opiates.csv"], data_dir, dry_run=True)
    assert report.ok, messages(report)
    assert len(report.values) == 13
    assert not [m for m in messages(report, "notes") if "skipped" in m]
    assert set(report.values["area_code"].astype(str)) == {
        "E92000001", "E10000031", "E10000032", "E10000034", "E06000001", "E06000002",
        "E06000003", "E06000004"}


def test_a_unitary_authority_listed_again_under_districts_is_not_a_duplicate(data_dir):
    """The real export with Hartlepool's rows repeated under a district area type, as
    Fingertips 'all areas' downloads list unitary authorities in both lists."""
    lines = (REAL / "unmet_opiates.csv").read_text().splitlines()
    again = [line.replace(",Hartlepool,UA,", ",Hartlepool,Districts & UAs (from Apr 2023),")
             for line in lines if ",Hartlepool,UA," in line]
    data = "\n".join(lines + again + [
        lines[4].replace("E06000001,Hartlepool,UA", "E07000223,Adur,Districts & UAs "
                         "(from Apr 2023)")]) + "\n"
    report = load([Source("unmet_opiates_all_areas.csv", data.encode())], data_dir,
                  dry_run=True)
    assert report.ok, messages(report)
    assert len(report.values) == 13
    skipped = [m for m in messages(report, "notes") if "rows skipped" in m]
    assert len(skipped) == 1
    assert "Districts & UAs (from Apr 2023): 3 rows ('E06000001' (Hartlepool), " \
           "'E07000223' (Adur))" in skipped[0]


def test_every_row_of_a_home_office_force_table_is_placed_or_skipped_by_name():
    """The Home Office police workforce table by force (real, as a CSV): regions between the
    forces ('Eastern' for the East of England), 'Metropolitan', the Welsh forces, 'Total 43
    forces', 'Central Service Secondments' and British Transport Police."""
    index, _ = areas.load_index(None)
    table = pd.read_csv(REAL / "police_workforce_officer_fte_2019.csv", dtype=str)
    outcomes = [index.resolve_name(name, "pfa") for name in table["Force/Region"]]
    assert not [o for o in outcomes if o.kind == areas.FAILED]
    placed = [o.area_code for o in outcomes if o.kind == areas.PLACED]
    forces = {c for c in placed if c.startswith("E23")}
    regions = {c for c in placed if c.startswith("E12")}
    assert len(forces) == 39
    # The region and the force are both 'West Midlands' in this table: a police force
    # indicator reads the name as the force (a load then reports the pair as duplicates).
    assert len(regions) == 8 and "E12000006" in regions and "E12000005" not in regions
    skipped = [o.detail for o in outcomes if o.kind == areas.SKIPPED]
    assert sorted(skipped) == sorted(
        ["Wales (W)"] + ["Welsh police force area"] * 4 + ["totals row",
         "officers on central service secondment (no area)",
         "British Transport Police (no area)"])


def test_a_lookup_may_still_name_england_or_a_region(tmp_path):
    lookup = lookup_file(tmp_path, "code,name,area_code\n,All England,E92000001\n"
                                   ",Gloucestershire,E10000013\n")
    index, _ = areas.load_index(lookup)
    assert index.resolve_name("All England", "pfa").area_code == "E92000001"
    assert index.resolve_name("All England", "utla").area_code == "E92000001"
    assert index.resolve_name("Gloucestershire", "utla").area_code == "E10000013"
    assert index.resolve_name("Gloucestershire", "pfa").area_code == "E23000037"


def test_a_region_named_as_such_is_never_the_force_of_the_same_name():
    index, _ = areas.load_index(None)
    assert index.resolve_name("West Midlands region", "pfa").area_code == "E12000005"
    assert index.resolve_name("West Midlands", "pfa").area_code == "E23000014"
    assert index.resolve_name("South West region (statistical)", "utla").area_code == \
        "E12000009"
