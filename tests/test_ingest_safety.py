"""No file may crash the loader or stop the app from serving.

- Hostile files (tests/hostile_files.py builds them, small): a workbook whose one cell
  at XFD1048576 would make the reader allocate 512 GiB and abort the process, a deflate
  bomb, a run-length encoded Parquet file that decodes to gigabytes. Each is refused,
  quickly, with a message naming the file and the limit; loads run in a subprocess here
  (the command line), so a failure of the guard kills that, not pytest.
- A breakdown-only extract on top of four periods of history (it crashed the history
  check).
- The drop folder: a file that crashed its reader, a load that failed unexpectedly, a load
  that never finished, and the app started with hostile files waiting, every page served.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metrics import store
from metrics.ingest import drop, load, readers
from metrics.ingest.model import ERROR, Issues
from tests import hostile_files

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
# Each hostile file is refused in seconds (measured 0.1-0.3 s in the reading child, 2-4 s
# for the whole command with its imports); the bound leaves room for a busy machine.
REFUSED_WITHIN_S = 90

# Four quarters of continuity of care for Gloucestershire are in long_format.csv; this is
# its sex breakdown for the last of them, and nothing else.
SEX_ONLY = ("indicator_id,area_code,period,breakdown,category,numerator,denominator\n"
            "continuity_of_care,E10000013,12 months to 2023/24 Q4,sex,Male,200,400\n"
            "continuity_of_care,E10000013,12 months to 2023/24 Q4,sex,Female,140,240\n")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


def _cli_load(path: Path, data_dir: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "CDP_DATA_DIR": str(data_dir)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "metrics.ingest", "load", str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=REFUSED_WITHIN_S * 2)
    return done, time.monotonic() - started


HOSTILE = {
    # name: (builder, words the refusal must contain)
    "last_cell.xlsx": (hostile_files.xlsx_last_cell, ("XFD1048576", "10,000,000")),
    "far_row.xlsx": (hostile_files.xlsx_far_row, ("crashed", "4 GiB")),
    "deflate_bomb.xlsx": (hostile_files.xlsx_deflate_bomb, ("inflate", "1 GiB")),
    "run_length.parquet": (hostile_files.parquet_run_length, ("24,000,000 cells",
                                                              "10,000,000")),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_file_is_refused_quickly_and_the_loader_survives(data_dir, tmp_path, name):
    build, words = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(build())
    done, seconds = _cli_load(path, data_dir)
    # Refused (exit 1), not killed by a signal (negative) or crashed (a traceback).
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert seconds < REFUSED_WITHIN_S, seconds
    refusal = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert refusal and name in refusal[0], done.stderr[-2000:]
    for word in words:
        assert word in done.stderr, (word, done.stderr[-2000:])
    with pytest.raises(store.NoPublishedData):
        store.current_version(data_dir)


def test_a_reader_that_needs_more_memory_than_allowed_is_stopped():
    # 2,000,000 rows of a 4,000-character text: 8,000,000 cells (within the count), one
    # row group that decodes to 8 GB in a single allocation.
    data = hostile_files.parquet_run_length(2_000_000, 4000)
    issues = Issues("long_texts.parquet")
    started = time.monotonic()
    result = readers.read_guarded(data, "long_texts.parquet", issues)
    assert time.monotonic() - started < REFUSED_WITHIN_S
    assert result.tables == []
    (issue,) = issues.items
    assert issue.level == ERROR and issue.file == "long_texts.parquet"
    assert "needed more than the 4 GiB of memory" in issue.problem


def test_a_read_that_takes_too_long_is_stopped():
    issues = Issues("slow.csv")
    result = readers.read_guarded((FIXTURES / "long_format.csv").read_bytes(), "slow.csv",
                                  issues, seconds=0)
    assert result.tables == []
    assert "took longer than the 0 seconds" in issues.items[0].problem


def test_a_part_larger_than_its_zip_directory_says_is_refused():
    data = bytearray(hostile_files.xlsx_deflate_bomb(50_000_000))
    # Declare the sheet part (the last local header and its central entry) as 1 KB.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.rfind(signature)
        data[at + offset:at + offset + 4] = (1024).to_bytes(4, "little")
    issues = Issues("liar.xlsx")
    readers.read_guarded(bytes(data), "liar.xlsx", issues)
    assert "inflates to more than the 1 KiB its zip directory declares" in \
        issues.items[0].problem, issues.items


def test_good_files_read_the_same_through_the_guard():
    for name in ("long_format.csv", "ndtms_continuity.xlsx"):
        data = (FIXTURES / name).read_bytes()
        guarded, direct = Issues(name), Issues(name)
        a = readers.read_guarded(data, name, guarded)
        b = readers.read_bytes(data, name, direct)
        assert [str(i) for i in guarded.items] == [str(i) for i in direct.items]
        assert len(a.tables) == len(b.tables) >= 1
        for x, y in zip(a.tables, b.tables):
            assert x.headers == y.headers and x.label == y.label
            assert x.data.equals(y.data)
            assert list(x.row_numbers) == list(y.row_numbers)


# --- a breakdown-only extract ------------------------------------------------------------------

def test_a_breakdown_only_file_loads_on_four_periods_of_history(data_dir, tmp_path):
    assert load([FIXTURES / "long_format.csv"], data_dir).published
    sex = tmp_path / "continuity_by_sex.csv"
    sex.write_text(SEX_ONLY)
    report = load([sex], data_dir)
    assert report.published, [str(i) for i in report.issues]
    values = store.read_table(store.current_version(data_dir), "values")
    mine = values[(values["breakdown"] == "sex") & (values["area_code"] == "E10000013")]
    assert sorted(mine["category"]) == ["Female", "Male"]


# --- the drop folder ------------------------------------------------------------------------

def _drop(data_dir: Path, files: dict[str, bytes]) -> Path:
    incoming = data_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (incoming / name).write_bytes(data)
    return incoming


def test_a_file_that_crashes_its_reader_is_moved_to_refused_with_a_report(data_dir):
    incoming = _drop(data_dir, {"far_row.xlsx": hostile_files.xlsx_far_row()})
    report = drop.load_drop_folder(data_dir)
    assert not report.published and report.errors
    (folder,) = (incoming / "refused").iterdir()
    assert (folder / "far_row.xlsx").exists() and drop.pending(incoming) == []
    text = (folder / "report.txt").read_text()
    assert "far_row.xlsx" in text and "crashed" in text and "4 GiB" in text
    assert not (data_dir / drop.ATTEMPT).exists()


def test_a_load_that_fails_unexpectedly_refuses_the_files(data_dir, monkeypatch):
    incoming = _drop(data_dir, {"long_format.csv": (FIXTURES / "long_format.csv").read_bytes()})

    def broken(*args, **kwargs):
        raise KeyError("no such column")

    monkeypatch.setattr(drop, "load", broken)
    report = drop.load_drop_folder(data_dir)
    assert not report.published
    (folder,) = (incoming / "refused").iterdir()
    text = (folder / "report.txt").read_text()
    assert "long_format.csv" in text and "KeyError" in text
    assert drop.pending(incoming) == []


def test_the_files_of_a_load_that_never_finished_are_set_aside(data_dir):
    """The process died during the load (the marker is left, its lock is free): the next
    start moves those files to refused/ instead of loading them again, and loads the
    files that arrived since."""
    incoming = _drop(data_dir, {"killer.xlsx": b"PK\x03\x04 whatever it was",
                                "long_format.csv": (FIXTURES / "long_format.csv")
                                .read_bytes()})
    (data_dir / drop.ATTEMPT).write_text(json.dumps(
        {"files": ["killer.xlsx"], "pid": 1, "started": "2026-01-01T00:00:00+00:00"}))
    report = drop.load_drop_folder(data_dir)
    assert report.published and [f.name for f in report.files] == ["long_format.csv"]
    (folder,) = (incoming / "refused").iterdir()
    assert (folder / "killer.xlsx").exists()
    text = (folder / "report.txt").read_text()
    assert "killer.xlsx" in text and "never finished" in text and "2026-01-01" in text
    assert not (data_dir / drop.ATTEMPT).exists() and drop.pending(incoming) == []


def test_the_app_serves_every_page_with_hostile_files_in_the_drop_folder(data_dir):
    """The start-up load of the drop folder meets a workbook that crashes its reader and a
    breakdown-only file: both are refused together (one load), moved to refused/ with a
    report, and every page serves the last published version."""
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    first = load([FIXTURES / "long_format.csv"], data_dir)
    assert first.published
    incoming = _drop(data_dir, {"far_row.xlsx": hostile_files.xlsx_far_row(),
                                "last_cell.xlsx": hostile_files.xlsx_last_cell(),
                                "continuity_by_sex.csv": SEX_ONLY.encode()})
    error_details = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        captions = [str(c.value) for c in at.sidebar.caption]
        assert any("refused at start-up" in c for c in captions), captions
        for page in sorted((ROOT / "pages").glob("*.py")):
            if page.name.startswith("_"):
                continue
            at.switch_page(page.relative_to(ROOT).as_posix())
            at.run()
            assert not at.exception, (page.name, [e.message for e in at.exception])
    finally:
        config.set_option("client.showErrorDetails", error_details)
    assert store.current_version_id(data_dir) == first.version
    (folder,) = (incoming / "refused").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "continuity_by_sex.csv", "far_row.xlsx", "last_cell.xlsx", "report.txt"]
    text = (folder / "report.txt").read_text()
    assert "far_row.xlsx" in text and "XFD1048576" in text


def test_the_app_serves_when_the_drop_folder_load_itself_fails(data_dir, monkeypatch):
    """Whatever goes wrong in the start-up load (a full disk, a bug), the app serves the
    last published version and says so."""
    from streamlit.testing.v1 import AppTest

    from metrics import ingest

    first = load([FIXTURES / "long_format.csv"], data_dir)
    _drop(data_dir, {"long_format.csv": (FIXTURES / "long_format.csv").read_bytes()})

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ingest, "load_drop_folder", broken)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    captions = [str(c.value) for c in at.sidebar.caption]
    assert any("could not be loaded at start-up (OSError)" in c for c in captions), captions
    assert store.current_version_id(data_dir) == first.version
