"""Reading a published version for the pages: DuckDB views over its Parquet files,
the small-area need table, the official lookups, and what is loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from metrics.store.versions import (ADDED_VALUES_COLUMNS, REFERENCE_DIR, TABLES, Version,
                                    with_added_columns)

# The names other modules use (re-exported by the package).
__all__ = [
    "LOOKUP_DIR", "all_area_values", "area_need_summary", "areas", "breakdown_values",
    "coverage_counts", "has_table", "indicator_summary", "indicator_values",
    "lookup_manifest", "lookup_stamp", "lsoa_need", "periods", "publish_lookup", "query",
    "read_lookup", "read_table", "read_values", "remove_lookup", "table_rows",
]


# --- Reading ---------------------------------------------------------------------------

_connections: dict[tuple[str, str], duckdb.DuckDBPyConnection] = {}
_lock = threading.Lock()


def _connection(version: Version) -> duckdb.DuckDBPyConnection:
    """One shared connection per version with views over its files; callers use cursors."""
    key = (str(version.path), version.id)
    with _lock:
        con = _connections.get(key)
        if con is None:
            con = duckdb.connect(":memory:", config={"threads": 2})
            for table in TABLES:
                path = version.path / f"{table}.parquet"
                if path.exists():
                    # DDL cannot take bound parameters; the path is ours, not user input.
                    escaped = str(path).replace("'", "''")
                    con.execute(f"CREATE VIEW {table} AS SELECT *{_added_columns(table, path)} "
                                f"FROM read_parquet('{escaped}')")
            areas_csv = str(REFERENCE_DIR / "areas.csv").replace("'", "''")
            con.execute(f"CREATE VIEW areas AS SELECT * FROM read_csv('{areas_csv}', "
                        "header = true, all_varchar = true)")
            _connections[key] = con
        return con


def _added_columns(table: str, path: Path) -> str:
    """', NULL AS ci_approximate' for each column added to values since this version was
    written, so the pages' queries read old versions as well as new ones."""
    if table != "values":
        return ""
    present = set(pq.ParquetFile(path).schema_arrow.names)
    return "".join(f', CAST(NULL AS {kind}) AS "{c}"'
                   for c, kind in ADDED_VALUES_COLUMNS.items() if c not in present)


def query(version: Version, sql: str, params: list | dict | None = None) -> pd.DataFrame:
    cursor = _connection(version).cursor()
    try:
        return cursor.execute(sql, params or []).df()
    finally:
        cursor.close()


def areas(version: Version) -> pd.DataFrame:
    return query(version, """
        SELECT area_code, area_name, area_type, region_code, region_name, pfa_code,
               pfa_name, CAST(lsoa11_count AS INTEGER) AS lsoa11_count
        FROM areas ORDER BY area_type, area_name""")


def periods(version: Version, kind: str | None = "quarter") -> pd.DataFrame:
    """Distinct periods of one kind (None: every kind), oldest first."""
    return query(version, """
        SELECT DISTINCT period, period_start, period_end FROM "values"
        WHERE ? IS NULL OR period_kind = ? ORDER BY period_end, period""", [kind, kind])


def indicator_values(version: Version, indicator_ids: list[str], area_codes: list[str],
                     up_to: dt.date | None = None) -> pd.DataFrame:
    """Area totals (no breakdowns) of the given indicators and areas, oldest first."""
    return query(version, """
        SELECT * FROM "values"
        WHERE indicator_id IN (SELECT unnest(?)) AND area_code IN (SELECT unnest(?))
          AND breakdown IS NULL AND (? IS NULL OR period_end <= ?)
        ORDER BY indicator_id, area_code, period_end""",
        [indicator_ids, area_codes, up_to, up_to])


