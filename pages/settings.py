"""Settings (admins): who holds which role, what is loaded, the disclosure threshold."""

from ui.settings_page import render

render()
