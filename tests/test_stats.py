"""Tests for metrics.stats against published or hand-worked reference values.

Each reference value says where it comes from. "By hand" means worked from the published
formula with a calculator (the working is in the comment), not by calling the module.
"""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import stats

approx = pytest.approx

# set.seed(123); rnorm(20) in R: the series NHSRplotthedots' own tests use
# (tests/testthat/test-ptd_spc_standard.R), with limits in its snapshot
# (tests/testthat/_snaps/ptd_spc_standard.md): mean 0.142, lpl -3.01, upl 3.29.
RNORM_20 = [-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499,
            0.46091621, -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383,
            0.40077145, 0.11068272, -0.55584113, 1.78691314, 0.49785048, -1.96661716,
            0.70135590, -0.47279141]


# --- Confidence levels ------------------------------------------------------------------

def test_fingertips_z_values_are_used_for_95_and_99_8():
    assert stats.z_for_confidence(0.95) == 1.959964
    assert stats.z_for_confidence(0.998) == 3.090232


def test_other_confidence_levels_use_the_normal_quantile():
    # 90% two-sided: z = 1.644854 (standard normal tables).
    assert stats.z_for_confidence(0.90) == approx(1.644854, abs=1e-6)


@pytest.mark.parametrize("bad", [0, 1, 95, -0.5])
def test_confidence_outside_zero_to_one_is_refused(bad):
    with pytest.raises(ValueError):
        stats.wilson_ci(1, 10, confidence=bad)


# --- Wilson score interval --------------------------------------------------------------

def test_wilson_95_matches_brief_reference():
    # BRIEF.md: 37/80 -> 0.3575 to 0.5710.
    lower, upper = stats.wilson_ci(37, 80)
    assert (round(lower, 4), round(upper, 4)) == (0.3575, 0.5710)


def test_wilson_zero_numerator_matches_brief_reference():
    # BRIEF.md: 0/10 -> 0 to 0.2775 (by hand: z^2 / (10 + z^2) = 3.8415 / 13.8415).
    lower, upper = stats.wilson_ci(0, 10)
    assert lower == 0.0
    assert round(upper, 4) == 0.2775


def test_wilson_99_8_worked_by_hand():
    # By hand, z = 3.090232, z^2 = 9.549534, x = 37, n = 80:
    # root = z * sqrt(z^2 + 4 * 37 * (1 - 37/80)) = 3.090232 * sqrt(89.099534) = 29.1695
    # lower = (74 + 9.549534 - 29.1695) / (2 * 89.549534) = 0.3036
    # upper = (74 + 9.549534 + 29.1695) / 179.099068 = 0.6294
    lower, upper = stats.wilson_ci(37, 80, confidence=0.998)
    assert lower == approx(0.30363, abs=5e-5)
    assert upper == approx(0.62937, abs=5e-5)


def test_wilson_numerator_equal_to_denominator_has_upper_one():
    # By symmetry with 0/10: 10/10 -> 1 - 0.2775 = 0.7225 to 1.
    lower, upper = stats.wilson_ci(10, 10)
    assert upper == 1.0
    assert round(lower, 4) == 0.7225


def test_wilson_missing_zero_denominator_negative_and_impossible_inputs_give_nan():
    lower, upper = stats.wilson_ci([np.nan, None, 3, -1, 11, 5], [10, 10, 0, 10, 10, 10])
    assert np.isnan(lower[:5]).all() and np.isnan(upper[:5]).all()
    assert np.isfinite(lower[5]) and np.isfinite(upper[5])


def test_wilson_scalar_gives_floats_and_series_gives_arrays():
    lower, upper = stats.wilson_ci(37, 80)
    assert type(lower) is float and type(upper) is float
    lower, upper = stats.wilson_ci(pd.Series([37, 0]), pd.Series([80, 10]))
    assert isinstance(lower, np.ndarray) and lower.shape == (2,)
    assert upper[1] == approx(0.27753, abs=5e-6)


def test_wilson_accepts_nullable_integer_series_with_suppressed_cells():
    lower, _ = stats.wilson_ci(pd.array([37, pd.NA], dtype="Int64"), 80)
    assert round(lower[0], 4) == 0.3575
    assert np.isnan(lower[1])


# --- Crude rates: Byar's and exact Poisson ---------------------------------------------

def test_rate_byars_matches_brief_reference():
    # BRIEF.md: 57 / 600,000 per 100,000 -> 7.195 to 12.309 (Byar's).
    lower, upper = stats.rate_ci(57, 600_000)
    assert (round(lower, 3), round(upper, 3)) == (7.195, 12.309)


def test_rate_exact_poisson_matches_brief_reference():
    # BRIEF.md: 4 / 250,000 per 100,000 -> 0.436 to 4.097 (exact Poisson).
    lower, upper = stats.rate_ci(4, 250_000)
    assert (round(lower, 3), round(upper, 3)) == (0.436, 4.097)


