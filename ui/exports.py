"""Charts that download as PNG and SVG, and the board pack download.

Files are rendered offline by vl-convert only when a button is pressed (Streamlit runs a
callable `data` on click), so drawing a page costs nothing extra.
"""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import streamlit as st
import vl_convert as vlc

from metrics.render import describe, exported
from metrics.reports import boardpack
from ui import plain

# Written into every file downloaded while public mode is off (first column of a table,
# sheet name, a chart's title), so the file says what it is wherever it travels.
NOT_FOR_PUBLICATION = "NOT FOR PUBLICATION: small counts shown"


def about(ctx, title: str, source: str = "", period: str = "") -> exported.About:
    """What a downloaded chart says about itself: `title`, source, period and the
    published data version it was drawn from (with the licence line, exported.OGL)."""
    published = (ctx.version.manifest.get("published_at") or "")[:10]
    return exported.About(title, source, period or f"up to {ctx.period}",
                          ctx.version.id + (f" (published {published})" if published
                                            else ""))


def chart(spec: dict, name: str, public: bool = True,
          about: exported.About | None = None, description: str | None = None) -> None:
    """Draw a Vega-Lite spec with PNG and SVG download buttons above it (below, a chart's
    bottom legend can overhang them and swallow the clicks). The files carry `about` (its
    title, source, period, data version and licence) as their title; the chart on screen,
    under its own heading, does not. `description` (words written from the plotted
    figures, metrics.views.chart_words) is the chart's accessible name and is shown under
    it as a caption, so a reader who cannot see the chart gets the same figures."""
    if description:
        spec = describe.accessible(spec, description)
    note = "" if public else " (public mode off: marked not for publication)"

    def saved() -> dict:
        # Only when a button is pressed: crediting copies the whole spec.
        credited = spec if about is None else exported.credited(spec, about)
        return credited if public else marked_spec(credited)

    # A row sized to its buttons: fixed columns cut "PNG" to "P…" at 1024 px.
    row = st.container(horizontal=True, horizontal_alignment="right")
    row.download_button("PNG", data=lambda: vlc.vegalite_to_png(saved(), scale=2),
                        file_name=f"{name}.png", mime="image/png",
                        icon=":material/image:", key=f"png-{name}",
                        help=f"Download this chart as a PNG image{note}.")
    row.download_button("SVG", data=lambda: vlc.vegalite_to_svg(saved()),
                        file_name=f"{name}.svg", mime="image/svg+xml",
                        icon=":material/draw:", key=f"svg-{name}",
                        help=f"Download this chart as an SVG drawing{note}.")
    st.vega_lite_chart(spec, width="stretch")
    if description:
        # Area and metric names can come from loaded files: shown as characters only.
        st.caption(plain.md(spec["description"]))


def table(frame: pd.DataFrame, name: str, public: bool = True) -> None:
    """CSV and Excel downloads of a table that is already suppressed for disclosure."""
    note = "" if public else " Public mode is off: the file is marked not for publication."
    if not public:
        frame = marked_frame(frame)
    row = st.container(horizontal=True)
    # Both files are made when their button is pressed, not on every run of the page
    # (the CSV cost 10-15 ms a run).
    row.download_button("CSV", data=lambda: csv_bytes(frame),
                        file_name=f"{name}.csv", mime="text/csv",
                        icon=":material/download:", key=f"csv-{name}",
                        help=f"Download these figures as CSV.{note}")
    row.download_button("Excel", data=lambda: excel_bytes(frame), file_name=f"{name}.xlsx",
                        mime="application/vnd.openxmlformats-officedocument."
                             "spreadsheetml.sheet",
                        icon=":material/table:", key=f"xlsx-{name}",
                        help=f"Download these figures as an Excel workbook.{note}")


def marked_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a first column saying, on every row, that it shows small counts (a
    column rather than a line above the header, so the file still reads as a table and
    the mark survives sorting and filtering)."""
    out = frame.copy()
    out.insert(0, NOT_FOR_PUBLICATION, "NOT FOR PUBLICATION")
    return out


def marked_spec(spec: dict) -> dict:
    """A copy of a Vega-Lite spec whose title says it is not for publication (the chart's
    own title, if any, becomes the subtitle)."""
    title = spec.get("title")
    own = title.get("text") if isinstance(title, dict) else title
    marked = {"text": NOT_FOR_PUBLICATION, "color": "#b00020", "anchor": "start"}
    credits = title.get("subtitle") if isinstance(title, dict) else None
    if own and credits:      # the credits (exported.credited) follow the chart's title
        marked["subtitle"] = [own, *([credits] if isinstance(credits, str) else credits)]
    elif own:
        marked["subtitle"] = own
    return {**spec, "title": marked}


# --- Formula injection (OWASP "CSV Injection") --------------------------------------------
#
# Text from loaded files (value notes, metric and area names, sheet names) ends up in the
# downloads. A cell beginning with one of these characters is run as a formula when the
# file is opened in a spreadsheet (=HYPERLINK(...) sends data away, =cmd|... on old
# Excel), so such text cells get a leading single quote, as OWASP advises. Number cells
# stay numbers, and text that is only a number ("-12.5") or the "-" placeholder is left
# alone: neither can be a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d[\d,]*)?(\.\d+)?([eE][+-]?\d+)?%?")


def neutralise(value):
    """`value` safe to write into a spreadsheet cell (only text can change)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if value == "-" or (any(c.isdigit() for c in value) and _PLAIN_NUMBER.fullmatch(value)):
        return value
    return "'" + value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names cannot run as formulas."""
    out = frame.copy()
    out.columns = [neutralise(c) for c in out.columns]
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column])
                or pd.api.types.is_datetime64_any_dtype(out[column])
                or pd.api.types.is_bool_dtype(out[column])):
            out[column] = out[column].map(neutralise)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    # Every text cell in quotes: a carriage return inside one must not start a new row
    # (whose first cell could then be a formula).
    return safe_frame(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")


def excel_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    sheet = "NOT FOR PUBLICATION" if NOT_FOR_PUBLICATION in frame.columns else "Figures"
    safe_frame(frame).to_excel(buffer, index=False, sheet_name=sheet)
    return buffer.getvalue()


def board_pack_button(ctx) -> None:
    """The PDF board pack for the selected area and quarter (always public)."""
    st.download_button(
        "Board pack (PDF)",
        data=lambda: boardpack.make_pack(ctx.data_dir, ctx.area_code, ctx.period),
        file_name=f"board-pack-{ctx.area_code}-{ctx.period.replace('/', '-').replace(' ', '-')}.pdf",
        mime="application/pdf", icon=":material/picture_as_pdf:",
        help="A PDF for the board papers: summary, a page per outcome, continuity of care, "
             "definitions and methods. Small counts are always suppressed.")
