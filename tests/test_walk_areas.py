"""A walk through every page, slide and board pack page for ten areas, as a board member
would take it: the smallest and largest areas, City of London, Rutland, the Isles of
Scilly, the home area and four others of different kinds.

On every screen it checks three promises the dashboard makes to a board:
- a value labelled as the area's is the area's own published figure (never England's, nor
  the police force area's, standing in for it);
- every coloured change has a significant test behind it, recomputed here from the
  published counts with SciPy rather than taken from the view;
- no "None", "nan" or empty verdict badge reaches the reader.

The figures are checked against the published rows read straight from the store, so a
view that formats or chooses the wrong row fails here even when it is self-consistent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as scipy_stats
from streamlit.testing.v1 import AppTest

from metrics import store
from metrics.reference import catalogue, formatting
from metrics.reports import boardpack, briefing
from metrics.settings import load_settings
from metrics.stats import comparators
from metrics.views import explorer
from tests.support import board_tables

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP = PROJECT_ROOT / "app.py"
PAGES = sorted(p for p in (PROJECT_ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
ENGLAND = "E92000001"
HOME = "E10000013"                       # Gloucestershire, the demonstration's home area
NAMED = {"E09000001": "City of London", "E06000017": "Rutland",
         "E06000053": "Isles of Scilly", HOME: "Gloucestershire",
         # others of different kinds: a metropolitan district, a London borough, a small
         # unitary, a county, a new (2023) unitary
         "E08000025": "Birmingham", "E09000033": "Westminster", "E06000001": "Hartlepool",
         "E10000030": "Surrey", "E06000063": "Cumberland"}
TIMEOUT_S = 120
# Words that stand where a figure is absent or hidden: not a figure, so not checked.
NOT_A_FIGURE = re.compile(r"^\s*(|-|–|\*|not published|not loaded yet|no figure|"
                          r"no data|n/a)\s*$", re.I)
BAD_TOKENS = re.compile(r"(?<![\w/])(None|nan|NaN|<NA>|NaT)(?![\w/])")
COLOURED_CHECKED: list[str] = []     # coloured changes the walk has tested
AREAS_SEEN: dict = {}      # the walk's area table, for the checks below
EMPTY_BADGE = re.compile(r":\w+-badge\[\s*(:material/\w+:)?\s*\]")


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """The demonstration set, its protected area values and the ten areas to walk."""
    from streamlit import config

    from metrics.demo import build_demo

    data_dir = tmp_path_factory.mktemp("walk")
    build_demo(data_dir)
    version = store.current_version(data_dir)
    areas = store.areas(version)
    settings = load_settings()
    values = explorer.protect(
        store.all_area_values(version, [i.id for i in catalogue.INDICATORS]), areas,
        catalogue.INDICATORS, settings.disclosure_threshold)
    utla = areas[areas["area_type"] == "utla"].sort_values("lsoa11_count")
    chosen = dict(NAMED)
    chosen[utla.iloc[0]["area_code"]] = utla.iloc[0]["area_name"]      # smallest
    chosen[utla.iloc[-1]["area_code"]] = utla.iloc[-1]["area_name"]    # largest
    error_details = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CDP_DATA_DIR", str(data_dir))
            patch.chdir(PROJECT_ROOT)
            AREAS_SEEN["areas"] = areas
            yield dict(data_dir=data_dir, version=version, areas=areas, values=values,
                       settings=settings, chosen=chosen)
    finally:
        config.set_option("client.showErrorDetails", error_details)


def test_the_walk_covers_ten_areas_including_the_smallest_and_largest(walk):
    assert len(walk["chosen"]) == 10, walk["chosen"]
    assert set(NAMED) <= set(walk["chosen"])
    names = walk["areas"].set_index("area_code")["area_name"]
    for code, name in NAMED.items():
        assert names[code] == name, (code, names[code])


# ---- what the store says an area's own figure is ----------------------------------------

def _own_texts(values: pd.DataFrame, area_code: str, indicator, period: str | None) -> set[str]:
    """Every way the area's own published figure for this metric may be written (any
    period when `period` is None): with its unit, as a bare number, as a percentage."""
    rows = values[(values["indicator_id"] == indicator.id) & (values["area_code"] == area_code)]
    if period is not None:
        rows = rows[rows["period"] == period]
    texts = set()
    for value in rows["value"].dropna():
        texts |= {formatting.with_unit(value, indicator), formatting.number(value, indicator)}
    return texts


def _indicator_by_title(title: str):
    title = str(title).strip()
    for ind in catalogue.INDICATORS:
        if ind.title == title:
            return ind
    return None


def _check_area_column(frame: pd.DataFrame, area_code: str, area_name: str,
                       values: pd.DataFrame, where: str) -> list[str]:
    """In a table with a column headed by the area's name, each figure in it must be the
    area's own (for that metric and, where the table says, that period)."""
    problems = []
    if area_name not in frame.columns:
        return problems
    metric_column = next((c for c in ("Metric", "Headline metric", "Indicator", "metric")
                          if c in frame.columns), None)
    if metric_column is None:
        return problems
    for _, row in frame.iterrows():
        ind = _indicator_by_title(row[metric_column])
        shown = str(row[area_name]) if not pd.isna(row[area_name]) else ""
        if ind is None or NOT_A_FIGURE.match(shown) or not re.search(r"\d", shown):
            continue        # words, not a figure ("England only (not published for areas)")
        period = str(row["Period"]) if "Period" in frame.columns else None
        owner = area_code
        force = FORCE_LABEL.match(shown)
        if force:
            # A figure that names its police force area is the force's, and must be the
            # figure of the area's own force.
            shown = force.group(1)
            owner = _force_of(values, area_code, force.group(2), where, problems)
            if owner is None or NOT_A_FIGURE.match(shown):
                continue
        own = _own_texts(values, owner, ind, period)
        if shown.strip() not in own:
            england = _own_texts(values, ENGLAND, ind, period)
            whose = "England's" if shown.strip() in england else "not the area's own"
            problems.append(f"{where}: {ind.title} ({period or 'any period'}) shows "
                            f"{shown!r} under {area_name}: {whose} (own: {sorted(own) or 'none'})")
    return problems


