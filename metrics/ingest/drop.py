"""The drop folder: files an analyst places there are loaded together, as one load.

`load_drop_folder()` is called when the app starts and by the Data page's refresh button.
On success the files move to `<drop>/loaded/<version>/`; on refusal to
`<drop>/refused/<UTC time>/` with `report.txt` beside them, so the folder itself only ever
holds files not yet tried. A second process finding the folder busy returns at once.

No file may stop the app: a file that makes its reader crash or exceed its limits is
refused like any other (metrics.ingest.readers.read_guarded); an unexpected failure of the
load refuses the files with the failure in the report; and the files of a load that never
finished (the process died during it: killed, out of memory, restarted) are moved to
refused/ on the next attempt instead of being tried again, so a file that stops the
process stops it once, not on every restart.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from metrics.ingest.loading import SUPPORTED, default_user, load
from metrics.ingest.model import ERROR, Issue, LoadReport
from metrics.reference.formatting import plural
from metrics.settings import load_settings


def pending(drop_dir: Path) -> list[Path]:
    if not Path(drop_dir).is_dir():
        return []
    return sorted(p for p in Path(drop_dir).iterdir()
                  if p.is_file() and not p.name.startswith((".", "~$"))
                  and p.suffix.lower() in SUPPORTED)


def _move(files: list[Path], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        destination = target / path.name
        if destination.exists():
            destination = target / f"{path.stem}.{dt.datetime.now():%H%M%S%f}{path.suffix}"
        shutil.move(str(path), destination)


def report_text(report: LoadReport) -> str:
    lines = [report.message, ""]
    for f in report.files:
        lines.append(f"{f.name}: {f.format or 'unread'}, {f.rows_loaded:,} rows, "
                     f"sha256 {f.sha256}")
    lines.append("")
    lines += [f"{i.level.upper()}: {i}" for i in report.issues]
    return "\n".join(lines) + "\n"


ATTEMPT = ".drop.attempt"     # in the data folder: the files a load is trying now


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _refuse(files: list[Path], drop_dir: Path, report: LoadReport) -> None:
    target = drop_dir / "refused" / _stamp()
    while target.exists():        # two refusals in one second keep their own folders
        target = target.with_name(target.name + "-")
    _move(files, target)
    (target / "report.txt").write_text(report_text(report), encoding="utf-8")


def _failed(files: list[Path], message: str, problem: str) -> LoadReport:
    """A refusal report for files the load could not deal with, one error per file."""
    return LoadReport([], [Issue(ERROR, f.name, problem) for f in files], pd.DataFrame(),
                      pd.DataFrame(), message=message)


def _unfinished(data_dir: Path, drop_dir: Path) -> LoadReport | None:
    """Set aside the files of a load that never finished (its attempt file is still
    there, and its lock is free: the process that held it is gone)."""
    marker = data_dir / ATTEMPT
    try:
        attempt = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        attempt = {}
    names = set(attempt.get("files", []))
    files = [p for p in pending(drop_dir) if p.name in names]
    report = None
    if files:
        started = attempt.get("started", "an earlier start")
        report = _failed(
            files, f"refused: the load of {plural(len(files), 'file')} started at {started} never "
                   "finished; nothing was published from them",
            f"the previous attempt to load this file (started {started}) stopped the "
            "process loading it (a crash, running out of memory, or a restart) before it "
            "finished; it was set aside so it cannot stop the app again. Check the file, "
            "and put it back in the drop folder to try again")
        _refuse(files, drop_dir, report)
    marker.unlink(missing_ok=True)
    return report


def load_drop_folder(data_dir=None, drop_dir=None, user: str | None = None,
                     identity: dict | None = None) -> LoadReport | None:
    """Load every file waiting in the drop folder; None when there was nothing to do.
    `identity`: who pressed the Data page's refresh button (recorded in the manifest)."""
    settings = load_settings()
    data_dir = Path(data_dir or settings.data_dir)
    drop_dir = Path(drop_dir or settings.drop_folder or data_dir / "incoming")
    if not pending(drop_dir) and not (data_dir / ATTEMPT).exists():
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".drop.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # another process is loading the drop folder now
        set_aside = _unfinished(data_dir, drop_dir)
        files = pending(drop_dir)
        if not files:
            return set_aside
        marker = data_dir / ATTEMPT
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"files": [p.name for p in files], "pid": os.getpid(),
                                   "started": dt.datetime.now(dt.timezone.utc)
                                   .isoformat(timespec="seconds")}), encoding="utf-8")
        os.replace(tmp, marker)
        try:
            report = load(files, data_dir, user=user or f"{default_user()} (drop folder)",
                          identity=identity)
        except Exception as exc:  # noqa: BLE001 - no file may stop the app from serving
            report = _failed(files, "refused: the load failed unexpectedly; nothing was "
                                    "published (the published data is unchanged)",
                             f"the load failed ({type(exc).__name__}: {str(exc)[:300]}); "
                             "please report this file")
        try:
            if report.published:
                _move(files, drop_dir / "loaded" / str(report.version))
            elif report.errors:
                _refuse(files, drop_dir, report)
        finally:
            # Reached whenever this process lives on; only a load that took the process
            # down with it leaves the attempt file for the next start to act on.
            marker.unlink(missing_ok=True)
        return report
