"""Board tables narrow enough for a 1024 px laptop (ui.tables.narrow_breakdown): the
continuity breakdowns in five columns, with nothing hidden given away."""

import pandas as pd

from ui import tables


def test_a_breakdown_in_five_columns_with_shapes_and_hidden_figures_as_stars():
    table = pd.DataFrame({
        "category": ["HMP A", "HMP B", "Other prisons"],
        "released": [58.0, None, 40.0], "engaged": [10.0, None, 12.0],
        "rate": [17.241, None, 30.0], "lower95": [9.6, None, 18.1],
        "upper95": [28.9, None, 45.4], "england_rate": [25.0, 31.5, None],
        "comparison": ["worse_95", "not_compared", "better_95only"],
        "suppressed": [False, True, False]})
    shown = tables.narrow_breakdown(table, "prison")
    assert list(shown.columns) == ["Releasing prison", "Engaged",
                                   "Rate (95% interval)", "Against the area",
                                   "All areas"]
    assert shown.iloc[0].tolist() == ["HMP A", "10 of 58", "17.2% (9.6 to 28.9)",
                                      "\u25bc Worse (95%)", "25.0%"]
    # A hidden group: stars, and no comparison that would hint at its size.
    assert shown.iloc[1].tolist()[1:4] == ["* of *", "*", "-"]
    # A verdict made at 95% only keeps its caveat.
    assert shown.iloc[2]["Against the area"] == \
        "\u25b2 Better (compared at 95% only)"
    assert shown.iloc[2]["All areas"] == "-"
    assert set(tables.BREAKDOWN_HELP) >= set(shown.columns[1:])
    other = tables.narrow_breakdown(table, "sex")
    assert other.columns[-1] == "England"
