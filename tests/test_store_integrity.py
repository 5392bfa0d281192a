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

import datetime as dt
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
