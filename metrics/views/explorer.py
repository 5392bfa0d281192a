"""The outcome explorer's numbers: spine rows, trends, SPC, rankings, funnels and tables.

Pure functions over the published `values` rows (area totals) of an outcome's metrics;
pages only lay out what these return. Small counts are suppressed here, once, so every
table, tooltip and download built from these frames is already safe.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from metrics import stats
from metrics.reference import catalogue, formatting
from metrics.stats import disclosure
from metrics.stats.methods import TREND_POINTS
from metrics.views.pooled import comparator_average as _comparator_average
# The SPC chart's words live beside it; imported here for the pages that read them.
from metrics.views.spc_words import (  # noqa: F401
    SPC_ASSURANCE, SPC_VARIATION, rule_words as _rule_words, spc_words)
# The funnel's numbers live in their own module; these names stay importable here.
from metrics.views.funnel import (  # noqa: F401
    FUNNEL_CAPTION, FUNNEL_METHODS, funnel_limits_frame, funnel_model)
from metrics.reference.catalogue import Indicator

ENGLAND = "E92000001"
LEVEL_PREFIXES = {"utla": ("E06", "E08", "E09", "E10"), "pfa": ("E23",), "national": ("E92",)}
# What an area's column says for a metric published for England alone (a national survey):
# England's figure goes in England's column, never in the area's.
ENGLAND_ONLY = "England only (not published for areas)"
NO_AREA_FIGURES = "none: not published for areas"
ENGLAND_ONLY_WHY = ("Published for England only (a national survey): there are no area "
                    "figures to rank, to place on a funnel plot or to compare with England, "
                    "so England's own series is shown.")


def shown_area(ind: Indicator, area_code: str, areas: pd.DataFrame) -> tuple[str, str]:
    """The area whose figure represents `area_code` for this metric, and a note saying
    which geography it is (police force area, England only)."""
    if ind.geography == "national":
        return ENGLAND, "Published for England only: not available for local areas."
    if ind.geography == "pfa":
        row = areas.loc[areas["area_code"] == area_code]
        if len(row) and row.iloc[0]["pfa_code"]:
            return row.iloc[0]["pfa_code"], (f"Published by police force area: figures are "
                                             f"for the {row.iloc[0]['pfa_name']} police "
                                             "force area.")
        return ENGLAND, "Published by police force area."
    return area_code, ""


def where_words(ind: Indicator, area_code: str, areas: pd.DataFrame) -> str:
    """The place a metric's figure is for, in words: the area's name, 'the Gloucestershire
    police force area', or 'England'."""
    shown, _ = shown_area(ind, area_code, areas)
    names = areas.set_index("area_code")["area_name"]
    if shown == ENGLAND:
        return "England"
    if ind.geography == "pfa":
        row = areas.loc[areas["area_code"] == area_code]
        force = row.iloc[0]["pfa_name"] if len(row) and row.iloc[0]["pfa_name"] else shown
        return f"the {force} police force area"
    return str(names.get(shown, shown))


def shown_name(ind: Indicator, area_code: str, areas: pd.DataFrame) -> str:
    """The label a metric's figure for `area_code` goes under: the area's name, 'England'
    (England-only metrics) or 'Gloucestershire police force area' (never the council's
    name alone for a force's figure)."""
    where = where_words(ind, area_code, areas)
    return where.removeprefix("the ")


def with_geography(text: str, ind: Indicator, area_code: str, areas: pd.DataFrame) -> str:
    """A figure for an area's column, saying whose it is when it is not the area's own:
    '5 (Gloucestershire police force area)'; England-only metrics say ENGLAND_ONLY."""
    if ind.geography == "national":
        return ENGLAND_ONLY
    # Words ("not loaded yet") already say where in the note beside them; figures do not.
    if ind.geography == "pfa" and text not in ("-", "", "not loaded yet"):
        return f"{text} ({shown_name(ind, area_code, areas)})"
    return text


