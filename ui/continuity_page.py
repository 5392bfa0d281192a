"""The continuity of care page: prison to community treatment against the target.

Headline cards, the trend against the target with the trajectory, then one view at a
time (breakdowns, pathway, SPC, all areas, figures, about). Numbers come from
metrics.views.continuity (already suppressed); chart specifications are built once per
selection and cached, as in ui/outcome_page.py, and only the chosen view is built.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from metrics import stats
from metrics.reference import catalogue, glossary
from metrics.render import charts, continuity_charts
from metrics.views import chart_words, continuity as cc, explorer, headlines
from ui import (cards, continuity_breakdowns, continuity_series as shared, data,
                exports, forecast_section, frame, plain, tables)

# The pathway first: where people are lost between prison and treatment, and the gap to
# the target in people, is the board's question. The breakdowns are
# ui/continuity_breakdowns.py; the figures every part reads, ui/continuity_series.py.
VIEWS = ["Pathway", "Breakdowns", "Process control (SPC)", "All areas", "Figures",
         "About this measure"]
SERIES = ["Rolling 12 months", "Single quarters"]
CACHE = shared.CACHE
IDS = shared.IDS


def render() -> None:
    ctx = frame.context()
    settings = ctx.settings
    threshold = ctx.disclosure_threshold       # 1 (nothing hidden) when public mode is off
    target, target_date = settings.continuity_target, settings.continuity_target_date
    st.title(f"Continuity of care: {ctx.area_name}")

    intro, group_col = st.columns([2, 1])
    with group_col:
        group = frame.comparator_select(
            ctx, help="Areas to compare with, besides England and the region.")
    with intro:
        st.markdown(
            "Adults released from prison with a substance misuse treatment need who "
            "engaged in community structured treatment **within 3 weeks of release**, as "
            f"a % of those released with a need (NDTMS). Target: **{target * 100:g}% by "
            f"{cc.long_date(target_date)}** (From Harm to Hope).")
        st.caption(f"Figures up to {ctx.period}. Comparators: {group.description}. "
                   f"{glossary.CONFIDENCE}")

    model = _main_model(ctx.data_dir, ctx.version.id, ctx.area_code, ctx.area_name,
                        ctx.period_end, group.codes, threshold, target, target_date,
                        dt.date.today())
    if model is None:
        missing = explorer.missing_words(shared.values(ctx.data_dir, ctx.version.id, threshold),
                                         cc.IND,
                                         ctx.area_code, ctx.areas, ctx.period_end, ctx.period)
        st.info(missing or f"Continuity of care: no figures for {ctx.area_name} up to "
                f"{ctx.period}.", icon=":material/hourglass_empty:")
        return
    head, path = model["headline"], model["trajectory"]
    if path.passed or (path.latest_rate is None and dt.date.today() > target_date):
        st.warning(path.words, icon=":material/event_busy:")
    else:
        st.info(path.words, icon=":material/trending_up:")
    _cards(head, model)

    st.subheader(f"Trend against the {head.target:g}% target")
    series = st.segmented_control("Figures", SERIES, default=SERIES[0], required=True,
                                  key="series", bind="query-params",
                                  label_visibility="collapsed")
    quarterly = series == SERIES[1] and not model["quarters_hidden"]
    if series == SERIES[1] and not quarterly:
        st.info("Single-quarter figures are not shown for this area: some of its quarters "
                "have small numbers, which the rolling 12-month figures (sums of four "
                "quarters) would let anyone work out. The rolling figures are shown "
                "instead.", icon=":material/lock:")
    if quarterly:
        shown = _quarter_model(ctx.data_dir, ctx.version.id, ctx.area_code, ctx.area_name,
                               ctx.period_end, group.codes, threshold, target, target_date)
    else:
        shown = dict(spec=model["trend_rolling"], words=model["rolling_words"],
                     table=model["rolling_table"])
    exports.chart(shown["spec"], f"continuity-trend-{ctx.area_code}", ctx.public,
                  about=_about_chart(ctx, f"Continuity of care: {ctx.area_name}, "
                                     + ("quarters" if quarterly else "rolling 12 months")
                                     + " against the target"),
                  description=shown["words"])
    notes = [f"Shaded band: 95% confidence interval for {ctx.area_name}.",
             f"Red dashed line: the {head.target:g}% target."]
    if not quarterly and not path.frame.empty:
        notes.append("Red dotted line: " + ("the gap at the target date." if path.passed
                                              else "the steady rise needed to reach the "
                                                   "target by its date."))
    if quarterly:
        notes.append("Single quarters vary more; the target is judged on 12 months.")
    st.caption(" ".join(notes))
    plotted = shown["table"]
    if plotted is not None and len(plotted):
        with st.expander("Table"):
            st.html(tables.board_table(plotted,
                                       caption="The figures the chart plots"))
    forecast_section.render(ctx)

    view = st.segmented_control("View", VIEWS, default=VIEWS[0], required=True, key="show",
                                bind="query-params", label_visibility="collapsed")
    args = (ctx.data_dir, ctx.version.id, ctx.area_code, ctx.area_name, ctx.period_end,
            group.codes, threshold, target)
    if view == "Breakdowns":
        continuity_breakdowns.render(ctx, args)
    elif view == "Pathway":
        _pathway(_pathway_model(*args), ctx)
    elif view == "Process control (SPC)":
        _spc(_spc_model(*args), ctx)
    elif view == "All areas":
        _all_areas(_areas_model(*args), head, ctx)
    elif view == "Figures":
        _figures(_figures_model(*args), ctx)
    else:
        _about(head, settings.disclosure_threshold)


# --- Cached view models -----------------------------------------------------------------------

@st.cache_data(**CACHE)
def _main_model(data_dir, version_id, area_code, area_name, period_end, group_codes,
                threshold, target, target_date, today):
    values = shared.values(data_dir, version_id, threshold)
    areas = data.areas(data_dir, version_id)
    protected = shared.protected(data_dir, version_id, area_code, period_end, threshold)
    if protected.empty:
        return None
    head = cc.headline(values, protected, area_code, area_name, areas, group_codes, target,
                       target_date, period_end, threshold)
    path = cc.trajectory(protected, area_name, target, target_date, today)
    shown = cc.with_protected_area(values, protected, area_code)
    rolling = cc.trend_rows(shown, area_code, area_name, group_codes, period_end, threshold)
    trend_rolling = charts.trend_chart(rolling, "% engaged within 3 weeks", target=target * 100,
                                       target_text=_target_label(target, target_date),
                                       trajectory=path.frame) \
        .to_dict(validate=False)
    # Change on a year earlier (rolling figures overlap, so a year apart is the fair test).
    rolling_rows = protected[protected["period_kind"] == "rolling_12m"]
    change = None
    if len(rolling_rows) >= 5 and rolling_rows["value"].iloc[[-1, -5]].notna().all():
        later, earlier = rolling_rows.iloc[-1], rolling_rows.iloc[-5]
        change = (later["value"] - earlier["value"],
                  earlier["period"].removeprefix("12 months to "),
                  headlines.change_is_significant(catalogue.get("continuity_of_care"),
                                                  earlier, later))
    return dict(headline=head, trajectory=path, trend_rolling=trend_rolling, change=change,
                rolling_words=chart_words.trend(rolling, cc.IND, area_name),
                rolling_table=_plotted(rolling),
                quarters_hidden=bool(protected["quarters_hidden"].iloc[0]))


@st.cache_data(**CACHE)
def _quarter_model(data_dir, version_id, area_code, area_name, period_end, group_codes,
                   threshold, target, target_date):
    """The single-quarter trend, built only when it is chosen (most never look at it),
    for an area whose quarters are not hidden (_main_model's quarters_hidden)."""
    shown = cc.with_protected_area(shared.values(data_dir, version_id, threshold),
                                   shared.protected(data_dir, version_id, area_code, period_end,
                                              threshold), area_code)
    quarters = cc.trend_rows(shown, area_code, area_name, group_codes, period_end, threshold,
                             quarterly=True)
    spec = charts.trend_chart(quarters, "% engaged within 3 weeks", target=target * 100,
                              target_text=_target_label(target, target_date)
                              ).to_dict(validate=False)
    return dict(spec=spec, words=chart_words.trend(quarters, cc.QUARTERLY, area_name),
                table=_plotted(quarters))


def _target_label(target: float, target_date) -> str:
    """The target line's words on both trends ("75% target by 31 March 2025")."""
    return f"{target * 100:g}% target by {cc.long_date(target_date)}"


def _spc_table(frame_: pd.DataFrame) -> pd.DataFrame:
    """Exactly the points and limits the SPC chart draws (already suppressed)."""
    columns = {"period": "Period", "value": "% engaged within 3 weeks", "mean": "Mean",
               "lower_limit": "Lower process limit", "upper_limit": "Upper process limit"}
    shown = frame_[[c for c in columns if c in frame_]]
    shown = shown.astype({c: float for c in columns if c in shown and c != "period"})
    return shown.rename(columns=columns).dropna(subset=[columns["value"]])


def _plotted(rows: pd.DataFrame) -> pd.DataFrame:
    """Exactly the figures the trend chart draws (already suppressed), as a table."""
    columns = {"line": "Line", "period": "Period", "value": "% engaged within 3 weeks",
               "lower95": "Lower 95% limit", "upper95": "Upper 95% limit"}
    shown = rows[[c for c in columns if c in rows]]
    shown = shown.astype({c: float for c in ("value", "lower95", "upper95") if c in shown})
    return shown.rename(columns=columns).dropna(subset=[columns["value"]])


@st.cache_data(**CACHE)
def _pathway_model(data_dir, version_id, area_code, area_name, period_end, group_codes,
                   threshold, target):
    latest, raw = shared.latest(data_dir, version_id, area_code, period_end, threshold)
    if latest is None:
        return None
    rows = data.breakdown_values(data_dir, version_id, IDS, (area_code, cc.ENGLAND))
    stages = cc.pathway(rows, raw, area_code, latest["period"], threshold, target,
                        bool(latest["suppressed"]), bool(latest["denominator_hidden"]))
    if stages.empty:
        return dict(period=latest["period"], spec=None)
    spec = continuity_charts.pathway_chart(stages, stages.attrs["target_count"],
                                           target * 100).to_dict(validate=False)
    table = pd.DataFrame({
        "Stage": stages["stage"],
        "People": ["*" if s else f"{c:,.0f}" for c, s in zip(stages["count"],
                                                             stages["suppressed"])],
        "% of those released with a need": [
            "*" if s else ("-" if pd.isna(p) else f"{p:.1f}%")
            for p, s in zip(stages["percent"], stages["suppressed"])]})
    return dict(period=latest["period"], spec=spec, table=table,
                words=cc.pathway_words(stages, target), complete=stages.attrs["complete"],
                described=chart_words.pathway(table, area_name, latest["period"]))


@st.cache_data(**CACHE)
def _spc_model(data_dir, version_id, area_code, area_name, period_end, group_codes,
               threshold, target):
    values = shared.values(data_dir, version_id, threshold)
    protected = shared.protected(data_dir, version_id, area_code, period_end, threshold)
    shown = cc.with_protected_area(values, protected, area_code)
    notes = data.annotations(data_dir, version_id, area_code, cc.IND.id)
    frame_, summary = cc.spc(shown, area_code, period_end, threshold, target, notes)
    basis = "single quarters"
    if frame_.empty or frame_["value"].notna().sum() < 2:
        # Single quarters hidden (small numbers): fall back to the rolling figures.
        frame_, summary = explorer.spc_frame(shown, cc.IND, area_code, period_end,
                                             threshold, target * 100, notes)
        basis = "rolling 12 months"
    if frame_.empty or frame_["value"].notna().sum() < 2:
        return dict(spec=None, summary=summary, basis=basis)
    spec = charts.spc_chart(frame_, "% engaged within 3 weeks", target=target * 100,
                            notes=notes).to_dict(validate=False)
    return dict(spec=spec, summary=summary, basis=basis,
                words=chart_words.spc(frame_, summary, cc.QUARTERLY if basis ==
                                      "single quarters" else cc.IND, area_name),
                table=_spc_table(frame_))


@st.cache_data(**CACHE)
def _areas_model(data_dir, version_id, area_code, area_name, period_end, group_codes,
                 threshold, target):
    values = shared.values(data_dir, version_id, threshold)
    areas = data.areas(data_dir, version_id)
    period = explorer.latest_period(values, cc.IND, period_end)
    if period is None:
        return None
    ranking = cc.ranking(values, period, areas, area_code, group_codes, threshold, target)
    england_value = explorer.england_value(values, cc.IND, period)
    ranked = charts.ranked_chart(ranking, "% engaged within 3 weeks", england_value,
                                 height=340, target=target * 100,
                                 target_text=f"{target * 100:g}% target") \
        .to_dict(validate=False)
    funnel = funnel_words = funnel_text = None
    if england_value is not None and ranking["denominator"].notna().all() and len(ranking):
        # Dots placed against the limits drawn; overdispersion allowed for when the test
        # says so (metrics.views.funnel), and the words say which.
        model = explorer.funnel_model(cc.IND, ranking, england_value, "auto")
        funnel = charts.funnel_chart(model["points"], model["limits"],
                                     "% engaged within 3 weeks",
                                     "Prison leavers with a need (log scale)") \
            .to_dict(validate=False)
        funnel_words = model["words"]
        funnel_text = chart_words.funnel(model["points"], cc.IND, period, england_value)
    table = ranking.sort_values("value", ascending=False).reset_index(drop=True)
    table = pd.DataFrame({
        "Rank": range(1, len(table) + 1),
        "Area": table["area_name"],
        "Rate": [f"{v:.1f}%" for v in table["value"]],
        "95% interval": [f"{lo:.1f}% to {hi:.1f}%" for lo, hi in
                         zip(table["lower95"], table["upper95"])],
        "Compared with England": [stats.COMPARISON_WORDS[c] for c in table["comparison"]],
        f"Meets {target * 100:g}%": ["Yes" if m else "No" for m in table["meets_target"]],
        "": table["role"].map({"Home": "This area", "Comparator": "Comparator"})
        .fillna(""),
    })
    rows = explorer.metric_rows(values, cc.IND)
    total = int(rows.loc[(rows["period"] == period)
                         & rows["area_code"].str[:3].isin(cc.UTLA_PREFIXES),
                         "area_code"].nunique())
    return dict(period=period, ranked=ranked, funnel=funnel, funnel_words=funnel_words,
                table=table, funnel_text=funnel_text,
                ranked_words=chart_words.ranking(ranking, cc.IND, area_name, period,
                                                 england_value),
                regions=cc.regions(values, period, areas),
                meeting=int(ranking["meets_target"].sum()), shown=len(ranking), total=total)


@st.cache_data(**CACHE)
def _figures_model(data_dir, version_id, area_code, area_name, period_end, group_codes,
                   threshold, target):
    values = shared.values(data_dir, version_id, threshold)
    protected = shared.protected(data_dir, version_id, area_code, period_end, threshold)
    return dict(table=cc.figures_table(values, protected),
                quarters_hidden=bool(len(protected) and protected["quarters_hidden"].iloc[0]))


# --- Drawing -------------------------------------------------------------------------------

def _cards(head: cc.Headline, model: dict) -> None:
    top = st.columns(3)
    with top[0], st.container(border=True):
        change = model["change"]
        st.metric(f"Latest 12 months ({head.rolling.period.removeprefix('12 months to ')})"
                  if head.rolling.period else "Latest 12 months", head.rolling.rate_text,
                  delta=(f"{change[0]:+.1f} points on a year earlier"
                         + ("" if change[2] else " (not significant)")) if change else None,
                  delta_color="normal" if change and change[2] else "off",
                  help="Rolling 12 months: the measure the target applies to.")
        st.caption(_md(" · ".join(t for t in (head.rolling.counts_text,
                                              head.rolling.interval_text) if t)))
        cards.comparison_badge(head.rolling.comparison,
                               stats.comparison_words(head.rolling.comparison))
    with top[1], st.container(border=True):
        st.metric(f"Latest quarter ({head.quarter.period})" if head.quarter.period
                  else "Latest quarter", head.quarter.rate_text,
                  help="The single quarter: fewer people, so it varies more.")
        st.caption(_md(" · ".join(t for t in (head.quarter.counts_text,
                                              head.quarter.interval_text) if t))
                   or "Not shown: some of this area's quarters have small numbers.")
        cards.comparison_badge(head.quarter.comparison,
                               stats.comparison_words(head.quarter.comparison))
    with top[2], st.container(border=True):
        if head.gap_points is None:
            st.metric(f"Gap to the {head.target:g}% target", "-")
            st.caption("Not shown: the latest figure is suppressed or missing.")
        elif head.met:
            st.metric(f"Gap to the {head.target:g}% target", "Target met")
            st.caption(f"{head.rolling.rate_text} in the latest 12 months.")
        elif head.people_short is None:     # a rate without counts: the gap in points only
            st.metric(f"Gap to the {head.target:g}% target",
                      f"{head.gap_points:.1f} points",
                      help="Target minus the latest 12-month rate, in percentage points.")
            st.caption("The extract has no counts of prison leavers, so the gap in people "
                       "is not shown.")
        else:
            st.metric(f"Gap to the {head.target:g}% target",
                      f"{head.gap_points:.1f} points",
                      help="Target minus the latest 12-month rate, in percentage points.")
            needed = head.people_short + int(head.rolling.engaged)
            st.caption(f"**{head.people_short:,} more people** would have had to engage "
                       f"within 3 weeks on the same releases ({head.target:g}% of "
                       f"{head.rolling.released:,.0f} is {needed:,}; "
                       f"{head.rolling.engaged:,.0f} did).")
    bottom = st.columns(3)
    with bottom[0], st.container(border=True):
        st.metric("England, same 12 months", head.england.rate_text)
        st.caption(head.england.interval_text)
    with bottom[1], st.container(border=True):
        st.metric(f"{head.region.label}, same 12 months", head.region.rate_text)
        words = stats.comparison_words(head.region_comparison, head.region.label)
        cards.comparison_badge(head.region_comparison, words)
    with bottom[2], st.container(border=True):
        st.metric("Comparator average, same 12 months", head.comparators.rate_text,
                  help="Pooled: the comparators' engagements over their releases "
                       "(areas with suppressed figures left out).")
        st.caption(head.comparators.interval_text)


def _md(text: str) -> str:
    """Text with '*' (a suppressed figure) kept literal in Markdown."""
    return text.replace("*", "\\*")


def _about_chart(ctx, title: str, period: str = ""):
    """A downloaded chart's title, source, period, data version and licence."""
    return exports.about(ctx, title, cc.IND.source, period)


def _pathway(model, ctx) -> None:
    if model is None or model["spec"] is None:
        st.info("No pathway figures are published for this area and period.")
        return
    st.markdown(f"**From prison to treatment, {model['period']}: where people are lost.**")
    st.markdown(model["words"])
    exports.chart(model["spec"], f"continuity-pathway-{ctx.area_code}", ctx.public,
                  about=_about_chart(ctx, f"From prison to treatment: {ctx.area_name}",
                                     model["period"]), description=model["described"])
    st.dataframe(tables.for_display(model["table"]), hide_index=True, width="stretch")
    notes = ["Referred = engaged within 3 weeks + engaged later + referred but not engaged. "
             "The red tick marks how many would have had to engage within 3 weeks to meet "
             "the target on these releases; the pale red bar is the people short."]
    if not model["complete"]:
        notes.append("The pathway figures do not add up to the published total for this "
                     "period; check the extract.")
    st.caption(" ".join(notes))


def _spc(model, ctx) -> None:
    if model["spec"] is None:
        st.info("Too few figures for a statistical process control chart.")
        return
    summary = model["summary"]
    st.markdown(f"**Statistical process control: {model['basis']}, against the target.**")
    exports.chart(model["spec"], f"continuity-spc-{ctx.area_code}", ctx.public,
                  about=_about_chart(ctx, f"Continuity of care: {ctx.area_name}, statistical "
                                     "process control chart"), description=model["words"])
    if len(model["table"]):
        with st.expander("Table"):
            st.html(tables.board_table(model["table"],
                                       caption="The figures the chart plots"))
    # From the same rule columns as the chart's markers (metrics.views.explorer.spc_words).
    st.markdown("**" + plain.md(summary.get("words", "Variation not assessed.")) + "**")
    caveats = [f"Making Data Count XmR chart of {model['basis']}: a point outside the "
               "process limits, 7 points in a row on one side of the mean or rising or "
               "falling, or 2 of 3 points beyond two sigma, is special cause variation. "
               "The assurance compares the process limits with the target (red line)."]
    if model["basis"] == "rolling 12 months":
        caveats.append("This area's single quarters are suppressed, so overlapping "
                       "rolling figures are used: runs and trends appear more readily.")
    if summary.get("too_few_points"):
        caveats.append("Fewer than 12 points: the limits are provisional.")
    st.caption(" ".join(caveats))


def _all_areas(model, head: cc.Headline, ctx) -> None:
    if model is None:
        st.info("No figures for other areas.")
        return
    st.markdown(f"**Every area, {model['period']}: {model['meeting']} of {model['total']} "
                f"met the {head.target:g}% target.**")
    exports.chart(model["ranked"], f"continuity-ranked-{ctx.area_code}", ctx.public,
                  about=_about_chart(ctx, "Continuity of care: every area ranked",
                                     model["period"]), description=model["ranked_words"])
    st.caption("Each bar is an area's 95% interval, coloured by comparison with England. "
               "Dark ring: this area. Purple diamonds: its comparators. Black dashed line: "
               f"England. Red dashed line: the {head.target:g}% target. Areas with "
               "suppressed figures are not shown.")
    if model["funnel"] is not None:
        st.markdown("**Funnel plot against England**")
        exports.chart(model["funnel"], f"continuity-funnel-{ctx.area_code}", ctx.public,
                      about=_about_chart(ctx, "Continuity of care: funnel plot against "
                                         "England", model["period"]),
                      description=model["funnel_text"])
        st.caption(explorer.FUNNEL_CAPTION)
        st.caption(model["funnel_words"])
    st.markdown("**All areas**")
    # Board tables, whose cells wrap: as data grids both ran 56 px past a 1024 px page.
    st.html(tables.board_table(model["table"],
                               caption="Every area, with its 95% interval and comparison"))
    st.markdown("**Regions**")
    st.html(tables.board_table(model["regions"], caption="Regions"))


def _figures(model, ctx) -> None:
    table = model["table"]
    if model["quarters_hidden"]:
        st.caption("Single-quarter figures are suppressed for this area: some quarters "
                   "have small numbers that the rolling 12-month figures would give away.")
    download = table.copy()
    download.insert(0, "Area", ctx.area_name)
    if ctx.is_demo:
        # Every row of a download says what it is, wherever the file travels.
        download.insert(0, "Data status", "DEMONSTRATION DATA - not real figures")
    exports.table(download, f"continuity_of_care_{ctx.area_code}", ctx.public)
    # On screen, five columns that wrap (the nine of the full table ran 383 px past a
    # 1024 px page); the full table, as downloaded, folded away below.
    st.html(tables.board_table(tables.narrow_continuity_figures(table),
                               caption=f"Continuity of care: {ctx.area_name}'s figures"))
    with st.expander("Every column, as in the download"):
        one_decimal = st.column_config.NumberColumn(format="%.1f")
        shown = tables.for_display(table)
        # Columns with a suppressed cell are text ('-') by now, already at one decimal.
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            c: one_decimal for c in ("Rate (%)", "Lower 95%", "Upper 95%", "England (%)")
            if pd.api.types.is_numeric_dtype(shown[c])})
    shared.suppression_note(ctx)


