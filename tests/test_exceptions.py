"""The exceptions list (metrics.views.exceptions): each rule on constructed series."""

import datetime as dt

import numpy as np
import pandas as pd

from metrics import stats
from metrics.reference import catalogue, periods
from metrics.views import exceptions as ex

HOME, ENGLAND = "E10000013", "E92000001"
AREAS = pd.DataFrame({
    "area_code": [HOME, ENGLAND, "E12000009", "E23000037"],
    "area_name": ["Gloucestershire", "England", "South West", "Gloucestershire"],
    "area_type": ["utla", "country", "region", "pfa"],
    "region_code": ["E12000009", "", "", ""],
    "pfa_code": ["E23000037", "", "", ""], "pfa_name": ["Gloucestershire", "", "", ""]})
QUARTERLY = catalogue.get("completions_non_opiate")     # quarterly proportion, higher better
CONTINUITY = catalogue.get("continuity_of_care")         # rolling 12 months, with a target
TARGETS = {"continuity_of_care": (0.75, dt.date(2025, 3, 31))}


def _quarters(count: int, last: periods.Period) -> list[periods.Period]:
    out = [last]
    while len(out) < count:
        out.insert(0, periods.quarter_of(out[0].start - dt.timedelta(days=1)))
    return out


LAST = periods.quarter(2026, 1)                       # 2026/27 Q1, ending 30 June 2026


def _rows(ind, area, rates, denominator=1000, last=LAST):
    """One row per quarter ending at `last`, each rate (%) of `denominator` people, with
    Wilson intervals as published."""
    out = []
    for q, rate in zip(_quarters(len(rates), last), rates):
        x = round(rate / 100 * denominator)
        lo95, up95 = stats.wilson_ci(x, denominator, 0.95)
        lo998, up998 = stats.wilson_ci(x, denominator, 0.998)
        label = q.label if ind.period_kind == "quarter" else f"12 months to {q.label}"
        out.append(dict(indicator_id=ind.id, area_code=area, period=label,
                        period_kind=ind.period_kind,
                        period_start=pd.Timestamp(q.start if ind.period_kind == "quarter"
                                                  else q.end - dt.timedelta(days=364)),
                        period_end=pd.Timestamp(q.end), numerator=float(x),
                        denominator=float(denominator), value=x / denominator * 100,
                        lower95=lo95 * 100, upper95=up95 * 100, lower998=lo998 * 100,
                        upper998=up998 * 100, value_note=None))
    return out


def _values(*parts) -> pd.DataFrame:
    return pd.DataFrame([row for part in parts for row in part])


def _run(values, **kw):
    kw.setdefault("today", dt.date(2026, 9, 1))
    return ex.exceptions(values, HOME, "Gloucestershire", AREAS, LAST.end, LAST.label, 5,
                         targets=TARGETS, indicators=(QUARTERLY, CONTINUITY), **kw)


def _rules(result, side=None):
    return [(f.indicator.id, f.rule) for f in result.flags if side in (None, f.side)]


FLAT = [40.0] * 16


def test_all_clear_is_said_in_words():
    result = _run(_values(_rows(QUARTERLY, HOME, FLAT), _rows(QUARTERLY, ENGLAND, FLAT)))
    assert result.flags == []
    assert result.assessed == 1 and result.not_loaded == [CONTINUITY.title]
    assert result.summary().startswith("All clear: of the 1 metric with figures for "
                                       "Gloucestershire up to 2026/27 Q1, none is both "
                                       "significantly worse than England")


def test_worse_than_england_and_getting_worse():
    # 40% falling by 3 points a quarter to 28%, on 1,000 a quarter; England steady at 40%.
    falling = [40.0] * 11 + [40.0, 37.0, 34.0, 31.0, 28.0]
    result = _run(_values(_rows(QUARTERLY, HOME, falling), _rows(QUARTERLY, ENGLAND, FLAT)))
    flag = [f for f in result.flags if f.rule == "worse_and_worsening"]
    assert len(flag) == 1 and flag[0].side == "concern"
    assert "against England 40.0%: worse than England (99.8% confidence)" in flag[0].detail
    assert "recent trend decreasing and getting worse (chi-square" in flag[0].detail
    assert "2025/26 Q1 to 2026/27 Q1" in flag[0].detail
    assert "1 of the 1 metric" in result.summary()
    table = result.table("concern")
    assert "Worse than England and getting worse" in table["Rule"].tolist()