def area_names(areas: pd.DataFrame) -> pd.Series:
    """Area names by code, a police force area named as one ('Gloucestershire police
    force area'): several forces share a council's name."""
    names = areas.set_index("area_code")["area_name"].astype(str)
    force = names.index.str.startswith(LEVEL_PREFIXES["pfa"])
    return names.where(~force, names + " police force area")


def missing_words(values: pd.DataFrame, ind: Indicator, area_code: str, areas: pd.DataFrame,
                  up_to: dt.date, period_label: str | None = None) -> str | None:
    """Why a metric has no figure to show for an area up to a date, in words, or None
    when it has one. A partnership loads its sources one at a time, so a missing metric
    is normal: say so plainly ('Drug seizures: not loaded yet for the Gloucestershire
    police force area'), never leave a blank card or an empty chart."""
    shown, _ = shown_area(ind, area_code, areas)
    where = where_words(ind, area_code, areas)
    rows = metric_rows(values, ind)
    own = rows[rows["area_code"] == shown]
    if own.empty:
        return f"{ind.title}: not loaded yet for {where}."
    earlier = own[_until(own, up_to)]
    if earlier.empty:
        first = own.sort_values("period_end")["period"].iloc[0]
        when = f"up to {period_label}" if period_label else "for this period"
        return (f"{ind.title}: no figures for {where} {when}; the first loaded is "
                f"{first}.")
    hidden_here = earlier["suppressed"].fillna(False).astype(bool).any() \
        if "suppressed" in earlier else False
    if earlier["value"].isna().all() and not hidden_here:
        # Rows loaded, but every value blank: suppressed at source or not calculated.
        # (Figures hidden by public mode are shown as '*', not called missing.)
        return (f"{ind.title}: no value is published for {where}"
                + (f" up to {period_label}." if period_label else "."))
    return None


def _until(rows: pd.DataFrame, up_to: dt.date) -> pd.Series:
    """Rows ending on or before `up_to` (DuckDB hands dates back as datetime64)."""
    return pd.to_datetime(rows["period_end"]) <= pd.Timestamp(up_to)


# A standardised rate loaded without its limits or age bands has an interval built from
# the approximation var = DSR^2 / count (metrics.ingest.standardised): often narrower than
# Dobson's, so every view that shows the interval or a comparison built on it says so.
APPROXIMATE = "approximate interval"
APPROXIMATE_NOTE = ("Approximate interval: directly standardised rate (DSR) loaded without "
                    "its limits or age bands (variance DSR\u00b2 / count, often narrower "
                    "than Dobson's)")


