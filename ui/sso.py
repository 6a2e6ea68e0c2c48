"""Single sign-on (optional): Streamlit's st.login identity traded for a backend session."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.api import ApiError
from ui.session import AUTH_KEY, Viewer

_TOKEN_KEY = "dtmon_sso_token"  # the session this tab got by single sign-on
_TRADED_KEY = "dtmon_sso_traded"  # set once per tab: a session that ended is not silently re-opened
_ERROR_KEY = "dtmon_sso_error"
_LEAVING_KEY = "dtmon_sso_signing_out"


def configured() -> bool:
    """st.login is available when .streamlit/secrets.toml has an [auth] section; else nothing changes."""
    return "is_logged_in" in st.user


def returning(target: data.Backend) -> None:
    """Before the viewer is checked: finish a sign-out, or trade a fresh provider sign-in for a session."""
    if st.session_state.get(_LEAVING_KEY):
        _leave()
    if AUTH_KEY in st.session_state or _TRADED_KEY in st.session_state or not configured():
        return
    if not st.user.is_logged_in:
        return
    st.session_state[_TRADED_KEY] = True
    id_token = st.user.tokens.get("id")
    try:
        if not id_token:
            raise ApiError('the provider\'s ID token is not exposed: set expose_tokens = "id" in [auth]')
        answer = target.client.sso_login(id_token)
    except ApiError as exc:
        st.session_state[_ERROR_KEY] = exc.message
        return
    st.session_state[AUTH_KEY] = {"name": answer["name"], "role": answer["role"], "token": answer["token"]}
    st.session_state[_TOKEN_KEY] = answer["token"]


def offer() -> None:
    """Below the sign-in form: why single sign-on did not sign you in, and the button to try it."""
    if not configured():
        return
    if error := st.session_state.get(_ERROR_KEY):
        st.error(f"Single sign-on did not sign you in: {error}")
    if st.user.is_logged_in:
        if st.button("Sign out of single sign-on", key="dtmon_sso_out"):
            _leave()
    elif st.button("Sign in with single sign-on", key="dtmon_sso"):
        st.login()


def signed_in_by_it(current: Viewer) -> bool:
    """Whether this viewer's session came from single sign-on (no password to change)."""
    return current.token == st.session_state.get(_TOKEN_KEY)


def forget(token: str) -> None:
    """After the session is revoked: also end the provider sign-in, else a reload would reopen one."""
    if token == st.session_state.get(_TOKEN_KEY):
        _leave()


def _leave() -> None:
    """st.logout, repeated at the top of every run until the browser has gone: a rerun (the refresh
    timer) that interrupts this one drops the redirect it sent."""
    st.session_state[_LEAVING_KEY] = True
    st.logout()
    st.stop()
