"""One outcome of the strategy, explored: every metric on a spine chart, then the chosen
metric's trend, SPC chart, comparison of all areas, figures and definition.

Each of the six outcome pages in pages/ is one call to `render(outcome)`. The numbers
and chart specifications for a view are built once per selection and cached (building
an Altair chart costs far more than drawing it), and only the chosen view is built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import streamlit as st

from metrics import stats
from metrics.ingest import IngestError, actions, definitions
from metrics.access import AccessDenied
from metrics.reference import catalogue, formatting, glossary
from metrics.render import charts, palette
from metrics.views import chart_words, explorer, headlines
from ui import auth, cards, data, exports, frame, plain, tables

VIEWS = ["Trend", "Process control (SPC)", "All areas", "Figures", "About this metric"]
CI_WORDS = {
    "wilson": "Wilson score (95% and 99.8%)",
    "byars": "Byar's method, exact Poisson below 10 events",
    "dsr": "Dobson method for directly standardised rates",
    "none": "none (activity count)",
    definitions.SUPPLIED: "as published with the figures",
}
TITLES = {**catalogue.OUTCOMES, definitions.OTHER: definitions.OTHER_TITLE}
NO_OTHER_METRICS = ("No other metrics are loaded. Metrics from a Fingertips export that the "
                    "catalogue does not list appear here.")
CACHE = dict(max_entries=256, show_spinner=False)


def _text(ind, text) -> str:
    """Text that holds a loaded metric's name, definition or caveats came from a file:
    shown as the characters it holds (never a link or formatting). The catalogue's own
    metrics are ours and keep their Markdown."""
    return str(text) if ind.id in catalogue.BY_ID else plain.md(text)


def render(outcome: str) -> None:
    ctx = frame.context()
    threshold = ctx.disclosure_threshold
    st.title(f"{TITLES[outcome]}: {ctx.area_name}")
    indicators = _indicators(ctx.data_dir, ctx.version.id, outcome)
    if not indicators:
        st.info(NO_OTHER_METRICS, icon=":material/info:")
        return

    metric_col, group_col = st.columns([2, 1])
    with group_col:
        group = frame.comparator_select(ctx)
    names = ctx.areas.set_index("area_code")["area_name"]
    # The abbreviations' plain words come first, before any badge or table uses them.
    points = f" {glossary.POINTS}" if any(i.unit == "%" for i in indicators) else ""
    st.caption(f"Figures up to {ctx.period}. Comparators: {group.description}: "
               + ", ".join(names.get(c, c) for c in group.codes)
               + f". {glossary.CONFIDENCE}{points}")

    table, spec, words = _spine_model(ctx.data_dir, ctx.version.id, outcome, ctx.area_code,
                               ctx.period_end, group.codes, threshold)
    st.subheader("All metrics compared with England")
    if spec is not None:
        exports.chart(spec, f"spine-{outcome}-{ctx.area_code}", ctx.public,
                      about=exports.about(ctx, f"{TITLES[outcome]}: {ctx.area_name} "
                                          "compared with England",
                                          "; ".join(sorted({i.source for i in indicators}))),
                      description=words)
        st.caption("England is the centre line. The grey bar runs from the worst area (left) "
                   "to the best (right), or lowest to highest where neither is better; its "
                   "dark part is the middle half of areas. The marker is this area, its shape "
                   "and colour the comparison with England; the purple diamond is the "
                   "comparator average."
                   + (" A metric published by police force area shows the force's figure; "
                      "one published for England only is not placed on the spine (it has "
                      "no area figures)." if table["detail"].str.contains(
                          "police force area|England only").any() else ""))
    st.html(tables.board_table(
        table.drop(columns=["comparison", "detail"]).rename(columns={"This area": ctx.area_name}),
        caption="All metrics of this outcome: each figure in the metric's unit, said under "
                "its name",
        verdicts={"Compared with England": table["comparison"].tolist()},
        details=table["detail"].tolist()))
    download = table.drop(columns="comparison").rename(columns={
        "This area": ctx.area_name, "detail": "Period, unit and geography"})
    exports.table(download, f"all-metrics-{outcome}-{ctx.area_code}", ctx.public)

    by_id = {ind.id: ind for ind in indicators}
    with metric_col:
        default = catalogue.OUTCOME_HEADLINE.get(outcome, indicators[0].id)
        metric_id = frame.url_selectbox("Metric", list(by_id), default=default, key="metric",
                                        format_func=lambda i: by_id[i].title)
    _metric_detail(by_id[metric_id], ctx, group, threshold)


@st.cache_data(**CACHE)
def _spine_model(data_dir: str, version_id: str, outcome: str, area_code: str,
                 period_end: dt.date, group_codes: tuple[str, ...], threshold: int):
    values = _outcome_values(data_dir, version_id, outcome, threshold)
    areas = data.areas(data_dir, version_id)
    rows = explorer.spine_rows(values, outcome, area_code, areas, group_codes, period_end,
                               threshold, _indicators(data_dir, version_id, outcome))
    plotted = rows.dropna(subset=["pos_min"]) if "pos_min" in rows else rows.iloc[0:0]
    spec = charts.spine_chart(plotted).to_dict(validate=False) if len(plotted) else None
    words = chart_words.spine(plotted, explorer.area_names(areas).get(area_code, area_code))
    return spine_table(rows, _indicators(data_dir, version_id, outcome)), spec, words


def _short_verdict(words: str, code: str) -> str:
    """'Better (95%)' for 'Better than England (95% confidence)', as the chart's legend says
    it (the column's header names England); 'Not compared' keeps its reason (England only)
    and an approximate interval stays said."""
    if code == "not_compared" or not isinstance(words, str):
        return words
    approximate = f" ({explorer.APPROXIMATE})"
    return palette.short_words(code) + (approximate if words.endswith(approximate) else "")


# Geography said under a metric's name in the spine table (the area's cell names the force).
GEOGRAPHY_WORDS = {"pfa": "police force area", "national": "England only"}


def spine_table(rows: pd.DataFrame, indicators: list) -> pd.DataFrame:
    """The spine's rows as six columns a 1024 px page shows whole: the metric (its period,
    unit and geography on a second line, so the figures are bare numbers), this area,
    England, the comparators, the range of areas and the comparison. `comparison` (the
    codes that colour the last column) and `detail` (the second line) are for
    tables.board_table, not columns."""
    by_id = {ind.id: ind for ind in indicators}
    out = []
    for row in rows.to_dict("records"):
        ind = by_id[row["indicator_id"]]
        # Bare numbers: the unit is said once, under the metric's name.
        suffix = f" {ind.unit}" if ind.unit not in ("%", "count") else ""

        def bare(text):
            return text.replace(suffix, "") if suffix and isinstance(text, str) else text

        worst, best = bare(row.get("worst_text")), bare(row.get("best_text"))
        ends = ("lowest", "highest") if ind.polarity not in ("low", "high") else ("worst", "best")
        spread = worst if worst in ("-", explorer.NO_AREA_FIGURES) or worst == best \
            else f"{worst} ({ends[0]}) to {best} ({ends[1]})"
        detail = [row["period"] if row["period"] not in ("-", "no data") else "",
                  ind.unit if ind.unit != "count" else "count",
                  GEOGRAPHY_WORDS.get(ind.geography, "")]
        out.append({"Metric": row["title"], "This area": bare(row["area_text"]),
                    "England": bare(row["england_text"]),
                    "Comparators": bare(row["comparators_text"]), "Range of areas": spread,
                    "Compared with England": _short_verdict(row["significance_words"],
                                                            row["comparison"]),
                    "comparison": row["comparison"],
                    "detail": " · ".join(d for d in detail if d)})
    return pd.DataFrame(out, columns=["Metric", "This area", "England", "Comparators",
                                      "Range of areas", "Compared with England",
                                      "comparison", "detail"])


def _outcome_values(data_dir: str, version_id: str, outcome: str, threshold: int):
    """The outcome's area totals, protected once for every view (ui.data.public_values):
    spine, trend, SPC, rankings, funnel and figures all hide the same cells."""
    ids = tuple(ind.id for ind in _indicators(data_dir, version_id, outcome))
    return data.public_values(data_dir, version_id, ids, threshold)


def _indicators(data_dir: str, version_id: str, outcome: str) -> list:
    """The page's metrics: the outcome's catalogue metrics, then metrics loaded from
    extracts that name this outcome (on the Other metrics page: those naming none)."""
    loaded = [ind for ind in data.loaded_indicators(data_dir, version_id)
              if ind.outcome == outcome]
    return [*catalogue.for_outcome(outcome), *loaded]


def _indicator(data_dir: str, version_id: str, metric_id: str):
    """Any metric's definition: the catalogue's, or a loaded metric's (metrics.ingest.definitions)."""
    if metric_id in catalogue.BY_ID:
        return catalogue.BY_ID[metric_id]
    return next(ind for ind in data.loaded_indicators(data_dir, version_id)
                if ind.id == metric_id)


