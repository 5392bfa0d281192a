"""The partnership's settings, declared as data.

Each setting is a `Setting` with its TOML key, default and help text, so the README, the
defaults and the checks cannot drift apart (tests/test_settings.py fails when a setting is
not documented in README.md). `load_settings()` reads `config.toml` beside the project
root, applies `CDP_DATA_DIR` and validates once, up front.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = PROJECT_ROOT / "config.toml"
DATA_DIR_ENV = "CDP_DATA_DIR"
CONFIG_ENV = "CDP_CONFIG"   # another config.toml (a test server, a second partnership)


@dataclass(frozen=True)
class Setting:
    key: str  # dotted TOML key, e.g. "partnership.home_area"
    default: Any
    help: str


# Every key of config.toml, as README.md's Settings table documents them (the [access]
# keys are declared below, in ACCESS_SETTINGS, and added to this tuple there).
SETTINGS: tuple[Setting, ...] = (
    Setting("partnership.home_area", "E10000013",
            "ONS code of the home partnership's upper-tier area (default Gloucestershire)."),
    Setting("partnership.name", "Gloucestershire Combating Drugs Partnership",
            "The partnership's name as shown in titles and the board pack."),
    Setting("partnership.comparators", [],
            "ONS codes of comparator areas; empty means computed from the data."),
    Setting("partnership.contact", "",
            "E-mail or web address where people ask for the information in another format "
            "or report an accessibility problem (named on the Accessibility statement). "
            "Empty: the statement names the partnership only."),
    Setting("board.last_meeting", "",
            "Date of the last board meeting (YYYY-MM-DD). The 'What needs attention' page "
            "then tests changes since the latest quarter that ended before it. Empty: the "
            "quarter before the one shown."),
    Setting("targets.continuity_of_care", 0.75,
            "Continuity of care target, as a proportion (0.75 = 75%)."),
    Setting("targets.continuity_of_care_date", dt.date(2025, 3, 31),
            "Date by which the continuity of care target should be met."),
    Setting("disclosure.threshold", 5,
            "Counts from 1 to threshold - 1 are suppressed (shown as *)."),
    Setting("disclosure.allow_unsuppressed", False,
            "Offer a 'Public mode' switch in the sidebar that shows small counts. False: no "
            "switch, every view is public (small counts suppressed). True is allowed only on "
            "a server bound to this computer (Streamlit's server.address set to localhost, "
            "127.0.0.1 or ::1): on any other server the dashboard refuses to start, since "
            "every viewer could turn suppression off. Do not put such a server behind a "
            "proxy that others can reach. Presentation mode and exports stay public."),
    Setting("disclosure.public_by_default", True,
            "With disclosure.allow_unsuppressed = true: whether a session starts in public "
            "mode. Ignored otherwise (every view is public)."),
    Setting("data.dir", "data",
            "Directory of published data; relative to config.toml. CDP_DATA_DIR overrides it."),
    Setting("ingest.allow_upload", False,
            "Without sign-in: let Data page users upload and publish extracts and roll back "
            "versions. Keep false on a shared or public server; with sign-in configured, "
            "analysts (access.analysts) load and roll back whatever this says."),
    Setting("ingest.drop_folder", "incoming",
            "Drop folder for extracts, loaded at app start and by the Data page's refresh "
            "button; relative to the data directory."),
    Setting("ingest.area_lookup", "",
            "Optional CSV (columns code, name, area_code) that maps NDTMS DAT codes or other "
            "area names to ONS codes, winning over data/reference/dat_codes.csv; relative to "
            "config.toml. Empty: the shipped DAT codes and names only."),
)


# Who may do what once sign-in is configured (metrics/access.py decides a user's role from
# these; _access_settings checks them).
ACCESS_SETTINGS: tuple[Setting, ...] = (
    Setting("access.members", [],
            "E-mail addresses or @domains of partnership members: they may switch "
            "unsuppressed viewing on. Only used once sign-in is configured."),
    Setting("access.analysts", [],
            "E-mail addresses or @domains of analysts: members who also upload, refresh the "
            "drop folder, read validation reports and roll back."),
    Setting("access.admins", [],
            "E-mail addresses or @domains of admins: analysts who also see the settings "
            "and the audit log."),
    Setting("access.role_claim", "",
            "Optional token claim (such as roles or groups) whose values name roles "
            "(member, analyst, admin); the higher of it and the lists above applies."),
)
SETTINGS += ACCESS_SETTINGS


class SettingsError(ValueError):
    """config.toml holds a value the dashboard cannot use."""


@dataclass(frozen=True)
class Settings:
    home_area: str
    partnership_name: str
    comparators: tuple[str, ...]
    continuity_target: float
    continuity_target_date: dt.date
    disclosure_threshold: int
    public_by_default: bool
    data_dir: Path
    allow_upload: bool = False
    allow_unsuppressed: bool = False    # see check_unsuppressed_allowed
    drop_folder: Path | None = None     # None: <data_dir>/incoming
    area_lookup: Path | None = None
    # [access]: lower-cased e-mail addresses and "@domain"s per role (metrics/access.py).
    access_members: tuple[str, ...] = ()
    access_analysts: tuple[str, ...] = ()
    access_admins: tuple[str, ...] = ()
    access_role_claim: str = ""
    contact: str = ""                           # partnership.contact
    board_last_meeting: dt.date | None = None   # board.last_meeting


def _lookup(doc: dict, dotted: str, default: Any) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def load_settings(path: Path | None = None, environ: dict | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    path = path or (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else CONFIG_PATH)
    doc: dict = {}
    if path.exists():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path.name}: {exc}") from exc
    values = {s.key: _lookup(doc, s.key, s.default) for s in SETTINGS}

    target = values["targets.continuity_of_care"]
    if not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise SettingsError(
            f"{path.name}: targets.continuity_of_care must be a proportion between 0 and 1 "
            f"(e.g. 0.75), not {target!r}")
    target_date = values["targets.continuity_of_care_date"]
    if isinstance(target_date, str):
        try:
            target_date = dt.date.fromisoformat(target_date)
        except ValueError as exc:
            raise SettingsError(f"{path.name}: targets.continuity_of_care_date must be a "
                                f"date such as 2025-03-31, not {target_date!r}") from exc
    threshold = values["disclosure.threshold"]
    if not isinstance(threshold, int) or threshold < 1:
        raise SettingsError(f"{path.name}: disclosure.threshold must be a whole number "
                            f"of at least 1, not {threshold!r}")
    comparators = values["partnership.comparators"]
    if not isinstance(comparators, list) or not all(isinstance(c, str) for c in comparators):
        raise SettingsError(f"{path.name}: partnership.comparators must be a list of "
                            "ONS codes such as [\"E10000034\", \"E06000054\"]")

    data_dir = Path(environ.get(DATA_DIR_ENV) or values["data.dir"])
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()

    allow_upload = values["ingest.allow_upload"]
    if not isinstance(allow_upload, bool):
        raise SettingsError(f"{path.name}: ingest.allow_upload must be true or false, "
                            f"not {allow_upload!r}")
    allow_unsuppressed = values["disclosure.allow_unsuppressed"]
    if not isinstance(allow_unsuppressed, bool):
        raise SettingsError(f"{path.name}: disclosure.allow_unsuppressed must be true or "
                            f"false, not {allow_unsuppressed!r}")
    drop_folder, area_lookup = values["ingest.drop_folder"], values["ingest.area_lookup"]
    for key, value in (("ingest.drop_folder", drop_folder), ("ingest.area_lookup", area_lookup)):
        if not isinstance(value, str):
            raise SettingsError(f"{path.name}: {key} must be a path in quotes, not {value!r}")
    drop_path = Path(drop_folder or "incoming")
    drop_path = drop_path if drop_path.is_absolute() else data_dir / drop_path
    lookup_path = None
    if area_lookup:
        lookup_path = Path(area_lookup)
        lookup_path = lookup_path if lookup_path.is_absolute() else path.parent / lookup_path

    contact = values["partnership.contact"]
    if not isinstance(contact, str):
        raise SettingsError(f"{path.name}: partnership.contact must be an e-mail or web "
                            f"address in quotes, not {contact!r}")
    # A TOML date (last_meeting = 2026-09-17) or the same in quotes; "" for none.
    last_meeting = values["board.last_meeting"]
    problem = SettingsError(f"{path.name}: board.last_meeting must be a date written "
                            f"YYYY-MM-DD, or \"\" for none, not {last_meeting!r}")
    if isinstance(last_meeting, str):
        try:
            last_meeting = (dt.date.fromisoformat(last_meeting.strip())
                            if last_meeting.strip() else None)
        except ValueError:
            raise problem from None
    elif type(last_meeting) is not dt.date:     # a date-time, a number, a list...
        raise problem
    return Settings(
        home_area=str(values["partnership.home_area"]),
        partnership_name=str(values["partnership.name"]),
        contact=contact.strip(),
        board_last_meeting=last_meeting,
        comparators=tuple(comparators),
        continuity_target=float(target),
        continuity_target_date=target_date,
        disclosure_threshold=threshold,
        public_by_default=bool(values["disclosure.public_by_default"]),
        data_dir=data_dir,
        allow_upload=allow_upload,
        allow_unsuppressed=allow_unsuppressed,
        drop_folder=drop_path,
        area_lookup=lookup_path,
        **_access_settings(doc, path.name),
    )


def _access_settings(doc: dict, name: str) -> dict:
    """The [access] lists, checked: each entry an e-mail address or an "@domain"; no
    wildcard or bare domain, since a mistyped entry must not quietly grant a role."""
    out = {}
    for setting in ACCESS_SETTINGS[:3]:
        entries = _lookup(doc, setting.key, setting.default)
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise SettingsError(f"{name}: {setting.key} must be a list of e-mail addresses "
                                f"or @domains in quotes, such as [\"@glos.gov.uk\"]")
        for entry in entries:
            if not _ACCESS_ENTRY.fullmatch(entry.strip()):
                raise SettingsError(
                    f"{name}: {setting.key} holds {entry[:80]!r}, which is neither an e-mail "
                    "address (name@example.gov.uk) nor a domain written @example.gov.uk")
        out[f"access_{setting.key.split('.')[1]}"] = tuple(e.strip().lower() for e in entries)
    claim = _lookup(doc, "access.role_claim", "")
    if not isinstance(claim, str):
        raise SettingsError(f"{name}: access.role_claim must be a claim name in quotes "
                            f"(such as \"roles\") or \"\", not {claim!r}")
    out["access_role_claim"] = claim.strip()
    return out


# name@domain or @domain; the domain has at least one dot and no spaces or wildcards.
_ACCESS_ENTRY = re.compile(r"[^@\s*]*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def config_path(environ: dict | None = None) -> Path:
    """The settings file in use: CDP_CONFIG, or config.toml at the project root."""
    environ = os.environ if environ is None else environ
    return Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else CONFIG_PATH


def is_local_address(address) -> bool:
    """True when a server bound to `address` can be reached only from this computer.
    Unset or empty means Streamlit listens on every interface."""
    import ipaddress
    if not isinstance(address, str) or not address.strip():
        return False
    host = address.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_unsuppressed_allowed(settings: Settings, address) -> None:
    """Refuse `disclosure.allow_unsuppressed = true` on a server others can reach.

    Until viewers sign in with roles, the only safe place for a switch that shows small
    counts is a server bound to the loopback interface (an analyst's own computer): on
    any other address every viewer would get the switch. The app calls this at the top
    of every run with Streamlit's `server.address` and shows the message instead of any
    page, so a misconfigured public server serves nothing rather than small counts."""
    if settings.allow_unsuppressed and not is_local_address(address):
        where = f"server.address is {address!r}" if address else \
            "server.address is not set, so Streamlit listens on every network interface"
        raise SettingsError(
            "config.toml: disclosure.allow_unsuppressed = true is allowed only on a server "
            f"bound to this computer, and here {where}. Start the app with "
            "--server.address localhost (or set address = \"localhost\" under [server] in "
            ".streamlit/config.toml), or set disclosure.allow_unsuppressed = false.")
