"""Loads that can never lose or corrupt published data.

- a re-issue replaces only the rows it holds (the area total and each breakdown row
  separately) and the report lists what it replaces and what it keeps;
- a missing published/CURRENT is recovered from the publish log, never papered over with
  demonstration data or a one-file snapshot;
- every published file's SHA-256 is in its version's manifest and checked on opening; a
  damaged version is refused and the last good one served, saying so;
- version ids grow past v9999, failed loads leave no staging folders behind, and no
  message lists 100,000 column names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics import store
from metrics.ingest import load, loading, versions

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
AREA = "E10000013"          # Gloucestershire
HEADER = "indicator_id,area_code,period,breakdown,category,numerator,denominator\n"
# The continuity of care breakdowns boards ask for: 11 rows per area and quarter.
BREAKDOWNS = {"substance": ["Opiate", "Non-opiate only", "Non-opiate and alcohol",
                            "Alcohol only"],
              "age": ["18-29", "30-39", "40-49", "50+"],
              "prison": ["HMP Bristol", "HMP Gloucester", "Other prisons"]}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


def _continuity(path: Path, quarters=(1, 2), total: bool = True, breakdowns=BREAKDOWNS,
                engaged: int = 90) -> Path:
    """A long-format continuity of care extract for one area: the total and/or breakdown
    rows (each breakdown's categories add up to the total: 180 leavers a quarter)."""
    lines = [HEADER]
    for q in quarters:
        period = f"2024/25 Q{q}"
        if total:
            lines.append(f"continuity_of_care,{AREA},{period},,,{engaged},180\n")
        for breakdown, categories in breakdowns.items():
            k = len(categories)
            for i, category in enumerate(categories):
                leavers = 180 // k + (180 % k if i == 0 else 0)
                lines.append(f"continuity_of_care,{AREA},{period},{breakdown},{category},"
                             f"{leavers // 2},{leavers}\n")
    path.write_text("".join(lines))
    return path


def _values(data_dir: Path) -> pd.DataFrame:
    return store.read_table(store.current_version(data_dir), "values")


def _tiers(values: pd.DataFrame) -> dict[str, int]:
    return values["breakdown"].fillna("(total)").value_counts().to_dict()


# --- 11. A re-issue replaces only the rows it holds -------------------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_a_correction_of_the_totals_keeps_every_breakdown_row(data_dir, tmp_path,
                                                              monkeypatch, chunked):
    first = load([_continuity(tmp_path / "full.csv")], data_dir)
    assert first.published and len(_values(data_dir)) == 24     # 2 totals + 22 breakdowns
    if chunked:
        monkeypatch.setattr(loading, "STREAM_BYTES", 0)
        monkeypatch.setattr(loading, "STREAM_CHUNK_BYTES", 200)
    correction = _continuity(tmp_path / "correction.csv", total=True, breakdowns={},
                             engaged=99)
    report = load([correction], data_dir)
    assert report.published, [str(i) for i in report.errors]
    values = _values(data_dir)
    assert len(values) == 24, _tiers(values)                     # nothing lost
    assert _tiers(values) == {"(total)": 2, "substance": 8, "age": 8, "prison": 6}
    totals = values[values["breakdown"].isna()]
    assert totals["numerator"].tolist() == [99.0, 99.0]         # the correction is shown
    # The report says what the re-issue replaces and what it keeps.
    text = "\n".join(report.replaces)
    assert "replaces 2 area totals of continuity_of_care (2024/25 Q1 to 2024/25 Q2)" in text
    assert "keeps its 22 breakdown rows" in text
    assert report.keys_superseded == 2
    manifest = store.current_version(data_dir).manifest
    assert manifest["rows_superseded"] == 2 and manifest["superseded_keys"] == 2
    assert manifest["replaces"][0]["tier"] == "area total"
    assert manifest["replaces"][0]["rows_replaced"] == 2
    assert manifest["replaces"][0]["rows_kept"] == 22


