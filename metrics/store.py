"""The only module that opens Parquet or writes SQL.

Published data lives in versioned folders so a load can never leave a half-written state
visible and any earlier version can be restored:

    <data_dir>/published/versions/v0001/values.parquet     one row per indicator x area x period
                                        lsoa_need.parquet  small-area need (maps)
                                        indicators.parquet additional metrics (loaded extracts)
                                        superseded.parquet published rows this load replaced
                                        manifest.json      who, when, what, row counts, and
                                                           each file's SHA-256 ("checksums")
    <data_dir>/published/versions/v10000/...               ids grow past v9999 (sorted by number)
    <data_dir>/published/CURRENT                           the version being shown
    <data_dir>/published/log.jsonl                         one line per version made current
    <data_dir>/.publish.lock                               serialises publishers (fcntl)

Publishing writes a new version folder aside, then replaces CURRENT atomically
(`os.replace`), so readers see the old version or the new one, never a mixture. A version
is an immutable full snapshot: a later load or a rollback is a new version, so nothing
published is ever deleted. Publishers hold `publish_lock` while they read the current
version and publish the next one (metrics.ingest and metrics.demo do). A load replaces
only the published rows it re-issues, key by key (REISSUE_KEY).

Nothing damaged is shown or built on: opening a version checks its files against the
SHA-256 recorded at publishing (once per process); a damaged current version is refused
and the last good one shown, with a notice. A missing CURRENT is recovered from the
publish log (repair_current), never replaced by demonstration data.

Reading: DuckDB connections are not thread-safe and Streamlit runs each session in its own
thread, so one shared in-memory connection per published version holds the views and
every query runs on its own `.cursor()`. Parameters are always bound, never formatted in.
Callers cache results keyed on `current_version()`, so a new version shows without a
restart.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from metrics.settings import PROJECT_ROOT

REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
TABLES = ("values", "lsoa_need", "indicators", "superseded")

# The long format every source is converted to (documented in README.md).
VALUES_COLUMNS = {
    "indicator_id": "string",
    "area_code": "string",
    "period": "string",          # display label, e.g. "2024/25 Q1"
    "period_kind": "string",     # metrics.periods kind
    "period_start": "date32[pyarrow]",
    "period_end": "date32[pyarrow]",
    "breakdown": "string",       # null for the area total; e.g. "substance", "prison"
    "category": "string",        # e.g. "Opiate"; null for the area total
    "numerator": "float64",
    "denominator": "float64",
    "value": "float64",
    "lower95": "float64",
    "upper95": "float64",
    "lower998": "float64",
    "upper998": "float64",
    "value_note": "string",
}


class NoPublishedData(RuntimeError):
    """Nothing has been published in the data directory yet."""


class DamagedVersion(RuntimeError):
    """A published version whose files are not the ones it was published with (or whose
    manifest cannot be read): it is never read, and never built on."""

    def __init__(self, version_id: str, problem: str):
        super().__init__(f"version {version_id} is damaged: {problem}")
        self.version_id, self.problem = version_id, problem


@dataclass(frozen=True)
class Version:
    id: str
    path: Path
    manifest: dict
    # Why this version is shown though it is not the one published/CURRENT names
    # cleanly (the pointer was missing; the current version is damaged): pages show it.
    notice: str = field(default="", compare=False)

    @property
    def is_demo(self) -> bool:
        return bool(self.manifest.get("demo"))

    @property
    def has_checksums(self) -> bool:
        """Published with a SHA-256 per file (versions published before the integrity
        check have none: they open, unverified)."""
        return isinstance(self.manifest.get("checksums"), dict)


def _published(data_dir: Path) -> Path:
    return Path(data_dir) / "published"


# Version ids are "v" and a number, at least four digits: v0001 ... v9999, v10000 ...
# Always compare and sort them by the number (version_number), never as text.
_VERSION_ID = re.compile(r"v(\d{4,})")


def version_number(version_id: str) -> int | None:
    """The number of a version id ("v0042" -> 42; "v10000" -> 10000), None if not one."""
    m = _VERSION_ID.fullmatch(str(version_id))
    return int(m.group(1)) if m else None


def version_id_of(number: int) -> str:
    return f"v{int(number):04d}"


def _complete(data_dir: Path, version_id: str) -> bool:
    """A version folder that was renamed into place (it has its manifest)."""
    return version_number(version_id) is not None and \
        (_published(data_dir) / "versions" / version_id / "manifest.json").is_file()


def _pointer(data_dir: Path) -> str | None:
    try:
        return (_published(data_dir) / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return None


def _recovered_id(data_dir: Path) -> tuple[str | None, str]:
    """The version to show when published/CURRENT is missing or names no complete
    version: the last one the publish log made current that is still complete, else
    (no log) the highest complete version. Returns (id or None, how it was chosen)."""
    for entry in reversed(publish_log(data_dir)):
        version_id = str(entry.get("version", ""))
        if _complete(data_dir, version_id):
            return version_id, "the last version made current (publish log)"
    complete = [v.id for v in list_versions(data_dir)]
    if complete:
        return complete[-1], "the latest complete version (no publish log)"
    return None, ""


def pointer_problem(data_dir: Path) -> str | None:
    """What is wrong with published/CURRENT when versions exist, or None."""
    pointer = _pointer(data_dir)
    if pointer is not None and _complete(data_dir, pointer):
        return None
    if not (_published(data_dir) / "versions").is_dir():
        return None
    if pointer is None:
        problem = "published/CURRENT is missing"
    else:
        problem = f"published/CURRENT names {pointer[:40]!r}, which is not a complete version"
    return problem if _recovered_id(data_dir)[0] is not None else None


def current_version_id(data_dir: Path) -> str | None:
    """The id of the version being shown, or None. Cheap: one small file read and a stat.
    When published/CURRENT is missing or names no complete version, the version it should
    name (see _recovered_id; repair_current writes it back)."""
    pointer = _pointer(data_dir)
    if pointer is not None and _complete(data_dir, pointer):
        return pointer
    return _recovered_id(data_dir)[0]


def current_version(data_dir: Path) -> Version:
    """The version to show, its files checked against their SHA-256 (once per process).
    A damaged current version is refused and the last good one returned instead, with
    a notice saying so; DamagedVersion when no good version is left to show."""
    pointer = _pointer(data_dir)
    notice = ""
    if pointer is not None and _complete(data_dir, pointer):
        version_id = pointer
    else:
        version_id, how = _recovered_id(data_dir)
        if version_id is None:
            raise NoPublishedData(f"no published data in {data_dir}")
        notice = (f"{pointer_problem(data_dir) or 'published/CURRENT is missing'}: showing "
                  f"{version_id}, {how}.")
    try:
        return replace(get_version(data_dir, version_id), notice=notice)
    except DamagedVersion as damaged:   # verify() has logged it
        good = _last_good(data_dir, damaged.version_id)
        if good is None:
            raise DamagedVersion(damaged.version_id, damaged.problem +
                                 "; no earlier good version is left to show") from None
        return replace(good, notice=(
            f"Version {damaged.version_id} is damaged and is not shown ({damaged.problem}). "
            f"Showing {good.id}, the last good version; load the files of "
            f"{damaged.version_id} again to restore what it added."))


def get_version(data_dir: Path, version_id: str) -> Version:
    """One version, its files checked against the SHA-256 recorded when it was published
    (once per process and version: see verify). DamagedVersion if they do not match."""
    if version_number(version_id) is None:
        raise ValueError(f"{str(version_id)[:40]!r} is not a version id (such as v0003)")
    path = _published(data_dir) / "versions" / version_id
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:   # JSONDecodeError and UnicodeDecodeError too
        raise DamagedVersion(version_id, f"manifest.json cannot be read ({exc})") from None
    version = Version(version_id, path, manifest)
    problem = verify(version)
    if problem is not None:
        raise DamagedVersion(version_id, problem)
    return version


def _last_good(data_dir: Path, damaged_id: str) -> Version | None:
    """The version to show instead of a damaged one: the latest one made current before
    it (publish log, newest first), then any other complete version, newest first, whose
    files check out. Real data falls back only to real data: a partnership's figures are
    never silently swapped for invented ones."""
    try:
        real = not json.loads((_published(data_dir) / "versions" / damaged_id /
                               "manifest.json").read_text(encoding="utf-8")).get("demo")
    except (OSError, ValueError, AttributeError):
        real = True
    order = list(dict.fromkeys(str(e.get("version", "")) for e in reversed(publish_log(data_dir))))
    order += [v.id for v in reversed(list_versions(data_dir))]
    for version_id in dict.fromkeys(order):
        if version_id == damaged_id or not _complete(data_dir, version_id):
            continue
        try:
            version = get_version(data_dir, version_id)
        except (DamagedVersion, FileNotFoundError):
            continue
        if real and version.is_demo:
            continue
        return version
    return None


def list_versions(data_dir: Path) -> list[Version]:
    """Every complete version, oldest first (by number: v9999 before v10000). A manifest
    that cannot be read is listed as {"damaged": why}; files are not checked here."""
    root = _published(data_dir) / "versions"
    if not root.exists():
        return []
    versions = []
    for path in root.iterdir():
        if version_number(path.name) is None:  # a staging folder (".v0003....partial")
            continue
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():  # a folder without a manifest is an interrupted write
            continue
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            manifest = {"damaged": f"manifest.json cannot be read ({exc})"}
        versions.append(Version(path.name, path, manifest))
    return sorted(versions, key=lambda v: version_number(v.id))


# --- Integrity: a SHA-256 per file, recorded at publishing, checked on opening -----------
#
# Each version's manifest records {"checksums": {file: {"sha256", "bytes"}}} for every
# file written beside it. Opening a version (get_version, current_version) checks them once
# per process: the result is cached against each file's size and modification time, so a
# file replaced or rewritten since is checked again, and pages pay a few stat calls per
# run, not a hash. Versions published before this have no checksums: they open unverified.

_verified: dict[tuple, str | None] = {}
_verify_lock = threading.Lock()
_log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def checksums(folder: Path) -> dict[str, dict]:
    """{file: {"sha256", "bytes"}} for every file in a version folder but its manifest."""
    return {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"}


def verify(version: Version) -> str | None:
    """Why `version`'s files are not those it was published with, or None when they are
    (or when it was published without checksums: see Version.has_checksums)."""
    recorded = version.manifest.get("checksums")
    if "damaged" in version.manifest:
        return str(version.manifest["damaged"])
    if recorded is None:
        return None
    if not isinstance(recorded, dict):
        return "manifest.json: its checksums cannot be read"
    names = set(recorded) | {f"{t}.parquet" for t in TABLES
                             if (version.path / f"{t}.parquet").exists()}
    signature = []
    for name in sorted(names):
        try:
            st = (version.path / name).stat()
            signature.append((name, st.st_size, st.st_mtime_ns, st.st_ino))
        except OSError:
            signature.append((name, None, None, None))
    key = (str(version.path), version.id, tuple(signature))
    with _verify_lock:
        if key in _verified:
            return _verified[key]
        problem = _check(version, recorded, names)
        _verified[key] = problem
    if problem is not None:
        _log.warning("version %s is damaged: %s", version.id, problem)
    return problem


def _check(version: Version, recorded: dict, names: set[str]) -> str | None:
    for name in sorted(names):
        path = version.path / name
        meta = recorded.get(name)
        if meta is None:
            return f"{name} is not one of the files it was published with"
        expected = str(meta.get("sha256", "")) if isinstance(meta, dict) else ""
        try:
            found = _sha256(path)
        except FileNotFoundError:
            return f"{name} is missing (expected sha256 {expected})"
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror or exc})"
        if found != expected:
            return f"{name} does not match its checksum (expected sha256 {expected}, found {found})"
    return None


# Test hook: CDP_PUBLISH_PAUSE_AT=<point> makes publish() write the file
# CDP_PUBLISH_PAUSE_FILE (if set) and sleep at that point, so a test can kill the process
# there. Points: "staged" (version folder written aside, not yet renamed) and "renamed"
# (version folder in place, CURRENT not yet replaced).
PAUSE_ENV, PAUSE_FILE_ENV = "CDP_PUBLISH_PAUSE_AT", "CDP_PUBLISH_PAUSE_FILE"


def _pause_for_tests(point: str) -> None:
    if os.environ.get(PAUSE_ENV) != point:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(point, encoding="utf-8")
    time.sleep(float(os.environ.get("CDP_PUBLISH_PAUSE_SECONDS", "60")))


@contextlib.contextmanager
def publish_lock(data_dir: Path, wait: bool = True):
    """Hold the data directory's publish lock (an fcntl lock on <data_dir>/.publish.lock,
    the same file metrics.demo.ensure_published uses). The lock dies with its process, so
    a killed load never leaves it held. Not re-entrant: do not nest it. Yields True once
    held; with wait=False, yields False at once (holding nothing) when another process
    holds it."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(data_dir) / ".publish.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _next_version_id(versions_dir: Path) -> str:
    """One more than the highest version number (v9999 is followed by v10000)."""
    numbers = [version_number(p.name) for p in versions_dir.iterdir()]
    return version_id_of(max((n for n in numbers if n is not None), default=0) + 1)


