import datetime as dt

import pytest
from hypothesis import given, strategies as st

from metrics.reference import periods
from metrics.reference.periods import PeriodError, parse_period


@pytest.mark.parametrize("text, label, start, end", [
    ("2024/25 Q1", "2024/25 Q1", dt.date(2024, 4, 1), dt.date(2024, 6, 30)),
    ("2024-25 Q4", "2024/25 Q4", dt.date(2025, 1, 1), dt.date(2025, 3, 31)),
    ("Q2 2024/25", "2024/25 Q2", dt.date(2024, 7, 1), dt.date(2024, 9, 30)),
    ("Apr-Jun 2024", "2024/25 Q1", dt.date(2024, 4, 1), dt.date(2024, 6, 30)),
    ("Jan-Mar 2025", "2024/25 Q4", dt.date(2025, 1, 1), dt.date(2025, 3, 31)),
    ("October to December 2024", "2024/25 Q3", dt.date(2024, 10, 1), dt.date(2024, 12, 31)),
    ("2024/25", "2024/25", dt.date(2024, 4, 1), dt.date(2025, 3, 31)),
    ("2024-25", "2024/25", dt.date(2024, 4, 1), dt.date(2025, 3, 31)),
    ("2024/2025", "2024/25", dt.date(2024, 4, 1), dt.date(2025, 3, 31)),
    ("1999/00", "1999/00", dt.date(1999, 4, 1), dt.date(2000, 3, 31)),
    ("2024", "2024", dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
    ("2021 - 23", "2021 - 23", dt.date(2021, 1, 1), dt.date(2023, 12, 31)),
    ("2021 \u2013 23", "2021 - 23", dt.date(2021, 1, 1), dt.date(2023, 12, 31)),
    ("2021-2023", "2021 - 23", dt.date(2021, 1, 1), dt.date(2023, 12, 31)),
    ("12 months to 2024/25 Q1", "12 months to 2024/25 Q1", dt.date(2023, 7, 1),
     dt.date(2024, 6, 30)),
])
def test_reads_common_spellings_into_one_style(text, label, start, end):
    p = parse_period(text)
    assert (p.label, p.start, p.end) == (label, start, end)


@pytest.mark.parametrize("text", ["", "2024/26", "Q5 2024/25", "Feb-Apr 2024", "sometime",
                                  "2024-27", "Apr-Jun"])
def test_refuses_what_it_cannot_read(text):
    with pytest.raises(PeriodError):
        parse_period(text)


def test_periods_sort_chronologically():
    labels = ["2024/25 Q2", "2023/24", "2024/25 Q1", "2023/24 Q4"]
    ordered = [str(p) for p in sorted(parse_period(t) for t in labels)]
    assert ordered == ["2023/24", "2023/24 Q4", "2024/25 Q1", "2024/25 Q2"]


@given(st.integers(1990, 2090), st.integers(1, 4))
def test_quarter_labels_round_trip(fy, q):
    p = periods.quarter(fy, q)
    assert parse_period(p.label) == p
    assert periods.quarter_of(p.start) == p == periods.quarter_of(p.end)
    assert (p.end - p.start).days in (89, 90, 91)


@given(st.integers(1990, 2090), st.integers(1, 4))
def test_rolling_twelve_months_spans_four_quarters(fy, q):
    p = periods.rolling_12m(fy, q)
    assert parse_period(p.label) == p
    assert p.end == periods.quarter(fy, q).end
    assert 364 <= (p.end - p.start).days <= 365
