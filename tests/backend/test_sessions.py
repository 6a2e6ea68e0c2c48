"""Sign-in under attack, the dashboard's session cookie, and accounts/sessions managed by an admin."""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from backend import signin
from backend.app import create_app
from backend.auth import MAX_CACHED, REDACT_TOKENS
from backend.clients import undo_loopback_forwarding
from support import ADMIN_PASSWORD, LiveBackend, attach_tokens, bearer, make_settings

FORM = {"username": "admin", "password": ADMIN_PASSWORD, "next": "/workers"}


def login(http, username="admin", password=ADMIN_PASSWORD, **headers):
    return http.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)


def add_user(client, name="alice", role="user"):
    body = {"username": name, "password": f"{name}-password", "role": role}
    assert client.post("/api/auth/users", json=body, headers=bearer(client.admin_token)).status_code == 201
    return login(client, name, f"{name}-password").json()["token"]


def test_failures_are_counted_before_the_slow_check(client):
    with ThreadPoolExecutor(10) as pool:
        codes = sorted(pool.map(lambda _: login(client, password="wrong-password").status_code, range(10)))
    assert codes == [401] * 5 + [429] * 5
    assert login(client, "alice", "whatever1").status_code == 401, "another account is not locked"


def test_health_answers_while_passwords_are_checked(live_backend):
    with httpx.Client(base_url=live_backend.url, timeout=60) as http, ThreadPoolExecutor(8) as pool:
        logins = [pool.submit(login, http, f"nobody{i}", "wrong-password") for i in range(8)]
        assert http.get("/api/health").json()["status"] == "ok"
        assert not all(f.done() for f in logins), "health waited for the argon2 checks"
        assert {f.result().status_code for f in logins} == {401}


def test_unknown_names_are_checked_against_a_dummy_hash(client):
    before = signin.dummy_hash.cache_info()
    assert login(client, "no-such-user", "wrong-password").status_code == 401
    after = signin.dummy_hash.cache_info()
    assert after.hits + after.misses == before.hits + before.misses + 1


def test_many_addresses_slow_an_account_down_but_never_lock_it():
    throttle = signin.Throttle()
    delays = [throttle.admit("admin", f"10.0.0.{i}") for i in range(40)]
    assert delays[:10] == [0.0] * 10 and 0 < delays[10] < delays[20] == signin.MAX_DELAY


def test_forwarded_for_counts_only_from_trusted_proxies(tmp_path):
    for trusted, expected in (("", 429), ("127.0.0.1", 401)):
        backend = LiveBackend(make_settings(tmp_path / f"t{bool(trusted)}", trusted_proxies=trusted)).start()
        try:
            with httpx.Client(base_url=backend.url, timeout=60) as http:
                codes = [login(http, password="wrong-password", **{"X-Forwarded-For": f"10.0.0.{i}"}).status_code
                         for i in range(6)]
        finally:
            backend.stop()
        assert codes[-1] == expected, (trusted, codes)


def test_embedded_server_rewrite_of_a_loopback_peer_is_undone():
    forwarded = [(b"x-forwarded-for", b"10.9.9.9")]
    assert undo_loopback_forwarding({"client": ("10.9.9.9", 0), "headers": forwarded})["client"][0] == "127.0.0.1"
    direct = {"client": ("10.1.1.1", 5000), "headers": forwarded}
    assert undo_loopback_forwarding(direct) is direct


def test_failure_and_token_records_are_bounded(client):
    throttle = signin.Throttle()
    for i in range(signin.MAX_TRACKED + 50):
        throttle.admit("admin", f"client{i}")
    assert len(throttle.pairs) == len(throttle.clients) == signin.MAX_TRACKED
    auth = client.app.state.auth
    for _ in range(MAX_CACHED + 10):
        auth.identify(secrets.token_urlsafe(8))
    assert len(auth._cache) == MAX_CACHED


def test_a_bad_trusted_proxies_setting_names_the_variable():
    from backend.settings import Settings
    with pytest.raises(ValueError, match="DTMON_TRUSTED_PROXIES"):
        Settings.from_env({"DTMON_TRUSTED_PROXIES": "10.0.0.0/8, not-an-address"})


def test_socket_tokens_in_the_url_are_refused_and_never_logged(client):
    with client.websocket_connect(f"/api/ws/monitoring?token={client.user_token}") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=5)
    assert closed.value.code == 4401
    assert REDACT_TOKENS in logging.getLogger("uvicorn.access").filters
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/api/ws/monitoring?a=1&token=s3cret", "1.1", 101), None)
    REDACT_TOKENS.filter(record)
    assert "s3cret" not in record.getMessage() and "token=[redacted]" in record.getMessage()


def test_a_revoked_tokens_open_socket_is_closed(client):
    admin = bearer(client.admin_token)
    created = client.post("/api/auth/tokens", json={"role": "user", "name": "wall screen"}, headers=admin).json()
    with client.websocket_connect("/api/ws/monitoring", headers=bearer(created["token"])) as ws:
        ws.send_json({"type": "subscribe_to_monitoring"})
        assert ws.receive_json(timeout=10)["type"] == "monitoring_update"
        assert client.delete(f"/api/auth/tokens/{created['token_id']}", headers=admin).status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json(timeout=10)
    assert closed.value.code == 4401


