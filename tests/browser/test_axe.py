"""WCAG 2.2 AA with axe-core on every page, every tab and every slide.

axe-core (bundled in the PyPI package axe-playwright-python, so nothing is fetched: the
session's network guard fails the run on any request leaving the machine) runs the WCAG
2.0, 2.1 and 2.2 level A and AA rules in headless Chromium against the demonstration
set. Any serious or critical violation fails the test, with the rule, the element and
axe's own message. Minor and moderate ones are listed in the figures printed and saved.

What is excluded is listed in EXCLUDED below, each as narrowly as possible (one rule on
one selector) with the reason; the accessibility statement (pages/accessibility.py)
names the same exceptions. Figures (violations by impact, nodes) are printed and
written to artifacts/axe/summary.json so a run can be compared with the last.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tests.browser.conftest import PROJECT_ROOT, app_pages, wait_for_app_idle
from ui import accessibility

TAGS = list(accessibility.WCAG_TAGS)   # WCAG 2.0, 2.1 and 2.2, levels A and AA
FAILING_IMPACTS = {"serious", "critical"}
REPORT_DIR = PROJECT_ROOT / "artifacts" / "axe"


# Streamlit's own markup that no app code can change, declared once in ui/accessibility.py
# (the statement lists the same exceptions). Nothing of ours is excluded.
EXCLUDED = accessibility.KNOWN_EXCEPTIONS

# axe.run with the WCAG A/AA tags; then each violation's nodes are split into kept and
# excluded by the rule's exclusions (element.closest(selector), so the selector covers
# the element and everything inside it).
RUN_AXE_JS = """async ([tags, exclusions]) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                           resultTypes: ["violations"]});
  return results.violations.map(v => {
    const kept = [], excluded = [];
    for (const node of v.nodes) {
      const selector = node.target[node.target.length - 1];
      let element = null;
      try { element = document.querySelector(selector); } catch (e) {}
      const skip = element && exclusions.some(x => x.rule === v.id && element.closest(x.selector));
      (skip ? excluded : kept).push({target: node.target.join(" "),
                                     html: node.html.slice(0, 200),
                                     summary: (node.failureSummary || "").slice(0, 300)});
    }
    return {id: v.id, impact: v.impact, help: v.help, kept, excluded: excluded.length};
  });
}"""


def _axe_script() -> str:
    from axe_playwright_python.base import AXE_SCRIPT   # axe.min.js, read from the package
    return AXE_SCRIPT


# Streamlit fades the elements of the previous run while a rerun is on its way (faded
# text fails the contrast rule): wait until none is stale and the fade has finished.
SETTLED_JS = """() => !document.querySelector("[data-stale='true']")"""


def _check(page, where: str) -> list[dict]:
    page.wait_for_function(SETTLED_JS, timeout=60_000)
    page.wait_for_timeout(600)
    page.evaluate(_axe_script())
    exclusions = [{"rule": x.rule, "selector": x.selector} for x in EXCLUDED]
    found = page.evaluate(RUN_AXE_JS, [TAGS, exclusions])
    for violation in found:
        violation["where"] = where
    return found


def _every_tab(page, where: str) -> list[dict]:
    """The page as opened, then each further tab of the main area (tabs switch in the
    browser; axe checks only what is shown)."""
    found = _check(page, where)
    tabs = page.locator("[data-testid='stMain'] [role='tab']")
    for index in range(1, tabs.count()):
        tab = tabs.nth(index)
        label = tab.inner_text().strip()
        tab.click()
        page.wait_for_timeout(400)
        found += _check(page, f"{where} / tab {label!r}")
    return found


def _summary(found: list[dict]) -> dict:
    """Violations by impact (one per rule and place) and the nodes they count."""
    by_impact: Counter = Counter()
    nodes: Counter = Counter()
    rules: Counter = Counter()
    excluded: Counter = Counter()
    for violation in found:
        if violation["kept"]:
            by_impact[violation["impact"]] += 1
            nodes[violation["impact"]] += len(violation["kept"])
            rules[f"{violation['id']} ({violation['impact']})"] += len(violation["kept"])
        if violation["excluded"]:
            excluded[violation["id"]] += violation["excluded"]
    return {"violations_by_impact": dict(by_impact), "nodes_by_impact": dict(nodes),
            "nodes_by_rule": dict(rules), "excluded_nodes_by_rule": dict(excluded)}


def _record(name: str, found: list[dict], places: int) -> dict:
    summary = dict(_summary(found), places_checked=places)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"{name}.json").write_text(json.dumps(
        {"summary": summary, "violations": found}, indent=1))
    print(f"\naxe {name}: {json.dumps(summary)}")
    return summary


def _failures(found: list[dict]) -> list[str]:
    lines = []
    for violation in found:
        if violation["impact"] in FAILING_IMPACTS and violation["kept"]:
            first = violation["kept"][0]
            lines.append(f"{violation['where']}: {violation['id']} ({violation['impact']}, "
                         f"{len(violation['kept'])} node(s)): {violation['help']}. First: "
                         f"{first['target']} {first['html']!r} {first['summary']!r}")
    return lines


def test_axe_finds_no_serious_violation_on_any_page_or_tab(page, streamlit_server):
    found: list[dict] = []
    places = 0
    for app_page in app_pages(page, streamlit_server.url):
        if app_page.url_path == "present":
            continue                        # checked slide by slide below
        page.goto(f"{streamlit_server.url}/{app_page.url_path}")
        wait_for_app_idle(page)
        if app_page.is_default:
            # The Overview's sparklines are our own images with words: drawn, and named.
            sparklines = page.locator("svg.cdp-sparkline[role='img']")
            assert sparklines.count() >= 6, "the Overview's sparklines are not drawn"
            assert all(len(sparklines.nth(i).get_attribute("aria-label") or "") > 20
                       for i in range(sparklines.count()))
        checked = _every_tab(page, app_page.name)
        places += 1 + page.locator("[data-testid='stMain'] [role='tab']").count()
        found += checked
    _record("pages", found, places)
    problems = _failures(found)
    assert not problems, "\n".join(problems)


def test_axe_finds_no_serious_violation_on_any_slide(page, streamlit_server):
    page.goto(f"{streamlit_server.url}/present?slide=1")
    wait_for_app_idle(page)
    count = int(re.search(r"Slide 1 of (\d+)", page.inner_text("body")).group(1))
    found: list[dict] = []
    for number in range(1, count + 1):
        if number > 1:
            page.goto(f"{streamlit_server.url}/present?slide={number}")
            wait_for_app_idle(page)
        found += _check(page, f"slide {number} of {count}")
    _record("slides", found, count)
    assert count >= 8
    problems = _failures(found)
    assert not problems, "\n".join(problems)


def test_exclusions_are_narrow_and_explained():
    """Each exclusion names one rule, a selector that is not the whole page, and why."""
    for exclusion in EXCLUDED:
        assert re.fullmatch(r"[a-z0-9-]+", exclusion.rule), exclusion
        assert exclusion.selector.strip() not in ("", "*", "body", "html", "#root",
                                                  "[data-testid='stApp']"), exclusion
        assert len(exclusion.reason) > 40 and exclusion.what, exclusion


def test_the_statement_names_the_axe_version_that_checks():
    version = re.search(r"axe v(\d+\.\d+)", _axe_script()[:500]).group(1)
    assert version == accessibility.AXE_VERSION


@pytest.fixture(autouse=True)
def _no_external_requests(network_guard):
    """axe-core comes from the package, never from the internet."""
    yield
    assert not network_guard.external, f"requests left the machine: {network_guard.external}"
