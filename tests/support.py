"""Test support shared by the tests and the benchmark scripts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def use_navigation_only() -> None:
    """Make AppTest run app.py on every run, as the real server does.

    Streamlit 1.67's AppTest re-detects a `pages/` folder before each run and then takes
    the legacy multipage path, which reruns only the page script and skips app.py (our
    shared frame). The server clears that flag as soon as app.py calls st.navigation;
    this does the same for AppTest. Upstream: streamlit/streamlit#9446 and PR #14217,
    whose reset is undone when a pages/ folder exists.
    """
    if getattr(PagesManager.__init__, "_navigation_only", False):
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    init._navigation_only = True
    PagesManager.__init__ = init


@contextlib.contextmanager
def app_on_demo_data(data_dir: Path, show_errors: bool = True) -> Iterator[Path]:
    """The demonstration set built in `data_dir`, with the app pointed at it (CDP_DATA_DIR)
    and run from the project root (the app may name files relative to it), for a test
    module's AppTest runs. `show_errors`: .streamlit/config.toml hides error details from
    viewers, and AppTest obeys it, so at.exception would only say "This app has
    encountered an error"; they are shown while the module runs."""
    from streamlit import config

    from metrics.demo import build_demo

    error_details = config.get_option("client.showErrorDetails")
    if show_errors:
        config.set_option("client.showErrorDetails", "full")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CDP_DATA_DIR", str(data_dir))
            patch.chdir(PROJECT_ROOT)
            build_demo(data_dir)
            yield data_dir
    finally:
        config.set_option("client.showErrorDetails", error_details)


def publish_subset(data_dir, where: str, source_version=None, demo: bool = False,
                   blank: tuple[str, tuple[str, ...]] | None = None):
    """Publish, as a new current version in `data_dir`, the rows of `source_version`'s
    values (default: the current version) that satisfy the SQL condition `where`.

    DuckDB filters the Parquet file straight into the new version's folder (a second or
    two for the 300,000-row demonstration set, where rebuilding it takes ten times that),
    so tests can try many subsets: a metric missing for an area, only England, one
    period. The small-area table is copied unchanged. `demo=False` by default so pages
    show the subset as a partnership's own partly loaded data. `blank` = (condition,
    columns) empties those columns in the rows matching the condition, as extracts do
    (a Fingertips row with a blank Count, an ONS ':' for a rate not calculated)."""
    import shutil

    import duckdb

    from metrics import store

    source = source_version or store.current_version(data_dir)
    source_values = str(source.path / "values.parquet").replace("'", "''")

    def write(staging):
        target = str(staging / "values.parquet").replace("'", "''")
        con = duckdb.connect(":memory:", config={"threads": 2})
        try:
            replace = ""
            if blank:
                condition, columns = blank
                replace = " REPLACE (" + ", ".join(
                    f"CASE WHEN {condition} THEN NULL ELSE {c} END AS {c}"
                    for c in columns) + ")"
            con.execute(f"COPY (SELECT *{replace} FROM read_parquet('{source_values}') "
                        f"WHERE {where}) TO '{target}' (FORMAT parquet)")
            rows = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
        finally:
            con.close()
        counts = {"values": int(rows)}
        need = source.path / "lsoa_need.parquet"
        if need.exists():
            shutil.copyfile(need, staging / need.name)
            counts["lsoa_need"] = int(source.manifest.get("rows", {}).get("lsoa_need", 0))
        return counts

    manifest = {"demo": demo, "source": f"Subset of {source.id} where {where}",
                "loaded_by": "tests", "files": []}
    return store.versions._publish(data_dir, write, manifest)


def serve_on_localhost(monkeypatch) -> None:
    """Bind the test server to localhost for one test, as `disclosure.allow_unsuppressed
    = true` requires (metrics.settings.check_unsuppressed_allowed)."""
    from streamlit import config
    monkeypatch.setattr(config.get_config_options()["server.address"], "_get_val_func",
                        lambda: "localhost")


def allow_unsuppressed(monkeypatch, tmp_path, extra_disclosure: str = "") -> None:
    """A config.toml with the public-mode switch on (extra lines for its [disclosure]
    table, such as "threshold = 10"), on a server bound to localhost."""
    config = tmp_path / "config_unsuppressed.toml"
    config.write_text(f"[disclosure]\nallow_unsuppressed = true\n{extra_disclosure}\n",
                      encoding="utf-8")
    monkeypatch.setenv("CDP_CONFIG", str(config))
    serve_on_localhost(monkeypatch)


def vega_datasets(element) -> list[dict]:
    """The rows a drawn Vega-Lite chart sends to the browser: Streamlit moves named
    datasets out of the spec into Arrow tables beside it (AppTest element)."""
    import json

    import pyarrow as pa
    rows = []
    for dataset in element.proto.datasets:
        rows += pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
    spec = json.loads(element.proto.spec)
    for part in [spec, *spec.get("layer", [])]:
        data = part.get("data")
        if isinstance(data, dict):
            rows += data.get("values", []) or []
    for values in spec.get("datasets", {}).values():
        rows += values
    return rows


