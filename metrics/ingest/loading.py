"""Validate a set of files and publish them as one new version, or refuse them all.

`load()` is the one entry point the command line, the drop folder and the Data page use:

1. read and check every file (no lock needed: nothing is written);
2. take the publish lock; compare with the current version (warnings; a real version is
   the base, a demonstration version is not: real data never mixes with invented data);
3. if any file has an error, publish nothing; otherwise write a new version that is the
   base minus the rows this load re-issues (the same indicator, area, period, kind of
   period, breakdown and category: store.REISSUE_KEY), plus the new rows, and make it
   current atomically (metrics.store). No other published row is ever dropped; the
   report lists what is replaced and what is kept.
"""

from __future__ import annotations

import datetime as dt
import getpass
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from metrics import store
from metrics.ingest import areas as areas_mod
from metrics.ingest import checks, layouts, readers
from metrics.ingest.model import (ERROR, NOTE, WARNING, FileReport, Issue, Issues, LoadReport,
                                  has_errors)
from metrics.ingest.streaming import check_streamed, spool_frame, typed_rows
from metrics.ingest.validate import Catalogue, table_to_rows
from metrics.reference.formatting import plural
from metrics.settings import load_settings

INDICATOR_COLUMNS = ["indicator_id", "title", "unit", "source", "fingertips_id", "outcome"]
SUPPORTED = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods", ".parquet")


# A CSV larger than this is read in chunks of about STREAM_CHUNK_BYTES and its checked
# rows are kept on disk (metrics.store.Spool), so memory does not grow with the file;
# smaller files are read whole (the same checks and messages either way).
STREAM_BYTES = 24 << 20
STREAM_CHUNK_BYTES = 6 << 20
PUBLISHED_LABEL = "(published data)"   # where the report's messages about the published
#                                          data itself (not one file) are filed
PREVIEW_ROWS = 1_000          # rows of a large load kept in the report (the Data page shows 200)


@dataclass
class Source:
    name: str
    data: bytes | None
    problem: str = ""          # why it could not be read from disk
    path: Path | None = None   # a large file, read from disk in chunks (data is None)

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        try:
            return self.path.stat().st_size if self.path is not None else 0
        except OSError:
            return 0


def sources_from_paths(paths) -> list[Source]:
    out = []
    for path in paths:
        path = Path(path)
        try:
            if path.is_file() and path.stat().st_size > STREAM_BYTES:
                out.append(Source(path.name, None, path=path))
                continue
            out.append(Source(path.name, path.read_bytes()))
        except FileNotFoundError:
            out.append(Source(path.name, None, f"file not found: {path}"))
        except IsADirectoryError:
            out.append(Source(path.name, None, f"is a folder, not a file: {path}"))
        except OSError as exc:
            out.append(Source(path.name, None, f"cannot be read: {exc.strerror or exc}"))
    return out


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return os.environ.get("USER", "unknown")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# --- reading and checking ---------------------------------------------------------------

def _real_base(version: store.Version | None):
    if version is None or version.is_demo:
        return None
    return version


def _known(base: store.Version | None) -> Catalogue:
    if base is None:
        return Catalogue()
    table = store.read_table(base, "indicators")
    if table is None or table.empty:
        return Catalogue()
    return Catalogue({r["indicator_id"]: {k: r.get(k) for k in INDICATOR_COLUMNS[1:]}
                      for r in table.to_dict("records")})


def check_files(sources: list[Source], data_dir, base: store.Version | None = None,
                area_lookup: Path | None = None, options: layouts.LoadOptions | None = None):
    """Read and check every file. Returns (report, issues by label, rows, additional
    metrics, known metrics); rows are a DataFrame, or a store.Spool when any file is
    large enough to be read in chunks (the caller closes it)."""
    index, lookup_problems = areas_mod.load_index(area_lookup)
    known = _known(_real_base(base))
    files: list[FileReport] = []
    issues: dict[str, Issues] = {}
    frames = []
    additional: dict[str, dict] = {}
    general = Issues("area lookup")
    for problem in lookup_problems:
        general.add(ERROR, problem)
    if lookup_problems:
        issues["area lookup"] = general
    spool = None
    # Large CSVs are checked in chunks, unless the analyst declared something about the
    # files (--indicator, --period, ...): those reshape whole tables, so such files are
    # read whole.
    streaming = options is None or not options.any()
    if streaming and any(s.size > STREAM_BYTES for s in sources if not s.problem):
        spool = store.Spool(data_dir or load_settings().data_dir)
    for source in sources:
        _check_source(source, spool, index, known, issues, files, frames, additional,
                      options)
    if spool is not None:
        for label in issues:
            issues.setdefault(label, Issues(label))
        con = spool.connect()
        try:
            if spool.rows:
                checks.duplicates_sql(con, _AnyLabel(issues))
        finally:
            con.close()
        return files, issues, spool, additional, known
    rows = None
    if frames:
        raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        rows = typed_rows(raw)
        rows["_file"], rows["_row"] = raw["_file"].to_numpy(), raw["_row"].to_numpy()
        checks.duplicates(rows, _issues_for(issues, rows))
    return files, issues, rows, additional, known


