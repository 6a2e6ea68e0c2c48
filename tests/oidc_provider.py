"""A real OpenID Connect provider for tests (oidc-provider-mock) with users whose groups map to roles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlparse

import httpx
from oidc_provider_mock import User, run_server_in_thread

CLIENT_ID = "dtmon-dashboard"
USERS = [
    User(sub="alice", claims={"email": "alice@example.com", "groups": ["dtmon-admins", "staff"]}),
    User(sub="bob", claims={"email": "bob@example.com", "groups": ["staff"]}),
    User(sub="eve", claims={"email": "eve@example.com", "groups": ["visitors"]}),
]
GROUPS = {"DTMON_OIDC_ROLE_CLAIM": "groups", "DTMON_OIDC_ADMIN_VALUES": "dtmon-admins",
          "DTMON_OIDC_USER_VALUES": "staff"}


@contextmanager
def oidc_provider() -> Iterator[str]:
    """The provider's base URL (http://localhost:PORT) while it runs."""
    with run_server_in_thread(port=0, user_claims=USERS) as server:
        yield f"http://localhost:{server.server_port}"


def id_token(provider: str, sub: str, client_id: str = CLIENT_ID) -> str:
    """An ID token through the authorization code flow, the way a browser sign-in gets one."""
    callback = "http://localhost/oauth2callback"
    with httpx.Client(base_url=provider, timeout=10) as http:
        params = {"client_id": client_id, "redirect_uri": callback, "response_type": "code",
                  "scope": "openid email profile", "state": "s", "nonce": "n"}
        consent = http.post("/oauth2/authorize", params=params, data={"sub": sub})
        code = parse_qs(urlparse(consent.headers["location"]).query)["code"][0]
        token = http.post("/oauth2/token", auth=(client_id, "secret"),
                          data={"grant_type": "authorization_code", "code": code, "redirect_uri": callback})
        return token.raise_for_status().json()["id_token"]
