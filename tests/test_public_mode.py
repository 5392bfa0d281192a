"""Public mode is decided on the server: without `disclosure.allow_unsuppressed` no widget
can turn it off, nor can a value planted in the session state or the URL; with it, only a
server bound to localhost may offer the switch."""

import datetime as dt

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics import store
from metrics.settings import (PROJECT_ROOT, SettingsError, check_unsuppressed_allowed,
                              is_local_address, load_settings)
from tests.support import allow_unsuppressed, serve_on_localhost

APP = str(PROJECT_ROOT / "app.py")
HOME = "E10000013"


def _rows() -> pd.DataFrame:
    """Gloucestershire's deaths in treatment: 3 of 900 (a small count), and England's."""
    rows = []
    for area, num, den in ((HOME, 3.0, 900.0), ("E92000001", 1_500.0, 280_000.0)):
        rows.append({"indicator_id": "deaths_in_treatment", "area_code": area,
                     "period": "2025/26", "period_kind": "financial_year",
                     "period_start": dt.date(2025, 4, 1), "period_end": dt.date(2026, 3, 31),
                     "breakdown": None, "category": None, "numerator": num,
                     "denominator": den, "value": num / den * 100, "lower95": 0.1,
                     "upper95": 1.0, "lower998": 0.05, "upper998": 1.5, "value_note": None})
    return pd.DataFrame(rows)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    store.publish(directory, {"values": _rows()}, {"demo": False, "source": "test"})
    monkeypatch.setenv("CDP_DATA_DIR", str(directory))
    monkeypatch.chdir(PROJECT_ROOT)
    return directory


def _harm_page(query: dict | None = None, state: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"metric": "deaths_in_treatment", **(query or {})})
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/harm.py")
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _shown_counts(at: AppTest) -> set:
    """Every value the Figures table of deaths in treatment shows for Gloucestershire."""
    at.segmented_control(key="view").set_value("Figures").run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[-1].value
    return set(table.loc[table["Area code"] == HOME, "Count"].astype(str))


def test_by_default_there_is_no_switch_and_small_counts_stay_hidden(data_dir):
    at = _harm_page()
    assert not at.toggle, "no widget may turn public mode off"
    assert any("suppressed" in c.value for c in at.sidebar.caption)
    assert at.session_state["_context"].public
    assert _shown_counts(at) == {"*"}


@pytest.mark.parametrize("query, state", [
    ({"public": "false"}, None),
    ({"public": "0"}, {"public": False}),
    (None, {"public": False}),
])
def test_a_crafted_session_state_or_url_cannot_turn_it_off(data_dir, query, state):
    at = _harm_page(query, state)
    assert at.session_state["_context"].public
    assert at.session_state["_context"].disclosure_threshold == 5
    assert _shown_counts(at) == {"*"}