# Staging folders and pointer files carry their writer's host and process id
# (".v0005.<host>.<pid>.<random>.partial"), so a clean-up removes only those whose writer
# is gone: never one a live process is writing (see remove_interrupted).
_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
# A leftover whose writer cannot be asked (another host, or named before writers were
# recorded) is removed only once it is this old: no publish takes anything like it.
STALE_AFTER_SECONDS = 24 * 3600


def _owner_tag() -> str:
    return f"{_HOST}.{os.getpid()}"


def _owner(name: str) -> tuple[str, int] | None:
    """(host, pid) from a name made with _owner_tag, None for a name without one."""
    parts = name.split(".")
    for host, pid in zip(parts, parts[1:]):
        if len(host) == 8 and all(c in "0123456789abcdef" for c in host) and pid.isdigit():
            return host, int(pid)
    return None


def _writer_gone(name: str, path: Path) -> bool:
    """Whether the process that named `name` (see _owner_tag) is certainly not running:
    on this host, asked directly; elsewhere, or unknown, judged by the leftover's age."""
    owner = _owner(name)
    if owner is not None and owner[0] == _HOST:
        return not _pid_alive(owner[1])
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_SECONDS


def _write_pointer(root: Path, version_id: str) -> None:
    """Make `version_id` current: write CURRENT aside, fsync, then replace it atomically."""
    pointer_tmp = root / f"CURRENT.{_owner_tag()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(pointer_tmp, "w", encoding="utf-8") as handle:
            handle.write(version_id)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, root / "CURRENT")
    finally:
        pointer_tmp.unlink(missing_ok=True)
    _fsync_dir(root)