def _check_source(source: Source, spool: store.Spool | None, index, known, issues: dict[str, Issues], files: list[FileReport],
                  frames: list, additional: dict, options) -> None:
    """Read and check one file: its report goes to `files`, its messages to `issues`, its
    rows to `spool` (a large load) or `frames`."""
    file_issues = issues.setdefault(source.name, Issues(source.name))
    if spool is not None and source.size > STREAM_BYTES and not source.problem:
        report = check_streamed(source, spool, index, known, file_issues, additional,
                                issues, STREAM_CHUNK_BYTES)
        if report is not None:
            files.append(report)
            return
    data = source.data
    if data is None and source.path is not None and not source.problem:
        try:
            data = source.path.read_bytes()
        except OSError as exc:
            source = Source(source.name, None, f"cannot be read: {exc.strerror or exc}")
    data = data or b""
    report = FileReport(source.name, hashlib.sha256(data).hexdigest(), len(data))
    files.append(report)
    if not data and source.data is None:
        file_issues.add(ERROR, source.problem or "cannot be read")
        return
    # In a child process with memory and time limits: a hostile workbook or Parquet
    # file costs the child, never this process (readers.read_guarded).
    read = readers.read_guarded(data, source.name, file_issues)
    report.encoding, report.sheets = read.encoding, read.sheets
    formats, mine = [], []
    # Publishers' layouts (two-row headers, wide tables) and the analyst's declarations
    # (--indicator, --period, ...) reshape the tables before they are checked.
    tables = layouts.apply(read, source.name, options, index, file_issues)
    report.sheets = [t.sheet for t in tables if t.sheet]
    for table in tables:
        table_issues = issues.setdefault(table.label, Issues(table.label)) \
            if table.label != source.name else file_issues
        try:
            result = table_to_rows(table, source.name, index, known, table_issues)
        except Exception as exc:  # noqa: BLE001 - a bug must not pass as a clean file
            table_issues.add(ERROR, f"cannot be checked ({type(exc).__name__}: "
                                    f"{str(exc)[:200]}); please report this file")
            continue
        formats.append(result.format)
        report.rows_read += result.rows_read
        additional.update(result.additional)
        if len(result.rows):
            mine.append(result.rows)
            if spool is None:
                frames.append(result.rows)
            else:
                spool.append(spool_frame(result.rows, result.coded))
    report.format = ", ".join(sorted(set(formats))) or read.kind
    if mine:
        both = pd.concat(mine, ignore_index=True)
        report.rows_loaded = len(both)
        report.indicators = sorted(both["indicator_id"].unique().tolist())
        ordered = both.drop_duplicates("period").sort_values("period_end")
        report.periods = ordered["period"].tolist()
    elif read.tables and not has_errors(issues, source.name):
        file_issues.add(ERROR, "the file is empty: no data rows under the header")


class _AnyLabel(dict):
    """issues by label, making a bag for a label met first in a check's result."""

    def __init__(self, issues: dict[str, Issues]):
        super().__init__()
        self.issues = issues

    def __getitem__(self, label):
        return self.issues.setdefault(label, Issues(label))


def _issues_for(issues: dict[str, Issues], rows: pd.DataFrame) -> dict[str, Issues]:
    for label in rows["_file"].unique():
        issues.setdefault(label, Issues(label))
    return issues


# --- the load itself ------------------------------------------------------------------------

