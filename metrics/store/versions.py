"""Published versions: the pointer to the current one, each version's manifest and
SHA-256 checks, the publish lock, atomic publishing, the log, and clean-up of
interrupted loads.
"""

from __future__ import annotations

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

import pandas as pd

from metrics.settings import PROJECT_ROOT

# The names other modules use (re-exported by the package).
__all__ = [
    "SPOOL_DIR",
    "DamagedVersion", "NoPublishedData", "REFERENCE_DIR", "STALE_AFTER_SECONDS", "TABLES",
    "ADDED_VALUES_COLUMNS", "VALUES_COLUMNS", "Version", "with_added_columns", "checksums", "current_version", "current_version_id",
    "get_version", "list_versions", "pointer_problem", "publish_copy", "publish_lock",
    "publish_log", "remove_interrupted", "repair_current", "verify", "version_id_of",
    "version_number",
]


REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
TABLES = ("values", "lsoa_need", "indicators", "superseded", "annotations")

# The long format every source is converted to (documented in README.md).
VALUES_COLUMNS = {
    "indicator_id": "string",
    "area_code": "string",
    "period": "string",          # display label, e.g. "2024/25 Q1"
    "period_kind": "string",     # metrics.reference.periods kind
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
    # True where the interval is an approximation passed off as nothing else: a directly
    # standardised rate loaded without limits or age bands (variance DSR^2 / count).
    # Null where unknown: versions published before the column existed lack it, and the
    # readers (metrics.store.reading) add it as null, so they still read.
    "ci_approximate": "boolean",
}
# Columns later versions added: a version written before them is read with them null.
ADDED_VALUES_COLUMNS = {"ci_approximate": "BOOLEAN"}


def with_added_columns(values: pd.DataFrame) -> pd.DataFrame:
    """A values frame read from a file, with the columns added since it was written as
    nulls of their type."""
    missing = [c for c in ADDED_VALUES_COLUMNS if c not in values]
    if not missing:
        return values
    return values.assign(**{c: pd.Series(pd.NA, index=values.index, dtype=VALUES_COLUMNS[c])
                            for c in missing})


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
