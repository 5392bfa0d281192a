from metrics import demo
from metrics.reference import catalogue
from metrics.reference.periods import KINDS


def test_at_least_twenty_metrics_cover_all_six_outcomes():
    assert len(catalogue.INDICATORS) >= 20
    assert {ind.outcome for ind in catalogue.INDICATORS} == set(catalogue.OUTCOMES)


def test_ids_are_unique_and_fields_valid():
    ids = [ind.id for ind in catalogue.INDICATORS]
    assert len(ids) == len(set(ids))
    for ind in catalogue.INDICATORS:
        assert ind.polarity in ("high", "low", "none"), ind.id
        assert ind.ci_method in ("wilson", "byars", "dsr", "none"), ind.id
        assert ind.period_kind in KINDS, ind.id
        assert ind.geography in catalogue.GEOGRAPHY_WORDS, ind.id
        assert ind.definition and ind.source and ind.frequency, ind.id
        assert (ind.unit == "%") == (ind.multiplier == 100), ind.id
        assert (ind.ci_method == "wilson") <= (ind.unit == "%"), ind.id


def test_board_tracked_metrics_are_present():
    # Seeds 003 and 004: what a local board tracks.
    for needed in ("adults_in_treatment", "young_people_in_treatment", "new_presentations",
                   "deaths_in_treatment", "residential_rehab", "inpatient_detox",
                   "continuity_of_care", "treatment_progress", "re_presentations",
                   "county_lines_closed", "ocg_disruptions", "neighbourhood_crime",
                   "drug_homicide"):
        assert needed in catalogue.BY_ID


def test_every_outcome_has_a_headline_metric_of_that_outcome():
    for outcome, indicator_id in catalogue.OUTCOME_HEADLINE.items():
        assert catalogue.get(indicator_id).outcome == outcome


def test_continuity_of_care_carries_its_target_name():
    assert catalogue.get("continuity_of_care").target == "continuity_of_care"


def test_every_metric_has_a_demonstration_recipe():
    assert set(demo.SPECS) == set(catalogue.BY_ID)
