"""Turns successive polls of a coordinator into ingest events (pure: no I/O, easy to test)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

METRICS = ("cpu", "memory", "network", "tasks", "hardware")
FINISHED = ("completed", "failed", "timed_out", "canceled")
STATUS_SYNONYMS = {"done": "completed", "success": "completed", "succeeded": "completed", "passed": "completed",
                   "error": "failed", "errored": "failed", "cancelled": "canceled", "timeout": "timed_out",
                   "queued": "pending", "waiting": "pending", "started": "running"}
Call = tuple[str, dict[str, Any]]  # (MonitoringClient method name, keyword arguments)


def as_dict(item: Any) -> dict[str, Any]:
    """Coordinators may hand back mappings, dataclasses or plain objects."""
    if isinstance(item, Mapping):
        return dict(item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    return {k: v for k, v in vars(item).items() if not k.startswith("_")}


def task_status(raw: Any) -> str:
    status = str(raw or "pending").lower()
    return STATUS_SYNONYMS.get(status, status)


class PollDiffer:
    """Remembers the previous poll so each change is reported once."""

    def __init__(self, metrics: Iterable[str] = METRICS, coordinator_id: str = "coordinator") -> None:
        self.metrics = set(metrics)
        self.coordinator_id = coordinator_id
        self.workers: dict[str, tuple] = {}  # id -> (hostname, hardware) as last registered
        self.tasks: dict[str, str] = {}  # id -> status as last reported

    def diff(self, workers: Iterable[Any], tasks: Iterable[Any]) -> list[Call]:
        calls = self.diff_workers(workers)
        if "tasks" in self.metrics:
            calls += self.diff_tasks(tasks)
        return calls

    def diff_workers(self, workers: Iterable[Any]) -> list[Call]:
        calls: list[Call] = []
        seen = set()
        for worker in map(as_dict, workers):
            wid = str(worker["id"])
            seen.add(wid)
            calls += self._worker_calls(wid, worker)
        for gone in [wid for wid in self.workers if wid not in seen]:
            del self.workers[gone]
            calls.append(("worker_offline", {"worker_id": gone}))
        return calls

    def _worker_calls(self, wid: str, worker: dict[str, Any]) -> list[Call]:
        if str(worker.get("status", "active")).lower() == "offline":
            return [("worker_offline", {"worker_id": wid})] if self.workers.pop(wid, None) is not None else []
        hardware = list(worker.get("hardware") or ["cpu"]) if "hardware" in self.metrics else []
        identity = (worker.get("hostname"), tuple(hardware))
        calls: list[Call] = []
        if self.workers.get(wid) != identity:
            self.workers[wid] = identity
            calls.append(("worker_register", {"worker_id": wid, "hostname": worker.get("hostname"),
                                              "hardware": hardware or None,
                                              "capabilities": worker.get("capabilities")}))
        calls.append(("worker_heartbeat", self._heartbeat(wid, worker)))
        if "network" in self.metrics and worker.get("rtt_ms") is not None:
            calls.append(("link", {"source": self.coordinator_id, "target": wid, "rtt_ms": worker["rtt_ms"],
                                   "bandwidth_bps": worker.get("bandwidth_bps")}))
        return calls

    def _heartbeat(self, wid: str, worker: dict[str, Any]) -> dict[str, Any]:
        """Only the fields of the enabled metrics; the rest stay unknown rather than zero."""
        wanted = {"cpu": ("cpu_percent",), "memory": ("memory_used_gb", "memory_total_gb"),
                  "hardware": ("gpus",), "network": ("rtt_ms",), "tasks": ("running_tasks",)}
        fields = {"worker_id": wid}
        for metric in self.metrics:
            fields.update({name: worker.get(name) for name in wanted.get(metric, ())})
        return fields

    def diff_tasks(self, tasks: Iterable[Any]) -> list[Call]:
        calls: list[Call] = []
        seen = set()
        for task in map(as_dict, tasks):
            tid = str(task["id"])
            seen.add(tid)
            calls += self._task_calls(tid, task, task_status(task.get("status")))
        for gone in [tid for tid in self.tasks if tid not in seen]:
            del self.tasks[gone]  # coordinators prune old tasks; that is not news
        return calls

    def _task_calls(self, tid: str, task: dict[str, Any], status: str) -> list[Call]:
        previous = self.tasks.get(tid)
        if previous == status:
            return []
        self.tasks[tid] = status
        calls: list[Call] = [] if previous is not None else [("task_submitted", _submitted(tid, task))]
        worker = task.get("worker_id")
        skipped_running = status in FINISHED and previous in (None, "pending")
        if worker and (status == "running" or skipped_running):
            calls.append(("task_started", {"task_id": tid, "worker_id": str(worker)}))
        if status in FINISHED:
            calls.append(("task_finished", {"task_id": tid, "status": status, "worker_id": worker,
                                            "error": task.get("error"), "duration_s": task.get("duration_s")}))
        return calls


def _submitted(tid: str, task: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": tid, "type": str(task.get("type") or "test"), "priority": int(task.get("priority") or 0),
            "requirements": task.get("requirements")}
