"""England's figure is never shown as an area's own (issue 13, item 1).

A metric published for England only (the Crime Survey's drug use) has its figure in
England's column, with the area's column saying "England only (not published for areas)";
a metric published by police force area is named as the force's; the "All areas" view of
an England-only metric does not rank or funnel England against itself. Checked on the
demonstration set: the views, the board pack and the outcome pages (AppTest).
"""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from metrics import store
from metrics.reference import catalogue
from metrics.reports import boardpack, briefing
from metrics.settings import load_settings
from metrics.views import explorer, headlines
from tests.support import board_tables
from tests.test_boardpack import _text as pdf_text
from tests.test_pages import APP, TIMEOUT_S, demo_data_dir, exception_text  # noqa: F401

HOME = "E10000013"           # Gloucestershire (its force is the Gloucestershire force)
PERIOD_END = dt.date(2026, 6, 30)
NATIONAL = [ind for ind in catalogue.INDICATORS if ind.geography == "national"]
FORCE = [ind for ind in catalogue.INDICATORS if ind.geography == "pfa"]
# What the area's column says (metrics.views.explorer.ENGLAND_ONLY), written out here.
ENGLAND_ONLY = "England only (not published for areas)"


@pytest.fixture(scope="module")
def public(demo_data_dir):  # noqa: F811 - the fixture imported above
    version = store.current_version(demo_data_dir)
    areas = store.areas(version)
    values = explorer.protect(store.all_area_values(version, [i.id for i in catalogue.INDICATORS]),
                              areas, catalogue.INDICATORS, 5)
    return values, areas


def _england(values, ind):
    period = explorer.latest_period(values, ind, PERIOD_END)
    value = explorer.england_value(values, ind, period)
    return explorer.formatting.with_unit(value, ind)


def test_spine_puts_an_england_only_figure_in_englands_column_alone(public):
    values, areas = public
    rows = explorer.spine_rows(values, "use", HOME, areas, (), PERIOD_END, 5).set_index(
        "indicator_id")
    assert NATIONAL, "the catalogue has England-only metrics"
    for ind in NATIONAL:
        row = rows.loc[ind.id]
        england = _england(values, ind)
        assert row["england_text"] == england
        assert row["area_text"] == ENGLAND_ONLY, row["area_text"]
        # Worst and best areas: none exist, and they are said in words, not England's value.
        for column in ("worst_text", "best_text"):
            assert row[column] != england and "not published" in row[column], row[column]
        # Not placed on the spine (it would sit on England's own line as the area).
        assert "pos_area" not in row or row.isna()["pos_area"]


def test_a_force_figure_is_named_as_the_forces(public):
    values, areas = public
    rows = explorer.spine_rows(values, "supply", HOME, areas, (), PERIOD_END, 5)
    for text in rows["area_text"]:
        assert text.endswith("(Gloucestershire police force area)"), text
    assert explorer.shown_name(FORCE[0], HOME, areas) == "Gloucestershire police force area"


def test_no_ranking_or_funnel_of_england_against_itself(public):
    values, areas = public
    for ind in NATIONAL:
        period = explorer.latest_period(values, ind, PERIOD_END)
        ranking = explorer.area_ranking(values, ind, period, areas, explorer.ENGLAND, (), 5)
        assert ranking.empty, ranking[["area_code", "value"]]


def test_sentences_say_the_figure_is_englands_only(public):
    values, areas = public
    for ind in NATIONAL:
        sentence = headlines.metric_sentences(values, ind, HOME, "Gloucestershire", areas,
                                              PERIOD_END, 5)[0]
        assert "in England" in sentence and "England only" in sentence, sentence