def test_worse_but_steady_is_not_a_red_red_and_worsening_but_better_is_not_either():
    steady_worse = [30.0] * 16
    result = _run(_values(_rows(QUARTERLY, HOME, steady_worse), _rows(QUARTERLY, ENGLAND, FLAT)))
    assert "worse_and_worsening" not in [r for _, r in _rules(result)]
    # Falling, but still significantly better than England (60% against 40%).
    falling_better = [72.0] * 11 + [72.0, 69.0, 66.0, 63.0, 60.0]
    result = _run(_values(_rows(QUARTERLY, HOME, falling_better),
                          _rows(QUARTERLY, ENGLAND, FLAT)))
    assert "worse_and_worsening" not in [r for _, r in _rules(result)]


def test_comparator_group_as_the_benchmark():
    # 34% falling against England at 30% (better) but a comparator group at 45% (worse).
    falling = [40.0] * 11 + [40.0, 38.5, 37.0, 35.5, 34.0]
    other = "E10000034"
    values = _values(_rows(QUARTERLY, HOME, falling), _rows(QUARTERLY, ENGLAND, [30.0] * 16),
                     _rows(QUARTERLY, other, [45.0] * 16, denominator=5000))
    assert "worse_and_worsening" not in [r for _, r in _rules(_run(values))]
    result = _run(values, comparators=(other,))
    flag = [f for f in result.flags if f.rule == "worse_and_worsening"]
    assert flag and "against the comparator group 45.0%" in flag[0].detail
    assert result.rule_words("worse_and_worsening") == \
        "Worse than the comparator group and getting worse"


def test_special_cause_at_the_latest_point_names_the_rule():
    # Steady around 40% with small wobbles, then a latest quarter far below the limits.
    wobble = [40.0, 41.0, 39.0, 40.0, 41.0, 39.0, 40.0, 41.0, 39.0, 40.0, 41.0, 39.0,
              40.0, 41.0, 39.0, 25.0]
    result = _run(_values(_rows(QUARTERLY, HOME, wobble), _rows(QUARTERLY, ENGLAND, FLAT)))
    spc = [f for f in result.flags if f.rule == "spc"]
    assert len(spc) == 1 and spc[0].side == "concern" and spc[0].period == "2026/27 Q1"
    assert "special cause (concern): below the lower process limit" in spc[0].detail
    # The same point earlier in the series (not the latest) is not news.
    moved = wobble[:-1] + [40.0]
    moved[-4] = 25.0
    result = _run(_values(_rows(QUARTERLY, HOME, moved), _rows(QUARTERLY, ENGLAND, FLAT)))
    assert "spc" not in [r for _, r in _rules(result)]


def test_seven_rising_points_are_an_improvement_by_the_trend_rule():
    rising = [40.0, 41.0, 39.0, 40.0, 41.0, 39.0, 40.0, 41.0, 39.0, 40.0, 40.5, 41.0,
              41.5, 42.0, 42.5, 43.0]
    result = _run(_values(_rows(QUARTERLY, HOME, rising, denominator=20000),
                          _rows(QUARTERLY, ENGLAND, FLAT)))
    spc = [f for f in result.flags if f.rule == "spc"]
    assert spc and spc[0].side == "improvement"
    assert "7 or more points in a row rising" in spc[0].detail


