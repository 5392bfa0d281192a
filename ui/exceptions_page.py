"""The exceptions page: what the board should act on, and what improved.

Lays out metrics.views.exceptions (every figure already suppressed as public mode shows
it): the verdict in words, then the concerns, the improvements and other significant
movements, each row naming the rule that put it there with its figures. The benchmark
and the quarter the last board's figures went up to are chosen here and kept in the
URL, so a link reproduces the list.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from metrics.reference import catalogue, glossary, periods
from metrics.views import exceptions as ex
from ui import data, exports, frame, plain

BENCHMARKS = {"england": "England", "group": "Comparator group"}
SECTIONS = (
    ("concern", "Needs attention", ":material/priority_high:",
     "Nothing needs the board's attention."),
    ("improvement", "Improved significantly", ":material/thumb_up:",
     "No metric improved significantly."),
    ("movement", "Other significant movements (activity counts: neither better nor worse)",
     ":material/swap_vert:", None),
)
IDS = tuple(ind.id for ind in catalogue.INDICATORS)


@st.cache_data(max_entries=64, show_spinner="Checking every metric...")
def _model(data_dir, version_id, area_code, area_name, period_end, period, threshold,
           target, target_date, comparators, last_board, today) -> ex.Exceptions:
    values = data.public_values(data_dir, version_id, IDS, threshold)
    return ex.exceptions(values, area_code, area_name, data.areas(data_dir, version_id),
                         period_end, period, threshold,
                         targets={"continuity_of_care": (target, target_date)},
                         comparators=comparators, last_board=last_board, today=today,
                         notes=data.area_annotations(data_dir, version_id, area_code))


def _board_quarters(ctx) -> list[str]:
    """Quarters before the selected one, latest first: what the last board could have
    seen."""
    quarters = data.periods(ctx.data_dir, ctx.version.id, "quarter")
    ends = pd.to_datetime(quarters["period_end"]).dt.date
    earlier = quarters[ends < ctx.period_end]["period"].tolist()
    return list(reversed(earlier))


def _last_board_default(quarters: list[str], last_meeting: dt.date | None) -> str:
    """The latest quarter that had ended before the last board met (board.last_meeting),
    or the quarter before the one shown when no meeting date is set."""
    if last_meeting is not None:
        for label in quarters:          # latest first
            if periods.parse_period(label).end < last_meeting:
                return label
    return quarters[0]


def render() -> None:
    ctx = frame.context()
    settings = ctx.settings
    st.title(f"What needs attention: {ctx.area_name}")
    # The abbreviations the cards and the method use, in plain words before their first
    # use (metrics/reference/glossary.py).
    st.caption(f"Every metric up to {ctx.period}, checked against four rules; a metric is "
               "listed only when a statistical test says so. SPC is statistical process "
               "control. A 99.8% test is the stricter one, met by chance only about 1 time "
               f"in 500. {glossary.POINTS}")

    controls = st.columns(3)
    with controls[0]:
        benchmark = frame.url_selectbox(
            "Compare with", list(BENCHMARKS), default="england", key="benchmark",
            format_func=BENCHMARKS.get,
            help="The benchmark for 'worse than ... and getting worse'.")
    comparators = None
    if benchmark == "group":
        with controls[1]:
            group = frame.comparator_select(ctx)
        comparators = group.codes
    quarters = _board_quarters(ctx)
    board = None
    if quarters:
        with controls[2]:
            chosen = frame.url_selectbox(
                "Last board saw figures up to", quarters,
                default=_last_board_default(quarters, settings.board_last_meeting),
                key="board",
                help="The quarter the last board's figures went up to; changes since then "
                     "are tested.")
        board = periods.parse_period(chosen)

    result = _model(ctx.data_dir, ctx.version.id, ctx.area_code, ctx.area_name,
                    ctx.period_end, ctx.period, ctx.disclosure_threshold,
                    settings.continuity_target, settings.continuity_target_date,
                    comparators, board, dt.date.today())
    summary = result.summary()
    if result.of("concern"):
        st.warning(summary, icon=":material/priority_high:")
    else:
        st.success(summary, icon=":material/check_circle:")

    notes = data.area_annotations(ctx.data_dir, ctx.version.id, ctx.area_code)
    for side, title, icon, empty in SECTIONS:
        table = result.table(side, notes if len(notes) else None)
        if table.empty and empty is None:
            continue
        st.subheader(title)
        if table.empty:
            st.markdown(empty)
            continue
        # One card per metric and rule: the figures are sentences, which a table cell
        # would cut off at a laptop's width.
        for row in table.itertuples(index=False):
            with st.container(border=True):
                st.markdown(f"**{plain.md(row.Metric)}** · {plain.md(row.Rule)} · "
                            f"{plain.md(row.Period)}")
                st.markdown(plain.md(row.Figures))
                if getattr(row, "Notes", ""):
                    st.caption("Notes: " + plain.md(row.Notes))
        download = table.copy()
        download.insert(0, "Area", ctx.area_name)
        if ctx.is_demo:
            download.insert(0, "Data status", "DEMONSTRATION DATA - not real figures")
        exports.table(download, f"exceptions-{side}-{ctx.area_code}", ctx.public)

    if result.not_loaded:
        st.caption("Not assessed (no figure for this area up to this period): "
                   + ", ".join(result.not_loaded) + ".")
    with st.expander("How the list is made"):
        st.markdown(_METHOD.format(benchmark=result.benchmark, board=result.last_board))
    if ctx.public:
        st.caption("Figures built on counts below "
                   f"{ctx.settings.disclosure_threshold} are suppressed and never tested.")


_METHOD = """
A metric is listed when one of these tests says so (each row names it):

1. **Worse than {benchmark} and getting worse**: the area's 95% interval lies wholly on
   the worse side of {benchmark}'s figure (Fingertips' comparison) *and* the Fingertips
   recent trend of its five most recent points is significant (chi-square above 9.55,
   99.8%) in the worse direction. A significant trend in the better direction puts a
   metric on the improved list.
2. **Special cause at the latest point (SPC)**: Making Data Count's XmR chart marks the
   latest figure as special cause (outside the process limits, 7 points in a row on one
   side of the mean or rising or falling, or 2 of 3 beyond two sigma); the rule is named.
   Continuity of care uses single quarters, as on its page.
3. **Target**: missed or met at the target date (the figure for the period ending then),
   or, before the date, crossed in the latest period.
4. **Changed since the last board**: the latest figure against the figure for
   {board}, by Newcombe's interval (proportions), the exact conditional Poisson test
   (rates), the exact Poisson test (activity counts) or non-overlapping intervals
   (standardised rates), at 95%.

Figures hidden as small counts are not tested. Activity counts (closures, seizures) are
never called better or worse.
"""