@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_a_sex_only_file_keeps_the_total_and_the_other_breakdowns(data_dir, tmp_path,
                                                                 monkeypatch, chunked):
    assert load([_continuity(tmp_path / "full.csv")], data_dir).published
    if chunked:
        monkeypatch.setattr(loading, "STREAM_BYTES", 0)
        monkeypatch.setattr(loading, "STREAM_CHUNK_BYTES", 200)
    sex = _continuity(tmp_path / "sex.csv", total=False,
                      breakdowns={"sex": ["Male", "Female"]})
    report = load([sex], data_dir)
    assert report.published, [str(i) for i in report.errors]
    values = _values(data_dir)
    assert _tiers(values) == {"(total)": 2, "substance": 8, "age": 8, "prison": 6, "sex": 4}
    assert report.keys_superseded == 0 and report.replaces == []


def test_a_reissued_breakdown_replaces_only_its_own_rows(data_dir, tmp_path):
    assert load([_continuity(tmp_path / "full.csv")], data_dir).published
    substance = _continuity(tmp_path / "substance.csv", quarters=(2,), total=False,
                            breakdowns={"substance": BREAKDOWNS["substance"]})
    text = substance.read_text().replace(",45,45\n", ",40,45\n")
    substance.write_text(text)
    report = load([substance], data_dir)
    assert report.published
    values = _values(data_dir)
    assert len(values) == 24
    assert _tiers(values) == {"(total)": 2, "substance": 8, "age": 8, "prison": 6}
    assert "replaces 4 substance breakdown rows of continuity_of_care (2024/25 Q2)" in \
        "\n".join(report.replaces)
    assert "keeps its area total and 7 other breakdown rows" in "\n".join(report.replaces)
    keys = store.read_table(store.current_version(data_dir), "superseded")
    assert len(keys) == 4 and set(keys["breakdown"]) == {"substance"}
    assert list(keys.columns) == ["indicator_id", "area_code", "period", "period_kind",
                                  "breakdown", "category"]


# --- 12. A missing published/CURRENT ------------------------------------------------------

def _real_versions(data_dir: Path, tmp_path: Path, n: int = 2) -> list[str]:
    ids = []
    for q in range(1, n + 1):
        report = load([_continuity(tmp_path / f"q{q}.csv", quarters=(q,))], data_dir)
        assert report.published, [str(i) for i in report.errors]
        ids.append(report.version)
    return ids


def test_a_lost_pointer_is_recovered_at_start_and_no_demonstration_data_is_published(
        data_dir, tmp_path, monkeypatch):
    from metrics import demo
    ids = _real_versions(data_dir, tmp_path, 3)
    (data_dir / "published" / "CURRENT").unlink()
    built = []
    monkeypatch.setattr(demo, "build_demo", lambda d=None: built.append(d))
    note = demo.ensure_published(data_dir)
    assert built == []                                   # never over real versions
    assert store.current_version_id(data_dir) == ids[-1]
    assert (data_dir / "published" / "CURRENT").read_text() == ids[-1]
    assert "published/CURRENT is missing" in note and ids[-1] in note
    last = store.publish_log(data_dir)[-1]
    assert last["action"] == "recovered" and last["version"] == ids[-1]
    assert len(_values(data_dir)) == 3 * 12


def test_a_load_after_the_pointer_is_lost_builds_on_the_last_version(data_dir, tmp_path):
    ids = _real_versions(data_dir, tmp_path, 3)
    (data_dir / "published" / "CURRENT").unlink()
    # Read-only callers already see the version the pointer should name.
    assert store.current_version(data_dir).id == ids[-1]
    assert "CURRENT is missing" in store.current_version(data_dir).notice
    report = load([_continuity(tmp_path / "q4.csv", quarters=(4,))], data_dir)
    assert report.published
    assert len(_values(data_dir)) == 4 * 12                 # nothing left out
    assert store.current_version(data_dir).manifest["base_version"] == ids[-1]
    assert any("CURRENT is missing: restored it to " + ids[-1] in str(w)
               for w in report.warnings)
    assert [e["action"] for e in store.publish_log(data_dir)][-2:] == ["recovered", "load"]


def test_a_pointer_to_a_version_that_does_not_exist_is_recovered(data_dir, tmp_path):
    ids = _real_versions(data_dir, tmp_path, 2)
    (data_dir / "published" / "CURRENT").write_text("../../etc")
    assert store.current_version(data_dir).id == ids[-1]
    report = load([_continuity(tmp_path / "q3.csv", quarters=(3,))], data_dir)
    assert report.published and len(_values(data_dir)) == 3 * 12


