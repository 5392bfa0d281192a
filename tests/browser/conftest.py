"""Real-browser harness: one `streamlit run` server and one headless Chromium per session.

The server runs the app exactly as `streamlit run app.py` does, with CDP_DATA_DIR pointing
at an empty temporary directory, so the first page view builds the demonstration data and
no test ever touches the real data directory.

Every request the browser makes is routed: only the local server (and data:/blob: URLs)
may be reached; anything else is aborted and recorded, and `test_browser.py` fails if the
record is not empty. This proves the dashboard works with no internet.

The plain helpers (`start_server`, `stop_server`, `launch_chromium`, `wait_for_app_idle`,
`app_pages`) are also used by bench/bench_app.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = PROJECT_ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
SERVER_START_TIMEOUT_S = 240
# First page view of a fresh data dir builds the demonstration set; be generous.
APP_IDLE_TIMEOUT_S = 240

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


# --------------------------------------------------------------------------- server


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    data_dir: Path
    log_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return _read(self.log_dir / "stderr.log")

    def stdout(self) -> str:
        return _read(self.log_dir / "stdout.log")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Never send the health check through an HTTP proxy from the environment.
_LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url: str) -> bool:
    try:
        with _LOCAL_OPENER.open(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_server(data_dir: Path, log_dir: Path, timeout: float = SERVER_START_TIMEOUT_S,
                 python: str | None = None, extra_args: tuple[str, ...] = (),
                 extra_env: dict | None = None, port: int | None = None) -> Server:
    """Start `streamlit run app.py` on a free port and wait until /_stcore/health is 200.

    Raises RuntimeError with the server's stderr when it dies or is not healthy in time.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    python = python or str(PROJECT_ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    port = port or free_port()
    env = dict(os.environ, CDP_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1",
               **(extra_env or {}))
    command = [
        python, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port), "--server.headless", "true",
        "--server.address", "127.0.0.1",
        # Run the code as it was at start: other people editing files must not put a
        # "File change" prompt in screenshots or reload modules mid-test.
        "--server.fileWatcherType", "none", *extra_args,
    ]
    # Output goes to files, not pipes: a chatty server can never block on a full pipe.
    stdout = open(log_dir / "stdout.log", "wb")
    stderr = open(log_dir / "stderr.log", "wb")
    try:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=stdout,
                                   stderr=stderr, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # own process group
    finally:
        stdout.close()
        stderr.close()
    server = Server(process, port, data_dir, log_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before it "
                               f"was healthy. stderr:\n{server.stderr()}\n"
                               f"stdout:\n{server.stdout()}")
        if _healthy(server.url):
            return server
        time.sleep(0.25)
    stop_server(server)
    raise RuntimeError(f"streamlit was not healthy on {server.url} after {timeout:.0f} s. "
                       f"stderr:\n{server.stderr()}\nstdout:\n{server.stdout()}")


