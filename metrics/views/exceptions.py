"""What the board should act on: every metric of the area flagged by a statistical rule.

Four rules put a metric on the list, each with the figures that decided it:
- "worse_and_worsening": significantly worse than the benchmark (England, or the
  comparator group's pooled figure) by Fingertips' interval rule AND a significant
  Fingertips recent trend in the wrong direction (the "red-reds");
- "spc": a special-cause point at the latest period (Making Data Count, naming the rule);
- "target": a target missed (or met) at its date, or crossed in the latest period;
- "since_last_board": a significant change on the figure the last board saw (the tests
  of metrics.views.changes).
The same rules in the better direction make the positive list (a significant
improvement: a recent trend getting better, a special cause of improvement, a target met
or crossed, a significant change for the better). Activity counts (closures, seizures)
have no better or worse: their special causes and changes are listed as movements.

Every test is one the dashboard already uses (metrics.stats via metrics.views.explorer
and metrics.views.changes): nothing here is a second trend or SPC test. Pass the values
public mode shows (protected area totals): what is flagged is what is published, and a
hidden figure is never tested.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from metrics import stats, store
from metrics.reference import catalogue, formatting, periods
from metrics.reference.catalogue import Indicator
from metrics.views import changes, continuity as cc, explorer

ENGLAND = explorer.ENGLAND

RULES = {
    "worse_and_worsening": "Worse than {benchmark} and getting worse",
    "better_and_improving": "Getting better (recent trend)",
    "spc": "Special cause at the latest point (SPC)",
    "target": "Target",
    "since_last_board": "Changed since the last board",
}
SIDES = ("concern", "improvement", "movement")


@dataclass(frozen=True)
class Flag:
    """One metric put on the list by one rule."""
    indicator: Indicator
    rule: str            # a key of RULES
    side: str            # "concern", "improvement" or "movement" (no better or worse)
    where: str           # whose figure: the area, its police force area, England
    period: str          # the period the rule looked at
    detail: str          # the figures and the test, in words


@dataclass
class Exceptions:
    area_name: str
    up_to: str                    # the selected quarter
    benchmark: str                # "England" or "the comparator group"
    last_board: str               # the quarter the last board's figures went up to
    flags: list[Flag] = field(default_factory=list)
    assessed: int = 0             # metrics with a figure to test
    not_loaded: list[str] = field(default_factory=list)

    def of(self, side: str) -> list[Flag]:
        return [f for f in self.flags if f.side == side]

    def rule_words(self, rule: str) -> str:
        return RULES[rule].format(benchmark=self.benchmark)

    def table(self, side: str, notes: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per metric and rule, the rule and its figures in words; with `notes`
        (the area's annotations: date, text, metric_ids), a Notes column saying the
        analysts' notes on each metric (note_words)."""
        columns = ["Metric", "Rule", "Period", "Figures"]
        table = pd.DataFrame([{
            "Metric": f.indicator.title if f.where in ("", self.area_name)
            else f"{f.indicator.title} ({f.where})",
            "Rule": self.rule_words(f.rule), "Period": f.period, "Figures": f.detail}
            for f in self.of(side)], columns=columns)
        if notes is not None:
            # Notes are the area's own: a figure shown for its force or England has none.
            table["Notes"] = [note_words(notes, f.indicator.id)
                              if f.where in ("", self.area_name) else ""
                              for f in self.of(side)]
        return table

    def summary(self) -> str:
        """The state of things in one or two sentences, 'all clear' said in words."""
        if not self.assessed:
            return (f"No metric has a published figure for {self.area_name} up to "
                    f"{self.up_to}, so nothing could be assessed.")
        concerns = {f.indicator.id for f in self.of("concern")}
        better = {f.indicator.id for f in self.of("improvement")}
        checked = formatting.plural(self.assessed, "metric")
        if not concerns:
            out = (f"All clear: of the {checked} with figures for {self.area_name} up to "
                   f"{self.up_to}, none is both significantly worse than {self.benchmark} "
                   "and significantly getting worse, none has a special-cause point of "
                   "concern at its latest figure, no target was missed, and none moved "
                   f"significantly for the worse since the last board (figures up to "
                   f"{self.last_board}).")
        else:
            out = (f"{len(concerns)} of the {checked} with "
                   f"figures for {self.area_name} up to {self.up_to} "
                   f"{'needs' if len(concerns) == 1 else 'need'} the board's attention.")
        if better:
            out += (f" {formatting.plural(len(better), 'metric')} improved "
                    "significantly.")
        return out


    def slide_sentences(self, most: int = 5) -> list[str]:
        """For a slide or a board paper: the verdict, the concerns (at most `most`, the
        rest counted), and the improvements named."""
        out = [self.summary()]
        concerns = self.of("concern")
        for f in concerns[:most]:
            where = "" if f.where in ("", self.area_name) else f" ({f.where})"
            out.append(f"{f.indicator.title}{where}, {self.rule_words(f.rule).lower()}: "
                       f"{f.detail}")
        if len(concerns) > most:
            out.append(f"And {len(concerns) - most} more: see the page 'What needs "
                       "attention'.")
        better = list(dict.fromkeys(f.indicator.title for f in self.of("improvement")))
        if better:
            out.append("Improved significantly: " + ", ".join(better) + ".")
        return out


