"""What a statistical process control chart shows, in words: the Making Data Count
verdict at the latest point and the rule that marks it, the assurance against a target,
and where the limits were recalculated (metrics.views.explorer.spc_frame builds the chart's
frame and summary; these words are made from the same rule columns as its markers)."""

from __future__ import annotations

import pandas as pd

SPC_VARIATION = {"improvement": "Special cause (improvement)",
                 "concern": "Special cause (concern)",
                 "neither": "Special cause (no preferred direction)"}
SPC_ASSURANCE = {
    "consistently_passing": "Consistently passing the target: even the process limit on "
                            "the worse side meets it",
    "consistently_failing": "Consistently failing the target: even the process limit on "
                            "the better side falls short of it",
    "hit_and_miss": "Hit and miss: the target lies within the process limits",
}


def rule_words(rules: tuple, direction: str | None) -> str:
    """The Making Data Count rules that mark a point, in words."""
    side = "above" if direction == "higher" else "below"
    words = {"outside_limits": f"{'above the upper' if direction == 'higher' else 'below the lower'}"
                               " process limit",
             "in_trend": f"7 or more points in a row "
                         f"{'rising' if direction == 'higher' else 'falling'}",
             "two_of_three": f"2 of 3 points beyond two sigma {side} the mean",
             "in_run": f"7 or more points in a row {side} the mean"}
    return "; ".join(words[rule] for rule in rules)


def spc_words(frame: pd.DataFrame, summary: dict) -> str:
    """What the SPC chart shows, in words taken from the same rule columns as its
    markers (metrics.stats.spc_summary): the latest point's verdict and the rule that
    marks it, or, when the latest point is common cause but earlier points are marked,
    the most recent of those, so the words never say "no change" beside marked points."""
    if not summary.get("variation") or frame.empty:
        return "Variation not assessed."

    def period(position: int) -> str:
        return str(frame["period"].iloc[position]) if "period" in frame else \
            f"point {position + 1}"

    latest = period(summary["latest_position"])
    if summary["variation"] != "common_cause":
        words = (f"{SPC_VARIATION[summary['variation']]} at {latest}: "
                 f"{rule_words(summary['latest_rules'], summary['latest_direction'])}")
    elif summary.get("special_points"):
        count = summary["special_points"]
        words = (f"Common cause variation at the latest point ({latest}), but "
                 f"{count} earlier point{'s are' if count != 1 else ' is'} special cause: "
                 f"the most recent, "
                 f"{SPC_VARIATION[summary['last_special_variation']].lower()} at "
                 f"{period(summary['last_special_position'])}: "
                 f"{rule_words(summary['last_special_rules'], summary['last_special_direction'])}")
    else:
        words = "Common cause variation: no point is special cause"
    if summary.get("assurance"):
        words += ". " + SPC_ASSURANCE[summary["assurance"]]
    for at, text in summary.get("rebased", ()):
        words += f". Limits recalculated from {at} (service change: {text})"
    return words + "."
