"""Funnel plots: dots coloured by where they sit against the limits drawn, and limits
adjusted for overdispersion (Spiegelhalter 2005), checked against values worked by hand.

Issue 13 item 7: the lines were Spiegelhalter's limits but the dots were coloured by the
interval comparison with England, so some small areas sat inside the funnel coloured
"Worse".
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pytest import approx
from scipy import stats as sps

from metrics import demo, stats, store
from metrics.reference import catalogue
from metrics.views import explorer
from tests.test_pages import demo_data_dir  # noqa: F401 (fixture)

UP_TO = dt.date(2026, 6, 30)
HOME = "E10000013"
Z95 = 1.959964


# --- Where a dot sits ------------------------------------------------------------------------

def test_funnel_position_against_both_limits():
    codes = stats.funnel_position([1, 4, 10, 11, 20, 3, None], 4, 10, 2, 15)
    assert codes.tolist() == ["below_998", "inside_95", "inside_95", "above_95", "above_998",
                              "below_95", "not_plotted"]


@pytest.mark.parametrize("position, polarity, code, words", [
    ("above_998", "low", "worse_998", "Above the 99.8% limit: worse"),
    ("above_95", "high", "better_95", "Above the 95% limit, within 99.8%: better"),
    ("inside_95", "high", "similar", "Within the 95% limits"),
    ("below_95", "none", "lower_95", "Below the 95% limit, within 99.8%: lower"),
    ("below_998", "high", "worse_998", "Below the 99.8% limit: worse"),
])
def test_funnel_positions_take_the_boards_words(position, polarity, code, words):
    assert stats.funnel_comparison(position, polarity) == code
    assert stats.funnel_position_words(position, polarity) == words


# --- Overdispersion: worked by hand ---------------------------------------------------------

# Ten areas of 100 people each against a benchmark of 20%: s = sqrt(0.2 x 0.8 / 100) = 0.04,
# so the proportions below have z-scores -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3 and 5.
HAND_VALUES = [8.0, 12.0, 16.0, 18.0, 20.0, 22.0, 24.0, 28.0, 32.0, 40.0]   # per cent
HAND_DENOMINATORS = [100.0] * 10


def test_dispersion_ratio_from_winsorised_z_scores_worked_by_hand():
    # 10th and 90th percentiles (linear interpolation, R's type 7 as FunnelPlotR uses):
    # position 0.9 between -3 and -2 gives -2.1; position 8.1 between 3 and 5 gives 3.2.
    # Winsorised: -2.1, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 3.2; squares add to
    # 4.41 + 4 + 1 + 0.25 + 0 + 0.25 + 1 + 4 + 9 + 10.24 = 34.15, so phi = 3.415.
    # Random effects (DerSimonian and Laird, Spiegelhalter 2005 eq. for tau^2):
    # w = 1 / 0.04^2 = 625 each; sum w = 6,250; sum w^2 / sum w = 625;
    # tau^2 = (10 x 3.415 - 9) / (6,250 - 625) = 25.15 / 5,625 = 0.0044711.
    result = stats.funnel_dispersion(HAND_VALUES, HAND_DENOMINATORS, 20.0, "proportion",
                                     multiplier=100)
    assert result["areas"] == 10
    assert result["phi"] == approx(3.415, abs=1e-9)
    assert result["tau2"] == approx(25.15 / 5625, rel=1e-9)
    # I x phi against chi-square on I - 1 = 9 degrees of freedom.
    assert result["p_value"] == approx(sps.chi2.sf(34.15, 9), rel=1e-9)
    assert result["p_value"] < 0.001 and result["overdispersed"]


def test_overdispersed_limits_worked_by_hand():
    # At n = 100, V/n = 0.16 / 100 = 0.0016.
    # Additive: 0.2 +/- 1.959964 x sqrt(0.0016 + 0.0044711) = 0.2 +/- 0.152714.
    lower, upper = stats.funnel_limits_overdispersed(100, 20.0, "proportion", multiplier=100,
                                                     tau2=25.15 / 5625)
    assert (lower, upper) == approx((4.7286, 35.2714), abs=1e-3)
    # Multiplicative: 0.2 +/- 1.959964 x sqrt(3.415 x 0.0016) = 0.2 +/- 0.144877.
    lower, upper = stats.funnel_limits_overdispersed(100, 20.0, "proportion", multiplier=100,
                                                     phi=3.415)
    assert (lower, upper) == approx((5.5123, 34.4877), abs=1e-3)
    # Rates use the Poisson variance: 50 per 100,000 in 100,000 people, phi 4:
    # 50 +/- 1.959964 x sqrt(4 x 0.0005 / 100,000) x 100,000 = 50 +/- 27.718.
    lower, upper = stats.funnel_limits_overdispersed(100_000, 50.0, "rate", phi=4.0)
    assert (lower, upper) == approx((50 - Z95 * 2 * np.sqrt(50.0), 50 + Z95 * 2 * np.sqrt(50.0)))
    assert upper - 50 == approx(27.718, abs=1e-3)


def test_overdispersed_limits_stop_at_zero_and_need_one_adjustment():
    lower, _ = stats.funnel_limits_overdispersed([10, np.nan], 5.0, "proportion",
                                                 multiplier=100, tau2=0.01)
    assert lower[0] == 0.0 and np.isnan(lower[1])
    with pytest.raises(ValueError):
        stats.funnel_limits_overdispersed(10, 5.0, "proportion", multiplier=100)
    with pytest.raises(ValueError):
        stats.funnel_limits_overdispersed(10, 5.0, phi=2.0, tau2=0.1)


def test_no_overdispersion_in_binomial_areas_and_a_lot_in_beta_binomial_ones():
    rng = np.random.default_rng(13)
    n = rng.integers(50, 5_000, size=150).astype(float)
    chance = rng.binomial(n.astype(int), 0.3) / n * 100
    result = stats.funnel_dispersion(chance, n, 30.0, "proportion", multiplier=100)
    # Winsorising shrinks phi under chance alone: for normal z-scores the 10% and 90%
    # points are -/+1.2816, and E[min(z^2, 1.2816^2)] = 1 - 2 (1.2816 x 0.17550 + 0.1)
    # + 0.2 x 1.6424 = 0.679, so the test (as in Spiegelhalter and FunnelPlotR) errs
    # towards "not overdispersed".
    assert result["phi"] == approx(0.679, abs=0.15) and not result["overdispersed"]
    # Areas whose true rates differ (sd 6 points): most lie outside the chance funnel, and
    # the random-effects funnel leaves only a few outside its 99.8% limits.
    truth = np.clip(rng.normal(0.3, 0.06, size=150), 0.01, 0.99)
    spread = rng.binomial(n.astype(int), truth) / n * 100
    result = stats.funnel_dispersion(spread, n, 30.0, "proportion", multiplier=100)
    assert result["overdispersed"] and result["phi"] > 5
    assert np.sqrt(result["tau2"]) == approx(0.06, abs=0.02)
    lo, up = stats.funnel_limits(n, 30.0, multiplier=100, confidence=0.998)
    assert np.mean((spread < lo) | (spread > up)) > 0.5
    lo, up = stats.funnel_limits_overdispersed(n, 30.0, multiplier=100, confidence=0.998,
                                               tau2=result["tau2"])
    assert np.mean((spread < lo) | (spread > up)) < 0.05


def test_too_few_areas_give_no_dispersion():
    result = stats.funnel_dispersion([10.0, 20.0], [100.0, 100.0], 15.0, multiplier=100)
    assert np.isnan(result["phi"]) and not result["overdispersed"]


# --- On the page: dots never contradict the lines ----------------------------------------

@pytest.fixture(scope="module")
def published(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("funnel")
    version = demo.build_demo(data_dir)
    return str(data_dir), version


FUNNEL_METRICS = ["reoffending_drug_misusing", "stable_accommodation_exit",
                  "completions_non_opiate", "work_or_education_exit", "treatment_progress",
                  "continuity_of_care", "ocu_prevalence"]


def _layers(spec):
    for layer in spec.get("layer", []):
        yield layer
        yield from _layers(layer)


def _dots_and_lines(spec):
    rows = {name: data for name, data in spec["datasets"].items()}
    dots = next(d for d in rows.values() if d and "area_name" in d[0])
    lines = next(d for d in rows.values() if d and "upper998" in d[0])
    colour = next(layer["encoding"]["color"]["field"] for layer in _layers(spec)
                  if "color" in layer.get("encoding", {}))
    return dots, lines, colour


def _drawn_at(lines, denominator):
    grid = np.log([row["denominator"] for row in lines])
    return {key: float(np.interp(np.log(denominator), grid, [row[key] for row in lines]))
            for key in ("lower95", "upper95", "lower998", "upper998")}


@pytest.mark.parametrize("method", ["auto", "none"])
def test_funnel_dots_are_coloured_by_the_limits_drawn(published, method):
    """Each dot's legend words must agree with its side of the lines drawn at its own
    denominator (values and limits are sent rounded as shown, hence the non-strict
    comparisons). Before: 26 of 12,307 dots in the latest four periods sat inside the
    95% lines coloured "Worse" or "Better" by the interval comparison."""
    from ui import outcome_page
    data_dir, version = published
    contradictions = []
    for metric in FUNNEL_METRICS:
        model = outcome_page._view_model("All areas", data_dir, version.id, metric, HOME,
                                         "Gloucestershire", UP_TO, (), 5, None,
                                         **({} if method == "auto" else
                                            {"funnel_method": method}))
        dots, lines, colour = _dots_and_lines(model["funnel"])
        limits = {row["denominator"]: row for row in lines}
        # The line now passes through every dot's own denominator; elsewhere it is
        # what the chart draws between grid points (straight on the log axis).
        if method == "auto":
            assert {dot["denominator"] for dot in dots} <= set(limits)
        for dot in dots:
            line = limits.get(dot["denominator"]) or _drawn_at(lines, dot["denominator"])
            words, value = dot[colour], dot["value"]
            inside = line["lower95"] <= value <= line["upper95"]
            claims_difference = words not in ("Similar", "Within the 95% limits")
            if claims_difference == inside and not (
                    value in (line["lower95"], line["upper95"])):
                contradictions.append((metric, dot["area_name"], value, words,
                                       line["lower95"], line["upper95"]))
            if "99.8%" in words and "within 99.8%" not in words:
                assert value >= line["upper998"] or value <= line["lower998"], dot
    assert contradictions == []


def test_funnel_says_which_limits_are_drawn(published):
    from ui import outcome_page
    data_dir, version = published
    # OCU prevalence: most areas lie outside the chance funnel, so "Automatic" adjusts.
    auto = outcome_page._view_model("All areas", data_dir, version.id, "ocu_prevalence", HOME,
                                    "Gloucestershire", UP_TO, (), 5, None)
    assert auto["funnel_words"].startswith("Limits adjusted for overdispersion by an "
                                           "additive random-effects model")
    assert "chosen automatically" in auto["funnel_words"]
    chance = outcome_page._view_model("All areas", data_dir, version.id, "ocu_prevalence",
                                      HOME, "Gloucestershire", UP_TO, (), 5, None, "none")
    assert chance["funnel_words"].startswith("Limits: chance alone")
    assert "vary more than chance alone allows" in chance["funnel_words"]
    multiplicative = outcome_page._view_model(
        "All areas", data_dir, version.id, "ocu_prevalence", HOME, "Gloucestershire", UP_TO,
        (), 5, None, "multiplicative")
    assert "multiplicative factor" in multiplicative["funnel_words"]
    # Deaths in treatment vary as chance would: no adjustment, and the words say why.
    plain = outcome_page._view_model("All areas", data_dir, version.id, "deaths_in_treatment",
                                     HOME, "Gloucestershire", UP_TO, (), 5, None)
    assert plain["funnel_words"].startswith("Limits: chance alone")
    assert "vary no more than chance alone allows" in plain["funnel_words"]


def test_funnel_model_keeps_the_interval_verdict_for_the_ranking(published):
    data_dir, version = published
    values = store.all_area_values(version, ["stable_accommodation_exit"])
    areas = store.areas(version)
    ind = catalogue.get("stable_accommodation_exit")
    period = explorer.latest_period(values, ind, UP_TO)
    ranking = explorer.area_ranking(values, ind, period, areas, HOME, (), 5)
    model = explorer.funnel_model(ind, ranking, explorer.england_value(values, ind, period),
                                  "none")
    points = model["points"]
    assert (points["comparison"] == ranking["comparison"]).all()
    assert set(points["funnel_position"]) <= set(stats.FUNNEL_POSITIONS)


def test_the_page_offers_the_choice_and_says_which_limits_are_drawn(demo_data_dir):
    from streamlit.testing.v1 import AppTest
    from tests.test_pages import APP, TIMEOUT_S, exception_text
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params["metric"] = "ocu_prevalence"
    at.run()
    at.switch_page("pages/use.py").run()
    at.segmented_control(key="view").set_value("All areas").run()
    assert not at.exception, exception_text(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Limits adjusted for overdispersion" in captions and "chosen automatically" in \
        captions
    assert "Each dot is coloured by where it sits against these lines" in captions
    at.segmented_control(key="funnel").set_value("none").run()
    assert not at.exception, exception_text(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Limits: chance alone" in captions
    assert "vary more than chance alone allows" in captions