def load(files, data_dir=None, *, dry_run: bool = False, user: str | None = None,
         expect_base: str | None = None, area_lookup: Path | None = None,
         action: str = "load", options: layouts.LoadOptions | None = None,
         identity: dict | None = None) -> LoadReport:
    """Check `files` (paths, or `Source`s) and, unless dry_run or any error, publish.
    `identity`: the signed-in loader's e-mail and subject, recorded in the manifest."""
    settings = load_settings()
    data_dir = Path(data_dir or settings.data_dir)
    area_lookup = area_lookup if area_lookup is not None else settings.area_lookup
    sources = [f if isinstance(f, Source) else None for f in files]
    paths = [f for f in files if not isinstance(f, Source)]
    path_sources = iter(sources_from_paths(paths))
    sources = [s if s is not None else next(path_sources) for s in sources]
    if not sources:
        return LoadReport([], [Issue(ERROR, "(no files)", "nothing to load: name at least "
                                                         "one file")],
                          pd.DataFrame(), pd.DataFrame(), message="nothing to load")

    try:
        current = _current(data_dir)
    except store.DamagedVersion as exc:
        # No good version is left to build on: publishing these files alone would drop
        # everything else, so nothing is published until the data is restored.
        return LoadReport([], [Issue(ERROR, PUBLISHED_LABEL, str(exc))], pd.DataFrame(),
                          pd.DataFrame(), message="refused: the published data is damaged "
                          "and no good version is left to build on; nothing was published")
    if options is not None and options.problems(_known(_real_base(current)).additional):
        return LoadReport([], [Issue(ERROR, "(options)", p) for p in
                               options.problems(_known(_real_base(current)).additional)],
                          pd.DataFrame(), pd.DataFrame(),
                          message="refused: the options given are not usable; nothing was "
                                  "published")
    spools: list[store.Spool] = []

    def checked(base):
        out = check_files(sources, data_dir, base, area_lookup, options)
        if isinstance(out[2], store.Spool):
            spools.append(out[2])
        return out

    try:
        current = _current(data_dir)
        files_, issues, rows, additional, known = checked(current)
        if dry_run or any(i.level == ERROR for bag in issues.values() for i in bag.items):
            return _finish(files_, issues, rows, additional, current, None, dry_run=dry_run)

        with store.publish_lock(data_dir):
            store.remove_interrupted(data_dir)
            # A missing published/CURRENT is written back (and logged) before building on
            # it: without it this load would publish its own files alone.
            repaired = store.repair_current(data_dir)
            latest = _current(data_dir)
            if expect_base is not None and (latest.id if latest else None) != expect_base:
                report = _finish(files_, issues, rows, additional, latest, None, dry_run=True)
                report.message = (f"not published: the published data changed (now "
                                  f"{latest.id if latest else 'nothing'}) since these files "
                                  "were checked; check them again")
                return report
            if latest is not None and current is not None and latest.id != current.id:
                # Someone published while we were checking: check again against the new base.
                files_, issues, rows, additional, known = checked(latest)
                if any(i.level == ERROR for bag in issues.values() for i in bag.items):
                    return _finish(files_, issues, rows, additional, latest, None)
            if repaired:
                issues.setdefault(PUBLISHED_LABEL, Issues(PUBLISHED_LABEL)).add(
                    WARNING, f"{repaired}; this load builds on {latest.id}")
            return _finish(files_, issues, rows, additional, latest, None, publish=True,
                           data_dir=data_dir, user=user or default_user(), known=known,
                           action=action, identity=identity)
    finally:
        for spool in spools:
            spool.close()


def _current(data_dir: Path) -> store.Version | None:
    try:
        return store.current_version(data_dir)
    except store.NoPublishedData:
        return None


def _finish(files_, issues, rows, additional, current, _unused, *, dry_run=False,
            publish=False, data_dir=None, user=None, known=None, action="load",
            identity=None) -> LoadReport:
    # A large load works in its spool folder; a small one in a temporary folder (the
    # replaced keys are written there before they are copied into the new version).
    work = contextlib.nullcontext(rows.dir) if isinstance(rows, store.Spool) else \
        tempfile.TemporaryDirectory(prefix="cdp-load-")
    with work as work_dir:
        return _finish_in(Path(work_dir), files_, issues, rows, additional, current,
                          dry_run=dry_run, publish=publish, data_dir=data_dir, user=user,
                          action=action, identity=identity)


