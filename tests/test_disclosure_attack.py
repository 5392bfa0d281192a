"""Public mode against a determined viewer: read what the server sends, do arithmetic.

The promise (issue 11): in public mode no count from 1 to 4, nor a complement (denominator
minus count) from 1 to 4, can be seen or worked out from anything the app sends. This test
collects, from the demonstration set, what the app really sends in public mode for the
smallest areas and every disclosive metric (the outcome pages' ranking and funnel chart
specs, their Figures tables, which are the CSV and Excel downloads, trend chart specs with
the comparator average, the continuity page's cards, charts and tables, the England map's
values and the presentation's slide data), then attacks them:

- reading a count, complement or denominator straight off a table;
- value x denominator (a rate shown with its denominator gives the count);
- complements (denominator minus count);
- subtraction and linear algebra on the area hierarchy: England = sum of upper-tier
  areas (or police force areas), each region = sum of its areas, for counts,
  complements and denominators, with denominator = count + complement per area;
- pooled comparator series: a group's average times its members' denominators, minus
  the members' counts shown.

A cell counts as recovered only when the attack's answer equals the true figure, which
is small (1 to 4) and so should have been hidden. On the code before the fix the same
attacks recovered hundreds of them; now they must recover none. Population denominators
(rates per head) are treated as known to the attacker: anyone can look them up.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from metrics import demo, geo, store
from metrics.reference import catalogue
from metrics.stats import comparators
from metrics.views import explorer

THRESHOLD = 5
# City of London, Isles of Scilly, Rutland, Hartlepool, Darlington, Kensington and Chelsea.
SMALL_AREAS = ("E09000001", "E06000053", "E06000017", "E06000001", "E06000005")
RECENT_PERIODS = 4          # ranking and funnel specs for this many latest periods a metric
ENGLAND = "E92000001"
POPULATION = ("byars", "dsr")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    data_dir = tmp_path_factory.mktemp("attack")
    version = demo.build_demo(data_dir)
    values = store.all_area_values(version, [i.id for i in catalogue.INDICATORS])
    return str(data_dir), version, values, store.areas(version)


def _disclosive():
    return [i for i in catalogue.INDICATORS if i.disclosive and i.geography != "national"]


# --- What the server sends ------------------------------------------------------------------

class Seen:
    """Everything a viewer has read: (indicator, kind, period, area, field) -> number, with
    fields n (count), d (denominator), value, lower95, upper95; and pooled lines."""

    def __init__(self):
        self.cells: dict = {}
        self.pooled: list = []          # (indicator, kind, period, member codes, value)

    def add(self, ind_id, kind, period, area, field, number):
        if number is None or (isinstance(number, float) and math.isnan(number)):
            return
        try:
            number = float(str(number).replace(",", "").rstrip("%"))
        except ValueError:
            return                                   # '*', '-', words
        self.cells[(ind_id, kind, str(period), area, field)] = number


def _spec_rows(spec: dict) -> list[dict]:
    return [row for rows in (spec or {}).get("datasets", {}).values() for row in rows]


def _number(text) -> float | None:
    match = re.match(r"^\s*([0-9][0-9,]*\.?[0-9]*)", str(text))
    return float(match.group(1).replace(",", "")) if match else None


def collect(data_dir: str, version, values: pd.DataFrame, areas: pd.DataFrame) -> Seen:
    from ui import continuity_page, outcome_page, presentation   # noqa: F401 (the real views)
    from ui import data as ui_data
    from metrics.views import continuity as cc

    seen = Seen()
    code_of = dict(zip(areas["area_name"], areas["area_code"]))
    name_of = dict(zip(areas["area_code"], areas["area_name"]))
    need = store.area_need_summary(version)
    groups = {a: comparators.comparator_group("nearest", a, areas, (), need).codes
              for a in SMALL_AREAS}

    for ind in _disclosive():
        rows = explorer.metric_rows(values, ind)
        ends = sorted(pd.to_datetime(rows["period_end"]).dt.date.unique())
        latest_end = ends[-1]
        kind = ind.period_kind
        # All areas: ranking and funnel chart specs (every area's figures at once).
        for end in ends[-RECENT_PERIODS:]:
            model = outcome_page._view_model("All areas", data_dir, version.id, ind.id,
                                             SMALL_AREAS[0], "x", end, groups[SMALL_AREAS[0]],
                                             THRESHOLD, None)
            period = model["period"]
            for spec in (model["ranked"], model["funnel"]):
                for r in _spec_rows(spec):
                    area = code_of.get(r.get("area_name"))
                    if area is None:
                        continue
                    for field in ("value", "lower95", "upper95"):
                        seen.add(ind.id, kind, period, area, field, r.get(field))
                    seen.add(ind.id, kind, period, area, "d", r.get("denominator"))
                    seen.add(ind.id, kind, period, area, "n", r.get("numerator"))
            if model["ranking"] is not None:
                for r in model["ranking"].itertuples():
                    seen.add(ind.id, kind, period, code_of.get(r.area_name), "value",
                             _number(r.display))
        for area in SMALL_AREAS:
            shown, _ = explorer.shown_area(ind, area, areas)
            # Figures table: the CSV and Excel downloads are this frame written out.
            table = outcome_page._view_model("Figures", data_dir, version.id, ind.id, area,
                                             name_of[area], latest_end, groups[area],
                                             THRESHOLD, None)["table"]
            for r in table.to_dict("records"):
                code, period = r["Area code"], r["Period"]
                seen.add(ind.id, kind, period, code, "n", r["Count"])
                seen.add(ind.id, kind, period, code, "d", r["Denominator"])
                seen.add(ind.id, kind, period, code, "value", r[f"Value ({ind.unit})"])
                seen.add(ind.id, kind, period, code, "lower95", r["Lower 95%"])
                seen.add(ind.id, kind, period, code, "upper95", r["Upper 95%"])
            # Trend chart: the area, England and the comparator average.
            trend = outcome_page._view_model("Trend", data_dir, version.id, ind.id, area,
                                             name_of.get(shown, shown), latest_end,
                                             groups[area], THRESHOLD, None)
            for r in _spec_rows(trend.get("spec")):
                line = r.get("line")
                if line == "Comparator average" and ind.geography == "utla":
                    seen.pooled.append((ind.id, kind, r.get("period"), groups[area],
                                        r.get("value")))
                    continue
                code = ENGLAND if line == "England" else shown
                for field in ("value", "lower95", "upper95"):
                    seen.add(ind.id, kind, r.get("period"), code, field, r.get(field))
        # The England map (value per area, latest period).
        if hasattr(ui_data, "public_values"):
            public = ui_data.public_values(data_dir, version.id, (ind.id,), THRESHOLD)
        else:                       # before the fix the map read the raw rows
            public = ui_data.all_area_values(data_dir, version.id, (ind.id,))
        for r in geo.area_map_values(public, ind, areas, THRESHOLD).itertuples():
            if ind.geography == "utla":
                seen.add(ind.id, kind, r.period, r.area_code, "value", r.value)

    # Continuity of care page: cards, trend (rolling and quarters), all areas, figures.
    ind = cc.IND
    ends = sorted(pd.to_datetime(explorer.metric_rows(values, ind)["period_end"]).dt.date
                  .unique())
    target, target_date = 0.75, dt.date(2025, 3, 31)
    for end in ends[-RECENT_PERIODS:]:
        model = continuity_page._areas_model(data_dir, version.id, SMALL_AREAS[0], "x", end,
                                             (), THRESHOLD, target)
        for spec in (model["ranked"], model["funnel"]):
            for r in _spec_rows(spec):
                area = code_of.get(r.get("area_name"))
                for field in ("value", "lower95", "upper95"):
                    seen.add(ind.id, "rolling_12m", model["period"], area, field, r.get(field))
                seen.add(ind.id, "rolling_12m", model["period"], area, "d",
                         r.get("denominator"))
    for area in SMALL_AREAS:
        end = ends[-1]
        main = continuity_page._main_model(data_dir, version.id, area, name_of[area], end,
                                           groups[area], THRESHOLD, target, target_date,
                                           dt.date(2026, 12, 1))
        if main is None:
            continue
        head = main["headline"]
        for figure, kind in ((head.rolling, "rolling_12m"), (head.quarter, "quarter")):
            if figure.period:
                seen.add(ind.id, kind, figure.period, area, "n", figure.engaged)
                seen.add(ind.id, kind, figure.period, area, "d", figure.released)
                seen.add(ind.id, kind, figure.period, area, "value", figure.rate)
        quarters = None if main["quarters_hidden"] else continuity_page._quarter_model(
            data_dir, version.id, area, name_of[area], end, groups[area], THRESHOLD, target,
            target_date)["spec"]
        for spec, kind in ((main["trend_rolling"], "rolling_12m"), (quarters, "quarter")):
            for r in _spec_rows(spec):
                if r.get("line") == "Comparator average":
                    seen.pooled.append((ind.id, kind, r.get("period"), groups[area],
                                        r.get("value")))
                elif r.get("line") == name_of[area]:
                    for field in ("value", "lower95", "upper95"):
                        seen.add(ind.id, kind, r.get("period"), area, field, r.get(field))
        figures = continuity_page._figures_model(data_dir, version.id, area, name_of[area],
                                                 end, groups[area], THRESHOLD, target)
        for r in figures["table"].to_dict("records"):
            kind = "quarter" if r["Type"] == "Quarter" else "rolling_12m"
            seen.add(ind.id, kind, r["Period"], area, "n", r["Engaged within 3 weeks"])
            seen.add(ind.id, kind, r["Period"], area, "d", r["Released with a need"])
            seen.add(ind.id, kind, r["Period"], area, "value", r["Rate (%)"])

    # Presentation slides (the board pack renders the same briefing): chart data.
    from metrics.settings import load_settings
    settings = load_settings()
    for area in SMALL_AREAS[:2]:
        deck = presentation._deck(data_dir, version.id, area, "2026/27 Q1",
                                  dt.date(2026, 6, 30), groups[area], settings)
        for slide in deck["slides"]:
            # "What changed since the last board": the figures then and now.
            for change in slide.get("changes") or []:
                cind = catalogue.get(change["indicator_id"])
                for period, value in ((change["then_period"], change["then_value"]),
                                      (change["now_period"], change["now_value"])):
                    seen.add(cind.id, cind.period_kind, period, change["area_code"],
                             "value", value)
            ind_id = catalogue.OUTCOME_HEADLINE.get(slide["key"],
                                                    "continuity_of_care"
                                                    if slide["key"] == "continuity" else None)
            if ind_id is None:
                continue
            sind = catalogue.get(ind_id)
            shown, _ = explorer.shown_area(sind, area, areas)
            for r in _spec_rows(slide["spec"]):
                code = ENGLAND if r.get("line") == "England" else shown
                seen.add(ind_id, sind.period_kind, r.get("period"), code, "value",
                         r.get("value"))
    return seen


# --- The attacks ---------------------------------------------------------------------------

def _hierarchy(areas: pd.DataFrame, geography: str) -> list[tuple[str, list[str]]]:
    level = areas[areas["area_type"] == ("utla" if geography == "utla" else "pfa")]
    out = [(ENGLAND, list(level["area_code"]))]
    if geography == "utla":
        for region, part in level.groupby("region_code"):
            out.append((region, list(part["area_code"])))
    return out


def _solve(unknowns: list, equations: list) -> dict:
    """Unknowns fixed by linear equations [(coefficients {unknown: c}, constant)], by
    Gauss-Jordan elimination on the augmented matrix (written here, apart from the
    code under test): x_k is fixed when its pivot row has no free unknown."""
    if not unknowns or not equations:
        return {}
    index = {u: i for i, u in enumerate(unknowns)}
    a = np.zeros((len(equations), len(unknowns) + 1))
    for row, (coefficients, constant) in enumerate(equations):
        for u, c in coefficients.items():
            a[row, index[u]] += c
        a[row, -1] = constant
    pivots, r = [], 0
    for c in range(len(unknowns)):
        if r == len(a):
            break
        p = r + int(np.argmax(np.abs(a[r:, c])))
        if abs(a[p, c]) < 1e-9:
            continue
        a[[r, p]] = a[[p, r]]
        a[r] /= a[r, c]
        others = np.abs(a[:, c]) > 1e-12
        others[r] = False
        a[others] -= a[others, c][:, None] * a[r][None, :]
        pivots.append(c)
        r += 1
    free = [c for c in range(len(unknowns)) if c not in set(pivots)]
    out = {}
    for row, c in enumerate(pivots):
        if not free or np.all(np.abs(a[row, free]) < 1e-9):
            out[unknowns[c]] = a[row, -1]
    return out


def attack(seen: Seen, values: pd.DataFrame, areas: pd.DataFrame) -> set:
    """The small cells (indicator, kind, period, area, 'n'|'m'|'d') recovered exactly."""
    truth = {}
    for r in values.itertuples():
        truth[(r.indicator_id, r.period_kind, r.period, r.area_code)] = (r.numerator,
                                                                         r.denominator)
    by_id = {i.id: i for i in catalogue.INDICATORS}
    known: dict = defaultdict(dict)        # (ind, kind, period, area) -> {n, d, m}
    shown_value: dict = {}
    for (ind_id, kind, period, area, field), number in seen.cells.items():
        key = (ind_id, kind, period, area)
        if field in ("n", "d"):
            known[key][field] = number
        elif field == "value":
            shown_value[key] = number
    # Population denominators are public (ONS mid-year estimates).
    for key, (n, d) in truth.items():
        if by_id.get(key[0]) and by_id[key[0]].ci_method in POPULATION:
            known[key]["d"] = d
    # value x denominator.
    for key, value in shown_value.items():
        ind = by_id.get(key[0])
        d = known.get(key, {}).get("d")
        if ind is None or d is None or "n" in known[key] or ind.ci_method == "dsr":
            continue
        n = value * d / ind.multiplier
        # The value is shown to 1 decimal (at least): the count is fixed when the
        # rounding cannot move it by half a person.
        if 0.05 * d / ind.multiplier < 0.5:
            known[key]["n"] = round(n)
        elif abs(n - round(n)) < 1e-6:
            known[key]["n"] = round(n)
    # Complements both ways.
    for cells in known.values():
        if "n" in cells and "d" in cells:
            cells["m"] = cells["d"] - cells["n"]
    # Pooled comparator lines: the group's average x its denominators - shown counts.
    # A line that equals the shown members' own pooled rate may simply leave the hidden
    # member out: then it says nothing. Otherwise the hidden count is the one whole
    # number that reproduces the line (to the precision it is sent with).
    for ind_id, kind, period, members, value in seen.pooled:
        ind = by_id.get(ind_id)
        if value is None or ind is None or ind.ci_method == "dsr":
            continue
        keys = [(ind_id, kind, str(period), m) for m in members]
        if any("d" not in known.get(k, {}) for k in keys):
            continue
        missing = [k for k in keys if "n" not in known[k]]
        if len(missing) != 1:
            continue
        shown = [k for k in keys if k not in missing]
        n_shown = sum(known[k]["n"] for k in shown)
        d_shown = sum(known[k]["d"] for k in shown)
        d_all = d_shown + known[missing[0]]["d"]
        tolerance = 0.05 + 1e-9 if value == round(value, 2) else 1e-9
        if d_shown and abs(n_shown / d_shown * ind.multiplier - value) <= tolerance:
            continue
        low = math.ceil((value - tolerance) * d_all / ind.multiplier - n_shown - 1e-9)
        high = math.floor((value + tolerance) * d_all / ind.multiplier - n_shown + 1e-9)
        fits = list(range(max(low, 0), min(high, int(known[missing[0]]["d"])) + 1))
        if len(fits) == 1:
            known[missing[0]]["n"] = fits[0]
            known[missing[0]]["m"] = known[missing[0]]["d"] - fits[0]
    # Subtraction and linear algebra over the hierarchy, per metric and period.
    recovered = set()
    tables = defaultdict(set)
    for (ind_id, kind, period, area) in truth:
        tables[(ind_id, kind, period)].add(area)
    hierarchies = {g: _hierarchy(areas, g) for g in ("utla", "pfa")}
    for (ind_id, kind, period), codes in tables.items():
        ind = by_id.get(ind_id)
        if ind is None or not ind.disclosive or ind.geography == "national":
            continue
        relations = hierarchies[ind.geography]
        every = sorted(set(codes) | {c for t, parts in relations for c in (t, *parts)})
        cell_value = {}
        unknowns = []
        for code in every:
            cells = known.get((ind_id, kind, period, code), {})
            for f in ("n", "m", "d"):
                if f in cells:
                    cell_value[(f, code)] = cells[f]
                else:
                    unknowns.append((f, code))
        equations = []

        def equation(terms):
            coefficients, constant = {}, 0.0
            for sign, cell in terms:
                if cell in cell_value:
                    constant -= sign * cell_value[cell]
                else:
                    coefficients[cell] = coefficients.get(cell, 0) + sign
            if coefficients:
                equations.append((coefficients, constant))

        for code in every:
            equation([(1, ("d", code)), (-1, ("n", code)), (-1, ("m", code))])
        for f in ("n", "m", "d"):
            for total, parts in relations:
                equation([(1, (f, total))] + [(-1, (f, p)) for p in parts])
        solved = _solve(unknowns, equations)
        for (f, code), number in {**solved, **cell_value}.items():
            true = truth.get((ind_id, kind, period, code))
            if true is None:
                continue
            n, d = true
            actual = {"n": n, "d": d, "m": d - n}[f]
            if ind.ci_method in POPULATION and f != "n":
                continue               # a population, or population minus a count
            if pd.notna(actual) and 0 < actual < THRESHOLD and abs(number - actual) < 1e-6:
                recovered.add((ind_id, kind, period, code, f))
    return recovered


def small_cells(values: pd.DataFrame) -> int:
    by_id = {i.id: i for i in catalogue.INDICATORS}
    out = 0
    for r in values.itertuples():
        ind = by_id.get(r.indicator_id)
        if ind is None or not ind.disclosive or ind.geography == "national":
            continue
        cells = [r.numerator] if ind.ci_method in POPULATION else \
            [r.numerator, r.denominator - r.numerator, r.denominator]
        out += sum(1 for c in cells if pd.notna(c) and 0 < c < THRESHOLD)
    return out


def test_a_determined_viewer_recovers_no_small_count(published):
    data_dir, version, values, areas = published
    seen = collect(data_dir, version, values, areas)
    assert len(seen.cells) > 10_000 and seen.pooled      # the collection really ran
    recovered = attack(seen, values, areas)
    examples = sorted(recovered)[:10]
    assert not recovered, (f"{len(recovered)} of {small_cells(values)} small cells "
                           f"recovered, e.g. {examples}")


def test_the_attack_finds_counts_when_nothing_is_protected(published):
    """The attacks work: with the raw figures in view (as public mode sent rankings and
    tables before), they recover small counts by subtraction and complements."""
    _, _, values, areas = published
    seen = Seen()
    rows = values[values["indicator_id"] == "young_people_in_treatment"]
    latest = rows["period"].iloc[-1]
    for r in rows[rows["period"] == latest].itertuples():
        if r.area_code != "E09000001":     # City of London's own row hidden, as before
            seen.add(r.indicator_id, r.period_kind, r.period, r.area_code, "n", r.numerator)
            seen.add(r.indicator_id, r.period_kind, r.period, r.area_code, "d",
                     r.denominator)
    recovered = attack(seen, values, areas)
    assert ("young_people_in_treatment", "rolling_12m", latest, "E09000001", "n") in \
        recovered
