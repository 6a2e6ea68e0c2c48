"""POST /api/ingest and /api/ws/ingest: every kind lands, bad batches are refused whole."""

import time

import pytest
from litestar.testing import TestClient

from backend.app import create_app
from backend.ingest import IngestService
from support import attach_tokens, bearer, make_settings

ALL_KINDS = [
    {"kind": "worker_register", "worker_id": "w1", "hostname": "box", "hardware": ["cpu", "cuda"],
     "capabilities": {"cuda_version": "12.4"}},
    {"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 33.5, "memory_used_gb": 3, "memory_total_gb": 12,
     "gpus": [{"name": "A100", "memory_used_gb": 1, "memory_total_gb": 40, "utilization": 50}], "rtt_ms": 1.5,
     "running_tasks": 1},
    {"kind": "task_submitted", "task_id": "t1", "type": "benchmark", "priority": 7, "requirements": ["CUDA"]},
    {"kind": "task_started", "task_id": "t1", "worker_id": "w1"},
    {"kind": "task_finished", "task_id": "t1", "worker_id": "w1", "status": "timed_out", "error": "timeout after 30 s",
     "duration_s": 30},
    {"kind": "link", "source": "w1", "target": "w2", "rtt_ms": 0.4, "bandwidth_bps": 1e9},
    {"kind": "worker_offline", "worker_id": "w2", "ts": "2026-01-01T00:00:00Z"},
]


def post(client, events, token=None):
    return client.post("/api/ingest", json={"events": events}, headers=bearer(token or client.ingest_token))


def read(client, path, **params):
    return client.get(path, params=params, headers=bearer(client.user_token))


def test_every_kind_is_visible(client):
    assert post(client, ALL_KINDS).json() == {"accepted": 7}
    worker = read(client, "/api/monitoring/workers/w1").json()["worker"]
    assert worker["capabilities"] == {"cuda_version": "12.4"}
    assert worker["gpus"][0]["name"] == "A100"
    assert worker["memory_percent"] == 25.0 and worker["rtt_ms"] == 1.5
    task = read(client, "/api/monitoring/tasks/t1").json()["task"]
    assert (task["status"], task["type"], task["priority"], task["requirements"]) == ("timed_out", "benchmark", 7, ["cuda"])
    assert read(client, "/api/monitoring/tasks", status="failed").headers["x-total-count"] == "1"
    w2 = read(client, "/api/monitoring/workers/w2").json()["worker"]
    assert w2["status"] == "stopped"  # worker_offline is a clean leave
    links = read(client, "/api/monitoring/network").json()["links"]
    assert {"source": "w1", "target": "w2"}.items() <= next(l for l in links if l["source"] == "w1").items()


def test_workers_sharing_a_host_keep_their_own_labels(client):
    post(client, [{"kind": "worker_register", "worker_id": f"vm:{port}", "hostname": "vm"} for port in (4001, 4002)])
    nodes = read(client, "/api/monitoring/network").json()["nodes"]
    assert {(n["label"], n.get("hostname")) for n in nodes if n["kind"] == "worker"} == {("vm:4001", "vm"),
                                                                                        ("vm:4002", "vm")}


@pytest.mark.parametrize("event, field", [
    ({"kind": "worker_heartbeat", "worker_id": "w9", "cpu_percent": "high"}, "cpu_percent"),
    ({"kind": "worker_heartbeat", "worker_id": "w9", "cpu_percent": 101}, "cpu_percent"),
    ({"kind": "task_started", "task_id": "t9"}, "worker_id"),
    ({"kind": "task_finished", "task_id": "t9", "status": "exploded"}, "status"),
    ({"kind": "teleport"}, "kind"),
    ({"kind": "link", "source": "a", "target": "b", "ts": "yesterday"}, "ts"),
    ({"kind": "worker_register", "worker_id": ""}, "worker_id"),
    ({"kind": "worker_heartbeat", "worker_id": "w9", "ts": 1_790_000_000_000}, "ts"),  # milliseconds
    ({"kind": "worker_heartbeat", "worker_id": "w9", "running_tasks": 2**31}, "running_tasks"),
    ({"kind": "task_submitted", "task_id": "t9", "priority": -2**31 - 1}, "priority"),
])
def test_bad_event_rejects_the_whole_batch(client, event, field):
    good = {"kind": "worker_heartbeat", "worker_id": "w-good", "cpu_percent": 5}
    response = post(client, [good, good | {"ts": time.time() - 1}, event])
    assert response.status_code == 422
    body = response.json()
    assert body["extra"] == {"index": 2, "field": field}
    assert f"events[2].{field}" in body["detail"]
    assert read(client, "/api/monitoring/workers").json() == []