def all_area_values(version: Version, indicator_ids: list[str]) -> pd.DataFrame:
    """Area totals of the given indicators for every area and period (the outcome pages
    cache this once per version and derive every view from it)."""
    return query(version, """
        SELECT indicator_id, area_code, period, period_kind, period_start, period_end,
               numerator, denominator, value, lower95, upper95, lower998, upper998, value_note,
               ci_approximate
        FROM "values"
        WHERE indicator_id IN (SELECT unnest(?)) AND breakdown IS NULL
        ORDER BY indicator_id, area_code, period_end""", [indicator_ids])


def breakdown_values(version: Version, indicator_ids: list[str],
                     area_codes: list[str]) -> pd.DataFrame:
    """Breakdown rows (breakdown and category set) of the given indicators and areas,
    every period, oldest first (the continuity of care page's prisons, substances...)."""
    return query(version, """
        SELECT indicator_id, area_code, period, period_kind, period_start, period_end,
               breakdown, category, numerator, denominator, value, lower95, upper95,
               lower998, upper998, value_note, ci_approximate
        FROM "values"
        WHERE indicator_id IN (SELECT unnest(?)) AND area_code IN (SELECT unnest(?))
          AND breakdown IS NOT NULL
        ORDER BY indicator_id, area_code, period_end, breakdown, category""",
        [indicator_ids, area_codes])


def area_need_summary(version: Version) -> pd.DataFrame:
    """Per upper-tier area from the small-area table: population and the share of its
    small areas in the most deprived fifth (IMD deciles 1-2); empty if not published."""
    if not (version.path / "lsoa_need.parquet").exists():
        return pd.DataFrame(columns=["utla_code", "population", "deprived_share", "demo"])
    return query(version, """
        SELECT utla_code, SUM(population) AS population,
               AVG(CASE WHEN imd_decile <= 2 THEN 1.0 ELSE 0.0 END) AS deprived_share,
               BOOL_OR(demo) AS demo
        FROM lsoa_need GROUP BY utla_code ORDER BY utla_code""")


# --- Small-area need and official lookups (maps; see metrics/geo.py) -------------------
#
# The official Rural-Urban Classification and IMD lookups are reference data, not
# extracts: they live beside the versions, in <data_dir>/lookups/<name>.parquet with
# lookups/manifest.json, so publishing a new extract keeps them. Each file is written
# aside and moved into place (os.replace), like a published version.

LOOKUP_DIR = "lookups"
_plain: duckdb.DuckDBPyConnection | None = None


def _plain_connection() -> duckdb.DuckDBPyConnection:
    """One shared connection for reading files outside a version; callers use cursors."""
    global _plain
    with _lock:
        if _plain is None:
            _plain = duckdb.connect(":memory:", config={"threads": 2})
        return _plain


def has_table(version: Version, table: str) -> bool:
    return table in TABLES and (version.path / f"{table}.parquet").exists()


def lsoa_need(version: Version, utla_code: str | None = None) -> pd.DataFrame:
    """Rows of the small-area table, for one upper-tier area or (None) all of England;
    empty (with no columns) when the version has no small-area table."""
    if not has_table(version, "lsoa_need"):
        return pd.DataFrame()
    return query(version, """
        SELECT * FROM lsoa_need WHERE (? IS NULL OR utla_code = ?) ORDER BY lsoa11_code""",
        [utla_code, utla_code])


def _lookup_dir(data_dir) -> Path:
    return Path(data_dir) / LOOKUP_DIR


def lookup_manifest(data_dir) -> dict:
    """What official lookups are loaded: name -> file, edition, rows, loaded_at, sha256."""
    path = _lookup_dir(data_dir) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def lookup_stamp(data_dir) -> str:
    """Changes whenever a lookup is loaded or removed: part of cache keys."""
    manifest = lookup_manifest(data_dir)
    return "|".join(f"{name}:{meta.get('sha256', '')[:12]}:{meta.get('loaded_at', '')}"
                    for name, meta in sorted(manifest.items()))


