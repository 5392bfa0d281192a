"""Writing a version's values: sorted Parquet in small row groups, the scratch DuckDB
that large loads spill to, and what a re-issue replaces (only rows with the same key).
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from metrics.store.versions import (ADDED_VALUES_COLUMNS, SPOOL_DIR, TABLES, VALUES_COLUMNS,
                                    Version, _publish, with_added_columns)

# The names other modules use (re-exported by the package).
__all__ = [
    "REISSUE_KEY", "REISSUE_KEYS_KEPT", "REPLACED_ROWS", "ROW_GROUP_ROWS", "Reissue",
    "SCRATCH_MEMORY",
    "Spool", "TOTAL_TIER", "VALUES_ORDER", "describe_reissue", "plan_reissue", "publish",
    "publish_merged", "scratch_connection", "sql_path", "values_schema", "write_keys",
    "write_sorted_values",
]


# --- Writing values: sorted, in small row groups ---------------------------------------
#
# values.parquet is written sorted by indicator and area, in row groups of ROW_GROUP_ROWS,
# so a query for one area's figures reads only the row groups whose min/max statistics
# can hold it instead of scanning the whole file (at 10.8M rows this made per-area
# queries 2.2-2.4x faster). The schema is the one pandas writes for VALUES_COLUMNS.

ROW_GROUP_ROWS = 32_768
VALUES_ORDER = ("indicator_id, area_code, period_end, period, breakdown NULLS FIRST, "
                "category NULLS FIRST")
# What DuckDB may use while a load checks and publishes: it spills to disk beyond this,
# so memory stays bounded whatever the size of the files or of the published version.
# (bench/bench_ingest.py: at 256 MB a 1M-row re-issue spilled its joins and sort and took
# about 1 s longer; at 640 MB a 5M-row re-issue peaked at 954 MB, too near the 1 GB
# goal; at 448 MB it peaks at 827 MB.)
SCRATCH_MEMORY = "448MB"


def values_schema() -> pa.Schema:
    """The Arrow schema of a published values table (with pandas' metadata, as
    DataFrame.to_parquet writes it)."""
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in VALUES_COLUMNS.items()})
    return pa.Schema.from_pandas(empty, preserve_index=False)


def _write_values_frame(frame: pd.DataFrame, path: Path) -> None:
    """A values DataFrame (any row order) as a sorted file with small row groups."""
    missing = [c for c in ADDED_VALUES_COLUMNS if c not in frame and c in VALUES_COLUMNS]
    if missing and set(VALUES_COLUMNS) - set(missing) <= set(frame.columns):
        # Written by code that predates the column: null (unknown), as a reader would say.
        frame = frame.assign(**{c: pd.Series(pd.NA, index=frame.index,
                                             dtype=VALUES_COLUMNS[c]) for c in missing})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if table.num_rows and set(VALUES_COLUMNS) <= set(table.column_names):
        keys = [(c, "ascending", "at_start") for c in ("indicator_id", "area_code",
                                                      "period_end", "period", "breakdown",
                                                      "category")]
        table = table.take(pc.sort_indices(table, sort_keys=keys))
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS)


def scratch_connection(spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """A private DuckDB connection for one load's checks and publishing (not shared with
    readers), with bounded memory that spills to `spill_dir`."""
    con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": SCRATCH_MEMORY,
                                             "preserve_insertion_order": False})
    con.execute("SET temp_directory = ?", [str(spill_dir)])
    return con


def sql_path(path: Path) -> str:
    """`path` as a quoted SQL string literal, for the statements DuckDB cannot bind
    parameters into (COPY ... TO, CREATE VIEW over read_parquet). Only for paths the
    code chose itself, never user input."""
    return "'" + str(path).replace("'", "''") + "'"


def _values_columns_sql(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{c}"' for c in VALUES_COLUMNS)


def write_sorted_values(con: duckdb.DuckDBPyConnection, select_sql: str, path: Path) -> int:
    """Write the rows of `select_sql` (VALUES_COLUMNS) to `path` in the published order and
    schema, one row group at a time; DuckDB sorts within its memory limit, spilling to
    disk, so neither the old nor the new version is held in pandas. Returns the rows."""
    schema = values_schema()
    # Every column optional, as pandas writes it: DuckDB writes a column as required
    # (not null) when the files' statistics show no missing value, and the version's
    # schema would then depend on the load. A CASE that may give NULL says otherwise.
    casts = ", ".join(f'CAST(CASE WHEN "{c}" IS NULL THEN NULL ELSE "{c}" END '
                      f'AS {_DUCK_TYPES[t]}) AS "{c}"' for c, t in VALUES_COLUMNS.items())
    pandas_meta = schema.metadata[b"pandas"].decode("utf-8").replace("'", "''")
    arrow_meta = base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
    # preserve_insertion_order makes DuckDB write the rows in the ORDER BY order. The
    # Arrow and pandas metadata are those DataFrame.to_parquet writes, so the file reads
    # back with the same Arrow types and pandas dtypes as before.
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"COPY (SELECT {casts} FROM ({select_sql}) ORDER BY {VALUES_ORDER}) "
                f"TO {sql_path(path)} (FORMAT parquet, COMPRESSION snappy, "
                f"ROW_GROUP_SIZE {int(ROW_GROUP_ROWS)}, KV_METADATA {{'pandas': "
                f"'{pandas_meta}', 'ARROW:schema': '{arrow_meta}'}})")
    return pq.ParquetFile(path).metadata.num_rows


_DUCK_TYPES = {"string": "VARCHAR", "date32[pyarrow]": "DATE", "float64": "DOUBLE",
               "boolean": "BOOLEAN"}


def write_keys(con: duckdb.DuckDBPyConnection, select_sql: str, columns: list[str],
               path: Path) -> int:
    """Write string key columns (superseded keys) to `path` straight from DuckDB, with the
    metadata DataFrame.astype("string").to_parquet writes. Returns the rows."""
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    schema = pa.Schema.from_pandas(empty, preserve_index=False)
    pandas_meta = schema.metadata[b"pandas"].decode("utf-8").replace("'", "''")
    arrow_meta = base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
    casts = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in columns)
    # In no particular order (the keys are a record, looked up, not read in order): both
    # threads write, which a million keys take about a third less time to.
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"COPY (SELECT {casts} FROM ({select_sql})) TO {sql_path(path)} "
                f"(FORMAT parquet, COMPRESSION snappy, KV_METADATA {{'pandas': "
                f"'{pandas_meta}', 'ARROW:schema': '{arrow_meta}'}})")
    return pq.ParquetFile(path).metadata.num_rows


# --- Re-issues: what a load replaces ------------------------------------------------------
#
# A published row is replaced only by a loaded row with the same key. The key includes
# the breakdown and category, so the area total and each breakdown row are re-issued
# separately: a two-row correction of an area's totals keeps its breakdown rows, and a
# file of the sex breakdown alone keeps the total. (Superseding whole (indicator, area,
# period) keys deleted rows the file never held.)

REISSUE_KEY = ("indicator_id", "area_code", "period", "period_kind", "breakdown",
               "category")
REISSUE_KEYS_KEPT = 1_000        # replaced keys kept in memory for the report
TOTAL_TIER = "area total"
_ROWS_OF = "cdp:replaced_rows_of"  # metadata key: the file plan_reissue's row numbers are of
# The view plan_reissue leaves on its connection: the published rows replaced, each with
# its number in the published file (base_row) and the load's row replacing it (new_seq).
REPLACED_ROWS = "replaced"


def _reissue_join(a: str, b: str) -> str:
    """REISSUE_KEY as a join condition DuckDB hashes: a missing breakdown, category or
    kind matches only a missing one (an area total matches only an area total)."""
    return " AND ".join([f"{a}.{c} = {b}.{c}" for c in REISSUE_KEY[:3]] +
                        [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in REISSUE_KEY[3:]])


@dataclass
class Reissue:
    """What a load replaces in the version it builds on."""
    keys: pd.DataFrame              # the first REISSUE_KEYS_KEPT replaced keys
    count: int                      # published rows replaced (one per key)
    summary: list[dict]             # per indicator and tier: see plan_reissue
    periods: dict[str, list[str]]   # indicator -> periods with a replaced row
    path: Path | None = None        # every replaced key, as Parquet (write_keys)
    partial: list[dict] = field(default_factory=list)  # breakdowns re-issued
    #                                 with some published categories missing
    rows_path: Path | None = None   # the replaced rows' numbers in the published file
    #                                 (publish_merged's replaced_rows)

    def lines(self) -> list[str]:
        """One sentence per indicator and tier, for the load report."""
        return [describe_reissue(s) for s in self.summary]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def describe_reissue(s: dict) -> str:
    """"replaces 2 area totals of continuity_of_care (2024/25 Q1 to 2024/25 Q2) in 1
    area; keeps its 22 breakdown rows"."""
    if s["tier"] == TOTAL_TIER:
        what = _plural(s["rows_replaced"], "area total", "area totals")
    else:
        what = _plural(s["rows_replaced"], f"{s['tier']} breakdown row",
                       f"{s['tier']} breakdown rows")
    span = s["first_period"] if s["first_period"] == s["last_period"] else \
        f"{s['first_period']} to {s['last_period']}"
    text = (f"replaces {what} of {s['indicator_id']} ({span}) in "
            f"{_plural(s['areas'], 'area', 'areas')}")
    kept = []
    if s["totals_kept"]:
        kept.append("its area total" if s["totals_kept"] == 1
                    else f"its {s['totals_kept']:,} area totals")
    if s["breakdown_rows_kept"]:
        n = s["breakdown_rows_kept"]
        if s["tier"] == TOTAL_TIER:
            kept.append(f"its {_plural(n, 'breakdown row', 'breakdown rows')}")
        else:
            kept.append(_plural(n, "other breakdown row", "other breakdown rows"))
    if kept:
        text += "; keeps " + " and ".join(kept)
    return text


