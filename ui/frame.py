"""The frame every page shares: settings, published data, the demonstration banner, and
the area and period selectors (kept in the URL so a link reproduces the view)."""

from __future__ import annotations

import datetime as dt
import logging
import runpy
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit import config as st_config

from metrics import demo, ingest, store
from metrics.reference import periods
from metrics.settings import (PROJECT_ROOT, Settings, SettingsError,
                              check_unsuppressed_allowed, load_settings)
from ui import auth, data

DEMO_BANNER = (
    "**Demonstration data.** Every figure on this page is generated for demonstration and "
    "is not real. Load real extracts to replace it."
)

# Shown at the top of every page's main area while public mode is off: a sidebar can be
# collapsed, or cropped out of a screenshot or a shared screen.
PUBLIC_MODE_OFF_BANNER = (
    "**Public mode is off: small counts are shown.** Not for publication: do not present, "
    "share or screenshot this view. Every CSV, Excel, PNG and SVG downloaded now is marked "
    "\"NOT FOR PUBLICATION: small counts shown\"; the board pack and the Maps print version stay "
    "public (small counts suppressed)."
)

READABLE_CSS = Path(__file__).with_name("readable.css")


@dataclass(frozen=True)
class Context:
    settings: Settings
    data_dir: str
    version: store.Version
    areas: pd.DataFrame
    area_code: str
    area_name: str
    period: str               # selected quarter, e.g. "2026/27 Q1"
    period_end: dt.date
    public: bool              # public mode: small counts suppressed everywhere
    access: auth.Access | None = None   # who is signed in, their role (ui/auth.py)

    @property
    def disclosure_threshold(self) -> int:
        """The threshold pages and exports apply: the configured one in public mode, and
        1 (nothing suppressed) when an analyst has switched public mode off."""
        return self.settings.disclosure_threshold if self.public else 1

    @property
    def is_demo(self) -> bool:
        return self.version.is_demo

    def area(self, code: str) -> pd.Series:
        return self.areas.set_index("area_code").loc[code]


@st.cache_resource(show_spinner="Preparing the data (first start only)...")
def _ensure_data(data_dir: str) -> str | None:
    """Once per server process: build the demonstration set if nothing is published,
    then load any extracts waiting in the drop folder. Returns a note for the sidebar."""
    demo.ensure_published(data_dir)
    try:
        report = ingest.load_drop_folder(data_dir)
    except Exception as exc:  # noqa: BLE001 - no file in the drop folder may stop the app
        return (f"The drop folder could not be loaded at start-up ({type(exc).__name__}); "
                "the last published version is shown. See the Data page.")
    if report is None:
        return None
    if report.published:
        return f"Loaded the drop folder at start-up as version {report.version}."
    return ("Files in the drop folder were refused at start-up; see the Data page and "
            "the report in the drop folder's refused/ folder.")


def start(force_public: bool = False) -> Context:
    """Run at the top of every page run (from app.py): returns the shared context.
    `force_public` (presentation mode) keeps public mode on whatever the toggle says."""
    # Wrap what Streamlit would cut off with an ellipsis (see the file for why).
    st.html(READABLE_CSS)
    settings = load_settings()
    try:
        check_unsuppressed_allowed(settings, st_config.get_option("server.address"))
    except SettingsError as exc:
        st.error(str(exc), icon=":material/lock:")
        st.stop()
    _note_ignored_settings(settings)
    data_dir = str(settings.data_dir)
    start_note = _ensure_data(data_dir)
    version = store.current_version(data_dir)
    if version.notice:   # a damaged version skipped, or a lost pointer: say what is shown
        st.warning(version.notice, icon=":material/report:")
    areas = data.areas(data_dir, version.id)
    partnerships = areas[areas["area_type"] == "utla"].sort_values("area_name")
    names = dict(zip(partnerships["area_code"], partnerships["area_name"]))
    home = settings.home_area if settings.home_area in names else next(iter(names))

    quarters = data.periods(data_dir, version.id, "quarter")
    if quarters.empty:
        # Real extracts may hold only annual or rolling figures: offer the quarters they
        # end in, so every metric still has "its latest figure up to" a quarter.
        quarters = _quarters_covering(data.periods(data_dir, version.id, None))
    nothing_loaded = quarters.empty
    if nothing_loaded:
        # An empty version: every page still draws (each piece saying it is not loaded
        # yet) and the Data page stays reachable to load the first extract.
        today = periods.quarter_of(dt.date.today())
        quarters = pd.DataFrame({"period": [today.label], "period_end": [today.end]})
    quarter_labels = list(reversed(quarters["period"].tolist()))
    ends = dict(zip(quarters["period"], quarters["period_end"]))

    with st.sidebar:
        area_code = url_selectbox(
            "Partnership area", list(names), default=home, key="area", format_func=names.get,
            help="Any upper-tier area in England. The home area is set in config.toml.")
        period = url_selectbox(
            "Period", quarter_labels, default=quarter_labels[0], key="period",
            help="Financial-year quarter. Each metric shows its latest figure up to the end "
                 "of this quarter; annual metrics show the latest year published by then.")
        who = auth.current(settings)
        auth.sidebar(who)   # sign in / signed in as X (role) / sign out
        public = _public_mode(settings, force_public, who)
        st.caption(_data_caption(version))
        if start_note:
            st.caption(start_note)

    if not public:
        st.error(PUBLIC_MODE_OFF_BANNER, icon=":material/visibility:")
    if version.is_demo:
        st.warning(DEMO_BANNER, icon=":material/science:")
    if nothing_loaded:
        st.info("No figures are published yet. Load an extract on the Data page.",
                icon=":material/info:")
    return Context(settings, data_dir, version, areas, area_code, names[area_code], period,
                   pd.Timestamp(ends[period]).date(), public, who)


