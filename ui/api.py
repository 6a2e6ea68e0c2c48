"""HTTP client for the backend's REST API: the only way the dashboard reads data (never DuckDB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class ApiError(Exception):
    """A failed API call, carrying a message fit to show the viewer instead of a traceback."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Page:
    """One page of a server-side paginated list and the total the server counted."""

    rows: list[dict[str, Any]]
    total: int


class ApiClient:
    """Thin, thread-safe wrapper over httpx that turns failures into ApiError."""

    def __init__(self, base_url: str, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()

    def health(self) -> dict[str, Any]:
        """Unauthenticated liveness probe used for the sidebar's backend status."""
        return self._call("GET", "/api/health")

    def login(self, username: str, password: str, forwarded_for: str | None = None) -> dict[str, Any]:
        """Exchange credentials for {"token", "role", "expires_at"}, naming the browser's address
        (the backend believes it only when DTMON_TRUSTED_PROXIES lists this dashboard)."""
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        return self._call("POST", "/api/auth/login", json={"username": username, "password": password},
                          headers=headers)

    def sso_login(self, id_token: str) -> dict[str, Any]:
        """Exchange a single sign-on ID token for {"token", "role", "name", "expires_at"}."""
        return self._call("POST", "/api/auth/oidc", json={"id_token": id_token})

    def logout(self, token: str) -> None:
        """Revoke the session token on the server."""
        self._call("POST", "/api/auth/logout", token=token)

    def me(self, token: str) -> dict[str, Any]:
        """Who the token belongs to: {"name", "role", "kind"}; raises ApiError(401) when revoked."""
        return self._call("GET", "/api/auth/me", token=token)

    def get(self, path: str, token: str, params: dict[str, Any] | None = None) -> Any:
        """GET one JSON document from a read route."""
        return self._call("GET", path, token=token, params=_clean(params))

    def get_page(self, path: str, token: str, params: dict[str, Any] | None = None) -> Page:
        """GET a paginated list; the total comes from the X-Total-Count header."""
        response = self._send("GET", path, token=token, params=_clean(params))
        rows = response.json()
        return Page(rows, int(response.headers.get("x-total-count", len(rows))))

    def post(self, path: str, token: str, body: dict[str, Any] | None = None, timeout: float = 120.0) -> Any:
        """POST a JSON body to an action route; actions (starting a demo cluster) may take a while."""
        return self._call("POST", path, token=token, json=body or {}, timeout=timeout)

    def action(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        """PUT, PATCH or DELETE (and POST) on an admin route, with an optional JSON body."""
        return self._call(method, path, token=token, **({"json": body} if body is not None else {}))

    def _call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """Send and decode JSON; empty bodies decode to None."""
        response = self._send(method, path, token=token, **kwargs)
        return response.json() if response.content else None

    def _send(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """Send one request, mapping transport and HTTP errors to ApiError."""
        headers = kwargs.pop("headers", {}) | ({"Authorization": f"Bearer {token}"} if token else {})
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"Backend unreachable at {self.base_url}: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            raise ApiError(_detail(response), response.status_code)
        return response


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset filters so the server applies its defaults."""
    if not params:
        return None
    return {k: v for k, v in params.items() if v not in (None, "", "all", [])}


def _detail(response: httpx.Response) -> str:
    """The server's error detail, or the status line when the body is not our JSON."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return f"{response.status_code}: {detail or response.reason_phrase}"
