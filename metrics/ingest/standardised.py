"""Directly standardised rates (DSRs) as loaded: which intervals are approximate, and
which rates are not published.

A DSR's interval needs its variance, which needs the age bands behind it (Dobson's
method). A file that gives the rate and its count but neither limits nor age bands leaves
only the approximation var = DSR^2 / count (one standardisation weight): on real areas
these intervals are 0.65 to 1.00 (median 0.75) of Dobson's width, so an area looks
significantly different from England too often. Such rows are published with
`ci_approximate` true, and every table, tooltip, download and pack page says so.

Like ONS (":" in its tables) and Fingertips, no DSR is published on fewer than 10 events:
the count is kept (the pages say "rate not published: fewer than 10 deaths (7)"), the rate
and its interval are not, and the load's notes count such rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from metrics import stats
from metrics.ingest import definitions
from metrics.ingest.model import NOTE, Issues
from metrics.reference import catalogue
from metrics.reference.formatting import plural

# The demonstration set (metrics.demo) and the pages (metrics.views.explorer) apply the
# same rule with the same numbers and words.
DSR_MIN_EVENTS = stats.DSR_MIN_EVENTS
WITHHELD_NOTE = stats.DSR_WITHHELD_NOTE
LIMITS = ("lower95", "upper95", "lower998", "upper998")

# The 2013 European Standard Population (Eurostat; used by ONS and OHID for rates since
# 2014): persons per 100,000 in each age band. Files may split 0-4 into under 1 and 1-4,
# or close at 85+.
ESP2013 = {"0-4": 5_000, "5-9": 5_500, "10-14": 5_500, "15-19": 5_500, "20-24": 6_000,
           "25-29": 6_000, "30-34": 6_500, "35-39": 7_000, "40-44": 7_000, "45-49": 7_000,
           "50-54": 7_000, "55-59": 6_500, "60-64": 6_000, "65-69": 5_500, "70-74": 5_000,
           "75-79": 4_000, "80-84": 2_500, "85-89": 1_500, "90+": 1_000}
ESP2013_OTHER = {"0": 1_000, "1-4": 4_000, "85+": 2_500}
ESP2013_TOTAL = 100_000


def band_key(label) -> str | None:
    """'0-4' for '0-4', '0 to 4', 'Aged 0-4 years', '0\u20134'; '90+' for '90+', '90 and
    over', '90 plus'; '0' for 'Under 1' or '<1'. None when it is not an ESP 2013 band."""
    text = str(label).strip().lower()
    text = re.sub(r"^(age[sd]?|age band)\s+", "", text)
    text = re.sub(r"\s*(years?|yrs)$", "", text)
    text = re.sub(r"\s*(\u2013|\u2014|-|to)\s*", "-", text)
    text = re.sub(r"\s*(\+|and over|plus|or over|and older)$", "+", text)
    if text in ("<1", "under 1", "under-1", "0-0"):
        text = "0"
    return text if text in ESP2013 or text in ESP2013_OTHER else None


def all_age_bands(labels) -> bool:
    """Every label an ESP 2013 age band (a file of age bands holds no all-ages total)."""
    labels = [v for v in labels if v is not None and str(v) != ""]
    return len(labels) >= 2 and all(band_key(v) is not None for v in labels)


def row_methods(rows: pd.DataFrame, units: dict[str, str | None]) -> np.ndarray:
    """The interval method of every row's metric: the catalogue's, else the one its unit
    (or, with none, its figures) implies, as metrics.ingest.definitions decides it."""
    # Decided once per distinct metric, then spread to the rows by their codes.
    codes, ids = pd.factorize(rows["indicator_id"], use_na_sentinel=True)
    codes = np.asarray(codes)
    chosen = []
    for i, ind_id in enumerate(ids):
        if ind_id in catalogue.BY_ID:
            chosen.append(catalogue.BY_ID[ind_id].ci_method)
            continue
        parsed = definitions.parse_unit(units.get(ind_id))
        chosen.append((parsed if parsed else
                       definitions.infer_unit(rows.loc[codes == i]))[2])
    return np.array(chosen + [""], dtype=object)[codes]


