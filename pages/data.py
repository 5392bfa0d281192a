"""Data: load extracts (checked before anything is published), what is loaded and how
fresh it is, every published version with rollback, and the template."""

from ui.data_page import render

render()
