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

import numpy as np
import pandas as pd

from metrics.ingest import definitions
from metrics.ingest.model import NOTE, Issues
from metrics.reference import catalogue

# The demonstration set (metrics.demo) and the pages (metrics.views.explorer) apply the
# same rule with the same numbers and words.
DSR_MIN_EVENTS = 10
WITHHELD_NOTE = "Rate not calculated: fewer than 10 events"
LIMITS = ("lower95", "upper95", "lower998", "upper998")


def row_methods(rows: pd.DataFrame, units: dict[str, str | None]) -> np.ndarray:
    """The interval method of every row's metric: the catalogue's, else the one its unit
    (or, with none, its figures) implies, as metrics.ingest.definitions decides it."""
    ids = rows["indicator_id"].to_numpy(dtype=object)
    method = np.full(len(rows), "", dtype=object)
    for ind_id in pd.unique(ids):
        sel = ids == ind_id
        if ind_id in catalogue.BY_ID:
            method[sel] = catalogue.BY_ID[ind_id].ci_method
            continue
        parsed = definitions.parse_unit(units.get(ind_id))
        method[sel] = (parsed if parsed else definitions.infer_unit(rows.loc[sel]))[2]
    return method


def file_gave_limits(rows: pd.DataFrame) -> np.ndarray:
    """Rows whose file gave any interval limit (read before the loader fills them in)."""
    given = np.zeros(len(rows), dtype=bool)
    for f in LIMITS:
        given |= pd.to_numeric(rows[f], errors="coerce").notna().to_numpy()
    return given


def finish(rows: pd.DataFrame, gave_limits: np.ndarray, units: dict[str, str | None],
           issues: Issues, numerator_column: str) -> pd.DataFrame:
    """Mark approximate DSR intervals and withhold DSRs on fewer than 10 events.

    `gave_limits`: file_gave_limits(rows) before the loader filled limits in (a row whose
    limits the loader computed for a DSR computed them as DSR^2 / count)."""
    if rows.empty:
        rows["ci_approximate"] = pd.Series(dtype="boolean")
        return rows
    method = row_methods(rows, units)
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
    out = rows.copy()
    if few.any():
        for f in ("value", *LIMITS):
            out[f] = np.where(few, np.nan, pd.to_numeric(out[f], errors="coerce"))
        notes = out["value_note"].to_numpy(dtype=object)
        out["value_note"] = pd.Series(np.where(few, WITHHELD_NOTE, notes), index=out.index,
                                      dtype=object)
        approximate &= ~few
        issues.add_rows(NOTE, f"{few.sum():,} standardised rate(s) on fewer than "
                              f"{DSR_MIN_EVENTS} events not published (as ONS and Fingertips "
                              "do): the count is kept, the rate and its interval are not",
                        numerator_column, out["_row"].to_numpy()[few])
    if approximate.any():
        issues.add_rows(NOTE, f"{approximate.sum():,} standardised rate(s) have no interval "
                              "limits or age bands in the file: their intervals are "
                              "approximate (variance DSR\u00b2 / count, narrower than "
                              "Dobson's) and marked so wherever they are shown",
                        numerator_column, out["_row"].to_numpy()[approximate])
    out["ci_approximate"] = pd.array(approximate, dtype="boolean")
    return out