FORCE_LABEL = re.compile(r"^(.+?) \((.+) police force area\)$")


def _force_of(values: pd.DataFrame, area_code: str, force_name: str, where: str,
              problems: list[str]) -> str | None:
    """The area's own police force area, if `force_name` names it (else a problem)."""
    areas = AREAS_SEEN["areas"].set_index("area_code")
    pfa_code, pfa_name = areas.loc[area_code, "pfa_code"], areas.loc[area_code, "pfa_name"]
    if pfa_name != force_name:
        problems.append(f"{where}: a figure of {force_name} police force area shown for "
                        f"{areas.loc[area_code, 'area_name']}, whose force is {pfa_name}")
        return None
    return pfa_code


def _check_sentence(sentence: str, area_code: str, area_name: str, values: pd.DataFrame,
                    where: str) -> list[str]:
    """'<Metric>: <figure> in <Area>, ...' must give the area's own figure."""
    match = re.match(rf"^(.+?): (.+?) in {re.escape(area_name)}\b", sentence)
    if not match:
        return []
    ind = _indicator_by_title(match.group(1))
    if ind is None or NOT_A_FIGURE.match(match.group(2)):
        return []
    own = _own_texts(values, area_code, ind, None)
    if match.group(2).strip() not in own:
        return [f"{where}: {sentence!r} gives a figure that is not {area_name}'s own "
                f"(own: {sorted(own)[:6] or 'none'})"]
    return []


def _bad_text(text: str, where: str) -> list[str]:
    problems = []
    if BAD_TOKENS.search(text):
        problems.append(f"{where}: {BAD_TOKENS.search(text).group(0)!r} in {text[:160]!r}")
    if EMPTY_BADGE.search(text):
        problems.append(f"{where}: empty badge in {text[:160]!r}")
    return problems


# ---- is a coloured change significant? Recomputed here, not taken from the view ---------

def _change_p_value(ind, earlier: pd.Series, later: pd.Series) -> float | None:
    """Two-sided p-value of the change between two published rows, from their counts."""
    if ind.ci_method == "none":         # activity counts: exact conditional Poisson test
        a, b = int(later["value"]), int(earlier["value"])
        return scipy_stats.binomtest(a, a + b, 0.5).pvalue if a + b else 1.0
    if any(pd.isna(r[c]) for r in (earlier, later) for c in ("numerator", "denominator")):
        return None
    if ind.ci_method == "byars":        # rates per head: conditional binomial on the counts
        a, b = int(later["numerator"]), int(earlier["numerator"])
        share = later["denominator"] / (later["denominator"] + earlier["denominator"])
        return scipy_stats.binomtest(a, a + b, share).pvalue if a + b else 1.0
    if ind.ci_method == "wilson":       # proportions: the pooled two-sample z-test
        x1, n1, x2, n2 = (float(later["numerator"]), float(later["denominator"]),
                          float(earlier["numerator"]), float(earlier["denominator"]))
        pooled = (x1 + x2) / (n1 + n2)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if 0 < pooled < 1 else 0
        return 2 * scipy_stats.norm.sf(abs(x1 / n1 - x2 / n2) / se) if se else 1.0
    return None


