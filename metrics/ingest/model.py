"""What a load reports: issues (errors block publishing, warnings are shown, notes inform)
and a summary per file. Plain data, so the command line and the Data page show the same."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ERROR, WARNING, NOTE = "error", "warning", "note"
ROWS_SHOWN = 5            # row numbers quoted in one message
MAX_ISSUES_PER_FILE = 200  # beyond this a file is clearly the wrong file; say how many more
# Names listed in one message (columns, sheets, values): a 100,000-column file must not
# make a 1 MB message. `listing` says how many more there are.
NAMES_SHOWN = 20
# The last resort for any message built elsewhere: longer problems are cut with a note of
# how much was left out, and a column named in an issue is cut the same way.
MAX_PROBLEM_CHARS = 2_000
MAX_COLUMN_CHARS = 200


def repeated(n: int, value) -> np.ndarray:
    """An object array of n references to one value. np.full(n, "text", dtype=object)
    makes n copies of the string instead (about 7 ms per 83,000 rows, 35 times slower),
    and a load builds a few dozen such columns per chunk."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def listing(names, limit: int = NAMES_SHOWN, quote: bool = True) -> str:
    """"'a', 'b', 'c' and 99,997 more": the first `limit` names of a list, quoted."""
    names = list(names)
    shown = [repr(str(n)) if quote else str(n) for n in names[:limit]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]} ... ({len(text) - limit:,} more characters not shown)"


class IngestError(Exception):
    """A problem with the request itself (no such version, nothing to load...)."""


@dataclass
class Issue:
    level: str                    # ERROR, WARNING or NOTE
    file: str                     # file name, with "[sheet]" for a workbook sheet
    problem: str
    column: str | None = None
    rows: list[int] = field(default_factory=list)   # row numbers as the file shows them
    row_count: int = 0            # how many rows in all (rows holds the first few)

    def __post_init__(self) -> None:
        # Every issue passes here, wherever its text was built: none can grow without end.
        self.problem = _cut(str(self.problem), MAX_PROBLEM_CHARS)
        if self.column is not None:
            self.column = _cut(str(self.column), MAX_COLUMN_CHARS)
        self.file = _cut(str(self.file), MAX_COLUMN_CHARS)

    def where(self) -> str:
        parts = [self.file]
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:ROWS_SHOWN])
            more = self.row_count - min(len(self.rows), ROWS_SHOWN)
            word = "row" if self.row_count == 1 else "rows"
            parts.append(f"{word} {shown}" + (f" and {more:,} more" if more > 0 else ""))
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {self.problem}"

    def as_dict(self) -> dict:
        rows = ""
        if self.rows:
            rows = ", ".join(str(r) for r in self.rows[:ROWS_SHOWN])
            more = self.row_count - min(len(self.rows), ROWS_SHOWN)
            rows += f" and {more:,} more" if more > 0 else ""
        return {"level": self.level, "file": self.file, "rows": rows,
                "column": self.column or "", "problem": self.problem}


