"""Worker status and health rules, kept in SQL so filters and sorts run in the database.

Status: `removed` after an admin removed it (until it is heard from again), `stopped` after a
worker_offline newer than the last contact (a clean leave, never alerted on), `offline` after
DTMON_OFFLINE_AFTER seconds of silence without that goodbye; otherwise `busy` with running tasks,
else `active`.

Health (documented in the README):
- `unknown`: no heartbeat values yet, or the worker stopped or was removed;
- `critical`: offline without saying so, CPU >= 95 %, memory >= 95 %, or success rate < 50 %
  over at least 5 finished tasks;
- `warning`: CPU >= 80 %, memory >= 85 %, success rate < 80 % (at least 5 finished), or no
  heartbeat for half of DTMON_OFFLINE_AFTER;
- `healthy`: otherwise.
"""

from __future__ import annotations

CPU_CRITICAL, CPU_WARNING = 95.0, 80.0
MEMORY_CRITICAL, MEMORY_WARNING = 95.0, 85.0
SUCCESS_CRITICAL, SUCCESS_WARNING, MIN_FINISHED = 50.0, 80.0, 5

NOW = "make_timestamp($now_us)"
STALE = f"last_seen < {NOW} - to_microseconds(CAST($offline_after_s * 1000000 AS BIGINT))"
HALF_STALE = f"last_seen < {NOW} - to_microseconds(CAST($offline_after_s * 500000 AS BIGINT))"
FINISHED = "(tasks_completed + tasks_failed)"
SUCCESS = f"(100.0 * tasks_completed / nullif({FINISHED}, 0))"

# A later contact brings a removed or stopped worker back.
REMOVED = "removed_at IS NOT NULL AND removed_at >= last_seen"
STOPPED = "offline_at IS NOT NULL AND offline_at >= last_seen"
ONLINE_STATUSES = ("active", "busy")
ONLINE = "status IN ('active', 'busy')"
WORKER_STATUSES = ("active", "busy", "offline", "stopped", "removed")

STATUS_SQL = f"""CASE
  WHEN {REMOVED} THEN 'removed'
  WHEN {STOPPED} THEN 'stopped'
  WHEN {STALE} THEN 'offline'
  WHEN coalesce(running_tasks, 0) > 0 THEN 'busy'
  ELSE 'active' END"""

OFFLINE_REASON_SQL = f"""CASE
  WHEN {STOPPED} THEN 'shutdown'
  WHEN {STALE} THEN 'timeout' END"""

HEALTH_SQL = f"""CASE
  WHEN {REMOVED} OR {STOPPED} THEN 'unknown'
  WHEN {STALE} THEN 'critical'
  WHEN cpu_percent IS NULL AND memory_percent IS NULL THEN 'unknown'
  WHEN cpu_percent >= {CPU_CRITICAL} OR memory_percent >= {MEMORY_CRITICAL}
       OR ({FINISHED} >= {MIN_FINISHED} AND {SUCCESS} < {SUCCESS_CRITICAL}) THEN 'critical'
  WHEN cpu_percent >= {CPU_WARNING} OR memory_percent >= {MEMORY_WARNING}
       OR ({FINISHED} >= {MIN_FINISHED} AND {SUCCESS} < {SUCCESS_WARNING}) OR {HALF_STALE} THEN 'warning'
  ELSE 'healthy' END"""


def refresh_workers_sql(where: str) -> str:
    """UPDATE recomputing status and health for the workers matching `where`."""
    return (f"UPDATE workers SET status = {STATUS_SQL}, offline_reason = {OFFLINE_REASON_SQL}, "
            f"health = {HEALTH_SQL} WHERE {where}")


def refresh_stale_sql() -> str:
    """Only rows whose answer can change with the clock alone: online but quiet."""
    return refresh_workers_sql(f"{ONLINE} AND {HALF_STALE}")


# A removal is dated no earlier than the last contact, so a clock ahead of ours cannot undo it.
REMOVE_SQL = """UPDATE workers SET removed_at = greatest(make_timestamp($now_us), last_seen), removed_by = $by
WHERE worker_id = $id RETURNING worker_id"""
