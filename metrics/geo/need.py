"""Small-area need: the per-LSOA measures the local map colours by, and need and
provision compared by rural-urban class, with intervals and disclosure control.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import stats
from metrics.stats import disclosure
from metrics.reference.formatting import SUPPRESSED
from metrics.geo.lookups import BROAD_CLASSES, RUC_CLASSES, ruc_broad, ruc_label

# The names other modules use (re-exported by the package).
__all__ = [
    "COUNTS", "LOCAL", "MEASURES", "MEASURE_FLAGS", "Measure", "NEED_COLUMNS", "SPLIT",
    "SPLIT_FLAGS", "SUMMARY_COUNTS", "SUMMARY_MEASURES", "SmallAreaProtection",
    "available_measures", "deaths_period", "district_deaths", "lsoa_values", "need_table",
    "protect_small_areas",
    "summary_display", "urban_rural_summary",
]


# --- Small-area need ---------------------------------------------------------------------

NEED_COLUMNS = ["lsoa11_code", "utla_code", "ltla_code", "population", "imd_decile",
                "ruc11_class", "estimated_ocu", "ocu_in_treatment", "drug_deaths_5y",
                "period", "demo"]


@dataclass(frozen=True)
class Measure:
    id: str
    title: str
    unit: str
    kind: str            # "rate", "proportion", "decile" or "class"
    polarity: str        # "low": higher values are worse (darker warm colours)
    description: str
    needs: tuple[str, ...] = ()   # columns of the small-area table it is built from
    level: str = "lsoa"  # "district": too few events per small area, so each small area
    #                      shows its district's figure


MEASURES: dict[str, Measure] = {m.id: m for m in (
    Measure("ocu_rate", "Estimated opiate and/or crack users", "per 1,000 residents", "rate",
            "low", "Estimated opiate and/or crack cocaine users living in the small area, "
            "per 1,000 residents of all ages.", ("estimated_ocu",)),
    Measure("treatment_rate", "People in treatment", "per 1,000 residents", "rate", "none",
            "Estimated users in structured treatment, per 1,000 residents.",
            ("ocu_in_treatment",)),
    Measure("unmet_need", "Unmet need", "% of estimated users", "proportion", "low",
            "Estimated opiate and/or crack users not in treatment, as a % of estimated "
            "users.", ("estimated_ocu", "ocu_in_treatment")),
    Measure("deaths_rate", "Drug-related deaths (district)", "per 100,000 residents a year",
            "rate", "low", "Deaths related to drug misuse over 5 years, per 100,000 "
            "residents a year, for the district: a small area has too few deaths to map.",
            ("drug_deaths_5y",), level="district"),
    Measure("imd_decile", "Deprivation decile", "IMD decile (1 = most deprived)", "decile",
            "none", "Index of Multiple Deprivation decile in England: 1 is the most "
            "deprived tenth of small areas.", ("imd_decile",)),
    Measure("ruc_class", "Rural-urban class", "", "class", "none",
            "ONS Rural-Urban Classification of the small area.", ("ruc_class",)),
)}


def available_measures(need: pd.DataFrame) -> list[str]:
    """Measures whose columns the table has, with at least one value."""
    out = []
    for m in MEASURES.values():
        if all(c in need.columns and need[c].notna().any() for c in m.needs):
            out.append(m.id)
    return out


def need_table(lsoas: pd.DataFrame, need: pd.DataFrame | None, ruc: pd.DataFrame | None,
               imd: pd.DataFrame | None) -> pd.DataFrame:
    """One row per LSOA of the view: its boundary attributes (`lsoas`: lsoa_code,
    lsoa_name, ltla_code, ltla_name), the published small-area need (may be absent) and
    the rural-urban class and IMD decile: from the official lookups when loaded,
    otherwise the demonstration values of the small-area table (flagged).

    Columns added: ruc_class, imd_decile, ruc_official, imd_official, need_demo."""
    out = lsoas.copy()
    if need is not None and not need.empty:
        need = need.rename(columns={"lsoa11_code": "lsoa_code"})
        keep = [c for c in ("population", "estimated_ocu", "ocu_in_treatment",
                            "drug_deaths_5y", "imd_decile", "ruc11_class", "demo", "period")
                if c in need.columns]
        out = out.merge(need[["lsoa_code", *keep]], on="lsoa_code", how="left")
    for column in ("population", "estimated_ocu", "ocu_in_treatment", "drug_deaths_5y",
                   "imd_decile", "ruc11_class", "demo", "period"):
        if column not in out.columns:
            out[column] = np.nan
    out = out.rename(columns={"imd_decile": "demo_imd_decile", "ruc11_class": "demo_ruc"})
    out["need_demo"] = out["demo"].eq(True)

    if ruc is not None and not ruc.empty:
        out = out.merge(ruc[["lsoa_code", "ruc_class"]], on="lsoa_code", how="left")
        out["ruc_official"] = True
    else:
        out["ruc_class"] = out["demo_ruc"]
        out["ruc_official"] = False
    if imd is not None and not imd.empty:
        out = out.merge(imd[["lsoa_code", "imd_decile"]], on="lsoa_code", how="left")
        out["imd_official"] = True
    else:
        out["imd_decile"] = out["demo_imd_decile"]
        out["imd_official"] = False
    out["imd_decile"] = pd.to_numeric(out["imd_decile"], errors="coerce").astype("Float64")
    out["ruc_class"] = out["ruc_class"].astype("object").where(out["ruc_class"].notna(), None)
    return out.drop(columns=["demo", "demo_imd_decile", "demo_ruc"])


def _fmt_count(count, threshold: int, suppressed: bool = False) -> str:
    if count is None or (isinstance(count, float) and math.isnan(count)) or pd.isna(count):
        return "-"
    if suppressed or disclosure.is_small(count, threshold):
        return SUPPRESSED
    return f"{count:,.0f}"


def _fmt_value(value, decimals: int = 1, suffix: str = "") -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:,.{decimals}f}{suffix}"


# --- Disclosure control across the small-area map and the rural-urban tables -------------
#
# The maps page shows one count per small area (estimated users, in treatment, not in
# treatment, deaths), the same counts summed by rural-urban class, broad group (urban,
# rural) and for the whole area, and a district's deaths (as a rate). These are linked by
# sums, so hiding each small count where it is shown is not enough: a class total minus
# its shown small areas gives the one hidden. `protect_small_areas` decides the hidden
# cells of all of them together with disclosure.protect, for each area in two levels:
#
#   totals   the area's classes, broad groups and total (broad = sum of its classes,
#            total = sum of broad groups, estimated = in treatment + not in treatment)
#   classes  each class's small areas (estimated = in treatment + not) adding up to the
#            class total, hidden or shown as the first level decided; the unclassified
#            small areas (no total shown) alone
#   deaths   the area's small-area deaths adding up to the class totals and districts
#
# A level that must hide a total the first level showed sends it back, and the levels
# are solved again until they agree. One system per area is exact too but takes ten
# times longer. England's table by class shows no counts (only rates and shares of
# England-sized totals, rounded), so the areas' class totals cannot be worked out from
# it either; tests/test_map_attack.py checks, by solving what the page sends, that no hidden
# count can be worked out.

COUNTS = ("estimated_ocu", "ocu_in_treatment", "not_in_treatment", "drug_deaths_5y")
SPLIT = COUNTS[:3]                  # estimated = in treatment + not in treatment
LOCAL = "local"                     # the area key when a table has no utla_code


@dataclass(frozen=True)
class SmallAreaProtection:
    """What `protect_small_areas` hides. `lsoas`: index lsoa_code, a bool column
    <count>_hidden per count in COUNTS. `groups`: hidden group totals as (area, group,
    count), area an upper-tier code (or LOCAL), group a class code, a broad group name or
    "All". `districts`: codes of districts whose deaths are hidden."""
    lsoas: pd.DataFrame
    groups: frozenset
    districts: frozenset
    threshold: int

    def hidden(self, area: str, group: str, count: str) -> bool:
        return (area, group, count) in self.groups


def _split_counts(table: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "lsoa_code": table["lsoa_code"].to_numpy(),
        "area": (table["utla_code"] if "utla_code" in table.columns
                 else pd.Series(LOCAL, index=table.index)).fillna(LOCAL).to_numpy(),
        "ltla_code": table["ltla_code"].to_numpy(),
        "ruc_class": table["ruc_class"].to_numpy(),
        "estimated_ocu": table["estimated_ocu"].astype(float).to_numpy(),
        "ocu_in_treatment": table["ocu_in_treatment"].astype(float).to_numpy(),
        "drug_deaths_5y": table["drug_deaths_5y"].astype(float).to_numpy()})
    out["not_in_treatment"] = out["estimated_ocu"] - out["ocu_in_treatment"]
    out["broad"] = out["ruc_class"].map(lambda c: ruc_broad(c) if isinstance(c, str) else None)
    return out


def _area_totals(rows: pd.DataFrame, area: str) -> tuple[dict, list]:
    """(area, group, count) -> total for one area's classes, broad groups and "All", and
    the relations between them."""
    classified = rows[rows["ruc_class"].notna()]
    totals: dict = {}
    relations: list = []
    if classified.empty:
        return totals, relations
    for column in ("ruc_class", "broad"):
        sums = classified.groupby(column, sort=True)[list(COUNTS)].sum(min_count=1)
        for group, row in sums.iterrows():
            totals |= {(area, group, count): row[count] for count in COUNTS}
    totals |= {(area, "All", count): classified[count].sum(min_count=1) for count in COUNTS}
    pairs = classified[["ruc_class", "broad"]].drop_duplicates()
    broads = sorted(pairs["broad"].unique())
    for count in COUNTS:
        for broad in broads:
            classes = sorted(pairs.loc[pairs["broad"] == broad, "ruc_class"])
            relations.append(((area, broad, count), [(area, c, count) for c in classes]))
        relations.append(((area, "All", count), [(area, b, count) for b in broads]))
    for group in sorted(set(pairs["ruc_class"]) | set(broads) | {"All"}):
        relations.append(((area, group, "estimated_ocu"),
                          [(area, group, "ocu_in_treatment"), (area, group, "not_in_treatment")]))
    return totals, relations


def _class_problem(rows: pd.DataFrame, area: str, cls, totals: dict) -> tuple[dict, list]:
    """Estimated / in treatment / not in treatment of one class of one area (cls None:
    the area's unclassified small areas, which add up to no shown total)."""
    counts, relations = {}, []
    for code, est, treat, not_ in zip(rows["lsoa_code"], rows["estimated_ocu"],
                                      rows["ocu_in_treatment"], rows["not_in_treatment"]):
        counts |= {(code, "estimated_ocu"): est, (code, "ocu_in_treatment"): treat,
                   (code, "not_in_treatment"): not_}
        relations.append(((code, "estimated_ocu"),
                          [(code, "ocu_in_treatment"), (code, "not_in_treatment")]))
    if cls is not None:
        for count in SPLIT:
            counts[(area, cls, count)] = totals[(area, cls, count)]
            relations.append(((area, cls, count), [(c, count) for c in rows["lsoa_code"]]))
        relations.append(((area, cls, "estimated_ocu"),
                          [(area, cls, "ocu_in_treatment"), (area, cls, "not_in_treatment")]))
    return counts, relations


def _deaths_problem(rows: pd.DataFrame, area: str, totals: dict) -> tuple[dict, list]:
    count = "drug_deaths_5y"
    counts = {(code, count): deaths for code, deaths in zip(rows["lsoa_code"], rows[count])}
    relations = []
    for cls, members in rows[rows["ruc_class"].notna()].groupby("ruc_class", sort=True):
        counts[(area, cls, count)] = totals[(area, cls, count)]
        relations.append(((area, cls, count), [(c, count) for c in members["lsoa_code"]]))
    for district, members in rows.groupby("ltla_code", sort=True):
        counts[("district", district)] = members[count].sum(min_count=1)
        relations.append((("district", district), [(c, count) for c in members["lsoa_code"]]))
    return counts, relations


def _protect_area(rows: pd.DataFrame, area: str, threshold: int) -> set:
    totals, top_relations = _area_totals(rows, area)
    sent_back: set = set()
    solved: dict = {}          # sub-problem -> (hidden it was given, hidden it returned)
    for _ in range(20):
        top_hidden = disclosure.protect(totals, top_relations, threshold, hidden=sent_back) \
            if totals else set()
        hidden = set(top_hidden)
        problems = [(("class", cls), members, cls if isinstance(cls, str) else None)
                    for cls, members in rows.groupby("ruc_class", sort=True, dropna=False)]
        problems.append((("deaths",), rows, None))
        for key, members, cls in problems:
            if key[0] == "class":
                counts, relations = _class_problem(members, area, cls, totals)
            else:
                counts, relations = _deaths_problem(members, area, totals)
            given = frozenset(k for k in counts if k in top_hidden)
            if key not in solved or solved[key][0] != given:
                solved[key] = (given, disclosure.protect(counts, relations, threshold,
                                                         hidden=given))
            hidden |= solved[key][1]
        new = {k for k in hidden if k in totals and k not in top_hidden}
        if not new:
            return hidden
        sent_back |= new
    raise RuntimeError(f"small-area disclosure control did not settle for {area}")


def protect_small_areas(table: pd.DataFrame, threshold: int) -> SmallAreaProtection:
    """Every count to hide on the maps page, from the small-area table `table` (rows of
    need_table: one area, or several with a utla_code column, each protected alone)."""
    lsoas = _split_counts(table)
    flags = pd.DataFrame(False, index=pd.Index(lsoas["lsoa_code"], name="lsoa_code"),
                         columns=[f"{c}_hidden" for c in COUNTS])
    if threshold <= 1 or lsoas.empty:
        return SmallAreaProtection(flags, frozenset(), frozenset(), threshold)
    hidden: set = set()
    for area, rows in lsoas.groupby("area", sort=True):
        hidden |= _protect_area(rows, area, threshold)
    for count in COUNTS:
        codes = {k[0] for k in hidden if len(k) == 2 and k[1] == count}
        flags[f"{count}_hidden"] = flags.index.isin(codes)
    groups = frozenset(k for k in hidden if len(k) == 3)
    districts = frozenset(k[1] for k in hidden if len(k) == 2 and k[0] == "district")
    return SmallAreaProtection(flags, groups, districts, threshold)


def lsoa_values(table: pd.DataFrame, measure_id: str, threshold: int,
                protection: SmallAreaProtection | None = None) -> pd.DataFrame:
    """The map's value per LSOA for one measure, with disclosure control applied: the
    cells `protection` hides (default: protect_small_areas of this table, so the
    small areas, their classes and districts are protected together).

    Returns the table with columns: value (float; NaN when missing or suppressed),
    suppressed (bool), category (for class and decile measures) and the tooltip texts
    est_text, treat_text, unmet_text, deaths_text, value_text."""
    measure = MEASURES[measure_id]
    if protection is None:
        protection = protect_small_areas(table, threshold)
    out = table.copy()
    pop = out["population"].astype(float)
    est = out["estimated_ocu"].astype(float)
    treat = out["ocu_in_treatment"].astype(float)
    deaths = out["drug_deaths_5y"].astype(float)
    flags = protection.lsoas.reindex(out["lsoa_code"]).fillna(False).astype(bool)
    est_hidden = flags["estimated_ocu_hidden"].to_numpy()
    treat_hidden = flags["ocu_in_treatment_hidden"].to_numpy()
    # Unmet need is not-in-treatment over estimated users: shown only when all three are.
    split_hidden = est_hidden | treat_hidden | flags["not_in_treatment_hidden"].to_numpy()
    deaths_hidden = flags["drug_deaths_5y_hidden"].to_numpy()

    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "ocu_rate": (est / pop * 1000, est_hidden),
            "treatment_rate": (treat / pop * 1000, treat_hidden),
            "unmet_need": ((est - treat) / est * 100, split_hidden),
            "deaths_rate": (deaths / (pop * 5) * 100_000, deaths_hidden),
        }
    detail = pd.Series("", index=out.index)
    if measure.level == "district":
        district = district_deaths(out, threshold, protection).set_index("ltla_code")
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = district["deaths"] / (district["population"] * 5) * 100_000
        # The rate before suppression: a hidden district is marked suppressed below.
        values[measure_id] = (out["ltla_code"].map(rate).astype(float),
                              out["ltla_code"].isin(protection.districts).to_numpy(bool))
        # The district's interval and period go with its figure wherever it is shown.
        detail = out["ltla_code"].map(district["detail_text"]).fillna("")
    if measure.kind in ("rate", "proportion"):
        value, hidden = values[measure_id]
        out["suppressed"] = hidden & value.notna().to_numpy()
        out["value"] = value.where(~out["suppressed"])
        out["category"] = None
    elif measure.kind == "decile":
        out["value"] = out["imd_decile"].astype(float)
        out["suppressed"] = False
        out["category"] = out["imd_decile"].map(lambda d: None if pd.isna(d) else str(int(d)))
    else:
        out["value"] = np.nan
        out["suppressed"] = False
        out["category"] = out["ruc_class"]

    out["est_text"] = [_fmt_count(e, threshold, h) for e, h in zip(est, est_hidden)]
    out["treat_text"] = [_fmt_count(t, threshold, h) for t, h in zip(treat, treat_hidden)]
    unmet = values["unmet_need"][0]
    out["unmet_text"] = [SUPPRESSED if h and not pd.isna(u) else _fmt_value(u, 0, "%")
                         for u, h in zip(unmet, split_hidden)]
    out["deaths_text"] = [_fmt_count(d, threshold, h) for d, h in zip(deaths, deaths_hidden)]
    decimals = 0 if measure.kind == "proportion" else 1
    if measure.kind in ("rate", "proportion"):
        suffix = "%" if measure.kind == "proportion" else ""
        out["value_text"] = [SUPPRESSED if s else _fmt_value(v, decimals, suffix)
                             for v, s in zip(out["value"], out["suppressed"])]
    elif measure.kind == "decile":
        out["value_text"] = out["category"].fillna("-")
    else:
        out["value_text"] = out["ruc_class"].map(ruc_label)
    out["value_detail"] = detail.to_numpy()
    out["ruc_text"] = out["ruc_class"].map(ruc_label)
    out["imd_text"] = out["imd_decile"].map(lambda d: "-" if pd.isna(d) else str(int(d)))
    return out


