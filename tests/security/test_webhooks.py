"""Webhooks: keys hidden from readers, public targets only, failures that say nothing about ports;
a rule that cannot be evaluated never stops the others."""

import asyncio
import logging
import socket
from datetime import datetime

from backend.alerts import AlertEvaluator
from backend.webhooks import NO_RESPONSE, WebhookDispatcher, redact
from storage import alerts as alert_store
from support import bearer

SECRET_URL = "http://hook-user:s3cret@127.0.0.1:9/services/T0/B0/KEY?token=abc"
RULE = {"name": "pile-up", "metric": "pending_tasks", "comparison": ">", "threshold": 1, "for_seconds": 0,
        "severity": "warning", "scope_kind": "all"}


def create(client, **fields):
    return client.post("/api/alerts/rules", json={**RULE, **fields}, headers=bearer(client.admin_token))


def test_readers_see_where_a_webhook_points_never_its_keys(client):
    client.app.state.settings = client.app.state.settings.replace(webhook_allow_hosts="127.0.0.1")
    assert create(client, webhook_url=SECRET_URL).status_code == 201
    as_user = client.get("/api/alerts/rules", headers=bearer(client.user_token))
    hooked = [rule for rule in as_user.json() if rule["webhook_set"]]
    assert [rule["webhook_url"] for rule in hooked] == ["http://127.0.0.1:9/…"]
    assert "s3cret" not in as_user.text and "KEY" not in as_user.text and "abc" not in as_user.text
    as_admin = client.get("/api/alerts/rules", headers=bearer(client.admin_token)).json()
    assert SECRET_URL in [rule["webhook_url"] for rule in as_admin]


PRIVATE_TARGETS = ["http://127.0.0.1:8051/api/health", "http://localhost/", "http://[::1]/",
                   "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/", "http://192.168.0.1/",
                   "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://no-such-host.invalid/"]


def test_private_loopback_and_link_local_targets_are_refused(client):
    for url in PRIVATE_TARGETS:
        response = create(client, webhook_url=url)
        assert response.status_code == 400, url
        assert response.json()["detail"].startswith("webhook_url:")


def test_the_allow_setting_names_hosts(client):
    client.app.state.settings = client.app.state.settings.replace(webhook_allow_hosts="localhost, 10.1.2.3")
    assert create(client, webhook_url="http://localhost:9000/hook").status_code == 201
    assert create(client, webhook_url="http://10.1.2.3/hook").status_code == 201
    assert create(client, webhook_url="http://127.0.0.1/hook").status_code == 400


def test_redaction():
    assert redact("https://hooks.example.com/services/T0/B0/XYZ") == "https://hooks.example.com/…"
    assert redact("https://user:pw@example.com") == "https://example.com/…"
    assert redact("https://example.com:8443/") == "https://example.com:8443"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deliveries_to(store, urls, allowed):
    async def scenario():
        dispatcher = WebhookDispatcher(store, timeout_s=0.5, attempts=1, allowed=allowed)
        for url in urls:
            dispatcher.submit(url, {"event": "firing", "alert": {"id": 1, "rule_id": 1}})
        await dispatcher.drain()
        await dispatcher.close()
    asyncio.run(scenario())
    return store.read_sync(alert_store.list_deliveries)


def test_delivery_rechecks_the_target_and_refuses_private_addresses(client):
    store = client.app.state.store
    [delivery] = deliveries_to(store, [f"http://127.0.0.1:{closed_port()}/x"], frozenset())
    assert delivery["ok"] is False and delivery["attempts"] == 0 and delivery["error"].startswith("refused:")


def test_failures_read_the_same_for_every_port_and_log_no_secret(client, caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # answers the connection, never the request
    urls = [f"http://user:s3cret@127.0.0.1:{closed_port()}/k/SECRET", f"http://127.0.0.1:{silent.getsockname()[1]}/k"]
    with caplog.at_level(logging.WARNING, logger="backend.webhooks"):
        deliveries = deliveries_to(client.app.state.store, urls, frozenset({"127.0.0.1"}))
    silent.close()
    assert [item["error"] for item in deliveries] == [NO_RESPONSE, NO_RESPONSE]
    assert all(item["url"].endswith("/…") for item in deliveries)
    assert "s3cret" not in caplog.text and "SECRET" not in caplog.text and "127.0.0.1" in caplog.text


def test_out_of_range_rule_numbers_are_refused(client):
    for field, value in [("for_seconds", 1e300), ("window_seconds", 1e300), ("threshold", 1e300), ("for_seconds", -1)]:
        response = create(client, **{field: value})
        assert response.status_code == 400 and response.json()["detail"].startswith(f"{field}:"), field


def test_one_bad_stored_rule_never_stops_the_others(client):
    store = client.app.state.store
    bad = {**RULE, "name": "stored before the limits", "for_seconds": 1e300, "window_seconds": 1e300,
           "metric": "cluster_success_rate", "comparison": "<", "threshold": 101}
    store.write_sync(lambda con: alert_store.insert_rule(con, bad))
    store.write_sync(lambda con: con.execute("INSERT INTO tasks (task_id, status) VALUES ('p1', 'pending'), "
                                             "('p2', 'pending')"))
    good = create(client, name="good rule").json()
    fired = asyncio.run(AlertEvaluator(store).tick(datetime(2026, 1, 1)))
    assert good["id"] in [item.rule["id"] for item in fired]