def plan_reissue(con: duckdb.DuckDBPyConnection, base_path: Path | None,
                 keys_path: Path, rows_path: Path | None = None) -> Reissue:
    """What the rows of the view new_rows (on `con`; REISSUE_KEY, period_end and _seq,
    each row's number in the load) replace in the published values file `base_path`:
    every replaced key (written to `keys_path`), the replaced rows' numbers in that file
    (written to `rows_path`, when given, for publish_merged), and per
    indicator and tier (the area total, or one breakdown) the rows replaced, the areas
    and periods, and the published rows of the same areas and periods that stay because
    the load does not re-issue them (rows_kept = totals_kept + breakdown_rows_kept)."""
    columns = list(REISSUE_KEY)
    empty = Reissue(pd.DataFrame({c: pd.Series(dtype="string") for c in columns}), 0, [],
                    {}, None, [])
    if base_path is None or not Path(base_path).exists():
        return empty
    keys = ", ".join(REISSUE_KEY)
    # Only published rows of an indicator and period the load holds can be replaced or
    # kept beside a replaced one (a load of a new quarter stops here, at once).
    con.execute("""CREATE OR REPLACE TEMP TABLE reissue_pairs AS
        SELECT DISTINCT indicator_id, period FROM new_rows""")
    # One pass over the published rows of those pairs, each with the load's row that
    # re-issues its key, if any (new_seq: a hash join on REISSUE_KEY, the load's keys as
    # the build side). The published side is what the report needs (what is replaced,
    # what stays), with each row's number in the file, so publishing drops replaced rows
    # by number instead of matching six text columns again; the pairs (base_row, new_seq)
    # let checks.compare_sql compare the figures by number too. (Grouping a UNION ALL of
    # both sides by key, as before, cost about 2 s of CPU more on a 1M-row re-issue.) A
    # published version holds each key once: every load is checked for duplicate keys
    # and replaces the keys it re-issues, so a row replaced is a key replaced. A load
    # with a duplicate key is refused, but its report still says what it would replace:
    # the first of the duplicates stands for the key, instead of an error.
    con.execute("SET scalar_subquery_error_on_multiple_rows = false")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE reissue_base AS
        SELECT {", ".join("b." + c for c in REISSUE_KEY)}, b.period_end,
               b.file_row_number AS base_row,
               (SELECT n._seq FROM new_rows n WHERE {_reissue_join('n', 'b')}) AS new_seq
        FROM read_parquet({sql_path(base_path)}, file_row_number = true) b
        SEMI JOIN reissue_pairs p USING (indicator_id, period)""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {REPLACED_ROWS} AS
        SELECT * FROM reissue_base WHERE new_seq IS NOT NULL""")
    count = con.execute(f"SELECT count(*) FROM {REPLACED_ROWS}").fetchone()[0]
    if count == 0:
        return empty
    write_keys(con, f"SELECT {keys} FROM replaced", columns, keys_path)
    if rows_path is not None:
        # The numbers mean something only in this file: it is named in the metadata, and
        # publish_merged refuses them for any other.
        con.execute(f"COPY (SELECT base_row FROM replaced) TO {sql_path(rows_path)} "
                    f"(FORMAT parquet, KV_METADATA {{'{_ROWS_OF}': "
                    f"{sql_path(Path(base_path).resolve())}}})")
    order = "indicator_id, area_code, period_end, period, breakdown NULLS FIRST, " \
        "category NULLS FIRST"
    first = con.execute(f"""SELECT {keys} FROM replaced ORDER BY {order}
                            LIMIT {REISSUE_KEYS_KEPT}""").df().astype("string")
    # Published rows the load does not re-issue, in an area, period and kind where it
    # re-issues some tier: they stay. Per tier re-issued: how many are totals, breakdown
    # rows, and rows of the same breakdown (a breakdown re-issued without some of its
    # published categories). Only replaced rows of an area, period and kind where some
    # published row stays are looked at (a whole re-issue has none: nothing to collect).
    con.execute("""CREATE OR REPLACE TEMP TABLE reissue_stay AS
        SELECT * FROM reissue_base WHERE new_seq IS NULL""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE reissue_kept AS
        WITH touched AS (
            SELECT DISTINCT r.indicator_id, r.area_code, r.period, r.period_kind,
                   coalesce(r.breakdown, '{TOTAL_TIER}') AS tier
            FROM replaced r SEMI JOIN reissue_stay s
              ON r.indicator_id = s.indicator_id AND r.area_code = s.area_code
             AND r.period = s.period AND r.period_kind IS NOT DISTINCT FROM s.period_kind),
        stay AS (FROM reissue_stay)
        SELECT t.indicator_id, t.tier, s.area_code, s.period, s.breakdown, s.category
        FROM stay s JOIN touched t
          ON s.indicator_id = t.indicator_id AND s.area_code = t.area_code
         AND s.period = t.period AND s.period_kind IS NOT DISTINCT FROM t.period_kind""")
    summary = con.execute(f"""
        WITH kept AS (
            SELECT indicator_id, tier,
                   count(*) FILTER (WHERE breakdown IS NULL) AS totals_kept,
                   count(*) FILTER (WHERE breakdown IS NOT NULL) AS breakdown_rows_kept
            FROM reissue_kept GROUP BY indicator_id, tier),
        done AS (
            SELECT indicator_id, coalesce(breakdown, '{TOTAL_TIER}') AS tier,
                   count(*) AS rows_replaced, count(DISTINCT area_code) AS areas,
                   count(DISTINCT period) AS periods,
                   arg_min(period, period_end) AS first_period,
                   arg_max(period, period_end) AS last_period
            FROM replaced GROUP BY ALL)
        SELECT d.*, coalesce(k.totals_kept, 0) AS totals_kept,
               coalesce(k.breakdown_rows_kept, 0) AS breakdown_rows_kept
        FROM done d LEFT JOIN kept k USING (indicator_id, tier)
        ORDER BY d.indicator_id, d.tier = '{TOTAL_TIER}' DESC, d.tier""").df()
    records = []
    for rec in summary.to_dict("records"):
        rec = {k: (int(v) if isinstance(v, (int, np.integer)) else v) for k, v in rec.items()}
        rec["rows_kept"] = rec["totals_kept"] + rec["breakdown_rows_kept"]
        records.append(rec)
    periods_by = {ind: list(p) for ind, p in con.execute("""
        SELECT indicator_id, list(period ORDER BY period_end, period) FROM (
            SELECT DISTINCT indicator_id, period, period_end FROM replaced)
        GROUP BY indicator_id ORDER BY indicator_id""").fetchall()}
    partial = con.execute("""
        SELECT indicator_id, breakdown, count(*) AS rows,
               count(DISTINCT (area_code, period)) AS area_periods,
               list(DISTINCT category ORDER BY category)[1:6] AS categories
        FROM reissue_kept WHERE breakdown = tier
        GROUP BY indicator_id, breakdown ORDER BY indicator_id, breakdown""").df()
    return Reissue(first, int(count), records, periods_by, keys_path,
                   [{k: (list(v) if k == "categories" else
                         int(v) if isinstance(v, (int, np.integer)) else v)
                     for k, v in rec.items()} for rec in partial.to_dict("records")],
                   rows_path)


def _replaces_every_row(replaced_rows: Path, base_path: Path) -> bool:
    """Whether plan_reissue's row numbers cover the whole base file (each published row
    is matched at most once, so equal counts mean every row), from the files' footers."""
    return pq.read_metadata(replaced_rows).num_rows == pq.read_metadata(base_path).num_rows