def note_words(notes: pd.DataFrame, indicator_id: str) -> str:
    """The analysts' notes on one metric, oldest first, in one line ("1 April 2024: New
    provider; 1 October 2024: Prison in-reach started"), or "" when it has none.
    `notes`: date, text, metric_ids (metrics.store.annotations)."""
    own = metric_notes(notes, indicator_id)
    if own is None or own.empty:
        return ""
    own = own.sort_values("date", kind="stable")
    changes = own["service_change"].fillna(False).astype(bool) \
        if "service_change" in own else pd.Series(False, index=own.index)
    return "; ".join(f"{pd.Timestamp(d):%-d %B %Y}: {t}"
                     + (" (service change: SPC limits recalculated)" if c else "")
                     for d, t, c in zip(own["date"], own["text"], changes))


# --- The rules ----------------------------------------------------------------------------

def _trend_side(trend: dict, ind: Indicator) -> str | None:
    """'concern' / 'improvement' for a significant recent trend, by polarity."""
    code = trend.get("code")
    if code not in ("increasing", "decreasing") or ind.polarity == "none":
        return None
    return "improvement" if (code == "increasing") == (ind.polarity == "high") \
        else "concern"


def _trend_detail(trend: dict) -> str:
    periods_ = trend.get("periods") or []
    span = f", {periods_[0]} to {periods_[-1]}" if periods_ else ""
    skipped = f"; {', '.join(trend['skipped'])} skipped (no value)" \
        if trend.get("skipped") else ""
    return (f"recent trend {trend['words'].lower()} (chi-square "
            f"{trend['statistic']:.1f} > {stats.TREND_THRESHOLD:.2f} over the last five "
            f"points{span}{skipped})")


def _benchmark_value(rows: pd.DataFrame, ind: Indicator, period: str,
                     comparators: tuple[str, ...] | None) -> tuple[float | None, str]:
    """The benchmark's value for the period and its name: the comparator group's pooled
    figure (metrics of areas, when a group is given) or England's."""
    at = rows[rows["period"] == period]
    if comparators and ind.geography == "utla":
        group = explorer._group_value(at[at["area_code"].isin(comparators)], ind)
        return group, "the comparator group"
    return explorer._england_value(at), "England"


def _comparison_flags(rows, ind, shown, where, latest, period, values, up_to, threshold,
                      comparators) -> list[Flag]:
    if shown == ENGLAND or not ind.benchmarkable or pd.isna(latest["value"]):
        return []
    trend = explorer.recent_trend(values, ind, shown, up_to, threshold)
    side = _trend_side(trend, ind)
    if side is None:
        return []
    if side == "improvement":
        return [Flag(ind, "better_and_improving", "improvement", where, period,
                     f"{formatting.with_unit(latest['value'], ind)}; "
                     f"{_trend_detail(trend)}.")]
    bench, bench_name = _benchmark_value(rows, ind, period, comparators)
    if bench is None:
        return []
    code = stats.compare_with_benchmark(latest["lower95"], latest["upper95"],
                                        latest["lower998"], latest["upper998"], bench,
                                        ind.polarity)
    if not code.startswith("worse"):
        return []
    words = stats.comparison_words(code, bench_name)
    words = words[0].lower() + words[1:]
    return [Flag(ind, "worse_and_worsening", "concern", where, period,
                 f"{formatting.with_unit(latest['value'], ind)} (95% interval "
                 f"{formatting.number(latest['lower95'], ind)} to "
                 f"{formatting.number(latest['upper95'], ind)}) against "
                 f"{bench_name} {formatting.with_unit(bench, ind)}: {words}; "
                 f"{_trend_detail(trend)}.")]


def metric_notes(notes: pd.DataFrame | None, indicator_id: str) -> pd.DataFrame | None:
    """The notes naming one metric (`notes`: metrics.store.annotations rows of an area)."""
    if notes is None or notes.empty:
        return None
    return store.notes_on(notes, indicator_id)


