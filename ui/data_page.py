"""The Data page's layout (pages/data.py runs render()): loading extracts, their reports,
coverage, freshness, history with rollback and the format; loading is metrics.ingest's.

Data: load extracts (checked before anything is published), what is loaded and how
fresh it is, every published version with rollback, and the template.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import streamlit as st

from metrics.reference import catalogue, periods
from metrics.access import AccessDenied
from metrics.ingest import actions, drop, layouts, loading, template
from metrics.ingest.model import LoadReport
from metrics.reference.formatting import plural
from ui import auth, data, data_tables, exports, frame, plain, tables


def render() -> None:
    ctx = frame.context()
    settings = ctx.settings
    # Who is asking, read on the server this run; every action below is checked again
    # inside metrics.ingest.actions with the same identity.
    who = ctx.access or auth.current(settings)
    guard = (who.identity, settings, who.sign_in)
    KIND_LABELS = {"quarter": "Quarters", "rolling_12m": "Rolling 12 months",
                   "financial_year": "Financial years", "pooled_3y": "3-year pooled",
                   "calendar_year": "Calendar years"}


    def flash(message: str, kind: str = "success") -> None:
        """A Markdown message for the next run (outside text in it through `_md`)."""
        st.session_state["data_flash"] = (kind, message)


    def show_flash() -> None:
        kind, message = st.session_state.pop("data_flash", (None, None))
        if message:
            getattr(st, kind)(message)


    def _md(text) -> str:
        """Text from files or the loader, safe inside Markdown (ui.plain), with server paths
        shown relative to the data directory."""
        return plain.md(plain.without_paths(text, ctx.data_dir, settings.drop_folder))


    def show_table(frame: pd.DataFrame, **kwargs) -> None:
        """A table of text from loaded files: cells that could run as formulas in the
        table's own CSV download (the toolbar) are quoted, as in every export."""
        st.dataframe(exports.safe_frame(frame), hide_index=True, width="stretch", **kwargs)


    def issue_table(issues: pd.DataFrame, limit: int = 100) -> None:
        """One line per issue, so long messages wrap and can be read in full."""
        lines = []
        for r in issues.head(limit).itertuples():
            word = "rows" if ("," in r.rows or "more" in r.rows) else "row"
            where = ", ".join(x for x in (f"{word} {r.rows}" if r.rows else "",
                                          f"column '{r.column}'" if r.column else "") if x)
            lines.append(f"- **{_md(r.file)}**" + (f" ({_md(where)})" if where else "")
                         + f": {_md(r.problem)}")
        st.markdown("\n".join(lines))
        if len(issues) > limit:
            st.caption(f"... and {len(issues) - limit} more (the command line lists them all).")


    def show_report(report: LoadReport) -> None:
        files = pd.DataFrame([{
            "file": f.name, "format": f.format, "encoding": f.encoding,
            "sheets": ", ".join(f.sheets), "data rows": f.rows_read,
            "indicators": ", ".join(f.indicators),
            "periods": f"{f.periods[0]} to {f.periods[-1]}" if f.periods else ""}
            for f in report.files])
        show_table(files)
        issues = report.issues_frame()
        errors = issues[issues["level"] == "error"].drop(columns="level")
        warnings = issues[issues["level"] == "warning"].drop(columns="level")
        notes = issues[issues["level"] == "note"].drop(columns="level")
        if len(errors):
            st.error(f"**{plural(len(errors), 'error')}: nothing can be published** until the "
                     "files are fixed. Each line names the file, the rows, the column and "
                     "the problem.",
                     icon=":material/block:")
            issue_table(errors)
        else:
            st.success(f"No errors: {plural(report.rows_to_publish, 'row')} "
                       f"{'is' if report.rows_to_publish == 1 else 'are'} ready to publish.",
                       icon=":material/check_circle:")
        if len(warnings):
            st.warning(f"**{plural(len(warnings), 'warning')}** to read before publishing "
                       "(they do not stop it).", icon=":material/warning:")
            issue_table(warnings)
        if report.changes is not None and len(report.changes):
            st.markdown(f"**{plural(report.values_changed, 'published value')} would change** "
                        "(re-issued periods). The old rows stay in earlier versions.")
            show_table(report.changes.drop(columns=["breakdown", "category"]))
        if len(notes):
            with st.expander(f"{plural(len(notes), 'note')} on how the files were read"):
                show_table(notes)
        if len(report.values):
            with st.expander("Rows to be published (first 200)"):
                show_table(report.values.head(200))


    def declared_options(sources) -> layouts.LoadOptions:
        """What the files do not say, chosen here (the command line's --indicator, --period,
        --indicator-name, --unit, --value-column and --sheet)."""
        found = layouts.describe_sources(sources)
        state = st.session_state
        needs = any(state.get(k) not in (None, "", layouts.FROM_FILE)
                    for k in ("opt_indicator", "opt_period", "opt_value", "opt_sheet"))
        report = state.get("upload_report")
        with st.expander("What the files do not say: metric, period, column, sheet",
                         expanded=needs or bool(report is not None and report.errors)):
            st.caption("For a file that does not name its metric or period (a year only in "
                       "its file name), has one column per drug, or a workbook with several "
                       "tables. The choices apply to every file uploaded together.")
            ids = [i.id for i in catalogue.INDICATORS]
            titles = {i.id: f"{i.title} ({i.unit})" for i in catalogue.INDICATORS}
            left, right = st.columns(2)
            indicator = left.selectbox(
                "Metric", [layouts.FROM_FILE, *ids, layouts.NEW_METRIC], key="opt_indicator",
                format_func=lambda v: titles.get(v, v))
            new_id = new_name = unit = ""
            if indicator == layouts.NEW_METRIC:
                new_id = left.text_input("New metric id (lower case, such as "
                                         "drug_poisoning_deaths)", key="opt_new_id")
                new_name = left.text_input("New metric name", key="opt_new_name")
                unit = left.selectbox("Unit", layouts.UNITS, key="opt_unit")
            period = right.text_input("Period of the whole table (such as 2023/24)",
                                      key="opt_period",
                                      help="Leave empty when the file has a period column or "
                                           "names its period in the file name.")
            value_column = right.selectbox("Column holding the figure",
                                           [layouts.FROM_FILE, *found["value_columns"]],
                                           key="opt_value")
            sheet = right.selectbox("Sheet", [layouts.FROM_FILE, *found["sheets"]],
                                    key="opt_sheet")
        options = layouts.options_from_choices(indicator, new_id, new_name, unit, period,
                                               value_column, sheet)
        if indicator == layouts.NEW_METRIC and not new_id:
            return layouts.options_from_choices(None, period=period, value_column=value_column,
                                                sheet=sheet)
        return options


    # --- page --------------------------------------------------------------------------------

    st.title("Data: load, check and publish extracts")
    kind_word = "demonstration data" if ctx.is_demo else "published data"
    st.caption(f"Showing {kind_word}, version {ctx.version.id} "
               f"({ctx.version.manifest.get('published_at', '')[:16].replace('T', ' ')} UTC). "
               "Every load is checked first; a file with any error publishes nothing, and every "
               "earlier version can be restored.")
    if not who.sign_in:
        st.info(auth.HOW_TO_SIGN_IN, icon=":material/login:")
    show_flash()

    tab_load, tab_coverage, tab_fresh, tab_history, tab_format = st.tabs(
        ["Load extracts", "Coverage", "Freshness", "History and rollback", "Formats and template"])

    with tab_load:
        waiting = drop.pending(settings.drop_folder)
        with st.container(border=True):
            # File names are whatever was dropped in: escaped, so "[x](https://...).csv" is
            # text, not a link. The folder is named relative to the data directory: the
            # server's own paths are not shown to viewers.
            names = "; ".join(_md(p.name) for p in waiting[:5])
            st.markdown(f"**Drop folder** {_md(plain.relative(settings.drop_folder, ctx.data_dir))} "
                        "(in the data directory): "
                        f"{plural(len(waiting), 'file')} waiting"
                        + (f" ({names})" if waiting else "")
                        + ". Files placed there are loaded when the app starts or with this "
                          "button; loaded files move to `loaded/`, refused ones to `refused/` "
                          "with a report.")
            if not who.allows("refresh_drop_folder"):
                st.caption("Analysts load the drop folder: sign in as an analyst.")
            elif st.button("Load files from the drop folder", icon=":material/refresh:",
                           disabled=not waiting):
                try:
                    with st.spinner("Checking and publishing..."):
                        report = actions.refresh_drop_folder(*guard, ctx.data_dir,
                                                             settings.drop_folder)
                except AccessDenied as exc:
                    flash(f"Not loaded: {_md(exc)}.", "error")
                    st.rerun()
                except Exception as exc:  # noqa: BLE001 - the page must keep serving
                    # load_drop_folder refuses files that fail to load; anything left is the
                    # store's (a full disk, a lost lock): say so and keep what is published.
                    flash(f"The drop folder could not be loaded ({_md(type(exc).__name__)}); "
                          "nothing was published and the files are still waiting.", "error")
                    st.rerun()
                if report is None:
                    flash("Nothing was loaded: the folder is empty or another load is running.",
                          "info")
                elif report.published:
                    flash(_md(report.message))
                else:
                    flash(f"{_md(report.message)}. The files moved to `refused/` with a "
                          "report.txt naming every problem.", "error")
                st.rerun()

        st.subheader("Upload files")
        if who.sign_in and not who.allows("upload"):
            st.info("Analysts upload extracts: sign in as an analyst to upload, check and "
                    "publish files.", icon=":material/lock:")
        elif not who.allows("upload"):
            st.info("Uploading is switched off on this server. An analyst can load files with "
                    "the drop folder above or the command line (`python -m metrics.ingest load "
                    "FILE`), or switch uploads on with `ingest.allow_upload = true` in "
                    "config.toml once the server is not public.", icon=":material/lock:")
        else:
            counter = st.session_state.setdefault("upload_counter", 0)
            uploads = st.file_uploader(
                "Extract files: CSV, Excel or Parquet (Fingertips exports, NDTMS workbooks, the "
                "long-format template)", type=[s.lstrip(".") for s in loading.SUPPORTED],
                accept_multiple_files=True, key=f"uploads_{counter}")
            if uploads:
                sources = [loading.Source(u.name, u.getvalue()) for u in uploads]
                options = declared_options(sources)
                key = (tuple((s.name, hashlib.sha256(s.data).hexdigest()) for s in sources),
                       ctx.version.id, tuple(sorted(options.as_dict().items())))
                if st.session_state.get("upload_key") != key:
                    with st.spinner("Checking the files..."):
                        st.session_state["upload_report"] = actions.check_upload(
                            *guard, sources, ctx.data_dir, options=options)
                    st.session_state["upload_key"] = key
                report = st.session_state["upload_report"]
                st.markdown("#### Validation report")
                show_report(report)
                if report.ok:
                    if report.base_is_demo or report.base_version is None:
                        st.info("Publishing replaces the demonstration data: from then on the "
                                "dashboard shows only real data you load (the demonstration "
                                "version stays in the history).", icon=":material/info:")
                    if st.button("Publish", type="primary", icon=":material/publish:"):
                        with st.spinner("Publishing..."):
                            result = actions.publish_upload(
                                *guard, sources, ctx.data_dir,
                                expect_base=report.base_version, options=options)
                        if result.published:
                            flash(_md(result.message))
                            st.session_state["upload_counter"] = counter + 1
                            st.session_state.pop("upload_key", None)
                            st.rerun()
                        else:
                            st.session_state.pop("upload_key", None)
                            st.error(_md(result.message))

    with tab_coverage:
        summary = data.loaded_summary(ctx.data_dir, ctx.version.id)
        kinds = [k for k in KIND_LABELS if k in set(summary["period_kind"])]
        st.markdown("Number of areas with a figure (a value, or a suppressed `*`) for each "
                    "metric and period, summed up per metric: a **gap** is a period missing inside a "
                    "metric's series.")
        if not kinds:
            st.info("Nothing is loaded yet.")
        else:
            kind = st.segmented_control("Periods", kinds, default=kinds[0],
                                        format_func=KIND_LABELS.get, key="coverage_kind") or kinds[0]
            grid = data.coverage(ctx.data_dir, ctx.version.id, kind)
            if grid.empty:
                st.info("No figures of this kind of period.")
            else:
                st.html(tables.board_table(
                    data_tables.coverage_summary(grid),
                    caption=f"{KIND_LABELS[kind]}: the periods each metric covers, the "
                            "areas with a figure in its latest and the gaps inside its series"))
                gaps = int(grid.isna().sum().sum())
                st.caption(f"{plural(len(grid), 'metric')} x {plural(grid.shape[1], 'period')}; "
                           f"{plural(gaps, 'gap')}. The full grid, one column per period, is "
                           "in the download.")
                st.download_button(
                    "Download the coverage grid (CSV)",
                    exports.csv_bytes(grid.rename(columns=periods.short_label).reset_index()),
                    file_name=f"coverage_{kind}.csv", mime="text/csv",
                    icon=":material/download:", key=f"coverage_csv_{kind}")
        missing = [i.title for i in catalogue.INDICATORS
                   if i.id not in set(summary["indicator_id"])]
        if missing:
            st.markdown(f"**Not loaded ({len(missing)}):** " + "; ".join(missing))

    with tab_fresh:
        fresh = data.freshness(ctx.data_dir, ctx.version.id, dt.date.today())
        st.markdown("The latest period loaded from each source and whether newer data should "
                    "exist by now: quarterly sources are *due* 6 months after a period ends and "
                    "*overdue* after 9; annual ones after 15 and 24 months.")
        if fresh.empty:
            st.info("Nothing is loaded yet.")
        else:
            late = fresh[fresh["status"] == "overdue"]
            if len(late) and not ctx.is_demo:
                st.warning(f"Overdue: newer figures should have been published by now for "
                           f"{'; '.join(late['source'])}. Load them, or check whether the "
                           "release has moved.", icon=":material/schedule:")
            shown, details = data_tables.freshness_table(fresh)
            st.html(tables.board_table(shown, details=details,
                                       caption="Sources: the publisher and the statistics' "
                                               "status under each name"))

    with tab_history:
        hist = data.history(ctx.data_dir, ctx.version.id)
        st.markdown("Every version ever published, newest first. A load or a rollback is a new "
                    "version; nothing published is deleted.")
        if who.sign_in and not who.allows("rollback"):
            # Who loaded each version is analysts' business, not every viewer's (the
            # e-mail addresses of signed-in analysts; admins read them in the audit log).
            hist = hist.drop(columns=["by"])
        shown, states = data_tables.history_table(hist)
        st.html(tables.board_table(shown, details=states,
                                   caption="Versions, newest first: each one's state under it"))
        others = [v for v in hist["version"] if v != ctx.version.id]
        if who.sign_in and not who.allows("rollback"):
            st.info("Analysts restore earlier versions: sign in as an analyst to roll back.",
                    icon=":material/lock:")
        elif not who.allows("rollback"):
            st.info("Rollback from this page is switched off (`ingest.allow_upload`). An analyst "
                    "can run `python -m metrics.ingest rollback VERSION`.", icon=":material/lock:")
        elif others:
            target = st.selectbox("Restore version", others, key="rollback_target",
                                  help="Publishes a copy of that version as a new version; "
                                       "restoring a demonstration version shows the banner again.")
            if st.button(f"Restore {target}", icon=":material/history:"):
                try:
                    restored = actions.rollback(*guard, target, ctx.data_dir)
                    flash(f"Published {restored.id}, a copy of {target}.")
                except Exception as exc:  # noqa: BLE001 - shown, not raised
                    flash(f"Not restored: {_md(exc)}", "error")
                st.rerun()

    with tab_format:
        st.markdown("""
**Files the loader reads** (CSV in UTF-8, UTF-8 with BOM or Windows-1252; Excel workbooks;
Parquet):
- **Fingertips exports** as downloaded. Indicators the catalogue knows are mapped to it;
  others load as additional metrics. Suppressed rows (empty value with a value note) load
  as suppressed.
- **NDTMS and police tables**: one row per area and period, with title rows above the
  header, totals rows and `*` cells. Areas by ONS code, or by name (spelling variants such as
  "Bristol, City of" or "Stockton-On-Tees" are matched); DAT codes from the shipped table or
  an area lookup file. Former codes are recoded, and districts, ICBs and Wales skipped, with a note.
  The indicator comes from an indicator column or from the title.
- **The long format** below: one row per indicator, area and period.

- **ONS workbooks as published** (such as the drug poisoning deaths by local authority
  workbook): contents, notes and definitions sheets are passed over, a period row above a
  measure row ("2019–21" over "Deaths, Rate, ...") is read period by period, names spread
  over several columns by level are read as one, and `:` or `[x]` mean not calculated.
- **Wide tables**: an area per row and a period per column, or a period per row and an area
  per column. **National survey tables** (CSEW) load into the England-only metrics.
- Files that do not say their metric or period, or that have one column per drug: choose
  them under "What the files do not say" after uploading.

Periods may be written in any common style (2024/25 Q1, 2024-25 Q1, Apr-Jun 2024,
12 months to 2024/25 Q1, 2024/25, 2021 - 23) and are shown in one.
""")
        st.download_button("Download the long-format template (CSV)",
                           exports.csv_bytes(template.template_frame()),
                           file_name="cdp_long_format_template.csv", mime="text/csv",
                           icon=":material/download:")
        st.html(tables.board_table(pd.DataFrame({"Column": list(template.COLUMN_HELP),
                                                 "Meaning": list(template.COLUMN_HELP.values())}),
                                   caption="The long format's columns"))
