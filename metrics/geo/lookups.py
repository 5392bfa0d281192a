"""The official LSOA lookups: ONS Rural-Urban Classification (2011 or 2021) and MHCLG
Index of Multiple Deprivation (2019 or 2025), read as published and kept in
<data dir>/lookups/ (`python -m metrics.geo load-lookup FILE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metrics import store
from metrics.geo.boundaries import REFERENCE_DIR, _sha256

# The names other modules use (re-exported by the package).
__all__ = [
    "BROAD_CLASSES", "HEADER_SEARCH_ROWS", "IMD_LSOA_COUNT", "LOOKUP_COLUMNS",
    "LOOKUP_NAMES", "Lookup", "RUC_CLASSES", "RUC_EDITION_CODES", "RucClass",
    "deciles_from_ranks", "load_lookup", "read_lookup_file", "ruc_broad", "ruc_label",
]


# --- Rural-urban classes ---------------------------------------------------------------

@dataclass(frozen=True)
class RucClass:
    code: str
    label: str
    broad: str      # "Urban" or "Rural"
    order: int


RUC_CLASSES: dict[str, RucClass] = {c.code: c for c in (
    # 2011 LSOA classification (ONS/Defra): A-C urban, D-F rural.
    RucClass("A1", "Urban major conurbation", "Urban", 1),
    RucClass("B1", "Urban minor conurbation", "Urban", 2),
    RucClass("C1", "Urban city and town", "Urban", 3),
    RucClass("C2", "Urban city and town in a sparse setting", "Urban", 4),
    RucClass("D1", "Rural town and fringe", "Rural", 5),
    RucClass("D2", "Rural town and fringe in a sparse setting", "Rural", 6),
    RucClass("E1", "Rural village and dispersed", "Rural", 7),
    RucClass("E2", "Rural village and dispersed in a sparse setting", "Rural", 8),
    RucClass("F1", "Rural hamlets and isolated dwellings", "Rural", 9),
    RucClass("F2", "Rural hamlets and isolated dwellings in a sparse setting", "Rural", 10),
    # 2021 LSOA classification (ONS): settlement size x distance to a major town or city.
    RucClass("UN1", "Urban: nearer to a major town or city", "Urban", 11),
    RucClass("UF1", "Urban: further from a major town or city", "Urban", 12),
    RucClass("RLN1", "Larger rural: nearer to a major town or city", "Rural", 13),
    RucClass("RLF1", "Larger rural: further from a major town or city", "Rural", 14),
    RucClass("RSN1", "Smaller rural: nearer to a major town or city", "Rural", 15),
    RucClass("RSF1", "Smaller rural: further from a major town or city", "Rural", 16),
)}
RUC_EDITION_CODES = {2011: [c for c in RUC_CLASSES if c[0] in "ABCDEF"],
                     2021: [c for c in RUC_CLASSES if c[0] in "UR"]}
BROAD_CLASSES = ("Urban", "Rural")


def ruc_label(code) -> str:
    cls = RUC_CLASSES.get(code) if isinstance(code, str) else None
    return cls.label if cls else "Not classified"


def ruc_broad(code) -> str:
    cls = RUC_CLASSES.get(code) if isinstance(code, str) else None
    return cls.broad if cls else "Not classified"


# --- Official rural-urban and deprivation lookups -----------------------------------------

LOOKUP_NAMES = ("ruc", "imd")

# Published header (lower case, spaces collapsed) -> role. Roles: "code" (LSOA code, with
# its edition), "ruc" (class code, with its edition), "imd" (decile), "imd_rank" (rank).
LOOKUP_COLUMNS: dict[str, tuple[str, int | None]] = {
    # LSOA code columns -> ("code", LSOA edition)
    "lsoa11cd": ("code", 2011),
    "lsoa code (2011)": ("code", 2011),
    "lsoa11_code": ("code", 2011),
    "lower super output area 2011 code": ("code", 2011),    # Defra's RUC workbook
    "lsoa21cd": ("code", 2021),
    "lsoa code (2021)": ("code", 2021),
    "lsoa21_code": ("code", 2021),
    "lower layer super output area 2021 code": ("code", 2021),
    # Rural-urban class codes (ONS RUC LSOA files, Defra's RUC workbook)
    "ruc11cd": ("ruc", 2011),
    "rural urban classification 2011 code": ("ruc", 2011),
    "ruc21cd": ("ruc", 2021),
    # IMD decile (MHCLG English Indices of Deprivation, File 1 and File 7)
    "index of multiple deprivation (imd) decile": ("imd", None),
    "index of multiple deprivation (imd) decile (where 1 is most deprived 10% of lsoas)":
        ("imd", None),
    "imd_decile": ("imd", None),
    # IMD rank (1 = most deprived): ONS's "Index of Multiple Deprivation (December 2019)
    # Lookup in England" carries only the rank, as IMD19; MHCLG's files carry both.
    "imd19": ("imd_rank", None),
    "index of multiple deprivation (imd) rank": ("imd_rank", None),
    "index of multiple deprivation (imd) rank (where 1 is most deprived)": ("imd_rank", None),
    "imd_rank": ("imd_rank", None),
}
# LSOAs ranked by the IMD: 32,844 English LSOAs of 2011 (IMD 2015 and 2019) and 33,755 of
# 2021 (IMD 2025). Decile d holds ranks ceil((d - 1) x N / 10) + 1 to d x N / 10, so decile
# 1 is ranks 1 to 3,284 of 32,844.
IMD_LSOA_COUNT = {2011: 32_844, 2021: 33_755}
HEADER_SEARCH_ROWS = 20   # title and note rows a publisher puts above the header


def _header_key(text) -> str:
    """A header as LOOKUP_COLUMNS writes it: non-breaking spaces, line breaks and runs of
    spaces (all common in Defra's and MHCLG's workbooks) collapse to one space."""
    return " ".join(str(text).replace("\u00a0", " ").split()).lower()


def _clean(values: pd.Series) -> pd.Series:
    # Defra pads class codes with spaces and non-breaking spaces ("A1\u00a0", "C1  ").
    return values.astype(str).str.replace("\u00a0", " ", regex=False).str.strip()


@dataclass(frozen=True)
class Lookup:
    name: str               # "ruc" or "imd"
    frame: pd.DataFrame     # lsoa_code and ruc_class or imd_decile
    meta: dict


def _with_header(raw: pd.DataFrame) -> pd.DataFrame | None:
    """The table below its header row: the first of the top rows that names an LSOA code
    column (publishers put titles and notes above it)."""
    for i in range(min(HEADER_SEARCH_ROWS, len(raw))):
        cells = [_header_key(c) for c in raw.iloc[i].tolist()]
        if any(LOOKUP_COLUMNS.get(c, ("",))[0] == "code" for c in cells):
            header = [str(c).strip() if pd.notna(c) else "" for c in raw.iloc[i].tolist()]
            body = raw.iloc[i + 1:].reset_index(drop=True)
            body.columns = header
            return body.fillna("").astype(str)
    return None


def _read_table(path: Path) -> list[pd.DataFrame]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        raws = [pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            header=None)]
    elif suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        from metrics.ingest import readers
        # Measured first: a hostile sheet (a cell at XFD1048576) would abort the process.
        try:
            too_big = [f"'{name}' ({cells:,} cells, last cell {last})" for name, (cells, last)
                       in readers.sheet_extents(path.read_bytes()).items()
                       if cells > readers.MAX_SHEET_CELLS]
        except readers.SheetTooLarge as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - a damaged or mislabelled workbook
            raise ValueError(f"{path.name}: could not be read as a {suffix} workbook "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from exc
        if too_big:
            raise ValueError(f"{path.name}: sheet {', '.join(too_big)} is larger than "
                             f"{readers.MAX_SHEET_CELLS:,} cells; save the table as CSV")
        try:
            # calamine reads .xlsx, .xls and .ods alike, Defra's .ods included (pandas'
            # default for .ods needs odfpy, which is not installed).
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, header=None,
                                   engine="calamine")
        except ImportError as exc:
            raise ValueError(f"{path.name}: cannot read the spreadsheet here: {exc}; save "
                             "the sheet as CSV instead") from exc
        except Exception as exc:  # noqa: BLE001 - the reader's own words name the problem
            raise ValueError(f"{path.name}: could not be read as a {suffix} workbook: the "
                             f"reader (python-calamine) failed: {str(exc)[:200]}") from exc
        raws = list(sheets.values())
    else:
        raise ValueError(f"{path.name}: expected a .csv or .xlsx lookup file")
    return [t for t in (_with_header(r) for r in raws) if t is not None]


def deciles_from_ranks(ranks: pd.Series, lsoas: int) -> pd.Series:
    """IMD decile from the national rank (1 = most deprived): ceil(rank x 10 / N)."""
    return np.ceil(ranks.astype(float) * 10 / lsoas).astype(int)


def read_lookup_file(path: Path) -> list[Lookup]:
    """Recognise an official RUC or IMD LSOA lookup and normalise it (England only)."""
    path = Path(path)
    expected = ", ".join(f"'{k}'" for k in sorted(LOOKUP_COLUMNS))
    for table in _read_table(path):
        roles = {}
        for column in table.columns:
            role = LOOKUP_COLUMNS.get(_header_key(column))
            if role and role[0] not in roles:
                roles[role[0]] = (column, role[1])
        if "code" not in roles or not ({"ruc", "imd", "imd_rank"} & set(roles)):
            continue
        code_column, edition = roles["code"]
        codes = _clean(table[code_column])
        england = codes.str.startswith("E01")
        if not england.any():
            raise ValueError(f"{path.name}: no English LSOA codes (E01...) in {code_column}")
        base = {"file": path.name, "sha256": _sha256(path), "lsoa_edition": edition,
                "code_column": code_column}
        found = []
        if "ruc" in roles:
            column, ruc_edition = roles["ruc"]
            classes = _clean(table.loc[england, column])
            allowed = set(RUC_EDITION_CODES[ruc_edition])
            bad = sorted(set(classes) - allowed)
            if bad:
                rows = [int(i) for i in classes.index[classes.isin(bad)][:5]]
                raise ValueError(f"{path.name}: {column} has values {bad[:5]} that are not "
                                 f"RUC {ruc_edition} classes ({', '.join(sorted(allowed))})"
                                 f" (data rows {rows} below the header)")
            frame = pd.DataFrame({"lsoa_code": codes[england], "ruc_class": classes})
            found.append(Lookup("ruc", _unique(frame, path), {
                **base, "column": column, "edition": f"Rural-Urban Classification {ruc_edition}",
                "rows": int(len(frame))}))
        if "imd" in roles or "imd_rank" in roles:
            imd_year = 2019 if edition == 2011 else 2025
            if "imd" in roles:
                column = roles["imd"][0]
                deciles = pd.to_numeric(table.loc[england, column], errors="coerce")
                if deciles.isna().any() or not deciles.between(1, 10).all() or \
                        (deciles % 1 != 0).any():
                    raise ValueError(f"{path.name}: {column} must hold whole numbers 1 to 10")
                derived = ""
            else:
                column = roles["imd_rank"][0]
                lsoas = IMD_LSOA_COUNT[edition]
                ranks = pd.to_numeric(_clean(table.loc[england, column]), errors="coerce")
                bad = ranks.isna() | ~ranks.between(1, lsoas) | (ranks % 1 != 0)
                if bad.any():
                    examples = ", ".join(f"{codes[i]}: '{table.loc[i, column]}'"
                                         for i in ranks.index[bad][:3])
                    raise ValueError(f"{path.name}: {column} holds IMD ranks, which must be "
                                     f"whole numbers 1 to {lsoas:,} ({int(bad.sum()):,} of "
                                     f"{len(ranks):,} English rows are not, e.g. {examples})")
                deciles = deciles_from_ranks(ranks, lsoas)
                derived = (f"deciles from the ranks in {column}: ceil(rank x 10 / "
                           f"{lsoas:,}), decile 1 = ranks 1 to {lsoas // 10:,}")
            frame = pd.DataFrame({"lsoa_code": codes[england],
                                  "imd_decile": deciles.astype(int)})
            found.append(Lookup("imd", _unique(frame, path), {
                **base, "column": column, "derived": derived,
                "edition": f"Index of Multiple Deprivation {imd_year}",
                "rows": int(len(frame))}))
        return found
    raise ValueError(f"{path.name}: not a recognised LSOA lookup. It needs an LSOA code "
                     "column and a RUC class, IMD decile or IMD rank column in one of the "
                     f"first {HEADER_SEARCH_ROWS} rows; recognised headers: {expected}")


def _unique(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if frame["lsoa_code"].duplicated().any():
        dupes = frame.loc[frame["lsoa_code"].duplicated(), "lsoa_code"].head(3).tolist()
        raise ValueError(f"{path.name}: LSOA codes appear more than once, e.g. {dupes}")
    return frame.reset_index(drop=True)


def load_lookup(data_dir: Path, path: Path) -> list[dict]:
    """Read an official lookup file and store it for the maps; returns what was stored."""
    reference = pd.read_csv(REFERENCE_DIR / "lsoa11.csv", usecols=["lsoa11_code"])
    known = set(reference["lsoa11_code"])
    stored = []
    for lookup in read_lookup_file(path):
        matched = int(lookup.frame["lsoa_code"].isin(known).sum())
        meta = {**lookup.meta, "matched_lsoa11": matched,
                "unmatched_lsoa11": len(known) - matched}
        store.publish_lookup(data_dir, lookup.name, lookup.frame, meta)
        stored.append({"name": lookup.name, **meta})
    return stored
