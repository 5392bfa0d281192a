"""Tables as a board paper prints them: no 'None', 'nan' or '<NA>' in a cell.

Streamlit draws a missing value as the word "None", which on a public screen reads as a
figure called None. Pages pass every table through `for_display` just before drawing it;
downloads keep the plain values (blank cells), which spreadsheets expect.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from metrics import stats
from metrics.reference.catalogue import BREAKDOWNS
from metrics.reference import formatting
from metrics.reference.formatting import SUPPRESSED
from metrics.render import palette

MISSING = "-"
# Columns of words, where a dash would read as a figure: left blank instead.
BLANK_WHEN_MISSING = ("Note", "Geography", "")


def _decimals(values: pd.Series) -> int:
    """The fewest decimals (0 to 2) that show every value as the table holds it."""
    for places in (0, 1, 2):
        if np.allclose(values, values.round(places), rtol=0, atol=1e-9):
            return places
    return 2


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose missing cells read '-' (blank in note columns).

    Numeric columns without gaps stay numeric (they sort as numbers); a numeric column
    with gaps becomes text, its numbers written with thousands separators and the
    decimals the column needs."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        missing = series.isna()
        if _mixed(series):
            # Numbers beside '*' (a suppressed count): all text, so Arrow need not guess
            # (Streamlit logs a conversion failure and retries otherwise).
            out[column] = [("" if column in BLANK_WHEN_MISSING else MISSING)
                           if _is_missing(v) else _text(v) for v in series]
            continue
        if not missing.any() and not _has_missing_words(series):
            continue
        fill = "" if column in BLANK_WHEN_MISSING else MISSING
        if pd.api.types.is_bool_dtype(series.dtype):
            out[column] = series.astype(object).where(~missing, fill)
        elif pd.api.types.is_numeric_dtype(series.dtype):
            present = series[~missing].astype(float)
            places = _decimals(present) if len(present) else 0
            out[column] = [fill if m else f"{v:,.{places}f}"
                           for v, m in zip(series.astype(float), missing)]
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            out[column] = [fill if m else f"{v:%-d %B %Y}" for v, m in zip(series, missing)]
        else:
            out[column] = [fill if _is_missing(v) else v for v in series]
    return out


def _mixed(series: pd.Series) -> bool:
    """An object column holding both numbers and text."""
    if not pd.api.types.is_object_dtype(series.dtype):
        return False
    kinds = {isinstance(v, str) for v in series if not _is_missing(v)}
    return kinds == {True, False}


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in ("None", "nan", "NaN", "<NA>", "NaT")


def _has_missing_words(series: pd.Series) -> bool:
    if not (pd.api.types.is_object_dtype(series.dtype)
            or pd.api.types.is_string_dtype(series.dtype)):
        return False
    return any(_is_missing(v) for v in series)


def missing_cells(frame: pd.DataFrame) -> list[tuple[str, object]]:
    """(column, value) of every cell that would show as None, nan or <NA> (for tests)."""
    return [(column, value) for column in frame.columns for value in frame[column]
            if _is_missing(value)]


# The selected area's row in a ranked table: GOV.UK light blue, with its name marked in
# words too (a highlight alone is lost on a washed-out projector).
HOME_FILL = "#D2E2F1"
HOME_MARK = " (selected area)"


def ranked(ranking: pd.DataFrame, value_title: str):
    """Areas ranked from the highest figure to the lowest, for a metric whose areas are
    not compared with England (activity counts): Rank, Area and the figure as shown, the
    selected area's row highlighted. `ranking`: area_name, display, value, role."""
    rows = ranking.sort_values(["value", "area_name"], ascending=[False, True],
                               na_position="last").reset_index(drop=True)
    home = rows["role"].eq("Home")
    frame = pd.DataFrame({
        "Rank": rows["value"].rank(method="min", ascending=False).astype("Int64"),
        "Area": rows["area_name"].astype(str) + np.where(home, HOME_MARK, ""),
        value_title: rows["display"]})
    frame = for_display(frame)
    return frame.style.apply(
        lambda row: [f"background-color: {HOME_FILL}; font-weight: bold"
                     if home.iloc[row.name] else "" for _ in row], axis=1)


