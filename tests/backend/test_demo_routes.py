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


def test_demo_start_registers_real_workers_then_stops(live_backend):
    """What the demo then runs is covered by tests/sources/test_demo_live.py."""
    admin = bearer(live_backend.admin_token)
    base = live_backend.url
    assert httpx.post(f"{base}/api/demo/start", json={"workers": 1}, headers=bearer(live_backend.user_token)).status_code == 403
    assert httpx.post(f"{base}/api/demo/start", json={"workers": 99}, headers=admin).status_code == 400
    started = httpx.post(f"{base}/api/demo/start", json={"workers": 1}, headers=admin, timeout=30).json()
    assert started["running"] is True
    try:
        workers = wait_for(lambda: live_backend.get("/api/monitoring/workers").json())
        assert workers[0]["id"].startswith("demo-worker-") and "cpu" in workers[0]["hardware"]
        assert httpx.get(f"{base}/api/demo", headers=admin).json()["running"] is True
    finally:
        stopped = httpx.post(f"{base}/api/demo/stop", headers=admin, timeout=90).json()
    assert stopped["running"] is False
    wait_for(lambda: live_backend.get("/api/monitoring/workers").json()[0]["status"] == "stopped", timeout=30)
