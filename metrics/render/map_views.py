"""Where the maps look: the boxes they are drawn in, and the partnership map's view, which
fits an area into its box (Web Mercator, as deck.gl's map view draws it). deck.gl cannot
fit a view to its box in the browser, so it is done here. (The England map is drawn by
Vega, which fits its projection itself.)"""

from __future__ import annotations

import math

import pydeck as pdk

MAP_HEIGHT = 600
# The England map is taller, so a partnership the size of a county can be found on it.
ENGLAND_HEIGHT = 760
# Views are fitted to the narrowest box the map is drawn in: the map column (three quarters
# of the page) at 1024 px wide with the sidebar open is about 415 px (measured on a
# screenshot). Fitted to 900 px, the west of Gloucestershire (the Forest of Dean) was cut
# off at 1366 px.
FIT_WIDTH = 390


def _merc_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _fit(bbox: list[float], height_px: int, width_px: int) -> tuple[float, float, float]:
    """Web Mercator pixels per radian that fit `bbox` (west, south, east, north) into
    width_px x height_px with a small margin (as a map view zoomed out by 0.1), and the
    box's centre in radians (x, and Mercator y)."""
    west, south, east, north = bbox
    x_span = max(math.radians(east - west), 1e-9)
    y_span = max(_merc_y(north) - _merc_y(south), 1e-9)
    scale = min(width_px / x_span, height_px / y_span) * 2 ** -0.1
    return scale, math.radians((west + east) / 2), (_merc_y(north) + _merc_y(south)) / 2


# The partnership map: one fixed view for every area.
#
# Streamlit's map element keeps the view in the browser's state and moves it to a new
# `initial_view_state` only after drawing the new layers once at the old view. In
# software rendering each frame costs 0.2-0.5 s, so an area change drew two (measured in
# headless Chromium: Wiltshire 1.6-2.4 s and Shropshire 1.0-1.2 s with two frames; 1.0 s
# and 0.65 s when the view did not move). The partnership map therefore uses one flat view
# that never changes (OrthographicView, 1 unit = 1 pixel at zoom 0), and each area's
# shapes are projected here, Web Mercator as before, centred and scaled to fit the map's
# narrowest box. Points outside deck.gl's geographic views are plain x, y (its DEFAULT
# coordinate system is Cartesian in a non-geographic view).

LOCAL_VIEW = pdk.View(type="OrthographicView", controller=True)
LOCAL_VIEW_STATE = pdk.ViewState(target=[0, 0, 0], zoom=0, min_zoom=-1, max_zoom=6)


class FittedProjection:
    """Longitude and latitude to pixels of the fixed view: Web Mercator, centred on
    `bbox` and scaled to fit width_px x height_px (_fit). North is up: y grows
    downwards."""

    def __init__(self, bbox: list[float], height_px: int = MAP_HEIGHT,
                 width_px: int = FIT_WIDTH):
        self.scale, self.centre_x, self.centre_y = _fit(bbox, height_px, width_px)

    def point(self, lon_lat) -> list[float]:
        lon, lat = lon_lat[0], lon_lat[1]
        # Two decimals: a hundredth of a pixel, under a metre in a county at zoom 0.
        return [round((math.radians(lon) - self.centre_x) * self.scale, 2),
                round((self.centre_y - _merc_y(lat)) * self.scale, 2)]

    def line(self, points) -> list[list[float]]:
        return [self.point(p) for p in points]