@st.cache_data(**CACHE)
def _headline(data_dir, version_id, metric_id, area_code, period_end, group_codes, threshold,
              period_label=None):
    """The chosen metric's latest figure, England, comparison and recent trend, and
    (`missing`) why the area has no figure, in words, when it has none."""
    ind = _indicator(data_dir, version_id, metric_id)
    values = _outcome_values(data_dir, version_id, ind.outcome, threshold)
    areas = data.areas(data_dir, version_id)
    shown, note = explorer.shown_area(ind, area_code, areas)
    missing = explorer.missing_words(values, ind, area_code, areas, period_end, period_label)
    period = explorer.latest_period(values, ind, period_end)
    if period is None:
        return dict(period=None, shown=shown, note=note, missing=missing)
    ranking = explorer.area_ranking(values, ind, period, areas, shown, group_codes, threshold)
    latest = explorer.suppress(explorer.metric_rows(values, ind).query(
        "period == @period and area_code == @shown"), ind, threshold)
    own = ranking[ranking["area_code"] == shown]
    suppressed = bool(len(latest) and latest["suppressed"].iloc[0])
    # A rate withheld on fewer than 10 events: the same words as the overview card.
    withheld = headlines.withheld_words(latest.iloc[0], ind, threshold) if len(latest) \
        else None
    return dict(
        period=period, shown=shown, note=note, missing=missing, withheld=withheld,
        value_text=formatting.SUPPRESSED if suppressed else
        "not published" if withheld else
        "not loaded yet" if latest.empty else
        formatting.with_unit(latest["value"].iloc[0] if len(latest) else None, ind),
        england_value=explorer.england_value(values, ind, period),
        comparison=own["comparison"].iloc[0] if len(own) and shown != explorer.ENGLAND
        else "not_compared",
        trend=explorer.recent_trend(values, ind, shown, period_end, threshold))


