"""Alerts through the real app: rules CRUD (admin), the evaluator loop, ack, the live socket."""

import time

import pytest

from support import bearer, make_settings


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, alert_interval=0.2)


def ingest(client, *events):
    response = client.post("/api/ingest", json={"events": list(events)}, headers=bearer(client.ingest_token))
    assert response.status_code < 300, response.text


def wait_for(fetch, condition, seconds=20.0):
    """Poll until condition(fetch()) holds; returns the last value (no timing is asserted)."""
    deadline = time.monotonic() + seconds
    value = fetch()
    while not condition(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = fetch()
    return value


OFFLINE_RULE = {"name": "box gone", "metric": "worker_offline", "comparison": ">=", "threshold": 1,
                "for_seconds": 0, "severity": "critical", "scope_kind": "worker", "scope_value": "w<1>"}


def test_default_rules_ship_enabled(client):
    rules = client.get("/api/alerts/rules", headers=bearer(client.user_token)).json()
    assert {(rule["metric"], rule["comparison"], rule["threshold"], rule["for_seconds"]) for rule in rules} == {
        ("worker_offline", ">=", 1.0, 60.0), ("worker_cpu", ">", 95.0, 300.0),
        ("worker_memory", ">", 90.0, 300.0), ("cluster_success_rate", "<", 80.0, 0.0),
        ("suspect_worker", ">=", 1.0, 0.0), ("benchmark_regression", ">", 0.0, 0.0)}
    assert all(rule["enabled"] for rule in rules)


def test_rules_crud_is_admin_only_and_validated(client):
    admin, user = bearer(client.admin_token), bearer(client.user_token)
    assert client.post("/api/alerts/rules", json=OFFLINE_RULE, headers=user).status_code == 403
    bad = client.post("/api/alerts/rules", json={**OFFLINE_RULE, "metric": "nope"}, headers=admin)
    assert bad.status_code == 400 and "metric" in bad.json()["detail"]
    created = client.post("/api/alerts/rules", json=OFFLINE_RULE, headers=admin)
    assert created.status_code == 201
    rule_id = created.json()["id"]
    changed = client.patch(f"/api/alerts/rules/{rule_id}", json={"threshold": 2, "enabled": False}, headers=admin)
    assert changed.json()["threshold"] == 2.0 and changed.json()["enabled"] is False
    assert client.patch(f"/api/alerts/rules/{rule_id}", json={"comparison": "~"}, headers=admin).status_code == 400
    assert client.delete(f"/api/alerts/rules/{rule_id}", headers=user).status_code == 403
    assert client.delete(f"/api/alerts/rules/{rule_id}", headers=admin).status_code == 200
    assert client.delete(f"/api/alerts/rules/{rule_id}", headers=admin).status_code == 404


def test_alert_fires_is_pushed_acknowledged_and_resolves(client):
    admin, user = bearer(client.admin_token), bearer(client.user_token)
    client.post("/api/alerts/rules", json=OFFLINE_RULE, headers=admin).raise_for_status()
    silent_since = time.time() - 3600  # went quiet without a goodbye: offline, unlike a clean worker_offline
    ingest(client, {"kind": "worker_heartbeat", "worker_id": "w<1>", "cpu_percent": 5.0, "ts": silent_since})
    firing = wait_for(lambda: client.get("/api/alerts?state=firing", headers=user).json(), lambda rows: rows)
    assert [(row["rule_name"], row["scope"], row["state"]) for row in firing] == [("box gone", "worker:w<1>", "firing")]
    alert_id = firing[0]["id"]
    with client.websocket_connect("/api/ws/monitoring", headers=bearer(client.user_token)) as socket:
        socket.send_json({"type": "subscribe_to_monitoring"})
        pushed = None
        for _ in range(100):  # the full snapshot, then per-tick changes until the alert shows
            message = socket.receive_json(timeout=10)
            if message.get("alerts"):
                pushed = message["alerts"]
                break
    assert [(alert["id"], alert["severity"], alert["state"]) for alert in pushed] == [(alert_id, "critical", "firing")]
    acked = client.post(f"/api/alerts/{alert_id}/ack", headers=user)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] and acked.json()["acknowledged_at"]
    assert client.post("/api/alerts/999999/ack", headers=user).status_code == 404
    ingest(client, {"kind": "worker_heartbeat", "worker_id": "w<1>", "cpu_percent": 6.0})
    history = wait_for(lambda: client.get("/api/alerts", headers=user).json(),
                       lambda rows: rows and rows[0]["state"] == "resolved")
    assert history[0]["id"] == alert_id and history[0]["state"] == "resolved" and history[0]["ended_at"]


def test_meta_describes_the_rule_vocabulary(client):
    meta = client.get("/api/alerts/meta", headers=bearer(client.user_token)).json()
    assert set(meta["metrics"]) >= {"worker_cpu", "worker_memory", "worker_offline", "cluster_success_rate",
                                    "cluster_health", "pending_tasks", "task_failure_rate_by_type",
                                    "task_failure_rate_by_hardware"}
    assert meta["scopes"]["cluster_health"] == ["all"]
