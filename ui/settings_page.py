"""The Settings page (pages/settings.py), for admins: who holds which role, what is
loaded, and the disclosure threshold. Saving writes config.toml atomically and records
each change in the audit log (metrics.ingest.actions.change_settings, which checks the
role again on the server)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from metrics import access
from metrics.access import AccessDenied
from metrics.ingest import actions
from metrics.settings import SettingsError, config_path
from ui import auth, frame, plain


def _entries(text: str) -> list[str]:
    """One entry a line (commas also separate), blanks dropped."""
    return [e.strip() for line in text.splitlines() for e in line.split(",") if e.strip()]


def render() -> None:
    ctx = frame.context()
    settings = ctx.settings
    who = ctx.access or auth.current(settings)
    st.title("Settings")
    try:
        actions.open_settings(who.identity, settings, who.sign_in, ctx.data_dir)
    except AccessDenied as exc:
        st.error(f"Not shown: {exc}.", icon=":material/lock:")
        return
    kind, message = st.session_state.pop("settings_flash", (None, None))
    if message:
        getattr(st, kind)(message)

    manifest = ctx.version.manifest
    identity = manifest.get("identity") or {}
    by = identity.get("email") or manifest.get("loaded_by") or "unknown"
    st.subheader("What is loaded")
    st.markdown(f"Version **{ctx.version.id}**"
                f"{' (demonstration data)' if ctx.is_demo else ''}, published "
                f"{plain.md(manifest.get('published_at', '')[:16].replace('T', ' '))} UTC by "
                f"`{str(by).replace('`', chr(39))}`. The Data page lists every version, its "
                "coverage and freshness.")

    st.subheader("Roles and disclosure")
    st.caption(f"Written to {plain.md(config_path().name)} on this server. One e-mail address "
               "or @domain a line; roles nest (admins are analysts, analysts are members). "
               "Anyone not listed is public.")
    with st.form("settings_form"):
        members = st.text_area("Members: may switch unsuppressed viewing on",
                               "\n".join(settings.access_members))
        analysts = st.text_area("Analysts: also load extracts, read validation reports and "
                                "roll back", "\n".join(settings.access_analysts))
        admins = st.text_area("Admins: also see the settings and the audit log",
                              "\n".join(settings.access_admins))
        claim = st.text_input("Role claim (optional): a token claim naming roles",
                              settings.access_role_claim)
        threshold = st.number_input(
            "Disclosure threshold: counts from 1 to this minus 1 are suppressed",
            min_value=1, max_value=1000, value=settings.disclosure_threshold, step=1)
        saved = st.form_submit_button("Save settings", type="primary", icon=":material/save:")
    if not saved:
        return
    changes = {"access.members": _entries(members), "access.analysts": _entries(analysts),
               "access.admins": _entries(admins), "access.role_claim": claim.strip(),
               "disclosure.threshold": int(threshold)}
    # Only what differs from the settings in force (entries compare lower-cased, as they
    # apply), so re-saving an unchanged form records nothing.
    current = {"access.members": list(settings.access_members),
               "access.analysts": list(settings.access_analysts),
               "access.admins": list(settings.access_admins),
               "access.role_claim": settings.access_role_claim,
               "disclosure.threshold": settings.disclosure_threshold}
    changes = {k: v for k, v in changes.items()
               if (([e.lower() for e in v] if isinstance(v, list) else v) != current[k])}
    after = dataclasses.replace(
        settings, access_admins=tuple(e.lower() for e in changes.get(
            "access.admins", settings.access_admins)),
        access_role_claim=changes.get("access.role_claim", settings.access_role_claim))
    if who.sign_in and access.role_of(who.identity, after) != access.ADMIN:
        # Taking one's own admin role away would lock the page behind the one who saved it.
        st.error("Not saved: you would no longer be an admin. Another admin can remove "
                 "your role.", icon=":material/lock:")
        return
    try:
        done = actions.change_settings(who.identity, settings, who.sign_in, config_path(),
                                       changes, ctx.data_dir)
    except (AccessDenied, SettingsError) as exc:
        st.error(f"Not saved: {plain.md(exc)}", icon=":material/error:")
        return
    st.session_state["settings_flash"] = (
        ("success", "Saved: " + "; ".join(plain.md(key) for key, _, _ in done)
         + ". Recorded in the audit log.") if done else ("info", "Nothing changed."))
    st.rerun()
