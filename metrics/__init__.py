"""The dashboard's domain, in stages that follow the data (no Streamlit anywhere here):

    reference/  what things are: catalogue, periods, units, England's areas and codes
    stats/      the statistical methods, disclosure control, comparator groups (pure)
    store.py    the only module that opens Parquet or writes SQL
    ingest/     read, check and publish extracts          demo.py  the demonstration set
    geo/        boundaries, RUC/IMD lookups, small-area need, the England map's values
    views/      what each screen shows, as plain data (already suppressed)
    render/     Altair and Vega-Lite pictures of the views
    reports/    the slides' content and the board pack PDF

A stage imports only the stages above it in this list (tests/test_layout.py checks).
"""
