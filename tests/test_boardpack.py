import datetime as dt
import re
import zlib

import pandas as pd
import pytest

from metrics import demo, store
from metrics.reference import catalogue
from metrics.reports import boardpack, briefing
from metrics.settings import load_settings
from metrics.views import explorer


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("pack")
    demo.build_demo(path)
    return path


def _text(pdf: bytes) -> str:
    """The text drawn in a PDF made by fpdf2 (its content streams are zlib-compressed)."""
    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "".join(re.findall(r"\((.*?)\)\s*Tj", "".join(chunks)))


def test_board_pack_is_a_pdf_with_every_section_and_the_watermark(data_dir):
    pdf = boardpack.make_pack(data_dir, "E10000013", "2026/27 Q1", dt.date(2026, 11, 22))
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    for heading in ["Gloucestershire Combating Drugs Partnership", "Data sources",
                    "The six outcomes at a glance", *catalogue.OUTCOMES.values(),
                    "Continuity of care: prison to community",
                    "Where need is: unmet need by small area", "Definitions", "Methods",
                    boardpack.WATERMARK, "Open Government Licence"]:
        assert heading in text, heading


def test_command_line_writes_the_pack_and_refuses_bad_input(data_dir, tmp_path, monkeypatch,
                                                           capsys):
    monkeypatch.setenv("CDP_DATA_DIR", str(data_dir))
    out = tmp_path / "pack.pdf"
    assert boardpack.main(["--output", str(out), "--period", "2025/26 Q4"]) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    assert boardpack.main(["--output", str(out), "--area", "E99999999"]) == 2
    assert boardpack.main(["--output", str(out), "--period", "2025/26"]) == 2
    assert "not a quarter" in capsys.readouterr().err


@pytest.mark.parametrize("area", ["E06000053", "E09000001", "E06000017"])
def test_no_small_count_reaches_the_briefing_for_the_smallest_areas(data_dir, area):
    """Isles of Scilly, City of London, Rutland: tables and sentences carry no count or
    figure built on a count from 1 to 4."""
    version = store.current_version(data_dir)
    values = store.all_area_values(version, [i.id for i in catalogue.INDICATORS])
    areas = store.areas(version)
    settings = load_settings()
    brief = briefing.build(values, areas, area, "2026/27 Q1", dt.date(2026, 6, 30), settings,
                           (), True)
    area_rows = values[values.area_code == area]
    small = area_rows[(area_rows.numerator > 0) & (area_rows.numerator < 5)
                      & area_rows.indicator_id.map(lambda i: catalogue.get(i).disclosive)]
    assert len(small), "the test needs small counts to look for"
    text = " ".join(" ".join(s.sentences) + (s.table.to_string() if s.table is not None else "")
                    for s in brief.slides)
    for _, row in small.iterrows():
        ind = catalogue.get(row.indicator_id)
        shown = boardpack.plain(f"{row.value:,.1f}")
        mention = f"{ind.title}: {shown}"
        assert mention not in text, (row.indicator_id, row.period)


def test_a_pack_for_another_area_is_titled_with_that_area_not_the_home_partnership(data_dir):
    """Gloucestershire is the home area: Plymouth's pack must not say it is theirs."""
    partnership = load_settings().partnership_name
    pdf = boardpack.make_pack(data_dir, "E06000026", "2026/27 Q1", dt.date(2026, 11, 22))
    text = _text(pdf)
    assert partnership not in text and b"Gloucestershire Combating" not in pdf
    assert "Plymouth: outcomes board pack, 2026/27 Q1" in text
    home = _text(boardpack.make_pack(data_dir, "E10000013", "2026/27 Q1",
                                     dt.date(2026, 11, 22)))
    assert partnership in home


