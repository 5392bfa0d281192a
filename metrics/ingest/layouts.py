"""Reshape tables as publishers lay them out into one row per area and period, and apply
what the analyst declares about a file that does not say it (`LoadOptions`).

Layouts recognised (each is reported as a note, with the sheet it was read from):

- **Two-row headers** (ONS workbooks): a period row above a measure row, such as
  "2019–21" over "Deaths | Rate | Lower Confidence Limit | Upper Confidence Limit", the
  period often only above the first column of its group (merged cells). Each group
  becomes the rows of its period.
- **Names by level**: "Area Names" over several columns, the country, region and county
  or district names each in their own column (blank headers beside it); read as one name.
- **Wide tables**: an area per row and a period per column ("Area code | 2019 | 2020"),
  or a period per row and an area per column ("Year | England | North East"), melted to
  one value per area and period. A table that looks wide but whose other axis cannot be
  found is refused with a message that says how to declare it.
- **National tables** (CSEW): no area column, or England and Wales rows, for a metric the
  catalogue publishes for England only: read as England.
- **Several figure columns** (one column per drug): refused naming them, unless
  `--value-column` picks one.

The analyst's declarations (command line options, or the Data page's choices):
`--indicator ID` (with `--indicator-name TEXT --unit UNIT` for a new metric),
`--period PERIOD` (else a period in the file name is used, with a note), `--value-column`,
and `--sheet` (which sheet of a workbook to read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.reference import catalogue, periods
from metrics.ingest import columns
from metrics.ingest.areas import AreaIndex
from metrics.ingest.model import ERROR, NOTE, Issues, listing, repeated
from metrics.ingest.readers import RawTable, ReadResult
from metrics.reference.formatting import plural

# Units as the catalogue writes them; a new metric must use one.
UNITS = ("%", "count", "per 1,000", "per 100,000", "per 1,000,000")
NATIONAL_NAMES = {"england and wales", "england & wales", "england and wales total"}
NATIONAL_CODES = {"K04000001"}
OPTION_FIELDS = {"indicator_id": "--indicator", "period": "--period",
                 "value": "--value-column"}


@dataclass
class LoadOptions:
    """What the analyst declares about files that do not say it themselves."""
    indicator: str | None = None
    period: str | None = None
    indicator_name: str | None = None
    unit: str | None = None
    value_column: str | None = None
    sheet: str | None = None

    def __post_init__(self):
        for name in ("indicator", "period", "indicator_name", "unit", "value_column",
                     "sheet"):
            value = getattr(self, name)
            setattr(self, name, value.strip() if isinstance(value, str) and value.strip()
                    else None)

    def any(self) -> bool:
        return any((self.indicator, self.period, self.indicator_name, self.unit,
                    self.value_column, self.sheet))

    def problems(self, known: dict | None = None) -> list[str]:
        """Mistakes in the options themselves (before any file is read)."""
        out = []
        known = known or {}
        if (self.indicator_name or self.unit) and not self.indicator:
            out.append("--indicator-name and --unit describe a new metric: give its id "
                       "with --indicator ID as well")
        if self.unit and self.unit not in UNITS:
            out.append(f"unknown unit '{self.unit}': use one the catalogue uses: "
                       + ", ".join(f"'{u}'" for u in UNITS))
        if self.indicator and self.indicator not in catalogue.BY_ID and \
                self.indicator not in known:
            if not re.match(r"^[a-z][a-z0-9_]{2,63}$", self.indicator):
                out.append(f"'{self.indicator}' is not a catalogue metric, and a new "
                           "metric's id must be 3 to 64 lower-case letters, digits or _ "
                           "starting with a letter (such as drug_poisoning_deaths)")
            elif not (self.indicator_name and self.unit):
                out.append(f"'{self.indicator}' is not a catalogue metric: a new metric "
                           "needs --indicator-name TEXT and --unit UNIT as well (unit one "
                           f"of {', '.join(UNITS)})")
        if self.indicator in catalogue.BY_ID and (self.indicator_name or self.unit):
            ind = catalogue.BY_ID[self.indicator]
            out.append(f"'{self.indicator}' is a catalogue metric ({ind.title}, "
                       f"{ind.unit}): --indicator-name and --unit are only for new metrics")
        if self.period:
            try:
                periods.parse_period(self.period)
            except periods.PeriodError as exc:
                out.append(f"--period: {exc}")
        return out

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


# --- small helpers ------------------------------------------------------------------------

def _text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float):
        if np.isnan(cell):
            return ""
        return str(int(cell)) if cell.is_integer() else str(cell)
    return str(cell).strip()


def _clean_label(text: str) -> str:
    """A header or period label without footnote markers ("2019–21 [note 3]")."""
    return re.sub(r"\s+", " ", re.sub(r"\[[^\]]*\]", " ", str(text))).strip()


def _period_of(text: str) -> periods.Period | None:
    text = _clean_label(text)
    if not text or not columns.period_like(text):
        return None
    try:
        return periods.parse_period(text)
    except periods.PeriodError:
        return None


def _numeric_share(col: pd.Series) -> float:
    """Share of the non-empty cells that are numbers or suppression markers."""
    from metrics.ingest.validate import number_column, text_column
    text = text_column(col)
    filled = (text != "").to_numpy()
    if not filled.any():
        return 0.0
    nums = number_column(col)
    ok = (~np.isnan(nums.values) | nums.suppressed) & filled
    if nums.raw is not None:
        from metrics.ingest.validate import NOT_AVAILABLE
        ok |= filled & text.str.lower().isin(NOT_AVAILABLE).to_numpy()
    return float(ok.sum() / filled.sum())


def _replace(table: RawTable, headers, data, row_numbers=None, above=None) -> RawTable:
    data = data.set_axis(range(len(headers)), axis=1)   # no copy of the cells (copy on write)
    return RawTable(table.label, table.sheet, list(headers), data,
                    table.row_numbers if row_numbers is None else row_numbers, table.title,
                    table.encoding, table.header_row,
                    table.above if above is None else above)


def _where(table: RawTable) -> str:
    return f"sheet '{table.sheet}'" if table.sheet else "the file"


def _at(table: RawTable) -> str:
    """Prefix of a note about one sheet ("" for a CSV: the file is named already)."""
    return f"sheet '{table.sheet}': " if table.sheet else ""


def _fields(table: RawTable) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    fmt = columns.detect_format(table.headers)
    for i, header in enumerate(table.headers):
        norm = columns.normalise_header(header)
        if not norm or (fmt == columns.FINGERTIPS and columns.FINGERTIPS_IGNORED.match(norm)):
            continue
        field = columns.field_for(header)
        if field:
            out.setdefault(field, []).append(i)
    return out


# --- the layouts ------------------------------------------------------------------------

def names_by_level(table: RawTable, issues: Issues) -> RawTable:
    """'Area Names' over several columns, one per level: read as one name column."""
    fields = _fields(table)
    if "area_name" not in fields:
        return table
    first = fields["area_name"][0]
    spread = [first]
    for j in range(first + 1, len(table.headers)):
        if table.headers[j].strip():
            break
        col = table.data[j]
        texts = [_text(v) for v in col]
        filled = [t for t in texts if t]
        if not filled or _numeric_share(col) > 0.2:
            break
        spread.append(j)
    if len(spread) == 1:
        return table
    names = pd.Series([""] * len(table.data), dtype=object)
    for j in reversed(spread):
        # The most specific level (rightmost filled) names the row: a district row may
        # also repeat its county on the left in some editions.
        texts = table.data[j].map(_text)
        names = names.where(names != "", texts)
    data = table.data.drop(columns=spread[1:]).copy()
    data[first] = names.to_numpy()
    headers = [h for i, h in enumerate(table.headers) if i not in spread[1:]]
    letters = f"{_letter(spread[0])} to {_letter(spread[-1])}"
    issues.add(NOTE, f"{_at(table)}area names spread over columns {letters} by level "
                     f"(country, region, county or district) were read as one name")
    # The rows above the header lose the same columns, so a period row stays aligned.
    above = [[c for i, c in enumerate(r) if i not in spread[1:]] for r in table.above]
    return _replace(table, headers, data.reindex(columns=sorted(data.columns)), above=above)


def _letter(i: int) -> str:
    out, n = "", i + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def two_row_header(table: RawTable, issues: Issues) -> RawTable | None:
    """A period row above a measure row: one block of rows per period. None if not so."""
    if not table.above:
        return None
    period_row = [_text(c) for c in table.above[-1]]
    width = len(table.headers)
    period_row = (period_row + [""] * width)[:width]
    labels: list[str | None] = [None] * width
    current = None
    found = {}
    for j, cell in enumerate(period_row):
        if cell:
            parsed = _period_of(cell)
            if parsed is None:
                current = None
            else:
                current = cell
                found[cell] = parsed
        labels[j] = current
    if len(found) < 1 or "period" in _fields(table):
        return None
    first = next(j for j in range(width) if labels[j])
    if first == 0 or not any(table.headers[j].strip() for j in range(first)):
        # A period over the first column is a title ("2023/24 Q1"), not a column group.
        return None
    measure_cols = [j for j in range(width) if labels[j] and table.headers[j].strip()]
    fields_of = {j: columns.field_for(table.headers[j]) for j in measure_cols}
    if not any(f in ("value", "numerator", "lower95", "upper95") for f in fields_of.values()):
        return None
    id_cols = [j for j in range(width) if labels[j] is None and table.headers[j].strip()]
    # Measure order and names from the first group; a measure missing from a group is blank.
    order: list[str] = []
    names: dict[str, str] = {}
    for j in measure_cols:
        key = fields_of[j] or columns.normalise_header(table.headers[j])
        if key not in names:
            order.append(key)
            names[key] = _clean_label(table.headers[j])
    blocks, row_blocks = [], []
    n = len(table.data)
    anywhere = np.zeros(n, dtype=bool)
    for label in found:
        cols = [j for j in measure_cols if labels[j] == label]
        block = {}
        for pos, j in enumerate(id_cols):
            block[f"id{pos}"] = table.data[j].to_numpy()
        block["period"] = repeated(n, _clean_label(label))
        for j in cols:
            key = fields_of[j] or columns.normalise_header(table.headers[j])
            block.setdefault(f"m:{key}", table.data[j].to_numpy())
        for key in order:
            block.setdefault(f"m:{key}", repeated(n, None))
        # Footnote, source and blank rows have no figure in the group: not rows of it.
        filled = _filled(table.data, cols)
        anywhere |= filled
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in block.items()})
        blocks.append(frame[filled])
        row_blocks.append(table.row_numbers[filled])
    _note_figureless(table, anywhere, issues)
    data = pd.concat(blocks, ignore_index=True)
    headers = [table.headers[j] for j in id_cols] + ["Period"] + [names[k] for k in order]
    data = data[[f"id{p}" for p in range(len(id_cols))] + ["period"]
                + [f"m:{k}" for k in order]]
    labels_shown = [found[k].label for k in found]
    issues.add(NOTE, f"{_at(table)}read as a period row (row {table.header_row - 1}) "
                     f"above a measure row (row {table.header_row}): "
                     f"{plural(len(found), 'period')} "
                     f"({', '.join(labels_shown[:6])}{' ...' if len(found) > 6 else ''}) "
                     f"of {', '.join(names[k] for k in order)}")
    return _replace(table, headers, data, np.concatenate(row_blocks))


def _melt(table: RawTable, keep_cols: list[int], melt_cols: list[int], header_name: str,
          header_values: list[str], issues: Issues) -> RawTable:
    """One row per (row, melted column): the melted column's header goes to header_name."""
    n = len(table.data)
    blocks, numbers = [], []
    anywhere = np.zeros(n, dtype=bool)
    for j, value in zip(melt_cols, header_values):
        block = {f"k{p}": table.data[c].to_numpy() for p, c in enumerate(keep_cols)}
        block["axis"] = repeated(n, value)
        block["value"] = table.data[j].to_numpy()
        filled = _filled(table.data, [j])
        anywhere |= filled
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in block.items()})
        blocks.append(frame[filled])
        numbers.append(table.row_numbers[filled])
    _note_figureless(table, anywhere, issues)
    data = pd.concat(blocks, ignore_index=True)
    headers = [table.headers[c] for c in keep_cols] + [header_name, "Value"]
    return _replace(table, headers, data, np.concatenate(numbers))


