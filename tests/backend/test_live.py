"""The live socket: full snapshot on subscribe and request, changed sections per tick, slow subscribers dropped."""

import asyncio
import time

import pytest

from backend.live import Hub
from support import bearer


def heartbeat(client, worker, cpu, **extra):
    event = {"kind": "worker_heartbeat", "worker_id": worker, "cpu_percent": cpu} | extra
    response = client.post("/api/ingest", json={"events": [event]}, headers=bearer(client.ingest_token))
    assert response.status_code == 200


def next_update(ws, wanted, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = ws.receive_json(timeout=timeout)
        if wanted(message):
            return message
    raise AssertionError("no matching monitoring_update")


def test_subscribe_tick_and_request(client):
    heartbeat(client, "w1", 10.0)
    with client.websocket_connect("/api/ws/monitoring", headers=bearer(client.user_token)) as ws:
        ws.send_json({"type": "subscribe_to_monitoring"})
        full = next_update(ws, lambda m: m.get("full"))
        assert full["type"] == "monitoring_update"
        assert {"cluster", "workers", "tasks", "resources", "hardware", "network"} <= set(full)
        assert [w["id"] for w in full["workers"]] == ["w1"]
        heartbeat(client, "w2", 20.0)
        diff = next_update(ws, lambda m: not m["full"] and any(w["id"] == "w2" for w in m.get("workers", [])))
        assert "cluster" in diff and diff["cluster"]["active_workers"] == 2
        ws.send_json({"type": "request_monitoring_update"})
        again = next_update(ws, lambda m: m.get("full"))
        assert [w["id"] for w in again["workers"]] == ["w1", "w2"]
        ws.send_json({"type": "dance"})
        assert next_update(ws, lambda m: m.get("type") == "error")["detail"].startswith("unknown message type")


def test_quiet_ticks_send_nothing(client, settings):
    heartbeat(client, "w1", 10.0)
    client.get("/api/monitoring/workers", headers=bearer(client.user_token))  # folds the heartbeat
    hub = Hub(client.app.state.store, settings)  # the app's hub lives on the app's event loop

    async def two_ticks():
        await hub.refresh()
        return await hub.refresh()
    assert asyncio.run(two_ticks())["changed"] == []


def test_slow_subscriber_is_dropped_not_buffered(settings):
    from backend.live import Subscriber
    subscriber = Subscriber(backlog=settings.ws_backlog)

    async def flood():
        for i in range(settings.ws_backlog * 10):
            subscriber.offer(b"x" * 1000)
        return subscriber.queue.qsize()

    assert asyncio.run(flood()) == settings.ws_backlog
    assert subscriber.dropped


def test_worker_goes_offline_without_reporting(client, settings):
    heartbeat(client, "quiet", 5.0)
    heartbeat(client, "chatty", 5.0)
    old = time.time() - settings.offline_after - 1
    heartbeat(client, "gone", 5.0, ts=old)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        workers = {w["id"]: w for w in client.get("/api/monitoring/workers", headers=bearer(client.user_token)).json()}
        if workers["gone"]["status"] == "offline":
            break
        time.sleep(0.2)
    assert workers["gone"]["status"] == "offline" and workers["gone"]["health"] == "critical"
    assert workers["quiet"]["status"] == "active"
    cluster = client.get("/api/monitoring/cluster", headers=bearer(client.user_token)).json()
    assert cluster["active_workers"] == 2 and cluster["offline_workers"] == 1
    assert cluster["health"]["components"]["availability"] == pytest.approx(66.7)
