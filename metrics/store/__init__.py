"""The store: the only package that opens Parquet or writes SQL.

Imports metrics.settings only. Its names are one API (`from metrics import store;
store.current_version(...)`); the modules say which part each name belongs to.

The only module that opens Parquet or writes SQL.

Published data lives in versioned folders so a load can never leave a half-written state
visible and any earlier version can be restored:

    <data_dir>/published/versions/v0001/values.parquet     one row per indicator x area x period
                                        lsoa_need.parquet  small-area need (maps)
                                        indicators.parquet additional metrics (loaded extracts)
                                        superseded.parquet published rows this load replaced
                                        annotations.parquet analysts' dated notes (carried
                                                           forward by every load)
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

from metrics.store.versions import *  # noqa: F401,F403
from metrics.store.writing import *  # noqa: F401,F403
from metrics.store.reading import *  # noqa: F401,F403
from metrics.store.annotations import *  # noqa: F401,F403
