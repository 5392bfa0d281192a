"""Drawing the briefing as slides (metrics.reports.briefing builds their content)."""

from __future__ import annotations

import datetime as dt
import html

import streamlit as st

from metrics import store
from metrics.reference import catalogue
from metrics.reports import briefing
from metrics.stats import comparators
from ui import data

CHROME_CSS = """
<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] {
  display: none !important;
}
[data-testid="stMainBlockContainer"] { padding: 0.8rem 2.5rem 1rem 2.5rem !important;
  max-width: 100% !important; }
[data-testid="stAlert"] { padding: 0.1rem 0.6rem !important; }
.slide-head { font-size: 1.05rem; color: #444; margin: 0; }
.slide-title { font-size: 2.5rem; font-weight: 700; line-height: 1.15; margin: 0.2rem 0 0.6rem 0; }
.slide-sentences { font-size: 1.55rem; line-height: 1.4; margin: 0 0 0.6rem 0; }
.slide-sentences li { margin-bottom: 0.35rem; }
</style>
"""


def hide_chrome() -> None:
    st.html(CHROME_CSS)


@st.cache_data(max_entries=16, show_spinner="Preparing the slides...")
def _deck(data_dir: str, version_id: str, area_code: str, period: str, period_end: dt.date,
          comparator_codes: tuple[str, ...], settings) -> dict:
    """The briefing, with chart specs ready to draw (built once per selection)."""
    # Always public: protected across areas with the configured threshold.
    values = data.public_values(data_dir, version_id,
                                tuple(ind.id for ind in catalogue.INDICATORS),
                                settings.disclosure_threshold)
    areas = data.areas(data_dir, version_id)
    version = store.get_version(data_dir, version_id)
    brief = briefing.build(values, areas, area_code, period, period_end, settings,
                           comparator_codes, version.is_demo,
                           briefing.need_map_inputs(version, data_dir, area_code))
    slides = []
    for slide in brief.slides:
        spec = None
        if slide.chart is not None and slide.key == "map":
            # Short enough to sit under the sentences on a 1280x720 projector.
            spec = slide.chart.properties(height=330, width=560).to_dict(validate=False)
        elif slide.chart is not None:
            spec = slide.chart.configure_axis(labelFontSize=16, titleFontSize=16) \
                .configure_legend(labelFontSize=16).to_dict(validate=False)
        slides.append(dict(key=slide.key, title=slide.title, sentences=slide.sentences,
                           spec=spec,
                           caption=slide.caption))
    return dict(area_name=brief.area_name, partnership=brief.partnership_name,
                period=brief.period, is_demo=brief.is_demo, slides=slides)


class Deck:
    def __init__(self, content: dict):
        self.__dict__.update(content)


def start_or_resume(ctx) -> Deck:
    """Fix the area and period when the presentation starts; later changes elsewhere do
    not move the slides under the presenter."""
    fixed = st.session_state.get("presentation")
    if fixed is None or fixed["version"] != ctx.version.id:
        fixed = {"area": ctx.area_code, "period": ctx.period, "period_end": ctx.period_end,
                 "version": ctx.version.id}
        st.session_state["presentation"] = fixed
    group = comparators.comparator_group(
        "configured", fixed["area"], ctx.areas, ctx.settings.comparators,
        data.area_need_summary(ctx.data_dir, ctx.version.id))
    return Deck(_deck(ctx.data_dir, ctx.version.id, fixed["area"], fixed["period"],
                      fixed["period_end"], group.codes, ctx.settings))


def current_slide(count: int) -> int:
    """1-based slide number, kept in the URL (?slide=3) so a link opens that slide."""
    try:
        number = int(st.query_params.get("slide", 1))
    except ValueError:
        number = 1
    number = min(max(number, 1), count)
    st.query_params["slide"] = str(number)
    return number


def show_slide(deck: Deck, number: int) -> None:
    slide = deck.slides[number - 1]
    head = " · ".join(part for part in (deck.partnership, deck.area_name,
                                         f"figures up to {deck.period}") if part)
    items = "".join(f"<li>{html.escape(s)}</li>" for s in slide["sentences"])
    st.html(f'<p class="slide-head">{html.escape(head)}</p>'
            f'<p class="slide-title">{html.escape(slide["title"])}</p>'
            f'<ul class="slide-sentences">{items}</ul>')
    if slide["spec"] is not None:
        st.vega_lite_chart(slide["spec"], width="stretch")
    if slide["caption"]:
        st.caption(slide["caption"])


def controls(deck: Deck, number: int) -> None:
    count = len(deck.slides)
    previous, position, following, leave = st.columns([1, 2, 1, 1])
    if previous.button("Previous", icon=":material/arrow_back:", disabled=number == 1,
                       width="stretch"):
        st.query_params["slide"] = str(number - 1)
        st.rerun()
    position.markdown(f"<div style='text-align:center;font-size:1.2rem'>Slide {number} of "
                      f"{count}</div>", unsafe_allow_html=True)
    if following.button("Next", icon=":material/arrow_forward:", disabled=number == count,
                        width="stretch", type="primary"):
        st.query_params["slide"] = str(number + 1)
        st.rerun()
    if leave.button("End presentation", icon=":material/close:", width="stretch"):
        st.session_state.pop("presentation", None)
        st.query_params.pop("slide", None)
        st.switch_page("pages/overview.py")