def test_a_count_of_exactly_ten_uses_byars():
    # By hand, Byar's (Breslow and Day 1987) for 10 events, z = 1.959964:
    # lower = 10 * (1 - 1/90 - z / (3 sqrt 10))^3 = 10 * 0.782291^3 = 4.7874
    # upper = 11 * (1 - 1/99 + z / (3 sqrt 11))^3 = 11 * 1.186883^3 = 18.3915
    # (exact Poisson would give 4.7954 to 18.3904, so the two are distinguishable).
    lower, upper = stats.rate_ci(10, 1, multiplier=1)
    assert lower == approx(4.7874, abs=1e-4)
    assert upper == approx(18.3915, abs=1e-4)


def test_a_count_of_nine_uses_exact_poisson():
    # Exact limits from chi-square tables: chi2(0.025, 18)/2 = 8.2307/2 = 4.1154,
    # chi2(0.975, 20)/2 = 34.1696/2 = 17.0848.
    lower, upper = stats.rate_ci(9, 1, multiplier=1)
    assert lower == approx(4.1154, abs=1e-4)
    assert upper == approx(17.0848, abs=1e-4)


def test_zero_count_has_lower_zero_and_closed_form_upper():
    # For 0 events the exact upper limit is -ln(alpha / 2): -ln(0.025) = 3.6889 at 95%,
    # -ln(0.001) = 6.9078 at 99.8%.
    assert stats.rate_ci(0, 1, multiplier=1) == approx((0.0, 3.688879), abs=1e-6)
    assert stats.rate_ci(0, 1, confidence=0.998, multiplier=1) == approx((0.0, 6.907755),
                                                                        abs=1e-6)


def test_rate_array_mixing_counts_above_and_below_ten_picks_each_method():
    # 5 events: chi2(0.025, 10)/2 = 1.6235, chi2(0.975, 12)/2 = 11.6684 (tables);
    # 10 events: Byar's, from the test above; 57 in 600,000: BRIEF.md's Byar's values.
    lower, upper = stats.rate_ci(np.array([5, 10, 57]), np.array([1, 1, 600_000]),
                                 multiplier=np.array([1, 1, 100_000]))
    assert lower == approx([1.6235, 4.7874, 7.195], abs=5e-4)
    assert upper == approx([11.6684, 18.3915, 12.309], abs=5e-4)


def test_rate_invalid_inputs_give_nan():
    lower, upper = stats.rate_ci([np.nan, 5, -1, 5], [1000, 0, 1000, np.nan])
    assert np.isnan(lower).all() and np.isnan(upper).all()


# --- Directly standardised rates (Dobson) -----------------------------------------------

# Three age bands worked by hand.
DSR_COUNTS = [10, 20, 30]
DSR_POPS = [10_000, 20_000, 15_000]
DSR_STANDARD = [30_000, 40_000, 30_000]


def test_directly_standardised_rate_worked_by_hand():
    # DSR = 1e5 / 100,000 * (10*3 + 20*2 + 30*2) = 130 per 100,000;
    # var = (1e5 / 100,000)^2 * (10*3^2 + 20*2^2 + 30*2^2) = 290 (per 100,000, squared).
    assert stats.directly_standardised_rate(DSR_COUNTS, DSR_POPS, DSR_STANDARD) == approx(
        (130.0, 290.0))


def test_dsr_ci_dobson_with_byars_worked_by_hand():
    # O = 60, Byar's 95% limits for 60: 45.7837 and 77.2334 (formula as above);
    # sqrt(290 / 60) = 2.198484; lower = 130 + 2.198484 * (45.7837 - 60) = 98.746,
    # upper = 130 + 2.198484 * (77.2334 - 60) = 167.887.
    lower, upper = stats.dsr_ci(60, 130.0, 290.0)
    assert lower == approx(98.746, abs=1e-3)
    assert upper == approx(167.887, abs=1e-3)


def test_dsr_ci_99_8_is_wider_than_95():
    # Byar's 99.8% limits for 60 (z = 3.090232) give 83.513 to 191.628 by the same steps.
    lower, upper = stats.dsr_ci(60, 130.0, 290.0, confidence=0.998)
    assert lower == approx(83.513, abs=1e-3)
    assert upper == approx(191.628, abs=1e-3)


def test_dsr_with_standard_proportional_to_local_population_equals_crude_rate():
    # If the standard population is the local one scaled, every weight is the same and
    # Dobson's interval reduces to the crude rate's Byar's interval.
    counts, pops = [12, 20, 25], [40_000, 50_000, 60_000]
    dsr, variance = stats.directly_standardised_rate(counts, pops, [4, 5, 6])
    assert dsr == approx(57 / 150_000 * 1e5)
    assert stats.dsr_ci(57, dsr, variance) == approx(stats.rate_ci(57, 150_000))


