"""Disclosure control for public meetings (NDTMS practice).

Counts from 1 to threshold - 1 are suppressed and shown as '*'; so is any rate or
percentage built on such a count, since the count could be worked back from it.
Zero is not suppressed: it discloses nothing about an individual.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

NOTE = "Value suppressed for disclosure control due to small count"


def is_small(count, threshold: int) -> bool:
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return False
    return 0 < count < threshold


# --- Secondary suppression -------------------------------------------------------------
#
# A table whose parts add up to a shown total (categories of a breakdown, stages of a
# pathway) can give a suppressed count away by subtraction: hide only "Female: 3" and
# "Male: 97" with the total 100 reveals it. `protect` decides which further cells to
# hide so that no hidden count can be worked out from the totals, the sibling categories
# or any combination of the table's sums. The board pack reuses it.

def protect(counts: Mapping[Hashable, float],
            relations: Iterable[tuple],
            threshold: int, hidden: Iterable[Hashable] = ()) -> set:
    """The cells to suppress in a table of counts linked by sums.

    `counts`: every count a viewer could see or work out, by cell key (a missing value
    counts as unknown). `relations`: (total, parts) pairs meaning total = sum of parts,
    e.g. ("released", ["released Male", "released Female"]); a third item True means
    "hide this total before its parts" (rolling 12 months: hiding the year's figure
    protects a small quarter; hiding another quarter would start a chain). `hidden`:
    cells to treat as hidden from the start (e.g. suppressed elsewhere).

    Primary suppression hides counts from 1 to threshold - 1. Secondary suppression then
    hides more, until, for every relation, (a) no hidden cell is its only unknown, and
    (b) when its total is known, its hidden parts add up to 0 or at least `threshold`
    (otherwise each is known to be small); and finally (c) no hidden cell can be solved
    from all the relations together (linear algebra over the hidden cells). Each extra
    cell hidden is the smallest non-zero visible part of the relation concerned; a total
    only when no part is left (or first, when the relation says so).
    """
    relations = [(r[0], tuple(r[1]), bool(r[2]) if len(r) > 2 else False)
                 for r in relations]
    value = {key: (math.nan if count is None else float(count)) for key, count in counts.items()}
    for total, parts, _ in relations:
        for key in (total, *parts):
            value.setdefault(key, math.nan)
    out = {key for key, v in value.items() if is_small(v, threshold) or math.isnan(v)}
    out |= set(hidden)

    def hide_total(total) -> bool:
        if total not in out and not math.isnan(value[total]):
            out.add(total)
            return True
        return False

    def hide_one_more(total, parts, total_first=False, zeros: bool = False) -> bool:
        """Hide the smallest visible non-zero part (a zero one if `zeros`), else the
        total (the total first if `total_first`); False when nothing is left to hide."""
        if total_first and hide_total(total):
            return True
        for allowed in ((lambda v: v > 0), (lambda v: v == 0) if zeros else None):
            if allowed is None:
                break
            visible = [p for p in parts if p not in out and allowed(value[p])]
            if visible:
                out.add(min(visible, key=lambda p: (value[p], str(p))))
                return True
        return hide_total(total)

    cells = [frozenset((total, *parts)) for total, parts, _ in relations]

    def exposed(i) -> bool:
        """Rules (a) and (b) for relation i. Missing cells are unknowns that protect
        nothing themselves (there is no count of ours in them)."""
        unknown = cells[i] & out          # a set operation: relations can be long
        if not unknown:
            return False
        if len(unknown) == 1:
            return not math.isnan(value[next(iter(unknown))])
        total = relations[i][0]
        hidden_parts = [value[p] for p in unknown if p != total]
        return (total not in out and not any(math.isnan(v) for v in hidden_parts)
                and 0 < sum(hidden_parts) < threshold)

    for _ in range(10 * len(value) + 10):
        changed = False
        for i, (total, parts, total_first) in enumerate(relations):
            if exposed(i):
                changed |= hide_one_more(total, parts, total_first)
        if changed:
            continue
        solvable = _solvable(value, relations, out)
        if not solvable:
            break
        # Hidden cells can still be solved from the relations together: hide one more
        # cell next to each (a zero one if need be), else anywhere in the linked table.
        for key in solvable:
            linked = [r for r in relations if key in (r[0], *r[1])]
            changed |= any(hide_one_more(*r, zeros=True) for r in linked)
        if not changed:
            touching = [r for r in relations if out & {r[0], *r[1]}]
            if not any(hide_one_more(*r, zeros=True) for r in touching):
                break
    # Missing cells were never shown: report only cells that hold a count.
    return {key for key in out if key in counts}


def _solvable(value: dict, relations: list, hidden: set) -> list:
    """Hidden non-zero cells whose value follows from the relations and the visible
    cells. With the visible cells moved to the right-hand side, the relations are
    A x = b over the hidden cells x; cell k is determined exactly when every solution of
    A v = 0 has v_k = 0, i.e. when row k of a basis of A's null space is zero."""
    keys = sorted(hidden, key=str)
    if not keys or not relations:
        return []
    index = {key: i for i, key in enumerate(keys)}
    matrix = np.zeros((len(relations), len(keys)))
    for row, (total, parts, *_) in enumerate(relations):
        if total in index:
            matrix[row, index[total]] += 1.0
        for part in parts:
            if part in index:
                matrix[row, index[part]] -= 1.0
    matrix = matrix[np.abs(matrix).sum(axis=1) > 0]
    if matrix.size == 0:
        return []
    determined = _determined(matrix)
    return [key for key in keys if determined[index[key]] and value.get(key, 0) > 0]


