"""Charts and sparklines carry words written from their figures (WCAG 1.1.1)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from metrics.reference import catalogue
from metrics.render import describe, sparkline


def _indicator(unit: str):
    return next(i for i in catalogue.INDICATORS if i.unit == unit)


class _Svg(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_sparkline_is_an_image_named_from_its_figures():
    ind = _indicator("%")
    periods = ["2025/26 Q2", "2025/26 Q3", "2025/26 Q4", "2026/27 Q1"]
    text = sparkline.svg([48.25, 47.0, 51.2, 50.1], periods, ind)
    parser = _Svg()
    parser.feed(text)
    tag, attrs = parser.tags[0]
    assert tag == "svg" and attrs["role"] == "img"
    label = attrs["aria-label"]
    assert "2025/26 Q2 to 2026/27 Q1" in label
    assert "from 48.2% in 2025/26 Q2 to 50.1% in 2026/27 Q1" in label or \
        "from 48.3% in 2025/26 Q2 to 50.1% in 2026/27 Q1" in label
    assert "lowest 47.0%, highest 51.2%" in label
    assert ind.title in label


def test_a_suppressed_point_breaks_the_line_and_is_said():
    ind = _indicator("%")
    periods = ["A", "B", "C", "D", "E"]
    text = sparkline.svg([10.0, 12.0, None, 13.0, 14.0], periods, ind)
    assert text.count("<polyline") == 2
    assert "1 period not shown (small numbers suppressed)" in text
    # Hidden values never reach the page, not even in the words.
    assert "None" not in text and "nan" not in text


def test_too_few_figures_draw_nothing():
    ind = _indicator("%")
    assert sparkline.svg([None, 5.0], ["A", "B"], ind) == ""
    assert "no trend" in sparkline.description([None], ["A"], ind)


def test_words_in_an_attribute_are_escaped():
    ind = _indicator("%")
    text = sparkline.svg([1.0, 2.0], ['"><script>', "B"], ind)
    assert "<script>" not in text


def test_accessible_spec_names_the_chart_and_hides_unnamed_marks():
    spec = {"mark": "point", "data": {"values": []}, "config": {"view": {"stroke": None}}}
    described = describe.accessible(spec, "Deaths rose\n from 5.2 to 7.5.")
    assert described["description"] == "Deaths rose from 5.2 to 7.5."
    assert described["config"]["aria"] is False
    assert described["config"]["mark"] == {"aria": False}
    assert described["config"]["view"] == {"stroke": None}
    assert "description" not in spec and "aria" not in spec["config"]   # a copy
    assert re.search(r"\S", described["description"])
