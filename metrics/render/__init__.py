"""Pictures of the views: Altair chart specifications, pydeck maps and their legends.

Imports reference, stats and geo; never views, ui/ or Streamlit.
"""
