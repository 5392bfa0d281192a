"""Sign-in and roles, page by page, with AppTest's simulated user.

Each role sees what it may use (the public-mode switch, uploads, the drop folder,
rollback, the audit log), and each guarded action refuses, on the server, a role that may
not take it, however it is reached: a replayed widget, a crafted session state, a URL,
or a direct call of the function that publishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metrics import access, store
from metrics.access import Identity
from metrics.ingest import actions, audit, load
from metrics.ingest.loading import Source
from metrics.settings import load_settings
from tests.support import board_tables

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

ACCESS = """
[access]
members  = ["@glos.gov.uk"]
analysts = ["analyst@glos.gov.uk"]
admins   = ["Lead@glos.gov.uk"]
"""
AUTH = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                 "cookie_secret": "a-long-random-string-for-the-cookie-0123456789",
                 "client_id": "dashboard", "client_secret": "secret",
                 "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration"}}
USERS = {
    "anonymous": {"is_logged_in": False},
    "unlisted": {"is_logged_in": True, "email": "someone@example.org", "sub": "u-1"},
    "member": {"is_logged_in": True, "email": "member@glos.gov.uk", "sub": "m-1"},
    "analyst": {"is_logged_in": True, "email": "analyst@glos.gov.uk", "sub": "a-1"},
    "admin": {"is_logged_in": True, "email": "lead@glos.gov.uk", "sub": "l-1",
              "name": "Partnership lead"},
}
ROLE = {"anonymous": "public", "unlisted": "public", "member": "member",
        "analyst": "analyst", "admin": "admin"}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two loaded versions (so there is one to roll back to)."""
    data_dir = tmp_path_factory.mktemp("auth") / "data"
    assert load([FIXTURES / "long_format.csv"], data_dir).published
    assert load([FIXTURES / "windows_1252.csv"], data_dir).published
    return data_dir


@pytest.fixture
def data_dir(published, tmp_path, monkeypatch):
    """A fresh copy per test: rollbacks and audit entries must not leak between tests."""
    import shutil
    copy = tmp_path / "data"
    shutil.copytree(published, copy)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().split("[access]")[0] + ACCESS)
    monkeypatch.setenv("CDP_DATA_DIR", str(copy))
    monkeypatch.setenv("CDP_CONFIG", str(config))
    monkeypatch.chdir(ROOT)
    return copy


def app(user: dict | None, sign_in: bool = True, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if sign_in:
        at.secrets.update(AUTH)
    if user is not None:
        at.user = dict(user)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning",
                                               "success", "error", "title")
                     for e in at.get(kind))