def _check_card_colours(at: AppTest, area_code: str, walk, where: str) -> list[str]:
    """Each coloured change on an overview card has a test at 95% behind it (the z-test
    used for proportions here is allowed 0.10, as Newcombe's interval can differ from it
    at the margin; an uncoloured change is not checked)."""
    problems = []
    areas = walk["areas"].set_index("area_code")
    for metric in at.metric:
        proto = metric.proto
        if not proto.delta or proto.color == proto.GRAY:
            continue
        COLOURED_CHECKED.append(f"{where}: {proto.label}")
        delta = proto.delta.strip()
        if re.match(r"^[+-]?0(\.0+)?( |$)", delta) or delta.startswith(("↑ +0", "+0 ")):
            problems.append(f"{where}: zero change {delta!r} coloured")
        ind = _indicator_by_title(proto.label.removeprefix("England: "))
        if ind is None:
            continue
        shown = area_code
        if proto.label.startswith("England: ") or ind.geography == "national":
            shown = ENGLAND
        elif ind.geography == "pfa" and isinstance(areas.loc[area_code, "pfa_code"], str):
            shown = areas.loc[area_code, "pfa_code"]
        rows = walk["values"]
        rows = rows[(rows["indicator_id"] == ind.id) & (rows["area_code"] == shown)
                    & (rows["period_kind"] == ind.period_kind)]
        rows = rows[pd.to_datetime(rows["period_end"]) <= pd.Timestamp(walk["period_end"])]
        rows = rows.sort_values("period_end")
        if len(rows) < 2:
            problems.append(f"{where}: {ind.title} change {delta!r} coloured with fewer than "
                            "two published periods")
            continue
        earlier, later = rows.iloc[-2], rows.iloc[-1]
        if ind.ci_method == "dsr":
            apart = later["lower95"] > earlier["upper95"] or later["upper95"] < earlier["lower95"]
            if not apart:
                problems.append(f"{where}: {ind.title} change coloured with overlapping "
                                "95% intervals")
            continue
        p_value = _change_p_value(ind, earlier, later)
        limit = 0.10 if ind.ci_method == "wilson" else 0.05
        if p_value is None or p_value >= limit:
            problems.append(f"{where}: {ind.title} change {delta!r} ({earlier['period']} to "
                            f"{later['period']}) coloured, p = {p_value}")
    return problems


# ---- reading what a page shows ------------------------------------------------------------

def _page_texts(at: AppTest) -> list[str]:
    texts = []
    for kind in ("warning", "info", "error", "success", "markdown", "caption", "title",
                 "header", "subheader", "text"):
        texts.extend(str(element.value) for element in at.get(kind))
    for metric in at.metric:
        texts.extend([metric.proto.label, metric.proto.body, metric.proto.delta])
    for element in at.get("html"):
        texts.append(str(getattr(element, "proto", "")))
    return texts


def _page_tables(at: AppTest) -> list[pd.DataFrame]:
    tables = []
    for element in [*at.dataframe, *at.table]:
        frame = element.value
        if isinstance(frame, pd.DataFrame):
            tables.append(frame.reset_index())
    return tables + board_tables(at)


def _table_problems(frame: pd.DataFrame, where: str) -> list[str]:
    problems = []
    for column in frame.columns:
        if BAD_TOKENS.fullmatch(str(column)):
            problems.append(f"{where}: column headed {column!r}")
        for cell in frame[column]:
            if isinstance(cell, str) and BAD_TOKENS.search(cell):
                problems.append(f"{where}: cell {cell!r} in column {column!r}")
                break
    return problems


def _select_area(at: AppTest, area_code: str) -> None:
    at.selectbox(key="area").set_value(area_code).run()


def _latest_quarter_end(walk) -> dt.date:
    quarters = walk["values"][walk["values"]["period_kind"] == "quarter"]
    return pd.Timestamp(quarters["period_end"].max()).date()


