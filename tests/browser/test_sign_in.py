"""Sign-in end to end: Chromium signs in through a real OpenID Connect provider's login
form (oidc-provider-mock, started here on a free port) to the app started with a
secrets.toml pointing at it, as a public user, a member, an analyst and an admin, and
checks what each sees and can do: the public-mode switch, uploads, rollback, the audit
log. A public user replays an analyst's real "Restore" click over the websocket and asks
for the audit page by URL: neither reaches anything.

Screenshots of each role's view (1280 px wide) go to artifacts/screenshots/sign-in/.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import (PROJECT_ROOT, SCREENSHOT_DIR, NetworkGuard, free_port,
                                    start_server, stop_server, wait_for_app_idle)

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
SHOTS = SCREENSHOT_DIR / "sign-in"
WIDTH = 1280
USERS = {  # the provider's accounts: subject -> claims
    "public-1": {"email": "someone@example.org", "email_verified": True, "name": "Pat Public"},
    "member-1": {"email": "member@glos.gov.uk", "email_verified": True, "name": "Mo Member"},
    "analyst-1": {"email": "analyst@glos.gov.uk", "email_verified": True, "name": "Ann Analyst"},
    "admin-1": {"email": "lead@glos.gov.uk", "email_verified": True, "name": "Lee Lead"},
}
ACCESS = """[access]
members = ["@glos.gov.uk"]
analysts = ["analyst@glos.gov.uk"]
admins = ["lead@glos.gov.uk"]
"""
PUBLIC_OFF = "Public mode is off: small counts are shown."
PROVIDER_CSS = "https://cdn.jsdelivr.net/npm/@picocss/"


@dataclass
class Provider:
    process: subprocess.Popen
    url: str


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """oidc-provider-mock on a free port, with the four accounts above."""
    logs = tmp_path_factory.mktemp("oidc")
    port = free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for sub, claims in USERS.items():
        command += ["--user-claims", json.dumps({"sub": sub, **claims})]
    with open(logs / "stdout.log", "wb") as out, open(logs / "stderr.log", "wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            with opener.open(f"{url}/.well-known/openid-configuration", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                pytest.fail("the OpenID Connect provider did not start:\n"
                            + (logs / "stderr.log").read_text(errors="replace"), pytrace=False)
            time.sleep(0.2)
    yield Provider(process, url)
    _stop(process)


@pytest.fixture(scope="module")
def server(provider, tmp_path_factory):
    """The app with sign-in configured against the provider, roles in its config.toml,
    and two published versions (so there is one to roll back to)."""
    from metrics.ingest import load
    root = tmp_path_factory.mktemp("signin")
    data_dir = root / "data"
    assert load([FIXTURES / "long_format.csv"], data_dir).published
    assert load([FIXTURES / "windows_1252.csv"], data_dir).published
    config = root / "config.toml"
    config.write_text((PROJECT_ROOT / "config.toml").read_text().split("[access]")[0] + ACCESS)
    port = free_port()
    secrets_file = root / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "cdp-dashboard"\n'
        'client_secret = "not-a-real-secret"\n'
        f'server_metadata_url = "{provider.url}/.well-known/openid-configuration"\n')
    try:
        # Plain http to the provider is for this test only (Authlib refuses it otherwise).
        app = start_server(data_dir, root / "logs", port=port,
                           extra_args=("--secrets.files", str(secrets_file)),
                           extra_env={"CDP_CONFIG": str(config),
                                      "AUTHLIB_INSECURE_TRANSPORT": "1"})
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield app
    stop_server(app)


@pytest.fixture(scope="module")
def shots():
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def new_page(browser):
    """A fresh browser (no cookies) per user, requests outside this machine blocked."""
    contexts, guards = [], []

    def make():
        context = browser.new_context(viewport={"width": WIDTH, "height": 900},
                                      service_workers="block")
        context.set_default_timeout(60_000)
        guard = NetworkGuard()
        guard.install(context)
        contexts.append(context)
        guards.append(guard)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    # The provider's own login page asks a CDN for its stylesheet (blocked; it is the test
    # provider's page, not the app's). Anything else leaving the machine fails the test.
    leaving = [url for g in guards for url in g.external if not url.startswith(PROVIDER_CSS)]
    assert leaving == []


def versions(server) -> list[str]:
    from metrics import store
    return [v.id for v in store.list_versions(server.data_dir)]


def go(page, server, path: str = "") -> None:
    page.goto(f"{server.url}/{path}")
    wait_for_app_idle(page)


def sign_in(page, server, provider, sub: str) -> None:
    """Through the provider's own login form, as a person would."""
    go(page, server)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(provider.url) + "/oauth2/authorize.*"))
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(re.escape(server.url) + "/.*"))
    wait_for_app_idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert f"Signed in as {USERS[sub]['email']}" in sidebar.inner_text()


def sidebar_text(page) -> str:
    return page.locator("[data-testid='stSidebar']").inner_text()


def public_switch(page):
    return page.locator("[data-testid='stSidebar'] label").filter(
        has_text=re.compile(r"^Public mode$"))


def restore_button(page):
    return page.get_by_role("button", name="Restore v0001")


def open_history(page) -> None:
    page.get_by_role("tab", name="History and rollback").click()
    wait_for_app_idle(page)


def shoot(page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=False)


