import pytest

from tests.support import use_navigation_only

# Every AppTest in the suite runs app.py on each run, as the server does.
use_navigation_only()


@pytest.fixture(autouse=True)
def _slides_prepared_only_when_asked(monkeypatch):
    """The server builds the presentation deck on a background thread after a page's
    first run for each published version (ui.presentation.prepare_in_background). Most
    tests run pages on their own data folders, which would start a deck build each, still
    running when the test and its folder are gone; the tests of that preparation itself
    (tests/test_presentation.py) undo this."""
    from ui import presentation
    monkeypatch.setattr(presentation, "prepare_in_background", lambda ctx: None)