@pytest.mark.parametrize("area", ["E06000017", "E06000053"])
def test_no_process_control_verdict_beside_a_continuity_figure_too_small_to_show(data_dir,
                                                                                 area):
    """Rutland's and Scilly's latest continuity figures are hidden; a verdict of
    'consistently failing the target' beside 'not shown' would judge the hidden figure."""
    version = store.current_version(data_dir)
    areas, settings = store.areas(version), load_settings()
    # Protected across areas, as the pack and the slides read them.
    values = explorer.protect(store.all_area_values(version, [i.id for i in catalogue.INDICATORS]),
                              areas, catalogue.INDICATORS, settings.disclosure_threshold)
    brief = briefing.build(values, areas, area, "2026/27 Q1", dt.date(2026, 6, 30), settings,
                           (), True)
    slide = next(s for s in brief.slides if s.key == "continuity")
    assert "not shown" in slide.sentences[0], slide.sentences
    assert not [s for s in slide.sentences if "process control" in s], slide.sentences


def test_the_pack_says_what_changed_since_the_last_board_and_keeps_its_summary_table(
        data_dir):
    """The slides' "what changed" page is in the papers too, with each test named; the
    summary stays a table there (the slide draws it as tiles)."""
    from metrics.views import headlines
    text = _text(boardpack.make_pack(data_dir, "E10000013", "2026/27 Q1",
                                     dt.date(2026, 11, 22)))
    assert "What changed since the last board" in text
    assert "Last board \\(2025/26 Q4\\)" in text      # a column header, as fpdf2 escapes it
    # Each test's name (its first words: the table wraps the rest onto another line).
    assert any(" ".join(name.split()[:2]) in text for name in headlines.TEST_NAMES.values())
    assert "Compared with" in text and "Headline metric" in text


# --- Issue 14, item 4: a pack that reads as finished ------------------------------------------

@pytest.fixture(scope="module")
def home_pack(data_dir):
    return boardpack.make_pack(data_dir, "E10000013", "2026/27 Q1", dt.date(2026, 11, 22))


def test_pages_are_numbered_n_of_n_and_the_contents_list_every_section(home_pack):
    text = _text(home_pack)
    pages = len(re.findall(rb"/Type /Page\b", home_pack))
    assert pages > 10
    for page in range(1, pages + 1):
        assert f"Page {page} of {pages}" in text, page
    assert "Contents" in text
    for section in ["The six outcomes at a glance", "Reduce drug supply",
                    "Continuity of care: prison to community", "Definitions", "Methods",
                    "Data sources"]:
        assert text.count(section) >= 2, section      # in the contents and as a heading


def test_the_header_names_the_area_the_pack_is_for(home_pack):
    text = _text(home_pack)
    assert "Gloucestershire: outcomes board pack, 2026/27 Q1" in text
    assert "Gloucestershire Combating Drugs Partnership: outcomes board pack" not in text


def test_every_chart_carries_its_title_source_period_version_and_the_licence(home_pack):
    from metrics.render import exported
    flat = _text(home_pack).replace(" ", "")
    charts = flat.count("Source:")
    assert charts >= 8
    # Every chart's credit ends with the licence line (wrapped lines lose their spaces).
    assert flat.count(exported.OGL.replace(" ", "")) >= charts
    assert flat.count("Dataversionv") >= charts


