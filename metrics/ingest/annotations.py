"""Adding an analyst's dated note ("new provider from April 2024") to an area's metrics:
what it says is checked here, then it is published as a new version (the figures copied
as they are) so it is versioned like data, survives a new extract and is restored as it
was by a rollback (metrics.store.annotations).

The page reaches `add` only through metrics.ingest.actions.add_annotation, which checks
the role on the server first.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from metrics import store
from metrics.ingest.areas import ONS_CODE
from metrics.ingest.model import IngestError
from metrics.ingest.versions import _data_dir
from metrics.reference import catalogue

MAX_TEXT = 200
# Dates as a board paper writes them, tried in turn: 2024-04-01, 01/04/2024, 1 April 2024.
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d %B %Y", "%d %b %Y")
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
_METRIC_ID = re.compile(r"^[A-Za-z0-9_]{1,80}$")


def parse_date(value) -> dt.date:
    """A date from a date, or text in one of DATE_FORMATS; IngestError naming what was
    given otherwise."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        text = str(value if value is not None else "").strip()
        for fmt in DATE_FORMATS:
            try:
                day = dt.datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        else:
            raise IngestError(f"date {text[:40]!r} is not a date (write it as 2024-04-01 "
                              "or 1 April 2024)")
    if not EARLIEST <= day <= LATEST:
        raise IngestError(f"date {day.isoformat()} is outside {EARLIEST.year} to "
                          f"{LATEST.year}")
    return day


def known_metrics(version: store.Version | None) -> set[str]:
    """The catalogue's metrics and those loaded from extracts into `version`."""
    known = set(catalogue.BY_ID)
    table = store.read_table(version, "indicators") if version is not None else None
    if table is not None and "indicator_id" in table:
        known |= {str(i) for i in table["indicator_id"].dropna()}
    return known


def check(area_code, metric_ids: Iterable[str] | str, date, text,
          known: set[str], service_change: bool = False) -> dict:
    """A note's fields, cleaned, or IngestError saying (in words) what is wrong with it:
    the area an ONS code, every metric known, the date a date, the text 1 to MAX_TEXT
    characters on one line."""
    area = str(area_code or "").strip()
    if not ONS_CODE.match(area):
        raise IngestError(f"area {area[:40]!r} is not an ONS area code (such as E10000013)")
    ids = [metric_ids] if isinstance(metric_ids, str) else list(metric_ids or [])
    ids = list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))
    if not ids:
        raise IngestError("name at least one metric the note is about")
    unknown = [i for i in ids if not _METRIC_ID.match(i) or i not in known]
    if unknown:
        raise IngestError("unknown metric " + ", ".join(repr(i[:80]) for i in unknown[:5]))
    day = parse_date(date)
    # One line: a note is a label on a chart and a cell in a table, never a document.
    words = " ".join(str(text if text is not None else "").split())
    # Control and other unprintable characters (a pasted NUL, a bidirectional override)
    # would hide or reorder what a chart label and the audit log show: dropped.
    words = "".join(c for c in words if c.isprintable()).strip()
    if not words:
        raise IngestError("the note has no text")
    if len(words) > MAX_TEXT:
        raise IngestError(f"the note is {len(words)} characters long; at most {MAX_TEXT}")
    return {"area_code": area, "metric_ids": store.METRIC_SEPARATOR.join(ids),
            "date": pd.Timestamp(day), "text": words, "service_change": bool(service_change)}


def add(area_code, metric_ids, date, text, data_dir=None, *, author: str,
        identity: dict | None = None, service_change: bool = False
        ) -> tuple[store.Version, dict]:
    """Check a note and publish it as a new version: the current version's tables copied
    as they are, its notes plus this one. Returns (the version, the note as stored).
    `service_change`: the note marks a change to the service, from which SPC limits are
    recalculated."""
    data_dir = _data_dir(data_dir)
    with store.publish_lock(data_dir):
        store.remove_interrupted(data_dir)
        try:
            base = store.current_version(data_dir)
        except store.NoPublishedData:
            raise IngestError("nothing is published yet: load figures before adding a note")
        if base.notice:
            # The pointer or the current version is damaged: building on a fallback would
            # quietly publish over the version the analyst thinks is current.
            raise IngestError(f"not added: {base.notice}")
        note = check(area_code, metric_ids, date, text, known_metrics(base), service_change)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        note = {"annotation_id": uuid.uuid4().hex[:12], **note,
                "author": str(author or "")[:200], "created_at": now}
        notes = pd.concat([store.annotations(base), pd.DataFrame([note])],
                          ignore_index=True)
        m = base.manifest

        def manifest(version_id: str) -> dict:
            return {
                "demo": bool(m.get("demo")),
                "action": "annotation",
                "source": m.get("source", ""),
                "base_version": base.id,
                "loaded_by": note["author"],
                **({"identity": identity} if identity else {}),
                "loaded_at": now,
                "files": [],
                "note": f"{note['area_code']} {note['metric_ids']} "
                        f"{note['date'].date().isoformat()}: {note['text']}"
                        + (" (service change)" if note["service_change"] else ""),
                "indicator_sources": m.get("indicator_sources", {}),
            }

        version = store.publish_annotations(Path(data_dir), base, notes, manifest)
    return version, note