def _rows_file_base(rows_path: Path) -> str | None:
    """The published values file whose row numbers `rows_path` holds (plan_reissue)."""
    meta = pq.read_metadata(rows_path).metadata or {}
    value = meta.get(_ROWS_OF.encode())
    return value.decode("utf-8") if value is not None else None


def publish_merged(data_dir: Path, base: Version | None, new_rows: pd.DataFrame | list[Path],
                   tables: dict[str, pd.DataFrame], manifest: Callable[[str, int], dict],
                   spill_dir: Path, files: dict[str, Path] | None = None,
                   replaces: bool = True, replaced_rows: Path | None = None) -> Version:
    """Publish a load: values are the base version's rows whose key (REISSUE_KEY: the
    indicator, area, period, kind of period, breakdown and category) the load does not
    re-issue, plus the load's rows (`new_rows`: a DataFrame, or Parquet
    parts holding VALUES_COLUMNS and perhaps more), merged and sorted by DuckDB.
    `manifest(version_id, values_rows)`; the other `tables` are written as they are, and
    `files` (table -> a Parquet file already written, by write_keys) copied.
    `replaces=False` (plan_reissue found no published row re-issued): the base's rows are
    kept without matching them against the load's keys. `replaced_rows` (plan_reissue's
    rows_path, planned on the same base file under the same publish lock): the rows
    replaced are dropped by their number in the base file, not matched by key again."""
    files = files or {}
    tables = {**tables}
    unknown = (set(tables) | set(files)) - set(TABLES)
    if unknown or "values" in tables:
        raise ValueError(f"unexpected tables: {sorted(unknown | ({'values'} & set(tables)))}")
    written: dict[str, int] = {}

    def write(staging: Path) -> dict[str, int]:
        con = scratch_connection(spill_dir)
        written_parts: list[Path] = []
        try:
            cols = _values_columns_sql()
            if isinstance(new_rows, pd.DataFrame):
                # Columns added since a caller's frame was built (ADDED_VALUES_COLUMNS)
                # go in as nulls, as publish() does. Written to a file so the merge below
                # reads every row through one scan.
                missing = [c for c in ADDED_VALUES_COLUMNS if c not in new_rows]
                frame = new_rows.assign(**{c: pd.Series(pd.NA, index=new_rows.index,
                                                        dtype=VALUES_COLUMNS[c])
                                           for c in missing})[list(VALUES_COLUMNS)]
                parts = [Path(spill_dir) / f"new-rows-{uuid.uuid4().hex[:8]}.parquet"]
                written_parts.extend(parts)
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), parts[0])
            elif new_rows:
                parts = list(new_rows)
            else:
                raise ValueError("no rows to publish")
            con.execute(f"CREATE TEMP VIEW new_rows AS SELECT {cols} FROM read_parquet("
                        f"[{', '.join(sql_path(p) for p in parts)}], union_by_name = true)")
            base_path = base.path / "values.parquet" if base is not None else None
            if base_path is None or not base_path.exists():
                select = "SELECT * FROM new_rows"
            else:
                # The published rows and the load's are read by ONE read_parquet (by
                # column name: a base written before ADDED_VALUES_COLUMNS gets nulls), and
                # the published rows a load replaces dropped by a join that only a row of
                # the base file can match. Written as a UNION ALL of two scans instead,
                # DuckDB 2.0 ran out of memory in the sorted write within half a second,
                # whatever its limit (302,051 + 2M rows at 448 MB, and at 1.5 GB);
                # through a temporary table it works but a 28-row load onto a 10.9M-row
                # version took 38 s instead of 25 s.
                base_sql = sql_path(base_path)
                every = ", ".join([base_sql] + [sql_path(p) for p in parts])
                scan = (f"read_parquet([{every}], union_by_name = true, filename = true, "
                        f"file_row_number = true) x")
                if not replaces:
                    dropped = ""
                elif replaced_rows is not None:
                    planned_on = _rows_file_base(replaced_rows)
                    if planned_on != str(Path(base_path).resolve()):
                        raise ValueError(f"{replaced_rows} holds row numbers of {planned_on}, "
                                         f"not of {base_path}: plan the re-issue again")
                    # The rows plan_reissue matched by key (REISSUE_KEY), dropped by
                    # number: one integer to hash instead of six text columns. When it
                    # matched every published row (a whole re-issue), the base file is
                    # not read at all.
                    dropped = (f" ANTI JOIN read_parquet({sql_path(replaced_rows)}) r "
                               f"ON x.filename = {base_sql} "
                               f"AND x.file_row_number = r.base_row")
                    if _replaces_every_row(replaced_rows, base_path):
                        scan, dropped = "new_rows x", ""
                else:
                    # Only the rows the load re-issues are dropped: a correction of an
                    # area total keeps that area's breakdown rows, and a breakdown-only
                    # file keeps the total (see REISSUE_KEY).
                    keys = ", ".join(REISSUE_KEY)
                    dropped = (f" ANTI JOIN (SELECT {keys} FROM new_rows) k "
                               f"ON x.filename = {base_sql} AND {_reissue_join('x', 'k')}")
                select = f"SELECT {_values_columns_sql('x')} FROM {scan}{dropped}"
            written["values"] = write_sorted_values(con, select, staging / "values.parquet")
        finally:
            con.close()
            for part in written_parts:
                part.unlink(missing_ok=True)
        row_counts = {"values": written["values"]}
        for name, frame in tables.items():
            frame.to_parquet(staging / f"{name}.parquet", index=False)
            row_counts[name] = len(frame)
        for name, path in files.items():
            shutil.copyfile(path, staging / f"{name}.parquet")
            row_counts[name] = pq.ParquetFile(path).metadata.num_rows
        # Analysts' notes are not the extract's: a load keeps the base version's as they are.
        notes = base.path / "annotations.parquet" if base is not None else None
        if "annotations" not in row_counts and notes is not None and notes.exists():
            shutil.copyfile(notes, staging / "annotations.parquet")
            row_counts["annotations"] = pq.ParquetFile(notes).metadata.num_rows
        return row_counts

    return _publish(data_dir, write, lambda version_id: manifest(version_id,
                                                                 written["values"]))