def _filled(data: pd.DataFrame, cols: list[int]) -> np.ndarray:
    """Rows with something in any of the columns (a figure or a marker such as ':')."""
    out = np.zeros(len(data), dtype=bool)
    for j in cols:
        out |= (data[j].map(_text) != "").to_numpy()
    return out


def _note_figureless(table: RawTable, anywhere: np.ndarray, issues: Issues) -> None:
    texty = np.zeros(len(table.data), dtype=bool)
    for j in table.data.columns:
        texty |= (table.data[j].map(_text) != "").to_numpy()
    gone = texty & ~anywhere
    if gone.any():
        issues.add_rows(NOTE, f"{_at(table)}rows with no figures (titles, footnotes, "
                              "sources) were not read as data", None, table.row_numbers[gone])


def _area_header(header: str, areas: AreaIndex) -> str | None:
    text = _clean_label(header)
    if not text:
        return None
    if areas.by_code(text):
        return text
    for geo in ("utla", "pfa", "national"):
        code, _ = areas.by_name(text, geo)
        if code:
            return code
    if text.upper() in NATIONAL_CODES or text.lower() in NATIONAL_NAMES:
        return text
    return None


def wide(table: RawTable, options: LoadOptions, areas: AreaIndex,
         issues: Issues) -> RawTable | None:
    """Melt a wide table; None if the table is not wide. Raises LayoutError if it looks
    wide but cannot be read without a declaration."""
    fields = _fields(table)
    has_area = bool(set(fields) & set(columns.AREA_FIELDS))
    has_period = "period" in fields
    used = {j for idx in fields.values() for j in idx}
    other = [j for j in range(len(table.headers)) if j not in used and table.headers[j].strip()]
    period_cols = [j for j in other if _period_of(table.headers[j])]
    area_cols = [j for j in other if _area_header(table.headers[j], areas)]
    where = _where(table)
    if period_cols and not has_period:
        shown = ", ".join(f"'{table.headers[j]}'" for j in period_cols[:6])
        if not has_area:
            raise LayoutError(
                f"the table in {where} looks wide (columns {shown} are periods) but no "
                "column names the areas: head the area column 'Area code' or 'Area name'; "
                "for a table of England figures only, load it with --indicator ID of an "
                "England-only metric and one row per period (a 'Period' column)")
        if {"value", "numerator"} & set(fields):
            value_names = ", ".join(f"'{table.headers[fields[f][0]]}'"
                                    for f in ("value", "numerator") if f in fields)
            raise LayoutError(
                f"the table in {where} is ambiguous: columns {shown} are periods (a wide "
                f"table) but {value_names} also holds figures. Load a table with one "
                "period per column and no value column, or one row per area and period "
                "with a 'Period' column")
        keep = [j for j in range(len(table.headers)) if j not in period_cols
                and j in used]
        labels = [_clean_label(table.headers[j]) for j in period_cols]
        melted = _melt(table, keep, period_cols, "Period", labels, issues)
        ignored = [table.headers[j] for j in other if j not in period_cols]
        _note_wide(table, issues, "an area per row and a period per column", labels, ignored)
        return melted
    if len(area_cols) >= 2 and not has_area:
        shown = ", ".join(f"'{table.headers[j]}'" for j in area_cols[:6])
        if not has_period and not options.period:
            raise LayoutError(
                f"the table in {where} looks wide (columns {shown} are areas) but no "
                "column holds the period: head it 'Period' or 'Year', or give the one "
                "period of the whole table with --period PERIOD")
        keep = [j for j in range(len(table.headers)) if j in used]
        labels = [_clean_label(table.headers[j]) for j in area_cols]
        melted = _melt(table, keep, area_cols, "Area", labels, issues)
        ignored = [table.headers[j] for j in other if j not in area_cols]
        _note_wide(table, issues, "a period per row and an area per column", labels, ignored)
        return melted
    return None