def _spc_flags(values, ind, shown, where, period, up_to, threshold,
               target: float | None, notes: pd.DataFrame | None = None) -> list[Flag]:
    series_ind, basis = ind, ""
    # The limits restart at a service change, as on the metric's own SPC chart.
    notes = metric_notes(notes, ind.id)
    if ind.id == cc.IND.id:
        # As the continuity page: single quarters (rolling figures overlap), unless they
        # are hidden for small numbers.
        frame_, summary = explorer.spc_frame(values, cc.QUARTERLY, shown, up_to, threshold,
                                             target, notes)
        if frame_.empty or frame_["value"].notna().sum() < 2:
            frame_, summary = explorer.spc_frame(values, ind, shown, up_to, threshold,
                                                 target, notes)
        else:
            series_ind, basis = cc.QUARTERLY, "single quarters: "
    else:
        frame_, summary = explorer.spc_frame(values, ind, shown, up_to, threshold, target,
                                             notes)
    variation = summary.get("variation")
    if frame_.empty or variation in (None, "common_cause"):
        return []
    at = str(frame_["period"].iloc[summary["latest_position"]])
    latest_end = pd.Timestamp(frame_["period_end"].iloc[summary["latest_position"]])
    # Only a special cause at the latest period counts: a newer figure that is hidden or
    # missing leaves an older point, which is not news for this board.
    rows = explorer.metric_rows(values, series_ind)
    own = rows[(rows["area_code"] == shown) & explorer._until(rows, up_to)]
    if own.empty or pd.to_datetime(own["period_end"]).max() > latest_end:
        return []
    side = {"concern": "concern", "improvement": "improvement"}.get(variation, "movement")
    if ind.ci_method == "none":
        # Activity counts: more closures may mean more lines, so no better or worse.
        side, variation = "movement", "neither"
    value = frame_["value"].iloc[summary["latest_position"]]
    provisional = " (fewer than 12 points: provisional limits)" \
        if summary.get("too_few_points") else ""
    return [Flag(ind, "spc", side, where, at,
                 f"{basis}{formatting.with_unit(value, series_ind)}, "
                 f"{explorer.SPC_VARIATION[variation].lower()}: "
                 f"{explorer._rule_words(summary['latest_rules'], summary['latest_direction'])}"
                 f" (mean {formatting.with_unit(frame_['mean'].iloc[-1], series_ind)}, "
                 f"limits {formatting.number(frame_['lower_limit'].iloc[-1], series_ind)} "
                 f"to {formatting.number(frame_['upper_limit'].iloc[-1], series_ind)})"
                 f"{provisional}.")]


def _meets(value: float, target: float, ind: Indicator) -> bool:
    return value <= target if ind.polarity == "low" else value >= target


def _target_flags(series: pd.DataFrame, ind: Indicator, where: str, target: float,
                  target_date: dt.date, today: dt.date) -> list[Flag]:
    """Missed or met at the target date (the figure for the period ending then), or,
    while the date has not passed, crossed in the latest period. `target` on the
    metric's own scale (percentages for %)."""
    shown = series[series["value"].notna()]
    if shown.empty:
        return []
    target_text = f"the {target:g}{ind.unit if ind.unit == '%' else ' ' + ind.unit} target by " \
                  f"{cc.long_date(target_date)}"
    latest = shown.iloc[-1]
    now = f"{formatting.with_unit(latest['value'], ind)} in {latest['period']}"
    ends = pd.to_datetime(series["period_end"]).dt.date
    at_date = series[(ends <= target_date)
                     & (ends > target_date - dt.timedelta(days=92))]
    out = []
    if today > target_date and len(at_date) and pd.notna(at_date["value"].iloc[-1]):
        row = at_date.iloc[-1]
        met = _meets(row["value"], target, ind)
        gap = abs(target - row["value"])
        out.append(Flag(ind, "target", "improvement" if met else "concern", where,
                        str(row["period"]),
                        f"{'Met' if met else 'Missed'} {target_text}: "
                        f"{formatting.with_unit(row['value'], ind)} in {row['period']}"
                        + ("" if met else f", {formatting.number(gap, ind)} "
                           f"{'points ' if ind.unit == '%' else ''}short")
                        + (f"; now {now}." if row["period"] != latest["period"] else ".")))
    elif today > target_date and not _meets(latest["value"], target, ind):
        out.append(Flag(ind, "target", "concern", where, str(latest["period"]),
                        f"Missed {target_text}: the figure for the target date is not "
                        f"published; the latest is {now}."))
    if len(series) >= 2 and pd.notna(series["value"].iloc[-2]) \
            and pd.notna(series["value"].iloc[-1]) and today <= target_date:
        before, after = (_meets(v, target, ind) for v in series["value"].iloc[-2:])
        if before != after:
            out.append(Flag(ind, "target", "improvement" if after else "concern", where,
                            str(latest["period"]),
                            f"{'Reached' if after else 'Fell short of'} {target_text}: "
                            f"{formatting.with_unit(series['value'].iloc[-2], ind)} in "
                            f"{series['period'].iloc[-2]}, {now}."))
    return out


