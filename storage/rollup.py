"""Minute and hour rollups of worker samples, and retention pruning of every tier."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from storage.queries import ts

MINUTE_FROM_RAW = """
INSERT INTO worker_samples_minute
SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS bucket, worker_id, count(*), avg(cpu_percent), max(cpu_percent),
  avg(memory_percent), max(memory_percent), avg(memory_used_gb), avg(rtt_ms)
FROM worker_samples WHERE ts >= $since AND ts < $until GROUP BY ALL"""

HOUR_FROM_MINUTE = """
INSERT INTO worker_samples_hour
SELECT time_bucket(INTERVAL 1 HOUR, bucket) AS hour, worker_id, sum(samples),
  sum(cpu_avg * samples) / sum(samples), max(cpu_max), sum(mem_pct_avg * samples) / sum(samples),
  max(mem_pct_max), sum(mem_used_avg_gb * samples) / sum(samples), sum(rtt_avg_ms * samples) / sum(samples)
FROM worker_samples_minute WHERE bucket >= $since AND bucket < $until GROUP BY ALL"""


def _floor(epoch: float, step: int) -> float:
    return epoch - epoch % step


def rollup(until: float, late_since: float | None = None) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Rebuild the buckets from where the last pass stopped (kept in the database, so a restart
    resumes), or from `late_since` when older samples arrived late, up to `until`."""

    def write(con: duckdb.DuckDBPyConnection) -> None:
        done = con.execute("SELECT epoch(done_until) FROM rollup_state WHERE tier = 'samples'").fetchone()
        first = con.execute("SELECT epoch(min(ts)) FROM worker_samples").fetchone()[0]
        since = min(x for x in (done[0] if done else first, late_since, until) if x is not None) - 60
        _rebuild(con, "worker_samples_minute", MINUTE_FROM_RAW, _floor(since, 60), _floor(until, 60) + 60)
        _rebuild(con, "worker_samples_hour", HOUR_FROM_MINUTE, _floor(since, 3600), _floor(until, 3600) + 3600)
        con.execute("INSERT OR REPLACE INTO rollup_state VALUES ('samples', $until)", {"until": ts(until)})

    return write


def _rebuild(con: duckdb.DuckDBPyConnection, table: str, insert: str, since: float, until: float) -> None:
    bounds = {"since": ts(since), "until": ts(until)}
    con.execute(f"DELETE FROM {table} WHERE bucket >= $since AND bucket < $until", bounds)
    con.execute(insert, bounds)


def prune(now: float, raw_s: float, minute_s: float, hour_s: float,
          task_s: float) -> Callable[[duckdb.DuckDBPyConnection], dict[str, int]]:
    """Delete what is older than each tier's retention; finished tasks follow DTMON_TASK_RETENTION."""
    statements = {
        "worker_samples": ("DELETE FROM worker_samples WHERE ts < $cut", raw_s),
        "link_samples": ("DELETE FROM link_samples WHERE ts < $cut", raw_s),
        "worker_samples_minute": ("DELETE FROM worker_samples_minute WHERE bucket < $cut", minute_s),
        "worker_samples_hour": ("DELETE FROM worker_samples_hour WHERE bucket < $cut", hour_s),
        "task_events": ("DELETE FROM task_events WHERE ts < $cut AND task_id IN "
                        "(SELECT task_id FROM tasks WHERE finished_at < $cut)", task_s),
        "tasks": ("DELETE FROM tasks WHERE finished_at < $cut", task_s),
        # A worker silent for the raw window is offline, stopped or removed; its samples are gone too.
        "workers": ("DELETE FROM workers WHERE coalesce(last_seen, registered_at) < $cut", raw_s),
    }

    def write(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        return {table: con.execute(sql, {"cut": ts(now - keep)}).fetchone()[0]
                for table, (sql, keep) in statements.items()}

    return write