@st.cache_data(**CACHE)
def _view_model(view, data_dir, version_id, metric_id, area_code, shown_name, period_end,
                group_codes, threshold, target, funnel_method="auto"):
    """Numbers and chart specs for one view of one metric (only the view on screen).
    `funnel_method`: the funnel's limits, a key of metrics.views.funnel.FUNNEL_METHODS."""
    ind = _indicator(data_dir, version_id, metric_id)
    values = _outcome_values(data_dir, version_id, ind.outcome, threshold)
    areas = data.areas(data_dir, version_id)
    shown, _ = explorer.shown_area(ind, area_code, areas)
    # Analysts' notes on the area's own series (not on a force's or England's in its place).
    notes = data.annotations(data_dir, version_id, area_code, metric_id) \
        if shown == area_code else None
    if view == "Trend":
        lines = {shown: shown_name}
        # England's activity counts dwarf an area's: on one axis the area's line is flat.
        if shown != explorer.ENGLAND and ind.benchmarkable:
            lines[explorer.ENGLAND] = "England"
        rows = explorer.trend_series(values, ind, lines, group_codes, period_end, threshold)
        if rows.empty or rows["value"].notna().sum() == 0:
            return dict(spec=None)     # nothing to draw: the page says what is missing
        return dict(spec=charts.trend_chart(rows, ind.unit, target=target, notes=notes)
                    .to_dict(validate=False), notes=notes,
                    area_drawn=bool((rows["is_area"] & rows["value"].notna()).any()),
                    words=chart_words.trend(rows, ind, shown_name),
                    table=_plotted(rows, ind))
    if view == "Process control (SPC)":
        frame_, summary = explorer.spc_frame(values, ind, shown, period_end, threshold, target,
                                             notes)
        if frame_.empty or frame_["value"].notna().sum() < 2:
            return dict(spec=None, summary=summary)
        return dict(spec=charts.spc_chart(frame_, ind.unit, target=target, notes=notes)
                    .to_dict(validate=False), summary=summary, notes=notes,
                    words=chart_words.spc(frame_, summary, ind, shown_name),
                    table=_plotted(frame_.assign(line=shown_name), ind))
    if view == "All areas":
        period = explorer.latest_period(values, ind, period_end)
        if period is None:
            return dict(period=None, ranking=None, ranked=None, funnel=None,
                        funnel_words=None)
        if ind.geography == "national":
            # No areas to rank: England's own series, never England against itself.
            rows = explorer.trend_series(values, ind, {explorer.ENGLAND: "England"}, (),
                                         period_end, threshold)
            return dict(period=period, england_only=True, ranking=None, ranked=None,
                        funnel=None, funnel_words=None,
                        spec=charts.trend_chart(rows, ind.unit).to_dict(validate=False)
                        if rows["value"].notna().any() else None)
        ranking = explorer.area_ranking(values, ind, period, areas, shown, group_codes,
                                        threshold)
        england_value = explorer.england_value(values, ind, period)
        out = dict(period=period, ranking=ranking[["area_name", "display", "value", "role"]],
                   ranked=None,
                   funnel=None, funnel_words=None)
        if ind.benchmarkable and len(ranking):
            out["ranked"] = charts.ranked_chart(ranking, ind.unit, england_value) \
                .to_dict(validate=False)
            out["ranked_words"] = chart_words.ranking(ranking, ind, shown_name, period,
                                                      england_value)
            out["ranked_table"] = _ranked_table(ranking, ind)
            if ind.ci_method in ("wilson", "byars") and england_value is not None \
                    and ranking["denominator"].notna().all():
                # Dots placed against the limits drawn (chance alone, or widened for
                # overdispersion), and words saying which limits those are.
                funnel = explorer.funnel_model(ind, ranking, england_value, funnel_method)
                out["funnel"] = charts.funnel_chart(
                    funnel["points"], funnel["limits"], ind.unit,
                    "Denominator (log scale)").to_dict(validate=False)
                out["funnel_words"] = funnel["words"]
                out["funnel_text"] = chart_words.funnel(funnel["points"], ind, period,
                                                        england_value)
        return out
    if view == "Figures":
        codes = list(dict.fromkeys([shown, explorer.ENGLAND, *group_codes]))
        return dict(table=explorer.values_table(values, ind, codes, areas, period_end,
                                                threshold))
    return {}


