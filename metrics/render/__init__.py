"""Pictures of the views: Altair chart specifications, Vega-Lite maps and their legends.

Imports reference, stats and geo; never views, ui/ or Streamlit.
"""

import altair.utils.schemapi as _altair_schemas

# Altair checks every chart part against the Vega-Lite schema as it is built ("debug
# mode"). Our specifications are written with validate=False and checked by the tests;
# the per-part checks cost about a tenth of a chart's building time on every area change.
_altair_schemas.disable_debug_mode()

from metrics.render import chart_data as _chart_data  # noqa: E402

_chart_data.enable()
