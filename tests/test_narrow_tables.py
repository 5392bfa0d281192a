"""Tables narrow enough for a 1024 px laptop: the continuity breakdowns in five columns
(ui.tables.narrow_breakdown), with nothing hidden given away, and the board tables whose
cells wrap (ui.tables.board_table): the spine's "All metrics" table and coverage per metric."""

import pandas as pd

from ui import tables


def test_a_breakdown_in_five_columns_with_shapes_and_hidden_figures_as_stars():
    table = pd.DataFrame({
        "category": ["HMP A", "HMP B", "Other prisons"],
        "released": [58.0, None, 40.0], "engaged": [10.0, None, 12.0],
        "rate": [17.241, None, 30.0], "lower95": [9.6, None, 18.1],
        "upper95": [28.9, None, 45.4], "england_rate": [25.0, 31.5, None],
        "comparison": ["worse_95", "not_compared", "better_95only"],
        "suppressed": [False, True, False]})
    shown = tables.narrow_breakdown(table, "prison")
    assert list(shown.columns) == ["Releasing prison", "Engaged",
                                   "Rate (95% interval)", "Against the area",
                                   "All areas"]
    assert shown.iloc[0].tolist() == ["HMP A", "10 of 58", "17.2% (9.6 to 28.9)",
                                      "\u25bc Worse (95%)", "25.0%"]
    # A hidden group: stars, and no comparison that would hint at its size.
    assert shown.iloc[1].tolist()[1:4] == ["* of *", "*", "-"]
    # A verdict made at 95% only keeps its caveat.
    assert shown.iloc[2]["Against the area"] == \
        "\u25b2 Better (compared at 95% only)"
    assert shown.iloc[2]["All areas"] == "-"
    assert set(tables.BREAKDOWN_HELP) >= set(shown.columns[1:])
    other = tables.narrow_breakdown(table, "sex")
    assert other.columns[-1] == "England"


# --- Board tables (HTML, cells that wrap) ---------------------------------------------------

def test_a_board_table_is_escaped_html_with_header_cells_and_filled_verdicts():
    from tests.support import board_tables

    frame = pd.DataFrame({"Metric": ["<script>alert(1)</script>", "Deaths"],
                          "Value": [None, 7.25],
                          "Compared with England": ["Worse (95%)", "Similar"]})
    page = tables.board_table(frame, caption="A & B",
                              verdicts={"Compared with England": ["worse_95", "similar"]},
                              details=["2024/25 · per 100,000", ""])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert '<th scope="col">Metric</th>' in page and '<th scope="row">' in page
    assert "<caption>A &amp; B</caption>" in page
    # The benchmark colour with readable text, and the shape beside the words (hidden
    # from a screen reader, which reads the words).
    assert 'style="background:#D4351C;color:#FFFFFF"' in page
    assert '<span aria-hidden="true">\u25bc</span> Worse (95%)' in page

    class Drawn:                         # what AppTest gives for st.html
        def __init__(self, body):
            self.proto = type("P", (), {"body": body})

    class Run:
        def get(self, kind):
            return [Drawn(page)] if kind == "html" else []

    [read] = board_tables(Run())
    assert read.columns.tolist() == ["Metric", "Value", "Compared with England", "detail"]
    assert read["Value"].tolist() == ["-", "7.25"]               # never "None"
    assert read["Compared with England"].tolist() == ["Worse (95%)", "Similar"]
    assert read["detail"].tolist() == ["2024/25 · per 100,000", ""]


def test_coverage_is_summed_up_per_metric_with_its_gaps_by_name():
    from ui.data_tables import coverage_summary

    quarters = [f"2023/24 Q{q}" for q in (1, 2, 3, 4)] + \
        [f"12 months to 2024/25 Q{q}" for q in (1, 2, 3, 4)]
    grid = pd.DataFrame([[150, None, 151, 151, None, None, None, None],
                         [40, None, None, None, None, None, None, 40],
                         [None, None, None, 9, None, None, None, None]],
                        index=["Continuity", "Seizures", "One quarter"], columns=quarters)
    rows = coverage_summary(grid).set_index("Metric")
    assert rows.loc["Continuity"].tolist() == [
        "2023/24 Q1 to 2023/24 Q4 (3 periods)", "151 (from 150 to 151)",
        "1 gap: 2023/24 Q2"]
    assert rows.loc["Seizures", "Periods"] == "2023/24 Q1 to 2024/25 Q4 (2 periods)"
    assert rows.loc["Seizures", "Gaps"] == \
        "6 gaps: 2023/24 Q2, 2023/24 Q3, 2023/24 Q4, 2024/25 Q1 and 2 more"
    assert rows.loc["One quarter"].tolist() == ["2023/24 Q4 (1 period)", "9", "none"]