def test_the_demonstration_command_refuses_a_folder_with_real_data(data_dir, tmp_path):
    _real_versions(data_dir, tmp_path, 1)
    done = subprocess.run([sys.executable, "-m", "metrics.demo"], cwd=ROOT,
                          env={**os.environ, "CDP_DATA_DIR": str(data_dir)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "holds real data" in done.stderr
    assert len(store.list_versions(data_dir)) == 1


# --- 13. Integrity: a SHA-256 per file, checked on opening --------------------------------

def _corrupt(path: Path, offset_share: float = 0.5, size: int = 4096) -> None:
    """4 KB of random bytes over the middle of a file (as a failing disk or a stray
    write would leave it): same size, different content."""
    data = bytearray(path.read_bytes())
    start = max(0, int(len(data) * offset_share) - size // 2)
    rng = np.random.default_rng(13)
    data[start:start + size] = rng.integers(0, 256, min(size, len(data) - start),
                                            dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def test_every_published_file_has_its_sha256_in_the_manifest(data_dir, tmp_path):
    import hashlib
    [vid] = _real_versions(data_dir, tmp_path, 1)
    version = store.get_version(data_dir, vid)
    sums = version.manifest["checksums"]
    assert set(sums) == {p.name for p in version.path.iterdir() if p.name != "manifest.json"}
    for name, meta in sums.items():
        data = (version.path / name).read_bytes()
        assert meta == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_a_damaged_current_version_is_refused_and_the_last_good_one_served(data_dir,
                                                                          tmp_path):
    first, second = _real_versions(data_dir, tmp_path, 2)
    assert store.current_version(data_dir).id == second      # verified and cached
    path = data_dir / "published" / "versions" / second / "values.parquet"
    expected = store.get_version(data_dir, second).manifest["checksums"][
        "values.parquet"]["sha256"]
    _corrupt(path)
    version = store.current_version(data_dir)
    assert version.id == first
    assert f"Version {second} is damaged" in version.notice
    assert "values.parquet" in version.notice and expected in version.notice
    assert f"Showing {first}, the last good version" in version.notice
    with pytest.raises(store.DamagedVersion, match="values.parquet does not match"):
        store.get_version(data_dir, second)
    assert store.current_version_id(data_dir) == second         # nothing rewritten
    hist = versions.history(data_dir).set_index("version")
    assert hist.loc[second, "state"] == "current (damaged: not shown)"
    assert hist.loc[second, "integrity"].startswith("damaged: values.parquet does not match")
    assert hist.loc[first, "integrity"] == "sha256 recorded"
    # Rolling back to the damaged version is refused; a load builds on the good one.
    with pytest.raises(Exception, match="is damaged"):
        versions.rollback(second, data_dir)
    report = load([_continuity(tmp_path / "q3.csv", quarters=(3,))], data_dir)
    assert report.published
    assert any(f"Version {second} is damaged" in str(w) for w in report.warnings)
    assert store.current_version(data_dir).manifest["base_version"] == first
    assert set(_values(data_dir)["period"]) == {"2024/25 Q1", "2024/25 Q3"}


def test_a_damaged_manifest_or_a_missing_file_is_refused_too(data_dir, tmp_path):
    first, second, third = _real_versions(data_dir, tmp_path, 3)
    (data_dir / "published" / "versions" / third / "manifest.json").write_text("{not json")
    (data_dir / "published" / "versions" / second / "superseded.parquet").unlink()
    version = store.current_version(data_dir)
    assert version.id == first
    assert "manifest.json cannot be read" in version.notice
    hist = versions.history(data_dir)
    assert hist.iloc[0]["integrity"].startswith("damaged: manifest.json")
    with pytest.raises(store.DamagedVersion, match="superseded.parquet is missing"):
        store.get_version(data_dir, second)


def test_with_no_good_version_left_a_load_is_refused_not_published_alone(data_dir,
                                                                        tmp_path):
    [only] = _real_versions(data_dir, tmp_path, 1)
    _corrupt(data_dir / "published" / "versions" / only / "values.parquet")
    with pytest.raises(store.DamagedVersion, match="no earlier good version"):
        store.current_version(data_dir)
    report = load([_continuity(tmp_path / "q3.csv", quarters=(3,))], data_dir)
    assert not report.published and "damaged" in report.message
    assert [v.id for v in store.list_versions(data_dir)] == [only]


def test_a_version_published_before_checksums_still_opens_with_a_note(data_dir, tmp_path):
    [vid] = _real_versions(data_dir, tmp_path, 1)
    manifest_path = data_dir / "published" / "versions" / vid / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["checksums"]
    manifest_path.write_text(json.dumps(manifest))
    version = store.current_version(data_dir)
    assert version.id == vid and not version.has_checksums and version.notice == ""
    assert versions.history(data_dir).iloc[0]["integrity"].startswith("no checksums")
    report = load([_continuity(tmp_path / "q3.csv", quarters=(3,))], data_dir)
    assert report.published
    assert any("published before checksums were recorded" in str(n) for n in report.notes)
    assert store.current_version(data_dir).has_checksums


def test_the_app_serves_the_last_good_version_and_says_which(data_dir, tmp_path,
                                                             monkeypatch):
    from streamlit.testing.v1 import AppTest
    first, second = _real_versions(data_dir, tmp_path, 2)
    _corrupt(data_dir / "published" / "versions" / second / "values.parquet")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception
    shown = [w.value for w in at.warning]
    assert any(f"Version {second} is damaged" in w and f"Showing {first}" in w
               for w in shown), shown
    assert not any("Demonstration data" in w for w in shown)


# --- 14. Version ids past v9999, staging folders, message sizes ---------------------------

def test_version_ids_grow_past_v9999_and_sort_by_number(data_dir, tmp_path):
    [vid] = _real_versions(data_dir, tmp_path, 1)
    versions_dir = data_dir / "published" / "versions"
    os.rename(versions_dir / vid, versions_dir / "v9999")
    (data_dir / "published" / "CURRENT").write_text("v9999")
    report = load([_continuity(tmp_path / "q3.csv", quarters=(3,))], data_dir)
    assert report.published and report.version == "v10000"
    assert store.current_version(data_dir).id == "v10000"
    assert [v.id for v in store.list_versions(data_dir)] == ["v9999", "v10000"]
    assert versions.history(data_dir)["version"].tolist() == ["v10000", "v9999"]
    assert versions.normalise_version("10000") == "v10000"
    assert versions.normalise_version("v0042") == versions.normalise_version("42") == "v0042"
    again = load([_continuity(tmp_path / "q4.csv", quarters=(4,))], data_dir)
    assert again.version == "v10001" and len(_values(data_dir)) == 3 * 12
    back = versions.rollback("9999", data_dir)
    assert back.id == "v10002"


def test_a_failed_load_leaves_no_staging_folder_or_spool(data_dir, tmp_path, monkeypatch):
    _real_versions(data_dir, tmp_path, 1)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.writing, "write_sorted_values", full_disk)
    monkeypatch.setattr(loading, "STREAM_BYTES", 0)          # the spool path too
    with pytest.raises(OSError, match="No space left"):
        load([_continuity(tmp_path / "q3.csv", quarters=(3,))], data_dir)
    assert sorted(p.name for p in (data_dir / "published" / "versions").iterdir()) == \
        ["v0001"]
    assert list((data_dir / store.SPOOL_DIR).iterdir()) == []


def test_only_leftovers_of_dead_writers_are_removed(data_dir, tmp_path):
    _real_versions(data_dir, tmp_path, 1)
    versions_dir = data_dir / "published" / "versions"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = store.versions._HOST
    stale = versions_dir / f".v0002.{host}.{dead}.0000abcd.partial"
    live = versions_dir / f".v0002.{host}.{os.getpid()}.0000abcd.partial"
    elsewhere = versions_dir / f".v0002.{'f' * 8}.{dead}.0000abcd.partial"
    legacy = versions_dir / ".v0002.0000abcd.partial"
    for path in (stale, live, elsewhere, legacy):
        path.mkdir()
        (path / "values.parquet").write_bytes(b"x" * 1000)
    pointer = data_dir / "published" / f"CURRENT.{host}.{dead}.0000abcd.tmp"
    pointer.write_text("v0009")
    # At start-up (no lock held): only what a dead process on this host left.
    removed = store.remove_interrupted(data_dir, locked=False)
    assert sorted(removed) == sorted([stale.name, pointer.name])
    assert live.exists() and elsewhere.exists() and legacy.exists()
    # Under the publish lock, leftovers named before writers were recorded go too; a
    # live process's folder and another host's recent one stay.
    old = 2 * store.STALE_AFTER_SECONDS
    os.utime(elsewhere, (elsewhere.stat().st_atime - old, elsewhere.stat().st_mtime - old))
    with store.publish_lock(data_dir):
        removed = store.remove_interrupted(data_dir)
    assert sorted(removed) == sorted([legacy.name, elsewhere.name])
    assert live.exists()


def _wide_csv(path: Path, head: list[str], extra: int = 100_000) -> Path:
    columns = head + [f"extra_column_{i:06d}" for i in range(extra)]
    path.write_text(",".join(columns) + "\n" + ",".join("1" for _ in columns) + "\n")
    return path


@pytest.mark.parametrize("head", [["indicator_id", "area_code", "value"],   # no period
                                  ["column_a", "column_b"],                 # no header
                                  ["indicator_id", "area_code", "period", "value", "value"]])
def test_a_100000_column_file_gives_a_report_of_a_few_kilobytes(data_dir, tmp_path, head):
    from metrics.ingest import drop
    report = load([_wide_csv(tmp_path / "wide.csv", head)], data_dir, dry_run=True)
    assert report.errors
    text = drop.report_text(report)
    assert len(text) < 4_000, len(text)
    assert all(len(str(i)) < 2_500 for i in report.issues)


def test_a_wide_parquet_file_names_a_few_columns_and_counts_the_rest(data_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from metrics.ingest import drop
    # Parquet keeps every column name (a CSV header is read from the file's first
    # characters); 5,000 columns made a 60 KB message, and writing 100,000 takes 30 s.
    names = ["indicator_id", "area_code", "value"] + [f"c{i:06d}" for i in range(5_000)]
    table = pa.table({n: pa.array([1], pa.int8()) for n in names})
    pq.write_table(table, tmp_path / "wide.parquet")
    report = load([tmp_path / "wide.parquet"], data_dir, dry_run=True)
    assert report.errors
    text = drop.report_text(report)
    assert len(text) < 4_000, len(text)
    assert "'c000016' and 4,983 more" in text


def test_listing_names_the_first_twenty_and_counts_the_rest():
    from metrics.ingest.model import Issue, listing
    names = [f"c{i}" for i in range(100_000)]
    assert listing(names).endswith("'c19' and 99,980 more")
    assert listing(["a", "b"]) == "'a', 'b'"
    long = Issue("error", "f.csv", "x" * 1_000_000, column="y" * 10_000)
    assert len(str(long)) < 2_500 and "more characters not shown" in long.problem


def test_a_staging_folder_being_written_is_never_removed(data_dir, tmp_path):
    import signal
    import time

    from metrics import demo
    _real_versions(data_dir, tmp_path, 1)
    marker = tmp_path / "paused"
    env = {**os.environ, "CDP_DATA_DIR": str(data_dir), "CDP_PUBLISH_PAUSE_AT": "staged",
           "CDP_PUBLISH_PAUSE_FILE": str(marker), "CDP_PUBLISH_PAUSE_SECONDS": "120"}
    process = subprocess.Popen(
        [sys.executable, "-m", "metrics.ingest", "load",
         str(_continuity(tmp_path / "q2.csv", quarters=(2,)))],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    versions_dir = data_dir / "published" / "versions"
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [staging] = [p for p in versions_dir.iterdir() if p.name.endswith(".partial")]
        # The app starting meanwhile, and a clean-up without the lock, leave it alone.
        assert demo.ensure_published(data_dir) is None
        assert store.remove_interrupted(data_dir, locked=False) == []
        assert staging.exists()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # Its writer is gone: the next start removes it.
    assert demo.ensure_published(data_dir) is None
    assert not staging.exists()
