"""Large CSVs, checked a chunk at a time into a spool on disk.

A CSV over loading.STREAM_BYTES is never held whole: Arrow reads it a block at a time,
each chunk is checked (validate.table_to_rows) and its rows are written to a
store.Spool, so memory does not grow with the file. What must be decided on the whole
file (which sex or age value is the total; whether the Area Type column lists both
districts and counties) is decided first, in passes over those columns only.

The checks are Python and hold the interpreter; Arrow's CSV parsing, Parquet writing and
the file's checksum mostly do not. So while one chunk is checked, a worker parses the
next (_read_ahead), another writes the last one's rows to the spool (_SpoolWriter), and
the checksum is worked out beside them: on two cores a 1M-row re-issue's check took
about 1 s less (bench/bench_ingest.py). At most one chunk waits on each side, so memory
still does not grow with the file.

Also here: the checked rows as the store's types (typed_rows, spool_frame).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa

from metrics import store
from metrics.ingest import columns, readers
from metrics.ingest.model import (ERROR, NOTE, FileReport, Issues, has_errors,
                                  merge_issues, repeated)
from metrics.ingest.validate import (NOTHING_USABLE, breakdown_totals, lists_both_tiers,
                                     table_to_rows)


def hash_and_lines(source) -> tuple[str, int, int]:
    """sha256, size and number of lines, reading a file a block at a time."""
    digest, size, newlines, last = hashlib.sha256(), 0, 0, b""
    if source.data is not None:
        data = source.data
        digest.update(data)
        size, newlines, last = len(data), data.count(b"\n"), data[-1:]
    else:
        with open(source.path, "rb") as handle:
            while block := handle.read(1 << 24):
                digest.update(block)
                size += len(block)
                newlines += block.count(b"\n")
                last = block[-1:]
    lines = newlines + (1 if size and last != b"\n" else 0)
    return digest.hexdigest(), size, lines


def check_streamed(source, spool: store.Spool, index, known, file_issues: Issues,
                   additional: dict, issues: dict, chunk_bytes: int) -> FileReport | None:
    """Check a large CSV (a loading.Source) a chunk at a time, its rows going to `spool`.
    None when it cannot be streamed (not UTF-8, a row over several lines...): the caller
    reads it whole."""
    try:
        if source.data is not None:
            head = source.data[:readers.HEAD_CHARS]
        else:
            with open(source.path, "rb") as handle:
                head = handle.read(readers.HEAD_CHARS)
    except OSError:
        return None
    layout = readers.csv_layout(head)
    if layout is None:
        return None
    with ThreadPoolExecutor(1, thread_name_prefix="cdp-checksum") as pool:
        checksum = pool.submit(hash_and_lines, source)
        checked = _check_chunks(source, layout, spool, index, known, checksum,
                                chunk_bytes)
    if checked is None:
        return None
    report, chunk_issues, seen_additional = checked
    report.sha256, report.size, _ = checksum.result()
    # Only now do this file's messages count: a fallback above reads it again whole.
    merge_issues(file_issues, chunk_issues, {})
    additional.update(seen_additional)
    if report.rows_loaded == 0 and not has_errors(issues, source.name):
        skipped_all = report.rows_read > 0 and any(
            i.level == NOTE and "skipped" in i.problem for i in file_issues.items)
        file_issues.add(ERROR, NOTHING_USABLE if skipped_all
                        else "the file is empty: no data rows under the header")
    return report


def _check_chunks(source, layout: readers.CsvLayout, spool: store.Spool, index, known,
                  checksum: Future, chunk_bytes: int):
    """check_streamed's pass over the chunks: (the file's report, its messages, the
    additional indicators met), or None (and the spool as it was) when the file cannot be
    streamed after all. The report lacks only the checksum and size: `checksum` is
    hash_and_lines' future, whose line count is needed once the last chunk is read."""
    report = FileReport(source.name, "", 0, encoding=layout.encoding)
    mark = spool.mark()
    chunk_issues = Issues(source.name)
    merged: dict = {}
    formats: set[str] = set()
    found: dict[str, None] = {}
    periods_seen: dict[str, object] = {}
    seen_additional: dict[str, dict] = {}

    def stream():
        return io.BytesIO(source.data) if source.data is not None else source.path

    writer = _SpoolWriter(spool)
    try:
        totals = _file_breakdown_totals(stream(), layout, chunk_bytes)
        both_tiers = _file_lists_both_tiers(stream(), layout, chunk_bytes)
        chunks = readers.iter_csv_chunks(stream(), layout, source.name,
                                         lambda: checksum.result()[2], chunk_bytes)
        with contextlib.closing(_read_ahead(chunks)) as ahead:
            for number, chunk in enumerate(ahead):
                if totals is not None:
                    chunk.breakdown_totals = _chunk_totals(chunk, *totals)
                chunk.both_tiers = both_tiers
                chunk.chunk = True
                part = Issues(source.name)
                try:
                    result = table_to_rows(chunk, source.name, index, known, part)
                except Exception as exc:  # noqa: BLE001 - a bug must not pass as a clean file
                    part.add(ERROR, f"cannot be checked ({type(exc).__name__}: "
                                    f"{str(exc)[:200]}); please report this file")
                    merge_issues(chunk_issues, part, merged)
                    break
                merge_issues(chunk_issues, part, merged)
                formats.add(result.format)
                report.rows_read += result.rows_read
                seen_additional.update(result.additional)
                rows = result.rows
                if len(rows):
                    report.rows_loaded += len(rows)
                    found.update(dict.fromkeys(pd.unique(rows["indicator_id"])))
                    firsts = rows.drop_duplicates("period")
                    for p, e in zip(firsts["period"], firsts["period_end"]):
                        periods_seen.setdefault(p, e)
                    writer.append(rows, result.coded)
                elif number == 0 and result.rows_read == 0 and any(
                        i.level == ERROR and not i.rows for i in part.items):
                    break           # the table itself is wrong (columns): one chunk says it
        writer.finish()
    except readers.StreamFallback:
        writer.finish(failed=True)
        spool.rollback(mark)
        return None
    except BaseException:
        writer.finish(failed=True)
        raise
    report.format = ", ".join(sorted(formats)) or "csv"
    report.indicators = sorted(found)
    report.periods = [p for p, _ in sorted(periods_seen.items(),
                                           key=lambda kv: pd.Timestamp(kv[1]))]
    return report, chunk_issues, seen_additional


