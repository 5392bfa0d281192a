"""The demonstration dataset: deterministic, plausible, and labelled as demonstration.

Run `python -m metrics.demo` to (re)build it into the data directory; the app also builds
it on first start when nothing is published. Every figure is generated, not real, and the
published manifest says `"demo": true`, which every page shows as a banner.

How it is made:
- Areas are the real ones (data/reference/areas.csv): England, its 9 regions and the 153
  upper-tier areas of 2025, with police force areas where known. Each area's population
  is proportional to its count of 2011 LSOAs (about 1,720 residents each in 2021), so
  small areas (Isles of Scilly, City of London, Rutland) have small counts.
- Each area gets fixed latent factors from a seed derived from its code (need, and how
  well its services perform), so changing the list of areas never reshuffles the others.
- England's level for each metric follows anchors taken from the national figures in
  BRIEF.md (e.g. continuity of care 37.4% in 2021/22 rising to 53% in 2023/24); areas
  vary around it on the logit (proportions) or log (rates) scale, and counts are drawn
  from binomial or Poisson distributions, so intervals and small counts behave as in
  real data. Region and England rows are sums of their areas' numerators and
  denominators, so the figures add up.
- Continuity of care also gets breakdown rows (releasing prison, substance group, sex,
  age band, and the pathway from release to treatment) for every area and period, which
  add up exactly to the area totals; see generate_continuity_breakdowns.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from metrics import stats, store
from metrics.reference import catalogue, periods
from metrics.reference.catalogue import OTHER_PRISONS, PATHWAY_OUTCOMES
from metrics.settings import load_settings

SEED = 20211206  # From Harm to Hope was published on 6 December 2021.
RESIDENTS_PER_LSOA = 1_720
ENGLAND, REGION, UTLA, PFA = "country", "region", "utla", "pfa"

FIRST_FY, LAST_FY = 2019, 2026          # quarters 2019/20 Q1 ...
LAST_QUARTER = (2026, 1)                # ... to 2026/27 Q1
LAST_FULL_FY = 2025                     # annual data to 2025/26
POOLED_FIRST_YEARS = range(2017, 2024)  # "2017 - 19" ... "2023 - 25"
DSR_MINIMUM_EVENTS = stats.DSR_MIN_EVENTS
DSR_NOTE = stats.DSR_WITHHELD_NOTE


def _rng(*keys: str) -> np.random.Generator:
    """A generator seeded from the given keys, independent of call order."""
    digest = hashlib.sha256(("|".join((str(SEED),) + keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# --- Periods ---------------------------------------------------------------------------

def quarter_periods() -> list[periods.Period]:
    out = []
    for fy in range(FIRST_FY, LAST_FY + 1):
        for q in (1, 2, 3, 4):
            if (fy, q) <= LAST_QUARTER:
                out.append(periods.quarter(fy, q))
    return out


def rolling_periods() -> list[periods.Period]:
    return [periods.rolling_12m(*_fyq(p)) for p in quarter_periods()]


def _fyq(p: periods.Period) -> tuple[int, int]:
    return int(p.label[:4]), int(p.label[-1])


def fy_periods() -> list[periods.Period]:
    return [periods.financial_year(fy) for fy in range(FIRST_FY, LAST_FULL_FY + 1)]


def pooled_periods() -> list[periods.Period]:
    return [periods.pooled_3y(y) for y in POOLED_FIRST_YEARS]


def periods_for(kind: str) -> list[periods.Period]:
    return {"quarter": quarter_periods, "rolling_12m": rolling_periods,
            "financial_year": fy_periods, "pooled_3y": pooled_periods}[kind]()


def years_in_period(p: periods.Period) -> int:
    """Calendar years whose events and populations a period pools: 3 for "2023 - 25",
    else 1 (quarters and rolling 12 months are rates of the period's own events per
    resident, not per person-year)."""
    return 3 if p.kind == "pooled_3y" else 1


def time_of(p: periods.Period) -> float:
    """Mid-point of a period as a fractional year, for interpolating anchors."""
    mid = p.start + (p.end - p.start) / 2
    return mid.year + (mid.timetuple().tm_yday - 1) / 365.25


# --- What each metric looks like in England, and how areas vary ---------------------------

@dataclass(frozen=True)
class Spec:
    kind: str                  # "proportion", "rate" or "count"
    anchors: dict[float, float]  # fractional year -> England level on the display scale
    population: str            # which population the denominator scales with
    per_person: float = 0.0    # proportions: denominator per resident of `population`
    need: float = 0.0          # effect of the area's need factor (logit or log scale)
    performance: float = 0.0   # effect of the area's service performance factor
    spread: float = 0.15       # other fixed differences between areas
    scale: float = 1.0         # dsr: ratio of standardised to crude rate
    # Where England's published figures lie (see the anchor comments): every England value
    # the demonstration publishes, in every period, falls inside it.
    england_range: tuple[float, float] = (float("-inf"), float("inf"))


def _fy(year: int) -> float:
    """Anchor time for a financial year: its mid-point (October)."""
    return year + 0.79


# Each metric's anchor: where England's published figures lie (source, figure), and the
# range every England value of the demonstration must stay in (tests/test_demo.py checks
# it for every period). Levels are per period as the catalogue defines the metric: per
# quarter for quarterly rates and counts, per 12 months for rolling and annual ones, and
# 3 years' deaths over 3 years' populations for pooled ones (years_in_period).
SPECS: dict[str, Spec] = {
    # Crime
    # Anchor: ONS Crime in England and Wales, police recorded neighbourhood crime: about
    # 1 million offences a year before the pandemic (about 4.5 per 1,000 residents a
    # quarter), a sharp fall in 2020/21, partly recovered since.
    "neighbourhood_crime": Spec("rate", {2019.6: 4.9, 2020.5: 3.5, 2021.6: 3.9, 2023.5: 4.1,
                                          2026.5: 3.8}, "all", need=0.35, spread=0.2,
                                england_range=(3.0, 5.5)),
    # Anchor: Home Office Homicide Index: about 200-270 drug-related homicides a year in
    # England and Wales (about 4 to 4.6 per million residents), by police force area.
    "drug_homicide": Spec("rate", {_fy(2019): 4.6, _fy(2022): 4.4, _fy(2025): 4.2}, "all",
                          need=0.4, spread=0.2, england_range=(3.5, 5.5)),
    # Anchor: MoJ proven reoffending statistics: around 40% of offenders with a drug
    # misuse need reoffend within a year (all adult offenders: about 25%).
    "reoffending_drug_misusing": Spec("proportion", {2019.6: 42.0, 2026.5: 39.5}, "adults",
                                      per_person=0.0003, need=0.1, performance=-0.1,
                                      spread=0.12, england_range=(36.0, 45.0)),
    # Harm
    # Anchor: ONS / Fingertips 92432 deaths related to drug misuse, England, age-standardised
    # per 100,000, 3 years pooled: about 4.7 (2017 - 19) rising to about 5.9 (latest); about
    # 3,000-3,300 deaths a year, so a 3-year count near 9,000-10,000. Local rates run from
    # about 2 to over 15 (the North East and seaside towns highest); ONS shows no rate
    # (":") for the handful of areas with fewer than 10 deaths in 3 years (City of London,
    # Isles of Scilly, and at times Rutland).
    "drug_misuse_deaths": Spec("rate", {2018.5: 4.7, 2019.5: 5.0, 2020.5: 5.1, 2021.5: 5.2,
                                        2022.5: 5.5, 2023.5: 5.7, 2024.5: 5.9}, "all",
                               need=0.45, spread=0.2, scale=1.03,
                               england_range=(4.3, 6.3)),
    # Anchor: NHS Digital / OHID hospital admissions with a primary diagnosis of poisoning
    # by drugs: roughly 13,000-16,000 a year in England, mid-20s per 100,000, falling.
    "drug_poisoning_admissions": Spec("rate", {_fy(2019): 28.0, _fy(2025): 24.5}, "all",
                                      need=0.35, spread=0.25, england_range=(22.0, 31.0)),
    # Anchor: NDTMS adult statistics: about 3,000-3,500 deaths in treatment a year among
    # 270,000-310,000 adults in treatment (about 1.0% to 1.3%).
    "deaths_in_treatment": Spec("proportion", {_fy(2019): 1.05, _fy(2025): 1.3}, "adults",
                                per_person=0.0072, need=0.1, spread=0.15,
                                england_range=(0.9, 1.5)),
    # Use (CSEW: national only)
    # Anchor: ONS Crime Survey, drug misuse in England and Wales: 9.4% of adults 16-59 in
    # the year ending March 2020, between 8.8% and 9.5% since (BRIEF.md).
    "drug_use_16_59": Spec("proportion", {_fy(2019): 9.4, _fy(2020): 9.2, _fy(2021): 9.2,
                                          _fy(2022): 8.8, _fy(2023): 9.5, _fy(2024): 9.2,
                                          _fy(2025): 9.0}, "survey", per_person=18_000,
                           england_range=(8.3, 10.0)),
    # Anchor: same survey, 16-24 year olds: 21.0% in the year ending March 2020, about
    # 17.5-19% since.
    "drug_use_16_24": Spec("proportion", {_fy(2019): 21.0, _fy(2020): 19.2, _fy(2021): 18.6,
                                          _fy(2022): 17.6, _fy(2023): 18.6, _fy(2024): 18.0,
                                          _fy(2025): 17.7}, "survey", per_person=3_200,
                           england_range=(16.0, 22.5)),
    # Anchor: OHID opiate and crack cocaine use prevalence estimates: about 9 per 1,000
    # aged 15-64 in England (about 310,000 people), from under 5 to over 20 locally.
    "ocu_prevalence": Spec("rate", {_fy(2019): 9.0, _fy(2025): 9.2}, "age_15_64",
                           need=0.45, spread=0.2, england_range=(8.0, 10.5)),
    # Anchor: MHCLG H-CLIC: about 6% of households owed a duty have a drug dependency
    # support need.
    "homelessness_drug_need": Spec("proportion", {_fy(2019): 5.8, _fy(2025): 6.6}, "all",
                                   per_person=0.0054, need=0.25, spread=0.2,
                                   england_range=(5.0, 7.5)),
    # Anchor: DfE Characteristics of children in need: drug misuse (child, parent or other
    # adult) a factor in about 16-17% of assessments with factors recorded.
    "children_in_need_drugs": Spec("proportion", {_fy(2019): 16.5, _fy(2025): 17.2}, "under_18",
                                   per_person=0.016, need=0.2, spread=0.15,
                                   england_range=(15.0, 19.0)),
    # Supply (activity counts)
    # Anchor: Home Office County Lines Programme: over 1,000 lines closed a year since
    # 2019/20 (about 300 a quarter), rising to about 500 a quarter (counts per quarter).
    "county_lines_closed": Spec("count", {2019.6: 300, 2021.6: 420, 2023.6: 480, 2026.5: 500},
                                "all", need=0.3, performance=0.2, spread=0.3,
                                england_range=(240, 560)),
    # Anchor: police returns on organised crime group disruptions: several hundred to about
    # a thousand a quarter across England's forces (per quarter).
    "ocg_disruptions": Spec("count", {2019.6: 850, 2026.5: 950}, "all", need=0.2,
                            performance=0.2, spread=0.3, england_range=(780, 1_020)),
    # Anchor: Home Office Seizures of drugs in England and Wales: about 180,000-210,000
    # seizures a year ending March.
    "drug_seizures": Spec("count", {_fy(2019): 178_000, _fy(2022): 209_000,
                                    _fy(2025): 195_000}, "all", need=0.3, spread=0.25,
                          england_range=(170_000, 215_000)),
    # Engagement in treatment
    # Anchor: NDTMS adult statistics: 270,705 adults in treatment in 2019-20 and 310,863
    # in 2023-24 (about 600 to 700 per 100,000 adults, in 12 months).
    "adults_in_treatment": Spec("rate", {2019.6: 610, 2022.0: 640, 2023.6: 700, 2026.5: 745},
                                "adults", need=0.35, performance=0.1, spread=0.15,
                                england_range=(570.0, 790.0)),
    # Anchor: NDTMS young people's statistics: about 14,300 in 2019-20 falling to about
    # 11,000 in 2021-22, recovering since (about 90-120 per 100,000 under-18s, 12 months).
    "young_people_in_treatment": Spec("rate", {2019.6: 119, 2021.6: 92, 2023.6: 101,
                                               2026.5: 106}, "under_18", need=0.25,
                                      performance=0.15, spread=0.25,
                                      england_range=(85.0, 125.0)),
    # Anchor: BRIEF.md (NDTMS): 34.5% (2019-20), 38.1% (2020-21), 37.4% (2021-22), 43%
    # (2022-23), 53% (2023-24); later years are the demonstration's own continuation.
    # Regions 41-66% in 2023-24.
    "continuity_of_care": Spec("proportion", {_fy(2019): 34.5, _fy(2020): 38.1,
                                              _fy(2021): 37.4, _fy(2022): 43.0,
                                              _fy(2023): 53.0, _fy(2024): 57.0,
                                              _fy(2025): 60.0, 2026.8: 61.5},
                               "prison", per_person=1.0, performance=0.6, spread=0.45,
                               england_range=(30.0, 65.0)),
    # Anchor: NDTMS: about 130,000 adults start treatment a year (about 33,000 a quarter,
    # 70-85 per 100,000 adults in the quarter).
    "new_presentations": Spec("rate", {2019.6: 74, 2021.0: 68, 2026.5: 86}, "adults",
                              need=0.3, performance=0.1, spread=0.15,
                              england_range=(60.0, 95.0)),
    # Anchor: NDTMS: residential rehabilitation for about 1.5-2% of adults in treatment a
    # year, inpatient detoxification for about 2.5-3%.
    "residential_rehab": Spec("proportion", {2019.6: 1.6, 2026.5: 2.1}, "adults",
                              per_person=0.0068, performance=0.3, spread=0.35,
                              england_range=(1.3, 2.4)),
    "inpatient_detox": Spec("proportion", {2019.6: 2.6, 2026.5: 3.0}, "adults",
                            per_person=0.0068, performance=0.25, spread=0.3,
                            england_range=(2.2, 3.4)),
    # Anchor: OHID / Fingertips 93517 unmet need: about half of opiate and crack users and
    # about 80% of alcohol-dependent adults not in treatment.
    "unmet_need_ocu": Spec("proportion", {_fy(2019): 53.0, _fy(2025): 49.5}, "age_15_64",
                           per_person=0.009, need=0.1, performance=-0.3, spread=0.2,
                           england_range=(46.0, 56.0)),
    "unmet_need_alcohol": Spec("proportion", {_fy(2019): 82.0, _fy(2025): 79.5}, "adults",
                               per_person=0.0135, performance=-0.3, spread=0.2,
                               england_range=(76.0, 85.0)),
    # Recovery
    # Anchor: NDTMS treatment progress measure: just under half of assessable adults
    # showing substantial progress, rolling 12 months.
    "treatment_progress": Spec("proportion", {2019.6: 46.0, 2026.5: 48.5}, "adults",
                               per_person=0.0046, need=-0.1, performance=0.25, spread=0.15,
                               england_range=(43.0, 51.0)),
    # Anchor: Fingertips 90244 / 90245 successful completions without re-presentation:
    # about 5% of opiate and 30-35% of non-opiate clients, lowest in 2020-21.
    "completions_opiate": Spec("proportion", {2019.6: 5.2, 2021.0: 4.6, 2026.5: 5.3},
                               "adults", per_person=0.0029, need=-0.1, performance=0.3,
                               spread=0.25, england_range=(4.0, 6.3)),
    "completions_non_opiate": Spec("proportion", {2019.6: 33.0, 2021.0: 29.0, 2026.5: 31.0},
                                   "adults", per_person=0.0009, performance=0.3, spread=0.2,
                                   england_range=(26.0, 36.0)),
    # Anchor: NDTMS: about 8-9% of successful completions re-present within 6 months.
    "re_presentations": Spec("proportion", {2019.6: 8.5, 2026.5: 8.0}, "adults",
                             per_person=0.00045, need=0.1, performance=-0.2, spread=0.2,
                             england_range=(6.5, 10.0)),
    # Anchor: NDTMS exit outcomes: about 80-85% leave with no housing problem and about a
    # quarter in work, education or training.
    "stable_accommodation_exit": Spec("proportion", {2019.6: 82.0, 2026.5: 83.0}, "adults",
                                      per_person=0.00075, need=-0.15, performance=0.2,
                                      spread=0.15, england_range=(79.0, 86.0)),
    "work_or_education_exit": Spec("proportion", {2019.6: 25.0, 2026.5: 27.5}, "adults",
                                   per_person=0.00075, need=-0.2, performance=0.15,
                                   spread=0.2, england_range=(22.0, 31.0)),
}

# Share of residents in each population base (England-wide; denominators scale with it).
POPULATION_SHARES = {"all": 1.0, "adults": 0.79, "age_15_64": 0.63, "under_18": 0.21}
# Prison leavers with a treatment need per resident per quarter (about 36,000 a year).
PRISON_LEAVERS_PER_PERSON_QUARTER = 36_000 / 4 / 57_000_000


# --- Areas -----------------------------------------------------------------------------

def load_areas() -> pd.DataFrame:
    areas = pd.read_csv(store.REFERENCE_DIR / "areas.csv", dtype=str, keep_default_na=False)
    areas["lsoa11_count"] = areas["lsoa11_count"].astype(int)
    return areas


def area_factors(utlas: pd.DataFrame) -> pd.DataFrame:
    """Population and fixed latent factors per upper-tier area."""
    rows = []
    for code, lsoas in zip(utlas["area_code"], utlas["lsoa11_count"]):
        rng = _rng("area", code)
        rows.append({
            "area_code": code,
            "population": round(lsoas * RESIDENTS_PER_LSOA * rng.uniform(0.95, 1.05)),
            "need": rng.normal(),
            "performance": rng.normal(),
        })
    factors = pd.DataFrame(rows)
    # Need follows real geography too: London and the metropolitan boroughs are more urban.
    urban = utlas["area_code"].str[:3].isin(["E08", "E09"]).to_numpy()
    factors["need"] = 0.7 * factors["need"] + np.where(urban, 0.6, -0.2)
    return factors


# --- Generation ------------------------------------------------------------------------

def _logit(p):
    return np.log(p / (1 - p))


def _expit(x):
    return 1 / (1 + np.exp(-x))


def calibrated_probabilities(level: float, effects: np.ndarray,
                             weights: np.ndarray) -> np.ndarray:
    """Area probabilities expit(shift + effect), with the shift chosen so that their
    weighted mean is England's level: the anchors hold for England, not just on average."""
    def gap(shift: float) -> float:
        return float(np.average(_expit(shift + effects), weights=weights)) - level
    return _expit(brentq(gap, -30, 30, xtol=1e-10) + effects)


