"""The audit log: who loaded, rolled back, changed a role or a setting, or was refused.

Loads and rollbacks are read from the versions' manifests (each records the signed-in
identity of whoever published it), so they cannot drift from what was published. What
publishes no version (a role or setting changed, an action refused) is appended to
`<data dir>/audit.jsonl`, one JSON object a line, under a lock and flushed to disk.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path

import pandas as pd

from metrics import store

AUDIT_FILE = "audit.jsonl"
COLUMNS = ["at", "event", "version", "email", "subject", "detail"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record(data_dir, event: str, identity: dict | None, detail: str = "") -> dict:
    """Append one event (such as "role change", "settings change", "refused")."""
    identity = identity or {}
    entry = {"at": _now(), "event": event, "email": identity.get("email", ""),
             "sub": identity.get("sub", ""), "detail": str(detail)[:2000]}
    path = Path(data_dir) / AUDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        # One writer at a time: two sessions appending at once must not interleave lines.
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def _logged(data_dir: Path) -> list[dict]:
    path = data_dir / AUDIT_FILE
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
            except ValueError:
                # A damaged line is shown as such rather than hidden or stopping the view.
                rows.append({"at": "", "event": "unreadable", "version": "", "email": "",
                             "subject": "", "detail": f"{AUDIT_FILE} line {number} could "
                                                      "not be read"})
                continue
            rows.append({"at": str(entry.get("at", "")), "event": str(entry.get("event", "")),
                         "version": "", "email": str(entry.get("email", "")),
                         "subject": str(entry.get("sub", "")),
                         "detail": str(entry.get("detail", ""))})
    return rows


def _published(data_dir: Path) -> list[dict]:
    rows = []
    for version in store.list_versions(data_dir):
        m = version.manifest
        action = m.get("action") or ("demonstration" if m.get("demo") else "load")
        if m.get("demo") and action in ("publish", "load"):
            action = "demonstration"
        who = m.get("identity") or {}
        if action == "rollback":
            detail = f"restores {m.get('rollback_of')}"
        elif action == "annotation":
            detail = f"note: {str(m.get('note', ''))[:300]}"
        else:
            detail = ", ".join(str(f.get("name", "")) for f in m.get("files", [])
                               if isinstance(f, dict))
        by = str(m.get("loaded_by", ""))
        rows.append({"at": str(m.get("published_at", "")), "event": str(action),
                     "version": version.id,
                     "email": str(who.get("email", "")) if isinstance(who, dict) else "",
                     "subject": str(who.get("sub", "")) if isinstance(who, dict) else "",
                     "detail": detail + (f" (by {by})" if by and not who else "")})
    return rows


def entries(data_dir) -> pd.DataFrame:
    """Every load, rollback, role or setting change and refusal, newest first."""
    data_dir = Path(data_dir)
    frame = pd.DataFrame(_published(data_dir) + _logged(data_dir), columns=COLUMNS)
    return frame.sort_values("at", ascending=False, kind="stable").reset_index(drop=True)
