"""Issue 14, item 6: charts people can read without hovering. The all-areas ranking names
the selected area, its comparators, England and the five lowest and highest on the chart;
a ranking of activity counts (the supply metrics, by police force area) is a table sorted
from the highest with the selected force highlighted; the urban and rural chart has rows
tall enough to read."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from metrics.render import charts
from tests.test_pages import APP, TIMEOUT_S, demo_data_dir  # noqa: F401


def _drawn_texts(spec: dict) -> set[str]:
    """Every text a chart writes on itself: the `text` of its text-mark layers' data."""
    datasets = spec.get("datasets", {})
    found = set()

    def walk(unit):
        mark = unit.get("mark")
        if isinstance(mark, dict) and mark.get("type") == "text":
            name = (unit.get("data") or {}).get("name")
            field = unit["encoding"]["text"]["field"]
            found.update(str(r.get(field)) for r in datasets.get(name, []))
        for part in unit.get("layer", []):
            walk(part)
    walk(spec)
    return found


def test_ranking_names_home_comparators_england_and_both_ends():
    n = 40
    values = np.linspace(10, 80, n)
    roles = ["Other"] * n
    roles[17], roles[8], roles[25], roles[33] = "Home", "Comparator", "Comparator", "Comparator"
    rows = pd.DataFrame({"area_name": [f"Area {i}" for i in range(n)], "value": values,
                         "lower95": values - 4, "upper95": values + 4,
                         "comparison": "similar", "role": roles,
                         "display": [f"{v:.1f}%" for v in values]})
    spec = charts.ranked_chart(rows, "%", 45.0).to_dict(validate=False)
    drawn = " | ".join(_drawn_texts(spec))
    for i in (17, 8, 25, 33):                       # the selected area and comparators
        assert f"Area {i}" in drawn, i
    for i in [*range(5), *range(n - 5, n)]:         # the five lowest and five highest
        assert f"Area {i} {values[i]:.1f}" in drawn, i
    assert "England 45" in drawn
    assert "Area 10 " not in drawn and "Area 20" not in drawn     # not every area


def _page(page: str, **query) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_supply_ranking_is_sorted_with_the_home_force_highlighted(demo_data_dir):  # noqa: F811
    at = _page("pages/supply.py", metric="county_lines_closed")
    at.segmented_control(key="view").set_value("All areas").run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[-1].value
    assert list(table.columns[:2]) == ["Rank", "Area"], list(table.columns)
    figures = pd.to_numeric(table.iloc[:, 2].astype(str).str.replace(",", ""),
                            errors="coerce")
    assert figures.is_monotonic_decreasing, figures.tolist()
    marked = table[table["Area"].str.endswith("(selected area)")]
    assert marked["Area"].tolist() == ["Gloucestershire police force area (selected area)"]
    assert any("highest figure to the lowest" in c.value for c in at.caption)
    # Its rank is said above the table, where the row may be out of sight.
    rank = int(table.loc[marked.index[0], "Rank"])
    assert any(f"Gloucestershire police force area is {rank}" in m.value
               for m in at.markdown), [m.value for m in at.markdown]


def test_urban_rural_chart_rows_are_tall_enough_to_read(demo_data_dir):  # noqa: F811
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    at.switch_page("pages/maps.py")
    at.session_state["view"] = "Urban and rural"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["height"]["step"] >= 60, spec["height"]
    assert spec["config"]["axis"]["labelFontSize"] >= 13