def value_column(table: RawTable, options: LoadOptions, issues: Issues) -> RawTable:
    """Pick the column holding the figure where several could (one column per drug)."""
    fields = _fields(table)
    used = {j for idx in fields.values() for j in idx}
    headers = table.headers
    if options.value_column:
        wanted = columns.normalise_header(options.value_column)
        matches = [j for j, h in enumerate(headers) if columns.normalise_header(h) == wanted]
        if not matches:
            raise LayoutError(
                f"--value-column '{options.value_column}' is not a column of {_where(table)}"
                f" (columns: {listing(h for h in headers if h.strip())})")
        chosen = matches[0]
        drop = set(fields.get("value", [])) - {chosen}
        candidates = [j for j, h in enumerate(headers) if h.strip() and j not in used
                      and j != chosen and _numeric_share(table.data[j]) >= 0.8]
        drop |= set(candidates)
        keep = [j for j in range(len(headers)) if j not in drop]
        new_headers = ["Value" if j == chosen else headers[j] for j in keep]
        data = table.data[keep]
        issues.add(NOTE, f"{_at(table)}the figure was read from column "
                         f"'{headers[chosen]}' (--value-column)"
                         + (f"; not used: "
                            f"{listing((headers[j] for j in sorted(drop)), quote=False)}"
                            if drop else ""))
        return _replace(table, new_headers, data)
    if {"value", "numerator"} & set(fields):
        return table
    candidates = [j for j, h in enumerate(headers) if h.strip() and j not in used
                  and _numeric_share(table.data[j]) >= 0.8]
    if len(candidates) == 1:
        j = candidates[0]
        issues.add(NOTE, f"{_at(table)}the figure was read from column '{headers[j]}' "
                         "(the only column of numbers)")
        return _replace(table, ["Value" if i == j else h for i, h in enumerate(headers)],
                        table.data)
    if len(candidates) > 1:
        names = ", ".join(f"'{headers[j]}'" for j in candidates[:12])
        raise LayoutError(
            f"several columns of {_where(table)} could hold the figure: {names}. Pick one "
            f"with --value-column, such as --value-column \"{headers[candidates[0]]}\" (on "
            "the Data page: 'Column holding the figure'), and load the file once per "
            "column you need")
    return table


