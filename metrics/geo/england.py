"""The England map: one value per partnership (or police force area) for a metric,
with its comparison to England, already suppressed for public mode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from metrics import stats
from metrics.stats import disclosure
from metrics.reference.formatting import SUPPRESSED
from metrics.geo.boundaries import REFERENCE_DIR

# The names other modules use (re-exported by the package).
__all__ = [
    "ENGLAND_CODE", "area_map_values", "boundary_lsoas", "reference_lsoas",
]


# --- England: one value per partnership ------------------------------------------------------

ENGLAND_CODE = "E92000001"


def boundary_lsoas(boundaries: dict) -> pd.DataFrame:
    """The LSOAs of a local boundary file: lsoa_code, lsoa_name, ltla_code, ltla_name."""
    districts = {f["properties"]["code"]: f["properties"]["name"]
                 for f in boundaries["features"] if f["properties"]["layer"] == "district"}
    rows = [(p["code"], p["name"], p["ltla_code"], districts.get(p["ltla_code"], ""))
            for p in (f["properties"] for f in boundaries["features"])
            if p["layer"] == "lsoa"]
    return pd.DataFrame(rows, columns=["lsoa_code", "lsoa_name", "ltla_code", "ltla_name"])


def reference_lsoas(reference_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """Every English 2011 LSOA (data/reference/lsoa11.csv) in the shape of
    `boundary_lsoas`, plus utla_code."""
    ref = pd.read_csv(Path(reference_dir) / "lsoa11.csv", dtype=str,
                      usecols=["lsoa11_code", "lsoa11_name", "ltla_code", "ltla_name",
                               "utla_code"])
    return ref.rename(columns={"lsoa11_code": "lsoa_code", "lsoa11_name": "lsoa_name"})


def area_map_values(values: pd.DataFrame, indicator, areas: pd.DataFrame,
                    threshold: int) -> pd.DataFrame:
    """One row per upper-tier area for the England map: the indicator's latest period
    (of its headline period kind) in `values`, the same period for every area so they
    compare like with like. Metrics published by police force area give each area its
    force's figure. Columns: area_code, source_code, value, suppressed, value_text (with
    unit), number_text, period, period_text, comparison, comparison_text, note.

    In public mode pass rows protected across areas (ui.data.public_values): a map
    beside a ranking must hide the same areas, or England minus the areas shown gives
    a hidden one back."""
    from metrics.reference import formatting

    utlas = areas[areas["area_type"] == "utla"]
    columns = ["area_code", "source_code", "value", "suppressed", "value_text",
               "number_text", "period", "period_text", "comparison", "comparison_text",
               "note"]
    if indicator.geography == "national":
        return pd.DataFrame(columns=columns)
    rows = values[(values["indicator_id"] == indicator.id)
                  & (values["period_kind"] == indicator.period_kind)]
    if "breakdown" in rows.columns:
        rows = rows[rows["breakdown"].isna()]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    latest_end = rows.loc[rows["area_code"] != ENGLAND_CODE, "period_end"].max()
    rows = rows[rows["period_end"] == latest_end].set_index("area_code")
    england = rows.loc[ENGLAND_CODE] if ENGLAND_CODE in rows.index else None
    by_pfa = indicator.geography == "pfa"
    out = []
    for area in utlas.itertuples():
        source = area.pfa_code if by_pfa else area.area_code
        note = f"{area.pfa_name} police force area figure" if by_pfa else ""
        if not source or source not in rows.index:
            out.append({"area_code": area.area_code, "source_code": source, "value": np.nan,
                        "suppressed": False, "value_text": "no data", "number_text": "-",
                        "period": "",
                        "period_text": "", "comparison": "not_compared",
                        "comparison_text": "", "note": note})
            continue
        row = rows.loc[source]
        # A small count, complement (70.0% of 10 gives 3 not engaged) or denominator, or
        # a cell hidden when the rows were protected across areas (public mode).
        flag = row.get("suppressed", False)
        small = indicator.disclosive and (
            (not pd.isna(flag) and bool(flag))
            or disclosure.is_small(row["numerator"], threshold)
            or disclosure.is_small(row["denominator"] - row["numerator"], threshold)
            or disclosure.is_small(row["denominator"], threshold))
        if small or pd.isna(row["value"]) or not indicator.benchmarkable or england is None:
            comparison = "not_compared"
        else:
            comparison = stats.compare_with_benchmark(
                row["lower95"], row["upper95"], row["lower998"], row["upper998"],
                england["value"], indicator.polarity)
        words = "Activity count: not compared between areas" \
            if not indicator.benchmarkable else stats.comparison_words(comparison)
        out.append({
            "area_code": area.area_code, "source_code": source,
            # Rounded as displayed: the deck's JSON reaches the browser whole.
            "value": np.nan if small else round(float(row["value"]),
                                                formatting.decimals_for(indicator)),
            "suppressed": bool(small),
            "value_text": SUPPRESSED if small else formatting.with_unit(row["value"], indicator),
            "number_text": SUPPRESSED if small else formatting.number(row["value"], indicator),
            "period": row["period"], "period_text": f"({row['period']})",
            "comparison": comparison, "comparison_text": words, "note": note})
    return pd.DataFrame(out, columns=columns)
