"""Router script: sign-in, sidebar and alerts for every page, then the page the URL names."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from backend.settings import Settings
from ui import data, session

HERE = Path(__file__).parent
CORE_PAGES = [
    ("pages/overview.py", "Overview", ":material/monitor_heart:", "monitoring"),
    ("pages/workers.py", "Workers", ":material/dns:", "workers"),
    ("pages/tasks.py", "Tasks", ":material/checklist:", "tasks"),
    ("pages/network.py", "Network", ":material/hub:", "network"),
    ("pages/hardware.py", "Hardware", ":material/memory:", "hardware"),
]
# Written by another engineer; listed when present so a partial checkout still starts.
OPTIONAL_PAGES = [
    ("pages/history.py", "History", ":material/history:", "history"),
    ("pages/sql.py", "SQL", ":material/terminal:", "sql"),
    ("pages/alerts.py", "Alerts", ":material/notifications:", "alerts"),
]


def navigation_pages() -> list:
    """st.Page objects for every page file that exists, behind a hidden root that opens Overview."""
    found = [entry for entry in CORE_PAGES + OPTIONAL_PAGES if (HERE / entry[0]).is_file()]
    pages = [st.Page(path, title=title, icon=icon, url_path=url) for path, title, icon, url in found]
    # Streamlit serves the default page at "/" only; Overview must live at /monitoring.
    root = st.Page(lambda: st.switch_page(pages[0]), title="Overview", url_path="home",
                   default=True, visibility="hidden")
    return [root, *pages]


st.set_page_config(page_title="Cluster monitoring", page_icon="🛰️", layout="wide")
settings = Settings.from_env()
target = session.use_backend(
    data.api_base_url(settings.api_url, st.get_option("server.port"), st.get_option("server.address"))
)
navigation = st.navigation(navigation_pages(), position="sidebar" if session.is_signed_in() else "hidden")
viewer = session.require_viewer(target)
session.sidebar(target, viewer)
session.alerts_banner(target)
navigation.run()
