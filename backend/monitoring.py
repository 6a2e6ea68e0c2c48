"""Builds the monitoring responses from storage reads and the pure rules."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from backend import rules
from backend.schemas import iso
from backend.settings import Settings
from storage import queries, timeseries
from storage.health import ONLINE_STATUSES, REMOVE_SQL, refresh_workers_sql
from storage.settled import SettledHistory
from storage.store import Cursor

HARDWARE_LABELS = {"cpu": "CPU", "cuda": "CUDA", "rocm": "ROCm", "mps": "MPS", "openvino": "OpenVINO",
                   "qnn": "QNN", "webgpu": "WebGPU", "webnn": "WebNN"}
TASK_STATUSES = ["pending", "running", "completed", "failed", "timed_out", "canceled"]
NETWORK_LIMIT = 500  # nodes drawn; beyond it the map says it is truncated
RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
Reader = Callable[[Cursor], object]


def cluster(settings: Settings, now: float | None = None, settled: SettledHistory | None = None) -> Reader:
    now = time.time() if now is None else now
    window = settings.trend_window

    def read(cur: Cursor) -> dict:
        fleet = timeseries.fleet(cur, now, settings.offline_after, settings.health_window, window,
                                 past_workers=settled.workers_at if settled else None)
        current, past, by_status = fleet.now, fleet.past, fleet.workers_by_status
        health_now, health_past = rules.health(current), rules.health(past)
        rate_now = rules.success_rate(current["completed"], current["finished"])
        rate_past = rules.success_rate(past["completed"], past["finished"])
        health_now["trend"] = rules.trend(health_now["score"], health_past["score"] if past["online"] else None, True)
        return {
            "active_workers": current["online"],
            "busy_workers": by_status.get("busy", 0),
            "offline_workers": by_status.get("offline", 0),
            "stopped_workers": by_status.get("stopped", 0),
            "total_workers": sum(by_status.values()),
            "total_tasks": current["total_tasks"],
            "tasks_by_status": _task_counts(fleet.tasks_by_status),
            "success_rate": rate_now,
            "health": health_now,
            "trends": {
                "workers": rules.trend(current["online"], past["online"], True),
                "tasks": rules.trend(current["total_tasks"], past["total_tasks"], None),
                "success_rate": rules.trend(rate_now, rate_past, True),
            },
            "window_seconds": window,
            "generated_at": iso(now),
        }

    return read


def health_score(settings: Settings) -> Reader:
    """The Cluster view's health score alone (an alert metric: no trend, so no scan of the past hour)."""
    def read(cur: Cursor) -> float | None:
        current = timeseries.fleet_now(cur, time.time(), settings.offline_after, settings.health_window,
                                       settings.trend_window)
        return rules.health(current)["score"]

    return read


def _task_counts(counts: dict[str, int]) -> dict[str, int]:
    return {status: counts.get(status, 0) for status in TASK_STATUSES} | counts


def worker_row(raw: dict) -> dict:
    """API shape of a worker: the original documentation's keys plus the extended ones."""
    finished = raw["tasks_completed"] + raw["tasks_failed"]
    row = {k: v for k, v in raw.items() if k not in ("hb_gap_avg", "hb_gap_dev", "offline_reason")}
    row["success_rate"] = rules.success_rate(raw["tasks_completed"], finished)
    for key in ("last_seen", "registered_at", "removed_at"):
        row[key] = iso(raw[key])
    row["hardware"] = raw["hardware"] or []
    return row


def _plain_row(raw: dict) -> dict:
    """A detail row without its JSON documents (capabilities, GPUs)."""
    return worker_row({k: v for k, v in raw.items() if k not in ("capabilities", "gpus")})


def task_row(raw: dict) -> dict:
    return raw | {key: iso(raw[key]) for key in ("submitted", "started", "finished")} | {
        "requirements": raw["requirements"] or []}


def worker_list(where: queries.Where, sort: str, order: str, limit: int, offset: int) -> Reader:
    def read(cur: Cursor) -> tuple[list[dict], int]:
        rows, total = queries.workers(cur, where, sort, order, limit, offset)
        return [worker_row(r) for r in rows], total

    return read


def task_list(where: queries.Where, sort: str, order: str, limit: int, offset: int) -> Reader:
    def read(cur: Cursor) -> tuple[list[dict], int]:
        rows, total = queries.tasks(cur, where, sort, order, limit, offset)
        return [task_row(r) for r in rows], total

    return read


