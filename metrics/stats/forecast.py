"""Forecasting a proportion against a target: a binomial model with a trend in time.

Model: in quarter t, x_t of n_t people "succeed", x_t ~ Binomial(n_t, p_t) with
logit(p_t) = a + b t, fitted by maximum likelihood (each quarter weighted by its
denominator, as the binomial likelihood weights it). Quarters vary more than a binomial
allows when something other than chance moves them (a new provider, a prison's
releases), so the fit is quasi-binomial: the dispersion phi = Pearson chi-square /
(quarters - 2), never below 1, widens the parameters' covariance, and future quarters
are drawn beta-binomial with the same variance ratio (variance phi n p (1 - p)).

Forecasts are simulated: parameters drawn from their normal approximation (parametric
bootstrap), then each future quarter's count at the recent denominator. Intervals and
probabilities are read from the simulations. Every function works on a batch of series
at once (leading axis), so simulation tests and the back-test (metrics.views.
target_forecast) fit thousands of series in one call; a library GLM (statsmodels) fits
one series per call and is not a dependency here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

NEWTON_STEPS = 30


@dataclass(frozen=True)
class Fit:
    """Fitted trends for a batch of B series: logit(p) = a + b (t - centre)."""
    coef: np.ndarray          # (B, 2): a, b
    cov: np.ndarray           # (B, 2, 2), inflated by the dispersion
    dispersion: np.ndarray    # (B,): phi >= 1
    centre: np.ndarray        # (B,): the mean quarter index of the fit
    converged: np.ndarray     # (B,): bool


def fit_trend(x, n, t=None, predictive: int = 0, _dispersed: bool = True,
              history: tuple | None = None) -> Fit:
    """Quasi-binomial logistic regression of x / n on t, per row of a (B, k) batch (a 1-d
    series is a batch of one). Newton-Raphson on the binomial log-likelihood; quarters
    with n = 0 or a missing value carry no weight.

    `predictive`: the dispersion is taken from errors made this many quarters ahead
    (predictive_dispersion), by the same model on the same number of quarters, over
    `history` (x, n of the quarters up to the last fitted one, (B, K) with K >= k; default
    the fitted quarters themselves). A longer history gives more such errors to average:
    one error alone is a poor guide to how far a forecast strays."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    n = np.atleast_2d(np.asarray(n, dtype=float))
    x_in, n_in = x, n
    k = x.shape[1]
    t = np.broadcast_to(np.arange(k, dtype=float) if t is None
                        else np.atleast_2d(np.asarray(t, dtype=float)), x.shape)
    ok = np.isfinite(x) & np.isfinite(n) & (n > 0)
    x, n = np.where(ok, x, 0.0), np.where(ok, n, 0.0)
    centre = (n * t).sum(1) / np.maximum(n.sum(1), 1e-12)
    tc = np.where(ok, t - centre[:, None], 0.0)
    a = logit((x.sum(1) + 0.5) / (n.sum(1) + 1.0))      # start: pooled rate, no trend
    b = np.zeros_like(a)
    for _ in range(NEWTON_STEPS):
        p = expit(a[:, None] + b[:, None] * tc)
        w = n * p * (1 - p)
        r = x - n * p
        g0, g1 = r.sum(1), (r * tc).sum(1)
        h00, h01, h11 = w.sum(1), (w * tc).sum(1), (w * tc * tc).sum(1)
        det = h00 * h11 - h01 ** 2
        safe = det > 1e-12
        det = np.where(safe, det, 1.0)
        step_a = np.where(safe, (h11 * g0 - h01 * g1) / det, 0.0)
        step_b = np.where(safe, (h00 * g1 - h01 * g0) / det, 0.0)
        # Damped steps: a series of 0% or 100% quarters drifts towards infinity, and a
        # bounded step keeps it finite (and marked not converged).
        a = a + np.clip(step_a, -5, 5)
        b = b + np.clip(step_b, -5, 5)
    converged = safe & (np.abs(step_a) < 1e-6) & (np.abs(step_b) < 1e-6)
    p = expit(a[:, None] + b[:, None] * tc)
    w = n * p * (1 - p)
    used = ok.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.where(w > 0, (x - n * p) ** 2 / w, 0.0).sum(1)
        dispersion = np.where(used > 2, pearson / np.maximum(used - 2, 1), 1.0)
    dispersion = np.maximum(np.nan_to_num(dispersion, nan=1.0), 1.0)
    if not _dispersed:
        dispersion = np.ones_like(dispersion)
    elif predictive:
        # Errors made ahead of time include the in-sample noise: taking the larger of
        # the two as well would widen every interval beyond its level.
        hx, hn = history if history is not None else (x_in, n_in)
        dispersion = np.maximum(predictive_dispersion(hx, hn, predictive, window=k), 1.0)
    h00, h01, h11 = w.sum(1), (w * tc).sum(1), (w * tc * tc).sum(1)
    det = np.where(h00 * h11 - h01 ** 2 > 1e-12, h00 * h11 - h01 ** 2, np.nan)
    cov = np.stack([np.stack([h11, -h01], -1), np.stack([-h01, h00], -1)], -2) \
        / det[:, None, None] * dispersion[:, None, None]
    return Fit(np.stack([a, b], -1), cov, dispersion, centre,
               converged & np.isfinite(det))


PREDICTIVE_MIN = 6         # quarters fitted before the first one-step-ahead check


