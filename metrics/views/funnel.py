"""The funnel plot's numbers: each area's place against the limits drawn, the limits
themselves (chance alone, or widened for overdispersion) and the words saying which.

Pure functions over an all-areas ranking (metrics.views.explorer.area_ranking); the
statistics are metrics.stats' (Spiegelhalter 2005).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from metrics import stats
from metrics.reference import formatting
from metrics.reference.catalogue import Indicator

# The funnel's limits: chance alone, or widened for overdispersion (Spiegelhalter 2005).
# "auto" draws the random-effects funnel when the test of overdispersion says the areas
# vary more than chance allows, and chance alone otherwise, and says which.
FUNNEL_METHODS = {
    "auto": "Automatic",
    "none": "Chance alone",
    "additive": "Random effects",
    "multiplicative": "Multiplicative",
}


# Under every funnel: how to read it, and why it can differ from the ranking's verdict.
FUNNEL_CAPTION = (
    "Dashed lines: 95% limits; dotted: 99.8%. Each dot is coloured by where it sits "
    "against these lines; smaller areas vary more by chance. The ranking above compares "
    "each area's own confidence interval with England's value, a different test, so an "
    "area close to a limit can be called different there and not here, or the reverse.")


def _funnel_kind(ind: Indicator) -> str:
    return "proportion" if ind.ci_method == "wilson" else "rate"


def _funnel_bounds(ind: Indicator, england_value: float, denominators, confidence: float,
                   method: str, dispersion: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Limits on the value's scale (percentages 0-100, rates per the multiplier)."""
    kind = _funnel_kind(ind)
    n = np.asarray(denominators, dtype=float)
    if method == "none" or dispersion is None:
        lower, upper = stats.funnel_limits(n, england_value, kind=kind,
                                           multiplier=ind.multiplier, confidence=confidence)
    elif method == "multiplicative":
        # Spiegelhalter: a dispersion ratio below 1 never narrows the funnel.
        lower, upper = stats.funnel_limits_overdispersed(
            n, england_value, kind=kind, multiplier=ind.multiplier, confidence=confidence,
            phi=max(dispersion["phi"], 1.0))
    else:
        lower, upper = stats.funnel_limits_overdispersed(
            n, england_value, kind=kind, multiplier=ind.multiplier, confidence=confidence,
            tau2=dispersion["tau2"])
    return np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)


def funnel_limits_frame(ind: Indicator, england_value: float, denominators: pd.Series,
                        method: str = "none", dispersion: dict | None = None
                        ) -> pd.DataFrame:
    """Control limits on a log-spaced grid of denominators spanning the areas, plus each
    area's own denominator: the line drawn then passes exactly through the limit at every
    dot, so a dot's colour (from its own limits) always matches its side of the line."""
    present = pd.to_numeric(denominators, errors="coerce").dropna().astype(float)
    low, high = max(float(present.min()), 1.0), float(present.max())
    grid = np.unique(np.concatenate([np.geomspace(low * 0.8, high * 1.2, 120).round(),
                                     present[present > 0].to_numpy()]))
    out = pd.DataFrame({"denominator": grid})
    out["benchmark"] = england_value
    for conf, suffix in ((0.95, "95"), (0.998, "998")):
        lower, upper = _funnel_bounds(ind, england_value, grid, conf, method, dispersion)
        out[f"lower{suffix}"] = lower
        out[f"upper{suffix}"] = upper
    return out


