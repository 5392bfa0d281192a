"""The continuity of care figures every part of its page reads (ui/continuity_page.py,
ui/continuity_breakdowns.py, ui/forecast_section.py): the area totals as public mode
shows them, the area's protected series and its latest 12-month row, and the note under
a table with suppressed cells. The series is protected once per area and cached, not
once per part of the page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.views import continuity as cc
from ui import data

IDS = ("continuity_of_care",)
# The cache settings of every cached step on the page: an entry per area and period
# viewed, bounded so a long session does not grow without end.
CACHE = dict(max_entries=256, show_spinner=False)
SUPPRESSION_NOTE = ("\\* suppressed: a count below {t}, or a figure from which one could "
                    "be worked out (secondary suppression).")


def values(data_dir: str, version_id: str, threshold: int) -> pd.DataFrame:
    """Continuity of care's area totals as shown: protected across areas, and across
    quarters and rolling 12 months, once for every view (ui.data.public_values)."""
    return data.public_values(data_dir, version_id, IDS, threshold)


@st.cache_data(**CACHE)
def protected(data_dir, version_id, area_code, period_end, threshold) -> pd.DataFrame:
    """The area's series with its own small quarters protected (cc.protect_series)."""
    return cc.protect_series(values(data_dir, version_id, threshold), area_code,
                             period_end, threshold)


def latest(data_dir, version_id, area_code, period_end, threshold):
    """The protected latest rolling row and the raw one (the breakdowns' true total)."""
    rows = protected(data_dir, version_id, area_code, period_end, threshold)
    rolling = rows[rows["period_kind"] == "rolling_12m"]
    if rolling.empty:
        return None, None
    last = rolling.iloc[-1]
    # The true total, which the breakdowns add up to (they are protected against it).
    values = data.all_area_values(data_dir, version_id, IDS)
    raw = values[(values["indicator_id"] == cc.IND.id) & (values["area_code"] == area_code)
                 & (values["period"] == last["period"])]
    return last, (raw.iloc[0] if len(raw) else None)


def suppression_note(ctx) -> None:
    if ctx.public:
        st.caption(SUPPRESSION_NOTE.format(t=ctx.disclosure_threshold))
    else:
        st.caption("Public mode is off: small counts are shown.")