# Words in a file name that make a bare year in it mean something else ("table_2024_Q1":
# a quarter; "year_ending_March_2024": 2023/24): then no period is guessed from the name
# and the analyst is asked for --period.
_OTHER_PERIOD_WORDS = re.compile(
    r"(?i)(?<![a-z])(q[1-4]|quarter|ending|to|jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|"
    r"june?|july?|aug(ust)?|sep(t|tember)?|oct(ober)?|nov(ember)?|dec(ember)?|months?)"
    r"(?![a-z])")


def _note_wide(table: RawTable, issues: Issues, shape: str, labels: list[str],
               ignored: list[str]) -> None:
    issues.add(NOTE, f"{_at(table)}a wide table ({shape}: "
                     f"{', '.join(labels[:6])}{' ...' if len(labels) > 6 else ''}) was "
                     "read as one row per area and period"
                     + (f"; columns not used: {', '.join(ignored[:10])}" if ignored else ""))


def _period_from_name(file_name: str) -> periods.Period | None:
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", file_name)
    if _OTHER_PERIOD_WORDS.search(stem.replace("_", " ").replace("-", " ")):
        return None
    tokens = set()
    for m in re.finditer(r"(?<!\d)((?:19|20)\d\d)(?:[-_/\u2013 ]?((?:19|20)?\d\d))?(?!\d)",
                         stem):
        first, second = m.group(1), m.group(2)
        tokens.add(f"{first}-{second}" if second else first)
    found = {}
    for token in tokens:
        try:
            p = periods.parse_period(token.replace("_", "-"))
        except periods.PeriodError:
            continue
        found[p.label] = p
    # "2023" inside "2023-24" is the same period, not a second one.
    if len(found) > 1:
        longer = {k: v for k, v in found.items() if v.kind != "calendar_year"}
        found = longer if len(longer) == 1 else found
    return next(iter(found.values())) if len(found) == 1 else None


