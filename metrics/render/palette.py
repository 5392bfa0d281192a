"""The benchmark colours and shapes: the one place every chart, map, badge and the board
pack take them from.

Colours are those users know from Fingertips, in the GOV.UK palette: better green,
similar yellow, worse red, a second green and a dark red at 99.8%, blues for "higher" and
"lower" where a metric has no better direction, grey where no comparison was made. Colour
alone fails on a washed-out projector and for colour-blind readers, so every verdict also
has a shape (up for better or higher, down for worse or lower, doubled at 99.8%, a circle
for similar, a square for not compared) and its words.
"""

from __future__ import annotations

from dataclasses import dataclass

from metrics import stats

BETTER = "#00703C"
BETTER_998 = "#85994B"
SIMILAR = "#FFDD00"
WORSE = "#D4351C"
WORSE_998 = "#831504"
HIGHER = "#5694CA"
LOWER = "#003078"
NOT_COMPARED = "#B1B4B6"
# GOV.UK text colour: dark text on light fills (yellow, light blue, grey, olive green).
DARK_TEXT = "#0B0C0C"
LIGHT_TEXT = "#FFFFFF"
# Markers are outlined: a yellow or grey dot on a white chart vanishes on a projector.
MARKER_STROKE = DARK_TEXT
# Lines that carry figures (SPC data and process limits, funnel limits, leader lines to
# labels): GOV.UK dark grey, 7.0:1 on white (WCAG asks 4.5:1 of essential marks here; the
# Making Data Count grey #7B7D7D is 4.1:1).
GUIDE_LINE = "#505A5F"

# Vega-Lite draws a custom SVG path in a -1..1 box: two stacked triangles say "99.8%".
_UP = "triangle-up"
_DOWN = "triangle-down"
_UP_TWICE = "M-1,0L0,-1L1,0Z M-1,1L0,0L1,1Z"
_DOWN_TWICE = "M-1,-1L0,0L1,-1Z M-1,0L0,1L1,0Z"
# Arrows for "higher" and "lower": a direction, not a judgement.
_UP_ARROW = "M0,-1L1,0L0.35,0L0.35,1L-0.35,1L-0.35,0L-1,0Z"
_DOWN_ARROW = "M0,1L1,0L0.35,0L0.35,-1L-0.35,-1L-0.35,0L-1,0Z"
_UP_ARROW_TWICE = ("M0,-1L1,-0.3L0.35,-0.3L1,0.3L0.35,0.3L0.35,1L-0.35,1L-0.35,0.3L-1,0.3"
                   "L-0.35,-0.3L-1,-0.3Z")
_DOWN_ARROW_TWICE = ("M0,1L1,0.3L0.35,0.3L1,-0.3L0.35,-0.3L0.35,-1L-0.35,-1L-0.35,-0.3"
                     "L-1,-0.3L-0.35,0.3L-1,0.3Z")


@dataclass(frozen=True)
class Verdict:
    """How one comparison category is drawn: fill colour, legend words, Vega-Lite shape
    (a name or an SVG path) and the same shape as text, for badges and tables."""
    key: str
    colour: str
    words: str
    shape: str
    glyph: str


# Legend order: better to worse, then the directions without a judgement, then none.
VERDICTS = {v.key: v for v in (
    Verdict("better_998", BETTER_998, "Better (99.8%)", _UP_TWICE, "\u25b2\u25b2"),
    Verdict("better_95", BETTER, "Better (95%)", _UP, "\u25b2"),
    Verdict("similar", SIMILAR, "Similar", "circle", "\u25cf"),
    Verdict("worse_95", WORSE, "Worse (95%)", _DOWN, "\u25bc"),
    Verdict("worse_998", WORSE_998, "Worse (99.8%)", _DOWN_TWICE, "\u25bc\u25bc"),
    Verdict("higher_998", HIGHER, "Higher (99.8%)", _UP_ARROW_TWICE, "\u21c8"),
    Verdict("higher_95", HIGHER, "Higher (95%)", _UP_ARROW, "\u2191"),
    Verdict("lower_95", LOWER, "Lower (95%)", _DOWN_ARROW, "\u2193"),
    Verdict("lower_998", LOWER, "Lower (99.8%)", _DOWN_ARROW_TWICE, "\u21ca"),
    Verdict("not_compared", NOT_COMPARED, "Not compared", "square", "\u25a0"),
)}


def verdict_key(code) -> str:
    """The drawn category of a comparison code (metrics.stats.COMPARISON_CODES): a verdict
    made at 95% only ("better_95only") is drawn as the 95% one; anything unknown or
    missing as not compared."""
    if not isinstance(code, str) or code not in stats.COMPARISON_CODES:
        return "not_compared"
    return code.removesuffix("only")


def verdict(code) -> Verdict:
    return VERDICTS[verdict_key(code)]


def short_words(code) -> str:
    """A comparison in the legend's words ('Better (95%)'), for a column whose header names
    England; a verdict made at 95% only keeps its caveat ('Better (compared at 95% only)')."""
    words = verdict(code).words
    if isinstance(code, str) and code.endswith("only") and code in stats.COMPARISON_CODES:
        return words.replace("(95%)", "(compared at 95% only)")
    return words


def present(codes) -> list[Verdict]:
    """The categories among `codes`, in legend order, so a legend lists only what the
    chart shows."""
    keys = {verdict_key(c) for c in codes}
    return [v for k, v in VERDICTS.items() if k in keys]


# --- Colour contrast (WCAG 2.1) -------------------------------------------------------------

def _luminance(colour: str) -> float:
    """Relative luminance of a #RRGGBB colour (WCAG 2.1 definition)."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1 to 21; text needs 4.5 (AA)."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_colour(fill: str) -> str:
    """White or GOV.UK black, whichever reads better on `fill`."""
    return max((LIGHT_TEXT, DARK_TEXT), key=lambda text: contrast_ratio(text, fill))


def rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))
