"""The shared frame copes with whatever has been published, not just the demo set."""

import datetime as dt

import pandas as pd
from streamlit.testing.v1 import AppTest

from metrics import store
from metrics.settings import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


def _annual_rows() -> pd.DataFrame:
    rows = []
    for area, num, den in (("E10000013", 168.0, 660_000.0), ("E92000001", 15_000.0, 57e6)):
        rows.append({"indicator_id": "drug_poisoning_admissions", "area_code": area,
                     "period": "2025/26", "period_kind": "financial_year",
                     "period_start": dt.date(2025, 4, 1), "period_end": dt.date(2026, 3, 31),
                     "breakdown": None, "category": None, "numerator": num,
                     "denominator": den, "value": num / den * 1e5, "lower95": 1.0,
                     "upper95": 99.0, "lower998": 0.5, "upper998": 120.0, "value_note": None})
    return pd.DataFrame(rows)


def _run(tmp_path, monkeypatch, values: pd.DataFrame) -> AppTest:
    store.publish(tmp_path, {"values": values}, {"demo": False, "source": "test"})
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def test_real_annual_only_data_gets_quarters_and_no_demo_banner(tmp_path, monkeypatch):
    at = _run(tmp_path, monkeypatch, _annual_rows())
    assert not at.exception
    assert at.selectbox(key="period").options == ["2025/26 Q4"]
    assert not any("Demonstration data" in w.value for w in at.warning)
    assert "Gloucestershire" in at.title[0].value


def test_an_empty_publication_says_what_to_do(tmp_path, monkeypatch):
    at = _run(tmp_path, monkeypatch, _annual_rows().iloc[0:0])
    assert not at.exception
    assert any("No figures are published yet" in i.value for i in at.info)


def test_public_mode_is_on_by_default_and_switching_it_off_warns(tmp_path, monkeypatch):
    from tests.support import allow_unsuppressed
    allow_unsuppressed(monkeypatch, tmp_path)
    at = _run(tmp_path, monkeypatch, _annual_rows())
    assert at.toggle(key="public").value is True
    at.toggle(key="public").set_value(False).run()
    assert not at.exception
    assert any("Public mode is off" in w.value for w in at.sidebar.warning)


def test_threshold_in_effect_follows_public_mode():
    from metrics.settings import load_settings
    from ui.frame import Context
    settings = load_settings(environ={})
    on = Context(settings, "", None, None, "", "", "", dt.date(2026, 6, 30), True)
    off = Context(settings, "", None, None, "", "", "", dt.date(2026, 6, 30), False)
    assert on.disclosure_threshold == settings.disclosure_threshold == 5
    assert off.disclosure_threshold == 1


def test_files_in_the_drop_folder_are_loaded_at_start_up(tmp_path, monkeypatch):
    import shutil
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    shutil.copy(PROJECT_ROOT / "tests" / "fixtures" / "long_format.csv", incoming)
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert any("Loaded the drop folder" in c.value for c in at.sidebar.caption)
    # Real data replaces the demonstration set, so the banner has gone.
    assert not any("Demonstration data" in w.value for w in at.warning)
    assert not store.current_version(tmp_path).is_demo
    assert (incoming / "loaded").exists() and not (incoming / "long_format.csv").exists()
