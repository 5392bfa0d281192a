"""Command line: python -m metrics.ingest load|status|history|rollback|drop|template.

Exit codes: 0 success; 1 refused (validation errors, no such version, ...); 2 bad usage.
Messages go to stderr; bad input never produces a traceback. CDP_DATA_DIR is honoured.
Set CDP_DEBUG=1 to see the traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

import pandas as pd

from metrics.ingest import drop, layouts, loading, model, template, versions
from metrics.reference.formatting import plural
from metrics.settings import SettingsError, load_settings


def _err(text: str = "") -> None:
    print(text, file=sys.stderr)


def print_report(report: model.LoadReport) -> None:
    for f in report.files:
        where = f" (sheets: {', '.join(f.sheets)})" if f.sheets else ""
        enc = f", {f.encoding}" if f.encoding else ""
        span = f", {f.periods[0]} to {f.periods[-1]}" if f.periods else ""
        _err(f"{f.name}: {f.format or 'not read'}{enc}{where}; {f.rows_read:,} data rows"
             f"{span}; indicators: {', '.join(f.indicators) or 'none'}")
    for level, label in ((model.ERROR, "ERROR"), (model.WARNING, "WARNING"),
                         (model.NOTE, "note")):
        for issue in report.issues:
            if issue.level == level:
                _err(f"  {label}: {issue}")
    if report.changes is not None and len(report.changes):
        _err(f"  {plural(report.values_changed, 'published value')} would change; first ones:")
        shown = report.changes.head(10)[["indicator_id", "area_code", "period", "old_value",
                                         "new_value"]]
        for line in shown.to_string(index=False).splitlines():
            _err(f"    {line}")
    _err(report.message)


def cmd_load(args) -> int:
    options = layouts.LoadOptions(args.indicator, args.period, args.indicator_name, args.unit,
                                  args.value_column, args.sheet)
    problems = options.problems(_published_metrics(args.data_dir))
    if problems:
        for problem in problems:
            _err(f"refused: {problem}")
        return 2
    report = loading.load(args.files, args.data_dir, dry_run=args.dry_run, user=args.user,
                          options=options)
    print_report(report)
    if report.published:
        print(report.version)
    return 0 if report.ok and not report.message.startswith("not published") else 1


def _published_metrics(data_dir) -> dict:
    """Additional metrics already published (an --indicator may name one of them)."""
    try:
        version = versions.store.current_version(versions._data_dir(data_dir))
    except versions.store.NoPublishedData:
        return {}
    if version.is_demo:
        return {}
    return loading._known(version).additional


def cmd_status(args) -> int:
    frame = versions.status(args.data_dir)
    version = versions.store.current_version(versions._data_dir(args.data_dir))
    kind = "demonstration data" if version.is_demo else "published data"
    _err(f"Current version {version.id} ({kind}, {version.manifest.get('published_at', '')})")
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 40):
        _err(frame.drop(columns=["last_end"]).to_string(index=False))
    return 0


def cmd_history(args) -> int:
    frame = versions.history(args.data_dir)
    if frame.empty:
        _err("nothing has been published yet")
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 50):
        _err(frame.drop(columns=["demo"]).to_string(index=False))
    return 0


def cmd_rollback(args) -> int:
    version = versions.rollback(args.version, args.data_dir, user=args.user)
    kind = " (demonstration data)" if version.is_demo else ""
    _err(f"published {version.id}: a copy of {version.manifest['rollback_of']}{kind}; "
         f"undo with: python -m metrics.ingest rollback {version.manifest['replaced']}")
    print(version.id)
    return 0


def cmd_drop(args) -> int:
    report = drop.load_drop_folder(args.data_dir, user=args.user)
    if report is None:
        _err("the drop folder has no files waiting (or another process is loading it)")
        return 0
    print_report(report)
    return 0 if report.published else 1


def cmd_template(args) -> int:
    text = template.template_csv()
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        _err(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metrics.ingest",
                                     description="Load, check and publish extracts.")
    parser.add_argument("--data-dir", help="data directory (default: CDP_DATA_DIR or "
                                           "config.toml's data.dir)")
    parser.add_argument("--user", help="who is loading (default: the login name)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load", help="check files and publish them as one new version")
    p.add_argument("files", nargs="+")
    p.add_argument("--dry-run", action="store_true", help="check only; publish nothing")
    g = p.add_argument_group("what the file does not say (applies to every file named)")
    g.add_argument("--indicator", metavar="ID",
                   help="the metric every row is (a catalogue id, or a new metric's id)")
    g.add_argument("--period", metavar="PERIOD",
                   help="the period of the whole table, such as 2023/24 or '2021 - 23' "
                        "(default: a period in the file name)")
    g.add_argument("--indicator-name", metavar="TEXT", help="a new metric's title")
    g.add_argument("--unit", metavar="UNIT",
                   # argparse formats help with %: a literal "%" must be written "%%".
                   help="a new metric's unit: " + ", ".join(layouts.UNITS).replace("%", "%%"))
    g.add_argument("--value-column", metavar="NAME",
                   help="the column holding the figure, where several could "
                        "(one column per drug)")
    g.add_argument("--sheet", metavar="NAME", help="the workbook sheet to read")
    p.set_defaults(func=cmd_load)
    sub.add_parser("status", help="what is loaded").set_defaults(func=cmd_status)
    sub.add_parser("history", help="every published version").set_defaults(func=cmd_history)
    p = sub.add_parser("rollback", help="publish a copy of an earlier version")
    p.add_argument("version")
    p.set_defaults(func=cmd_rollback)
    sub.add_parser("drop", help="load the files waiting in the drop folder") \
        .set_defaults(func=cmd_drop)
    p = sub.add_parser("template", help="write the long-format template CSV")
    p.add_argument("output", nargs="?")
    p.set_defaults(func=cmd_template)
    args = parser.parse_args(argv)
    try:
        if args.data_dir is None:
            args.data_dir = str(load_settings().data_dir)
        return args.func(args)
    except (model.IngestError, SettingsError) as exc:
        _err(f"refused: {exc}")
        return 1
    except versions.store.NoPublishedData as exc:
        _err(f"nothing published: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback for an analyst
        if os.environ.get("CDP_DEBUG"):
            traceback.print_exc()
        _err(f"failed: {type(exc).__name__}: {exc} (set CDP_DEBUG=1 for details)")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
