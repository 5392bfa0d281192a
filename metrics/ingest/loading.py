"""Validate a set of files and publish them as one new version, or refuse them all.

`load()` is the one entry point the command line, the drop folder and the Data page use:

1. read and check every file (no lock needed: nothing is written);
2. take the publish lock; compare with the current version (warnings; a real version is
   the base, a demonstration version is not: real data never mixes with invented data);
3. if any file has an error, publish nothing; otherwise write a new version that is the
   base minus the (indicator, area, period) keys this load re-issues, plus the new rows,
   and make it current atomically (metrics.store).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from metrics import store
from metrics.ingest import areas as areas_mod
from metrics.ingest import checks, layouts, readers
from metrics.ingest.model import ERROR, NOTE, FileReport, Issue, Issues, LoadReport
from metrics.ingest.validate import Catalogue, table_to_rows
from metrics.settings import load_settings

INDICATOR_COLUMNS = ["indicator_id", "title", "unit", "source", "fingertips_id", "outcome"]
SUPPORTED = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods", ".parquet")


@dataclass
class Source:
    name: str
    data: bytes | None
    problem: str = ""          # why it could not be read from disk


def sources_from_paths(paths) -> list[Source]:
    out = []
    for path in paths:
        path = Path(path)
        try:
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
    """Read and check every file. Returns (report, issues by label, rows)."""
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
    for source in sources:
        file_issues = issues.setdefault(source.name, Issues(source.name))
        data = source.data or b""
        report = FileReport(source.name, hashlib.sha256(data).hexdigest(), len(data))
        files.append(report)
        if source.data is None:
            file_issues.add(ERROR, source.problem or "cannot be read")
            continue
        read = readers.read_bytes(data, source.name, file_issues)
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
                frames.append(result.rows)
                mine.append(result.rows)
        report.format = ", ".join(sorted(set(formats))) or read.kind
        if mine:
            both = pd.concat(mine, ignore_index=True)
            report.rows_loaded = len(both)
            report.indicators = sorted(both["indicator_id"].unique().tolist())
            ordered = both.drop_duplicates("period").sort_values("period_end")
            report.periods = ordered["period"].tolist()
        elif read.tables and not _has_errors(issues, source.name):
            file_issues.add(ERROR, "the file is empty: no data rows under the header")
    rows = None
    if frames:
        raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        rows = _typed(raw)
        rows["_file"], rows["_row"] = raw["_file"].to_numpy(), raw["_row"].to_numpy()
        checks.duplicates(rows, _issues_for(issues, rows))
    return files, issues, rows, additional, known


def _has_errors(issues: dict[str, Issues], name: str) -> bool:
    return any(i.level == ERROR for label, bag in issues.items()
               if label == name or label.startswith(name + " [") for i in bag.items)


def _issues_for(issues: dict[str, Issues], rows: pd.DataFrame) -> dict[str, Issues]:
    for label in rows["_file"].unique():
        issues.setdefault(label, Issues(label))
    return issues


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


def _typed(rows: pd.DataFrame) -> pd.DataFrame:
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
        else:
            out[col] = pd.to_numeric(series, errors="coerce").astype("float64")
    return pd.DataFrame(out, index=rows.index)


# --- the load itself ------------------------------------------------------------------------

def load(files, data_dir=None, *, dry_run: bool = False, user: str | None = None,
         expect_base: str | None = None, area_lookup: Path | None = None,
         action: str = "load", options: layouts.LoadOptions | None = None) -> LoadReport:
    """Check `files` (paths, or `Source`s) and, unless dry_run or any error, publish."""
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

    current = _current(data_dir)
    if options is not None and options.problems(_known(_real_base(current)).additional):
        return LoadReport([], [Issue(ERROR, "(options)", p) for p in
                               options.problems(_known(_real_base(current)).additional)],
                          pd.DataFrame(), pd.DataFrame(),
                          message="refused: the options given are not usable; nothing was "
                                  "published")
    files_, issues, rows, additional, known = check_files(sources, data_dir, current,
                                                          area_lookup, options)
    if dry_run or any(i.level == ERROR for bag in issues.values() for i in bag.items):
        return _finish(files_, issues, rows, additional, current, None, dry_run=dry_run)

    with store.publish_lock(data_dir):
        store.remove_interrupted(data_dir)
        latest = _current(data_dir)
        if expect_base is not None and (latest.id if latest else None) != expect_base:
            report = _finish(files_, issues, rows, additional, latest, None, dry_run=True)
            report.message = (f"not published: the published data changed (now "
                              f"{latest.id if latest else 'nothing'}) since these files "
                              "were checked; check them again")
            return report
        if latest is not None and current is not None and latest.id != current.id:
            # Someone published while we were checking: check again against the new base.
            files_, issues, rows, additional, known = check_files(sources, data_dir, latest,
                                                                  area_lookup, options)
            if any(i.level == ERROR for bag in issues.values() for i in bag.items):
                return _finish(files_, issues, rows, additional, latest, None)
        return _finish(files_, issues, rows, additional, latest, None, publish=True,
                       data_dir=data_dir, user=user or default_user(), known=known,
                       action=action)


def _current(data_dir: Path) -> store.Version | None:
    try:
        return store.current_version(data_dir)
    except store.NoPublishedData:
        return None


def _finish(files_, issues, rows, additional, current, _unused, *, dry_run=False,
            publish=False, data_dir=None, user=None, known=None, action="load") -> LoadReport:
    base = _real_base(current)
    base_values = _base_values(base)
    if rows is not None:
        new = rows
    else:
        new = _typed(_empty_like())
        new["_file"], new["_row"] = pd.Series(dtype=object), pd.Series(dtype=object)
    changes, superseded = checks.compare_with_published(new, base_values, issues, additional)
    all_issues = [i for bag in issues.values() for i in bag.finish()]
    order = {ERROR: 0, "warning": 1, NOTE: 2}
    all_issues.sort(key=lambda i: order.get(i.level, 3))
    indicators = pd.DataFrame([{"indicator_id": k, **v} for k, v in additional.items()],
                              columns=INDICATOR_COLUMNS)
    result = LoadReport(files_, all_issues, new.drop(columns=["_file", "_row"],
                                                     errors="ignore"),
                        indicators, current.id if current else None,
                        bool(current and current.is_demo), changes, superseded)
    errors = result.errors
    if errors:
        result.message = (f"refused: {len(errors)} error(s); nothing was published "
                          f"(the published data is unchanged)")
        return result
    if dry_run or not publish:
        result.message = "checked (dry run): nothing was published"
        return result
    version = _publish(data_dir, base, base_values, new, indicators, superseded, files_,
                       result, user, action)
    result.version, result.published = version.id, True
    replaced = " (replacing the demonstration data)" if current is not None and \
        current.is_demo else ""
    result.message = (f"published {version.id}: {len(new):,} rows from {len(files_)} "
                      f"file(s){replaced}; {len(superseded):,} earlier (indicator, area, "
                      "period) keys superseded")
    return result


def _empty_like() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in store.VALUES_COLUMNS})
    frame["_file"] = pd.Series(dtype=object)
    frame["_row"] = pd.Series(dtype=object)
    return frame


def _base_values(base: store.Version | None) -> pd.DataFrame | None:
    if base is None:
        return None
    values = store.read_table(base, "values")
    if values is None:
        return None
    return values.astype(store.VALUES_COLUMNS)


def _publish(data_dir, base, base_values, new, indicators, superseded, files_, result,
             user, action) -> store.Version:
    new_values = new.drop(columns=["_file", "_row"])
    if base_values is not None and len(base_values):
        new_keys, base_keys = checks.int_keys([new_values, base_values], checks.KEY3)
        kept = base_values[~np.isin(base_keys, new_keys)]
        values = pd.concat([kept, new_values], ignore_index=True)
    else:
        values = new_values.reset_index(drop=True)
    tables = {"values": values, "superseded": superseded.astype("string")}
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
    superseded_summary = {}
    if len(superseded):
        for ind, group in superseded.groupby("indicator_id"):
            superseded_summary[ind] = sorted(group["period"].unique().tolist())

    def manifest(version_id: str) -> dict:
        for ind, reports in by_indicator.items():
            sources[ind] = {"files": [r.name for r in reports],
                            "sha256": [r.sha256 for r in reports],
                            "loaded_at": loaded_at, "version": version_id}
        return {
            "demo": False,
            "action": action,
            "source": "Loaded extracts",
            "loaded_by": user,
            "loaded_at": loaded_at,
            "base_version": base.id if base is not None else None,
            "replaced_demo": base is None and result.base_version is not None,
            "files": [r.as_manifest() for r in files_],
            "rows_added": int(len(new_values)),
            "rows_superseded": int(len(base_values) + len(new_values) - len(values))
            if base_values is not None else 0,
            "superseded_keys": int(len(superseded)),
            "superseded": superseded_summary,
            "indicator_sources": sources,
            "warnings": [str(i) for i in result.warnings[:50]],
        }

    return store.publish(data_dir, tables, manifest)
