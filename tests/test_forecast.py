"""The target forecast: the binomial trend model (metrics.stats.forecast) against data
with a known truth, and the continuity forecast built on it
(metrics.views.target_forecast)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit

from metrics.stats import forecast as fc
from metrics.views import continuity as cc, target_forecast as tf


def test_fit_is_the_maximum_likelihood_estimate():
    x = np.array([12, 15, 14, 18, 21, 19, 24, 26, 25, 30])
    n = np.array([60, 62, 58, 61, 64, 60, 63, 65, 59, 66])
    fit = fc.fit_trend(x, n)
    t = np.arange(10) - fit.centre[0]

    def minus_loglik(beta):
        p = expit(beta[0] + beta[1] * t)
        return -np.sum(x * np.log(p) + (n - x) * np.log(1 - p))

    best = minimize(minus_loglik, [0.0, 0.0], method="Nelder-Mead",
                    options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000}).x
    assert fit.coef[0] == pytest.approx(best, abs=1e-5)
    assert fit.converged[0]
    # Standard errors: the inverse information times the dispersion (at least 1).
    p = expit(fit.coef[0, 0] + fit.coef[0, 1] * t)
    w = n * p * (1 - p)
    info = np.array([[w.sum(), (w * t).sum()], [(w * t).sum(), (w * t * t).sum()]])
    assert fit.cov[0] == pytest.approx(np.linalg.inv(info) * fit.dispersion[0], rel=1e-6)


def _coverage(batch, quarters, n, a, b, phi=1.0, seed=7, ahead=4, draws=1000, history=0):
    """Share of `batch` simulated series whose rolling 12 months `ahead` quarters on
    lay inside the 80% interval forecast from the first `quarters` quarters (the trend
    fitted on the last tf.FIT_QUARTERS of them, the dispersion over all `quarters` when
    `history`)."""
    rng = np.random.default_rng(seed)
    t = np.arange(quarters + ahead)
    p = expit(a + b * t)
    if phi > 1:
        rho = (phi - 1) / (n - 1)
        scale = (1 - rho) / rho
        p = rng.beta(p * scale, (1 - p) * scale, size=(batch, len(t)))
    x = rng.binomial(n, np.broadcast_to(p, (batch, len(t))))
    size = np.full((batch, quarters), float(n))
    if history:
        fitted = slice(quarters - tf.FIT_QUARTERS, quarters)
        fit = fc.fit_trend(x[:, fitted], size[:, fitted], predictive=tf.AHEAD,
                           history=(x[:, :quarters], size))
        fit = fc.Fit(fit.coef, fit.cov, fit.dispersion,
                     fit.centre + quarters - tf.FIT_QUARTERS, fit.converged)
    else:
        fit = fc.fit_trend(x[:, :quarters], size, predictive=tf.AHEAD)
    future, _ = fc.simulate(fit, np.full(batch, quarters - 1), np.full(batch, n), ahead,
                            draws, rng)
    rolling = fc.rolling_rates(x[:, quarters - 3:quarters], size[:, -3:], future,
                               np.full(batch, n))[:, :, -1]
    low, high = np.quantile(rolling, [0.1, 0.9], axis=1)
    truth = x[:, quarters:].sum(1) / (ahead * n)
    return float(np.mean((truth >= low) & (truth <= high)))


@pytest.mark.parametrize("case", [
    dict(n=60, a=logit(0.4), b=0.05),            # a typical area, rising
    dict(n=20, a=logit(0.3), b=0.0),             # a small area, flat
    dict(n=400, a=logit(0.5), b=-0.04),          # a large area, falling
    dict(n=100, a=logit(0.45), b=0.06, phi=3.0),  # more variation than chance alone
], ids=["typical", "small", "large", "overdispersed"])
def test_the_80_percent_interval_covers_70_to_90_percent_of_known_truths(case):
    coverage = _coverage(batch=300, quarters=tf.FIT_QUARTERS, draws=800, **case)
    assert 0.70 <= coverage <= 0.90, coverage


def test_rolling_rates_join_known_and_simulated_quarters():
    future = np.array([[[10, 20]]])
    rates = fc.rolling_rates(np.array([[1.0, 2.0, 3.0]]), np.array([[10.0, 10.0, 10.0]]),
                             future, np.array([20.0]))
    assert rates[0, 0].tolist() == pytest.approx([(1 + 2 + 3 + 10) / 50,
                                                  (2 + 3 + 10 + 20) / 60])


# --- The continuity forecast ----------------------------------------------------------------

LATEST = cc._quarter_index("2026/27 Q1")


def _protected(engaged, released, hidden=False) -> pd.DataFrame:
    """A protected series (cc.protect_series's columns) of single quarters ending
    2026/27 Q1, with the rolling 12 months built from them."""
    rows = []
    k = len(engaged)
    for i, (x, n) in enumerate(zip(engaged, released)):
        q = cc._quarter(LATEST - k + 1 + i)
        rows.append(dict(period=q.label, period_kind="quarter", period_end=q.end,
                         numerator=float(x), denominator=float(n), value=x / n * 100))
        if i >= 3:
            sx, sn = sum(engaged[i - 3:i + 1]), sum(released[i - 3:i + 1])
            rows.append(dict(period=f"12 months to {q.label}", period_kind="rolling_12m",
                             period_end=q.end, numerator=float(sx), denominator=float(sn),
                             value=sx / sn * 100))
    frame = pd.DataFrame(rows)
    frame["suppressed"] = hidden
    frame["quarters_hidden"] = hidden
    return frame


def test_no_forecast_from_a_short_small_or_hidden_series_says_why():
    short = tf.target_forecast(_protected([30] * 6, [60] * 6), 0.75, dt.date(2025, 3, 31))
    assert not short.available
    assert short.sentences("Rutland") == ["No forecast for Rutland: the series is too short "
                                          "(6 quarters; a trend needs at least 8)."]
    small = tf.target_forecast(_protected([3] * 12, [6] * 12), 0.75, dt.date(2025, 3, 31))
    assert not small.available and "the numbers are too small (about 6 prison leavers" \
        in small.why
    hidden = tf.target_forecast(_protected([30] * 12, [60] * 12, hidden=True), 0.75,
                                dt.date(2025, 3, 31))
    assert not hidden.available and "single-quarter figures are suppressed" in hidden.why


def test_review_date_when_the_target_date_has_passed():
    assert tf.goal_quarter(LATEST, dt.date(2025, 3, 31)) == \
        (cc._quarter_index("2026/27 Q4"), True)
    assert tf.goal_quarter(cc._quarter_index("2026/27 Q4"), dt.date(2025, 3, 31)) == \
        (cc._quarter_index("2027/28 Q4"), True)
    assert tf.goal_quarter(LATEST, dt.date(2028, 3, 31)) == \
        (cc._quarter_index("2027/28 Q4"), False)


def test_a_steep_rise_reaches_the_target_and_a_flat_series_does_not():
    rising = [int(round(100 * expit(logit(0.45) + 0.12 * i))) for i in range(12)]
    result = tf.target_forecast(_protected(rising, [100] * 12), 0.75, dt.date(2028, 3, 31))
    assert result.available and not result.review
    assert result.goal_period == "12 months to 2027/28 Q4"
    assert result.probability > 0.9
    # Quarters at 69%, 72%, 75%, then 77% and 79%: the 12 months reach 75% two on.
    assert result.reached[0] == "12 months to 2026/27 Q3"
    flat = tf.target_forecast(_protected([40] * 12, [100] * 12), 0.75, dt.date(2028, 3, 31))
    assert flat.probability < 0.01
    assert "In most simulations it does not reach 75% within 3 years" in \
        " ".join(flat.sentences("Gloucestershire"))
    # Engagements needed: the goal's 12 months are four future quarters of 100 releases,
    # 75% of 400 is 300, so 75 a quarter, against 40 now.
    assert flat.needed_per_quarter == 75 and flat.now_per_quarter == 40
    assert "about 75 of the 100 people released" in " ".join(flat.sentences("G"))


def test_engagements_needed_count_the_known_quarters_left_in_the_window():
    # The goal (2026/27 Q3) is 2 quarters on: its 12 months hold 2026/26 Q4 and 2026/27
    # Q1 (40 + 40 engaged of 200) and two future quarters of 100: 75% of 400 = 300,
    # so (300 - 80) / 2 = 110 a quarter (more than are released: out of reach).
    result = tf.target_forecast(_protected([40] * 12, [100] * 12), 0.75, dt.date(2026, 12, 31))
    assert result.needed_per_quarter == 110
    assert result.goal_period == "12 months to 2026/27 Q3"


def test_backtest_on_simulated_areas_is_calibrated():
    rng = np.random.default_rng(3)
    rows = []
    for area in range(40):
        a, b = logit(rng.uniform(0.3, 0.6)), rng.normal(0.03, 0.02)
        for q in range(20):
            n = 80
            rows.append(dict(area_code=f"E10{area:06d}", q=q, denominator=n,
                             numerator=rng.binomial(n, expit(a + b * q))))
    result = tf.backtest(pd.DataFrame(rows), draws=500)
    assert len(result) == 40 * (20 - tf.MIN_QUARTERS - 4 + 1) * 4
    four = result[result["h"] == 4]
    assert 0.70 <= four["covered_rolling"].mean() <= 0.90


# --- On the continuity page -------------------------------------------------------------------

from streamlit.testing.v1 import AppTest  # noqa: E402

from metrics.settings import PROJECT_ROOT  # noqa: E402


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory):
    from tests.support import app_on_demo_data
    with app_on_demo_data(tmp_path_factory.mktemp("cdp_data")) as data_dir:
        yield data_dir


def _continuity(area=None, **query) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=180)
    if area:
        at.query_params["area"] = area
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/continuity.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_continuity_page_shows_the_forecast(demo_data_dir):
    at = _continuity()
    assert "Forecast: will the target be met?" in [s.value for s in at.subheader]
    words = " ".join(str(m.value) for m in at.markdown)
    assert "the chance that Gloucestershire reaches 75% in the 12 months to" in words
    assert "(80% interval" in words and "people released with a need each quarter" in words
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any('"Forecast (median)"' in s for s in specs)   # its legend


def test_no_forecast_for_a_small_area_and_the_page_says_why(demo_data_dir):
    at = _continuity("E06000053")          # the Isles of Scilly
    notes = [str(i.value) for i in at.info]
    assert any(n.startswith("No forecast for Isles of Scilly: ") for n in notes), notes
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert not any('"Forecast (median)"' in s for s in specs)


def test_a_scenario_comes_from_the_url_and_is_marked_as_one(demo_data_dir):
    at = _continuity(more="35", referral="nonsense")
    assert at.number_input(key="more").value == 35
    assert at.number_input(key="referral").value == 0        # not a number: ignored
    words = " ".join(str(m.value) for m in at.markdown)
    assert "Scenario: with 35 more people a quarter engaging within 3 weeks, " \
           "Gloucestershire would be at" in words
    assert any(c.value.startswith("Scenario, not a forecast or a record") for c in at.caption)
    table = [d.value for d in at.dataframe if "Scenario" in d.value.columns]
    assert table and list(table[0].columns) == ["Period", "Forecast", "Scenario",
                                                "Gap to 75%"]
    at.number_input(key="referral").set_value(10).run()
    assert at.query_params["referral"] == ["10"] or at.query_params["referral"] == "10"


def test_a_prison_scenario_comes_from_the_url_and_prints_into_a_pack(demo_data_dir):
    from metrics.reports import boardpack
    from metrics.views import scenarios
    from tests.test_boardpack import _text
    at = _continuity()
    prisons = next(s for s in at.selectbox if s.key == "prison")
    below = [o for o in prisons.options if o != "No prison chosen"]
    assert below, "no prison below the median in the demonstration data"
    at = _continuity(prison=below[0])
    assert next(s for s in at.selectbox if s.key == "prison").value == below[0]
    words = " ".join(str(m.value) for m in at.markdown)
    assert f"{below[0]}'s rate raised from" in words and "to the median of" in words
    assert any(b.label == "Board pack with this scenario (PDF)"
               for b in at.get("download_button"))
    # A name in the URL that is not a prison below the median is ignored.
    at = _continuity(prison="HMP Nowhere")
    assert next(s for s in at.selectbox if s.key == "prison").value == ""
    # The pack carries the forecast and, when asked, the same scenario, marked as one.
    pdf = boardpack.make_pack(demo_data_dir, "E10000013", None,
                              scenario=scenarios.ScenarioRequest(more=10, prison=below[0]))
    text = _text(pdf)
    assert "Continuity of care: forecast and scenario" in text
    assert "worked out for this pack and is not stored" in text
    plain_pack = _text(boardpack.make_pack(demo_data_dir, "E10000013", None))
    assert "Continuity of care: forecast" in plain_pack and "scenario" not in \
        plain_pack.split("Continuity of care: forecast")[1][:40]


@pytest.mark.parametrize("case", [
    dict(n=60, a=logit(0.4), b=0.03),
    dict(n=2000, a=logit(0.5), b=-0.02),          # a region-sized series
    dict(n=100, a=logit(0.45), b=0.03, phi=3.0),
], ids=["typical", "region", "overdispersed"])
def test_with_five_years_of_history_the_interval_still_covers_70_to_90_percent(case):
    """The dispersion taken from errors over five years (tf.HISTORY_QUARTERS), the trend
    from the last ten quarters, as the page and the back-test do."""
    coverage = _coverage(batch=300, quarters=tf.HISTORY_QUARTERS, draws=800, history=1,
                         **case)
    assert 0.70 <= coverage <= 0.90, coverage