def _append_log(root: Path, entry: dict) -> None:
    with open(root / "log.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def _publish(data_dir: Path, write: Callable[[Path], dict[str, int]],
             manifest: dict | Callable[[str], dict]) -> Version:
    root = _published(data_dir)
    versions_dir = root / "versions"
    versions_dir.mkdir(parents=True, exist_ok=True)
    version_id = _next_version_id(versions_dir)
    # A unique staging name: a folder left by a killed publisher never blocks the next.
    staging = versions_dir / f".{version_id}.{_owner_tag()}.{uuid.uuid4().hex[:8]}.partial"
    staging.mkdir()
    try:
        row_counts = write(staging)
        body = manifest(version_id) if callable(manifest) else manifest
        # Each file's SHA-256, read back from the staged files (in the page cache): what
        # opening the version checks them against. Then everything is flushed to disk.
        sums = checksums(staging)
        full_manifest = {
            **body,
            "version": version_id,
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "rows": row_counts,
            "checksums": sums,
        }
        (staging / "manifest.json").write_text(
            json.dumps(full_manifest, indent=2, default=str), "utf-8")
        for path in staging.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        _pause_for_tests("staged")
        final = versions_dir / version_id
        os.replace(staging, final)
    except BaseException:
        # A failed write (a full disk, a bug, Ctrl-C) leaves nothing behind to hold space.
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(versions_dir)
    _pause_for_tests("renamed")
    _write_pointer(root, version_id)
    _append_log(root, {"version": version_id, "at": full_manifest["published_at"],
                       "action": body.get("action", "publish")})
    return Version(version_id, final, full_manifest)