_DONE = object()


def _read_ahead(items):
    """The items of an iterator, the next one read on a worker thread while the caller
    works on this one (at most one waits). Its exceptions reach the caller in order. The
    iterator is only ever advanced, and closed, on that one worker: a caller that stops
    early closes it there, after any read under way."""
    with ThreadPoolExecutor(1, thread_name_prefix="cdp-csv-read-ahead") as worker:
        upcoming = worker.submit(next, items, _DONE)
        try:
            while (item := upcoming.result()) is not _DONE:
                upcoming = worker.submit(next, items, _DONE)
                yield item
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                worker.submit(close).result()


class _SpoolWriter:
    """Writes checked rows to the spool on a thread, in order, while the next chunk is
    checked. At most one chunk's rows wait; a failed write is raised by the next append
    or by finish()."""

    def __init__(self, spool: store.Spool):
        self.spool = spool
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cdp-spool-write")
        self.pending: Future | None = None

    def append(self, rows: pd.DataFrame, coded: dict | None) -> None:
        self._wait()
        self.pending = self.pool.submit(
            lambda: self.spool.append(spool_frame(rows, coded)))

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def finish(self, failed: bool = False) -> None:
        """Wait for the last write (raising its error unless the load already failed)."""
        try:
            if failed:
                if self.pending is not None:
                    self.pending.exception()
            else:
                self._wait()
        finally:
            self.pool.shutdown(wait=True)


def _file_lists_both_tiers(stream, layout: readers.CsvLayout, chunk_bytes: int
                           ) -> bool | None:
    """For a file read in chunks: whether its Area Type column lists both districts and
    counties/UAs, decided on the whole file (a first pass over that column only), so a
    chunk holding only the district list still skips its copies of unitary authorities.
    None without an Area Type column."""
    fmt = columns.detect_format(layout.headers)
    mapping, _, _ = columns.map_columns(layout.headers, fmt)
    if "area_type" not in mapping:
        return None
    counts = readers.csv_value_counts(stream, layout, [mapping["area_type"]],
                                      chunk_bytes)
    return lists_both_tiers([combo[0].strip() for combo in counts])


def _file_breakdown_totals(stream, layout: readers.CsvLayout, chunk_bytes: int):
    """Whether a sex or age column is a breakdown, and which value is the total, is
    decided per indicator on the whole table (validate._breakdowns); for a file read in
    chunks, a first pass over just those columns decides it for every chunk. Returns
    (indicator column or None, {field: {indicator cell: total}}), or None without such
    columns."""
    fmt = columns.detect_format(layout.headers)
    mapping, _, _ = columns.map_columns(layout.headers, fmt)
    fields = [f for f in ("sex", "age") if f in mapping]
    if not fields:
        return None
    ind_col = mapping.get("indicator_id")
    positions = ([ind_col] if ind_col is not None else []) + [mapping[f] for f in fields]
    counts = readers.csv_value_counts(stream, layout, positions, chunk_bytes)
    decided = {}
    for k, fld in enumerate(fields):
        by_ind: dict[str, dict[str, int]] = {}
        for combo, n in counts.items():
            ind = combo[0].strip() if ind_col is not None else ""
            value = combo[k + (1 if ind_col is not None else 0)].strip()
            bucket = by_ind.setdefault(ind, {})
            bucket[value] = bucket.get(value, 0) + n
        decided[fld] = breakdown_totals(by_ind, fld)
    return ind_col, decided


