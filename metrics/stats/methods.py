"""Statistics the dashboard's users already know from Fingertips, PHE/OHID tools and NHS
England's "Making Data Count".

Pure functions: numpy, scipy and pandas only, no Streamlit. Analysts check the dashboard
against Fingertips, the R package PHEindicatormethods and the R package NHSRplotthedots,
so each method below follows those tools and says where it comes from.

Conventions
-----------
* Confidence levels are proportions in (0, 1): 0.95 and 0.998 are the two the tools show.
  For those two, z is Fingertips' published 1.959964 and 3.090232; any other level uses
  the normal quantile from scipy.
* Interval functions accept scalars, lists, numpy arrays or pandas Series (broadcast
  together). Scalar input gives Python floats; anything else gives numpy arrays.
* An interval is NaN where an input is missing (NaN or None, e.g. a suppressed count),
  a denominator is zero or negative, or a count is negative. Wilson also returns NaN
  when the numerator exceeds the denominator.
* Proportions come back as proportions (0 to 1); the caller multiplies by 100 for display.
  Rates come back per ``multiplier`` (per 100,000 by default).
* Comparison and trend results are short codes (``"better_95"``, ``"increasing"`` ...);
  ``COMPARISON_WORDS``, ``comparison_words`` and ``TREND_WORDS`` turn them into plain
  British English for a board.

Methods
-------
* Proportions: Wilson score interval (Wilson 1927; Newcombe and Altman 2000), as
  Fingertips and PHEindicatormethods.
* Counts and crude rates: Byar's approximation for counts of 10 or more, exact Poisson
  (chi-square quantiles) below 10, as Fingertips.
* Directly standardised rates: Dobson et al. (1991) with the Byar's/exact limits of the
  total count, as PHEindicatormethods' phe_dsr / calculate_dsr.
* Benchmark comparison: the Fingertips rule (benchmark inside the 95% interval: similar;
  otherwise better/worse, or higher/lower, at 95% or, outside the 99.8% interval, 99.8%).
* Recent trend: Fingertips trend markers (five most recent valid points, chi-square > 9.5495
  on 1 df, then a check that no single point drives the direction), as implemented in
  PHEindicatormethods' assign_trend_markers.
* SPC: XmR chart with the "plot the dots" rules of NHSRplotthedots (ptd_spc).
* Funnel plots: exact binomial (proportions) or Poisson (rates) limits with the
  interpolation of Spiegelhalter (2005), Statistics in Medicine 24:1185-1202, Appendix A;
  each area placed against the limits at its own denominator (``funnel_position``); and,
  where areas vary more than chance allows, limits widened for overdispersion (section 5:
  a dispersion ratio from Winsorised z-scores, multiplicative or additive random effects),
  as the R package FunnelPlotR.

Deliberate differences from the official tools
----------------------------------------------
1. ``dsr_ci`` returns limits when the total count is below 10 (exact Poisson limits for
   the total, Dobson-scaled). Fingertips and PHEindicatormethods do not publish a DSR
   for fewer than 10 events: the dashboard must suppress those values itself. A total of
   0 gives a lower limit of 0 and an upper limit of NaN (Dobson's method needs at least
   one event).
2. ``directly_standardised_rate`` returns NaN when any age band's count is missing;
   PHEindicatormethods counts a missing band as zero events, which would understate the
   rate when the band was suppressed rather than empty.
3. Recent trend for rates: Fingertips tests non-proportions with a weighted regression
   of the values whose weights come from their 95% confidence limits. This module does
   exactly that, taking the limits from ``rate_ci`` (Byar's / exact Poisson, which is
   what Fingertips publishes for crude rates). It is not a Poisson score test. For
   proportions whose five values include 0% or 100% the logit slope Fingertips uses for
   the direction is infinite; the direction then comes from the sign of the
   chi-square's own score (the denominator-weighted slope of the proportions).
   Fingertips uses the chi-square test for proportions only for indicators it marks
   "SPC for proportions" and the weighted regression for other proportions; here every
   proportion uses the chi-square test. Directly standardised rates get no trend here
   (Fingertips tests them by the weighted regression of their published limits).
   As Fingertips: the five most recent valid points are tested (a missing period is
   skipped), a count equal to its denominator gives "cannot_be_calculated", and no
   events in the five points give "no_significant_change".
4. SPC:
   * Missing values are left out of the limits, as NHSRplotthedots does (the mean uses
     the observed points; a moving range next to a missing point is not formed). The
     run, trend and two-in-three rules then read the observed points in order, so a
     suppressed quarter neither breaks nor extends a run. Rows with a missing value have
     no flags and a missing (NaN) point type.
   * A series whose moving ranges are all zero keeps limits equal to the mean; the R
     package's outlier screening would remove every moving range and give no limits.
   * ``fix_after_n_points``, trajectories and facets are not offered.
   * Fewer than 12 points: NHSRplotthedots warns; here the ``too_few_points`` column
     (per rebased period) and ``frame.attrs["too_few_points"]`` say so, counting
     observed (non-missing) points.
   * Variation and assurance are read from the latest observed point and its limits.
5. Funnel plots: PHEindicatormethods' calculate_funnel_limits draws proportion funnels
   from a Wilson-score formula and rate funnels by inverting exact Poisson intervals
   around the expected count; at small denominators those differ slightly from the
   Spiegelhalter limits used here. Proportion denominators are rounded to whole numbers.
   Overdispersed limits use the normal approximation on the value's scale (Spiegelhalter
   2005, section 5), where FunnelPlotR transforms first (arcsine square root for
   proportions, log for ratios); its test compares I x phi with chi-square on I - 1
   degrees of freedom (England is pooled from the areas), and FunnelPlotR adjusts whenever
   tau^2 > 0 rather than testing.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

# The names other modules use (re-exported by the package).
__all__ = [
    "BYARS_MIN_COUNT", "COMPARISON_CODES", "COMPARISON_WORDS", "DSR_MIN_EVENTS",
    "DSR_WITHHELD_NOTE", "FUNNEL_OVERDISPERSION_P", "FUNNEL_POSITIONS",
    "IMPROVEMENT_DIRECTIONS", "POLARITIES", "SPC_LIMIT_FACTOR", "SPC_MIN_POINTS",
    "SPC_RUN_LENGTH", "SPC_SCREEN_FACTOR", "SPC_TWO_SIGMA_FACTOR", "TREND_POINTS",
    "TREND_THRESHOLD", "TREND_WORDS", "Z_95", "Z_998",
    "compare_with_benchmark", "comparison_words", "directly_standardised_rate", "dsr_ci",
    "funnel_comparison", "funnel_dispersion", "funnel_limits",
    "funnel_limits_overdispersed", "funnel_position", "funnel_position_words",
    "limits_from_95", "poisson_counts_test", "rate_ci", "recent_trend", "spc",
    "spc_summary", "wilson_ci", "z_for_confidence",
]

# ---------------------------------------------------------------------------------------
# Confidence levels
# ---------------------------------------------------------------------------------------

# Fingertips publishes its z values to six decimal places; using them (rather than the
# full-precision quantile) keeps our limits identical to theirs in the last digit.
Z_95 = 1.959964
Z_998 = 3.090232
_FINGERTIPS_Z = {0.95: Z_95, 0.998: Z_998}

# Byar's approximation is poor for small counts, so Fingertips switches to exact limits.
BYARS_MIN_COUNT = 10

# Like ONS (":" in its tables) and Fingertips, no directly standardised rate is published
# on fewer than 10 events: the count is kept and the rate withheld with this note. The
# demonstration set, the loader and the pages all use these two names.
DSR_MIN_EVENTS = 10
DSR_WITHHELD_NOTE = f"Rate not calculated: fewer than {DSR_MIN_EVENTS} events"


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be a proportion between 0 and 1, got {confidence}")
    return confidence


def z_for_confidence(confidence: float) -> float:
    """Two-sided normal z for a confidence level (Fingertips' constants for 95% and 99.8%)."""
    confidence = _check_confidence(confidence)
    for level, z in _FINGERTIPS_Z.items():
        if np.isclose(confidence, level, rtol=0.0, atol=1e-12):
            return z
    return float(sps.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


# ---------------------------------------------------------------------------------------
# Input handling shared by the vectorised functions
# ---------------------------------------------------------------------------------------

def _as_float_array(values: Any) -> np.ndarray:
    """Float array with NaN for None / pd.NA / NaN, whatever the container."""
    if isinstance(values, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        return values.to_numpy(dtype=float, na_value=np.nan)
    if values is None or values is pd.NA:
        return np.array(np.nan)
    array = np.asarray(values)
    if array.dtype == object:
        # Lists may hold None or pd.NA for suppressed cells.
        flat = [np.nan if v is None or v is pd.NA else v for v in array.ravel()]
        return np.asarray(flat, dtype=float).reshape(array.shape)
    return array.astype(float)


def _broadcast(*values: Any) -> tuple[bool, list[np.ndarray]]:
    """(all inputs scalar?, inputs as broadcast float arrays)."""
    arrays = [_as_float_array(v) for v in values]
    scalar = all(a.ndim == 0 for a in arrays)
    return scalar, [np.array(a, dtype=float) for a in np.broadcast_arrays(*arrays)]


def _out(scalar: bool, *arrays: np.ndarray) -> tuple:
    if scalar:
        return tuple(float(a) for a in arrays)
    return tuple(np.asarray(a, dtype=float) for a in arrays)


# ---------------------------------------------------------------------------------------
# Proportions: Wilson score interval
# ---------------------------------------------------------------------------------------

def wilson_ci(numerator: Any, denominator: Any, confidence: float = 0.95) -> tuple:
    """Wilson score interval for numerator / denominator, as proportions (0 to 1).

    Formula as Fingertips / PHEindicatormethods wilson_lower and wilson_upper:
    (2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2)).
    """
    z = z_for_confidence(confidence)
    scalar, (x, n) = _broadcast(numerator, denominator)
    valid = np.isfinite(x) & np.isfinite(n) & (n > 0) & (x >= 0) & (x <= n)
    xs, ns = np.where(valid, x, 0.0), np.where(valid, n, 1.0)
    root = z * np.sqrt(z * z + 4.0 * xs * (1.0 - xs / ns))
    lower = (2.0 * xs + z * z - root) / (2.0 * (ns + z * z))
    upper = (2.0 * xs + z * z + root) / (2.0 * (ns + z * z))
    # Pin the ends exactly: rounding can otherwise leave 1e-17 instead of 0 or 1.
    lower = np.where(xs == 0, 0.0, lower)
    upper = np.where(xs == ns, 1.0, upper)
    return _out(scalar, np.where(valid, lower, np.nan), np.where(valid, upper, np.nan))


# ---------------------------------------------------------------------------------------
# Counts and rates: Byar's / exact Poisson
# ---------------------------------------------------------------------------------------

def _byars_limits(count: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximation (Breslow and Day 1987), as PHEindicatormethods byars_lower/upper."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = count * (1.0 - 1.0 / (9.0 * count) - z / (3.0 * np.sqrt(count))) ** 3
        upper = (count + 1.0) * (1.0 - 1.0 / (9.0 * (count + 1.0))
                                 + z / (3.0 * np.sqrt(count + 1.0))) ** 3
    return lower, upper


def _exact_poisson_limits(count: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) Poisson limits from chi-square quantiles; a count of 0 has lower 0."""
    alpha = 1.0 - confidence
    # Chi-square with 0 degrees of freedom is undefined, so 0 events get their lower
    # limit of 0 directly; the placeholder degrees of freedom are never used.
    positive_df = np.where(count > 0, 2.0 * count, 1.0)
    with np.errstate(invalid="ignore"):
        lower = np.where(count > 0, sps.chi2.ppf(alpha / 2.0, positive_df) / 2.0, 0.0)
        upper = sps.chi2.ppf(1.0 - alpha / 2.0, 2.0 * count + 2.0) / 2.0
    return lower, upper


def _count_limits(count: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Limits for an observed Poisson count: Byar's from 10 events, exact below."""
    z = z_for_confidence(confidence)
    byars_lower, byars_upper = _byars_limits(count, z)
    exact_lower, exact_upper = _exact_poisson_limits(count, confidence)
    use_byars = count >= BYARS_MIN_COUNT
    lower = np.where(use_byars, byars_lower, exact_lower)
    upper = np.where(use_byars, byars_upper, exact_upper)
    invalid = ~np.isfinite(count) | (count < 0)
    return np.where(invalid, np.nan, lower), np.where(invalid, np.nan, upper)


def rate_ci(count: Any, denominator: Any, confidence: float = 0.95,
            multiplier: float = 100_000) -> tuple:
    """Confidence interval for a crude rate, count / denominator x multiplier.

    Byar's method for counts of 10 or more, exact Poisson below 10 (Fingertips).
    """
    confidence = _check_confidence(confidence)
    scalar, (x, n) = _broadcast(count, denominator)
    valid = np.isfinite(x) & np.isfinite(n) & (n > 0) & (x >= 0)
    lower, upper = _count_limits(np.where(valid, x, np.nan), confidence)
    scale = np.where(valid, multiplier / np.where(valid, n, 1.0), np.nan)
    return _out(scalar, lower * scale, upper * scale)


def poisson_counts_test(earlier: Any, later: Any) -> float:
    """Two-sided p-value for a change between two counts of events over equal periods.

    The exact conditional test for two Poisson rates: given both counts' total n, the later
    count is Binomial(n, 0.5) when the rates are equal (as R's poisson.test(c(a, b))).
    Used for activity counts, which have no interval of their own. NaN for a missing,
    negative or non-whole count; 1.0 when both counts are zero (nothing to test).
    """
    try:
        a, b = float(earlier), float(later)
    except (TypeError, ValueError):
        return float("nan")
    if not (np.isfinite(a) and np.isfinite(b)) or a < 0 or b < 0 \
            or a != round(a) or b != round(b):
        return float("nan")
    total = int(a) + int(b)
    if total == 0:
        return 1.0
    return float(sps.binomtest(int(b), total, 0.5, alternative="two-sided").pvalue)


# ---------------------------------------------------------------------------------------
# Directly standardised rates: Dobson's method
# ---------------------------------------------------------------------------------------

def directly_standardised_rate(counts: Any, populations: Any, standard_populations: Any,
                               multiplier: float = 100_000) -> tuple[float, float]:
    """Directly standardised rate and its variance for one area's age bands.

    DSR = multiplier / sum(std) x sum(count_i x std_i / pop_i);
    variance = (multiplier / sum(std))^2 x sum(count_i x (std_i / pop_i)^2),
    both as PHEindicatormethods calculate_dsr (variance on the rate's scale, squared).
    NaN if any band's count or population is missing, a population is not positive or a
    count is negative.
    """
    x = _as_float_array(counts).ravel()
    pop = _as_float_array(populations).ravel()
    std = _as_float_array(standard_populations).ravel()
    if not len(x) == len(pop) == len(std):
        raise ValueError("counts, populations and standard_populations need one value per age band")
    if len(x) == 0 or np.any(~np.isfinite(std)) or np.any(std < 0) or std.sum() <= 0:
        return float("nan"), float("nan")
    valid = np.all(np.isfinite(x) & np.isfinite(pop) & (pop > 0) & (x >= 0))
    if not valid:
        return float("nan"), float("nan")
    weight = std / pop
    scale = multiplier / std.sum()
    dsr = scale * np.sum(x * weight)
    variance = scale ** 2 * np.sum(x * weight ** 2)
    return float(dsr), float(variance)


def dsr_ci(observed_total: Any, dsr: Any, dsr_variance: Any, confidence: float = 0.95) -> tuple:
    """Dobson et al. (1991) interval for a directly standardised rate.

    lower/upper = DSR + sqrt(var(DSR) / O) x (O_lower/upper - O), where O is the total
    observed count and O_lower/upper its Byar's (10 or more) or exact Poisson limits.
    ``dsr`` and ``dsr_variance`` are on the same scale (e.g. per 100,000, squared).
    """
    confidence = _check_confidence(confidence)
    scalar, (total, rate, variance) = _broadcast(observed_total, dsr, dsr_variance)
    valid = (np.isfinite(total) & np.isfinite(rate) & np.isfinite(variance)
             & (total >= 0) & (variance >= 0))
    o_lower, o_upper = _count_limits(np.where(valid, total, np.nan), confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(variance / total)
        lower = rate + spread * (o_lower - total)
        upper = rate + spread * (o_upper - total)
    no_events = valid & (total == 0)
    lower = np.where(no_events, 0.0, lower)
    upper = np.where(no_events, np.nan, upper)
    return _out(scalar, np.where(valid, lower, np.nan), np.where(valid, upper, np.nan))


def limits_from_95(count: Any, value: Any, lower95: Any, upper95: Any,
                   confidence: float = 0.998) -> tuple:
    """Limits at another level for a rate (crude or directly standardised) whose source
    published its count and 95% limits only (ONS publishes no 99.8% limits).

    Dobson's method writes each limit as value + sqrt(var / O) x (O_limit - O), with O the
    count and O_limit its Byar's/exact Poisson limit; for a crude rate sqrt(var / O) is
    value / O, so the same form gives Byar's limits. The published 95% limits fix the
    spread on each side, (value - lower95) / (O - O_lower95) and
    (upper95 - value) / (O_upper95 - O), and the spread gives the limits at
    ``confidence``. Where the published limits are Dobson's (or Byar's) this returns
    exactly what the publisher would have published; otherwise it scales their own
    interval. NaN where the count is missing or 0, or a limit is missing.
    """
    confidence = _check_confidence(confidence)
    scalar, (o, rate, lo95, up95) = _broadcast(count, value, lower95, upper95)
    valid = (np.isfinite(o) & (o > 0) & np.isfinite(rate) & np.isfinite(lo95)
             & np.isfinite(up95))
    o_safe = np.where(valid, o, 1.0)
    o_lo95, o_up95 = _count_limits(o_safe, 0.95)
    o_lo, o_up = _count_limits(o_safe, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread_lo = (rate - lo95) / (o_safe - o_lo95)
        spread_up = (up95 - rate) / (o_up95 - o_safe)
        lower = rate - spread_lo * (o_safe - o_lo)
        upper = rate + spread_up * (o_up - o_safe)
    lower = np.where(valid, np.maximum(lower, 0.0), np.nan)
    upper = np.where(valid, upper, np.nan)
    return _out(scalar, lower, upper)


# ---------------------------------------------------------------------------------------
# Comparison with a benchmark (Fingertips)
# ---------------------------------------------------------------------------------------

POLARITIES = ("high", "low", "none")

COMPARISON_WORDS = {
    "better_998": "Significantly better (99.8%)",
    "better_95": "Better (95%)",
    "similar": "Similar",
    "worse_95": "Worse (95%)",
    "worse_998": "Significantly worse (99.8%)",
    "higher_998": "Significantly higher (99.8%)",
    "higher_95": "Higher (95%)",
    "lower_95": "Lower (95%)",
    "lower_998": "Significantly lower (99.8%)",
    # The source published 95% limits only and the 99.8% limits could not be worked out
    # (no count): the 95% verdict stands, and says it was the only test made.
    "better_95only": "Better (compared at 95% only)",
    "worse_95only": "Worse (compared at 95% only)",
    "higher_95only": "Higher (compared at 95% only)",
    "lower_95only": "Lower (compared at 95% only)",
    "not_compared": "Not compared",
}
COMPARISON_CODES = tuple(COMPARISON_WORDS)

# Which word goes with "the area's interval lies above / below the benchmark".
_DIRECTION_WORDS = {"high": ("better", "worse"), "low": ("worse", "better"),
                    "none": ("higher", "lower")}


def _check_polarity(polarity: Any) -> None:
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")


def compare_with_benchmark(lower95: Any, upper95: Any, lower998: Any, upper998: Any,
                           benchmark: Any, polarity: Any = "high") -> Any:
    """Fingertips' comparison of an area with a benchmark (e.g. England).

    Benchmark inside the area's 95% interval (limits included): "similar". Otherwise the
    area is better/worse (polarity "high" or "low") or higher/lower (polarity "none"),
    at the 99.8% level if the benchmark is also outside the 99.8% interval, else at 95%.
    When the 95% interval excludes the benchmark but the 99.8% limit on that side is
    missing (sources such as ONS publish 95% limits only), the code ends in "_95only"
    ("better_95only" ...): the 95% verdict, saying no 99.8% test was possible.
    "not_compared" when a 95% limit or the benchmark is missing.
    Scalars give a str; arrays or Series give a numpy array of str. ``polarity`` may be
    one value or one per item.
    """
    scalar, (lo95, up95, lo998, up998, bench) = _broadcast(
        lower95, upper95, lower998, upper998, benchmark)
    polarity_array = np.asarray(polarity, dtype=object)
    for value in set(polarity_array.ravel().tolist()):
        _check_polarity(value)
    scalar = scalar and polarity_array.ndim == 0
    shape = np.broadcast_shapes(lo95.shape, polarity_array.shape)
    lo95, up95, lo998, up998, bench = (np.broadcast_to(a, shape)
                                       for a in (lo95, up95, lo998, up998, bench))
    polarity_array = np.broadcast_to(polarity_array, shape)

    known = np.isfinite(lo95) & np.isfinite(up95) & np.isfinite(bench)
    similar = known & (lo95 <= bench) & (bench <= up95)
    above = known & (lo95 > bench)          # the whole 95% interval is above the benchmark
    below = known & (up95 < bench)
    above_998 = np.isfinite(lo998) & (lo998 > bench)
    below_998 = np.isfinite(up998) & (up998 < bench)
    # The 99.8% limit on the benchmark's side is only needed once the 95% test has failed;
    # without it the 95% verdict is kept and marked as the only test made.
    level_known = np.where(above, np.isfinite(lo998), np.where(below, np.isfinite(up998), True))

    codes = np.full(shape, "not_compared", dtype=object)
    codes[similar] = "similar"
    for pol, (up_word, down_word) in _DIRECTION_WORDS.items():
        this = polarity_array == pol
        for side, word, beyond in ((above, up_word, above_998), (below, down_word, below_998)):
            sel = this & side
            codes[sel] = np.where(~level_known[sel], f"{word}_95only",
                                  np.where(beyond[sel], f"{word}_998", f"{word}_95"))
    if scalar:
        return str(codes.reshape(()).item())
    return codes.astype(str)


def comparison_words(code: str, benchmark_name: str = "England") -> str:
    """Board wording for a comparison code, e.g. "Better than England (95% confidence)"."""
    if code not in COMPARISON_WORDS:
        raise ValueError(f"unknown comparison code {code!r}")
    if code == "similar":
        return f"Similar to {benchmark_name}"
    if code == "not_compared":
        return f"Not compared with {benchmark_name}"
    direction, level = code.split("_")
    if level == "95only":
        return f"{direction.capitalize()} than {benchmark_name} (compared at 95% only)"
    confidence = "99.8%" if level == "998" else "95%"
    return f"{direction.capitalize()} than {benchmark_name} ({confidence} confidence)"


# ---------------------------------------------------------------------------------------
# Recent trend (Fingertips trend markers)
# ---------------------------------------------------------------------------------------

TREND_POINTS = 5
# 99.8% point of chi-square on 1 degree of freedom: Fingertips' 9.5495.
TREND_THRESHOLD = float(sps.chi2.ppf(0.998, 1))

TREND_WORDS = {
    ("increasing", "high"): "Increasing and getting better",
    ("increasing", "low"): "Increasing and getting worse",
    ("decreasing", "high"): "Decreasing and getting worse",
    ("decreasing", "low"): "Decreasing and getting better",
    ("increasing", "none"): "Increasing",
    ("decreasing", "none"): "Decreasing",
    "no_significant_change": "No significant change",
    "cannot_be_calculated": "Cannot be calculated",
}


def _proportion_trend_chi2(x: np.ndarray, n: np.ndarray, t: np.ndarray) -> float:
    """Chi-square for linear trend in proportions (Armitage 1955), as Fingertips:
    N (N sum(x t) - X sum(n t))^2 / (X (N - X) (N sum(n t^2) - sum(n t)^2))."""
    big_n, big_x = n.sum(), x.sum()
    score = big_n * np.sum(x * t) - big_x * np.sum(n * t)
    spread = big_x * (big_n - big_x) * (big_n * np.sum(n * t * t) - np.sum(n * t) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(big_n * score ** 2 / spread)


def _ols_slope(y: np.ndarray, t: np.ndarray, weights: np.ndarray | None = None) -> float:
    """(Weighted) least-squares slope of y on t, centred for numerical stability."""
    w = np.ones_like(y) if weights is None else weights
    t_bar = np.sum(w * t) / np.sum(w)
    y_bar = np.sum(w * y) / np.sum(w)
    return float(np.sum(w * (t - t_bar) * (y - y_bar)) / np.sum(w * (t - t_bar) ** 2))


def _proportion_direction(x: np.ndarray, n: np.ndarray, t: np.ndarray) -> float:
    """Fingertips' direction: unweighted slope of logit(p) on time. With a 0% or 100%
    point the logit is infinite, so fall back to the sign of the Armitage score."""
    p = x / n
    if np.all((p > 0) & (p < 1)):
        return _ols_slope(np.log(p / (1 - p)), t)
    return float(n.sum() * np.sum(x * t) - x.sum() * np.sum(n * t))


def _rate_weights(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rates and their weights 1/sigma^2, sigma from the 95% interval as Fingertips does."""
    lower, upper = rate_ci(x, n, confidence=0.95, multiplier=1.0)
    sigma = (np.asarray(upper) - np.asarray(lower)) / (2.0 * Z_95)
    return x / n, 1.0 / sigma ** 2


def _rate_trend_chi2(x: np.ndarray, n: np.ndarray, t: np.ndarray) -> float:
    """Fingertips' test for non-proportions: weighted regression, chi-square = beta^2/var(beta)."""
    y, w = _rate_weights(x, n)
    s, s_t, s_tt = w.sum(), np.sum(w * t), np.sum(w * t * t)
    beta = _ols_slope(y, t, w)
    variance = s / (s * s_tt - s_t ** 2)
    return float(beta ** 2 / variance)


def _rate_direction(x: np.ndarray, n: np.ndarray, t: np.ndarray) -> float:
    y, w = _rate_weights(x, n)
    return _ols_slope(y, t, w)


def _trend_result(code: str, polarity: str, statistic: float, reason: str,
                  used: tuple[int, ...] = ()) -> dict:
    key = (code, polarity) if code in ("increasing", "decreasing") else code
    return {"code": code, "words": TREND_WORDS[key], "statistic": statistic, "reason": reason,
            "used": used}


def recent_trend(numerators: Any, denominators: Any, kind: str = "proportion",
                 polarity: str = "none") -> dict:
    """Fingertips recent trend from the five most recent valid points (oldest first).

    Returns {"code", "words", "statistic", "reason", "used"}: code is "increasing",
    "decreasing", "no_significant_change" or "cannot_be_calculated"; statistic is the
    chi-square (NaN when not calculated); used is the positions (0-based, in the input)
    of the five points tested. Proportions use the chi-square test for linear trend;
    rates use Fingertips' weighted regression with weights from the 95% limits.
    A significant result is still "no_significant_change" if leaving out any one point
    reverses the direction (Fingertips' outlier check). Points must be equally spaced,
    non-overlapping periods (not rolling ones): the caller's responsibility.

    Fingertips' own conventions (its TrendRequest and TrendMarkerCalculator):
    * a missing or invalid point (suppressed, no denominator) is skipped, not counted:
      the five most recent *valid* points are tested, numbered 1 to 5 in order whatever
      the gap between them ("years don't need to be consecutive");
    * a count equal to its denominator among them gives "cannot_be_calculated" (the
      logit of 100% is infinite);
    * no events in any of the five gives "no_significant_change": nothing has changed.
    """
    if kind not in ("proportion", "rate"):
        raise ValueError(f"kind must be 'proportion' or 'rate', got {kind!r}")
    _check_polarity(polarity)
    x = _as_float_array(numerators).ravel()
    n = _as_float_array(denominators).ravel()
    if len(x) != len(n):
        raise ValueError("numerators and denominators must be the same length")
    nan = float("nan")
    usable = np.isfinite(x) & np.isfinite(n) & (n > 0) & (x >= 0)
    if kind == "proportion":
        usable &= x <= n
    positions = np.flatnonzero(usable)
    if len(positions) < TREND_POINTS:
        reason = (f"fewer than {TREND_POINTS} points" if len(x) < TREND_POINTS else
                  f"fewer than {TREND_POINTS} points with a value")
        return _trend_result("cannot_be_calculated", polarity, nan, reason,
                             tuple(int(p) for p in positions))
    used = positions[-TREND_POINTS:]
    x, n = x[used], n[used]
    used = tuple(int(p) for p in used)
    if np.any(x == n):
        return _trend_result("cannot_be_calculated", polarity, nan,
                             "a count equals its denominator", used)

    t = np.arange(1.0, TREND_POINTS + 1.0)
    chi2_of, direction_of = ((_proportion_trend_chi2, _proportion_direction)
                             if kind == "proportion" else (_rate_trend_chi2, _rate_direction))
    if x.sum() == 0:
        # No events at all: the chi-square is 0/0, but nothing has changed.
        return _trend_result("no_significant_change", polarity, 0.0,
                             "no events in the five points", used)
    statistic = chi2_of(x, n, t)
    if not np.isfinite(statistic):
        return _trend_result("cannot_be_calculated", polarity, nan,
                             "no variation to test", used)
    if not statistic > TREND_THRESHOLD:
        return _trend_result("no_significant_change", polarity, statistic,
                             "chi-square not above the 99.8% threshold", used)
    beta = direction_of(x, n, t)
    for left_out in range(TREND_POINTS):
        keep = np.arange(TREND_POINTS) != left_out
        if np.sign(direction_of(x[keep], n[keep], t[keep])) != np.sign(beta):
            return _trend_result("no_significant_change", polarity, statistic,
                                 "direction depends on a single point", used)
    code = "decreasing" if beta < 0 else "increasing"
    return _trend_result(code, polarity, statistic, "significant trend", used)


# ---------------------------------------------------------------------------------------
# Statistical process control (Making Data Count / NHSRplotthedots)
# ---------------------------------------------------------------------------------------

SPC_LIMIT_FACTOR = 2.66                          # process limits: mean +/- 2.66 x mean MR
SPC_TWO_SIGMA_FACTOR = 2 * SPC_LIMIT_FACTOR / 3  # "close to the limits", as NHSRplotthedots
SPC_SCREEN_FACTOR = 3.267                        # moving ranges above 3.267 x mean MR dropped
SPC_MIN_POINTS = 12                              # fewer and NHSRplotthedots warns
SPC_RUN_LENGTH = 7
IMPROVEMENT_DIRECTIONS = {"increase": 1, "decrease": -1, "neutral": 0}


def _rebase_groups(values: Any, length: int, rebase: Iterable | None) -> np.ndarray:
    """Period number for each point; each rebase position starts a new period.

    Rebase entries are index labels when ``values`` is a pandas Series, otherwise
    0-based positions.
    """
    starts = np.zeros(length, dtype=int)
    for item in rebase or ():
        position = values.index.get_loc(item) if isinstance(values, pd.Series) else int(item)
        if not 0 <= position < length:
            raise ValueError(f"rebase position {item!r} is outside the series")
        if position > 0:
            starts[position] = 1
    return np.cumsum(starts)


def _xmr_limits(y: np.ndarray) -> tuple[float, float]:
    """Mean and screened mean moving range of one period (NaN values skipped)."""
    observed = np.isfinite(y)
    mean = float(np.mean(y[observed])) if observed.any() else float("nan")
    moving_ranges = np.abs(np.diff(y))
    moving_ranges = moving_ranges[np.isfinite(moving_ranges)]
    if len(moving_ranges) == 0:
        return mean, float("nan")
    average = float(moving_ranges.mean())
    if average > 0:
        # NHSRplotthedots keeps only moving ranges strictly below 3.267 x the average.
        average = float(moving_ranges[moving_ranges < SPC_SCREEN_FACTOR * average].mean())
    return mean, average


def _runs_of(flags: np.ndarray, length: int) -> np.ndarray:
    """Mark every point of each window of ``length`` points where flags[i] all hold."""
    marked = np.zeros(len(flags), dtype=bool)
    for end in range(length - 1, len(flags)):
        if flags[end - length + 1:end + 1].all():
            marked[end - length + 1:end + 1] = True
    return marked


def _special_causes(y: np.ndarray, mean: float, amr: float) -> dict[str, np.ndarray]:
    """The four plot-the-dots rules on consecutive observed points of one period."""
    upper, lower = mean + SPC_LIMIT_FACTOR * amr, mean - SPC_LIMIT_FACTOR * amr
    near_upper, near_lower = mean + SPC_TWO_SIGMA_FACTOR * amr, mean - SPC_TWO_SIGMA_FACTOR * amr
    side = np.sign(y - mean)
    outside = (y > upper) | (y < lower)
    close = ~outside & ((y > near_upper) | (y < near_lower))

    in_run = _runs_of(side > 0, SPC_RUN_LENGTH) | _runs_of(side < 0, SPC_RUN_LENGTH)

    steps = np.sign(np.diff(y))
    rising = _runs_of(steps > 0, SPC_RUN_LENGTH - 1)
    falling = _runs_of(steps < 0, SPC_RUN_LENGTH - 1)
    in_trend = np.zeros(len(y), dtype=bool)
    # A run of 6 rising steps covers 7 points: the steps' points and the one after.
    in_trend[:-1] |= rising | falling
    in_trend[1:] |= rising | falling

    # Two of three: in a window of 3 points all on one side of the mean, at least two lie
    # between 2 sigma and the limit; those points are flagged (points beyond the limits
    # are already special and do not count, as in NHSRplotthedots).
    two_of_three = np.zeros(len(y), dtype=bool)
    for start in range(len(y) - 2):
        window = slice(start, start + 3)
        if close[window].sum() >= 2 and abs(side[window].sum()) == 3:
            two_of_three[window] |= close[window]

    # Direction of each special cause, with NHSRplotthedots' precedence: outside the
    # limits, then trend (which way it runs), then two-in-three, then run (which side).
    step_before = np.concatenate([[0.0], steps])
    step_after = np.concatenate([steps, [0.0]])
    continues = np.concatenate([in_trend[1:], [False]])
    trend_direction = np.where(in_trend & continues, step_after, step_before)
    direction = np.where(outside, np.where(side == 1, 1, -1),
                         np.where(in_trend, np.where(trend_direction == 1, 1, -1),
                                  np.where(two_of_three | in_run, np.where(side > 0, 1, -1), 0)))
    special = outside | in_run | in_trend | two_of_three
    return {"outside_limits": outside, "in_run": in_run, "in_trend": in_trend,
            "two_of_three": two_of_three, "special_cause": special,
            "direction": np.where(special, direction, 0)}


def _point_type(direction: int, improvement: int) -> str:
    if direction == 0:
        return "common_cause"
    if improvement == 0:
        return "special_cause_neutral"
    return "special_cause_improvement" if direction == improvement else "special_cause_concern"


def spc(values: Any, target: float | None = None, improvement_direction: str = "increase",
        rebase: Sequence | None = None) -> pd.DataFrame:
    """XmR chart with NHS "Making Data Count" rules, as NHSRplotthedots' ptd_spc.

    One row per input point (same index as a Series input), columns: value, mean,
    lower_limit / upper_limit (mean -/+ 2.66 x mean moving range, after screening out
    moving ranges of 3.267 x the mean or more), lower_two_sigma / upper_two_sigma
    (mean -/+ 2/3 of that), outside_limits, in_run (7 or more points on one side of the
    mean), in_trend (7 or more points each higher, or each lower, than the last),
    two_of_three (2 of 3 points on one side beyond 2 sigma), special_cause,
    special_cause_direction ("higher", "lower"; missing for common cause), point_type
    ("common_cause", "special_cause_improvement", "special_cause_concern",
    "special_cause_neutral"; missing where the value is missing), rebase_group,
    too_few_points and target.

    ``rebase``: where new periods start (index labels for a Series, else positions);
    limits and rules are worked out separately in each period.
    ``frame.attrs`` records target, improvement_direction and too_few_points.
    """
    if improvement_direction not in IMPROVEMENT_DIRECTIONS:
        raise ValueError(f"improvement_direction must be one of {tuple(IMPROVEMENT_DIRECTIONS)}")
    improvement = IMPROVEMENT_DIRECTIONS[improvement_direction]
    y = _as_float_array(values).ravel()
    index = values.index if isinstance(values, pd.Series) else pd.RangeIndex(len(y))
    groups = _rebase_groups(values, len(y), rebase)

    n = len(y)
    columns: dict[str, Any] = {
        "value": y,
        **{name: np.full(n, np.nan) for name in
           ("mean", "lower_limit", "upper_limit", "lower_two_sigma", "upper_two_sigma")},
        **{name: np.zeros(n, dtype=bool) for name in
           ("outside_limits", "in_run", "in_trend", "two_of_three", "special_cause",
            "too_few_points")},
        "special_cause_direction": np.full(n, None, dtype=object),
        "point_type": np.full(n, None, dtype=object),
    }
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        mean, amr = _xmr_limits(y[rows])
        columns["mean"][rows] = mean
        columns["lower_limit"][rows] = mean - SPC_LIMIT_FACTOR * amr
        columns["upper_limit"][rows] = mean + SPC_LIMIT_FACTOR * amr
        columns["lower_two_sigma"][rows] = mean - SPC_TWO_SIGMA_FACTOR * amr
        columns["upper_two_sigma"][rows] = mean + SPC_TWO_SIGMA_FACTOR * amr
        observed = rows[np.isfinite(y[rows])]
        columns["too_few_points"][rows] = len(observed) < SPC_MIN_POINTS
        if len(observed) == 0:
            continue
        rules = _special_causes(y[observed], mean, amr)
        for name in ("outside_limits", "in_run", "in_trend", "two_of_three", "special_cause"):
            columns[name][observed] = rules[name]
        columns["special_cause_direction"][observed] = [
            {1: "higher", -1: "lower"}.get(int(d)) for d in rules["direction"]]
        columns["point_type"][observed] = [_point_type(int(d), improvement)
                                           for d in rules["direction"]]

    frame = pd.DataFrame(columns, index=index)
    # Text columns as pandas strings, so missing entries are consistently NaN.
    for name in ("special_cause_direction", "point_type"):
        frame[name] = frame[name].astype("str")
    frame["rebase_group"] = groups
    frame["target"] = np.nan if target is None else float(target)
    frame.attrs.update(target=target, improvement_direction=improvement_direction,
                       too_few_points=bool(frame["too_few_points"].any()))
    return frame


_VARIATION = {"common_cause": "common_cause", "special_cause_improvement": "improvement",
              "special_cause_concern": "concern", "special_cause_neutral": "neither"}


def spc_summary(spc_frame: pd.DataFrame, target: float | None = None,
                improvement_direction: str | None = None) -> dict:
    """Making Data Count icons for the latest point, as NHSRplotthedots' geom_ptd_icon.

    variation: "common_cause", "improvement", "concern" or "neither" (special cause with
    no preferred direction); None if the series has no values.
    assurance (None without a target, with a neutral direction, or without limits):
    "consistently_passing" when the target lies beyond the process limit on the bad side
    (so the whole range of expected values meets it), "consistently_failing" when beyond
    the limit on the good side, otherwise "hit_and_miss".
    ``target`` and ``improvement_direction`` default to those given to ``spc``.

    So words can say what the chart marks, it also gives, read from the same rule
    columns as the markers: latest_position (row of the latest observed point),
    latest_rules (the rules that mark it, in NHSRplotthedots' precedence; empty for
    common cause), latest_direction ("higher", "lower" or None), special_points (how many
    points are special cause) and last_special_position / last_special_rules /
    last_special_direction / last_special_variation for the most recent special cause
    point (None when there is none).
    """
    direction = improvement_direction or spc_frame.attrs.get("improvement_direction", "increase")
    if direction not in IMPROVEMENT_DIRECTIONS:
        raise ValueError(f"improvement_direction must be one of {tuple(IMPROVEMENT_DIRECTIONS)}")
    if target is None:
        target = spc_frame.attrs.get("target")
    observed = spc_frame[spc_frame["value"].notna()]
    if observed.empty:
        return {"variation": None, "assurance": None}
    latest = observed.iloc[-1]
    side = {"higher": 1, "lower": -1}.get(latest["special_cause_direction"], 0)
    variation = _VARIATION[_point_type(side, IMPROVEMENT_DIRECTIONS[direction])]
    positions = np.flatnonzero(spc_frame["value"].notna().to_numpy())
    special = np.flatnonzero(spc_frame["special_cause"].to_numpy(bool)
                             & spc_frame["value"].notna().to_numpy())
    last = special[-1] if len(special) else None
    last_side = (0 if last is None else
                 {"higher": 1, "lower": -1}.get(spc_frame["special_cause_direction"].iloc[last], 0))
    marks = dict(
        latest_position=int(positions[-1]), latest_rules=_rules_of(latest),
        latest_direction=None if side == 0 else latest["special_cause_direction"],
        special_points=int(len(special)),
        last_special_position=None if last is None else int(last),
        last_special_rules=() if last is None else _rules_of(spc_frame.iloc[last]),
        last_special_direction=None if last is None else
        spc_frame["special_cause_direction"].iloc[last],
        last_special_variation=None if last is None else
        _VARIATION[_point_type(last_side, IMPROVEMENT_DIRECTIONS[direction])])

    assurance = None
    lower, upper = latest["lower_limit"], latest["upper_limit"]
    if (target is not None and not pd.isna(target) and direction != "neutral"
            and np.isfinite(lower) and np.isfinite(upper)):
        increasing = direction == "increase"
        if target > upper:
            assurance = "consistently_failing" if increasing else "consistently_passing"
        elif target < lower:
            assurance = "consistently_passing" if increasing else "consistently_failing"
        else:
            assurance = "hit_and_miss"
    return {"variation": variation, "assurance": assurance, **marks}


SPC_RULES = ("outside_limits", "in_trend", "two_of_three", "in_run")   # precedence order


def _rules_of(row: pd.Series) -> tuple[str, ...]:
    return tuple(rule for rule in SPC_RULES if bool(row[rule]))


# ---------------------------------------------------------------------------------------
# Funnel plots (Spiegelhalter 2005)
# ---------------------------------------------------------------------------------------

def _interpolated_quantile(distribution: Any, p: float) -> np.ndarray:
    """Spiegelhalter's interpolated quantile r_p - alpha of a discrete distribution:
    r_p is the smallest r with P(Y <= r) >= p and
    alpha = (P(Y <= r_p) - p) / (P(Y <= r_p) - P(Y <= r_p - 1))."""
    r = distribution.ppf(p)
    at_r, below_r = distribution.cdf(r), distribution.cdf(r - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = (at_r - p) / (at_r - below_r)
    return r - alpha


def funnel_limits(denominators: Any, benchmark: float, kind: str = "proportion",
                  multiplier: float | None = None, confidence: float = 0.95) -> tuple:
    """Funnel plot control limits around ``benchmark`` for each denominator.

    Proportions: exact binomial limits; rates: exact Poisson limits; both with
    Spiegelhalter's (2005) interpolation, so the funnel is smooth. ``benchmark`` and the
    limits are on the value's scale: the proportion x multiplier (multiplier 1 by
    default, so 0 to 1) or the rate per multiplier (100,000 by default). Lower limits
    stop at 0 and proportion limits at 1 x multiplier. Use confidence 0.95 and 0.998 for
    the usual two funnels.
    """
    if kind not in ("proportion", "rate"):
        raise ValueError(f"kind must be 'proportion' or 'rate', got {kind!r}")
    confidence = _check_confidence(confidence)
    if multiplier is None:
        multiplier = 1.0 if kind == "proportion" else 100_000.0
    scalar, (n,) = _broadcast(denominators)
    theta = float(benchmark) / multiplier
    tail = (1.0 - confidence) / 2.0
    valid = np.isfinite(n) & (n > 0)
    n_safe = np.where(valid, n, 1.0)
    if kind == "proportion":
        if not 0.0 <= theta <= 1.0:
            raise ValueError("a proportion benchmark must lie between 0 and 1 x multiplier")
        n_safe = np.maximum(np.rint(n_safe), 1.0)
        distribution = sps.binom(n_safe, theta)
    else:
        if theta < 0:
            raise ValueError("a rate benchmark cannot be negative")
        distribution = sps.poisson(theta * n_safe)
    if theta == 0.0 or (kind == "proportion" and theta == 1.0):
        # Degenerate distribution: every area should sit exactly on the benchmark.
        lower = upper = np.full(n.shape, theta)
    else:
        lower = _interpolated_quantile(distribution, tail) / n_safe
        upper = _interpolated_quantile(distribution, 1.0 - tail) / n_safe
    lower = np.maximum(lower, 0.0)
    if kind == "proportion":
        upper = np.minimum(upper, 1.0)
    lower = np.where(valid, lower * multiplier, np.nan)
    upper = np.where(valid, upper * multiplier, np.nan)
    return _out(scalar, lower, upper)


# ---------------------------------------------------------------------------------------
# Where an area sits against the funnel, and funnels adjusted for overdispersion
# ---------------------------------------------------------------------------------------

FUNNEL_POSITIONS = ("below_998", "below_95", "inside_95", "above_95", "above_998")


def funnel_position(values: Any, lower95: Any, upper95: Any, lower998: Any,
                    upper998: Any) -> np.ndarray:
    """Where each value sits against the funnel limits at its own denominator.

    "inside_95" (on or within the 95% limits), "above_95" / "below_95" (beyond a 95%
    limit but not the 99.8% one), "above_998" / "below_998" (beyond a 99.8% limit), or
    "not_plotted" where the value or a 95% limit is missing. A funnel's dots are coloured
    by this, so a dot inside the lines drawn is never called different from England.
    """
    _, (y, lo95, up95, lo998, up998) = _broadcast(values, lower95, upper95, lower998,
                                                  upper998)
    known = np.isfinite(y) & np.isfinite(lo95) & np.isfinite(up95)
    codes = np.full(y.shape, "not_plotted", dtype=object)
    codes[known] = "inside_95"
    codes[known & (y > up95)] = "above_95"
    codes[known & (y < lo95)] = "below_95"
    codes[known & np.isfinite(up998) & (y > up998)] = "above_998"
    codes[known & np.isfinite(lo998) & (y < lo998)] = "below_998"
    return codes.astype(str)


def funnel_comparison(position: str, polarity: str) -> str:
    """A funnel position as a comparison code (metrics.stats.COMPARISON_CODES), so the
    dot takes the colour a board knows: above the 99.8% limit of a metric where higher
    is better is "better_998"."""
    _check_polarity(polarity)
    if position == "inside_95":
        return "similar"
    if position not in FUNNEL_POSITIONS:
        return "not_compared"
    side, level = position.split("_")
    up_word, down_word = _DIRECTION_WORDS[polarity]
    return f"{up_word if side == 'above' else down_word}_{level}"


def funnel_position_words(position: str, polarity: str) -> str:
    """Legend and tooltip words for a funnel position, e.g. "Above the 99.8% limit:
    worse" (polarity "low"), "Within the 95% limits"."""
    if position == "inside_95":
        return "Within the 95% limits"
    if position not in FUNNEL_POSITIONS:
        return "Not plotted"
    side, level = position.split("_")
    where = (f"{side.capitalize()} the 99.8% limit" if level == "998" else
             f"{side.capitalize()} the 95% limit, within 99.8%")
    verdict = funnel_comparison(position, polarity).split("_")[0]
    return f"{where}: {verdict}"


# Winsorising 10% at each end, as Spiegelhalter (2005) and the R package FunnelPlotR.
FUNNEL_WINSOR = 0.1
# Overdispersion is declared when the test's p-value falls below this: a false alarm
# only widens the limits a little, while a missed one calls most areas outliers.
FUNNEL_OVERDISPERSION_P = 0.05


def _funnel_variance(theta: float, kind: str) -> float:
    """Variance of one observation at the benchmark, per unit of denominator:
    binomial theta(1 - theta) or Poisson theta."""
    return theta * (1.0 - theta) if kind == "proportion" else theta


def funnel_dispersion(values: Any, denominators: Any, benchmark: float,
                      kind: str = "proportion", multiplier: float | None = None,
                      winsor: float = FUNNEL_WINSOR) -> dict:
    """Overdispersion of areas around a benchmark, Spiegelhalter (2005), "Funnel plots for
    comparing institutional performance", Statistics in Medicine 24:1185-1202, section 5,
    and "Handling over-dispersion of performance indicators", Quality and Safety in
    Health Care 14:347-351.

    z_i = (y_i - theta0) / s_i with s_i = sqrt(V(theta0) / n_i), V the binomial
    theta(1 - theta) or Poisson theta (values and benchmark on the scale of
    ``multiplier``, as ``funnel_limits``). z-scores below the 10th or above the 90th
    percentile (numpy's default, R's type 7) are set to those percentiles (Winsorised),
    and the dispersion ratio is phi = mean(z_w^2). Under no overdispersion I x phi is
    roughly chi-square on I - 1 degrees of freedom (the benchmark is England, pooled from
    these areas): ``p_value`` is its upper tail. The additive random-effects variance
    (DerSimonian and Laird) is tau2 = (I phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w)),
    w_i = 1 / s_i^2, and 0 when I phi <= I - 1; tau2 is per unit (a proportion or a rate
    per 1), so sqrt(tau2) x multiplier is the between-area standard deviation on the
    value's scale.

    Returns {"areas", "phi", "p_value", "tau2", "overdispersed"} (overdispersed: p below
    FUNNEL_OVERDISPERSION_P). Areas with a missing value or denominator are left out;
    fewer than 3 areas give NaN.
    """
    if kind not in ("proportion", "rate"):
        raise ValueError(f"kind must be 'proportion' or 'rate', got {kind!r}")
    if multiplier is None:
        multiplier = 1.0 if kind == "proportion" else 100_000.0
    y = _as_float_array(values).ravel() / multiplier
    n = _as_float_array(denominators).ravel()
    if len(y) != len(n):
        raise ValueError("values and denominators must be the same length")
    theta = float(benchmark) / multiplier
    keep = np.isfinite(y) & np.isfinite(n) & (n > 0)
    y, n = y[keep], n[keep]
    variance = _funnel_variance(theta, kind)
    areas = int(len(y))
    if areas < 3 or not variance > 0:
        return {"areas": areas, "phi": float("nan"), "p_value": float("nan"),
                "tau2": float("nan"), "overdispersed": False}
    s = np.sqrt(variance / n)
    z = (y - theta) / s
    low, high = np.quantile(z, [winsor, 1.0 - winsor])
    phi = float(np.mean(np.clip(z, low, high) ** 2))
    p_value = float(sps.chi2.sf(areas * phi, areas - 1))
    w = 1.0 / s ** 2
    tau2 = max(0.0, (areas * phi - (areas - 1)) / (w.sum() - np.sum(w ** 2) / w.sum()))
    return {"areas": areas, "phi": phi, "p_value": p_value, "tau2": float(tau2),
            "overdispersed": bool(p_value < FUNNEL_OVERDISPERSION_P)}


def funnel_limits_overdispersed(denominators: Any, benchmark: float,
                                kind: str = "proportion", multiplier: float | None = None,
                                confidence: float = 0.95, phi: float | None = None,
                                tau2: float | None = None) -> tuple:
    """Funnel limits widened for overdispersion (Spiegelhalter 2005, section 5), by the
    normal approximation on the value's scale:

    multiplicative (``phi``): theta0 +/- z sqrt(phi V(theta0) / n);
    additive random effects (``tau2``, per unit as ``funnel_dispersion``):
    theta0 +/- z sqrt(V(theta0) / n + tau2).

    Give exactly one of ``phi`` and ``tau2``. Lower limits stop at 0 and proportion limits
    at 1 x multiplier; NaN where the denominator is missing or not positive.
    """
    if kind not in ("proportion", "rate"):
        raise ValueError(f"kind must be 'proportion' or 'rate', got {kind!r}")
    if (phi is None) == (tau2 is None):
        raise ValueError("give exactly one of phi (multiplicative) or tau2 (additive)")
    z = z_for_confidence(confidence)
    if multiplier is None:
        multiplier = 1.0 if kind == "proportion" else 100_000.0
    scalar, (n,) = _broadcast(denominators)
    theta = float(benchmark) / multiplier
    valid = np.isfinite(n) & (n > 0)
    n_safe = np.where(valid, n, 1.0)
    variance = _funnel_variance(theta, kind) / n_safe
    spread = z * np.sqrt(variance * float(phi) if phi is not None else variance + float(tau2))
    lower = np.maximum(theta - spread, 0.0)
    upper = theta + spread
    if kind == "proportion":
        upper = np.minimum(upper, 1.0)
    return _out(scalar, np.where(valid, lower * multiplier, np.nan),
                np.where(valid, upper * multiplier, np.nan))
