"""Time-range questions: bucketed resources from the right tier, and the fleet as it was at a time."""

from __future__ import annotations

import math

import duckdb

from storage.health import ONLINE
from storage.queries import FAILED, ts

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
              tier: str | None = None) -> dict:
    chosen, bucket = choose_tier(end - start)
    tier = tier or chosen
    extra = "AND worker_id = $worker" if worker_id else ""
    sql = RAW.format(extra=extra) if tier == "raw" else ROLLUP.format(
        table=f"worker_samples_{tier}", extra=extra)
    params = {"bucket": bucket, "start": ts(start), "end": ts(end)}
    if worker_id:
        params["worker"] = worker_id
    rows = cur.execute(sql, params).fetchall()
    return {"tier": tier, "bucket_seconds": bucket, "points": [dict(zip(POINT_KEYS, r)) for r in rows]}


def fleet_at(cur: duckdb.DuckDBPyConnection, at: float, offline_after: float, health_window: float,
             trend_window: float) -> dict:
    """The inputs of the health rule as they stood at `at`, rebuilt from samples and tasks."""
    return _workers_at(cur, at, offline_after, trend_window) | tasks_at(cur, at, health_window)


def _workers_at(cur: duckdb.DuckDBPyConnection, at: float, offline_after: float, trend_window: float) -> dict:
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


def tasks_at(cur: duckdb.DuckDBPyConnection, at: float, health_window: float) -> dict:
    counts = cur.execute(f"""
        SELECT count(*) FILTER (coalesce(submitted_at, started_at, finished_at) <= $at),
          count(*) FILTER (finished_at <= $at),
          count(*) FILTER (finished_at <= $at AND status = 'completed'),
          count(*) FILTER (finished_at > $recent AND finished_at <= $at),
          count(*) FILTER (finished_at > $recent AND finished_at <= $at AND status IN {FAILED})
        FROM tasks""", {"at": ts(at), "recent": ts(at - health_window)}).fetchone()
    keys = ["total_tasks", "finished", "completed", "recent_finished", "recent_failed"]
    return dict(zip(keys, counts))


def fleet_now(cur: duckdb.DuckDBPyConnection, now: float, offline_after: float, health_window: float,
              trend_window: float, pressure: float = 90.0) -> dict:
    """The same inputs for now, from the current-state tables the lists show."""
    online, timed_out, pressured, stale = cur.execute(f"""
        SELECT count(*) FILTER ({ONLINE}),
          count(*) FILTER (status = 'offline' AND last_seen > $window),
          count(*) FILTER ({ONLINE} AND (cpu_percent >= $p OR memory_percent >= $p)),
          count(*) FILTER ({ONLINE} AND last_seen <= $half_stale)
        FROM workers""", {"window": ts(now - trend_window), "p": pressure,
                          "half_stale": ts(now - offline_after / 2)}).fetchone()
    return tasks_at(cur, now, health_window) | {"online": online, "timed_out": timed_out, "pressured": pressured, "stale": stale}