def publish_lookup(data_dir, name: str, frame: pd.DataFrame, meta: dict) -> dict:
    """Store one normalised lookup (lsoa_code plus its column) and record it."""
    directory = _lookup_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.{uuid.uuid4().hex}.parquet"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, directory / f"{name}.parquet")
    manifest = lookup_manifest(data_dir)
    manifest[name] = {**meta, "loaded_at": dt.datetime.now(dt.timezone.utc)
                      .isoformat(timespec="seconds")}
    pointer = directory / f".manifest.{uuid.uuid4().hex}.json"
    pointer.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(pointer, directory / "manifest.json")
    return manifest[name]


def remove_lookup(data_dir, name: str) -> None:
    manifest = lookup_manifest(data_dir)
    manifest.pop(name, None)
    directory = _lookup_dir(data_dir)
    if directory.exists():
        pointer = directory / f".manifest.{uuid.uuid4().hex}.json"
        pointer.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(pointer, directory / "manifest.json")
    (directory / f"{name}.parquet").unlink(missing_ok=True)


def read_lookup(data_dir, name: str, lsoa_codes: list[str] | None = None) -> pd.DataFrame | None:
    """A loaded lookup (optionally only some LSOAs), or None when none is loaded."""
    path = _lookup_dir(data_dir) / f"{name}.parquet"
    if name not in lookup_manifest(data_dir) or not path.exists():
        return None
    cursor = _plain_connection().cursor()
    try:
        return cursor.execute("""
            SELECT * FROM read_parquet(?)
            WHERE ? IS NULL OR lsoa_code IN (SELECT unnest(?))""",
            [str(path), lsoa_codes, lsoa_codes]).df()
    finally:
        cursor.close()


# --- What is loaded (metrics.ingest: status, coverage, freshness) -----------------------

def indicator_summary(version: Version) -> pd.DataFrame:
    """Per indicator and kind of period: rows, areas, periods, first and last period."""
    return query(version, """
        SELECT indicator_id, period_kind, COUNT(*) AS rows,
               COUNT(DISTINCT area_code) AS areas, COUNT(DISTINCT period) AS periods,
               arg_min(period, period_end) AS first_period,
               arg_max(period, period_end) AS last_period,
               MAX(period_end) AS last_end
        FROM "values" GROUP BY indicator_id, period_kind
        ORDER BY indicator_id, period_kind""")


def coverage_counts(version: Version, kind: str) -> pd.DataFrame:
    """Areas with a figure (a value, a count or a note) per indicator and period of one
    kind. A count with no denominator or value (ONS's ':' rate on fewer than 10 deaths) is
    still a figure the source published."""
    return query(version, """
        SELECT indicator_id, period, MAX(period_end) AS period_end,
               COUNT(DISTINCT area_code) AS areas
        FROM "values"
        WHERE period_kind = ? AND breakdown IS NULL
          AND (value IS NOT NULL OR numerator IS NOT NULL OR value_note IS NOT NULL)
        GROUP BY indicator_id, period ORDER BY indicator_id, period_end""", [kind])


def read_table(version: Version, table: str) -> pd.DataFrame | None:
    """One published table as a DataFrame, or None when this version has none."""
    path = version.path / f"{table}.parquet"
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    return with_added_columns(frame) if table == "values" else frame


def table_rows(version: Version, table: str) -> int | None:
    """Rows of a published table from its file's footer (None: no such table)."""
    path = version.path / f"{table}.parquet"
    return pq.ParquetFile(path).metadata.num_rows if path.exists() else None


def read_values(version: Version, indicator_ids: list[str]) -> pd.DataFrame | None:
    """The published values of some indicators only (None when the version has no values
    table): a load compares itself with these, not with the whole version."""
    path = version.path / "values.parquet"
    if not path.exists():
        return None
    if not indicator_ids:
        return with_added_columns(pd.read_parquet(path).iloc[0:0])
    return with_added_columns(
        pd.read_parquet(path, filters=[("indicator_id", "in", list(indicator_ids))]))