def _metric_detail(ind, ctx, group, threshold) -> None:
    head = _headline(ctx.data_dir, ctx.version.id, ind.id, ctx.area_code, ctx.period_end,
                     group.codes, threshold, ctx.period)
    # A force's figure is named as the force's, an England-only one as England's.
    shown_name = explorer.shown_name(ind, ctx.area_code, ctx.areas)
    england_only = ind.geography == "national" and ctx.area_code != explorer.ENGLAND
    st.subheader(_text(ind, ind.title))
    if head["note"]:
        st.info(_text(ind, head["note"]), icon=":material/public:")
    if head["missing"]:
        # A partnership loads its sources one by one: say what is missing, in words.
        st.info(_text(ind, head["missing"]), icon=":material/hourglass_empty:")
    if head["period"] is None:
        _about(ind, cards.timeliness(ctx, ind))
        return
    left, middle, right = st.columns(3)
    with left:
        if england_only:
            # England's figure sits in England's place only, never under the area's name.
            st.metric(ctx.area_name, "England only", help=ind.definition)
            st.caption(f"{explorer.ENGLAND_ONLY}: England's figure for {head['period']} "
                       "is beside this.")
        else:
            # Not loaded for the area: the latest period is other areas', so leave it out.
            label = shown_name if head["value_text"] == "not loaded yet" else \
                f"{shown_name}, {head['period']}"
            st.metric(label, head["value_text"], help=ind.definition)
        if head["withheld"]:
            st.caption(head["withheld"][0].upper() + head["withheld"][1:])
    with middle:
        st.metric(f"England, {head['period']}" if england_only else "England",
                  formatting.with_unit(head["england_value"], ind))
        cards.comparison_badge(head["comparison"], "Not compared: England only"
                               if england_only else stats.comparison_words(head["comparison"]))
    with right:
        st.markdown("Recent trend (last 5 points)", help="Fingertips method: chi-square "
                    "test for trend on the five most recent points with a value (a "
                    "period with none is skipped), significant at 99.8%.")
        # Bold words, not a heading: the trend is a figure's verdict, not a section, and
        # a heading's size ran it to three lines beside the figures on a 1024 px laptop.
        st.markdown(f"**{plain.md(head['trend']['words'])}**")
        if head["trend"]["code"] == "cannot_be_calculated" and head["trend"].get("reason"):
            reason = head["trend"]["reason"]
            st.caption(reason[0].upper() + reason[1:] + ".")
        if head["trend"].get("skipped"):
            skipped = head["trend"]["skipped"]
            st.caption(f"{' and '.join(skipped)} {'has' if len(skipped) == 1 else 'have'} "
                       "no value and " + ("is" if len(skipped) == 1 else "are")
                       + " skipped, as Fingertips does.")

    view = st.segmented_control("View", VIEWS, default=VIEWS[0], required=True, key="view",
                                bind="query-params", label_visibility="collapsed")
    target = ctx.settings.continuity_target * 100 if ind.target == "continuity_of_care" else None
    funnel_method = "auto"
    # Only where a funnel is drawn: an England-only metric has no areas to place on one.
    if view == "All areas" and ind.ci_method in ("wilson", "byars") \
            and ind.geography != "national":
        funnel_method = st.segmented_control(
            "Funnel limits", list(explorer.FUNNEL_METHODS), default="auto", required=True,
            key="funnel", bind="query-params", format_func=explorer.FUNNEL_METHODS.get,
            help="Automatic: widened for overdispersion (random effects) when the areas vary "
                 "more than chance alone allows, otherwise chance alone. The words under "
                 "the funnel say which is drawn.")
    about = exports.about(ctx, f"{ind.title}: {shown_name}", ind.source)
    model = _view_model(view, ctx.data_dir, ctx.version.id, ind.id, ctx.area_code, shown_name,
                        ctx.period_end, group.codes, threshold, target, funnel_method)
    if view == "Trend":
        if model["spec"] is None:
            # The reason is already said above the figures; here only that nothing is drawn.
            st.info(_text(ind, f"No trend to draw for {shown_name}." if head["missing"] else
                          f"{ind.title}: no figures to draw up to {ctx.period}."))
            return
        exports.chart(model["spec"], f"trend-{ind.id}-{ctx.area_code}", ctx.public,
                      about=replace(about, title=f"{ind.title}: {shown_name}, trend"),
                      description=model.get("words"))
        _table_of(model)
        if not model.get("area_drawn", True):
            st.caption(f"{shown_name} has no figures for this metric yet: the chart shows "
                       "the other lines only.")
        if england_only:
            st.caption(f"{explorer.ENGLAND_ONLY}: the line is England's own series, with "
                       "its 95% confidence interval shaded.")
        elif ind.ci_method != "none":
            st.caption(f"Shaded band: 95% confidence interval for {shown_name}.")
        else:
            st.caption("Activity count for the area shown; not compared with England.")
        _notes_view(model, ind, ctx)
    elif view == "Process control (SPC)":
        if england_only and model["spec"] is not None:
            st.caption(f"{explorer.ENGLAND_ONLY}: this is England's own series; there is "
                       "no area series to chart.")
        _spc_view(model, ind, f"spc-{ind.id}-{ctx.area_code}", ctx.public, head["missing"],
                  replace(about, title=f"{ind.title}: {shown_name}, statistical process "
                          "control chart"))
        if model["spec"] is not None:
            _notes_view(model, ind, ctx)
    elif view == "All areas":
        _areas_view(model, ind, f"{ind.id}-{ctx.area_code}", ctx.public,
                    replace(about, period=model.get("period") or about.period))
    elif view == "Figures":
        table = model["table"]
        if table.empty:
            st.info(_text(ind, f"{ind.title}: no figures for {shown_name}, England or the "
                          f"comparators up to {ctx.period}."))
            return
        if ctx.is_demo:
            # Every row of a download says what it is, wherever the file travels.
            table.insert(0, "Data status", "DEMONSTRATION DATA - not real figures")
        exports.table(table, f"{ind.id}_{ctx.area_code}", ctx.public)
        # On screen the values come first: the indicator is named in the heading above and
        # the status (in every downloaded row) goes last, not pushing values off screen.
        shown = table.drop(columns=["Indicator id", "Indicator", "Data status"], errors="ignore")
        if "Data status" in table:
            shown["Data status"] = table["Data status"]
        # On screen, five columns that wrap (the thirteen of the full table ran 870-970 px
        # past a 1024 px page); the full table, as downloaded, folded away below.
        st.html(tables.board_table(tables.narrow_figures(shown, ind),
                                   caption=f"{ind.title}: the figures behind the charts"))
        with st.expander("Every column, as in the download"):
            st.dataframe(tables.for_display(shown), hide_index=True, width="stretch")
    else:
        _about(ind, cards.timeliness(ctx, ind))


