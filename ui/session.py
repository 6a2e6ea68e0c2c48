"""Login, the signed-in viewer, the sidebar and the alerts banner shared by every page."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit_autorefresh import st_autorefresh

from ui import data, status
from ui.api import ApiError
from ui.fmt import ago, escape_markdown

REFRESH_CHOICES = (0, 2, 5, 10, 30, 60)
_AUTH_KEY = "dtmon_auth"
_BACKEND_KEY = "dtmon_backend_url"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: their name, role and bearer token."""

    name: str
    role: str
    token: str

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


def is_signed_in() -> bool:
    """Whether this browser session holds a token (validity is checked separately)."""
    return _AUTH_KEY in st.session_state


def viewer() -> Viewer:
    """The signed-in viewer; the router guarantees one exists before a page runs."""
    auth = st.session_state[_AUTH_KEY]
    return Viewer(auth["name"], auth["role"], auth["token"])


def require_viewer(target: data.Backend) -> Viewer:
    """Return the checked viewer, or draw the login form and stop the run."""
    if is_signed_in():
        current = viewer()
        try:
            role = data.whoami(target, current.token).get("role", current.role)
            st.session_state[_AUTH_KEY]["role"] = role  # the server's word, not the login-time answer
            target.live.offer_token(current.token)
            return viewer()
        except ApiError as exc:
            if exc.status_code not in (401, 403):
                # Backend unreachable: stay signed in (the token was valid at the last check) so the
                # sidebar still says what is happening; every fetch shows its own error meanwhile.
                st.warning(f"The backend could not check your session: {exc.message}")
                return viewer()
            target.live.withdraw_token(current.token)
            del st.session_state[_AUTH_KEY]
            st.warning("Your session has ended. Please sign in again.")
    login_form(target)
    st.stop()


def login_form(target: data.Backend) -> None:
    """Username and password against /api/auth/login; the token stays in session state only."""
    st.title("Cluster monitoring")
    with st.form("login"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        sign_in(target, username, password)


def sign_in(target: data.Backend, username: str, password: str) -> None:
    """Exchange credentials for a token and rerun into the dashboard."""
    try:
        answer = target.client.login(username, password)
    except ApiError as exc:
        message = "Wrong username or password." if exc.status_code == 401 else exc.message
        st.error(message)
        return
    st.session_state[_AUTH_KEY] = {"name": username, "role": answer.get("role", "user"),
                                   "token": answer["token"]}
    if answer.get("role") in ("user", "admin"):
        target.live.offer_token(answer["token"])
    st.rerun()


def sign_out(target: data.Backend, current: Viewer) -> None:
    """Revoke the token on the server and forget it here and in the live subscriber."""
    target.live.withdraw_token(current.token)
    try:
        target.client.logout(current.token)
    except ApiError:
        pass  # the token is forgotten locally either way; an expired one cannot be revoked twice
    st.session_state.pop(_AUTH_KEY, None)


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
        if st.button("Sign out", key="dtmon_sign_out"):
            sign_out(target, current)
            st.rerun()


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


def alerts_banner(target: data.Backend) -> None:
    """Firing alerts from the snapshot, on every page, as long as any exist."""
    alerts = [a for a in target.live.section("alerts") or [] if a.get("state", "firing") == "firing"]
    if not alerts:
        return
    lines = [f"**{len(alerts)} alert(s) firing**"] + [
        f"- {escape_markdown(a.get('severity', ''))} · {escape_markdown(a.get('rule_name', ''))}: "
        f"{escape_markdown(a.get('message', ''))} (since {ago(a.get('started_at'))})"
        for a in alerts[:5]
    ]
    st.error("\n".join(lines), icon=":material/notifications_active:")
