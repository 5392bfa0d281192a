"""An indicator definition for any metric a published version holds.

Catalogue metrics are defined in `metrics/reference/catalogue.py`. Metrics the catalogue does not
know - `fingertips_<id>` indicators from a Fingertips export, new long-format metrics
with `indicator_name` and `unit` - are described only by the version's `indicators`
table (title, unit, source, Fingertips id, outcome) and by their figures. This module
turns that into the same `Indicator` the pages, charts and statistics already take, so an
additional metric gets the same spine row, trend, ranking, figures and download as a
catalogue one. What the file does not say is decided as Fingertips would:

- polarity: unknown, so "none" - areas are "higher" or "lower" than England (blue), never
  better or worse;
- unit: the file's, or inferred from the figures (value / (count / denominator) is 100
  for a percentage, 100,000 for a rate per 100,000, ...);
- interval method from the unit: Wilson for percentages, Byar's for crude rates, Dobson
  for standardised rates; otherwise the intervals published with the figures are used
  as they are ("supplied"), and a metric with neither counts nor intervals is not
  compared;
- period kind and geography: those most of its rows have.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from metrics import store
from metrics.reference import catalogue
from metrics.reference.catalogue import Indicator

OTHER = "other"                       # the outcome key of the "Other metrics" page
OTHER_TITLE = "Other metrics"
# Interval methods beyond the catalogue's: limits taken as published with the figures.
SUPPLIED = "supplied"

FREQUENCY_WORDS = {
    "quarter": "Quarterly", "financial_year": "Annual (financial year)",
    "calendar_year": "Annual (calendar year)", "rolling_12m": "Quarterly (rolling 12 months)",
    "pooled_3y": "Annual (3 years pooled)",
}
_PERCENT = {"%", "percent", "percentage", "per cent", "proportion (%)", "% of people"}
_COUNT = {"count", "counts", "number", "n", "people", "persons"}
_STANDARDISED = re.compile(r"standardi[sz]ed|\bdsr\b", re.IGNORECASE)
_LEVEL_PREFIXES = {"utla": ("E06", "E08", "E09", "E10"), "pfa": ("E23",)}


def rate_unit(multiplier: int) -> str:
    """'per 100,000' as the catalogue writes a rate's unit."""
    return f"per {multiplier:,}"


def parse_unit(unit: str | None, title: str = "") -> tuple[str, int, str] | None:
    """(unit as the catalogue writes it, multiplier, interval method) for a unit written
    in a file, or None when it says nothing (empty). An unrecognised unit is kept as
    written, with the intervals the file supplies."""
    text = ("" if unit is None or (isinstance(unit, float) and math.isnan(unit))
            else str(unit)).strip()
    if not text:
        return None
    lowered = text.lower()
    if lowered in _PERCENT:
        return "%", 100, "wilson"
    if lowered in _COUNT:
        return "count", 1, "none"
    match = re.fullmatch(r"(?:rate\s+)?(?:per|/)\s*(\d[\d,]*)(?:\s+\w+)*", lowered)
    multiplier = int(match.group(1).replace(",", "")) if match else 0
    if 0 < multiplier <= 10**9:
        if multiplier == 100:
            return "%", 100, "wilson"
        method = "dsr" if _STANDARDISED.search(title or "") else "byars"
        return rate_unit(multiplier), multiplier, method
    return text, 1, SUPPLIED