def _p_words(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def funnel_model(ind: Indicator, ranking: pd.DataFrame, england_value: float,
                 method: str = "auto") -> dict:
    """The funnel plot's dots, lines and the words that say which limits are drawn.

    Dots are placed against the limits drawn, at their own denominator: `points` is the
    ranking with funnel_position ("inside_95", "above_998" ...), funnel_comparison (the
    position as a comparison code, for colour) and funnel_words (the legend's words).
    The ranking's own `comparison` (the area's interval against England) is kept for
    the ranked chart and the spine. `method`: a key of FUNNEL_METHODS; "auto" adjusts
    for overdispersion (additive random effects) when the test says the areas vary more
    than chance allows. Returns {"points", "limits", "method" (the one drawn),
    "dispersion" (metrics.stats.funnel_dispersion), "words", "outside"}."""
    if method not in FUNNEL_METHODS:
        raise ValueError(f"funnel method must be one of {tuple(FUNNEL_METHODS)}")
    kind = _funnel_kind(ind)
    dispersion = stats.funnel_dispersion(ranking["value"].to_numpy(float),
                                         ranking["denominator"].to_numpy(float),
                                         england_value, kind=kind,
                                         multiplier=ind.multiplier)
    drawn = method
    if method == "auto":
        drawn = "additive" if dispersion["overdispersed"] else "none"
    if not np.isfinite(dispersion["phi"]):
        drawn = "none"          # too few areas to estimate overdispersion
    points = ranking.copy()
    denominators = points["denominator"].to_numpy(float)
    bounds = {conf: _funnel_bounds(ind, england_value, denominators, conf, drawn, dispersion)
              for conf in (0.95, 0.998)}
    position = stats.funnel_position(points["value"].to_numpy(float), *bounds[0.95],
                                     *bounds[0.998])
    points["funnel_position"] = position
    points["funnel_comparison"] = [stats.funnel_comparison(p, ind.polarity) for p in position]
    points["funnel_words"] = [stats.funnel_position_words(p, ind.polarity) for p in position]
    # How many areas chance alone would put outside 99.8%: the reason to adjust.
    lower, upper = _funnel_bounds(ind, england_value, denominators, 0.998, "none", None)
    values = points["value"].to_numpy(float)
    outside = int(np.sum((values < lower) | (values > upper)))
    limits = funnel_limits_frame(ind, england_value, points["denominator"], drawn, dispersion)
    return {"points": points, "limits": limits, "method": drawn, "dispersion": dispersion,
            "outside": outside,
            "words": funnel_words(ind, method, drawn, dispersion, outside, len(points))}


def funnel_words(ind: Indicator, asked: str, drawn: str, dispersion: dict, outside: int,
                 areas: int) -> str:
    """Which limits the funnel draws and why, in words for the page."""
    phi, p = dispersion["phi"], dispersion["p_value"]
    variation = "binomial" if _funnel_kind(ind) == "proportion" else "Poisson"
    chance = (f"{outside} of {areas} areas lie outside the 99.8% limits of chance alone")
    if not np.isfinite(phi):
        return (f"Limits: chance alone ({variation} variation, Spiegelhalter 2005); too few "
                "areas to test for overdispersion.")
    test = (f"dispersion ratio {phi:.2f} across {dispersion['areas']} areas, test of "
            f"overdispersion {_p_words(p)}")
    varies = ("the areas vary more than chance alone allows" if dispersion["overdispersed"]
              else "the areas vary no more than chance alone allows")
    if drawn == "none":
        words = (f"Limits: chance alone ({variation} variation, Spiegelhalter 2005). "
                 f"{varies.capitalize()} ({test}); {chance}.")
        if dispersion["overdispersed"]:
            words += (" Areas outside these limits may differ for reasons chance does not "
                      "cover; the random-effects funnel allows for that.")
        return words
    how = "chosen automatically because " if asked == "auto" else "chosen on this page; "
    if drawn == "additive":
        tau = math.sqrt(dispersion["tau2"]) * ind.multiplier
        tau = (f"{formatting.number(tau, ind)} percentage points" if ind.unit == "%"
               else formatting.with_unit(tau, ind))
        method = (f"an additive random-effects model (Spiegelhalter 2005): a between-area "
                  f"standard deviation of {tau} is added to chance variation")
    else:
        method = (f"a multiplicative factor (Spiegelhalter 2005): chance variation is "
                  f"scaled by the dispersion ratio {max(phi, 1.0):.2f}, from Winsorised "
                  "z-scores")
    return (f"Limits adjusted for overdispersion by {method}; {how}{varies} ({test}). "
            f"{chance.capitalize()}. A dot outside these limits differs from England by "
            "more than areas usually do.")
