"""What changed since the last board: the metrics whose latest figure moved significantly
from the figure the board saw a quarter earlier.

A board meets quarterly, so "the last board" saw the figures up to the end of the
previous quarter. For each metric the figure then and the figure now are compared with
the test its kind of figure calls for (metrics.views.headlines.change_test: Newcombe's
interval for proportions, the exact conditional Poisson test for rates of counts, the
exact Poisson test for activity counts, non-overlapping 95% intervals for standardised
rates). A metric with no new figure since then has not changed; a figure hidden as a
small count (or a rate withheld on few events) is not compared, and is counted as such,
never guessed round. Pass the values public mode shows: what is compared is what is
published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from metrics.reference import catalogue, formatting, periods
from metrics.reference.catalogue import Indicator
from metrics.views import explorer, headlines


@dataclass(frozen=True)
class Change:
    indicator: Indicator
    area_code: str          # the area whose figures these are (area, force or England)
    where: str              # whose figure when not the area's own: a police force area,
                            # England; "" for the area's own
    then_period: str
    then_value: float
    now_period: str
    now_value: float
    test: str               # a key of headlines.TEST_NAMES

    @property
    def then_text(self) -> str:
        return formatting.with_unit(self.then_value, self.indicator)

    @property
    def now_text(self) -> str:
        return formatting.with_unit(self.now_value, self.indicator)

    @property
    def verdict(self) -> str:
        """'better' or 'worse' for a metric with a polarity, 'increase' or 'decrease' for
        an activity count (more closures may mean more lines, not better policing)."""
        up = self.now_value > self.then_value
        if self.indicator.ci_method == "none" or self.indicator.polarity == "none":
            return "increase" if up else "decrease"
        return "better" if up == (self.indicator.polarity == "high") else "worse"

    @property
    def change_text(self) -> str:
        return formatting.change(self.now_value - self.then_value, self.indicator)

    @property
    def test_name(self) -> str:
        return headlines.TEST_NAMES[self.test]


@dataclass
class SinceLastBoard:
    last_board: str                       # the quarter the last board's figures went up to
    changes: list[Change] = field(default_factory=list)
    compared: int = 0                     # metrics with a new figure, tested
    not_compared: list[str] = field(default_factory=list)   # new figure, hidden or withheld

    def sentences(self) -> list[str]:
        since = f"the last board (figures up to {self.last_board})"
        if not self.compared and not self.not_compared:
            return [f"No metric has a new figure since {since}."]
        if not self.compared:
            out = [f"No new figure since {since} could be compared."]
        elif self.changes:
            rest = "" if len(self.changes) == self.compared else \
                "; the others' changes are within what chance would give"
            out = [f"{len(self.changes)} of the {formatting.plural(self.compared, 'metric')} "
                   f"with a new figure since {since} moved significantly (95% "
                   f"confidence){rest}."]
        else:
            out = [f"No metric's figure moved significantly since {since}: the changes in "
                   f"the {formatting.plural(self.compared, 'metric')} with a new figure "
                   "are all within what chance would give (95% confidence)."]
        if self.not_compared:
            out.append("Not compared, because a figure is not published or rests on "
                       f"numbers too small to publish: {', '.join(self.not_compared)}.")
        return out

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "Metric": f"{c.indicator.title} ({c.where})" if c.where else c.indicator.title,
            f"Last board ({self.last_board})": f"{c.then_text} ({c.then_period})",
            "Now": f"{c.now_text} ({c.now_period})",
            "Change": f"{c.change_text}, {c.verdict}",
            "Test": c.test_name} for c in self.changes],
            columns=["Metric", f"Last board ({self.last_board})", "Now", "Change", "Test"])


def last_board_end(period_end: dt.date) -> periods.Period:
    """The quarter before the one ending at `period_end`: what the last board saw."""
    current = periods.quarter_of(period_end)
    return periods.quarter_of(current.start - dt.timedelta(days=1))


def _latest(rows: pd.DataFrame, up_to: dt.date) -> pd.Series | None:
    rows = rows[explorer._until(rows, up_to)]
    return None if rows.empty else rows.sort_values("period_end").iloc[-1]


def since_last_board(values: pd.DataFrame, area_code: str, areas: pd.DataFrame,
                     period_end: dt.date, threshold: int,
                     previous: periods.Period | None = None) -> SinceLastBoard:
    """Every catalogue metric's figure now (up to `period_end`) against the figure the
    last board saw, for the area (its police force area, or England, where the metric is
    published only there). `values`: area totals, protected as public mode shows them.
    `previous`: the quarter the last board's figures went up to, when the board did not
    meet a quarter ago (default: the quarter before the one ending at `period_end`)."""
    previous = previous or last_board_end(period_end)
    out = SinceLastBoard(previous.label)
    shown_of = {ind.id: explorer.shown_area(ind, area_code, areas)[0]
                for ind in catalogue.INDICATORS}
    # Only the areas shown are read (suppression works row by row, so taking them first
    # gives the same rows): the whole table is every area's history.
    values = values[values["area_code"].isin(set(shown_of.values()))]
    for ind in catalogue.INDICATORS:
        shown = shown_of[ind.id]
        rows = explorer.metric_rows(values, ind)
        rows = explorer.suppress(rows[rows["area_code"] == shown], ind, threshold)
        now, then = _latest(rows, period_end), _latest(rows, previous.end)
        if now is None or then is None or now["period"] == then["period"]:
            continue                      # nothing new since the last board
        significant, test = headlines.change_test(ind, then, now)
        if not test:
            out.not_compared.append(ind.title)
            continue
        out.compared += 1
        if significant:
            where = "" if shown == area_code else explorer.shown_name(ind, area_code, areas)
            out.changes.append(Change(ind, shown, where,
                                      str(then["period"]), float(then["value"]),
                                      str(now["period"]), float(now["value"]), test))
    return out