def test_dsr_below_ten_events_uses_exact_poisson_for_the_total():
    # Crude-equivalent DSR for 4 events in 250,000: Dobson then reproduces BRIEF.md's
    # exact Poisson interval, 0.436 to 4.097 per 100,000.
    dsr, variance = 1.6, (1e5 / 250_000) ** 2 * 4
    lower, upper = stats.dsr_ci(4, dsr, variance)
    assert (round(lower, 3), round(upper, 3)) == (0.436, 4.097)


def test_dsr_with_no_events_has_lower_zero_and_no_upper():
    lower, upper = stats.dsr_ci(0, 0.0, 0.0)
    assert lower == 0.0 and math.isnan(upper)


def test_dsr_with_a_missing_band_count_is_missing():
    dsr, variance = stats.directly_standardised_rate([10, None, 30], DSR_POPS, DSR_STANDARD)
    assert math.isnan(dsr) and math.isnan(variance)


def test_dsr_ci_accepts_arrays():
    lower, upper = stats.dsr_ci([60, np.nan], [130.0, 130.0], [290.0, 290.0])
    assert lower[0] == approx(98.746, abs=1e-3)
    assert np.isnan(lower[1]) and np.isnan(upper[1])


# --- Comparison with a benchmark --------------------------------------------------------

@pytest.mark.parametrize("benchmark, polarity, expected", [
    (12.0, "high", "similar"),          # inside the 95% interval
    (10.0, "high", "similar"),          # on the 95% limit counts as inside
    (9.5, "high", "better_95"),         # below the 95% interval, inside the 99.8%
    (8.0, "high", "better_998"),        # below the 99.8% interval too
    (14.5, "high", "worse_95"),
    (16.0, "high", "worse_998"),
    (9.5, "low", "worse_95"),
    (8.0, "low", "worse_998"),
    (16.0, "low", "better_998"),
    (9.5, "none", "higher_95"),
    (16.0, "none", "lower_998"),
    (14.5, "none", "lower_95"),
])
def test_fingertips_comparison_codes(benchmark, polarity, expected):
    # Area interval: 95% 10 to 14, 99.8% 9 to 15.
    assert stats.compare_with_benchmark(10, 14, 9, 15, benchmark, polarity) == expected


def test_comparison_is_not_made_when_a_needed_input_is_missing():
    assert stats.compare_with_benchmark(np.nan, 14, 9, 15, 12, "high") == "not_compared"
    assert stats.compare_with_benchmark(10, 14, 9, 15, None, "high") == "not_compared"
    # The 95% interval alone decides "similar".
    assert stats.compare_with_benchmark(10, 14, np.nan, np.nan, 12, "high") == "similar"


@pytest.mark.parametrize("benchmark, polarity, expected", [
    (8.0, "high", "better_95only"),
    (16.0, "high", "worse_95only"),
    (8.0, "low", "worse_95only"),
    (16.0, "low", "better_95only"),
    (8.0, "none", "higher_95only"),
    (16.0, "none", "lower_95only"),
])
def test_95_only_sources_are_compared_at_95_and_say_so(benchmark, polarity, expected):
    # ONS publishes 95% limits only: a significant difference used to read "Not compared".
    code = stats.compare_with_benchmark(10, 14, np.nan, np.nan, benchmark, polarity)
    assert code == expected
    assert stats.comparison_words(code).endswith("(compared at 95% only)")
    # The 99.8% limit on the far side does not matter; the near side's does.
    assert stats.compare_with_benchmark(10, 14, 9, np.nan, 8, "high") == "better_998"
    assert stats.compare_with_benchmark(10, 14, np.nan, 15, 8, "high") == "better_95only"


def test_comparison_of_arrays_returns_array_of_codes():
    codes = stats.compare_with_benchmark(pd.Series([10, 10, 10]), [14, 14, 14], [9, 9, 9],
                                         [15, 15, 15], [12, 8, 16], ["high", "low", "none"])
    assert isinstance(codes, np.ndarray)
    assert codes.tolist() == ["similar", "worse_998", "lower_998"]


def test_comparison_refuses_unknown_polarity():
    with pytest.raises(ValueError):
        stats.compare_with_benchmark(10, 14, 9, 15, 12, "up")


def test_every_comparison_code_has_board_words():
    assert set(stats.COMPARISON_WORDS) == {
        "better_998", "better_95", "similar", "worse_95", "worse_998", "higher_998",
        "higher_95", "lower_95", "lower_998", "not_compared", "better_95only",
        "worse_95only", "higher_95only", "lower_95only"}
    assert stats.COMPARISON_WORDS["better_998"] == "Significantly better (99.8%)"
    assert stats.COMPARISON_WORDS["lower_95"] == "Lower (95%)"


@pytest.mark.parametrize("code, words", [
    ("better_95", "Better than England (95% confidence)"),
    ("worse_998", "Worse than England (99.8% confidence)"),
    ("higher_95", "Higher than England (95% confidence)"),
    ("similar", "Similar to England"),
    ("not_compared", "Not compared with England"),
    ("worse_95only", "Worse than England (compared at 95% only)"),
])
def test_comparison_words_name_the_benchmark(code, words):
    assert stats.comparison_words(code) == words


