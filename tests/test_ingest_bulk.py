"""Large loads: a CSV read in chunks, its rows kept on disk and checked with DuckDB, must
give the same result as the same file read whole: the same messages, rows, comparison
with the published version and published file. The tests force the chunked path on
small files (tiny thresholds) so every chunk boundary is crossed; the benchmark
(bench/bench_ingest.py) measures time and memory at millions of rows."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from metrics import store
from metrics.ingest import load, loading, readers, streaming

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
BROKEN = FIXTURES / "broken"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def chunked(monkeypatch):
    """Every file read in chunks of a few hundred bytes (a few rows each)."""
    def force():
        monkeypatch.setattr(loading, "STREAM_BYTES", 0)
        monkeypatch.setattr(loading, "STREAM_CHUNK_BYTES", 400)
    return force


def _issues(report) -> list[str]:
    return [f"{i.level}: {i}" for i in report.issues]


def _published(data_dir: Path) -> pd.DataFrame:
    return store.read_table(store.current_version(data_dir), "values")


def _both(files_of, tmp_path, chunked, monkeypatch, base_files=(), **kwargs):
    """Load the same files with each path, each on its own copy of the base version."""
    out = []
    for mode in ("whole", "chunked"):
        data_dir = tmp_path / mode
        for base in base_files:
            assert load([base], data_dir).published
        if mode == "chunked":
            chunked()
        report = load(files_of(), data_dir, **kwargs)
        out.append((report, data_dir))
        monkeypatch.undo()
    return out


def _same_report(whole, chunks):
    assert _issues(chunks) == _issues(whole)
    assert chunks.rows_to_publish == whole.rows_to_publish
    assert chunks.values_changed == whole.values_changed
    assert [f.as_manifest() for f in chunks.files] == [f.as_manifest() for f in whole.files]
    assert chunks.published == whole.published
    if whole.rows_to_publish:
        a = whole.values.reset_index(drop=True)
        b = chunks.values.reset_index(drop=True)
        pd.testing.assert_frame_equal(b, a.head(len(b)), check_dtype=False)


@pytest.mark.parametrize("name", ["long_format.csv", "fingertips_export.csv",
                                  "fingertips_export_bom.csv", "windows_1252.csv"])
def test_a_file_read_in_chunks_loads_as_when_read_whole(name, tmp_path, chunked,
                                                       monkeypatch):
    (whole, dir_a), (chunks, dir_b) = _both(lambda: [FIXTURES / name], tmp_path, chunked,
                                            monkeypatch)
    assert whole.published, _issues(whole)
    _same_report(whole, chunks)
    pd.testing.assert_frame_equal(_published(dir_b), _published(dir_a))


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.csv")))
def test_broken_files_give_the_same_messages_in_chunks(name, tmp_path, chunked, monkeypatch):
    (whole, _), (chunks, _) = _both(lambda: [BROKEN / name], tmp_path, chunked, monkeypatch,
                                    dry_run=True)
    _same_report(whole, chunks)


def test_a_reissue_in_chunks_compares_with_the_published_version_the_same_way(
        tmp_path, chunked, monkeypatch):
    extra = tmp_path / "extra.csv"
    # An older period never published, a value far outside the history, a changed value
    # (and the same (indicator, area, period) re-issued: superseded keys).
    lines = ["indicator_id,area_code,period,numerator,denominator",
             "continuity_of_care,E10000013,12 months to 2022/23 Q4,250,600",
             "continuity_of_care,E10000013,12 months to 2024/25 Q2,640,700"]
    base = pd.read_csv(FIXTURES / "long_format.csv", dtype=str)
    for _, r in base.head(12).iterrows():
        if r.get("indicator_id") == "continuity_of_care" and str(r.get("numerator")).isdigit():
            lines.append(f"{r['indicator_id']},{r['area_code']},{r['period']},"
                         f"{int(float(r['numerator'])) + 1},{r['denominator']}")
    extra.write_text("\n".join(lines) + "\n")
    (whole, dir_a), (chunks, dir_b) = _both(lambda: [extra], tmp_path, chunked, monkeypatch,
                                            base_files=[FIXTURES / "long_format.csv"])
    assert whole.published and whole.warnings
    assert any("older than the latest published" in str(w) for w in whole.warnings)
    assert any("far outside the area's published history" in str(w)
               for w in whole.warnings)
    _same_report(whole, chunks)
    assert chunks.keys_superseded == whole.keys_superseded == len(whole.superseded) > 0
    pd.testing.assert_frame_equal(
        chunks.superseded.astype(str).sort_values(list(chunks.superseded.columns))
        .reset_index(drop=True),
        whole.superseded.astype(str).sort_values(list(whole.superseded.columns))
        .reset_index(drop=True))
    pd.testing.assert_frame_equal(_published(dir_b), _published(dir_a))
    ma = store.current_version(dir_a).manifest
    mb = store.current_version(dir_b).manifest
    for key in ("rows", "rows_added", "rows_superseded", "superseded_keys", "superseded"):
        assert mb[key] == ma[key], key
    keys = [store.read_table(store.current_version(d), "superseded") for d in (dir_a, dir_b)]
    assert keys[1].dtypes.tolist() == keys[0].dtypes.tolist()
    pd.testing.assert_frame_equal(
        keys[1].sort_values(list(keys[1].columns)).reset_index(drop=True),
        keys[0].sort_values(list(keys[0].columns)).reset_index(drop=True))


def test_duplicates_across_chunks_and_files_name_the_first_row(tmp_path, chunked,
                                                             monkeypatch):
    copy = tmp_path / "again.csv"
    copy.write_bytes((FIXTURES / "long_format.csv").read_bytes())
    (whole, _), (chunks, _) = _both(lambda: [FIXTURES / "long_format.csv", copy], tmp_path,
                                    chunked, monkeypatch, dry_run=True)
    assert any("duplicate rows" in str(i) and str(i).startswith("again.csv")
               for i in chunks.errors)
    _same_report(whole, chunks)


def _many_bad_rows(path: Path, rows: int) -> None:
    codes = pd.read_csv(store.REFERENCE_DIR / "areas.csv", dtype=str)
    codes = codes.loc[codes["area_type"] == "utla", "area_code"].to_numpy()
    frame = pd.DataFrame({
        "indicator_id": "continuity_of_care",
        "area_code": np.resize(codes, rows),
        "period": [f"12 months to {2000 + i // len(codes) % 25}/"
                   f"{(1 + i // len(codes) % 25) % 100:02d} Q4" for i in range(rows)],
        "numerator": ["abc"] * rows,                  # every row: not a number
        "denominator": np.resize(np.arange(50, 90), rows)})
    frame.to_csv(path, index=False)


def test_a_file_of_bad_rows_gives_a_few_grouped_messages(data_dir, tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    _many_bad_rows(bad, 20_000)
    monkeypatch.setattr(loading, "STREAM_BYTES", 0)
    monkeypatch.setattr(loading, "STREAM_CHUNK_BYTES", 50_000)       # about 30 chunks
    report = load([bad], data_dir, dry_run=True)
    assert not report.ok and len(report.issues) <= 5, _issues(report)
    message = next(i for i in report.errors if "not a number: 'abc'" in i.problem)
    assert message.row_count == 20_000 and message.rows == [2, 3, 4, 5, 6]
    assert "and 19,995 more" in str(message)


def test_a_row_over_two_lines_is_read_whole_with_exact_line_numbers(tmp_path, chunked,
                                                                  monkeypatch):
    odd = tmp_path / "multiline.csv"
    odd.write_text("indicator_id,area_code,period,numerator,denominator,value_note\n"
                   "continuity_of_care,E10000013,12 months to 2023/24 Q4,340,640,\n"
                   'continuity_of_care,E06000052,12 months to 2023/24 Q4,-5,600,"first\n'
                   'second"\n'
                   "continuity_of_care,E08000025,12 months to 2023/24 Q4,-1,600,\n")
    (whole, _), (chunks, _) = _both(lambda: [odd], tmp_path, chunked, monkeypatch,
                                    dry_run=True)
    assert any("rows 3, 5" in str(i) and "negative count" in str(i) for i in whole.errors)
    _same_report(whole, chunks)


def test_a_large_file_is_not_read_into_memory_and_leaves_nothing_behind(data_dir,
                                                                        monkeypatch):
    monkeypatch.setattr(loading, "STREAM_BYTES", 100)
    monkeypatch.setattr(loading, "STREAM_CHUNK_BYTES", 1024)
    [source] = loading.sources_from_paths([FIXTURES / "long_format.csv"])
    assert source.data is None and source.path is not None
    report = load([FIXTURES / "long_format.csv"], data_dir)
    assert report.published and report.rows_to_publish == 28
    assert report.files[0].rows_loaded == 28
    assert list((data_dir / store.SPOOL_DIR).iterdir()) == []


def test_a_spool_left_by_a_killed_load_is_removed(data_dir):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = data_dir / store.SPOOL_DIR / f"{dead}-0000abcd"
    left.mkdir(parents=True)
    live = data_dir / store.SPOOL_DIR / f"{os.getpid()}-0000abcd"
    live.mkdir()
    store.remove_interrupted(data_dir)
    assert not left.exists() and live.exists()       # a running load's folder is kept


def _good_rows(path: Path, rows: int) -> None:
    codes = pd.read_csv(store.REFERENCE_DIR / "areas.csv", dtype=str)
    codes = codes.loc[codes["area_type"] == "utla", "area_code"].to_numpy()[::-1]
    frame = pd.DataFrame({
        "indicator_id": "continuity_of_care",
        "area_code": np.resize(codes, rows),          # areas interleaved, not in order
        "period": [f"12 months to {2000 + i // len(codes)}/"
                   f"{(1 + i // len(codes)) % 100:02d} Q4" for i in range(rows)],
        "numerator": 30, "denominator": np.resize(np.arange(50, 90), rows)})
    frame.to_csv(path, index=False)


def test_published_values_are_sorted_in_small_row_groups_with_the_same_schema(
        data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(store.writing, "ROW_GROUP_ROWS", 2048)
    extract = tmp_path / "many.csv"
    _good_rows(extract, 3_500)
    report = load([FIXTURES / "long_format.csv", FIXTURES / "fingertips_export.csv",
                   extract], data_dir)
    assert report.published, _issues(report)
    path = store.current_version(data_dir).path / "values.parquet"
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(sizes) > 3_500 and len(sizes) >= 2 and max(sizes) <= 2048
    # Row group statistics let a query of one area skip the others.
    stats = meta.row_group(0).column(1).statistics
    assert stats.has_min_max and stats.max < meta.row_group(1).column(1).statistics.max
    values = pd.read_parquet(path)
    keys = values[["indicator_id", "area_code"]].astype(str).agg("|".join, axis=1)
    assert keys.is_monotonic_increasing
    # The schema pandas writes for the long format, types and metadata alike.
    expected = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             store.VALUES_COLUMNS.items()})
    expected.to_parquet(data_dir / "expected.parquet", index=False)
    assert pq.read_schema(path).equals(pq.read_schema(data_dir / "expected.parquet"),
                                       check_metadata=True)
    assert dict(values.dtypes.astype(str)) == {c: str(pd.Series(dtype=t).dtype) for c, t in
                                               store.VALUES_COLUMNS.items()}


def test_csv_layout_leaves_other_encodings_to_the_whole_file_reader():
    assert readers.csv_layout((FIXTURES / "windows_1252.csv").read_bytes()) is None
    assert readers.csv_layout("a,b\n".encode("utf-16")) is None
    assert readers.csv_layout(b"PK\x03\x04rest") is None
    layout = readers.csv_layout((FIXTURES / "fingertips_export_bom.csv").read_bytes())
    assert layout is not None and layout.bom and layout.encoding == "UTF-8 with BOM"


def test_an_all_areas_export_read_in_chunks_skips_the_district_copies_of_uas(
        data_dir, tmp_path, chunked):
    """A Fingertips "all areas" export lists unitary authorities under counties and again
    under districts; in a large file ordered by area type the two lists fall in different
    chunks, so the whole file decides that the district list's copies are skipped (they
    were refused as duplicates, one message per row)."""
    real = ROOT / "tests" / "fixtures" / "real" / "areas" / "unmet_opiates.csv"
    lines = real.read_text(encoding="utf-8").splitlines()
    again = [line.replace(",UA,", ",Districts & UAs (from Apr 2023),")
             for line in lines[1:] if ",UA," in line]
    path = tmp_path / "all_areas.csv"
    path.write_text("\n".join(lines + again) + "\n", encoding="utf-8")
    chunked()
    report = load([path], data_dir, dry_run=True)
    assert report.ok, _issues(report)
    assert len(report.values) == 13
    # One note per chunk that skipped rows (a chunk's note counts its own rows).
    notes = [str(i) for i in report.issues if "skipped" in str(i)]
    assert notes and all("Districts & UAs (from Apr 2023)" in n for n in notes), notes


# --- the threads beside the checks (streaming._read_ahead, _SpoolWriter) ------------------

def _threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_read_ahead_gives_every_item_in_order_then_the_sources_error():
    def source():
        yield from range(5)
        raise readers.StreamFallback("3 rows for 4 lines")

    seen = []
    with pytest.raises(readers.StreamFallback, match="3 rows for 4 lines"):
        for item in streaming._read_ahead(source()):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]
    assert _threads("cdp-csv-read-ahead") == []


def test_read_ahead_stopped_early_closes_its_source_and_ends_its_thread():
    closed = []

    def source():
        try:
            yield from range(1000)
        finally:
            closed.append(True)

    with contextlib.closing(streaming._read_ahead(source())) as ahead:
        for item in ahead:
            if item == 2:
                break
    assert closed == [True]
    assert _threads("cdp-csv-read-ahead") == []


def test_a_failed_spool_write_fails_the_load_publishes_nothing_and_ends_its_threads(
        data_dir, tmp_path, chunked, monkeypatch):
    assert load([FIXTURES / "long_format.csv"], data_dir).published
    before = store.current_version(data_dir).id
    chunked()
    writes = []

    def full_disk(self, table):
        writes.append(table.num_rows)
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        return original(self, table)

    original = store.Spool.append
    monkeypatch.setattr(store.Spool, "append", full_disk)
    with pytest.raises(OSError, match="No space left"):
        load([FIXTURES / "long_format.csv"], data_dir)
    assert store.current_version(data_dir).id == before
    assert _threads("cdp-spool-write") == [] and _threads("cdp-csv-read-ahead") == []
    assert _threads("cdp-checksum") == []
