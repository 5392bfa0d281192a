"""One figure per area: the Maps page's small-area totals set beside the published area
figures the outcome pages use, so a board never reads two estimates as one.

The small-area table (estimated opiate and crack users, those in treatment, residents)
is summed over the area's small areas; the published figures are the unmet-need metric's
estimated users and users in treatment (its denominator, and denominator less numerator)
and the all-ages population of the residents-based rate for the same period. Where the
sums equal the published figures the page says so, naming the period; where they differ
it says in words that the small areas are a separate small-area estimate, and gives both.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from metrics.reference import catalogue

UNMET = "unmet_need_ocu"
# A rate per head of all residents for the same financial year: its denominator is the
# area's population that the pages' rates use (an ONS mid-year estimate).
RESIDENTS = "drug_poisoning_admissions"


@dataclass(frozen=True)
class NeedTotals:
    small_period: str | None      # the small-area table's period
    small_users: float | None     # sums over the area's small areas
    small_treated: float | None
    small_residents: float | None
    period: str | None            # the published figures' period (the same, when loaded)
    users: float | None           # published estimated users (unmet need's denominator)
    treated: float | None         # published users in treatment
    unmet_text: str               # published unmet need, as the treatment page shows it
    residents: float | None       # published all-ages population
    agrees: bool                  # every published figure equals its small-area sum
    words: str                    # what the page says


def _published(values: pd.DataFrame, indicator_id: str, area_code: str,
               period: str | None) -> pd.Series | None:
    rows = values[(values["indicator_id"] == indicator_id) & (values["area_code"] == area_code)
                  & (values["period"] == period)]
    if "breakdown" in rows:
        rows = rows[rows["breakdown"].isna()]
    if rows.empty:
        return None
    row = rows.iloc[0]
    hidden = row.get("suppressed")
    if hidden is not None and not pd.isna(hidden) and bool(hidden):
        return None       # hidden in public mode: nothing to set beside the small areas
    return row


def _sum(table: pd.DataFrame, column: str) -> float | None:
    if column not in table or table[column].isna().all():
        return None
    return float(table[column].sum())


def _count(x: float | None) -> str:
    return "-" if x is None or pd.isna(x) else f"{x:,.0f}"


def need_totals(table: pd.DataFrame, values: pd.DataFrame, area_code: str,
                area_name: str, hidden: frozenset[str] = frozenset()) -> NeedTotals:
    """`table`: the area's small-area need (metrics.geo.need_table); `values`: published
    area totals, protected as every public view reads them (ui.data.public_values);
    `hidden`: the small-area totals the page's protection hides (e.g. "estimated_ocu",
    from metrics.geo.urban_rural_summary's "All" row): never shown or compared here."""
    small_period = None
    if "period" in table and table["period"].notna().any():
        small_period = str(table["period"].dropna().iloc[0])
    small_users, small_treated = (None if c in hidden else _sum(table, c)
                                  for c in ("estimated_ocu", "ocu_in_treatment"))
    small_residents = _sum(table, "population")
    unmet = _published(values, UNMET, area_code, small_period)
    people = _published(values, RESIDENTS, area_code, small_period)
    users = treated = residents = None
    unmet_text = "-"
    if unmet is not None and pd.notna(unmet["denominator"]) and pd.notna(unmet["numerator"]):
        users, treated = float(unmet["denominator"]), float(unmet["denominator"] -
                                                            unmet["numerator"])
        if pd.notna(unmet["value"]):
            unmet_text = f"{unmet['value']:.1f}%"
    if people is not None and pd.notna(people["denominator"]):
        residents = float(people["denominator"])
    pairs = [(small_users, users), (small_treated, treated), (small_residents, residents)]
    compared = [(s, p) for s, p in pairs if s is not None and p is not None]
    agrees = bool(compared) and all(round(s) == round(p) for s, p in compared)
    when = small_period or "the small-area table's period"
    title = catalogue.get(UNMET).title
    if small_users is None and "estimated_ocu" in hidden:
        words = (f"Small-area estimates for {when}: their total for {area_name} is not "
                 "shown here.")
    elif small_users is None:
        words = f"No small-area estimates of users are loaded for {area_name}."
    elif users is None:
        words = (f"Small-area estimates for {when}. The published {title.lower()} for "
                 f"{area_name} is not available for {when} (not loaded, or not shown in "
                 "public mode), so these totals cannot be checked against it.")
    elif agrees:
        words = (f"{when}: the small areas add up to the published figures for {area_name} "
                 f"that the Engagement in treatment page uses: {_count(users)} estimated "
                 f"users, {_count(treated)} in treatment (unmet need {unmet_text})"
                 + (f", {_count(residents)} residents." if residents is not None else "."))
    else:
        words = (f"Small-area estimates for {when}, modelled separately: they add up to "
                 f"{_count(small_users)} estimated users, {_count(small_treated)} in "
                 f"treatment and {_count(small_residents)} residents, which differ from the "
                 f"published figures for {area_name} that the Engagement in treatment page "
                 f"uses ({_count(users)} estimated users, {_count(treated)} in treatment, "
                 f"unmet need {unmet_text}"
                 + (f"; {_count(residents)} residents)." if residents is not None else ")."))
    return NeedTotals(small_period, small_users, small_treated, small_residents,
                      small_period if users is not None else None, users, treated,
                      unmet_text, residents, agrees, words)
