import datetime as dt
from pathlib import Path

import pytest

from metrics.settings import PROJECT_ROOT, SETTINGS, SettingsError, load_settings


def test_project_config_loads_with_documented_defaults():
    s = load_settings(environ={})
    assert s.home_area == "E10000013"
    assert s.continuity_target == 0.75
    assert s.continuity_target_date == dt.date(2025, 3, 31)
    assert s.disclosure_threshold == 5
    assert s.data_dir == PROJECT_ROOT / "data"


def test_every_setting_is_documented_in_the_readme():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.key for s in SETTINGS if f"`{s.key}`" not in readme]
    assert not missing, f"settings not documented in README.md: {missing}"


def test_data_dir_environment_variable_overrides_config(tmp_path):
    s = load_settings(environ={"CDP_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path


def test_target_and_date_are_settings(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("[targets]\ncontinuity_of_care = 0.8\n"
                      "continuity_of_care_date = 2027-03-31\n")
    s = load_settings(config, environ={})
    assert (s.continuity_target, s.continuity_target_date) == (0.8, dt.date(2027, 3, 31))


@pytest.mark.parametrize("body, words", [
    ("[targets]\ncontinuity_of_care = 75\n", "proportion between 0 and 1"),
    ("[targets]\ncontinuity_of_care_date = 'next year'\n", "date such as"),
    ("[disclosure]\nthreshold = 0\n", "whole number"),
    ("[partnership]\ncomparators = 'E10000034'\n", "list of"),
    ("[partnership\n", "config.toml"),
    ("[partnership]\ncontact = 5\n", "e-mail or web address"),
    ("[board]\nlast_meeting = 'after the summer'\n", "YYYY-MM-DD"),
    ("[board]\nlast_meeting = 2026-09-17T10:00:00\n", "YYYY-MM-DD"),
])
def test_bad_values_are_refused_with_a_clear_message(tmp_path, body, words):
    config = tmp_path / "config.toml"
    config.write_text(body)
    with pytest.raises(SettingsError, match=words):
        load_settings(config, environ={})


@pytest.mark.parametrize("written", ["2026-09-17", "'2026-09-17'"])
def test_contact_and_last_board_meeting_are_settings(tmp_path, written):
    config = tmp_path / "config.toml"
    config.write_text("[partnership]\ncontact = ' drugs.partnership@glos.gov.uk '\n"
                      f"[board]\nlast_meeting = {written}\n")
    s = load_settings(config, environ={})
    assert s.contact == "drugs.partnership@glos.gov.uk"
    assert s.board_last_meeting == dt.date(2026, 9, 17)
    default = load_settings(environ={})
    assert (default.contact, default.board_last_meeting) == ("", None)
