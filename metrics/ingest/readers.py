"""Read an extract file into raw tables of cells, whatever its container.

- CSV in UTF-8 (with or without a byte-order mark), UTF-16 (Excel's "Unicode text") or
  Windows-1252 as Excel saves it; comma, tab, semicolon or pipe separated.
- Excel workbooks (.xlsx, .xlsm, .xls) and OpenDocument spreadsheets (.ods) through
  python-calamine: every visible sheet that holds a table is read; title rows above the
  header are kept as the table's title (and the last few as cells, for two-row headers).
- Parquet.

A workbook is measured before any sheet is loaded: calamine allocates a sheet's whole
rectangle, so a tiny hostile .xlsx with one cell at XFD1048576 would ask for 17 billion
cells and abort the process (no exception to catch). The cell references in an .xlsx
sheet and the repeated rows and columns of an .ods are counted first, and a sheet larger
than MAX_SHEET_CELLS is refused with a message (.xls is bounded by its own format,
65,536 x 256 cells, and is checked after loading, before it is turned into Python objects).

Every file from outside (the drop folder, an upload, the command line) is read by
read_guarded(): read_bytes() in a child process whose address space is capped
(READ_MEMORY) and which is killed after READ_SECONDS, so a file that makes a reader ask
for 512 GiB, or spin, costs that child, never the app or the load. Before any parsing,
the cheap checks that give the clearest messages: a workbook's parts may inflate to at
most MAX_UNZIPPED_BYTES in all (a deflate bomb is refused from its zip directory), each
part must inflate to the size its directory declares, and a Parquet file may hold at most
MAX_TABLE_CELLS cells (from its footer) and MAX_UNZIPPED_BYTES once decoded (a run-length
encoded column of millions of long texts is a few kilobytes on disk).

What a file *is* is decided by its first bytes, not its name, so a workbook saved with a
.csv name is still read. Cells stay raw (text in CSV, typed in workbooks); turning them
into numbers and periods is the validator's job. Row numbers are kept as the analyst sees
them (the line in a CSV, the row in Excel) so every message can point at the row.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import re
import resource
import signal
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from multiprocessing import context as mp_context
from multiprocessing import forkserver as mp_forkserver
from multiprocessing import popen_forkserver, reduction, spawn
from multiprocessing import util as mp_util
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from metrics.ingest import columns
from metrics.ingest.model import ERROR, NOTE, Issues, merge_issues

HEAD_CHARS = 256_000
DELIMITERS = (",", "\t", ";", "|")
# A sheet of more cells than this is refused (10 million: 500,000 rows of 20 columns, far
# beyond a workbook an analyst receives; bigger extracts come as CSV or Parquet).
MAX_SHEET_CELLS = 10_000_000
MAX_TABLE_CELLS = MAX_SHEET_CELLS   # the same bound for a Parquet table, read whole
# The limits of the child process reading one file. The largest workbook the limits above
# let through (a 9.9-million-cell sheet, 514 MB of XML) peaks at 2.3 GB of address space
# and about 70 s on a busy two-core machine; large CSVs are read in chunks, not here.
READ_MEMORY = 4 << 30
READ_SECONDS = 300
MAX_UNZIPPED_BYTES = 1 << 30        # a workbook's parts inflated, a Parquet file decoded
ABOVE_ROWS = 3                      # rows above a header kept as cells (two-row headers)


@dataclass
class RawTable:
    label: str                     # "file.csv" or "book.xlsx [Sheet1]"
    sheet: str | None
    headers: list[str]
    data: pd.DataFrame             # columns are positions 0..n-1, cells raw
    row_numbers: np.ndarray        # the file's row number of each data row
    title: str = ""                # text of the rows above the header
    encoding: str = ""
    header_row: int = 0
    above: list = field(default_factory=list)   # the last rows above the header, as cells
    # A chunk of a large CSV: per field ("sex", "age"), each row's total value as the whole
    # file decides it (validate.breakdown_totals); None for a table read whole.
    breakdown_totals: dict | None = None
    # A chunk of a large CSV: whether the whole file lists both district and county/UA
    # area types (validate.lists_both_tiers); None for a table read whole.
    both_tiers: bool | None = None
    chunk: bool = False            # one chunk of a large CSV read a part at a time


@dataclass
class ReadResult:
    tables: list[RawTable] = field(default_factory=list)
    encoding: str = ""
    sheets: list[str] = field(default_factory=list)
    kind: str = ""                 # "csv", "excel", "parquet"


def sniff_kind(data: bytes, name: str) -> str:
    if data[:4] == b"PK\x03\x04":
        return "excel"             # xlsx, xlsm and ods are zip files
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "excel"             # xls (OLE2)
    if data[:4] == b"PAR1":
        return "parquet"
    return "csv"


def read_bytes(data: bytes, name: str, issues: Issues) -> ReadResult:
    """Never raises for bad input: problems become issues on `issues`."""
    if not data or not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        issues.add(ERROR, "the file is empty")
        return ReadResult()
    kind = sniff_kind(data, name)
    lower = name.lower()
    if kind == "csv" and lower.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        issues.add(ERROR, "cannot be read: the name says Excel workbook but the contents "
                          "are not one (is it damaged, or a CSV renamed?)")
        return ReadResult()
    if kind == "csv" and lower.endswith(".parquet"):
        issues.add(ERROR, "cannot be read: the name says Parquet but the contents are not")
        return ReadResult()
    try:
        if kind == "excel":
            return _read_excel(data, name, issues)
        if kind == "parquet":
            return _read_parquet(data, name, issues)
        return _read_csv(data, name, issues)
    except MemoryError:
        raise                      # the guarded reader names the limit
    except Exception as exc:  # noqa: BLE001 - any failure to parse is the file's problem
        issues.add(ERROR, f"cannot be read as {kind.upper() if kind != 'excel' else 'Excel'}"
                          f": {type(exc).__name__}: {str(exc)[:200]}")
        return ReadResult()


# --- Reading in a child process with limits ----------------------------------------------
#
# calamine aborts the whole process when an allocation fails (Rust's default), so no
# exception can be caught; pyarrow raises MemoryError. Either way only the child is lost.
# The child comes from a fork server (one clean process started on first use, with this
# module imported), so a read costs a fork, not a new Python importing pandas and pyarrow;
# and it is never a fork of the app's own threads.

_SERVER_LOCK = threading.Lock()
_server_ready = False


def _context():
    global _server_ready
    context = multiprocessing.get_context("forkserver")
    with _SERVER_LOCK:
        if not _server_ready:
            context.set_forkserver_preload([__name__])
            # Python 3.11's fork server ignores the parent's sys.path: without the project
            # on PYTHONPATH it cannot import this module when the app was started from
            # another folder, and every read would import pandas and pyarrow again.
            root = str(Path(__file__).resolve().parents[2])
            paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if root not in paths:
                os.environ["PYTHONPATH"] = os.pathsep.join([root, *filter(None, paths)])
            _server_ready = True
    return context


class _ReaderPopen(popen_forkserver.Popen):
    """The fork server's launch (CPython 3.11's popen_forkserver.Popen._launch) without
    the main-module set-up. multiprocessing re-runs the parent's __main__ in every child,
    and while Streamlit runs a page __main__ *is* app.py: each read would run the whole
    app again in the child. The reader needs only this module."""

    def _launch(self, process_obj):
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = mp_forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)       # the child's sign that this process still lives
        self.finalizer = mp_util.Finalize(self, mp_util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as handle:
            handle.write(buf.getbuffer())
        self.pid = mp_forkserver.read_signed(self.sentinel)


class _ReaderProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _ReaderPopen(process_obj)


def _read_child(conn, data: bytes, name: str, memory: int, seconds: float,
                log: str) -> None:
    try:
        fd = os.open(log, os.O_WRONLY)
        os.dup2(fd, 2)             # a crashing reader's last words: for the message
        os.close(fd)
    except OSError:
        pass
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = _within_hard_limit(resource.RLIMIT_CPU, int(seconds) + 30)  # should the parent die
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # One worker thread each: fewer thread stacks and arenas counted against the cap.
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    issues = Issues(name)
    try:
        result = read_bytes(data, name, issues)
        del data
        conn.send(("read", result, issues))
    except MemoryError:
        conn.send(("memory", None, None))
    finally:
        conn.close()


def _within_hard_limit(which: int, wanted: int) -> int:
    """`wanted`, or less when this process may not go that high (a limit set by whoever
    started the app; the child inherits it and cannot raise it)."""
    hard = resource.getrlimit(which)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def read_guarded(data: bytes, name: str, issues: Issues, memory: int | None = None,
                 seconds: float | None = None) -> ReadResult:
    """read_bytes() in a child process with at most `memory` bytes of address space and
    `seconds` of time (READ_MEMORY, READ_SECONDS): a file that needs more, or crashes its
    reader, is refused with a message naming the file and the limit. Never raises for a
    bad file."""
    memory = _within_hard_limit(resource.RLIMIT_AS, READ_MEMORY if memory is None else memory)
    seconds = READ_SECONDS if seconds is None else seconds
    if not data:
        return read_bytes(data, name, issues)      # nothing to parse
    kind = sniff_kind(data, name)
    what = {"excel": "workbook", "parquet": "Parquet file"}.get(kind, "file")
    instead = "save it as UTF-8 CSV (large UTF-8 CSV files are read in parts)" \
        if kind == "csv" else "save the table as CSV"
    with tempfile.NamedTemporaryFile(prefix="cdp-read-", suffix=".log") as log:
        try:
            context = _context()
            receive, send = context.Pipe(duplex=False)
            child = _ReaderProcess(target=_read_child, daemon=True,
                                   args=(send, data, name, memory, seconds, log.name))
            child.start()
        except (OSError, ValueError, RuntimeError) as exc:
            issues.add(ERROR, f"cannot be read: the separate process that reads files "
                              f"could not be started ({type(exc).__name__}: {exc}); "
                              "nothing was read")
            return ReadResult(kind=kind)
        send.close()
        outcome, timed_out = None, False
        deadline = time.monotonic() + seconds
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                # poll() is also true once the child has gone (the pipe is closed).
                if receive.poll(min(left, 0.2)):
                    try:
                        outcome = receive.recv()
                    except (EOFError, OSError, MemoryError):
                        outcome = None
                    break
        finally:
            if timed_out or outcome is None:
                child.kill()
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join(5)
            receive.close()
        log.seek(0)
        last_words = _last_words(log.read(4096))
    if timed_out:
        issues.add(ERROR, f"cannot be read: reading this {what} took longer than the "
                          f"{seconds:g} seconds a file may take here, and was stopped; "
                          f"{instead}, or check it is the right file")
        return ReadResult(kind=kind)
    if outcome is not None and outcome[0] == "read":
        _, result, child_issues = outcome
        merge_issues(issues, child_issues, {})
        return result
    if outcome is not None and outcome[0] == "memory":
        issues.add(ERROR, f"cannot be read: reading this {what} needed more than the "
                          f"{_size(memory)} of memory a file may use here, and was stopped; "
                          f"{instead}, or check it is the right file")
        return ReadResult(kind=kind)
    code = child.exitcode
    how = (f"signal {signal.Signals(-code).name}" if code is not None and code < 0 and
           -code in signal.valid_signals() else f"exit code {code}")
    said = f": {last_words}" if last_words else ""
    issues.add(ERROR, f"cannot be read: the {what} reader crashed ({how}{said}); a file "
                      f"may use at most {_size(memory)} of memory here, and this one is "
                      f"refused ({instead}, or check it is the right file)")
    return ReadResult(kind=kind)


def _last_words(log: bytes) -> str:
    """The first line a crashed reader wrote (calamine: 'memory allocation of N bytes
    failed'), short."""
    for line in log.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith(("stack backtrace", "note:", "Traceback")):
            return line[:160]
    return ""


# --- CSV -------------------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 with BOM"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def _head_rows(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The first rows (as the csv module reads them) and the line each row starts on."""
    head = text[:HEAD_CHARS]
    reader = csv.reader(io.StringIO(head), delimiter=delimiter)
    rows, starts, previous_end = [], [], 0
    try:
        for row in reader:
            rows.append(row)
            starts.append(previous_end + 1)
            previous_end = reader.line_num
            if len(rows) >= 60:
                break
    except csv.Error:
        pass
    return rows, starts


def _best_header(text: str):
    """(delimiter, rows, row starts, header index) of the delimiter whose header row has
    the most cells, or None when no delimiter gives a recognisable header."""
    best = None
    for delimiter in DELIMITERS:
        rows, starts = _head_rows(text, delimiter)
        index = columns.find_header(rows)
        if index is not None and (best is None or len(rows[index]) > len(best[1][index])):
            best = (delimiter, rows, starts, index)
    return best


def _read_csv(data: bytes, name: str, issues: Issues) -> ReadResult:
    text, encoding = decode(data)
    if "\x00" in text[:8192]:
        issues.add(ERROR, "cannot be read: this is not a text (CSV) file")
        return ReadResult(encoding=encoding, kind="csv")
    text = text.rstrip("\r\n\t ")
    best = _best_header(text)
    if best is None:
        issues.add(ERROR, "missing required columns: no header row naming the area and "
                          "period columns was found in the first rows (see the template)")
        return ReadResult(encoding=encoding, kind="csv")
    delimiter, rows, starts, index = best
    headers = [h.strip() for h in rows[index]]
    header_line = starts[index]
    title = " ".join(" ".join(c for c in r if c) for r in rows[:index])
    table = _fast_csv(text, delimiter, headers, index, header_line)
    if table is None:
        table = _slow_csv(text, delimiter, headers, index, issues)
    frame, row_numbers = table
    above = [r + [""] * (len(headers) - len(r)) for r in rows[max(0, index - ABOVE_ROWS):index]]
    return ReadResult([RawTable(name, None, headers, frame, row_numbers, title, encoding,
                                header_line, [r[:len(headers)] for r in above])],
                      encoding, [], "csv")


def _fast_csv(text: str, delimiter: str, headers: list[str], header_index: int,
              header_line: int):
    """pyarrow's reader, when every line after the header is one well-formed row."""
    invalid = []

    def on_invalid(row):
        invalid.append(row)
        return "skip"

    names = [f"c{i}" for i in range(len(headers))]
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(skip_rows=header_index + 1, column_names=names,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                             newlines_in_values=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    lines_after_header = text.count("\n", _offset_of_line(text, header_line)) 
    if invalid or table.num_rows != lines_after_header:
        return None
    frame = table.to_pandas()
    frame.columns = range(len(headers))
    return frame, np.arange(header_line + 1, header_line + 1 + len(frame))


def _offset_of_line(text: str, line: int) -> int:
    """Character offset of the start of a 1-based line."""
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    return offset


def _slow_csv(text: str, delimiter: str, headers: list[str], header_index: int,
              issues: Issues):
    """The csv module, row by row: exact line numbers, ragged and multi-line rows."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    width = len(headers)
    records, numbers = [], []
    previous_end = 0
    for i, row in enumerate(reader):
        start = previous_end + 1
        previous_end = reader.line_num
        if i <= header_index:
            continue
        if len(row) > width:
            if any(c.strip() for c in row[width:]):
                issues.add_rows(ERROR, f"the row has {len(row)} cells but the header has "
                                       f"{width}", None, [start])
            row = row[:width]
        elif len(row) < width:
            row = row + [""] * (width - len(row))
        records.append(row)
        numbers.append(start)
    frame = pd.DataFrame(records, columns=range(width), dtype=object) if records else \
        pd.DataFrame({i: pd.Series(dtype=object) for i in range(width)})
    return frame, np.asarray(numbers, dtype=int)


# --- Excel and OpenDocument ------------------------------------------------------------

# XML allows either quote around an attribute and spaces around its "=": a workbook
# written with single quotes must be measured too (calamine reads it).
_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\br\s*=\s*[\"']([A-Z]{1,3})([0-9]{1,7})[\"']")
_ROW_REF = re.compile(rb"<(?:\w+:)?row\b[^>]*?\br\s*=\s*[\"']([0-9]{1,7})[\"']")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")


class SheetTooLarge(Exception):
    pass


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _xlsx_sheet_paths(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the part holding it, from the workbook and its relationships."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", ns)}
    out = {}
    for sheet in book.iter(f"{{{ns['m']}}}sheet"):
        rid = sheet.get(f"{{{ns['r']}}}id")
        path = target.get(rid, "")
        path = path.lstrip("/") if path.startswith("/") else "xl/" + path
        out[sheet.get("name")] = path
    return out


def _xlsx_extent(z: zipfile.ZipFile, part: str) -> tuple[int, str]:
    """Cells in the rectangle calamine would allocate for one sheet, and its last cell:
    the span of the cell references, read as a stream (a sheet part can be large)."""
    min_r = min_c = None
    max_r = max_c = 0
    tags = 0
    tail = b""
    with z.open(part) as handle:
        while True:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            text = tail + chunk
            # Keep the last tag for the next round: the chunk may cut it in two.
            cut = text.rfind(b"<")
            body, tail = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
            for col, row in _CELL_REF.findall(body):
                c, r = _column_number(col), int(row)
                max_c, max_r = max(max_c, c), max(max_r, r)
                min_c = c if min_c is None else min(min_c, c)
                min_r = r if min_r is None else min(min_r, r)
            tags += len(_CELL_TAG.findall(body))
    for col, row in _CELL_REF.findall(tail):
        c, r = _column_number(col), int(row)
        max_c, max_r = max(max_c, c), max(max_r, r)
        min_c = c if min_c is None else min(min_c, c)
        min_r = r if min_r is None else min(min_r, r)
    if min_r is None:
        # Cells without references sit one after another: at most one per tag.
        return tags, ""
    cells = (max_r - min_r + 1) * (max_c - min_c + 1)
    return cells, f"{_column_letters(max_c)}{max_r}"


_ODS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def _ods_extents(z: zipfile.ZipFile) -> dict[str, tuple[int, str]]:
    """Per table: the rectangle up to its last cell holding something, counting repeated
    rows and columns (number-rows-repeated / number-columns-repeated) as calamine does."""
    out: dict[str, tuple[int, str]] = {}
    name, row, max_r, max_c = None, 0, 0, 0
    row_start, col, row_has, row_repeat = 0, 0, 0, 1
    with z.open("content.xml") as handle:
        for event, el in ElementTree.iterparse(handle, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == f"{{{_ODS}}}table":
                    name, row, max_r, max_c = el.get(f"{{{_ODS}}}name"), 0, 0, 0
                elif tag == f"{{{_ODS}}}table-row":
                    row_repeat = int(el.get(f"{{{_ODS}}}number-rows-repeated", "1") or 1)
                    col, row_has = 0, 0
                continue
            if tag in (f"{{{_ODS}}}table-cell", f"{{{_ODS}}}covered-table-cell"):
                repeat = int(el.get(f"{{{_ODS}}}number-columns-repeated", "1") or 1)
                filled = el.get(f"{{{_ODS_OFFICE}}}value-type") is not None or len(el)
                col += repeat
                if filled:
                    row_has = col
                el.clear()
            elif tag == f"{{{_ODS}}}table-row":
                if row_has:
                    max_r = row + row_repeat
                    max_c = max(max_c, row_has)
                row += row_repeat
                el.clear()
            elif tag == f"{{{_ODS}}}table":
                out[name] = (max_r * max_c, f"{_column_letters(max_c)}{max_r}" if max_r else "")
                el.clear()
    return out


def _size(n: int) -> str:
    """Bytes for a message: '1 GiB', '512 MiB', '1.4 GB'."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _inflated_size(raw: memoryview, cap: int) -> int:
    """How many bytes raw deflate data inflates to, stopping once past `cap` (a megabyte
    at a time, so a bomb costs a megabyte of memory, not its size)."""
    inflate = zlib.decompressobj(-15)
    total, pos, step = 0, 0, 1 << 20
    pending = b""
    while True:
        if not pending:
            if pos >= len(raw) or inflate.eof:
                break
            pending = raw[pos:pos + step]
            pos += len(pending)
        total += len(inflate.decompress(pending, step))
        pending = inflate.unconsumed_tail
        if total > cap:
            break
    return total


def zip_sizes_ok(data: bytes) -> None:
    """Raise SheetTooLarge when a workbook's parts would inflate to more than
    MAX_UNZIPPED_BYTES in all, or a part inflates to more than its zip directory says (a
    reader trusting the directory would be surprised); zipfile.BadZipFile when damaged.
    An .xls (OLE2, not a zip) is bounded by its format and passes."""
    if data[:4] != b"PK\x03\x04":
        return
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = z.infolist()
        declared = sum(m.file_size for m in members)
        if declared > MAX_UNZIPPED_BYTES:
            big = max(members, key=lambda m: m.file_size)
            raise SheetTooLarge(
                f"its parts would inflate to {_size(declared)} ({big.filename}: "
                f"{_size(big.file_size)} from {_size(big.compress_size)}), more than the "
                f"{_size(MAX_UNZIPPED_BYTES)} a workbook may have here; save the table as CSV")
        view = memoryview(data)
        for member in members:
            if member.compress_type == zipfile.ZIP_STORED:
                continue
            if member.compress_type != zipfile.ZIP_DEFLATED:
                raise SheetTooLarge(f"part {member.filename} is compressed in a way "
                                    f"workbooks are not (method {member.compress_type})")
            # The data follows the local header: 30 bytes, then name and extra field.
            start = member.header_offset
            if data[start:start + 4] != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"no local header for {member.filename}")
            name_len = int.from_bytes(data[start + 26:start + 28], "little")
            extra_len = int.from_bytes(data[start + 28:start + 30], "little")
            begin = start + 30 + name_len + extra_len
            raw = view[begin:begin + member.compress_size]
            actual = _inflated_size(raw, member.file_size)
            if actual > member.file_size:
                raise SheetTooLarge(
                    f"part {member.filename} inflates to more than the "
                    f"{_size(member.file_size)} its zip directory declares (a damaged or "
                    "hostile file)")


def sheet_extents(data: bytes) -> dict[str, tuple[int, str]]:
    """Sheet name -> (cells calamine would allocate, last cell), without loading a sheet.
    Empty for .xls (an OLE2 file; bounded by its format) and unrecognised zips."""
    if data[:4] != b"PK\x03\x04":
        return {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        if "xl/workbook.xml" in names:
            out = {}
            for sheet, part in _xlsx_sheet_paths(z).items():
                out[sheet] = _xlsx_extent(z, part) if part in names else (0, "")
            return out
        if "content.xml" in names:
            return _ods_extents(z)
        if "xl/workbook.bin" in names:
            raise SheetTooLarge("this is a binary Excel workbook (.xlsb), which is not read: "
                                "save it as .xlsx or CSV")
        raise SheetTooLarge("this zip file is neither an Excel (.xlsx) nor an OpenDocument "
                            "(.ods) workbook")


def _is_ods(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "content.xml" in z.namelist() and "xl/workbook.xml" not in z.namelist()
    except zipfile.BadZipFile:
        return False


def _header_text(cell) -> str:
    """A header cell as text: a year typed as a number reads '2020', not '2020.0'."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _read_excel(data: bytes, name: str, issues: Issues) -> ReadResult:
    kind_word = "OpenDocument spreadsheet" if name.lower().endswith(".ods") else \
        "Excel workbook"
    try:
        import python_calamine as calamine
    except ImportError as exc:
        issues.add(ERROR, f"cannot read {kind_word}s here: the python-calamine package is "
                          f"not installed in this Python ({exc}); install the pinned "
                          "requirements (requirements.txt) or save the file as CSV")
        return ReadResult(kind="excel")
    try:
        zip_sizes_ok(data)
        extents = sheet_extents(data)
    except SheetTooLarge as exc:
        issues.add(ERROR, f"cannot be read: {exc}")
        return ReadResult(kind="excel")
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, ValueError) as exc:
        issues.add(ERROR, f"cannot be read as an {kind_word}: the file is damaged or not a "
                          f"workbook ({type(exc).__name__}: {str(exc)[:160]})")
        return ReadResult(kind="excel")
    if _is_ods(data):
        # calamine reads every sheet of an .ods when it opens it: refuse before opening.
        for sheet_name, (cells, last) in extents.items():
            if cells > MAX_SHEET_CELLS:
                issues.add(ERROR, f"cannot be read: sheet '{sheet_name}' spans {cells:,} "
                                  f"cells (its last cell is {last}), more than the "
                                  f"{MAX_SHEET_CELLS:,} a workbook sheet may have here; "
                                  "delete the stray cells or save the table as CSV")
                return ReadResult(kind="excel")
    try:
        workbook = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - calamine's own error names the problem
        issues.add(ERROR, f"cannot be read as an {kind_word}: the reader (python-calamine) "
                          f"failed: {str(exc)[:200] or type(exc).__name__}")
        return ReadResult(kind="excel")
    result = ReadResult(encoding="", kind="excel")
    visible = {}
    for meta in workbook.sheets_metadata:
        visible[meta.name] = str(meta.visible).lower().endswith("visible") and \
            "hidden" not in str(meta.visible).lower()
    for sheet_name in workbook.sheet_names:
        if not visible.get(sheet_name, True):
            issues.add(NOTE, f"sheet '{sheet_name}' is hidden and was not read")
            continue
        cells, last = extents.get(sheet_name, (0, ""))
        if cells > MAX_SHEET_CELLS:
            issues.add(ERROR, f"sheet '{sheet_name}' was not read: it spans {cells:,} cells "
                              f"(its last cell is {last}), more than the "
                              f"{MAX_SHEET_CELLS:,} a workbook sheet may have here; delete "
                              "the stray cells or save the table as CSV")
            continue
        try:
            sheet = workbook.get_sheet_by_name(sheet_name)
            if sheet.height * sheet.width > MAX_SHEET_CELLS:
                issues.add(ERROR, f"sheet '{sheet_name}' was not read: it spans "
                                  f"{sheet.height * sheet.width:,} cells, more than the "
                                  f"{MAX_SHEET_CELLS:,} a workbook sheet may have here; "
                                  "save the table as CSV")
                continue
            rows = sheet.to_python(skip_empty_area=False)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad sheet is named, not a crash
            issues.add(ERROR, f"sheet '{sheet_name}' cannot be read: the reader "
                              f"(python-calamine) failed: {str(exc)[:200] or type(exc).__name__}")
            continue
        text_rows = [[c if isinstance(c, str) else "" for c in r] for r in rows[:40]]
        index = columns.find_header(text_rows)
        if index is None:
            if any(any(str(c).strip() for c in r) for r in rows):
                issues.add(NOTE, f"sheet '{sheet_name}' was not read: "
                                 + columns.sheet_skip_reason(sheet_name, rows[:40]))
            continue
        headers = [_header_text(c) for c in rows[index]]
        width = len(headers)
        body = [list(r[:width]) + [""] * (width - len(r)) for r in rows[index + 1:]]
        extra = [(i, r) for i, r in enumerate(rows[index + 1:], start=index + 2)
                 if len(r) > width and any(str(c).strip() for c in r[width:])]
        label = f"{name} [{sheet_name}]"
        frame = pd.DataFrame(body, columns=range(width), dtype=object) if body else \
            pd.DataFrame({i: pd.Series(dtype=object) for i in range(width)})
        title = " ".join(" ".join(str(c) for c in r if str(c).strip()) for r in rows[:index])
        above = [list(r[:width]) + [""] * (width - len(r[:width]))
                 for r in rows[max(0, index - ABOVE_ROWS):index]]
        table = RawTable(label, sheet_name, headers, frame,
                         np.arange(index + 2, index + 2 + len(body)), title, "", index + 1,
                         above)
        result.tables.append(table)
        result.sheets.append(sheet_name)
        for row_number, _ in extra[:5]:
            issues.add_rows(NOTE, "cells to the right of the table were not read", None,
                            [row_number])
    if not result.tables and not any(i.level == ERROR for i in issues.items):
        issues.add(ERROR, "missing required columns: no sheet has a header row naming the "
                          "area and period columns (see the template)")
    return result


# --- Parquet ---------------------------------------------------------------------------

def _read_parquet(data: bytes, name: str, issues: Issues) -> ReadResult:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(io.BytesIO(data))
    meta = parquet.metadata
    cells = meta.num_rows * meta.num_columns
    if cells > MAX_TABLE_CELLS:
        issues.add(ERROR, f"cannot be read: the Parquet file holds {meta.num_rows:,} rows of "
                          f"{meta.num_columns} columns ({cells:,} cells), more than the "
                          f"{MAX_TABLE_CELLS:,} a Parquet file may have here; save it as "
                          "CSV (large CSV files are read in parts)")
        return ReadResult(kind="parquet")
    # Row group by row group, so a column that decodes to gigabytes (long texts repeated,
    # a few bytes on disk) is refused before the next is read.
    groups, decoded = [], 0
    for i in range(meta.num_row_groups):
        group = parquet.read_row_group(i)
        decoded += group.nbytes
        if decoded > MAX_UNZIPPED_BYTES:
            issues.add(ERROR, f"cannot be read: the Parquet file's {meta.num_rows:,} rows "
                              f"decode to more than {_size(MAX_UNZIPPED_BYTES)} (by row "
                              f"group {i + 1} of {meta.num_row_groups}); it is not an "
                              "extract this dashboard can read")
            return ReadResult(kind="parquet")
        groups.append(group)
    table = pa.concat_tables(groups) if groups else parquet.schema_arrow.empty_table()
    del groups
    frame = table.to_pandas()
    del table
    headers = [str(c) for c in frame.columns]
    frame.columns = range(len(headers))
    if not columns.looks_like_header(headers):
        issues.add(ERROR, "missing required columns: the Parquet file has no area and "
                          f"period columns (it has {', '.join(headers[:12])})")
        return ReadResult(kind="parquet")
    return ReadResult([RawTable(name, None, headers, frame,
                                np.arange(2, len(frame) + 2), "", "", 1)], "", [], "parquet")


# --- Large CSV files, in chunks -----------------------------------------------------------
#
# A file of millions of rows is read a block at a time (pyarrow's streaming reader), so
# memory follows the block, not the file. Only the plain case streams: UTF-8 text (with or
# without a byte-order mark) in which every line after the header is one row. Anything
# else (another encoding, a row spread over lines, a ragged row) raises StreamFallback
# and the file is read whole by read_bytes, with the same messages as a small file.

class StreamFallback(Exception):
    """This file cannot be streamed; read it whole."""


@dataclass
class CsvLayout:
    delimiter: str
    headers: list[str]
    header_index: int              # rows (as the csv module counts them) above the header
    header_line: int               # the header's line in the file (1-based)
    title: str
    encoding: str
    bom: bool


def csv_layout(head: bytes) -> CsvLayout | None:
    """The layout of a CSV from its first bytes, or None if it must be read whole."""
    bom = head.startswith(b"\xef\xbb\xbf")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or sniff_kind(head, "") != "csv":
        return None
    body = head[3:] if bom else head
    cut = body.rfind(b"\n")
    if cut <= 0:
        return None                # one line (or none) in the head: not worth streaming
    try:
        text = body[:cut + 1].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text[:8192]:
        return None
    best = _best_header(text)
    if best is None:
        return None
    delimiter, rows, starts, index = best
    title = " ".join(" ".join(c for c in r if c) for r in rows[:index])
    return CsvLayout(delimiter, [h.strip() for h in rows[index]], index, starts[index],
                     title, "UTF-8 with BOM" if bom else "UTF-8", bom)


def _open_stream(source, layout: CsvLayout, block_bytes: int, include=None):
    """Arrow's streaming CSV reader over the rows under the header, every cell as text,
    columns named c0, c1, ... (`include`: only those)."""
    names = [f"c{i}" for i in range(len(layout.headers))]
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(skip_rows=layout.header_index + 1,
                                       column_names=names, block_size=block_bytes),
        parse_options=pacsv.ParseOptions(delimiter=layout.delimiter,
                                         ignore_empty_lines=False, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, include_columns=include or [],
            strings_can_be_null=False, quoted_strings_can_be_null=False))


def iter_csv_chunks(source, layout: CsvLayout, name: str, lines: Callable[[], int],
                    block_bytes: int):
    """RawTables of consecutive rows of a CSV (`source`: a path or a binary file object),
    each about `block_bytes` of the file, with the file's line numbers. `lines()` gives
    the number of lines in the file (asked only at the end, so it can be counted
    meanwhile); if the rows read do not account for every line after the header,
    StreamFallback is raised once the end is reached (a caller keeps nothing from the
    chunks already seen)."""
    try:
        reader = _open_stream(source, layout, block_bytes)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise StreamFallback(str(exc)) from exc
    first = layout.header_line + 1
    seen = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError) as exc:
            raise StreamFallback(str(exc)) from exc
        if batch.num_rows == 0:
            continue
        frame = batch.to_pandas()
        frame.columns = range(len(layout.headers))
        numbers = np.arange(first + seen, first + seen + batch.num_rows)
        seen += batch.num_rows
        yield RawTable(name, None, layout.headers, frame, numbers, layout.title,
                       layout.encoding, layout.header_line)
    if seen == 0:                  # a header and nothing under it: one empty table
        empty = pd.DataFrame({i: pd.Series(dtype=object) for i in range(len(layout.headers))})
        yield RawTable(name, None, layout.headers, empty, np.zeros(0, dtype=int),
                       layout.title, layout.encoding, layout.header_line)
    expected = lines() - layout.header_line
    if seen != expected:
        raise StreamFallback(f"{seen} rows for {expected} lines")


def csv_value_counts(source, layout: CsvLayout, positions: list[int], block_bytes: int
                     ) -> dict[tuple, int]:
    """Rows per distinct combination of the cells in columns `positions` (in order of first
    appearance), a block at a time: a first pass over a large CSV for what must be decided
    on the whole file. Raises StreamFallback where iter_csv_chunks would."""
    wanted = [f"c{i}" for i in positions]
    try:
        reader = _open_stream(source, layout, block_bytes, include=wanted)
        counts: dict[tuple, int] = {}
        for batch in reader:
            table = pa.Table.from_batches([batch])
            grouped = table.group_by(wanted, use_threads=False).aggregate(
                [(wanted[0], "count")])
            keys = [grouped.column(w).to_pylist() for w in wanted]
            for combo, n in zip(zip(*keys), grouped.column(f"{wanted[0]}_count").to_pylist()):
                counts[combo] = counts.get(combo, 0) + n
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError, OSError) as exc:
        raise StreamFallback(str(exc)) from exc
    return counts
