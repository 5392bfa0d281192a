"""How an outcome card and the continuity headline are drawn. Significance is always in
words and an icon as well as colour, so it survives colour blindness and a projector."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from metrics import stats
from metrics.reference import formatting, status
from metrics.render import palette, sparkline
from metrics.views.overview import ContinuityHeadline, OutcomeCard
from ui import data

# comparison code prefix -> (badge colour, icon). Streamlit badges take named colours
# only, the nearest to the benchmark palette (metrics.render.palette); the verdict's shape
# from that palette leads the words, so the badge matches the charts' markers.
BADGE_STYLE = {
    "better": ("green", ":material/thumb_up:"),
    "similar": ("yellow", ":material/drag_handle:"),
    "worse": ("red", ":material/thumb_down:"),
    "higher": ("blue", ":material/arrow_upward:"),
    "lower": ("blue", ":material/arrow_downward:"),
    "not_compared": ("gray", ":material/remove:"),
}


# The change verdict in words beside its colour. An activity count has no polarity, so its
# significant changes are an increase or a decrease, never better or worse.
CHANGE_WORDS = {
    "not_significant": "change not significant",
    "increase": "significant increase",
    "decrease": "significant decrease",
}


def comparison_badge(code: str, words: str) -> None:
    colour, icon = BADGE_STYLE.get(code.split("_")[0] if code != "not_compared" else code,
                                   BADGE_STYLE["not_compared"])
    st.badge(f"{palette.verdict(code).glyph} {words}", color=colour, icon=icon)


def _delta_colour(polarity: str) -> str:
    return {"high": "normal", "low": "inverse"}.get(polarity, "off")


def outcome_card(card: OutcomeCard, as_of: str = "") -> None:
    with st.container(border=True, height="stretch"):
        st.markdown(f"**{card.outcome_name}**")
        ind = card.indicator
        if card.period is None:
            # No figure: the reason in words that wrap (a metric's value and badge are
            # single lines, cut off with an ellipsis in a narrow card).
            st.markdown(f"{ind.title}")
            st.info(f"{card.comparison_words}.")
            if card.geography_note:
                st.caption(card.geography_note)
            return
        england_only = ind.geography == "national" or \
            card.geography_note.startswith("England figure")
        # Colour only a significant change (the view decides); a change that rounds to
        # nothing is said in words under the card, with no arrow to suggest a movement.
        direction = card.change_direction
        colour = {"better": _delta_colour(ind.polarity), "worse": _delta_colour(ind.polarity),
                  "increase": "blue", "decrease": "blue"}.get(direction, "off")
        # The delta badge is one line that Streamlit cuts off with an ellipsis at narrow
        # widths ("(not significa..."): the verdict goes in words under the card instead.
        delta = None if direction == "no_change" else \
            card.change_text.removesuffix(" (not significant)") or None
        st.metric(
            f"England: {ind.title}" if england_only else ind.title, card.value_text,
            delta=delta, delta_color=colour,
            help=ind.definition)
        # Our own sparkline, an image with words (Streamlit's chart_data one has none).
        line = sparkline.svg(card.sparkline, list(card.sparkline_periods), ind)
        if line:
            st.markdown(line, unsafe_allow_html=True)
        comparison_badge(card.comparison, card.comparison_words)
        details = [card.period or "", card.england_text, card.geography_note]
        verdict = CHANGE_WORDS.get(direction)
        if direction == "no_change":
            verdict = card.change_text
        if verdict:
            details.insert(0, verdict)
        if card.withheld:
            # Why there is no rate, in words that wrap (the value above is one line).
            details.insert(0, card.withheld[0].upper() + card.withheld[1:])
        elif card.suppressed:
            details.append("small count suppressed")
        st.caption(" · ".join(d for d in details if d))
        if as_of:     # "Data as of ... · next update ...": the Code of Practice's timeliness
            st.caption(as_of)


def timeliness(ctx, ind) -> status.Timeliness:
    """A metric's statistics status, when its figures were loaded and when the next are
    expected (metrics.reference.status), from the latest period loaded for it."""
    summary = data.loaded_summary(ctx.data_dir, ctx.version.id)
    rows = summary[summary["indicator_id"] == ind.id]
    own = rows[rows["period_kind"] == getattr(ind, "period_kind", None)]
    rows = own if len(own) else rows
    last = rows.sort_values("last_end").iloc[-1] if len(rows) else None
    return status.timeliness(
        status.source_of(ind), None if last is None else last["period_kind"],
        None if last is None else pd.Timestamp(last["last_end"]).date(),
        status.released_on(ctx.version.manifest, ind.id), ctx.is_demo, dt.date.today())


def continuity_card(head: ContinuityHeadline, area_name: str) -> None:
    with st.container(border=True):
        st.markdown("**Continuity of care: prison to community treatment**")
        target_text = (f"Target {formatting.percent(head.target)} by "
                       f"{head.target_date:%-d %B %Y}")
        if head.period is None:
            st.info(f"Continuity of care: not loaded yet for {area_name}.",
                    icon=":material/hourglass_empty:")
            return
        if head.rate is None and not head.suppressed:
            st.info(f"Continuity of care for {area_name}, {head.period}: the extract has no "
                    "counts of prison leavers, so no rate or gap to the target is shown.")
            return
        if head.suppressed:
            st.metric("Engaged within 3 weeks of release", formatting.SUPPRESSED)
            st.caption(f"{head.period} · small counts suppressed · {target_text}")
            return
        left, middle, right = st.columns([1.2, 1, 1])
        with left:
            st.metric("Engaged within 3 weeks of release", formatting.percent(head.rate, 1),
                      help="Adults released from prison with a substance misuse treatment "
                           "need who engaged in community treatment within 3 weeks, "
                           "rolling 12 months (NDTMS).")
            interval = (f"95% interval {formatting.percent(head.lower95, 1)} to "
                        f"{formatting.percent(head.upper95, 1)} · "
                        if head.lower95 is not None and head.upper95 is not None else "")
            st.caption(f"{head.period} · {interval}"
                       f"{head.engaged:,.0f} of {head.released:,.0f} prison leavers")
        with middle:
            if head.gap_points is not None and head.gap_points > 0:
                st.metric("Gap to target", f"{head.gap_points:.1f} points",
                          help="Target minus the latest rate, in percentage points.")
                st.caption(f"{target_text} · {head.people_short:,} more people would have "
                           "had to engage on the same releases")
            else:
                st.metric("Gap to target", "Target met")
                st.caption(target_text)
        with right:
            england = formatting.percent(head.england_rate, 1) \
                if head.england_rate is not None else "-"
            st.metric("England", england)
            comparison_badge(head.comparison, stats.comparison_words(head.comparison))
        reached = min(head.rate / head.target, 1.0)
        st.progress(reached, text=f"{formatting.percent(reached)} of the way to the target")