def resources(start: float, end: float, worker_id: str | None = None, settled: SettledHistory | None = None) -> Reader:
    """The fleet's resources come through the kept chart buckets when given."""
    def read(cur: Cursor) -> dict:
        fleet = settled is not None and worker_id is None
        result = settled.resources(cur, start, end) if fleet else timeseries.resources(cur, start, end, worker_id)
        for point in result["points"]:
            point["ts"] = iso(point["ts"])
            for key in ("cpu_avg", "cpu_max", "memory_avg", "memory_max", "memory_used_avg_gb"):
                point[key] = None if point[key] is None else round(point[key], 2)
        return {"start": iso(start), "end": iso(end)} | result

    return read


def worker_detail(worker_id: str, start: float, end: float, recent: int = 20) -> Reader:
    def read(cur: Cursor) -> dict | None:
        raw = queries.worker(cur, worker_id)
        if raw is None:
            return None
        series = resources(start, end, worker_id)(cur)
        running, _ = task_list(queries.task_filter("running", worker=worker_id), "started", "desc", 100, 0)(cur)
        latest, _ = task_list(queries.task_filter(worker=worker_id), "submitted", "desc", recent, 0)(cur)
        row = _plain_row(raw) | {"capabilities": _json(raw["capabilities"], {}), "gpus": _json(raw["gpus"], [])}
        points = [{"ts": p["ts"], "cpu": p["cpu_avg"], "memory": p["memory_used_avg_gb"],
                   "memory_percent": p["memory_avg"]} for p in series["points"]]
        return {"worker": row, "series": points, "tier": series["tier"], "running": running, "recent": latest}

    return read


def _json(text: str | None, default: object) -> object:
    return default if not text else json.loads(text)


def remove_worker(worker_id: str, by: str, now: float, offline_after: float) -> Callable[[Cursor], dict | None]:
    """A write hiding the worker from the live views (its history stays); None when it is unknown."""
    def write(cur: Cursor) -> dict | None:
        params = {"id": worker_id, "now_us": int(now * 1_000_000)}
        if cur.execute(REMOVE_SQL, params | {"by": by}).fetchone() is None:
            return None
        cur.execute(refresh_workers_sql("worker_id = $id"), params | {"offline_after_s": offline_after})
        return _plain_row(queries.worker(cur, worker_id))

    return write


def task_detail(task_id: str) -> Reader:
    def read(cur: Cursor) -> dict | None:
        found = queries.task(cur, task_id)
        if found is None:
            return None
        row, events = found
        return {"task": task_row(row), "events": [e | {"ts": iso(e["ts"])} for e in events]}

    return read


def hardware(settings: Settings) -> Reader:
    def read(cur: Cursor) -> list[dict]:
        return [{"type": hw, "label": HARDWARE_LABELS.get(hw, hw), "available": available, "total": total}
                for hw, available, total in queries.hardware(cur, settings.saturated_cpu)]

    return read


def network(settings: Settings, limit: int = NETWORK_LIMIT, now: float | None = None) -> Reader:
    now = time.time() if now is None else now

    def read(cur: Cursor) -> dict:
        rows, total = queries.workers(cur, queries.worker_filter(), "id", "asc", limit, 0)
        nodes = [{"id": "coordinator", "label": "coordinator", "kind": "coordinator", "status": "active",
                  "health": "healthy", "hardware": []}]
        links = []
        for w in rows:
            # the id labels the node: several workers on one host share a hostname
            nodes.append({"id": w["id"], "label": w["id"], "hostname": w["hostname"], "kind": "worker",
                          "status": w["status"], "health": w["health"], "hardware": w["hardware"] or [],
                          "cpu": w["cpu"], "memory_percent": w["memory_percent"], "rtt_ms": w["rtt_ms"]})
            quality, label = rules.link_quality(w["rtt_ms"], w["hb_gap_avg"], w["hb_gap_dev"],
                                                w["status"] in ONLINE_STATUSES)
            links.append({"source": "coordinator", "target": w["id"], "rtt_ms": w["rtt_ms"],
                          "bandwidth_bps": None, "quality": quality, "quality_label": label})
        shown = {n["id"] for n in nodes}
        for source, target, rtt, bandwidth, _ in queries.latest_links(cur, now - 10 * settings.offline_after):
            if source in shown and target in shown:
                quality, label = rules.link_quality(rtt, None, None, True)
                links.append({"source": source, "target": target, "rtt_ms": rtt, "bandwidth_bps": bandwidth,
                              "quality": quality, "quality_label": label})
        return {"nodes": nodes, "links": links, "total_workers": total, "truncated": total > limit}

    return read
