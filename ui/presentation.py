"""Drawing the briefing as slides (metrics.reports.briefing builds their content)."""

from __future__ import annotations

import datetime as dt
import html
import logging
import threading
from dataclasses import asdict

import streamlit as st

from metrics import store
from metrics.reference import catalogue
from metrics.render import describe
from metrics.reports import briefing
from metrics.stats import comparators
from ui import cards, data

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
.slide-lead { font-size: 1.15rem; line-height: 1.35; margin: 0; }
.slide-side { font-size: 1.1rem; line-height: 1.4; margin: 0; padding-left: 1.2rem; }
.slide-side li { margin-bottom: 0.5rem; }
.slide-note { font-size: 0.9rem; color: #444; line-height: 1.35; margin: 0; }
.tile-outcome { font-size: 1.2rem; font-weight: 700; line-height: 1.2; margin: 0; }
.tile-metric { font-size: 1rem; color: #444; line-height: 1.25; margin: 0; }
.tile-value { font-size: 2.1rem; font-weight: 700; line-height: 1.15; margin: 0.1rem 0 0 0; }
.tile-period { font-size: 1rem; font-weight: 400; color: #444; margin-left: 0.4rem;
  display: inline-block; line-height: 1.2; }
.tile-change { font-size: 1.05rem; line-height: 1.3; margin: 0; }
.tile-arrow { font-size: 1.5rem; font-weight: 700; line-height: 1; }
[class*="st-key-tile_"] { padding: 0.6rem 0.9rem !important; }
/* A badge is one line cut off with an ellipsis when the tile is narrow (1024 px): in a
   tile it wraps instead, so the verdict is read whole. */
[class*="st-key-tile_"] .stMarkdownBadge { font-size: 1rem !important;
  white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; max-width: 100% !important; }
[class*="st-key-tile_"] [data-testid="stElementContainer"] { max-width: 100%; }
.slide-table { font-size: 1.1rem; line-height: 1.3; border-collapse: collapse; width: 100%; }
.slide-table th { text-align: left; border-bottom: 2px solid #222; padding: 0.3rem 0.6rem; }
.slide-table td { border-bottom: 1px solid #bbb; padding: 0.35rem 0.6rem; vertical-align: top; }
/* On a phone (320 px) a long word may break, so the table fits instead of pushing the
   page sideways (WCAG 1.4.10); a projector has room and breaks nothing. */
.slide-table th, .slide-table td { overflow-wrap: anywhere; }
/* A 1024 px laptop: three tiles a row are narrow, so badges wrap and tiles grow; a
   smaller type scale keeps the six tiles and the paging buttons on one screen. */
@media (max-width: 1150px) {
  .slide-title { font-size: 2rem; margin-bottom: 0.3rem; }
  .slide-lead { font-size: 1.05rem; }
  .tile-outcome { font-size: 1.05rem; }
  .tile-metric { font-size: 0.9rem; }
  .tile-value { font-size: 1.6rem; }
  .tile-period { font-size: 0.9rem; }
  .tile-change { font-size: 0.95rem; line-height: 1.25; }
  [class*="st-key-tile_"] { padding: 0.45rem 0.7rem !important; }
  [class*="st-key-tile_"] .stMarkdownBadge { font-size: 0.9rem !important; }
}
/* Paging keys beyond the visible buttons' own (PageDown, Space, PageUp): the buttons
   stay mounted, so their shortcuts work, but take no room on the slide. */
.st-key-slide_next_pagedown, .st-key-slide_next_space, .st-key-slide_previous_pageup {
  display: none !important;
}
</style>
"""

# Keys a presentation clicker or keyboard sends, per direction. The first key of each is
# the visible button's (its shortcut is shown on it); the others are hidden buttons.
NEXT_KEYS = ("Right", "PageDown", "Space")
PREVIOUS_KEYS = ("Left", "PageUp")
# A tile's trend arrow: drawn only for a significant change (briefing.Tile.arrow).
ARROWS = {"up": "\u2191", "down": "\u2193"}


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
                           briefing.need_map_inputs(version, data_dir, area_code),
                           notes=store.annotations(version, area_code))
    slides = []
    for slide in brief.slides:
        spec = None
        if slide.chart is not None and slide.key == "map":
            spec = _map_spec(slide.chart)
        elif slide.chart is not None:
            spec = slide.chart.configure_axis(labelFontSize=16, titleFontSize=16) \
                .configure_legend(labelFontSize=16).to_dict(validate=False)
        content = dict(key=slide.key, title=slide.title, sentences=slide.sentences,
                       spec=spec, caption=slide.caption, lead=slide.lead,
                       tiles=[asdict(t) for t in slide.tiles] if slide.tiles else None)
        if slide.changes is not None:
            content["table"] = (slide.table.to_dict("split") if slide.table is not None
                                else None)
            # The figures behind the table, as numbers (what a viewer can read off it).
            content["changes"] = [dict(indicator_id=c.indicator.id, area_code=c.area_code,
                                       then_period=c.then_period, then_value=c.then_value,
                                       now_period=c.now_period, now_value=c.now_value,
                                       arrow="up" if c.now_value > c.then_value else "down")
                                  for c in slide.changes.changes]
        slides.append(content)
    return dict(area_name=brief.area_name, partnership=brief.partnership_name,
                period=brief.period, is_demo=brief.is_demo, slides=slides)


# The map slide is read from the back of a room: no text under 14 px (Vega's defaults
# are 10-11 px), the legend beside the map, and the map as tall as the slide allows.
MAP_HEIGHT = 450
MAP_FONT_PX = 16


def _map_spec(chart) -> dict:
    """The need map for a projector. Its title, subtitle and attribution move out of the
    picture into the slide's words (a 14 px attribution line would be wider than the
    map); the legend stays at the map's right."""
    spec = chart.properties(height=MAP_HEIGHT).configure_legend(
        orient="right", labelFontSize=MAP_FONT_PX, titleFontSize=MAP_FONT_PX,
        labelColor="#222", titleColor="#222", labelLimit=320, rowPadding=6, offset=12,
    ).to_dict(validate=False)
    for layer in spec.get("layer", []):
        # The legend's own settings (render.map_charts) win over the configuration above:
        # its swatches are sized for print.
        legend = layer.get("encoding", {}).get("color", {}).get("legend")
        if isinstance(legend, dict):
            legend["symbolSize"] = 400
    title = spec.pop("title", None) or {}
    if isinstance(title, str):
        title = {"text": title}
    subtitle = title.get("subtitle") or []
    if isinstance(subtitle, str):
        subtitle = [subtitle]
    spec["usermeta"] = {"title": title.get("text", ""), "subtitle": list(subtitle)}
    return spec


class Deck:
    def __init__(self, content: dict):
        self.__dict__.update(content)


def _deck_args(ctx, area_code: str, period: str, period_end: dt.date) -> tuple:
    """_deck's arguments for an area and period: the slides always compare with the
    configured comparators, whatever a page had chosen."""
    group = comparators.comparator_group(
        "configured", area_code, ctx.areas, ctx.settings.comparators,
        data.area_need_summary(ctx.data_dir, ctx.version.id))
    return (ctx.data_dir, ctx.version.id, area_code, period, period_end, group.codes,
            ctx.settings)


def start_or_resume(ctx) -> Deck:
    """Fix the area and period when the presentation starts; later changes elsewhere do
    not move the slides under the presenter."""
    fixed = st.session_state.get("presentation")
    if fixed is None or fixed["version"] != ctx.version.id:
        fixed = {"area": ctx.area_code, "period": ctx.period, "period_end": ctx.period_end,
                 "version": ctx.version.id}
        st.session_state["presentation"] = fixed
    return Deck(_deck(*_deck_args(ctx, fixed["area"], fixed["period"], fixed["period_end"])))


def prepare_in_background(ctx) -> None:
    """Start building the deck of the area and period a page shows, once per published
    version, on a background thread. Built cold, the deck takes about 6 s on two cores
    (protecting every metric across areas, then the slides' charts): started when the
    server first runs a page after starting or after a publish, presenting at a board
    does not begin with that wait. A presenter who arrives sooner waits only for the rest
    (st.cache_data computes a value once, whoever asks). Everything but starting the
    thread happens on it: preparing must never break the page that started it."""
    _prepare_once(ctx.data_dir, ctx.version.id, ctx)


PREPARING_THREAD = "cdp-prepare-slides"


class _NoPageToDrawOn(logging.Filter):
    """Streamlit logs "missing ScriptRunContext" when the deck's "Preparing the slides"
    spinner is asked for outside a page run: on the preparing thread there is no page to
    show it on, and nothing is wrong. Other threads' warnings pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return threading.current_thread().name != PREPARING_THREAD


logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context") \
    .addFilter(_NoPageToDrawOn())


@st.cache_resource(max_entries=4, show_spinner=False)
def _prepare_once(data_dir: str, version_id: str, _ctx) -> threading.Thread:
    """Once per version, whatever area or period the page shows (Streamlit leaves
    arguments named with a leading underscore out of the cache key): one deck, the
    first page's, not one per area a user looks at."""
    thread = threading.Thread(target=_prepare, args=(_ctx,), name=PREPARING_THREAD,
                              daemon=True)
    thread.start()
    return thread


def _prepare(ctx) -> None:
    try:
        _deck(*_deck_args(ctx, ctx.area_code, ctx.period, ctx.period_end))
    except Exception:   # noqa: BLE001 - opening the deck raises it again, on the page
        logging.getLogger(__name__).exception("preparing the slides in advance failed")


# The plain words of the abbreviations the summary tiles use (metrics.reference.glossary).
KEY = ("99.8%: the stricter test, met by chance only about 1 time in 500 · "
       "pp: percentage points")


def current_slide(count: int) -> int:
    """1-based slide number, kept in the URL (?slide=3) so a link opens that slide."""
    try:
        number = int(st.query_params.get("slide", 1))
    except ValueError:
        number = 1
    number = min(max(number, 1), count)
    st.query_params["slide"] = str(number)
    return number


def header(deck: Deck) -> str:
    """The area shown, and the partnership's name only when the deck is for the home
    area (briefing.build leaves `partnership` empty otherwise)."""
    return " · ".join(part for part in (deck.partnership, deck.area_name,
                                         f"figures up to {deck.period}") if part)


def show_slide(deck: Deck, number: int, ctx=None) -> None:
    """Draw one slide. With `ctx`, a slide of one metric says when its figures are from
    and when the next are expected, after its caption."""
    slide = deck.slides[number - 1]
    # The summary's lead sentence sits in the heading's element: one gap fewer, so the
    # tiles and the buttons fit a 720-pixel-high projector.
    lead = (f'<p class="slide-lead">{html.escape(slide["lead"])}</p>'
            if slide.get("tiles") and slide["lead"] else "")
    if slide.get("tiles"):
        # The tiles' badges and changes use both: their words come first.
        lead += f'<p class="slide-note">{html.escape(KEY)}</p>'

    st.html(f'<p class="slide-head">{html.escape(header(deck))}</p>'
            f'<p class="slide-title">{html.escape(slide["title"])}</p>{lead}')
    if slide.get("tiles"):
        _tiles(slide)
    elif slide["key"] == "map" and slide["spec"] is not None:
        _map_slide(slide)
    else:
        _sentences(slide["sentences"])
        if slide.get("table"):
            _table(slide["table"], slide.get("changes") or [])
        if slide["spec"] is not None:
            st.vega_lite_chart(_described(slide), width="stretch")
        caption = " ".join(part for part in (slide["caption"], _as_of(slide, ctx)) if part)
        if caption:
            st.caption(caption)


def _sentences(sentences: list[str]) -> None:
    items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
    st.html(f'<ul class="slide-sentences">{items}</ul>')


def _tiles(slide: dict) -> None:
    """The six outcomes as a grid of tiles: value with unit and period, the comparison
    with England in words, colour and icon (cards.comparison_badge), and an arrow only
    where the change on the previous period is significant."""
    tiles = slide["tiles"]
    for start in range(0, len(tiles), 3):
        for column, tile in zip(st.columns(3), tiles[start:start + 3]):
            with column.container(border=True, height="stretch", gap="xsmall",
                                  key=f"tile_{tile['outcome']}"):
                period = (f'<span class="tile-period">{html.escape(tile["period"])}</span>'
                          if tile["period"] else "")
                st.html(f'<p class="tile-outcome">{html.escape(tile["outcome_name"])}</p>'
                        f'<p class="tile-metric">{html.escape(tile["metric"])}</p>'
                        f'<p class="tile-value">{html.escape(tile["value_text"])}'
                        f'{period}</p>')
                if tile["period"]:
                    cards.comparison_badge(tile["comparison"], tile["comparison_words"])
                arrow = (f'<span class="tile-arrow">{ARROWS[tile["arrow"]]}</span> '
                         if tile["arrow"] else "")
                lines = [html.escape(line) for line in (tile["change_words"], tile["note"])
                         if line]
                if lines and tile["change_words"]:
                    lines[0] = arrow + lines[0]
                text = "<br>".join(lines)
                if text:
                    st.html(f'<p class="tile-change">{text}</p>')


def _table(split: dict, changes: list[dict]) -> None:
    """A slide's table as large text (a data grid's 14 px rows are too small for a
    projector); the Change column leads with an arrow for the direction of the change."""
    columns = split["columns"]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for i, row in enumerate(split["data"]):
        cells = [html.escape(str(v)) for v in row]
        if i < len(changes) and "Change" in columns:
            at = columns.index("Change")
            cells[at] = f"{ARROWS[changes[i]['arrow']]} {cells[at]}"
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    st.html(f'<table class="slide-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _as_of(slide: dict, ctx) -> str:
    """'Data as of ... · next update ...' for the metric an outcome or continuity slide
    charts (the outcome's headline metric), or ""."""
    metric = ("continuity_of_care" if slide["key"] == "continuity"
              else catalogue.OUTCOME_HEADLINE.get(slide["key"]))
    if ctx is None or metric is None:
        return ""
    line = cards.timeliness(ctx, catalogue.get(metric)).line()
    return f"{line}." if line else ""


def _described(slide: dict) -> dict:
    """The slide's chart named for a screen reader by the slide's own words (written from
    the figures drawn), which are also on the slide as text."""
    meta = slide["spec"].get("usermeta", {})
    words = [slide["title"], meta.get("title", ""), *slide["sentences"]]
    return describe.accessible(slide["spec"], ". ".join(w.rstrip(".") for w in words if w) + ".")


def _map_slide(slide: dict) -> None:
    """The map filling the left of the slide with its legend beside it; the words, the
    map's title and its source at the right."""
    picture, words = st.columns([3, 2], gap="medium")
    with picture:
        st.vega_lite_chart(_described(slide), width="stretch")
    with words:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in slide["sentences"])
        meta = slide["spec"].get("usermeta", {})
        notes = [meta.get("title", ""), *meta.get("subtitle", []), slide["caption"]]
        note = "<br>".join(html.escape(n) for n in notes if n)
        st.html(f'<ul class="slide-side">{items}</ul><p class="slide-note">{note}</p>')


def _step(by: int, count: int) -> None:
    """Move from the slide in the URL, not from the number the button was drawn with: two
    quick presses move two slides, never back to where the first one went."""
    try:
        number = int(st.query_params.get("slide", 1))
    except ValueError:
        number = 1
    st.query_params["slide"] = str(min(max(number + by, 1), count))


def controls(deck: Deck, number: int) -> None:
    """Previous and Next buttons that a clicker or keyboard also presses: Right, PageDown
    or Space for the next slide, Left or PageUp for the previous one (Streamlit's button
    shortcuts; the extra keys' buttons are hidden). The slide changes in the click's own
    callback, so the run that follows draws the new slide at once."""
    count = len(deck.slides)
    previous, position, following, leave = st.columns([1, 2, 1, 1])
    first, last = number == 1, number == count
    previous.button("Previous", icon=":material/arrow_back:", disabled=first,
                    width="stretch", shortcut=PREVIOUS_KEYS[0], on_click=_step,
                    args=(-1, count), key="slide_previous")
    position.markdown(f"<div style='text-align:center;font-size:1.2rem'>Slide {number} of "
                      f"{count}</div>", unsafe_allow_html=True)
    following.button("Next", icon=":material/arrow_forward:", disabled=last,
                     width="stretch", type="primary", shortcut=NEXT_KEYS[0], on_click=_step,
                     args=(1, count), key="slide_next")
    for key in PREVIOUS_KEYS[1:]:
        previous.button(f"Previous ({key})", disabled=first, shortcut=key, on_click=_step,
                        args=(-1, count), key=f"slide_previous_{key.lower()}")
    for key in NEXT_KEYS[1:]:
        following.button(f"Next ({key})", disabled=last, shortcut=key, on_click=_step,
                         args=(1, count), key=f"slide_next_{key.lower()}")
    if leave.button("End presentation", icon=":material/close:", width="stretch"):
        st.session_state.pop("presentation", None)
        st.query_params.pop("slide", None)
        st.switch_page("pages/overview.py")