def test_target_missed_at_its_date_and_met():
    # Rolling 12 months at 60% through 31 March 2025 (2024/25 Q4) and after.
    values = _values(_rows(CONTINUITY, HOME, [60.0] * 10), _rows(CONTINUITY, ENGLAND, FLAT[:10]))
    result = _run(values)
    target = [f for f in result.flags if f.rule == "target"]
    assert len(target) == 1 and target[0].side == "concern"
    assert target[0].period == "12 months to 2024/25 Q4"
    assert target[0].detail.startswith("Missed the 75% target by 31 March 2025: 60.0% in "
                                       "12 months to 2024/25 Q4, 15.0 points short; now "
                                       "60.0% in 12 months to 2026/27 Q1.")
    met = _run(_values(_rows(CONTINUITY, HOME, [80.0] * 10),
                       _rows(CONTINUITY, ENGLAND, FLAT[:10])))
    target = [f for f in met.flags if f.rule == "target"]
    assert len(target) == 1 and target[0].side == "improvement"
    assert target[0].detail.startswith("Met the 75% target")


def test_target_crossed_before_its_date():
    targets = {"continuity_of_care": (0.75, dt.date(2027, 3, 31))}
    values = _values(_rows(CONTINUITY, HOME, [70.0] * 8 + [74.0, 76.0]),
                     _rows(CONTINUITY, ENGLAND, FLAT[:10]))
    result = ex.exceptions(values, HOME, "Gloucestershire", AREAS, LAST.end, LAST.label, 5,
                           targets=targets, indicators=(CONTINUITY,), today=dt.date(2026, 9, 1))
    target = [f for f in result.flags if f.rule == "target"]
    assert len(target) == 1 and target[0].side == "improvement"
    assert target[0].detail == ("Reached the 75% target by 31 March 2027: 74.0% in 12 "
                                "months to 2025/26 Q4, 76.0% in 12 months to 2026/27 Q1.")
    fell = _values(_rows(CONTINUITY, HOME, [80.0] * 9 + [74.0]),
                   _rows(CONTINUITY, ENGLAND, FLAT[:10]))
    result = ex.exceptions(fell, HOME, "Gloucestershire", AREAS, LAST.end, LAST.label, 5,
                           targets=targets, indicators=(CONTINUITY,), today=dt.date(2026, 9, 1))
    assert [f.side for f in result.flags if f.rule == "target"] == ["concern"]


def test_changed_since_the_last_board_and_the_board_date_chosen():
    # Flat at 40%, then 46% in the latest quarter: significant against the quarter before.
    series = [40.0] * 15 + [46.0]
    values = _values(_rows(QUARTERLY, HOME, series), _rows(QUARTERLY, ENGLAND, FLAT))
    result = _run(values)
    change = [f for f in result.flags if f.rule == "since_last_board"]
    assert len(change) == 1 and change[0].side == "improvement"
    assert "40.0% in 2025/26 Q4 to 46.0% in 2026/27 Q1" in change[0].detail
    assert "Newcombe" in change[0].detail
    assert result.last_board == "2025/26 Q4"
    # A board that last met in August 2025 saw figures up to 2025/26 Q1.
    board = ex.last_board_quarter(dt.date(2025, 8, 14))
    assert board.label == "2025/26 Q1"
    assert ex.last_board_quarter(dt.date(2025, 6, 30)).label == "2025/26 Q1"
    falling = [40.0] * 13 + [34.0, 34.0, 34.0]
    values = _values(_rows(QUARTERLY, HOME, falling), _rows(QUARTERLY, ENGLAND, FLAT))
    assert "since_last_board" not in [r for _, r in _rules(_run(values))]
    result = _run(values, last_board=board)
    change = [f for f in result.flags if f.rule == "since_last_board"]
    assert change and change[0].side == "concern"
    assert "40.0% in 2025/26 Q1 to 34.0% in 2026/27 Q1" in change[0].detail


def test_positive_list_holds_a_significant_improving_trend():
    rising = [40.0] * 11 + [40.0, 43.0, 46.0, 49.0, 52.0]
    result = _run(_values(_rows(QUARTERLY, HOME, rising), _rows(QUARTERLY, ENGLAND, FLAT)))
    better = [f for f in result.flags if f.rule == "better_and_improving"]
    assert better and better[0].side == "improvement"
    assert "increasing and getting better" in better[0].detail
    assert not result.of("concern")
    assert "improved significantly" in result.summary()