def _finish_in(work_dir: Path, files_, issues, rows, additional, current, *, dry_run,
               publish, data_dir, user, action, identity=None) -> LoadReport:
    base = _real_base(current)
    base_path = base.path / "values.parquet" if base is not None else None
    counts = {}
    if isinstance(rows, store.Spool):
        # A large load: its rows stay on disk; DuckDB compares them with the published file.
        new = rows
        con = rows.connect()
        try:
            reissue = store.plan_reissue(con, base_path if rows.rows else None,
                                         work_dir / "replaced.parquet",
                                         work_dir / "replaced_rows.parquet")
            changes, counts["changes"] = checks.compare_sql(
                con, base_path if rows.rows else None, _AnyLabel(issues), additional,
                store.REPLACED_ROWS if reissue.count else None)
        finally:
            con.close()
        preview = rows.head(PREVIEW_ROWS)
        counts["values"] = rows.rows
    else:
        if rows is not None:
            new = rows
        else:
            new = typed_rows(_empty_like())
            new["_file"], new["_row"] = pd.Series(dtype=object), pd.Series(dtype=object)
        base_values = _base_values(base, new)
        changes = checks.compare_with_published(new, base_values, issues, additional)
        reissue = _plan_reissue(new, base_path, work_dir)
        preview = new.drop(columns=["_file", "_row"], errors="ignore")
    _report_reissue(reissue, files_, issues)
    _report_base(current, issues)
    all_issues = [i for bag in issues.values() for i in bag.finish()]
    order = {ERROR: 0, "warning": 1, NOTE: 2}
    all_issues.sort(key=lambda i: order.get(i.level, 3))
    indicators = pd.DataFrame([{"indicator_id": k, **v} for k, v in additional.items()],
                              columns=INDICATOR_COLUMNS)
    result = LoadReport(files_, all_issues, preview, indicators,
                        current.id if current else None,
                        bool(current and current.is_demo), changes, reissue.keys,
                        values_count=counts.get("values"),
                        changes_count=counts.get("changes"),
                        superseded_count=reissue.count,
                        replaces=reissue.lines(), replaced=reissue.summary)
    errors = result.errors
    if errors:
        result.message = (f"refused: {plural(len(errors), 'error')}; nothing was published "
                          f"(the published data is unchanged)")
        return result
    if dry_run or not publish:
        result.message = "checked (dry run): nothing was published"
        return result
    version = _publish(data_dir, base, new, indicators, reissue, files_, result, user,
                       action, work_dir, identity)
    result.version, result.published = version.id, True
    replaced = " (replacing the demonstration data)" if current is not None and \
        current.is_demo else ""
    result.message = (f"published {version.id}: {plural(result.rows_to_publish, 'row')} from "
                      f"{plural(len(files_), 'file')}{replaced}; "
                      f"{_rows(result.keys_superseded, 'earlier row')} replaced (the same "
                      "indicator, area, period and breakdown); no other row changed")
    return result


def _rows(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _plan_reissue(new: pd.DataFrame, base_path: Path | None, work_dir: Path) -> store.Reissue:
    """store.plan_reissue for rows held in memory (a load read whole)."""
    if base_path is None or new.empty:
        return store.plan_reissue(None, None, work_dir / "replaced.parquet")
    con = store.scratch_connection(work_dir)
    try:
        keys = new[list(store.REISSUE_KEY) + ["period_end"]] \
            .assign(_seq=np.arange(len(new), dtype=np.int64))
        con.register("new_frame", pa.Table.from_pandas(keys, preserve_index=False))
        con.execute("CREATE TEMP VIEW new_rows AS SELECT * FROM new_frame")
        return store.plan_reissue(con, base_path, work_dir / "replaced.parquet",
                                  work_dir / "replaced_rows.parquet")
    finally:
        con.close()


def _report_base(current: store.Version | None, issues: dict[str, Issues]) -> None:
    """Say when the version this load compares with and builds on is not simply the one
    published/CURRENT names (a damaged version skipped, a pointer recovered), or could
    not be checked (published before checksums were recorded)."""
    if current is None:
        return
    bag = issues.setdefault(PUBLISHED_LABEL, Issues(PUBLISHED_LABEL))
    if current.notice:
        bag.add(WARNING, f"{current.notice} This load builds on {current.id}.")
    if not current.has_checksums and not current.is_demo:
        bag.add(NOTE, f"{current.id}, which this load builds on, was published before "
                      "checksums were recorded: its files could not be verified (the new "
                      "version's are recorded)")
    if not bag.items:
        del issues[PUBLISHED_LABEL]


def _report_reissue(reissue: store.Reissue, files_: list[FileReport],
                    issues: dict[str, Issues]) -> None:
    """What the load replaces, as notes on the file that holds each indicator; a
    breakdown re-issued without some of its published categories, as a warning."""
    def bag(indicator_id: str) -> Issues:
        for report in files_:
            if indicator_id in report.indicators:
                return issues.setdefault(report.name, Issues(report.name))
        return issues.setdefault(PUBLISHED_LABEL, Issues(PUBLISHED_LABEL))

    for summary, line in zip(reissue.summary, reissue.lines()):
        bag(summary["indicator_id"]).add(NOTE, line[0].upper() + line[1:] + " (the "
                                         "replaced rows stay in the earlier versions)")
    for gap in reissue.partial:
        shown = ", ".join(f"'{c}'" for c in gap["categories"])
        more = gap["rows"] - len(gap["categories"])
        bag(gap["indicator_id"]).add(
            WARNING, f"re-issues the {gap['breakdown']} breakdown of {gap['indicator_id']} "
                     f"without {_rows(gap['rows'], 'published row')} of it ({shown}"
                     f"{' ...' if more > 0 else ''}) in "
                     f"{_rows(gap['area_periods'], 'area and period')}: those rows are "
                     "kept as published; if the breakdown's categories changed, check "
                     "the file holds the whole breakdown")


def _empty_like() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in store.VALUES_COLUMNS})
    frame["_file"] = pd.Series(dtype=object)
    frame["_row"] = pd.Series(dtype=object)
    return frame


