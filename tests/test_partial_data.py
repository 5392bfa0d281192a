"""Any subset of the data renders: every page, every slide of presentation mode and the
board pack, with missing pieces said in words ("not loaded yet"), never a traceback, a
blank card, an empty chart or a table cell reading None.

A partnership loads its sources one at a time, so a metric missing for the area, an area
with no rows, only annual figures, one period, or only England's rows are all normal
states. The demonstration set is built once per module; each case publishes a subset of
it as a new version (DuckDB filters the Parquet file straight into the version folder,
tests/support.py publish_subset), then runs the app headless through app.py.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from metrics import store
from metrics.reference import catalogue
from metrics.reports import boardpack
from tests.support import app_on_demo_data, board_tables, publish_subset
from ui import tables

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP = PROJECT_ROOT / "app.py"
PAGES = sorted(p.stem for p in (PROJECT_ROOT / "pages").glob("*.py")
               if not p.name.startswith("_"))
OUTCOME_PAGES = set(catalogue.OUTCOME_SHORT)
HOME, HOME_PFA, ENGLAND, REGION = "E10000013", "E23000037", "E92000001", "E12000009"
TIMEOUT_S = 180
# Pages whose views (Trend, SPC, All areas, Figures...) are clicked through: one per kind
# of metric (police force counts and rates, pooled standardised rates, proportions,
# continuity of care), which keeps the module within a few minutes on two cores.
VIEW_PAGES = {"crime", "harm", "supply", "recovery", "continuity"}
MAP_VIEWS = ["Partnership", "England", "Urban and rural"]     # pages/maps.py VIEWS
# The pages whose tables this change owns; the Data page lists files and load reports.
TABLE_PAGES = [p for p in PAGES if p != "data"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    with app_on_demo_data(tmp_path_factory.mktemp("partial")) as data_dir:
        yield data_dir


@pytest.fixture(scope="module")
def full(data_dir):
    """The complete demonstration version every subset is cut from."""
    return store.current_version(data_dir)


# --- Running the app ------------------------------------------------------------------

def chart_data(element) -> dict[str, list[dict]]:
    """The rows of each dataset of a chart drawn with st.vega_lite_chart (Streamlit sends
    them beside the spec as Arrow)."""
    out = {}
    for named in element.proto.datasets:
        table = pa.ipc.open_stream(io.BytesIO(named.data.data)).read_all()
        out[named.name] = table.to_pylist()
    spec = json.loads(element.proto.spec)
    for name, rows in (spec.get("datasets") or {}).items():   # GeoJSON stays in the spec
        out.setdefault(name, rows.get("features", []) if isinstance(rows, dict) else rows)

    def inline(node):        # data given inline, {"data": {"values": [...]}}, in any layer
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                yield data["values"]
            for child in node.values():
                yield from inline(child)
        elif isinstance(node, list):
            for child in node:
                yield from inline(child)

    for i, values in enumerate(inline(spec)):
        out[f"_inline{i}"] = values
    return out


class Walk:
    """Every page of the app for one published version, with what each one showed."""

    def __init__(self, views: bool = True, area: str | None = None,
                 pages: list[str] | None = None):
        self.views = views
        self.area = area
        self.pages = pages or PAGES
        self.pack = ""                  # the board pack's text, once assert_renders built it
        self.problems: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self.charts: dict[str, list] = {}
        self.frames: dict[str, list] = {}

    def run(self) -> "Walk":
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
        if self.area:
            at.query_params["area"] = self.area
        at.run()
        self._check(at, "overview")
        for page in self.pages:
            at.switch_page(f"pages/{page}.py")
            at.run()
            self._check(at, page)
            if page == "present":
                self._slides(at)
            elif self.views and page in OUTCOME_PAGES & VIEW_PAGES:
                self._views(at, page, "view", "ui.outcome_page")
            elif self.views and page == "continuity":
                self._views(at, page, "show", "ui.continuity_page")
            elif self.views and page == "maps":
                self._views(at, page, "view", MAP_VIEWS)
        return self

    def _views(self, at, page, key, module):
        import importlib
        views = module if isinstance(module, list) else \
            importlib.import_module(module).VIEWS
        if isinstance(module, list):
            # The maps page's views are tabs: chosen through their key, as the URL does.
            for view in views[1:] + views[:1]:
                at.session_state[key] = view
                at.run()
                self._check(at, f"{page}: {view}")
            return
        if not any(w.key == key for w in at.get("button_group")):
            return          # the page said the metric is not loaded: no views to choose
        for view in views[1:]:
            at.segmented_control(key=key).set_value(view).run()
            self._check(at, f"{page}: {view}")
        at.segmented_control(key=key).set_value(views[0]).run()

    def _slides(self, at):
        for number in range(2, 30):
            following = [b for b in at.button if b.label == "Next"]
            if not following or following[0].disabled:
                return
            following[0].click().run()
            self._check(at, f"present: slide {number}")

    def _check(self, at, where: str) -> None:
        if at.exception:
            self.problems.append(f"{where}: exception\n" + "\n".join(
                e.message + "\n" + "\n".join(e.stack_trace[-6:]) for e in at.exception))
            return
        texts = [str(e.value) for kind in ("warning", "info", "error", "markdown", "caption",
                                           "title", "subheader") for e in at.get(kind)]
        texts += [f"{m.label}: {m.value}" for m in at.metric]
        texts += [str(e.proto.body) for e in at.get("html")]
        self.texts[where] = texts
        for text in texts:
            if re.search(r"\b(None|nan|NaN|<NA>)\b", text) or "Traceback" in text:
                self.problems.append(f"{where}: text shows a missing value: {text[:200]!r}")
        self.charts[where] = list(at.get("vega_lite_chart"))
        for i, chart in enumerate(self.charts[where]):
            rows = chart_data(chart)
            if not any(rows.values()):
                self.problems.append(f"{where}: chart {i} has no data (an empty chart)")
        self.frames[where] = [d.value for d in at.dataframe] + board_tables(at)
        if where.split(":")[0] in TABLE_PAGES:
            for frame in self.frames[where]:
                bad = tables.missing_cells(frame)
                if bad:
                    self.problems.append(f"{where}: table cells read None/nan: {bad[:5]}")

    def all_text(self) -> str:
        return "\n".join(t for texts in self.texts.values() for t in texts)


def make_pack(data_dir, area=HOME) -> str:
    pdf = boardpack.make_pack(data_dir, area, None, dt.date(2026, 11, 22))
    assert pdf.startswith(b"%PDF-")
    return pdf_text(pdf)


def pdf_text(pdf: bytes) -> str:
    import zlib
    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return " ".join(re.findall(r"\((.*?)\)\s*Tj", "".join(chunks)))


def assert_renders(data_dir, views=True, area=None) -> Walk:
    walk = Walk(views=views, area=area).run()
    assert not walk.problems, "\n\n".join(walk.problems)
    walk.pack = make_pack(data_dir, area or HOME)
    for word in ("None", "nan", "<NA>"):
        assert not re.search(rf"\b{re.escape(word)}\b", walk.pack), \
            f"the pack shows {word!r}"
    return walk


# --- The named cases ------------------------------------------------------------------

def test_a_metric_missing_for_the_area_says_not_loaded_yet(data_dir, full):
    publish_subset(data_dir, f"NOT (indicator_id = 'drug_seizures' AND area_code = "
                             f"'{HOME_PFA}') AND indicator_id <> 'treatment_progress'", full)
    walk = assert_renders(data_dir)
    text = walk.all_text()
    # The headline of recovery is not loaded at all: the card, the page and the slide say so.
    assert "Not loaded yet for Gloucestershire" in text
    tpm = f"{catalogue.get('treatment_progress').title}: not loaded yet for Gloucestershire."
    assert tpm in "\n".join(walk.texts["recovery"])
    assert any(tpm in t
               for where, texts in walk.texts.items() if where.startswith("present")
               for t in texts)
    # A supporting metric missing for the force area, chosen on the Supply page.
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params["metric"] = "drug_seizures"
    at.run()
    at.switch_page("pages/supply.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    shown = [str(e.value) for e in at.info]
    seizures = catalogue.get("drug_seizures").title
    assert (f"{seizures}: not loaded yet for the Gloucestershire police force area."
            in shown), shown
    spine = board_tables(at)[0]
    row = spine[spine["Metric"] == seizures].iloc[0]
    assert row["Gloucestershire"] == "not loaded yet"
    assert tpm in walk.pack
    assert boardpack.main(["--output", str(data_dir / "pack.pdf")]) == 0


def test_an_area_with_no_rows(data_dir, full):
    publish_subset(data_dir, f"area_code NOT IN ('{HOME}', '{HOME_PFA}')", full)
    walk = assert_renders(data_dir)
    overview = "\n".join(walk.texts["overview"])
    assert "Continuity of care: not loaded yet for Gloucestershire." in overview
    assert "Not loaded yet for Gloucestershire" in overview
    assert "Not loaded yet for the Gloucestershire police force area" in overview


def test_only_annual_data(data_dir, full):
    publish_subset(data_dir, "period_kind IN ('financial_year', 'calendar_year', "
                             "'pooled_3y')", full)
    walk = assert_renders(data_dir)
    crime = catalogue.get("neighbourhood_crime").title
    assert f"{crime}: not loaded yet for Gloucestershire." \
        in walk.all_text()


def test_only_one_period(data_dir, full):
    publish_subset(data_dir, "period_end = DATE '2026-03-31'", full)
    assert_renders(data_dir)


def test_only_england(data_dir, full):
    publish_subset(data_dir, f"area_code = '{ENGLAND}'", full)
    walk = assert_renders(data_dir, views=False)
    assert "Continuity of care: not loaded yet for Gloucestershire." in walk.all_text()


def test_an_empty_version(data_dir, full):
    publish_subset(data_dir, "false", full)
    walk = assert_renders(data_dir, views=False)
    assert "No figures are published yet. Load an extract on the Data page." in walk.all_text()
    assert boardpack.main(["--output", str(data_dir / "empty.pdf")]) == 0


@pytest.mark.parametrize("columns", [
    ("numerator", "denominator"),                                   # a rate without counts
    ("value", "lower95", "upper95", "lower998", "upper998"),        # counts, no rate
])
def test_rows_without_values_or_counts(data_dir, full, columns):
    """Extracts leave cells blank: a Fingertips Count, an ONS ':' rate. Nothing may read
    'nan%' or fail on them (a change test, the people short of a target)."""
    shown = f"area_code IN ('{HOME}', '{HOME_PFA}', '{ENGLAND}')"
    metrics = ", ".join(f"'{i}'" for i in ("treatment_progress", "neighbourhood_crime",
                                           "drug_misuse_deaths", "continuity_of_care",
                                           "county_lines_closed", "adults_in_treatment"))
    publish_subset(data_dir, "true", full,
                   blank=(f"{shown} AND indicator_id IN ({metrics})", columns))
    assert_renders(data_dir, views=False)


# --- Any subset ----------------------------------------------------------------------

INDICATORS = sorted(i.id for i in catalogue.INDICATORS)
AREAS = [HOME, HOME_PFA, ENGLAND, REGION, "E06000023", "E23000036"]
KINDS = ["quarter", "rolling_12m", "financial_year", "pooled_3y"]


BLANKABLE = [("numerator", "denominator"),
             ("value", "lower95", "upper95", "lower998", "upper998"),
             ("lower998", "upper998")]             # ONS: 95% limits only
SHOWN_AREAS = [HOME, "E06000023", "E09000001"]     # Gloucestershire, Bristol, City of London


@st.composite
def cases(draw) -> tuple[str, tuple | None, str]:
    """A subset (subsets), perhaps with some metrics' cells blanked for the areas on
    screen, and the area to show."""
    where = draw(subsets())
    area = draw(st.sampled_from(SHOWN_AREAS))
    blank = None
    columns = draw(st.sampled_from([None, *BLANKABLE]))
    if columns:
        ids = draw(st.lists(st.sampled_from(INDICATORS), min_size=1, max_size=6, unique=True))
        blank = (f"area_code IN ('{area}', '{HOME_PFA}', '{ENGLAND}') AND indicator_id IN ("
                 + ", ".join(f"'{i}'" for i in ids) + ")", columns)
    return where, blank, area


@st.composite
def subsets(draw) -> str:
    """A WHERE clause keeping a random part of the demonstration set: some metrics
    dropped, some areas dropped (the home area and England among the candidates), some
    kinds of period dropped, and the series cut at both ends."""
    dropped = draw(st.lists(st.sampled_from(INDICATORS), max_size=12, unique=True))
    areas = draw(st.lists(st.sampled_from(AREAS), max_size=3, unique=True))
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=2, unique=True))
    first = draw(st.integers(2019, 2026))
    last = draw(st.integers(first, 2027))
    # A metric dropped for the home area only, as when one extract lacks one area.
    local = draw(st.lists(st.sampled_from(INDICATORS), max_size=4, unique=True))
    clauses = [f"period_end BETWEEN DATE '{first}-01-01' AND DATE '{last}-12-31'"]
    if dropped:
        clauses.append("indicator_id NOT IN (" + ", ".join(f"'{i}'" for i in dropped) + ")")
    if areas:
        clauses.append("area_code NOT IN (" + ", ".join(f"'{a}'" for a in areas) + ")")
    if kinds:
        clauses.append("period_kind NOT IN (" + ", ".join(f"'{k}'" for k in kinds) + ")")
    if local:
        clauses.append(f"NOT (area_code IN ('{HOME}', '{HOME_PFA}') AND indicator_id IN ("
                       + ", ".join(f"'{i}'" for i in local) + "))")
    return " AND ".join(clauses)


@settings(max_examples=3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(case=cases())
def test_any_subset_renders_every_page_slide_and_the_pack(data_dir, full, case):
    where, blank, area = case
    publish_subset(data_dir, where, full, blank=blank)
    assert_renders(data_dir, views=False, area=area)


# --- Display: periods on the time axis, tick formats, no None ----------------------------

def _open_page(page: str, view: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params.update(query or {})
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    if view:
        at.segmented_control(key="view").set_value(view).run()
        assert not at.exception, [e.message for e in at.exception]
    return at


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def _svg_texts(spec: dict, data: dict[str, list[dict]]) -> list[str]:
    """The words Vega draws for a chart as Streamlit sends it (spec plus its datasets)."""
    import vl_convert as vlc

    full_spec = dict(spec)
    full_spec["datasets"] = {**(spec.get("datasets") or {}),
                             **{k: v for k, v in data.items() if not k.startswith("_")}}
    svg = vlc.vegalite_to_svg(json.loads(json.dumps(full_spec, default=str)))
    return re.findall(r">([^<>]+)<", svg)


def test_pooled_periods_are_plotted_at_their_middle_year_and_labelled(data_dir, full):
    publish_subset(data_dir, "true", full)
    at = _open_page("harm")                     # headline: deaths, 3-year pooled
    trend = at.get("vega_lite_chart")[1]
    spec = json.loads(trend.proto.spec)
    line = next(layer for layer in _layers(spec) if layer["mark"]["type"] == "line")
    x = line["encoding"]["x"]
    assert x["field"] == "x_date" and x["type"] == "temporal"
    rows = [r for rows in chart_data(trend).values() for r in rows if "period" in r]
    pooled = [r for r in rows if r["period"] == "2019 - 21"]
    assert pooled, "no 2019 - 21 point"
    for row in pooled:
        assert str(row["x_date"])[:10] == "2020-07-01", row   # the middle year, not 2022
    assert {"year": 2020, "month": 7, "date": 1} in x["axis"]["values"]
    labels = _svg_texts(spec, chart_data(trend))
    assert "2019 - 21" in labels and "2023 - 25" in labels, labels
    assert not {"2021", "2022", "2026"} & set(labels), labels   # no bare years a year late


def test_financial_years_are_labelled_as_financial_years(data_dir, full):
    from metrics.render import charts
    from metrics.views import explorer

    version = store.current_version(data_dir)
    values = store.all_area_values(version, ["drug_poisoning_admissions"])
    ind = catalogue.get("drug_poisoning_admissions")
    rows = explorer.trend_series(values, ind, {HOME: "Gloucestershire", ENGLAND: "England"},
                                 (), dt.date(2026, 6, 30), 5)
    spec = charts.trend_chart(rows, ind.unit).to_dict(validate=False)
    import vl_convert as vlc
    labels = re.findall(r">([^<>]+)<", vlc.vegalite_to_svg(spec))
    assert "2019/20" in labels and "2025/26" in labels, labels


@pytest.mark.parametrize("page, view, unit_format", [
    ("supply", "Trend", ",.0f"),                       # county lines closed: a count
    ("supply", "Process control (SPC)", ",.0f"),
    ("treatment", "Trend", ",~r"),                      # a rate per 100,000
    ("recovery", "Process control (SPC)", ",~r"),       # a percentage
])
def test_value_axes_have_a_format_for_their_unit(data_dir, full, page, view, unit_format):
    publish_subset(data_dir, "true", full)
    at = _open_page(page, view)
    chart = at.get("vega_lite_chart")[-1]
    spec = json.loads(chart.proto.spec)
    formats = {layer["encoding"]["y"].get("axis", {}).get("format")
               for layer in _layers(spec) if "axis" in layer["encoding"].get("y", {})}
    assert formats == {unit_format}, formats
    labels = _svg_texts(spec, chart_data(chart))
    ticks = [t for t in labels if re.fullmatch(r"-?[\d,]+(\.\d+)?", t)]
    assert ticks, labels
    assert not [t for t in ticks if re.search(r"\.\d{3,}$", t)], ticks
    if unit_format == ",.0f":
        assert not [t for t in ticks if "." in t], ticks


def test_tables_never_read_none_on_the_full_demonstration_set(data_dir, full):
    """Suppressed cells in the figures tables are '-' or '*', never None."""
    publish_subset(data_dir, "true", full)
    walk = Walk(views=True, area="E09000001",          # City of London: many suppressed
                pages=["continuity", "treatment"]).run()
    assert not walk.problems, "\n\n".join(walk.problems)
    assert any("*" in frame.to_string() for frames in walk.frames.values()
               for frame in frames), "the test needs suppressed cells to look at"


# --- The pieces, without the app --------------------------------------------------------

def test_trend_of_a_metric_with_no_rows_is_empty_not_an_error(full):
    """The crash of the issue: pd.concat of nothing ('No objects to concatenate')."""
    from metrics.views import explorer

    values = store.all_area_values(full, ["continuity_of_care"])
    areas = store.areas(full)
    ind = catalogue.get("treatment_progress")
    rows = explorer.trend_series(values, ind, {HOME: "Gloucestershire", ENGLAND: "England"},
                                 ("E06000023",), dt.date(2026, 6, 30), 5)
    assert rows.empty
    assert {"period", "period_end", "value", "line", "is_area"} <= set(rows.columns)
    assert explorer.missing_words(values, ind, HOME, areas, dt.date(2026, 6, 30)) == \
        f"{ind.title}: not loaded yet for Gloucestershire."
    seizures = catalogue.get("drug_seizures")
    assert explorer.missing_words(values, seizures, HOME, areas, dt.date(2026, 6, 30)) == \
        f"{seizures.title}: not loaded yet for the Gloucestershire police force area."
    later = store.all_area_values(full, ["treatment_progress"])
    assert explorer.missing_words(later, ind, HOME, areas, dt.date(2018, 6, 30),
                                  "2018/19 Q1") == (
        f"{ind.title}: no figures for Gloucestershire up to 2018/19 Q1; the first loaded "
        "is 12 months to 2019/20 Q1.")


def test_tables_for_display_write_missing_cells_as_dashes():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"Count": [12, None, "*"], "Rate": [1.25, np.nan, 3.0],
                          "Whole": [1391.0, np.nan, 2.0], "Kept": [1, 2, 3],
                          "Note": [None, "x", pd.NA]})
    shown = tables.for_display(frame)
    assert tables.missing_cells(frame) and not tables.missing_cells(shown)
    assert shown["Count"].tolist() == ["12", "-", "*"]
    assert shown["Rate"].tolist() == ["1.25", "-", "3.00"]
    assert shown["Whole"].tolist() == ["1,391", "-", "2"]    # never '1,391.000000'
    assert shown["Kept"].tolist() == [1, 2, 3]
    assert shown["Note"].tolist() == ["", "x", ""]
    mixed = tables.for_display(pd.DataFrame({"Count": [1391, "*"]}))   # no gaps, mixed
    assert mixed["Count"].tolist() == ["1,391", "*"]