def test_board_pack_summary_and_use_page_keep_englands_figure_in_englands_column(
        demo_data_dir, public):  # noqa: F811
    values, areas = public
    brief = briefing.build(values, areas, HOME, "2026/27 Q1", PERIOD_END, load_settings(),
                           (), True, None)
    summary = brief.slides[0].table.set_index("Outcome")
    use = summary.loc[catalogue.OUTCOMES["use"]]
    england = _england(values, catalogue.get(catalogue.OUTCOME_HEADLINE["use"]))
    assert use["Gloucestershire"] == ENGLAND_ONLY, use.to_dict()
    assert use["England"] == england, use.to_dict()
    supply = summary.loc[catalogue.OUTCOMES["supply"]]
    assert "Gloucestershire police force area" in supply["Gloucestershire"], supply.to_dict()
    use_slide = next(s for s in brief.slides if s.key == "use").table.set_index("Metric")
    for ind in NATIONAL:
        assert use_slide.loc[ind.title, "Gloucestershire"] == ENGLAND_ONLY
    text = pdf_text(boardpack.make_pack(demo_data_dir, HOME, "2026/27 Q1",
                                        dt.date(2026, 11, 22)))
    # Table cells wrap, and the PDF escapes brackets: compare without spaces or escapes.
    squashed = text.replace("\\", "").replace(" ", "")
    assert (ENGLAND_ONLY + england).replace(" ", "") in squashed


def _use_page(view: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params["metric"] = "drug_use_16_59"
    at.run()
    at.switch_page("pages/use.py").run()
    if view:
        at.segmented_control(key="view").set_value(view).run()
    assert not at.exception, exception_text(at)
    return at


def test_use_page_spine_table_and_headline_do_not_give_england_to_the_area(public):
    values, _ = public
    england = _england(values, catalogue.get("drug_use_16_59"))
    at = _use_page()
    table = board_tables(at)[0].set_index("Metric")
    row = table.loc["Drug use in the last year: adults 16-59"]
    assert row["Gloucestershire"] == ENGLAND_ONLY
    assert row["England"] == england
    assert england not in row["Range of areas"]
    # The headline figures: the area says England only; England has the value.
    metrics = {m.label: m.value for m in at.metric}
    assert metrics.get("Gloucestershire") == "England only", metrics
    assert england in metrics.values()


def test_use_page_all_areas_shows_englands_series_and_says_why(public):
    at = _use_page("All areas")
    texts = [str(e.value) for e in at.info] + [str(e.value) for e in at.markdown]
    assert any("there are no area figures to rank" in t for t in texts), texts
    assert not any("ranked" in t for t in texts), texts
    assert not any("Funnel" in t for t in texts), texts
    # Nor a choice of funnel limits for a funnel that is not drawn.
    keys = {w.key for w in at.get("button_group")}
    assert "view" in keys and "funnel" not in keys, keys


# City of London, Isles of Scilly, Rutland, the home area, and the largest (Kent).
AREAS = ["E09000001", "E06000053", "E06000017", HOME, "E10000016"]


@pytest.mark.parametrize("area", AREAS)
def test_no_area_column_holds_englands_or_an_unnamed_forces_figure(public, area):
    """Every outcome's spine rows and the pack's summary, for small and large areas."""
    values, areas = public
    name = areas.set_index("area_code")["area_name"][area]
    for outcome in catalogue.OUTCOMES:
        rows = explorer.spine_rows(values, outcome, area, areas, (), PERIOD_END, 5)
        for _, row in rows.iterrows():
            ind = catalogue.get(row["indicator_id"])
            if ind.geography == "national":
                assert row["area_text"] == ENGLAND_ONLY, (area, row.to_dict())
                assert "not published" in row["worst_text"], (area, row.to_dict())
            elif ind.geography == "pfa" and row["area_text"] != "not loaded yet":
                assert row["area_text"].endswith("police force area)"), (area, row.to_dict())
    brief = briefing.build(values, areas, area, "2026/27 Q1", PERIOD_END, load_settings(),
                           (), True, None)
    for _, row in brief.slides[0].table.iterrows():
        ind = next(i for i in catalogue.INDICATORS if i.title == row["Headline metric"])
        if ind.geography == "national":
            assert row[name] == ENGLAND_ONLY and row["England"] != "-", row.to_dict()
        elif ind.geography == "pfa":
            assert "police force area" in row[name], row.to_dict()
