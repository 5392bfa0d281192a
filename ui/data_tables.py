"""The Data page's tables shaped for ui/tables.board_table: a few columns that wrap, so
each shows whole on a 1024 px laptop (as data grids, Freshness was 840 px wider than the
page there, History 409 px and the coverage matrix, one column per period, 2,093 px).

Each function takes the frame metrics.ingest.versions gives and returns the columns to
show with, where a row has one, its small second line (`details`)."""

from __future__ import annotations

import pandas as pd

from metrics.reference import periods
from metrics.reference.formatting import plural

# At most this many gaps are named in a metric's row; the rest are counted.
GAPS_NAMED = 4


def coverage_summary(grid: pd.DataFrame) -> pd.DataFrame:
    """One row per metric of versions.coverage's metric x period grid: the periods it
    covers, the number of areas with a figure and the gaps inside its series, by name."""
    rows = []
    for metric, counts in grid.iterrows():
        labels = [periods.short_label(str(p)) for p in counts.index]
        present = [i for i, v in enumerate(counts) if pd.notna(v)]
        if not present:
            continue
        first, last = present[0], present[-1]
        gaps = [labels[i] for i in range(first, last + 1) if pd.isna(counts.iloc[i])]
        areas = counts.dropna().astype(int)
        spread = (f"{areas.iloc[-1]:,}" if areas.min() == areas.max() else
                  f"{areas.iloc[-1]:,} (from {areas.min():,} to {areas.max():,})")
        named = ", ".join(gaps[:GAPS_NAMED]) + (
            f" and {len(gaps) - GAPS_NAMED} more" if len(gaps) > GAPS_NAMED else "")
        rows.append({"Metric": metric,
                     "Periods": (labels[first] if first == last
                                 else f"{labels[first]} to {labels[last]}")
                     + f" ({plural(last - first + 1 - len(gaps), 'period')})",
                     "Areas in the latest period": spread,
                     "Gaps": f"{plural(len(gaps), 'gap')}: {named}" if gaps else "none"})
    return pd.DataFrame(rows, columns=["Metric", "Periods", "Areas in the latest period",
                                       "Gaps"])


def freshness_table(fresh: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """versions.freshness in five columns; the publisher and the statistics' status are
    the source's second line."""
    table = pd.DataFrame({
        "Source": fresh["source"],
        "Latest period": [f"{p} (ended {pd.Timestamp(e):%-d %B %Y})"
                          for p, e in zip(fresh["latest period"], fresh["period ended"])],
        "Status (time since the period ended)": [
            f"{s} ({plural(m, 'month')})" for s, m in zip(fresh["status"], fresh["months since"])],
        "Loaded": [f"{pd.Timestamp(d):%-d %b %Y}" if d else "-" for d in fresh["loaded"]],
        "Next update expected": fresh["next update expected"],
        "Metrics": fresh["metrics"],
    })
    details = [" · ".join(x for x in (p, s) if x and x != "-")
               for p, s in zip(fresh["publisher"], fresh["statistics status"])]
    return table, details


def history_table(hist: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """versions.history in five or six columns (`by` only when the caller keeps it): the
    version with its state under it, what was done, the rows and the checks."""
    published = pd.to_datetime(hist["published_at"], errors="coerce", utc=True)
    table = pd.DataFrame({
        "Version": hist["version"],
        "Published": [f"{t:%-d %b %Y %H:%M}" if pd.notna(t) else "-" for t in published],
        "What": [f"{a}: {f}" if f else a for a, f in zip(hist["action"], hist["files"])],
        "Rows": [f"{r:,} ({a:,} added, {s:,} replaced)"
                 for r, a, s in zip(hist["rows"], hist["rows_added"], hist["keys_superseded"])],
        "Checks": [f"{i}; demonstration data" if d else i
                   for i, d in zip(hist["integrity"], hist["demo"])],
    })
    if "by" in hist.columns:
        table.insert(3, "By", hist["by"])
    return table, [str(s) for s in hist["state"]]
