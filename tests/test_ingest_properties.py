"""Property-based tests (hypothesis) of the period parser and the readers."""

from __future__ import annotations

import calendar
import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st
from openpyxl import Workbook

from metrics.reference import periods
from metrics.ingest import load
from metrics.ingest.loading import Source
from metrics.reference.periods import PeriodError, parse_period

DATA_DIR = Path(tempfile.mkdtemp(prefix="cdp_props_")) / "data"   # dry runs write nothing

# --- the period parser ----------------------------------------------------------------------

DASHES = st.sampled_from(["-", "/", "\u2013", " - ", " / ", " \u2013 "])


def _case(text: str, how: str) -> str:
    return {"upper": text.upper(), "lower": text.lower(), "same": text}[how]


@st.composite
def quarter_spellings(draw):
    fy, q = draw(st.integers(1995, 2090)), draw(st.integers(1, 4))
    yy = f"{(fy + 1) % 100:02d}" if draw(st.booleans()) else str(fy + 1)
    dash = draw(DASHES)
    p = periods.quarter(fy, q)
    months = calendar.month_abbr if draw(st.booleans()) else calendar.month_name
    first, last = months[p.start.month], months[p.end.month]
    text = draw(st.sampled_from([
        f"{fy}{dash}{yy} Q{q}", f"Q{q} {fy}{dash}{yy}", f"{fy}{dash}{yy} Quarter {q}",
        f"{first}-{last} {p.start.year}", f"{first} to {last} {p.start.year}",
        f"{first} {p.start.year} - {last} {p.end.year}"]))
    return _case(text, draw(st.sampled_from(["upper", "lower", "same"]))), p


@st.composite
def year_spellings(draw):
    fy = draw(st.integers(1995, 2090))
    dash = draw(DASHES)
    yy = f"{(fy + 1) % 100:02d}"
    text = draw(st.sampled_from([f"{fy}{dash}{yy}", f"{fy}{dash}{fy + 1}", f"FY {fy}/{yy}",
                                 f"Year ending March {fy + 1}", f"April {fy} to March {fy + 1}",
                                 f"financial year {fy}-{yy}"]))
    return text, periods.financial_year(fy)


@st.composite
def rolling_spellings(draw):
    fy, q = draw(st.integers(1995, 2090)), draw(st.integers(1, 4))
    p = periods.rolling_12m(fy, q)
    end_month = calendar.month_name[p.end.month]
    options = [f"12 months to {periods.quarter(fy, q).label}",
               f"12 months to {fy}-{(fy + 1) % 100:02d} Q{q}"]
    if q != 4:  # a year ending March is a financial year
        options += [f"year ending {end_month} {p.end.year}",
                    f"{calendar.month_abbr[p.start.month]} {p.start.year} - "
                    f"{calendar.month_abbr[p.end.month]} {p.end.year}"]
    return draw(st.sampled_from(options)), p


@st.composite
def pooled_spellings(draw):
    y = draw(st.integers(1995, 2090))
    dash = draw(st.sampled_from([" - ", " \u2013 ", "-", "\u2013"]))
    end = draw(st.sampled_from([f"{(y + 2) % 100:02d}", str(y + 2)]))
    return f"{y}{dash}{end}", periods.pooled_3y(y)


@given(st.one_of(quarter_spellings(), year_spellings(), rolling_spellings(),
                 pooled_spellings()))
def test_every_spelling_reads_as_the_same_period(case):
    text, expected = case
    parsed = parse_period(text)
    assert parsed == expected, text
    assert parse_period(parsed.label) == parsed     # the display form reads back


@given(st.text(max_size=40))
def test_the_parser_only_ever_refuses_with_a_period_error(text):
    try:
        p = parse_period(text)
    except PeriodError:
        return
    assert p.kind in periods.KINDS and p.start <= p.end


# --- the readers -----------------------------------------------------------------------------

AREAS = ["E92000001", "E12000009", "E10000013", "E06000023", "E06000053", "E08000025"]
QUARTERS = [periods.quarter(2023, q).label for q in (1, 2, 3, 4)]
NOTES = ["", "Provisional \u2013 revised", "\u00a3 not applicable", "note, with comma"]
HEADER = ["indicator_id", "area_code", "period", "numerator", "denominator", "value_note"]

rows_strategy = st.lists(
    st.tuples(st.sampled_from(AREAS), st.sampled_from(QUARTERS), st.integers(0, 500),
              st.integers(0, 500), st.sampled_from(NOTES)),
    min_size=1, max_size=20, unique_by=lambda r: (r[0], r[1]))


def _rows(draw_rows):
    return [["continuity_of_care", a, p, n, n + extra, note]
            for a, p, n, extra, note in draw_rows]


def _csv(rows, encoding, delimiter, titles):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for title in titles:
        writer.writerow([title])
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _xlsx(rows, titles):
    wb = Workbook()
    sheet = wb.active
    for title in titles:
        sheet.append([title])
    sheet.append(HEADER)
    for r in rows:
        sheet.append([c if c != "" else None for c in r])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _parquet(rows):
    buffer = io.BytesIO()
    frame = pd.DataFrame(rows, columns=HEADER)
    frame["value_note"] = frame["value_note"].replace("", None)
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_strategy,
       st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "xlsx", "parquet"]),
       st.sampled_from([",", ";", "\t"]),
       st.lists(st.sampled_from(["Continuity of care", "Source: NDTMS", ""]), max_size=3))
