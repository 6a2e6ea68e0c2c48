"""Host agent: registers this machine with its hardware and sends a heartbeat every interval."""

from __future__ import annotations

import logging
import platform
import socket
import threading
import time
from typing import Any

import psutil

from dtmon_reporter.client import MonitoringClient
from dtmon_reporter.hardware import HardwareReport, live_gpus

GIB = 2**30
log = logging.getLogger("dtmon.sources")
AGENT_VERSION = "1"


class HostAgent:
    """Reports one host; all sending goes through the client's buffer, so an outage only queues."""

    def __init__(self, client: MonitoringClient, report: HardwareReport, *, worker_id: str | None = None,
                 interval_s: float = 5.0) -> None:
        self.client = client
        self.report = report
        self.hostname = socket.gethostname()
        self.worker_id = worker_id or self.hostname
        self.interval_s = interval_s
        self.heartbeats = 0
        self._reported_drops = 0
        psutil.cpu_percent(interval=None)  # the first reading is meaningless; prime it now

    def capabilities(self) -> dict[str, Any]:
        """Probe details plus the buffer's drop count, which is how lost samples become visible."""
        return {"hardware": self.report.capabilities(), "dropped_events": self.client.dropped,
                "agent": {"version": AGENT_VERSION, "interval_s": self.interval_s},
                "platform": platform.platform(), "python": platform.python_version()}

    def register(self) -> None:
        self.client.worker_register(self.worker_id, hostname=self.hostname, hardware=self.report.hardware,
                                    capabilities=self.capabilities())

    def heartbeat(self) -> None:
        """Takes one sample of this host now; the RTT is measured against the backend itself."""
        memory = psutil.virtual_memory()
        self.client.worker_heartbeat(
            self.worker_id, cpu_percent=psutil.cpu_percent(interval=None),
            memory_used_gb=round((memory.total - memory.available) / GIB, 3),
            memory_total_gb=round(memory.total / GIB, 3), gpus=live_gpus(self.report) or None,
            rtt_ms=self.client.ping())
        self.heartbeats += 1
        self._report_drops()

    def _report_drops(self) -> None:
        """Re-registers (idempotent) with the new drop count whenever the buffer lost events."""
        if self.client.dropped != self._reported_drops:
            self._reported_drops = self.client.dropped
            self.register()

    def _beat_safely(self) -> None:
        """A failing probe (a GPU driver reset, a vanished sensor) skips one sample, never the agent."""
        try:
            self.heartbeat()
        except Exception:  # noqa: BLE001 - the agent must keep reporting
            log.exception("dtmon agent: taking a sample failed; trying again next interval")

    def run(self, stop: threading.Event, offline_timeout_s: float = 10.0) -> None:
        """Beats until stop is set, then says goodbye and tries to deliver what is queued."""
        self.register()
        next_beat = time.monotonic()
        while not stop.is_set():
            self._beat_safely()
            # a late beat (slow ping, suspended host) moves the schedule rather than causing a burst
            next_beat = max(next_beat + self.interval_s, time.monotonic())
            stop.wait(next_beat - time.monotonic())
        self.client.worker_offline(self.worker_id)
        self.client.close(timeout=offline_timeout_s)
