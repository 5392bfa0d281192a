"""The indicator catalogue: every metric the dashboard knows, as data.

One entry per metric is the single source of truth for its title, unit, polarity, source,
period and confidence-interval method. Pages, charts, the demonstration set and the
extract loader all read it; a new indicator is one new entry here.

Values are stored on their display scale: percentages as 0-100, rates per `multiplier`
people, counts as counts.
"""

from __future__ import annotations

from dataclasses import dataclass

OUTCOMES: dict[str, str] = {
    # id -> display name, in the order of the National Combating Drugs Outcomes Framework.
    "crime": "Reduce drug-related crime",
    "harm": "Reduce drug-related harm",
    "use": "Reduce drug use",
    "supply": "Reduce drug supply",
    "treatment": "Increase engagement in treatment",
    "recovery": "Improve recovery outcomes",
}
OUTCOME_SHORT: dict[str, str] = {
    "crime": "Crime", "harm": "Harm", "use": "Use", "supply": "Supply",
    "treatment": "Engagement in treatment", "recovery": "Recovery",
}

GEOGRAPHY_WORDS = {
    "utla": "local authority (partnership)",
    "pfa": "police force area",
    "national": "England only",
}


@dataclass(frozen=True)
class Indicator:
    id: str
    outcome: str                 # key of OUTCOMES
    title: str
    definition: str
    unit: str                    # "%", "per 1,000", "per 100,000" or "count"
    multiplier: int              # 100 for %, 1_000 / 100_000 for rates, 1 for counts
    polarity: str                # "high" (higher is better), "low", or "none"
    source: str
    frequency: str
    period_kind: str             # metrics.reference.periods kind of its headline periods
    geography: str               # "utla", "pfa" or "national": finest level published
    ci_method: str               # "wilson", "byars", "dsr" or "none"
    headline: bool = False       # a headline metric of the outcomes framework
    fingertips_id: int | None = None
    target: str | None = None    # name of a target in settings, e.g. "continuity_of_care"
    caveats: str = ""
    # Counts of people are suppressed when small; counts of police activity (lines
    # closed, seizures) identify nobody and are not.
    disclosive: bool = True

    @property
    def benchmarkable(self) -> bool:
        """Counts of activity are not compared with England: areas differ in size."""
        return self.ci_method != "none"


I = Indicator  # noqa: E741 - short alias keeps the table below readable

