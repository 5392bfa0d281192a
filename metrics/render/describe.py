"""A chart's accessible description, in one place (WCAG 1.1.1 non-text content).

Vega-Lite's top-level `description` becomes the accessible name of the drawn <svg>
(role "graphics-document"). `config.aria` false hides the guides and drops Vega-Lite's
default per-item descriptions; `config.mark.aria` false then hides each mark group too
(Vega names a group "graphics-symbol" when none of its items has a description, and an
unnamed one is what axe reports as svg-img-alt: a district outline, an area band). A
screen reader hears the one sentence written from the plotted figures instead of hundreds
of shapes. The same
words are shown as text under the chart by the page, and the figures are in the table.
"""

from __future__ import annotations

import copy


def accessible(spec: dict, description: str) -> dict:
    """A copy of a Vega-Lite spec (a dict) whose accessible name is `description`."""
    described = copy.deepcopy(spec)
    described["description"] = " ".join(str(description).split())
    config = described.setdefault("config", {})
    config["aria"] = False
    config["mark"] = dict(config.get("mark") or {}, aria=False)
    return described
