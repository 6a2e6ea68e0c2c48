"""The signed-in viewer and the sidebar shared by every page (sign-in: ui/signin.py)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit_autorefresh import st_autorefresh

from ui import data, status
from ui.fmt import escape_markdown

REFRESH_CHOICES = (0, 2, 5, 10, 30, 60)
AUTH_KEY = "dtmon_auth"
_BACKEND_KEY = "dtmon_backend_url"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: their name, role and bearer token."""

    name: str
    role: str
    token: str
    kind: str = "session"

    @property
    def is_admin(self) -> bool:
        """Admin-only controls are drawn only when this is true."""
        return self.role == "admin"


def use_backend(base_url: str) -> data.Backend:
    """Called by the router once per run; pages then reach the backend through backend()."""
    st.session_state[_BACKEND_KEY] = base_url
    return data.connect(base_url)


def backend() -> data.Backend:
    """The backend chosen by the router for this session."""
    return data.connect(st.session_state[_BACKEND_KEY])


def viewer() -> Viewer:
    """The signed-in viewer; the router guarantees one exists before a page runs."""
    auth = st.session_state[AUTH_KEY]
    return Viewer(auth["name"], auth["role"], auth["token"], auth.get("kind", "session"))


def sidebar(target: data.Backend, current: Viewer) -> None:
    """Refresh interval, the freshness line (redrawn as the page fetches), who is signed in."""
    with st.sidebar:
        remember_initial_refresh()
        refresh = st.selectbox("Refresh interval", REFRESH_CHOICES, key="dtmon_refresh",
                               format_func=lambda s: "Off" if s == 0 else f"{s} s")
        running = refresh if autorefresh_enabled() else 0
        if running:
            st_autorefresh(interval=running * 1000, key="dtmon_autorefresh")
        status.attach(st.empty(), running, target.live, lambda: data.backend_status(target))
        st.caption(f"Signed in as {escape_markdown(current.name)} ({current.role})")


def remember_initial_refresh() -> None:
    """5 s unless the first link said otherwise (`?refresh=30`); kept when Streamlit drops the query."""
    if "dtmon_refresh" not in st.session_state:
        wanted = st.query_params.get("refresh", "5")
        chosen = int(wanted) if wanted.isdigit() and int(wanted) in REFRESH_CHOICES else 5
        st.session_state["dtmon_refresh"] = chosen


def autorefresh_enabled() -> bool:
    """`?autorefresh=off` disables the timer (browser tests); remembered for the session."""
    if st.query_params.get("autorefresh") == "off":
        st.session_state["dtmon_autorefresh_off"] = True
    return not st.session_state.get("dtmon_autorefresh_off", False)
