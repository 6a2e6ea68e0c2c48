"""Time-range questions: bucketed resources from the right tier, and the fleet as it was at a time."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from storage.health import ONLINE_STATUSES
from storage.queries import FAILED, LIVE, ts

# (largest span served, tier, finest bucket in seconds): raw up to 2 h, minutes up to 3 days.
TIERS = [
    (2 * 3600, "raw", 10),
    (3 * 86400, "minute", 60),
    (math.inf, "hour", 3600),
]
NICE_BUCKETS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
TARGET_POINTS = 180

RAW = """SELECT epoch(time_bucket(to_seconds($bucket), ts)) AS b, avg(cpu_percent), max(cpu_percent),
  avg(memory_percent), max(memory_percent), avg(memory_used_gb), count(DISTINCT worker_id)
FROM worker_samples WHERE ts >= $start AND ts < $end {extra} GROUP BY b ORDER BY b"""

ROLLUP = """SELECT epoch(time_bucket(to_seconds($bucket), bucket)) AS b,
  sum(cpu_avg * samples) / sum(samples), max(cpu_max), sum(mem_pct_avg * samples) / sum(samples),
  max(mem_pct_max), sum(mem_used_avg_gb * samples) / sum(samples), count(DISTINCT worker_id)
FROM {table} WHERE bucket >= $start AND bucket < $end {extra} GROUP BY b ORDER BY b"""

POINT_KEYS = ["ts", "cpu_avg", "cpu_max", "memory_avg", "memory_max", "memory_used_avg_gb", "workers"]


def choose_tier(span_s: float) -> tuple[str, int]:
    """The coarsest-enough table and a bucket giving about TARGET_POINTS points."""
    for limit, tier, finest in TIERS:
        if span_s <= limit:
            wanted = max(finest, span_s / TARGET_POINTS)
            bucket = next((b for b in NICE_BUCKETS if b >= wanted), NICE_BUCKETS[-1])
            return tier, max(bucket, finest)
    raise AssertionError("unreachable")


def resources(cur: duckdb.DuckDBPyConnection, start: float, end: float, worker_id: str | None = None,
              tier: str | None = None, bucket: int | None = None) -> dict:
    chosen, chosen_bucket = choose_tier(end - start)
    tier, bucket = tier or chosen, bucket or chosen_bucket
    extra = "AND worker_id = $worker" if worker_id else ""
    sql = RAW.format(extra=extra) if tier == "raw" else ROLLUP.format(
        table=f"worker_samples_{tier}", extra=extra)
    params = {"bucket": bucket, "start": ts(start), "end": ts(end)}
    if worker_id:
        params["worker"] = worker_id
    rows = cur.execute(sql, params).fetchall()
    return {"tier": tier, "bucket_seconds": bucket, "points": [dict(zip(POINT_KEYS, r)) for r in rows]}


@dataclass
class Fleet:
    """The health rule's inputs now and one trend window ago, and the status counts the Cluster view shows."""

    now: dict
    past: dict
    workers_by_status: dict[str, int]
    tasks_by_status: dict[str, int]


PastWorkers = Callable[[float, Callable[[], dict]], dict]  # (at, scan) -> the figures of scan() or kept ones


def fleet(cur: duckdb.DuckDBPyConnection, now: float, offline_after: float, health_window: float,
          trend_window: float, pressure: float = 90.0, past_workers: PastWorkers | None = None) -> Fleet:
    """Three scans (workers, tasks, the past hour's samples) instead of one per figure: under ingest
    load every statement waits for the GIL and a core, so the count of statements sets a read's time.
    `past_workers` may answer the last from what it kept (storage.settled)."""
    workers, workers_by_status = _workers_now(cur, now, offline_after, trend_window, pressure)
    tasks_now, tasks_past, tasks_by_status = _tasks(cur, now, now - trend_window, health_window)
    at = now - trend_window

    def scan() -> dict:
        return _workers_at(cur, at, offline_after, trend_window)

    past = (past_workers(at, scan) if past_workers else scan()) | tasks_past
    return Fleet(workers | tasks_now, past, workers_by_status, tasks_by_status)


def fleet_now(cur: duckdb.DuckDBPyConnection, now: float, offline_after: float, health_window: float,
              trend_window: float, pressure: float = 90.0) -> dict:
    """The health rule's inputs now, without the trend's scan of the past hour."""
    workers, _ = _workers_now(cur, now, offline_after, trend_window, pressure)
    return workers | _tasks(cur, now, now - trend_window, health_window)[0]


