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

from metrics import catalogue, disclosure, periods, stats
from metrics.ingest import columns
from metrics.ingest.areas import AreaIndex
from metrics.ingest.model import ERROR, NOTE, WARNING, Issues
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
    cleaned = text.str.replace(",", "", regex=False).str.replace("%", "", regex=False) \
        .str.replace("\u00a3", "", regex=False).str.strip()
    cleaned = cleaned.where(~(suppressed | missing), None)
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
        return pd.Series(np.full(n, values, dtype=object), dtype=object)
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def map_ids(ids: np.ndarray, mapping: dict, default=None) -> np.ndarray:
    """mapping[id] for every element, looked up once per distinct id."""
    codes, uniques = pd.factorize(pd.Series(ids, dtype=object))
    looked = [mapping.get(u, default) for u in uniques] + [default]
    return np.array(looked, dtype=object)[codes]


def table_to_rows(table: RawTable, file_name: str, areas: AreaIndex, known: Catalogue,
                  issues: Issues) -> TableResult:
    fmt = columns.detect_format(table.headers)
    mapping, clashes, unused = columns.map_columns(table.headers, fmt)
    empty = TableResult(_empty_rows(), {}, fmt, 0)
    for fld, names in clashes:
        issues.add(ERROR, f"columns {', '.join(repr(n) for n in names)} all look like the "
                          f"{fld.replace('_', ' ')}: keep one or rename the others")
    if unused:
        issues.add(NOTE, f"columns not used: {', '.join(unused[:15])}"
                         + (f" and {len(unused) - 15} more" if len(unused) > 15 else ""))
    missing = []
    if not set(columns.AREA_FIELDS) & set(mapping):
        missing.append("area (a column named area_code, Area Code, DAT code or Area name)")
    if "period" not in mapping:
        missing.append("period (a column named period, Time period, Quarter or Year)")
    if not {"value", "numerator", "value_note"} & set(mapping):
        missing.append("value (a column named value, Value, Percentage, Rate, Count or "
                       "numerator)")
    indicator_from_title = None
    if "indicator_id" not in mapping:
        indicator_from_title = _indicator_from_title(
            " ".join([table.title, table.sheet or "", file_name]))
        if indicator_from_title is None:
            missing.append("indicator (an indicator_id or Indicator ID column, or a title "
                           "row naming one catalogue indicator)")
    if missing:
        found = ", ".join(f"'{h}'" for h in table.headers if h) or "none"
        issues.add(ERROR, f"missing required columns: {'; '.join(missing)}. Columns found "
                          f"(header on row {table.header_row}): {found}")
        return empty
    if clashes:
        return empty

    data, rownum = table.data, table.row_numbers
    if "dat_code" in mapping and not areas.lookup:
        issues.add(NOTE, "DAT codes were not used (no area lookup is set: setting "
                         "ingest.area_lookup); areas were matched by name",
                   table.headers[mapping["dat_code"]])
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
            lowered = text[f].str.lower().str.strip(" :")
            totals |= (lowered.isin(TOTAL_WORDS) | lowered.str.startswith("total ")).to_numpy()
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
        ind_ids = np.full(n, indicator_from_title, dtype=object)
        issues.add(NOTE, f"no indicator column: every row read as "
                         f"'{catalogue.get(indicator_from_title).title}' (named in the "
                         "title or sheet)")
        bad_indicator = np.zeros(n, dtype=bool)
    else:
        ind_ids, bad_indicator, additional = _resolve_indicators(
            text["indicator_id"], text.get("indicator_name"), text.get("unit"), fmt, known,
            issues, rownum, keep, table.headers[mapping["indicator_id"]])
    cols["indicator_id"] = ind_ids

    # Areas.
    geography = _geographies(ind_ids)
    names = {f: table.headers[i] for f, i in mapping.items()}
    cols["area_code"], bad_area = _resolve_areas(text, geography, areas, issues, rownum, keep,
                                                 names)

    # Periods.
    labels, kinds, starts, ends, bad_period = _resolve_periods(
        text["period"], ind_ids, issues, rownum, keep & ~bad_indicator, names["period"])
    cols.update(period=labels, period_kind=kinds, period_start=starts, period_end=ends)

    # Breakdowns.
    breakdown, category = _breakdowns(text, ind_ids, fmt, table.breakdown_totals)
    none = np.full(n, None, dtype=object)
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
    ids_now = cols["indicator_id"][sel]
    units = {i: known.unit(i) or additional.get(i, {}).get("unit") for i in pd.unique(ids_now)}
    out = pd.DataFrame({k: pd.Series(v[sel], dtype=object) if v.dtype == object else v[sel]
                        for k, v in cols.items()})
    out["_file"] = pd.Series(np.full(len(out), table.label, dtype=object), dtype=object)
    out["_unit"] = pd.Series(map_ids(ids_now, units), dtype=object)
    out = check_and_complete(out, issues, table, mapping)
    return TableResult(out, additional, fmt, rows_read)


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
                        column: str = "indicator"):
    codes, uniques = pd.factorize(ids)
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
                result = _FINGERTIPS.get(ft)
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
    bad = pd.isna(out) | (ids == "").to_numpy()
    bad_shown = bad & keep
    if bad_shown.any():
        def problem(value):
            if value == "":
                return "the indicator is empty"
            close = difflib.get_close_matches(value, list(catalogue.BY_ID), n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            return (f"unknown indicator '{value}'{hint}; catalogue ids are listed in "
                    "metrics/catalogue.py. A new metric needs an indicator_name column")
        issues.add_by_value(ERROR, column, ids[bad_shown], rownum[bad_shown], problem)
    return out, bad, additional


def _geographies(ind_ids: np.ndarray) -> np.ndarray:
    codes, uniques = pd.factorize(pd.Series(ind_ids, dtype=object))
    geo = [catalogue.BY_ID[i].geography if i in catalogue.BY_ID else "utla" for i in uniques]
    return np.array(geo + ["utla"], dtype=object)[codes]


def _resolve_areas(text, geography, areas: AreaIndex, issues: Issues, rownum, keep,
                   names: dict[str, str]):
    n = len(rownum)
    result = np.full(n, None, dtype=object)
    reason = np.full(n, "", dtype=object)
    column_used = np.full(n, "", dtype=object)
    code_col = text.get("area_code")
    dat_col = text.get("dat_code")
    name_col = text.get("area_name")
    if code_col is not None:
        has = (code_col != "").to_numpy()
        codes, uniques = pd.factorize(code_col)
        found = np.array([areas.by_code(u) for u in uniques] + [None], dtype=object)[codes]
        result = np.where(has, found, result)
        unknown = has & pd.isna(found)
        # An area_code column holding DAT codes or names: try those before refusing.
        reason = np.where(unknown, "unknown area code", reason)
        column_used = np.where(has, "area_code", column_used)
    if dat_col is not None:
        todo = pd.isna(result) & (dat_col != "").to_numpy()
        if todo.any():
            codes, uniques = pd.factorize(dat_col)
            found = np.array([areas.by_dat(u) for u in uniques] + [None], dtype=object)[codes]
            result = np.where(todo, found, result)
            reason = np.where(todo & pd.isna(found),
                              "DAT code not in the area lookup" if areas.lookup else
                              "DAT code cannot be matched: no area lookup is set "
                              "(ingest.area_lookup); DAT codes are never guessed", reason)
            column_used = np.where(todo, "dat_code", column_used)
    if name_col is not None:
        # Names are the fallback when there is no code (an unknown ONS code is an error;
        # a DAT code missing from the lookup may still be matched by its name).
        todo = pd.isna(result) & (name_col != "").to_numpy() & (column_used != "area_code")
        if todo.any():
            pairs = pd.DataFrame({"name": name_col.to_numpy(), "geo": geography})
            codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs))
            answers = [areas.by_name(nm, g) for nm, g in uniques]
            found = np.array([a[0] for a in answers] + [None], dtype=object)[codes]
            why = np.array([a[1] for a in answers] + [""], dtype=object)[codes]
            result = np.where(todo, found, result)
            reason = np.where(todo & pd.isna(found), why, reason)
            column_used = np.where(todo, "area_name", column_used)
    empty = pd.isna(result) & (column_used == "")
    bad = pd.isna(result)
    shown = bad & keep
    if shown.any():
        header = {f: names.get(f, f) for f in ("area_code", "dat_code", "area_name")}
        unmatched = []
        for col in ("area_code", "dat_code", "area_name"):
            mask = shown & (column_used == col)
            if not mask.any():
                continue
            values = text[col if col != "area_code" else "area_code"][mask]
            why = reason[mask]
            frame = pd.DataFrame({"v": values.to_numpy(), "why": why})
            for (value, problem), group in frame.groupby(["v", "why"], sort=False):
                unmatched.append(value)
                if col == "area_code":
                    message = (f"unknown area code '{value}' (not an England, region, "
                               "upper-tier or police force area code in "
                               "data/reference/areas.csv)")
                elif col == "dat_code":
                    message = f"{problem}: '{value}'"
                else:
                    message = f"area name '{value}' does not match an area: {problem}"
                issues.add_rows(ERROR, message, header[col],
                                rownum[mask][frame["v"].to_numpy() == value])
        if (empty & keep).any():
            issues.add_rows(ERROR, "the area is empty", None, rownum[empty & keep])
        if unmatched:
            by_name = (shown & (column_used != "area_code")).any()
            hint = (". Names are matched ignoring case, '&'/'and', ', City of' and a 'UA' "
                    "suffix; joint footprints (such as 'Leicestershire and Rutland') and "
                    "DAT codes need an area lookup file (setting ingest.area_lookup)"
                    if by_name else "")
            issues.add(ERROR, f"{len(unmatched)} area(s) did not match: "
                              f"{', '.join(unmatched[:40])}"
                              + (" ..." if len(unmatched) > 40 else "") + hint)
    return result, bad


