"""The comparator group's average per period of a trend, in one groupby.

Kept apart from explorer.py (which reads it) so that module stays short. The figure is
explorer._group_value's for each period's rows: pooled numerators over denominators where
the metric is a simple ratio, otherwise the mean of the shown values, rounded as displayed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.reference import formatting
from metrics.reference.catalogue import Indicator


def comparator_average(group: pd.DataFrame, ind: Indicator) -> pd.DataFrame:
    """The comparator group's value per period, as _group_value gives for each period's
    rows, worked out in one groupby: a loop over 169 periods cost 135-149 ms a chart."""
    if group.empty:
        return pd.DataFrame()
    # The first row of each period names its kind and dates (as g.iloc[0] did).
    first = group.drop_duplicates("period").set_index("period")
    shown = group["value"].notna()
    if "suppressed" in group:
        shown &= ~group["suppressed"].fillna(False).astype(bool)
    valid = group[shown]
    by_period = valid.groupby("period", sort=True)
    sums = by_period[["numerator", "denominator"]].sum()
    complete = by_period["numerator"].count() == by_period.size()
    mean = by_period["value"].mean()
    places = formatting.decimals_for(ind)
    pooled = pd.Series(np.nan, index=sums.index)
    if ind.ci_method in ("wilson", "byars"):
        use = (sums["denominator"] > 0) & complete
        with np.errstate(divide="ignore", invalid="ignore"):
            pooled = (sums["numerator"] / sums["denominator"] * ind.multiplier).where(use)
    else:
        use = pd.Series(False, index=sums.index)
    value = pooled.where(use, mean)
    periods = sorted(first.index)
    value = value.reindex(periods)
    first = first.loc[periods]
    return pd.DataFrame([
        {"period": period, "period_kind": kind, "period_start": start, "period_end": end,
         # Python's round, as _group_value: the same figure to the last digit.
         "value": None if pd.isna(v) else round(float(v), places),
         "lower95": None, "upper95": None, "line": "Comparator average", "is_area": False}
        for period, kind, start, end, v in zip(periods, first["period_kind"],
                                               first["period_start"], first["period_end"],
                                               value)])
