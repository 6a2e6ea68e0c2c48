"""FLEET SIMULATOR (benchmarks only): synthetic heartbeats and tasks for load tests.

Nothing here is used by the product; its numbers are deterministic functions of the indices so
runs are repeatable. The dashboard never shows this data unless a benchmark sends it.
"""

from __future__ import annotations

import time

HARDWARE = [["cpu"], ["cpu", "cuda"], ["cpu", "rocm"], ["cpu", "openvino"], ["cpu", "cuda", "webgpu"], ["cpu", "qnn"]]


def worker_id(i: int) -> str:
    return f"sim-{i:05d}"


def heartbeat(i: int, step: int, ts: float | None = None) -> dict:
    event = {"kind": "worker_heartbeat", "worker_id": worker_id(i), "cpu_percent": float((i * 7 + step * 13) % 100),
             "memory_used_gb": float(4 + (i + step) % 28), "memory_total_gb": 32.0, "rtt_ms": 0.5 + (i % 40) / 10,
             "running_tasks": (i + step) % 3}
    if ts is not None:
        event["ts"] = ts
    return event


def heartbeat_batches(workers: int, batch_size: int, count: int) -> list[list[dict]]:
    """`count` batches cycling through the fleet, each heartbeat one step later than the last."""
    now = time.time()
    batches, n = [], 0
    for _ in range(count):
        batch = []
        for _ in range(batch_size):
            batch.append(heartbeat(n % workers, n // workers, now + n * 1e-4))
            n += 1
        batches.append(batch)
    return batches


def registrations(workers: int) -> list[dict]:
    return [{"kind": "worker_register", "worker_id": worker_id(i), "hostname": f"sim-host-{i:05d}",
             "hardware": HARDWARE[i % len(HARDWARE)]} for i in range(workers)]


def task_events(tasks: int, workers: int, now: float) -> list[dict]:
    """Submitted/started/finished events; every 9th task fails, every 50th is still running."""
    events = []
    for i in range(tasks):
        task, worker, ts = f"sim-task-{i:07d}", worker_id(i % workers), now - (tasks - i) * 0.01
        events.append({"kind": "task_submitted", "task_id": task, "type": "benchmark" if i % 5 == 0 else "test",
                       "priority": i % 10, "ts": ts})
        events.append({"kind": "task_started", "task_id": task, "worker_id": worker, "ts": ts + 0.001})
        if i % 50:
            failed = i % 9 == 0
            events.append({"kind": "task_finished", "task_id": task, "worker_id": worker,
                           "status": "failed" if failed else "completed", "duration_s": (i % 30) / 3,
                           "error": f"AssertionError: case {i}" if failed else None, "ts": ts + 0.002})
    return events
