"""Dask SchedulerPlugin that forwards workers, their metrics and task life cycles to the backend.

Hooks run on the scheduler's event loop, so each one only queues a small dict into the
MonitoringClient's bounded buffer; HTTP happens on the client's own thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin
from tornado.ioloop import PeriodicCallback

from dtmon_reporter import dask_names as names
from dtmon_reporter.client import MonitoringClient
from dtmon_reporter.pytest_task import TOPIC

TEST_STATUS = {"passed": "completed", "skipped": "completed", "failed": "failed", "timed_out": "timed_out",
               "error": "canceled"}  # error: the worker found no such test, so it never ran

TRACK_MODES = ("all", "annotated")
# Statuses a Dask worker reports to the scheduler before it leaves on purpose.
CLEAN_LEAVE_STATUSES = ("closing", "closing_gracefully")


class DtmonSchedulerPlugin(SchedulerPlugin):
    """Register with `client.register_plugin(DtmonSchedulerPlugin(url, token))` or the scheduler preload."""

    name = "dtmon"

    def __init__(self, url: str, token: str, *, interval_s: float = 5.0, track: str = "all",
                 default_type: str = "dask", coordinator_id: str = "coordinator",
                 worker_prefix: str = "", buffer_size: int = 100_000, batch_size: int = 2_000,
                 linger_s: float = 1.0) -> None:
        if track not in TRACK_MODES:
            raise ValueError(f"track must be one of {TRACK_MODES}")
        self.url, self.token, self.interval_s = url, token, interval_s
        self.track, self.default_type, self.coordinator_id = track, default_type, coordinator_id
        self.buffer_size, self.batch_size, self.worker_prefix = buffer_size, batch_size, worker_prefix
        self.linger_s = linger_s  # the dashboard ticks every 2 s; fewer, larger batches cost the backend less
        self._ids: dict[str, str] = {}
        self.client: MonitoringClient | None = None
        self._open: dict[Any, str] = {}  # key -> task id, for tasks submitted and not yet finished
        self._chunks: dict[str, set[str]] = {}  # run-tests chunk key -> its tests not yet finished
        self._announced: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._reported_drops = 0
        self._leaving: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        """Only configuration travels to the scheduler; threads and state are built in start()."""
        state = dict(self.__dict__)
        state.update(client=None, _open={}, _chunks={}, _announced={}, _reported_drops=0, _ids={}, _leaving=set())
        state.pop("scheduler", None)
        state.pop("_callback", None)
        return state

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.client = MonitoringClient(self.url, self.token, buffer_size=self.buffer_size,
                                       batch_size=self.batch_size, linger_s=self.linger_s)
        self.client.start()
        for address in list(scheduler.workers):
            self._announce(address)
        self._callback = PeriodicCallback(self._beat, self.interval_s * 1000)
        self._callback.start()

    async def close(self) -> None:
        """Marks every worker offline and delivers the queue without stalling the loop."""
        if self.client is None:
            return
        self._callback.stop()
        for wid, _ in list(self._announced.values()):
            self.client.worker_offline(wid)
        self._announced.clear()
        await asyncio.to_thread(self.client.close, 10.0)

    # -- workers ---------------------------------------------------------------
    def add_worker(self, scheduler: Any, worker: str) -> None:
        self._announce(worker)

    def _track_leaving(self, address: str, status: str | None) -> None:
        """Remembers workers that announced they are closing (closed, retired, scaled down)."""
        if status in CLEAN_LEAVE_STATUSES:
            self._leaving.add(address)
        else:
            self._leaving.discard(address)

    def remove_worker(self, scheduler: Any, worker: str, *, stimulus_id: str, **kwargs: Any) -> None:
        """A clean leave says goodbye (the worker is `stopped`); a crash stays silent, so it turns
        `offline` after the threshold and alerts."""
        announced = self._announced.pop(worker, None)
        if worker in self._leaving and announced is not None and self.client is not None:
            self.client.worker_offline(announced[0])
        self._leaving.discard(worker)

    def _announce(self, address: str) -> None:
        """Sends worker_register, and again whenever its hardware labels change."""
        ws = self.scheduler.workers.get(address)
        if ws is None or self.client is None:
            return
        extra = ws.extra or {}
        wid = self._worker_id(address)
        hardware = names.hardware_of(extra, ws.metrics or {}, ws.resources or {})
        self._announced[address] = (wid, tuple(hardware))
        info = extra.get("dtmon", {})
        self.client.worker_register(wid, hostname=info.get("hostname") or ws.host, hardware=hardware,
                                    capabilities=self._capabilities(ws, info))

    def _worker_id(self, address: str) -> str:
        """Cached per address (asked twice per task); works for workers that already left too."""
        wid = self._ids.get(address)
        if wid is None:
            ws = self.scheduler.workers.get(address)
            wid = self._ids[address] = names.worker_id(address, ws.name if ws is not None else None,
                                                       self.worker_prefix)
        return wid

    def _capabilities(self, ws: Any, info: dict) -> dict[str, Any]:
        return {"dask": {"address": ws.address, "nthreads": ws.nthreads, "memory_limit": ws.memory_limit,
                         "resources": dict(ws.resources or {}), "name": str(ws.name)},
                "hardware": info.get("capabilities", {}), "dropped_events": self.client.dropped}

    def _beat(self) -> None:
        """One heartbeat and one coordinator link per worker, from the metrics Dask already holds."""
        now = time.time()
        for address, ws in list(self.scheduler.workers.items()):
            announced = self._announced.get(address)
            hardware = names.hardware_of(ws.extra or {}, ws.metrics or {}, ws.resources or {})
            if announced is None or announced[1] != tuple(hardware) or self._drops_changed():
                self._announce(address)
            wid = self._announced[address][0]
            fields = names.heartbeat_fields(ws.metrics or {}, ws.memory_limit, ws.nthreads, len(ws.processing))
            self.client.worker_heartbeat(wid, ts=now, **fields)
            self.client.link(self.coordinator_id, wid, rtt_ms=fields["rtt_ms"],
                             bandwidth_bps=names.bandwidth_bps(ws.metrics or {}), ts=now)
        self._reported_drops = self.client.dropped

    def _drops_changed(self) -> bool:
        return self.client.dropped != self._reported_drops

    # -- tasks -------------------------------------------------------------------
    def update_graph(self, scheduler: Any, *, keys: Any, tasks: list, annotations: dict,
                     stimulus_id: str, **kwargs: Any) -> None:
        """task_submitted per new key; type, priority and hardware (or resources) come from annotations."""
        types = annotations.get("type", {})
        priorities = annotations.get("priority", {})
        resources = annotations.get("resources", {})
        hardware = annotations.get("hardware", {})
        for key in tasks:
            if key in self._chunks or self._already_known(key) or (self.track == "annotated" and key not in types):
                continue
            tid = self._open[key] = names.task_id(key)
            self.client.task_submitted(tid, type=str(types.get(key, self.default_type)),
                                       priority=_int(priorities.get(key, 0)),
                                       requirements=names.requirements(hardware.get(key) or
                                                                       resources.get(key)))

    def _already_known(self, key: Any) -> bool:
        """A resubmitted key that is open or already computed is not a new task."""
        if key in self._open:
            return True
        ts = self.scheduler.tasks.get(key)
        return ts is not None and ts.state == "memory"

    def transition(self, key: Any, start: str, finish: str, *args: Any, stimulus_id: str, **kwargs: Any) -> None:
        if key in self._chunks:
            self._chunk_transition(key, finish, kwargs)
        if key not in self._open:
            return
        if finish == "processing":
            self._started(key)
        elif finish == "memory":
            self._finished(key, "completed", kwargs.get("worker"), None, kwargs.get("startstops"))
        elif finish == "erred":
            self._erred(key, kwargs)
        elif finish == "forgotten":
            self._finished(key, "canceled", None, "released before it finished", None)

    def _started(self, key: Any) -> None:
        """Assigned is not running: workers with the dtmon worker part report `executing` themselves."""
        ts = self.scheduler.tasks.get(key)
        if ts is not None and ts.processing_on is not None and not _reports_executing(ts.processing_on):
            self.client.task_started(self._open[key], self._worker_id(ts.processing_on.address))

    def log_event(self, topic: str, msg: Any) -> None:
        """Events from dtmon's worker part (a task is executing), from run-tests (one per test), and the
        scheduler's worker status changes (a worker about to leave on purpose)."""
        if isinstance(msg, dict) and msg.get("action") == "worker-status-change":
            self._track_leaving(topic, msg.get("status"))
            return
        if topic != TOPIC or not isinstance(msg, dict) or self.client is None:
            return
        op = msg.get("op")
        if op == "executing":
            key = _as_key(msg["key"])
            if key in self._open:
                self.client.task_started(self._open[key], self._worker_id(msg["worker"]))
        elif op == "tests-submitted":
            self._tests_submitted(msg)
        elif op == "test-started":
            self.client.task_started(msg["task_id"], self._worker_id(msg["worker"]), ts=msg.get("at"))
        elif op == "test-finished":
            self._test_finished(msg)

    def _tests_submitted(self, msg: dict) -> None:
        self._chunks[msg["chunk"]] = set(msg["task_ids"])
        requirements = names.requirements(msg.get("hardware"))
        for tid in msg["task_ids"]:
            self.client.task_submitted(tid, type=str(msg.get("type", "test")), priority=_int(msg.get("priority")),
                                       requirements=requirements)

    def _test_finished(self, msg: dict) -> None:
        for tests in self._chunks.values():
            tests.discard(msg["task_id"])
        self.client.task_finished(msg["task_id"], TEST_STATUS.get(msg.get("outcome"), "failed"),
                                  worker_id=self._worker_id(msg["worker"]), error=msg.get("error") or None,
                                  duration_s=msg.get("seconds"))

    def _chunk_transition(self, key: str, finish: str, kwargs: dict) -> None:
        """Tests a chunk never reported (its worker died, or it was canceled) still end on the dashboard."""
        if finish not in ("memory", "erred", "forgotten"):
            return
        status, error = ("canceled", "the run was canceled") if finish != "erred" else \
            ("failed", f"the chunk running it failed: {kwargs.get('exception_text')}")
        for tid in self._chunks.pop(key):
            self.client.task_finished(tid, status, error=error)

    def _erred(self, key: Any, kwargs: dict) -> None:
        text = kwargs.get("exception_text")
        cause = kwargs.get("cause")
        if text is None and cause is not None:
            text = f"dependency {names.task_id(cause)} failed"
        status = names.failure_status(text)
        if kwargs.get("traceback_text"):
            text = f"{text}\n\nTraceback (most recent call last):\n{kwargs['traceback_text']}"
        self._finished(key, status, kwargs.get("worker"), text, kwargs.get("startstops"))

    def _finished(self, key: Any, status: str, address: str | None, error: str | None, startstops: Any) -> None:
        tid = self._open.pop(key)
        wid = self._worker_id(address) if address else None
        self.client.task_finished(tid, status, worker_id=wid, error=error,
                                  duration_s=names.compute_seconds(startstops))


def _reports_executing(ws: Any) -> bool:
    """The dtmon worker preload or plugin is installed there (seen at registration or in its metrics)."""
    return "dtmon" in (ws.extra or {}) or "dtmon_hardware" in (ws.metrics or {})


def _as_key(value: Any) -> Any:
    """Dask keys travel as msgpack, which turns tuples into lists; turn them back."""
    return tuple(_as_key(part) for part in value) if isinstance(value, list) else value


def _int(value: Any) -> int:
    """Dask allows float priorities; the API stores integers."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
