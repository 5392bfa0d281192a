"""What is published: history of versions, rollback, status, coverage and freshness."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from metrics import store
from metrics.reference import catalogue, periods
from metrics.reference import status as statistics_status
from metrics.ingest.loading import _now, default_user
from metrics.ingest.model import IngestError
from metrics.settings import load_settings

# Freshness: months after a period ends before new data is due / overdue, by frequency
# (declared with each metric's statistics status, which uses them for "next update").
DUE_AFTER_MONTHS = statistics_status.DUE_AFTER_MONTHS


def _data_dir(data_dir) -> Path:
    return Path(data_dir or load_settings().data_dir)


def history(data_dir=None) -> pd.DataFrame:
    """One row per version, newest first."""
    data_dir = _data_dir(data_dir)
    current = store.current_version_id(data_dir)
    shown = {entry.get("version") for entry in store.publish_log(data_dir)}
    log_exists = bool(shown)
    rows = []
    for version in store.list_versions(data_dir):
        m = version.manifest
        damaged = m.get("damaged")
        if version.id == current:
            # The current version's files are checked (once per process, as opening it
            # does): a damaged one is not what the pages show.
            damaged = damaged or store.verify(version)
            state = "current (damaged: not shown)" if damaged else "current"
        elif not log_exists or version.id in shown:
            state = "earlier"
        else:
            state = "never shown (load interrupted)"
        action = m.get("action") or ("demonstration" if m.get("demo") else "publish")
        if m.get("demo") and action == "publish":
            action = "demonstration"
        detail = ""
        if action == "rollback":
            detail = f"restores {m.get('rollback_of')}"
        elif m.get("files"):
            detail = ", ".join(f["name"] for f in m["files"])
        rows.append({
            "version": version.id,
            "published_at": m.get("published_at", ""),
            "state": state,
            "action": action,
            "by": m.get("loaded_by", ""),
            "files": detail,
            "rows": int(m.get("rows", {}).get("values", 0)),
            "rows_added": int(m.get("rows_added", 0) or 0),
            "keys_superseded": int(m.get("superseded_keys", 0) or 0),
            "demo": bool(m.get("demo")),
            # Files are checked when a version is opened, not here (hashing every
            # version's files would make listing them slow).
            "integrity": ("damaged: " + str(damaged) if damaged else
                          "sha256 recorded" if version.has_checksums else
                          "no checksums (published before they were recorded)"),
        })
    frame = pd.DataFrame(rows, columns=["version", "published_at", "state", "action", "by",
                                        "files", "rows", "rows_added", "keys_superseded",
                                        "demo", "integrity"])
    return frame.iloc[::-1].reset_index(drop=True)


def normalise_version(text: str) -> str:
    """"3", "v3", "V0003" -> "v0003"; "10000" -> "v10000" (ids grow past v9999)."""
    m = re.fullmatch(r"v?0*(\d{1,12})", str(text).strip(), flags=re.I)
    if not m:
        raise IngestError(f"'{str(text)[:40]}' is not a version (such as v0003 or 3)")
    return store.version_id_of(int(m.group(1)))


def rollback(target: str, data_dir=None, user: str | None = None,
             identity: dict | None = None) -> store.Version:
    """Publish a new version that copies `target`'s tables; the rollback is itself a
    version, so it can be undone the same way. `identity`: the signed-in user's e-mail and
    subject, recorded in the manifest."""
    data_dir = _data_dir(data_dir)
    version_id = normalise_version(target)
    known = {v.id: v for v in store.list_versions(data_dir)}
    if version_id not in known:
        listed = ", ".join(list(known)[-8:]) or "none"
        raise IngestError(f"there is no version {version_id} (versions: {listed})")
    with store.publish_lock(data_dir):
        store.remove_interrupted(data_dir)
        source = known[version_id]
        problem = store.verify(source)
        if problem is not None:
            raise IngestError(f"{version_id} is damaged and cannot be restored: {problem}")
        current = store.current_version_id(data_dir)
        if current == version_id:
            raise IngestError(f"{version_id} is already the version shown")
        m = source.manifest

        def manifest(new_id: str) -> dict:
            return {
                "demo": bool(m.get("demo")),
                "action": "rollback",
                "rollback_of": version_id,
                "replaced": current,
                "source": m.get("source", ""),
                "loaded_by": user or default_user(),
                **({"identity": identity} if identity else {}),
                "loaded_at": _now(),
                "files": [],
                "indicator_sources": m.get("indicator_sources", {}),
            }

        return store.publish_copy(data_dir, source, manifest)


def _additional(version: store.Version) -> dict[str, dict]:
    table = store.read_table(version, "indicators")
    if table is None:
        return {}
    return {r["indicator_id"]: r for r in table.to_dict("records")}


def title_of(indicator_id: str, additional: dict) -> str:
    if indicator_id in catalogue.BY_ID:
        return catalogue.BY_ID[indicator_id].title
    return str(additional.get(indicator_id, {}).get("title") or indicator_id)


def status(data_dir=None) -> pd.DataFrame:
    """What is loaded: each indicator and kind of period, its periods, rows, source files
    and the version that last loaded it."""
    data_dir = _data_dir(data_dir)
    version = store.current_version(data_dir)
    summary = store.indicator_summary(version)
    additional = _additional(version)
    sources = version.manifest.get("indicator_sources", {})
    summary.insert(1, "title", [title_of(i, additional) for i in summary["indicator_id"]])
    summary["source_files"] = [", ".join(sources.get(i, {}).get("files", [])) or
                               ("demonstration" if version.is_demo else "")
                               for i in summary["indicator_id"]]
    summary["loaded_in"] = [sources.get(i, {}).get("version", version.id if version.is_demo
                                                   else "") for i in summary["indicator_id"]]
    return summary


def _expected(kind: str, first: periods.Period, last: periods.Period) -> list[periods.Period]:
    """Every period of a kind from first to last, so missing ones show as gaps."""
    out = []
    if kind in ("quarter", "rolling_12m"):
        fy, q = periods._fy_and_q(periods.quarter_of(first.end))
        while True:
            p = periods.quarter(fy, q) if kind == "quarter" else periods.rolling_12m(fy, q)
            out.append(p)
            if p.end >= last.end or len(out) > 400:
                break
            fy, q = (fy, q + 1) if q < 4 else (fy + 1, 1)
    elif kind == "financial_year":
        out = [periods.financial_year(y) for y in range(first.start.year, last.start.year + 1)]
    elif kind == "calendar_year":
        out = [periods.calendar_year(y) for y in range(first.start.year, last.start.year + 1)]
    elif kind == "pooled_3y":
        out = [periods.pooled_3y(y) for y in range(first.start.year, last.start.year + 1)]
    return out


def coverage(version: store.Version, kind: str) -> pd.DataFrame:
    """Metric x period grid for one kind of period: the number of areas with a figure
    (a value, a count on its own, or a suppression note) in each period, NaN for a gap inside the series, and
    the column order chronological. Indicators with no data of this kind are left out."""
    counts = store.coverage_counts(version, kind)
    if counts.empty:
        return pd.DataFrame()
    additional = _additional(version)
    labels = sorted({(pd.Timestamp(e), p) for p, e in zip(counts["period"],
                                                           counts["period_end"])})
    parsed = [periods.parse_period(p) for _, p in labels]
    expected = _expected(kind, parsed[0], parsed[-1]) if parsed else []
    columns = [p.label for p in expected] or [p for _, p in labels]
    extra = [p for _, p in labels if p not in columns]
    columns = sorted(set(columns) | set(extra), key=lambda s: periods.parse_period(s))
    grid = counts.pivot_table(index="indicator_id", columns="period", values="areas",
                              aggfunc="sum").reindex(columns=columns)
    order = [i.id for i in catalogue.INDICATORS if i.id in grid.index] + \
        sorted(i for i in grid.index if i not in catalogue.BY_ID)
    grid = grid.loc[order]
    grid.index = [title_of(i, additional) for i in grid.index]
    grid.index.name = "metric"
    return grid


def missing_indicators(version: store.Version) -> list[str]:
    loaded = set(store.indicator_summary(version)["indicator_id"])
    return [i.title for i in catalogue.INDICATORS if i.id not in loaded]


def freshness(version: store.Version, today: dt.date | None = None) -> pd.DataFrame:
    """Per source: the latest period loaded, when it was loaded, and whether new data is
    due (months since the period ended, by the source's frequency)."""
    today = today or dt.date.today()
    summary = store.indicator_summary(version)
    sources = version.manifest.get("indicator_sources", {})
    additional = _additional(version)
    rows = []
    for ind_id, group in summary.groupby("indicator_id"):
        latest = group.sort_values("last_end").iloc[-1]
        if ind_id in catalogue.BY_ID:
            source = catalogue.BY_ID[ind_id].source
        else:
            source = str(additional.get(ind_id, {}).get("source") or "Loaded extract")
        loaded = sources.get(ind_id, {}).get("loaded_at") or \
            version.manifest.get("published_at", "")
        rows.append({"source": source, "indicator_id": ind_id,
                     "kind": latest["period_kind"], "last_period": latest["last_period"],
                     "last_end": pd.Timestamp(latest["last_end"]).date(),
                     "loaded_at": str(loaded)[:10]})
    if not rows:
        return pd.DataFrame(columns=["source", "latest period", "period ended",
                                     "months since", "loaded", "status", "metrics",
                                     "statistics status", "publisher", "next update expected"])
    frame = pd.DataFrame(rows)
    out = []
    for source, group in frame.groupby("source", sort=True):
        best = group.sort_values("last_end").iloc[-1]
        months = (today.year - best["last_end"].year) * 12 + today.month - \
            best["last_end"].month
        due, overdue = DUE_AFTER_MONTHS.get(best["kind"], (15, 24))
        state = "up to date" if months < due else ("new data due" if months < overdue
                                                   else "overdue")
        # The statistics status and the next release, as each metric's About tab says.
        when = statistics_status.timeliness(
            statistics_status.SOURCES.get(source, statistics_status.UNKNOWN), best["kind"],
            best["last_end"], None, version.is_demo, today)
        out.append({"source": source, "latest period": best["last_period"],
                    "period ended": best["last_end"].isoformat(),
                    "months since": int(months), "loaded": max(group["loaded_at"]),
                    "status": state, "metrics": len(group),
                    "statistics status": when.status_words,
                    "publisher": when.publisher,
                    "next update expected": (f"{when.next_update:%B %Y}"
                                             if when.next_update else "-")})
    return pd.DataFrame(out)
