"""Live socket /api/ws/monitoring, Prometheus /api/metrics and /api/health."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar import Request, Response, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from backend.auth import requires
from backend.live import Hub, Subscriber
from backend.socket_auth import socket_identity
from storage import queries
from storage.health import ONLINE
from storage.store import Cursor

VERSION = "0.1.0"
SLOW_SUBSCRIBER = 1013
FULL_SNAPSHOT_EVERY_S = 1.0


@get("/api/health")
async def health(request: Request) -> dict[str, Any]:
    """Unauthenticated liveness for load balancers; says nothing about the fleet."""
    return {"status": "ok" if request.app.state.store.is_open else "starting", "version": VERSION}


@websocket("/api/ws/monitoring", guards=[requires("user")])
async def monitoring_socket(socket: WebSocket) -> None:
    await socket.accept()
    identity = await socket_identity(socket, "user")
    if identity is None:
        return
    hub: Hub = socket.app.state.hub
    subscriber = hub.subscribe()
    sender = asyncio.create_task(_send_updates(socket, subscriber))
    snapshots = FullSnapshots(hub, subscriber)
    try:
        with socket.app.state.auth.watching(identity, socket):
            await _serve_requests(socket, snapshots)
    except (WebSocketDisconnect, RuntimeError):  # RuntimeError: a revocation closed it meanwhile
        pass
    finally:
        hub.unsubscribe(subscriber)
        snapshots.cancel()
        sender.cancel()


class FullSnapshots:
    """A full snapshot rebuilds every section: at most one per FULL_SNAPSHOT_EVERY_S per socket,
    and requests made in between are coalesced into the next one."""

    def __init__(self, hub: Hub, subscriber: Subscriber) -> None:
        self.hub, self.subscriber = hub, subscriber
        self.next_at = 0.0
        self.pending: asyncio.Task | None = None

    def request(self) -> None:
        if self.pending is None or self.pending.done():
            self.pending = asyncio.create_task(self._send())

    async def _send(self) -> None:
        await asyncio.sleep(max(0.0, self.next_at - time.monotonic()))
        self.next_at = time.monotonic() + FULL_SNAPSHOT_EVERY_S
        self.subscriber.offer(await self.hub.full_message())

    def cancel(self) -> None:
        if self.pending is not None:
            self.pending.cancel()


async def _serve_requests(socket: WebSocket, snapshots: FullSnapshots) -> None:
    while True:
        message = await socket.receive_json()
        kind = message.get("type") if isinstance(message, dict) else None
        if kind in ("subscribe_to_monitoring", "request_monitoring_update"):
            snapshots.request()
        else:
            await socket.send_json({"type": "error", "detail": f"unknown message type {kind!r}"})


async def _send_updates(socket: WebSocket, subscriber: Subscriber) -> None:
    try:
        while True:
            message = await subscriber.queue.get()
            if subscriber.dropped:
                await socket.close(code=SLOW_SUBSCRIBER, reason="subscriber too slow; reconnect")
                return
            await socket.send_data(message.decode(), mode="text")
    except (WebSocketDisconnect, RuntimeError):
        return


def _collect(ingest_counts: dict[str, int], rejected: int):
    def read(cur: Cursor) -> list:
        workers = GaugeMetricFamily("dtmon_workers", "Workers by status", labels=["status"])
        for status, n in queries.worker_status_counts(cur).items():
            workers.add_metric([status], n)
        tasks = GaugeMetricFamily("dtmon_tasks", "Tasks by status", labels=["status"])
        for status, n in queries.task_status_counts(cur).items():
            tasks.add_metric([status], n)
        cpu = GaugeMetricFamily("dtmon_worker_cpu_percent", "Last reported CPU", labels=["worker"])
        memory = GaugeMetricFamily("dtmon_worker_memory_percent", "Last reported memory", labels=["worker"])
        rows = cur.execute(f"SELECT worker_id, cpu_percent, memory_percent FROM workers WHERE {ONLINE}").fetchall()
        for worker_id, cpu_value, mem_value in rows:
            if cpu_value is not None:
                cpu.add_metric([worker_id], cpu_value)
            if mem_value is not None:
                memory.add_metric([worker_id], mem_value)
        events = CounterMetricFamily("dtmon_ingest_events", "Events accepted", labels=["kind"])
        for kind, n in ingest_counts.items():
            events.add_metric([kind], n)
        bad = CounterMetricFamily("dtmon_ingest_batches_rejected", "Batches rejected by validation")
        bad.add_metric([], rejected)
        return [workers, tasks, cpu, memory, events, bad]
    return read


class _Families:
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return iter(self.families)


@get("/api/metrics", guards=[requires("user")])
async def metrics(request: Request) -> Response[bytes]:
    """Prometheus text format, computed from stored data at scrape time."""
    service = request.app.state.ingest
    await service.fold()
    families = await request.app.state.store.read(_collect(dict(service.events_accepted), service.batches_rejected))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")
