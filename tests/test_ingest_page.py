"""The Data page with real (loaded) data, run headless through app.py with AppTest.
(tests/test_pages.py runs it on demonstration data; the browser check uploads files.)"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from metrics.ingest import load
from tests.support import board_tables

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def run_data_page(monkeypatch, data_dir: Path, config: Path | None = None) -> AppTest:
    monkeypatch.setenv("CDP_DATA_DIR", str(data_dir))
    if config is not None:
        monkeypatch.setenv("CDP_CONFIG", str(config))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert {"area", "period"} <= {w.key for w in at.selectbox}   # went through app.py
    return at


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning",
                                               "success", "error", "title")
                     for e in at.get(kind))


def test_data_page_on_loaded_data_shows_coverage_and_history(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    assert load([FIXTURES / "long_format.csv", FIXTURES / "fingertips_export.csv"],
                data_dir).published
    at = run_data_page(monkeypatch, data_dir)
    words = texts(at)
    assert "Demonstration data." not in words
    assert "Showing published data, version v0001" in words
    assert "Uploading is switched off" in words            # the default setting
    assert "Not loaded (" in words                         # catalogue metrics with no data
    history = [f for f in board_tables(at) if "Version" in f.columns]
    assert history and history[0]["Version"].tolist() == ["v0001"]
    assert history[0]["detail"].tolist() == ["current"]


def test_upload_and_rollback_appear_when_the_setting_allows(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace("allow_upload = false",
                                                                 "allow_upload = true"))
    data_dir = tmp_path / "data"
    load([FIXTURES / "long_format.csv"], data_dir)
    load([FIXTURES / "windows_1252.csv"], data_dir)
    at = run_data_page(monkeypatch, data_dir, config)
    assert "Uploading is switched off" not in texts(at)
    target = at.selectbox(key="rollback_target")
    assert target.options == ["v0001"]
    restore = [b for b in at.button if b.label == "Restore v0001"]
    assert restore
    restore[0].click().run()
    assert not at.exception
    assert "Published v0003, a copy of v0001." in texts(at)


def test_coverage_grid_lists_metrics_by_period(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    load([FIXTURES / "long_format.csv"], data_dir)
    at = run_data_page(monkeypatch, data_dir)
    [summary] = [f for f in board_tables(at) if "Gaps" in f.columns]
    row = summary.set_index("Metric").loc["Continuity of care: prison to community"]
    assert row["Periods"].startswith("2023/24 Q1"), row
    # The full grid, one column per period, is the download.
    [grid] = [d for d in at.get("download_button") if "coverage grid" in d.proto.label]


# --- Text from files is shown as text ----------------------------------------------------

# A file name cannot hold "/", but "https:example.com" is the same address to a browser
# (WHATWG URL: slashes after a special scheme are optional), and GitHub-flavoured
# Markdown links a bare "www." name by itself.
HOSTILE_NAMES = ["[click](https:example.com).csv", "see www.example.com.csv"]


def _links(at: AppTest) -> list[str]:
    """Every link the page's Markdown renders (GitHub-flavoured: bare URLs link too)."""
    from markdown_it import MarkdownIt
    parser = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify"])
    found = []
    for kind in ("markdown", "caption", "info", "warning", "success", "error", "title"):
        for element in at.get(kind):
            for token in parser.parse(str(element.value)):
                for child in [token, *(token.children or [])]:
                    if child.type in ("link_open", "image"):
                        found.append(child.attrs.get("href") or child.attrs.get("src"))
    return found


def test_a_hostile_file_name_in_the_drop_folder_is_text_not_a_link(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    load([FIXTURES / "long_format.csv"], data_dir)
    at = run_data_page(monkeypatch, data_dir)        # the start-up load has run
    incoming = data_dir / "incoming"
    incoming.mkdir(exist_ok=True)
    for name in HOSTILE_NAMES:
        (incoming / name).write_text("not,a\nreal,extract\n", encoding="utf-8")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    words = texts(at)
    assert "2 files waiting" in words and "click" in words
    assert "example" in words
    assert _links(at) == []
    assert str(data_dir) not in words and str(tmp_path) not in words
    # Loading it: refused, and the message naming it is text too.
    next(b for b in at.button if b.label.startswith("Load files")).click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("nothing was published" in e.value for e in at.error)
    assert _links(at) == []
    assert str(tmp_path) not in texts(at)


def test_the_plain_text_helpers():
    from ui import plain
    assert plain.md("[x](https://e.com) **b** :red[c] $d$ # e\n- f") == (
        r"\[x\]\(https\:\/\/e\.com\) \*\*b\*\* \:red\[c\] \$d\$ \# e \- f")
    assert plain.relative("/srv/cdp/data/incoming", "/srv/cdp/data") == "incoming"
    assert plain.relative("/elsewhere/drop", "/srv/cdp/data") == "drop"
    assert plain.without_paths("moved to /srv/cdp/data/incoming/refused/x.csv",
                               "/srv/cdp/data") == "moved to incoming/refused/x.csv"
