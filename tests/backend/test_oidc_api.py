"""Single sign-on against a real OpenID Connect provider: role mapping, forged and foreign tokens."""

import pytest
from litestar.testing import TestClient

from backend.app import create_app
from support import bearer
from tests.oidc_provider import CLIENT_ID, GROUPS, id_token, oidc_provider


@pytest.fixture(scope="module")
def provider():
    with oidc_provider() as url:
        yield url


@pytest.fixture
def sso_client(settings, provider):
    mapping = {name[len("DTMON_"):].lower(): value for name, value in GROUPS.items()}
    configured = settings.replace(oidc_metadata_url=f"{provider}/.well-known/openid-configuration",
                                  oidc_client_id=CLIENT_ID, **mapping)
    with TestClient(create_app(configured)) as client:
        yield client


def test_groups_decide_the_role_and_the_session_works(sso_client, provider):
    alice = sso_client.post("/api/auth/oidc", json={"id_token": id_token(provider, "alice")})
    assert alice.status_code == 200 and alice.json()["role"] == "admin"
    assert alice.json()["name"] == "sso:alice@example.com"
    me = sso_client.get("/api/auth/me", headers=bearer(alice.json()["token"])).json()
    assert me == {"name": "sso:alice@example.com", "role": "admin", "kind": "session"}
    bob = sso_client.post("/api/auth/oidc", json={"id_token": id_token(provider, "bob")}).json()
    assert bob["role"] == "user"
    assert sso_client.get("/api/auth/users", headers=bearer(bob["token"])).status_code == 403
    eve = sso_client.post("/api/auth/oidc", json={"id_token": id_token(provider, "eve")})
    assert eve.status_code == 403 and "not in a group allowed" in eve.text


def test_forged_foreign_and_password_attempts_are_refused(sso_client, provider):
    token = id_token(provider, "alice")
    header, payload, signature = token.split(".")
    forged = sso_client.post("/api/auth/oidc", json={"id_token": f"{header}.{payload}.{signature[::-1]}"})
    assert forged.status_code == 401 and "id_token" in forged.text
    foreign = sso_client.post("/api/auth/oidc", json={"id_token": id_token(provider, "alice", "another-app")})
    assert foreign.status_code == 401 and "aud" in foreign.text
    garbage = sso_client.post("/api/auth/oidc", json={"id_token": "not-a-jwt"})
    assert garbage.status_code == 401
    sso_client.post("/api/auth/oidc", json={"id_token": token}).raise_for_status()
    password = sso_client.post("/api/auth/login", json={"username": "sso:alice@example.com", "password": "!sso"})
    assert password.status_code == 401  # an SSO account has no password
    local = {"username": "admin", "password": sso_client.app.state.settings.admin_password}
    assert sso_client.post("/api/auth/login", json=local).status_code == 200


def test_without_oidc_settings_nothing_changes(client):
    answer = client.post("/api/auth/oidc", json={"id_token": "x.y.z"})
    assert answer.status_code == 404 and "not configured" in answer.text
