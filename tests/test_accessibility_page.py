"""The accessibility statement page and the footer link to it on every page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_ingest import publish_fake_demo
from ui import accessibility

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def app(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(data_dir))
    monkeypatch.chdir(PROJECT_ROOT)
    publish_fake_demo(data_dir)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [h.value for h in at.header] +
                     [t.value for t in at.title])


def _footer_links(at: AppTest) -> list[str]:
    return [element.proto.page for element in at.get("page_link")]


def test_every_page_links_to_the_statement_in_its_footer(app):
    assert any(link == accessibility.STATEMENT_PATH for link in _footer_links(app))
    app.switch_page("pages/data.py").run()
    assert not app.exception, app.exception
    assert any(link == accessibility.STATEMENT_PATH for link in _footer_links(app))


def test_the_statement_lists_the_exceptions_the_checks_skip(app):
    app.switch_page("pages/accessibility.py").run()
    assert not app.exception, app.exception
    text = _text(app)
    assert "Accessibility statement" in text and "WCAG" in text and "2.2" in text
    for exception in accessibility.KNOWN_EXCEPTIONS:
        assert exception.what in text
    assert f"{accessibility.LAST_TESTED:%B %Y}" in text
    assert "Gloucestershire Combating Drugs Partnership" in text
    assert "another format" in text


def test_presentation_mode_has_no_footer(app):
    app.switch_page("pages/present.py").run()
    assert not any(link == accessibility.STATEMENT_PATH for link in _footer_links(app))


def test_the_statement_names_the_contact_from_the_settings(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[partnership]\nname = 'Testshire Combating Drugs Partnership'\n"
                      "contact = 'access@testshire.gov.uk'\n")
    monkeypatch.setenv("CDP_CONFIG", str(config))
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CDP_DATA_DIR", str(data_dir))
    monkeypatch.chdir(PROJECT_ROOT)
    publish_fake_demo(data_dir)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/accessibility.py").run()
    assert not at.exception, at.exception
    text = _text(at)
    assert "ask the Testshire Combating Drugs Partnership at `access@testshire.gov.uk`" in text
