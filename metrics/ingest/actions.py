"""The Data page's actions, each guarded where it runs.

Every function here asks `metrics.access.require` first, with the identity the server read
from the sign-in cookie in this very run (ui/auth.py), then carries out the action and
records who did it. The page also hides what a role may not use, but that is only
courtesy: a replayed widget, a crafted URL or a stale session reaching one of these
functions as a public user is refused here, and the refusal is written to the audit log.
The command line (python -m metrics.ingest) is not guarded: whoever runs it already has
the server's files.
"""

from __future__ import annotations

from metrics import access
from metrics.access import Identity
from metrics.ingest import annotations, audit, drop, loading, versions
from metrics.settings import Settings


def _guard(identity: Identity, settings: Settings, action: str, sign_in: bool,
           data_dir) -> None:
    try:
        access.require(identity, settings, action, sign_in)
    except access.AccessDenied as exc:
        audit.record(data_dir, "refused", identity.audit_record(), f"{action}: {exc}")
        raise


def _who(identity: Identity, sign_in: bool, fallback: str) -> tuple[str, dict | None]:
    """The manifest's loaded_by and identity: the signed-in user's, or (without sign-in)
    the server's account as before."""
    if sign_in and identity.signed_in:
        return identity.email or identity.name or identity.sub, identity.audit_record()
    return fallback, None


def check_upload(identity: Identity, settings: Settings, sign_in: bool, sources, data_dir,
                 options=None):
    """The validation report of uploaded files (nothing is published)."""
    _guard(identity, settings, "validation_report", sign_in, data_dir)
    return loading.load(sources, data_dir, dry_run=True, options=options)


def publish_upload(identity: Identity, settings: Settings, sign_in: bool, sources, data_dir,
                   *, expect_base=None, options=None):
    """Check and publish uploaded files as a new version."""
    _guard(identity, settings, "upload", sign_in, data_dir)
    user, who = _who(identity, sign_in, f"{loading.default_user()} (Data page)")
    return loading.load(sources, data_dir, user=user, identity=who,
                        expect_base=expect_base, options=options)


def refresh_drop_folder(identity: Identity, settings: Settings, sign_in: bool, data_dir,
                        drop_folder=None):
    """Load the drop folder now."""
    _guard(identity, settings, "refresh_drop_folder", sign_in, data_dir)
    user, who = _who(identity, sign_in, f"{loading.default_user()} (Data page)")
    return drop.load_drop_folder(data_dir, drop_folder, user=f"{user} (drop folder)",
                                 identity=who)


def rollback(identity: Identity, settings: Settings, sign_in: bool, target: str, data_dir):
    """Publish a copy of an earlier version."""
    _guard(identity, settings, "rollback", sign_in, data_dir)
    user, who = _who(identity, sign_in, f"{loading.default_user()} (Data page)")
    return versions.rollback(target, data_dir, user=user, identity=who)


def add_annotation(identity: Identity, settings: Settings, sign_in: bool, data_dir,
                   area_code, metric_ids, date, text, service_change: bool = False):
    """Add a dated note to an area's metrics, published as a new version (it appears in
    the audit log as that version, with its author). A service change restarts the SPC
    limits at its date."""
    _guard(identity, settings, "annotate", sign_in, data_dir)
    user, who = _who(identity, sign_in, f"{loading.default_user()} (outcome page)")
    return annotations.add(area_code, metric_ids, date, text, data_dir, author=user,
                           identity=who, service_change=service_change)


def audit_entries(identity: Identity, settings: Settings, sign_in: bool, data_dir):
    """The audit log (admins)."""
    _guard(identity, settings, "audit", sign_in, data_dir)
    return audit.entries(data_dir)


def open_settings(identity: Identity, settings: Settings, sign_in: bool, data_dir) -> None:
    """The Settings page may be shown (admins); AccessDenied otherwise."""
    _guard(identity, settings, "settings", sign_in, data_dir)


def change_settings(identity: Identity, settings: Settings, sign_in: bool, config_path,
                    changes: dict, data_dir) -> list[tuple]:
    """Write changed roles or settings to config.toml (atomically, refused whole when any
    value is unusable) and record each change in the audit log."""
    _guard(identity, settings, "settings", sign_in, data_dir)
    done = access.write_config(config_path, changes)
    for key, old, new in done:
        event = "role change" if key.startswith("access.") else "settings change"
        audit.record(data_dir, event, identity.audit_record(), f"{key}: {old!r} -> {new!r}")
    return done
