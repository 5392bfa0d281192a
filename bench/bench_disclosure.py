"""Benchmark: public mode's one protection of the area totals (metrics.stats.disclosure.
protect_area_values) on the demonstration set, per outcome page's metrics and for every
metric at once (the presentation and board pack), median of a few runs.

    .venv/bin/python bench/bench_disclosure.py [--repeat 3] [--threshold 5]

Builds the demonstration set in a temporary folder first. Pages cache the result per
published version and threshold (ui.data.public_values), so this is the cost of the
first view after a load. Not a test: machines here are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics import demo, store  # noqa: E402
from metrics.reference import catalogue
from metrics.stats import disclosure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threshold", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        version = demo.build_demo(Path(folder))
        areas = store.areas(version)
        sets = {"every metric": [i.id for i in catalogue.INDICATORS]}
        sets |= {outcome: [i.id for i in catalogue.for_outcome(outcome)]
                 for outcome in catalogue.OUTCOMES}
        sets["continuity of care"] = ["continuity_of_care"]
        print(f"load average {os.getloadavg()[0]:.2f}; threshold {args.threshold}")
        for name, ids in sets.items():
            values = store.all_area_values(version, ids)
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                out = disclosure.protect_area_values(values, areas, catalogue.INDICATORS,
                                                     args.threshold)
                times.append(time.perf_counter() - start)
            print(f"{name:>20}: {len(values):>7,} rows, {int(out['suppressed'].sum()):>5,} "
                  f"hidden, median {statistics.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