def labels(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


def versions_in(data_dir: Path) -> list[str]:
    return [v.id for v in store.list_versions(data_dir)]


# --- what each role sees ------------------------------------------------------------------

@pytest.mark.parametrize("who", list(USERS))
def test_sidebar_says_who_is_signed_in_and_offers_the_right_switch(data_dir, who):
    at = app(USERS[who])
    sidebar = "\n".join(c.value for c in at.sidebar.caption)
    toggles = [t for t in at.toggle if t.key == "public"]
    if who == "anonymous":
        assert "Sign in" in {b.label for b in at.sidebar.button}
        assert "Not signed in: public view." in sidebar
    else:
        assert f"({ROLE[who]}:" in sidebar
        assert f"`{USERS[who]['email']}`" in sidebar
        assert "Sign out" in {b.label for b in at.sidebar.button}
    # Members and above may switch unsuppressed viewing on; it starts public.
    assert bool(toggles) == (ROLE[who] in ("member", "analyst", "admin"))
    if toggles:
        assert toggles[0].value is True


@pytest.mark.parametrize("who", list(USERS))
def test_data_page_shows_each_role_what_it_may_use(data_dir, who):
    at = app(USERS[who], page="pages/data.py")
    words = texts(at)
    analyst = ROLE[who] in ("analyst", "admin")
    assert (at.get("file_uploader") != []) == analyst
    assert ("Restore v0001" in labels(at)) == analyst
    assert ("Load files from the drop folder" in labels(at)) == analyst
    assert ("Analysts upload extracts" in words) != analyst
    assert ("Analysts restore earlier versions" in words) != analyst
    assert "Sign-in is not configured" not in words
    history = [f for f in board_tables(at) if "Version" in f.columns]
    assert ("By" in history[0].columns) == analyst      # loaders' e-mails: analysts only


def test_member_switching_unsuppressed_viewing_on_gets_the_banner(data_dir):
    at = app(USERS["member"])
    assert not [e for e in at.main.error if "Public mode is off" in e.value]
    at.toggle(key="public").set_value(False).run()
    assert [e for e in at.main.error if "Public mode is off" in e.value]
    at.switch_page("pages/data.py").run()
    assert [e for e in at.main.error if "Public mode is off" in e.value]


def test_without_sign_in_the_app_is_as_before_and_says_how_to_turn_it_on(data_dir):
    at = app(None, sign_in=False, page="pages/data.py")
    words = texts(at)
    assert "Sign-in is not configured" in words and "secrets.toml" in words
    assert "Uploading is switched off" in words
    assert "Sign in" not in labels(at) and "Sign out" not in labels(at)
    assert not [t for t in at.toggle if t.key == "public"]
    # The drop folder button is there for whoever reaches the page, as before roles.
    assert "Load files from the drop folder" in labels(at)


def test_without_sign_in_a_user_from_the_environment_is_nobody(data_dir):
    """Without an [auth] section st.user can still hold something (AppTest's default
    test@example.com, a hosting platform's viewer): it grants nothing."""
    at = app({"is_logged_in": True, "email": "lead@glos.gov.uk"}, sign_in=False,
             page="pages/data.py")
    assert "Restore v0001" not in labels(at)
    assert "Signed in as" not in texts(at)


# --- guarded actions ----------------------------------------------------------------------

def test_analyst_rollback_records_the_identity_in_the_manifest(data_dir):
    at = app(USERS["analyst"], page="pages/data.py")
    [b for b in at.button if b.label == "Restore v0001"][0].click().run()
    assert not at.exception
    assert "Published v0003, a copy of v0001." in texts(at)
    manifest = store.get_version(data_dir, "v0003").manifest
    assert manifest["identity"] == {"email": "analyst@glos.gov.uk", "sub": "a-1", "name": ""}
    assert manifest["loaded_by"] == "analyst@glos.gov.uk"


@pytest.mark.parametrize("who", ["anonymous", "unlisted", "member"])
def test_a_replayed_restore_click_from_a_lesser_role_publishes_nothing(data_dir, who):
    """The session was an analyst's a moment ago (or the browser replays an analyst's
    click): once st.user says otherwise, the click reaches nothing."""
    at = app(USERS["analyst"], page="pages/data.py")
    restore = [b for b in at.button if b.label == "Restore v0001"][0]
    at.user = dict(USERS[who])
    restore.click().run()
    assert not at.exception
    assert versions_in(data_dir) == ["v0001", "v0002"]


@pytest.mark.parametrize("who", ["anonymous", "unlisted"])
def test_a_public_user_cannot_switch_unsuppressed_viewing_on_by_state_or_url(data_dir, who):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets.update(AUTH)
    at.user = dict(USERS[who])
    at.query_params["public"] = "false"
    at.session_state["public"] = False
    at.run()
    assert not at.exception
    assert not [e for e in at.main.error if "Public mode is off" in e.value]
    assert "public" not in at.session_state
    # Every page and the disclosure attack's views read this: the configured threshold.
    context = at.session_state["_context"]
    assert context.public and context.disclosure_threshold == 5


GUARDED = {
    "validation_report": lambda i, s, d: actions.check_upload(
        i, s, True, [Source("long_format.csv", (FIXTURES / "long_format.csv").read_bytes())], d),
    "upload": lambda i, s, d: actions.publish_upload(
        i, s, True, [Source("long_format.csv", (FIXTURES / "long_format.csv").read_bytes())], d),
    "refresh_drop_folder": lambda i, s, d: actions.refresh_drop_folder(i, s, True, d),
    "rollback": lambda i, s, d: actions.rollback(i, s, True, "v0001", d),
    "audit": lambda i, s, d: actions.audit_entries(i, s, True, d),
    "annotate": lambda i, s, d: actions.add_annotation(
        i, s, True, d, "E10000013", ["continuity_of_care"], "2024-04-01", "New provider"),
}


@pytest.mark.parametrize("action", list(GUARDED))
@pytest.mark.parametrize("who", list(USERS))
def test_every_guarded_action_checks_the_role_where_it_runs(data_dir, who, action):
    settings = load_settings()
    identity = Identity.from_claims(USERS[who])
    before = versions_in(data_dir)
    if access.may(ROLE[who], action):
        GUARDED[action](identity, settings, data_dir)
        return
    with pytest.raises(access.AccessDenied):
        GUARDED[action](identity, settings, data_dir)
    assert versions_in(data_dir) == before
    refused = audit.entries(data_dir)
    refused = refused[refused["event"] == "refused"]
    assert len(refused) == 1 and action in refused["detail"].iloc[0]
    assert refused["email"].iloc[0] == USERS[who].get("email", "")


def test_an_analyst_upload_records_who_published(data_dir):
    settings = load_settings()
    identity = Identity.from_claims(USERS["analyst"])
    report = actions.publish_upload(
        identity, settings, True,
        [Source("fingertips_export.csv", (FIXTURES / "fingertips_export.csv").read_bytes())],
        data_dir)
    assert report.published, report.message
    manifest = store.get_version(data_dir, report.version).manifest
    assert manifest["identity"]["email"] == "analyst@glos.gov.uk"
    assert manifest["identity"]["sub"] == "a-1"


def test_drop_folder_refresh_records_who_pressed_it(data_dir):
    settings = load_settings()
    drop_dir = settings.drop_folder
    drop_dir.mkdir(parents=True, exist_ok=True)
    (drop_dir / "fingertips_export.csv").write_bytes(
        (FIXTURES / "fingertips_export.csv").read_bytes())
    report = actions.refresh_drop_folder(Identity.from_claims(USERS["admin"]), settings, True,
                                         data_dir, drop_dir)
    assert report.published, report.message
    manifest = store.get_version(data_dir, report.version).manifest
    assert manifest["identity"] == {"email": "lead@glos.gov.uk", "sub": "l-1",
                                    "name": "Partnership lead"}
    assert manifest["loaded_by"] == "lead@glos.gov.uk (drop folder)"


# --- the audit log ------------------------------------------------------------------------

@pytest.mark.parametrize("who", list(USERS))
def test_the_audit_page_is_for_admins_only(data_dir, who):
    at = app(USERS[who], page="pages/audit.py")
    words = texts(at)
    if ROLE[who] == "admin":
        log = at.dataframe[0].value
        assert {"v0001", "v0002"} <= set(log["version"])
        assert "Not shown" not in words
    else:
        assert "Not shown: admins only" in words
        assert not at.dataframe


def test_the_audit_log_lists_loads_rollbacks_and_refusals(data_dir):
    settings = load_settings()
    actions.rollback(Identity.from_claims(USERS["analyst"]), settings, True, "v0001", data_dir)
    with pytest.raises(access.AccessDenied):
        actions.rollback(Identity.from_claims(USERS["member"]), settings, True, "v0001",
                         data_dir)
    (data_dir / audit.AUDIT_FILE).open("a").write("not json\n")
    log = actions.audit_entries(Identity.from_claims(USERS["admin"]), settings, True, data_dir)
    rollback = log[log["event"] == "rollback"].iloc[0]
    assert (rollback["version"], rollback["email"], rollback["subject"]) == \
        ("v0003", "analyst@glos.gov.uk", "a-1")
    assert rollback["detail"] == "restores v0001"
    assert set(log["event"]) >= {"load", "rollback", "refused", "unreadable"}
    refused = log[log["event"] == "refused"].iloc[0]
    assert refused["email"] == "member@glos.gov.uk"
    # Every line written is one JSON object.
    lines = (data_dir / audit.AUDIT_FILE).read_text().splitlines()
    assert json.loads(lines[0])["event"] == "refused"


# --- the settings page --------------------------------------------------------------------

def test_write_config_keeps_comments_and_refuses_what_the_app_cannot_use(tmp_path):
    from metrics.settings import SettingsError
    config = tmp_path / "config.toml"
    config.write_text("# the partnership's settings\n[disclosure]\nthreshold = 5  # NDTMS\n"
                      + ACCESS)
    done = access.write_config(config, {"access.members": ["@nhs.net"],
                                        "disclosure.threshold": 10,
                                        "access.admins": ["Lead@glos.gov.uk"]})
    assert done == [("access.members", ["@glos.gov.uk"], ["@nhs.net"]),
                    ("disclosure.threshold", 5, 10)]
    text = config.read_text()
    assert "# the partnership's settings" in text and "# NDTMS" in text
    settings = load_settings(config, environ={})
    assert settings.access_members == ("@nhs.net",) and settings.disclosure_threshold == 10
    for bad in ({"access.analysts": ["nhs.net"]}, {"disclosure.threshold": 0},
                {"data.dir": "/etc"}):
        with pytest.raises(SettingsError):
            access.write_config(config, bad)
        assert config.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.lock"]


@pytest.mark.parametrize("who", list(USERS))
def test_only_admins_change_settings_and_each_change_is_audited(data_dir, who):
    from metrics.settings import config_path
    settings = load_settings()
    before = config_path().read_text()
    change = {"access.analysts": ["analyst@glos.gov.uk", "second@glos.gov.uk"]}
    identity = Identity.from_claims(USERS[who])
    if ROLE[who] != "admin":
        with pytest.raises(access.AccessDenied):
            actions.change_settings(identity, settings, True, config_path(), change, data_dir)
        assert config_path().read_text() == before
        return
    actions.change_settings(identity, settings, True, config_path(), change, data_dir)
    assert load_settings().access_analysts == ("analyst@glos.gov.uk", "second@glos.gov.uk")
    log = audit.entries(data_dir)
    role_change = log[log["event"] == "role change"].iloc[0]
    assert role_change["email"] == "lead@glos.gov.uk" and role_change["subject"] == "l-1"
    assert "second@glos.gov.uk" in role_change["detail"]


@pytest.mark.parametrize("who", list(USERS))
def test_the_settings_page_is_for_admins_only(data_dir, who):
    at = app(USERS[who], page="pages/settings.py")
    if ROLE[who] == "admin":
        assert [t.value for t in at.text_area][:3] == [
            "@glos.gov.uk", "analyst@glos.gov.uk", "lead@glos.gov.uk"]
        assert at.number_input[0].value == 5
    else:
        assert "Not shown: admins only" in texts(at)
        assert not at.text_area


def save(at: AppTest) -> None:
    [b for b in at.button if b.label == "Save settings"][0].click().run()
    assert not at.exception, [e.message for e in at.exception]


def test_an_admin_saves_roles_and_threshold_from_the_page(data_dir):
    from metrics.settings import config_path
    at = app(USERS["admin"], page="pages/settings.py")
    at.text_area[0].set_value("@glos.gov.uk\nsomeone@nhs.net")
    at.number_input[0].set_value(10)
    save(at)
    assert not at.exception
    assert "Saved: access\\.members; disclosure\\.threshold" in texts(at)
    settings = load_settings()
    assert settings.access_members == ("@glos.gov.uk", "someone@nhs.net")
    assert settings.disclosure_threshold == 10
    events = set(audit.entries(data_dir)["event"])
    assert {"role change", "settings change"} <= events
    # A mistyped entry saves nothing and says why.
    before = config_path().read_text()
    at.text_area[1].set_value("analyst@glos.gov.uk\nglos.gov.uk")
    save(at)
    assert "Not saved" in texts(at) and "glos.gov.uk" in texts(at)
    assert config_path().read_text() == before
    # An admin cannot take away their own role.
    at.text_area[1].set_value("analyst@glos.gov.uk")
    at.text_area[2].set_value("other@glos.gov.uk")
    save(at)
    assert "you would no longer be an admin" in texts(at)
    assert config_path().read_text() == before