def _workers_at(cur: duckdb.DuckDBPyConnection, at: float, offline_after: float, trend_window: float) -> dict:
    """The workers as they stood at `at`, rebuilt from the samples."""
    counts = cur.execute("""
        WITH last AS (
          SELECT worker_id, max(ts) AS seen, arg_max(cpu_percent, ts) AS cpu, arg_max(memory_percent, ts) AS mem
          FROM worker_samples WHERE ts > $from AND ts <= $at GROUP BY worker_id)
        SELECT
          count(*) FILTER (seen > $online_since AND (w.offline_at IS NULL OR NOT w.offline_at BETWEEN seen AND $at)),
          count(*) FILTER (seen <= $online_since AND (w.offline_at IS NULL OR NOT w.offline_at BETWEEN seen AND $at)),
          count(*) FILTER (seen > $online_since AND (cpu >= 90 OR mem >= 90)),
          count(*) FILTER (seen > $online_since AND seen <= $half_stale)
        FROM last LEFT JOIN workers w USING (worker_id)""", {
        "from": ts(at - trend_window), "at": ts(at), "online_since": ts(at - offline_after),
        "half_stale": ts(at - offline_after / 2)}).fetchone()
    return dict(zip(["online", "timed_out", "pressured", "stale"], counts))


TASK_FIGURES = ["total_tasks", "finished", "completed", "recent_finished", "recent_failed"]
FIRST_SEEN = "coalesce(submitted_at, started_at, finished_at)"
# Per status: counts as of now, and what happened after each time (a filter per figure and time cost 3x).
TASKS_SQL = f"""SELECT status, count({FIRST_SEEN}), count(finished_at),
  count(*) FILTER ({FIRST_SEEN} > $now), count(*) FILTER (finished_at > $now),
  count(*) FILTER (finished_at > $now_recent AND finished_at <= $now),
  count(*) FILTER ({FIRST_SEEN} > $past), count(*) FILTER (finished_at > $past),
  count(*) FILTER (finished_at > $past_recent AND finished_at <= $past)
FROM tasks GROUP BY status"""


def _tasks(cur: duckdb.DuckDBPyConnection, now: float, past: float,
           health_window: float) -> tuple[dict, dict, dict[str, int]]:
    """Task figures at two times and the count per status, in one scan of the tasks."""
    rows = cur.execute(TASKS_SQL, {"now": ts(now), "now_recent": ts(now - health_window), "past": ts(past),
                                   "past_recent": ts(past - health_window)}).fetchall()
    return _task_figures(rows, 3), _task_figures(rows, 6), {row[0]: row[1] for row in rows}


def _task_figures(rows: list[tuple], at: int) -> dict:
    """TASK_FIGURES as of one time, from the columns TASKS_SQL gives it (first of three at `at`)."""
    def total(column: int, statuses: tuple[str, ...] | None = None) -> int:
        return sum(row[column] for row in rows if statuses is None or row[0] in statuses)

    def finished(statuses: tuple[str, ...] | None = None) -> int:
        return total(2, statuses) - total(at + 1, statuses)

    return dict(zip(TASK_FIGURES, [total(1) - total(at), finished(), finished(("completed",)), total(at + 2),
                                   total(at + 2, FAILED)]))


def _workers_now(cur: duckdb.DuckDBPyConnection, now: float, offline_after: float, trend_window: float,
                 pressure: float) -> tuple[dict, dict[str, int]]:
    """The health rule's worker inputs from the current-state table the lists show, and the count per status."""
    rows = cur.execute(f"""
        SELECT status, count(*), count(*) FILTER (last_seen > $window),
          count(*) FILTER (cpu_percent >= $p OR memory_percent >= $p), count(*) FILTER (last_seen <= $half_stale)
        FROM workers WHERE {LIVE} GROUP BY status""", {"window": ts(now - trend_window), "p": pressure,
                                                       "half_stale": ts(now - offline_after / 2)}).fetchall()
    online = [row for row in rows if row[0] in ONLINE_STATUSES]
    figures = {"online": sum(row[1] for row in online),
               "timed_out": sum(row[2] for row in rows if row[0] == "offline"),
               "pressured": sum(row[3] for row in online), "stale": sum(row[4] for row in online)}
    return figures, {row[0]: row[1] for row in rows}