def test_comparison_words_use_another_benchmark_name():
    assert stats.comparison_words("lower_998", "the South West") == \
        "Lower than the South West (99.8% confidence)"


# --- Recent trend -----------------------------------------------------------------------

def test_trend_threshold_is_fingertips_9_5495():
    assert round(stats.TREND_THRESHOLD, 4) == 9.5495


def test_proportion_trend_chi_square_worked_by_hand():
    # 10, 15, 20, 25, 30 out of 100 each, t = 1..5 (Armitage 1955 chi-square for trend):
    # N = 500, X = 100, sum(x t) = 350, sum(n t) = 1500, sum(n t^2) = 5500;
    # chi2 = 500 * (500*350 - 100*1500)^2 / (100 * 400 * (500*5500 - 1500^2))
    #      = 500 * 25000^2 / (40000 * 500000) = 15.625 > 9.5495: increasing.
    result = stats.recent_trend([10, 15, 20, 25, 30], [100] * 5, "proportion", "high")
    assert result["statistic"] == approx(15.625)
    assert result["code"] == "increasing"
    assert result["words"] == "Increasing and getting better"


@pytest.mark.parametrize("polarity, words", [
    ("low", "Increasing and getting worse"), ("none", "Increasing")])
def test_trend_words_follow_polarity(polarity, words):
    assert stats.recent_trend([10, 15, 20, 25, 30], [100] * 5, "proportion",
                              polarity)["words"] == words


def test_decreasing_proportion_with_lower_better_is_getting_better():
    result = stats.recent_trend([30, 25, 20, 15, 10], [100] * 5, "proportion", "low")
    assert result["code"] == "decreasing"
    assert result["words"] == "Decreasing and getting better"


def test_small_changes_are_no_significant_change():
    # By hand: sum(x t) = 10+24+33+52+60 = 179, X = 58, N = 500;
    # chi2 = 500 * (500*179 - 58*1500)^2 / (58 * 442 * 500000) = 3.125e9 / 1.2818e10
    #      = 0.2438.
    result = stats.recent_trend([10, 12, 11, 13, 12], [100] * 5)
    assert result["statistic"] == approx(0.2438, abs=1e-4)
    assert result["code"] == "no_significant_change"
    assert result["words"] == "No significant change"


def test_a_significant_trend_driven_by_one_point_is_not_a_trend():
    # By hand: X = 180, sum(x t) = 650, chi2 = 500 * 55000^2 / (180 * 320 * 500000) = 52.52,
    # but without the last year the series falls, so Fingertips' outlier check says
    # "no significant change".
    result = stats.recent_trend([30, 25, 20, 15, 90], [100] * 5, "proportion", "high")
    assert result["statistic"] == approx(52.517, abs=1e-3)
    assert result["code"] == "no_significant_change"


def test_trend_uses_only_the_five_most_recent_points():
    older_outlier = stats.recent_trend([99, 10, 15, 20, 25, 30], [100] * 6)
    assert older_outlier["statistic"] == approx(15.625)
    assert older_outlier["code"] == "increasing"


def test_trend_needs_five_points():
    result = stats.recent_trend([10, 15, 20, 25], [100] * 4)
    assert result["code"] == "cannot_be_calculated"
    assert result["words"] == "Cannot be calculated"
    assert math.isnan(result["statistic"])


def test_trend_cannot_be_calculated_with_fewer_than_five_valid_points():
    assert stats.recent_trend([10, np.nan, 20, 25, 30], [100] * 5)["code"] == \
        "cannot_be_calculated"
    assert stats.recent_trend([10, 15, 20, 25, 30], [100, 100, 0, 100, 100])["code"] == \
        "cannot_be_calculated"


def test_trend_skips_a_missing_period_as_fingertips_does():
    # Fingertips tests the five most recent *valid* points ("years don't need to be
    # consecutive"), numbered 1 to 5: a suppressed quarter is skipped, not counted, so
    # 10, 15, 20, 25, 30 are tested as in test_trend_uses_only_the_five_most_recent_points.
    result = stats.recent_trend([10, 15, np.nan, 20, 25, 30], [100] * 6, "proportion", "high")
    assert result["statistic"] == approx(15.625)
    assert result["code"] == "increasing"
    assert result["used"] == (0, 1, 3, 4, 5)
    # A point with no denominator is skipped the same way.
    assert stats.recent_trend([10, 15, 7, 20, 25, 30], [100, 100, 0, 100, 100, 100])[
        "used"] == (0, 1, 3, 4, 5)


def test_a_count_equal_to_its_denominator_cannot_be_calculated():
    # Fingertips' TrendRequest refuses a point whose count equals its denominator (the
    # logit of 100% is infinite): "The recent trend cannot be calculated".
    result = stats.recent_trend([96, 97, 98, 99, 100], [100] * 5, "proportion", "high")
    assert result["code"] == "cannot_be_calculated"
    assert result["reason"] == "a count equals its denominator"
    # Only the five points tested count: an older 100% does not matter.
    assert stats.recent_trend([100, 10, 15, 20, 25, 30], [100] * 6)["code"] == "increasing"