def _determined(matrix: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """For A x = b, which unknowns x_k have one value in every solution: reduce A to
    row echelon form; x_k is fixed when it is a pivot whose row has no free unknown.

    Plain elimination rather than numpy's SVD: the matrices are small and hold 0 and
    +-1, and LAPACK's threads, on a busy shared machine, made an 84 x 162 SVD take 1.5 s
    instead of 7 ms."""
    a = np.array(matrix, dtype=float)
    n_rows, n_cols = a.shape
    pivots: list[int] = []
    row = 0
    for col in range(n_cols):
        if row == n_rows:
            break
        best = row + int(np.argmax(np.abs(a[row:, col])))
        if abs(a[best, col]) < tol:
            continue
        if best != row:
            a[[row, best]] = a[[best, row]]
        a[row] /= a[row, col]
        others = np.abs(a[:, col]) > tol
        others[row] = False
        if others.any():
            a[others] -= a[others, col][:, None] * a[row][None, :]
        pivots.append(col)
        row += 1
    is_pivot = np.zeros(n_cols, dtype=bool)
    is_pivot[pivots] = True
    free = ~is_pivot
    out = np.zeros(n_cols, dtype=bool)
    for i, col in enumerate(pivots):
        out[col] = not (np.abs(a[i, free]) > tol).any()
    return out


def suppress_breakdown(numerators: Sequence[float], denominators: Sequence[float],
                       total_numerator: float, total_denominator: float,
                       threshold: int, total_hidden: bool = False,
                       total_denominator_hidden: bool = False,
                       categories: Sequence[Hashable] | None = None) -> pd.DataFrame:
    """Which figures of a breakdown to suppress: categories (rows) whose numerators and
    denominators add up to a shown total (e.g. prison leavers engaged / released, by
    substance).

    Protects each category's numerator, denominator and complement (denominator minus
    numerator: "not engaged" discloses as much as "engaged"), and the total's. Returns
    one row per category, in the order given, with boolean columns numerator_hidden,
    denominator_hidden and rate_hidden (a rate is shown only when both its counts are),
    and attrs ["total_hidden"] (True when the total's numerator must be suppressed) and
    ["total_denominator_hidden"]. Pass the true totals even when they are suppressed
    where they are shown, with `total_hidden` (numerator and complement hidden) and
    `total_denominator_hidden`: then the categories will not give them away either.

    `categories`: the categories' names. Cells are keyed by name, not by position, and
    the table is examined in name order, so where counts tie the same cells are hidden
    whatever order the rows come in: two outputs of one table cannot be compared to
    undo each other's suppression. Without names, the position is the key."""
    n = [float(x) for x in numerators]
    d = [float(x) for x in denominators]
    if len(n) != len(d):
        raise ValueError("one numerator per denominator")
    keys = list(range(len(n))) if categories is None else [str(c) for c in categories]
    if len(keys) != len(n):
        raise ValueError("one category name per numerator")
    if len(set(keys)) != len(keys):
        raise ValueError("category names must be unique")
    order = sorted(range(len(n)), key=lambda i: str(keys[i]))
    counts: dict = {("n", "total"): total_numerator, ("d", "total"): total_denominator,
                    ("m", "total"): total_denominator - total_numerator}
    relations: list = [(("d", "total"), [("n", "total"), ("m", "total")])]
    for i in order:
        key = ("c", keys[i])
        counts |= {("n", key): n[i], ("d", key): d[i], ("m", key): d[i] - n[i]}
        relations.append((("d", key), [("n", key), ("m", key)]))
    for kind in ("n", "m", "d"):
        relations.append(((kind, "total"), [(kind, ("c", keys[i])) for i in order]))
    already = ([("n", "total"), ("m", "total")] if total_hidden else []) + \
        ([("d", "total")] if total_denominator_hidden else [])
    hidden = protect(counts, relations, threshold, hidden=already)
    cell = [("c", k) for k in keys]
    out = pd.DataFrame({
        "numerator_hidden": [("n", c) in hidden for c in cell],
        "denominator_hidden": [("d", c) in hidden for c in cell],
    })
    out["rate_hidden"] = out["numerator_hidden"] | out["denominator_hidden"] | \
        pd.Series([("m", c) in hidden for c in cell], dtype=bool)
    out.attrs["total_hidden"] = bool({("n", "total"), ("m", "total")} & hidden)
    out.attrs["total_denominator_hidden"] = ("d", "total") in hidden
    return out


def small_mask(counts, threshold: int):
    """Vectorised is_small: True where 0 < count < threshold (missing counts are not)."""
    import numpy as np
    counts = np.asarray(counts, dtype=float)
    with np.errstate(invalid="ignore"):
        return (counts > 0) & (counts < threshold)


# --- Area totals: one protection for every view ------------------------------------------
#
# Suppressing each view on its own leaves the sums between views open: England's count
# minus the areas shown in a ranking gives the one hidden area; a rate of 70% of 10 gives
# the 3 who did not engage. So the published area totals are protected once, for each
# metric and period, as one table: England = the sum of its upper-tier areas (or police
# force areas), each region = the sum of its areas, and for every area denominator =
# numerator + complement. Every view in public mode reads these rows, so every output of
# the same table hides the same cells.

AREA_LEVELS = {"utla": "utla", "pfa": "pfa"}
ENGLAND = "E92000001"
HIDDEN_COLUMNS = ("suppressed", "numerator_hidden", "denominator_hidden")
POPULATION_METHODS = ("byars", "dsr")
_BLANK = ["numerator", "value", "lower95", "upper95", "lower998", "upper998"]


def _hierarchy(areas: pd.DataFrame, geography: str) -> list[tuple[str, list[str]]]:
    """(total, parts) area codes for a metric's geography, in a fixed order (sorted
    codes), so the cells chosen never depend on the order of the rows."""
    level = areas[areas["area_type"] == AREA_LEVELS[geography]]
    codes = sorted(level["area_code"])
    out = [(ENGLAND, codes)]
    if geography == "utla":
        regions = level.groupby("region_code")["area_code"].apply(sorted)
        regions = regions[[bool(r) and isinstance(r, str) for r in regions.index]]
        out += [(region, parts) for region, parts in sorted(regions.items())]
        out.append((ENGLAND, sorted(regions.index)))
    return out


def protect_table(numerators: Mapping[str, float], denominators: Mapping[str, float],
                  hierarchy: Sequence[tuple[str, Sequence[str]]], threshold: int,
                  hidden: Iterable[str] = (), population: bool = False
                  ) -> tuple[set, set, set]:
    """The cells to hide in one metric's area totals for one period.

    `numerators` / `denominators`: by area code (missing areas are unknown);
    `hierarchy`: (total area, part areas) sums; `hidden`: areas whose figures are hidden
    already. Returns the area codes whose numerator, complement (denominator minus
    numerator) and denominator must be hidden.

    `population`: the denominators are resident populations (rates per 1,000 or
    100,000), which anyone can look up: they cannot protect anything, so only the
    numerators are protected, across the hierarchy."""
    counts: dict = {}
    relations: list = []
    if population:
        counts = {("n", code): (math.nan if v is None else float(v))
                  for code, v in numerators.items()}
        relations = [(("n", total), [("n", p) for p in parts]) for total, parts in hierarchy]
        out = protect(counts, relations, threshold,
                      hidden=[("n", code) for code in sorted(set(hidden))])
        return {key[1] for key in out}, set(), set()
    for code in sorted(set(numerators) | set(denominators)):
        n = numerators.get(code, math.nan)
        d = denominators.get(code, math.nan)
        n = math.nan if n is None else float(n)
        d = math.nan if d is None else float(d)
        counts |= {("n", code): n, ("d", code): d, ("m", code): d - n}
        relations.append((("d", code), [("n", code), ("m", code)]))
    for kind in ("n", "m", "d"):
        for total, parts in hierarchy:
            relations.append(((kind, total), [(kind, p) for p in parts]))
    already = [(kind, code) for code in sorted(set(hidden)) for kind in ("n", "m", "d")]
    out = protect(counts, relations, threshold, hidden=already)
    pick = {kind: {key[1] for key in out if key[0] == kind} for kind in ("n", "m", "d")}
    return pick["n"], pick["m"], pick["d"]


def protect_area_values(values: pd.DataFrame, areas: pd.DataFrame, indicators,
                        threshold: int) -> pd.DataFrame:
    """`values` (area totals, metrics.store.all_area_values) with every figure a viewer
    could use to find a small count blanked, whatever views they combine.

    Per metric and period, `protect_table` over England, regions and areas (police force
    areas for metrics published by force). A hidden numerator, complement or denominator
    blanks the row's count, value and intervals (a value times the denominator, or an
    interval's width, would give the count back) with the disclosure note; a hidden
    denominator is blanked too. Adds boolean columns suppressed (the rate and count are
    hidden), numerator_hidden and denominator_hidden.

    A metric published both by quarter and for rolling 12 months (continuity of care):
    each rolling figure is the sum of four quarters, so where any quarter of an area is
    hidden, all its quarters are (otherwise the rolling figures and the other quarters
    give the hidden one back); the quarters are then protected again across areas until
    nothing changes.

    With threshold 1 (public mode off) nothing is hidden."""
    out = values.copy()
    for column in HIDDEN_COLUMNS:
        out[column] = False
    if threshold <= 1 or out.empty:
        return out
    by_id = {ind.id: ind for ind in indicators}
    hierarchies: dict = {}
    n_hidden = np.zeros(len(out), dtype=bool)
    m_hidden = np.zeros(len(out), dtype=bool)
    d_hidden = np.zeros(len(out), dtype=bool)
    numerator = out["numerator"].to_numpy(float)
    denominator = out["denominator"].to_numpy(float)
    # The easy case, vectorised: a table with no small cell hides nothing.
    small = small_mask(numerator, threshold) | small_mask(denominator - numerator, threshold) \
        | small_mask(denominator, threshold)
    population_rows = out["indicator_id"].map(
        lambda i: getattr(by_id.get(i), "ci_method", "") in POPULATION_METHODS).to_numpy(bool)
    small = np.where(population_rows, small_mask(numerator, threshold), small)
    frame = pd.DataFrame({"indicator_id": out["indicator_id"].to_numpy(),
                          "period_kind": out["period_kind"].to_numpy(),
                          "period": out["period"].to_numpy(),
                          "area_code": out["area_code"].to_numpy(),
                          "n": numerator, "d": denominator, "small": small,
                          "pos": np.arange(len(out))})
    kinds_of = frame.groupby("indicator_id")["period_kind"].agg(set).to_dict()
    for (indicator_id, kind), rows in frame.groupby(["indicator_id", "period_kind"],
                                                    sort=True):
        ind = by_id.get(indicator_id)
        if ind is None or not ind.disclosive or not rows["small"].any():
            continue
        if ind.geography not in hierarchies:
            hierarchies[ind.geography] = _hierarchy(areas, ind.geography) \
                if ind.geography in AREA_LEVELS else []
        hierarchy = hierarchies[ind.geography]
        chained = kind == "quarter" and "rolling_12m" in kinds_of[indicator_id]
        # Counts and crude or standardised rates per head of population.
        population = ind.ci_method in POPULATION_METHODS
        whole_series = set(rows.loc[rows["small"], "area_code"]) if chained else set()
        tables = dict(tuple(rows.groupby("period", sort=True)))
        result: dict = {}
        done: dict = {}
        while True:
            for period, table in tables.items():
                present = frozenset(whole_series.intersection(table["area_code"].tolist()))
                if not present and not table["small"].any():
                    continue
                if done.get(period) == present:
                    continue      # nothing new hidden in this period since last time
                done[period] = present
                codes = table["area_code"].tolist()
                result[period] = protect_table(dict(zip(codes, table["n"].tolist())),
                                               dict(zip(codes, table["d"].tolist())),
                                               hierarchy, threshold, hidden=present,
                                               population=population)
            grown = set().union(*(a | b | c for a, b, c in result.values())) \
                if chained and result else set()
            if not chained or grown <= whole_series:
                break
            whole_series |= grown
        for period, (hn, hm, hd) in result.items():
            table = tables[period]
            pos = table["pos"].to_numpy()
            codes = table["area_code"]
            n_hidden[pos] = codes.isin(hn).to_numpy()
            m_hidden[pos] = codes.isin(hm).to_numpy()
            d_hidden[pos] = codes.isin(hd).to_numpy()
    suppressed = n_hidden | m_hidden | d_hidden
    out["suppressed"] = suppressed
    out["numerator_hidden"] = suppressed
    out["denominator_hidden"] = d_hidden
    out.loc[suppressed, _BLANK] = np.nan
    out.loc[d_hidden, "denominator"] = np.nan
    out.loc[suppressed, "value_note"] = NOTE
    return out