def _england_level(spec: Spec, p: periods.Period) -> float:
    times = sorted(spec.anchors)
    return float(np.interp(time_of(p), times, [spec.anchors[t] for t in times]))


def _area_effects(indicator_id: str, spec: Spec, factors: pd.DataFrame) -> np.ndarray:
    own = np.array([_rng("effect", indicator_id, c).normal() for c in factors["area_code"]])
    return spec.need * factors["need"] + spec.performance * factors["performance"] + \
        spec.spread * own


def _base_population(spec: Spec, factors: pd.DataFrame) -> np.ndarray:
    pop = factors["population"].to_numpy(float)
    return pop * POPULATION_SHARES.get(spec.population, 1.0)


def generate_area_rows(indicator_id: str, spec: Spec, factors: pd.DataFrame,
                       period_list: list[periods.Period]) -> pd.DataFrame:
    """Numerators and denominators for every upper-tier area and period."""
    effects = _area_effects(indicator_id, spec, factors).to_numpy()
    base = _base_population(spec, factors)
    frames = []
    for p in period_list:
        rng = _rng("values", indicator_id, p.label)
        level = _england_level(spec, p)
        wobble = rng.normal(0, 0.04, len(factors))  # period-to-period real change
        if spec.kind == "proportion":
            if spec.population == "prison":
                raise ValueError("continuity of care is generated by generate_continuity")
            expected_den = base * spec.per_person * np.exp(0.3 * factors["need"].to_numpy())
            denominator = rng.poisson(expected_den)
            prob = calibrated_probabilities(level / 100, effects + wobble, expected_den)
            numerator = rng.binomial(denominator, prob)
        else:
            multiplier = catalogue.get(indicator_id).multiplier
            # A pooled period's rate is its years' events over the sum of its years'
            # populations (ONS's 3-year pooled rates), so both hold every year it spans.
            denominator = np.round(base) * years_in_period(p)
            if spec.kind == "count":
                # England total spread over areas in proportion to population and need.
                weights = base * np.exp(effects + wobble)
                expected = level * weights / weights.sum()
                denominator = np.full(len(factors), np.nan)
            else:
                relative = np.exp(effects + wobble)
                relative = relative / np.average(relative, weights=base)  # England = level
                expected = level * relative * denominator / multiplier / spec.scale
            numerator = rng.poisson(expected)
        frames.append(pd.DataFrame({
            "area_code": factors["area_code"].to_numpy(), "period": p.label,
            "numerator": numerator.astype(float), "denominator": np.asarray(denominator, float),
        }))
    return pd.concat(frames, ignore_index=True)


