"""Land every row on an area of data/reference/areas.csv: by ONS code, by NDTMS DAT code,
or by name; say plainly what could not be placed and why.

- ONS codes in areas.csv are used as they are. A former code whose area kept its footprint
  (data/reference/area_successors.csv: Buckinghamshire E10000002 -> E06000060, Barnsley
  E08000016 -> E08000038, ...) is recoded to today's code. A former area that was split or
  merged (Northamptonshire, Cumbria, Bournemouth, Poole, the old Dorset county) cannot be
  drawn on today's map: its rows are skipped, never placed on a successor whose footprint
  differs. Codes of kinds the dashboard does not use (districts E07, ICBs E54, Wales W...)
  are skipped too; these are notes, not errors, so they never block the rest of a file.
- DAT codes come from data/reference/dat_codes.csv (built by scripts/build_dat_codes.py);
  the analyst's `ingest.area_lookup` (columns code, name, area_code) wins over it. A joint
  DAT footprint ("Leicestershire and Rutland") spans several councils and is refused,
  naming the councils, unless the lookup places it.
- Names are compared after `normalise_name`: case, "&" / "and", full stops ("St. Helens"),
  hyphens and their spacing ("Stockton-On-Tees"), a "UA", council or police suffix, and the
  ", City of" / ", County of" inversion ("Bristol, City of" = "Bristol" = "City of
  Bristol"). A name shared by two kinds of area ("Lancashire" the county and the police
  force area) goes to the kind the indicator is published for; a lookup's name rows never
  override that (a police force name always lands on its E23 code). Rows that are not
  areas of England (British Transport Police, Border Force, England and Wales, Welsh
  forces) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from metrics import store

ONS_CODE = re.compile(r"^[EWSNK]\d{8}$")
DAT_CODE = re.compile(r"^[A-Z]\d{2}[A-Z]$")
_SUFFIXES = re.compile(
    r"\s+(ua|u a|unitary authority|county council|city council|borough council|"
    r"metropolitan borough council|council|dat|partnership|lb|mbc|constabulary|"
    r"police service|police force|police)$")
_POLICE_SUFFIX = re.compile(r"\s(constabulary|police|police service|police force)$", re.I)
# Short forms NDTMS and police extracts use for areas whose reference name is longer.
ALIASES = {
    "hull": "E06000010",
    "durham": "E06000047",
    "bcp": "E06000058",
    "bournemouth christchurch poole": "E06000058",
    "southend": "E06000033",
    "brighton": "E06000043",
    "st helens": "E08000013",
    "england total": "E92000001",
    "eastern": "E12000006",   # Home Office tables' name for the East of England region
}
# Which kinds of area a name may mean, by the indicator's geography, best first.
PREFERENCE = {
    "utla": ("utla", "country", "region"),
    "national": ("country", "region", "utla"),
    "pfa": ("pfa", "country", "region", "utla"),
}
# Kinds of ONS code the dashboard does not show, by prefix (ONS Register of Geographic
# Codes). Rows with them are skipped with a note: Fingertips "all areas" downloads and
# Home Office England and Wales tables carry many of them next to the areas we use.
UNUSED_PREFIXES = {
    "E01": "LSOA (E01)", "E02": "MSOA (E02)", "E04": "parish (E04)", "E05": "ward (E05)",
    "E07": "district (E07)", "E11": "metropolitan county (E11)",
    "E13": "Inner/Outer London (E13)", "E14": "parliamentary constituency (E14)",
    "E15": "European electoral region (E15)", "E22": "community safety partnership (E22)",
    "E38": "CCG / sub-ICB location (E38)", "E39": "NHS England region (local office) (E39)",
    "E40": "NHS England region (E40)", "E41": "clinical commissioning region (E41)",
    "E45": "PHE centre (E45)", "E47": "combined authority (E47)",
    "E54": "ICB (E54)", "E56": "cancer alliance (E56)",
    "W": "Wales (W)", "S": "Scotland (S)", "N": "Northern Ireland (N)",
    "K": "United Kingdom, Great Britain or England and Wales (K)",
}
# Rows of Home Office and police tables that are not an area of England. Keys are names as
# `_key` leaves them ("British Transport Police" -> "british transport").
NOT_AREAS = {
    "british transport": "British Transport Police (no area)",
    "btp": "British Transport Police (no area)",
    "border force": "Border Force (no area)",
    "action fraud": "Action Fraud (national reporting centre, no area)",
    "national fraud intelligence bureau": "Action Fraud (national reporting centre, no area)",
    "cifas": "fraud reporting body (no area)",
    "uk finance": "fraud reporting body (no area)",
    "national crime agency": "National Crime Agency (no area)",
    "england and wales": "England and Wales total (not England)",
    "total england and wales": "England and Wales total (not England)",
    "wales": "Wales (W)",
    "scotland": "Scotland (S)",
    "northern ireland": "Northern Ireland (N)",
    "dyfed powys": "Welsh police force area",
    "gwent": "Welsh police force area",
    "north wales": "Welsh police force area",
    "south wales": "Welsh police force area",
    "psni": "Northern Ireland (N)",
    "central service secondments": "officers on central service secondment (no area)",
    "police service of northern ireland": "Northern Ireland (N)",
}

# What became of one value (a code, DAT code or name) of a file.
PLACED, RECODED, SKIPPED, GONE, JOINT, FAILED = (
    "placed", "recoded", "skipped", "gone", "joint", "failed")


@dataclass(frozen=True)
class Outcome:
    kind: str                  # PLACED ... FAILED
    area_code: str | None = None
    detail: str = ""           # why (FAILED), the type (SKIPPED), the story (RECODED/GONE/JOINT)


@dataclass(frozen=True)
class Successor:
    old_code: str
    old_name: str
    new_codes: tuple[str, ...]
    new_names: tuple[str, ...]
    changed_on: str            # ISO date
    same_footprint: bool

    def story(self) -> str:
        when = _month_year(self.changed_on)
        news = " and ".join(f"{n} ({c})" for c, n in zip(self.new_codes, self.new_names))
        if self.same_footprint:
            return f"{self.old_name} {self.old_code} -> {self.new_codes[0]} ({when})"
        verb = "was split into" if len(self.new_codes) > 1 else "was merged into"
        return f"{self.old_name} ({self.old_code}) {verb} {news} in {when}"


def _month_year(iso: str) -> str:
    import datetime as dt
    try:
        return dt.date.fromisoformat(iso).strftime("%B %Y")
    except ValueError:
        return iso


def normalise_name(text) -> str:
    s = str(text).strip().lower()
    s = re.sub(r"[\u2010-\u2015]", "-", s)
    s = s.replace("&", " and ").replace(".", " ").replace("'", "")
    s = re.sub(r"\s*-\s*", " ", s)
    s = re.sub(r"[(),]", " , ", s)
    s = re.sub(r"\s+", " ", s).strip(" ,")
    s = re.sub(r"\s*,\s*", ", ", s)
    s = _SUFFIXES.sub("", s).strip(" ,")
    return s


def _keys(name: str) -> list[str]:
    """The keys one reference name answers to."""
    norm = normalise_name(name)
    keys = [norm]
    m = re.match(r"^(.*), (city|county) of$", norm)
    if m:
        keys += [m.group(1), f"{m.group(2)} of {m.group(1)}"]
    return [k.replace(",", "").replace("  ", " ") for k in keys]


def _key(name) -> str:
    return normalise_name(name).replace(",", "").replace("  ", " ")


def unused_kind(code: str) -> str | None:
    """The kind of a well-formed ONS code the dashboard does not use, or None."""
    if not ONS_CODE.match(code):
        return None
    return UNUSED_PREFIXES.get(code[:3]) or UNUSED_PREFIXES.get(code[0])


@dataclass
class AreaIndex:
    codes: dict[str, str]                       # ONS code -> area type
    names: dict[str, list[tuple[str, str]]]     # key -> [(code, type)]
    lookup: dict[str, str]                      # analyst's DAT code or name key -> ONS code
    lookup_file: str | None = None
    area_names: dict[str, str] | None = None    # ONS code -> reference name
    dats: dict[str, Outcome] | None = None      # shipped DAT code -> outcome
    dat_names: dict[str, Outcome] | None = None  # key of a joint DAT name -> outcome
    successors: dict[str, Successor] | None = None      # former code -> successor
    gone_names: dict[str, Successor] | None = None      # key of a former area's name
    # Current areas that share the name of a former area with another footprint (the
    # Dorset unitary authority and the old Dorset county): code -> (changed_on, story).
    renamed_over: dict[str, tuple[str, str]] | None = None

    def name_of(self, code: str | None) -> str:
        return (self.area_names or {}).get(code or "", "")

    def by_code(self, code: str) -> str | None:
        code = str(code).strip().upper()
        return code if code in self.codes else None

    def resolve_code(self, code) -> Outcome:
        raw = str(code).strip().upper()
        if raw in self.codes:
            return Outcome(PLACED, raw)
        kind = unused_kind(raw)   # first: a former district is still a district
        if kind is not None:
            return Outcome(SKIPPED, None, kind)
        successor = (self.successors or {}).get(raw)
        if successor is not None:
            if successor.same_footprint and successor.new_codes[0] in self.codes:
                return Outcome(RECODED, successor.new_codes[0], successor.story())
            return Outcome(GONE, None, successor.story())
        if raw in self.lookup:  # an area_code column holding DAT codes the analyst mapped
            return Outcome(PLACED, self.lookup[raw])
        if raw in (self.dats or {}):
            return self.dats[raw]
        return Outcome(FAILED, None, "unknown area code")

    def by_dat(self, code: str) -> str | None:
        outcome = self.resolve_dat(code)
        return outcome.area_code if outcome.kind == PLACED else None

    def resolve_dat(self, code) -> Outcome:
        raw = str(code).strip().upper()
        if raw in self.lookup:      # the analyst's lookup wins over the shipped table
            return Outcome(PLACED, self.lookup[raw])
        if raw in (self.dats or {}):
            return self.dats[raw]
        return Outcome(FAILED, None, "DAT code not in data/reference/dat_codes.csv"
                       + (" or the area lookup" if self.lookup_file else ""))

    def by_name(self, name: str, geography: str = "utla") -> tuple[str | None, str]:
        """(ONS code or None, why not)."""
        outcome = self.resolve_name(name, geography)
        if outcome.kind == PLACED:
            return outcome.area_code, ""
        return None, outcome.detail

    def resolve_name(self, name, geography: str = "utla") -> Outcome:
        key = _key(name)
        if _POLICE_SUFFIX.search(str(name).strip()):
            geography = "pfa"   # "Gloucestershire Constabulary" is the force, whatever the file
        preference = PREFERENCE.get(geography, PREFERENCE["utla"])
        if key in NOT_AREAS:
            return Outcome(SKIPPED, None, NOT_AREAS[key])
        if key.startswith("total "):   # "Total 43 forces": a sum, not an area
            return Outcome(SKIPPED, None, "totals row")
        region = re.match(r"^(.*) region( statistical)?$", key)
        if region:   # Fingertips' "South West region (statistical)"; never the police force
            found = sorted({c for c, t in self.names.get(region.group(1), []) if t == "region"})
            if len(found) == 1:
                return Outcome(PLACED, found[0])
        # The analyst's lookup places a name only on the kind of area the indicator is
        # published for: a lookup written for NDTMS (Gloucestershire -> the county) must
        # not pull a police force area's rows onto a county.
        target = self.lookup.get(key)
        if target is not None and self.codes.get(target) in (preference[0], "country",
                                                              "region"):
            return Outcome(PLACED, target)
        candidates = self.names.get(key, [])
        for kind in preference:
            matches = sorted({code for code, t in candidates if t == kind})
            if len(matches) == 1:
                return Outcome(PLACED, matches[0])
            if len(matches) > 1:
                return Outcome(FAILED, None, f"ambiguous: {', '.join(matches)}")
        if key in ALIASES and self.codes.get(ALIASES[key]) in preference:
            return Outcome(PLACED, ALIASES[key])
        if key in (self.dat_names or {}):
            return self.dat_names[key]
        if key in (self.gone_names or {}):
            successor = self.gone_names[key]
            if successor.same_footprint and successor.new_codes[0] in self.codes:
                return Outcome(RECODED, successor.new_codes[0], successor.story())
            return Outcome(GONE, None, successor.story())
        if target is not None:
            kind = self.codes.get(target)
            return Outcome(FAILED, None, f"the area lookup places it on {target}, a {kind} "
                                         "area, but this indicator is published by "
                                         f"{_GEOGRAPHY_WORDS.get(geography, geography)}")
        if not candidates:
            return Outcome(FAILED, None, "no area of that name")
        kinds = sorted({t for _, t in candidates})
        return Outcome(FAILED, None, f"matches a {'/'.join(kinds)} area, not an area this "
                                     "indicator is published for")


_GEOGRAPHY_WORDS = {"utla": "upper-tier local authority", "pfa": "police force area",
                    "national": "England"}


def load_index(lookup_path: Path | None = None) -> tuple[AreaIndex, list[str]]:
    """The reference areas, DAT codes and boundary changes and, if given, the analyst's
    lookup; problems with the lookup file come back as messages (a broken lookup must
    refuse the load, not be ignored)."""
    areas = pd.read_csv(store.REFERENCE_DIR / "areas.csv", dtype=str, keep_default_na=False)
    codes = dict(zip(areas["area_code"], areas["area_type"]))
    area_names = dict(zip(areas["area_code"], areas["area_name"]))
    # Keys of England and the regions, which an inverted name must not shadow.
    primary = {_key(n) for n, t in zip(areas["area_name"], areas["area_type"])
               if t in ("country", "region")}
    names: dict[str, list[tuple[str, str]]] = {}
    for code, name, kind in zip(areas["area_code"], areas["area_name"], areas["area_type"]):
        for i, key in enumerate(_keys(name)):
            # "London, City of" must not also answer to "London" (the region).
            if i > 0 and key in primary and key != _key(name):
                continue
            names.setdefault(key, []).append((code, kind))
    successors, gone_names, renamed_over = _read_successors(names)
    dats, dat_names = _read_dat_codes(codes, area_names)
    lookup: dict[str, str] = {}
    problems: list[str] = []
    if lookup_path is not None:
        problems = _read_lookup(Path(lookup_path), codes, lookup)
    index = AreaIndex(codes, names, lookup, str(lookup_path) if lookup_path else None,
                      area_names, dats, dat_names, successors, gone_names, renamed_over)
    return index, problems


def _read_successors(names):
    path = store.REFERENCE_DIR / "area_successors.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    successors: dict[str, Successor] = {}
    gone_names: dict[str, Successor] = {}
    renamed_over: dict[str, tuple[str, str]] = {}
    for row in frame.to_dict("records"):
        successor = Successor(row["old_code"], row["old_name"],
                              tuple(row["new_code"].split(";")),
                              tuple(row["new_name"].split(";")), row["changed_on"],
                              row["same_footprint"].strip().lower() == "yes")
        successors[successor.old_code] = successor
        key = _key(successor.old_name)
        if not any(t == "utla" for _, t in names.get(key, [])):
            # No council has the name today ("Northamptonshire" is only a police force
            # area now): for a council indicator the name means the former area.
            gone_names[key] = successor
        elif not successor.same_footprint:
            # The name lives on for an area with another footprint (Dorset): a row named
            # so is the new area from the change on, the old one before it.
            for code, _ in names[key]:
                if code in successor.new_codes:
                    renamed_over[code] = (successor.changed_on, successor.story())
    return successors, gone_names, renamed_over


def _read_dat_codes(codes, area_names):
    path = store.REFERENCE_DIR / "dat_codes.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    dats: dict[str, Outcome] = {}
    dat_names: dict[str, Outcome] = {}
    for row in frame.to_dict("records"):
        joint = [c for c in row["joint_area_codes"].split(";") if c]
        if joint:
            spans = " and ".join(f"{area_names.get(c, c)} ({c})" for c in joint)
            outcome = Outcome(JOINT, None, f"'{row['dat_name']}' spans {spans}")
            dat_names[_key(row["dat_name"])] = outcome
        elif row["area_code"] in codes:
            outcome = Outcome(PLACED, row["area_code"])
        else:
            continue
        if row["dat_code"]:
            dats[row["dat_code"].strip().upper()] = outcome
    return dats, dat_names


def _read_lookup(path: Path, codes: dict[str, str], lookup: dict[str, str]) -> list[str]:
    if not path.exists():
        return [f"area lookup {path} (setting ingest.area_lookup) does not exist"]
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001
        return [f"area lookup {path.name} cannot be read: {exc}"]
    frame.columns = [c.strip().lower() for c in frame.columns]
    if "area_code" not in frame.columns or not ({"code", "name"} & set(frame.columns)):
        return [f"area lookup {path.name} needs the columns code, name and area_code"]
    problems = []
    for i, row in enumerate(frame.to_dict("records"), start=2):
        target = row["area_code"].strip().upper()
        if target not in codes:
            problems.append(f"area lookup {path.name}, row {i}, column 'area_code': "
                            f"unknown area code '{target}'")
            continue
        if row.get("code", "").strip():
            lookup[row["code"].strip().upper()] = target
        if row.get("name", "").strip():
            lookup[_key(row["name"])] = target
    return problems