def _resolve_periods(period_text: pd.Series, ind_ids, issues: Issues, rownum, keep,
                     column: str = "period"):
    n = len(period_text)
    codes, uniques = pd.factorize(period_text)
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
    labels = np.array([p.label if p else None for p in parsed] + [None], dtype=object)[codes]
    kinds = np.array([p.kind if p else None for p in parsed] + [None], dtype=object)[codes]
    starts = np.array([p.start if p else None for p in parsed] + [None], dtype=object)[codes]
    ends = np.array([p.end if p else None for p in parsed] + [None], dtype=object)[codes]

    # A period of the wrong kind for a catalogue indicator is ambiguous or wrong.
    pairs = pd.DataFrame({"ind": ind_ids, "kind": kinds, "label": labels})
    ok_rows = ~bad & pd.notna(ind_ids)
    combos = pairs[ok_rows].drop_duplicates(["ind", "kind"])
    for ind_id, kind in zip(combos["ind"], combos["kind"]):
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
    return labels, kinds, starts, ends, bad


def _breakdowns(text, ind_ids, fmt, fixed_totals: dict | None = None):
    n = len(ind_ids)
    parts_type: list[np.ndarray] = []
    parts_value: list[np.ndarray] = []
    if "breakdown" in text:
        b = text["breakdown"].to_numpy(dtype=object)
        c = text.get("category")
        c = c.to_numpy(dtype=object) if c is not None else np.full(n, "", dtype=object)
        parts_type.append(b)
        parts_value.append(np.where(b == "", "", c))
    elif "category" in text:
        c = text["category"].to_numpy(dtype=object)
        parts_type.append(np.where(c == "", "", "category"))
        parts_value.append(c)
    for fld, total_word, label in (("sex", "persons", "sex"), ("age", None, "age")):
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
    breakdown = np.full(n, "", dtype=object)
    category = np.full(n, "", dtype=object)
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
    total_word = {"sex": "persons", "age": None}[fld]
    out = {}
    for ind, values in counts.items():
        if len(values) <= 1:
            out[ind] = None
            continue
        lowered = {str(v).lower(): v for v in values}
        out[ind] = lowered.get(total_word) if total_word else None
        if out[ind] is None:
            out[ind] = max(values, key=lambda v: values[v])   # the most common; first on ties
    return out