def infer_unit(rows: pd.DataFrame, title: str = "") -> tuple[str, int, str, str]:
    """(unit, multiplier, method, how it was decided) from a metric's own figures."""
    value = pd.to_numeric(rows.get("value"), errors="coerce")
    num = pd.to_numeric(rows.get("numerator"), errors="coerce")
    den = pd.to_numeric(rows.get("denominator"), errors="coerce")
    has_limits = bool(pd.to_numeric(rows.get("lower95"), errors="coerce").notna().any())
    usable = value.notna() & num.notna() & (num > 0) & den.notna() & (den > 0)
    if usable.sum():
        ratio = (value[usable] / (num[usable] / den[usable])).to_numpy(float)
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        power = float(np.median(np.log10(ratio))) if len(ratio) else math.nan
        exponent = round(power) if math.isfinite(power) else -1
        if abs(power - exponent) < 0.05 and 0 <= exponent <= 6:
            multiplier = 10 ** exponent
            crude = bool(np.all(np.abs(ratio / multiplier - 1) < 0.01))
            how = (f"inferred from the figures: value = count / denominator x {multiplier:,}"
                   if crude else f"inferred from the figures: about count / denominator x "
                                 f"{multiplier:,}, so a standardised or modelled rate")
            if multiplier == 100:
                return "%", 100, "wilson" if crude else SUPPLIED, how
            if multiplier == 1:
                return "", 1, SUPPLIED if has_limits else "none", how
            method = "byars" if crude and not _STANDARDISED.search(title or "") else "dsr"
            return rate_unit(multiplier), multiplier, method, how
    if value.notna().sum() == 0 and num.notna().any():
        return "count", 1, "none", "inferred from the figures: counts only"
    return "", 1, SUPPLIED if has_limits else "none", "not given and not inferable"


def _mode(series: pd.Series, default: str) -> str:
    series = series.dropna()
    return str(series.value_counts().index[0]) if len(series) else default


def _geography(codes: pd.Series) -> str:
    prefixes = codes.astype(str).str[:3]
    for level, wanted in _LEVEL_PREFIXES.items():
        if prefixes.isin(wanted).any():
            return level
    return "national"


def loaded_definition(indicator_id: str, meta: dict | None, rows: pd.DataFrame) -> Indicator:
    """The definition of a metric the catalogue does not list, from its row in the
    version's indicators table (`meta`, may be None) and its area-total rows."""
    meta = meta or {}
    title = str(meta.get("title") or "").strip() or indicator_id
    parsed = parse_unit(meta.get("unit"), title)
    if parsed is not None:
        unit, multiplier, method = parsed
        how = "as given in the file"
    else:
        unit, multiplier, method, how = infer_unit(rows, title)
    fingertips_id = meta.get("fingertips_id")
    try:
        fingertips_id = int(fingertips_id) if fingertips_id is not None and \
            not pd.isna(fingertips_id) else None
    except (TypeError, ValueError):
        fingertips_id = None
    outcome = str(meta.get("outcome") or "").strip().lower()
    outcome = outcome if outcome in catalogue.OUTCOMES else OTHER
    source = str(meta.get("source") or "").strip() or "Loaded extract"
    kind = _mode(rows["period_kind"], "financial_year") if len(rows) else "financial_year"
    geography = _geography(rows["area_code"]) if len(rows) else "utla"
    unit_words = unit or "not stated"
    definition = (f"{title}. Loaded from {source}"
                  + (f" (Fingertips indicator {fingertips_id})" if fingertips_id else "")
                  + "; the dashboard's catalogue does not describe this metric, so areas "
                    "are called higher or lower than England, not better or worse.")
    return Indicator(
        id=indicator_id, outcome=outcome, title=title, definition=definition, unit=unit,
        multiplier=multiplier, polarity="none", source=source,
        frequency=FREQUENCY_WORDS.get(kind, kind.replace("_", " ")), period_kind=kind,
        geography=geography, ci_method=method, fingertips_id=fingertips_id,
        caveats=f"Unit: {unit_words} ({how}).")


def loaded_indicators(version: store.Version) -> list[Indicator]:
    """Every metric of the version that the catalogue does not list, by title."""
    ids = [i for i in store.indicator_summary(version)["indicator_id"].unique().tolist()
           if i not in catalogue.BY_ID]
    if not ids:
        return []
    table = store.read_table(version, "indicators")
    meta = {} if table is None else {r["indicator_id"]: r for r in table.to_dict("records")}
    values = store.all_area_values(version, ids)
    out = [loaded_definition(i, meta.get(i), values[values["indicator_id"] == i])
           for i in ids]
    return sorted(out, key=lambda ind: ind.title.lower())


