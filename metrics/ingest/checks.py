"""Checks of a whole load: duplicates across its files, and warnings against the
published (real) data it will build on.

- duplicate rows (error): the same indicator, area, period, breakdown and category twice;
- a re-issued period that changes published values (warning, with every difference);
- a period older than the latest published for that indicator, not published before
  (warning: back data, or the wrong file);
- a value far outside the area's history (warning): more than 4 robust spreads
  (1.4826 x median absolute deviation, at least 10% of the median) from the median of the
  area's published values, when at least 4 are published.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from metrics import store
from metrics.reference import catalogue
from metrics.reference.formatting import plural
from metrics.ingest.model import ERROR, ROWS_SHOWN, WARNING, Issues, add_counted

KEY5 = ["indicator_id", "area_code", "period", "breakdown", "category"]
KEY3 = ["indicator_id", "area_code", "period"]
HISTORY_MIN_POINTS = 4
HISTORY_SPREADS = 4.0


def int_keys(frames: list[pd.DataFrame], cols: list[str]) -> list[np.ndarray]:
    """One int64 key per row for each frame, equal across frames when `cols` are equal."""
    sizes = [len(f) for f in frames]
    key = np.zeros(sum(sizes), dtype=np.int64)
    for c in cols:
        joined = pd.concat([f[c] for f in frames], ignore_index=True) \
            if len(frames) > 1 else frames[0][c]
        codes, uniques = pd.factorize(joined, use_na_sentinel=True)
        key = key * (len(uniques) + 1) + (np.asarray(codes, dtype=np.int64) + 1)
    out, start = [], 0
    for size in sizes:
        out.append(key[start:start + size])
        start += size
    return out


def _title(indicator_id: str, additional: dict) -> str:
    if indicator_id in catalogue.BY_ID:
        return catalogue.BY_ID[indicator_id].title
    return additional.get(indicator_id, {}).get("title", indicator_id)


def duplicates(rows: pd.DataFrame, issues: dict[str, Issues]) -> np.ndarray:
    """Mark every row whose key appears more than once in the load; return the mask."""
    if rows.empty:
        return np.zeros(0, dtype=bool)
    (key,) = int_keys([rows], KEY5)
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if not dup.any():
        return dup
    sub = pd.DataFrame({"key": key[dup], "file": rows["_file"].to_numpy()[dup],
                        "row": rows["_row"].to_numpy()[dup]})
    first = sub.groupby("key").first()
    sub["first"] = sub["key"].map(first["file"] + " row " + first["row"].astype(str))
    for file, group in sub.groupby("file", sort=False):
        target = issues[file]
        for where, rows_of in group.groupby("first", sort=False)["row"]:
            target.add_rows(ERROR, "duplicate rows: the same indicator, area, period and "
                                   f"breakdown appear more than once (first at {where})",
                            None, rows_of.to_numpy())
    return dup


def compare_with_published(new: pd.DataFrame, base: pd.DataFrame | None,
                           issues: dict[str, Issues], additional: dict) -> pd.DataFrame:
    """Warnings against the published rows; returns the changed values. (What a load
    replaces is store.plan_reissue's: only the rows with the same full key.)"""
    empty_changes = pd.DataFrame(columns=[*KEY5, "old_value", "new_value", "old_numerator",
                                          "new_numerator", "old_denominator",
                                          "new_denominator", "file", "row"])
    if base is None or base.empty or new.empty:
        return empty_changes
    base = base[base["indicator_id"].isin(new["indicator_id"].unique())]
    if base.empty:
        return empty_changes

    # Values that change.
    new5, base5 = int_keys([new, base], KEY5)
    left = pd.DataFrame({"k": new5, "i": np.arange(len(new))})
    right = pd.DataFrame({"k": base5, "j": np.arange(len(base))})
    pairs = left.merge(right, on="k", how="inner")
    changes = empty_changes
    if len(pairs):
        a = new.iloc[pairs["i"].to_numpy()].reset_index(drop=True)
        b = base.iloc[pairs["j"].to_numpy()].reset_index(drop=True)
        changed = np.zeros(len(pairs), dtype=bool)
        for f in ("value", "numerator", "denominator", "lower95", "upper95"):
            x, y = a[f].to_numpy(dtype=float), b[f].to_numpy(dtype=float)
            both_nan = np.isnan(x) & np.isnan(y)
            close = np.isclose(x, y, rtol=1e-9, atol=1e-9)
            changed |= ~(both_nan | close)
        note_a = a["value_note"].fillna("").astype(str).to_numpy()
        note_b = b["value_note"].fillna("").astype(str).to_numpy()
        changed |= note_a != note_b
        if changed.any():
            changes = pd.DataFrame({
                **{k: a.loc[changed, k].to_numpy() for k in KEY5},
                "old_value": b.loc[changed, "value"].to_numpy(),
                "new_value": a.loc[changed, "value"].to_numpy(),
                "old_numerator": b.loc[changed, "numerator"].to_numpy(),
                "new_numerator": a.loc[changed, "numerator"].to_numpy(),
                "old_denominator": b.loc[changed, "denominator"].to_numpy(),
                "new_denominator": a.loc[changed, "denominator"].to_numpy(),
                "file": a.loc[changed, "_file"].to_numpy(),
                "row": a.loc[changed, "_row"].to_numpy(),
            })
            for (file, ind), group in changes.groupby(["file", "indicator_id"], sort=False):
                periods_ = ", ".join(pd.unique(group["period"])[:6])
                issues[file].add_rows(
                    WARNING, f"re-issued period changes "
                             f"{plural(len(group), 'published value')} of "
                             f"{_title(ind, additional)} ({periods_}); the "
                             "differences are listed with the report", None,
                    group["row"].to_numpy())

    # Periods older than the latest published, not published before.
    latest = base.groupby("indicator_id")["period_end"].max()
    pairs_published = base[["indicator_id", "period"]].drop_duplicates()
    known_periods = set(zip(pairs_published["indicator_id"].tolist(),
                            pairs_published["period"].tolist()))
    combos = new.drop_duplicates(["_file", "indicator_id", "period"])
    older = combos[[(i, p) not in known_periods and i in latest.index
                    and _as_date(e) < _as_date(latest[i])
                    for i, p, e in zip(combos["indicator_id"], combos["period"],
                                       combos["period_end"])]]
    for (file, ind), group in older.groupby(["_file", "indicator_id"], sort=False):
        last = base.loc[base["indicator_id"] == ind].sort_values("period_end")["period"].iloc[-1]
        mask = ((new["_file"] == file) & (new["indicator_id"] == ind)
                & new["period"].isin(group["period"])).to_numpy()
        issues[file].add_rows(
            WARNING, f"{_title(ind, additional)}: period(s) "
                     f"{', '.join(group['period'].head(6))} are older than the latest "
                     f"published ({last}) and were not published before", "period",
            new["_row"].to_numpy()[mask])

    # Values far outside the area's history.
    hist = base[base["breakdown"].isna() & base["value"].notna()]
    if len(hist):
        g = hist.groupby(["indicator_id", "area_code"])["value"]
        med = g.transform("median")
        mad = (hist["value"] - med).abs().groupby([hist["indicator_id"],
                                                    hist["area_code"]]).median()
        summary = pd.DataFrame({"median": g.median(), "count": g.size(), "mad": mad})
        summary = summary[summary["count"] >= HISTORY_MIN_POINTS]
        if len(summary):
            totals = new[new["breakdown"].isna() & new["value"].notna()]
            # merge, not join: join of an empty left frame (a breakdown-only file) returns
            # summary's (indicator_id, area_code) index beside the same-named columns,
            # and the groupby below then fails as ambiguous.
            joined = totals.merge(summary.reset_index(), on=["indicator_id", "area_code"],
                                  how="inner")
            spread = np.maximum(1.4826 * joined["mad"], 0.1 * joined["median"].abs())
            spread = np.where(spread > 0, spread, 1e-9)
            far = (joined["value"] - joined["median"]).abs() > HISTORY_SPREADS * spread
            for (file, ind), group in joined[far].groupby(["_file", "indicator_id"],
                                                          sort=False):
                first = group.iloc[0]
                issues[file].add_rows(
                    WARNING, f"{_title(ind, additional)}: value far outside the area's "
                             f"published history (e.g. {first['area_code']} "
                             f"{first['period']}: {first['value']:g}, history median "
                             f"{first['median']:g})", "value", group["_row"].to_numpy())
    return changes


def _as_date(value):
    return pd.Timestamp(value)


# --- The same checks in DuckDB, for a load whose rows are kept on disk ----------------------
#
# A large load's rows are Parquet parts (metrics.store.Spool) seen through the view
# new_rows (VALUES_COLUMNS, _file, _row, and _seq, the load order). These functions give
# the same messages as duplicates() and compare_with_published() without holding the
# rows, or the published version, in pandas. Null breakdowns and categories (area totals)
# are keys like any other, so they are compared through coalesce().

CHANGES_KEPT = 10_000       # changed values listed with the report of a large load
_NULL = "chr(0)"


def duplicates_sql(con, issues: dict[str, Issues]) -> int:
    """duplicates() over new_rows; returns the number of rows whose key repeats."""
    # One cheap pass first: when every row's key hashes differently no key repeats, and
    # the window below (first row of each key) is only worth its cost when one may.
    rows, distinct = con.execute("""
        SELECT count(*), count(DISTINCT hash(indicator_id, area_code, period, breakdown,
                                             category)) FROM new_rows""").fetchone()
    if rows == distinct:
        return 0
    groups = con.execute(f"""
        WITH keyed AS (
            SELECT _file, _row, _seq,
                   count(*) OVER k AS n,
                   first(_file ORDER BY _seq) OVER k AS first_file,
                   first(_row ORDER BY _seq) OVER k AS first_row
            FROM new_rows
            WINDOW k AS (PARTITION BY indicator_id, area_code, period,
                         coalesce(breakdown, {_NULL}), coalesce(category, {_NULL})))
        SELECT _file, first_file, first_row, count(*) AS rows, min(_seq) AS s,
               list(_row ORDER BY _seq)[1:{ROWS_SHOWN}] AS shown
        FROM keyed WHERE n > 1
        GROUP BY _file, first_file, first_row
        ORDER BY s""").fetchall()
    total = 0
    for file, first_file, first_row, rows, _, shown in groups:
        total += rows
        add_counted(issues[file], ERROR, "duplicate rows: the same indicator, area, period "
                    f"and breakdown appear more than once (first at {first_file} row "
                    f"{first_row})", None, shown, rows)
    return total


def compare_sql(con, base_path, issues: dict[str, Issues], additional: dict,
                replaced: str | None) -> tuple[pd.DataFrame, int]:
    """compare_with_published() over new_rows and the published values file at
    `base_path` (None: nothing to compare with). `replaced`: the relation store.plan_reissue
    left on `con` (store.REPLACED_ROWS), pairing each published row the load replaces
    (base_row, its number in the file) with the load's row (new_seq); None if it replaces
    none. Returns (the first CHANGES_KEPT changed values, how many change)."""
    empty_changes = pd.DataFrame(columns=[*KEY5, "old_value", "new_value", "old_numerator",
                                          "new_numerator", "old_denominator",
                                          "new_denominator", "file", "row"])
    if base_path is None or not Path(base_path).exists():
        return empty_changes, 0
    path = store.sql_path(base_path)
    # The load's indicators once, in a small table: the view base is read several times
    # below, and a subquery over new_rows would scan the load's rows again each time.
    con.execute("""CREATE OR REPLACE TEMP TABLE new_indicators AS
        SELECT DISTINCT indicator_id FROM new_rows""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW base AS
        SELECT * FROM read_parquet({path})
        WHERE indicator_id IN (SELECT indicator_id FROM new_indicators)""")
    if con.execute("SELECT count(*) FROM base").fetchone()[0] == 0:
        return empty_changes, 0

    # Values that change (np.isclose(new, old, rtol=1e-9, atol=1e-9), both missing equal).
    differs = " OR ".join(
        f"NOT ((n.{f} IS NULL AND b.{f} IS NULL) OR "
        f"coalesce(abs(n.{f} - b.{f}) <= 1e-9 + 1e-9 * abs(b.{f}), false))"
        for f in ("value", "numerator", "denominator", "lower95", "upper95"))
    # The rows the load replaces, paired by their numbers (the plan matched the keys
    # once): two integer joins instead of matching five text columns again.
    count = 0
    if replaced is not None:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE changed AS
            SELECT n._seq, n.indicator_id, n.area_code, n.period, n.breakdown, n.category,
                   b.value AS old_value, n.value AS new_value,
                   b.numerator AS old_numerator, n.numerator AS new_numerator,
                   b.denominator AS old_denominator, n.denominator AS new_denominator,
                   n._file AS file, n._row AS "row"
            FROM {replaced} r JOIN new_rows n ON n._seq = r.new_seq
            JOIN read_parquet({path}, file_row_number = true) b
              ON b.file_row_number = r.base_row
            WHERE {differs} OR coalesce(n.value_note, '') <> coalesce(b.value_note, '')""")
        count = con.execute("SELECT count(*) FROM changed").fetchone()[0]
    changes = empty_changes
    if count:
        changes = con.execute(f"""SELECT * EXCLUDE (_seq) FROM changed ORDER BY _seq
                                  LIMIT {CHANGES_KEPT}""").df()
        groups = con.execute(f"""
            SELECT file, indicator_id, count(*) AS n, min(_seq) AS s,
                   list("row" ORDER BY _seq)[1:{ROWS_SHOWN}] AS shown
            FROM changed GROUP BY file, indicator_id ORDER BY s""").fetchall()
        firsts = con.execute("""
            SELECT file, indicator_id, period, min(_seq) AS s FROM changed
            GROUP BY file, indicator_id, period ORDER BY s""").df()
        for file, ind, n, _, shown in groups:
            mine = firsts[(firsts["file"] == file) & (firsts["indicator_id"] == ind)]
            periods_ = ", ".join(mine["period"].head(6))
            add_counted(issues[file], WARNING, f"re-issued period changes "
                        f"{plural(n, 'published value')} of "
                        f"{_title(ind, additional)} ({periods_}); the "
                        "differences are listed with the report", None, shown, n)

    # Periods older than the latest published, not published before.
    latest = con.execute("""SELECT indicator_id, max(period_end) AS latest,
                                   arg_max(period, period_end) AS last
                            FROM base GROUP BY indicator_id""").df().set_index("indicator_id")
    known = set(map(tuple, con.execute(
        "SELECT DISTINCT indicator_id, period FROM base").fetchall()))
    combos = con.execute("""SELECT _file, indicator_id, period, arg_min(period_end, _seq)
                                   AS period_end, min(_seq) AS s
                            FROM new_rows GROUP BY _file, indicator_id, period
                            ORDER BY s""").df()
    older = combos[[(i, p) not in known and i in latest.index
                    and _as_date(e) < _as_date(latest.loc[i, "latest"])
                    for i, p, e in zip(combos["indicator_id"], combos["period"],
                                       combos["period_end"])]]
    for (file, ind), group in older.groupby(["_file", "indicator_id"], sort=False):
        n, shown = con.execute(f"""
            SELECT count(*), list(_row ORDER BY _seq)[1:{ROWS_SHOWN}] FROM new_rows
            WHERE _file = ? AND indicator_id = ? AND period IN (SELECT unnest(?))""",
            [file, ind, group["period"].tolist()]).fetchone()
        add_counted(issues[file], WARNING,
                    f"{_title(ind, additional)}: period(s) "
                    f"{', '.join(group['period'].head(6))} are older than the latest "
                    f"published ({latest.loc[ind, 'last']}) and were not published before",
                    "period", shown, n)

    # Values far outside the area's history.
    far = con.execute(f"""
        WITH hist AS (
            SELECT indicator_id, area_code, value FROM base
            WHERE breakdown IS NULL AND value IS NOT NULL),
        med AS (
            SELECT indicator_id, area_code, median(value) AS m, count(*) AS c
            FROM hist GROUP BY indicator_id, area_code),
        summary AS (
            SELECT h.indicator_id, h.area_code, any_value(med.m) AS m,
                   median(abs(h.value - med.m)) AS mad
            FROM hist h JOIN med USING (indicator_id, area_code)
            WHERE med.c >= {HISTORY_MIN_POINTS}
            GROUP BY h.indicator_id, h.area_code),
        flagged AS (
            SELECT n._seq, n._file, n._row, n.indicator_id, n.area_code, n.period, n.value,
                   s.m
            FROM new_rows n JOIN summary s USING (indicator_id, area_code)
            WHERE n.breakdown IS NULL AND n.value IS NOT NULL
              AND abs(n.value - s.m) > {HISTORY_SPREADS} * (CASE
                  WHEN greatest(1.4826 * s.mad, 0.1 * abs(s.m)) > 0
                  THEN greatest(1.4826 * s.mad, 0.1 * abs(s.m)) ELSE 1e-9 END))
        SELECT _file, indicator_id, count(*) AS n, min(_seq) AS s,
               list(_row ORDER BY _seq)[1:{ROWS_SHOWN}] AS shown,
               arg_min(area_code, _seq) AS area, arg_min(period, _seq) AS period,
               arg_min(value, _seq) AS value, arg_min(m, _seq) AS median
        FROM flagged GROUP BY _file, indicator_id ORDER BY s""").fetchall()
    for file, ind, n, _, shown, area, period, value, median in far:
        add_counted(issues[file], WARNING,
                    f"{_title(ind, additional)}: value far outside the area's published "
                    f"history (e.g. {area} {period}: {value:g}, history median "
                    f"{median:g})", "value", shown, n)
    return changes, int(count)