def test_pack_charts_share_one_width_height_and_type_scale(data_dir):
    from metrics.render import exported
    version = store.current_version(data_dir)
    areas, settings = store.areas(version), load_settings()
    raw = store.all_area_values(version, [i.id for i in catalogue.INDICATORS])
    values = explorer.protect(raw, areas, catalogue.INDICATORS, settings.disclosure_threshold)
    brief = briefing.build(values, areas, "E10000013", "2026/27 Q1", dt.date(2026, 6, 30),
                           settings, (), True, None,
                           briefing.pathway_inputs(version, "E10000013", raw))
    drawn = boardpack.pack_charts(brief, version.manifest)
    keys = [key for key, _, _ in drawn]
    assert "supply" in keys and keys.count("continuity") == 2   # trend and pathway
    sized = {figure.title: figure.height for s in brief.slides for figure in s.pack_charts}
    for (key, spec, about), height in zip(drawn, sized.values()):
        assert spec["width"] == exported.WIDTH, key
        assert spec["autosize"]["type"] == "fit-x"
        assert spec["height"] == (height or exported.HEIGHT) or \
            isinstance(spec["height"], dict), key
        config = spec["config"]
        assert config["axis"]["labelFontSize"] == config["axis"]["titleFontSize"] == \
            config["legend"]["labelFontSize"] == exported.TEXT
        for unit in exported._walk(spec):
            mark = unit.get("mark")
            if isinstance(mark, dict) and mark.get("type") == "text":
                assert mark["fontSize"] == exported.TEXT, key
            if isinstance(mark, dict) and mark.get("type") == "line":
                assert mark["strokeJoin"] == "round", key     # no mitre spikes
            for channel in (unit.get("encoding") or {}).values():
                axis = channel.get("axis") if isinstance(channel, dict) else None
                assert not (isinstance(axis, dict) and "labelFontSize" in axis), key
        assert about.source and about.version.startswith(version.id), key
    # The supply trend and continuity trend: the same size as each other.
    trends = [spec for key, spec, _ in drawn if key in ("supply", "continuity")][:2]
    assert trends[0]["height"] == trends[1]["height"] == exported.HEIGHT


def test_the_continuity_page_gives_the_gap_in_people_and_the_pathway(home_pack):
    text = _text(home_pack)
    assert "more people would" in text and "have had to engage" in text.replace("\n", " ")
    assert "From prison to treatment: where people are lost" in text
    assert "people released with a treatment need" in text


def test_comparison_cells_of_every_table_are_filled_in_the_benchmark_colours():
    from metrics import stats
    from metrics.render import palette
    pdf = boardpack._Pack("t", False)
    pdf.add_page()
    words = stats.comparison_words("worse_998")
    boardpack._table(pdf, __import__("pandas").DataFrame(
        {"Metric": ["Deaths"], boardpack.COMPARED: [words]}))
    stream = zlib.decompress(re.findall(rb"stream\r?\n(.*?)\r?\nendstream",
                                        bytes(pdf.output()), re.S)[0]).decode("latin-1")
    fills = [tuple(float(c) for c in m) for m in
             re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) rg", stream)]
    expected = tuple(c / 255 for c in palette.rgb(palette.WORSE_998))
    assert any(all(abs(a - b) < 0.001 for a, b in zip(fill, expected)) for fill in fills)
    assert "Worse than England" in stream


def test_the_pack_gives_each_sources_statistics_status_and_timeliness(home_pack):
    text = _text(home_pack)
    assert "Statistics status and timeliness" in text
    # The demonstration set says so, as the cards and slides do (a cell wraps its words
    # over lines, each drawn on its own).
    section = text[text.index("Statistics status and timeliness"):]
    assert "Demonstration figures" in section and "Data as of" in section
    assert "demonstration figures" in section


def test_a_real_source_is_dated_and_an_overdue_one_flagged():
    from metrics.reference import status
    ind = catalogue.get("drug_misuse_deaths")
    values = pd.DataFrame({"indicator_id": [ind.id], "period_end": [dt.date(2024, 12, 31)]})
    manifest = {"published_at": "2026-01-15T09:00:00+00:00"}
    table = boardpack.status_table(values, manifest, demo=False, today=dt.date(2026, 12, 1))
    row = table.set_index("Source").loc[ind.source]
    assert row["Publisher"] == status.source_of(ind).publisher
    assert row["Timeliness"] == ("Data as of 15 January 2026 · next update expected "
                                 "December 2026")
    late = boardpack.status_table(values, manifest, demo=False, today=dt.date(2027, 1, 5))
    assert "overdue" in late.set_index("Source").loc[ind.source, "Timeliness"]
    # Sources with nothing loaded say so instead of a date.
    assert (table["Timeliness"] == "Not loaded yet").sum() == len(table) - 1