class Spool:
    """The checked rows of one load, kept on disk as Parquet parts rather than in memory,
    so a load of any size holds one chunk of rows at a time. Lives in a private folder
    under the data directory (not /tmp, which may be memory); `close()` removes it, and a
    folder left by a killed load is removed by `remove_interrupted`."""

    def __init__(self, data_dir: Path):
        root = Path(data_dir) / SPOOL_DIR
        root.mkdir(parents=True, exist_ok=True)
        self.dir = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.dir.mkdir()
        self.parts: list[Path] = []
        self.rows = 0

    def append(self, table: pa.Table) -> None:
        """Add rows (VALUES_COLUMNS, plus _file and _row); _seq keeps load order."""
        if table.num_rows == 0:
            return
        table = table.append_column("_seq", pa.array(
            np.arange(self.rows, self.rows + table.num_rows, dtype=np.int64)))
        path = self.dir / f"part-{len(self.parts):06d}.parquet"
        # Read once, soon, from local disk: speed over size.
        pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, compression="none",
                       use_dictionary=["indicator_id", "period", "period_kind",
                                       "breakdown", "category", "_file"],
                       write_statistics=False)
        self.parts.append(path)
        self.rows += table.num_rows

    def mark(self) -> tuple[int, int]:
        return len(self.parts), self.rows

    def rollback(self, mark: tuple[int, int]) -> None:
        """Forget the parts added since `mark` (a file that must be read another way)."""
        count, rows = mark
        for path in self.parts[count:]:
            path.unlink(missing_ok=True)
        self.parts, self.rows = self.parts[:count], rows

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A scratch connection with the view new_rows over the parts."""
        con = scratch_connection(self.dir)
        if self.parts:
            parts = ", ".join(sql_path(p) for p in self.parts)
            con.execute(f"CREATE TEMP VIEW new_rows AS SELECT * FROM read_parquet([{parts}])")
        return con

    def head(self, n: int) -> pd.DataFrame:
        """The first n rows in load order (a preview)."""
        frames, left = [], n
        for path in self.parts:
            if left <= 0:
                break
            part = pq.ParquetFile(path)
            table = next(part.iter_batches(batch_size=left))
            frames.append(pa.Table.from_batches([table]))
            left -= table.num_rows
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in VALUES_COLUMNS.items()})
        return pa.concat_tables(frames).to_pandas()[list(VALUES_COLUMNS)].astype(
            VALUES_COLUMNS)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)




def read_table(version: Version, table: str) -> pd.DataFrame | None:
    """One published table as a DataFrame, or None when this version has none."""
    path = version.path / f"{table}.parquet"
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    return with_added_columns(frame) if table == "values" else frame


def publish(data_dir: Path, tables: dict[str, pd.DataFrame],
            manifest: dict | Callable[[str], dict]) -> Version:
    """Write `tables` as a new version and make it current, atomically.

    `manifest` may be a function of the new version's id. Callers that read the current
    version first and publish from it should hold `publish_lock`."""
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown tables: {sorted(unknown)}")

    def write(staging: Path) -> dict[str, int]:
        row_counts = {}
        for name, frame in tables.items():
            if name == "values":
                _write_values_frame(frame, staging / "values.parquet")
            else:
                frame.to_parquet(staging / f"{name}.parquet", index=False)
            row_counts[name] = len(frame)
        return row_counts

    return _publish(data_dir, write, manifest)