def test_a_missing_point_before_the_last_five_does_not_matter():
    assert stats.recent_trend([None, 10, 15, 20, 25, 30], [100] * 6)["code"] == "increasing"


def test_no_events_is_no_significant_change():
    # Fingertips: the chi-square is 0/0 with no events, which is not above the threshold,
    # so the marker stays "no significant change" (nothing has changed).
    result = stats.recent_trend([0] * 5, [100] * 5, "proportion", "low")
    assert result["code"] == "no_significant_change"
    assert result["words"] == "No significant change"
    assert stats.recent_trend([0] * 5, [50_000] * 5, "rate", "low")["code"] == \
        "no_significant_change"


def test_proportion_trend_starting_at_zero_percent_still_has_a_direction():
    # The logit of 0% is infinite, so the direction comes from the chi-square's score.
    result = stats.recent_trend([0, 5, 10, 15, 20], [100] * 5, "proportion", "high")
    assert result["code"] == "increasing"


def test_rate_trend_is_fingertips_weighted_regression():
    # Fingertips tests rates by weighted least squares of the rate on time, weights
    # 1/sigma^2 with sigma = (upper95 - lower95) / (2 * 1.959964), chi2 = (beta / se)^2.
    # Check against numpy's independent weighted polynomial fit.
    counts, pops = np.array([100, 118, 131, 160, 172]), np.full(5, 100_000.0)
    lower, upper = stats.rate_ci(counts, pops, multiplier=1)
    sigma = (upper - lower) / (2 * 1.959964)
    coef, cov = np.polyfit(np.arange(1, 6), counts / pops, 1, w=1 / sigma, cov="unscaled")
    result = stats.recent_trend(counts, pops, "rate", "low")
    assert result["statistic"] == approx(coef[0] ** 2 / cov[0, 0], rel=1e-9)
    assert result["code"] == "increasing"
    assert result["words"] == "Increasing and getting worse"


def test_flat_rates_show_no_significant_change():
    result = stats.recent_trend([100, 104, 97, 101, 99], [100_000] * 5, "rate", "low")
    assert result["code"] == "no_significant_change"


def test_trend_refuses_unknown_kind():
    with pytest.raises(ValueError):
        stats.recent_trend([1] * 5, [10] * 5, kind="ratio")


# --- Statistical process control --------------------------------------------------------

def test_spc_limits_match_nhsrplotthedots_snapshot():
    frame = stats.spc(RNORM_20)
    assert frame["mean"].iloc[0] == approx(0.142, abs=5e-4)
    assert frame["lower_limit"].iloc[0] == approx(-3.01, abs=5e-3)
    assert frame["upper_limit"].iloc[0] == approx(3.29, abs=5e-3)


def test_spc_returns_one_row_per_point_with_the_documented_columns():
    frame = stats.spc(pd.Series(RNORM_20, index=pd.period_range("2020-01", periods=20,
                                                                freq="M")))
    assert len(frame) == 20 and isinstance(frame.index, pd.PeriodIndex)
    for column in ("value", "mean", "lower_limit", "upper_limit", "lower_two_sigma",
                   "upper_two_sigma", "outside_limits", "in_run", "in_trend",
                   "two_of_three", "special_cause", "point_type", "too_few_points"):
        assert column in frame.columns


def test_spc_two_sigma_lines_are_two_thirds_of_the_limits():
    frame = stats.spc(RNORM_20)
    width = frame["upper_limit"].iloc[0] - frame["mean"].iloc[0]
    assert frame["upper_two_sigma"].iloc[0] - frame["mean"].iloc[0] == approx(width * 2 / 3)


def test_spc_screens_large_moving_ranges_as_nhsrplotthedots():
    # NHSRplotthedots' "Deviations from Excel defaults" vignette series. By hand: mean =
    # 35/18 = 1.9444; moving ranges 1,1,1,8,9 and twelve 1s, mean 32/17 = 1.882; 8 and 9
    # exceed 3.267 * 1.882 = 6.15 and are dropped, leaving a mean moving range of 1, so
    # the limits are 1.9444 -/+ 2.66 (the Excel tool, unscreened, gives -/+ 5.007).
    data = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
    frame = stats.spc(data)
    assert frame["mean"].iloc[0] == approx(1.9444, abs=1e-4)
    assert frame["upper_limit"].iloc[0] == approx(4.6044, abs=1e-4)
    assert frame["lower_limit"].iloc[0] == approx(-0.7156, abs=1e-4)


def test_spc_flags_the_point_outside_the_limits():
    data = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
    frame = stats.spc(data, improvement_direction="decrease")
    assert frame["outside_limits"].tolist() == [i == 4 for i in range(18)]
    assert frame["point_type"].iloc[4] == "special_cause_concern"
    assert (frame["point_type"].drop(index=4) == "common_cause").all()


