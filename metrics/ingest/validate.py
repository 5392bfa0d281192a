"""Turn one raw table into rows of the long format, checking every rule on the way.

The rules (each an error that stops the load; every message names the file, the rows,
the column and the problem):
  missing required columns · unknown indicator · unknown area code or area name ·
  unknown or ambiguous period · non-numeric value · negative count · numerator above
  denominator · percentage above 100 · interval not containing the value · duplicate rows
  (checked across the whole load, in `load.py`) · empty or unreadable file (`readers`).
Warnings (shown, not blocking) that need only the file: values that look like
proportions rather than percentages, a value that does not match its numerator and
denominator. Warnings against what is published are in `checks.py`.

Suppressed cells (`*`, `[c]`, or an empty value with a value note) are not errors: they
load as a missing value with `value_note` set. Rows with no value, no count and no note
are skipped and counted. Title rows, blank rows, note rows and totals rows are dropped
and counted.

Everything is vectorised over distinct values (factorize, then map), so a million-row
extract is checked in about a second.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from metrics import stats
from metrics.ingest import definitions, standardised
from metrics.reference import catalogue, periods
from metrics.reference.formatting import plural
from metrics.stats import disclosure
from metrics.ingest import columns
from metrics.ingest.areas import AreaIndex
from metrics.ingest.model import ERROR, NOTE, WARNING, Issues, listing, repeated
from metrics.ingest.readers import RawTable

SUPPRESSED = {"*", "**", "[c]", "c", "~", "<5", "< 5", "supp", "suppressed", "[low]"}
NOT_AVAILABLE = {"", "-", "--", "..", ":", "[x]", "x", "[z]", "z", "n/a", "na", "#n/a",
                 "nan", "none", "null"}
TOTAL_WORDS = {"total", "totals", "grand total", "all", "all areas", "sum", "overall",
               "total all areas"}
# Indicators also published for a second kind of period (the demonstration set and NDTMS
# publish continuity of care by quarter as well as for rolling 12 months).
EXTRA_KINDS = {"continuity_of_care": {"quarter"}}
KIND_WORDS = {"quarter": "quarter", "financial_year": "financial year",
              "rolling_12m": "rolling 12 months", "calendar_year": "calendar year",
              "pooled_3y": "3 pooled years"}
KIND_EXAMPLES = {"quarter": "2024/25 Q1", "financial_year": "2024/25",
                 "rolling_12m": "12 months to 2024/25 Q1", "calendar_year": "2024",
                 "pooled_3y": "2021 - 23"}
# Phrases that name a catalogue indicator in a title row, sheet or file name.
TITLE_ALIASES = {
    "continuity of care": "continuity_of_care",
    "treatment progress": "treatment_progress",
    "adults in treatment": "adults_in_treatment",
    "numbers in treatment adults": "adults_in_treatment",
    "young people in treatment": "young_people_in_treatment",
    "deaths in treatment": "deaths_in_treatment",
    "new presentations": "new_presentations",
    "residential rehab": "residential_rehab",
    "inpatient detox": "inpatient_detox",
    "re presentations": "re_presentations",
    "representations": "re_presentations",
    "neighbourhood crime": "neighbourhood_crime",
    "drug related homicide": "drug_homicide",
    "county lines": "county_lines_closed",
    "drug seizures": "drug_seizures",
    "deaths related to drug misuse": "drug_misuse_deaths",
    "drug misuse deaths": "drug_misuse_deaths",
    "drug poisoning admissions": "drug_poisoning_admissions",
}
ADDITIONAL_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


@dataclass
class Catalogue:
    """What indicators are known: the catalogue plus additional metrics already published."""
    additional: dict[str, dict] = field(default_factory=dict)   # id -> {title, unit, ...}

    def unit(self, indicator_id: str) -> str | None:
        if indicator_id in catalogue.BY_ID:
            return catalogue.BY_ID[indicator_id].unit
        return self.additional.get(indicator_id, {}).get("unit") or None


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


_TITLE_INDEX = {_norm(ind.title): ind.id for ind in catalogue.INDICATORS}
_TITLE_INDEX.update({_norm(ind.id): ind.id for ind in catalogue.INDICATORS})
_FINGERTIPS = {ind.fingertips_id: ind.id for ind in catalogue.INDICATORS if ind.fingertips_id}
# A Fingertips indicator also matches a catalogue metric by name: the catalogue title or a
# Fingertips name the catalogue records (compared ignoring case, punctuation and spacing).
_FINGERTIPS_NAMES = {_norm(ind.title): ind.id for ind in catalogue.INDICATORS}
_FINGERTIPS_NAMES.update({_norm(name): ind_id
                          for ind_id, names in catalogue.FINGERTIPS_NAMES.items()
                          for name in names})


# --- cells -----------------------------------------------------------------------------

def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return f"\x00date:{value:%Y-%m-%d}"
    return str(value).strip()


def text_column(col: pd.Series) -> pd.Series:
    """Cells as stripped text; '' where empty. Dates from workbooks are marked."""
    if isinstance(col.dtype, pd.StringDtype) or col.dtype == "str":
        return col.fillna("").str.strip()
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return col.map(lambda v: "" if pd.isna(v) else f"\x00date:{v:%Y-%m-%d}")
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    texts = np.array([_cell_text(u) for u in uniques] + [""], dtype=object)
    return pd.Series(texts[codes], index=col.index, dtype=object)


@dataclass
class Numbers:
    values: np.ndarray
    suppressed: np.ndarray
    invalid: np.ndarray
    raw: pd.Series | None = None


def number_column(col: pd.Series) -> Numbers:
    n = len(col)
    none = np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        return Numbers(values, none, ~np.isfinite(values) & ~np.isnan(values))
    try:  # fast path: plain numbers and blanks, parsed by Arrow
        arr = pa.array(col, from_pandas=True)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            arr = pc.utf8_trim_whitespace(arr)
            arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
            values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            values = np.asarray(values, dtype=float)
            if np.isfinite(values[~np.isnan(values)]).all():
                return Numbers(values, none, none.copy())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    text = text_column(col)
    lower = text.str.lower()
    suppressed = lower.isin(SUPPRESSED).to_numpy()
    missing = lower.isin(NOT_AVAILABLE).to_numpy()
    bare = text.str.replace("%", "", regex=False).str.replace("\u00a3", "", regex=False) \
        .str.strip()
    # A comma is read only as a thousands separator ("1,234.5"): "45,5" (a decimal comma,
    # or a typing slip) would otherwise silently become 455, so it is refused instead.
    comma = bare.str.contains(",", regex=False, na=False).to_numpy(bool)
    stray_comma = comma.copy()
    if comma.any():   # the pattern only where there is a comma: a million rows cost 0.5 s
        stray_comma[comma] = ~bare[comma].str.fullmatch(
            r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", na=False).to_numpy(bool)
    cleaned = bare.str.replace(",", "", regex=False)
    cleaned = cleaned.where(~(suppressed | missing | stray_comma), None)
    values = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    invalid = (np.isnan(values) | ~np.isfinite(values)) & ~suppressed & ~missing
    values = np.where(np.isfinite(values), values, np.nan)
    return Numbers(values, suppressed, invalid, text)


# --- one table ---------------------------------------------------------------------------

@dataclass
class TableResult:
    rows: pd.DataFrame                 # long format plus _file, _row, _unit
    additional: dict[str, dict]        # additional metrics met here
    format: str
    rows_read: int
    # Columns of `rows` whose values repeat, as (index per row, distinct values): the
    # distinct values converted once (an Arrow take) instead of a Python string per row.
    coded: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _empty_rows() -> pd.DataFrame:
    from metrics import store
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in store.VALUES_COLUMNS})
    for c in ("_file", "_row", "_unit"):
        frame[c] = pd.Series(dtype="object")
    return frame


def _obj(values, n: int | None = None) -> pd.Series:
    """An object column: pandas would otherwise turn Python strings into Arrow strings
    on assignment, which costs a second per million rows and is undone later."""
    if n is not None:
        return pd.Series(repeated(n, values), dtype=object)
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def map_ids(ids: np.ndarray, mapping: dict, default=None) -> np.ndarray:
    """mapping[id] for every element, looked up once per distinct id."""
    codes, uniques = pd.factorize(pd.Series(ids, dtype=object))
    looked = [mapping.get(u, default) for u in uniques] + [default]
    return np.array(looked, dtype=object)[codes]


def factorize_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct ids) of an object column of ids, in order of first appearance;
    None has code -1. Done once per table: every check after it looks up per distinct
    indicator, not per row (hashing a million strings costs a tenth of a second each time)."""
    codes, uniques = pd.factorize(pd.Series(ids, dtype=object))
    return np.asarray(codes), np.asarray(uniques, dtype=object)


def _by_code(codes: np.ndarray, uniques, mapping: dict, default=None) -> np.ndarray:
    """map_ids for ids already factorised into (codes, uniques)."""
    looked = [mapping.get(u, default) for u in uniques] + [default]
    return np.array(looked, dtype=object)[codes]