def _notes_view(model, ind, ctx) -> None:
    """The notes drawn on the chart, in words, and (for those whose role allows it) a
    form to add one. The role is checked again where the note is published
    (metrics.ingest.actions.add_annotation), so a replayed form adds nothing."""
    notes = model.get("notes")
    if notes is None:      # a force's or England's series in the area's place: no notes
        return
    kind, message = st.session_state.pop("note_flash", (None, None))
    if message:
        getattr(st, kind)(message)
    if len(notes):
        st.markdown("**Notes on this chart** (dotted lines)")
        st.markdown("\n".join(
            f"- {d:%-d %B %Y}: {plain.md(t)}"
            + (" *(service change: process control limits recalculated from here)*"
               if c else "")
            for d, t, c in zip(notes["date"], notes["text"],
                               notes["service_change"].fillna(False))))
    who = ctx.access or auth.current(ctx.settings)
    if not who.allows("annotate"):
        return
    with st.expander("Add a note to this chart"):
        with st.form(f"note-{ind.id}", clear_on_submit=True, border=False):
            day = st.date_input("Date", value=None, format="DD/MM/YYYY",
                                min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31))
            text = st.text_input("Note", max_chars=200,
                                 placeholder="New provider from April 2024")
            change = st.checkbox(
                "A change to the service: recalculate the process control limits from "
                "this date", help="Making Data Count's rebasing: the mean and limits are "
                "worked out afresh from the first period that starts on or after the date, "
                "on the chart, the slides and the exceptions list.")
            st.caption(f"Drawn on this metric's charts for {ctx.area_name}; saved as a new "
                       "version of the data, kept when new extracts are loaded.")
            if st.form_submit_button("Add note", icon=":material/edit_note:"):
                try:
                    version, _ = actions.add_annotation(
                        who.identity, ctx.settings, who.sign_in, ctx.data_dir,
                        ctx.area_code, [ind.id], day, text, service_change=change)
                    st.session_state["note_flash"] = (
                        "success", f"Note added (version {version.id}).")
                except (IngestError, AccessDenied) as exc:
                    st.session_state["note_flash"] = ("error",
                                                      f"Not added: {plain.md(exc)}")
                st.rerun()