def test_a_hidden_figure_is_never_tested():
    # The latest quarter is 4 of 10 (a small count): public mode hides it, so the
    # special cause it would make is not flagged, and nothing shows the count.
    wobble = [40.0, 41.0, 39.0] * 5 + [40.0]
    rows = _rows(QUARTERLY, HOME, wobble)
    rows[-1] |= dict(numerator=4.0, denominator=10.0, value=40.0)
    rows[-2] |= dict(numerator=9.0, denominator=10.0, value=90.0)
    values = _values(rows, _rows(QUARTERLY, ENGLAND, FLAT))
    result = _run(values)
    assert "2026/27 Q1" not in [f.period for f in result.flags]
    assert not any("2026/27 Q1" in f.detail for f in result.flags)
    # With public mode off (threshold 1) the same figures are tested.
    loose = ex.exceptions(values, HOME, "Gloucestershire", AREAS, LAST.end, LAST.label, 1,
                          targets=TARGETS, indicators=(QUARTERLY,), today=dt.date(2026, 9, 1))
    assert any(f.period == "2026/27 Q1" for f in loose.flags)


def test_activity_counts_are_movements_not_better_or_worse():
    ind = catalogue.get("county_lines_closed")
    counts = [10, 11, 9, 10, 11, 9, 10, 11, 9, 10, 11, 9, 10, 11, 9, 40]
    rows = []
    for q, c in zip(_quarters(16, LAST), counts):
        rows.append(dict(indicator_id=ind.id, area_code="E23000037", period=q.label,
                         period_kind="quarter", period_start=pd.Timestamp(q.start),
                         period_end=pd.Timestamp(q.end), numerator=np.nan,
                         denominator=np.nan, value=float(c), lower95=np.nan,
                         upper95=np.nan, lower998=np.nan, upper998=np.nan, value_note=None))
    result = ex.exceptions(pd.DataFrame(rows), HOME, "Gloucestershire", AREAS, LAST.end,
                           LAST.label, 5, indicators=(ind,), today=dt.date(2026, 9, 1))
    assert {f.side for f in result.flags} == {"movement"}
    assert {f.rule for f in result.flags} == {"spc", "since_last_board"}
    assert all(f.where == "Gloucestershire police force area" for f in result.flags)
    assert result.summary().startswith("All clear")


# --- The page ---------------------------------------------------------------------------

import pytest  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from metrics.settings import PROJECT_ROOT  # noqa: E402


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory):
    from tests.support import app_on_demo_data
    with app_on_demo_data(tmp_path_factory.mktemp("cdp_data")) as data_dir:
        yield data_dir


def _page(**query) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=180)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/exceptions.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_page_lists_the_flags_with_their_rules(demo_data_dir):
    at = _page()
    assert at.title[0].value == "What needs attention: Gloucestershire"
    verdict = [a.value for a in (*at.warning, *at.success)
               if "metric" in str(a.value) and "Demonstration" not in str(a.value)]
    assert verdict and "with figures for Gloucestershire up to" in verdict[0]
    cards = [str(m.value).replace("\\", "") for m in at.markdown
             if str(m.value).startswith("**")]
    rules = {c.split(" · ")[1] for c in cards if c.count(" · ") == 2}
    assert rules and rules <= {"Worse than England and getting worse",
                               "Getting better (recent trend)",
                               "Special cause at the latest point (SPC)", "Target",
                               "Changed since the last board"}
    # The demonstration area missed the continuity target at its date.
    words = " ".join(str(m.value) for m in at.markdown).replace("\\", "")
    assert "Missed the 75% target by 31 March 2025" in words
    assert at.selectbox(key="board").value == "2025/26 Q4"


def test_page_takes_the_last_board_and_benchmark_from_the_url(demo_data_dir):
    at = _page(board="2025/26 Q2", benchmark="group")
    assert at.selectbox(key="board").value == "2025/26 Q2"
    assert at.selectbox(key="benchmark").value == "group"
    # The method names the quarter the changes were tested against.
    assert any("figures for\n   2025/26 Q2" in str(m.value) or "2025/26 Q2, by Newcombe" in
               " ".join(str(m.value).split()) for m in at.markdown)