def stop_server(server: Server) -> None:
    """Terminate the server's process group (SIGTERM, then SIGKILL after 15 s)."""
    if server.process.poll() is not None:
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(server.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.process.wait(timeout=15)


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a process, in KiB, from /proc/<pid>/status."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- browser


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Debian's chromium is not installed (apt-get install -y chromium)")
    return path


def launch_chromium(playwright):
    # launch() gives a fresh temporary profile; every new_context() is a clean one.
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def is_local_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return False
    host = (parts.hostname or "").lower()
    return host in LOCAL_HOSTS or host == "::1"


@dataclass
class NetworkGuard:
    """Records requests that tried to leave the machine, and browser console errors."""
    external: list[str] = field(default_factory=list)
    console_errors: list[dict] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def install(self, context) -> None:
        context.route("**/*", self._route)
        # Playwright's route() does not see WebSockets; a separate router does.
        context.route_web_socket(lambda url: not is_local_url(url), self._route_websocket)
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def _route(self, route) -> None:
        url = route.request.url
        if is_local_url(url):
            route.continue_()
        else:
            self.external.append(url)
            route.abort("blockedbyclient")

    def _route_websocket(self, websocket) -> None:
        self.external.append(websocket.url)
        websocket.close()

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append({"text": message.text,
                                        "url": (message.location or {}).get("url", ""),
                                        "page": message.page.url if message.page else ""})

    def unexplained_console_errors(self) -> list[dict]:
        """Console errors, less two kinds that say nothing about this app:

        1. "Failed to load resource: net::ERR_BLOCKED_BY_CLIENT" for a request this guard
           aborted (the blocked URL is the message's location). That request is already
           reported, and fails the session, through `external`; counting it again here
           would only repeat the same finding.
        2. A 404 for <page path>/_stcore/health or <page path>/_stcore/host-config when a
           page other than the default one is opened directly (e.g. /crime). Streamlit's
           frontend guesses its base path from the page URL, probes those two endpoints
           under /crime/ first, gets 404, then uses /_stcore/ and works. This is Streamlit's
           own bug, confirmed and open upstream (streamlit/streamlit#7074, "404 health check
           when navigating directly to a subpage"); no app code can avoid it. A 404 for
           /_stcore/health or /_stcore/host-config at the root is NOT ignored.
        Nothing else is ignored.
        """
        blocked = set(self.external)
        return [error for error in self.console_errors
                if not (error["text"].startswith("Failed to load resource")
                        and (error["url"] in blocked or _is_subpage_base_path_probe(error)))]


_SUBPAGE_PROBE = re.compile(r"^/[^/]+(/[^/]+)*/_stcore/(health|host-config)$")


def _is_subpage_base_path_probe(error: dict) -> bool:
    parts = urlsplit(error["url"])
    return ("status of 404" in error["text"] and is_local_url(error["url"])
            and bool(_SUBPAGE_PROBE.match(parts.path)))


IDLE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app) return "no stApp";
  const state = app.getAttribute("data-test-script-state");
  if (state !== "notRunning") return "script " + state;
  const connection = app.getAttribute("data-test-connection-state");
  if (connection && connection !== "CONNECTED") return "connection " + connection;
  // stSkeleton is the placeholder an element shows while its lazily loaded code arrives
  // (React Suspense): the script can have finished before a fresh page draws anything.
  for (const id of ["stSpinner", "stStatusWidgetRunningIcon", "stStatusWidgetRunningManIcon",
                    "stAppSkeleton", "stSkeleton", "stSkeletonElement"]) {
    if (document.querySelector(`[data-testid='${id}']`)) return id;
  }
  return "idle";
}"""


def wait_for_app_idle(page, timeout: float = APP_IDLE_TIMEOUT_S, settle: float = 0.6) -> float:
    """Wait until the script has finished: stApp's data-test-script-state is "notRunning",
    the connection is up, and no spinner, "Running..." icon or skeleton is shown, holding for
    `settle` seconds (a widget change can leave "notRunning" up for a moment before the
    rerun starts). Returns the time.monotonic() at which the app was first seen idle."""
    deadline = time.monotonic() + timeout
    idle_since = None
    state = "not checked"
    while time.monotonic() < deadline:
        state = page.evaluate(IDLE_JS)
        now = time.monotonic()
        if state == "idle":
            idle_since = idle_since or now
            if now - idle_since >= settle:
                return idle_since
        else:
            idle_since = None
        time.sleep(0.1)
    raise TimeoutError(f"app not idle after {timeout:.0f} s on {page.url}: {state}")


@dataclass(frozen=True)
class AppPage:
    name: str
    url_path: str       # "" for the default page
    is_default: bool

    @property
    def slug(self) -> str:
        text = self.url_path or self.name
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def app_pages(playwright_page, base_url: str) -> list[AppPage]:
    """The pages of the app's navigation, as the running server sends them to the browser.

    Read from Streamlit's `navigation` message on the websocket, not from sidebar links:
    Streamlit hides the sidebar navigation when there is a single page, collapses long
    lists behind "View more", and draws it in the header with position="top". When the
    sidebar links are shown, they are checked against the message.
    """
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # the server's own protocol

    frames: list[bytes] = []

    def on_websocket(websocket):
        websocket.on("framereceived",
                     lambda payload: frames.append(payload) if isinstance(payload, bytes)
                     else None)

    playwright_page.on("websocket", on_websocket)
    try:
        playwright_page.goto(base_url + "/")
        wait_for_app_idle(playwright_page)
    finally:
        playwright_page.remove_listener("websocket", on_websocket)
    navigation = None
    for payload in frames:
        message = ForwardMsg()
        try:
            message.ParseFromString(payload)
        except Exception:  # noqa: BLE001 - not a ForwardMsg frame
            continue
        if message.WhichOneof("type") == "navigation":
            navigation = message.navigation
    if navigation is None:
        raise AssertionError("the app sent no navigation message: is st.navigation called "
                             "before the script fails?")
    pages = [AppPage(p.page_name, p.url_pathname, p.is_default) for p in navigation.app_pages]
    links = playwright_page.locator("[data-testid='stSidebarNav'] a")
    if links.count() and not playwright_page.locator(
            "[data-testid='stSidebarNavViewButton']").count():
        hrefs = {urlsplit(links.nth(i).get_attribute("href") or "").path.strip("/")
                 for i in range(links.count())}
        # Pages listed only for some roles (the audit log, settings) are in the navigation
        # message but hidden from the sidebar (st.Page visibility="hidden").
        expected = {p.url_pathname for p in navigation.app_pages if not p.is_hidden}
        assert hrefs == expected, f"sidebar links {hrefs} differ from navigation {expected}"
    return pages


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("streamlit")
    try:
        server = start_server(root / "cdp_data", root / "logs")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = launch_chromium(playwright_instance)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def network_guard():
    return NetworkGuard()


@pytest.fixture(scope="session")
def browser_context(browser, network_guard):
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(60_000)
    network_guard.install(context)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    yield page
    page.close()
