"""Timing a person feels: page switch, area change, map view switch and first slide, in
headless Chromium, on the demonstration set and on a national-size set (about 10.8M rows).

Run on demand from the project root:

    .venv/bin/python bench/bench_browser.py [--runs N] [--sets demo,national] [--work DIR]

It prints medians (and min-max) and asserts nothing: machines here are shared and noisy.
Goals (issue "board-ready screens"): page switch <= 0.5 s, any area change <= 1 s, map
view switch <= 1 s, first presentation slide <= 1 s. Nothing touches the real data
directory: both sets are built under --work (default /tmp/cdp-bench-browser), and kept
there, so a second run starts at once (delete the folder to build them again).

What each figure means
----------------------
Every figure is the time, on the page's own clock, from the click (or the Enter key) to
the later of: the script state last becoming "notRunning", and the end of the last long
task (over 50 ms, the browser's main thread busy: the page frozen), so drawing a map after
the script has finished is counted too.

Page switch     a sidebar link to another page (Overview, Harm, Continuity, Maps,
                Treatment, Recovery, Crime, in turn; the details give each page apart).
                Maps draws its map each time it is opened: in software GL a new map
                costs 2.6-3 s of drawing, so that page is far slower than the others.
Area change     a new area typed into "Partnership area" and Enter, on the Overview, the
                Harm page, Continuity of care (its first view, the pathway, and its
                breakdowns) and the Maps page; each area is one not chosen before in
                that server, so every change misses the query cache.
Map switch      the Maps page's view tabs: Partnership -> England -> Urban and rural ->
                Partnership ... (the details show a view's first opening apart from
                going back to one already drawn)
First slide     the Presentation link from the Overview to slide 1 drawn.
Map hover       (a detail, no goal) the longest freeze after the pointer moves onto
                another area of the partnership map, then of the England map, six moves
                each: 0 when no task over 50 ms ran.

The national-size set is the demonstration set plus, for the six quarterly proportion
metrics, every quarter from 1985/86 to 2018/19 for every area, region and England, with
79 substance breakdowns each (10.5M more rows, written by DuckDB and published as the
ingest does, sorted in small row groups): 10.9M rows in all. Built once (62 s on two
shared cores; DuckDB limited to 512 MB and the publish to the loader's 448 MB, spilling to
the work folder; 655 MB peak).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.browser.conftest import (  # noqa: E402
    CHROMIUM_ARGS, chromium_path, start_server, stop_server, wait_for_app_idle)
from tests.support import write_benchmark_rows  # noqa: E402

VIEWPORT = {"width": 1366, "height": 768}
SETTLE_S = 0.6
NATIONAL_TARGET = 10_800_000
NATIONAL_QUARTERS = range(1985, 2019)     # financial years before the demonstration set's
NATIONAL_CATEGORIES = 79                 # substance breakdowns per area and quarter
GOALS = {"page switch": 0.5, "area change": 1.0, "map switch": 1.0, "first slide": 1.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data sets


def build_demo(data_dir: Path) -> None:
    from metrics import demo, store
    if store.current_version_id(data_dir) is None:
        demo.build_demo(data_dir)


def build_national(data_dir: Path, work: Path) -> int:
    """The demonstration set plus ~10.5M generated rows; returns the rows published."""
    import duckdb

    from metrics import demo, store

    if store.current_version_id(data_dir) is not None:
        version = store.current_version(data_dir)
        rows = version.manifest.get("rows", {}).get("values", 0)
        if version.manifest.get("bench") == "national" and rows >= NATIONAL_TARGET * 0.95:
            return rows
        raise SystemExit(f"{data_dir} holds another data set: delete it first")
    base = demo.build_demo(data_dir)
    spill = work / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    part = work / "national_rows.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit='512MB'; SET threads=2")
        con.execute(f"SET temp_directory='{spill}'")
        write_benchmark_rows(con, part, NATIONAL_QUARTERS, NATIONAL_CATEGORIES)
    finally:
        con.close()
    manifest = {"demo": True, "bench": "national",
                "source": "Demonstration data (metrics.demo) and national-size benchmark "
                          "rows (bench/bench_browser.py)",
                "loaded_by": "bench/bench_browser.py", "files": [], "seed": demo.SEED}
    version = store.publish_merged(
        data_dir, base, [part], {}, lambda version_id, rows: manifest, spill,
        files={"lsoa_need": base.path / "lsoa_need.parquet"}, replaces=False)
    part.unlink()
    return version.manifest["rows"]["values"]


# --------------------------------------------------------------------------- timing


# Timed in the page, on the page's own clock: ARM_JS marks the start and watches the script
# state (a MutationObserver on stApp) and long tasks (over 50 ms: the main thread busy, so
# the page frozen). The action ends when the script state last became "notRunning" or, if
# later, when the last long task ended: drawing a map after the script has finished counts.
ARM_JS = """() => {
  window.__bench = {t0: performance.now(), idleAt: null, busyEnd: 0, ran: false};
  if (!window.__benchWatching) {
    window.__benchWatching = true;
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        const b = window.__bench;
        if (b) b.busyEnd = Math.max(b.busyEnd, e.startTime + e.duration);
      }
    }).observe({entryTypes: ["longtask"]});
    const app = document.querySelector("[data-testid='stApp']");
    new MutationObserver(() => {
      const b = window.__bench;
      if (!b) return;
      if (app.getAttribute("data-test-script-state") === "notRunning") {
        b.idleAt = performance.now();
      } else { b.idleAt = null; b.ran = true; }
    }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
  }
}"""
READ_JS = """() => {
  const b = window.__bench, now = performance.now();
  const end = Math.max(b.idleAt === null ? now : b.idleAt, Math.min(b.busyEnd, now));
  return {seconds: (end - b.t0) / 1000, ran: b.ran};
}"""


def timed(page, action) -> float:
    """Seconds the page took to answer `action` (see ARM_JS), measured in the page."""
    page.evaluate(ARM_JS)
    action()
    wait_for_app_idle(page, timeout=180, settle=SETTLE_S)
    result = page.evaluate(READ_JS)
    if not result["ran"]:
        log(f"  (no rerun seen on {page.url})")
    return result["seconds"]


def nav(page, path: str) -> float:
    """Follow the sidebar link to a page ("" is the Overview, the default page)."""
    links = page.locator("[data-testid='stSidebarNav'] a")
    link = links.filter(has_text="Overview").first if not path else \
        page.locator(f"[data-testid='stSidebarNav'] a[href$='/{path}']").first
    return timed(page, link.click)


def choose_area(page, name: str) -> float:
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(
        has_text="Partnership area").first
    box.locator("input").click()
    page.keyboard.type(name)
    page.wait_for_timeout(300)
    return timed(page, lambda: page.keyboard.press("Enter"))


def map_view(page, label: str) -> float:
    # Tabs (role "tab"); before them, a segmented control of buttons.
    control = page.locator("[data-testid='stMain'] [role='tab'], "
                           "[data-testid='stMain'] button").filter(has_text=label).first
    return timed(page, control.click)


# Every long task (the page frozen) from now on, with its start on the page's clock. A long
# task is reported only once it has ended, so a figure per move is read at the end, by when
# each began.
HOVER_WATCH_JS = """() => {
  window.__hoverTasks = [];
  new PerformanceObserver(list => {
    for (const e of list.getEntries())
      window.__hoverTasks.push([e.startTime, e.duration]);
  }).observe({type: "longtask"});
}"""


def hover_freezes(page, moves: int = 6) -> list[float]:
    """The longest freeze (s, 0 when none over 50 ms) after each of `moves` pointer moves
    across the middle of the map on show, each onto another area: what a person feels
    running the pointer over the map to read the tooltips."""
    # Both maps are Vega charts (deck.gl ones until 2026-12-04).
    chart = page.locator("[data-testid='stVegaLiteChart']:visible").first
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    box = chart.bounding_box()
    page.evaluate(HOVER_WATCH_JS)
    starts = []
    for i in range(moves):
        starts.append(page.evaluate("performance.now()"))
        page.mouse.move(box["x"] + box["width"] * (0.50 + 0.035 * i),
                        box["y"] + box["height"] * (0.35 + 0.07 * i))
        page.wait_for_timeout(1500)
    page.wait_for_timeout(1500)
    tasks = page.evaluate("window.__hoverTasks")
    page.mouse.move(1, 1)
    ends = starts[1:] + [float("inf")]
    return [max([d for t, d in tasks if begin <= t < end], default=0) / 1000
            for begin, end in zip(starts, ends)]


def measure_set(playwright, name: str, data_dir: Path, log_dir: Path, runs: int) -> dict:
    import pandas as pd

    from metrics import store

    names = pd.read_csv(store.REFERENCE_DIR / "areas.csv", dtype=str)
    names = names.loc[names["area_type"] == "utla", "area_name"].tolist()
    # Areas in a fixed order, far from the home area's, each used once.
    fresh = iter(names[5::3] + names[6::3])
    server = start_server(data_dir, log_dir)
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    figures: dict[str, list[float]] = {k: [] for k in GOALS}
    detail: dict[str, list[float]] = {}
    try:
        context = browser.new_context(viewport=VIEWPORT, service_workers="block")
        context.set_default_timeout(120_000)
        page = context.new_page()
        page.goto(server.url + "/", timeout=300_000)
        wait_for_app_idle(page)
        # Warm every page once (the first run of a page imports and caches; that once per
        # server is not what a page switch costs afterwards). Recovery and Crime were
        # missing here until 2026-12-03, so two of every six switches timed a first run.
        # (Presentation mode hides the sidebar for the rest of the browser context, so it
        # is timed last, each time in a new context.)
        for path in ("harm", "continuity", "maps", "treatment", "recovery", "crime", ""):
            page.goto(f"{server.url}/{path}")
            wait_for_app_idle(page)
        log(f"{name}: page switches ...")
        cycle = ["harm", "continuity", "maps", "treatment", "recovery", "crime", ""]
        for i in range(runs):
            path = cycle[i % len(cycle)]
            seconds = nav(page, path)
            figures["page switch"].append(seconds)
            detail.setdefault(f"page switch to {path or 'overview'}", []).append(seconds)
        log(f"{name}: area changes ...")
        # Continuity twice: its first view (the pathway) and its breakdowns.
        for path in ("", "harm", "continuity", "continuity?show=Breakdowns", "maps"):
            page.goto(f"{server.url}/{path}")
            wait_for_app_idle(page)
            label = path.replace("?show=Breakdowns", " (breakdowns)") or "overview"
            for _ in range(max(2, runs // 3)):
                seconds = choose_area(page, next(fresh))
                figures["area change"].append(seconds)
                detail.setdefault(f"area change on {label}", []).append(seconds)
        log(f"{name}: map switches ...")
        page.goto(f"{server.url}/maps")
        wait_for_app_idle(page)
        views = ["England", "Urban and rural", "Partnership"]
        opened = {"Partnership"}      # the view the page opens on
        for i in range(runs):
            view = views[i % 3]
            seconds = map_view(page, view)
            figures["map switch"].append(seconds)
            # A view's first opening builds its map (until 2026-12-04, when the maps were
            # deck.gl's, 4-5 s of software GL here for England); going back to a view drawn
            # before does not.
            when = "back to" if view in opened else "first time to"
            opened.add(view)
            detail.setdefault(f"map switch {when} {view}", []).append(seconds)
        log(f"{name}: map hover ...")
        # Each view opened from its own link, so the map on show is the one measured.
        for view in ("Partnership", "England"):
            page.goto(f"{server.url}/maps?view={view}")
            wait_for_app_idle(page)
            detail[f"map hover on {view} (longest freeze)"] = hover_freezes(page)
        log(f"{name}: first slides ...")
        errors = page.locator("[data-testid='stException']").count()
        context.close()
        for _ in range(max(3, runs // 2)):
            context = browser.new_context(viewport=VIEWPORT, service_workers="block")
            context.set_default_timeout(120_000)
            page = context.new_page()
            page.goto(f"{server.url}/")
            wait_for_app_idle(page)
            figures["first slide"].append(nav(page, "present"))
            errors += page.locator("[data-testid='stException']").count()
            context.close()
    finally:
        browser.close()
        stop_server(server)
    return {"figures": figures, "detail": detail, "exceptions": errors}


def line(label: str, values: list[float], goal: float | None = None) -> str:
    if not values:
        return f"  {label:34s} not measured"
    median = statistics.median(values)
    verdict = "" if goal is None else ("  (goal <= %.1f s: %s)" % (
        goal, "met" if median <= goal else "NOT met"))
    return (f"  {label:34s} median {median:5.2f} s  min {min(values):5.2f}  "
            f"max {max(values):5.2f}  n={len(values)}{verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="timed actions of each kind")
    parser.add_argument("--sets", default="demo,national",
                        help="comma-separated: demo, national")
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "cdp-bench-browser",
                        help="where the data sets are built and kept")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as playwright:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            data_dir = args.work / name / "data"
            started = time.monotonic()
            if name == "demo":
                build_demo(data_dir)
            elif name == "national":
                log("building the national-size set (once) ...")
                rows = build_national(data_dir, args.work / name)
                log(f"national-size set: {rows:,} rows "
                    f"({time.monotonic() - started:.0f} s, kept in {data_dir})")
            else:
                parser.error(f"unknown set {name!r}")
            results[name] = measure_set(playwright, name, data_dir,
                                        args.work / name / "logs", args.runs)
    for name, result in results.items():
        print(f"{name} ({VIEWPORT['width']}x{VIEWPORT['height']}, headless Chromium):")
        for kind, goal in GOALS.items():
            print(line(kind, result["figures"][kind], goal))
        for label, values in result["detail"].items():
            print(line("  " + label, values))
        if result["exceptions"]:
            print(f"  pages showing an exception at the end: {result['exceptions']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