def test_spc_flags_a_shift_of_seven_points_above_the_mean():
    # Baseline alternates 12, 8 (mean 10); then seven points at 13. Overall mean =
    # 211/19 = 11.11, so the baseline straddles the mean and only the last seven are a run.
    data = [12, 8] * 6 + [13] * 7
    frame = stats.spc(data)
    assert frame["in_run"].tolist() == [False] * 12 + [True] * 7
    assert not frame["outside_limits"].any() and not frame["in_trend"].any()
    assert (frame["point_type"].iloc[12:] == "special_cause_improvement").all()


def test_spc_six_points_above_the_mean_are_not_a_run():
    data = [12, 8] * 6 + [13] * 6
    assert not stats.spc(data)["in_run"].any()


def test_spc_flags_seven_rising_points_as_a_trend():
    # By hand: mean 33/9 = 3.667, mean moving range 13/8 = 1.625, limits -0.66 to 7.99:
    # nothing is outside and no side has 7 points, so only the rise 1..7 is special.
    frame = stats.spc([3, 1, 2, 3, 4, 5, 6, 7, 2])
    assert frame["in_trend"].tolist() == [False] + [True] * 7 + [False]
    assert frame["special_cause"].tolist() == frame["in_trend"].tolist()
    assert (frame["point_type"].iloc[1:8] == "special_cause_improvement").all()


def test_spc_a_falling_trend_is_concern_when_higher_is_better():
    frame = stats.spc([5, 9, 8, 7, 6, 5, 4, 3, 8], improvement_direction="increase")
    assert frame["in_trend"].iloc[1:8].all()
    assert (frame["point_type"].iloc[1:8] == "special_cause_concern").all()


def test_spc_flags_two_of_three_points_beyond_two_sigma():
    # Baseline alternates 9.5, 10.5; then 13, 11, 13. By hand: mean 157/15 = 10.467,
    # mean moving range 17.5/14 = 1.25, 2 sigma line 10.467 + 1.773*1.25 = 12.68, limit
    # 13.79. Both 13s lie between them and all three points are above the mean, so the
    # two 13s (not the 11) are flagged.
    frame = stats.spc([9.5, 10.5] * 6 + [13, 11, 13])
    assert frame["two_of_three"].tolist() == [False] * 12 + [True, False, True]
    assert not frame["outside_limits"].any()
    assert frame["point_type"].iloc[13] == "common_cause"


def test_spc_two_of_three_needs_all_three_points_on_one_side_of_the_mean():
    # Baseline as above, then 13.5, 9, 13.5. By hand: mean 156/15 = 10.4, mean moving
    # range 23/14 = 1.643, 2 sigma line 10.4 + 1.773*1.643 = 13.31, limit 14.77: both
    # 13.5s are beyond 2 sigma, but 9 is below the mean, so NHSRplotthedots does not flag.
    frame = stats.spc([9.5, 10.5] * 6 + [13.5, 9, 13.5])
    assert frame["value"].iloc[12] > frame["upper_two_sigma"].iloc[12]
    assert not frame["two_of_three"].any()


def test_spc_neutral_direction_gives_neutral_special_cause():
    frame = stats.spc([12, 8] * 6 + [13] * 7, improvement_direction="neutral")
    assert (frame["point_type"].iloc[12:] == "special_cause_neutral").all()


def test_spc_skips_missing_values_in_the_limits():
    # Moving ranges next to the gap are not formed: ranges are 2 and 2 (mean 2), not
    # 2, 0, 2 as bridging the gap would give; mean of observed values = 2.
    frame = stats.spc([1, 3, np.nan, 3, 1])
    assert frame["mean"].iloc[0] == 2.0
    assert frame["upper_limit"].iloc[0] == approx(2 + 2.66 * 2)
    assert pd.isna(frame["point_type"].iloc[2])
    assert not frame["special_cause"].iloc[2]


def test_spc_run_reads_through_a_suppressed_value():
    data = [12, 8] * 6 + [13, 13, 13, np.nan, 13, 13, 13, 13]
    frame = stats.spc(data)
    assert frame["in_run"].iloc[12:].tolist() == [True, True, True, False, True, True, True,
                                                  True]


def test_spc_with_one_point_has_no_limits_and_no_special_cause():
    frame = stats.spc([5.0])
    assert np.isnan(frame["upper_limit"].iloc[0]) and np.isnan(frame["lower_limit"].iloc[0])
    assert not frame["special_cause"].any()
    assert frame["point_type"].iloc[0] == "common_cause"


def test_spc_with_no_points_returns_an_empty_frame():
    assert stats.spc([]).empty


def test_spc_flags_fewer_than_twelve_points():
    assert stats.spc(RNORM_20[:11]).attrs["too_few_points"] is True
    assert stats.spc(RNORM_20[:11])["too_few_points"].all()
    assert stats.spc(RNORM_20[:12]).attrs["too_few_points"] is False


