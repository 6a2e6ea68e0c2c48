"""Router script: sign-in, sidebar and alerts banner for every page, then the page the URL names."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from backend.settings import Settings
from ui import alerts_banner, data, session, signin, sso

HERE = Path(__file__).parent
PAGES = [
    ("pages/overview.py", "Overview", ":material/monitor_heart:", "monitoring"),
    ("pages/workers.py", "Workers", ":material/dns:", "workers"),
    ("pages/tasks.py", "Tasks", ":material/checklist:", "tasks"),
    ("pages/network.py", "Network", ":material/hub:", "network"),
    ("pages/hardware.py", "Hardware", ":material/memory:", "hardware"),
    ("pages/tests.py", "Tests", ":material/science:", "tests"),
    ("pages/benchmarks.py", "Benchmarks", ":material/speed:", "benchmarks"),
    ("pages/history.py", "History", ":material/history:", "history"),
    ("pages/sql.py", "SQL", ":material/terminal:", "sql"),
    ("pages/alerts.py", "Alerts", ":material/notifications:", "alerts"),
    ("pages/layout.py", "Layout", ":material/dashboard_customize:", "layout"),
    ("pages/users.py", "Users", ":material/group:", "users"),
]
ADMIN_ONLY = {"sql", "users"}  # the API refuses these to other roles, so the menu does not offer them


def listed(entry: tuple[str, str, str, str], is_admin: bool) -> bool:
    """A page is listed when the viewer's role may use it."""
    return is_admin or entry[3] not in ADMIN_ONLY


def navigation_pages(is_admin: bool) -> list:
    """st.Page objects for the pages this viewer may use, behind a hidden root that opens Overview."""
    found = [entry for entry in PAGES if listed(entry, is_admin)]
    pages = [st.Page(path, title=title, icon=icon, url_path=url) for path, title, icon, url in found]
    # Streamlit serves the default page at "/" only; Overview must live at /monitoring.
    root = st.Page(lambda: st.switch_page(pages[0]), title="Overview", url_path="home",
                   default=True, visibility="hidden")
    return [root, *pages]


st.set_page_config(page_title="Cluster monitoring", page_icon="🛰️", layout="wide")
st.html(HERE / "ui" / "phone.css")
settings = Settings.from_env()
target = session.use_backend(
    data.api_base_url(settings.api_url, st.get_option("server.port"), st.get_option("server.address"))
)
signin.use_cookie_sessions(not settings.api_url)
sso.returning(target)
viewer = signin.current_viewer(target)
navigation = st.navigation(navigation_pages(viewer is not None and viewer.is_admin),
                           position="sidebar" if viewer else "hidden")
page_path = signin.page_address(navigation.url_path)
if viewer is None:
    signin.login_form(target, page_path)
    sso.offer()
    st.stop()
session.sidebar(target, viewer)
signin.account_sidebar(target, viewer, page_path)
alerts_banner.show(target, viewer.token)
navigation.run()