def test_any_container_reads_back_the_same_rows(drawn, container, delimiter, titles):
    rows = _rows(drawn)
    if container == "xlsx":
        data, name = _xlsx(rows, titles), "extract.xlsx"
    elif container == "parquet":
        data, name = _parquet(rows), "extract.parquet"
    else:
        titles = [t for t in titles if t]   # blank title lines are blank lines in a CSV
        data, name = _csv(rows, container, delimiter, titles), "extract.csv"
    report = load([Source(name, data)], DATA_DIR, dry_run=True)
    assert report.ok, [str(i) for i in report.errors]
    got = report.values
    got_set = {(a, p, float(n), float(d), note or "")
               for a, p, n, d, note in zip(got["area_code"], got["period"], got["numerator"],
                                           got["denominator"], got["value_note"].fillna(""))}
    want = {(r[1], r[2], float(r[3]), float(r[4]), r[5]) for r in rows}
    assert got_set == want


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(["x.csv", "x.xlsx", "x.parquet", "x.xls",
                                                  "x.txt"]))
def test_arbitrary_bytes_are_refused_never_raised(data, name):
    report = load([Source(name, data)], DATA_DIR, dry_run=True)
    assert not report.published
    assert report.errors or report.ok   # a report, whatever the bytes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), max_size=8), max_size=12))
def test_arbitrary_csv_cells_are_refused_or_read_never_raised(cells):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER] + cells)
    report = load([Source("cells.csv", buffer.getvalue().encode("utf-8"))], DATA_DIR,
                  dry_run=True)
    assert not report.published


# --- re-issues: no published row is ever lost --------------------------------------------------

# Keys of one indicator: 2 areas x 2 quarters x (the total + 2 sex + 2 substance rows).
_TIERS = [(None, None), ("sex", "Male"), ("sex", "Female"), ("substance", "Opiate"),
          ("substance", "Alcohol only")]
_KEYS = [(area, q, b, c) for area in ("E10000013", "E06000023") for q in (1, 2)
         for b, c in _TIERS]


def _values_of(keys, numerator: float) -> pd.DataFrame:
    import datetime as dt
    from metrics import store
    return pd.DataFrame([{
        "indicator_id": "continuity_of_care", "area_code": area, "period": f"2024/25 Q{q}",
        "period_kind": "quarter", "period_start": dt.date(2024, 3 * q + 1, 1),
        "period_end": dt.date(2024, 3 * q + 3, 28), "breakdown": b, "category": c,
        "numerator": numerator, "denominator": 100.0, "value": numerator,
        "lower95": None, "upper95": None, "lower998": None, "upper998": None,
        "value_note": None} for area, q, b, c in keys],
        columns=list(store.VALUES_COLUMNS)).astype(store.VALUES_COLUMNS)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(published=st.sets(st.sampled_from(_KEYS), min_size=1),
       reissued=st.sets(st.sampled_from(_KEYS), min_size=1))
def test_a_load_replaces_exactly_the_rows_it_holds(published, reissued):
    """Whatever is published and whatever a load holds (totals, some breakdown rows, a
    mixture), the new version is every published row the load does not hold, unchanged,
    plus the load's rows; the plan counts exactly the rows replaced."""
    from metrics import store
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        base = store.publish(data_dir, {"values": _values_of(sorted(published, key=str), 10.0)},
                             {"demo": False})
        new = _values_of(sorted(reissued, key=str), 20.0)
        con = store.scratch_connection(data_dir)
        try:
            con.register("new_rows", new.assign(_seq=range(len(new))))
            plan = store.plan_reissue(con, base.path / "values.parquet",
                                      data_dir / "keys.parquet", data_dir / "rows.parquet")
        finally:
            con.close()
        key = lambda r: (r.area_code, int(r.period[-1]),  # noqa: E731
                         None if pd.isna(r.breakdown) else r.breakdown,
                         None if pd.isna(r.category) else r.category)
        expected = {k: 10.0 for k in published} | {k: 20.0 for k in reissued}
        # Both ways of dropping the replaced rows: matched by key again, or by the row
        # numbers the plan found (what a load uses).
        for rows in (None, plan.rows_path):
            version = store.publish_merged(data_dir, base, new, {}, lambda v, n: {},
                                           data_dir, replaces=plan.count > 0,
                                           replaced_rows=rows)
            out = store.read_table(version, "values")
            got = {key(r): r.numerator for r in out.itertuples()}
            assert len(got) == len(out)                              # no key twice
            assert got == expected
        assert plan.count == len(published & reissued)
        assert (plan.rows_path is not None) == (plan.count > 0)
        if plan.count:
            replaced = pd.read_parquet(data_dir / "keys.parquet")
            assert {key(r) for r in replaced.itertuples()} == published & reissued
        assert sum(s["rows_replaced"] for s in plan.summary) == plan.count
