"""Who may do what: a signed-in user's role, and the actions each role may take.

Pure functions over the `[access]` settings and the identity the sign-in provider
vouched for (Streamlit's `st.user`, read by ui/). Roles nest: an admin is an analyst, an
analyst is a member, a member is public. Anyone not signed in, or signed in but not
listed, is public. The pages hide what a role may not use, but the guard that counts is
`require`, called by the function that carries out the action (metrics/ingest/actions.py)
with the identity read on the server at that moment, so a replayed widget or a URL
cannot reach an analyst's action from a public session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from metrics.settings import Settings

PUBLIC, MEMBER, ANALYST, ADMIN = "public", "member", "analyst", "admin"
ROLES = (PUBLIC, MEMBER, ANALYST, ADMIN)          # lowest first; each includes the ones before

# Each action and the lowest role that may take it.
ACTIONS: dict[str, str] = {
    "view_unsuppressed": MEMBER,     # switch public mode off (small counts shown)
    "upload": ANALYST,               # upload extracts and publish them
    "refresh_drop_folder": ANALYST,  # load the drop folder now
    "validation_report": ANALYST,    # read the validation report of files checked
    "rollback": ANALYST,             # restore an earlier version
    "annotate": ANALYST,             # add a dated note to an area's charts
    "settings": ADMIN,               # see and change the settings
    "audit": ADMIN,                  # read the audit log
}

# What each role may do, in words, for the sidebar and the README.
ROLE_WORDS = {
    PUBLIC: "suppressed figures only",
    MEMBER: "may switch unsuppressed viewing on",
    ANALYST: "also loads extracts, reads validation reports, rolls back and adds chart notes",
    ADMIN: "also sees the settings and the audit log",
}


class AccessDenied(PermissionError):
    """An action was asked for by someone whose role does not allow it."""

    def __init__(self, action: str, identity: "Identity", role: str, sign_in: bool = True):
        self.action, self.identity, self.role = action, identity, role
        words = ACTION_WORDS.get(action, action)
        if not sign_in:
            super().__init__(f"not allowed on this server: sign-in is not configured, and "
                             f"without it nobody may {words} here")
            return
        who = identity.email or ("a signed-in user" if identity.signed_in else "anyone not signed in")
        super().__init__(f"{ACTIONS.get(action, 'admin')}s only: {who} is {role} and may not "
                         f"{words}")


ACTION_WORDS = {
    "view_unsuppressed": "switch unsuppressed viewing on",
    "upload": "upload or publish extracts",
    "refresh_drop_folder": "load the drop folder",
    "validation_report": "read validation reports",
    "rollback": "roll back to an earlier version",
    "annotate": "add notes to the charts",
    "settings": "see or change the settings",
    "audit": "read the audit log",
}


@dataclass(frozen=True)
class Identity:
    """Who is asking, as the sign-in provider said (never as the browser says)."""
    signed_in: bool = False
    email: str = ""
    sub: str = ""
    name: str = ""
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> "Identity":
        """From the claims of an OpenID Connect ID token (st.user's items)."""
        claims = dict(claims or {})
        if not claims.get("is_logged_in"):
            return cls()
        email = claims.get("email")
        return cls(signed_in=True,
                   email=email.strip().lower() if isinstance(email, str) else "",
                   sub=str(claims.get("sub") or ""),
                   name=str(claims.get("name") or ""),
                   claims=claims)

    @property
    def email_trusted(self) -> bool:
        """An e-mail address the provider says it has not verified grants nothing: on
        some providers users type their own, and @domain entries would then let anyone
        in. Providers that do not send `email_verified` (Entra ID) are trusted."""
        return bool(self.email) and self.claims.get("email_verified", True) not in (
            False, "false", "False", 0)

    def audit_record(self) -> dict:
        """What a manifest or the audit log records of who acted."""
        return {"email": self.email, "sub": self.sub, "name": self.name} if self.signed_in \
            else {"email": "", "sub": "", "name": "", "signed_in": False}


ANONYMOUS = Identity()


def _matches(email: str, entries: tuple[str, ...]) -> bool:
    domain = "@" + email.rpartition("@")[2]
    return any(entry == email or (entry.startswith("@") and entry == domain)
               for entry in entries)


def _claim_roles(identity: Identity, claim: str) -> list[str]:
    """Roles named by the token claim `claim`: a string or a list of strings, each
    compared, case-insensitively, with the role names (singular or plural)."""
    if not claim:
        return []
    value = identity.claims.get(claim)
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    found = []
    for item in values:
        word = str(item).strip().lower()
        word = word[:-1] if word.endswith("s") else word
        if word in ROLES:
            found.append(word)
    return found


def role_of(identity: Identity, settings: Settings) -> str:
    """The highest role the identity holds: by its e-mail address (exactly, or by its
    @domain; case-insensitive) in the [access] lists, or by the role claim."""
    if not identity.signed_in:
        return PUBLIC
    held = list(_claim_roles(identity, settings.access_role_claim))
    if identity.email_trusted:
        for role, entries in ((ADMIN, settings.access_admins),
                              (ANALYST, settings.access_analysts),
                              (MEMBER, settings.access_members)):
            if _matches(identity.email, entries):
                held.append(role)
    return max(held, key=ROLES.index, default=PUBLIC)


def may(role: str, action: str) -> bool:
    """Whether `role` may take `action` (an unknown action is refused to everyone)."""
    if action not in ACTIONS or role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(ACTIONS[action])


def embedded_allows(settings: Settings, action: str) -> bool:
    """With no sign-in configured the dashboard runs as it did before roles existed, for
    one machine: unsuppressed viewing only where `disclosure.allow_unsuppressed` allows it
    (loopback servers only, settings.check_unsuppressed_allowed), uploads, their reports,
    rollback and chart notes only with `ingest.allow_upload`, the drop folder for anyone who reaches
    the Data page, and no settings or audit views."""
    return {"view_unsuppressed": settings.allow_unsuppressed,
            "upload": settings.allow_upload, "validation_report": settings.allow_upload,
            "rollback": settings.allow_upload, "annotate": settings.allow_upload,
            "refresh_drop_folder": True}.get(action, False)


def allowed(identity: Identity, settings: Settings, action: str, sign_in: bool) -> bool:
    """Whether this identity may take `action`: by role once sign-in is configured
    (`sign_in`, read from the server's secrets), by the embedded rules otherwise."""
    if not sign_in:
        return embedded_allows(settings, action)
    return may(role_of(identity, settings), action)


def require(identity: Identity, settings: Settings, action: str, sign_in: bool = True) -> str:
    """The identity's role if it may take `action`; AccessDenied otherwise."""
    role = role_of(identity, settings) if sign_in else PUBLIC
    if not allowed(identity, settings, action, sign_in):
        raise AccessDenied(action, identity, role, sign_in)
    return role


def holders(settings: Settings) -> list[dict]:
    """Who holds which role by the [access] lists (for the settings and audit views)."""
    rows = []
    for role, entries in ((ADMIN, settings.access_admins), (ANALYST, settings.access_analysts),
                          (MEMBER, settings.access_members)):
        rows += [{"role": role, "entry": e,
                  "kind": "domain" if e.startswith("@") else "e-mail"} for e in entries]
    return rows


# Settings an admin may change from the Settings page, and how each is written.
EDITABLE = ("access.members", "access.analysts", "access.admins", "access.role_claim",
            "disclosure.threshold")


def write_config(path, changes: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Write `changes` (dotted keys from EDITABLE) into the config file at `path`, keeping
    its comments and layout (tomlkit), atomically: the new text goes to a temporary file
    beside it, is read back through load_settings (so a value the app cannot use is never
    written), flushed to disk and renamed over the old file. Returns (key, old, new) for
    each value that changed. Raises SettingsError naming the problem otherwise."""
    import fcntl
    import os
    import tempfile
    from pathlib import Path

    import tomlkit

    from metrics.settings import SettingsError, load_settings

    path = Path(path)
    unknown = [k for k in changes if k not in EDITABLE]
    if unknown:
        raise SettingsError(f"{path.name}: {', '.join(unknown)} cannot be changed here")
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        # Two admins saving at once: one after the other, each on the other's result.
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        doc = tomlkit.parse(text)
        done = []
        for key, new in changes.items():
            section, name = key.split(".")
            table = doc.setdefault(section, tomlkit.table())
            old = table.get(name)
            old = old.unwrap() if hasattr(old, "unwrap") else old
            if old == new:
                continue
            table[name] = new
            done.append((key, old, new))
        if not done:
            return []
        handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                             prefix=f".{path.name}.", suffix=".tmp",
                                             delete=False)
        try:
            with handle:
                handle.write(tomlkit.dumps(doc))
                handle.flush()
                os.fsync(handle.fileno())
            load_settings(Path(handle.name), environ={})   # refuses what the app cannot use
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return done
