"""A scripted fleet of 3 workers and 20 tasks with known outcomes, checked number by number."""

import time

import pytest

from support import bearer

HOUR = 3600


def scenario(now: float) -> list[dict]:
    """An hour ago: 2 workers, 10 tasks (8 ok, 2 failed). Now: 3 workers, 20 tasks (17 ok, 3 failed)."""
    past = now - HOUR - 5
    events = [
        {"kind": "worker_register", "worker_id": "w1", "hostname": "gpu-1", "hardware": ["cpu", "CUDA"], "ts": past - 60},
        {"kind": "worker_register", "worker_id": "w2", "hostname": "gpu-2", "hardware": ["cpu", "cuda"], "ts": past - 60},
        {"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 20, "memory_used_gb": 4, "memory_total_gb": 16, "ts": past},
        {"kind": "worker_heartbeat", "worker_id": "w2", "cpu_percent": 30, "memory_used_gb": 8, "memory_total_gb": 16, "ts": past},
        {"kind": "worker_register", "worker_id": "w3", "hostname": "amd-1", "hardware": ["cpu", "rocm"], "ts": now - 600},
    ]
    for i in range(20):
        worker = ["w1", "w2", "w3"][i % 3] if i >= 10 else ["w1", "w2"][i % 2]
        start = past - 50 + i if i < 10 else now - 300 + i
        failed = i in (3, 7, 15)
        events += [
            {"kind": "task_submitted", "task_id": f"t{i:02d}", "type": "benchmark" if i % 4 == 0 else "test",
             "priority": i % 5, "ts": start - 1},
            {"kind": "task_started", "task_id": f"t{i:02d}", "worker_id": worker, "ts": start},
            {"kind": "task_finished", "task_id": f"t{i:02d}", "worker_id": worker,
             "status": "failed" if failed else "completed", "error": "AssertionError: 1 != 2" if failed else None,
             "duration_s": 1.0 + i, "ts": start + 1},
        ]
    events += [
        {"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 40, "memory_used_gb": 4, "memory_total_gb": 16, "rtt_ms": 2, "ts": now - 1},
        {"kind": "worker_heartbeat", "worker_id": "w2", "cpu_percent": 95, "memory_used_gb": 12, "memory_total_gb": 16, "rtt_ms": 4, "ts": now - 1},
        {"kind": "worker_heartbeat", "worker_id": "w3", "cpu_percent": 10, "memory_used_gb": 2, "memory_total_gb": 32, "rtt_ms": 9, "ts": now - 1},
    ]
    return events


@pytest.fixture
def fleet(client):
    response = client.post("/api/ingest", json={"events": scenario(time.time())}, headers=bearer(client.ingest_token))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": len(scenario(0))}
    return client


def get(client, path, **params):
    response = client.get(path, params=params, headers=bearer(client.user_token))
    assert response.status_code == 200, response.text
    return response


def test_cluster_numbers_and_trends(fleet):
    cluster = get(fleet, "/api/monitoring/cluster").json()
    assert cluster["active_workers"] == 3
    assert cluster["total_tasks"] == 20
    assert cluster["tasks_by_status"]["completed"] == 17
    assert cluster["tasks_by_status"]["failed"] == 3
    assert cluster["success_rate"] == 85.0
    assert cluster["trends"]["workers"] == {"direction": "up", "value": 1, "status": "good"}
    assert cluster["trends"]["tasks"] == {"direction": "up", "value": 10, "status": "neutral"}
    assert cluster["trends"]["success_rate"] == {"direction": "up", "value": 5.0, "status": "good"}
    # availability 1, failure rate 1/10 recent, pressure 1/3 (w2 at 95 % CPU), nothing stale
    assert cluster["health"]["score"] == pytest.approx(100 * (0.4 + 0.3 * 0.9 + 0.2 * (2 / 3) + 0.1), abs=0.05)
    assert cluster["health"]["status"] == "healthy"


def test_hardware_availability(fleet):
    hardware = {row["type"]: row for row in get(fleet, "/api/monitoring/hardware").json()}
    assert {k: (v["available"], v["total"]) for k, v in hardware.items()} == {
        "cpu": (2, 3), "cuda": (1, 2), "rocm": (1, 1)}
    assert hardware["cuda"]["label"] == "CUDA"


def test_worker_rows(fleet):
    workers = {w["id"]: w for w in get(fleet, "/api/monitoring/workers").json()}
    w1 = workers["w1"]
    assert (w1["tasks_completed"], w1["tasks_failed"]) == (7, 1)  # t00-t08 even, t12, t15 (failed), t18
    assert w1["hardware"] == ["cpu", "cuda"] and w1["hostname"] == "gpu-1"
    assert w1["cpu"] == 40 and w1["memory"] == 4 and w1["memory_percent"] == 25.0
    assert workers["w2"]["health"] == "critical"  # 95 % CPU
    assert workers["w3"]["success_rate"] == 100.0


def test_task_detail_and_failures(fleet):
    failed = get(fleet, "/api/monitoring/tasks", status="failed").json()
    assert sorted(t["id"] for t in failed) == ["t03", "t07", "t15"]
    detail = get(fleet, "/api/monitoring/tasks/t15").json()
    assert detail["task"]["error"] == "AssertionError: 1 != 2"
    assert detail["task"]["duration"] == 16.0
    assert [e["kind"] for e in detail["events"]] == ["task_submitted", "task_started", "task_finished"]


def test_resources_history_over_the_hour(fleet):
    resources = get(fleet, "/api/monitoring/resources", range="6h").json()
    assert resources["tier"] == "minute"
    raw = get(fleet, "/api/monitoring/resources", range="1h").json()
    assert raw["tier"] == "raw"
    last = raw["points"][-1]
    assert last["cpu_max"] == 95 and last["cpu_avg"] == pytest.approx((40 + 95 + 10) / 3, abs=0.01)
    assert last["workers"] == 3
