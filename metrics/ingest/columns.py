"""Column names: the many ways extracts name a column, mapped to the long format's fields,
and which format a table is in.

Names are compared after `normalise_header`: lower case, anything but letters, digits and
'%' turned into single spaces ("Lower CI 95.0 limit" -> "lower ci 95 0 limit").
"""

from __future__ import annotations

import re

FINGERTIPS, LONG, TABLE = "Fingertips export", "long format", "table (one row per area and period)"

# field -> names it goes by (first is the long format's own name)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "indicator_id": ("indicator_id", "indicator id", "indicator code", "indicator",
                     "measure", "metric", "metric id", "measure id"),
    "indicator_name": ("indicator_name", "indicator name", "indicator title", "measure name",
                       "metric name"),
    "unit": ("unit", "units"),
    "outcome": ("outcome",),
    "area_code": ("area_code", "area code", "area codes", "ons code", "area ons code", "la code",
                  "local authority code", "utla code", "ctyua code", "geography code",
                  "areacode", "area cd", "code"),
    "dat_code": ("dat_code", "dat code", "dat", "partnership code", "dat id"),
    "area_name": ("area_name", "area name", "area names", "area", "dat name", "partnership",
                  "partnership name", "local authority", "local authority name", "la name",
                  "utla name", "ctyua name", "geography", "geography name", "name",
                  "police force area", "force", "force name", "pfa name", "police force",
                  "police force area name", "pfa"),
    "area_type": ("area_type", "area type"),
    "period": ("period", "time period", "time_period", "reporting period", "quarter",
               "financial year", "year", "time", "survey year", "year ending", "years",
               "data year", "reporting year"),
    "breakdown": ("breakdown", "category type"),
    "category": ("category",),
    "sex": ("sex",),
    "age": ("age",),
    "numerator": ("numerator", "count", "count numerator", "numerator count", "n", "deaths",
                  "number of deaths"),
    "denominator": ("denominator", "denominator count", "denom", "population", "base"),
    "value": ("value", "percentage", "percent", "%", "value %", "rate", "proportion",
              "indicator value", "age standardised rate", "age standardised rate per 100 000",
              "age standardised rate per 100 000 population",
              "age standardised mortality rate", "age standardised mortality rate per 100 000",
              "asmr", "rate per 100 000", "rate per 100 000 population"),
    "lower95": ("lower95", "lower ci 95 0 limit", "lower ci 95 limit", "lower 95 ci",
                "lower 95% ci", "95% lower ci", "lower ci 95", "lower 95", "lci 95",
                "lower ci", "lower confidence limit", "lower cl", "lcl", "lci",
                "lower 95% confidence limit", "lower 95% confidence interval",
                "lower confidence interval", "95% lower confidence limit"),
    "upper95": ("upper95", "upper ci 95 0 limit", "upper ci 95 limit", "upper 95 ci",
                "upper 95% ci", "95% upper ci", "upper ci 95", "upper 95", "uci 95",
                "upper ci", "upper confidence limit", "upper cl", "ucl", "uci",
                "upper 95% confidence limit", "upper 95% confidence interval",
                "upper confidence interval", "95% upper confidence limit"),
    "lower998": ("lower998", "lower ci 99 8 limit", "lower 99 8% ci", "99 8% lower ci",
                 "lower ci 99 8", "lower 99 8", "lci 99 8"),
    "upper998": ("upper998", "upper ci 99 8 limit", "upper 99 8% ci", "99 8% upper ci",
                 "upper ci 99 8", "upper 99 8", "uci 99 8"),
    "value_note": ("value_note", "value note", "note", "notes", "footnote", "flag"),
}

NUMERIC_FIELDS = ("numerator", "denominator", "value", "lower95", "upper95", "lower998",
                  "upper998")
AREA_FIELDS = ("area_code", "dat_code", "area_name")

# Fingertips columns we read, and the ones we knowingly leave (the parent comparison
# column's name varies: "Compared to South West region value or percentiles", ...).
FINGERTIPS_MARKERS = ("indicator id", "area code", "time period", "value")
FINGERTIPS_IGNORED = re.compile(
    r"^(parent code|parent name|recent trend|compared to .*|time period sortable|"
    r"new data|time period range)$")


def normalise_header(text) -> str:
    text = "" if text is None else str(text)
    # Footnote markers are not part of the name: "Rate [note 4]", "Deaths (note 2)".
    text = re.sub(r"\[[^\]]*\]|\((?:note|notes|footnote)[^)]*\)", " ", text, flags=re.I)
    return re.sub(r"[^a-z0-9%]+", " ", text.lower()).strip()


_LOOKUP: dict[str, str] = {}
for _field, _names in SYNONYMS.items():
    for _name in _names:
        _LOOKUP.setdefault(normalise_header(_name), _field)


def field_for(header: str) -> str | None:
    return _LOOKUP.get(normalise_header(header))