def test_presentation_has_a_what_needs_attention_slide(demo_data_dir):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/present.py").run()
    for _ in range(4):
        bodies = [str(h.proto.body) for h in at.get("html")]
        if any('class="slide-title">What needs attention<' in b for b in bodies):
            break
        at.button(key="slide_next").click().run()
        assert not at.exception, [e.message for e in at.exception]
    else:
        raise AssertionError("no 'What needs attention' slide in the first slides")
    text = " ".join(bodies)
    assert "of the 28 metrics with figures for Gloucestershire up to" in text
    assert "Continuity of care: prison to community, target: Missed the 75% target" in text
    assert "Improved significantly: " in text


def test_the_last_board_meeting_date_picks_the_quarter_it_saw():
    """board.last_meeting: the latest quarter that had ended before the board met."""
    from ui.exceptions_page import _last_board_default
    quarters = ["2026/27 Q1", "2025/26 Q4", "2025/26 Q3", "2025/26 Q2"]   # latest first
    assert _last_board_default(quarters, dt.date(2026, 2, 10)) == "2025/26 Q3"
    assert _last_board_default(quarters, dt.date(2026, 4, 1)) == "2025/26 Q4"
    assert _last_board_default(quarters, None) == "2026/27 Q1"
    # A meeting before every quarter offered: the earliest is not forced; the latest stays.
    assert _last_board_default(quarters, dt.date(2020, 1, 1)) == "2026/27 Q1"


def test_a_service_change_restarts_the_spc_limits_in_the_rule_as_on_the_chart():
    """Eight quarters near 30%, a new provider, eight near 45%: against one set of limits
    the run above the mean is special cause; with the analysts' service change note the
    limits restart at its quarter and the new level is common cause, on the SPC chart's
    own computation (explorer.spc_frame) and in the exceptions rule alike."""
    from metrics.render import charts
    from metrics.views import explorer
    step = [30.0, 31.0, 29.0, 30.0, 31.0, 29.0, 30.0, 31.0,
            45.0, 46.0, 44.0, 45.0, 46.0, 44.0, 45.0, 46.0]
    values = _values(_rows(QUARTERLY, HOME, step), _rows(QUARTERLY, ENGLAND, FLAT))
    change_day = _quarters(16, LAST)[8].start
    notes = pd.DataFrame({"date": [pd.Timestamp(change_day)], "text": ["New provider"],
                          "metric_ids": [QUARTERLY.id], "service_change": [True],
                          "area_code": [HOME]})
    before = _run(values)
    assert ("completions_non_opiate", "spc") in _rules(before)
    after = _run(values, notes=notes)
    assert ("completions_non_opiate", "spc") not in _rules(after)
    # A plain note (not a service change) changes nothing.
    plain_note = _run(values, notes=notes.assign(service_change=[False]))
    assert _rules(plain_note) == _rules(before)

    frame, summary = explorer.spc_frame(values, QUARTERLY, HOME, LAST.end, 5, notes=notes)
    assert list(frame["rebase_group"]) == [0] * 8 + [1] * 8
    assert frame["mean"].iloc[0] == 30.125 and frame["mean"].iloc[-1] == 45.125
    assert summary["variation"] == "common_cause"
    quarter = _quarters(16, LAST)[8].label
    assert f"Limits recalculated from {quarter} (service change: New provider)" in \
        summary["words"]
    # The chart breaks its mean and limits at the change (one line per period).
    spec = charts.spc_chart(frame, "%").to_dict(validate=False)
    assert '"rebase_group"' in str(spec).replace("'", '"')
    # A change dated before the first point or after the last moves nothing.
    early = notes.assign(date=[pd.Timestamp("2000-01-01")])
    assert explorer.service_changes(early, frame["period_start"]) == []
    # The notes say so wherever they are listed.
    assert "service change" in ex.note_words(notes, QUARTERLY.id)
