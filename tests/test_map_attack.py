"""A determined viewer of the maps page: everything the page sends for an area (the map's
JSON of the small-area map under every measure, the rural-urban tables by broad group and
by class, their chart data, England's table) is read, turned into known counts, and the
sums that link them (a class total is the sum of its small areas; urban and rural add up
to the area; estimated users = in treatment + not in treatment; a district's deaths are
the sum of its small areas') are solved for the counts shown as *. On the demonstration
data this recovered hidden small counts (a class total less the small areas shown gives
the one hidden); it must recover none."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics import geo, store
from tests.support import app_on_demo_data, board_tables

PROJECT_ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 5
# Areas where the page gave counts away (before: Rutland 4, Slough 6, Bracknell Forest 4,
# Darlington 1 exactly), the smallest (City of London, 6 small areas; Isles of Scilly, 1)
# and the home area.
AREAS = ["E06000017", "E06000039", "E06000036", "E06000005", "E09000001", "E06000053",
         "E10000013"]
RATE_MEASURES = ["ocu_rate", "treatment_rate", "unmet_need", "deaths_rate"]
EST, TREAT, NOT, DEATHS = "est", "treat", "not", "deaths"


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory):
    with app_on_demo_data(tmp_path_factory.mktemp("attack_data")) as data_dir:
        yield data_dir


def _page(area: str, **state) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/maps.py")
    at.session_state["area"] = area
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _number(text):
    """A shown number ("1,234", "12.5%", "3.1 (2.0 to 4.4)"): its first figure, or None."""
    match = re.match(r"\s*(-?[\d,]*\.?\d+)", str(text))
    return float(match.group(1).replace(",", "")) if match else None


def _chart_rows(at: AppTest) -> list[dict]:
    from tests.support import vega_datasets
    return [row for chart in at.get("vega_lite_chart") for row in vega_datasets(chart)]


def collect(area: str) -> dict:
    """Everything the maps page sends about `area` in public mode."""
    sent = {"lsoas": {}, "tables": [], "charts": []}
    for measure in RATE_MEASURES:
        at = _page(area, map_measure=measure)
        spec = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart")
                    if '"lsoas"' in c.proto.spec)
        layer = next(layer for layer in spec["layer"] if layer["name"] == "lsoas")
        for row in (feature["properties"] for feature in layer["data"]["values"]):
            entry = sent["lsoas"].setdefault(row["code"], {})
            entry.update({k: v for k, v in row.items() if k != "fill"})
            entry[f"value:{measure}"] = row["value_text"]
    for by in ("broad", "class"):
        for measure in geo.SUMMARY_MEASURES:
            at = _page(area, view="Urban and rural", ur_by=by, ur_measure=measure)
            sent["charts"] += _chart_rows(at)
        # The page's people and rates tables, one row per class when joined; England's
        # table (rates only) comes last.
        counts, rates, *england = board_tables(at)
        sent["tables"] += [counts.drop(columns="detail").merge(
            rates.drop(columns="detail"), on="Rural-urban class"), *england]
    return sent


class Knowledge:
    """Cells (name, count) with the values a viewer knows, and the sums linking them."""

    def __init__(self):
        self.known: dict = {}
        self.relations: list = []

    def learn(self, cell, value):
        if value is not None and np.isfinite(value):
            self.known.setdefault(cell, float(value))

    def solve(self) -> dict:
        """Cells worked out from the relations: single unknowns, then any cell the
        linear system of the unknowns fixes (its null space is zero there)."""
        known = dict(self.known)
        for _ in range(50):
            before = len(known)
            for total, parts in self.relations:
                unknown = [c for c in (total, *parts) if c not in known]
                if len(unknown) == 1:
                    cell = unknown[0]
                    rest = sum(known[p] for p in parts if p in known)
                    known[cell] = rest if cell == total else known[total] - rest
            if len(known) == before:
                known.update(self._linear(known))
                if len(known) == before:
                    break
        return known

    def _linear(self, known: dict) -> dict:
        rows, unknowns = [], {}
        for total, parts in self.relations:
            coefficients, rhs = defaultdict(float), 0.0
            for cell, sign in [(total, 1.0)] + [(p, -1.0) for p in parts]:
                if cell in known:
                    rhs -= sign * known[cell]
                else:
                    coefficients[unknowns.setdefault(cell, len(unknowns))] += sign
            if coefficients:
                rows.append((coefficients, rhs))
        if not rows:
            return {}
        matrix = np.zeros((len(rows), len(unknowns)))
        rhs = np.zeros(len(rows))
        for i, (coefficients, value) in enumerate(rows):
            for j, c in coefficients.items():
                matrix[i, j] = c
            rhs[i] = value
        _, singular, vt = np.linalg.svd(matrix, full_matrices=True)
        rank = int((singular > 1e-9).sum())
        free = np.abs(vt[rank:]).max(axis=0) if rank < len(unknowns) else \
            np.zeros(len(unknowns))
        solution = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
        cells = {j: c for c, j in unknowns.items()}
        return {cells[j]: float(np.round(solution[j], 6)) for j in range(len(unknowns))
                if free[j] < 1e-9}


def attack(sent: dict, population: dict) -> Knowledge:
    k = Knowledge()
    by_class, by_district = defaultdict(list), defaultdict(list)
    district_population = defaultdict(float)
    for code, row in sent["lsoas"].items():
        by_class[row["ruc_text"]].append(code)
        by_district[row["district"]].append(code)
        district_population[row["district"]] += population[code]
        k.learn((code, EST), _number(row["est_text"]))
        k.learn((code, TREAT), _number(row["treat_text"]))
        k.learn((code, DEATHS), _number(row["deaths_text"]))
        pop = population[code]
        rate = _number(row.get("value:ocu_rate"))
        k.learn((code, EST), None if rate is None else round(rate * pop / 1000))
        rate = _number(row.get("value:treatment_rate"))
        k.learn((code, TREAT), None if rate is None else round(rate * pop / 1000))
        est = k.known.get((code, EST))
        unmet = _number(row.get("value:unmet_need"))
        if unmet is not None and est is not None and est < 100:
            k.learn((code, NOT), round(unmet * est / 100))
    for district, codes in by_district.items():
        rates = {_number(sent["lsoas"][c].get("value:deaths_rate")) for c in codes} - {None}
        if len(rates) == 1 and district_population[district] < 200_000:
            k.learn((district, DEATHS),
                    round(rates.pop() * district_population[district] * 5 / 100_000))
        k.relations.append(((district, DEATHS), [(c, DEATHS) for c in codes]))
    for code in sent["lsoas"]:
        k.relations.append(((code, EST), [(code, TREAT), (code, NOT)]))

    label_broad = {geo.ruc_label(c): geo.ruc_broad(c) for c in geo.RUC_CLASSES}
    broads = defaultdict(set)
    for label, codes in by_class.items():
        if label not in label_broad:
            continue
        broads[label_broad[label]].add(label)
        for count in (EST, TREAT, NOT, DEATHS):
            k.relations.append(((label, count), [(c, count) for c in codes]))
    groups = list(by_class) + list(broads) + ["All small areas"]
    for count in (EST, TREAT, NOT, DEATHS):
        for broad, labels in broads.items():
            k.relations.append(((broad, count), [(label, count) for label in labels]))
        k.relations.append((("All small areas", count), [(b, count) for b in broads]))
    for group in groups:
        k.relations.append(((group, EST), [(group, TREAT), (group, NOT)]))

    columns = {"Estimated users": EST, "In treatment": TREAT, "Deaths, 5 years": DEATHS}
    for table in sent["tables"]:
        if "Estimated users" not in table.columns:
            continue                    # England's table: rates of England-sized totals
        for _, row in table.iterrows():
            group = row["Rural-urban class"]
            for column, count in columns.items():
                k.learn((group, count), _number(row[column]))
    for _ in range(2):                  # shares need the estimate, which a table may give
        for table in sent["tables"]:
            if "Estimated users" not in table.columns:
                continue
            for _, row in table.iterrows():
                group = row["Rural-urban class"]
                est = k.known.get((group, EST))
                pop = _number(row["Residents"])
                rate = _number(row["Users per 1,000 (95% CI)"])
                if rate is not None and pop:
                    k.learn((group, EST), round(rate * pop / 1000))
                share = _number(row["In treatment per estimated user (95% CI)"])
                if share is not None and est is not None and est < 1000:
                    k.learn((group, TREAT), round(share * est / 100))
    for row in sent["charts"]:          # whatever the chart data carries
        if "lower" not in row:
            continue                    # England's ticks (the same labels, England's data)
        group = row.get("group_label")
        for column, count in (("estimated_ocu", EST), ("ocu_in_treatment", TREAT),
                              ("not_in_treatment", NOT), ("drug_deaths_5y", DEATHS)):
            value = row.get(column)
            if group and isinstance(value, (int, float)):
                k.learn((group, count), value)
        est = k.known.get((group, EST))
        share = row.get("treated_share")
        if group and est is not None and isinstance(share, (int, float)):
            k.learn((group, TREAT), round(share * est / 100))
    return k


def truth(need: pd.DataFrame) -> dict:
    """Every count the page hides or shows, by the attacker's cell names."""
    true = {}
    need = need.assign(not_=need["estimated_ocu"] - need["ocu_in_treatment"])
    for row in need.itertuples():
        true |= {(row.lsoa_code, EST): row.estimated_ocu,
                 (row.lsoa_code, TREAT): row.ocu_in_treatment,
                 (row.lsoa_code, NOT): row.not_, (row.lsoa_code, DEATHS): row.drug_deaths_5y}
    classified = need[need["ruc_class"].notna()]
    for key, rows in [*classified.groupby(classified["ruc_class"].map(geo.ruc_label)),
                      *classified.groupby(classified["ruc_class"].map(geo.ruc_broad)),
                      ("All small areas", classified)]:
        true |= {(key, EST): rows["estimated_ocu"].sum(),
                 (key, TREAT): rows["ocu_in_treatment"].sum(),
                 (key, NOT): rows["not_"].sum(), (key, DEATHS): rows["drug_deaths_5y"].sum()}
    return true


def recovered_small(area: str, data_dir) -> list:
    """Counts from 1 to 4 the viewer learns exactly: read straight from what is sent
    (the page itself shows them only as *) or worked out."""
    version = store.current_version(data_dir)
    lsoas = geo.reference_lsoas()
    lsoas = lsoas[lsoas["utla_code"] == area].drop(columns="utla_code")
    need = geo.need_table(lsoas, store.lsoa_need(version, area), None, None)
    population = dict(zip(need["lsoa_code"], need["population"].astype(float)))
    knowledge = attack(collect(area), population)
    solved = knowledge.solve()
    true = truth(need)
    return sorted((cell, value) for cell, value in solved.items()
                  if cell in true and 0 < true[cell] < THRESHOLD and abs(value - true[cell]) < 1e-6)


@pytest.mark.parametrize("area", AREAS)
def test_no_hidden_small_count_can_be_worked_out_from_the_maps_page(demo_data_dir, area):
    assert recovered_small(area, demo_data_dir) == []
