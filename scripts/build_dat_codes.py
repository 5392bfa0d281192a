"""Rebuild data/reference/dat_codes.csv: NDTMS DAT codes with the ONS upper-tier area each
one covers, or the areas a joint footprint spans.

    python scripts/build_dat_codes.py [NDTMS_TABLE.csv ...]

Input: data/reference/sources/dat_codes_source.csv (dat_code, dat_name, source: every code
with where it was read), plus any NDTMS table given on the command line that has a DAT code
column and a DAT name column (as NDTMS and ViewIt downloads have): its pairs are added with
the file's name as their source. Each DAT name is matched to areas.csv by the same rules as
the loader (metrics.ingest.areas); a name that is two or more areas joined by "and" / "&"
("Leicestershire and Rutland") is a joint footprint. A name that matches nothing stops the
build with a message: the table must never guess.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metrics.ingest.areas import _key  # noqa: E402

REFERENCE = ROOT / "data" / "reference"
SOURCE = REFERENCE / "sources" / "dat_codes_source.csv"
OUTPUT = REFERENCE / "dat_codes.csv"
COLUMNS = ["dat_code", "dat_name", "area_code", "valid_from", "valid_to", "joint_area_codes",
           "source"]


def upper_tier_names() -> dict[str, str]:
    areas = pd.read_csv(REFERENCE / "areas.csv", dtype=str, keep_default_na=False)
    utla = areas[areas["area_type"] == "utla"]
    out = {}
    for code, name in zip(utla["area_code"], utla["area_name"]):
        out[_key(name)] = code
        inverted = re.match(r"^(.*), (City|County) of$", name)
        if inverted:
            out[_key(inverted.group(1))] = code
    return out


def place(name: str, names: dict[str, str]) -> tuple[str, str]:
    """(area_code, joint codes joined by ';') for one DAT name."""
    key = _key(name)
    if key in names:
        return names[key], ""
    parts = [p for p in re.split(r"\s+and\s+|\s*,\s*", key) if p]
    # "Merton and Sutton": every part an area. A name whose parts do not all match is
    # left for a person to decide (it may be one area called "X and Y").
    for split in range(1, len(parts)):
        left, right = " and ".join(parts[:split]), " and ".join(parts[split:])
        if left in names and right in names:
            return "", f"{names[left]};{names[right]}"
    raise SystemExit(f"DAT name '{name}' matches no upper-tier area in areas.csv and is not "
                     "two areas joined by 'and': add it by hand with its source")


def pairs_from_table(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    norm = {c: re.sub(r"[^a-z]+", " ", c.lower()).strip() for c in frame.columns}
    code = next((c for c, n in norm.items() if n in ("dat code", "dat", "partnership code")),
                None)
    name = next((c for c, n in norm.items() if n in ("dat name", "partnership name",
                                                       "partnership")), None)
    if code is None or name is None:
        raise SystemExit(f"{path.name}: needs a DAT code column and a DAT name column")
    out = frame[[code, name]].drop_duplicates()
    out.columns = ["dat_code", "dat_name"]
    out["source"] = f"NDTMS table {path.name}"
    return out


def build(extra: list[Path]) -> pd.DataFrame:
    source = pd.read_csv(SOURCE, dtype=str, keep_default_na=False)
    frames = [source] + [pairs_from_table(p) for p in extra]
    rows = pd.concat(frames, ignore_index=True)
    rows["dat_code"] = rows["dat_code"].str.strip().str.upper()
    clash = rows[rows["dat_code"] != ""].groupby("dat_code")["dat_name"].apply(
        lambda s: sorted({_key(n) for n in s}))
    clash = clash[clash.map(len) > 1]
    if len(clash):
        raise SystemExit(f"DAT codes with two different names: {dict(clash)}")
    rows = rows.drop_duplicates(["dat_code", "dat_name"])
    names = upper_tier_names()
    placed = [place(n, names) for n in rows["dat_name"]]
    rows["area_code"] = [p[0] for p in placed]
    rows["joint_area_codes"] = [p[1] for p in placed]
    # No public source gives the dates a DAT code was in use; left empty, not guessed.
    rows["valid_from"] = ""
    rows["valid_to"] = ""
    return rows[COLUMNS].sort_values(["dat_code", "dat_name"]).reset_index(drop=True)


if __name__ == "__main__":
    table = build([Path(a) for a in sys.argv[1:]])
    table.to_csv(OUTPUT, index=False)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(table)} rows, "
          f"{(table['joint_area_codes'] != '').sum()} joint footprints")
