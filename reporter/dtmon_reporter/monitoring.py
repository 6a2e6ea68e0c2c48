"""Coordinator SDK: `MonitoringSystem(coordinator=...)` polls any coordinator and reports what changed.

The integration of the original documentation works as written, with this import:

    from dtmon_reporter.monitoring import MonitoringSystem
    monitoring_system = MonitoringSystem(coordinator=coordinator)
    monitoring_system.enable_real_time_metrics(collection_interval=10,
                                               metrics=['cpu', 'memory', 'network', 'tasks', 'hardware'])
    monitoring_system.start()
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from dtmon_reporter.client import MonitoringClient
from dtmon_reporter.diffing import METRICS, PollDiffer

log = logging.getLogger("dtmon.sources")


@runtime_checkable
class Coordinator(Protocol):
    """What MonitoringSystem needs from a coordinator: two methods, polled every interval.

    `workers()` yields one mapping (or dataclass/object) per worker: `id` (required), and any of
    `hostname`, `status` ("active", "busy" or "offline"), `hardware` (list of names), `cpu_percent`,
    `memory_used_gb`, `memory_total_gb`, `gpus`, `rtt_ms`, `bandwidth_bps`, `running_tasks`,
    `capabilities`. A worker missing from a poll is reported offline.

    `tasks()` yields one per task: `id` (required), `status` ("pending", "running", "completed",
    "failed", "timed_out", "canceled"), `type`, `priority`, `requirements`, `worker_id`, `error`,
    `duration_s`. Each status change becomes one event.
    """

    def workers(self) -> Iterable[Mapping[str, Any] | Any]: ...

    def tasks(self) -> Iterable[Mapping[str, Any] | Any]: ...


class MonitoringSystem:
    """Polls a coordinator on a background thread and sends the differences to the backend."""

    def __init__(self, coordinator: Coordinator, url: str | None = None, token: str | None = None, *,
                 client: MonitoringClient | None = None, coordinator_id: str = "coordinator") -> None:
        if not isinstance(coordinator, Coordinator):
            raise TypeError("coordinator needs workers() and tasks() methods (see dtmon_reporter.monitoring)")
        self.coordinator = coordinator
        self.client = client or MonitoringClient(*_backend_from(url, token))
        self.coordinator_id = coordinator_id
        self.collection_interval = 10.0
        self.metrics: tuple[str, ...] = METRICS
        self._differ = PollDiffer(self.metrics, coordinator_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def enable_real_time_metrics(self, collection_interval: float = 10,
                                 metrics: Iterable[str] = METRICS) -> None:
        """Chooses how often to poll and which metrics to report (cpu, memory, network, tasks, hardware)."""
        chosen = tuple(metrics)
        unknown = sorted(set(chosen) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
        if collection_interval <= 0:
            raise ValueError("collection_interval must be positive")
        self.collection_interval, self.metrics = float(collection_interval), chosen
        self._differ.metrics = set(chosen)

    def collect_once(self) -> int:
        """One poll; returns how many events it queued."""
        calls = self._differ.diff(self.coordinator.workers(), self.coordinator.tasks())
        for method, fields in calls:
            getattr(self.client, method)(**fields)
        return len(calls)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="dtmon-monitoring", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stops polling and delivers what is queued; True when everything was acknowledged."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        return self.client.close(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.collect_once()
            except Exception:  # a coordinator hiccup must not end monitoring
                log.exception("polling the coordinator failed; retrying next interval")
            self._stop.wait(self.collection_interval)


def _backend_from(url: str | None, token: str | None) -> tuple[str, str]:
    """The SDK's entry point: explicit arguments win, else DTMON_URL / DTMON_TOKEN."""
    url = url or os.environ.get("DTMON_URL")
    token = token or os.environ.get("DTMON_TOKEN")
    if not url or not token:
        raise ValueError("pass url= and token= or set DTMON_URL and DTMON_TOKEN (a token with the ingest role)")
    return url, token