def table_to_rows(table: RawTable, file_name: str, areas: AreaIndex, known: Catalogue,
                  issues: Issues) -> TableResult:
    fmt = columns.detect_format(table.headers)
    mapping, clashes, unused = columns.map_columns(table.headers, fmt)
    for fld, names in clashes:
        issues.add(ERROR, f"columns {listing(names)} all look like the "
                          f"{fld.replace('_', ' ')}: keep one or rename the others")
    if unused:
        issues.add(NOTE, f"columns not used: {', '.join(unused[:15])}"
                         + (f" and {len(unused) - 15} more" if len(unused) > 15 else ""))
    missing = []
    if not set(columns.AREA_FIELDS) & set(mapping):
        missing.append("area (a column named area_code, Area Code, DAT code or Area name)")
    if "period" not in mapping:
        missing.append("period (a column named period, Time period, Quarter or Year; or "
                       "declare it with --period PERIOD)")
    if not {"value", "numerator", "value_note"} & set(mapping):
        missing.append("value (a column named value, Value, Percentage, Rate, Count or "
                       "numerator)")
    indicator_from_title = None
    if "indicator_id" not in mapping:
        indicator_from_title = _indicator_from_title(
            " ".join([table.title, table.sheet or "", file_name]))
        if indicator_from_title is None:
            missing.append("indicator (an indicator_id or Indicator ID column, or a title "
                           "row naming one catalogue indicator; or declare it with "
                           "--indicator ID)")
    if missing:
        found = listing(h for h in table.headers if h) or "none"
        issues.add(ERROR, f"missing required columns: {'; '.join(missing)}. Columns found "
                          f"(header on row {table.header_row}): {found}")
        return TableResult(_empty_rows(), {}, fmt, 0)
    if clashes:
        return TableResult(_empty_rows(), {}, fmt, 0)

    data, rownum = table.data, table.row_numbers
    text = {f: text_column(data[i]) for f, i in mapping.items()
            if f not in columns.NUMERIC_FIELDS}
    numbers = {f: number_column(data[i]) for f, i in mapping.items()
               if f in columns.NUMERIC_FIELDS}
    n = len(data)

    # Blank, note and totals rows.
    nonempty = np.zeros(n, dtype=int)
    for series in text.values():
        nonempty += (series != "").to_numpy()
    for num in numbers.values():
        nonempty += (~np.isnan(num.values) | num.suppressed | num.invalid).astype(int)
    blank = nonempty == 0
    note_rows = nonempty == 1
    totals = np.zeros(n, dtype=bool)
    for f in (*columns.AREA_FIELDS, "period"):
        if f in text:
            # Tested once per distinct cell (areas and periods repeat), then mapped back.
            codes, uniques = pd.factorize(text[f])
            lowered = pd.Series(uniques).str.lower().str.strip(" :")
            is_total = (lowered.isin(TOTAL_WORDS) | lowered.str.startswith("total "))
            totals |= np.append(is_total.to_numpy(dtype=bool, na_value=False),
                                False)[np.asarray(codes)]
    totals &= ~blank & ~note_rows
    if note_rows.any():
        issues.add_rows(NOTE, "rows with a single cell (titles, notes or sources) were not "
                              "read as data", None, rownum[note_rows])
    if totals.any():
        issues.add_rows(NOTE, "totals rows were left out (totals are not areas)", None,
                        rownum[totals])
    keep = ~(blank | note_rows | totals)
    rows_read = int(keep.sum())

    cols: dict[str, np.ndarray] = {"_row": rownum}

    # Indicators.
    additional: dict[str, dict] = {}
    if indicator_from_title is not None:
        ind_ids = repeated(n, indicator_from_title)
        issues.add(NOTE, f"no indicator column: every row read as "
                         f"'{catalogue.get(indicator_from_title).title}' (named in the "
                         "title or sheet)")
        bad_indicator = np.zeros(n, dtype=bool)
    else:
        factorized: list = []
        ind_ids, bad_indicator, additional = _resolve_indicators(
            text["indicator_id"], text.get("indicator_name"), text.get("unit"), fmt, known,
            issues, rownum, keep, table.headers[mapping["indicator_id"]], factorized)
    cols["indicator_id"] = ind_ids
    ind_codes, ind_uniques = factorized if indicator_from_title is None \
        else factorize_ids(ind_ids)
    _new_metric_outcomes(text.get("outcome"), ind_ids, additional, issues, rownum, keep)

    # Areas.
    geography = _geographies(ind_codes, ind_uniques)
    if "area_name" in mapping and _FORCE_HEADER.search(table.headers[mapping["area_name"]]):
        # A metric the catalogue does not know, in a table whose area column is a police
        # force: its names are forces ("Gloucestershire" the force, not the county).
        known_ids = np.isin(ind_ids.astype(str), list(catalogue.BY_ID))
        geography = np.where(known_ids, geography, "pfa")
    names = {f: table.headers[i] for f, i in mapping.items()}
    cols["area_code"], bad_area, skip_area, by_name, area_src = _resolve_areas(
        text, geography, areas, issues, rownum, keep, names, table.both_tiers)
    had_rows = keep.any()
    keep &= ~skip_area
    # A chunk of a large file may hold only skipped rows: the loader decides on the file.
    if had_rows and not keep.any() and not table.chunk:
        issues.add(ERROR, NOTHING_USABLE)

    # Periods.
    labels, kinds, starts, ends, bad_period, period_codes, period_by_code = _resolve_periods(
        text["period"], ind_ids, issues, rownum, keep & ~bad_indicator, names["period"],
        ind_codes)
    cols.update(period=labels, period_kind=kinds, period_start=starts, period_end=ends)
    keep &= ~_renamed_over(areas, cols["area_code"], by_name, starts, issues, rownum, keep)

    # Breakdowns.
    coded_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    breakdown, category = _breakdowns(text, ind_ids, fmt, table.breakdown_totals, coded_rows)
    none = repeated(n, None)
    cols["breakdown"] = none if breakdown is None else breakdown
    cols["category"] = none if category is None else category

    # Numbers.
    for f in columns.NUMERIC_FIELDS:
        if f in numbers:
            num = numbers[f]
            bad = num.invalid & keep
            if bad.any():
                issues.add_by_value(ERROR, table.headers[mapping[f]], num.raw[bad],
                                    rownum[bad], lambda v: f"not a number: '{v}'")
            cols[f] = num.values
        else:
            cols[f] = np.full(n, np.nan)
    suppressed = np.zeros(n, dtype=bool)
    for f in ("value", "numerator", "denominator"):
        if f in numbers:
            suppressed |= numbers[f].suppressed
    if "value_note" in text:
        note = text["value_note"].to_numpy(dtype=object)
        note = np.where(suppressed & (note == ""), disclosure.NOTE, note)
        cols["value_note"] = np.where(note == "", None, note)
    else:
        cols["value_note"] = np.where(suppressed, disclosure.NOTE, None)
    cols["_suppressed"] = suppressed

    # Rows with nothing in them.
    nothing = (np.isnan(cols["value"]) & np.isnan(cols["numerator"])
               & pd.isna(cols["value_note"]) & keep)
    for f in columns.NUMERIC_FIELDS:
        if f in numbers:
            nothing &= ~numbers[f].invalid
    if nothing.any():
        issues.add_rows(NOTE, "rows with no value, count or note were skipped", None,
                        rownum[nothing])
    keep &= ~nothing

    bad_any = bad_indicator | bad_area | bad_period
    for f in columns.NUMERIC_FIELDS:
        if f in numbers:
            bad_any |= numbers[f].invalid
    sel = keep & ~bad_any
    every = bool(sel.all())   # the usual case: no copy of each column to select rows

    def pick(v):
        return v if every else v[sel]

    # Per distinct indicator, in the order the rows first give them (as pd.unique would).
    codes_now = pick(ind_codes)
    id_of = np.append(ind_uniques, None)     # code -1 (no indicator) is None
    units = {id_of[c]: known.unit(id_of[c]) or additional.get(id_of[c], {}).get("unit")
             for c in pd.unique(codes_now)}
    unit_by_code = np.array([units.get(i) for i in ind_uniques] + [None], dtype=object)
    columns_out = {k: pd.Series(pick(v), dtype=object, copy=False) if v.dtype == object
                   else pick(v) for k, v in cols.items()}
    columns_out["_file"] = pd.Series(repeated(len(codes_now), table.label),
                                     dtype=object, copy=False)
    columns_out["_unit"] = pd.Series(unit_by_code[codes_now], dtype=object, copy=False)
    # copy=False: the columns are this function's own new arrays, and pandas would
    # otherwise copy every object column into one block (a tenth of the chunk's time).
    out = pd.DataFrame(columns_out, copy=False)
    period_codes = pick(period_codes)
    coded_rows = {c: (pick(i), v) for c, (i, v) in coded_rows.items()}
    out, kept = _two_codes_one_area(out, pick(area_src), areas, issues)
    if kept is not None:
        codes_now, period_codes = codes_now[kept], period_codes[kept]
        coded_rows = {c: (i[kept], v) for c, (i, v) in coded_rows.items()}
    gave_limits = standardised.file_gave_limits(out)
    out = check_and_complete(out, issues, table, mapping,
                             {i: a.get("title") for i, a in {**known.additional,
                                                              **additional}.items()},
                             (codes_now, ind_uniques),
                             (period_codes, period_by_code["period_end"]))
    # Metrics the catalogue does not list: values and intervals by the method their unit
    # implies (metrics.ingest.definitions), so they are compared with England like the others.
    if any(i is not None and i not in catalogue.BY_ID for i in units):
        out = definitions.complete_loaded(out, units)
    # Standardised rates: approximate intervals marked, none on fewer than 10 events.
    rows_before = out["_row"].to_numpy()
    out = standardised.finish(out, gave_limits, units, issues,
                              table.headers[mapping["numerator"]] if "numerator" in mapping
                              else "numerator",
                              table.headers[mapping["age"]] if "age" in mapping else "age")
    if not np.array_equal(out["_row"].to_numpy(), rows_before):
        # Area totals were made from age bands: the rows no longer line up with the codes
        # below, so the spool converts these rows the ordinary way.
        return TableResult(out, additional, fmt, rows_read, None)
    # -1 (no indicator, no period) is the last value, None.
    coded = {"indicator_id": (np.where(codes_now < 0, len(ind_uniques), codes_now), id_of)}
    period_index = np.where(period_codes < 0, len(period_by_code["period"]) - 1, period_codes)
    coded.update({c: (period_index, v) for c, v in period_by_code.items()})
    coded.update(coded_rows)
    return TableResult(out, additional, fmt, rows_read, coded)