def repair_current(data_dir: Path) -> str | None:
    """When published/CURRENT is missing or names no complete version while versions
    exist, write it back (the version current_version_id recovers) and record that in the
    publish log. Returns what was done, for the caller's report, or None. Call under
    publish_lock."""
    problem = pointer_problem(data_dir)
    if problem is None:
        return None
    version_id, how = _recovered_id(data_dir)
    root = _published(data_dir)
    _write_pointer(root, version_id)
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    _append_log(root, {"version": version_id, "at": at, "action": "recovered",
                       "reason": problem})
    message = f"{problem}: restored it to {version_id}, {how}"
    _log.warning("%s", message)
    return message


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
SCRATCH_MEMORY = "256MB"


def values_schema() -> pa.Schema:
    """The Arrow schema of a published values table (with pandas' metadata, as
    DataFrame.to_parquet writes it)."""
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in VALUES_COLUMNS.items()})
    return pa.Schema.from_pandas(empty, preserve_index=False)


def _write_values_frame(frame: pd.DataFrame, path: Path) -> None:
    """A values DataFrame (any row order) as a sorted file with small row groups."""
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


def _sql_path(path: Path) -> str:
    # DDL cannot take bound parameters; every path here is ours, not user input.
    return "'" + str(path).replace("'", "''") + "'"


