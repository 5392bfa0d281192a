"""What a board is told: the slides of presentation mode and the pages of the board pack.

One `Briefing` per area and period, built from published values; the presentation page
and the PDF board pack both render it, so what is said in the meeting and what is written
in the papers cannot drift apart. Always public: small counts are suppressed with the
configured threshold whatever an analyst's screen shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import altair as alt
import pandas as pd

from metrics.reference import catalogue
from metrics.reference.formatting import plural
from metrics.render import charts
from metrics.views import changes, exceptions, explorer, headlines, overview


@dataclass(frozen=True)
class Tile:
    """One outcome on the summary slide, from the overview's card (overview.outcome_card):
    the same value, comparison and change tests as the Overview page."""
    outcome: str
    outcome_name: str
    metric: str               # the headline metric's title ("England: ..." if England's)
    value_text: str           # with its unit; "*" when suppressed
    period: str               # the period of the value ("" when there is none)
    comparison: str           # metrics.stats comparison code (colour and icon)
    comparison_words: str     # the verdict in words
    arrow: str                # "up" or "down" only for a significant change, else ""
    change_words: str         # the change on the previous period, in words
    note: str                 # where the figure is for, or why there is none


@dataclass(frozen=True)
class PackChart:
    """A chart as the board pack prints it, with what it says about itself there."""
    title: str
    chart: alt.TopLevelMixin
    source: str = ""
    period: str = ""
    height: int | None = None     # plotting height; None: the pack's one height


@dataclass
class Slide:
    key: str                  # "summary", "changes", an outcome id, "continuity", "map"
    title: str
    sentences: list[str]
    chart: alt.TopLevelMixin | None = None      # the one chart for the projector
    spine: alt.TopLevelMixin | None = None      # the spine chart, for the board pack
    table: pd.DataFrame | None = None           # figures behind the slide
    caption: str = ""
    tiles: list[Tile] | None = None             # the summary slide's outcome tiles
    lead: str = ""                              # the sentence above the tiles
    changes: changes.SinceLastBoard | None = None   # the "what changed" slide's figures
    pack_charts: list[PackChart] = field(default_factory=list)   # the pack's, in order


@dataclass
class Briefing:
    area_code: str
    area_name: str
    partnership_name: str
    period: str
    period_end: dt.date
    is_demo: bool
    slides: list[Slide] = field(default_factory=list)


def build(values: pd.DataFrame, areas: pd.DataFrame, area_code: str, period: str,
          period_end: dt.date, settings, comparators: tuple[str, ...], is_demo: bool,
          need_map: tuple[dict, pd.DataFrame] | None = None,
          pathway: tuple[pd.DataFrame, pd.DataFrame] | None = None,
          notes: pd.DataFrame | None = None) -> Briefing:
    """`values`: area totals of every catalogue metric (metrics.store.all_area_values);
    `need_map`: the area's boundaries and small-area need table (need_map_inputs);
    `pathway`: continuity of care's breakdown rows and unprotected totals for the area
    (pathway_inputs), for the pack's pathway from prison to treatment; `notes`: the
    area's annotations (metrics.store.annotations), listed with what needs attention and
    restarting SPC limits at a service change as on screen."""
    names = areas.set_index("area_code")["area_name"]
    area_name = names.get(area_code, area_code)
    threshold = settings.disclosure_threshold
    # The partnership's own name belongs to the home area only: a pack or deck made for
    # another area must not carry it (empty: readers title it with the area's name).
    partnership = settings.partnership_name if area_code == settings.home_area else ""
    brief = Briefing(area_code, area_name, partnership, period, period_end, is_demo)
    brief.slides.append(_summary_slide(values, areas, area_code, area_name, period_end,
                                       threshold, settings))
    brief.slides.append(_changes_slide(values, areas, area_code, period_end, threshold))
    brief.slides.append(_exceptions_slide(values, areas, area_code, area_name, period,
                                          period_end, threshold, settings, notes))
    for outcome in catalogue.OUTCOMES:
        brief.slides.append(_outcome_slide(values, areas, outcome, area_code, area_name,
                                           period_end, threshold, comparators))
    brief.slides.append(_continuity_slide(values, areas, area_code, area_name, period_end,
                                          threshold, settings, comparators, pathway, notes))
    if need_map is not None:
        slide = _need_map_slide(*need_map, area_name, threshold)
        if slide is not None:
            slide.sentences.append(_need_totals_words(need_map[1], values, area_code,
                                                      area_name, threshold))
            brief.slides.append(slide)
    return brief


def need_map_inputs(version, data_dir, area_code: str) -> tuple[dict, pd.DataFrame] | None:
    """The area's small-area boundaries and need table, or None without boundaries."""
    from metrics import geo, store
    try:
        boundaries = geo.local_boundaries(area_code)
    except FileNotFoundError:
        return None
    lsoas = geo.boundary_lsoas(boundaries)
    codes = lsoas["lsoa_code"].tolist()
    table = geo.need_table(lsoas, store.lsoa_need(version, area_code),
                           store.read_lookup(data_dir, "ruc", codes),
                           store.read_lookup(data_dir, "imd", codes))
    return boundaries, table


