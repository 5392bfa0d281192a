"""Comparator groups: which areas a partnership compares itself with.

Boards compare with statistical neighbours (CIPFA nearest neighbours; NHS England peer
groups since 2024). No such list is available offline, so the group is a setting
(`partnership.comparators`); without one, the nearest areas are computed from the data
and the page says how: areas closest in population and deprivation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.reference.formatting import plural

GROUPS = {
    "nearest": "Nearest neighbours (computed)",
    "region": "Same region",
    "configured": "Configured in config.toml",
}
NEIGHBOURS = 10


@dataclass(frozen=True)
class ComparatorGroup:
    codes: tuple[str, ...]
    description: str


def area_features(need_summary: pd.DataFrame) -> pd.DataFrame:
    """Per upper-tier area (from metrics.store.area_need_summary): log population, and
    the share of small areas in the most deprived fifth: the two things CIPFA-style
    neighbours weigh most."""
    summary = need_summary.set_index("utla_code")
    return pd.DataFrame({"log_population": np.log(summary["population"].astype(float)),
                         "deprived_share": summary["deprived_share"].astype(float)})


def nearest(area_code: str, features: pd.DataFrame, n: int = NEIGHBOURS) -> list[str]:
    """The n areas nearest on standardised features (Euclidean distance)."""
    if area_code not in features.index:
        return []
    z = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    distance = np.sqrt(((z - z.loc[area_code]) ** 2).sum(axis=1)).drop(area_code)
    return distance.nsmallest(n).index.tolist()


def comparator_group(choice: str, area_code: str, areas: pd.DataFrame,
                     configured: tuple[str, ...], need_summary: pd.DataFrame | None
                     ) -> ComparatorGroup:
    utlas = areas[areas["area_type"] == "utla"].set_index("area_code")
    if choice == "configured" and configured:
        codes = tuple(c for c in configured if c in utlas.index and c != area_code)
        return ComparatorGroup(codes, f"{plural(len(codes), 'area')} set in config.toml")
    if choice == "region" and area_code in utlas.index:
        region = utlas.loc[area_code, "region_code"]
        codes = tuple(utlas.index[(utlas["region_code"] == region) & (utlas.index != area_code)])
        return ComparatorGroup(codes, f"the other {plural(len(codes), 'area')} in "
                                      f"{utlas.loc[area_code, 'region_name']}")
    prefix = "No comparators are set in config.toml, so these are computed: " \
        if choice == "configured" else ""
    if need_summary is not None and not need_summary.empty:
        codes = tuple(nearest(area_code, area_features(need_summary)))
        demo_note = " (demonstration deprivation deciles)" \
            if need_summary["demo"].fillna(False).any() else ""
        return ComparatorGroup(codes, f"{prefix}the {plural(len(codes), 'area')} nearest in "
                                      "population and share of small areas in the most "
                                      f"deprived fifth{demo_note}")
    return comparator_group("region", area_code, areas, configured, None)