def _indicator_from_title(text: str) -> str | None:
    norm = f" {_norm(text)} "
    found = {iid for title, iid in _TITLE_INDEX.items() if f" {title} " in norm}
    found |= {iid for phrase, iid in TITLE_ALIASES.items() if f" {phrase} " in norm}
    # A title naming a specific indicator also contains its shorter aliases' words.
    if len(found) > 1:
        titled = {iid for title, iid in _TITLE_INDEX.items() if f" {title} " in norm}
        found = titled if len(titled) == 1 else found
    return next(iter(found)) if len(found) == 1 else None


def _resolve_indicators(ids: pd.Series, names: pd.Series | None, units: pd.Series | None,
                        fmt: str, known: Catalogue, issues: Issues, rownum, keep,
                        column: str = "indicator", factorized: list | None = None):
    """(indicator id per row or None, rows that are bad, additional metrics). Each
    distinct cell is resolved once; `factorized`, when given, receives the rows' ids
    as factorize_ids would give them (codes, distinct ids), worked out from the cells'."""
    codes, uniques = pd.factorize(ids)
    codes = np.asarray(codes)
    name_of = {}
    unit_of = {}
    if names is not None:
        first = pd.DataFrame({"id": ids, "name": names}).drop_duplicates("id")
        name_of = dict(zip(first["id"], first["name"]))
    if units is not None:
        first = pd.DataFrame({"id": ids, "unit": units}).drop_duplicates("id")
        unit_of = dict(zip(first["id"], first["unit"]))
    resolved: list[str | None] = []
    additional: dict[str, dict] = {}
    for raw in uniques:
        raw = str(raw)
        result = None
        digits = raw.removesuffix(".0")
        if fmt == columns.FINGERTIPS or digits.isdigit():
            if digits.isdigit():
                ft = int(digits)
                result = _FINGERTIPS.get(ft) or _fingertips_by_name(ft, name_of.get(raw),
                                                                     issues)
                if result is None:
                    result = f"fingertips_{ft}"
                    additional[result] = {"title": name_of.get(raw) or f"Fingertips {ft}",
                                          "unit": unit_of.get(raw) or None,
                                          "source": "Fingertips (OHID)", "fingertips_id": ft}
        else:
            result = catalogue.BY_ID.get(raw) and raw
            result = result or _TITLE_INDEX.get(_norm(raw)) or TITLE_ALIASES.get(_norm(raw))
            if result is None and raw in known.additional:
                result = raw
            if result is None and ADDITIONAL_ID.match(raw) and name_of.get(raw):
                result = raw
                additional[raw] = {"title": name_of[raw], "unit": unit_of.get(raw) or None,
                                   "source": "Loaded extract", "fingertips_id": None}
        resolved.append(result)
    resolved_arr = np.array(resolved + [None], dtype=object)
    out = resolved_arr[codes]
    # Per distinct cell, then mapped back: no unresolved id, or an empty cell.
    bad = np.array([r is None or u == "" for r, u in zip(resolved, uniques)] + [True],
                   dtype=bool)[codes]
    if factorized is not None:
        # The cells are in order of first appearance, so their ids are too.
        id_codes, id_uniques = pd.factorize(pd.Series(resolved, dtype=object))
        factorized.extend([np.append(np.asarray(id_codes), -1)[codes],
                           np.asarray(id_uniques, dtype=object)])
    bad_shown = bad & keep
    if bad_shown.any():
        def problem(value):
            if value == "":
                return "the indicator is empty"
            close = difflib.get_close_matches(value, list(catalogue.BY_ID), n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            return (f"unknown indicator '{value}'{hint}; catalogue ids are listed in "
                    "metrics/reference/catalogue.py. A new metric needs an indicator_name column")
        issues.add_by_value(ERROR, column, ids[bad_shown], rownum[bad_shown], problem)
    return out, bad, additional


def _new_metric_outcomes(outcomes: pd.Series | None, ind_ids, additional: dict[str, dict],
                         issues: Issues, rownum, keep) -> None:
    """The outcome a new metric's rows name (an `outcome` column): the metric is shown on
    that outcome's page; without one, on the Other metrics page. Catalogue metrics keep
    their own outcome, so the column is ignored for them."""
    if outcomes is None:
        return
    words = {_norm(key): key for key in catalogue.OUTCOMES}
    words.update({_norm(name): key for key, name in catalogue.OUTCOMES.items()})
    words.update({_norm(name): key for key, name in catalogue.OUTCOME_SHORT.items()})
    frame = pd.DataFrame({"id": ind_ids, "outcome": outcomes.to_numpy(dtype=object)})
    frame = frame[frame["id"].isin(list(additional)) & keep & (frame["outcome"] != "")]
    for ind_id, group in frame.groupby("id", sort=False):
        named = {words.get(_norm(o)) for o in group["outcome"].unique()}
        if None in named:
            bad = [o for o in group["outcome"].unique() if words.get(_norm(o)) is None]
            mask = (frame["id"] == ind_id).to_numpy() & frame["outcome"].isin(bad).to_numpy()
            issues.add_rows(ERROR, f"unknown outcome '{bad[0]}' for the new metric "
                                   f"'{ind_id}': use one of {', '.join(catalogue.OUTCOMES)}, "
                                   "or leave it empty to show the metric under Other metrics",
                            "outcome", np.asarray(rownum)[frame.index.to_numpy()[mask]])
        elif len(named) > 1:
            issues.add(ERROR, f"the new metric '{ind_id}' names more than one outcome "
                              f"({', '.join(sorted(named))}): give one")
        else:
            additional[ind_id]["outcome"] = named.pop()


def _fingertips_by_name(ft: int, name, issues: Issues) -> str | None:
    """The catalogue metric a Fingertips indicator with an id the catalogue does not
    record names exactly, if any (said in a note, since the ids differ)."""
    found = _FINGERTIPS_NAMES.get(_norm(name)) if name else None
    if found is not None:
        issues.add(NOTE, f"Fingertips indicator {ft} '{name}' was read as the catalogue's "
                         f"'{catalogue.get(found).title}' (same name; the catalogue records "
                         f"Fingertips id {catalogue.get(found).fingertips_id or 'none'})")
    return found


def _geographies(codes: np.ndarray, uniques) -> np.ndarray:
    geo = [catalogue.BY_ID[i].geography if i in catalogue.BY_ID else "utla" for i in uniques]
    return np.array(geo + ["utla"], dtype=object)[codes]


_FORCE_HEADER = re.compile(r"\bforce\b|\bpfa\b", re.I)
# Fingertips "Area Type" values naming lower-tier lists, where unitary authorities appear a
# second time next to the districts ("Districts & UAs (from Apr 2023)").
_LOWER_TIER_TYPE = re.compile(r"district|lower tier|ltla", re.I)
_UPPER_TIER_TYPE = re.compile(r"count|upper tier|utla|cty|\bua\b|unitary", re.I)


NOTHING_USABLE = ("nothing usable is left: every row is for an area the dashboard does not "
                  "show (see the note on skipped rows)")


def lists_both_tiers(area_types) -> bool:
    """Whether a file's Area Type values include a lower-tier list (districts) and an
    upper-tier one (counties and UAs): then a UA listed again as a district is a copy."""
    lower = [bool(_LOWER_TIER_TYPE.search(t)) for t in area_types]
    upper = [bool(_UPPER_TIER_TYPE.search(t)) and not lo for t, lo in zip(area_types, lower)]
    return any(lower) and any(upper)
SHOWN = 5   # values quoted in one message about many


def _rows(count) -> str:
    count = int(count)
    return f"{count:,} row" + ("" if count == 1 else "s")


def _quote(values: list[str], total: int) -> str:
    shown = ", ".join(values[:SHOWN])
    return shown + (f" and {total - SHOWN:,} more" if total > SHOWN else "")


def _resolve_areas(text, geography, areas: AreaIndex, issues: Issues, rownum, keep,
                   names: dict[str, str], both_tiers: bool | None = None):
    """(ONS code per row, rows that failed, rows skipped on purpose, the text each row was
    placed by). Every cause is one message with a count and the first few values, quoting
    the codes and the names the file gives."""
    n = len(rownum)
    result = repeated(n, None)
    outcome_kind = repeated(n, "")
    detail = repeated(n, "")
    source = repeated(n, "")
    column_used = repeated(n, "")
    code_col = text.get("area_code")
    dat_col = text.get("dat_code")
    name_col = text.get("area_name")

    def apply(todo, column: str, values: pd.Series, resolve):
        nonlocal result, outcome_kind, detail, source, column_used
        codes, uniques = pd.factorize(values)
        outs = [resolve(u) for u in uniques]

        def pick_text():
            if (codes >= 0).all():
                return np.asarray(uniques, dtype=object)[codes]
            return values.to_numpy(dtype=object)

        pick = lambda attr, empty: np.array(  # noqa: E731
            [getattr(o, attr) for o in outs] + [empty], dtype=object)[codes]
        if todo.all():   # one code column for every row: no merging needed
            result, outcome_kind = pick("area_code", None), pick("kind", "")
            # The text per row from its distinct values (no Python string per row).
            detail, source = pick("detail", ""), pick_text()
            column_used = repeated(len(todo), column)
            return
        result = np.where(todo, pick("area_code", None), result)
        outcome_kind = np.where(todo, pick("kind", ""), outcome_kind)
        detail = np.where(todo, pick("detail", ""), detail)
        source = np.where(todo, values.to_numpy(dtype=object), source)
        column_used = np.where(todo, column, column_used)

    if code_col is not None:
        has = (code_col != "").to_numpy()
        if has.any():
            apply(has, "area_code", code_col, areas.resolve_code)
    if dat_col is not None:
        # A DAT code not in the table may still be placed by the name beside it.
        todo = (outcome_kind == "") & (dat_col != "").to_numpy()
        if todo.any():
            apply(todo, "dat_code", dat_col, areas.resolve_dat)
    if name_col is not None:
        # Names are the fallback when there is no code (an unknown ONS code is an error).
        todo = ((outcome_kind == "") | ((outcome_kind == "failed") &
                                        (column_used == "dat_code")))
        todo &= (name_col != "").to_numpy()
        if todo.any():
            pairs = pd.DataFrame({"name": name_col.to_numpy(), "geo": geography})
            codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs))
            outs = [areas.resolve_name(nm, g) for nm, g in uniques]
            pick = lambda attr, empty: np.array(  # noqa: E731
                [getattr(o, attr) for o in outs] + [empty], dtype=object)[codes]
            result = np.where(todo, pick("area_code", None), result)
            outcome_kind = np.where(todo, pick("kind", ""), outcome_kind)
            detail = np.where(todo, pick("detail", ""), detail)
            source = np.where(todo, name_col.to_numpy(dtype=object), source)
            column_used = np.where(todo, "area_name", column_used)

    # Fingertips "all areas" downloads list unitary authorities twice, under counties and
    # under districts: keep the county list, skip the district list's copy.
    area_type = text.get("area_type")
    if area_type is not None:
        types = area_type.to_numpy(dtype=object)
        lower = area_type.str.contains(_LOWER_TIER_TYPE).to_numpy()
        upper = area_type.str.contains(_UPPER_TIER_TYPE).to_numpy() & ~lower
        # For a chunk of a large file, the whole file decides (`both_tiers`).
        if (both_tiers if both_tiers is not None else (lower.any() and upper.any())):
            again = lower & np.isin(outcome_kind, ["placed", "recoded"])
            outcome_kind = np.where(again, "skipped", outcome_kind)
            result = np.where(again, None, result)
        # Skipped rows are counted by the file's own area types where it gives them.
        named = (outcome_kind == "skipped") & (types != "") & (column_used != "area_name")
        detail = np.where(named, types, detail)

    kind_ids, kind_names = pd.factorize(pd.Series(outcome_kind, dtype=object))
    kind_names = list(kind_names)

    def kind_is(*kinds) -> np.ndarray:
        wanted = [kind_names.index(k) for k in kinds if k in kind_names]
        return np.isin(kind_ids, wanted) if wanted else np.zeros(n, dtype=bool)

    def label(mask) -> list[str]:
        """'code (name in the file)' per distinct value, first rows first."""
        frame = pd.DataFrame({"v": source[mask], "c": column_used[mask]})
        frame["n"] = name_col.to_numpy(dtype=object)[mask] if name_col is not None else ""
        first = frame.drop_duplicates("v")
        return [f"'{v}' ({nm})" if c != "area_name" and nm and nm != v else f"'{v}'"
                for v, c, nm in zip(first["v"], first["c"], first["n"])]

    shown_rows = keep.copy()
    # Recoded: today's code for an area whose footprint did not change.
    recoded = kind_is("recoded") & shown_rows
    if recoded.any():
        stories = pd.unique(detail[recoded])
        issues.add_rows(NOTE, f"{_rows(recoded.sum())} recoded to today's area codes "
                              f"(same area, new code): {_quote(list(stories), len(stories))}",
                        None, rownum[recoded])
    # Skipped on purpose: kinds of area not shown, and rows that are not areas.
    skipped = kind_is("skipped") & shown_rows
    if skipped.any():
        frame = pd.DataFrame({"kind": detail[skipped]})
        counts = frame["kind"].value_counts(sort=False)
        parts = []
        for kind, count in counts.items():
            mask = skipped & (detail == kind)
            values = label(mask)
            parts.append(f"{kind}: {_rows(count)} ({_quote(values, len(values))})")
        issues.add_rows(NOTE, f"{_rows(skipped.sum())} skipped: areas of kinds the "
                              f"dashboard does not show, or not areas of England. "
                              + "; ".join(parts), None, rownum[skipped])
    gone = kind_is("gone") & shown_rows
    if gone.any():
        stories = list(pd.unique(detail[gone]))
        issues.add_rows(NOTE, f"{_rows(gone.sum())} skipped for areas that no longer "
                              "exist and whose footprint changed, so their figures cannot be "
                              "shown on today's areas: " + "; ".join(stories), None,
                        rownum[gone])
    joint = kind_is("joint") & shown_rows
    if joint.any():
        stories = list(pd.unique(detail[joint]))
        columns_ = sorted({names.get(c, c) for c in column_used[joint]})
        issues.add_rows(ERROR, "joint DAT footprints cannot be placed on one area: "
                               + "; ".join(stories) + ". Give the partnership's own figures "
                               "for each council, or place the footprint with an area lookup "
                               "(setting ingest.area_lookup, columns code, name, area_code)",
                        ", ".join(columns_), rownum[joint])
    failed = kind_is("failed", "") & shown_rows
    # Nothing failed (the usual case): no pass over the column names of every row.
    empty = failed & (column_used == "") if failed.any() else failed
    if empty.any():
        issues.add_rows(ERROR, "the area is empty", None, rownum[empty])
    for col in ("area_code", "dat_code", "area_name") if failed.any() else ():
        mask = failed & (column_used == col)
        if not mask.any():
            continue
        frame = pd.DataFrame({"v": source[mask], "why": detail[mask]})
        first = frame.drop_duplicates("v")
        values = label(mask)
        whys = sorted(set(first["why"]))
        if col == "area_code":
            what = (f"{plural(len(values), 'area code')} did not match (not an England, region, "
                    "upper-tier or police force area code in data/reference/areas.csv, nor a "
                    "former code in area_successors.csv)")
        elif col == "dat_code":
            what = (f"{plural(len(values), 'DAT code')} did not match ({'; '.join(whys)}) and had "
                    "no area name that matched")
        else:
            reasons = [f"'{v}': {w}" for v, w in zip(first["v"], first["why"])]
            what = f"{plural(len(values), 'area name')} did not match"
            values = reasons
        hint = ""
        if col != "area_code":
            hint = (". Names are matched ignoring case, '&'/'and', ', City of' and a 'UA' or "
                    "police suffix; a name or DAT code the reference tables do not know "
                    "needs an area lookup file (setting ingest.area_lookup)")
        issues.add_rows(ERROR, f"{what}: {_quote(values, len(values))}{hint}",
                        names.get(col, col), rownum[mask])
    bad = kind_is("failed", "joint", "")
    skip = kind_is("skipped", "gone")
    by_name = column_used == "area_name"
    placed_by = np.where(by_name, source, "") if by_name.any() else repeated(n, "")
    return result, bad, skip, placed_by, source


