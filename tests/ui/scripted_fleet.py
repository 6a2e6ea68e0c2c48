"""A scripted fleet for dashboard tests, sent through the real ingest API (test data, not product)."""

from __future__ import annotations

import time
from typing import Any

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
# id, hostname, hardware, cpu %, memory used GB, memory total GB, rtt ms
WORKERS = [
    ("worker-001", "gpu-box-1", ["cpu", "cuda", "webgpu"], 25.0, 4.0, 16.0, 3.1),
    ("worker-002", "gpu-box-2", ["cpu", "cuda", "rocm"], 78.0, 12.0, 16.0, 9.5),
    ("worker-003", "mac-mini", ["cpu", "mps"], 10.0, 2.0, 8.0, 1.2),
    ("worker-004", "edge-npu", ["cpu", "qnn", "openvino"], 97.0, 7.0, 8.0, 40.0),
    ("worker-evil", HOSTILE_NAME, ["cpu", "webnn"], 5.0, 1.0, 4.0, 2.0),
    ("worker-006", "old-box", ["cpu"], 50.0, 2.0, 4.0, 5.0),
]
STOPPED = "worker-006"  # said goodbye: stopped, not offline
# id, type, priority, requirements, worker, outcome (None pending, "running", or a finished status), error
TASKS = [
    ("t-001", "test", 1, ["cpu"], "worker-001", "completed", None),
    ("t-002", "test", 5, ["cuda"], "worker-001", "completed", None),
    ("t-003", "benchmark", 8, ["cuda"], "worker-002", "completed", None),
    ("t-004", "benchmark", 3, ["mps"], "worker-003", "completed", None),
    ("t-005", "test", 2, ["cpu"], "worker-003", "completed", None),
    ("t-006", "test", 9, ["qnn"], "worker-004", "failed", "AssertionError: expected 3 got <b>4</b>"),
    ("t-007", "test", 0, ["cpu"], "worker-evil", "timed_out", "Timeout after 60 s"),
    ("t-008", "benchmark", 4, ["cuda"], "worker-002", "running", None),
    ("t-009", "test", 1, ["cpu"], "worker-001", "running", None),
    ("t-010", "test", 6, ["rocm"], None, None, None),
    ("t-011", "test", 2, ["webgpu"], None, None, None),
    ("t-012", "test", 0, ["cpu"], "worker-006", "completed", None),
]
EXPECTED = {
    "total_workers": 6, "active_workers": 5, "stopped_workers": 1, "total_tasks": 12,
    "pending": 2, "running": 2, "completed": 6, "failed": 2,  # failed counts timed_out too
    "success_rate": 75.0,  # 6 completed of 8 finished
}


def worker_events(now: float) -> list[dict[str, Any]]:
    """Registration plus ten heartbeats a minute apart per worker, the last one now."""
    events: list[dict[str, Any]] = []
    for worker_id, host, hardware, cpu, used, total, rtt in WORKERS:
        events.append({"kind": "worker_register", "ts": now - 660, "worker_id": worker_id, "hostname": host,
                       "hardware": hardware, "capabilities": {"python": "3.11", "label": host}})
        for minute in range(10, -1, -1):
            events.append({"kind": "worker_heartbeat", "ts": now - 60 * minute, "worker_id": worker_id,
                           "cpu_percent": max(0.0, cpu - minute), "memory_used_gb": used,
                           "memory_total_gb": total, "rtt_ms": rtt, "running_tasks": 0})
    events.append({"kind": "worker_offline", "ts": now, "worker_id": STOPPED})
    events.append({"kind": "link", "ts": now, "source": "worker-001", "target": "worker-002",
                   "rtt_ms": 0.8, "bandwidth_bps": 9.4e9})
    return events


def task_events(now: float) -> list[dict[str, Any]]:
    """Each task submitted, then started and finished as the script says."""
    events: list[dict[str, Any]] = []
    for index, (task_id, kind, priority, needs, worker, outcome, error) in enumerate(TASKS):
        submitted = now - 600 + 30 * index
        events.append({"kind": "task_submitted", "ts": submitted, "task_id": task_id, "type": kind,
                       "priority": priority, "requirements": needs})
        if outcome is None:
            continue
        events.append({"kind": "task_started", "ts": submitted + 5, "task_id": task_id, "worker_id": worker})
        if outcome != "running":
            events.append({"kind": "task_finished", "ts": submitted + 20, "task_id": task_id,
                           "worker_id": worker, "status": outcome, "error": error, "duration_s": 15.0})
    return events


def seed(post, ingest_token: str, now: float | None = None) -> None:
    """Send the fleet with `post(path, json=..., headers=...)` (httpx or a TestClient)."""
    now = time.time() if now is None else now
    headers = {"Authorization": f"Bearer {ingest_token}"}
    for batch in (worker_events(now), task_events(now)):
        response = post("/api/ingest", json={"events": batch}, headers=headers)
        assert response.status_code < 300, response.text
