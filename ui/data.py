"""Cached access to the store for pages: the thin Streamlit adapter over metrics.store.

Every function takes the published version id, so a newly published extract is a new
cache key and shows without a restart. Results are DataFrames or view models
(st.cache_data hands each caller its own copy), never lazy DuckDB relations.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from metrics import store

CACHE = dict(max_entries=64, show_spinner=False)


def _version(data_dir: str, version_id: str) -> store.Version:
    return store.get_version(data_dir, version_id)


@st.cache_data(**CACHE)
def areas(data_dir: str, version_id: str) -> pd.DataFrame:
    return store.areas(_version(data_dir, version_id))


@st.cache_data(**CACHE)
def periods(data_dir: str, version_id: str, kind: str | None = "quarter") -> pd.DataFrame:
    return store.periods(_version(data_dir, version_id), kind)


@st.cache_data(**CACHE)
def indicator_values(data_dir: str, version_id: str, indicator_ids: tuple[str, ...],
                     area_codes: tuple[str, ...], up_to: dt.date | None) -> pd.DataFrame:
    return store.indicator_values(_version(data_dir, version_id), list(indicator_ids),
                                  list(area_codes), up_to)


@st.cache_data(**CACHE)
def all_area_values(data_dir: str, version_id: str, indicator_ids: tuple[str, ...]) -> pd.DataFrame:
    return store.all_area_values(_version(data_dir, version_id), list(indicator_ids))


@st.cache_data(**CACHE)
def public_values(data_dir: str, version_id: str, indicator_ids: tuple[str, ...],
                  threshold: int) -> pd.DataFrame:
    """The area totals of these metrics (all areas, all periods) as public mode shows
    them: protected once across England, regions and areas (metrics.views.explorer.protect),
    so every view reads the same hidden cells. Threshold 1 (public mode off) hides
    nothing. Each metric is protected on its own, so any selection of metrics gives
    the same rows for a metric; the cache is per version and threshold."""
    from metrics.reference import catalogue
    from metrics.views import explorer
    values = all_area_values(data_dir, version_id, indicator_ids)
    indicators = [*catalogue.INDICATORS, *loaded_indicators(data_dir, version_id)]
    return explorer.protect(values, areas(data_dir, version_id), indicators, threshold)


@st.cache_data(**CACHE)
def overview_cards(data_dir: str, version_id: str, area_code: str, pfa_code: str | None,
                   period_end: dt.date, threshold: int, continuity_target: float,
                   continuity_target_date: dt.date) -> tuple:
    """The Overview's continuity headline and its six outcome cards, in catalogue order
    (metrics.views.overview), for one area and period. Cached like every view model:
    building them is about 0.1-0.2 s of pandas, which every switch back to the Overview
    paid again."""
    from metrics.reference import catalogue
    from metrics.views import overview
    shown = tuple(code for code in (area_code, pfa_code, overview.ENGLAND) if code)
    # Every period, not only those up to the selected one: a card can then tell a metric
    # not loaded yet from one whose first figure comes after the selected quarter.
    values = public_values(data_dir, version_id, tuple(overview.headline_indicator_ids()),
                           threshold)
    values = values[values["area_code"].isin(shown)]
    up_to = values[pd.to_datetime(values["period_end"]) <= pd.Timestamp(period_end)]
    continuity = overview.continuity_headline(up_to, area_code, continuity_target,
                                              continuity_target_date, threshold)
    names = areas(data_dir, version_id)
    return continuity, [overview.outcome_card(outcome, values, area_code, names, threshold,
                                              period_end)
                        for outcome in catalogue.OUTCOMES]


@st.cache_data(**CACHE)
def comparator_group(data_dir: str, version_id: str, choice: str, area_code: str,
                     configured: tuple[str, ...]):
    """The comparator group an area's pages compare with (metrics.stats.comparators):
    the nearest neighbours take 10-20 ms to find, on every run of every page."""
    from metrics.stats import comparators
    return comparators.comparator_group(choice, area_code, areas(data_dir, version_id),
                                        configured, area_need_summary(data_dir, version_id))


@st.cache_data(**CACHE)
def loaded_indicators(data_dir: str, version_id: str) -> tuple:
    """Definitions of the version's metrics that the catalogue does not list."""
    from metrics.ingest import definitions
    return tuple(definitions.loaded_indicators(_version(data_dir, version_id)))


@st.cache_data(**CACHE)
def breakdown_values(data_dir: str, version_id: str, indicator_ids: tuple[str, ...],
                     area_codes: tuple[str, ...]) -> pd.DataFrame:
    return store.breakdown_values(_version(data_dir, version_id), list(indicator_ids),
                                  list(area_codes))


@st.cache_data(**CACHE)
def area_need_summary(data_dir: str, version_id: str) -> pd.DataFrame:
    return store.area_need_summary(_version(data_dir, version_id))


# --- Maps (pages/maps.py) ---------------------------------------------------------
# Boundaries are committed reference files that change only when rebuilt (`python -m
# metrics.geo build`), so they are keyed by the build manifest's source hash and shared
# read-only between sessions (cache_resource: no copy of the geometry per rerun; the
# map builders never modify it). Small-area need is keyed by the published version and
# by the loaded RUC/IMD lookups (store.lookup_stamp), so loading either shows at once.


def boundary_stamp() -> str:
    from metrics import geo
    return geo.boundary_manifest().get("source_sha256", "")


@st.cache_resource(max_entries=200, show_spinner=False)
def local_boundaries(utla_code: str, stamp: str) -> dict:
    from metrics import geo
    return geo.local_boundaries(utla_code)


