"""The chart data path (metrics.render.chart_data) and layered charts
(metrics.render.charts.layered) are faster ways to exactly what Altair writes."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest
from altair.utils.data import to_values

import metrics.render  # noqa: F401 - enables the data transformer
from metrics.render import chart_data
from metrics.render.charts import AXIS_TEXT, LEGEND_TEXT, layered


FRAMES = {
    "floats with gaps": pd.DataFrame({"value": [1.25, np.nan, np.inf, -np.inf, 3.0],
                                      "lower95": [0.5, 1.0, np.nan, 2.0, 2.5]}),
    "integers and booleans": pd.DataFrame({"n": np.array([1, 2, 3], dtype=np.int64),
                                           "small": np.array([1, 2, 3], dtype=np.int32),
                                           "is_area": [True, False, True]}),
    "text with missing": pd.DataFrame({"area": pd.array(["Gloucestershire", None, "Bristol"],
                                                        dtype="string"),
                                       "y": [1.0, 2.0, 3.0]}),
    "Arrow-backed text": pd.DataFrame({"area": pd.array(["A", None], dtype="string[pyarrow]"),
                                       "y": [1.0, 2.0]}),
    "dates and times": pd.DataFrame({"x_date": pd.to_datetime(["2024-03-31", None,
                                                                "2024-06-30 13:45:07"], format="ISO8601")}),
    "dates in seconds": pd.DataFrame({"x_date": np.array(["2024-03-31", "NaT"],
                                                         dtype="datetime64[s]")}),
    "empty": pd.DataFrame({"x": pd.Series(dtype=float), "label": pd.Series(dtype="string")}),
    # Kinds left to Altair: its own way, unchanged.
    "objects": pd.DataFrame({"label": ["a", None, 3]}),
    "fractions of a second": pd.DataFrame({"t": pd.to_datetime(["2024-03-31 00:00:00.5"])}),
    "dates with a time zone": pd.DataFrame({"t": pd.to_datetime(["2024-03-31"]).tz_localize(
        "Europe/London")}),
    "categories": pd.DataFrame({"c": pd.Categorical(["a", None, "b"])}),
    "nullable integers": pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}),
}


@pytest.mark.parametrize("name", FRAMES)
def test_records_are_what_altair_writes(name):
    frame = FRAMES[name]
    assert chart_data.records(frame) == to_values(frame)


def test_records_leave_the_frame_as_it_was():
    frame = FRAMES["floats with gaps"].copy()
    chart_data.records(frame)
    pd.testing.assert_frame_equal(frame, FRAMES["floats with gaps"])


def test_a_chart_of_too_many_rows_is_still_refused():
    with pytest.raises(alt.MaxRowsError):
        chart_data.records(pd.DataFrame({"x": np.arange(chart_data.MAX_ROWS + 1.0)}))


def test_the_transformer_is_the_one_charts_use():
    assert alt.data_transformers.active == chart_data.NAME


def test_a_layered_chart_is_the_chained_one():
    data = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0], "kind": ["a", "b"]})
    layers = [alt.Chart(data).mark_line().encode(x="x:Q", y="y:Q"),
              alt.Chart(data).mark_point().encode(x="x:Q", y="y:Q", color="kind:N")]
    chained = alt.layer(*layers).resolve_legend(color="independent", shape="independent") \
        .properties(height=300, autosize=alt.AutoSizeParams(type="fit-x")) \
        .configure_axis(**AXIS_TEXT).configure_legend(**LEGEND_TEXT) \
        .configure_view(stroke=None)
    made = layered(layers, height=300, autosize=alt.AutoSizeParams(type="fit-x"),
                   independent_legends=True, axis=AXIS_TEXT, legend=LEGEND_TEXT,
                   view={"stroke": None})
    assert made.to_dict(validate=False) == chained.to_dict(validate=False)
    assert made.to_dict()                   # and it is a valid Vega-Lite specification
