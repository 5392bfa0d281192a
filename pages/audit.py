"""Audit log (admins): who loaded or rolled back each version, role and setting changes,
and actions refused."""

from ui.audit_page import render

render()
