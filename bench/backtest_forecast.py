"""Back-test of the continuity of care target forecast (metrics.views.target_forecast):
fit each series on its quarters up to each past quarter, forecast 4 quarters ahead, and
print how often the 80% interval held what happened, for England, the regions and the
areas.

    .venv/bin/python bench/backtest_forecast.py [--data-dir DIR] [--draws 1000]

Reads the current published version of the data directory (CDP_DATA_DIR or config.toml's
data.dir; the demonstration set is built in a temporary folder when there is none).
Uses every published quarter, small ones included, and prints only the coverage. An
origin is tested where the page would show a forecast (enough quarters and releases).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics import demo, store  # noqa: E402
from metrics.settings import load_settings  # noqa: E402
from metrics.views import continuity as cc, target_forecast as tf  # noqa: E402

LEVELS = {"E92": "England", "E12": "Regions"}


def coverage_table(quarters, draws: int):
    result = tf.backtest(quarters, ahead=4, draws=draws)
    result["level"] = result["area_code"].str[:3].map(LEVELS).fillna("Areas")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="published data directory")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    data_dir = args.data_dir or str(load_settings().data_dir)
    if not (Path(data_dir) / "published").exists():
        data_dir = tempfile.mkdtemp(prefix="cdp-backtest-")
        demo.build_demo(data_dir)
    version = store.current_version(data_dir)
    values = store.all_area_values(version, [cc.IND.id])
    quarters = values[values["period_kind"] == "quarter"].copy()
    quarters["q"] = [cc._quarter_index(p) for p in quarters["period"]]
    started = time.perf_counter()
    result = coverage_table(quarters, args.draws)
    took = time.perf_counter() - started
    print(f"Back-test of the 80% forecast interval, data version {version.id} "
          f"({'demonstration' if version.is_demo else 'published'}), "
          f"{len(result)} forecasts, {took:.0f} s")
    print("Rolling 12 months, 4 quarters ahead (the figure a target is judged on):")
    four = result[result["h"] == 4]
    for level in ("England", "Regions", "Areas"):
        part = four[four["level"] == level]
        if len(part):
            print(f"  {level:8} {part['covered_rolling'].mean() * 100:5.1f}% of "
                  f"{len(part):,} forecasts ({part['area_code'].nunique()} series)")
    print(f"  {'All':8} {four['covered_rolling'].mean() * 100:5.1f}% of {len(four):,}")
    print("By quarters ahead (all series): rolling 12 months / single quarter")
    for h, part in result.groupby("h"):
        print(f"  {h}: {part['covered_rolling'].mean() * 100:5.1f}% / "
              f"{part['covered_quarter'].mean() * 100:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
