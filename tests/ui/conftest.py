"""AppTest fixtures: a live backend seeded with the scripted fleet, and the dashboard pointed at it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from support import make_settings
from tests.ui.scripted_fleet import seed

ROUTER = str(Path(__file__).resolve().parents[2] / "dashboard.py")


@pytest.fixture
def settings(tmp_path):
    """An hour-long heartbeat interval keeps the scripted workers online; alerts evaluate every second."""
    return make_settings(tmp_path, heartbeat_interval=3600.0, alert_interval=1.0)


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    """Route pages/ with st.navigation only, as streamlit_app.py makes the real server do."""
    # AppTest resets Streamlit's legacy pages/-folder detection on every run; left alone, a page
    # whose url_path equals its file name would run without the router (no sidebar, no banner).
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    class NavigationOnly(PagesManager):
        def __init__(self, *args, **kwargs) -> None:
            PagesManager.uses_pages_directory = False
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(app_test, "PagesManager", NavigationOnly)


@pytest.fixture
def seeded_backend(live_backend):
    """The live backend after the scripted fleet went through /api/ingest."""
    with httpx.Client(base_url=live_backend.url, timeout=30) as http:
        seed(http.post, live_backend.ingest_token)
    return live_backend


def dashboard(monkeypatch, url: str, token: str | None = None, role: str = "admin") -> AppTest:
    """The router script talking to `url`; signed in when a token is given."""
    monkeypatch.setenv("DTMON_API_URL", url)
    app = AppTest.from_file(ROUTER, default_timeout=30)
    if token:
        app.session_state["dtmon_auth"] = {"name": role, "role": role, "token": token}
    return app


@pytest.fixture
def admin_app(seeded_backend, monkeypatch) -> AppTest:
    """The dashboard signed in as admin over the seeded fleet (not yet run)."""
    return dashboard(monkeypatch, seeded_backend.url, seeded_backend.admin_token, "admin")
