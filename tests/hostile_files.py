"""Hostile extract files, built small and fast for the tests (no fixture files: each is
a few kilobytes to a few megabytes and takes well under a second to make).

- `xlsx_last_cell()`: a header and one number at XFD1048576, the sheet XML written by
  hand with single-quoted attributes (valid XML that a reader's shortcuts may miss);
  reading it as a whole sheet would need 17 billion cells (512 GiB).
- `xlsx_deflate_bomb(size)`: a workbook whose one text cell inflates to `size` bytes of
  'A' from about size/1000 bytes, built from one repeated deflate block, the zip written
  by hand (zipfile would have to compress every byte).
- `parquet_run_length(rows)`: a Parquet file of `rows` rows of one long repeated text,
  dictionary and run-length encoded into a few kilobytes.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_START = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               '<sheetData>')
SHEET_END = '</sheetData></worksheet>'
HEADER_ROW = ("<row r='1'>" + "".join(
    f"<c r='{col}1' t='inlineStr'><is><t>{name}</t></is></c>"
    for col, name in zip("ABCD", ("indicator_id", "area_code", "period", "value"))) + "</row>")
PARTS = {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS,
         "xl/workbook.xml": WORKBOOK, "xl/_rels/workbook.xml.rels": WORKBOOK_RELS}


def xlsx_last_cell() -> bytes:
    sheet = (SHEET_START + HEADER_ROW +
             "<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>" + SHEET_END)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in PARTS.items():
            z.writestr(name, text)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


def _deflate_repeated(prefix: bytes, block: bytes, times: int, suffix: bytes
                      ) -> tuple[bytes, int, int]:
    """Raw deflate data of prefix + block * times + suffix, its CRC-32 and length. After a
    full flush the compressor starts afresh, so every copy of `block` compresses to the
    same bytes: compress it twice and repeat the second."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    c.compress(block)
    c.flush(zlib.Z_FULL_FLUSH)
    c.compress(block)
    unit = c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    return head + unit * times + tail, crc, len(prefix) + len(block) * times + len(suffix)


def _zip_raw(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of already deflated members (name, raw deflate data, crc, size)."""
    out, central = io.BytesIO(), []
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data),
                              size, len(encoded), 0) + encoded + data)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc,
                                   len(data), size, len(encoded), 0, 0, 0, 0, 0, offset)
                       + encoded)
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                          out.tell() - start, start, 0))
    return out.getvalue()


def xlsx_deflate_bomb(size: int = 1_500_000_000) -> bytes:
    block = b"A" * (1 << 20)
    prefix = (SHEET_START + HEADER_ROW + "<row r='2'><c r='A2' t='inlineStr'><is><t>").encode()
    suffix = ("</t></is></c></row>" + SHEET_END).encode()
    data, crc, length = _deflate_repeated(prefix, block, max(1, size // len(block)), suffix)
    members = []
    for name, text in PARTS.items():
        raw = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = raw.compress(text.encode()) + raw.flush()
        members.append((name, body, zlib.crc32(text.encode()), len(text.encode())))
    members.append(("xl/worksheets/sheet1.xml", data, crc, length))
    return _zip_raw(members)


def parquet_run_length(rows: int = 6_000_000, text_bytes: int = 1000) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # One distinct value per column: the dictionary holds it once and the indices are a
    # single run, so millions of rows take a few kilobytes on disk.
    columns = {name: pa.DictionaryArray.from_arrays(
        pa.array([0] * rows, type=pa.int8()) if rows < 50_000 else
        pa.repeat(pa.scalar(0, pa.int8()), rows), pa.array([value]))
        for name, value in (("indicator_id", "continuity_of_care"),
                            ("area_code", "E10000013"), ("period", "2023/24 Q1"),
                            ("value_note", "x" * text_bytes))}
    buf = io.BytesIO()
    # Without the Arrow schema a reader does not know the columns were dictionaries, and
    # decodes every row's text in full.
    pq.write_table(pa.table(columns), buf, compression="zstd", store_schema=False)
    return buf.getvalue()


def xlsx_far_row() -> bytes:
    """One cell at XFD1 and one, without a reference, in row 1048576: the rectangle is
    again the whole sheet, but no cell reference says so (the reader places the cell by
    its row), so only reading it shows the size."""
    sheet = (SHEET_START + HEADER_ROW.replace("</row>", "<c r='XFD1'><v>1</v></c></row>")
             + "<row r='1048576'><c><v>1</v></c></row>" + SHEET_END)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in PARTS.items():
            z.writestr(name, text)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()