def _chunk_totals(chunk: readers.RawTable, ind_col, decided) -> dict:
    if ind_col is None:
        keys = pd.Series(repeated(len(chunk.data), ""))
    else:
        keys = chunk.data[ind_col].astype(object).fillna("").str.strip()
    return {fld: keys.map(totals).to_numpy(dtype=object) for fld, totals in decided.items()}


# --- checked rows as the store's types --------------------------------------------------

def spool_frame(rows: pd.DataFrame, coded: dict | None = None) -> pa.Table:
    """Checked rows as an Arrow table of the long format plus _file and _row. Straight
    from the object columns (pyarrow converts Python strings faster than the factorising
    typed_rows does); any cell of an unexpected type takes the typed_rows way instead. `coded`
    (validate.TableResult.coded): columns whose distinct values are converted once and
    taken per row, much faster than a Python object per row."""
    arrays = {}
    try:
        for col, dtype in store.VALUES_COLUMNS.items():
            series = rows[col]
            index, values = (coded or {}).get(col, (None, None))
            if index is not None and len(index) == len(rows):
                kind = pa.string() if dtype == "string" else pa.date32()
                arrays[col] = pa.array(values, type=kind, from_pandas=True).take(
                    pa.array(index, type=pa.int64()))
            elif dtype == "string":
                arrays[col] = pa.array(series.to_numpy(dtype=object), type=pa.string(),
                                       from_pandas=True)
            elif dtype.startswith("date32"):
                arrays[col] = pa.array(series.to_numpy(dtype=object), type=pa.date32(),
                                       from_pandas=True)
            elif dtype == "boolean":
                arrays[col] = pa.array(series.astype("boolean"), type=pa.bool_(),
                                       from_pandas=True)
            else:
                arrays[col] = pa.array(pd.to_numeric(series, errors="coerce")
                                       .to_numpy(dtype="float64"), type=pa.float64(),
                                       from_pandas=True)
        files = rows["_file"].to_numpy(dtype=object)
        if len(files) and (files == files[0]).all():   # one table's rows: one name
            arrays["_file"] = pa.array([files[0]], type=pa.string()).take(
                pa.array(np.zeros(len(files), dtype=np.int64)))
        else:
            arrays["_file"] = pa.array(files, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        typed = typed_rows(rows)
        typed["_file"] = _strings(rows["_file"])
        arrays = {c: pa.array(typed[c]) for c in typed.columns}
        arrays = {c: a.cast(pa.string()) if pa.types.is_large_string(a.type) else a
                  for c, a in arrays.items()}
    arrays["_row"] = pa.array(pd.to_numeric(rows["_row"]).to_numpy(dtype="int64"))
    return pa.table(arrays)


def _strings(series: pd.Series) -> pd.Series:
    """An object column of str/None as pandas' Arrow-backed "string" dtype, built through a
    dictionary (one Python string per distinct value, not per row)."""
    if not pd.api.types.is_object_dtype(series.dtype):
        return series.astype("string")
    codes, uniques = pd.factorize(series)
    if len(uniques) == 0:
        arr = pa.nulls(len(series), pa.string())
    else:
        dictionary = pa.array([str(u) for u in uniques], type=pa.string())
        indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
        arr = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=series.index, dtype="string")


def typed_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The long format's columns and types (store.VALUES_COLUMNS), built fast."""
    out = {}
    for col, dtype in store.VALUES_COLUMNS.items():
        series = rows[col]
        if dtype.startswith("date32"):
            codes, uniques = pd.factorize(series)
            arr = pa.array(list(uniques) + [None], type=pa.date32()).take(
                pa.array(np.where(codes < 0, len(uniques), codes)))
            out[col] = pd.Series(pd.arrays.ArrowExtensionArray(arr), index=rows.index)
        elif dtype == "string":
            out[col] = _strings(series)
        elif dtype == "boolean":
            out[col] = series.astype("boolean")
        else:
            out[col] = pd.to_numeric(series, errors="coerce").astype("float64")
    return pd.DataFrame(out, index=rows.index)
