"""How a chart's DataFrame becomes the records in its specification.

Altair's default data transformer copies each frame and cleans it column by column with
pandas (sanitize_pandas_dataframe): about 3-7 ms a frame, and an area change on the
continuity page sends about 30 small frames. `records` gives the same records for the
column types our charts use, straight from NumPy lists; any other frame goes Altair's
way. tests/test_chart_data.py compares the two.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
from altair.utils.data import limit_rows, to_values

NAME = "cdp_records"
MAX_ROWS = 5000          # Altair's default limit: a chart of more rows is a mistake


def _column(series: pd.Series) -> list | None:
    """The column as sanitize_pandas_dataframe leaves it, or None if its type is one
    we leave to Altair."""
    dtype = series.dtype
    name = str(dtype)
    if name in ("string", "str"):
        values = series.to_numpy(dtype=object, na_value=None)
        return values.tolist()
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            array = series.to_numpy()
            values = array.tolist()
            bad = ~np.isfinite(array)
            if bad.any():
                for i in np.flatnonzero(bad):
                    values[i] = None
            return values
        if dtype.kind in "iub":
            return series.to_numpy().tolist()
        if dtype.kind == "M":
            # Altair writes Timestamp.isoformat() ("2024-03-31T00:00:00": a full ISO time,
            # which browsers read as local time, as Vega-Lite shows it) and "" for NaT.
            # Whole seconds only: isoformat would add a fraction.
            array = series.to_numpy()
            seconds = array.astype("datetime64[s]")
            present = ~np.isnat(array)
            if (array[present] != seconds[present]).any():
                return None
            text = np.datetime_as_string(seconds, unit="s")
            return np.where(present, text, "").tolist()
    return None


def records(data):
    """Altair's data transformer, faster for frames of plain float, integer, boolean and
    text columns (the only kinds `sent` leaves in a chart's frame)."""
    if isinstance(data, pd.DataFrame) and isinstance(data.columns, pd.Index) \
            and not isinstance(data.columns, (pd.RangeIndex, pd.MultiIndex)) \
            and not isinstance(data.index, pd.MultiIndex) \
            and all(isinstance(c, str) for c in data.columns):
        limit_rows(data, max_rows=MAX_ROWS)
        columns = [_column(data[c]) for c in data.columns]
        if all(c is not None for c in columns):
            names = list(data.columns)
            return {"values": [dict(zip(names, row)) for row in zip(*columns)]}
    return to_values(limit_rows(data, max_rows=MAX_ROWS))


def enable() -> None:
    alt.data_transformers.register(NAME, records)
    alt.data_transformers.enable(NAME)