def test_session_cookie_sign_in_and_out(client):
    answer = client.post("/api/auth/session", data=FORM, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/workers"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    assert "Secure" not in cookie
    token = answer.cookies["dtmon_session"]
    assert token not in answer.headers["location"] and token not in answer.text
    assert client.get("/api/auth/me", headers=bearer(token)).json()["kind"] == "session"
    out = client.post("/api/auth/session/end", data={"next": "/workers"}, follow_redirects=False)
    assert out.status_code == 303 and 'dtmon_session=""' in out.headers["set-cookie"]
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_session_form_refusals(client):
    wrong = client.post("/api/auth/session", data=FORM | {"password": "wrong-password", "next": "//evil.example"},
                        follow_redirects=False)
    assert wrong.headers["location"] == "/?signin=failed" and "set-cookie" not in wrong.headers
    cross = client.post("/api/auth/session", data=FORM, headers={"Sec-Fetch-Site": "cross-site"},
                        follow_redirects=False)
    assert cross.status_code == 403 and "set-cookie" not in cross.headers


def test_session_cookie_is_secure_over_https(settings):
    with TestClient(create_app(settings), base_url="https://dashboard.example") as client:
        answer = client.post("/api/auth/session", data=FORM, follow_redirects=False)
        assert "Secure" in answer.headers["set-cookie"]


def test_own_password_change_ends_other_sessions(client):
    first, second = add_user(client), login(client, "alice", "alice-password").json()["token"]
    change = {"current_password": "wrong-password", "new_password": "alice-new-password"}
    assert client.post("/api/auth/password", json=change, headers=bearer(first)).status_code == 401
    change["current_password"] = "alice-password"
    answer = client.post("/api/auth/password", json=change, headers=bearer(first))
    assert answer.json() == {"username": "alice", "sessions_ended": 1}
    assert client.get("/api/auth/me", headers=bearer(first)).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(second)).status_code == 401
    assert login(client, "alice", "alice-new-password").status_code == 200
    short = client.post("/api/auth/password", json=change | {"new_password": "x"}, headers=bearer(first))
    assert short.status_code == 400 and "new_password" in short.text
    assert client.post("/api/auth/password", json=change, headers=bearer(client.user_token)).status_code == 403


def test_admin_resets_disables_deletes_and_ends_sessions(client):
    admin = bearer(client.admin_token)
    alice = add_user(client)
    listed = client.get("/api/auth/sessions", params={"username": "alice"}, headers=admin).json()
    assert [s["username"] for s in listed] == ["alice"]
    assert client.delete(f"/api/auth/sessions/{listed[0]['token_id']}", headers=admin).json() == {"ended": 1}
    assert client.get("/api/auth/me", headers=bearer(alice)).status_code == 401
    alice = login(client, "alice", "alice-password").json()["token"]
    reset = client.put("/api/auth/users/alice/password", json={"password": "set-by-admin"}, headers=admin)
    assert reset.json()["sessions_ended"] == 1 and login(client, "alice", "set-by-admin").status_code == 200
    assert client.delete("/api/auth/users/alice/sessions", headers=admin).json()["sessions_ended"] == 1
    assert client.patch("/api/auth/users/alice", json={"disabled": True}, headers=admin).status_code == 200
    assert login(client, "alice", "set-by-admin").status_code == 403
    assert client.patch("/api/auth/users/alice", json={"disabled": False}, headers=admin).status_code == 200
    alice = login(client, "alice", "set-by-admin").json()["token"]
    assert client.delete("/api/auth/users/alice", headers=admin).json()["deleted"] is True
    assert client.get("/api/auth/me", headers=bearer(alice)).status_code == 401
    assert login(client, "alice", "set-by-admin").status_code == 401
    assert client.delete("/api/auth/users/alice", headers=admin).status_code == 404


def test_the_last_admin_cannot_be_disabled_or_deleted(client):
    admin = bearer(client.admin_token)
    assert client.patch("/api/auth/users/admin", json={"disabled": True}, headers=admin).status_code == 409
    assert client.delete("/api/auth/users/admin", headers=admin).status_code == 409
    assert client.get("/api/auth/me", headers=admin).status_code == 200


def test_cli_says_how_to_change_a_password_while_the_server_runs(client, settings, capsys):
    import subprocess
    import sys
    from backend.app import announce_admin_password
    done = subprocess.run([sys.executable, "-m", "backend", "users", "passwd", "admin", "--db", settings.db],
                          input="a-new-long-password\n", capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "PUT /api/auth/users/NAME/password" in done.stderr
    assert "sidebar > Account" in done.stderr
    announce_admin_password("p")
    assert "sidebar (Account)" in capsys.readouterr().err
