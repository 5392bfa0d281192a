"""Charts as they leave the screen: the board pack's pages and the PNG and SVG downloads.

On screen a chart stretches to its column and Streamlit's theme sets its type; printed,
each builder's own sizes came through (a trend 250 px high drawn 178 mm wide has 13 px
labels that print at 12 pt, while the spine's print at 9 pt). `uniform` gives every
printed chart one width, one plotting height and one type scale, and rounds line joins
(a sharp turn in a thick line otherwise draws a mitre spike past the point).
`credited` adds what a chart needs once it travels without the page around it: its
title, source, period, data version and the Open Government Licence line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

OGL = ("Contains public sector information licensed under the Open Government Licence "
       "v3.0.")

# The pack's charts: 600 px fitted to 178 mm of A4 (0.297 mm a pixel), so 11 px type
# prints at 9.2 pt, a little under the 11 pt body text, and every page matches.
WIDTH = 600
HEIGHT = 220           # the plotting area of charts not sized by their rows
TEXT = 11              # axis labels and titles, legends, labels on marks
TITLE = 13
# Keys under an encoding's axis or legend that would override the config's type scale.
_TYPE_KEYS = ("labelFontSize", "titleFontSize")


@dataclass(frozen=True)
class About:
    """What a chart says about itself when it travels alone."""
    title: str
    source: str = ""
    period: str = ""
    version: str = ""          # the published data version, e.g. "v0003 (12 May 2026)"

    def lines(self) -> list[str]:
        """The source, then period and data version, then the licence: one line each,
        so no line runs far past a chart's width (a title does not wrap)."""
        when = ". ".join(f for f in (f"Period: {self.period}" if self.period else "",
                                     f"Data version {self.version}" if self.version else "")
                         if f)
        return [line for line in (f"Source: {self.source.rstrip('.')}." if self.source else "",
                                  f"{when}." if when else "", OGL) if line]


def _walk(spec: dict):
    """Every unit spec inside `spec` (itself, layers, concatenations), depth first."""
    yield spec
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for part in spec.get(key, []) or []:
            if isinstance(part, dict):
                yield from _walk(part)
    if isinstance(spec.get("spec"), dict):
        yield from _walk(spec["spec"])


def uniform(spec: dict, width: int = WIDTH, height: int = HEIGHT) -> dict:
    """A copy of a Vega-Lite spec drawn `width` px wide overall (axes and legend inside
    it), `height` px of plotting area (a height per row, `{"step": n}`, is kept: rows
    stay the same size whatever their number), and every piece of text at one size."""
    out = copy.deepcopy(spec)
    out["width"] = width
    if not isinstance(out.get("height"), dict):
        out["height"] = height
    out["autosize"] = {"type": "fit-x", "contains": "padding"}
    config = out.setdefault("config", {})
    config["axis"] = {**config.get("axis", {}), "labelFontSize": TEXT,
                      "titleFontSize": TEXT}
    config["legend"] = {**config.get("legend", {}), "labelFontSize": TEXT,
                        "titleFontSize": TEXT, "labelLimit": 0, "titleLimit": 0}
    config["title"] = {**config.get("title", {}), "fontSize": TITLE,
                       "subtitleFontSize": TEXT, "anchor": "start"}
    for mark in ("line", "rule", "area", "trail"):
        config[mark] = {**config.get(mark, {}), "strokeJoin": "round", "strokeCap": "round"}
    for unit in _walk(out):
        mark = unit.get("mark")
        if isinstance(mark, dict):
            if mark.get("type") == "text":
                mark["fontSize"] = TEXT
            if mark.get("type") in ("line", "rule", "area", "trail"):
                mark["strokeJoin"] = "round"
            point = mark.get("point")
            if isinstance(point, dict):
                point.setdefault("size", 30)
        for channel in (unit.get("encoding") or {}).values():
            if not isinstance(channel, dict):
                continue
            for part in ("axis", "legend"):
                if isinstance(channel.get(part), dict):
                    for key in _TYPE_KEYS:
                        channel[part].pop(key, None)
    return out


def credited(spec: dict, about: About) -> dict:
    """A copy of `spec` titled with `about`: the title, then source, period and data
    version, then the Open Government Licence line, as subtitle lines."""
    out = copy.deepcopy(spec)
    out["title"] = {"text": about.title, "subtitle": about.lines(), "anchor": "start",
                    "subtitleFontSize": TEXT, "fontSize": TITLE}
    return out
