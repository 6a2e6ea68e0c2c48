"""History over any time range: resources, task outcomes, workers and hardware, from the right tier."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import duckdb

from storage.queries import FAILED, ts
from storage.timeseries import POINT_KEYS, RAW, ROLLUP, choose_tier

FINEST_BUCKET = {"raw": 10, "minute": 60, "hour": 3600}
_FAILED_SQL = "('" + "', '".join(FAILED) + "')"

TASKS = f"""SELECT epoch(time_bucket(to_seconds($bucket), finished_at)) AS b,
  count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status IN {_FAILED_SQL})
FROM tasks WHERE finished_at >= $start AND finished_at < $end {{extra}} GROUP BY b ORDER BY b"""

# Raw samples shaped like a rollup row, so one breakdown query serves every tier.
RAW_AS_ROLLUP = """(SELECT worker_id, count(*) AS samples, avg(cpu_percent) AS cpu_avg, max(cpu_percent) AS cpu_max,
  avg(memory_percent) AS mem_pct_avg, max(memory_percent) AS mem_pct_max
  FROM worker_samples WHERE ts >= $start AND ts < $end GROUP BY worker_id)"""
ROLLUP_RANGE = "(SELECT * FROM {table} WHERE bucket >= $start AND bucket < $end)"

HARDWARE = f"""WITH per_worker AS (
  SELECT worker_id, sum(samples) AS n, sum(cpu_avg * samples) AS cpu_sum, max(cpu_max) AS cpu_max,
    sum(mem_pct_avg * samples) AS mem_sum, max(mem_pct_max) AS mem_max
  FROM {{source}} GROUP BY worker_id),
outcomes AS (
  SELECT worker_id, count(*) FILTER (WHERE status = 'completed') AS completed,
    count(*) FILTER (WHERE status IN {_FAILED_SQL}) AS failed
  FROM tasks WHERE finished_at >= $start AND finished_at < $end GROUP BY worker_id),
kinds AS (SELECT worker_id, unnest(hardware) AS kind FROM workers)
SELECT kind, count(p.worker_id), sum(cpu_sum) / sum(n), max(cpu_max), sum(mem_sum) / sum(n), max(mem_max),
  coalesce(sum(o.completed), 0), coalesce(sum(o.failed), 0)
FROM kinds LEFT JOIN per_worker p USING (worker_id) LEFT JOIN outcomes o USING (worker_id)
GROUP BY kind HAVING count(p.worker_id) > 0 OR coalesce(sum(o.completed + o.failed), 0) > 0
ORDER BY kind"""
HARDWARE_KEYS = ["type", "workers", "cpu_avg", "cpu_max", "memory_avg", "memory_max", "completed", "failed"]


def iso(epoch: float) -> str:
    """API timestamps: ISO 8601 in UTC with a Z."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def plan(start: float, end: float, now: float, raw_retention: float, minute_retention: float) -> tuple[str, int]:
    """Tier and bucket for [start, end): by span, then moved coarser when retention has pruned the finer tier."""
    tier, bucket = choose_tier(end - start)
    if tier == "raw" and start < now - raw_retention:
        tier = "minute"
    if tier == "minute" and start < now - minute_retention:
        tier = "hour"
    return tier, max(bucket, FINEST_BUCKET[tier])


def _scope(worker: str | None, hardware: str | None) -> tuple[str, dict[str, Any]]:
    """Extra SQL filter (and its parameters) for one worker or one hardware type."""
    if worker:
        return "AND worker_id = $worker", {"worker": worker}
    if hardware:
        return ("AND worker_id IN (SELECT worker_id FROM workers WHERE list_contains(hardware, $hardware))",
                {"hardware": hardware.lower()})
    return "", {}


def resource_points(cur: duckdb.DuckDBPyConnection, start: float, end: float, tier: str, bucket: int,
                    worker: str | None = None, hardware: str | None = None) -> list[dict[str, Any]]:
    """CPU/memory average and maximum and worker count per bucket from the given tier."""
    extra, params = _scope(worker, hardware)
    sql = RAW.format(extra=extra) if tier == "raw" else ROLLUP.format(table=f"worker_samples_{tier}", extra=extra)
    rows = cur.execute(sql, {"bucket": bucket, "start": ts(start), "end": ts(end), **params}).fetchall()
    return [dict(zip(POINT_KEYS, row)) for row in rows]


def task_points(cur: duckdb.DuckDBPyConnection, start: float, end: float, bucket: int,
                worker: str | None = None, hardware: str | None = None) -> list[dict[str, Any]]:
    """Tasks completed and failed per bucket, with the success rate of each bucket."""
    extra, params = _scope(worker, hardware)
    rows = cur.execute(TASKS.format(extra=extra),
                       {"bucket": bucket, "start": ts(start), "end": ts(end), **params}).fetchall()
    return [{"ts": b, "completed": done, "failed": failed, "success_rate": success_rate(done, failed)}
            for b, done, failed in rows]


def success_rate(completed: int, failed: int) -> float | None:
    """Percent (one decimal) of finished tasks that completed; None when none finished."""
    finished = completed + failed
    return round(100.0 * completed / finished, 1) if finished else None


def hardware_breakdown(cur: duckdb.DuckDBPyConnection, start: float, end: float, tier: str) -> list[dict[str, Any]]:
    """Per hardware type over the whole range: workers seen, CPU/memory, task outcomes."""
    source = RAW_AS_ROLLUP if tier == "raw" else ROLLUP_RANGE.format(table=f"worker_samples_{tier}")
    rows = cur.execute(HARDWARE.format(source=source), {"start": ts(start), "end": ts(end)}).fetchall()
    breakdown = [dict(zip(HARDWARE_KEYS, row)) for row in rows]
    for item in breakdown:
        item["success_rate"] = success_rate(item["completed"], item["failed"])
    return breakdown


def merge_points(resources: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per bucket holding both resource and task figures (absent side is empty)."""
    empty_resources = dict.fromkeys(POINT_KEYS[1:])
    empty_outcomes = {"completed": 0, "failed": 0, "success_rate": None}
    by_ts: dict[float, dict[str, Any]] = {}
    for point in resources:
        by_ts[point["ts"]] = {**empty_outcomes, **point}
    for point in outcomes:
        by_ts[point["ts"]] = {**empty_resources, **by_ts.get(point["ts"], {}), **point}
    return [{**by_ts[key], "ts": iso(key)} for key in sorted(by_ts)]


def history(cur: duckdb.DuckDBPyConnection, start: float, end: float, now: float, raw_retention: float,
            minute_retention: float, worker: str | None = None, hardware: str | None = None) -> dict[str, Any]:
    """Everything the History page draws for one range, in one answer."""
    tier, bucket = plan(start, end, now, raw_retention, minute_retention)
    resources = resource_points(cur, start, end, tier, bucket, worker, hardware)
    outcomes = task_points(cur, start, end, bucket, worker, hardware)
    answer = {"start": iso(start), "end": iso(end), "tier": tier, "bucket_seconds": bucket,
              "worker": worker, "hardware_filter": hardware, "points": merge_points(resources, outcomes)}
    if not worker and not hardware:
        answer["hardware"] = hardware_breakdown(cur, start, end, tier)
    return answer