def home_rank_words(ranking: pd.DataFrame) -> str:
    """'Gloucestershire police force area is 25th of 43.', said above the table, whose
    highlighted row can be below the fold; '' when the selected area is not ranked."""
    ranks = ranking["value"].rank(method="min", ascending=False)
    home = ranking["role"].eq("Home")
    if not home.any() or pd.isna(ranks[home].iloc[0]):
        return ""
    rank = int(ranks[home].iloc[0])
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    joint = " (joint)" if (ranks == rank).sum() > 1 else ""
    return (f"{ranking.loc[home, 'area_name'].iloc[0]} is {rank}{suffix}{joint} of "
            f"{int(ranks.notna().sum())}, from the highest.")


def narrow_breakdown(table: pd.DataFrame, breakdown: str) -> pd.DataFrame:
    """A continuity breakdown (metrics.views.continuity.breakdown_table) as a board table
    of five columns, narrow enough for a 1024 px laptop (seven, with the counts and the
    interval apart, scrolled sideways there): '*' for suppressed figures, and the
    comparison as its shape and short words, as on the chart."""
    def count(v):
        return SUPPRESSED if pd.isna(v) else f"{v:,.0f}"

    def rate(v, lo, hi, hidden):
        if hidden:
            return SUPPRESSED
        if pd.isna(v):
            return MISSING
        return f"{v:.1f}%" + ("" if pd.isna(lo) else f" ({lo:.1f} to {hi:.1f})")

    def compared(code, hidden):
        if code == "not_compared":
            return MISSING if hidden else "Not compared"
        verdict = palette.verdict(code)
        # "Better (compared at 95% only)" keeps its caveat; the others read as the legend.
        words = stats.COMPARISON_WORDS[code] if code.endswith("only") else verdict.words
        return f"{verdict.glyph} {words}"

    return pd.DataFrame({
        BREAKDOWNS.get(breakdown, breakdown.capitalize()): table["category"],
        "Engaged": [f"{count(e)} of {count(r)}" for e, r in
                                zip(table["engaged"], table["released"])],
        "Rate (95% interval)": [rate(v, lo, hi, s) for v, lo, hi, s in
                                zip(table["rate"], table["lower95"], table["upper95"],
                                    table["suppressed"])],
        "Against the area": [compared(c, s) for c, s in
                                   zip(table["comparison"], table["suppressed"])],
        "All areas" if breakdown == "prison" else "England":
            [MISSING if pd.isna(v) else f"{v:.1f}%" for v in table["england_rate"]],
    })


# Header tooltips of narrow_breakdown's columns (st.column_config help).
BREAKDOWN_HELP = {
    "Engaged": "Adults engaged in community treatment within 3 weeks of "
                           "release, of those released with a treatment need",
    "Rate (95% interval)": "% engaged within 3 weeks, with its 95% Wilson interval",
    "Against the area": "The group's rate against the area's overall rate (95% and "
                              "99.8% intervals): the shape says it as well as the words",
    "All areas": "The same prison's rate over all the areas it releases to",
    "England": "England's rate for the same group",
}


# --- Board tables ---------------------------------------------------------------------------
# A data grid (st.dataframe) draws on a canvas whose columns never wrap: the outcome
# pages' nine-column "All metrics" table was 515-1,176 px wider than a 1024 px laptop's
# page, its verdicts and extremes behind a sideways scroll. A board table is plain HTML,
# as a board paper prints it: cells wrap, so every column shows at any width, and a
# screen reader reads its header cells (the first column heads each row).

# Longer than this, a board table scrolls up and down in a box of its own.
SCROLL_ROWS = 12


