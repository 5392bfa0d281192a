"""Read any supported extract, validate it, publish it atomically.

    python -m metrics.ingest load FILE [FILE ...] [--dry-run] [--indicator ID]
        [--period PERIOD] [--indicator-name TEXT --unit UNIT] [--value-column NAME]
        [--sheet NAME]
    python -m metrics.ingest status | history | rollback VERSION | drop | template

Modules, one concern each:
    readers    bytes -> raw tables (CSV encodings, Excel title rows, Parquet)
    columns    column names -> long-format fields; which format a table is in
    layouts    publishers' layouts (two-row headers, wide tables, national tables) and
               the analyst's declarations (--indicator, --period, --value-column, --sheet)
    areas      ONS codes, DAT codes (analyst lookup) and names -> areas.csv codes
    validate   one table -> long-format rows, every per-row rule
    streaming  large CSVs checked a chunk at a time into a spool on disk
    checks     duplicates across a load; warnings against the published data
    loading    check a set of files and publish them as one version, or refuse them
    versions   history, rollback, status, coverage, freshness
    drop       the drop folder
    template   the long-format template
    actions    the Data, Settings and Audit pages' actions, each checking the user's role
    audit      the audit log: loads and rollbacks from manifests, role and setting changes
"""

from metrics.ingest.drop import load_drop_folder, pending
from metrics.ingest.layouts import LoadOptions
from metrics.ingest.loading import Source, load
from metrics.ingest.model import ERROR, NOTE, WARNING, IngestError, Issue, LoadReport
from metrics.ingest.template import template_csv
from metrics.ingest.versions import (coverage, freshness, history, missing_indicators,
                                     rollback, status)

__all__ = ["ERROR", "NOTE", "WARNING", "IngestError", "Issue", "LoadOptions", "LoadReport",
           "Source",
           "coverage", "freshness", "history", "load", "load_drop_folder",
           "missing_indicators", "pending", "rollback", "status", "template_csv"]