def recognised(cells) -> set[str]:
    """The fields a row of cells names, if it were the header."""
    return {f for f in (field_for(c) for c in cells if isinstance(c, str)) if f}


_PERIOD_LIKE = re.compile(
    r"^((19|20)\d\d(\s*[-/\u2013]\s*\d{2,4})?|(year ending|ye|fy)\b.*|q[1-4]\s.*|"
    r"(19|20)\d\d\s*q[1-4]|\d{4}/\d{2}\s*q[1-4])$", re.I)


def period_like(cell) -> bool:
    """A header cell that names a period (a wide table's column): 2020, 2019/20, 2019-21..."""
    text = re.sub(r"\[[^\]]*\]", "", str(cell or "")).strip()
    return bool(text) and bool(_PERIOD_LIKE.match(text))


_AREA_NAMES: set[str] | None = None


def _is_area_name(cell) -> bool:
    """An England, region, upper-tier or police force area name or code (reference areas)."""
    global _AREA_NAMES
    if _AREA_NAMES is None:
        from metrics.ingest import areas
        index, _ = areas.load_index(None)
        _AREA_NAMES = set(index.names) | {c.lower() for c in index.codes}
    from metrics.ingest.areas import normalise_name
    text = str(cell or "").strip()
    key = normalise_name(text).replace(",", "").replace("  ", " ")
    return bool(text) and (key in _AREA_NAMES or text.lower() in _AREA_NAMES)


def looks_like_header(cells) -> bool:
    fields = recognised(cells)
    has_area = bool(fields & set(AREA_FIELDS))
    if len(fields) >= 2 and (has_area or "period" in fields):
        return True
    # Wide tables name one axis in a column and the other in the headers: an area column
    # beside period columns ("Area name | 2019 | 2020"), or a period column beside area
    # or measure columns ("Year | England | North East", "Survey year | Any drug | ...").
    texts = [c for c in cells if isinstance(c, str) and c.strip()]
    if has_area and sum(period_like(c) for c in cells if isinstance(c, str)) >= 1:
        return True
    # (A metadata row such as "Area: | Gloucestershire | ..." is not a header.)
    if (fields & ({"period"} | set(AREA_FIELDS))) and len(texts) >= 3 and \
            not any(period_like(c) for c in texts) and \
            not any(c.strip().endswith(":") for c in texts):
        return True
    # Areas across ("Measure | England | North East"): wide, even with no period column.
    areas_across = sum(_is_area_name(c) for c in texts)
    if areas_across >= 2 and len(texts) > areas_across:
        return True
    # A row of periods beside a label ("Measure | 2019 | 2020"): wide, even with no area
    # column (the layouts module then says what is missing).
    n_periods = sum(period_like(c) for c in texts)
    return n_periods >= 2 and len(texts) > n_periods and bool(texts) and \
        not period_like(texts[0])


def find_header(rows: list[list], limit: int = 40) -> int | None:
    """Index of the header row among the first rows (title rows may come above it)."""
    for i, cells in enumerate(rows[:limit]):
        if looks_like_header(cells):
            return i
    return None


SKIPPED_SHEETS = re.compile(r"^(contents?|table of contents|notes?|footnotes|definitions?|"
                            r"glossary|cover( sheet)?|title|information|info|about|"
                            r"metadata|read me|readme|front page|introduction|"
                            r"terms and conditions|quality|revisions?|methodology)$")


def sheet_skip_reason(sheet_name: str, rows) -> str:
    """Why a sheet without a table was passed over, in words for the report."""
    norm = normalise_header(sheet_name)
    if SKIPPED_SHEETS.match(norm):
        return f"it is the workbook's {norm} sheet, not a table"
    return "it has no table with area and period columns"


def detect_format(headers: list[str]) -> str:
    names = {normalise_header(h) for h in headers}
    if all(m in names for m in FINGERTIPS_MARKERS):
        return FINGERTIPS
    if {"indicator_id", "area_code", "period"} <= {h.strip() for h in headers}:
        return LONG
    return TABLE


def map_columns(headers: list[str], fmt: str) -> tuple[dict[str, int], list[tuple[str, list[str]]],
                                                       list[str]]:
    """field -> column position; fields claimed by more than one column; unused columns."""
    claimed: dict[str, list[int]] = {}
    unused = []
    for i, header in enumerate(headers):
        norm = normalise_header(header)
        if not norm:
            continue
        if fmt == FINGERTIPS and FINGERTIPS_IGNORED.match(norm):
            continue
        field = field_for(header)
        if fmt == FINGERTIPS and norm == "indicator name":
            field = "indicator_name"
        if field is None:
            unused.append(str(header))
            continue
        claimed.setdefault(field, []).append(i)
    clashes = [(f, [str(headers[i]) for i in idx]) for f, idx in claimed.items() if len(idx) > 1]
    return {f: idx[0] for f, idx in claimed.items()}, clashes, unused
