import datetime as dt

import pandas as pd
import pytest

from metrics.reference import catalogue
from metrics.views import headlines

UP_TO = dt.date(2026, 6, 30)
AREAS = pd.DataFrame({"area_code": ["E10000013", "E92000001"],
                      "area_name": ["Gloucestershire", "England"], "area_type": ["utla", "country"],
                      "pfa_code": ["E23000037", ""], "pfa_name": ["Gloucestershire", ""]})


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II example (e):
    # 56/70 - 48/80 = 0.2, method 10 interval 0.0524 to 0.3339.
    lower, upper = headlines.newcombe_difference_ci(56, 70, 48, 80)
    assert lower == pytest.approx(0.0524, abs=5e-4)
    assert upper == pytest.approx(0.3339, abs=5e-4)


def _rows(ind, values):
    """Quarterly rows for Gloucestershire and England: (period, end, num, den, l, u)."""
    out = []
    for area, period, end, num, den, value, low, up in values:
        out.append(dict(indicator_id=ind.id, area_code=area, period=period,
                        period_kind=ind.period_kind, period_end=pd.Timestamp(end),
                        numerator=num, denominator=den, value=value, lower95=low, upper95=up,
                        lower998=low - 1, upper998=up + 1, value_note=None))
    return pd.DataFrame(out)


def _quarters(num_now, den_now, num_then, den_then):
    ind = catalogue.get("completions_non_opiate")
    rows = []
    for i, (q, end) in enumerate([("2025/26 Q1", "2025-06-30"), ("2025/26 Q2", "2025-09-30"),
                                  ("2025/26 Q3", "2025-12-31"), ("2025/26 Q4", "2026-03-31"),
                                  ("2026/27 Q1", "2026-06-30")]):
        num, den = (num_then, den_then) if i == 0 else (num_now, den_now)
        rows.append(("E10000013", q, end, num, den, num / den * 100, num / den * 100 - 4,
                     num / den * 100 + 4))
        rows.append(("E92000001", q, end, 3000, 10000, 30.0, 29.1, 30.9))
    return ind, _rows(ind, rows)


def test_a_significant_change_is_stated_as_real():
    ind, values = _quarters(num_now=300, den_now=600, num_then=150, den_then=600)
    text = " ".join(headlines.metric_sentences(values, ind, "E10000013", "Gloucestershire",
                                               AREAS, UP_TO, 5))
    assert "significantly up on 2025/26 Q1" in text
    assert "significantly better than England" in text


def test_a_change_that_is_not_significant_is_called_similar():
    ind, values = _quarters(num_now=31, den_now=100, num_then=29, den_then=100)
    text = " ".join(headlines.metric_sentences(values, ind, "E10000013", "Gloucestershire",
                                               AREAS, UP_TO, 5))
    assert "not significantly different from 2025/26 Q1" in text
    assert "significantly up" not in text and "significantly down" not in text
    assert "similar to England" in text  # 31% with interval 27-35 contains England's 30%


def test_small_counts_are_never_put_in_a_sentence():
    ind, values = _quarters(num_now=3, den_now=40, num_then=2, den_then=40)
    text = " ".join(headlines.metric_sentences(values, ind, "E10000013", "Gloucestershire",
                                               AREAS, UP_TO, 5))
    assert "too small to publish" in text
    assert "7.5" not in text and "3" not in text.replace("2026/27", "")


def test_poisson_rate_change_uses_the_exact_conditional_test():
    ind = catalogue.get("neighbourhood_crime")
    earlier = pd.Series(dict(numerator=100, denominator=100_000, value=1.0))
    same = pd.Series(dict(numerator=110, denominator=100_000, value=1.1))
    doubled = pd.Series(dict(numerator=200, denominator=100_000, value=2.0))
    assert not headlines.change_is_significant(ind, earlier, same)
    assert headlines.change_is_significant(ind, earlier, doubled)


def test_continuity_sentence_reads_like_the_board_paper():
    text = headlines.continuity_sentence(0.48, "12 months to 2025/26 Q2", 0.75,
                                         dt.date(2025, 3, 31), 0.53, "Gloucestershire")
    assert text.startswith("Continuity of care in Gloucestershire was 48% in the 12 months "
                           "to 2025/26 Q2, 27 points below the 75% target")
    assert text.endswith("; England 53%.")