INDICATORS: tuple[Indicator, ...] = (
    # --- Crime -------------------------------------------------------------------------
    I("neighbourhood_crime", "crime", "Neighbourhood crime",
      "Police recorded domestic burglary, personal robbery, theft from the person and "
      "vehicle offences per 1,000 residents in the quarter.",
      "per 1,000", 1_000, "low", "Police recorded crime (Home Office)", "Quarterly",
      "quarter", "utla", "byars", headline=True,
      caveats="Recording practice differs between forces; compare trends with care."),
    I("drug_homicide", "crime", "Drug-related homicide",
      "Homicides where the victim or suspect was known to be involved in using or dealing "
      "illicit drugs, per 1,000,000 residents, year ending March.",
      "per 1,000,000", 1_000_000, "low", "Home Office Homicide Index", "Annual",
      "financial_year", "pfa", "byars", headline=True,
      caveats="Published by police force area; small counts are volatile."),
    I("reoffending_drug_misusing", "crime", "Proven reoffending: drug-misusing offenders",
      "Proportion of offenders with a drug-misuse need in the cohort who commit a proven "
      "reoffence within 12 months.",
      "%", 100, "low", "Ministry of Justice proven reoffending statistics", "Quarterly",
      "quarter", "utla", "wilson"),
    # --- Harm --------------------------------------------------------------------------
    I("drug_misuse_deaths", "harm", "Deaths related to drug misuse",
      "Age-standardised rate of deaths related to drug misuse per 100,000 residents, "
      "3 calendar years pooled, by year of registration.",
      "per 100,000", 100_000, "low", "ONS deaths related to drug poisoning", "Annual",
      "pooled_3y", "utla", "dsr", headline=True, fingertips_id=92432,
      caveats="Registration delays mean recent years are incomplete."),
    I("drug_poisoning_admissions", "harm", "Hospital admissions for drug poisoning",
      "Emergency hospital admissions with a primary diagnosis of poisoning by drugs, per "
      "100,000 residents.",
      "per 100,000", 100_000, "low", "Hospital Episode Statistics (NHS England)", "Annual",
      "financial_year", "utla", "byars", headline=True),
    I("deaths_in_treatment", "harm", "Deaths in treatment",
      "Adults who died while in structured drug and alcohol treatment, as a % of all adults "
      "in treatment in the year.",
      "%", 100, "low", "NDTMS", "Annual", "financial_year", "utla", "wilson"),
    # --- Use ---------------------------------------------------------------------------
    I("drug_use_16_59", "use", "Drug use in the last year: adults 16-59",
      "Adults aged 16 to 59 reporting use of any illicit drug in the last year.",
      "%", 100, "low", "Crime Survey for England and Wales (ONS)", "Annual",
      "financial_year", "national", "wilson", headline=True,
      caveats="Survey estimate for England and Wales; not available for local areas."),
    I("drug_use_16_24", "use", "Drug use in the last year: young people 16-24",
      "Young people aged 16 to 24 reporting use of any illicit drug in the last year.",
      "%", 100, "low", "Crime Survey for England and Wales (ONS)", "Annual",
      "financial_year", "national", "wilson", headline=True,
      caveats="Survey estimate for England and Wales; not available for local areas."),
    I("ocu_prevalence", "use", "Opiate and/or crack cocaine use (OCU) prevalence",
      "Estimated number of opiate and/or crack cocaine users per 1,000 residents aged "
      "15 to 64.",
      "per 1,000", 1_000, "low", "OHID prevalence estimates", "Periodic",
      "financial_year", "utla", "byars",
      caveats="Modelled estimate; intervals shown are Byar's on the estimate, narrower "
              "than the model's own."),
    I("homelessness_drug_need", "use", "Homelessness duty owed: drug dependency need",
      "Households owed a prevention or relief duty with a drug dependency support need, "
      "as a % of households owed a duty.",
      "%", 100, "low", "MHCLG homelessness statistics (H-CLIC)", "Annual",
      "financial_year", "utla", "wilson"),
    I("children_in_need_drugs", "use", "Children in need: drug misuse a factor",
      "Episodes of need where drug misuse by the child, parent or another adult was a "
      "factor at assessment, as a % of assessments with factors recorded.",
      "%", 100, "low", "DfE children in need census", "Annual", "financial_year", "utla",
      "wilson"),
    # --- Supply ------------------------------------------------------------------------
    I("county_lines_closed", "supply", "County lines closed",
      "County drug lines closed by police action in the quarter.",
      "count", 1, "high", "Home Office County Lines Programme", "Quarterly", "quarter",
      "pfa", "none", headline=True,
      caveats="Activity measure published by police force area; not compared between "
              "areas.",
      disclosive=False),
    I("ocg_disruptions", "supply", "Organised crime group disruptions",
      "Disruptions of organised crime groups involved in drug supply, in the quarter.",
      "count", 1, "high", "Police (force returns)", "Quarterly", "quarter", "pfa", "none",
      caveats="Activity measure; recording differs between forces.",
      disclosive=False),
    I("drug_seizures", "supply", "Drug seizures",
      "Police seizures of controlled drugs in the year ending March.",
      "count", 1, "high", "Home Office seizures of drugs", "Annual", "financial_year",
      "pfa", "none",
      caveats="Activity measure; more seizures can mean more supply as well as more "
              "enforcement.",
      disclosive=False),
    # --- Engagement in treatment ----------------------------------------------------------
    I("adults_in_treatment", "treatment", "Adults in treatment",
      "Adults (18+) in structured drug and alcohol treatment in the 12 months, per "
      "100,000 adults.",
      "per 100,000", 100_000, "high", "NDTMS", "Quarterly (rolling 12 months)",
      "rolling_12m", "utla", "byars", headline=True),
    I("young_people_in_treatment", "treatment", "Young people in treatment",
      "Under-18s in specialist substance misuse treatment in the 12 months, per 100,000 "
      "aged under 18.",
      "per 100,000", 100_000, "high", "NDTMS", "Quarterly (rolling 12 months)",
      "rolling_12m", "utla", "byars", headline=True),
    I("continuity_of_care", "treatment", "Continuity of care: prison to community",
      "Adults released from prison with a substance misuse treatment need who engaged in "
      "community structured treatment within 3 weeks of release, as a % of those released "
      "with a need, rolling 12 months.",
      "%", 100, "high", "NDTMS", "Quarterly (rolling 12 months)", "rolling_12m", "utla",
      "wilson", headline=True, target="continuity_of_care"),
    I("new_presentations", "treatment", "New presentations to treatment",
      "Adults starting a new episode of structured treatment in the quarter, per 100,000 "
      "adults.",
      "per 100,000", 100_000, "high", "NDTMS", "Quarterly", "quarter", "utla", "byars"),
    I("residential_rehab", "treatment", "Residential rehabilitation uptake",
      "Adults in treatment who received residential rehabilitation, as a % of adults in "
      "treatment, rolling 12 months.",
      "%", 100, "high", "NDTMS", "Quarterly (rolling 12 months)", "rolling_12m", "utla",
      "wilson"),
    I("inpatient_detox", "treatment", "Inpatient detoxification uptake",
      "Adults in treatment who received inpatient detoxification, as a % of adults in "
      "treatment, rolling 12 months.",
      "%", 100, "high", "NDTMS", "Quarterly (rolling 12 months)", "rolling_12m", "utla",
      "wilson"),
    I("unmet_need_ocu", "treatment", "Unmet need: opiate and/or crack users",
      "Estimated opiate and/or crack cocaine users not in treatment, as a % of the "
      "estimated number of users.",
      "%", 100, "low", "NDTMS and OHID prevalence estimates", "Annual", "financial_year",
      "utla", "wilson", fingertips_id=93517),
    I("unmet_need_alcohol", "treatment", "Unmet need: alcohol dependence",
      "Estimated alcohol-dependent adults not in treatment, as a % of the estimated number.",
      "%", 100, "low", "NDTMS and OHID prevalence estimates", "Annual", "financial_year",
      "utla", "wilson"),
    # --- Recovery ----------------------------------------------------------------------
    I("treatment_progress", "recovery", "Treatment progress measure",
      "Adults in community treatment showing substantial progress (completed, or still in "
      "treatment and abstinent from or substantially reducing their problem substances) as "
      "a % of those assessable, rolling 12 months.",
      "%", 100, "high", "NDTMS", "Quarterly (rolling 12 months)", "rolling_12m", "utla",
      "wilson", headline=True,
      caveats="New clients and those with missing data are excluded from the denominator."),
    I("completions_opiate", "recovery", "Successful completions: opiate",
      "Opiate clients who left treatment successfully and did not re-present within 6 "
      "months, as a % of opiate clients in treatment.",
      "%", 100, "high", "NDTMS", "Quarterly", "quarter", "utla", "wilson",
      fingertips_id=90244),
    I("completions_non_opiate", "recovery", "Successful completions: non-opiate",
      "Non-opiate clients who left treatment successfully and did not re-present within 6 "
      "months, as a % of non-opiate clients in treatment.",
      "%", 100, "high", "NDTMS", "Quarterly", "quarter", "utla", "wilson",
      fingertips_id=90245),
    I("re_presentations", "recovery", "Re-presentations within 6 months",
      "Adults who completed treatment successfully and re-presented within 6 months, as a "
      "% of successful completions.",
      "%", 100, "low", "NDTMS", "Quarterly", "quarter", "utla", "wilson"),
    I("stable_accommodation_exit", "recovery", "Stable accommodation at exit",
      "Adults leaving treatment with no housing problem, as a % of those leaving with "
      "housing status recorded.",
      "%", 100, "high", "NDTMS", "Quarterly", "quarter", "utla", "wilson"),
    I("work_or_education_exit", "recovery", "In work or education at exit",
      "Adults leaving treatment in paid work, education or training, as a % of those "
      "leaving with employment status recorded.",
      "%", 100, "high", "NDTMS", "Quarterly", "quarter", "utla", "wilson"),
)
del I