def _values_columns_sql(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{c}"' for c in VALUES_COLUMNS)


def write_sorted_values(con: duckdb.DuckDBPyConnection, select_sql: str, path: Path) -> int:
    """Write the rows of `select_sql` (VALUES_COLUMNS) to `path` in the published order and
    schema, one row group at a time; DuckDB sorts within its memory limit, spilling to
    disk, so neither the old nor the new version is held in pandas. Returns the rows."""
    schema = values_schema()
    casts = ", ".join(f'CAST("{c}" AS {_DUCK_TYPES[t]}) AS "{c}"'
                      for c, t in VALUES_COLUMNS.items())
    pandas_meta = schema.metadata[b"pandas"].decode("utf-8").replace("'", "''")
    arrow_meta = base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
    # preserve_insertion_order makes DuckDB write the rows in the ORDER BY order. The
    # Arrow and pandas metadata are those DataFrame.to_parquet writes, so the file reads
    # back with the same Arrow types and pandas dtypes as before.
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"COPY (SELECT {casts} FROM ({select_sql}) ORDER BY {VALUES_ORDER}) "
                f"TO {_sql_path(path)} (FORMAT parquet, COMPRESSION snappy, "
                f"ROW_GROUP_SIZE {int(ROW_GROUP_ROWS)}, KV_METADATA {{'pandas': "
                f"'{pandas_meta}', 'ARROW:schema': '{arrow_meta}'}})")
    return pq.ParquetFile(path).metadata.num_rows


_DUCK_TYPES = {"string": "VARCHAR", "date32[pyarrow]": "DATE", "float64": "DOUBLE"}