# --- the rules on numbers -------------------------------------------------------------------

def check_and_complete(out: pd.DataFrame, issues: Issues, table: RawTable,
                       mapping: dict[str, int]) -> pd.DataFrame:
    """Check the numbers, then fill values and intervals the file left out."""
    if out.empty:
        return out
    header = {f: table.headers[i] for f, i in mapping.items()}

    def col(f):
        return header.get(f, f)

    rownum = out["_row"].to_numpy()
    unit = out["_unit"].to_numpy(dtype=object)
    pct = unit == "%"
    is_count = unit == "count"
    ids = out["indicator_id"].to_numpy(dtype=object)
    method = map_ids(ids, {i.id: i.ci_method for i in catalogue.INDICATORS})
    num, den = out["numerator"].to_numpy(), out["denominator"].to_numpy()
    value = out["value"].to_numpy().copy()
    limits = {f: out[f].to_numpy().copy() for f in ("lower95", "upper95", "lower998",
                                                       "upper998")}

    # Percentages given as proportions (0.432 for 43.2%), as an Excel % cell holds them.
    for ind_id in pd.unique(ids[pct]):
        mask = pct & (ids == ind_id) & ~np.isnan(value)
        if mask.sum() == 0 or np.nanmax(value[mask]) > 1:
            continue
        both = mask & ~np.isnan(num) & (den > 0)
        if both.any():
            ratio = np.nanmedian(value[both] / (num[both] / den[both]))
            if abs(ratio - 1) < 0.02:
                value[mask] *= 100
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
        proportion = pct | (method == "wilson")
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
                i = np.flatnonzero(outside)[0]
                issues.add_rows(ERROR, f"{words} interval does not contain the value "
                                       f"({value[i]:g} is outside {lo[i]:g} to {hi[i]:g})",
                                col("value"), rownum[outside])

        # A value that disagrees with its own numerator and denominator (warning).
        crude = np.isin(method, ["wilson", "byars"])
        multiplier = map_ids(ids, {i.id: float(i.multiplier) for i in catalogue.INDICATORS},
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
    value = np.where(fill_value & np.isin(method, ["wilson", "byars"]), crude_value, value)
    value = np.where(fill_value & (method == "none"), num, value)
    no_limits = np.isnan(limits["lower95"]) & np.isnan(limits["upper95"]) & \
        np.isnan(limits["lower998"]) & np.isnan(limits["upper998"])
    for level, conf in (("95", 0.95), ("998", 0.998)):
        lo, hi = limits[f"lower{level}"], limits[f"upper{level}"]
        wil = no_limits & (method == "wilson") & ~np.isnan(num) & (den > 0)
        if wil.any():
            lower, upper = stats.wilson_ci(num[wil], den[wil], confidence=conf)
            lo[wil], hi[wil] = np.asarray(lower) * 100, np.asarray(upper) * 100
        byr = no_limits & (method == "byars") & ~np.isnan(num) & (den > 0)
        if byr.any():
            for m in np.unique(multiplier[byr]):
                sel = byr & (multiplier == m)
                lower, upper = stats.rate_ci(num[sel], den[sel], confidence=conf,
                                             multiplier=float(m))
                lo[sel], hi[sel] = lower, upper
        dsr = no_limits & (method == "dsr") & ~np.isnan(num) & (num > 0) & ~np.isnan(value)
        if dsr.any():
            # Without the age bands, the variance is approximated as DSR^2 / count (one
            # standardisation weight); Fingertips supplies exact limits, which are kept.
            lower, upper = stats.dsr_ci(num[dsr], value[dsr], value[dsr] ** 2 / num[dsr],
                                        confidence=conf)
            lo[dsr], hi[dsr] = lower, upper
    out["value"] = value
    for f, arr in limits.items():
        out[f] = arr
    return out
