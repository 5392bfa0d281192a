"""Annotations as data: analysts' dated notes on an area's metrics are checked, kept in
the published version (so a new extract keeps them and a rollback restores them as they
were), added only by analysts (refused and audited for anyone else), and drawn on the
trend and SPC charts with their date and words only."""

from __future__ import annotations

import dataclasses
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
    # Another area's page asks for its notes on a metric: none, with every column.
    other = current_notes(data_dir, area="E06000023", metric="continuity_of_care")
    assert other.empty and list(other.columns) == list(store.ANNOTATION_COLUMNS)
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


def test_unprintable_characters_are_dropped_from_a_note(data_dir):
    notes.add("E10000013", "continuity_of_care", "2024-04-01",
              "New\x00 provider\u202e from\x1b April", data_dir, author="cli")
    assert current_notes(data_dir)["text"].tolist() == ["New provider from April"]
    with pytest.raises(IngestError, match="no text"):
        notes.add("E10000013", "continuity_of_care", "2024-04-01", "\x00\u202e", data_dir,
                  author="cli")


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


def test_without_sign_in_notes_follow_the_upload_setting(data_dir):
    """As uploads and rollback do: refused unless ingest.allow_upload is on."""
    settings = load_settings()
    assert not settings.allow_upload
    with pytest.raises(access.AccessDenied, match="sign-in is not configured"):
        actions.add_annotation(ANALYST, settings, False, data_dir, "E10000013",
                               ["continuity_of_care"], "2024-04-01", "x")
    on = dataclasses.replace(settings, allow_upload=True)
    version, _ = actions.add_annotation(access.ANONYMOUS, on, False, data_dir, "E10000013",
                                        ["continuity_of_care"], "2024-04-01", "x")
    assert version.manifest["loaded_by"].endswith("(outcome page)")


# --- drawn on the charts --------------------------------------------------------------

def _series(n=6):
    ends = pd.date_range("2023-06-30", periods=n, freq="QE")
    return pd.DataFrame({"period": [f"Q{i}" for i in range(n)], "period_kind": "quarter",
                         "period_start": ends - pd.offsets.QuarterBegin(startingMonth=1),
                         "period_end": ends, "value": [40.0, 42, 41, 45, 47, 46],
                         "lower95": 35.0, "upper95": 50.0, "line": "Gloucestershire",
                         "is_area": True, "numerator": 310, "denominator": 640})


def _note_data(spec: dict) -> list[list[dict]]:
    """The datasets of a spec that hold notes (a "text" field)."""
    return [rows for rows in spec["datasets"].values() if rows and "text" in rows[0]]


def _note_layers(spec: dict) -> list[dict]:
    return [layer for layer in spec["layer"] if any(
        t.get("field") == "text" for t in layer.get("encoding", {}).get("tooltip", []))]


NOTES = pd.DataFrame({"date": pd.to_datetime(["2024-04-01", "2019-01-01"]),
                      "text": ["New provider from April 2024: a longer note than a label",
                               "Before the series: not drawn"],
                      "author": "analyst@glos.gov.uk", "numerator": 5})


@pytest.mark.parametrize("chart", ["trend", "spc"])
def test_notes_are_drawn_as_rules_with_a_label_and_carry_only_date_and_text(chart):
    from metrics import stats
    from metrics.render import charts
    series = _series()
    if chart == "trend":
        spec = charts.trend_chart(series, "%", notes=NOTES).to_dict(validate=False)
    else:
        spc = stats.spc(series["value"].to_numpy())
        frame = pd.concat([series.reset_index(drop=True), spc.drop(columns="value",
                                                                   errors="ignore")], axis=1)
        spec = charts.spc_chart(frame, "%", notes=NOTES).to_dict(validate=False)
    [rows] = _note_data(spec)
    # Only the note inside the plotted span, and only its date and words.
    assert [set(r) for r in rows] == [{"x_date", "text"}]
    assert rows[0]["text"].startswith("New provider") and rows[0]["x_date"].startswith("2024-04-01")
    layers = _note_layers(spec)
    # The rule, and the label over a white outline of itself.
    assert sorted(layer["mark"]["type"] for layer in layers) == ["rule", "text", "text"]
    rule = next(layer for layer in layers if layer["mark"]["type"] == "rule")
    assert rule["encoding"]["x"]["field"] == "x_date" and "y" not in rule["encoding"]
    label = [layer for layer in layers if layer["mark"]["type"] == "text"][-1]
    assert label["mark"]["color"] == charts.NOTE_COLOUR and "stroke" not in label["mark"]
    assert label["transform"] == [{"calculate": "truncate(datum.text, 22)", "as": "label"}]
    # Nothing a note's author or any count reaches the browser through the chart.
    text = str(spec)
    assert "analyst@glos.gov.uk" not in text and "Before the series" not in text


