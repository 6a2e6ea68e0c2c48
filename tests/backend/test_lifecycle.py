"""Worker lifecycle through the real app: a clean leave is `stopped` and never alerts, silence is
`offline` and alerts, an admin's removal hides the worker from the live views, resolves its alerts
and keeps its history."""

import time

import pytest

from support import bearer


def send(client, *events):
    response = client.post("/api/ingest", json={"events": list(events)}, headers=bearer(client.ingest_token))
    assert response.status_code == 200, response.text


def beat(worker_id, ts, cpu=20.0):
    return {"kind": "worker_heartbeat", "worker_id": worker_id, "ts": ts, "cpu_percent": cpu,
            "memory_used_gb": 2.0, "memory_total_gb": 8.0}


def get(client, path, **params):
    response = client.get(path, params=params, headers=bearer(client.admin_token))
    assert response.status_code == 200, response.text
    return response.json()


def workers(client, **params):
    return {w["id"]: w for w in get(client, "/api/monitoring/workers", **params)}


def firing(client):
    return {a["scope"]: a for a in get(client, "/api/alerts", state="firing")}


@pytest.fixture
def fleet(client, settings):
    """`leaver` said goodbye, `crashed` went silent past the offline threshold, `steady` is fine;
    the offline rule fires at once so one evaluation shows who alerts."""
    now, silent = time.time(), time.time() - settings.offline_after - 5
    rules = get(client, "/api/alerts/rules")
    offline_rule = next(r for r in rules if r["metric"] == "worker_offline")
    client.patch(f"/api/alerts/rules/{offline_rule['id']}", json={"for_seconds": 0},
                 headers=bearer(client.admin_token)).raise_for_status()
    send(client, beat("leaver", now - 1), {"kind": "worker_offline", "worker_id": "leaver", "ts": now},
         beat("crashed", silent, cpu=99.0), beat("steady", now),
         {"kind": "worker_register", "worker_id": "crashed", "ts": silent, "hardware": ["cuda"]})
    client.get("/api/monitoring/workers", headers=bearer(client.user_token))  # folds the heartbeats
    client.app.state.maintenance.stop.set()  # the test drives evaluations itself
    deadline = time.monotonic() + 10
    while workers(client)["crashed"]["status"] != "offline" and time.monotonic() < deadline:
        time.sleep(0.2)
    client.blocking_portal.call(client.app.state.maintenance.evaluate_alerts)
    return client


def test_clean_leave_is_stopped_and_silence_is_offline_with_an_alert(fleet):
    seen = workers(fleet)
    assert seen["leaver"]["status"] == "stopped" and seen["leaver"]["health"] == "unknown"
    assert seen["crashed"]["status"] == "offline" and seen["crashed"]["health"] == "critical"
    alerts = firing(fleet)
    assert "worker:crashed" in alerts and "worker:leaver" not in alerts
    assert alerts["worker:crashed"]["message"] == "crashed is offline"
    cluster = get(fleet, "/api/monitoring/cluster")
    assert (cluster["active_workers"], cluster["offline_workers"], cluster["stopped_workers"]) == (1, 1, 1)
    assert list(workers(fleet, status="stopped")) == ["leaver"]


def test_admin_removal_hides_the_worker_resolves_its_alerts_and_keeps_history(fleet):
    assert fleet.delete("/api/monitoring/workers/crashed", headers=bearer(fleet.user_token)).status_code == 403
    assert fleet.delete("/api/monitoring/workers/nobody", headers=bearer(fleet.admin_token)).status_code == 404
    removed = fleet.delete("/api/monitoring/workers/crashed", headers=bearer(fleet.admin_token))
    assert removed.status_code == 200, removed.text
    assert removed.json()["status"] == "removed" and removed.json()["removed_by"] == "admin"
    assert "worker:crashed" not in firing(fleet)  # resolved by the evaluation the removal ran
    resolved = [a for a in get(fleet, "/api/alerts", state="resolved") if a["scope"] == "worker:crashed"]
    assert resolved and resolved[0]["ended_at"]
    assert "crashed" not in workers(fleet)
    assert get(fleet, "/api/monitoring/cluster")["total_workers"] == 2
    assert "cuda" not in {h["type"] for h in get(fleet, "/api/monitoring/hardware")}
    assert "crashed" not in {n["id"] for n in get(fleet, "/api/monitoring/network")["nodes"]}
    assert list(workers(fleet, status="removed")) == ["crashed"]
    detail = get(fleet, "/api/monitoring/workers/crashed", range="1h")
    assert detail["worker"]["status"] == "removed" and detail["series"]
    rows = fleet.post("/api/sql", json={"sql": "SELECT count(*) AS n FROM worker_samples WHERE worker_id = 'crashed'"},
                      headers=bearer(fleet.admin_token)).json()["rows"]
    assert rows == [[1]]


def test_a_removed_worker_that_reports_again_comes_back(fleet):
    fleet.delete("/api/monitoring/workers/crashed", headers=bearer(fleet.admin_token)).raise_for_status()
    send(fleet, beat("crashed", time.time() - 3600))  # a late sample from before the removal changes nothing
    assert "crashed" not in workers(fleet)
    send(fleet, beat("crashed", time.time() + 1))
    assert workers(fleet)["crashed"]["status"] == "active"