def _indicator_of(table: RawTable, options: LoadOptions, file_name: str) -> str | None:
    if options.indicator:
        return options.indicator
    if "indicator_id" in _fields(table):
        return None
    from metrics.ingest.validate import _indicator_from_title
    return _indicator_from_title(" ".join([table.title, table.sheet or "", file_name]))


def declared(table: RawTable, options: LoadOptions, file_name: str, areas: AreaIndex,
             issues: Issues) -> RawTable:
    """Add the columns the analyst declared (indicator, period) and, for an England-only
    metric, England as the area."""
    fields = _fields(table)
    headers = list(table.headers)
    added: dict[int, pd.Series] = {}
    n = len(table.data)
    where = _where(table)

    def add(header, value):
        added[len(headers)] = pd.Series(repeated(n, value),
                                        index=table.data.index)
        headers.append(header)

    indicator = _indicator_of(table, options, file_name)
    national = indicator is not None and (
        (indicator in catalogue.BY_ID and catalogue.BY_ID[indicator].geography == "national")
        or (indicator not in catalogue.BY_ID and options.indicator_name is not None))
    has_area = bool(set(fields) & set(columns.AREA_FIELDS))
    if options.indicator:
        if "indicator_id" in fields:
            raise LayoutError(
                f"{where} names its indicators in column "
                f"'{table.headers[fields['indicator_id'][0]]}': --indicator is for files "
                "that do not; load it without --indicator")
        add("indicator_id", options.indicator)
        if options.indicator_name:
            add("indicator_name", options.indicator_name)
            add("unit", options.unit or "")
    if "period" not in fields:
        if options.period:
            add("Period", options.period)
            issues.add(NOTE, f"{_at(table)}every row read as period "
                             f"{periods.parse_period(options.period).label} (--period)")
        else:
            # Only for a file the analyst declares (--indicator): a year in the name of
            # an ordinary extract is not taken as its period unasked.
            guess = _period_from_name(file_name) if options.indicator else None
            if guess is not None and (has_area or national):
                add("Period", guess.label)
                issues.add(NOTE, f"{_at(table)}no period column: every row read as period "
                                 f"{guess.label}, found in the file name (give --period to "
                                 "say otherwise)")
            elif (has_area or national) and options.any():
                raise LayoutError(
                    f"{where} has no period column and its file name names no period: give "
                    "the period of the whole table with --period PERIOD (such as "
                    "--period 2023/24), or add a 'Period' column")
    if national and not has_area:
        add("Area", "England")
        issues.add(NOTE, f"{_at(table)}no area column: every row read as England (E92000001), "
                         "the only area this metric is published for")
    # Only a table that gains columns is copied (a million-row extract usually gains none).
    out = _replace(table, headers, pd.concat([table.data, pd.DataFrame(added)], axis=1)) \
        if added else table
    if national:
        out = _england_and_wales(out, issues)
    return out


