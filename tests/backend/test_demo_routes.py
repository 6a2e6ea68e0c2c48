"""The admin's demo button: a real local Dask cluster that reports through the ingest API."""

import time

import httpx

from support import bearer


def wait_for(predicate, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_demo_start_shows_real_workers_and_tasks_then_stops(live_backend):
    admin = bearer(live_backend.admin_token)
    base = live_backend.url
    assert httpx.post(f"{base}/api/demo/start", json={"workers": 1}, headers=bearer(live_backend.user_token)).status_code == 403
    assert httpx.post(f"{base}/api/demo/start", json={"workers": 99}, headers=admin).status_code == 400
    started = httpx.post(f"{base}/api/demo/start", json={"workers": 1}, headers=admin, timeout=30).json()
    assert started["running"] is True
    try:
        finished = wait_for(lambda: [t for t in live_backend.get("/api/monitoring/tasks", status="completed").json()])
        assert finished[0]["worker_id"].startswith("demo-worker-")
        workers = live_backend.get("/api/monitoring/workers").json()
        assert len(workers) == 1 and "cpu" in workers[0]["hardware"]
    finally:
        stopped = httpx.post(f"{base}/api/demo/stop", headers=admin, timeout=90).json()
    assert stopped["running"] is False
    wait_for(lambda: live_backend.get("/api/monitoring/workers").json()[0]["status"] == "offline", timeout=30)