class Issues:
    """Collects issues for one file, grouping rows that share a problem."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[Issue] = []
        self.dropped = 0

    def add(self, level: str, problem: str, column: str | None = None) -> None:
        """An issue about the file or a column as a whole (no particular rows)."""
        if len(self.items) >= MAX_ISSUES_PER_FILE and level == ERROR:
            self.dropped += 1
            return
        self.items.append(Issue(level, self.file, problem, column))

    def add_rows(self, level: str, problem: str, column: str | None, row_numbers) -> None:
        row_numbers = np.asarray(row_numbers)
        if len(row_numbers) == 0:
            return
        if len(self.items) >= MAX_ISSUES_PER_FILE and level == ERROR:
            self.dropped += 1
            return
        self.items.append(Issue(level, self.file, problem, column,
                                [int(r) for r in row_numbers[:ROWS_SHOWN]], len(row_numbers)))

    def add_by_value(self, level: str, column: str | None, values: pd.Series,
                     row_numbers: np.ndarray, problem, limit: int = 20) -> None:
        """One issue per distinct offending value (problem(value) -> text), rows grouped."""
        if len(values) == 0:
            return
        frame = pd.DataFrame({"value": values.astype(str).to_numpy(), "row": row_numbers})
        groups = frame.groupby("value", sort=False)["row"]
        for i, (value, rows) in enumerate(groups):
            if i == limit:
                rest = frame["value"].nunique() - limit
                self.add(level, f"... and {rest:,} more different values with the same "
                                "problem", column)
                break
            self.add_rows(level, problem(value), column, rows.to_numpy())

    def finish(self) -> list[Issue]:
        if self.dropped:
            self.items.append(Issue(ERROR, self.file,
                                    f"... and {self.dropped:,} more problems not listed "
                                    "(is this the right file?)"))
            self.dropped = 0
        return self.items


@dataclass
class FileReport:
    name: str                    # as the analyst named it
    sha256: str
    size: int
    format: str = ""             # "Fingertips export", "long format", "table", ...
    encoding: str = ""
    sheets: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    indicators: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)

    def as_manifest(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.size,
                "format": self.format, "encoding": self.encoding, "sheets": self.sheets,
                "rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
                "indicators": self.indicators, "periods": self.periods}


@dataclass
class LoadReport:
    files: list[FileReport]
    issues: list[Issue]
    values: pd.DataFrame                      # the rows that would be published
    indicators: pd.DataFrame                  # additional metrics met in these files
    base_version: str | None = None           # the version the checks compared with
    base_is_demo: bool = False
    changes: pd.DataFrame | None = None       # re-issued values that change
    superseded: pd.DataFrame | None = None    # published row keys replaced (the first
    #                                           store.REISSUE_KEYS_KEPT; store.REISSUE_KEY)
    version: str | None = None                # set once published
    published: bool = False
    message: str = ""
    # A large load keeps its rows on disk: `values` and `changes` then hold the first rows
    # only, and these the full counts (None: the frames are complete).
    values_count: int | None = None
    changes_count: int | None = None
    superseded_count: int | None = None
    # What a re-issue replaces, per indicator and tier (area total or one breakdown): a
    # sentence each ("replaces 2 area totals of ...; keeps its 22 breakdown rows"), and
    # the figures behind them (store.plan_reissue).
    replaces: list[str] = field(default_factory=list)
    replaced: list[dict] = field(default_factory=list)

    @property
    def keys_superseded(self) -> int:
        if self.superseded_count is not None:
            return self.superseded_count
        return 0 if self.superseded is None else len(self.superseded)

    @property
    def rows_to_publish(self) -> int:
        return self.values_count if self.values_count is not None else len(self.values)

    @property
    def values_changed(self) -> int:
        if self.changes_count is not None:
            return self.changes_count
        return 0 if self.changes is None else len(self.changes)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == WARNING]

    @property
    def notes(self) -> list[Issue]:
        return [i for i in self.issues if i.level == NOTE]

    @property
    def ok(self) -> bool:
        return not self.errors

    def issues_frame(self) -> pd.DataFrame:
        return pd.DataFrame([i.as_dict() for i in self.issues],
                            columns=["level", "file", "rows", "column", "problem"])


def add_counted(issues: Issues, level: str, problem: str, column: str | None,
                first_rows, row_count: int) -> None:
    """Like Issues.add_rows when only the first rows and the count are known (a check run
    in DuckDB over rows kept on disk)."""
    if row_count <= 0:
        return
    if len(issues.items) >= MAX_ISSUES_PER_FILE and level == ERROR:
        issues.dropped += 1
        return
    issues.items.append(Issue(level, issues.file, problem, column,
                              [int(r) for r in list(first_rows)[:ROWS_SHOWN]], int(row_count)))


def merge_issues(target: Issues, part: Issues, index: dict) -> None:
    """Add the issues of one chunk of a file to the file's: the same problem met in
    several chunks stays one issue, with its first rows and the total count. `index`
    (kept by the caller for the file) maps a problem to its issue in `target`."""
    for item in part.items:
        key = (item.level, item.problem, item.column, bool(item.rows))
        found = index.get(key)
        if found is not None:
            if item.rows:
                found.rows = (found.rows + item.rows)[:ROWS_SHOWN]
                found.row_count += item.row_count
            continue
        if len(target.items) >= MAX_ISSUES_PER_FILE and item.level == ERROR:
            target.dropped += 1
            continue
        copy = Issue(item.level, target.file, item.problem, item.column, list(item.rows),
                     item.row_count)
        target.items.append(copy)
        index[key] = copy
    target.dropped += part.dropped


def has_errors(issues: dict[str, Issues], name: str) -> bool:
    """Whether file `name`, or any sheet of it ("name [sheet]"), has an error."""
    return any(i.level == ERROR for label, bag in issues.items()
               if label == name or label.startswith(name + " [") for i in bag.items)