def definition(indicator_id: str, version: store.Version | None = None) -> Indicator:
    """The definition of any indicator id: the catalogue's, or one built from the
    version's indicators table and figures (KeyError when neither knows it)."""
    if indicator_id in catalogue.BY_ID:
        return catalogue.BY_ID[indicator_id]
    if version is not None:
        for ind in loaded_indicators(version):
            if ind.id == indicator_id:
                return ind
    raise KeyError(f"unknown indicator '{indicator_id}'")


def complete_loaded(rows: pd.DataFrame, units: dict[str, str | None]) -> pd.DataFrame:
    """Fill what a file left out for metrics the catalogue does not list, as the loader
    does for catalogue metrics: a value from its counts, and interval limits at each
    level (95%, 99.8%) the file did not give, by the method the unit implies (Fingertips
    exports often carry 95% limits only, and without 99.8% limits no area is compared).
    `units`: indicator id -> the unit the file gave (None: infer from the figures).
    Catalogue metrics and limits the file gave are left as they are."""
    if rows.empty:
        return rows
    from metrics import stats
    ids = rows["indicator_id"].to_numpy(dtype=object)
    for ind_id in pd.unique(ids):
        if ind_id is None or ind_id in catalogue.BY_ID:
            continue
        sel = ids == ind_id
        part = rows.loc[sel]
        parsed = parse_unit(units.get(ind_id))
        unit, multiplier, method = parsed if parsed else infer_unit(part)[:3]
        if method not in ("wilson", "byars", "dsr"):
            continue
        num = pd.to_numeric(part["numerator"], errors="coerce").to_numpy(float, copy=True)
        den = pd.to_numeric(part["denominator"], errors="coerce").to_numpy(float, copy=True)
        value = pd.to_numeric(part["value"], errors="coerce").to_numpy(float, copy=True)
        suppressed = part["_suppressed"].to_numpy(bool) if "_suppressed" in part \
            else np.zeros(len(part), bool)
        if method != "dsr":
            with np.errstate(divide="ignore", invalid="ignore"):
                crude = np.where(den > 0, num / den * multiplier, np.nan)
            value = np.where(np.isnan(value) & ~suppressed, crude, value)
            rows.loc[sel, "value"] = value
        # Where the file gave 95% limits, the loader has already decided about 99.8%: worked
        # out by the method its 95% limits show, or none (limits of an estimate, wider
        # than the method's: compared at 95% only). Only rows with no limits at all get
        # both levels here.
        gave95 = ~(np.isnan(pd.to_numeric(part["lower95"], errors="coerce").to_numpy(float))
                   & np.isnan(pd.to_numeric(part["upper95"], errors="coerce").to_numpy(float)))
        for level, conf in (("95", 0.95), ("998", 0.998)):
            lo = pd.to_numeric(part[f"lower{level}"], errors="coerce").to_numpy(float, copy=True)
            hi = pd.to_numeric(part[f"upper{level}"], errors="coerce").to_numpy(float, copy=True)
            todo = np.isnan(lo) & np.isnan(hi) & ~np.isnan(num) & ~np.isnan(value) & ~gave95
            if method == "dsr":
                todo &= num > 0
            else:
                todo &= den > 0
            if not todo.any():
                continue
            if method == "wilson":
                lower, upper = stats.wilson_ci(num[todo], den[todo], confidence=conf)
                lower, upper = np.asarray(lower) * 100, np.asarray(upper) * 100
            elif method == "byars":
                lower, upper = stats.rate_ci(num[todo], den[todo], confidence=conf,
                                             multiplier=float(multiplier))
            else:
                # Without age bands the variance is approximated as DSR^2 / count, as
                # the loader does for catalogue rates.
                lower, upper = stats.dsr_ci(num[todo], value[todo],
                                            value[todo] ** 2 / num[todo], confidence=conf)
            lo[todo], hi[todo] = lower, upper
            rows.loc[sel, f"lower{level}"] = lo
            rows.loc[sel, f"upper{level}"] = hi
    return rows
