"""Read queries behind the monitoring API; every filter, sort and page runs in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb

from storage.health import ONLINE

FAILED = ("failed", "timed_out", "canceled")
LIVE = "status <> 'removed'"
WORKER_COLUMNS = """worker_id, hostname, status, health, cpu_percent, memory_used_gb, memory_total_gb,
  memory_percent, tasks_completed, tasks_failed, running_tasks, hardware, rtt_ms, epoch(last_seen),
  epoch(registered_at), offline_reason, hb_gap_avg, hb_gap_dev, epoch(removed_at), removed_by"""
WORKER_KEYS = ["id", "hostname", "status", "health", "cpu", "memory", "memory_total", "memory_percent",
               "tasks_completed", "tasks_failed", "running_tasks", "hardware", "rtt_ms", "last_seen",
               "registered_at", "offline_reason", "hb_gap_avg", "hb_gap_dev", "removed_at", "removed_by"]
WORKER_SORTS = {
    "id": "worker_id", "hostname": "hostname", "status": "status", "cpu": "cpu_percent",
    "memory": "memory_used_gb", "memory_percent": "memory_percent", "tasks_completed": "tasks_completed",
    "success_rate": "tasks_completed / nullif(tasks_completed + tasks_failed, 0)",
    "last_seen": "last_seen", "rtt_ms": "rtt_ms",
    "health": "CASE health WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END",
}
TASK_COLUMNS = """task_id, type, status, priority, worker_id, epoch(submitted_at), epoch(started_at),
  epoch(finished_at), duration_s, error, requirements"""
TASK_KEYS = ["id", "type", "status", "priority", "worker_id", "submitted", "started", "finished",
             "duration", "error", "requirements"]
TASK_SORTS = {"submitted": "submitted_at", "started": "started_at", "finished": "finished_at",
              "priority": "priority", "duration": "duration_s", "id": "task_id", "status": "status",
              "type": "type", "worker": "worker_id"}


def ts(epoch: float) -> datetime:
    """A naive UTC timestamp for DuckDB parameters (no ICU, so no TIMESTAMPTZ)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).replace(tzinfo=None)


def like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class Where:
    """Accumulates SQL conditions with named parameters."""

    clauses: list[str]
    params: dict[str, Any]

    @classmethod
    def empty(cls) -> "Where":
        return cls([], {})

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def _order(sorts: dict[str, str], sort: str, order: str, tiebreak: str) -> str:
    direction = "DESC" if order.lower() == "desc" else "ASC"
    return f" ORDER BY {sorts[sort]} {direction} NULLS LAST, {tiebreak} ASC"


def page(cur: duckdb.DuckDBPyConnection, table: str, columns: str, where: Where, order_by: str,
         limit: int, offset: int) -> tuple[list[tuple], int]:
    total = cur.execute(f"SELECT count(*) FROM {table}{where.sql()}", where.params).fetchone()[0]
    rows = cur.execute(f"SELECT {columns} FROM {table}{where.sql()}{order_by} LIMIT $limit OFFSET $offset",
                       {**where.params, "limit": limit, "offset": offset}).fetchall()
    return rows, total


def worker_filter(search: str = "", status: list[str] | None = None, health: list[str] | None = None,
                  hardware: list[str] | None = None) -> Where:
    where = Where.empty()
    if search:
        where.add("(worker_id ILIKE $q ESCAPE '\\' OR hostname ILIKE $q ESCAPE '\\' OR status ILIKE $q ESCAPE '\\'"
                  " OR list_contains(hardware, lower($raw)))", q=like(search), raw=search)
    if status:
        where.add("status IN (SELECT unnest($status::VARCHAR[]))", status=status)
    else:  # removed workers leave the live views; asking for status=removed lists them
        where.add(LIVE)
    if health:
        where.add("health IN (SELECT unnest($health::VARCHAR[]))", health=health)
    if hardware:
        where.add("list_has_any(hardware, $hardware::VARCHAR[])", hardware=hardware)
    return where


def workers(cur: duckdb.DuckDBPyConnection, where: Where, sort: str, order: str, limit: int,
            offset: int) -> tuple[list[dict], int]:
    rows, total = page(cur, "workers", WORKER_COLUMNS, where, _order(WORKER_SORTS, sort, order, "worker_id"),
                       limit, offset)
    return [dict(zip(WORKER_KEYS, row)) for row in rows], total


def worker(cur: duckdb.DuckDBPyConnection, worker_id: str) -> dict | None:
    row = cur.execute(f"SELECT {WORKER_COLUMNS}, capabilities, gpus FROM workers WHERE worker_id = $id",
                      {"id": worker_id}).fetchone()
    if row is None:
        return None
    return dict(zip(WORKER_KEYS + ["capabilities", "gpus"], row))


def task_filter(status: str = "all", type_: str = "", worker: str = "", priority: int | None = None,
                search: str = "") -> Where:
    where = Where.empty()
    if status == "failed":
        where.add(f"status IN {FAILED}")
    elif status != "all":
        where.add("status = $status", status=status)
    if type_:
        where.add("type = $type", type=type_)
    if worker:
        where.add("worker_id = $worker", worker=worker)
    if priority is not None:
        where.add("priority = $priority", priority=priority)
    if search:
        where.add("(task_id ILIKE $q ESCAPE '\\' OR type ILIKE $q ESCAPE '\\' OR worker_id ILIKE $q ESCAPE '\\'"
                  " OR error ILIKE $q ESCAPE '\\')", q=like(search))
    return where


def tasks(cur: duckdb.DuckDBPyConnection, where: Where, sort: str, order: str, limit: int,
          offset: int) -> tuple[list[dict], int]:
    rows, total = page(cur, "tasks", TASK_COLUMNS, where, _order(TASK_SORTS, sort, order, "task_id"),
                       limit, offset)
    return [dict(zip(TASK_KEYS, row)) for row in rows], total


def task(cur: duckdb.DuckDBPyConnection, task_id: str) -> tuple[dict, list[dict]] | None:
    row = cur.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = $id", {"id": task_id}).fetchone()
    if row is None:
        return None
    events = cur.execute("SELECT epoch(ts), kind, worker_id, status, error FROM task_events WHERE task_id = $id "
                         "ORDER BY ts", {"id": task_id}).fetchall()
    return dict(zip(TASK_KEYS, row)), [dict(zip(["ts", "kind", "worker_id", "status", "error"], e)) for e in events]


def task_status_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(cur.execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall())


def worker_status_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(cur.execute(f"SELECT status, count(*) FROM workers WHERE {LIVE} GROUP BY status").fetchall())


def hardware(cur: duckdb.DuckDBPyConnection, saturated_cpu: float) -> list[tuple[str, int, int]]:
    return cur.execute(f"""
        SELECT hw, count(*) FILTER ({ONLINE} AND coalesce(cpu_percent, 0) < $sat), count(*)
        FROM (SELECT unnest(hardware) AS hw, status, cpu_percent FROM workers WHERE {LIVE}) GROUP BY hw ORDER BY hw""",
                       {"sat": saturated_cpu}).fetchall()


def latest_links(cur: duckdb.DuckDBPyConnection, since: float) -> list[tuple]:
    return cur.execute("""
        SELECT source, target, arg_max(rtt_ms, ts), arg_max(bandwidth_bps, ts), epoch(max(ts))
        FROM link_samples WHERE ts >= $since GROUP BY source, target ORDER BY source, target""",
                       {"since": ts(since)}).fetchall()