def test_spc_rebase_recalculates_limits_for_each_period():
    data = [12, 8] * 6 + [13, 14] * 4
    frame = stats.spc(data, rebase=[12])
    assert frame["mean"].iloc[0] == 10.0 and frame["mean"].iloc[12] == 13.5
    assert frame["rebase_group"].tolist() == [0] * 12 + [1] * 8
    assert not frame["in_run"].any()   # without the rebase, the last 8 are a run
    assert stats.spc(data)["in_run"].iloc[12:].all()
    assert frame["too_few_points"].tolist() == [False] * 12 + [True] * 8


def test_spc_rebase_by_index_label_for_a_series():
    series = pd.Series([12, 8] * 6 + [13, 14] * 4,
                       index=pd.period_range("2021Q1", periods=20, freq="Q"))
    frame = stats.spc(series, rebase=[pd.Period("2024Q1", freq="Q")])
    assert frame["rebase_group"].iloc[12] == 1 and frame["rebase_group"].iloc[11] == 0


# --- SPC icons (variation and assurance) ------------------------------------------------

def test_variation_icon_reads_the_latest_point():
    assert stats.spc_summary(stats.spc(RNORM_20))["variation"] == "common_cause"
    shifted = [12, 8] * 6 + [13] * 7
    assert stats.spc_summary(stats.spc(shifted))["variation"] == "improvement"
    assert stats.spc_summary(stats.spc(shifted, improvement_direction="decrease"))[
        "variation"] == "concern"
    assert stats.spc_summary(stats.spc(shifted, improvement_direction="neutral"))[
        "variation"] == "neither"


@pytest.mark.parametrize("target, direction, expected", [
    # Process limits -3.01 to 3.29 (NHSRplotthedots snapshot above).
    (-5.0, "increase", "consistently_passing"),   # target below the whole range
    (5.0, "increase", "consistently_failing"),    # target above the whole range
    (0.0, "increase", "hit_and_miss"),            # target inside the range
    (-5.0, "decrease", "consistently_failing"),
    (5.0, "decrease", "consistently_passing"),
])
def test_assurance_against_a_target(target, direction, expected):
    frame = stats.spc(RNORM_20, target=target, improvement_direction=direction)
    assert stats.spc_summary(frame)["assurance"] == expected


def test_assurance_needs_a_target_and_a_direction():
    assert stats.spc_summary(stats.spc(RNORM_20))["assurance"] is None
    neutral = stats.spc(RNORM_20, target=5.0, improvement_direction="neutral")
    assert stats.spc_summary(neutral)["assurance"] is None


def test_summary_target_can_be_given_later():
    frame = stats.spc(RNORM_20)
    assert stats.spc_summary(frame, target=5.0)["assurance"] == "consistently_failing"


# --- Funnel plots -----------------------------------------------------------------------

def test_funnel_proportion_limit_worked_from_spiegelhalter_interpolation():
    # Spiegelhalter (2005) Appendix A.1.1, n = 100, target 0.5, p = 0.025:
    # r_p = 40 (P(Y <= 39) = 0.017600 < 0.025 <= P(Y <= 40) = 0.028444),
    # alpha = (0.028444 - 0.025) / (0.028444 - 0.017600) = 0.3176,
    # lower limit = (40 - 0.3176) / 100 = 0.39682.
    # Upper, p = 0.975: r_p = 60 (P(Y <= 59) = 0.971556, P(Y <= 60) = 0.982400),
    # alpha = (0.982400 - 0.975) / 0.010844 = 0.6824, limit = (60 - 0.6824) / 100 = 0.59318.
    # (The interpolation spreads each count's probability over the unit below it, so
    # the limits are not symmetric about 0.5.)
    lower, upper = stats.funnel_limits(100, 0.5)
    assert lower == approx(0.39682, abs=1e-4)
    assert upper == approx(0.59318, abs=1e-4)


def test_funnel_limits_narrow_as_the_denominator_grows_and_contain_the_benchmark():
    denominators = np.array([50, 500, 5_000, 50_000])
    for kind, benchmark in (("proportion", 0.3), ("rate", 250.0)):
        lower, upper = stats.funnel_limits(denominators, benchmark, kind=kind)
        assert np.all(lower <= benchmark) and np.all(upper >= benchmark)
        assert np.all(np.diff(upper - lower) < 0)


def test_funnel_99_8_limits_lie_outside_the_95_limits():
    lower95, upper95 = stats.funnel_limits([200, 2_000], 0.3)
    lower998, upper998 = stats.funnel_limits([200, 2_000], 0.3, confidence=0.998)
    assert np.all(lower998 < lower95) and np.all(upper998 > upper95)