def _about(head: cc.Headline, threshold: int) -> None:
    ind = cc.IND
    st.markdown(f"**Definition.** {ind.definition}")
    st.markdown(f"**Source:** {ind.source} · **Frequency:** {ind.frequency} · **Better "
                "when:** higher · **Intervals:** Wilson score (95% and 99.8%)")
    st.markdown(
        f"**Target.** {head.target:g}% by {cc.long_date(head.target_date)}: the national "
        "drug strategy *From Harm to Hope* (2021) asks for community pick-up of prison "
        "leavers to reach 75% by end-March 2025. The target and its date are settings "
        "(`targets.continuity_of_care` and `targets.continuity_of_care_date` in "
        "config.toml); it is judged on the rolling 12 months ending at the date.")
    st.markdown(
        "**People short** = the engagements the target needs on the same releases "
        "(target × released, rounded up to whole people) minus those who engaged. "
        "**Trajectory**: the steady rise in percentage points a quarter from the "
        "latest 12-month figure to the target in the 12 months ending at the target "
        "date; the recent pace is the change over the last four quarters, divided by four. "
        "A date at that pace is projected only when the change is significant: the two "
        "12-month figures a year apart share no quarter, and the 95% interval of their "
        "difference (Newcombe's method, from the Wilson intervals) must exclude no "
        "change; the projection is given with the dates at both ends of that interval.")
    st.markdown(
        f"**Disclosure control.** Counts from 1 to {threshold - 1} are suppressed (`*`), "
        "with any rate built on them. Breakdowns and the pathway also use secondary "
        "suppression, so a hidden count cannot be worked out from the total or the other "
        "groups. A rolling 12-month figure is the sum of four quarters, so where any "
        "quarter of an area has a small count, all its single-quarter figures are "
        "hidden: otherwise that quarter could be worked out by subtraction.")
