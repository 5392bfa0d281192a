"""A card's sparkline as a small inline SVG that is an image with words (WCAG 1.1.1).

Streamlit's own metric sparkline is a Vega chart whose empty "highlighted points" group is
announced as a graphic with no name (axe: svg-img-alt); this one is a single
role="img" element whose accessible name is written from the plotted figures, and a
<title> gives the same words as a tooltip.
"""

from __future__ import annotations

import html
import math

from metrics.reference import formatting
from metrics.reference.catalogue import Indicator

WIDTH, HEIGHT, PAD = 100.0, 30.0, 3.0
STROKE = "#505a5f"     # GOV.UK secondary text: 7.0:1 on white, so the line is essential-mark legible


def _shown(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def description(values: list, periods: list[str], indicator: Indicator) -> str:
    """Words for the line, e.g. "Trend over 8 periods, 2024/25 Q2 to 2026/27 Q1: from 48.2%
    to 50.1%; lowest 47.0%, highest 51.2%. 1 period not shown (small numbers)."."""
    points = [(p, v) for p, v in zip(periods, values)]
    shown = [(p, v) for p, v in points if _shown(v)]
    if not shown:
        return f"{indicator.title}: no trend to show."
    hidden = len(points) - len(shown)
    first, last = shown[0], shown[-1]
    span = f"{points[0][0]} to {points[-1][0]}" if len(points) > 1 else points[0][0]
    words = (f"{indicator.title}, trend over "
             f"{formatting.plural(len(points), 'period')}, {span}: ")
    if len(shown) == 1:
        words += f"{formatting.with_unit(first[1], indicator)} in {first[0]}"
    else:
        low = min(v for _, v in shown)
        high = max(v for _, v in shown)
        words += (f"from {formatting.with_unit(first[1], indicator)} in {first[0]} to "
                  f"{formatting.with_unit(last[1], indicator)} in {last[0]}; lowest "
                  f"{formatting.with_unit(low, indicator)}, highest "
                  f"{formatting.with_unit(high, indicator)}")
    words += "."
    if hidden:
        words += (f" {formatting.plural(hidden, 'period')} not shown "
                  "(small numbers suppressed).")
    return words


def svg(values: list, periods: list[str], indicator: Indicator) -> str:
    """The sparkline as an <svg role="img"> string, or "" with fewer than two figures.
    A suppressed or missing figure breaks the line (nothing is drawn through it)."""
    shown = [v for v in values if _shown(v)]
    if len(shown) < 2:
        return ""
    low, high = min(shown), max(shown)
    spread = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    segments, current = [], []
    for i, value in enumerate(values):
        if not _shown(value):
            if current:
                segments.append(current)
            current = []
            continue
        x = PAD + i * step
        y = HEIGHT - PAD - (value - low) / spread * (HEIGHT - 2 * PAD)
        current.append(f"{x:.1f},{y:.1f}")
    if current:
        segments.append(current)
    lines = "".join(
        f'<polyline points="{" ".join(seg)}" fill="none" stroke="{STROKE}" stroke-width="2" '
        'vector-effect="non-scaling-stroke" stroke-linejoin="round"/>'
        for seg in segments if len(seg) > 1)
    words = html.escape(description(values, periods, indicator), quote=True)
    return (f'<svg class="cdp-sparkline" role="img" aria-label="{words}" '
            f'viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" preserveAspectRatio="none" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{words}</title>{lines}</svg>')
