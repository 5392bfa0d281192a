"""Roles as data: who is public, member, analyst or admin, and what each may do."""

from __future__ import annotations

import pytest

from metrics import access
from metrics.access import ADMIN, ANALYST, MEMBER, PUBLIC, Identity
from metrics.settings import SettingsError, load_settings

CONFIG = """
[access]
members  = ["@Glos.gov.uk", "someone@nhs.net"]
analysts = ["Analyst@glos.gov.uk"]
admins   = ["lead@glos.gov.uk"]
"""


def settings(tmp_path, body=CONFIG):
    path = tmp_path / "config.toml"
    path.write_text(body)
    return load_settings(path, environ={})


def user(email, **claims):
    return Identity.from_claims({"is_logged_in": True, "email": email, "sub": "s-" + email,
                                 **claims})


def test_access_lists_are_read_and_lower_cased(tmp_path):
    s = settings(tmp_path)
    assert s.access_members == ("@glos.gov.uk", "someone@nhs.net")
    assert s.access_analysts == ("analyst@glos.gov.uk",)
    assert s.access_admins == ("lead@glos.gov.uk",)
    assert s.access_role_claim == ""


def test_no_access_section_means_nobody_holds_a_role(tmp_path):
    s = settings(tmp_path, "")
    assert (s.access_members, s.access_analysts, s.access_admins) == ((), (), ())
    assert access.role_of(user("lead@glos.gov.uk"), s) == PUBLIC


@pytest.mark.parametrize("body, words", [
    ('[access]\nmembers = "@glos.gov.uk"', "must be a list"),
    ('[access]\nanalysts = ["glos.gov.uk"]', "'glos.gov.uk'"),
    ('[access]\nadmins = ["*"]', "neither an e-mail"),
    ('[access]\nadmins = ["@*.gov.uk"]', "neither an e-mail"),
    ('[access]\nmembers = [""]', "neither an e-mail"),
    ('[access]\nmembers = ["a@b@glos.gov.uk"]', "neither an e-mail"),
    ('[access]\nmembers = [3]', "must be a list"),
    ('[access]\nrole_claim = ["roles"]', "access.role_claim"),
])
def test_a_mistyped_entry_is_refused_rather_than_granting_a_role(tmp_path, body, words):
    with pytest.raises(SettingsError, match=None) as err:
        settings(tmp_path, body)
    assert words in str(err.value) and "config.toml" in str(err.value)


@pytest.mark.parametrize("email, role", [
    ("lead@glos.gov.uk", ADMIN),
    ("LEAD@GLOS.GOV.UK", ADMIN),                 # e-mail compared case-insensitively
    ("analyst@glos.gov.uk", ANALYST),
    ("anyone@glos.gov.uk", MEMBER),              # by @domain
    ("Someone@NHS.net", MEMBER),
    ("other@nhs.net", PUBLIC),                   # the address, not its domain, is listed
    ("x@evilglos.gov.uk", PUBLIC),               # a domain matches whole, not as a suffix
    ("x@sub.glos.gov.uk", PUBLIC),
    ("lead@glos.gov.uk.evil.com", PUBLIC),
    ("", PUBLIC),                                # signed in with no e-mail
])
def test_role_by_email_and_domain(tmp_path, email, role):
    assert access.role_of(user(email), settings(tmp_path)) == role


def test_anonymous_is_public_whatever_it_claims(tmp_path):
    s = settings(tmp_path)
    assert access.role_of(access.ANONYMOUS, s) == PUBLIC
    # Not signed in: claims that look like an admin's count for nothing.
    ghost = Identity.from_claims({"is_logged_in": False, "email": "lead@glos.gov.uk"})
    assert access.role_of(ghost, s) == PUBLIC


def test_an_unverified_email_grants_nothing(tmp_path):
    s = settings(tmp_path)
    assert access.role_of(user("lead@glos.gov.uk", email_verified=False), s) == PUBLIC
    assert access.role_of(user("lead@glos.gov.uk", email_verified=True), s) == ADMIN


def test_roles_from_a_token_claim(tmp_path):
    s = settings(tmp_path, CONFIG + 'role_claim = "roles"\n')
    assert access.role_of(user("x@example.org", roles=["Analysts"]), s) == ANALYST
    assert access.role_of(user("x@example.org", roles="admin"), s) == ADMIN
    assert access.role_of(user("x@example.org", roles=["readers", "members"]), s) == MEMBER
    assert access.role_of(user("x@example.org", roles={"admin": 1}), s) == PUBLIC
    assert access.role_of(user("x@example.org"), s) == PUBLIC
    # The higher of the claim and the lists applies.
    assert access.role_of(user("lead@glos.gov.uk", roles=["member"]), s) == ADMIN


def test_roles_nest_and_each_action_has_a_lowest_role():
    expected = {
        PUBLIC: set(),
        MEMBER: {"view_unsuppressed"},
        ANALYST: {"view_unsuppressed", "upload", "refresh_drop_folder", "validation_report",
                  "rollback", "annotate"},
        ADMIN: set(access.ACTIONS),
    }
    for role, actions in expected.items():
        assert {a for a in access.ACTIONS if access.may(role, a)} == actions
    assert not access.may(ADMIN, "delete everything")
    assert not access.may("superuser", "upload")


def test_require_names_who_was_refused_and_why(tmp_path):
    s = settings(tmp_path)
    assert access.require(user("analyst@glos.gov.uk"), s, "rollback") == ANALYST
    with pytest.raises(access.AccessDenied) as err:
        access.require(user("anyone@glos.gov.uk"), s, "rollback")
    assert str(err.value) == ("analysts only: anyone@glos.gov.uk is member and may not roll "
                              "back to an earlier version")
    with pytest.raises(access.AccessDenied, match="anyone not signed in is public"):
        access.require(access.ANONYMOUS, s, "upload")


def test_without_sign_in_the_embedded_rules_apply(tmp_path):
    closed = settings(tmp_path, CONFIG)
    opened = settings(tmp_path, CONFIG + "[ingest]\nallow_upload = true\n")
    admin = user("lead@glos.gov.uk")
    for action in ("upload", "rollback", "validation_report"):
        assert not access.allowed(admin, closed, action, sign_in=False)
        assert access.allowed(access.ANONYMOUS, opened, action, sign_in=False)
    assert access.allowed(access.ANONYMOUS, closed, "refresh_drop_folder", sign_in=False)
    assert not access.allowed(access.ANONYMOUS, opened, "audit", sign_in=False)
    assert not access.allowed(access.ANONYMOUS, closed, "view_unsuppressed", sign_in=False)
    with pytest.raises(access.AccessDenied, match="sign-in is not configured"):
        access.require(admin, closed, "rollback", sign_in=False)


def test_audit_record_holds_email_and_subject():
    assert user("lead@glos.gov.uk", name="Lead").audit_record() == {
        "email": "lead@glos.gov.uk", "sub": "s-lead@glos.gov.uk", "name": "Lead"}
    assert access.ANONYMOUS.audit_record()["signed_in"] is False
