"""Overview: where the partnership stands on the six outcomes and continuity of care."""

import streamlit as st

from metrics.reference import glossary
from ui import cards, data, exports, frame

ctx = frame.context()
area = ctx.area(ctx.area_code)

st.title(f"{ctx.area_name}: strategy outcomes")
heading = st.container(horizontal=True, vertical_alignment="center")
heading.caption(f"From Harm to Hope outcomes framework · figures up to {ctx.period} · "
                f"Fingertips method. {glossary.CONFIDENCE} {glossary.POINTS}")
with heading:
    exports.board_pack_button(ctx)

continuity, outcome_cards = data.overview_cards(
    ctx.data_dir, ctx.version.id, ctx.area_code, area["pfa_code"] or None, ctx.period_end,
    ctx.disclosure_threshold, ctx.settings.continuity_target,
    ctx.settings.continuity_target_date)
cards.continuity_card(continuity, ctx.area_name)

for row_start in range(0, len(outcome_cards), 3):
    for column, card in zip(st.columns(3), outcome_cards[row_start:row_start + 3]):
        with column:
            cards.outcome_card(card, cards.timeliness(ctx, card.indicator).line())