def is_approximate(rows: pd.DataFrame) -> np.ndarray:
    """Rows whose interval is approximate (ci_approximate true; null, as in versions
    published before the flag, is not)."""
    if "ci_approximate" not in rows:
        return np.zeros(len(rows), dtype=bool)
    return rows["ci_approximate"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def with_approximate(text, approximate: bool):
    """'worse than England (approximate interval)' where the interval is approximate."""
    return f"{text} ({APPROXIMATE})" if approximate and text else text


def metric_rows(values: pd.DataFrame, ind: Indicator) -> pd.DataFrame:
    rows = values[(values["indicator_id"] == ind.id) & (values["period_kind"] == ind.period_kind)]
    return rows


def latest_period(values: pd.DataFrame, ind: Indicator, up_to: dt.date) -> str | None:
    rows = metric_rows(values, ind)
    rows = rows[_until(rows, up_to)]
    if rows.empty:
        return None
    return rows.sort_values("period_end")["period"].iloc[-1]


def protect(values: pd.DataFrame, areas: pd.DataFrame, indicators, threshold: int
            ) -> pd.DataFrame:
    """The area totals as public mode shows them (metrics.stats.disclosure.protect_area_values):
    protected once for every view, so no sum across views gives a small count away."""
    return disclosure.protect_area_values(values, areas, indicators, threshold)


def suppress(rows: pd.DataFrame, ind: Indicator, threshold: int) -> pd.DataFrame:
    """Blank every figure built on a small count, and say why.

    Rows already protected (`protect`: a `suppressed` column) keep what it hid, which
    includes the cells hidden so that sums across areas give nothing away; on rows not
    protected this is primary suppression only (small counts, complements and
    denominators)."""
    out = rows.copy()
    already = out["suppressed"].fillna(False).astype(bool) if "suppressed" in out \
        else pd.Series(False, index=out.index)
    if not ind.disclosive or out.empty:
        out["suppressed"] = already if ind.disclosive else False
        return out
    numerator = out["numerator"].to_numpy(float)
    denominator = out["denominator"].to_numpy(float)
    # The complement (denominator - numerator) would disclose just as much, and a small
    # denominator is itself a count of people.
    small_denominator = disclosure.small_mask(denominator, threshold)
    small = pd.Series(disclosure.small_mask(numerator, threshold)
                      | disclosure.small_mask(denominator - numerator, threshold)
                      | small_denominator, index=out.index) | already
    cols = ["numerator", "value", "lower95", "upper95", "lower998", "upper998"]
    out.loc[small, cols] = np.nan
    out.loc[small_denominator, "denominator"] = np.nan
    out.loc[small, "value_note"] = disclosure.NOTE
    out["suppressed"] = small
    return out


def _compare(rows: pd.DataFrame, england_value: float | None, ind: Indicator) -> np.ndarray:
    if england_value is None or not ind.benchmarkable or rows.empty:
        return np.full(len(rows), "not_compared", dtype=object)
    return np.asarray(stats.compare_with_benchmark(
        rows["lower95"].to_numpy(float), rows["upper95"].to_numpy(float),
        rows["lower998"].to_numpy(float), rows["upper998"].to_numpy(float),
        england_value, ind.polarity), dtype=object)


def _level_rows(rows: pd.DataFrame, level: str) -> pd.DataFrame:
    return rows[rows["area_code"].str[:3].isin(LEVEL_PREFIXES[level])]


def _england_value(rows: pd.DataFrame) -> float | None:
    england = rows.loc[rows["area_code"] == ENGLAND, "value"]
    return None if england.empty or pd.isna(england.iloc[0]) else float(england.iloc[0])


def england_value(values: pd.DataFrame, ind: Indicator, period: str) -> float | None:
    """England's value of a metric for one period, or None when it has none."""
    rows = metric_rows(values, ind)
    return _england_value(rows[rows["period"] == period])


def _group_value(rows: pd.DataFrame, ind: Indicator) -> float | None:
    """A comparator group's value: pooled numerators over denominators where the metric
    is a simple ratio, otherwise the mean of the areas' values."""
    # Built only from figures that are shown (suppressed rows have no value), and
    # rounded as displayed: at full precision a pooled rate is a sum of counts that,
    # set against other views, could give a member's hidden figure back.
    rows = rows.dropna(subset=["value"])
    if "suppressed" in rows:
        rows = rows[~rows["suppressed"].fillna(False).astype(bool)]
    if rows.empty:
        return None
    places = formatting.decimals_for(ind)
    if ind.ci_method in ("wilson", "byars") and rows["denominator"].sum() > 0 \
            and rows["numerator"].notna().all():
        return round(float(rows["numerator"].sum() / rows["denominator"].sum()
                           * ind.multiplier), places)
    return round(float(rows["value"].mean()), places)


def spine_rows(values: pd.DataFrame, outcome: str, area_code: str, areas: pd.DataFrame,
               comparators: tuple[str, ...], up_to: dt.date, threshold: int,
               indicators: list[Indicator] | None = None) -> pd.DataFrame:
    """One row per metric of the outcome, positioned as a Fingertips spine chart: England
    at 0.5, the worst area at the left and the best at the right (low to high for
    metrics with no polarity); the farther extreme sits at 0 or 1."""
    out = []
    # `indicators`: the page's metrics when they are not only the catalogue's (metrics
    # loaded from extracts the catalogue does not list).
    for ind in (catalogue.for_outcome(outcome) if indicators is None else indicators):
        period = latest_period(values, ind, up_to)
        shown, note = shown_area(ind, area_code, areas)
        row = {"indicator_id": ind.id, "title": ind.title, "unit": ind.unit,
               "period": period or "no data", "geography_note": note}
        if period is None:
            own_rows = metric_rows(values, ind)
            loaded = bool((own_rows["area_code"] == shown).any())
            out.append(row | {
                "period": "-", "comparison": "not_compared",
                "significance_words": "Not compared",
                "area_text": "no figure up to this period" if loaded else "not loaded yet",
                "england_text": "-", "comparators_text": "-", "worst_text": "-",
                "best_text": "-", "suppressed": False})
            continue
        rows = suppress(metric_rows(values, ind).query("period == @period"), ind, threshold)
        england = _england_value(rows)
        level = _level_rows(rows, ind.geography)
        own = rows[rows["area_code"] == shown]
        own_value = None if own.empty or pd.isna(own["value"].iloc[0]) else float(own["value"].iloc[0])
        comparison = _compare(own, england, ind)[0] if len(own) and shown != ENGLAND \
            else "not_compared"
        group = _group_value(level[level["area_code"].isin(comparators)], ind) \
            if ind.geography == "utla" else None
        # Positions from values rounded as displayed: a position is a value in disguise.
        spread = level["value"].dropna().round(formatting.decimals_for(ind))
        if own_value is not None:
            own_value = round(own_value, formatting.decimals_for(ind))
        if england is not None:
            england = round(england, formatting.decimals_for(ind))
        approximate = bool(len(own)) and bool(is_approximate(own)[0])
        row |= {
            "comparison": comparison,
            "significance_words": with_approximate(stats.comparison_words(comparison),
                                                   approximate),
            "area_value": own_value, "england_value": england, "comparators_value": group,
            "suppressed": bool(len(own) and own["suppressed"].iloc[0]),
            "area_text": with_geography(
                formatting.SUPPRESSED if len(own) and own["suppressed"].iloc[0]
                else "not loaded yet" if own.empty
                else formatting.with_unit(own_value, ind), ind, area_code, areas),
            "england_text": formatting.with_unit(england, ind) if england is not None
            else "-",
            "comparators_text": formatting.with_unit(group, ind) if group is not None else "-",
        }
        if ind.geography == "national":
            # England's figure is England's alone: not the area's, not a worst or best
            # area, and no position on the spine (it would sit on England's own line).
            row |= {"area_value": None, "worst_text": NO_AREA_FIGURES,
                    "best_text": NO_AREA_FIGURES,
                    "significance_words": "Not compared: England only"}
            out.append(row)
            continue
        if ind.ci_method == "none" or england is None or spread.empty:
            row |= {"worst_text": "-", "best_text": "-"}
            out.append(row)
            continue
        low_is_good = ind.polarity == "low"
        worst, best = (spread.max(), spread.min()) if low_is_good else (spread.min(), spread.max())
        scale = max(abs(england - spread.min()), abs(spread.max() - england)) or 1.0

        def position(v, england=england, scale=scale, flip=low_is_good):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            offset = (v - england) / (2 * scale)
            return 0.5 - offset if flip else 0.5 + offset

        q1, q3 = spread.quantile(0.25), spread.quantile(0.75)
        ends = sorted([position(spread.min()), position(spread.max())])
        quartiles = sorted([position(q1), position(q3)])
        row |= {
            "pos_min": ends[0], "pos_max": ends[1], "pos_q1": quartiles[0],
            "pos_q3": quartiles[1], "pos_area": position(own_value),
            "pos_comparators": position(group),
            "worst_text": formatting.with_unit(worst, ind),
            "best_text": formatting.with_unit(best, ind),
        }
        out.append(row)
    return pd.DataFrame(out)


def trend_series(values: pd.DataFrame, ind: Indicator, lines: dict[str, str],
                 comparators: tuple[str, ...], up_to: dt.date, threshold: int) -> pd.DataFrame:
    """Rows for metrics.render.charts.trend_chart: the area (with its interval), England, and
    the comparator group's value per period. `lines` maps area code -> line label; the
    first entry is the area."""
    rows = suppress(metric_rows(values, ind), ind, threshold)
    rows = rows[_until(rows, up_to)]
    frames = []
    for i, (code, label) in enumerate(lines.items()):
        own = rows[rows["area_code"] == code]
        part = own[["period", "period_kind", "period_start", "period_end", "value",
                    "lower95", "upper95"]] \
            .assign(line=label, is_area=i == 0,
                    interval=np.where(is_approximate(own), APPROXIMATE, ""))
        frames.append(part)
    if comparators and ind.geography == "utla":
        frames.append(_comparator_average(rows[rows["area_code"].isin(comparators)], ind))
    frames = [f for f in frames if not f.empty]
    # A metric with no rows for any line (a source not loaded yet) gives an empty frame
    # with the columns charts expect; callers say "not loaded yet" instead of drawing it.
    out = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["period", "period_kind", "period_start", "period_end", "value",
                              "lower95", "upper95", "line", "is_area"])
    out["period_end"] = pd.to_datetime(out["period_end"])
    out["period_start"] = pd.to_datetime(out["period_start"])
    # Keep the lines in the order given (area, England, comparators): charts colour them
    # in that order, so the area is always the same colour.
    return out.reset_index(drop=True)