def _renamed_over(areas: AreaIndex, area_codes, by_name, starts, issues: Issues, rownum,
                  keep) -> np.ndarray:
    """Rows placed by a name that today's area shares with a former area of another
    footprint ('Dorset' before April 2019 was the county with Christchurch): skipped."""
    over = areas.renamed_over or {}
    out = np.zeros(len(rownum), dtype=bool)
    if not over:
        return out
    for code, (changed_on, story) in over.items():
        cut = dt.date.fromisoformat(changed_on)
        mask = (area_codes == code) & (by_name != "")
        if not mask.any():
            continue
        before = np.array([s is not None and s < cut for s in starts], dtype=bool)
        mask &= before
        out |= mask
        if (mask & keep).any():
            issues.add_rows(NOTE, f"{_rows((mask & keep).sum())} skipped: the name "
                                  f"'{by_name[mask][0]}' for a period before "
                                  f"{cut:%B %Y} means the former area ({story}), not "
                                  f"today's {areas.name_of(code)} ({code})", None,
                            rownum[mask & keep])
    return out


def _two_codes_one_area(out: pd.DataFrame, sources: np.ndarray, areas: AreaIndex,
                        issues: Issues) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Rows that two different codes (or names) of the file place on the same area for the
    same indicator, period and breakdown: one error naming both codes and the area, and
    one row kept so the duplicate check does not say it again. Returns the rows and which
    rows of `out` they are (None: all of them)."""
    if out.empty:
        return out, None
    # Fast ways out (the usual case): every row placed by its own ONS code, or no area
    # reached from two different texts.
    if (np.asarray(sources, dtype=object) == out["area_code"].to_numpy(dtype=object)).all():
        return out, None
    area_ids, _ = pd.factorize(out["area_code"])
    src_ids, src_uniques = pd.factorize(pd.Series(sources, dtype=object))
    pairs = np.unique(area_ids.astype(np.int64) * (len(src_uniques) + 1) + src_ids)
    if len(np.unique(pairs // (len(src_uniques) + 1))) == len(pairs):
        return out, None
    keys = ["indicator_id", "area_code", "period", "breakdown", "category"]
    frame = out[keys].astype(object).where(out[keys].notna(), "")
    frame["src"] = sources
    per_key = frame.groupby(keys, sort=False)["src"].nunique()
    clash = per_key[per_key > 1]
    if clash.empty:
        return out, None
    marked = frame.set_index(keys).index.isin(clash.index)
    sub = frame[marked]
    parts = []
    for area, group in sub.groupby("area_code", sort=False):
        srcs = list(pd.unique(group["src"]))
        parts.append(f"{' and '.join(repr(s) for s in srcs)} both land on "
                     f"{areas.name_of(area)} ({area})")
    issues.add_rows(ERROR, "two codes in the file land on one area (a former code and "
                           "today's, or a code given twice): " + "; ".join(parts[:SHOWN])
                    + (f" and {len(parts) - SHOWN} more" if len(parts) > SHOWN else "")
                    + ". Keep one of them", None, out["_row"].to_numpy()[marked])
    kept = ~frame.duplicated(keys).to_numpy()
    return out[kept].reset_index(drop=True), kept


def _resolve_periods(period_text: pd.Series, ind_ids, issues: Issues, rownum, keep,
                     column: str = "period", ind_codes: np.ndarray | None = None):
    """(label, kind, start, end and whether bad, per row; each row's code among the
    distinct period cells, and each of those four columns per code, the last entry for
    an empty cell)."""
    n = len(period_text)
    codes, uniques = pd.factorize(period_text)
    codes = np.asarray(codes)
    parsed: list[periods.Period | None] = []
    errors: dict[int, str] = {}
    for i, raw in enumerate(uniques):
        raw = str(raw)
        if raw.startswith("\x00date:"):
            day = raw.removeprefix("\x00date:")
            errors[i] = (f"ambiguous period: the cell holds the date {day}, which could "
                         "mean the day, the quarter or the year it ends; write the period "
                         "as text, such as 2024/25 Q1")
            parsed.append(None)
            continue
        if raw == "":
            errors[i] = "the period is empty"
            parsed.append(None)
            continue
        try:
            parsed.append(periods.parse_period(raw))
        except periods.PeriodError as exc:
            errors[i] = f"unknown period: {exc}"
            parsed.append(None)
    bad = np.zeros(n, dtype=bool)
    for i, message in errors.items():
        mask = (codes == i)
        bad |= mask
        if (mask & keep).any():
            issues.add_rows(ERROR, message, column, rownum[mask & keep])
    by_code = {col: np.array([getattr(p, attr) if p else None for p in parsed] + [None],
                             dtype=object)
               for col, attr in (("period", "label"), ("period_kind", "kind"),
                                 ("period_start", "start"), ("period_end", "end"))}
    labels, kinds, starts, ends = (by_code[c][codes] for c in
                                   ("period", "period_kind", "period_start", "period_end"))

    # A period of the wrong kind for a catalogue indicator is ambiguous or wrong.
    # Object columns: pandas would otherwise copy the labels into Arrow strings, which
    # costs more than the check itself.
    pairs = pd.DataFrame({"ind": ind_ids, "kind": kinds, "label": labels}, dtype=object)
    if ind_codes is None:
        ind_codes, _ = factorize_ids(ind_ids)
    ok_rows = ~bad & (ind_codes >= 0)
    combos = _first_pairs(ind_ids, codes, kinds, ok_rows, ind_codes)
    for ind_id, kind in combos:
        if ind_id not in catalogue.BY_ID:
            continue
        ind = catalogue.BY_ID[ind_id]
        allowed = {ind.period_kind} | EXTRA_KINDS.get(ind_id, set())
        if kind in allowed:
            continue
        mask = ok_rows & (pairs["ind"] == ind_id).to_numpy() & (pairs["kind"] == kind).to_numpy()
        example = pairs["label"][mask].iloc[0]
        want = KIND_EXAMPLES[ind.period_kind]
        if kind == "quarter" and ind.period_kind == "rolling_12m":
            message = (f"ambiguous period '{example}': {ind.title} is reported for rolling "
                       f"12 months; write '12 months to {example}' if the figure covers the "
                       "12 months to the end of that quarter")
        else:
            message = (f"period '{example}' is a {KIND_WORDS[kind]}, but {ind.title} is "
                       f"reported by {KIND_WORDS[ind.period_kind]} (such as '{want}')")
        bad |= mask
        if (mask & keep).any():
            issues.add_rows(ERROR, message, column, rownum[mask & keep])
    return labels, kinds, starts, ends, bad, codes, by_code


def _first_pairs(ind_ids, period_codes, kinds, rows, ind_codes) -> list[tuple]:
    """The distinct (indicator, period kind) pairs among `rows`, in the order they first
    appear (as drop_duplicates(["ind", "kind"]) gives them), found on integer codes: an
    indicator and a period's position among the distinct periods (whose kind it fixes)."""
    where = np.flatnonzero(rows)
    if len(where) == 0:
        return []
    ind_codes = np.asarray(ind_codes)[where]
    per = np.asarray(period_codes)[where].astype(np.int64) + 1
    key = ind_codes.astype(np.int64) * (int(per.max()) + 1) + per
    _, first = np.unique(key, return_index=True)
    seen, out = set(), []
    for i in where[np.sort(first)]:
        pair = (ind_ids[i], kinds[i])
        if pair not in seen:
            seen.add(pair)
            out.append(pair)
    return out


