"""Where pages get data: the shared live snapshot first, else REST cached per refresh interval."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from backend.settings import Settings
from ui import status
from ui.api import ApiClient, ApiError, Page
from ui.live import LiveSubscriber

_CACHE_SECONDS_WHEN_OFF = 60


@dataclass(frozen=True)
class Backend:
    """The API base URL with its process-wide client and live subscriber."""

    base_url: str
    client: ApiClient
    live: LiveSubscriber


def api_base_url(api_url: str, port: int, address: str | None) -> str:
    """DTMON_API_URL when set; otherwise this Streamlit server itself, which mounts the API."""
    if api_url:
        return api_url.rstrip("/")
    host = address if address and address not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{port}"


def ws_url(base_url: str) -> str:
    """The monitoring socket URL on the same host as the REST API."""
    return base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/api/ws/monitoring"


@st.cache_resource(show_spinner=False)
def connect(base_url: str) -> Backend:
    """One client and one live subscription per backend for the whole Streamlit process."""
    return Backend(base_url, ApiClient(base_url), LiveSubscriber(ws_url(base_url)))


def refresh_seconds() -> int:
    """The viewer's refresh interval; caches expire on this beat, 'off' falls back to a minute."""
    chosen = st.session_state.get("dtmon_refresh", 5)
    return int(chosen) if chosen else _CACHE_SECONDS_WHEN_OFF


def _bucket(seconds: int) -> int:
    """Time slot shared by all sessions with the same interval, so tabs share cached answers."""
    return int(time.time() // max(1, seconds))


def _stamped(value: Any) -> tuple[Any, datetime]:
    """A fetched answer with the moment it left the backend; the cache keeps both."""
    return value, datetime.now(timezone.utc)


def _shown(stamped: tuple[Any, datetime | None]) -> Any:
    """Tell the sidebar how old the data this run draws is; return the data."""
    value, at = stamped
    status.note(at)
    return value


@st.cache_data(ttl=120, max_entries=2000, show_spinner=False)
def _cached_get(base_url: str, path: str, params: tuple, bucket: int, _token: str) -> tuple[Any, datetime]:
    """Shared GET: the key leaves out the token so viewers never multiply backend requests."""
    return _stamped(connect(base_url).client.get(path, _token, dict(params)))


@st.cache_data(ttl=120, max_entries=2000, show_spinner=False)
def _cached_page(base_url: str, path: str, params: tuple, bucket: int, _token: str) -> tuple[Page, datetime]:
    """Shared paginated GET (rows plus X-Total-Count)."""
    return _stamped(connect(base_url).client.get_page(path, _token, dict(params)))


def fetch(backend: Backend, token: str, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET through the shared cache; raises ApiError for the page to show."""
    key = tuple(sorted((params or {}).items()))
    return _shown(_cached_get(backend.base_url, path, key, _bucket(refresh_seconds()), token))


def fetch_page(backend: Backend, token: str, path: str, params: dict[str, Any] | None = None) -> Page:
    """Paginated GET through the shared cache."""
    key = tuple(sorted((params or {}).items()))
    return _shown(_cached_page(backend.base_url, path, key, _bucket(refresh_seconds()), token))


@st.cache_data(ttl=120, max_entries=100, show_spinner=False)
def _cached_optional(base_url: str, path: str, bucket: int, _token: str) -> Any:
    """Shared GET of a route the backend may not have; its absence is cached like an answer."""
    try:
        return connect(base_url).client.get(path, _token)
    except ApiError as exc:
        if exc.status_code in (404, 405):
            return None
        raise


def fetch_optional(backend: Backend, token: str, path: str) -> Any:
    """GET a route that may not exist on this backend: None when it does not (a control's state, not data)."""
    return _cached_optional(backend.base_url, path, _bucket(max(30, refresh_seconds())), token)


def section(backend: Backend, token: str, name: str, params: dict[str, Any] | None = None) -> Any:
    """A snapshot section when live, else the matching REST route (polling)."""
    live_value = backend.live.section(name)
    if live_value is not None and not params:
        return _shown((live_value, backend.live.current_as_of()))
    return fetch(backend, token, f"/api/monitoring/{name}", params)


def reporter_address(api_url: str, page_url: str | None, port: int) -> str:
    """Where reporters send events: DTMON_API_URL when set, else this server as the browser reached it."""
    if api_url:
        return api_url.rstrip("/")
    page = urlsplit(page_url or "")
    return f"{page.scheme}://{page.netloc}" if page.scheme and page.netloc else f"http://<this server>:{port}"


def agent_command() -> str:
    """The host-agent command for this server, as inline markdown code for empty-state hints."""
    address = reporter_address(Settings.from_env().api_url, st.context.url, st.get_option("server.port"))
    return f"`DTMON_URL={address} DTMON_TOKEN=<ingest token> dtmon-reporter agent`"


def load(loader, *args: Any, **kwargs: Any) -> Any:
    """Run a fetch; on failure show the backend's message (never a traceback) and stop the page."""
    try:
        value = loader(*args, **kwargs)
    except ApiError as exc:
        st.error(f"The backend could not answer: {exc.message}")
        status.redraw()  # the sidebar says so too before the page stops
        st.stop()
    if loader not in (fetch, fetch_page, section):
        status.note(datetime.now(timezone.utc))  # an uncached call (client.get): the answer is from now
    return value


@st.cache_data(ttl=120, max_entries=1000, show_spinner=False)
def _cached_me(base_url: str, token: str, bucket: int) -> dict[str, Any]:
    """Who a token belongs to, checked at most every 15 s per token."""
    return connect(base_url).client.me(token)


def whoami(backend: Backend, token: str) -> dict[str, Any]:
    """The viewer's identity; raises ApiError(401) once the token is revoked or expired."""
    return _cached_me(backend.base_url, token, _bucket(15))


@st.cache_data(ttl=120, max_entries=50, show_spinner=False)
def _cached_health(base_url: str, bucket: int) -> dict[str, Any]:
    """Unauthenticated health probe, shared by every session."""
    return connect(base_url).client.health()


def backend_status(backend: Backend) -> tuple[bool, str]:
    """(ok, text) for the sidebar; no request while the live socket proves the backend is up."""
    if backend.live.is_live():
        return True, "Backend connected"
    try:
        health = _cached_health(backend.base_url, _bucket(refresh_seconds()))
    except ApiError as exc:
        return False, exc.message
    return True, f"Backend OK (version {health.get('version', '?')})"
