"""Each metric's statistics status and timeliness, as the Code of Practice for Statistics
asks a dashboard to state them: what kind of statistics a figure is, who publishes it,
when the figures shown were released (loaded) and when the next ones are expected.

The status and publisher of every source in the catalogue are declared here as data
(`SOURCES`); `timeliness()` works out the dates from the latest period loaded. Figures of
the demonstration set are always "demonstration", whatever their source would be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from metrics.reference.catalogue import Indicator

OFFICIAL = "official statistics"
IN_DEVELOPMENT = "official statistics in development"
MANAGEMENT = "management information"
DEMONSTRATION = "demonstration"
STATUSES = (OFFICIAL, IN_DEVELOPMENT, MANAGEMENT, DEMONSTRATION)

STATUS_WORDS = {
    OFFICIAL: "Official statistics",
    IN_DEVELOPMENT: "Official statistics in development",
    MANAGEMENT: "Management information (not official statistics)",
    DEMONSTRATION: "Demonstration figures (generated, not real)",
}
DEMO_PUBLISHER = "Generated for this dashboard"


@dataclass(frozen=True)
class Source:
    publisher: str
    status: str


# The catalogue's `source` -> who publishes it and its status. NDTMS quarterly reports to
# partnerships are management information; its annual national release is official
# statistics. Modelled prevalence (and unmet need built on it) is in development.
SOURCES: dict[str, Source] = {
    "Police recorded crime (Home Office)": Source("Office for National Statistics", OFFICIAL),
    "Home Office Homicide Index": Source("Office for National Statistics", OFFICIAL),
    "Ministry of Justice proven reoffending statistics": Source("Ministry of Justice", OFFICIAL),
    "ONS deaths related to drug poisoning": Source("Office for National Statistics", OFFICIAL),
    "Hospital Episode Statistics (NHS England)": Source("NHS England", OFFICIAL),
    "NDTMS": Source("Office for Health Improvement and Disparities", MANAGEMENT),
    "Crime Survey for England and Wales (ONS)": Source("Office for National Statistics",
                                                       OFFICIAL),
    "OHID prevalence estimates": Source("Office for Health Improvement and Disparities",
                                        IN_DEVELOPMENT),
    "MHCLG homelessness statistics (H-CLIC)": Source(
        "Ministry of Housing, Communities and Local Government", OFFICIAL),
    "DfE children in need census": Source("Department for Education", OFFICIAL),
    "Home Office County Lines Programme": Source("Home Office", MANAGEMENT),
    "Police (force returns)": Source("Police forces", MANAGEMENT),
    "Home Office seizures of drugs": Source("Home Office", OFFICIAL),
    "NDTMS and OHID prevalence estimates": Source(
        "Office for Health Improvement and Disparities", IN_DEVELOPMENT),
}
# A metric loaded from an extract that the catalogue does not list: nothing is known.
UNKNOWN = Source("as given in the loaded file", MANAGEMENT)

# Months after a period ends until newer figures are due, and overdue, by kind of period
# (the Data page's freshness view uses the same figures).
DUE_AFTER_MONTHS = {"quarter": (6, 9), "rolling_12m": (6, 9), "financial_year": (15, 24),
                    "calendar_year": (15, 24), "pooled_3y": (15, 24)}


def source_of(indicator: Indicator) -> Source:
    """The publisher and status of a metric's source."""
    return SOURCES.get(indicator.source, UNKNOWN)


@dataclass(frozen=True)
class Timeliness:
    status: str               # one of STATUSES
    publisher: str
    released: dt.date | None  # when the figures shown were published here (loaded)
    next_update: dt.date | None   # when newer figures are expected (None: not expected)
    overdue: bool

    @property
    def status_words(self) -> str:
        return STATUS_WORDS[self.status]

    def line(self) -> str:
        """'Data as of 2 December 2026 · next update expected March 2027' for cards,
        slides and the pack."""
        parts = []
        if self.released:
            parts.append(f"Data as of {_day(self.released)}")
        if self.status == DEMONSTRATION:
            parts.append("no update: demonstration figures")
        elif self.next_update:
            parts.append(("next update overdue (expected " if self.overdue
                          else "next update expected ") + f"{self.next_update:%B %Y}"
                         + (")" if self.overdue else ""))
        return " · ".join(parts)


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day where it is shorter)."""
    import calendar
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def timeliness(source: Source, period_kind: str | None, last_end: dt.date | None,
               released: dt.date | None, demo: bool, today: dt.date) -> Timeliness:
    """Status and dates of a source's figures (`source_of(indicator)`). Newer figures are
    expected by the time the latest period loaded is overdue (`DUE_AFTER_MONTHS`): a
    quarter 9 months after it ends, a year 24 months after."""
    if demo:
        return Timeliness(DEMONSTRATION, DEMO_PUBLISHER, released, None, False)
    next_update = None
    if last_end is not None:
        overdue_after = DUE_AFTER_MONTHS.get(period_kind or "", (15, 24))[1]
        next_update = add_months(last_end, overdue_after)
    return Timeliness(source.status, source.publisher, released, next_update,
                      bool(next_update and today > next_update))


def released_on(manifest: dict, indicator_id: str) -> dt.date | None:
    """When a metric's figures were published here: the load that last brought them
    (the version manifest's indicator_sources), else the version's own date."""
    loaded = (manifest.get("indicator_sources", {}).get(indicator_id) or {}).get("loaded_at") \
        or manifest.get("published_at") or ""
    try:
        return dt.date.fromisoformat(str(loaded)[:10])
    except ValueError:
        return None
