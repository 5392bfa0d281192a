"""Reporting periods: read the many ways extracts write them, show them one way.

UK public bodies report by financial year (April to March). The display forms are:

    quarter             "2024/25 Q1"              April-June 2024
    financial_year      "2024/25"                 April 2024 - March 2025
    rolling_12m         "12 months to 2024/25 Q1" July 2023 - June 2024
    calendar_year       "2024"
    pooled_3y           "2021 - 23"               calendar years 2021-2023 pooled (ONS deaths)

Every period is a `Period` with its start and end dates, so sorting and "latest at or
before" questions are date comparisons, never string comparisons.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass

KINDS = ("quarter", "financial_year", "rolling_12m", "calendar_year", "pooled_3y")


class PeriodError(ValueError):
    """A period that cannot be read, or that could mean more than one thing."""


@dataclass(frozen=True, order=True)
class Period:
    # Field order makes sorting chronological by end date; periods ending on the same
    # day sort longest first (2023/24 before 2023/24 Q4).
    end: dt.date
    start: dt.date
    kind: str
    label: str

    def __str__(self) -> str:
        return self.label


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def fy_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def quarter(fy_start_year: int, q: int) -> Period:
    """Financial-year quarter: Q1 is April-June of fy_start_year, Q4 January-March after."""
    if q not in (1, 2, 3, 4):
        raise PeriodError(f"quarter must be 1 to 4, not {q}")
    first_month = 4 + 3 * (q - 1)
    year = fy_start_year + (first_month - 1) // 12
    month = (first_month - 1) % 12 + 1
    start = dt.date(year, month, 1)
    end = _month_end(year, month + 2)
    return Period(end, start, "quarter", f"{fy_label(fy_start_year)} Q{q}")


def financial_year(start_year: int) -> Period:
    return Period(dt.date(start_year + 1, 3, 31), dt.date(start_year, 4, 1),
                  "financial_year", fy_label(start_year))


def rolling_12m(fy_start_year: int, q: int) -> Period:
    """The 12 months ending with the given quarter (NDTMS rolling measures)."""
    last = quarter(fy_start_year, q)
    # First day of the month 11 months before the end month.
    months = last.end.year * 12 + last.end.month - 1 - 11
    start = dt.date(months // 12, months % 12 + 1, 1)
    return Period(last.end, start, "rolling_12m", f"12 months to {last.label}")


def calendar_year(year: int) -> Period:
    return Period(dt.date(year, 12, 31), dt.date(year, 1, 1), "calendar_year", str(year))


def pooled_3y(first_year: int) -> Period:
    return Period(dt.date(first_year + 2, 12, 31), dt.date(first_year, 1, 1), "pooled_3y",
                  f"{first_year} - {(first_year + 2) % 100:02d}")


def quarter_of(date: dt.date) -> Period:
    """The financial-year quarter containing a date."""
    fy = date.year if date.month >= 4 else date.year - 1
    q = ((date.month - 4) % 12) // 3 + 1
    return quarter(fy, q)


def short_label(label: str) -> str:
    """A period label short enough for a card: '12 months to 2024/25 Q1' -> '2024/25 Q1'."""
    return label.removeprefix("12 months to ")


# --- Parsing ---------------------------------------------------------------------------

_DASH = r"\s*[-\u2013\u2014/]\s*"  # hyphen, en dash, em dash or slash between years
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_name) if m})


def _century(two_or_four: str, after: int) -> int:
    """Expand a 2-digit year so that it follows `after` ("2024/25" -> 2025)."""
    value = int(two_or_four)
    if len(two_or_four) == 4:
        return value
    candidate = after - after % 100 + value
    return candidate if candidate > after else candidate + 100


def _fy_start(first: str, second: str, text: str) -> int:
    start = int(first)
    end = _century(second, start)
    if end != start + 1:
        raise PeriodError(f"'{text}' is not a financial year: {start} is not followed by {end}")
    return start


_PATTERNS: list[tuple[re.Pattern, str]] = [
    # "Year ending March 2024", "12 months to June 2024" (ONS and Home Office style).
    (re.compile(r"^(?:year ending|year to|year ended|12 months ending|12 months to|"
                r"rolling 12 months ending|rolling 12 months to)\s+([a-z]+)\s+(\d{4})$", re.I),
     "year_ending"),
    # "Jul 2023 - Jun 2024", "April 2024 to March 2025".
    (re.compile(r"^([a-z]+)\s+(\d{4})\s*(?:-|\u2013|\u2014|to)\s*([a-z]+)\s+(\d{4})$", re.I),
     "month_range"),
    (re.compile(r"^(?:fy|financial year)\s*(.+)$", re.I), "fy_prefix"),
    (re.compile(r"^(?:12 months to|year to|rolling 12 months to)\s+(.+)$", re.I), "rolling"),
    (re.compile(rf"^(\d{{4}}){_DASH}(\d{{2}}|\d{{4}})\s*q([1-4])$", re.I), "fyq"),
    (re.compile(rf"^q([1-4])\s*(\d{{4}}){_DASH}(\d{{2}}|\d{{4}})$", re.I), "qfy"),
    (re.compile(r"^([a-z]+)\s*(?:-|\u2013|to)\s*([a-z]+)\s+(\d{4})$", re.I), "months"),
    (re.compile(r"^(\d{4})\s*[-\u2013\u2014]\s*(\d{2})$"), "dash2"),
    (re.compile(r"^(\d{4})\s*/\s*(\d{2}|\d{4})$"), "fy"),
    (re.compile(r"^(\d{4})\s*[-\u2013\u2014]\s*(\d{4})$"), "dash4"),
    (re.compile(r"^(\d{4})$"), "year"),
]


def parse_period(text: str) -> Period:
    """Read a period written in any common style; raise PeriodError if it cannot be read.

    "2021 - 23" (spaces round the dash, as Fingertips writes pooled years) is a 3-year
    pooled period; "2021-22" or "2021/22" is a financial year.
    """
    return _parse_text(str(text))


# A large file is checked a chunk at a time, and every chunk holds the same few hundred
# period cells: each is read once per process (Period is immutable, so sharing is safe).
@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Period:
    raw = text.strip()
    cleaned = re.sub(r"\s+", " ", raw)
    cleaned = re.sub(r"\bquarter\s*([1-4])\b", r"Q\1", cleaned, flags=re.I)
    for pattern, form in _PATTERNS:
        m = pattern.match(cleaned)
        if not m:
            continue
        if form == "year_ending":
            return _year_ending(m.group(1), int(m.group(2)), raw)
        if form == "month_range":
            return _from_month_year_range(m.group(1), int(m.group(2)), m.group(3),
                                          int(m.group(4)), raw)
        if form == "fy_prefix":
            inner = parse_period(m.group(1))
            if inner.kind != "financial_year":
                raise PeriodError(f"'{raw}' says financial year but is not one")
            return inner
        if form == "rolling":
            inner = parse_period(m.group(1))
            if inner.kind != "quarter":
                raise PeriodError(f"'{raw}': a rolling period must end with a quarter")
            return rolling_12m(*_fy_and_q(inner))
        if form == "fyq":
            return quarter(_fy_start(m.group(1), m.group(2), raw), int(m.group(3)))
        if form == "qfy":
            return quarter(_fy_start(m.group(2), m.group(3), raw), int(m.group(1)))
        if form == "months":
            return _from_month_range(m.group(1), m.group(2), int(m.group(3)), raw)
        if form == "dash2":
            start, end = int(m.group(1)), _century(m.group(2), int(m.group(1)))
            if end == start + 1:
                return financial_year(start)
            if end == start + 2:
                return pooled_3y(start)
            raise PeriodError(f"'{raw}' is neither a financial year nor a 3-year period")
        if form == "fy":
            return financial_year(_fy_start(m.group(1), m.group(2), raw))
        if form == "dash4":
            start, end = int(m.group(1)), int(m.group(2))
            if end == start + 1:
                return financial_year(start)
            if end == start + 2:
                return pooled_3y(start)
            raise PeriodError(f"'{raw}' is neither a financial year nor a 3-year period")
        if form == "year":
            return calendar_year(int(m.group(1)))
    raise PeriodError(f"'{raw}' is not a period this dashboard can read "
                      "(examples: 2024/25 Q1, Apr-Jun 2024, 2024/25, 2024, 2021 - 23)")


def _fy_and_q(p: Period) -> tuple[int, int]:
    fy = p.start.year if p.start.month >= 4 else p.start.year - 1
    return fy, ((p.start.month - 4) % 12) // 3 + 1


def _from_month_range(first: str, last: str, year: int, raw: str) -> Period:
    try:
        m1, m2 = _MONTHS[first.lower()], _MONTHS[last.lower()]
    except KeyError:
        raise PeriodError(f"'{raw}': unknown month name") from None
    span = (m2 - m1) % 12
    if span != 2 or (m1 - 1) % 3 != 0:
        raise PeriodError(f"'{raw}' is not a calendar quarter (such as Apr-Jun 2024)")
    # "Jan-Mar 2025" is Q4 of 2024/25; the year written is the year of the months.
    return quarter_of(dt.date(year, m1, 1))


def _month(name: str, raw: str) -> int:
    try:
        return _MONTHS[name.lower()]
    except KeyError:
        raise PeriodError(f"'{raw}': unknown month name '{name}'") from None


def _twelve_months_to(end_month: int, end_year: int, raw: str) -> Period:
    """The 12 months ending with a month: a financial year if it ends in March, otherwise
    a rolling 12 months ending with a quarter."""
    if end_month == 3:
        return financial_year(end_year - 1)
    if end_month not in (6, 9, 12):
        raise PeriodError(f"'{raw}' does not end with a quarter (March, June, September "
                          "or December)")
    return rolling_12m(*_fy_and_q(quarter_of(dt.date(end_year, end_month, 1))))


def _year_ending(month: str, year: int, raw: str) -> Period:
    return _twelve_months_to(_month(month, raw), year, raw)


def _from_month_year_range(first: str, first_year: int, last: str, last_year: int,
                           raw: str) -> Period:
    m1, m2 = _month(first, raw), _month(last, raw)
    span = (last_year * 12 + m2) - (first_year * 12 + m1) + 1
    if span == 3 and (m1 - 1) % 3 == 0:
        return quarter_of(dt.date(first_year, m1, 1))
    if span == 12:
        return _twelve_months_to(m2, last_year, raw)
    raise PeriodError(f"'{raw}' is neither a quarter nor 12 months")