def file_gave_limits(rows: pd.DataFrame) -> np.ndarray:
    """Rows whose file gave any interval limit (read before the loader fills them in)."""
    given = np.zeros(len(rows), dtype=bool)
    for f in LIMITS:
        given |= pd.to_numeric(rows[f], errors="coerce").notna().to_numpy()
    return given


def _multiplier(ind_id, units: dict[str, str | None]) -> int | None:
    if ind_id in catalogue.BY_ID:
        return catalogue.BY_ID[ind_id].multiplier
    parsed = definitions.parse_unit(units.get(ind_id))
    return parsed[1] if parsed else None


def from_age_bands(rows: pd.DataFrame, method: np.ndarray, units: dict[str, str | None],
                   issues: Issues, age_column: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Area totals of standardised rates whose age bands the file supplies (breakdown
    'age': count and population per band), by Dobson's method with the 2013 European
    Standard Population: the rate where the file gave none, and its 95% and 99.8% limits
    where the file gave none. Returns the rows (area totals added where the file had only
    bands) and, per row, whether its interval is now Dobson's."""
    bands = (method == "dsr") & (rows["breakdown"].to_numpy(dtype=object) == "age")
    exact = np.zeros(len(rows), dtype=bool)
    if not bands.any():
        return rows, exact
    keys = ["indicator_id", "area_code", "period", "period_kind"]
    part = rows.loc[bands]
    totals = rows["breakdown"].isna().to_numpy() & (method == "dsr")
    index = {tuple(k): i for i, k in zip(np.flatnonzero(totals),
                                         rows.loc[totals, keys].itertuples(index=False))}
    out = rows.copy()
    added, skipped = [], {}
    for key, group in part.groupby(keys, sort=False, dropna=False):
        band = [band_key(c) for c in group["category"]]
        weights = {**ESP2013, **ESP2013_OTHER}
        std = np.array([weights.get(b, np.nan) for b in band], dtype=float)
        multiplier = _multiplier(key[0], units)
        if None in band or len(set(band)) != len(band) or std.sum() != ESP2013_TOTAL \
                or multiplier is None:
            missing = sorted(set(ESP2013) - set(band), key=list(ESP2013).index)
            skipped.setdefault("bands do not make up the 2013 European Standard Population"
                               + (f" (missing {', '.join(missing[:4])})" if missing else ""),
                               []).extend(group["_row"].tolist())
            continue
        counts = pd.to_numeric(group["numerator"], errors="coerce").to_numpy(float)
        pops = pd.to_numeric(group["denominator"], errors="coerce").to_numpy(float)
        dsr, variance = stats.directly_standardised_rate(counts, pops, std, multiplier)
        if np.isnan(dsr):
            skipped.setdefault("a band's count or population is missing or suppressed",
                               []).extend(group["_row"].tolist())
            continue
        total = float(counts.sum())
        limits = {}
        for conf, level in ((0.95, "95"), (0.998, "998")):
            low, high = stats.dsr_ci(total, dsr, variance, confidence=conf)
            limits[f"lower{level}"], limits[f"upper{level}"] = float(low), float(high)
        i = index.get(tuple(key))
        if i is None:
            row = group.iloc[0].copy()
            row[["breakdown", "category"]] = None
            row["numerator"], row["denominator"] = total, float(pops.sum())
            row["value"], row["value_note"], row["_suppressed"] = dsr, None, False
            for f, v in limits.items():
                row[f] = v
            added.append(row)
            continue
        at = out.index[i]
        if pd.isna(out.at[at, "value"]):
            out.at[at, "value"] = dsr
        if pd.isna(out.at[at, "numerator"]):
            out.at[at, "numerator"] = total
        # Limits the file gave are its own (gave_limits keeps them unmarked); limits the
        # loader filled in by the approximation are replaced by Dobson's.
        for f, v in limits.items():
            out.at[at, f] = v
        exact[i] = True
    for problem, rownums in skipped.items():
        issues.add_rows(NOTE, f"age bands not standardised: {problem}; the area total's "
                              "interval, if any, is approximate", age_column, rownums)
    if added:
        issues.add_rows(NOTE, f"{plural(len(added), 'standardised rate')} worked out from their "
                              "age bands (2013 European Standard Population, Dobson's "
                              "limits)", age_column, [r["_row"] for r in added])
        out = pd.concat([out, pd.DataFrame(added)], ignore_index=True)
        exact = np.concatenate([exact, np.ones(len(added), dtype=bool)])
    return out, exact


def finish(rows: pd.DataFrame, gave_limits: np.ndarray, units: dict[str, str | None],
           issues: Issues, numerator_column: str, age_column: str = "age"
           ) -> pd.DataFrame:
    """Mark approximate DSR intervals and withhold DSRs on fewer than 10 events.

    `gave_limits`: file_gave_limits(rows) before the loader filled limits in (a row whose
    limits the loader computed for a DSR computed them as DSR^2 / count)."""
    if rows.empty:
        rows["ci_approximate"] = pd.Series(dtype="boolean")
        return rows
    method = row_methods(rows, units)
    rows, exact = from_age_bands(rows, method, units, issues, age_column)
    if len(rows) > len(gave_limits):   # area totals made from their bands
        gave_limits = np.concatenate([gave_limits, np.ones(len(rows) - len(gave_limits), bool)])
        method = row_methods(rows, units)
    gave_limits = gave_limits | exact
    dsr = method == "dsr"
    num = pd.to_numeric(rows["numerator"], errors="coerce").to_numpy(float)
    value = pd.to_numeric(rows["value"], errors="coerce").to_numpy(float)
    lower = pd.to_numeric(rows["lower95"], errors="coerce").to_numpy(float)
    suppressed = rows["_suppressed"].to_numpy(dtype=bool) if "_suppressed" in rows \
        else np.zeros(len(rows), dtype=bool)
    approximate = dsr & ~gave_limits & ~np.isnan(value) & ~np.isnan(lower)

    has_figure = ~np.isnan(value) | ~np.isnan(lower)
    with np.errstate(invalid="ignore"):
        few = dsr & ~suppressed & ~np.isnan(num) & (num < DSR_MIN_EVENTS) & has_figure
    # A new frame over the same columns: the columns set below are the new frame's own
    # (copy-on-write), so the caller's rows are not changed and nothing is copied.
    out = rows.copy(deep=False)
    if few.any():
        for f in ("value", *LIMITS):
            out[f] = np.where(few, np.nan, pd.to_numeric(out[f], errors="coerce"))
        notes = out["value_note"].to_numpy(dtype=object)
        out["value_note"] = pd.Series(np.where(few, WITHHELD_NOTE, notes), index=out.index,
                                      dtype=object)
        approximate &= ~few
        issues.add_rows(NOTE, f"{plural(int(few.sum()), 'standardised rate')} on fewer than "
                              f"{DSR_MIN_EVENTS} events not published (as ONS and Fingertips "
                              "do): the count is kept, the rate and its interval are not",
                        numerator_column, out["_row"].to_numpy()[few])
    if approximate.any():
        issues.add_rows(NOTE, f"{plural(int(approximate.sum()), 'standardised rate')} with "
                              "no interval limits or age bands in the file: their intervals are "
                              "approximate (variance DSR\u00b2 / count, narrower than "
                              "Dobson's) and marked so wherever they are shown",
                        numerator_column, out["_row"].to_numpy()[approximate])
    out["ci_approximate"] = pd.array(approximate, dtype="boolean")
    return out
