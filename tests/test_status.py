"""Statistics status and timeliness of every metric (metrics/reference/status.py), as the
Code of Practice asks a dashboard to state them, and the Data page's freshness view."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from metrics import store
from metrics.ingest import load, versions
from metrics.reference import catalogue, status
from tests.test_ingest import publish_fake_demo

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_every_catalogue_source_has_a_publisher_and_a_status():
    missing = sorted({i.source for i in catalogue.INDICATORS} - set(status.SOURCES))
    assert not missing, f"sources with no status in metrics/reference/status.py: {missing}"
    for source in status.SOURCES.values():
        assert source.status in status.STATUSES and source.status != status.DEMONSTRATION
        assert source.publisher


def test_next_update_and_overdue_follow_the_period():
    ind = catalogue.BY_ID["completions_opiate"]          # quarterly NDTMS
    source = status.source_of(ind)
    when = status.timeliness(source, "quarter", dt.date(2026, 6, 30), dt.date(2026, 11, 20),
                             demo=False, today=dt.date(2026, 12, 2))
    assert when.status == status.MANAGEMENT
    assert when.publisher == "Office for Health Improvement and Disparities"
    assert when.next_update == dt.date(2027, 3, 30) and not when.overdue
    assert when.line() == "Data as of 20 November 2026 · next update expected March 2027"
    late = status.timeliness(source, "quarter", dt.date(2025, 12, 31), None, demo=False,
                             today=dt.date(2026, 12, 2))
    assert late.overdue and late.line() == "next update overdue (expected September 2026)"
    deaths = status.timeliness(status.source_of(catalogue.BY_ID["drug_misuse_deaths"]),
                               "pooled_3y", dt.date(2025, 12, 31), None, False,
                               dt.date(2026, 12, 2))
    assert deaths.status == status.OFFICIAL and deaths.next_update == dt.date(2027, 12, 31)


def test_demonstration_figures_are_marked_demonstration():
    source = status.source_of(catalogue.BY_ID["drug_misuse_deaths"])
    when = status.timeliness(source, "pooled_3y", dt.date(2025, 12, 31),
                             dt.date(2026, 12, 2), demo=True, today=dt.date(2030, 1, 1))
    assert when.status == status.DEMONSTRATION and not when.overdue
    assert when.status_words == "Demonstration figures (generated, not real)"
    assert when.line() == "Data as of 2 December 2026 · no update: demonstration figures"


def test_month_arithmetic_keeps_the_end_of_a_month():
    assert status.add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)
    assert status.add_months(dt.date(2024, 3, 31), 11) == dt.date(2025, 2, 28)


def test_released_date_comes_from_the_manifest():
    manifest = {"published_at": "2026-12-02 05:41 UTC",
                "indicator_sources": {"x": {"loaded_at": "2026-11-20T09:00:00+00:00"}}}
    assert status.released_on(manifest, "x") == dt.date(2026, 11, 20)
    assert status.released_on(manifest, "y") == dt.date(2026, 12, 2)
    assert status.released_on({"published_at": "not a date"}, "y") is None


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    return directory


def test_freshness_gives_status_publisher_and_next_update(data_dir):
    load([FIXTURES / "long_format.csv"], data_dir)
    fresh = versions.freshness(store.current_version(data_dir), dt.date(2025, 6, 1))
    ndtms = fresh[fresh["source"] == "NDTMS"].iloc[0]
    assert ndtms["status"] == "overdue"
    assert ndtms["statistics status"] == "Management information (not official statistics)"
    assert ndtms["publisher"] == "Office for Health Improvement and Disparities"
    assert ndtms["next update expected"] == "December 2024"


def test_freshness_of_the_demonstration_set_says_demonstration(data_dir):
    publish_fake_demo(data_dir)
    fresh = versions.freshness(store.current_version(data_dir), dt.date(2030, 1, 1))
    assert set(fresh["statistics status"]) == {"Demonstration figures (generated, not real)"}
    assert set(fresh["next update expected"]) == {"-"}


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """The app on the demonstration set, built once for this module."""
    from streamlit.testing.v1 import AppTest
    from metrics.demo import build_demo
    data_dir = tmp_path_factory.mktemp("cdp_data")
    root = Path(__file__).resolve().parents[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_DATA_DIR", str(data_dir))
        patch.chdir(root)
        build_demo(data_dir)
        at = AppTest.from_file(str(root / "app.py"), default_timeout=180)
        at.run()
        yield at


def test_cards_and_about_tab_say_demonstration_and_when(demo_app):
    assert not demo_app.exception, demo_app.exception
    as_of = [c.value for c in demo_app.caption if c.value.startswith("Data as of ")]
    assert len(as_of) == 6, as_of            # one per outcome card
    assert all(line.endswith("· no update: demonstration figures") for line in as_of)
    demo_app.switch_page("pages/harm.py").run()
    demo_app.segmented_control(key="view").set_value("About this metric").run()
    assert not demo_app.exception, demo_app.exception
    about = [m.value for m in demo_app.markdown if m.value.startswith("**Status:**")]
    assert about == ["**Status:** Demonstration figures (generated, not real) · "
                     f"**Publisher:** {status.DEMO_PUBLISHER} · " + as_of[0]]


def test_a_metric_slide_says_when_its_figures_are_from(demo_app):
    demo_app.query_params["slide"] = "5"      # the harm outcome's slide (after "what needs attention")
    demo_app.switch_page("pages/present.py").run()
    assert not demo_app.exception, demo_app.exception
    captions = [c.value for c in demo_app.caption]
    assert any(c.startswith("Deaths related to drug misuse") and
               c.endswith("· no update: demonstration figures.") and "Data as of " in c
               for c in captions), captions
