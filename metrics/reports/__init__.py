"""Papers built from the views and the renderers: the presentation slides' content
(`briefing`) and the board pack PDF (`boardpack`, `python -m metrics.reports.boardpack`).

May import every stage below it; never ui/ or Streamlit.
"""
