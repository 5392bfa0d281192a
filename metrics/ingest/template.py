"""The project's own long format: one row per indicator, area and period.

The template is the format every other source is converted to (store.VALUES_COLUMNS),
less the columns the loader works out itself (period kind, start and end).
"""

from __future__ import annotations

import io

import pandas as pd

TEMPLATE_COLUMNS = ["indicator_id", "area_code", "period", "breakdown", "category",
                    "numerator", "denominator", "value", "lower95", "upper95", "lower998",
                    "upper998", "value_note", "indicator_name", "unit", "outcome"]

COLUMN_HELP = {
    "indicator_id": "Required. A catalogue id (metrics/reference/catalogue.py), e.g. continuity_of_care. "
                    "A new metric: any lower-case id plus indicator_name (and unit).",
    "area_code": "Required (or area_name). ONS code: E92000001 England, E12 regions, "
                 "E06/E08/E09/E10 upper-tier areas, E23 police force areas.",
    "period": "Required. Any common spelling: 2024/25 Q1, 2024-25 Q1, Apr-Jun 2024, "
              "12 months to 2024/25 Q1, 2024/25, 2024, 2021 - 23.",
    "breakdown": "Optional. Empty for the area total; e.g. substance.",
    "category": "Optional. The breakdown's category, e.g. Opiate.",
    "numerator": "Count (e.g. people engaged). Optional when value is given.",
    "denominator": "Count (e.g. people released with a need) or population.",
    "value": "Display scale: percentages 0-100, rates per the indicator's multiplier. "
             "Worked out from numerator and denominator when empty.",
    "lower95": "Optional interval limits; computed (Wilson, Byar's) when all four are empty.",
    "upper95": "",
    "lower998": "",
    "upper998": "",
    "value_note": "Optional. '*' in a number cell, or a note with an empty value, marks a "
                  "suppressed figure.",
    "indicator_name": "Only for a new metric: its title.",
    "unit": "Only for a new metric: %, per 1,000, per 100,000 or count.",
    "outcome": "Only for a new metric, optional: the outcome page it appears on (crime, "
               "harm, use, supply, treatment or recovery); empty: the Other metrics page.",
}

EXAMPLE_ROWS = [
    ["continuity_of_care", "E10000013", "12 months to 2024/25 Q1", "", "", 412, 780, "", "",
     "", "", "", "", "", "", ""],
    ["continuity_of_care", "E10000013", "2024/25 Q1", "", "", "*", 9, "*", "", "", "", "", "",
     "", "", ""],
    ["treatment_progress", "E10000013", "12 months to 2024/25 Q1", "", "", 803, 1655, 48.5,
     46.1, 50.9, 44.7, 52.3, "", "", "", ""],
]


def template_frame() -> pd.DataFrame:
    return pd.DataFrame(EXAMPLE_ROWS, columns=TEMPLATE_COLUMNS)


def template_csv() -> str:
    buffer = io.StringIO()
    template_frame().to_csv(buffer, index=False)
    return buffer.getvalue()