def _change_flags(since: changes.SinceLastBoard, where_of: dict) -> list[Flag]:
    side = {"better": "improvement", "worse": "concern"}
    return [Flag(c.indicator, "since_last_board", side.get(c.verdict, "movement"),
                 where_of.get(c.indicator.id, ""), c.now_period,
                 f"{c.then_text} in {c.then_period} to {c.now_text} in {c.now_period} "
                 f"({c.change_text}, {c.verdict}; {c.test_name}, 95%).")
            for c in since.changes]


# --- All metrics ----------------------------------------------------------------------------

def last_board_quarter(meeting: dt.date) -> periods.Period:
    """The figures a board meeting on `meeting` saw: up to the last quarter ended by
    then (a meeting on 15 October 2026 saw figures up to 2026/27 Q2 at most)."""
    q = periods.quarter_of(meeting)
    return q if q.end == meeting else periods.quarter_of(q.start - dt.timedelta(days=1))


def exceptions(values: pd.DataFrame, area_code: str, area_name: str, areas: pd.DataFrame,
               up_to: dt.date, up_to_label: str, threshold: int,
               targets: dict[str, tuple[float, dt.date]] | None = None,
               comparators: tuple[str, ...] | None = None,
               last_board: periods.Period | None = None,
               today: dt.date | None = None,
               indicators: tuple[Indicator, ...] = catalogue.INDICATORS,
               notes: pd.DataFrame | None = None) -> Exceptions:
    """Every metric of the area flagged by a rule, up to `up_to`.

    `values`: area totals as public mode shows them (protected). `targets`: settings'
    targets by name (a proportion and a date). `comparators`: compare with the
    comparator group's pooled figure instead of England (metrics of areas; others keep
    England). `last_board`: the quarter the last board's figures went up to (default the
    quarter before the selected one, as the presentation's slide). `notes`: the area's
    annotations (metrics.store.annotations); a service change restarts the SPC limits
    of the metrics it names, as their charts do."""
    targets = targets or {}
    today = today or dt.date.today()
    last_board = last_board or changes.last_board_end(up_to)
    out = Exceptions(area_name, up_to_label,
                     "the comparator group" if comparators else "England", last_board.label)
    where_of: dict[str, str] = {}
    # Only the rows any rule reads: the area, its police force area, England and the
    # comparators (every rule works area by area, so this changes no result).
    keep = {area_code, ENGLAND, *(comparators or ())}
    keep |= {explorer.shown_area(ind, area_code, areas)[0] for ind in indicators}
    values = values[values["area_code"].isin(keep)]
    if (values["indicator_id"] == cc.IND.id).any():
        # The continuity page's protection: single quarters hidden where a small one
        # could be worked out from the rolling figures.
        protected = cc.protect_series(values, area_code, up_to, threshold)
        if len(protected):
            values = cc.with_protected_area(values, protected, area_code)
    by_indicator = {key: part for key, part in values.groupby("indicator_id")}
    for ind in indicators:
        # Each rule reads this metric's rows only (the same result, a tenth of the time).
        own = by_indicator.get(ind.id, values.iloc[0:0])
        shown, _ = explorer.shown_area(ind, area_code, areas)
        where_of[ind.id] = "" if shown == area_code else \
            explorer.shown_name(ind, area_code, areas)
        where = where_of[ind.id] or area_name
        period = None if explorer.missing_words(own, ind, area_code, areas, up_to) \
            else explorer.latest_period(own, ind, up_to)
        rows = explorer.suppress(explorer.metric_rows(own, ind), ind, threshold)
        rows = rows[explorer._until(rows, up_to)]
        series = rows[rows["area_code"] == shown].sort_values("period_end")
        latest = series[series["period"] == period]
        if period is None or latest.empty:
            out.not_loaded.append(ind.title)
            continue
        out.assessed += 1
        latest = latest.iloc[0]
        target = targets.get(ind.target) if ind.target else None
        target_value = None if target is None else target[0] * (100 if ind.unit == "%" else 1)
        out.flags += _comparison_flags(rows, ind, shown, where, latest, period, own, up_to,
                                       threshold, comparators)
        out.flags += _spc_flags(own, ind, shown, where, period, up_to, threshold,
                                target_value, notes if shown == area_code else None)
        if target is not None:
            out.flags += _target_flags(series, ind, where, target_value, target[1], today)
    since = changes.since_last_board(values, area_code, areas, up_to, threshold,
                                     previous=last_board)
    out.flags += _change_flags(since, {k: v or area_name for k, v in where_of.items()})
    order = {ind.id: i for i, ind in enumerate(indicators)}
    rule_order = list(RULES)
    out.flags.sort(key=lambda f: (order.get(f.indicator.id, 99), rule_order.index(f.rule)))
    out.flags = [f for f in out.flags if f.indicator.id in order]
    return out
