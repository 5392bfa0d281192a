"""The board pack: a PDF for the papers, from the app or the command line.

    python -m metrics.reports.boardpack --output pack.pdf [--area CODE] [--period "2026/27 Q1"]

It renders the same briefing as presentation mode (metrics.reports.briefing), always in public
mode, with charts drawn offline by vl-convert, and adds a title page, the figures behind
each outcome, and definitions and methods. On demonstration data every page carries a
watermark. Honours CDP_DATA_DIR.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
from pathlib import Path

import pandas as pd
import vl_convert as vlc
from fpdf import FPDF
from fpdf.fonts import FontFace

from metrics import store
from metrics.reference import catalogue
from metrics.reference import status as statistics_status
from metrics.render import exported, palette
from metrics.reports import briefing
from metrics import stats
from metrics.stats import comparators
from metrics.views import explorer, scenarios
from metrics.reference.periods import PeriodError, parse_period, quarter_of
from metrics.settings import load_settings

WATERMARK = "DEMONSTRATION DATA - NOT REAL FIGURES"
METHODS = [
    ("Confidence intervals", "Proportions: Wilson score interval. Counts and crude rates: "
     "Byar's method, exact Poisson below 10 events. Directly standardised rates: Dobson "
     "method. 95% and 99.8% intervals, as in OHID's Fingertips."),
    ("Compared with England", "If England's value lies inside the area's 95% interval the "
     "area is similar; otherwise better or worse by the metric's polarity, at 95% or, if "
     "also outside the 99.8% interval, at 99.8%."),
    ("Changes over time", "A change on a year earlier is described as real only when it is "
     "significant at 95%: Newcombe's interval for a difference in proportions, the exact "
     "conditional test for two Poisson rates, non-overlapping intervals for standardised "
     "rates."),
    ("Statistical process control", "NHS Making Data Count rules as in NHSRplotthedots: "
     "limits at the mean plus or minus 2.66 times the mean moving range; special cause for "
     "a point outside the limits, 7 points on one side of the mean, 7 rising or falling, "
     "or 2 of 3 beyond two sigma."),
    ("Disclosure control", "Counts from 1 to 4 are suppressed and shown as *, with rates "
     "and percentages built on them, and the complement of a suppressed count."),
]
ATTRIBUTION = ("Source: Office for National Statistics licensed under the Open Government "
               "Licence v3.0. Contains OS data (c) Crown copyright and database right.")

# Core PDF fonts speak Latin-1 only; these are the few characters our text uses beyond it.
_PLAIN = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'",
                        "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u2264": "<=",
                        "\u2265": ">="})


def plain(text) -> str:
    return str(text).translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


class _Pack(FPDF):
    def __init__(self, title: str, demo: bool):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.pack_title, self.demo = title, demo
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(16, 16, 16)

    def header(self):
        if self.demo:
            with self.local_context(text_color=(235, 200, 200)):
                self.set_font("Helvetica", "B", 26)
                width = self.get_string_width(WATERMARK)
                with self.rotation(55, self.w / 2, self.h / 2):
                    self.text(self.w / 2 - width / 2, self.h / 2, WATERMARK)
        if self.page_no() > 1:
            self.set_font("Helvetica", "", 8)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, plain(self.pack_title), align="L")
            self.ln(8)
            self.set_text_color(0, 0, 0)

    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        note = "Demonstration data: not real figures. " if self.demo else ""
        # fpdf2 writes the page count in place of {nb} once the document is finished.
        self.cell(0, 5, plain(f"{note}Small counts suppressed (public version). "
                              f"Page {self.page_no()} of {{nb}}"), align="C")
        self.set_text_color(0, 0, 0)


def _contents(pdf: "_Pack", outline) -> None:
    """The contents list: each section with the page it starts on, linked to it."""
    pdf.set_x(pdf.l_margin)
    _heading(pdf, "Contents", 14)
    pdf.set_font("Helvetica", "", 11)
    for section in outline:
        if section.level:
            continue
        link = pdf.add_link(page=section.page_number)
        pdf.cell(pdf.epw - 20, 7, plain(section.name), link=link)
        pdf.cell(20, 7, str(section.page_number), align="R", link=link,
                 new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: _Pack, text: str, size: int = 16) -> None:
    pdf.set_font("Helvetica", "B", size)
    pdf.multi_cell(0, size * 0.5, plain(text), align="L")
    pdf.ln(2)


def _paragraphs(pdf: _Pack, lines: list[str], size: int = 11) -> None:
    pdf.set_font("Helvetica", "", size)
    for line in lines:
        pdf.multi_cell(0, 5.5, plain(f"- {line}"), align="L")
        pdf.ln(1)
    pdf.ln(2)


def _table(pdf: _Pack, frame: pd.DataFrame, widths: list[float] | None = None,
           size: int = 8) -> None:
    """A table; a "Compared with England" column is filled in the benchmark colours,
    with its words, as on screen."""
    frame = frame.fillna("-").astype(str)
    pdf.set_font("Helvetica", "", size)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.2,
                   first_row_as_headings=True) as table:
        table.row([plain(c) for c in frame.columns])
        for _, values in frame.iterrows():
            row = table.row()
            for column, value in values.items():
                row.cell(plain(value), style=verdict_style(value) if column == COMPARED
                         else None)
    pdf.ln(3)


# The summary's verdict column, coloured like the screen: the code behind each verdict's
# words (a card without a comparison says why in other words: drawn as not compared).
COMPARED = "Compared with England"
_CODE_OF_WORDS = {stats.comparison_words(code): code for code in stats.COMPARISON_CODES}


def verdict_style(words) -> FontFace:
    """Fill and text colour of a "Compared with England" cell: the benchmark colour, with
    white or black text, whichever has the higher contrast (every pair passes WCAG AA)."""
    shade = palette.verdict(_CODE_OF_WORDS.get(str(words), "not_compared")).colour
    return FontFace(emphasis="BOLD", color=palette.rgb(palette.text_colour(shade)),
                    fill_color=palette.rgb(shade))


def _summary_table(pdf: _Pack, frame: pd.DataFrame, size: int = 8) -> None:
    """The outcomes at a glance, the verdict cells filled in the benchmark colours."""
    _table(pdf, frame, size=size)


# Pixels of a pack chart to millimetres on the page: every chart is drawn at the same
# scale, so its type prints at one size (metrics.render.exported.uniform).
MM_PER_PX = 178 / exported.WIDTH
PNG_SCALE = 2


def pack_spec(chart, height: int = exported.HEIGHT) -> dict:
    """The Vega-Lite spec of a chart as the pack draws it: one width and type scale."""
    spec = chart if isinstance(chart, dict) else chart.to_dict(validate=False)
    # The pack writes each chart's title and source under it as text (searchable, and
    # wrapped: a long subtitle in the image runs off its edge).
    spec = {k: v for k, v in spec.items() if k != "title"}
    return exported.uniform(spec, height=height)


def _caption(pdf: _Pack, text: str) -> None:
    if text:
        pdf.set_font("Helvetica", "I", 8)
        pdf.multi_cell(0, 4, plain(text))
        pdf.ln(2)


def _chart(pdf: _Pack, spec: dict | None, about: exported.About | None = None,
           section: str = "") -> None:
    """A chart at the pack's scale, with its title, source, period, data version and the
    licence written under it (as text, so it can be read and searched)."""
    if spec is None:
        return
    png = vlc.vegalite_to_png(spec, scale=PNG_SCALE)
    # The PNG's header (IHDR) gives its size in pixels.
    width_px, height_px = (int.from_bytes(png[at:at + 4], "big") / PNG_SCALE
                           for at in (16, 20))
    width = min(width_px * MM_PER_PX, pdf.epw)
    # A chart and the lines under it stay on one page: a credit line carried over alone
    # to the next page reads as a page of its own.
    if pdf.will_page_break(height_px * width / width_px + 14):
        pdf.add_page()
        if section:
            _heading(pdf, f"{section} (continued)", 12)
    pdf.image(io.BytesIO(png), w=width)
    if about is not None:
        pdf.set_font("Helvetica", "I", 7.5)
        pdf.set_text_color(60, 60, 60)
        pdf.multi_cell(0, 3.6, plain(" ".join([f"{about.title}.", *about.lines()])),
                       align="L")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(3)


def version_words(manifest: dict) -> str:
    """The published data version a pack is made from, as its charts quote it."""
    published = (manifest.get("published_at") or "")[:10]
    return f"{manifest.get('version', '?')}" + (f" (published {published})" if published
                                                 else "")


def pack_charts(brief: briefing.Briefing, manifest: dict) -> list[tuple[str, dict,
                                                                         exported.About]]:
    """Every chart the pack draws, in order: (slide key, spec as drawn, what it says
    about itself). The one place their size and type scale are set."""
    out = []
    for slide in brief.slides:
        for figure in slide.pack_charts:
            out.append((slide.key, pack_spec(figure.chart, figure.height or exported.HEIGHT),
                        exported.About(figure.title, figure.source, figure.period,
                                       version_words(manifest))))
    return out


def status_table(values: pd.DataFrame, manifest: dict, demo: bool,
                 today: dt.date) -> pd.DataFrame:
    """Each source's statistics status and timeliness, as the cards and slides give them:
    publisher, status, and 'Data as of ... · next update expected ...' from the latest
    period loaded (metrics.reference.status)."""
    ends = pd.to_datetime(values.groupby("indicator_id")["period_end"].max()).dt.date \
        if len(values) else pd.Series(dtype=object)
    rows = []
    by_source: dict[str, list] = {}
    for ind in catalogue.INDICATORS:
        by_source.setdefault(ind.source, []).append(ind)
    for source, inds in sorted(by_source.items()):
        loaded = [ind for ind in inds if ind.id in ends.index]
        last_end = max((ends[ind.id] for ind in loaded), default=None)
        released = max((d for d in (statistics_status.released_on(manifest, ind.id)
                                     for ind in loaded) if d is not None), default=None)
        when = statistics_status.timeliness(
            statistics_status.source_of(inds[0]), inds[0].period_kind, last_end, released,
            demo, today)
        rows.append({"Source": source, "Publisher": when.publisher,
                     "Status": when.status_words,
                     "Timeliness": when.line() if loaded else "Not loaded yet"})
    return pd.DataFrame(rows)


def build_pdf(brief: briefing.Briefing, manifest: dict, generated: dt.date,
              statuses: pd.DataFrame | None = None) -> bytes:
    # Titled with the area it is for; the partnership's name only on the home area's pack.
    title = f"{brief.area_name}: outcomes board pack, {brief.period}"
    pdf = _Pack(title, brief.is_demo)
    pdf.set_title(plain(title))
    pdf.set_author(plain(brief.partnership_name or brief.area_name))
    charts_of = {}
    for key, spec, about in pack_charts(brief, manifest):
        charts_of.setdefault(key, []).append((spec, about))

    # Title page, with the contents list (filled in once the page numbers are known)
    pdf.add_page()
    pdf.ln(20)
    _heading(pdf, brief.area_name, 22)
    if brief.partnership_name:
        _heading(pdf, brief.partnership_name, 14)
    _heading(pdf, "From Harm to Hope: outcomes board pack", 16)
    pdf.set_font("Helvetica", "", 12)
    for line in (f"Figures up to {brief.period}", f"Produced on {generated:%-d %B %Y}",
                 f"Data version {version_words(manifest)}",
                 "Public version: small counts are suppressed."):
        pdf.cell(0, 7, plain(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    if brief.is_demo:
        pdf.set_text_color(170, 0, 0)
        _heading(pdf, "Demonstration data: every figure in this pack is generated and is "
                      "not real. Do not circulate it as real figures.", 12)
        pdf.set_text_color(0, 0, 0)
    pdf.insert_toc_placeholder(_contents)

    for slide in brief.slides:
        if slide is not brief.slides[0]:
            pdf.add_page()
        pdf.start_section(plain(slide.title))
        _heading(pdf, slide.title, 16)
        _paragraphs(pdf, slide.sentences)
        if slide.key == "summary":
            _summary_table(pdf, slide.table, size=8)
            continue
        for number, (spec, about) in enumerate(charts_of.get(slide.key, [])):
            _chart(pdf, spec, about, slide.title)
            if number == 0:
                _caption(pdf, slide.caption)     # it describes the first chart
        if slide.table is not None:
            _table(pdf, slide.table, size=8)
        if not charts_of.get(slide.key):
            _caption(pdf, slide.caption)

    pdf.add_page()
    pdf.start_section("Definitions")
    _heading(pdf, "Definitions", 16)
    defs = pd.DataFrame([{"Metric": i.title, "Definition": i.definition, "Unit": i.unit,
                          "Better": {"high": "higher", "low": "lower", "none": "-"}[i.polarity],
                          "Source": i.source} for i in catalogue.INDICATORS])
    _table(pdf, defs, widths=[30, 80, 16, 12, 40], size=7)
    pdf.start_section("Methods")
    _heading(pdf, "Methods", 16)
    for name, text in METHODS:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, plain(name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, plain(text), align="L")
        pdf.ln(1)
    pdf.start_section("Data sources")
    _heading(pdf, "Data sources", 16)
    source = manifest.get("source") or "Published extracts"
    files = ", ".join(f.get("name", str(f)) if isinstance(f, dict) else str(f)
                      for f in manifest.get("files", [])) or "none listed"
    _paragraphs(pdf, [f"{source}, version {version_words(manifest)}. Files: {files}."] +
                sorted({f"{ind.source} ({ind.frequency.lower()})"
                        for ind in catalogue.INDICATORS}), size=9)
    if statuses is not None and len(statuses):
        _heading(pdf, "Statistics status and timeliness", 12)
        _table(pdf, statuses, widths=[58, 40, 36, 56], size=7)
    pdf.set_font("Helvetica", "I", 8)
    pdf.multi_cell(0, 4, plain(f"{exported.OGL} {ATTRIBUTION}"))
    return bytes(pdf.output())


def make_pack(data_dir, area_code: str | None = None, period: str | None = None,
              generated: dt.date | None = None, scenario=None) -> bytes:
    """The board pack for an area and quarter (defaults: home area, latest quarter).
    `scenario`: a metrics.views.scenarios.ScenarioRequest printed after the continuity
    forecast (the continuity page's "Board pack with this scenario")."""
    settings = load_settings()
    version = store.current_version(data_dir)
    areas = store.areas(version)
    area_code = area_code or settings.home_area
    if area_code not in set(areas.loc[areas["area_type"] == "utla", "area_code"]):
        raise ValueError(f"unknown area code '{area_code}': give the ONS code of an "
                         "upper-tier area, such as E10000013 for Gloucestershire")
    # Always public: the area totals protected across areas, as every public view reads
    # them (metrics.views.explorer.protect).
    raw = store.all_area_values(version, [i.id for i in catalogue.INDICATORS])
    values = explorer.protect(raw, areas, catalogue.INDICATORS, settings.disclosure_threshold)
    if period is None:
        # An empty version still makes a pack (every section saying what is not loaded
        # yet), for the quarter in progress.
        latest = pd.Timestamp(values["period_end"].max()).date() if len(values) \
            else (generated or dt.date.today())
        chosen = quarter_of(latest)
    else:
        chosen = parse_period(period)
        if chosen.kind != "quarter":
            raise ValueError(f"'{period}' is not a quarter: give one such as 2026/27 Q1")
    group = comparators.comparator_group("configured", area_code, areas,
                                         settings.comparators,
                                         store.area_need_summary(version))
    pathway = briefing.pathway_inputs(version, area_code, raw)
    brief = briefing.build(values, areas, area_code, chosen.label, chosen.end, settings,
                           group.codes, version.is_demo,
                           briefing.need_map_inputs(version, data_dir, area_code),
                           pathway, store.annotations(version, area_code))
    # The forecast (and any scenario) follows the continuity section.
    after = next((i + 1 for i, s in enumerate(brief.slides) if s.key == "continuity"),
                 len(brief.slides))
    brief.slides.insert(after, briefing.forecast_slide(
        values, area_code, brief.area_name, chosen.end, settings.disclosure_threshold,
        settings, pathway, scenario))
    today = generated or dt.date.today()
    return build_pdf(brief, version.manifest, today,
                     status_table(raw, version.manifest, version.is_demo, today))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metrics.reports.boardpack",
                                     description="Write the board pack PDF.")
    parser.add_argument("--output", required=True, type=Path, help="PDF file to write")
    parser.add_argument("--area", help="ONS code of the area (default: the home area)")
    parser.add_argument("--period", help='quarter, e.g. "2026/27 Q1" (default: latest)')
    scenario = parser.add_argument_group(
        "scenario", "a what-if scenario printed after the continuity forecast (as the "
        "continuity page's; never stored)")
    scenario.add_argument("--more", type=float, default=0.0,
                          help="more people engaged within 3 weeks, per quarter")
    scenario.add_argument("--referral", type=float, default=0.0,
                          help="referrals raised by this many points of those released")
    scenario.add_argument("--prison", default="",
                          help="a releasing prison whose rate is raised to the median of "
                               "the area's prisons")
    args = parser.parse_args(argv)
    settings = load_settings()
    request = scenarios.ScenarioRequest(max(0.0, args.more), max(0.0, args.referral),
                                        args.prison.strip())
    try:
        pdf = make_pack(settings.data_dir, args.area, args.period, scenario=request or None)
    except (ValueError, PeriodError, store.NoPublishedData) as exc:
        print(f"boardpack: {exc}", file=sys.stderr)
        return 2
    args.output.write_bytes(pdf)
    print(f"Wrote {args.output} ({len(pdf) / 1024:,.0f} KB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