def test_the_switch_on_a_public_server_is_refused(data_dir, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[disclosure]\nallow_unsuppressed = true\n", encoding="utf-8")
    monkeypatch.setenv("CDP_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert not at.toggle and not at.dataframe and not at.title     # nothing is served
    message = at.error[0].value
    assert "disclosure.allow_unsuppressed" in message and "server.address" in message


def test_on_localhost_an_analyst_can_switch_it_off(data_dir, tmp_path, monkeypatch):
    allow_unsuppressed(monkeypatch, tmp_path)
    at = _harm_page()
    assert at.toggle(key="public").value is True
    assert _shown_counts(at) == {"*"}
    at.toggle(key="public").set_value(False).run()
    assert _shown_counts(at) == {"3"}
    assert any("Public mode is off" in w.value for w in at.sidebar.warning)


def test_presentation_mode_stays_public_with_the_switch_off(data_dir, tmp_path, monkeypatch):
    allow_unsuppressed(monkeypatch, tmp_path)
    at = _harm_page()
    at.toggle(key="public").set_value(False).run()
    at.switch_page("pages/present.py").run()
    assert not at.exception
    assert at.session_state["_context"].public


@pytest.mark.parametrize("address, local", [
    (None, False), ("", False), ("0.0.0.0", False), ("::", False), ("192.168.1.20", False),
    ("dashboard.example.org", False), ("localhost", True), ("127.0.0.1", True),
    ("127.0.1.1", True), ("::1", True), ("[::1]", True), ("LOCALHOST", True)])
def test_only_loopback_addresses_count_as_local(address, local):
    assert is_local_address(address) is local


def test_settings_refuse_the_switch_on_a_reachable_server(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[disclosure]\nallow_unsuppressed = true\n", encoding="utf-8")
    settings = load_settings(config, environ={})
    with pytest.raises(SettingsError, match="server.address"):
        check_unsuppressed_allowed(settings, "0.0.0.0")
    check_unsuppressed_allowed(settings, "localhost")
    check_unsuppressed_allowed(load_settings(environ={}), "0.0.0.0")   # off: nothing to check
    config.write_text("[disclosure]\nallow_unsuppressed = \"yes\"\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="true or false"):
        load_settings(config, environ={})


def test_an_older_config_turning_public_mode_off_still_loads_and_stays_public(
        data_dir, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[disclosure]\npublic_by_default = false\n", encoding="utf-8")
    monkeypatch.setenv("CDP_CONFIG", str(config))
    serve_on_localhost(monkeypatch)       # even on localhost: the switch is a separate choice
    assert not load_settings().allow_unsuppressed
    at = _harm_page()
    assert not at.toggle and at.session_state["_context"].public
    assert _shown_counts(at) == {"*"}


PAGES = sorted(p.name for p in (PROJECT_ROOT / "pages").glob("*.py") if p.stem != "present")


def test_with_public_mode_off_every_page_says_so_in_its_main_area(data_dir, tmp_path,
                                                                   monkeypatch):
    """The sidebar can be collapsed or cropped out of a shared screen: the main area of
    every page carries the warning too (and none does while public mode is on)."""
    allow_unsuppressed(monkeypatch, tmp_path)
    at = _harm_page()
    assert not [e for e in at.main.error if "Public mode is off" in e.value]
    at.toggle(key="public").set_value(False).run()
    for page in PAGES:
        at.switch_page(f"pages/{page}").run()
        assert not at.exception, (page, [e.message for e in at.exception])
        banners = [e.value for e in at.main.error if "Public mode is off" in e.value]
        assert banners, f"no public-mode banner in the main area of {page}"
        assert "NOT FOR PUBLICATION" in banners[0]


class _Row:
    """Stands in for the row of download buttons: keeps what each button would send."""

    def __init__(self, files: dict):
        self.files = files

    def download_button(self, label, data, **kwargs):
        self.files[kwargs["file_name"]] = data() if callable(data) else data


def _downloads(monkeypatch, public: bool) -> dict:
    import io

    import streamlit as st

    from ui import exports
    files: dict = {}
    monkeypatch.setattr(st, "container", lambda **layout: _Row(files))
    frame = pd.DataFrame({"Area": ["Gloucestershire"], "Count": pd.array([3], "Int64")})
    exports.table(frame, "figures", public)
    excel = pd.read_excel(io.BytesIO(files["figures.xlsx"]), sheet_name=None, engine="openpyxl")
    return {"csv": pd.read_csv(io.BytesIO(files["figures.csv"])), "excel": excel}


def test_downloads_made_with_public_mode_off_are_marked_on_every_row(monkeypatch):
    off = _downloads(monkeypatch, public=False)
    assert off["csv"].columns[0] == "NOT FOR PUBLICATION: small counts shown"
    assert off["csv"].iloc[:, 0].eq("NOT FOR PUBLICATION").all()
    (sheet_name, sheet), = off["excel"].items()
    assert sheet_name == "NOT FOR PUBLICATION"
    assert sheet.columns[0] == "NOT FOR PUBLICATION: small counts shown"
    on = _downloads(monkeypatch, public=True)
    assert list(on["csv"].columns) == ["Area", "Count"] and list(on["excel"]) == ["Figures"]


def test_charts_downloaded_with_public_mode_off_carry_the_mark_in_their_title():
    from ui import exports
    spec = {"title": "Deaths in treatment", "mark": "bar", "data": {"values": [{"a": 1}]},
            "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    marked = exports.marked_spec(spec)
    assert marked["title"]["text"] == "NOT FOR PUBLICATION: small counts shown"
    assert marked["title"]["subtitle"] == "Deaths in treatment"
    assert spec["title"] == "Deaths in treatment"       # the chart on screen is unchanged
    import vl_convert as vlc
    assert "NOT FOR PUBLICATION" in vlc.vegalite_to_svg(marked)
