"""One sentence or two describing a chart, written from the figures it draws (WCAG 1.1.1).

The words are the chart's accessible description (metrics.render.describe.accessible) and
are shown under it as text. They are built from the same rows the chart plots, which are
already suppressed: a hidden figure is never drawn, so it is never said either; a period
left out is counted, not valued. A rise or fall is only a change in the figures ("rose
from X to Y"); whether it is significant is said elsewhere, by the tests that decide it.
"""

from __future__ import annotations

import pandas as pd

from metrics.reference import formatting
from metrics.reference.catalogue import Indicator


def _shown(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with a figure drawn, in time order."""
    if rows is None or rows.empty or "value" not in rows:
        return pd.DataFrame(columns=["period", "value"])
    out = rows[rows["value"].notna()]
    return out.sort_values("period_end", kind="stable") if "period_end" in out else out


def _moved(first: float, last: float, ind: Indicator) -> str:
    # Compared as shown (rounded), so the words never say "rose from 5.2 to 5.2".
    a, b = formatting.number(first, ind), formatting.number(last, ind)
    unit = "%" if ind.unit == "%" else "" if ind.unit == "count" else f" {ind.unit}"
    if a == b:
        return f"was {b}{unit} in both"
    # "from 5.2 to 7.5 per 100,000": the unit once, after the second figure.
    return f"{'rose' if last > first else 'fell'} from {a}{unit if unit == '%' else ''} " \
           f"to {b}{unit}"


def trend(rows: pd.DataFrame, ind: Indicator, area_name: str) -> str:
    """A trend chart (metrics.views.explorer.trend_series rows): the area's first and
    latest figures drawn, England's in the latest period, and periods not shown."""
    if rows is None or rows.empty:
        return f"{ind.title}, {area_name}: no figures to draw."
    area = rows[rows["is_area"].astype(bool)] if "is_area" in rows else rows
    drawn = _shown(area)
    label = area["line"].iloc[0] if "line" in area and len(area) else area_name
    if drawn.empty:
        return f"{ind.title}: no figures for {label} are drawn; other lines only."
    first, last = drawn.iloc[0], drawn.iloc[-1]
    if len(drawn) == 1:
        words = f"{ind.title} in {label} was {formatting.with_unit(last['value'], ind)} " \
                f"in {last['period']}"
    else:
        words = f"{ind.title} in {label} {_moved(first['value'], last['value'], ind)} " \
                f"between {first['period']} and {last['period']}"
    others = rows[~rows.index.isin(area.index)] if "is_area" in rows else rows.iloc[0:0]
    for line, own in others.groupby("line", sort=False) if len(others) else []:
        at = own[(own["period"] == last["period"]) & own["value"].notna()]
        if len(at):
            words += f"; {line} {formatting.with_unit(at['value'].iloc[0], ind)}"
    gaps = int(area["value"].isna().sum())
    if gaps:
        words += f". {gaps} period{'s' if gaps > 1 else ''} not shown (small numbers " \
                 "suppressed or no figure)"
    return words + "."


def spc(frame: pd.DataFrame, summary: dict, ind: Indicator, area_name: str) -> str:
    """A statistical process control chart (metrics.views.explorer.spc_frame)."""
    drawn = _shown(frame)
    if drawn.empty:
        return f"{ind.title}, {area_name}: no figures to draw."
    first, last = drawn.iloc[0], drawn.iloc[-1]
    words = (f"Statistical process control chart of {ind.title} in {area_name}: "
             f"{len(drawn)} points from {first['period']} to {last['period']}, latest "
             f"{formatting.with_unit(last['value'], ind)}")
    if pd.notna(last.get("mean")):
        words += f"; mean {formatting.with_unit(last['mean'], ind)}"
    if pd.notna(last.get("lower_limit")) and pd.notna(last.get("upper_limit")):
        words += (f", process limits {formatting.with_unit(last['lower_limit'], ind)} to "
                  f"{formatting.with_unit(last['upper_limit'], ind)}")
    said = (summary or {}).get("words")
    return words + "." + (f" {said.rstrip('.')}." if said else "")


def ranking(rows: pd.DataFrame, ind: Indicator, area_name: str, period: str,
            england_value: float | None) -> str:
    """Every area ranked (metrics.views.explorer.area_ranking rows, suppressed ones
    already dropped): the range, the selected area's place and England."""
    drawn = rows[rows["value"].notna()] if rows is not None and len(rows) else None
    if drawn is None or drawn.empty:
        return f"{ind.title}, {period}: no area figures to rank."
    ordered = drawn.sort_values("value", ascending=False, kind="stable").reset_index(drop=True)
    high, low = ordered.iloc[0], ordered.iloc[-1]
    words = (f"{ind.title}, {period}: {len(ordered)} areas ranked from "
             f"{formatting.with_unit(high['value'], ind)} ({high['area_name']}) to "
             f"{formatting.with_unit(low['value'], ind)} ({low['area_name']})")
    home = ordered.index[ordered["role"] == "Home"] if "role" in ordered else []
    if len(home):
        at = int(home[0])
        words += (f"; {ordered.loc[at, 'area_name']} "
                  f"{formatting.with_unit(ordered.loc[at, 'value'], ind)}, "
                  f"{at + 1} of {len(ordered)} from the highest")
    elif area_name:
        words += f"; {area_name} has no figure drawn"
    if england_value is not None and pd.notna(england_value):
        words += f"; England {formatting.with_unit(england_value, ind)}"
    return words + "."


def funnel(points: pd.DataFrame, ind: Indicator, period: str, england_value: float | None,
           limits_words: str | None = None) -> str:
    """A funnel plot: how many areas lie outside the limits drawn, from the points
    (metrics.views.funnel.funnel_model) placed against those limits."""
    drawn = points[points["value"].notna()] if points is not None and len(points) else None
    if drawn is None or drawn.empty:
        return f"Funnel plot of {ind.title}, {period}: no areas to draw."
    words = (f"Funnel plot of {ind.title}, {period}: {len(drawn)} areas against England "
             f"{formatting.with_unit(england_value, ind)}")
    if limits_words:
        words += f". {limits_words.rstrip('.')}"
    return words + "."


def spine(rows: pd.DataFrame, area_name: str) -> str:
    """The spine chart (metrics.views.explorer.spine_rows, the rows placed on it): each
    metric's figure for the area, its period and its comparison with England."""
    if rows is None or rows.empty:
        return f"{area_name}: no metrics to compare with England."
    parts = []
    for _, row in rows.iterrows():
        said = str(row.get("significance_words") or "").strip()
        parts.append(f"{row['title']}, {row['period']}: {row['area_text']}, England "
                     f"{row['england_text']}" + (f", {said[0].lower() + said[1:]}"
                                                  if said else ""))
    return (f"{len(rows)} metric{'s' if len(rows) > 1 else ''} for {area_name} placed "
            "against England. " + ". ".join(parts) + ".")


def breakdown(table: pd.DataFrame, ind: Indicator, title: str, area_name: str,
              period: str) -> str:
    """One breakdown of the area's rate (metrics.views.continuity.breakdown_table): each
    group's rate as drawn, and how many groups are suppressed (their rates never said)."""
    shown = table[table["rate"].notna()] if table is not None and len(table) else None
    hidden = 0 if table is None else len(table) - (0 if shown is None else len(shown))
    if shown is None or shown.empty:
        return f"{ind.title} by {title.lower()}, {area_name}, {period}: every group suppressed."
    parts = [f"{row['category']} {formatting.with_unit(row['rate'], ind)}"
             for _, row in shown.iterrows()]
    words = f"{ind.title} by {title.lower()}, {area_name}, {period}: " + "; ".join(parts)
    if hidden:
        words += f". {hidden} group{'s' if hidden > 1 else ''} suppressed (small numbers)"
    return words + "."


def pathway(table: pd.DataFrame, area_name: str, period: str) -> str:
    """The pathway from prison to treatment, from its display table (Stage, People, %),
    where a suppressed count already reads '*' and is said as 'suppressed'."""
    if table is None or table.empty:
        return f"From prison to treatment, {area_name}, {period}: no figures."
    parts = []
    for _, row in table.iterrows():
        people = "suppressed" if row["People"] == "*" else f"{row['People']} people"
        share = row.iloc[2]
        parts.append(f"{row['Stage']}: {people}" + (f" ({share})" if share not in ("*", "-")
                                                    else ""))
    return f"From prison to treatment, {area_name}, {period}. " + "; ".join(parts) + "."


def urban_rural(rows: pd.DataFrame, measure: str, title: str, unit: str, area_name: str,
                england: pd.DataFrame | None = None) -> str:
    """The urban/rural chart (metrics.geo.urban_rural_summary rows, without "All"): each
    class's figure as drawn with its 95% interval, and England's for the same class.
    A class whose figure is hidden is not drawn, so it is counted, not valued."""
    def fig(value) -> str:
        return f"{value:,.1f}"

    per = f" ({unit})" if unit else ""
    if rows is None or rows.empty or measure not in rows:
        return f"{title} by rural-urban class in {area_name}: no figures to draw."
    drawn = rows[rows[measure].notna()].sort_values("order", kind="stable") \
        if "order" in rows else rows[rows[measure].notna()]
    eng = {} if england is None or england.empty or measure not in england else \
        dict(zip(england["group_label"], england[measure]))
    parts = []
    for row in drawn.itertuples(index=False):
        row = row._asdict()
        text = f"{row['group_label']} {fig(row[measure])}"
        lower, upper = row.get(f"{measure}_lower95"), row.get(f"{measure}_upper95")
        if lower is not None and upper is not None and pd.notna(lower) and pd.notna(upper):
            text += f" (95% interval {fig(lower)} to {fig(upper)})"
        if pd.notna(eng.get(row["group_label"])):
            text += f", England {fig(eng[row['group_label']])}"
        parts.append(text)
    if not parts:
        return f"{title} by rural-urban class in {area_name}: every figure is hidden."
    words = f"{title}{per} by rural-urban class in {area_name}: " + "; ".join(parts)
    hidden = len(rows) - len(drawn)
    if hidden:
        words += f". {hidden} class{'es' if hidden > 1 else ''} not shown (small numbers " \
                 "suppressed or no figure)"
    return words + "."


def small_area_map(values: pd.DataFrame, measure_kind: str, title: str, area_name: str) -> str:
    """The partnership map (metrics.geo.lsoa_values rows): for a figure, its range with
    the small areas at each end and the middle value; for a class or decile, how many
    small areas fall in each. Hidden figures are counted, never valued."""
    if values is None or values.empty:
        return f"Map of {area_name}: no small areas to draw."
    n = len(values)
    head = f"Map of {n:,} small areas in {area_name} coloured by {title.lower()}"
    if measure_kind in ("rate", "proportion"):
        drawn = values[values["value"].notna()].sort_values("value", kind="stable")
        hidden = int(values["suppressed"].sum())
        if drawn.empty:
            return head + ": every figure is hidden or missing."

        def where(row) -> str:
            return f"{row['value_text']} in {row['lsoa_name']} ({row['ltla_name']})"
        low, high = drawn.iloc[0], drawn.iloc[-1]
        middle = drawn["value"].median()
        suffix = "%" if measure_kind == "proportion" else ""
        decimals = 0 if measure_kind == "proportion" else 1
        words = (f"{head}. Lowest {where(low)}; highest {where(high)}; half the small "
                 f"areas are at or below {middle:,.{decimals}f}{suffix}")
        missing = n - len(drawn) - hidden
        notes = [f"{hidden:,} hidden (small numbers)" if hidden else "",
                 f"{missing:,} with no figure" if missing else ""]
        notes = [t for t in notes if t]
        return words + (f". {_first_upper('; '.join(notes))}" if notes else "") + "."
    counts = values["value_text"].fillna("-").value_counts(sort=False)
    # Deciles in number order (1, 2, ... 10, not 1, 10, 2), classes by name, none last.
    order = sorted(counts.index, key=lambda label: (
        label == "-", not label.isdigit(), int(label) if label.isdigit() else 0, label))
    parts = [f"{label if label != '-' else 'no class'}: {counts[label]:,}" for label in order]
    return f"{head}. Small areas by {title.lower()}: " + "; ".join(parts) + "."


def showing_part(place: str, words: str, not_drawn: str | None = None) -> str:
    """A map's words when it draws one district or region only, naming the selected area
    when it lies outside what is drawn."""
    outside = f" ({not_drawn} is not in it and is not drawn)" if not_drawn else ""
    return f"Showing {place} only{outside}. {words}"


def england_map(map_values: pd.DataFrame, ind: Indicator, area_code: str, names: dict,
                comparator_codes=(), mode: str = "value") -> str:
    """The England map (metrics.geo.area_map_values rows): the home area's figure, the
    range across partnerships with the areas at each end, and, coloured by comparison,
    how many areas fall in each verdict. Hidden figures are counted, never valued."""
    title = ind.title
    if map_values is None or map_values.empty:
        return f"Map of England's partnerships: no figures for {title.lower()}."
    period = next((p for p in map_values["period"] if p), "")
    when = f", {period}" if period else ""
    words = [f"Map of England's {len(map_values):,} partnerships coloured by "
             f"{title.lower()}{when}"]
    by_code = map_values.set_index("area_code")
    home_code = area_code
    if home_code in by_code.index:
        home = by_code.loc[home_code]
        area_name = names.get(home_code, home_code)
        verdict = f", {_first_lower(home['comparison_text'])}" \
            if mode == "comparison" and home["comparison_text"] else ""
        words.append(f"{area_name} (outlined): {home['value_text']}{verdict}")
    drawn = map_values[map_values["value"].notna()].sort_values("value", kind="stable")
    if len(drawn) >= 2:
        low, high = drawn.iloc[0], drawn.iloc[-1]
        words.append(f"lowest {low['value_text']} in {names.get(low['area_code'], low['area_code'])}"
                     f"; highest {high['value_text']} in "
                     f"{names.get(high['area_code'], high['area_code'])}")
    if mode == "comparison":
        counts = drawn["comparison_text"].value_counts()
        if len(counts):
            words.append("compared with England: " + "; ".join(
                f"{_first_lower(label)} {count:,}" for label, count in counts.items()))
    shown = {c for c in comparator_codes if c in by_code.index and c != home_code}
    if shown:
        words.append(f"{formatting.plural(len(shown), 'comparator area')} outlined in purple")
    hidden = int(map_values["suppressed"].sum())
    missing = int((map_values["value"].isna() & ~map_values["suppressed"]).sum())
    if hidden:
        words.append(f"{hidden:,} hidden (small numbers)")
    if missing:
        words.append(f"{missing:,} with no figure")
    return words[0] + "." + (f" {_first_upper('; '.join(words[1:]))}." if len(words) > 1 else "")


def _first_lower(text: str) -> str:
    """'Worse than England' inside a sentence: the first letter only, England keeps its."""
    return text[:1].lower() + text[1:]


def _first_upper(text: str) -> str:
    """Capitalise the first letter only (str.capitalize would lower every area name)."""
    return text[:1].upper() + text[1:]