def test_malformed_json_and_oversized_body(client, settings):
    response = client.post("/api/ingest", content=b"{not json", headers=bearer(client.ingest_token))
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]
    huge = b'{"events": [' + b" " * (settings.max_body_bytes + 10) + b"]}"
    assert client.post("/api/ingest", content=huge, headers=bearer(client.ingest_token)).status_code == 413


def test_task_ids_may_hold_slashes(client):
    node_id = "tests/unit/test_io.py::test_read[utf-8]"
    post(client, [{"kind": "task_submitted", "task_id": node_id}])
    response = read(client, f"/api/monitoring/tasks/{node_id}")
    assert response.status_code == 200 and response.json()["task"]["id"] == node_id


def test_task_and_sample_reads_see_a_commit_without_waiting_for_the_fold(client, monkeypatch):
    """Each commit writes tasks and samples whole; only `workers` waits for the fold."""
    folds = []

    async def fold_for_read():
        folds.append(True)
    monkeypatch.setattr(client.app.state.ingest, "fold_for_read", fold_for_read)
    post(client, [{"kind": "task_started", "task_id": "t9", "worker_id": "w9"},
                  {"kind": "worker_heartbeat", "worker_id": "w9", "cpu_percent": 41.0}])
    assert [t["status"] for t in read(client, "/api/monitoring/tasks", worker="w9").json()] == ["running"]
    assert read(client, "/api/monitoring/tasks/t9").json()["task"]["worker_id"] == "w9"
    points = read(client, "/api/monitoring/resources", range="1h").json()["points"]
    assert [p["cpu_max"] for p in points] == [41.0]
    assert folds == []
    read(client, "/api/monitoring/workers")
    assert folds == [True]


def test_duplicates_are_idempotent_and_unknown_workers_register(client):
    finish = {"kind": "task_finished", "task_id": "t1", "worker_id": "w7", "status": "completed", "ts": 1_790_000_000}
    post(client, [finish])
    post(client, [finish, finish | {"status": "failed", "ts": 1_790_000_005}])
    task = read(client, "/api/monitoring/tasks/t1").json()
    assert task["task"]["status"] == "completed"
    assert [e["kind"] for e in task["events"]] == ["task_finished", "task_finished"]  # the exact repeat dropped
    worker = read(client, "/api/monitoring/workers/w7").json()["worker"]
    assert worker["tasks_completed"] == 1 and worker["tasks_failed"] == 0


def test_ws_ingest_acks_each_batch(client):
    with client.websocket_connect("/api/ws/ingest", headers=bearer(client.ingest_token)) as ws:
        ws.send_json({"id": "b1", "events": [{"kind": "worker_heartbeat", "worker_id": "s1", "cpu_percent": 1}]})
        assert ws.receive_json(timeout=10) == {"type": "ack", "id": "b1", "accepted": 1}
        ws.send_json({"id": "b2", "events": [{"kind": "worker_heartbeat", "worker_id": "s1", "cpu_percent": -1}]})
        error = ws.receive_json(timeout=10)
        assert (error["type"], error["id"], error["index"], error["field"]) == ("error", "b2", 0, "cpu_percent")


def test_ws_ingest_first_message_auth(client):
    with client.websocket_connect("/api/ws/ingest") as ws:
        ws.send_json({"type": "auth", "token": client.ingest_token})
        ws.send_json({"id": 3, "events": []})
        assert ws.receive_json(timeout=10) == {"type": "ack", "id": 3, "accepted": 0}