def board_table(frame: pd.DataFrame, caption: str = "",
                verdicts: dict[str, list] | None = None,
                details: list[str] | None = None) -> str:
    """`frame` as an HTML table (missing cells as for_display writes them). `verdicts`
    maps a column to the comparison codes of its rows: that column's cells are filled in
    the benchmark colour, with the verdict's shape before its words (colour is never
    alone). `details`: a second, smaller line under each row's first cell. A table of more
    than SCROLL_ROWS rows scrolls up and down in a box of its own, header kept in view."""
    frame = for_display(frame)
    verdicts = verdicts or {}
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for j, (column, value) in enumerate(zip(frame.columns, row)):
            text = html.escape("" if _is_missing(value) else _text(value))
            style = ""
            if column in verdicts and text.strip() not in ("", MISSING):
                verdict = palette.verdict(verdicts[column][i])
                style = (f' style="background:{verdict.colour};'
                         f'color:{palette.text_colour(verdict.colour)}"')
                text = f'<span aria-hidden="true">{verdict.glyph}</span> {text}'
            if j == 0 and details and details[i]:
                text += f'<br><span class="board-detail">{html.escape(details[i])}</span>'
            tag = '<th scope="row"' if j == 0 else "<td"
            cells.append(f"{tag}{style}>{text}</{tag[1:3]}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    boxed = (f' board-table-scroll" tabindex="0" role="region" '
             f'aria-label="{html.escape(caption or "Table", quote=True)}') \
        if len(frame) > SCROLL_ROWS else ""
    return (f'<div class="board-table{boxed}"><table>{title}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def narrow_figures(table: pd.DataFrame, indicator) -> pd.DataFrame:
    """A metric's Figures table (explorer.values_table, as shown) in five columns for the
    screen: the period, the area, the count of its denominator, the value with its 95%
    interval and the comparison, with any note. The 99.8% limits, area codes and the
    data status are in the full table and the downloads."""
    value = next(c for c in table.columns if c.startswith("Value ("))

    def cell(v):
        return MISSING if _is_missing(v) else _text(v) if not isinstance(v, str) else v

    def figure(v, lo, hi):
        if _is_missing(v) or isinstance(v, str):
            return cell(v)
        text = formatting.number(v, indicator)
        if _is_missing(lo) or _is_missing(hi) or isinstance(lo, str):
            return text
        return (f"{text} ({formatting.number(lo, indicator)} to "
                f"{formatting.number(hi, indicator)})")

    counts = [cell(c) if _is_missing(d) else f"{cell(c)} of {cell(d)}"
              for c, d in zip(table["Count"], table["Denominator"])]
    notes = ["" if _is_missing(n) else str(n) for n in table["Note"]]
    return pd.DataFrame({
        "Period": table["Period"], "Area": table["Area"], "Count": counts,
        f"{value[:-1]}, 95% interval)": [figure(v, lo, hi) for v, lo, hi in zip(
            table[value], table["Lower 95%"], table["Upper 95%"])],
        "Compared with England": [w if not n else f"{w}. {n}"
                                  for w, n in zip(table["Compared with England"], notes)],
    })


def narrow_continuity_figures(table: pd.DataFrame) -> pd.DataFrame:
    """Continuity of care's Figures table (continuity.figures_table) in five columns: the
    period (and whether a quarter or 12 months), engaged of released, the rate with its
    95% interval, England's rate and any note."""
    def rate(v, lo, hi):
        if _is_missing(v) or isinstance(v, str):
            return MISSING if _is_missing(v) else v
        interval = "" if _is_missing(lo) or isinstance(lo, str) else f" ({lo:.1f} to {hi:.1f})"
        return f"{v:.1f}%{interval}"

    out = pd.DataFrame({
        "Period": [p if t == "Quarter" else f"12 months to {p.removeprefix('12 months to ')}"
                   for p, t in zip(table["Period"], table["Type"])],
        "Engaged within 3 weeks, of released": [
            f"{e} of {r}" for e, r in zip(table["Engaged within 3 weeks"],
                                         table["Released with a need"])],
        "Rate (95% interval)": [rate(v, lo, hi) for v, lo, hi in
                                zip(table["Rate (%)"], table["Lower 95%"], table["Upper 95%"])],
        "England": [MISSING if _is_missing(v) or isinstance(v, str) else f"{v:.1f}%"
                    for v in table["England (%)"]],
        "Note": ["" if _is_missing(n) else n for n in table["Note"]],
    })
    # A column with no note at all takes room and says nothing.
    return out if out["Note"].astype(bool).any() else out.drop(columns="Note")