def _public_mode(settings: Settings, force_public: bool, who: auth.Access) -> bool:
    """Whether this run suppresses small counts. Decided here on the server from the
    settings, never from anything the browser sends: without
    `disclosure.allow_unsuppressed` there is no switch, and a "public" value planted in the
    session state or the URL is ignored (and dropped). With sign-in configured, members
    and above get the switch (their role, read on the server, not the setting)."""
    small = (f"counts from 1 to {settings.disclosure_threshold - 1}"
             if settings.disclosure_threshold > 1 else "small counts")
    if not who.allows("view_unsuppressed"):
        st.session_state.pop("public", None)
        st.caption(f"Public view: {small}, and figures built on them, are suppressed (*).")
        return True
    public = st.toggle(
        "Public mode", value=settings.public_by_default or who.sign_in, key="public",
        disabled=force_public,
        help=f"Suppresses {small}, and rates built on them, in every table, chart, map and "
             "download. Keep it on for public meetings.") or force_public
    if not public:
        st.warning("Public mode is off: small counts are shown. Do not present or "
                   "share this view.", icon=":material/visibility:")
    return public


_noted: set[str] = set()


def _note_ignored_settings(settings: Settings) -> None:
    """Once per server process: say in the log that a config.toml written before
    `disclosure.allow_unsuppressed` existed no longer turns public mode off."""
    if not settings.allow_unsuppressed and not settings.public_by_default \
            and "public_by_default" not in _noted:
        _noted.add("public_by_default")
        logging.getLogger(__name__).warning(
            "config.toml: disclosure.public_by_default = false is ignored: every view is "
            "public unless disclosure.allow_unsuppressed = true (allowed only on a server "
            "bound to localhost).")


def url_selectbox(label: str, options: list[str], default: str, key: str,
                  format_func=str, help: str | None = None) -> str:
    """A selectbox whose choice lives in the URL as the option itself (an ONS code, a
    period label), so a pasted link reproduces the view. Streamlit's own binding writes
    the displayed name instead, which breaks when names are spelt differently."""
    if st.session_state.get(key) not in options:
        wanted = st.query_params.get(key)
        st.session_state[key] = wanted if wanted in options else default
    value = st.selectbox(label, options, key=key, format_func=format_func, help=help)
    if value == default:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = value
    return value


def _quarters_covering(all_periods: pd.DataFrame) -> pd.DataFrame:
    ends = sorted({periods.quarter_of(pd.Timestamp(e).date()) for e in all_periods["period_end"]})
    return pd.DataFrame({"period": [p.label for p in ends],
                         "period_end": [p.end for p in ends]})


COMPARATOR_SHORT = {"nearest": "Nearest neighbours", "region": "Same region",
                    "configured": "Configured"}
COMPARATOR_HELP = ("Nearest neighbours: the 10 areas nearest in population and in the share "
                   "of small areas in the most deprived fifth (computed). Same region: the "
                   "other areas of the region. Configured: the areas listed in config.toml.")


def comparator_select(ctx: Context, help: str = "Areas to compare with, besides England."):
    """The comparator group selector (kept in the URL) and the group it chooses."""
    from metrics.stats import comparators
    # Short names fit the box at 1024 px ("Nearest neighbours (c..." was cut off); the
    # full names are in the help.
    choice = url_selectbox("Comparator group", list(comparators.GROUPS), default="nearest",
                           key="comparators", format_func=COMPARATOR_SHORT.get,
                           help=help + " " + COMPARATOR_HELP)
    return data.comparator_group(ctx.data_dir, ctx.version.id, choice, ctx.area_code,
                                 tuple(ctx.settings.comparators))


def _data_caption(version: store.Version) -> str:
    published = version.manifest.get("published_at", "")[:10]
    kind = "demonstration data" if version.is_demo else "published data"
    return f"Showing {kind}, version {version.id} ({published})."


def context() -> Context:
    """The context app.py built for this run; every page starts with this.

    Because the pages live in a folder called pages/, Streamlit's legacy multipage router
    stays active until app.py has called st.navigation once in the server process. Until
    then (the first deep link after a server start) a URL equal to a page's file name runs
    that file alone, without app.py and this frame. Then run app.py here, as the entry
    point it is: its st.navigation switches the process to the app's own navigation and
    runs the requested page through the frame; this outer run then stops."""
    if _run_without_app():
        # Widgets drawn from here get other ids than the same widgets drawn by app.py in
        # a normal run: hand the selectors their current values so they keep them.
        for key in ("area", "period", "public"):
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]
        runpy.run_path(str(PROJECT_ROOT / "app.py"), run_name="__main__")
        st.stop()
    return st.session_state["_context"]


def _run_without_app() -> bool:
    from streamlit.runtime.pages_manager import PagesManager
    return bool(PagesManager.uses_pages_directory) or "_context" not in st.session_state
