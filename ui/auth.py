"""Sign-in with Streamlit's own OpenID Connect (st.login, st.user, st.logout) and the
role of whoever is using this session.

Sign-in is on when `.streamlit/secrets.toml` has an `[auth]` section (Streamlit's own
format: redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url, or
named providers under [auth.NAME]). Without it the dashboard runs as it always has on one
machine (metrics.access.embedded_allows). The identity is read from st.user on every
run: Streamlit fills it on the server from its signed cookie, so nothing the browser
sends in a widget or the URL can change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

from metrics import access
from metrics.access import ANONYMOUS, Identity
from metrics.settings import Settings
from ui import plain

# Shown on the Data page while sign-in is not configured.
HOW_TO_SIGN_IN = (
    "**Sign-in is not configured**, so this server has no roles: every viewer is public, "
    "and uploads and rollback follow `ingest.allow_upload`. To turn sign-in on, add an "
    "`[auth]` section to `.streamlit/secrets.toml` with `redirect_uri` "
    "(this server's address followed by `/oauth2callback`), `cookie_secret` (a long random "
    "string), and your identity provider's `client_id`, `client_secret` and "
    "`server_metadata_url` (Microsoft Entra ID, Google, Okta or Keycloak), then list "
    "members, analysts and admins under `[access]` in config.toml and restart the app."
)


@dataclass(frozen=True)
class Access:
    """Who this session is and what they may do, decided on the server for this run."""
    identity: Identity
    role: str
    sign_in: bool       # whether an [auth] section is configured
    settings: Settings

    def allows(self, action: str) -> bool:
        return access.allowed(self.identity, self.settings, action, self.sign_in)


def _auth_section() -> Mapping | None:
    try:
        if not st.secrets.load_if_toml_exists():   # no secrets.toml: sign-in is off
            return None
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - an unreadable secrets.toml: sign-in stays off
        return None
    return section if isinstance(section, Mapping) and section else None


def sign_in_configured() -> bool:
    return _auth_section() is not None


def providers() -> list[str | None]:
    """The providers to offer: None for the default (settings directly under [auth]),
    then each named one ([auth.microsoft], [auth.google], ...)."""
    section = _auth_section() or {}
    named = [k for k, v in section.items() if isinstance(v, Mapping)]
    return ([None] if "client_id" in section or not named else []) + named


def current_identity() -> Identity:
    if not sign_in_configured():
        return ANONYMOUS
    try:
        return Identity.from_claims(st.user.to_dict())
    except Exception:  # noqa: BLE001 - an unreadable identity is nobody
        return ANONYMOUS


def current(settings: Settings) -> Access:
    """This run's access, read afresh (never cached in the session: a role removed from
    config.toml applies at the next click)."""
    identity = current_identity()
    sign_in = sign_in_configured()
    role = access.role_of(identity, settings) if sign_in else access.PUBLIC
    return Access(identity, role, sign_in, settings)


def sidebar(who: Access) -> None:
    """Sign in / signed in as X (role) / sign out, in the sidebar."""
    if not who.sign_in:
        return
    if not who.identity.signed_in:
        for provider in providers():
            label = "Sign in" if provider is None else f"Sign in with {provider.title()}"
            if st.button(label, key=f"sign_in_{provider or 'default'}",
                         icon=":material/login:", width="stretch"):
                st.login(provider) if provider else st.login()
        st.caption("Not signed in: public view.")
        return
    shown = who.identity.email or who.identity.name or "an unnamed account"
    # In a code span: Markdown would turn a bare e-mail address into a mailto link.
    shown = plain.md(shown.replace("`", "'")) if not who.identity.email else \
        f"`{shown.replace('`', chr(39))}`"
    st.caption(f"Signed in as {shown} ({who.role}: "
               f"{access.ROLE_WORDS[who.role]}).")
    if st.button("Sign out", key="sign_out", icon=":material/logout:"):
        st.logout()



def admin_pages(settings: Settings) -> list:
    """The pages for admins (settings, the audit log): in everyone's navigation, so a link never
    breaks, but listed only for admins; the page itself refuses anyone else, on the
    server, when it runs."""
    shown = "visible" if current(settings).allows("audit") else "hidden"
    return [st.Page("pages/settings.py", title="Settings", icon=":material/settings:",
                    url_path="settings", visibility=shown),
            st.Page("pages/audit.py", title="Audit log", icon=":material/policy:",
                    url_path="audit", visibility=shown)]