def predictive_dispersion(x, n, ahead: int = 1, window: int | None = None) -> np.ndarray:
    """How far each series' quarters fell from the trend fitted on the quarters before
    them, as a variance ratio: the mean over origins of (x - n p)^2 / (n p (1 - p) +
    n^2 var(p)), p and var(p) from the fit up to the quarter before (var(p) by the delta
    method, so the ratio is about 1 when the model holds). In-sample residuals miss a
    trend that bends (a national series after a change of policy); errors made ahead
    of time do not, so the forecast's dispersion is the larger of the two. `window`: each
    check fits the `window` quarters before it (the forecast's own fit), default all."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    n = np.atleast_2d(np.asarray(n, dtype=float))
    k = x.shape[1]
    ratios = []
    for j in range(PREDICTIVE_MIN + ahead - 1, k):
        ok = np.isfinite(x[:, j]) & np.isfinite(n[:, j]) & (n[:, j] > 0)
        lo = 0 if window is None else max(0, j - ahead + 1 - window)
        before = fit_trend(x[:, lo:j - ahead + 1], n[:, lo:j - ahead + 1], _dispersed=False)
        tc = (j - lo) - before.centre
        eta = before.coef[:, 0] + before.coef[:, 1] * tc
        p = expit(eta)
        grad = np.stack([np.ones_like(tc), tc], -1) * (p * (1 - p))[:, None]
        var_p = np.einsum("bi,bij,bj->b", grad, before.cov, grad)
        nj = np.where(ok, n[:, j], 1.0)
        expected = nj * p * (1 - p) + nj ** 2 * np.nan_to_num(var_p, nan=np.inf)
        ratio = (np.where(ok, x[:, j], 0.0) - nj * p) ** 2 / expected
        ratios.append(np.where(ok & before.converged & (expected > 0), ratio, np.nan))
    if not ratios:
        return np.ones(x.shape[0])
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.nanmean(np.stack(ratios, 1), axis=1), nan=1.0)


def simulate(fit: Fit, last_t, future_n, horizon: int, draws: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Future quarters' counts, (B, draws, horizon), and the rates they were drawn at.

    `last_t`: the index of the last fitted quarter per series (B,); `future_n`: the
    denominator assumed for each future quarter, (B,) or (B, horizon)."""
    batch = fit.coef.shape[0]
    # Parameter uncertainty: a, b from their (dispersion-inflated) normal approximation.
    chol = np.linalg.cholesky(fit.cov + np.eye(2) * 1e-12)
    z = rng.standard_normal((batch, draws, 2))
    coef = fit.coef[:, None, :] + np.einsum("bij,bdj->bdi", chol, z)
    steps = np.arange(1, horizon + 1, dtype=float)
    t = (np.asarray(last_t, dtype=float) - fit.centre)[:, None] + steps[None, :]   # (B, H)
    p = expit(coef[..., :1] + coef[..., 1:] * t[:, None, :])                       # (B, D, H)
    n = np.broadcast_to(np.asarray(future_n, dtype=float).reshape(batch, -1),
                        (batch, horizon))
    n = np.broadcast_to(np.rint(n)[:, None, :], p.shape).astype(np.int64)
    # Extra-binomial variation: beta-binomial with intra-class correlation rho, so that
    # the variance is phi n p (1 - p) (phi = 1 gives the binomial).
    phi = fit.dispersion[:, None, None]
    rho = np.where(n > 1, (phi - 1) / np.maximum(n - 1, 1), 0.0)
    rho = np.clip(rho, 0.0, 0.99)
    mixed = rho > 1e-9
    q = p.copy()
    if mixed.any():
        scale = (1 - rho[mixed]) / rho[mixed]
        pm = np.clip(p[mixed], 1e-9, 1 - 1e-9)
        q[mixed] = rng.beta(pm * scale, (1 - pm) * scale)
    return rng.binomial(n, q), p


def rolling_rates(known_x, known_n, future_x, future_n, window: int = 4) -> np.ndarray:
    """Rolling `window`-quarter rates for each future quarter, (B, draws, horizon): the
    last window - 1 known quarters (B, window - 1) joined to the simulated ones."""
    known_x = np.asarray(known_x, dtype=float)[:, None, :]
    known_n = np.asarray(known_n, dtype=float)[:, None, :]
    batch, draws, horizon = future_x.shape
    fn = np.broadcast_to(np.asarray(future_n, dtype=float).reshape(batch, 1, -1),
                         (batch, 1, horizon))
    fn = np.rint(fn)
    xs = np.concatenate([np.broadcast_to(known_x, (batch, draws, known_x.shape[2])),
                         future_x.astype(float)], axis=2)
    ns = np.concatenate([np.broadcast_to(known_n, (batch, 1, known_n.shape[2])), fn],
                        axis=2)
    k = known_x.shape[2]
    cx = np.cumsum(xs, axis=2)
    cn = np.cumsum(ns, axis=2)
    pad = lambda c: np.concatenate([np.zeros(c.shape[:2] + (1,)), c], axis=2)  # noqa: E731
    cx, cn = pad(cx), pad(cn)
    ends = np.arange(k + 1, k + horizon + 1)
    starts = ends - window
    num = cx[:, :, ends] - cx[:, :, starts]
    den = cn[:, :, ends] - cn[:, :, starts]
    return num / den