@st.cache_resource(max_entries=4, show_spinner=False)
def national_boundaries(stamp: str) -> tuple[dict, dict]:
    from metrics import geo
    return geo.national_boundaries(), geo.region_boundaries()


def _lookups(data_dir: str, codes: list[str] | None) -> tuple:
    return store.read_lookup(data_dir, "ruc", codes), store.read_lookup(data_dir, "imd", codes)


@st.cache_data(**CACHE)
def local_need(data_dir: str, version_id: str, lookup_stamp: str, utla_code: str,
               stamp: str) -> pd.DataFrame:
    """One row per LSOA of the area (metrics.geo.need_table)."""
    from metrics import geo
    lsoas = geo.boundary_lsoas(local_boundaries(utla_code, stamp))
    need = store.lsoa_need(_version(data_dir, version_id), utla_code)
    ruc, imd = _lookups(data_dir, lsoas["lsoa_code"].tolist())
    return geo.need_table(lsoas, need, ruc, imd)


@st.cache_data(**CACHE)
def england_urban_rural(data_dir: str, version_id: str, lookup_stamp: str, by: str,
                        threshold: int) -> pd.DataFrame:
    """England's need and provision by rural-urban group (metrics.geo.urban_rural_summary)."""
    from metrics import geo
    need = store.lsoa_need(_version(data_dir, version_id))
    ruc, imd = _lookups(data_dir, None)
    table = geo.need_table(geo.reference_lsoas(), need, ruc, imd)
    # Rates and shares only: England's counts by class, less the areas' shown class
    # totals, would give away a total an area hides.
    return geo.urban_rural_summary(table, by, threshold, counts_shown=False)


@st.cache_data(**CACHE)
def local_protection(data_dir: str, version_id: str, lookup_stamp: str, utla_code: str,
                     stamp: str, threshold: int):
    """What the area's small-area map, class tables and district rates hide, decided
    together (metrics.geo.protect_small_areas); every view of the maps page uses it."""
    from metrics import geo
    return geo.protect_small_areas(local_need(data_dir, version_id, lookup_stamp, utla_code,
                                              stamp), threshold)


@st.cache_data(**CACHE)
def local_urban_rural(data_dir: str, version_id: str, lookup_stamp: str, utla_code: str,
                      stamp: str, by: str, threshold: int) -> pd.DataFrame:
    """The area's need and provision by rural-urban group, protected as its map is
    (metrics.geo.urban_rural_summary with local_protection): computed once, not on every
    rerun of each map view that shows it."""
    from metrics import geo
    need = local_need(data_dir, version_id, lookup_stamp, utla_code, stamp)
    return geo.urban_rural_summary(need, by, threshold, protection=local_protection(
        data_dir, version_id, lookup_stamp, utla_code, stamp, threshold))


@st.cache_data(**CACHE)
def england_map_values(data_dir: str, version_id: str, indicator_id: str, period_end,
                       threshold: int) -> pd.DataFrame:
    """Every partnership's (or force's) latest figure up to `period_end`, as the England
    map colours it (metrics.geo.area_map_values): about 0.1 s to work out, so once per
    metric and period rather than on every rerun of the Maps page."""
    from metrics import geo
    from metrics.reference import catalogue
    every = areas(data_dir, version_id)
    codes = every.loc[every["area_type"].isin(["utla", "pfa", "country"]), "area_code"]
    rows = public_values(data_dir, version_id, (indicator_id,), threshold)
    rows = rows[rows["area_code"].isin(codes)
                & (pd.to_datetime(rows["period_end"]) <= pd.Timestamp(period_end))]
    return geo.area_map_values(rows, catalogue.get(indicator_id), every, threshold)


# --- The Data page (metrics.ingest): keyed on the current version, so a load shows at once.

@st.cache_data(**CACHE)
def coverage(data_dir: str, version_id: str, kind: str) -> pd.DataFrame:
    from metrics.ingest import versions
    return versions.coverage(_version(data_dir, version_id), kind)


@st.cache_data(**CACHE)
def freshness(data_dir: str, version_id: str, today: dt.date) -> pd.DataFrame:
    from metrics.ingest import versions
    return versions.freshness(_version(data_dir, version_id), today)


@st.cache_data(**CACHE)
def loaded_summary(data_dir: str, version_id: str) -> pd.DataFrame:
    return store.indicator_summary(_version(data_dir, version_id))


@st.cache_data(**CACHE)
def history(data_dir: str, version_id: str) -> pd.DataFrame:
    from metrics.ingest import versions
    return versions.history(data_dir)


@st.cache_data(**CACHE)
def version_manifest(data_dir: str, version_id: str) -> dict:
    return dict(_version(data_dir, version_id).manifest)


@st.cache_data(**CACHE)
def annotations(data_dir: str, version_id: str, area_code: str,
                metric_id: str) -> pd.DataFrame:
    """The analysts' notes on one area's metric (metrics.store.annotations): date, text
    and whether it marks a service change, oldest first (who wrote each is in the
    version's manifest and the audit log, not on public pages)."""
    notes = store.annotations(_version(data_dir, version_id), area_code, metric_id)
    return notes[["date", "text", "service_change"]].reset_index(drop=True)


@st.cache_data(**CACHE)
def area_annotations(data_dir: str, version_id: str, area_code: str) -> pd.DataFrame:
    """Every analysts' note on one area: date, text, the metrics it is about and whether
    it marks a service change."""
    notes = store.annotations(_version(data_dir, version_id), area_code)
    return notes[["date", "text", "metric_ids", "service_change"]].reset_index(drop=True)