def write_keys(con: duckdb.DuckDBPyConnection, select_sql: str, columns: list[str],
               path: Path) -> int:
    """Write string key columns (superseded keys) to `path` straight from DuckDB, with the
    metadata DataFrame.astype("string").to_parquet writes. Returns the rows."""
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    schema = pa.Schema.from_pandas(empty, preserve_index=False)
    pandas_meta = schema.metadata[b"pandas"].decode("utf-8").replace("'", "''")
    arrow_meta = base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
    casts = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in columns)
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"COPY (SELECT {casts} FROM ({select_sql})) TO {_sql_path(path)} "
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
                 keys_path: Path) -> Reissue:
    """What the rows of the view new_rows (on `con`) replace in the published values file
    `base_path`: every replaced key (written to `keys_path`), and per indicator and tier
    (the area total, or one breakdown) the rows replaced, the areas and periods, and the
    published rows of the same areas and periods that stay because the load does not
    re-issue them (rows_kept = totals_kept + breakdown_rows_kept)."""
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
    con.execute(f"""CREATE OR REPLACE TEMP TABLE reissue_base AS
        SELECT {keys}, period_end FROM read_parquet({_sql_path(base_path)}) b
        SEMI JOIN reissue_pairs p USING (indicator_id, period)""")
    if con.execute("SELECT count(*) FROM reissue_base").fetchone()[0] == 0:
        return empty
    # One pass over both sides: every key, and whether the published version, the load,
    # or both hold it. GROUP BY puts missing breakdowns and categories in one group, as
    # REISSUE_KEY's matching does. (Cheaper than joins here: each side is read once.)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE reissue_keys AS
        SELECT {keys}, max(period_end) AS period_end,
               bool_or(NOT from_load) AS published, bool_or(from_load) AS loaded
        FROM (SELECT *, false AS from_load FROM reissue_base
              UNION ALL
              SELECT {keys}, period_end, true FROM new_rows)
        GROUP BY ALL""")
    con.execute("DROP TABLE reissue_base")
    con.execute("""CREATE OR REPLACE TEMP VIEW replaced AS
        SELECT * FROM reissue_keys WHERE published AND loaded""")
    count = con.execute("SELECT count(*) FROM replaced").fetchone()[0]
    if count == 0:
        return empty
    write_keys(con, f"SELECT {keys} FROM replaced", columns, keys_path)
    order = "indicator_id, area_code, period_end, period, breakdown NULLS FIRST, " \
        "category NULLS FIRST"
    first = con.execute(f"""SELECT {keys} FROM replaced ORDER BY {order}
                            LIMIT {REISSUE_KEYS_KEPT}""").df().astype("string")
    # Published rows the load does not re-issue, in an area, period and kind where it
    # re-issues some tier: they stay. Per tier re-issued: how many are totals, breakdown
    # rows, and rows of the same breakdown (a breakdown re-issued without some of its
    # published categories).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE reissue_kept AS
        WITH touched AS (
            SELECT DISTINCT indicator_id, area_code, period, period_kind,
                   coalesce(breakdown, '{TOTAL_TIER}') AS tier
            FROM replaced),
        stay AS (SELECT * FROM reissue_keys WHERE published AND NOT loaded)
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
                     for k, v in rec.items()} for rec in partial.to_dict("records")])


def publish_merged(data_dir: Path, base: Version | None, new_rows: pd.DataFrame | list[Path],
                   tables: dict[str, pd.DataFrame], manifest: Callable[[str, int], dict],
                   spill_dir: Path, files: dict[str, Path] | None = None,
                   replaces: bool = True) -> Version:
    """Publish a load: values are the base version's rows whose key (REISSUE_KEY: the
    indicator, area, period, kind of period, breakdown and category) the load does not
    re-issue, plus the load's rows (`new_rows`: a DataFrame, or Parquet
    parts holding VALUES_COLUMNS and perhaps more), merged and sorted by DuckDB.
    `manifest(version_id, values_rows)`; the other `tables` are written as they are, and
    `files` (table -> a Parquet file already written, by write_keys) copied.
    `replaces=False` (plan_reissue found no published row re-issued): the base's rows are
    kept without matching them against the load's keys."""
    files = files or {}
    tables = {**tables}
    unknown = (set(tables) | set(files)) - set(TABLES)
    if unknown or "values" in tables:
        raise ValueError(f"unexpected tables: {sorted(unknown | ({'values'} & set(tables)))}")
    written: dict[str, int] = {}

    def write(staging: Path) -> dict[str, int]:
        con = scratch_connection(spill_dir)
        try:
            cols = _values_columns_sql()
            if isinstance(new_rows, pd.DataFrame):
                con.register("new_frame", pa.Table.from_pandas(
                    new_rows[list(VALUES_COLUMNS)], preserve_index=False))
                con.execute(f"CREATE TEMP VIEW new_rows AS SELECT {cols} FROM new_frame")
            elif new_rows:
                parts = ", ".join(_sql_path(p) for p in new_rows)
                con.execute(f"CREATE TEMP VIEW new_rows AS SELECT {cols} "
                            f"FROM read_parquet([{parts}])")
            else:
                raise ValueError("no rows to publish")
            base_path = base.path / "values.parquet" if base is not None else None
            if base_path is not None and base_path.exists() and not replaces:
                select = (f"SELECT {_values_columns_sql()} FROM read_parquet("
                          f"{_sql_path(base_path)}) UNION ALL SELECT {cols} FROM new_rows")
            elif base_path is not None and base_path.exists():
                # Only the rows the load re-issues are dropped: a correction of an
                # area total keeps that area's breakdown rows, and a breakdown-only
                # file keeps the total (see REISSUE_KEY).
                keys = ", ".join(REISSUE_KEY)
                select = (f"SELECT {_values_columns_sql('b')} FROM read_parquet("
                          f"{_sql_path(base_path)}) b ANTI JOIN (SELECT DISTINCT {keys} "
                          f"FROM new_rows) k ON {_reissue_join('b', 'k')} "
                          f"UNION ALL SELECT {cols} FROM new_rows")
            else:
                select = f"SELECT {cols} FROM new_rows"
            written["values"] = write_sorted_values(con, select, staging / "values.parquet")
        finally:
            con.close()
        row_counts = {"values": written["values"]}
        for name, frame in tables.items():
            frame.to_parquet(staging / f"{name}.parquet", index=False)
            row_counts[name] = len(frame)
        for name, path in files.items():
            shutil.copyfile(path, staging / f"{name}.parquet")
            row_counts[name] = pq.ParquetFile(path).metadata.num_rows
        return row_counts

    return _publish(data_dir, write, lambda version_id: manifest(version_id,
                                                                 written["values"]))


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
        return pd.read_parquet(path).iloc[0:0]
    return pd.read_parquet(path, filters=[("indicator_id", "in", list(indicator_ids))])


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
            parts = ", ".join(_sql_path(p) for p in self.parts)
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