def _base_values(base: store.Version | None, new: pd.DataFrame) -> pd.DataFrame | None:
    """The published rows of the indicators this load holds: all the comparison needs
    (a load of one metric does not read a whole national version into memory)."""
    if base is None:
        return None
    values = store.read_values(base, sorted(new["indicator_id"].dropna().unique().tolist()))
    if values is None:
        return None
    return values.astype(store.VALUES_COLUMNS)


def _publish(data_dir, base, new, indicators, reissue: store.Reissue, files_, result, user,
             action, work_dir: Path, identity: dict | None = None) -> store.Version:
    if isinstance(new, store.Spool):
        new_values, new_rows, spill = new.parts, new.rows, new.dir
    else:
        new_values, new_rows, spill = new.drop(columns=["_file", "_row"]), len(new), None
    base_rows = store.table_rows(base, "values") if base is not None else None
    files, tables = {}, {}
    # Every replaced key, in a file already (only the first ones are in memory).
    if reissue.path is not None:
        files["superseded"] = reissue.path
    else:
        tables["superseded"] = reissue.keys.astype("string")
    base_indicators = store.read_table(base, "indicators") if base is not None else None
    merged = pd.concat([x for x in (base_indicators, indicators) if x is not None and len(x)],
                       ignore_index=True) if (base_indicators is not None and
                                              len(base_indicators)) or len(indicators) else None
    if merged is not None:
        merged = merged.drop_duplicates("indicator_id", keep="last")
        merged["fingertips_id"] = pd.to_numeric(merged["fingertips_id"], errors="coerce")
        # reindex: versions published before the outcome column have none.
        tables["indicators"] = merged.reindex(columns=INDICATOR_COLUMNS).reset_index(drop=True)
    if base is not None:
        lsoa = store.read_table(base, "lsoa_need")
        if lsoa is not None:
            tables["lsoa_need"] = lsoa
    loaded_at = _now()
    sources = dict(base.manifest.get("indicator_sources", {})) if base is not None else {}
    by_indicator = {}
    for report in files_:
        for ind in report.indicators:
            by_indicator.setdefault(ind, []).append(report)

    def manifest(version_id: str, values_rows: int) -> dict:
        for ind, reports in by_indicator.items():
            sources[ind] = {"files": [r.name for r in reports],
                            "sha256": [r.sha256 for r in reports],
                            "loaded_at": loaded_at, "version": version_id}
        return {
            "demo": False,
            "action": action,
            "source": "Loaded extracts",
            "loaded_by": user,
            **({"identity": identity} if identity else {}),
            "loaded_at": loaded_at,
            "base_version": base.id if base is not None else None,
            "replaced_demo": base is None and result.base_version is not None,
            "files": [r.as_manifest() for r in files_],
            "rows_added": int(new_rows),
            "rows_superseded": int(base_rows + new_rows - values_rows)
            if base_rows is not None else 0,
            "superseded_keys": int(reissue.count),
            "superseded": reissue.periods,
            "replaces": reissue.summary,
            "indicator_sources": sources,
            "warnings": [str(i) for i in result.warnings[:50]],
        }

    return store.publish_merged(data_dir, base, new_values, tables, manifest,
                                spill or work_dir, files, replaces=reissue.count > 0,
                                replaced_rows=reissue.rows_path)
