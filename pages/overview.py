"""Overview: where the partnership stands on the six outcomes and continuity of care."""

import pandas as pd
import streamlit as st

from metrics.reference import catalogue, glossary
from metrics.views import overview
from ui import cards, data, exports, frame

ctx = frame.context()
area = ctx.area(ctx.area_code)

st.title(f"{ctx.area_name}: strategy outcomes")
heading = st.container(horizontal=True, vertical_alignment="center")
heading.caption(f"From Harm to Hope outcomes framework · figures up to {ctx.period} · "
                f"Fingertips method. {glossary.CONFIDENCE} {glossary.POINTS}")
with heading:
    exports.board_pack_button(ctx)

shown_areas = tuple(code for code in (ctx.area_code, area["pfa_code"], overview.ENGLAND) if code)
# Every period, not only those up to the selected one: a card can then tell a metric not
# loaded yet from one whose first figure comes after the selected quarter.
threshold = ctx.disclosure_threshold
# Protected across areas once for every view (ui.data.public_values), then this area's.
all_values = data.public_values(ctx.data_dir, ctx.version.id,
                                tuple(overview.headline_indicator_ids()), threshold)
all_values = all_values[all_values["area_code"].isin(shown_areas)]
values = all_values[pd.to_datetime(all_values["period_end"]) <= pd.Timestamp(ctx.period_end)]

cards.continuity_card(
    overview.continuity_headline(values, ctx.area_code, ctx.settings.continuity_target,
                                 ctx.settings.continuity_target_date, threshold),
    ctx.area_name)

outcomes = list(catalogue.OUTCOMES)
for row_start in range(0, len(outcomes), 3):
    for column, outcome in zip(st.columns(3), outcomes[row_start:row_start + 3]):
        with column:
            card = overview.outcome_card(outcome, all_values, ctx.area_code, ctx.areas,
                                         threshold, ctx.period_end)
            cards.outcome_card(card, cards.timeliness(ctx, card.indicator).line())