SPOOL_DIR = ".loading"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish_copy(data_dir: Path, source: Version,
                 manifest: dict | Callable[[str], dict]) -> Version:
    """Publish a new version whose tables are byte-for-byte copies of `source`'s (rollback).
    A damaged source is refused (DamagedVersion): its copy would be recorded as good."""
    problem = verify(source)
    if problem is not None:
        raise DamagedVersion(source.id, problem)

    def write(staging: Path) -> dict[str, int]:
        for table in TABLES:
            path = source.path / f"{table}.parquet"
            if path.exists():
                shutil.copyfile(path, staging / path.name)
        return dict(source.manifest.get("rows", {}))

    return _publish(data_dir, write, manifest)


def publish_log(data_dir: Path) -> list[dict]:
    """The versions made current, in order (empty for data published before the log)."""
    path = _published(data_dir) / "log.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a crash
            continue
    return entries


def remove_interrupted(data_dir: Path, locked: bool = True) -> list[str]:
    """Delete what killed or failed publishers and loads left behind (staging folders,
    pointer files, spool folders), never anything a live process is writing: only
    leftovers whose writer is gone (same host, process not running), or older than
    STALE_AFTER_SECONDS when the writer cannot be asked. `locked`: the caller holds
    publish_lock, so a leftover named before writers were recorded is removed too (only
    a publisher holding the lock made those). Returns the names removed."""
    root = _published(data_dir)
    versions_dir = root / "versions"
    removed = []

    def gone(path: Path) -> bool:
        if _owner(path.name) is None and locked:
            return True
        return _writer_gone(path.name, path)

    if versions_dir.exists():
        for path in versions_dir.iterdir():
            if path.name.startswith(".") and path.name.endswith(".partial") and gone(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    if root.exists():
        for path in root.glob("CURRENT.*.tmp"):
            if gone(path):
                path.unlink(missing_ok=True)
                removed.append(path.name)
    spools = Path(data_dir) / SPOOL_DIR
    if spools.exists():
        # Only folders of loads that are no longer running: another may be checking now.
        for path in spools.iterdir():
            pid = path.name.split("-")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed


def read_table(version: Version, table: str) -> pd.DataFrame | None:
    """One published table as a DataFrame, or None when this version has none."""
    path = version.path / f"{table}.parquet"
    return pd.read_parquet(path) if path.exists() else None


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
                    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{escaped}')")
            areas_csv = str(REFERENCE_DIR / "areas.csv").replace("'", "''")
            con.execute(f"CREATE VIEW areas AS SELECT * FROM read_csv('{areas_csv}', "
                        "header = true, all_varchar = true)")
            _connections[key] = con
        return con


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
               numerator, denominator, value, lower95, upper95, lower998, upper998, value_note
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
               lower998, upper998, value_note
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