def test_a_visitor_not_signed_in_is_public(new_page, server, shots):
    page = new_page()
    go(page, server, "data")
    assert page.get_by_role("button", name="Sign in").count() == 1
    assert "Not signed in: public view." in sidebar_text(page)
    assert public_switch(page).count() == 0
    assert page.locator("[data-testid='stFileUploader']").count() == 0
    open_history(page)
    assert restore_button(page).count() == 0
    shoot(page, shots, "anonymous-data")


def test_a_signed_in_public_user_gets_no_switch_upload_or_rollback(new_page, server,
                                                                  provider, shots):
    page = new_page()
    sign_in(page, server, provider, "public-1")
    assert "(public: suppressed figures only)" in sidebar_text(page)
    assert public_switch(page).count() == 0
    shoot(page, shots, "public-overview")
    go(page, server, "data")
    assert page.locator("[data-testid='stFileUploader']").count() == 0
    assert page.get_by_text("Analysts upload extracts").count() == 1
    open_history(page)
    assert restore_button(page).count() == 0
    shoot(page, shots, "public-data")
    # A URL asking for unsuppressed figures or the audit log reaches neither.
    go(page, server, "?public=false")
    assert page.get_by_text(PUBLIC_OFF).count() == 0
    go(page, server, "audit")
    assert page.get_by_text("Not shown: admins only").count() == 1
    assert page.locator("[data-testid='stDataFrame']").count() == 0
    go(page, server, "settings")
    assert page.get_by_text("Not shown: admins only").count() == 1
    assert page.get_by_role("button", name="Save settings").count() == 0


def test_a_member_may_switch_unsuppressed_viewing_on_with_the_banner(new_page, server,
                                                                    provider, shots):
    page = new_page()
    sign_in(page, server, provider, "member-1")
    assert "(member: may switch unsuppressed viewing on)" in sidebar_text(page)
    assert page.get_by_text(PUBLIC_OFF).count() == 0
    public_switch(page).click()
    wait_for_app_idle(page)
    assert page.locator("[data-testid='stMain']").get_by_text(PUBLIC_OFF).count() == 1
    shoot(page, shots, "member-overview-unsuppressed")
    # The banner follows the member to every page while the switch is off.
    page.get_by_role("link", name="Data: load and check").click()
    wait_for_app_idle(page)
    assert page.locator("[data-testid='stMain']").get_by_text(PUBLIC_OFF).count() == 1
    assert page.locator("[data-testid='stFileUploader']").count() == 0
    open_history(page)
    assert restore_button(page).count() == 0
    shoot(page, shots, "member-data")


def test_an_analyst_uploads_and_rolls_back_and_a_public_replay_reaches_nothing(
        new_page, server, provider, shots):
    from metrics import store
    page = new_page()
    sign_in(page, server, provider, "analyst-1")
    go(page, server, "data")
    # Waited for, not counted at once: on a loaded machine the uploader can draw a moment
    # after the app reports it is idle.
    page.locator("[data-testid='stFileUploader']").wait_for(state="visible", timeout=60_000)
    assert page.locator("[data-testid='stFileUploader']").count() == 1
    shoot(page, shots, "analyst-data")
    open_history(page)
    assert versions(server) == ["v0001", "v0002"]

    sent: list[bytes] = []
    page.on("websocket", lambda ws: ws.on(
        "framesent", lambda payload: sent.append(payload) if isinstance(payload, bytes) else None))
    # The listener catches sockets opened from now on: reload so the page opens a new one.
    page.reload()
    wait_for_app_idle(page)
    open_history(page)
    sent.clear()
    restore_button(page).click()
    wait_for_app_idle(page)
    page.get_by_text("Published v0003, a copy of v0001.").wait_for(timeout=60_000)
    assert page.get_by_text("Published v0003, a copy of v0001.").count() == 1
    assert versions(server) == ["v0001", "v0002", "v0003"]
    manifest = store.get_version(server.data_dir, "v0003").manifest
    assert manifest["identity"] == {"email": "analyst@glos.gov.uk", "sub": "analyst-1",
                                    "name": "Ann Analyst"}
    click = [frame for frame in sent if b"Restore v0001" in frame or len(frame) > 20]
    assert click, "the Restore click was not seen on the websocket"
    shoot(page, shots, "analyst-history")

    # The analyst's own click, replayed byte for byte from a public user's session.
    public = new_page()
    routes = []

    def forward(ws):
        routes.append(ws.connect_to_server())

    public.route_web_socket(re.compile(r".*/_stcore/stream"), forward)
    sign_in(public, server, provider, "public-1")
    go(public, server, "data")
    assert routes
    for frame in click:
        routes[-1].send(frame)
    time.sleep(1)
    wait_for_app_idle(public)
    assert versions(server) == ["v0001", "v0002", "v0003"]
    assert public.get_by_text("Published v0004").count() == 0


def test_an_admin_reads_the_audit_log_and_the_settings(new_page, server, provider, shots):
    page = new_page()
    sign_in(page, server, provider, "admin-1")
    go(page, server, "audit")
    # The table draws a moment after the script ends.
    page.locator("[data-testid='stDataFrame']").first.wait_for(state="visible")
    assert page.get_by_text("Not shown").count() == 0
    assert page.get_by_text("Who holds which role").count() == 1
    shoot(page, shots, "admin-audit")
    go(page, server, "settings")
    page.get_by_role("button", name="Save settings").wait_for(state="visible")
    assert page.get_by_text("Not shown").count() == 0
    shoot(page, shots, "admin-settings")