def test_funnel_proportion_limits_stay_between_zero_and_one():
    # n = 5, target 0.1: r_p = 0 and alpha = (0.59049 - 0.025) / 0.59049 = 0.958, so the
    # interpolated lower limit, -0.958 / 5, is negative and is cut to 0.
    lower, upper = stats.funnel_limits([5, 10], 0.1)
    assert lower[0] == 0.0 and np.all(upper <= 1)
    lower, upper = stats.funnel_limits([1, 5, 10], 0.9)
    assert np.all(lower >= 0) and np.all(upper <= 1)


def test_funnel_rate_limits_are_per_multiplier():
    # Poisson with mean 50 (50 per 100,000 in 100,000 people): the 95% limits are near
    # 50 -/+ 1.96 sqrt(50), i.e. about 36 and 64 per 100,000.
    lower, upper = stats.funnel_limits(100_000, 50.0, kind="rate")
    assert 35 < lower < 37.5 and 63 < upper < 65.5


def test_funnel_percentages_with_multiplier_100():
    assert stats.funnel_limits(100, 50.0, multiplier=100) == approx(
        tuple(v * 100 for v in stats.funnel_limits(100, 0.5)))


def test_funnel_missing_or_zero_denominator_gives_nan():
    lower, upper = stats.funnel_limits([np.nan, 0, 100], 0.5)
    assert np.isnan(lower[:2]).all() and np.isnan(upper[:2]).all()
    assert np.isfinite(lower[2])


# --- Properties -------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=1, max_value=1_000_000), data=st.data(),
       confidence=st.sampled_from([0.95, 0.998]))
def test_wilson_interval_contains_the_proportion_and_stays_in_zero_one(n, data, confidence):
    x = data.draw(st.integers(min_value=0, max_value=n))
    lower, upper = stats.wilson_ci(x, n, confidence=confidence)
    assert 0.0 <= lower <= x / n <= upper <= 1.0


@settings(max_examples=300, deadline=None)
@given(count=st.integers(min_value=0, max_value=1_000_000),
       denominator=st.floats(min_value=1.0, max_value=1e8),
       confidence=st.sampled_from([0.95, 0.998]))
def test_rate_interval_contains_the_rate_and_is_not_negative(count, denominator, confidence):
    lower, upper = stats.rate_ci(count, denominator, confidence=confidence)
    rate = count / denominator * 100_000
    assert 0.0 <= lower <= rate <= upper
    assert lower < upper


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=1, max_value=100_000), data=st.data())
def test_99_8_interval_contains_the_95_interval(n, data):
    x = data.draw(st.integers(min_value=0, max_value=n))
    lower95, upper95 = stats.wilson_ci(x, n)
    lower998, upper998 = stats.wilson_ci(x, n, confidence=0.998)
    assert lower998 <= lower95 and upper95 <= upper998


def test_summary_names_the_rules_that_mark_the_latest_and_last_special_point():
    shifted = [12, 8] * 6 + [13] * 7    # the last 7 points all above the mean of 11.1
    summary = stats.spc_summary(stats.spc(shifted))
    assert summary["latest_position"] == 18 and summary["latest_rules"] == ("in_run",)
    assert summary["latest_direction"] == "higher" and summary["special_points"] == 7
    common = stats.spc_summary(stats.spc(RNORM_20))
    assert common["latest_rules"] == () and common["special_points"] == 0
    assert common["last_special_position"] is None
    # A spike then ordinary points (mean exactly 12, so no run): the latest is common
    # cause, the spike is named.
    spike = stats.spc_summary(stats.spc([8, 12] * 6 + [40, 12, 8]))
    assert spike["variation"] == "common_cause" and spike["special_points"] == 1
    assert spike["last_special_position"] == 12
    assert spike["last_special_rules"] == ("outside_limits",)
    assert spike["last_special_variation"] == "improvement"


def test_poisson_counts_test_matches_exact_reference_values():
    # Worked by hand from Binomial(n, 0.5), as R's poisson.test(c(a, b)) gives:
    # 2 then 10 of 12: 2 x (1 + 12 + 66) / 4096 = 0.0385742...
    assert stats.poisson_counts_test(2, 10) == pytest.approx(158 / 4096)
    assert stats.poisson_counts_test(10, 2) == pytest.approx(158 / 4096)
    # 0 then 6: 2 / 64 = 0.03125 (significant); 0 then 5: 2 / 32 = 0.0625 (not).
    assert stats.poisson_counts_test(0, 6) == pytest.approx(0.03125)
    assert stats.poisson_counts_test(0, 5) == pytest.approx(0.0625)
    # 3 then 5 of 8: 2 x (1 + 8 + 28 + 56) / 256 = 0.7265625.
    assert stats.poisson_counts_test(3, 5) == pytest.approx(186 / 256)
    assert stats.poisson_counts_test(4, 4) == 1.0
    assert stats.poisson_counts_test(0, 0) == 1.0


@pytest.mark.parametrize("bad", [(None, 3), (float("nan"), 3), (-1, 3), (2.5, 3), ("x", 3)])
def test_poisson_counts_test_refuses_impossible_counts(bad):
    assert math.isnan(stats.poisson_counts_test(*bad))
