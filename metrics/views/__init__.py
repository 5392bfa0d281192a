"""What each screen and the board pack show, as plain data (already suppressed for public
mode): the overview cards, the outcome explorer, continuity of care and headlines.

Imports reference, stats and geo; never the store's SQL, the renderers, ui/ or Streamlit.
"""
