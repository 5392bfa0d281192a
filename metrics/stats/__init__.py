"""The users' statistical conventions as pure functions: intervals (Wilson, Byar's, Dobson),
Fingertips comparison and recent trend, Making Data Count SPC, funnel limits (`methods`),
disclosure control (`disclosure`) and comparator groups (`comparators`).

Imports only metrics.reference; never the store, the renderers or Streamlit. The names of
`methods` are the package's API (`from metrics import stats; stats.wilson_ci(...)`).
"""

from metrics.stats.methods import *  # noqa: F401,F403
