"""The Maps page's layout (pages/maps.py runs render()): the partnership's small areas,
England's areas and urban against rural, drawn from metrics.geo and metrics.render.

Maps: where need is in the partnership and across England, and urban against rural.
"""

from __future__ import annotations

import io

import streamlit as st

from metrics import geo, store
from metrics.reference import catalogue
from metrics.render import map_charts, vega_maps
from metrics.stats import comparators
from metrics.views import chart_words, need_totals
from ui import data, exports, frame, tables

# Pixels per rural-urban group on the urban and rural chart (two groups: 128 px).
URBAN_RURAL_ROW = 64
# The urban/rural summary's columns (geo.summary_display), as two tables.
COUNT_COLUMNS = ["Rural-urban class", "Small areas", "Residents", "Estimated users",
                 "In treatment", "Deaths, 5 years"]
RATE_COLUMNS = ["Rural-urban class", "Users per 1,000 (95% CI)",
                "In treatment per estimated user (95% CI)", "Unmet need (95% CI)",
                "Deaths per 100,000 a year (95% CI)"]


VIEWS = ["Partnership", "England", "Urban and rural"]


def render() -> None:
    ctx = frame.context()
    threshold = ctx.disclosure_threshold              # 1 when an analyst turned public mode off
    export_threshold = ctx.settings.disclosure_threshold   # print and exports are always public
    boundary_stamp = data.boundary_stamp()
    lookup_stamp = store.lookup_stamp(ctx.data_dir)
    loaded_lookups = store.lookup_manifest(ctx.data_dir)

    st.title(f"{ctx.area_name}: where need is")
    st.caption("Treatment need is not evenly distributed: boards balance rural access with "
               "urban demand. Small areas are 2011 LSOAs (about 1,500 residents each) on ONS "
               "boundaries, drawn without any online map service.")

    need = data.local_need(ctx.data_dir, ctx.version.id, lookup_stamp, ctx.area_code,
                           boundary_stamp)
    # Classes and deciles not from an official lookup come from the demonstration set.
    demo_ruc = not need["ruc_official"].any() and need["ruc_class"].notna().any()
    demo_imd = not need["imd_official"].any() and need["imd_decile"].notna().any()
    if demo_ruc or demo_imd:
        which = " and ".join(w for w, d in (("rural-urban classes", demo_ruc),
                                             ("deprivation deciles", demo_imd)) if d)
        st.info(f"**Demonstration {which}.** They are generated, not the official ONS / MHCLG "
                "lookups. An analyst loads the official files with "
                "`python -m metrics.geo load-lookup FILE` (see README, Maps).",
                icon=":material/science:")
    if loaded_lookups:
        st.caption("Official lookups: " + "; ".join(
            f"{meta['edition']} ({meta['file']}, loaded {meta['loaded_at'][:10]})"
            for meta in loaded_lookups.values()))
    # One decision about what to hide for the map, its tooltips, the class tables and the
    # print version (a class total less the small areas shown must not give one away).
    protection = data.local_protection(ctx.data_dir, ctx.version.id, lookup_stamp, ctx.area_code,
                                       boundary_stamp, threshold)
    export_protection = protection if export_threshold == threshold else data.local_protection(
        ctx.data_dir, ctx.version.id, lookup_stamp, ctx.area_code, boundary_stamp,
        export_threshold)
    # Tabs, not one view per run: a view drawn once stays in its tab (same key, same spec),
    # so going back to it shows it at once instead of drawing its map again. A view is
    # computed only once it has been opened.
    tabs = st.tabs(VIEWS, key="view", on_change="rerun", bind="query-params")
    opened = next((v for v, tab in zip(VIEWS, tabs) if tab.open), None) or \
        st.session_state.get("view") or VIEWS[0]
    drawn = st.session_state.setdefault("_map_views_drawn", {})
    area_views = drawn.setdefault(ctx.area_code, [])
    if opened not in area_views:
        area_views.append(opened)
    # Another area: only the open view is drawn (the others are drawn when opened).
    for other in [a for a in drawn if a != ctx.area_code]:
        del drawn[other]

    ruc_title = "Rural-urban class" + (" (demonstration)" if demo_ruc else "")
    imd_title = "Deprivation decile" + (" (demonstration)" if demo_imd else "")


    def print_version(build_chart, file_name: str, key: str) -> None:
        """The same map as a static image for board papers (Altair geoshape rendered to PNG
        offline by vl-convert), with a download. Built only when asked for, once per view."""
        if st.toggle("Print version", key=key,
                     help="A static rendering of this map for board papers and exports. Always "
                          "in public mode."):
            rendered = st.session_state.setdefault("_map_png", {})
            key = (file_name, ctx.period, ctx.version.id, lookup_stamp, boundary_stamp)
            stamp = (file_name, ctx.period, ctx.version.id, lookup_stamp, boundary_stamp)
            if stamp not in rendered:
                buffer = io.BytesIO()
                build_chart().save(buffer, format="png", scale_factor=2)
                while len(rendered) >= len(VIEWS):
                    rendered.pop(next(iter(rendered)))
                rendered[stamp] = buffer.getvalue()
            st.image(rendered[stamp], width=760)
            st.download_button("Download PNG", data=rendered[stamp],
                               file_name=f"{file_name}.png", mime="image/png",
                               icon=":material/download:", key=f"{key}_download")


    def make_selected_area() -> None:
        """England map click: the clicked partnership becomes the selected area."""
        code = vega_maps.selected_code(st.session_state["england_map"].selection)
        if code:
            st.session_state["area"] = code


    measures = geo.available_measures(need)
    NO_SMALL_AREA_DATA = (
        "No small-area figures to show: the published data has no small-area table and no "
        "official rural-urban or deprivation lookup is loaded (README, Maps). The England map "
        "works from the published area figures.")
    def map_as_table(values, measure: str, title: str) -> None:
        """The map's figures as a table, for those who cannot use the map (and for print):
        deaths by district with their interval and period, other measures by small area."""
        with st.expander("The map as a table"):
            if geo.MEASURES[measure].level == "district":
                deaths = geo.district_deaths(need, threshold, protection)
                st.caption(f"Drug-related deaths by district, {deaths['period'].iloc[0]}: a "
                           "small area has too few deaths to map. 95% intervals: Byar's "
                           "method (exact Poisson below 10 deaths)." if len(deaths) else "")
                shown = deaths[["ltla_name", "population", "deaths_text", "rate_text",
                                "interval_text", "period"]].rename(columns={
                    "ltla_name": "District", "population": "Residents",
                    "deaths_text": "Deaths", "rate_text": "Per 100,000 a year",
                    "interval_text": "95% CI", "period": "Period"})
                st.html(tables.board_table(shown, caption="Drug-related deaths by district"))
                exports.table(shown, f"map-{measure}-{ctx.area_code}", ctx.public)
            else:
                # Board tables (cells wrap) in a box that scrolls up and down: as a data
                # grid this ran 256 px past its column on a 1024 px laptop.
                shown = values[["lsoa_name", "lsoa_code", "ltla_name", "value_text"]].rename(
                    columns={"lsoa_name": "Small area", "lsoa_code": "Code",
                             "ltla_name": "District", "value_text": title})
                st.html(tables.board_table(shown, caption=f"{title} by small area"))
                exports.table(shown, f"map-{measure}-{ctx.area_code}", ctx.public)

    def partnership() -> None:
        if not measures:
            st.info(NO_SMALL_AREA_DATA, icon=":material/map:")
            return
        boundaries = data.local_boundaries(ctx.area_code, boundary_stamp)
        measure = st.selectbox(
            "Colour small areas by", measures, key="map_measure",
            format_func=lambda m: {"ruc_class": ruc_title, "imd_decile": imd_title}.get(
                m, geo.MEASURES[m].title),
            help="; ".join(f"{geo.MEASURES[m].title}: {geo.MEASURES[m].description}"
                           for m in measures))
        # A district drawn on its own, larger (the map cannot be zoomed).
        district_names = {f["properties"]["code"]: f["properties"]["name"]
                          for f in boundaries["features"]
                          if f["properties"]["layer"] == "district"}
        # Another area: a district chosen in the last one is not in it (the whole area).
        if st.session_state.get("local_district") not in (None, "", *district_names):
            st.session_state["local_district"] = ""
        district = st.selectbox(
            "Show", ["", *sorted(district_names, key=district_names.get)], key="local_district",
            format_func=lambda code: district_names.get(code, f"All of {ctx.area_name}"),
            help="One district's small areas drawn larger, in the partnership's colours.")
        values = geo.lsoa_values(need, measure, threshold, protection)
        chosen = st.session_state.get("local_map")
        picked = vega_maps.selected_code(chosen.selection, vega_maps.LOCAL_SELECTION) \
            if chosen else None
        picked = picked if picked in set(values["lsoa_code"]) else None
        map_column, detail_column = st.columns([3, 1])
        with map_column:
            spec, legend = vega_maps.local_map(boundaries, values, measure, picked, ruc_title,
                                               imd_title, district or None)
            # The description, generated from the figures drawn, is the map's accessible
            # name and is shown under it (a screen reader gets what the colours say).
            words = chart_words.small_area_map(values, geo.MEASURES[measure].kind,
                                               legend.title, ctx.area_name)
            if district:
                words = chart_words.showing_part(district_names[district], words)
            # Drawn by Vega, not deck.gl: metrics/render/vega_maps.py says why.
            st.vega_lite_chart({**spec, "description": words}, width="stretch",
                               on_select="rerun", key="local_map")
            st.markdown(map_charts.legend_html(legend), unsafe_allow_html=True)
            st.caption(words)
            map_as_table(values, measure, legend.title)
        with detail_column:
            if picked:
                row = values.set_index("lsoa_code").loc[picked]
                with st.container(border=True):
                    st.markdown(f"**{row['lsoa_name']}**  \n{picked} · {row['ltla_name']}")
                    detail = f" {row['value_detail']}" if row["value_detail"] else ""
                    st.markdown(
                        f"- {legend.title}: **{row['value_text']}**{detail}\n"
                        f"- {ruc_title}: {row['ruc_text']}\n"
                        f"- {imd_title}: {row['imd_text']}\n"
                        f"- Residents: {row['population']:,.0f}\n"
                        f"- Estimated opiate/crack users: {row['est_text']}\n"
                        f"- In treatment: {row['treat_text']}\n"
                        f"- Unmet need: {row['unmet_text']}\n"
                        f"- Drug-related deaths, 5 years: {row['deaths_text']}")
                    if threshold > 1:
                        st.caption(f"Counts from 1 to {threshold - 1} are shown as * "
                                   "(disclosure control).")
            else:
                st.info("Click a small area on the map to see its figures here.",
                        icon=":material/touch_app:")
            total = data.local_urban_rural(ctx.data_dir, ctx.version.id, lookup_stamp,
                                           ctx.area_code, boundary_stamp, "broad",
                                           threshold).set_index("group")
            if "All" in total.index:
                all_row = geo.summary_display(total.loc[["All"]].reset_index()).iloc[0]
                # The same figures as the treatment page, or said to differ, with the period.
                hidden = frozenset(c for c in ("estimated_ocu", "ocu_in_treatment")
                                   if bool(total.loc["All", f"{c}_hidden"]))
                totals = need_totals.need_totals(
                    need, data.public_values(ctx.data_dir, ctx.version.id,
                                             (need_totals.UNMET, need_totals.RESIDENTS),
                                             threshold),
                    ctx.area_code, ctx.area_name, hidden)
                when = f", {totals.small_period}" if totals.small_period else ""
                st.markdown(f"**{ctx.area_name}{when}**  \n{all_row['Small areas']} small "
                            f"areas · {all_row['Residents']} residents  \n"
                            f"Estimated users: {all_row['Estimated users']}  \n"
                            f"In treatment per estimated user: "
                            f"{all_row['In treatment per estimated user (95% CI)']}")
                st.caption(totals.words)
        print_version(lambda: map_charts.local_static_map(
            boundaries, geo.lsoa_values(need, measure, export_threshold, export_protection),
            measure, legend.title,
            ctx.area_name), f"map_{ctx.area_code}_{measure}", "print_version")

    def england() -> None:
        national, regions = data.national_boundaries(boundary_stamp)
        choices = [ind for ind in catalogue.INDICATORS if ind.geography != "national"]
        default = [i.id for i in choices].index("adults_in_treatment")
        indicator = catalogue.get(st.selectbox(
            "Colour partnerships by", [i.id for i in choices], index=default, key="england_metric",
            # The metric's name alone: with its outcome in front it was cut off on a phone.
            format_func=lambda i: catalogue.get(i).title,
            help="Any metric published for partnerships or police force areas."))
        mode = "value"
        if indicator.benchmarkable:
            mode = st.segmented_control(
                "Colour by", ["value", "comparison"], default="value", required=True,
                key="england_mode",
                format_func={"value": "Value", "comparison": "Compared with England"}.get)
        # A region drawn large, for areas too small to find on the map of England (it
        # cannot be zoomed); keyboard users reach every area from the sidebar.
        councils = ctx.areas[ctx.areas["area_type"] == "utla"]
        region_names = councils.drop_duplicates("region_code").set_index("region_code")[
            "region_name"].dropna().sort_values()
        region = st.selectbox(
            "Show", ["", *region_names.index], key="england_region",
            format_func=lambda code: region_names.get(code, "All of England"),
            help="One region's areas drawn larger, in the colours of England's classes.")
        map_values = data.england_map_values(ctx.data_dir, ctx.version.id, indicator.id,
                                             ctx.period_end, threshold)
        group = comparators.comparator_group(
            "configured", ctx.area_code, ctx.areas, ctx.settings.comparators,
            data.area_need_summary(ctx.data_dir, ctx.version.id))
        # The card and notes above the map, so the map has the page's whole width (the
        # home area is found on a map of England drawn large).
        home = map_values.set_index("area_code").loc[ctx.area_code] \
            if ctx.area_code in set(map_values["area_code"]) else None
        card, notes = st.columns([1, 2])
        with card, st.container(border=True):
            st.markdown(f"**{ctx.area_name}**")
            if home is not None:
                unit = "" if indicator.unit == "count" else f" ({indicator.unit})"
                st.metric(indicator.title + unit, home["number_text"],
                          help=indicator.definition)
                st.caption(" · ".join(t for t in (home["period"], home["comparison_text"],
                                                   home["note"]) if t))
            else:
                st.caption("No figure for this area.")
        with notes:
            st.caption(f"Click an area on the map to select it. Comparators (purple): "
                       f"{group.description}.")
            if indicator.geography == "pfa":
                st.caption("Published by police force area: each partnership shows its force's "
                           "figure.")
        spec, legend = vega_maps.national_map(national, regions, map_values, indicator,
                                              mode, ctx.area_code, group.codes,
                                              region or None)
        names = ctx.areas.set_index("area_code")["area_name"]
        words = chart_words.england_map(map_values, indicator, ctx.area_code, names.to_dict(),
                                        group.codes, mode)
        if region:
            home_region = councils.set_index("area_code")["region_code"].get(ctx.area_code)
            words = chart_words.showing_part(
                region_names[region], words,
                None if home_region == region else ctx.area_name)
        # Drawn by Vega, not deck.gl: metrics/render/vega_maps.py says why.
        st.vega_lite_chart({**spec, "description": words}, width="stretch",
                           on_select=make_selected_area, key="england_map")
        st.markdown(map_charts.legend_html(legend), unsafe_allow_html=True)
        st.caption(words)
        # Every area's figure as drawn (suppressed ones read "*"), for those who cannot use
        # the map; the sidebar's area selector is the keyboard's way to choose one.
        with st.expander("The map as a table"):
            shown = map_values.assign(area=map_values["area_code"].map(names)) \
                .sort_values("area", kind="stable")
            every = shown[["area", "value_text", "period", "comparison_text", "note"]].rename(
                columns={"area": "Area", "value_text": indicator.title, "period": "Period",
                         "comparison_text": "Compared with England", "note": "Note"})
            st.html(tables.board_table(
                every, caption=f"{indicator.title}: every partnership",
                verdicts={"Compared with England": shown["comparison"].tolist()}))
            exports.table(every, f"england-map-{indicator.id}", ctx.public)
        print_version(lambda: map_charts.national_static_map(
            national, regions, data.england_map_values(ctx.data_dir, ctx.version.id, indicator.id,
                                                       ctx.period_end, export_threshold),
            indicator, mode), f"map_england_{indicator.id}_{mode}", "print_version_england")

    def urban_rural() -> None:
        if not need["ruc_class"].notna().any():
            st.info(NO_SMALL_AREA_DATA, icon=":material/map:")
            return
        by = st.segmented_control("Classes", ["broad", "class"], default="broad", required=True,
                                  key="ur_by", format_func={"broad": "Urban and rural",
                                                            "class": "Finer ONS classes"}.get)
        summary = data.local_urban_rural(ctx.data_dir, ctx.version.id, lookup_stamp,
                                         ctx.area_code, boundary_stamp, by, threshold)
        england = data.england_urban_rural(ctx.data_dir, ctx.version.id, lookup_stamp, by,
                                           threshold)
        measure = st.selectbox("Compare", list(geo.SUMMARY_MEASURES), key="ur_measure",
                               format_func=lambda m: geo.SUMMARY_MEASURES[m][0])
        title, unit = geo.SUMMARY_MEASURES[measure]
        st.subheader(f"{title} by {ruc_title.lower()}")
        # Rows tall enough to read from across a room, with type to match the page's.
        classes, england_classes = summary[summary["group"] != "All"], \
            england[england["group"] != "All"]
        exports.chart(map_charts.urban_rural_chart(
            classes, measure, title, unit, england_classes, height_per_row=URBAN_RURAL_ROW)
            .configure_axis(labelFontSize=13, titleFontSize=13).to_dict(validate=False),
            f"urban-rural-{measure}-{ctx.area_code}", ctx.public,
            description=chart_words.urban_rural(classes, measure, title, unit,
                                                ctx.area_name, england_classes))
        # Two tables, people then rates, so each shows whole on a 1024 px laptop (as one
        # data grid of ten columns it ran 524 px past a 1280 px page).
        shown = geo.summary_display(summary)
        st.html(tables.board_table(shown[COUNT_COLUMNS],
                                   caption=f"Small areas, residents and people, by "
                                           f"{ruc_title.lower()}"))
        st.html(tables.board_table(shown[RATE_COLUMNS],
                                   caption=f"Rates and shares with their 95% intervals, by "
                                           f"{ruc_title.lower()}"))
        exports.table(shown, f"urban-rural-{by}-{ctx.area_code}", ctx.public)
        suppression = (f" Counts from 1 to {threshold - 1} are shown as *, with a second figure "
                       "hidden where the first could be worked out by subtraction."
                       if threshold > 1 else "")
        st.caption("95% intervals: Wilson for shares of estimated users, Byar's (exact Poisson "
                   "below 10) for rates. Estimated users are modelled, so their intervals are "
                   f"narrower than the model's own.{suppression}")
        with st.expander("England by the same classes"):
            st.caption("Rates and shares only: England's counts by class, less the areas' "
                       "own, could give away a count an area hides.")
            st.html(tables.board_table(geo.summary_display(england, counts=False)[RATE_COLUMNS],
                                       caption="England: rates and shares with their 95% "
                                               "intervals"))

    draw = {"Partnership": partnership, "England": england, "Urban and rural": urban_rural}
    for view, tab in zip(VIEWS, tabs):
        if view in area_views:
            with tab:
                draw[view]()

    st.caption(geo.ATTRIBUTION)