def test_the_spine_table_says_each_unit_once_and_the_range_in_words():
    from metrics.reference import catalogue
    from ui.outcome_page import spine_table

    deaths, homicide = catalogue.get("drug_misuse_deaths"), catalogue.get("drug_homicide")
    rows = pd.DataFrame([
        {"indicator_id": deaths.id, "title": deaths.title, "period": "2021 - 23",
         "area_text": f"7.3 {deaths.unit}", "england_text": f"5.9 {deaths.unit}",
         "comparators_text": "-", "worst_text": f"12.0 {deaths.unit}",
         "best_text": f"2.1 {deaths.unit}", "comparison": "worse_95",
         "significance_words": "Worse than England (95% confidence) (approximate interval)"},
        {"indicator_id": homicide.id, "title": homicide.title, "period": "-",
         "area_text": "not loaded yet", "england_text": "-", "comparators_text": "-",
         "worst_text": "-", "best_text": "-", "comparison": "not_compared",
         "significance_words": "Not compared"}])
    table = spine_table(rows, [deaths, homicide]).set_index("Metric")
    row = table.loc[deaths.title]
    assert (row["This area"], row["England"]) == ("7.3", "5.9")
    assert row["Range of areas"] == "12.0 (worst) to 2.1 (best)"
    assert row["Compared with England"] == "Worse (95%) (approximate interval)"
    assert row["detail"] == f"2021 - 23 · {deaths.unit}"
    missing = table.loc[homicide.title]
    assert (missing["This area"], missing["Range of areas"]) == ("not loaded yet", "-")
    assert missing["detail"] == f"{homicide.unit} · police force area"


def test_figures_on_screen_in_five_columns_with_hidden_counts_as_stars():
    from metrics.reference import catalogue

    ind = catalogue.get("drug_misuse_deaths")
    table = pd.DataFrame({
        "Period": ["2021 - 23", "2021 - 23"], "Area": ["Gloucestershire", "Rutland"],
        "Area code": ["E10000013", "E06000017"], "Count": [141, "*"],
        "Denominator": [1980789, 120000], f"Value ({ind.unit})": [7.25, None],
        "Lower 95%": [6.1, None], "Upper 95%": [8.55, None],
        "Lower 99.8%": [5.7, None], "Upper 99.8%": [9.1, None],
        "Compared with England": ["Worse than England (95% confidence)", "Not compared"],
        "Note": [None, "Suppressed: fewer than 5"]})
    shown = tables.narrow_figures(table, ind)
    assert list(shown.columns) == ["Period", "Area", "Count",
                                   f"Value ({ind.unit}, 95% interval)",
                                   "Compared with England"]
    assert shown.iloc[0].tolist()[2:4] == ["141 of 1,980,789", "7.2 (6.1 to 8.6)"]
    # A hidden count stays a star and its value a dash; the note is said with the verdict.
    assert shown.iloc[1].tolist()[2:] == ["* of 120,000", "-",
                                          "Not compared. Suppressed: fewer than 5"]
    # No 99.8% limit or code reaches the screen table (they are in the full table).
    assert "9.1" not in " ".join(shown.astype(str).stack())


def test_continuity_figures_on_screen_in_five_columns():
    table = pd.DataFrame({
        "Period": ["12 months to 2024/25 Q1", "2024/25 Q1"],
        "Type": ["Rolling 12 months", "Quarter"],
        "Engaged within 3 weeks": ["33", "*"], "Released with a need": ["102", "*"],
        "Rate (%)": [32.4, "-"], "Lower 95%": [24.1, "-"], "Upper 95%": [41.9, "-"],
        "England (%)": [51.5, 50.2], "Note": ["", ""]})
    shown = tables.narrow_continuity_figures(table)
    assert shown.iloc[0].tolist() == ["12 months to 2024/25 Q1", "33 of 102",
                                      "32.4% (24.1 to 41.9)", "51.5%"]
    assert shown.iloc[1].tolist() == ["2024/25 Q1", "* of *", "-", "50.2%"]
    noted = tables.narrow_continuity_figures(table.assign(Note=["", "Provisional"]))
    assert noted["Note"].tolist() == ["", "Provisional"]