def service_changes(notes: pd.DataFrame | None, starts: pd.Series) -> list[tuple[int, str]]:
    """Where the SPC limits start afresh: for each analysts' note marked as a service
    change (metrics.store.annotations), the first point whose period starts on or after
    its date, with the note's text. A change before the first point or after the last
    changes nothing (there is no earlier or later period to separate)."""
    if notes is None or notes.empty or "service_change" not in notes:
        return []
    starts = pd.to_datetime(pd.Series(starts)).reset_index(drop=True)
    found: dict[int, str] = {}
    marked = notes[notes["service_change"].fillna(False).astype(bool)]
    for day, text in zip(pd.to_datetime(marked["date"]), marked["text"]):
        after = np.flatnonzero((starts >= day).to_numpy())
        if len(after) and after[0] > 0:
            found.setdefault(int(after[0]), str(text))
    return sorted(found.items())


def spc_frame(values: pd.DataFrame, ind: Indicator, area_code: str, up_to: dt.date,
              threshold: int, target: float | None = None,
              notes: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """The area's series through metrics.stats.spc, with its Making Data Count summary.

    `notes`: the analysts' notes on this area's metric (metrics.store.annotations); those
    marked as a service change recalculate the limits from their date (Making Data
    Count's rebasing), on every chart, slide and exceptions rule that reads this."""
    rows = suppress(metric_rows(values, ind), ind, threshold)
    rows = rows[(rows["area_code"] == area_code)
                & _until(rows, up_to)].sort_values("period_end")
    direction = {"high": "increase", "low": "decrease"}.get(ind.polarity, "neutral")
    if rows.empty:
        return pd.DataFrame(), {"variation": None, "assurance": None,
                                "words": "Variation not assessed."}
    rebase = service_changes(notes, rows["period_start"])
    result = stats.spc(rows["value"].to_numpy(float), target=target,
                       improvement_direction=direction,
                       rebase=[position for position, _ in rebase])
    result["period"] = rows["period"].to_numpy()
    result["period_kind"] = rows["period_kind"].to_numpy()
    result["period_start"] = pd.to_datetime(rows["period_start"]).to_numpy()
    result["period_end"] = pd.to_datetime(rows["period_end"]).to_numpy()
    summary = stats.spc_summary(result, target=target, improvement_direction=direction)
    summary["too_few_points"] = bool(result.attrs.get("too_few_points", len(rows) < 12))
    summary["rebased"] = [(str(result["period"].iloc[p]), text) for p, text in rebase]
    summary["words"] = spc_words(result, summary)
    return result, summary


# What the trend card says for a measure the Fingertips trend test (proportions and crude
# rates) does not cover, by the metric's interval method.
NO_TREND_TEST = {
    "dsr": "No trend test for standardised rates",
    "count": "No trend test for counts of activity",
    "other": "No trend test for this measure",
}
NO_TREND_REASON = ("the Fingertips recent-trend test is defined for proportions and crude "
                   "rates only; compare the intervals of the periods on the chart instead")


def recent_trend(values: pd.DataFrame, ind: Indicator, area_code: str, up_to: dt.date,
                 threshold: int) -> dict:
    rows = suppress(metric_rows(values, ind), ind, threshold)
    rows = rows[(rows["area_code"] == area_code)
                & _until(rows, up_to)].sort_values("period_end")
    if ind.ci_method not in ("wilson", "byars"):
        # Counts of activity, standardised rates and intervals taken as published (an
        # unknown method) have no Fingertips trend test here; the words say which, so a
        # board does not read "Cannot be calculated" as missing data.
        kind = "dsr" if ind.ci_method == "dsr" else "count" if ind.unit == "count" else "other"
        return {"code": "cannot_be_calculated", "words": NO_TREND_TEST[kind],
                "reason": NO_TREND_REASON}
    kind = "proportion" if ind.ci_method == "wilson" else "rate"
    result = stats.recent_trend(rows["numerator"].to_numpy(float),
                                rows["denominator"].to_numpy(float), kind=kind,
                                polarity=ind.polarity)
    # Which periods were tested, and those skipped between them for want of a value
    # (Fingertips skips a missing period rather than giving up), so the page can say so.
    periods = rows["period"].astype(str).tolist()
    used = list(result.get("used", ()))
    result["periods"] = [periods[i] for i in used]
    result["skipped"] = [periods[i] for i in range(used[0], used[-1] + 1)
                         if i not in used] if len(used) == TREND_POINTS else []
    return result


def area_ranking(values: pd.DataFrame, ind: Indicator, period: str, areas: pd.DataFrame,
                 home: str, comparators: tuple[str, ...], threshold: int) -> pd.DataFrame:
    """All areas of the metric's geography for one period, for ranked and funnel charts."""
    rows = suppress(metric_rows(values, ind).query("period == @period"), ind, threshold)
    england = _england_value(rows)
    if ind.geography == "national":
        # England alone: ranking it, or a funnel of it, would set England against itself.
        return rows.iloc[0:0].assign(area_name=None, comparison=None, role=None, display=None)
    level = _level_rows(rows, ind.geography).dropna(subset=["value"]).copy()
    level["area_name"] = level["area_code"].map(area_names(areas))
    level["comparison"] = _compare(level, england, ind)
    level["role"] = np.where(level["area_code"] == home, "Home",
                             np.where(level["area_code"].isin(comparators), "Comparator", "Other"))
    level["display"] = [with_approximate(formatting.with_unit(v, ind), a)
                        for v, a in zip(level["value"], is_approximate(level))]
    return level.reset_index(drop=True)


# Like Fingertips and ONS, no standardised rate is published on fewer than 10 events.
DSR_MIN_EVENTS = stats.DSR_MIN_EVENTS


def withheld_words(row: pd.Series | None, ind: Indicator, threshold: int) -> str | None:
    """'rate not published: fewer than 10 deaths (7)' for a standardised rate withheld
    because it rests on fewer than 10 events, so a board reads why there is no figure
    rather than 'no data'. The count is shown only where public mode allows it: a small
    count (or one public mode already hid) is '*'. None when the rate is not withheld."""
    if row is None or ind.ci_method != "dsr" or pd.notna(row.get("value")):
        return None
    count = row.get("numerator")
    hidden = row.get("suppressed")
    hidden = hidden is not None and hidden is not pd.NA and not pd.isna(hidden) \
        and bool(hidden)
    if count is not None and pd.notna(count) and 0 <= count < DSR_MIN_EVENTS:
        shown = formatting.SUPPRESSED if hidden or disclosure.is_small(count, threshold) \
            else f"{count:,.0f}"
    elif hidden and threshold <= DSR_MIN_EVENTS:
        # Public mode hid a count below its threshold, so below 10 as well.
        shown = formatting.SUPPRESSED
    else:
        return None
    events = "deaths" if "death" in ind.id else "events"
    return f"rate not published: fewer than {DSR_MIN_EVENTS} {events} ({shown})"


def _withheld_notes(rows: pd.DataFrame, ind: Indicator, threshold: int) -> pd.DataFrame:
    """The note of a rate withheld on fewer than 10 events in the words the cards and
    headlines use ('rate not published: fewer than 10 deaths (*)'), not a bare '*'."""
    if ind.ci_method != "dsr" or rows.empty:
        return rows
    notes = [withheld_words(row, ind, threshold) for _, row in rows.iterrows()]
    out = rows.copy()
    withheld = pd.Series([bool(n) for n in notes], index=rows.index)
    out["value_note"] = out["value_note"].astype(object)
    out.loc[withheld, "value_note"] = [n[0].upper() + n[1:] for n in notes if n]
    return out


def values_table(values: pd.DataFrame, ind: Indicator, area_codes: list[str],
                 areas: pd.DataFrame, up_to: dt.date, threshold: int) -> pd.DataFrame:
    """The figures behind the charts, suppressed, with readable column names (also the
    CSV download)."""
    rows = _withheld_notes(suppress(metric_rows(values, ind), ind, threshold), ind, threshold)
    rows = rows[rows["area_code"].isin(area_codes) & _until(rows, up_to)].copy()
    names = area_names(areas)
    england = rows.loc[rows["area_code"] == ENGLAND].set_index("period")["value"]
    rows["_england"] = rows["period"].map(england)
    codes = np.full(len(rows), "not_compared", dtype=object)
    comparable = (rows["area_code"] != ENGLAND).to_numpy() & rows["_england"].notna().to_numpy()
    if ind.benchmarkable and comparable.any():
        part = rows[comparable]
        codes[comparable] = stats.compare_with_benchmark(
            part["lower95"].to_numpy(float), part["upper95"].to_numpy(float),
            part["lower998"].to_numpy(float), part["upper998"].to_numpy(float),
            part["_england"].to_numpy(float), ind.polarity)
    approximate = is_approximate(rows)
    notes = rows["value_note"].astype(object).where(rows["value_note"].notna(), None)
    notes = [f"{n}. {APPROXIMATE_NOTE}" if a and n else APPROXIMATE_NOTE if a else n
             for n, a in zip(notes, approximate)]
    count = _whole_numbers(rows["numerator"], rows["suppressed"])
    denominator = _whole_numbers(rows["denominator"],
                                 rows["suppressed"] & rows["denominator"].isna())
    table = pd.DataFrame({
        # The indicator named on every row: a downloaded file must say what it holds.
        "Indicator id": ind.id, "Indicator": ind.title,
        "Period": rows["period"], "Area": rows["area_code"].map(names),
        "Area code": rows["area_code"], "Count": count, "Denominator": denominator,
        f"Value ({ind.unit})": rows["value"].round(2),
        "Lower 95%": rows["lower95"].round(2), "Upper 95%": rows["upper95"].round(2),
        "Lower 99.8%": rows["lower998"].round(2), "Upper 99.8%": rows["upper998"].round(2),
        "Compared with England": [with_approximate(stats.comparison_words(c), a)
                                  for c, a in zip(codes, approximate)],
        "Note": pd.Series(notes, index=rows.index, dtype=object), "_end": rows["period_end"],
    }, index=rows.index)
    return table.sort_values(["_end", "Area"], ascending=[False, True]).drop(columns="_end") \
        .reset_index(drop=True)


def _whole_numbers(values: pd.Series, suppressed: pd.Series) -> pd.Series:
    """Counts as whole numbers (a float column writes 2301 as "2301.0" in a CSV): nullable
    integers, or, beside a suppressed '*', Python ints in a text column. A column holding
    a fraction (an estimated denominator) keeps its decimals, rounded to 2 places."""
    numbers = values.to_numpy(float)
    present = numbers[~np.isnan(numbers)]
    fractional = bool(len(present)) and not np.array_equal(present, np.round(present))
    if not suppressed.any():
        return values.round(2) if fractional else values.round().astype("Int64")
    cells = [formatting.SUPPRESSED if s else None if math.isnan(v)
             else round(v, 2) if fractional else int(round(v))
             for v, s in zip(numbers, suppressed)]
    return pd.Series(cells, index=values.index, dtype=object)
