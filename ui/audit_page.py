"""The audit log page (pages/audit.py): every load and rollback with the signed-in
identity that published it, role and setting changes, and actions refused. Admins only:
checked here on the server again (metrics.ingest.actions), not only by the navigation."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics import access
from metrics.access import AccessDenied
from metrics.ingest import actions
from ui import auth, exports, frame


def render() -> None:
    ctx = frame.context()
    who = ctx.access or auth.current(ctx.settings)
    st.title("Audit log")
    try:
        log = actions.audit_entries(who.identity, ctx.settings, who.sign_in, ctx.data_dir)
    except AccessDenied as exc:
        st.error(f"Not shown: {exc}.", icon=":material/lock:")
        return
    st.caption("Every version published (loads and rollbacks, with the e-mail and subject "
               "of whoever signed in to publish it), changes to roles and settings, and "
               "actions refused, newest first. Versions published before sign-in, from the "
               "command line or at start-up name the server account instead.")
    st.dataframe(exports.safe_frame(log), hide_index=True, width="stretch")
    st.subheader("Who holds which role")
    holders = access.holders(ctx.settings)
    if holders:
        # config.toml's own entries: shown as written (no formula quoting of "@domain").
        st.dataframe(pd.DataFrame(holders), hide_index=True, width="stretch")
    else:
        st.info("Nobody is listed under [access] in config.toml: everyone is public.")
    if ctx.settings.access_role_claim:
        st.caption(f"Roles are also taken from the token claim "
                   f"'{ctx.settings.access_role_claim}'.")