def _area_to_walk(walk, key: str) -> tuple[str, str]:
    """The code and name of a named area, or of the smallest or largest (by small areas);
    a size that turns out to be a named area is walked once, under its name."""
    utla = walk["areas"][walk["areas"]["area_type"] == "utla"].sort_values("lsoa11_count")
    code = {"smallest": utla.iloc[0]["area_code"],
            "largest": utla.iloc[-1]["area_code"]}.get(key, key)
    if key in ("smallest", "largest") and code in NAMED:
        pytest.skip(f"the {key} area is {NAMED[code]}, walked under its name")
    return code, walk["areas"].set_index("area_code").loc[code, "area_name"]


@pytest.fixture(scope="module")
def walked(walk):
    walk["period_end"] = _latest_quarter_end(walk)
    return walk


@pytest.mark.parametrize("area_code", [*NAMED, "smallest", "largest"])
def test_every_page_for_the_area_shows_its_own_figures_and_tested_colours(walked, area_code):
    walk = walked
    area_code, area_name = _area_to_walk(walk, area_code)
    problems: list[str] = []
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    _select_area(at, area_code)
    for page in PAGES:
        if page.stem in ("present",):
            continue        # the slides are walked below, each by its number
        at.switch_page(page.relative_to(PROJECT_ROOT).as_posix())
        at.run()
        where = f"{area_name} / {page.stem}"
        assert not at.exception, f"{where}: " + "\n".join(e.message for e in at.exception)
        assert at.selectbox(key="area").value == area_code, where
        for text in _page_texts(at):
            problems += _bad_text(text, where)
        for frame in _page_tables(at):
            problems += _table_problems(frame, where)
            problems += _check_area_column(frame, area_code, area_name, walk["values"], where)
        if page.stem == "overview":
            problems += _check_card_colours(at, area_code, walk, where)
    assert not problems, "\n".join(problems)
    if area_code == HOME:
        # The demonstration home area has significant changes: the colour check above
        # is exercised, not passed for want of anything coloured.
        assert any(item.startswith(area_name) for item in COLOURED_CHECKED), COLOURED_CHECKED


@pytest.mark.parametrize("area_code", [*NAMED, "smallest", "largest"])
def test_every_slide_and_pack_page_gives_the_area_its_own_figures(walked, area_code):
    walk = walked
    area_code, area_name = _area_to_walk(walk, area_code)
    settings, version = walk["settings"], walk["version"]
    period = boardpack.quarter_of(walk["period_end"])
    group = comparators.comparator_group("configured", area_code, walk["areas"],
                                         settings.comparators,
                                         store.area_need_summary(version))
    brief = briefing.build(walk["values"], walk["areas"], area_code, period.label, period.end,
                           settings, group.codes, version.is_demo,
                           briefing.need_map_inputs(version, walk["data_dir"], area_code))
    problems: list[str] = []
    for number, slide in enumerate(brief.slides, start=1):
        where = f"{area_name} / slide and pack page {number} ({slide.key})"
        for sentence in [*slide.sentences, slide.caption, slide.title]:
            problems += _bad_text(sentence, where)
            problems += _check_sentence(sentence, area_code, area_name, walk["values"], where)
        if slide.table is not None:
            problems += _table_problems(slide.table.astype(str), where)
            problems += _check_area_column(slide.table, area_code, area_name, walk["values"],
                                           where)
    # The pack as printed: every page carries the area's name, and no missing-value word.
    from tests.test_boardpack import _text
    pdf = boardpack.build_pdf(brief, version.manifest, dt.date(2026, 12, 1))
    text = _text(pdf)
    problems += _bad_text(text, f"{area_name} / pack")
    assert area_name in text
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("area_code", ["E06000053", "E09000001", HOME])
def test_every_presentation_slide_renders_for_the_area(walked, area_code):
    """Presentation mode, slide by slide, as the presenter pages through it."""
    walk = walked
    area_name = walk["areas"].set_index("area_code").loc[area_code, "area_name"]
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    _select_area(at, area_code)
    at.switch_page("pages/present.py")
    at.run()
    assert not at.exception, "\n".join(e.message for e in at.exception)
    problems: list[str] = []
    seen = 0
    for number in range(1, 13):
        at.query_params["slide"] = str(number)
        at.run()
        assert not at.exception, f"slide {number}: " + "\n".join(e.message for e in at.exception)
        texts = _page_texts(at)
        joined = " ".join(texts)
        if f"{number} of" not in joined and f"Slide {number}" not in joined:
            break
        seen += 1
        for text in texts:
            problems += _bad_text(text, f"{area_name} / slide {number}")
    assert seen >= 8, f"only {seen} slides reached"
    assert not problems, "\n".join(problems)