def continuity_quarter_counts(factors: pd.DataFrame
                              ) -> tuple[list[periods.Period], np.ndarray, np.ndarray]:
    """Prison leavers with a treatment need, and those engaged within 3 weeks, per quarter
    (rows) and area (columns, in the order of `factors`), from three quarters before the
    first published quarter (needed to fill the first rolling window)."""
    spec = SPECS["continuity_of_care"]
    effects = _area_effects("continuity_of_care", spec, factors).to_numpy()
    base = factors["population"].to_numpy(float) * PRISON_LEAVERS_PER_PERSON_QUARTER
    base = base * np.exp(0.35 * factors["need"].to_numpy())
    quarters = [periods.quarter(2018, q) for q in (2, 3, 4)] + quarter_periods()
    engaged_rows, leaver_rows = [], []
    for p in quarters:
        rng = _rng("values", "continuity_of_care", p.label)
        level = _england_level(spec, p)
        leavers = rng.poisson(base)
        prob = calibrated_probabilities(level / 100,
                                        effects + rng.normal(0, 0.08, len(factors)), base)
        engaged_rows.append(rng.binomial(leavers, prob))
        leaver_rows.append(leavers)
    return quarters, np.array(engaged_rows), np.array(leaver_rows)


def generate_continuity(factors: pd.DataFrame, counts=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarterly prison leavers and engagements, and the rolling 12 months built from them.

    Rolling figures are sums of their four quarters, so quarter and rolling views agree.
    `counts`: continuity_quarter_counts(factors), if already made.
    """
    quarters, engaged, leavers = counts or continuity_quarter_counts(factors)
    frames = []
    for p, engaged_q, leavers_q in zip(quarters, engaged, leavers):
        frames.append(pd.DataFrame({"area_code": factors["area_code"], "period": p.label,
                                    "numerator": engaged_q.astype(float),
                                    "denominator": leavers_q.astype(float), "_end": p.end}))
    quarterly = pd.concat(frames, ignore_index=True).sort_values(["area_code", "_end"])
    rolled = quarterly.groupby("area_code")[["numerator", "denominator"]].rolling(4).sum()
    quarterly["r_num"] = rolled["numerator"].to_numpy()
    quarterly["r_den"] = rolled["denominator"].to_numpy()
    wanted = {p.label for p in quarter_periods()}
    kept = quarterly[quarterly["period"].isin(wanted)]
    rolling = pd.DataFrame({
        "area_code": kept["area_code"],
        "period": [f"12 months to {label}" for label in kept["period"]],
        "numerator": kept["r_num"], "denominator": kept["r_den"],
    })
    quarter_rows = kept[["area_code", "period", "numerator", "denominator"]]
    return quarter_rows.reset_index(drop=True), rolling.reset_index(drop=True)


# --- Continuity of care breakdowns ------------------------------------------------------
#
# Every area's prison leavers are split by releasing prison, substance group, sex, age
# band and pathway outcome. Each breakdown is a partition of the area's leavers, drawn so
# that its categories add up exactly to the area totals every quarter: engaged people
# and not-engaged people are each shared out over the categories (multinomial), with
# category shares and engagement odds that differ plausibly between categories. Rolling
# 12-month rows are sums of their four quarters, and regions and England are sums of
# their areas, like the totals. Prison names are real English prisons, chosen from the
# area's region (and one from a neighbouring region); their figures are generated.

# Prisons releasing into each region, with a rough relative volume of releases (local
# and resettlement prisons release far more people than high-security or open ones).
PRISONS: dict[str, tuple[tuple[str, float], ...]] = {
    "E12000001": (("HMP Durham", 3.0), ("HMP Holme House", 3.0), ("HMP Northumberland", 2.0),
                  ("HMP Low Newton", 0.7), ("HMP Kirklevington Grange", 0.8),
                  ("HMP Deerbolt", 0.5), ("HMP Frankland", 0.2)),
    "E12000002": (("HMP Manchester", 2.0), ("HMP Forest Bank", 3.0), ("HMP Altcourse", 3.0),
                  ("HMP Liverpool", 3.0), ("HMP Preston", 3.0), ("HMP Lancaster Farms", 1.5),
                  ("HMP Buckley Hall", 1.0), ("HMP Risley", 1.5), ("HMP Thorn Cross", 0.8),
                  ("HMP Kirkham", 0.8), ("HMP Haverigg", 1.0), ("HMP Styal", 0.8),
                  ("HMP Hindley", 0.8), ("HMP Wymott", 0.6)),
    "E12000003": (("HMP Leeds", 3.0), ("HMP Hull", 2.5), ("HMP Doncaster", 3.0),
                  ("HMP Moorland", 1.5), ("HMP Lindholme", 1.5), ("HMP Hatfield", 0.8),
                  ("HMP New Hall", 0.8), ("HMP Askham Grange", 0.3), ("HMP Wealstun", 1.0),
                  ("HMP Humber", 1.5), ("HMP Wakefield", 0.2), ("HMP Full Sutton", 0.2)),
    "E12000004": (("HMP Nottingham", 3.0), ("HMP Lincoln", 2.5), ("HMP Leicester", 2.5),
                  ("HMP Ranby", 1.5), ("HMP Lowdham Grange", 1.0), ("HMP Five Wells", 1.2),
                  ("HMP North Sea Camp", 0.6), ("HMP Foston Hall", 0.8), ("HMP Sudbury", 0.8),
                  ("HMP Stocken", 0.8), ("HMP Whatton", 0.3), ("HMP Gartree", 0.2)),
    "E12000005": (("HMP Birmingham", 3.0), ("HMP Hewell", 2.5), ("HMP Stoke Heath", 1.5),
                  ("HMP Oakwood", 2.0), ("HMP Featherstone", 1.0), ("HMP Drake Hall", 0.8),
                  ("HMP Brinsford", 1.0), ("HMP Stafford", 0.6), ("HMP Swinfen Hall", 0.6),
                  ("HMP Dovegate", 1.0), ("HMP Onley", 1.0), ("HMP Long Lartin", 0.2)),
    "E12000006": (("HMP Norwich", 3.0), ("HMP Peterborough", 3.0), ("HMP Chelmsford", 3.0),
                  ("HMP Bedford", 2.5), ("HMP The Mount", 1.0), ("HMP Highpoint", 1.5),
                  ("HMP Wayland", 1.0), ("HMP Hollesley Bay", 0.8), ("HMP Warren Hill", 0.6),
                  ("HMP Littlehey", 0.4), ("HMP Bure", 0.4), ("HMP Whitemoor", 0.2)),
    "E12000007": (("HMP Pentonville", 3.0), ("HMP Wandsworth", 3.0), ("HMP Thameside", 3.0),
                  ("HMP Wormwood Scrubs", 3.0), ("HMP Belmarsh", 1.5), ("HMP Brixton", 1.5),
                  ("HMP Isis", 1.0), ("HMP Bronzefield", 1.0), ("HMP Downview", 0.6),
                  ("HMYOI Feltham", 0.8)),
    "E12000008": (("HMP Lewes", 2.5), ("HMP Elmley", 3.0), ("HMP Winchester", 2.5),
                  ("HMP Bullingdon", 3.0), ("HMP Woodhill", 2.0), ("HMP High Down", 2.5),
                  ("HMP Rochester", 1.5), ("HMP Ford", 1.0), ("HMP Standford Hill", 0.8),
                  ("HMP Swaleside", 0.6), ("HMP Maidstone", 0.6), ("HMP Isle of Wight", 0.6),
                  ("HMP Coldingley", 0.6), ("HMP Aylesbury", 0.6), ("HMP Send", 0.5),
                  ("HMP Springhill", 0.6), ("HMP Huntercombe", 0.4),
                  ("HMP East Sutton Park", 0.3)),
    "E12000009": (("HMP Bristol", 3.0), ("HMP Exeter", 3.0), ("HMP Eastwood Park", 1.0),
                  ("HMP Leyhill", 1.0), ("HMP Channings Wood", 1.5), ("HMP Guys Marsh", 1.2),
                  ("HMP Erlestoke", 1.0), ("HMP Portland", 1.0), ("HMP The Verne", 0.4),
                  ("HMP Ashfield", 0.4)),
}
NEIGHBOUR_REGIONS = {
    "E12000001": ("E12000003", "E12000002"), "E12000002": ("E12000003", "E12000005"),
    "E12000003": ("E12000001", "E12000004"), "E12000004": ("E12000005", "E12000003"),
    "E12000005": ("E12000004", "E12000009"), "E12000006": ("E12000007", "E12000004"),
    "E12000007": ("E12000008", "E12000006"), "E12000008": ("E12000007", "E12000009"),
    "E12000009": ("E12000005", "E12000008"),
}
PRISONS_PER_AREA = 5          # from the area's own region, plus one from a neighbour

# breakdown -> (category, England share of prison leavers, engagement log-odds offset).
CONTINUITY_BREAKDOWNS: dict[str, tuple[tuple[str, float, float], ...]] = {
    # NDTMS substance groups: mutually exclusive, so they add up to the total.
    "substance": (("Opiate", 0.47, 0.30), ("Non-opiate only", 0.17, -0.30),
                  ("Non-opiate and alcohol", 0.16, -0.10), ("Alcohol only", 0.20, -0.45)),
    "sex": (("Male", 0.91, 0.0), ("Female", 0.09, 0.25)),
    "age": (("18-29", 0.27, -0.30), ("30-39", 0.36, 0.0), ("40-49", 0.24, 0.10),
            ("50+", 0.13, 0.05)),
}
# Pathway outcomes (metrics.reference.catalogue.PATHWAY_OUTCOMES) of everyone released with a
# need add up to the leavers; "Engaged within 3 weeks" is the measure's numerator. Stored
# with numerator = people with that outcome and denominator = all leavers with a need, so
# values are % of leavers. How the people not engaged within 3 weeks divide (engaged
# later, referred but not engaged, not referred), before area and time effects:
PATHWAY_NOT_ENGAGED_SHARES = (0.20, 0.42, 0.38)


WOMENS_PRISONS = {"HMP Low Newton", "HMP Styal", "HMP New Hall", "HMP Askham Grange",
                  "HMP Foston Hall", "HMP Drake Hall", "HMP Bronzefield", "HMP Downview",
                  "HMP Send", "HMP East Sutton Park", "HMP Eastwood Park"}


def _area_prisons(area_code: str, region_code: str) -> list[tuple[str, float]]:
    """(prison, share of the area's leavers) for the prisons that release most people
    into the area, then "Other prisons"; fixed per area. Women's prisons release few
    people (about 1 leaver in 12 is a woman), so at most one is listed, with a small share."""
    rng = _rng("prisons", area_code)
    own = PRISONS.get(region_code, ())
    neighbours = [item for region in NEIGHBOUR_REGIONS.get(region_code, ())
                  for item in PRISONS[region]]
    def ranked(prisons, women):
        drawn = [(name, size * rng.lognormal(0, 0.7)) for name, size in prisons]
        return sorted([item for item in drawn if (item[0] in WOMENS_PRISONS) == women],
                      key=lambda item: -item[1])
    chosen = ranked(own, False)[:PRISONS_PER_AREA]
    if neighbours:
        name, size = ranked(neighbours, False)[0]
        chosen.append((name, 0.35 * size))
    womens = ranked(own, True) or ranked(neighbours, True)
    other = rng.uniform(0.08, 0.2) if chosen else 1.0
    women_share = rng.uniform(0.04, 0.08) if womens and chosen else 0.0
    total = sum(w for _, w in chosen)
    shares = [(name, (1 - other - women_share) * w / total) for name, w in chosen]
    if women_share:
        shares.append((womens[0][0], women_share))
    return sorted(shares, key=lambda item: -item[1]) + [(OTHER_PRISONS, other)]


def _split(rng: np.random.Generator, engaged: np.ndarray, leavers: np.ndarray,
           shares: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share one quarter's engaged and not-engaged leavers of every area (rows) over
    categories (columns): category c gets share s_c of leavers and engagement odds
    shifted by offset_c, and the counts add up exactly to the area's."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(leavers > 0, engaged / np.maximum(leavers, 1), 0.5)
    rate = _expit(_logit(np.clip(rate, 0.02, 0.98))[:, None] + offsets)
    def normalised(w):
        w = np.where(shares > 0, w, 0.0)
        return w / w.sum(axis=1, keepdims=True)
    numerator = rng.multinomial(engaged, normalised(shares * rate))
    complement = rng.multinomial(leavers - engaged, normalised(shares * (1 - rate)))
    return numerator, numerator + complement


def _rolling_4(quarterly: np.ndarray) -> np.ndarray:
    """Sums of each quarter and the three before it, along the last axis."""
    total = np.cumsum(quarterly, axis=-1)
    out = total.copy()
    out[..., 4:] = total[..., 4:] - total[..., :-4]
    return out


def generate_continuity_breakdowns(factors: pd.DataFrame, utlas: pd.DataFrame,
                                   counts=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarter and rolling 12-month rows (area_code, period, breakdown, category,
    numerator, denominator) for every breakdown of continuity of care and every area."""
    quarters, engaged, leavers = counts or continuity_quarter_counts(factors)
    codes = factors["area_code"].to_numpy()
    regions = utlas.set_index("area_code").loc[codes, "region_code"].to_numpy()
    n_areas, n_quarters = len(codes), len(quarters)
    performance = factors["performance"].to_numpy()

    # Per breakdown: category names per area (n_areas x k), shares and odds offsets.
    layouts = {}
    prison_lists = [_area_prisons(c, r) for c, r in zip(codes, regions)]
    k = max(len(p) for p in prison_lists)
    names = np.full((n_areas, k), None, dtype=object)
    shares = np.zeros((n_areas, k))
    offsets = np.zeros((n_areas, k))
    for i, (code, prisons) in enumerate(zip(codes, prison_lists)):
        for j, (name, share) in enumerate(prisons):
            names[i, j], shares[i, j] = name, share
            offsets[i, j] = (0.0 if name == OTHER_PRISONS else
                             _rng("prison", name).normal(0, 0.3)) \
                + _rng("prison", name, code).normal(0, 0.1)
    layouts["prison"] = (names, shares, offsets)
    for breakdown, categories in CONTINUITY_BREAKDOWNS.items():
        rng = _rng("breakdown-layout", breakdown)
        base_share = np.array([s for _, s, _ in categories])
        base_odds = np.array([o for _, _, o in categories])
        variation = rng.normal(0, 0.15, (n_areas, len(categories)))
        if breakdown == "substance":   # more opiate use where need is higher
            variation[:, 0] += 0.15 * factors["need"].to_numpy()
        share = base_share * np.exp(variation)
        layouts[breakdown] = (
            np.tile(np.array([c for c, _, _ in categories], dtype=object), (n_areas, 1)),
            share / share.sum(axis=1, keepdims=True),
            base_odds + rng.normal(0, 0.12, (n_areas, len(categories))))

    frames_q, frames_r = [], []
    kept = slice(3, None)  # the first three quarters only fill the first rolling window
    labels_q = np.array([p.label for p in quarters[kept]])
    labels_r = np.array([f"12 months to {label}" for label in labels_q])

    def emit(breakdown, names, numerator, denominator):
        """numerator, denominator: n_areas x k x n_quarters."""
        for counts_, labels, frames in (
                ((numerator, denominator), labels_q, frames_q),
                ((_rolling_4(numerator), _rolling_4(denominator)), labels_r, frames_r)):
            num, den = (c[:, :, kept] for c in counts_)
            present = names != None  # noqa: E711 - elementwise test on an object array
            area_idx, cat_idx = np.nonzero(present)
            n_labels = len(labels)
            frames.append(pd.DataFrame({
                "area_code": np.repeat(codes[area_idx], n_labels),
                "period": np.tile(labels, len(area_idx)),
                "breakdown": breakdown,
                "category": np.repeat(names[area_idx, cat_idx], n_labels),
                "numerator": num[area_idx, cat_idx].ravel().astype(float),
                "denominator": den[area_idx, cat_idx].ravel().astype(float),
            }))

    for breakdown, (names, share, odds) in layouts.items():
        numerator = np.zeros(names.shape + (n_quarters,), dtype=np.int64)
        denominator = np.zeros_like(numerator)
        for t, p in enumerate(quarters):
            rng = _rng("breakdown", breakdown, p.label)
            drift = rng.normal(0, 0.1, odds.shape)
            numerator[:, :, t], denominator[:, :, t] = _split(
                rng, engaged[t], leavers[t], share, odds + drift)
        emit(breakdown, names, numerator, denominator)

    # Pathway: the not-engaged divide into engaged later, referred but not engaged, and
    # not referred; better-performing areas refer more, and referral improves over time.
    outcome = np.zeros((n_areas, len(PATHWAY_OUTCOMES), n_quarters), dtype=np.int64)
    base = np.array(PATHWAY_NOT_ENGAGED_SHARES)
    for t, p in enumerate(quarters):
        rng = _rng("breakdown", "pathway", p.label)
        year = time_of(p) - 2019
        weights = base * np.exp(np.column_stack([
            0.15 * performance, np.zeros(n_areas),
            -0.3 * performance - 0.06 * year]) + rng.normal(0, 0.1, (n_areas, 3)))
        weights /= weights.sum(axis=1, keepdims=True)
        outcome[:, 0, t] = engaged[t]
        outcome[:, 1:, t] = rng.multinomial(leavers[t] - engaged[t], weights)
    names = np.tile(np.array(PATHWAY_OUTCOMES, dtype=object), (n_areas, 1))
    everyone = np.repeat(outcome.sum(axis=1, keepdims=True), len(PATHWAY_OUTCOMES), axis=1)
    emit("pathway", names, outcome, everyone)
    return (pd.concat(frames_q, ignore_index=True), pd.concat(frames_r, ignore_index=True))


def generate_national_survey(indicator_id: str, spec: Spec) -> pd.DataFrame:
    rows = []
    for p in periods_for(catalogue.get(indicator_id).period_kind):
        rng = _rng("values", indicator_id, p.label)
        n = int(rng.normal(spec.per_person, spec.per_person * 0.03))
        rows.append({"area_code": "E92000001", "period": p.label,
                     "numerator": float(rng.binomial(n, _england_level(spec, p) / 100)),
                     "denominator": float(n)})
    return pd.DataFrame(rows)


def aggregate(rows: pd.DataFrame, areas: pd.DataFrame, level: str) -> pd.DataFrame:
    """Sum area numerators and denominators up to regions, force areas or England."""
    utlas = areas[areas["area_type"] == UTLA].set_index("area_code")
    if level == ENGLAND:
        parent = pd.Series("E92000001", index=utlas.index)
    else:
        parent = utlas["region_code" if level == REGION else "pfa_code"]
    merged = rows.assign(area_code=rows["area_code"].map(parent),
                         _den_missing=rows["denominator"].isna())
    merged = merged[merged["area_code"].astype(bool)]
    keys = ["area_code", "period"] + [c for c in ("breakdown", "category") if c in rows]
    return (merged.groupby(keys, as_index=False)
            .agg(numerator=("numerator", "sum"), denominator=("denominator", "sum"),
                 _den_missing=("_den_missing", "max")))


def add_values_and_intervals(rows: pd.DataFrame, indicator_id: str) -> pd.DataFrame:
    """Value and 95% / 99.8% intervals on the display scale, by the catalogue's method."""
    ind = catalogue.get(indicator_id)
    spec = SPECS[indicator_id]
    num, den = rows["numerator"].to_numpy(float), rows["denominator"].to_numpy(float)
    out = rows.copy()
    if ind.ci_method == "none":
        out["value"] = num
        for col in ("lower95", "upper95", "lower998", "upper998"):
            out[col] = np.nan
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        crude = np.where(den > 0, num / den * ind.multiplier, np.nan)
    if ind.ci_method == "wilson":
        out["value"] = crude
        for conf, suffix in ((0.95, "95"), (0.998, "998")):
            lower, upper = stats.wilson_ci(num, den, confidence=conf)
            out[f"lower{suffix}"] = np.asarray(lower) * 100
            out[f"upper{suffix}"] = np.asarray(upper) * 100
    elif ind.ci_method == "byars":
        out["value"] = crude
        for conf, suffix in ((0.95, "95"), (0.998, "998")):
            lower, upper = stats.rate_ci(num, den, confidence=conf, multiplier=ind.multiplier)
            out[f"lower{suffix}"], out[f"upper{suffix}"] = lower, upper
    elif ind.ci_method == "dsr":
        # Demonstration simplification: one standardisation factor per metric, so the
        # DSR's variance is the crude rate's scaled by that factor squared (Dobson).
        dsr = crude * spec.scale
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(num > 0, dsr ** 2 / num, np.nan)
        out["value"] = dsr
        for conf, suffix in ((0.95, "95"), (0.998, "998")):
            lower, upper = stats.dsr_ci(num, dsr, variance, confidence=conf)
            out[f"lower{suffix}"], out[f"upper{suffix}"] = lower, upper
        # Like Fingertips, publish no standardised rate on fewer than 10 events.
        too_few = num < DSR_MINIMUM_EVENTS
        out.loc[too_few, ["value", "lower95", "upper95", "lower998", "upper998"]] = np.nan
        out["value_note"] = np.where(too_few, DSR_NOTE, None)
    else:
        raise ValueError(f"{indicator_id}: unknown CI method {ind.ci_method}")
    return out


def _with_period_columns(rows: pd.DataFrame, indicator_id: str) -> pd.DataFrame:
    parsed = {label: periods.parse_period(label) for label in rows["period"].unique()}
    rows = rows.copy()
    rows.insert(0, "indicator_id", indicator_id)
    for column, attribute in (("period_kind", "kind"), ("period_start", "start"),
                              ("period_end", "end")):
        lookup = {label: getattr(p, attribute) for label, p in parsed.items()}
        rows[column] = rows["period"].map(lookup)
    for column in ("breakdown", "category"):   # area totals have none
        if column not in rows:
            rows[column] = None
    if "value_note" not in rows:
        rows["value_note"] = None
    # The demonstration's standardised rates are made with one standardisation factor per
    # metric, for which DSR^2 / count is Dobson's variance exactly: no interval here is
    # approximate.
    rows["ci_approximate"] = pd.array(np.zeros(len(rows), dtype=bool), dtype="boolean")
    return rows


def build_values(areas: pd.DataFrame) -> pd.DataFrame:
    utlas = areas[areas["area_type"] == UTLA].reset_index(drop=True)
    factors = area_factors(utlas)
    has_pfa = areas["area_type"].eq(PFA).any()
    frames = []
    generated: dict[str, pd.DataFrame] = {}     # each metric's area rows, as generated
    for ind in catalogue.INDICATORS:
        spec = SPECS[ind.id]
        if ind.geography == "national":
            published = [generate_national_survey(ind.id, spec)]
        else:
            if ind.id == "continuity_of_care":
                counts = continuity_quarter_counts(factors)
                groups = [*generate_continuity(factors, counts),
                          *generate_continuity_breakdowns(factors, utlas, counts)]
            elif ind.id == "unmet_need_ocu" and "ocu_prevalence" in generated:
                groups = [unmet_need_from_prevalence(generated["ocu_prevalence"], spec,
                                                     factors)]
            else:
                groups = [generate_area_rows(ind.id, spec, factors, periods_for(ind.period_kind))]
            generated[ind.id] = groups[0]
            published = []
            for local in groups:
                levels = [ENGLAND]
                if ind.geography == "utla":
                    published.append(local)
                    levels.append(REGION)
                elif has_pfa:
                    levels.append(PFA)
                for level in levels:
                    summed = aggregate(local, areas, level)
                    if ind.ci_method == "none":
                        summed["denominator"] = np.nan
                    published.append(summed.drop(columns="_den_missing"))
        rows = pd.concat(published, ignore_index=True)
        rows = add_values_and_intervals(rows, ind.id)
        frames.append(_with_period_columns(rows, ind.id))
    values = pd.concat(frames, ignore_index=True)
    return values[list(store.VALUES_COLUMNS)]


def unmet_need_from_prevalence(prevalence: pd.DataFrame, spec: Spec,
                               factors: pd.DataFrame) -> pd.DataFrame:
    """Unmet need among opiate and crack users, out of the same estimated users as the
    prevalence metric's (OHID's estimate is the denominator of both): one estimate of the
    area's users per year, whichever page shows it."""
    effects = _area_effects("unmet_need_ocu", spec, factors).to_numpy()
    frames = []
    for label, rows in prevalence.groupby("period", sort=False):
        rows = rows.set_index("area_code").loc[factors["area_code"]]
        users = rows["numerator"].to_numpy(float)
        rng = _rng("values", "unmet_need_ocu", label)
        level = _england_level(spec, periods.parse_period(label))
        prob = calibrated_probabilities(level / 100, effects + rng.normal(0, 0.04, len(users)),
                                        users)
        frames.append(pd.DataFrame({
            "area_code": factors["area_code"].to_numpy(), "period": label,
            "numerator": rng.binomial(users.astype(int), prob).astype(float),
            "denominator": users}))
    return pd.concat(frames, ignore_index=True)


def _shares(total: float, weights: np.ndarray) -> np.ndarray:
    """`total` split into whole numbers in proportion to `weights` (largest remainder), so
    the parts add up to it exactly."""
    exact = total * weights / weights.sum()
    parts = np.floor(exact)
    left = int(round(total - parts.sum()))
    parts[np.argsort(parts - exact)[:left]] += 1
    return parts


def _small_areas_add_up(need: pd.DataFrame, values: pd.DataFrame,
                        factors: pd.DataFrame) -> pd.DataFrame:
    """Small areas that add up to their area's published figures for the table's period:
    residents to the area's population (every rate's denominator), estimated users to the
    unmet-need metric's estimated users and those in treatment to its users in treatment.
    A board reading the Maps page and the treatment page then sees one figure, not two."""
    period = str(need["period"].iloc[0])
    published = values[(values["indicator_id"] == "unmet_need_ocu")
                        & (values["period"] == period)].set_index("area_code")
    out = need.copy()
    for code, rows in out.groupby("utla_code").groups.items():
        if code not in published.index or code not in factors.index:
            continue
        rng = _rng("lsoa-split", code)
        users, not_treated = published.loc[code, ["denominator", "numerator"]]
        out.loc[rows, "population"] = _shares(factors.loc[code, "population"],
                                              out.loc[rows, "population"].to_numpy(float))
        # Where users live follows the small-area model; their total is the area's.
        weights = out.loc[rows, "estimated_ocu"].to_numpy(float) + 0.5
        estimated = rng.multinomial(int(users), weights / weights.sum()).astype(float)
        # Who is in treatment: the area's number, drawn person by person with each small
        # area's own chance (rural users less often), never more than its users.
        odds = out.loc[rows, "ocu_in_treatment"].to_numpy(float) + 0.5
        odds = odds / (out.loc[rows, "estimated_ocu"].to_numpy(float) + 1.0)
        person = np.repeat(np.arange(len(rows)), estimated.astype(int))
        chosen = rng.choice(len(person), size=int(users - not_treated), replace=False,
                            p=odds[person] / odds[person].sum()) if len(person) else []
        out.loc[rows, "estimated_ocu"] = estimated
        out.loc[rows, "ocu_in_treatment"] = np.bincount(person[chosen], minlength=len(rows)
                                                        ).astype(float)
    return out


def build_lsoa_need(areas: pd.DataFrame, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Small-area need for every English LSOA: demonstration deprivation and rural-urban
    classes, estimated users and people in treatment. With the published `values`, the
    small areas add up to their area's figures (`_small_areas_add_up`)."""
    lsoas = pd.read_csv(store.REFERENCE_DIR / "lsoa11.csv", dtype={"lsoa11_code": str})
    utlas = areas[areas["area_type"] == UTLA]
    factors = area_factors(utlas.reset_index(drop=True)).set_index("area_code")
    rng = _rng("lsoa")
    n = len(lsoas)
    area_need = lsoas["utla_code"].map(factors["need"]).to_numpy()
    area_perf = lsoas["utla_code"].map(factors["performance"]).to_numpy()
    # Deprivation: area need plus strong local variation; decile 1 is most deprived.
    deprivation = 0.6 * area_need + rng.normal(0, 1, n)
    decile = 10 - np.clip((pd.Series(deprivation).rank(pct=True).to_numpy() * 10).astype(int),
                          0, 9)
    population = rng.normal(RESIDENTS_PER_LSOA, 250, n).clip(900, 3200).round()
    density_rank = pd.Series(0.8 * deprivation + 0.8 * area_need + rng.normal(0, 1, n)).rank(pct=True)
    ruc = np.select(
        [density_rank > 0.72, density_rank > 0.30, density_rank > 0.20, density_rank > 0.09],
        ["A1", "C1", "D1", "E1"], "F1")
    ruc = np.where(lsoas["utla_code"].str[:3].isin(["E09"]), "A1", ruc)
    ocu_rate = 3.0 + 1.6 * (10 - decile) + rng.gamma(2.0, 0.6, n)  # per 1,000 aged 15-64
    estimated_ocu = rng.poisson(population * 0.63 * ocu_rate / 1000)
    # Rural users are less often in treatment: distance to services.
    access = np.where(np.isin(ruc, ["A1", "C1"]), 0.0, -0.35)
    p_treat = _expit(_logit(0.48) + 0.25 * area_perf + access + rng.normal(0, 0.3, n))
    ocu_in_treatment = rng.binomial(estimated_ocu, p_treat)
    deaths = rng.poisson(population * (2.0 + 0.9 * (10 - decile)) / 100_000 * 5)
    need = pd.DataFrame({
        "lsoa11_code": lsoas["lsoa11_code"], "utla_code": lsoas["utla_code"],
        "ltla_code": lsoas["ltla_code"], "population": population,
        "imd_decile": decile.astype(int), "ruc11_class": ruc,
        "estimated_ocu": estimated_ocu.astype(float),
        "ocu_in_treatment": ocu_in_treatment.astype(float),
        "drug_deaths_5y": deaths.astype(float),
        "period": fy_periods()[-1].label, "demo": True,
    })
    return need if values is None else _small_areas_add_up(need, values, factors)


def build_demo(data_dir=None) -> store.Version:
    settings = load_settings()
    data_dir = data_dir or settings.data_dir
    areas = load_areas()
    values = build_values(areas)
    tables = {"values": values, "lsoa_need": build_lsoa_need(areas, values)}
    manifest = {"demo": True, "source": "Demonstration data (metrics.demo)",
                "loaded_by": "metrics.demo", "files": [], "seed": SEED}
    return store.publish(data_dir, tables, manifest)


def ensure_published(data_dir) -> str | None:
    """At start: build the demonstration set when nothing has been published yet (first
    start), and tidy what killed loads left behind. Returns what had to be repaired (also
    logged, and recorded in the publish log), else None.

    Demonstration data is never published where any version exists: a missing or broken
    published/CURRENT is written back from the publish log (store.repair_current), the
    real versions untouched. The publish lock serialises this between processes (two
    servers, or the app and a load), and the checks are repeated inside it."""
    if store.current_version_id(data_dir) is not None and \
            store.pointer_problem(data_dir) is None:
        # The usual start: only tidy up, and only if no load is publishing right now (its
        # own start tidies anyway); leftovers of live processes are never touched.
        with store.publish_lock(data_dir, wait=False) as held:
            if held:
                store.remove_interrupted(data_dir)
        return None
    with store.publish_lock(data_dir):
        store.remove_interrupted(data_dir)
        repaired = store.repair_current(data_dir)
        if repaired:
            return f"The published data's pointer was repaired at start-up: {repaired}."
        if store.current_version_id(data_dir) is None and not store.list_versions(data_dir):
            build_demo(data_dir)
    return None


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m metrics.demo",
        description="Build and publish the demonstration data set (invented figures for "
                    "every metric and area) as a new version. Refused where real data is "
                    "published.")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data directory (default: config.toml's data.dir, or "
                             "CDP_DATA_DIR)")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or load_settings().data_dir
    with store.publish_lock(data_dir):
        real = [v.id for v in store.list_versions(data_dir) if not v.is_demo]
        if real:
            # Invented figures are never published over a partnership's own data.
            print(f"Not published: {data_dir} holds real data ({', '.join(real[-3:])}). "
                  "Build the demonstration set in an empty folder (set CDP_DATA_DIR).",
                  file=sys.stderr)
            return 1
        version = build_demo(data_dir)
    print(f"Published demonstration data as {version.id} in {version.path} "
          f"({version.manifest['rows']['values']:,} values)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
