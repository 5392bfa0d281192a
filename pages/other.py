"""Other metrics: every loaded metric the catalogue does not list (Fingertips indicators
and new long-format metrics), explored like an outcome's metrics."""

from metrics.ingest.definitions import OTHER
from ui.outcome_page import render

render(OTHER)
