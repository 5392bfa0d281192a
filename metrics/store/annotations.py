"""Annotations: analysts' dated notes on an area's metrics, kept as a table of each
published version (annotations.parquet), so they are versioned like the figures.

A note is the analysts' record, not the extract's: every load carries the previous
version's notes forward (publish_merged), a rollback copies the restored version's as
they were (publish_copy), and adding one publishes a new version that copies every other
table byte for byte (publish_annotations). Checking what a note says is metrics.ingest's
work; this module only reads and writes the table.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from metrics.store.versions import TABLES, DamagedVersion, Version, _publish, verify

__all__ = ["ANNOTATION_COLUMNS", "METRIC_SEPARATOR", "annotations", "notes_on",
           "publish_annotations"]

ANNOTATION_COLUMNS = {
    "annotation_id": "string",   # short random id, so a note can be named
    "area_code": "string",
    "metric_ids": "string",      # one or more metric ids, joined by METRIC_SEPARATOR
    "date": "datetime64[ns]",    # the day the note marks (midnight)
    "text": "string",            # at most 200 characters (metrics.ingest.annotations)
    "author": "string",
    "created_at": "string",      # ISO 8601, UTC
    # A change to the service (new provider, in-reach started): SPC limits are worked out
    # afresh from the first period starting on or after the date (metrics.views.explorer).
    "service_change": "boolean",
}
# Metric ids are letters, digits and underscores (catalogue and loaded ones alike).
METRIC_SEPARATOR = ","


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ANNOTATION_COLUMNS.items()})


def annotations(version: Version, area_code: str | None = None,
                metric_id: str | None = None) -> pd.DataFrame:
    """The version's notes (ANNOTATION_COLUMNS), oldest date first; only the area's, and
    only those naming `metric_id`, when given. Empty for a version without any (versions
    published before notes existed have no table)."""
    path = version.path / "annotations.parquet"
    if not path.exists():
        return _empty()
    frame = pd.read_parquet(path).reindex(columns=list(ANNOTATION_COLUMNS))
    # Notes written before service changes could be marked are plain notes.
    frame["service_change"] = frame["service_change"].astype("boolean").fillna(False)
    frame = frame.astype(ANNOTATION_COLUMNS)
    if area_code is not None:
        frame = frame[frame["area_code"] == area_code]
    if metric_id is not None:
        frame = notes_on(frame, metric_id)
    return frame.sort_values(["date", "created_at"], kind="stable").reset_index(drop=True)


def notes_on(notes: pd.DataFrame, metric_id: str) -> pd.DataFrame:
    """The rows of `notes` (annotations) that name `metric_id` among their metrics."""
    ids = notes["metric_ids"].fillna("").astype(str).str.split(METRIC_SEPARATOR)
    # As booleans even when there are no notes: indexing with an empty object Series
    # selects columns instead of rows, leaving a frame with none (and the caller's sort
    # on "date" raised KeyError for any area without notes).
    return notes[ids.map(lambda named: metric_id in named).astype(bool)]


def publish_annotations(data_dir: Path, base: Version, notes: pd.DataFrame,
                        manifest: dict | Callable[[str], dict]) -> Version:
    """Publish a new version: `base`'s tables copied byte for byte, with `notes` (every
    note the new version holds) as its annotations table. Call under publish_lock, with
    `base` the current version. A damaged base is refused (DamagedVersion): its copy would
    be recorded as good."""
    problem = verify(base)
    if problem is not None:
        raise DamagedVersion(base.id, problem)
    notes = notes.reindex(columns=list(ANNOTATION_COLUMNS))
    notes["service_change"] = notes["service_change"].astype("boolean").fillna(False)
    notes = notes.astype(ANNOTATION_COLUMNS)

    def write(staging: Path) -> dict[str, int]:
        rows = {k: v for k, v in dict(base.manifest.get("rows", {})).items()
                if k != "annotations"}
        for table in TABLES:
            path = base.path / f"{table}.parquet"
            if table != "annotations" and path.exists():
                shutil.copyfile(path, staging / path.name)
        notes.to_parquet(staging / "annotations.parquet", index=False)
        rows["annotations"] = len(notes)
        return rows

    return _publish(data_dir, write, manifest)