def deaths_period(table: pd.DataFrame) -> str:
    """The five years the small-area deaths cover, in words ("5 years to 2025/26")."""
    periods = table["period"].dropna() if "period" in table else pd.Series(dtype=object)
    return f"5 years to {periods.iloc[0]}" if len(periods) else "5 years"


def district_deaths(table: pd.DataFrame, threshold: int,
                    protection: SmallAreaProtection | None = None) -> pd.DataFrame:
    """Drug-related deaths by district (a small area has too few to map): the small areas'
    deaths over their residents' five years, per 100,000 a year, with Byar's (exact Poisson
    below 10) 95% interval and the period, hidden where `protection` hides the district.

    Columns: ltla_code, ltla_name, population, deaths, rate, lower95, upper95, suppressed,
    period, deaths_text, rate_text, interval_text, detail_text."""
    if protection is None:
        protection = protect_small_areas(table, threshold)
    names = table.get("ltla_name", table["ltla_code"])
    out = table.assign(ltla_name=names).groupby("ltla_code", sort=False).agg(
        ltla_name=("ltla_name", "first"),
        deaths=("drug_deaths_5y", lambda d: d.sum(min_count=1)),
        population=("population", "sum")).reset_index()
    years = out["population"].astype(float) * 5
    deaths = out["deaths"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(years > 0, deaths / years * 100_000, np.nan)
    lower, upper = _safe(stats.rate_ci, deaths, years, multiplier=100_000)
    hidden = out["ltla_code"].isin(protection.districts).to_numpy(bool).copy()
    hidden |= np.array([disclosure.is_small(d, threshold) for d in deaths], bool)
    out["suppressed"] = hidden & ~np.isnan(rate)
    out["rate"] = np.where(out["suppressed"], np.nan, rate)
    out["lower95"] = np.where(out["suppressed"], np.nan, lower)
    out["upper95"] = np.where(out["suppressed"], np.nan, upper)
    out["period"] = deaths_period(table)
    out["deaths_text"] = [_fmt_count(d, threshold, h) for d, h in zip(deaths, hidden)]
    out["rate_text"] = [SUPPRESSED if s else _fmt_value(r, 1)
                        for r, s in zip(out["rate"], out["suppressed"])]
    out["interval_text"] = [
        SUPPRESSED if s else "-" if np.isnan(lo) else f"{lo:,.1f} to {hi:,.1f}"
        for s, lo, hi in zip(out["suppressed"], out["lower95"], out["upper95"])]
    out["detail_text"] = [
        f"(95% CI {i}), district, {p}" if i not in ("-", SUPPRESSED) else f"district, {p}"
        for i, p in zip(out["interval_text"], out["period"])]
    return out.sort_values("ltla_name", kind="stable").reset_index(drop=True)


# --- Urban and rural -----------------------------------------------------------------------

SUMMARY_COUNTS = COUNTS


def urban_rural_summary(table: pd.DataFrame, by: str, threshold: int,
                        with_total: bool = True,
                        protection: SmallAreaProtection | None = None,
                        counts_shown: bool = True) -> pd.DataFrame:
    """Need and provision by rural-urban group, with 95% intervals and disclosure control.

    `by`: "broad" (Urban / Rural) or "class" (the finer ONS classes). One row per group
    present, then an "All" row when `with_total`. Columns: group, group_label, broad,
    order, lsoas, population, the counts in SUMMARY_COUNTS, and for each measure its
    value and lower95/upper95: ocu_rate (per 1,000 residents, Byar's/exact Poisson),
    treated_share (% of estimated users in treatment, Wilson), unmet_need (100 minus
    treated_share), deaths_rate (per 100,000 a year over 5 years). Boolean columns
    <count>_hidden say which counts are suppressed (`protection`: default
    protect_small_areas of this table, one area; pass the page's so map and table agree);
    measures built on a hidden count are NaN. `counts_shown=False` (England's table,
    many areas): the counts are left out (NaN) and nothing is suppressed, since only
    rates and shares of England-sized totals are shown."""
    if by not in ("broad", "class"):
        raise ValueError("by must be 'broad' or 'class'")
    data = table[table["ruc_class"].notna()].copy()
    data["group"] = data["ruc_class"].map(ruc_broad) if by == "broad" else data["ruc_class"]
    data["not_in_treatment"] = data["estimated_ocu"] - data["ocu_in_treatment"]
    grouped = data.groupby("group").agg(
        lsoas=("lsoa_code", "count"), population=("population", "sum"),
        **{c: (c, lambda s: s.sum(min_count=1)) for c in SUMMARY_COUNTS})
    if by == "broad":
        grouped["order"] = [BROAD_CLASSES.index(g) if g in BROAD_CLASSES else 9
                            for g in grouped.index]
        grouped["group_label"] = grouped.index
        grouped["broad"] = grouped.index
    else:
        grouped["order"] = [RUC_CLASSES[g].order if g in RUC_CLASSES else 99
                            for g in grouped.index]
        grouped["group_label"] = [ruc_label(g) for g in grouped.index]
        grouped["broad"] = [ruc_broad(g) for g in grouped.index]
    grouped = grouped.sort_values("order")
    if with_total and len(grouped):
        grouped.loc["All"] = pd.Series({
            "lsoas": grouped["lsoas"].sum(), "population": grouped["population"].sum(),
            **{c: grouped[c].sum(min_count=1) for c in SUMMARY_COUNTS},
            "order": 100, "group_label": "All small areas", "broad": "All"})

    if counts_shown and protection is None:
        protection = protect_small_areas(table, threshold)
    area = LOCAL
    if counts_shown and "utla_code" in table.columns and table["utla_code"].nunique() == 1:
        area = table["utla_code"].iloc[0]
    for count in SUMMARY_COUNTS:
        grouped[f"{count}_hidden"] = [
            bool(counts_shown and protection.hidden(area, group, count))
            for group in grouped.index]
    grouped = grouped.rename_axis("group").reset_index()
    grouped = _add_summary_measures(grouped)
    if not counts_shown:
        grouped[list(SUMMARY_COUNTS)] = np.nan
    return grouped


def _add_summary_measures(g: pd.DataFrame) -> pd.DataFrame:
    pop = g["population"].astype(float).to_numpy()
    est = g["estimated_ocu"].astype(float).to_numpy()
    treat = g["ocu_in_treatment"].astype(float).to_numpy()
    deaths = g["drug_deaths_5y"].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["ocu_rate"] = np.where(pop > 0, est / pop * 1000, np.nan)
        g["ocu_rate_lower95"], g["ocu_rate_upper95"] = \
            _safe(stats.rate_ci, est, pop, multiplier=1000)
        share = np.where(est > 0, treat / est, np.nan)
        g["treated_share"] = share * 100
        lower, upper = _safe(stats.wilson_ci, treat, est)
        g["treated_share_lower95"], g["treated_share_upper95"] = lower * 100, upper * 100
        g["unmet_need"] = 100 - g["treated_share"]
        g["unmet_need_lower95"] = 100 - g["treated_share_upper95"]
        g["unmet_need_upper95"] = 100 - g["treated_share_lower95"]
        years = pop * 5
        g["deaths_rate"] = np.where(years > 0, deaths / years * 100_000, np.nan)
        g["deaths_rate_lower95"], g["deaths_rate_upper95"] = \
            _safe(stats.rate_ci, deaths, years, multiplier=100_000)
    for measure, flags in MEASURE_FLAGS.items():
        mask = g[list(flags)].astype(bool).any(axis=1)
        g.loc[mask, [measure, f"{measure}_lower95", f"{measure}_upper95"]] = np.nan
    return g


# The counts a summary measure is built on: it is hidden when any of them is (a share of
# estimated users, or its complement, gives the count away when the estimate is shown).
SPLIT_FLAGS = ("estimated_ocu_hidden", "ocu_in_treatment_hidden", "not_in_treatment_hidden")
MEASURE_FLAGS = {"ocu_rate": ("estimated_ocu_hidden",), "treated_share": SPLIT_FLAGS,
                 "unmet_need": SPLIT_FLAGS, "deaths_rate": ("drug_deaths_5y_hidden",)}


def _safe(fn, num, den, **kwargs):
    """An interval function over arrays that may hold NaN or zero denominators."""
    num = np.asarray(num, float)
    den = np.asarray(den, float)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0) & (num >= 0)
    lower = np.full(len(num), np.nan)
    upper = np.full(len(num), np.nan)
    if ok.any():
        lo, hi = fn(num[ok], den[ok], **kwargs)
        lower[ok], upper[ok] = np.asarray(lo, float), np.asarray(hi, float)
    return lower, upper