def _england_and_wales(table: RawTable, issues: Issues) -> RawTable:
    """National survey figures for England and Wales stand for England (the CSEW covers
    both); Wales-only rows are left out. England's own row wins where both are given."""
    fields = _fields(table)
    cols = [j for f in ("area_code", "area_name") for j in fields.get(f, [])]
    if not cols:
        return table
    data = table.data.copy()
    keep = np.ones(len(data), dtype=bool)
    ew = np.zeros(len(data), dtype=bool)
    wales = np.zeros(len(data), dtype=bool)
    for j in cols:
        text = data[j].map(_text)
        lower = text.str.lower()
        ew |= (lower.isin(NATIONAL_NAMES) | text.str.upper().isin(NATIONAL_CODES)).to_numpy()
        wales |= ((lower == "wales") | text.str.upper().isin({"W92000004"})).to_numpy()
    if not (ew.any() or wales.any()):
        return table
    england = np.zeros(len(data), dtype=bool)
    for j in cols:
        text = data[j].map(_text)
        england |= ((text.str.lower() == "england") | (text.str.upper() == "E92000001")) \
            .to_numpy()
    period_cols = fields.get("period", [])
    periods_with_england = set()
    if period_cols:
        per = data[period_cols[0]].map(_text)
        periods_with_england = set(per[england])
        dup = ew & per.isin(periods_with_england).to_numpy()
    else:
        dup = ew & england.any()
    keep &= ~wales & ~dup
    replace = ew & ~dup
    for j in cols:
        field = "area_code" if j in fields.get("area_code", []) else "area_name"
        data.loc[replace, j] = "E92000001" if field == "area_code" else "England"
    if replace.any():
        issues.add_rows(NOTE, "England and Wales figures were read as England (the survey "
                              "covers both; the metric is shown for England)", None,
                        table.row_numbers[replace])
    if (~keep).any():
        issues.add_rows(NOTE, "Wales rows, and England and Wales rows where England has its "
                              "own figure, were left out", None, table.row_numbers[~keep])
    return _replace(table, table.headers, data[keep].reset_index(drop=True),
                    table.row_numbers[keep])


class LayoutError(Exception):
    """The table cannot be read without a declaration; the message says which."""


# --- one file ---------------------------------------------------------------------------------

