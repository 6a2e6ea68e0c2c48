"""Every route but /api/health needs a token (401) and the right role (403); logins and tokens."""

import re

import pytest
from litestar.testing import TestClient

from backend.app import create_app
from support import bearer

PUBLIC = {("GET", "/api/health"), ("POST", "/api/auth/login"), ("POST", "/api/auth/session"),
          ("POST", "/api/auth/session/end"), ("POST", "/api/auth/oidc")}
ANY_ROLE = {("POST", "/api/auth/logout"), ("GET", "/api/auth/me"), ("POST", "/api/auth/password")}
INGEST = {("POST", "/api/ingest"), ("POST", "/api/results/junit"), ("GET", "/api/runner/plan")}
ADMIN_PREFIXES = ("/api/auth/tokens", "/api/auth/users", "/api/auth/sessions", "/api/demo", "/api/admin")
ADMIN_EXACT = {("POST", "/api/sql"), ("POST", "/api/tests/quarantine"), ("POST", "/api/tests/quarantine/release"),
               ("PUT", "/api/workers/x/drain"), ("DELETE", "/api/workers/x/drain"),
               ("PUT", "/api/benchmarks/changes/triage")}
ADMIN_WRITES = ("/api/alerts/rules", "/api/layout/default")


def needed_role(method: str, path: str) -> str:
    """The documented role table (docs/API.md): admin > user (read) ; ingest writes events."""
    if (method, path) in PUBLIC:
        return "public"
    if (method, path) in ANY_ROLE or path.startswith("/api/schema"):
        return "any"
    if (method, path) in ADMIN_EXACT:
        return "admin"
    if (method, path) in INGEST:
        return "ingest"
    if path.startswith(ADMIN_PREFIXES) or (path.startswith(ADMIN_WRITES) and method != "GET"):
        return "admin"
    return "user"


def http_routes(app):
    for route in app.routes:
        methods = getattr(route, "methods", None) or set(route.route_handler.opt.get("http_methods", ()))
        for method in sorted(methods - {"OPTIONS", "HEAD"}):
            path = re.sub(r"\{(\w+):int\}", "1", route.path)
            path = re.sub(r"\{(\w+):\w+\}", "x", path)
            yield method, path


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    from support import attach_tokens, make_settings
    settings = make_settings(tmp_path_factory.mktemp("auth"))
    with TestClient(create_app(settings)) as client:
        attach_tokens(client, client)
        yield client


def routes():
    from backend.settings import Settings
    return sorted(set(http_routes(create_app(Settings(db=":memory:")))))


@pytest.mark.parametrize("method, path", routes())
def test_route_needs_token_and_role(tokens, method, path):
    role = needed_role(method, path)
    if role == "public":
        return
    assert tokens.request(method, path).status_code == 401, "no token must be refused"
    assert tokens.request(method, path, headers=bearer("not-a-token")).status_code == 401
    wrong = {"user": tokens.ingest_token, "ingest": tokens.user_token, "admin": tokens.user_token}.get(role)
    if wrong:
        assert tokens.request(method, path, headers=bearer(wrong)).status_code == 403


def test_every_route_is_in_the_table():
    listed = routes()
    assert ("GET", "/api/monitoring/cluster") in listed and ("POST", "/api/ingest") in listed
    assert all(needed_role(m, p) in {"public", "any", "user", "ingest", "admin"} for m, p in listed)


def test_sockets_refuse_without_token_or_with_wrong_role(tokens):
    from litestar.exceptions import WebSocketDisconnect
    for path, wrong in [("/api/ws/monitoring", tokens.ingest_token), ("/api/ws/ingest", tokens.user_token)]:
        with tokens.websocket_connect(path) as ws:
            ws.send_json({"type": "auth", "token": "nope"})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json(timeout=5)
            assert closed.value.code == 4401
        with pytest.raises(WebSocketDisconnect):
            with tokens.websocket_connect(path, headers=bearer(wrong)) as ws:
                ws.receive_json(timeout=5)


def test_login_logout_and_throttle(client):
    bad = {"username": "admin", "password": "wrong-password"}
    assert client.post("/api/auth/login", json=bad).status_code == 401
    login = client.post("/api/auth/login", json={"username": "admin", "password": client.admin_password}).json()
    assert login["role"] == "admin" and login["expires_at"].endswith("Z")
    me = client.get("/api/auth/me", headers=bearer(login["token"])).json()
    assert me == {"name": "admin", "role": "admin", "kind": "session"}
    assert client.post("/api/auth/logout", headers=bearer(login["token"])).json() == {"revoked": 1}
    assert client.get("/api/auth/me", headers=bearer(login["token"])).status_code == 401
    codes = [client.post("/api/auth/login", json=bad).status_code for _ in range(6)]
    assert codes[-1] == 429


def test_admin_manages_tokens_and_users(client):
    admin = bearer(client.admin_token)
    created = client.post("/api/auth/tokens", json={"role": "user", "name": "grafana"}, headers=admin).json()
    assert client.get("/api/monitoring/cluster", headers=bearer(created["token"])).status_code == 200
    listed = client.get("/api/auth/tokens", headers=admin).json()
    assert "grafana" in [t["name"] for t in listed] and all("token" not in t for t in listed)
    assert client.delete(f"/api/auth/tokens/{created['token_id']}", headers=admin).status_code == 200
    assert client.get("/api/monitoring/cluster", headers=bearer(created["token"])).status_code == 401
    user = {"username": "alice", "password": "alice-password", "role": "user"}
    assert client.post("/api/auth/users", json=user, headers=admin).status_code == 201
    assert client.post("/api/auth/users", json=user, headers=admin).status_code == 409
    short = client.post("/api/auth/users", json=user | {"username": "bob", "password": "x"}, headers=admin)
    assert short.status_code == 400 and "password" in short.text
    alice = client.post("/api/auth/login", json={"username": "alice", "password": "alice-password"}).json()
    assert alice["role"] == "user"


def test_first_start_without_password_generates_one(tmp_path, capsys):
    from backend.settings import Settings
    with TestClient(create_app(Settings(db=str(tmp_path / "x.duckdb")))) as client:
        printed = capsys.readouterr().err
        password = re.search(r"password: (\S+)", printed).group(1)
        assert client.post("/api/auth/login", json={"username": "admin", "password": password}).status_code == 200
    with TestClient(create_app(Settings(db=str(tmp_path / "x.duckdb")))):
        assert "password:" not in capsys.readouterr().err
