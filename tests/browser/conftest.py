"""Browser harness: `streamlit run streamlit_app.py` on a free port over a seeded DuckDB, driven by Chromium.

Reusable by every page's browser test: fixtures `dashboard_server`, `dashboard_url`, `browser`,
`page` and `logged_in_page`, plus `wait_for_app(page)` and `open_page(page, url_path)`.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.ui.scripted_fleet import seed

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWER = ("viewer", "viewer-password-42")


@dataclass
class DashboardServer:
    """A running one-port dashboard (UI + API) with its credentials."""

    url: str
    admin_password: str
    admin_token: str
    ingest_token: str
    log_path: Path


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, log_path: Path, seconds: float = 90) -> None:
    """Block until the mounted API answers, failing with the server log if it died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).json().get("status") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"dashboard did not start:\n{log_path.read_text()[-4000:]}")


def prepare_backend(url: str, admin_password: str) -> tuple[str, str]:
    """Admin token, a fresh ingest token, a read-only viewer account, and the scripted fleet."""
    with httpx.Client(base_url=url, timeout=30) as http:
        login = http.post("/api/auth/login", json={"username": "admin", "password": admin_password})
        admin_token = login.raise_for_status().json()["token"]
        auth = {"Authorization": f"Bearer {admin_token}"}
        ingest = http.post("/api/auth/tokens", json={"role": "ingest", "name": "browser test"}, headers=auth)
        ingest_token = ingest.raise_for_status().json()["token"]
        http.post("/api/auth/users", json={"username": VIEWER[0], "password": VIEWER[1], "role": "user"},
                  headers=auth).raise_for_status()
        seed(http.post, ingest_token)
    return admin_token, ingest_token


@contextmanager
def running_dashboard(workdir: Path, env_extra: dict | None = None, args: list[str] | None = None,
                      host: str = "127.0.0.1") -> Iterator[DashboardServer]:
    """`streamlit run streamlit_app.py` on a free port over a tmp DuckDB seeded via ingest, until the block ends."""
    port, password = free_port(), secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTMON_")}
    # An hour-long heartbeat interval keeps the scripted workers online for the whole session.
    env.update(DTMON_DB=str(workdir / "monitoring.duckdb"), DTMON_ADMIN_PASSWORD=password,
               DTMON_HEARTBEAT_INTERVAL="3600", **(env_extra or {}))
    log_path = workdir / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", *(args or [])]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    try:
        wait_for_health(url, process, log_path)
        admin_token, ingest_token = prepare_backend(url, password)
        yield DashboardServer(url, password, admin_token, ingest_token, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def dashboard_server(tmp_path_factory) -> Iterator[DashboardServer]:
    """The real entry point on a free port, its embedded backend on a tmp DuckDB seeded via ingest."""
    with running_dashboard(tmp_path_factory.mktemp("dashboard")) as server:
        yield server


@pytest.fixture(scope="session")
def dashboard_url(dashboard_server: DashboardServer) -> str:
    """Base URL of the running dashboard (the API is under /api on the same port)."""
    return dashboard_server.url


@pytest.fixture(scope="module")
def browser():
    """Debian Chromium driven by Playwright (never a downloaded browser). Module scope: Playwright's
    sync API keeps an event loop running in the main thread, which would break asyncio.run() in
    every test collected after the browser tests."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Page:
    """A fresh browser context per test; JavaScript dialogs are recorded in `page.dialogs`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    new_page = context.new_page()
    new_page.dialogs = []
    new_page.on("dialog", lambda dialog: (new_page.dialogs.append(dialog.message), dialog.dismiss()))
    yield new_page
    context.close()


def wait_for_app(page: Page, timeout_ms: int = 30_000) -> None:
    """Wait until the websocket is connected and the script run has finished."""
    page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout_ms)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout_ms)


def open_page(page: Page, base_url: str, url_path: str) -> None:
    """Navigate to one dashboard page with autorefresh off (it would race the idle wait)."""
    page.goto(f"{base_url}/{url_path}?autorefresh=off")
    wait_for_app(page)


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Fill the login form on the Overview URL and wait for the dashboard to draw."""
    open_page(page, base_url, "monitoring")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=30_000)
    page.get_by_role("heading", name="Cluster overview").wait_for(timeout=30_000)
    wait_for_app(page)


@pytest.fixture
def logged_in_page(page: Page, dashboard_server: DashboardServer) -> Page:
    """A page signed in as admin on /monitoring."""
    sign_in(page, dashboard_server.url, "admin", dashboard_server.admin_password)
    return page


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/screenshots (and docs/screenshots when asked)."""
    target = ARTIFACTS / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("DTMON_UPDATE_SCREENSHOTS") == "1":
        docs = REPO / "docs" / "screenshots" / f"{name}.png"
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_bytes(target.read_bytes())
    return target