def _breakdowns(text, ind_ids, fmt, fixed_totals: dict | None = None,
                coded: dict | None = None):
    """(breakdown, category) per row, None for the area total. With only a breakdown
    column (and its category), each distinct pair is worked out once and, when `coded` is
    given, put there as (index per row, distinct values) for each of the two columns."""
    n = len(ind_ids)
    if "breakdown" in text and "sex" not in text and "age" not in text:
        # Factorised (breakdowns and categories repeat): per distinct pair, then mapped
        # back, instead of several passes over a million Python strings.
        b_codes, b_uniques = pd.factorize(text["breakdown"])
        c = text.get("category")
        if c is not None:
            c_codes, c_uniques = pd.factorize(c)
        else:
            c_codes, c_uniques = np.zeros(n, dtype=np.int64), [""]
        b_uniques = list(b_uniques) + [""]      # code -1 (no text): as an empty cell
        c_uniques = list(c_uniques) + [""]
        width = len(c_uniques)
        pair = (np.asarray(b_codes, dtype=np.int64) % len(b_uniques)) * width \
            + np.asarray(c_codes, dtype=np.int64) % width
        index, pairs = pd.factorize(pair)
        kinds = [b_uniques[k // width] for k in pairs]
        breakdown_u = np.array([None if b == "" else b for b in kinds] + [None], dtype=object)
        category_u = np.array([None if b == "" else c_uniques[k % width]
                               for b, k in zip(kinds, pairs)] + [None], dtype=object)
        index = np.asarray(index)
        if coded is not None:
            coded["breakdown"] = (index, breakdown_u)
            coded["category"] = (index, category_u)
        return breakdown_u[index], category_u[index]
    parts_type: list[np.ndarray] = []
    parts_value: list[np.ndarray] = []
    if "breakdown" in text:
        b = text["breakdown"].to_numpy(dtype=object)
        c = text.get("category")
        c = c.to_numpy(dtype=object) if c is not None else repeated(n, "")
        parts_type.append(b)
        parts_value.append(np.where(b == "", "", c))
    elif "category" in text:
        c = text["category"].to_numpy(dtype=object)
        parts_type.append(np.where(c == "", "", "category"))
        parts_value.append(c)
    for fld, total_word, label in (("sex", "persons", "sex"), ("age", "all ages", "age")):
        if fld not in text:
            continue
        values = text[fld].to_numpy(dtype=object)
        frame = pd.DataFrame({"ind": ind_ids, "v": values})
        total = {}
        for ind, group in frame.groupby("ind", sort=False)["v"]:
            distinct = group.unique()
            if len(distinct) <= 1:
                total[ind] = None  # one value: not a breakdown
                continue
            lowered = {str(v).lower(): v for v in distinct}
            total[ind] = lowered.get(total_word) if total_word else None
            if total[ind] is None and fld == "age" and standardised.all_age_bands(distinct):
                total[ind] = "All ages"   # age bands only: every row is a band, none a total
            if total[ind] is None:
                total[ind] = group.value_counts().index[0]
        totals = frame["ind"].map(total).to_numpy(dtype=object)
        if fixed_totals is not None and fld in fixed_totals:
            # A chunk of a large file: the whole file decided (breakdown_totals below).
            totals = fixed_totals[fld]
        is_break = pd.notna(totals) & (values != totals) & (values != "")
        parts_type.append(np.where(is_break, label, ""))
        parts_value.append(np.where(is_break, values, ""))
    if not parts_type:
        return None, None
    if len(parts_type) == 1:
        t, v = parts_type[0], parts_value[0]
        return np.where(t == "", None, t), np.where(t == "", None, v)
    breakdown = repeated(n, "")
    category = repeated(n, "")
    for t, v in zip(parts_type, parts_value):
        has = t != ""
        sep_t = np.where((breakdown != "") & has, "; ", "")
        breakdown = np.where(has, breakdown + sep_t + t, breakdown)
        category = np.where(has, category + sep_t + v, category)
    return (np.where(breakdown == "", None, breakdown),
            np.where(breakdown == "", None, category))


def breakdown_totals(counts: dict, fld: str):
    """What _breakdowns decides for a sex or age column, from the whole file's counts
    ({indicator cell: {value: rows}}, values in order of appearance) rather than from one
    chunk: per indicator, the value that is the area total, or None when the column holds
    one value only (not a breakdown). A large file read in chunks gives every chunk this,
    so a chunk holding only the "Male" rows of an indicator does not read them as totals."""
    total_word = {"sex": "persons", "age": "all ages"}[fld]
    out = {}
    for ind, values in counts.items():
        if len(values) <= 1:
            out[ind] = None
            continue
        lowered = {str(v).lower(): v for v in values}
        out[ind] = lowered.get(total_word) if total_word else None
        if out[ind] is None and fld == "age" and standardised.all_age_bands(list(values)):
            out[ind] = "All ages"
        if out[ind] is None:
            out[ind] = max(values, key=lambda v: values[v])   # the most common; first on ties
    return out


# --- the rules on numbers -------------------------------------------------------------------

def check_and_complete(out: pd.DataFrame, issues: Issues, table: RawTable,
                       mapping: dict[str, int], titles: dict | None = None,
                       indicators: tuple | None = None,
                       period_ends: tuple | None = None) -> pd.DataFrame:
    """Check the numbers, then fill values and intervals the file left out. `titles`
    names metrics the catalogue does not know, for the messages. `indicators`: the rows'
    indicators already factorised (codes, distinct ids); `period_ends`: each row's period
    code and the end per code (table_to_rows has both)."""
    if out.empty:
        return out
    header = {f: table.headers[i] for f, i in mapping.items()}

    def col(f):
        return header.get(f, f)

    rownum = out["_row"].to_numpy()
    unit = out["_unit"].to_numpy(dtype=object)
    ids = out["indicator_id"].to_numpy(dtype=object)
    # The indicators factorised once: each lookup below is then per distinct indicator.
    id_codes, id_uniques = indicators if indicators is not None else factorize_ids(ids)
    # A row's unit is its indicator's: compared once per indicator, then mapped back.
    unit_by_code = np.full(len(id_uniques) + 1, None, dtype=object)
    unit_by_code[id_codes] = unit
    pct = (unit_by_code == "%")[id_codes]
    is_count = (unit_by_code == "count")[id_codes]
    method_by_code = np.array([getattr(catalogue.BY_ID.get(i), "ci_method", None)
                               for i in id_uniques] + [None], dtype=object)
    method = method_by_code[id_codes]

    def method_is(*names) -> np.ndarray:
        return np.array([m in names for m in method_by_code], dtype=bool)[id_codes]
    num, den = out["numerator"].to_numpy(), out["denominator"].to_numpy()
    value = out["value"].to_numpy().copy()
    limits = {f: out[f].to_numpy().copy() for f in ("lower95", "upper95", "lower998",
                                                       "upper998")}

    # Percentages given as proportions (0.432 for 43.2%), as an Excel % cell holds them.
    read_x100 = np.zeros(len(value), dtype=bool)   # their rounding is 100 times larger now
    for code in pd.unique(id_codes[pct]):
        ind_id = id_uniques[code]
        mask = pct & (id_codes == code) & ~np.isnan(value)
        if mask.sum() == 0 or np.nanmax(value[mask]) > 1:
            continue
        both = mask & ~np.isnan(num) & (den > 0)
        if both.any():
            ratio = np.nanmedian(value[both] / (num[both] / den[both]))
            if abs(ratio - 1) < 0.02:
                value[mask] *= 100
                read_x100[mask] = True
                for f in limits:
                    limits[f][mask & (limits[f] <= 1)] *= 100
                issues.add_rows(NOTE, f"{catalogue.get(ind_id).title}: values are "
                                      "proportions (numerator / denominator), read as "
                                      "percentages (x 100)", col("value"), rownum[mask])
                continue
        if mask.sum() >= 3 and np.nanmax(value[mask]) > 0:
            issues.add_rows(WARNING, f"{catalogue.get(ind_id).title}: every value is 1 or "
                                     "less; if these are proportions (0.43 for 43%) give "
                                     "percentages instead", col("value"), rownum[mask])

    with np.errstate(invalid="ignore"):
        for f, arr in (("numerator", num), ("denominator", den)):
            neg = arr < 0
            if neg.any():
                issues.add_rows(ERROR, f"negative count ({arr[neg][0]:g})", col(f),
                                rownum[neg])
        neg_count = is_count & (value < 0)
        if neg_count.any():
            issues.add_rows(ERROR, f"negative count ({value[neg_count][0]:g})", col("value"),
                            rownum[neg_count])
        neg_value = ~is_count & (value < 0)
        if neg_value.any():
            issues.add_rows(ERROR, f"negative value ({value[neg_value][0]:g})", col("value"),
                            rownum[neg_value])
        proportion = pct | method_is("wilson")
        above = proportion & (num > den)
        if above.any():
            i = np.flatnonzero(above)[0]
            issues.add_rows(ERROR, f"numerator above denominator ({num[i]:g} > {den[i]:g}) "
                                   "for a percentage", col("numerator"), rownum[above])
        over = pct & (value > 100 + 1e-9)
        if over.any():
            issues.add_rows(ERROR, f"percentage above 100 ({value[over][0]:g})", col("value"),
                            rownum[over])
        for f, arr in limits.items():
            over = pct & (arr > 100 + 1e-9)
            if over.any():
                issues.add_rows(ERROR, f"percentage above 100 in the interval "
                                       f"({arr[over][0]:g})", col(f), rownum[over])
        for level in ("95", "998"):
            lo, hi = limits[f"lower{level}"], limits[f"upper{level}"]
            words = "95%" if level == "95" else "99.8%"
            tol = 1e-9 * np.maximum(1, np.abs(value))
            reversed_ = lo > hi + tol
            if reversed_.any():
                i = np.flatnonzero(reversed_)[0]
                issues.add_rows(ERROR, f"{words} interval: lower limit {lo[i]:g} is above the "
                                       f"upper limit {hi[i]:g}", col(f"lower{level}"),
                                rownum[reversed_])
            outside = ~reversed_ & ((value < lo - tol) | (value > hi + tol))
            if outside.any():
                _interval_outside(outside, value, lo, hi, level, rownum, issues, table,
                                  mapping, col, np.where(read_x100, 100.0, 1.0))

        # A value that disagrees with its own numerator and denominator (warning).
        crude = method_is("wilson", "byars")
        multiplier = _by_code(id_codes, id_uniques,
                              {i.id: float(i.multiplier) for i in catalogue.INDICATORS},
                              np.nan).astype(float)
        expected = num / den * multiplier
        have = crude & ~np.isnan(value) & ~np.isnan(expected) & (den > 0)
        off = have & (np.abs(value - expected) > np.maximum(0.051, 0.005 * np.abs(expected)))
        if off.any():
            i = np.flatnonzero(off)[0]
            issues.add_rows(WARNING, f"value does not match numerator / denominator (row "
                                     f"{rownum[i]}: {value[i]:g}, expected {expected[i]:.4g})",
                            col("value"), rownum[off])

    # Fill in what the file left out: the value from its counts, then intervals.
    fill_value = np.isnan(value) & ~out["_suppressed"].to_numpy(dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        crude_value = np.where(den > 0, num / den * multiplier, np.nan)
    value = np.where(fill_value & crude, crude_value, value)
    value = np.where(fill_value & method_is("none"), num, value)
    no_limits = np.isnan(limits["lower95"]) & np.isnan(limits["upper95"]) & \
        np.isnan(limits["lower998"]) & np.isnan(limits["upper998"])
    for level, conf in (("95", 0.95), ("998", 0.998)):
        lo, hi = limits[f"lower{level}"], limits[f"upper{level}"]
        wil = no_limits & method_is("wilson") & ~np.isnan(num) & (den > 0)
        if wil.any():
            lower, upper = stats.wilson_ci(num[wil], den[wil], confidence=conf)
            lo[wil], hi[wil] = np.asarray(lower) * 100, np.asarray(upper) * 100
        byr = no_limits & method_is("byars") & ~np.isnan(num) & (den > 0)
        if byr.any():
            for m in np.unique(multiplier[byr]):
                sel = byr & (multiplier == m)
                lower, upper = stats.rate_ci(num[sel], den[sel], confidence=conf,
                                             multiplier=float(m))
                lo[sel], hi[sel] = lower, upper
        dsr = no_limits & method_is("dsr") & ~np.isnan(num) & (num > 0) & ~np.isnan(value)
        if dsr.any():
            # Without the age bands, the variance is approximated as DSR^2 / count (one
            # standardisation weight): standardised.finish marks these rows approximate,
            # or replaces them by Dobson's when the file gives the age bands. Fingertips
            # supplies exact limits, which are kept.
            lower, upper = stats.dsr_ci(num[dsr], value[dsr], value[dsr] ** 2 / num[dsr],
                                        confidence=conf)
            lo[dsr], hi[dsr] = lower, upper
    # Indicators as integer codes (above): comparing a million-row object array once per
    # indicator would cost a fifth of a second each time.
    names = {i: _title(i, titles) for i in id_uniques}
    by_id = (id_codes, id_uniques)
    suppressed = out["_suppressed"].to_numpy(dtype=bool)
    _limits_998_from_95(by_id, value, num, den, method, multiplier, limits, rownum, issues,
                        col, suppressed, names)
    _unit_evidence(by_id, unit, method, multiplier, value, num, den, rownum, issues, col,
                   suppressed, names)
    _future_periods(out, issues, col("period"), period_ends)
    out["value"] = value
    # A count given only as a value (no numerator column) is still a count: disclosure
    # control reads the numerator, so a count of 3 must be there to be suppressed.
    count_only_value = is_count & np.isnan(num.astype(float)) & ~np.isnan(value)
    if count_only_value.any():
        out["numerator"] = np.where(count_only_value, value, num)
    for f, arr in limits.items():
        out[f] = arr
    return out


# --- rounding, 99.8% limits, units and future periods (warnings and notes) -----------------

def today() -> dt.date:
    """Today's date; a function so tests can fix it."""
    return dt.date.today()


def _decimals(text: pd.Series) -> np.ndarray:
    """Decimal places each cell was written with (0 for whole numbers): the rounding the
    publisher applied. Cells from workbooks carry the float's shortest repr."""
    cleaned = text.astype(str).str.replace(",", "", regex=False).str.replace(
        "%", "", regex=False).str.strip().str.lower()
    mantissa = cleaned.str.split("e", n=1).str[0]
    frac = mantissa.str.split(".", n=1).str[1].fillna("")
    places = frac.str.len().to_numpy(dtype=float)
    # A number in scientific notation: shift by its exponent.
    exponent = pd.to_numeric(cleaned.str.split("e", n=1).str[1], errors="coerce")
    places = places - np.nan_to_num(exponent.to_numpy(dtype=float), nan=0.0)
    return np.maximum(places, 0)


def _cell_decimals(table: RawTable, mapping: dict[str, int], field: str,
                   rownum: np.ndarray) -> np.ndarray | None:
    """Decimal places of one field's cells for the rows in `rownum` (None if the file has
    no such column)."""
    if field not in mapping:
        return None
    raw = text_column(table.data[mapping[field]])
    places = _decimals(raw)
    where = pd.Index(table.row_numbers).get_indexer(rownum)
    found = where >= 0
    out = np.full(len(rownum), np.nan)
    out[found] = places[where[found]]
    return out


def _interval_outside(outside, value, lo, hi, level, rownum, issues, table, mapping, col,
                      scale=1.0):
    """A value outside its own interval: a warning when the publisher's rounding explains
    it (each figure may be off by half a unit in its last decimal place, so the value and
    the limit together by the sum of both halves), an error otherwise. Fingertips, for
    one, rounds some limits differently from the value; the analyst cannot correct
    OHID's file, so that is never an error."""
    words = "95%" if level == "95" else "99.8%"
    lo_field, hi_field = f"lower{level}", f"upper{level}"
    dv = _cell_decimals(table, mapping, "value", rownum)
    dlo = _cell_decimals(table, mapping, lo_field, rownum)
    dhi = _cell_decimals(table, mapping, hi_field, rownum)

    def half_unit(places):
        # A figure worked out here (no column) is exact.
        if places is None:
            return np.zeros(len(rownum))
        return np.where(np.isnan(places), 0.0, 0.5 * 10.0 ** -np.nan_to_num(places))

    below = value < lo
    gap = np.where(below, lo - value, value - hi)
    allowed = (half_unit(dv) + np.where(below, half_unit(dlo), half_unit(dhi))) * scale
    rounding = outside & (gap <= allowed * (1 + 1e-9))
    wrong = outside & ~rounding
    fingertips = columns.detect_format(table.headers) == columns.FINGERTIPS
    if rounding.any():
        idx = np.flatnonzero(rounding)
        shown = "; ".join(f"row {rownum[i]}: {value[i]:g} outside {lo[i]:g} to {hi[i]:g}"
                          for i in idx[:3])
        who = "Fingertips' rounding" if fingertips else "the rounding of the published figures"
        issues.add_rows(WARNING, f"{words} interval does not contain the value only by "
                                 f"{who} ({plural(len(idx), 'row')}, e.g. {shown}); loaded as "
                                 "published", col("value"), rownum[rounding])
    if wrong.any():
        i = np.flatnonzero(wrong)[0]
        issues.add_rows(ERROR, f"{words} interval does not contain the value "
                               f"({value[i]:g} is outside {lo[i]:g} to {hi[i]:g}, more "
                               "than rounding explains)", col("value"), rownum[wrong])


RATE_MULTIPLIERS = (100, 1_000, 10_000, 100_000, 1_000_000)


def _recognise_methods(by_id, method, multiplier, value, num, den, lo95, hi95, only95,
                       rownum, issues, col, names):
    """For a metric the catalogue does not know (a Fingertips indicator of its own), the
    published 95% limits show the method: if every row's value is count / denominator x
    a power of ten and its limits are Wilson's (percentages) or Byar's/exact Poisson
    (rates) to within 1% of the interval's width, the 99.8% limits follow from the same
    method. Anything less than agreement on every such row leaves the method unknown."""
    unknown = only95 & pd.isna(method) & np.isfinite(num) & (den > 0)
    if not unknown.any():
        return method, multiplier
    method, multiplier = method.copy(), multiplier.copy()
    width = hi95 - lo95
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    id_codes, id_uniques = by_id
    for k in np.unique(id_codes[unknown]):
        ind = id_uniques[k]
        rows = unknown & (id_codes == k)
        for m in RATE_MULTIPLIERS:
            if not np.allclose(value[rows], ratio[rows] * m, rtol=1e-3):
                continue
            if m == 100:
                lower, upper = stats.wilson_ci(num[rows], den[rows], confidence=0.95)
                lower, upper = np.asarray(lower) * 100, np.asarray(upper) * 100
                name, words = "wilson", "Wilson's (a percentage)"
            else:
                lower, upper = stats.rate_ci(num[rows], den[rows], confidence=0.95,
                                             multiplier=m)
                name, words = "byars", f"Byar's or exact Poisson (a rate per {m:,})"
            close = (np.abs(lower - lo95[rows]) <= 0.01 * width[rows]) & \
                (np.abs(upper - hi95[rows]) <= 0.01 * width[rows])
            if close.all():
                method[rows] = name
                multiplier[rows] = float(m)
                issues.add_rows(NOTE, f"{names[ind]}: the published 95% limits are "
                                      f"{words}; the 99.8% limits were worked out the same "
                                      "way", col("lower95"), rownum[rows])
            break
    return method, multiplier


def _limits_agree(lower, upper, lo95, hi95) -> np.ndarray:
    """Whether worked-out 95% limits are the published ones: within 2% of the interval's
    width, or within the rounding of limits published to one decimal place."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    tolerance = np.maximum(0.02 * np.abs(hi95 - lo95), 0.051)
    return (np.abs(lower - lo95) <= tolerance) & (np.abs(upper - hi95) <= tolerance)


def _limits_998_from_95(by_id, value, num, den, method, multiplier, limits, rownum, issues,
                        col, suppressed, names):
    """Sources that publish 95% limits only (ONS): work out the 99.8% limits from the
    count where the method allows, so such areas are still compared with England at both
    levels; say which rows are left with 95% only."""
    lo95, hi95 = limits["lower95"], limits["upper95"]
    lo998, hi998 = limits["lower998"], limits["upper998"]
    only95 = (np.isfinite(lo95) & np.isfinite(hi95) & np.isnan(lo998) & np.isnan(hi998)
              & np.isfinite(value) & ~suppressed)
    if not only95.any():
        return
    unknown_before = pd.isna(method)
    method, multiplier = _recognise_methods(by_id, method, multiplier, value, num, den, lo95,
                                            hi95, only95, rownum, issues, col, names)
    # Rows whose method was just recognised already have a note saying so.
    recognised = unknown_before & ~pd.isna(method)
    done = np.zeros(len(value), dtype=bool)
    # The 99.8% limits follow from the count only where the published 95% limits are the
    # method's own: OHID's unmet-need figures, for example, are percentages of prevalence
    # *estimates* whose published intervals are far wider than Wilson's, and Wilson's 99.8%
    # limits would then be narrower than the published 95% ones.
    differ = np.zeros(len(value), dtype=bool)
    wil = only95 & (method == "wilson") & np.isfinite(num) & (den > 0) & (num <= den)
    if wil.any():
        lower, upper = stats.wilson_ci(num[wil], den[wil], confidence=0.95)
        agree = _limits_agree(np.asarray(lower) * 100, np.asarray(upper) * 100,
                              lo95[wil], hi95[wil])
        differ[np.flatnonzero(wil)[~agree]] = True
        wil[np.flatnonzero(wil)[~agree]] = False
    if wil.any():
        lower, upper = stats.wilson_ci(num[wil], den[wil], confidence=0.998)
        lo998[wil], hi998[wil] = np.asarray(lower) * 100, np.asarray(upper) * 100
        done |= wil
    byr = only95 & (method == "byars") & np.isfinite(num) & (den > 0)
    if byr.any():
        for m in np.unique(multiplier[byr]):
            sel = byr & (multiplier == m)
            lower, upper = stats.rate_ci(num[sel], den[sel], confidence=0.95,
                                         multiplier=float(m))
            agree = _limits_agree(lower, upper, lo95[sel], hi95[sel])
            differ[np.flatnonzero(sel)[~agree]] = True
            byr[np.flatnonzero(sel)[~agree]] = False
            sel = byr & (multiplier == m)
            if not sel.any():
                continue
            lower, upper = stats.rate_ci(num[sel], den[sel], confidence=0.998,
                                         multiplier=float(m))
            lo998[sel], hi998[sel] = lower, upper
        done |= byr
    if differ.any():
        issues.add_rows(NOTE, "the published 95% limits are not those of the metric's "
                              "method worked out from the count (the source used its own, "
                              "such as limits of an estimate): no 99.8% limits are worked "
                              "out, and these areas are compared with England at 95% only",
                        col("lower95"), rownum[differ])
    # Standardised rates, and crude rates given without their population: scale the
    # published 95% interval by the count's limits (Dobson; Byar's for a crude rate).
    scaled = (only95 & ~done & ~differ & np.isin(method, ["dsr", "byars"]) & np.isfinite(num)
              & (num > 0))
    if scaled.any():
        lower, upper = stats.limits_from_95(num[scaled], value[scaled], lo95[scaled],
                                            hi95[scaled], confidence=0.998)
        lo998[scaled], hi998[scaled] = lower, upper
        done |= scaled & np.isfinite(lo998) & np.isfinite(hi998)
    if (done & ~recognised).any():
        issues.add_rows(NOTE, "the file gives 95% limits only: 99.8% limits were worked "
                              "out from the count (Wilson for percentages, Byar's or exact "
                              "Poisson for rates, Dobson's method scaled from the published "
                              "95% limits for standardised rates)", col("lower95"),
                        rownum[done & ~recognised])
    left = only95 & ~done & ~differ & (np.isin(method, ["wilson", "byars", "dsr"])
                                       | pd.isna(method))
    if left.any():
        issues.add_rows(NOTE, "the file gives 95% limits only, and the 99.8% limits "
                              "cannot be worked out (no count, or a method the published "
                              "95% limits do not show): these areas are compared with "
                              "England at 95% only, and say so", col("lower95"),
                        rownum[left])


def _unit_evidence(by_id, unit, method, multiplier, value, num, den, rownum, issues, col,
                   suppressed, names):
    """A value whose unit does not fit the metric (a warning with the evidence): counts
    loaded into a percentage or a rate, crude rates into an age-standardised metric."""
    shown_rows = 3
    id_codes, id_uniques = by_id
    usable = np.isfinite(value) & ~suppressed
    for k, ind_id in enumerate(id_uniques):
        rows = (id_codes == k) & usable
        if rows.sum() < 3:
            continue
        u, m = unit[rows][0], method[rows][0]
        v = value[rows]
        rn = rownum[rows]
        title = names[ind_id]

        def examples(mask, vals=v, rn=rn):
            idx = np.flatnonzero(mask)[:shown_rows]
            return ", ".join(f"row {rn[i]}: {vals[i]:g}" for i in idx)

        big = v > 100
        # Whole numbers compare exactly: they were parsed from text or integer cells.
        if u == "%" and big.any() and np.array_equal(v, np.round(v)):
            issues.add_rows(WARNING, f"{title} is a percentage, but every value is a whole "
                                     f"number and {int(big.sum()):,} of {len(v):,} are "
                                     f"above 100 ({examples(big)}): these look like counts; "
                                     "put counts in a numerator (Count) column",
                            col("value"), rn)
            continue
        n = num[rows]
        has_n = np.isfinite(n)
        # Counts copied into the value column compare exactly.
        same = has_n & (v == n)
        if u != "count" and u is not None and has_n.sum() >= 3 and \
                same.sum() == has_n.sum() and (v > 1).any():
            issues.add_rows(WARNING, f"{title} is measured as {u}, but every value equals "
                                     f"its count ({examples(same)}): the value column "
                                     "seems to hold counts", col("value"), rn)
            continue
        if m == "dsr":
            d = den[rows]
            mult = multiplier[rows]
            with np.errstate(divide="ignore", invalid="ignore"):
                crude = n / d * mult
            check = np.isfinite(crude) & (d > 0)
            if check.sum() >= 3:
                equal = check & np.isclose(v, crude, rtol=0.005, atol=0.051)
                if equal.sum() == check.sum():
                    ex = "; ".join(f"row {rn[i]}: {v[i]:g} = {n[i]:g} / {d[i]:g} x "
                                   f"{mult[i]:,.0f}" for i in np.flatnonzero(equal)[:3])
                    issues.add_rows(WARNING, f"{title} is age-standardised, but every value "
                                             "equals the crude rate, count / population "
                                             f"({ex}): these look like crude rates",
                                    col("value"), rn)


def _title(indicator_id, titles: dict | None = None) -> str:
    ind = catalogue.BY_ID.get(indicator_id)
    if ind:
        return ind.title
    return str((titles or {}).get(indicator_id) or indicator_id)


def _future_periods(out: pd.DataFrame, issues: Issues, column: str,
                    period_ends: tuple | None = None) -> None:
    """Figures for a period that has not ended yet (quarters up to 2029/30 Q4 were
    once accepted without a word): a warning naming the periods and rows."""
    # Each distinct end date converted and compared once, then mapped back to the rows.
    if period_ends is not None:     # the period cells' codes, and the end of each
        codes, uniques = period_ends
    else:
        codes, uniques = pd.factorize(out["period_end"])
    now = pd.Timestamp(today())
    codes = np.asarray(codes)
    ends = pd.to_datetime(pd.Series(uniques, dtype=object), errors="coerce")
    future = np.append((ends > now).to_numpy(dtype=bool), False)[codes]
    if not future.any():
        return
    # The first row of each distinct cell is enough (and keeps the order) to list the
    # periods: drop_duplicates below keeps each label's first row either way.
    rows = np.flatnonzero(future)
    _, first = np.unique(codes[rows], return_index=True)
    rows = rows[np.sort(first)]
    frame = pd.DataFrame({"period": out["period"].to_numpy()[rows],
                          "end": ends.to_numpy()[codes[rows]]})
    labels = frame.drop_duplicates("period").sort_values("end")["period"].tolist()
    listed = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
    issues.add_rows(WARNING, f"period(s) {listed} end after today ({now:%d %B %Y}): figures "
                             "for a period that has not ended yet; check the period column",
                    column, out["_row"].to_numpy()[future])