def apply(read: ReadResult, file_name: str, options: LoadOptions | None, areas: AreaIndex,
          issues: Issues) -> list[RawTable]:
    """The tables of one file, reshaped and with the declarations applied. Problems become
    issues on `issues`; a table that cannot be read is left out with an error."""
    options = options or LoadOptions()
    tables = list(read.tables)
    if options.sheet and read.kind != "excel":
        issues.add(NOTE, f"--sheet '{options.sheet}' was not used: the file is not a workbook")
    if options.sheet and read.kind == "excel":
        wanted = options.sheet.strip().lower()
        chosen = [t for t in tables if (t.sheet or "").strip().lower() == wanted]
        if not chosen:
            issues.add(ERROR, f"--sheet '{options.sheet}': no sheet of that name holds a "
                              f"table (sheets with a table: "
                              f"{', '.join(repr(t.sheet) for t in tables) or 'none'})")
            return []
        for t in tables:
            if t not in chosen:
                issues.add(NOTE, f"sheet '{t.sheet}' was not read (--sheet "
                                 f"'{options.sheet}')")
        tables = chosen
    if read.kind == "excel" and len(tables) > 1 and not options.sheet:
        tables = _sheets_naming_indicators(tables, file_name, options, issues)
    out = []
    for table in tables:
        try:
            out.append(_one(table, file_name, options, areas, issues))
        except LayoutError as exc:
            issues.add(ERROR, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not pass as a clean file
            where = f"sheet '{table.sheet}'" if table.sheet else "the table"
            issues.add(ERROR, f"{where} cannot be reshaped ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); please report this file")
    for table in out:
        if table.sheet:
            issues.add(NOTE, f"sheet '{table.sheet}' was read (header on row "
                             f"{table.header_row})")
    return out


def _one(table: RawTable, file_name: str, options: LoadOptions, areas: AreaIndex,
         issues: Issues) -> RawTable:
    table = names_by_level(table, issues)
    shaped = two_row_header(table, issues)
    if shaped is None:
        shaped = wide(table, options, areas, issues)
    table = shaped if shaped is not None else table
    table = value_column(table, options, issues)
    return declared(table, options, file_name, areas, issues)


def _sheets_naming_indicators(tables, file_name, options, issues):
    """A workbook of several tables (ONS: Tables 1 to 8): read those that name their
    indicator; the others are noted, not refused, when at least one does."""
    if options.indicator or options.period or options.value_column:
        raise_names = ", ".join(f"'{t.sheet}'" for t in tables)
        issues.add(ERROR, f"--indicator, --period and --value-column apply to one table, but "
                          f"the workbook has {len(tables)} sheets with a table "
                          f"({raise_names}): choose one with --sheet NAME")
        return []
    from metrics.ingest.validate import _indicator_from_title
    named = [t for t in tables if "indicator_id" in _fields(t)
             or _indicator_from_title(" ".join([t.title, t.sheet or "", file_name]))]
    if not named or len(named) == len(tables):
        return tables
    for t in tables:
        if t not in named:
            issues.add(NOTE, f"sheet '{t.sheet}' was not read: its title names no metric of "
                             "the catalogue (load it with --sheet "
                             f"\"{t.sheet}\" --indicator ID)")
    return named


FROM_FILE = "(as the file says)"
NEW_METRIC = "New metric..."


def options_from_choices(indicator: str | None = None, new_id: str = "",
                         new_name: str = "", unit: str = "", period: str = "",
                         value_column: str | None = None,
                         sheet: str | None = None) -> LoadOptions:
    """The Data page's choices as LoadOptions ("as the file says" means no option)."""
    def chosen(value):
        return None if value in (None, "", FROM_FILE) else value

    if indicator == NEW_METRIC:
        return LoadOptions(chosen(new_id), chosen(period), chosen(new_name) or "",
                           chosen(unit), chosen(value_column), chosen(sheet))
    return LoadOptions(chosen(indicator), chosen(period), None, None, chosen(value_column),
                       chosen(sheet))


def describe_sources(sources) -> dict:
    """Sheets with a table and columns that could hold the figure, over several files
    (sources with .name and .data), for the Data page's choices."""
    from metrics.ingest import readers
    out = {"sheets": [], "value_columns": []}
    for source in sources:
        if not source.data:
            continue
        read = readers.read_guarded(source.data, source.name, Issues(source.name))
        found = describe(read)
        for key in out:
            out[key] += [v for v in found[key] if v not in out[key]]
    return out


def describe(read: ReadResult) -> dict:
    """What the Data page offers to choose from: sheets with a table, and per table the
    columns that could hold the figure."""
    sheets = [t.sheet for t in read.tables if t.sheet]
    value_columns: list[str] = []
    for t in read.tables:
        fields = _fields(t)
        used = {j for idx in fields.values() for j in idx}
        for j, h in enumerate(t.headers):
            if h.strip() and (j not in used or columns.field_for(h) == "value") and \
                    not _period_of(h) and _numeric_share(t.data[j]) >= 0.8 and \
                    h not in value_columns:
                value_columns.append(h)
    return {"sheets": sheets, "value_columns": value_columns}