BY_ID: dict[str, Indicator] = {ind.id: ind for ind in INDICATORS}

# The card for each outcome on the overview shows this metric.
OUTCOME_HEADLINE: dict[str, str] = {
    "crime": "neighbourhood_crime",
    "harm": "drug_misuse_deaths",
    "use": "drug_use_16_59",
    "supply": "county_lines_closed",
    "treatment": "adults_in_treatment",
    "recovery": "treatment_progress",
}


# Names Fingertips gives catalogue metrics, as its exports write them. A Fingertips
# indicator whose id is not the catalogue's (a new or re-numbered indicator) lands on the
# catalogue metric when its name is one of these or the catalogue title.
FINGERTIPS_NAMES: dict[str, tuple[str, ...]] = {
    "drug_misuse_deaths": ("Deaths from drug misuse",),
    "completions_opiate": ("Successful completion of drug treatment - opiate users",),
    "completions_non_opiate": ("Successful completion of drug treatment - non-opiate "
                               "users",),
}


def get(indicator_id: str) -> Indicator:
    try:
        return BY_ID[indicator_id]
    except KeyError:
        raise KeyError(f"unknown indicator '{indicator_id}'") from None


def for_outcome(outcome: str) -> list[Indicator]:
    return [ind for ind in INDICATORS if ind.outcome == outcome]


# --- Continuity of care: the breakdowns' categories (NDTMS) --------------------

BREAKDOWNS = {"prison": "Releasing prison", "substance": "Substance group", "sex": "Sex",
              "age": "Age band"}
CATEGORY_ORDER = {
    # NDTMS adult substance groups: mutually exclusive, so they add up to the total.
    "substance": ("Opiate", "Non-opiate only", "Non-opiate and alcohol", "Alcohol only"),
    "sex": ("Male", "Female"),
    "age": ("18-29", "30-39", "40-49", "50+"),
}
OTHER_PRISONS = "Other prisons"
# The pathway breakdown: what happened to everyone released with a need (these add up to
# the leavers; numerator = people with the outcome, denominator = all leavers).
PATHWAY_OUTCOMES = ("Engaged within 3 weeks", "Engaged after 3 weeks",
                    "Referred, not engaged", "Not referred")