def pathway_inputs(version, area_code: str,
                   raw_values: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Continuity of care's breakdown rows for the area and England, and the area's
    unprotected totals (the breakdowns add up to these: metrics.views.continuity.pathway
    protects them against the true total)."""
    from metrics import store
    from metrics.views import continuity as cc
    rows = store.breakdown_values(version, [cc.IND.id], [area_code, cc.ENGLAND])
    raw = raw_values[(raw_values["indicator_id"] == cc.IND.id)
                     & (raw_values["area_code"] == area_code)]
    return rows, raw


def _need_map_slide(boundaries: dict, table: pd.DataFrame, area_name: str,
                    threshold: int) -> Slide | None:
    """Where need is: unmet need by small area, and urban against rural."""
    from metrics import geo
    from metrics.render import map_charts
    from metrics.views import headlines
    if "unmet_need" not in geo.available_measures(table):
        return None
    values = geo.lsoa_values(table, "unmet_need", threshold)
    chart = map_charts.local_static_map(boundaries, values, "unmet_need",
                                        geo.MEASURES["unmet_need"].title, area_name)
    sentences = []
    summary = geo.urban_rural_summary(table, "broad", threshold).set_index("group")
    if {"Urban", "Rural"} <= set(summary.index):
        urban, rural = summary.loc["Urban"], summary.loc["Rural"]
        if pd.notna(urban["treated_share"]) and pd.notna(rural["treated_share"]):
            low, high = headlines.newcombe_difference_ci(
                urban["ocu_in_treatment"], urban["estimated_ocu"],
                rural["ocu_in_treatment"], rural["estimated_ocu"])
            comparison = ("significantly fewer" if low > 0 else "significantly more"
                          if high < 0 else "a similar share")
            sentences.append(
                f"In rural small areas {rural['treated_share']:.0f}% of estimated opiate and "
                f"crack users are in treatment, against {urban['treated_share']:.0f}% in urban "
                f"areas: {comparison}" + ("" if comparison == "a similar share" else
                                          " in rural areas") + ".")
    demo = bool(table["need_demo"].any()) or not bool(table["ruc_official"].any())
    caption = "Unmet need: estimated users not in treatment, by small area (LSOA 2011)."
    if demo:
        caption += " Demonstration classes and estimates until official lookups are loaded."
    return Slide("map", "Where need is: unmet need by small area", sentences, chart=chart,
                 caption=caption, pack_charts=[PackChart(
                     f"{area_name}: {geo.MEASURES['unmet_need'].title}, by small area",
                     chart, "Office for Health Improvement and Disparities estimates of "
                     "opiate and crack use; NDTMS. Contains OS data (c) Crown copyright and "
                     "database right", "latest estimates", height=440)])


def _need_totals_words(table: pd.DataFrame, values: pd.DataFrame, area_code: str,
                       area_name: str, threshold: int) -> str:
    """Whether the map's small areas add up to the published figures the treatment slide
    uses, with the period (metrics.views.need_totals); hidden totals are not compared."""
    from metrics import geo
    from metrics.views import need_totals
    total = geo.urban_rural_summary(table, "broad", threshold).set_index("group")
    # Without an "All" row (no rural-urban classes) nothing says what is safe: show none.
    hidden = frozenset(c for c in ("estimated_ocu", "ocu_in_treatment")
                       if "All" not in total.index or bool(total.loc["All", f"{c}_hidden"]))
    return need_totals.need_totals(table, values, area_code, area_name, hidden).words


def _continuity_line(values, area_code, area_name, period_end, threshold, settings,
                     areas=None) -> str:
    rows = values[pd.to_datetime(values["period_end"]) <= pd.Timestamp(period_end)]
    head = overview.continuity_headline(rows, area_code, settings.continuity_target,
                                        settings.continuity_target_date, threshold)
    if head.period is None and areas is not None:
        missing = explorer.missing_words(values, catalogue.get("continuity_of_care"),
                                         area_code, areas, period_end)
        if missing:
            return missing
    if head.suppressed:
        return (f"Continuity of care for {area_name} is not shown: the numbers are too "
                "small to publish.")
    return headlines.continuity_sentence(head.rate, head.period, settings.continuity_target,
                                         settings.continuity_target_date, head.england_rate,
                                         area_name)


def _summary_slide(values, areas, area_code, area_name, period_end, threshold,
                   settings) -> Slide:
    sentences = [_continuity_line(values, area_code, area_name, period_end, threshold,
                                  settings, areas)]
    rows, tiles = [], []
    for outcome in catalogue.OUTCOMES:
        text = headlines.outcome_summary(values, outcome, area_code, area_name, areas,
                                         period_end, threshold)
        sentences.append(text[0])
        ind = catalogue.get(catalogue.OUTCOME_HEADLINE[outcome])
        card = overview.outcome_card(outcome, values, area_code, areas, threshold,
                                     up_to=period_end)
        # An England-only figure goes in England's column, a force's is named as the
        # force's: neither may read as the area's own.
        national = ind.geography == "national"
        rows.append({"Outcome": catalogue.OUTCOMES[outcome], "Headline metric": ind.title,
                     "Period": card.period or "-",
                     area_name: explorer.with_geography(card.value_text, ind, area_code,
                                                        areas),
                     "England": card.value_text if national else
                     card.england_text.removeprefix("England ") or "-",
                     "Compared with England": card.comparison_words})
        tiles.append(_tile(card))
    return Slide("summary", "The six outcomes at a glance", sentences,
                 table=pd.DataFrame(rows), tiles=tiles, lead=sentences[0])


# Significant changes (overview._change): the only ones that get an arrow.
_SIGNIFICANT = {"better": "better", "worse": "worse", "increase": "increase",
                "decrease": "decrease", "neutral": "significant change"}


def _tile(card: overview.OutcomeCard) -> Tile:
    ind = card.indicator
    england_only = ind.geography == "national" or card.geography_note.startswith("England")
    metric = f"England: {ind.title}" if england_only else ind.title
    verdict = _SIGNIFICANT.get(card.change_direction)
    if verdict:
        # formatting.change always writes the sign first ("+2.1 pp", "-0.4").
        arrow = "up" if card.change_text.startswith("+") else "down"
        change_words = f"{card.change_text}: {verdict}"
    else:
        arrow = ""
        change_words = {"not_significant": "no significant change since " +
                        card.change_text.split(" since ")[-1].removesuffix(
                            " (not significant)"),
                        "no_change": card.change_text}.get(card.change_direction, "")
    note = card.withheld or ("small count suppressed" if card.suppressed else
                             card.geography_note if not england_only else "")
    if card.period is None:
        note = card.comparison_words
    return Tile(card.outcome, card.outcome_name, metric, card.value_text,
                card.period or "", card.comparison, card.comparison_words, arrow,
                change_words, note)


def _changes_slide(values, areas, area_code, period_end, threshold) -> Slide:
    since = changes.since_last_board(values, area_code, areas, period_end, threshold)
    table = since.table()
    return Slide("changes", "What changed since the last board", since.sentences(),
                 table=table if len(table) else None, changes=since)


def _exceptions_slide(values, areas, area_code, area_name, period, period_end, threshold,
                      settings, notes: pd.DataFrame | None = None) -> Slide:
    """What needs attention (metrics.views.exceptions), against England, since the
    quarter before, with the analysts' notes on the metrics it names."""
    result = exceptions.exceptions(
        values, area_code, area_name, areas, period_end, period, threshold,
        targets={"continuity_of_care": (settings.continuity_target,
                                        settings.continuity_target_date)}, notes=notes)
    sentences = result.slide_sentences()
    named = dict.fromkeys(f.indicator for f in result.flags)
    for ind in named:
        words = exceptions.note_words(notes, ind.id)
        if words:
            sentences.append(f"Notes on {ind.title}: {words}.")
    return Slide("exceptions", "What needs attention", sentences)


def _outcome_slide(values, areas, outcome, area_code, area_name, period_end, threshold,
                   comparators) -> Slide:
    ind = catalogue.get(catalogue.OUTCOME_HEADLINE[outcome])
    sentences = headlines.metric_sentences(values, ind, area_code, area_name, areas,
                                           period_end, threshold)
    shown, note = explorer.shown_area(ind, area_code, areas)
    lines = {shown: explorer.shown_name(ind, area_code, areas)}
    # England's activity counts dwarf a force area's: on one axis the area's line is flat.
    if shown != explorer.ENGLAND and ind.ci_method != "none":
        lines[explorer.ENGLAND] = "England"
    trend = explorer.trend_series(values, ind, lines, (), period_end, threshold)
    chart = charts.trend_chart(trend, ind.unit, height=250) if _area_drawn(trend) else None
    spine_rows = explorer.spine_rows(values, outcome, area_code, areas, comparators,
                                     period_end, threshold)
    plotted = spine_rows.dropna(subset=["pos_min"]) if "pos_min" in spine_rows else None
    spine = charts.spine_chart(plotted) if plotted is not None and len(plotted) else None
    table = spine_rows.reindex(columns=["title", "period", "area_text", "england_text",
                                        "significance_words"]).rename(columns={
        "title": "Metric", "period": "Period", "area_text": area_name,
        "england_text": "England", "significance_words": "Compared with England"})
    # Without a chart the caption would describe nothing; keep only the geography note.
    caption = (f"{ind.title}, {ind.unit}. {note}" if chart is not None else note).strip()
    # The pack prints the spine (every metric of the outcome), or the trend without one.
    if spine is not None:
        sources = sorted({catalogue.get(i).source for i in plotted["indicator_id"]}) \
            if "indicator_id" in plotted else sorted({ind.source})
        printed = [PackChart(f"{catalogue.OUTCOMES[outcome]}: {area_name} compared with "
                             "England", spine, "; ".join(sources),
                             "the latest period of each metric (in the table)")]
    elif chart is not None:
        printed = [PackChart(f"{shown_title(ind, area_code, areas)}: trend", chart,
                             ind.source, _span(trend))]
    else:
        printed = []
    return Slide(outcome, catalogue.OUTCOMES[outcome], sentences, chart=chart, spine=spine,
                 table=table, caption=caption, pack_charts=printed)


def shown_title(ind, area_code: str, areas: pd.DataFrame) -> str:
    """The metric with the place its figures are for (a force's, England's)."""
    return f"{ind.title}, {explorer.shown_name(ind, area_code, areas)}"


def _span(trend: pd.DataFrame) -> str:
    """'2019/20 Q1 to 2026/27 Q1': the periods a trend chart covers."""
    drawn = trend.dropna(subset=["value"]).sort_values("period_end")
    if drawn.empty:
        return ""
    first, last = drawn["period"].iloc[0], drawn["period"].iloc[-1]
    return str(last) if first == last else f"{first} to {last}"


def _continuity_slide(values, areas, area_code, area_name, period_end, threshold, settings,
                      comparators, pathway=None, notes: pd.DataFrame | None = None) -> Slide:
    from metrics.render import continuity_charts
    from metrics.views import continuity as cc
    notes = exceptions.metric_notes(notes, cc.IND.id)
    ind = catalogue.get("continuity_of_care")
    sentences = [_continuity_line(values, area_code, area_name, period_end, threshold,
                                  settings, areas)]
    if explorer.missing_words(values, ind, area_code, areas, period_end) is None:
        sentences += headlines.metric_sentences(values, ind, area_code, area_name, areas,
                                                period_end, threshold)[1:]
    target = settings.continuity_target * 100
    # The gap in people as well as points, from the same protected figures as the page.
    protected = cc.protect_series(values, area_code, period_end, threshold)
    head = None
    if len(protected):
        head = cc.headline(values, protected, area_code, area_name, areas, comparators,
                           settings.continuity_target, settings.continuity_target_date,
                           period_end, threshold)
        gap = _gap_words(head)
        if gap:
            sentences.append(gap)
    trend = explorer.trend_series(values, ind, {area_code: area_name,
                                                explorer.ENGLAND: "England"},
                                  (), period_end, threshold)
    chart = charts.trend_chart(trend, "%", height=250, target=target,
                               target_label="Target") if _area_drawn(trend) else None
    frame, summary = explorer.spc_frame(values, ind, area_code, period_end, threshold, target,
                                        notes)
    assurance = {"consistently_passing": "consistently passing",
                 "consistently_failing": "consistently failing",
                 "hit_and_miss": "hit and miss against"}.get(summary.get("assurance"))
    # No verdict on a series whose latest figure is hidden: beside "not shown: the
    # numbers are too small" it would read as a judgement of the hidden figure.
    latest_shown = len(frame) > 0 and pd.notna(frame["value"].iloc[-1])
    if assurance and latest_shown:
        sentences.append(f"On a statistical process control (SPC) chart the area is "
                         f"{assurance} the target.")
    printed = []
    if chart is not None:
        printed.append(PackChart(f"{ind.title}, {area_name} and England", chart,
                                 ind.source, _span(trend)))
    rolling = protected[protected["period_kind"] == "rolling_12m"] if len(protected) \
        else protected
    if pathway is not None and len(rolling):
        breakdowns, raw = pathway
        latest = rolling.iloc[-1]
        total = raw[raw["period"] == latest["period"]]
        stages = cc.pathway(breakdowns, total.iloc[0] if len(total) else None, area_code,
                            latest["period"], threshold, settings.continuity_target,
                            bool(latest["suppressed"]), bool(latest["denominator_hidden"]))
        if not stages.empty:
            sentences.append(cc.pathway_words(stages, settings.continuity_target))
            printed.append(PackChart(
                f"From prison to treatment: where people are lost, {area_name}",
                continuity_charts.pathway_chart(stages, stages.attrs["target_count"],
                                                target),
                ind.source, str(latest["period"]), height=180))
    return Slide("continuity", "Continuity of care: prison to community", sentences,
                 chart=chart, caption="Rolling 12 months; shaded band: 95% interval."
                 if chart is not None else "", pack_charts=printed)


def _gap_words(head) -> str:
    """The gap to the target in people: how many more engaged within 3 weeks would have
    met it on the same releases (as the continuity page's card says)."""
    if head.gap_points is None or head.met:
        return ""
    if head.people_short is None:
        return (f"The gap to the {head.target:g}% target is {head.gap_points:.1f} "
                "percentage points; the extract has no counts of prison leavers, so the "
                "gap in people is not known.")
    needed = head.people_short + int(head.rolling.engaged)
    return (f"The gap to the {head.target:g}% target is {head.gap_points:.1f} percentage "
            f"points: {plural(head.people_short, 'more person', 'more people')} would "
            f"have had to engage within 3 weeks on the same releases ({head.target:g}% of "
            f"{head.rolling.released:,.0f} released is {needed:,}; "
            f"{head.rolling.engaged:,.0f} did).")


def _area_drawn(trend: pd.DataFrame) -> bool:
    """A slide's trend chart is drawn only when the area's own line has a figure: a chart
    of England alone, under a sentence about the area, would read as the area's."""
    return bool(len(trend) and (trend["is_area"].astype(bool) & trend["value"].notna()).any())


def forecast_slide(values: pd.DataFrame, area_code: str, area_name: str,
                   period_end: dt.date, threshold: int, settings,
                   pathway: tuple[pd.DataFrame, pd.DataFrame] | None = None,
                   request=None) -> Slide:
    """The pack's continuity forecast (metrics.views.target_forecast), as the continuity
    page words it, and the scenario `request` asks for (metrics.views.scenarios), marked
    as a scenario: worked out for this pack, never stored."""
    from metrics.views import continuity as cc, scenarios, target_forecast as tf
    target = settings.continuity_target
    protected = cc.protect_series(values, area_code, period_end, threshold)
    result = tf.target_forecast(protected, target, settings.continuity_target_date)
    sentences = result.sentences(area_name)
    slide = Slide("forecast", "Continuity of care: forecast" +
                  (" and scenario" if request else ""), sentences)
    if not result.available:
        if request:
            sentences.append("The scenario asked for is not shown: it builds on the "
                             "forecast.")
        return slide
    sentences += result.method_words()
    if request and pathway is not None:
        inputs = scenarios.scenario_inputs(protected, *pathway, area_code, threshold, target)
        made = scenarios.build(result, inputs, request, area_name)
        if request.prison and scenarios.prison_change(inputs.prisons, request.prison) is None:
            below, _ = scenarios.prisons_below_median(inputs.prisons)
            sentences.append(f"{request.prison} is not one of the prisons whose rate is "
                             "below the median of the area's prisons shown ("
                             + (", ".join(below) or "none") + "): left out of the scenario.")
        if made is not None:
            sentences += [made.words, scenarios.PACK_SCENARIO_NOTE]
            slide.table = made.table(result.target)
    return slide