def _spc_view(model, ind, name: str, public: bool, missing: str | None = None,
              about=None) -> None:
    summary = model["summary"]
    if model["spec"] is None:
        st.info(_text(ind, missing) if missing else "Too few points for a statistical "
                "process control chart: it needs at least two.")
        return
    exports.chart(model["spec"], name, public, about=about, description=model.get("words"))
    _table_of(model)
    # Built with the markers from the same rule columns (metrics.views.explorer.spc_words).
    st.markdown("**" + plain.md(summary.get("words", "Variation not assessed.")) + "**")
    caveats = ["Making Data Count rules: a point outside the process limits, 7 points in a "
               "row on one side of the mean or rising or falling, or 2 of 3 points beyond "
               "two sigma."]
    if ind.period_kind == "rolling_12m":
        caveats.append("These are overlapping rolling 12-month figures, so runs and trends "
                       "appear more readily than in separate periods.")
    if summary.get("too_few_points"):
        caveats.append("Fewer than 12 points: the limits are provisional.")
    st.caption(" ".join(caveats))


def _areas_view(model, ind, name: str, public: bool, about=None) -> None:
    if model.get("england_only"):
        st.info(explorer.ENGLAND_ONLY_WHY, icon=":material/public:")
        if model["spec"] is not None:
            st.markdown("**England's own series**")
            exports.chart(model["spec"], f"england-{name}", public, about=about and
                          replace(about, title=f"{ind.title}: England"))
        return
    if model["ranking"] is None or model["ranking"].empty:
        st.info(_text(ind, f"{ind.title}: no area figures are loaded for "
                      f"{model['period'] or 'this period'}, so there is nothing to rank."))
        return
    if model["ranked"] is None:
        every = "police force areas" if ind.geography == "pfa" else "areas"
        st.caption(f"All {every}, {model['period']}, from the highest figure to the lowest; "
                   f"the selected area's{' police force area' if ind.geography == 'pfa' else ''}"
                   " row is highlighted. Activity counts are not compared between areas of "
                   "different size.")
        where = tables.home_rank_words(model["ranking"])
        if where:
            st.markdown(f"**{plain.md(where)}**")
        st.dataframe(tables.ranked(model["ranking"], ind.unit), hide_index=True,
                     width="stretch")
        return
    every = "Every police force area" if ind.geography == "pfa" else "Every area"
    st.markdown(f"**{every}, {model['period']}, ranked, with 95% intervals**")
    exports.chart(model["ranked"], f"ranked-{name}", public, about=about and replace(
        about, title=f"{ind.title}: {every.lower()} ranked, with 95% intervals"),
        description=model.get("ranked_words"))
    _table_of(model, "ranked_table")
    st.caption(("Dark ring: the selected area's police force area. " if ind.geography == "pfa"
                else "Dark ring: the selected area. Purple diamonds: its comparators. ")
               + "Dashed line: England. Named on the chart: the selected area, "
               + ("" if ind.geography == "pfa" else "its comparators, ")
               + "England, and the five lowest and five highest.")
    if model["funnel"] is not None:
        st.markdown("**Funnel plot against England**")
        exports.chart(model["funnel"], f"funnel-{name}", public, about=about and replace(
            about, title=f"{ind.title}: funnel plot against England"),
            description=model.get("funnel_text"))
        st.caption(explorer.FUNNEL_CAPTION)
        st.caption(model["funnel_words"])