SUMMARY_MEASURES = {
    "treated_share": ("In treatment per estimated user", "%"),
    "unmet_need": ("Unmet need", "%"),
    "ocu_rate": ("Estimated opiate and/or crack users", "per 1,000 residents"),
    "deaths_rate": ("Drug-related deaths", "per 100,000 residents a year"),
}


def summary_display(summary: pd.DataFrame, counts: bool = True) -> pd.DataFrame:
    """The urban/rural summary as a board paper prints it: counts with '*' where
    suppressed, measures with their 95% intervals. `counts=False`: without the count
    columns (England's table)."""
    def count_text(row, column):
        value = row[column]
        if pd.isna(value):
            return "-"
        return SUPPRESSED if row[f"{column}_hidden"] else f"{value:,.0f}"

    def measure_text(row, measure, decimals, suffix=""):
        value = row[measure]
        if pd.isna(value):
            return SUPPRESSED if any(row[f] for f in MEASURE_FLAGS[measure]) else "-"
        return (f"{value:,.{decimals}f}{suffix} ({row[f'{measure}_lower95']:,.{decimals}f} to "
                f"{row[f'{measure}_upper95']:,.{decimals}f})")

    rows = []
    for _, row in summary.iterrows():
        rows.append({
            "Rural-urban class": row["group_label"],
            "Small areas": f"{row['lsoas']:,.0f}",
            "Residents": f"{row['population']:,.0f}" if pd.notna(row["population"]) else "-",
            "Estimated users": count_text(row, "estimated_ocu"),
            "Users per 1,000 (95% CI)": measure_text(row, "ocu_rate", 1),
            "In treatment": count_text(row, "ocu_in_treatment"),
            "In treatment per estimated user (95% CI)": measure_text(row, "treated_share", 1,
                                                                     "%"),
            "Unmet need (95% CI)": measure_text(row, "unmet_need", 1, "%"),
            "Deaths, 5 years": count_text(row, "drug_deaths_5y"),
            "Deaths per 100,000 a year (95% CI)": measure_text(row, "deaths_rate", 1),
        })
    out = pd.DataFrame(rows)
    if not counts:
        out = out.drop(columns=["Estimated users", "In treatment", "Deaths, 5 years"])
    return out
