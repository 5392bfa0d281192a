"""Numbers as a board paper writes them: units, thousands separators, '*' for suppressed."""

from __future__ import annotations

import math

from metrics.reference.catalogue import Indicator

SUPPRESSED = "*"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def decimals_for(indicator: Indicator) -> int:
    if indicator.unit == "count":
        return 0
    if indicator.unit == "%":
        return 1
    return 1 if indicator.multiplier <= 100_000 else 2


def number(value, indicator: Indicator) -> str:
    """The value alone, e.g. '48.2' or '1,234'."""
    if _missing(value):
        return "-"
    return f"{value:,.{decimals_for(indicator)}f}"


def with_unit(value, indicator: Indicator) -> str:
    """The value with its unit, e.g. '48.2%', '5.6 per 100,000', '1,234'."""
    if _missing(value):
        return "no data"
    text = number(value, indicator)
    if indicator.unit == "%":
        return f"{text}%"
    if indicator.unit == "count":
        return text
    return f"{text} {indicator.unit}"


def change(delta, indicator: Indicator, unit: bool = True) -> str:
    """A signed change, e.g. '+2.1 pp', '-0.4 per 100,000', '+12'. Without `unit` a rate's
    change is the number alone (for a card whose value above already names the unit)."""
    if _missing(delta):
        return ""
    text = f"{delta:+,.{decimals_for(indicator)}f}"
    if indicator.unit == "%":
        return f"{text} pp"
    if indicator.unit == "count" or not unit:
        return text
    return f"{text} {indicator.unit}"


def percent(proportion: float, decimals: int = 0) -> str:
    return f"{proportion * 100:.{decimals}f}%"


def plural(count, singular: str, plural_form: str | None = None) -> str:
    """A count with its noun in the right number: '1 file', '2 files', '1 person',
    '1,234 people', '1 more person'. `plural_form` defaults to `singular` + 's'."""
    word = singular if count == 1 else (plural_form or singular + "s")
    number = f"{count:,.0f}" if isinstance(count, float) else f"{count:,}"
    return f"{number} {word}"