def _plotted(rows, ind):
    """Exactly the figures a trend or SPC chart draws (already suppressed), as a table."""
    columns = {"line": "Line", "period": "Period", "value": f"Value ({ind.unit})",
               "lower95": "Lower 95% limit", "upper95": "Upper 95% limit",
               "mean": "Mean", "lower_limit": "Lower process limit",
               "upper_limit": "Upper process limit"}
    shown = rows[[c for c in columns if c in rows]]
    shown = shown.astype({c: float for c in columns if c in shown and c not in ("line", "period")})
    return shown.rename(columns=columns).dropna(subset=[columns["value"]])


def _ranked_table(ranking, ind):
    """The ranked chart's figures, highest first (suppressed areas are not in `ranking`)."""
    columns = {"area_name": "Area", "value": f"Value ({ind.unit})",
               "lower95": "Lower 95% limit", "upper95": "Upper 95% limit",
               "denominator": "Denominator", "comparison": "Compared with England",
               "role": "Role"}
    shown = ranking.sort_values("value", ascending=False)
    shown = shown[[c for c in columns if c in shown]]
    shown = shown.astype({c: float for c in ("value", "lower95", "upper95", "denominator")
                          if c in shown})
    if "comparison" in shown:
        # In the legend's words, never the code ("worse_998") the chart colours by.
        shown["comparison"] = [palette.short_words(c) for c in shown["comparison"]]
    return shown.rename(columns=columns)


def _table_of(model, key: str = "table") -> None:
    """The chart's own figures under it, folded away (the text alternative's table)."""
    if model.get(key) is not None and len(model[key]):
        with st.expander("Table"):
            # A board table: its cells wrap, so every column shows on a 1024 px laptop
            # (as a data grid the ranking's table ran 218-331 px past its place there).
            st.html(tables.board_table(model[key],
                                       caption="The figures the chart plots"))


def _about(ind, when) -> None:
    better = {"high": "higher", "low": "lower", "none": "neither higher nor lower"}
    st.markdown(f"**Definition.** {_text(ind, ind.definition)}")
    # Statistics status and timeliness, as the Code of Practice asks (metrics.reference.status).
    dates = f" · {when.line()}" if when.line() else ""
    st.markdown(f"**Status:** {when.status_words} · **Publisher:** "
                f"{_text(ind, when.publisher)}{dates}")
    st.markdown(
        f"**Unit:** {_text(ind, ind.unit)} · **Source:** {_text(ind, ind.source)} · "
        f"**Frequency:** {ind.frequency} · "
        f"**Geography:** {catalogue.GEOGRAPHY_WORDS[ind.geography]} · **Better when:** "
        f"{better[ind.polarity]} · **Intervals:** {CI_WORDS[ind.ci_method]}")
    if ind.fingertips_id:
        st.markdown(f"**Fingertips indicator:** {_text(ind, ind.fingertips_id)}")
    if ind.caveats:
        st.markdown(f"**Caveats.** {_text(ind, ind.caveats)}")
