"""The continuity page's breakdowns view: who engages, by releasing prison, substance
group, sex and age band, for the latest 12 months.

One breakdown at a time, chosen as on Fingertips' inequalities view: four charts and
four tables at once filled a board's screen and took about a second to draw on each area
change. The groups significantly lower than the area overall are listed across every
breakdown first, so choosing one hides nothing a board needs to hear."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.reference import catalogue
from metrics.render import continuity_charts
from metrics.views import chart_words, continuity as cc
from ui import continuity_series as shared, data, exports, tables

CACHE = shared.CACHE


@st.cache_data(**CACHE)
def _breakdown_model(data_dir, version_id, area_code, area_name, period_end, group_codes,
                     threshold, target):
    """Every breakdown's table for the latest period (the groups significantly lower are
    listed across all of them); the chart is drawn only for the one chosen
    (_breakdown_spec)."""
    latest, raw = shared.latest(data_dir, version_id, area_code, period_end, threshold)
    if latest is None:
        return None
    rows = data.breakdown_values(data_dir, version_id, shared.IDS, (area_code, cc.ENGLAND))
    # Only the latest period is drawn: filtered once here, not once per breakdown.
    rows = rows[rows["period"] == latest["period"]]
    out = dict(period=latest["period"], parts=[])
    out["overall"] = None if latest["suppressed"] else float(latest["value"]) \
        if pd.notna(latest["value"]) else None
    for breakdown, title in catalogue.BREAKDOWNS.items():
        table = cc.breakdown_table(rows, raw, area_code, latest["period"], breakdown,
                                   threshold, bool(latest["suppressed"]),
                                   bool(latest["denominator_hidden"]))
        if table.empty:
            continue
        out["parts"].append(dict(breakdown=breakdown, title=title, figures=table,
                                 table=tables.narrow_breakdown(table, breakdown),
                                 words=chart_words.breakdown(table, cc.IND, title, area_name,
                                                             latest["period"]),
                                 suppressed=int(table["suppressed"].sum()),
                                 lower=table.loc[table["comparison"].str.startswith("worse"),
                                                 "category"].tolist()))
    return out


@st.cache_data(**CACHE)
def _breakdown_spec(data_dir, version_id, area_code, area_name, period_end, group_codes,
                    threshold, target, breakdown) -> dict | None:
    """The chart of one breakdown (only the breakdown shown is drawn and sent)."""
    model = _breakdown_model(data_dir, version_id, area_code, area_name, period_end,
                             group_codes, threshold, target)
    part = next((p for p in (model or {}).get("parts", []) if p["breakdown"] == breakdown),
                None)
    if part is None:
        return None
    return continuity_charts.breakdown_chart(part["figures"], model["overall"],
                                             target * 100, area_name, part["title"]
                                             ).to_dict(validate=False)


def render(ctx, args: tuple) -> None:
    """One breakdown at a time, chosen as on Fingertips' inequalities view (four charts
    and tables at once took a board's screen and a second to draw), with the groups
    significantly lower than the area overall listed across every breakdown first."""
    model = _breakdown_model(*args)
    if model is None or not model["parts"]:
        st.info("No breakdowns are published for this area and period.")
        return
    parts = model["parts"]
    lower = [f"{', '.join(p['lower'])} ({p['title'].lower()})" for p in parts if p["lower"]]
    st.markdown(f"**Who engages, {model['period']}.** " + (
        "Significantly lower than the area overall: " + "; ".join(lower) + "."
        if lower else "No group is significantly lower than the area overall in any "
                      f"of the {len(parts)} breakdowns."))
    titles = [p["title"] for p in parts]
    chosen = st.segmented_control("Breakdown", titles, default=titles[0], required=True,
                                  key="breakdown", bind="query-params")
    part = next((p for p in parts if p["title"] == chosen), parts[0])
    st.caption("Each dot is a group's rate with its 95% interval; the dark line is the "
               "area's overall rate and the red dashed line the target.")
    if ctx.is_demo and part["breakdown"] == "prison":
        st.caption("The prison names are real English prisons; in the demonstration data "
                   "their figures are generated and say nothing about those prisons.")
    exports.chart(_breakdown_spec(*args, part["breakdown"]),
                  f"continuity-{part['breakdown']}-{ctx.area_code}", ctx.public,
                  about=exports.about(ctx, f"Continuity of care by {part['title'].lower()}: "
                                      f"{ctx.area_name}", cc.IND.source, model["period"]),
                  description=part["words"])
    st.dataframe(tables.for_display(part["table"]), hide_index=True, width="stretch",
                 column_config={name: st.column_config.TextColumn(help=text)
                                for name, text in tables.BREAKDOWN_HELP.items()
                                if name in part["table"].columns})
    shared.suppression_note(ctx)