def _deaths(count_now):
    """Pooled drug deaths as the demonstration set writes them: fewer than 10 deaths get
    no rate, only the count and the note (metrics.demo.DSR_NOTE)."""
    ind = catalogue.get("drug_misuse_deaths")
    nan = float("nan")
    rows = _rows(ind, [
        ("E10000013", "2023 - 25", "2025-12-31", count_now, 120_000, nan, nan, nan),
        ("E10000013", "2022 - 24", "2024-12-31", 12, 120_000, 9.6, 5.0, 16.0),
        ("E92000001", "2023 - 25", "2025-12-31", 9_300, 170e6, 5.9, 5.8, 6.0)])
    rows["value_note"] = rows["value"].map(
        lambda v: "Rate not calculated: fewer than 10 events" if pd.isna(v) else None)
    return ind, rows


@pytest.mark.parametrize("count, threshold, shown", [(7, 5, "(7)"), (3, 5, "(*)"),
                                                    (3, 1, "(3)")])
def test_a_withheld_rate_is_explained_in_words_not_no_data(count, threshold, shown):
    # As Darlington (7 deaths, 2023-25) and Rutland (a count of 1-4) in the demonstration
    # set: the reason in words, the count only where public mode allows it.
    ind, values = _deaths(count)
    text = " ".join(headlines.metric_sentences(values, ind, "E10000013", "Gloucestershire",
                                               AREAS, UP_TO, threshold))
    assert f"rate not published: fewer than 10 deaths {shown}" in text
    assert "no figure" not in text and "no data" not in text


def test_a_rate_withheld_and_hidden_by_public_mode_still_says_why():
    ind, values = _deaths(3)
    hidden = values["period"] == "2023 - 25"
    values.loc[hidden, "numerator"] = float("nan")   # as metrics.views.explorer.protect
    values["suppressed"] = hidden
    assert headlines.withheld_words(values[hidden].iloc[0], ind, 5) == \
        "rate not published: fewer than 10 deaths (*)"


def test_a_published_rate_or_a_crude_proportion_is_not_called_withheld():
    ind, values = _deaths(7)
    assert headlines.withheld_words(values.iloc[1], ind, 5) is None
    other, rows = _quarters(num_now=30, den_now=40, num_then=20, den_then=40)
    assert headlines.withheld_words(rows.iloc[0], other, 5) is None


def test_the_figures_table_notes_a_withheld_rate_in_the_same_words():
    # Rutland's row said only '*' for the case the card explains.
    from metrics.views import explorer
    ind, values = _deaths(7)
    table = explorer.values_table(values, ind, ["E10000013"], AREAS, UP_TO, 5)
    latest = table[table["Period"] == "2023 - 25"].iloc[0]
    assert latest["Note"] == "Rate not published: fewer than 10 deaths (7)"
    assert pd.isna(table[table["Period"] == "2022 - 24"].iloc[0]["Note"])


@pytest.mark.parametrize("ind_id, earlier, later, significant, test", [
    # Proportions: Newcombe's hybrid score interval (56/70 against 48/80 excludes zero).
    ("treatment_progress", dict(numerator=48, denominator=80, value=60.0),
     dict(numerator=56, denominator=70, value=80.0), True, "newcombe"),
    # Rates of counts: the exact conditional test of two Poisson rates.
    ("neighbourhood_crime", dict(numerator=100, denominator=100_000, value=1.0),
     dict(numerator=110, denominator=100_000, value=1.1), False, "conditional_poisson"),
    # Activity counts: the exact Poisson test of the two counts (30 against 8).
    ("county_lines_closed", dict(value=30.0), dict(value=8.0), True, "exact_poisson"),
    # Standardised rates: 95% intervals that do not overlap.
    ("drug_misuse_deaths", dict(value=5.0, lower95=4.0, upper95=6.0),
     dict(value=7.5, lower95=6.2, upper95=8.9), True, "intervals"),
    # A rate published without its counts falls back to the intervals.
    ("adults_in_treatment", dict(value=500.0, lower95=480.0, upper95=520.0),
     dict(value=510.0, lower95=490.0, upper95=530.0), False, "intervals"),
    # A value hidden as a small count is not tested at all.
    ("treatment_progress", dict(numerator=48, denominator=80, value=60.0),
     dict(numerator=None, denominator=80, value=None), False, ""),
])
def test_each_change_is_tested_by_its_named_method(ind_id, earlier, later, significant,
                                                    test):
    ind = catalogue.get(ind_id)
    got = headlines.change_test(ind, pd.Series(earlier, dtype=object),
                                pd.Series(later, dtype=object))
    assert got == (significant, test)
    assert not test or headlines.TEST_NAMES[test]
    # Activity counts have no interval of their own: the sentence test leaves them out.
    assert headlines.change_is_significant(ind, pd.Series(earlier, dtype=object),
                                           pd.Series(later, dtype=object)) == \
        (significant and ind.ci_method != "none")