def board_tables(at) -> list:
    """The board tables (ui/tables.board_table) an AppTest run drew, as DataFrames of the
    text a screen reader reads in each cell (the verdict's shape is hidden from it), less
    the small second line under a row's name, which is kept in a `detail` column."""
    from html.parser import HTMLParser

    import pandas as pd

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.cell, self.row, self.hidden, self.detail = [], None, None, 0, 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "table":
                self.tables.append([])
            elif tag == "tr":
                self.row = []
                self.tables[-1].append(self.row)
            elif tag in ("td", "th"):
                self.cell = ["", ""]
                self.row.append(self.cell)
            elif tag == "span" and (attrs.get("aria-hidden") == "true" or self.hidden):
                self.hidden += 1
            elif tag == "span" and "board-detail" in (attrs.get("class") or ""):
                self.detail += 1

        def handle_endtag(self, tag):
            if tag == "span" and self.hidden:
                self.hidden -= 1
            elif tag == "span" and self.detail:
                self.detail -= 1

        def handle_data(self, data):
            if self.cell is not None and not self.hidden:
                self.cell[1 if self.detail else 0] += data

    frames = []
    for element in at.get("html"):
        body = str(element.proto.body)
        if 'class="board-table' not in body:
            continue
        reader = Reader()
        reader.feed(body)
        for rows in reader.tables:
            head, *body_rows = rows
            frame = pd.DataFrame([[c[0].strip() for c in r] for r in body_rows],
                                 columns=[c[0].strip() for c in head])
            frame["detail"] = [r[0][1].strip() for r in body_rows]
            frames.append(frame)
    return frames


def write_benchmark_rows(con, path: Path, fiscal_years: range, categories: int) -> None:
    """Write to `path` (with DuckDB connection `con`, no pandas frame of that size) rows
    shaped like a national extract: for each quarterly Wilson metric of the catalogue and
    every upper-tier area, region and England, every quarter of `fiscal_years` (starting
    years), a total and `categories` substance rows. Counts come from a hash of the key
    (deterministic, no Python loop), with Wilson intervals at 95% (z = 1.959964) and
    99.8% (z = 3.090232) as percentages. bench/bench_browser.py builds its national-size
    set with it; tests/test_store.py a load that once made publishing run out of memory
    (with constant figures the same rows did not)."""
    import pandas as pd

    from metrics import store
    from metrics.reference import catalogue, periods

    areas = pd.read_csv(store.REFERENCE_DIR / "areas.csv", dtype=str)
    codes = areas.loc[areas["area_type"].isin(["utla", "region", "country"]), "area_code"]
    wilson = [i.id for i in catalogue.INDICATORS
              if i.ci_method == "wilson" and i.period_kind == "quarter"]
    quarters = pd.DataFrame([(p.label, p.start, p.end) for fy in fiscal_years
                             for p in (periods.quarter(fy, q) for q in (1, 2, 3, 4))],
                            columns=["period", "period_start", "period_end"])
    con.register("q", quarters)
    con.register("a", pd.DataFrame({"area_code": codes}))
    con.register("i", pd.DataFrame({"indicator_id": wilson}))
    con.register("c", pd.DataFrame({"k": range(categories + 1)}))
    wilson_sql = """
        100 * (p + z*z/(2*n) {sign} z * sqrt(p*(1-p)/n + z*z/(4*n*n))) / (1 + z*z/n)"""

    def limit(sign: str, z: float) -> str:
        return wilson_sql.format(sign=sign).replace("z", str(z))

    con.execute(f"""
        COPY (
          SELECT indicator_id, area_code, period, 'quarter' AS period_kind,
                 CAST(period_start AS DATE) AS period_start,
                 CAST(period_end AS DATE) AS period_end,
                 CASE WHEN k = 0 THEN NULL ELSE 'substance' END AS breakdown,
                 CASE WHEN k = 0 THEN NULL ELSE 'Other substance ' || k END AS category,
                 x AS numerator, n AS denominator, 100 * p AS value,
                 {limit('-', 1.959964)} AS lower95, {limit('+', 1.959964)} AS upper95,
                 {limit('-', 3.090232)} AS lower998, {limit('+', 3.090232)} AS upper998,
                 CAST(NULL AS VARCHAR) AS value_note, false AS ci_approximate
          FROM (
            SELECT *, x / n AS p FROM (
              SELECT *, CAST(floor(n * (0.2 + (h % 400) / 1000.0)) AS DOUBLE) AS x
              FROM (
                SELECT i.indicator_id, a.area_code, q.period, q.period_start,
                       q.period_end, c.k,
                       hash(i.indicator_id, a.area_code, q.period, c.k) AS h,
                       CAST(50 + hash(a.area_code, q.period, c.k) % 4950 AS DOUBLE) AS n
                FROM i CROSS JOIN a CROSS JOIN q CROSS JOIN c)))
        ) TO {store.sql_path(path)} (FORMAT PARQUET)""")
