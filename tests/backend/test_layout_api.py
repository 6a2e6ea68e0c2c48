"""Layouts over the real app: own layout per user, the admin default, reset, validation, restarts."""

from litestar.testing import TestClient

from backend.app import create_app
from support import bearer, login

MINE = {"overview": ["alerts", "health"], "worker_columns": ["id", "health", "cpu"],
        "task_columns": ["id", "status", "error"]}


def sign_in(client, username: str, password: str = "password-of-8+") -> str:
    """A session token for a new user account."""
    client.post("/api/auth/users", json={"username": username, "password": password, "role": "user"},
                headers=bearer(client.admin_token)).raise_for_status()
    answer = client.post("/api/auth/login", json={"username": username, "password": password})
    return answer.raise_for_status().json()["token"]


def test_own_layout_default_and_reset(client):
    alice, bob = sign_in(client, "alice"), sign_in(client, "bob")
    built_in = client.get("/api/layout", headers=bearer(alice)).json()
    assert built_in["source"] == "built-in" and built_in["layout"]["overview"][0] == "health"
    assert "hardware" in built_in["choices"]["overview"]

    saved = client.put("/api/layout", json=MINE, headers=bearer(alice))
    assert saved.status_code == 200 and saved.json() == {**built_in, "layout": MINE, "source": "own"}
    assert client.get("/api/layout", headers=bearer(bob)).json()["source"] == "built-in"

    everyone = {**MINE, "overview": ["hardware", "health"]}
    assert client.put("/api/layout/default", json=everyone, headers=bearer(bob)).status_code == 403
    assert client.put("/api/layout/default", json=everyone, headers=bearer(client.admin_token)).status_code == 200
    assert client.get("/api/layout", headers=bearer(bob)).json()["layout"] == everyone
    assert client.get("/api/layout", headers=bearer(alice)).json()["layout"] == MINE

    reset = client.delete("/api/layout", headers=bearer(alice)).json()
    assert reset["source"] == "default" and reset["layout"] == everyone
    client.delete("/api/layout/default", headers=bearer(client.admin_token)).raise_for_status()
    assert client.get("/api/layout", headers=bearer(alice)).json()["source"] == "built-in"


def test_bad_layouts_name_the_field(client):
    token = client.admin_token
    unknown = client.put("/api/layout", json={**MINE, "overview": ["health", "weather"]}, headers=bearer(token))
    assert unknown.status_code == 400 and "overview" in unknown.text
    twice = client.put("/api/layout", json={**MINE, "worker_columns": ["id", "cpu", "cpu"]}, headers=bearer(token))
    assert twice.status_code == 400 and "worker_columns: cpu listed more than once" in twice.text
    no_id = client.put("/api/layout", json={**MINE, "task_columns": ["status"]}, headers=bearer(token))
    assert no_id.status_code == 400 and "task_columns: must include id" in no_id.text
    assert client.get("/api/layout", headers=bearer(token)).json()["source"] == "built-in"


def test_tokens_and_roles(client):
    assert client.get("/api/layout").status_code == 401
    assert client.get("/api/layout", headers=bearer(client.ingest_token)).status_code == 403
    api_token = client.get("/api/layout", headers=bearer(client.user_token))
    assert api_token.status_code == 200 and api_token.json()["source"] == "built-in"
    assert client.put("/api/layout", json=MINE, headers=bearer(client.user_token)).status_code == 403


def test_a_saved_layout_survives_sign_out_and_restart(settings):
    with TestClient(create_app(settings)) as client:
        token = login(client)
        client.put("/api/layout", json=MINE, headers=bearer(token)).raise_for_status()
        client.post("/api/auth/logout", headers=bearer(token)).raise_for_status()
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/layout", headers=bearer(login(client))).json()["layout"] == MINE