def test_a_chart_without_notes_is_as_before():
    from metrics.render import charts
    plain = charts.trend_chart(_series(), "%").to_dict(validate=False)
    empty = charts.trend_chart(_series(), "%", notes=NOTES.iloc[0:0]).to_dict(validate=False)
    assert plain == empty and not _note_data(plain)


def test_the_outcome_page_draws_the_areas_notes_on_its_trend_and_spc(data_dir):
    from ui import outcome_page
    notes.add("E10000013", ["continuity_of_care"], "2023-09-01", "Prison in-reach started",
              data_dir, author="analyst@glos.gov.uk")
    notes.add("E06000023", ["continuity_of_care"], "2023-09-01", "Another area's note",
              data_dir, author="a")
    version = store.current_version(data_dir)
    for view in ("Trend", "Process control (SPC)"):
        model = outcome_page._view_model(view, str(data_dir), version.id,
                                         "continuity_of_care", "E10000013", "Glos",
                                         dt.date(2025, 3, 31), (), 1, None)
        assert model["spec"] is not None, view
        [rows] = _note_data(model["spec"])
        assert [r["text"] for r in rows] == ["Prison in-reach started"], view
        assert model["notes"]["text"].tolist() == ["Prison in-reach started"]


# --- the outcome page's form and list ---------------------------------------------------

AUTH = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                 "cookie_secret": "a-long-random-string-for-the-cookie-0123456789",
                 "client_id": "dashboard", "client_secret": "secret",
                 "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration"}}


def _outcome_page(user: dict):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets.update(AUTH)
    at.user = dict(user)
    at.query_params["area"] = "E10000013"
    at.query_params["metric"] = "continuity_of_care"
    at.run()
    at.switch_page("pages/treatment.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_an_analyst_adds_a_note_from_the_outcome_page_and_it_is_listed(data_dir,
                                                                      monkeypatch):
    monkeypatch.chdir(ROOT)
    at = _outcome_page({"is_logged_in": True, "email": "analyst@glos.gov.uk", "sub": "a-1"})
    at.date_input[0].set_value(dt.date(2023, 9, 1))
    at.text_input[0].set_value("Prison in-reach started")
    next(c for c in at.checkbox if "change to the service" in c.label).check()
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Note added" in s.value for s in at.success), [s.value for s in at.error]
    stored = current_notes(data_dir)
    assert stored["author"].tolist() == ["analyst@glos.gov.uk"]
    assert stored["service_change"].tolist() == [True]
    # Listed under the chart, the text made safe for Markdown ("in\\-reach"), marked as
    # the point where the process control limits restart.
    assert any(m.value.startswith("- 1 September 2023: Prison in") and "service change" in
               m.value for m in at.markdown)


def test_a_member_sees_the_notes_but_no_form(data_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    notes.add("E10000013", ["continuity_of_care"], "2023-09-01", "Prison in-reach started",
              data_dir, author="a")
    at = _outcome_page({"is_logged_in": True, "email": "member@glos.gov.uk", "sub": "m-1"})
    assert any(m.value.startswith("- 1 September 2023: Prison in") for m in at.markdown)
    assert not at.text_input and not at.date_input


# --- listed with the exceptions ----------------------------------------------------------

def test_exceptions_rows_carry_the_notes_of_their_metric():
    from metrics.reference import catalogue
    from metrics.views import exceptions as ex
    ind = catalogue.BY_ID["continuity_of_care"]
    other = catalogue.BY_ID["treatment_progress"]
    result = ex.Exceptions("Gloucestershire", "2024/25 Q4", "England", "2024/25 Q3", flags=[
        ex.Flag(ind, "spc", "concern", "", "2024/25 Q4", "7 points below the mean"),
        ex.Flag(other, "spc", "concern", "", "2024/25 Q4", "a point outside the limits")])
    area_notes = pd.DataFrame({
        "date": pd.to_datetime(["2024-10-01", "2024-04-01"]),
        "text": ["Prison in-reach started", "New provider"],
        "metric_ids": ["continuity_of_care", "continuity_of_care,deaths_in_treatment"]})
    table = result.table("concern", area_notes)
    assert table["Notes"].tolist() == [
        "1 April 2024: New provider; 1 October 2024: Prison in-reach started", ""]
    # Without notes the table is as before.
    assert "Notes" not in result.table("concern").columns


def test_notes_from_before_service_changes_existed_read_as_plain_notes(data_dir):
    notes.add("E10000013", ["continuity_of_care"], "2023-09-01", "Old note", data_dir,
              author="a")
    version = store.current_version(data_dir)
    path = version.path / "annotations.parquet"
    # As a version published before the column existed wrote it.
    pd.read_parquet(path).drop(columns=["service_change"]).to_parquet(path)
    assert store.annotations(version)["service_change"].tolist() == [False]
