"""Sign-in and sign-out: the session cookie on the dashboard's origin, else a token in the tab's state."""

from __future__ import annotations

import html
from urllib.parse import urlencode

import streamlit as st

from backend.sessions import COOKIE
from ui import data, sso
from ui.api import ApiError
from ui.session import AUTH_KEY, Viewer, viewer

_COOKIE_MODE_KEY = "dtmon_cookie_sessions"
SIGN_IN_REFUSALS = {
    "failed": "Wrong username or password.",
    "disabled": "This account is disabled.",
    "throttled": "Too many failed sign-ins from this address; wait a minute.",
    "busy": "The server is busy checking other sign-ins; try again in a few seconds.",
}
_FIELD = "display:block;width:100%;max-width:24rem;margin:.25rem 0 .75rem;padding:.5rem;font:inherit;" \
         "border:1px solid rgba(128,128,128,.5);border-radius:.5rem;background:transparent;color:inherit"
_BUTTON = "padding:.45rem 1rem;font:inherit;border-radius:.5rem;cursor:pointer;"
# Plain forms, no script: the browser posts to the API on this origin, which sets or clears the
# HttpOnly cookie and redirects back, so the token is never in the page or a URL.
SIGN_IN_FORM = f"""<form method="post" action="/api/auth/session" style="max-width:24rem">
<label>Username<input name="username" autocomplete="username" required style="{_FIELD}"></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required
 style="{_FIELD}"></label>
<input type="hidden" name="next" value="{{next}}">
<button type="submit" style="{_BUTTON}border:none;background:#ff4b4b;color:white">Sign in</button>
</form>"""
SIGN_OUT_FORM = f"""<form method="post" action="/api/auth/session/end">
<input type="hidden" name="next" value="{{next}}">
<button type="submit" style="{_BUTTON}border:1px solid rgba(128,128,128,.5);background:transparent;
color:inherit">Sign out</button></form>"""


def use_cookie_sessions(enabled: bool) -> None:
    """Whether the API is served on the dashboard's own origin, so its sign-in form can set the
    session cookie that every tab and reload of this browser shares (set by the router each run)."""
    st.session_state[_COOKIE_MODE_KEY] = enabled


def _cookie_sessions() -> bool:
    return st.session_state.get(_COOKIE_MODE_KEY, False)


def _token() -> str | None:
    """This tab's token: from its own sign-in, else the browser's session cookie (read server-side)."""
    if AUTH_KEY in st.session_state:
        return st.session_state[AUTH_KEY]["token"]
    return st.context.cookies.get(COOKIE) if _cookie_sessions() else None


def current_viewer(target: data.Backend) -> Viewer | None:
    """The checked viewer, or None (with a note when a session just ended) when nobody is signed in."""
    token = _token()
    if token is None:
        return None
    try:
        me = data.whoami(target, token)
    except ApiError as exc:
        if exc.status_code not in (401, 403):
            return _unchecked(exc)
        target.live.withdraw_token(token)
        st.session_state.pop(AUTH_KEY, None)
        st.warning("Your session has ended. Please sign in again.")
        return None
    st.session_state[AUTH_KEY] = {"name": me["name"], "role": me["role"], "token": token, "kind": me["kind"]}
    if me["role"] in ("user", "admin"):
        target.live.offer_token(token)
    return viewer()


def _unchecked(exc: ApiError) -> Viewer | None:
    """Backend unreachable: stay signed in (the token was valid at the last check) so the sidebar
    still says what is happening; every fetch shows its own error meanwhile."""
    st.warning(f"The backend could not check your session: {exc.message}")
    if AUTH_KEY in st.session_state:
        return viewer()
    st.stop()


def page_address(url_path: str) -> str:
    """This page with its query (minus a sign-in note): where the sign-in and sign-out forms return."""
    query = {k: v for k, v in st.query_params.to_dict().items() if k != "signin"}
    return f"/{url_path}" + (f"?{urlencode(query)}" if query else "")


def login_form(target: data.Backend, page_path: str) -> None:
    """The sign-in form: a plain HTML form posting to the API (cookie), else a Streamlit form."""
    st.title("Cluster monitoring")
    if not _cookie_sessions():
        return _session_state_form(target)
    reason = st.query_params.get("signin")
    if reason in SIGN_IN_REFUSALS:
        st.error(SIGN_IN_REFUSALS[reason])
    st.html(SIGN_IN_FORM.format(next=html.escape(page_path)))


def _session_state_form(target: data.Backend) -> None:
    """Sign-in when the API lives on another origin: the token stays in this tab's session state."""
    with st.form("login"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        sign_in(target, username, password)


def sign_in(target: data.Backend, username: str, password: str) -> None:
    """Exchange credentials for a token and rerun into the dashboard."""
    try:
        answer = target.client.login(username, password, forwarded_for=browser_address())
    except ApiError as exc:
        message = "Wrong username or password." if exc.status_code == 401 else exc.message
        st.error(message)
        return
    st.session_state[AUTH_KEY] = {"name": username, "role": answer.get("role", "user"),
                                   "token": answer["token"]}
    st.rerun()


def browser_address() -> str:
    """The viewer's address as Streamlit saw it (None means a local browser)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "127.0.0.1"


def account_sidebar(target: data.Backend, current: Viewer, page_path: str) -> None:
    """Your password and the sign-out button, below the sidebar's status."""
    with st.sidebar:
        if current.kind == "session" and not sso.signed_in_by_it(current):
            password_form(target, current)
        sign_out_button(target, current, page_path)


def sign_out_button(target: data.Backend, current: Viewer, page_path: str) -> None:
    """Cookie sessions end through a form post that also clears the cookie; others by API call."""
    if _cookie_sessions() and current.token == st.context.cookies.get(COOKIE):
        st.html(SIGN_OUT_FORM.format(next=html.escape(page_path)))
    elif st.button("Sign out", key="dtmon_sign_out"):
        sign_out(target, current)
        st.rerun()


def sign_out(target: data.Backend, current: Viewer) -> None:
    """Revoke the token on the server and forget it here and in the live subscriber."""
    target.live.withdraw_token(current.token)
    try:
        target.client.logout(current.token)
    except ApiError:
        pass  # the token is forgotten locally either way; an expired one cannot be revoked twice
    st.session_state.pop(AUTH_KEY, None)
    sso.forget(current.token)


def password_form(target: data.Backend, current: Viewer) -> None:
    """Change your own password; your other sessions end."""
    with st.expander("Account"), st.form("dtmon_password", clear_on_submit=True):
        old = st.text_input("Current password", type="password", key="dtmon_password_old")
        new = st.text_input("New password", type="password", help="at least 8 characters", key="dtmon_password_new")
        again = st.text_input("New password again", type="password", key="dtmon_password_again")
        if not st.form_submit_button("Change password"):
            return
        if new != again:
            st.error("The new passwords differ.")
            return
        try:
            answer = target.client.post("/api/auth/password", current.token,
                                        {"current_password": old, "new_password": new})
        except ApiError as exc:
            st.error(exc.message)
            return
        ended = answer["sessions_ended"]
        st.success(f"Password changed; {ended} other session{'' if ended == 1 else 's'} signed out.")