def test_a_revoked_token_is_refused_on_its_next_request(client):
    """The token cache spares ingest a query per request; revoking clears it, so the refusal is immediate."""
    created = client.post("/api/auth/tokens", json={"role": "ingest", "name": "agent"},
                          headers=bearer(client.admin_token)).json()
    heartbeat = [{"kind": "worker_heartbeat", "worker_id": "w1"}]
    assert post(client, heartbeat, created["token"]).status_code == 200  # cached from here on
    client.delete(f"/api/auth/tokens/{created['token_id']}", headers=bearer(client.admin_token)).raise_for_status()
    refused = post(client, heartbeat, created["token"])
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_busy_reads_of_the_live_views_sections_share_one_recent_answer(tmp_path, monkeypatch):
    """Under load, cluster, hardware, network and resources reads share an answer at most 1.5 ticks old (the tick's,
    or the first reader's), so readers do not each scan the fleet; other parameters, or older, read."""
    with TestClient(create_app(make_settings(tmp_path, tick_interval=3600.0))) as client:
        attach_tokens(client, client)
        state = client.app.state
        monkeypatch.setattr(IngestService, "busy", True)
        post(client, [{"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 12.0}])
        first = read(client, "/api/monitoring/cluster").json()
        post(client, [{"kind": "worker_register", "worker_id": "w2", "hardware": ["cuda"]}])  # written whole
        assert read(client, "/api/monitoring/cluster").json() == first  # the first reader's answer, shared
        client.blocking_portal.call(state.maintenance.tick)  # busy, and read lately: the tick builds them
        post(client, [{"kind": "worker_register", "worker_id": "w3", "hardware": ["rocm"]}])
        post(client, [{"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 15.0}])  # a young backlog
        assert read(client, "/api/monitoring/cluster").json()["total_workers"] == 2
        assert [h["type"] for h in read(client, "/api/monitoring/hardware").json()] == ["cuda"]
        assert read(client, "/api/monitoring/network").json()["total_workers"] == 2
        assert read(client, "/api/monitoring/network", limit=10).json()["total_workers"] == 3
        live, own = read(client, "/api/monitoring/resources"), read(client, "/api/monitoring/resources",
                                                                     start=str(time.time() - 3600))
        assert [max(p["cpu_max"] for p in r.json()["points"]) for r in (live, own)] == [12.0, 15.0]
        shared = state.hub.shared
        monkeypatch.setattr(shared, "_sections", {name: (at - 1.6 * 3600, section)
                                                  for name, (at, section) in shared._sections.items()})
        assert read(client, "/api/monitoring/cluster").json()["total_workers"] == 3

        shared.clear()
        monkeypatch.setattr(IngestService, "busy", False)
        client.blocking_portal.call(state.maintenance.tick)
        assert shared._sections == {}  # not busy: every read folds and reads for itself, nobody needs them


def test_ingest_answers_other_methods_with_405(client):
    response = client.get("/api/ingest", headers=bearer(client.ingest_token))
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_a_busy_read_leaves_a_backlog_to_the_tick_until_the_tick_is_late(tmp_path, monkeypatch):
    """Under load a read lags by up to 1.5 ticks, never more: an older backlog means the tick missed it."""
    with TestClient(create_app(make_settings(tmp_path, tick_interval=3600.0))) as client:
        attach_tokens(client, client)
        ingest = client.app.state.ingest
        post(client, [{"kind": "worker_heartbeat", "worker_id": "w7", "cpu_percent": 12.0}])
        monkeypatch.setattr(IngestService, "busy", True)
        monkeypatch.setattr(ingest, "_unfolded_since", time.monotonic() - 1.2 * 3600)
        assert read(client, "/api/monitoring/workers", search="w7").json() == []
        monkeypatch.setattr(ingest, "_unfolded_since", time.monotonic() - 1.6 * 3600)
        assert [w["cpu"] for w in read(client, "/api/monitoring/workers", search="w7").json()] == [12.0]
