"""Annotations as data: analysts' dated notes on an area's metrics are checked, kept in
the published version (so a new extract keeps them and a rollback restores them as they
were), added only by analysts (refused and audited for anyone else), and drawn on the
trend and SPC charts with their date and words only."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from metrics import access, store
from metrics.access import Identity
from metrics.ingest import IngestError, actions, audit, load, rollback
from metrics.ingest import annotations as notes
from metrics.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ACCESS = """
[access]
members  = ["@glos.gov.uk"]
analysts = ["analyst@glos.gov.uk"]
admins   = ["lead@glos.gov.uk"]
"""
ANALYST = Identity.from_claims({"is_logged_in": True, "email": "analyst@glos.gov.uk",
                                "sub": "a-1"})


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("notes") / "data"
    assert load([FIXTURES / "long_format.csv"], data_dir).published
    return data_dir


@pytest.fixture
def data_dir(published, tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(published, copy)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().split("[access]")[0] + ACCESS)
    monkeypatch.setenv("CDP_DATA_DIR", str(copy))
    monkeypatch.setenv("CDP_CONFIG", str(config))
    return copy


def current_notes(data_dir, area="E10000013", metric=None):
    return store.annotations(store.current_version(data_dir), area, metric)


def test_an_analyst_adds_a_note_as_a_new_version_and_it_is_listed(data_dir):
    before = store.current_version_id(data_dir)
    version, note = actions.add_annotation(
        ANALYST, load_settings(), True, data_dir, "E10000013",
        ["continuity_of_care", "treatment_progress"], "1 April 2024",
        "  New provider\nfrom April 2024 ")
    assert version.id != before and store.current_version_id(data_dir) == version.id
    assert version.manifest["action"] == "annotation"
    assert version.manifest["identity"]["email"] == "analyst@glos.gov.uk"
    # The figures are the base version's, byte for byte.
    old = store.get_version(data_dir, before)
    assert (version.path / "values.parquet").read_bytes() == \
        (old.path / "values.parquet").read_bytes()
    listed = current_notes(data_dir, metric="continuity_of_care")
    assert listed[["date", "text", "author"]].to_dict("records") == [
        {"date": pd.Timestamp("2024-04-01"), "text": "New provider from April 2024",
         "author": "analyst@glos.gov.uk"}]
    assert len(current_notes(data_dir, metric="treatment_progress")) == 1
    assert current_notes(data_dir, metric="deaths_in_treatment").empty
    assert current_notes(data_dir, area="E06000023").empty
    # The audit log shows it, with who added it and what it says.
    log = audit.entries(data_dir)
    row = log[log["event"] == "annotation"].iloc[0]
    assert row["email"] == "analyst@glos.gov.uk" and "New provider" in row["detail"]


@pytest.mark.parametrize("area, metrics, date, text, problem", [
    ("E10000013", ["continuity_of_care"], "31/02/2024", "x", "not a date"),
    ("E10000013", ["continuity_of_care"], "soon", "x", "not a date"),
    ("E10000013", ["continuity_of_care"], "1850-01-01", "x", "outside"),
    ("E10000013", ["continuity_of_care"], "2024-04-01", "   \n ", "no text"),
    ("E10000013", ["continuity_of_care"], "2024-04-01", "x" * 201, "201 characters"),
    ("E10000013", ["no_such_metric"], "2024-04-01", "x", "unknown metric 'no_such_metric'"),
    ("E10000013", [], "2024-04-01", "x", "at least one metric"),
    ("Gloucestershire", ["continuity_of_care"], "2024-04-01", "x", "not an ONS area code"),
])
def test_a_note_that_is_wrong_is_refused_in_words_and_nothing_is_published(
        data_dir, area, metrics, date, text, problem):
    before = store.list_versions(data_dir)
    with pytest.raises(IngestError, match=problem):
        actions.add_annotation(ANALYST, load_settings(), True, data_dir, area, metrics,
                               date, text)
    assert [v.id for v in store.list_versions(data_dir)] == [v.id for v in before]


def test_a_note_of_exactly_200_characters_is_kept_whole(data_dir):
    _, note = notes.add("E10000013", "continuity_of_care", dt.date(2024, 4, 1), "y" * 200,
                        data_dir, author="cli")
    assert current_notes(data_dir)["text"].tolist() == ["y" * 200]


def test_notes_survive_a_new_extract_and_a_rollback_restores_them_as_they_were(data_dir):
    first = store.current_version_id(data_dir)
    notes.add("E10000013", ["continuity_of_care"], "2024-04-01", "New provider", data_dir,
              author="a")
    with_one = store.current_version_id(data_dir)
    # A new extract: its version carries the note forward.
    report = load([FIXTURES / "windows_1252.csv"], data_dir)
    assert report.published, report.message
    assert current_notes(data_dir)["text"].tolist() == ["New provider"]
    assert store.current_version(data_dir).manifest["rows"]["annotations"] == 1
    notes.add("E10000013", ["continuity_of_care"], "2023-10-01", "Prison in-reach started",
              data_dir, author="a")
    assert current_notes(data_dir)["text"].tolist() == ["Prison in-reach started",
                                                        "New provider"]
    # Rolling back restores the notes of the version restored, as they were.
    rollback(with_one, data_dir, user="a")
    assert current_notes(data_dir)["text"].tolist() == ["New provider"]
    rollback(first, data_dir, user="a")
    assert current_notes(data_dir).empty
    # Every version's notes are checked like its figures (SHA-256 in the manifest).
    version = store.get_version(data_dir, with_one)
    assert "annotations.parquet" in version.manifest["checksums"]


@pytest.mark.parametrize("claims", [
    {"is_logged_in": False},
    {"is_logged_in": True, "email": "someone@example.org", "sub": "u-1"},
    {"is_logged_in": True, "email": "member@glos.gov.uk", "sub": "m-1"},
])
def test_anyone_but_an_analyst_is_refused_on_the_server_and_audited(data_dir, claims):
    before = [v.id for v in store.list_versions(data_dir)]
    with pytest.raises(access.AccessDenied, match="add notes to the charts"):
        actions.add_annotation(Identity.from_claims(claims), load_settings(), True, data_dir,
                               "E10000013", ["continuity_of_care"], "2024-04-01", "x")
    assert [v.id for v in store.list_versions(data_dir)] == before
    log = audit.entries(data_dir)
    refused = log[log["event"] == "refused"]
    assert len(refused) == 1 and "annotate" in refused["detail"].iloc[0]
    assert refused["email"].iloc[0] == claims.get("email", "")


def test_without_sign_in_nobody_adds_a_note_from_the_page(data_dir):
    with pytest.raises(access.AccessDenied, match="sign-in is not configured"):
        actions.add_annotation(ANALYST, load_settings(), False, data_dir, "E10000013",
                               ["continuity_of_care"], "2024-04-01", "x")
