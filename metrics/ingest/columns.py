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
    "area_code": ("area_code", "area code", "ons code", "area ons code", "la code",
                  "local authority code", "utla code", "ctyua code", "geography code",
                  "areacode", "area cd", "code"),
    "dat_code": ("dat_code", "dat code", "dat", "partnership code", "dat id"),
    "area_name": ("area_name", "area name", "area", "dat name", "partnership",
                  "partnership name", "local authority", "local authority name", "la name",
                  "utla name", "ctyua name", "geography", "geography name", "name",
                  "police force area", "force", "force name", "pfa name", "police force",
                  "police force area name", "pfa"),
    "area_type": ("area_type", "area type"),
    "period": ("period", "time period", "time_period", "reporting period", "quarter",
               "financial year", "year", "time"),
    "breakdown": ("breakdown", "category type"),
    "category": ("category",),
    "sex": ("sex",),
    "age": ("age",),
    "numerator": ("numerator", "count", "count numerator", "numerator count", "n"),
    "denominator": ("denominator", "denominator count", "denom", "population", "base"),
    "value": ("value", "percentage", "percent", "%", "value %", "rate", "proportion",
              "indicator value"),
    "lower95": ("lower95", "lower ci 95 0 limit", "lower ci 95 limit", "lower 95 ci",
                "lower 95% ci", "95% lower ci", "lower ci 95", "lower 95", "lci 95",
                "lower ci", "lower confidence limit", "lower cl", "lcl", "lci"),
    "upper95": ("upper95", "upper ci 95 0 limit", "upper ci 95 limit", "upper 95 ci",
                "upper 95% ci", "95% upper ci", "upper ci 95", "upper 95", "uci 95",
                "upper ci", "upper confidence limit", "upper cl", "ucl", "uci"),
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


def looks_like_header(cells) -> bool:
    fields = recognised(cells)
    has_area = bool(fields & set(AREA_FIELDS))
    return len(fields) >= 2 and (has_area or "period" in fields)


def find_header(rows: list[list], limit: int = 40) -> int | None:
    """Index of the header row among the first rows (title rows may come above it)."""
    for i, cells in enumerate(rows[:limit]):
        if looks_like_header(cells):
            return i
    return None


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
