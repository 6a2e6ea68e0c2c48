"""Tables and their migrations; the schema version lives in the database itself."""

from __future__ import annotations

import duckdb

# Timestamps are naive TIMESTAMP in UTC: the ICU extension (time zones) cannot be loaded here.
BASE_DDL = [
    """CREATE TABLE IF NOT EXISTS workers (
        worker_id VARCHAR PRIMARY KEY, hostname VARCHAR, hardware VARCHAR[], capabilities JSON,
        status VARCHAR NOT NULL DEFAULT 'active', offline_reason VARCHAR, health VARCHAR NOT NULL DEFAULT 'unknown',
        registered_at TIMESTAMP, last_seen TIMESTAMP, last_heartbeat TIMESTAMP, offline_at TIMESTAMP,
        cpu_percent DOUBLE, memory_used_gb DOUBLE, memory_total_gb DOUBLE, memory_percent DOUBLE,
        gpus JSON, rtt_ms DOUBLE, running_tasks INTEGER DEFAULT 0,
        hb_gap_avg DOUBLE, hb_gap_dev DOUBLE,
        tasks_completed BIGINT DEFAULT 0, tasks_failed BIGINT DEFAULT 0,
        removed_at TIMESTAMP, removed_by VARCHAR)""",
    # Older databases gain the columns (CREATE TABLE IF NOT EXISTS leaves them as they were).
    "ALTER TABLE workers ADD COLUMN IF NOT EXISTS removed_at TIMESTAMP",
    "ALTER TABLE workers ADD COLUMN IF NOT EXISTS removed_by VARCHAR",
    """CREATE TABLE IF NOT EXISTS tasks (
        task_id VARCHAR PRIMARY KEY, type VARCHAR, status VARCHAR NOT NULL, priority INTEGER DEFAULT 0,
        requirements VARCHAR[], worker_id VARCHAR, submitted_at TIMESTAMP, started_at TIMESTAMP,
        finished_at TIMESTAMP, duration_s DOUBLE, error VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS worker_samples (
        ts TIMESTAMP NOT NULL, worker_id VARCHAR NOT NULL, cpu_percent DOUBLE, memory_used_gb DOUBLE,
        memory_total_gb DOUBLE, memory_percent DOUBLE, rtt_ms DOUBLE, running_tasks INTEGER, gpus JSON)""",
    """CREATE TABLE IF NOT EXISTS task_events (
        ts TIMESTAMP NOT NULL, task_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, worker_id VARCHAR,
        status VARCHAR, error VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS link_samples (
        ts TIMESTAMP NOT NULL, source VARCHAR NOT NULL, target VARCHAR NOT NULL, rtt_ms DOUBLE,
        bandwidth_bps DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS worker_samples_minute (
        bucket TIMESTAMP NOT NULL, worker_id VARCHAR NOT NULL, samples BIGINT, cpu_avg DOUBLE,
        cpu_max DOUBLE, mem_pct_avg DOUBLE, mem_pct_max DOUBLE, mem_used_avg_gb DOUBLE, rtt_avg_ms DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS worker_samples_hour (
        bucket TIMESTAMP NOT NULL, worker_id VARCHAR NOT NULL, samples BIGINT, cpu_avg DOUBLE,
        cpu_max DOUBLE, mem_pct_avg DOUBLE, mem_pct_max DOUBLE, mem_used_avg_gb DOUBLE, rtt_avg_ms DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS users (
        username VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL, role VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, disabled BOOLEAN NOT NULL DEFAULT false)""",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        token_hash VARCHAR PRIMARY KEY, token_id VARCHAR NOT NULL, name VARCHAR, role VARCHAR NOT NULL,
        username VARCHAR, kind VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP,
        revoked_at TIMESTAMP)""",
    "CREATE TABLE IF NOT EXISTS rollup_state (tier VARCHAR PRIMARY KEY, done_until TIMESTAMP)",
]

TABLE_DESCRIPTIONS = {
    "workers": "current state of each worker: status, health, last heartbeat values, task counters",
    "tasks": "current state of each task: status, priority, worker, times, duration, error",
    "worker_samples": "one row per heartbeat (raw, kept DTMON_RAW_RETENTION seconds)",
    "task_events": "one row per task event: submitted, started, finished",
    "link_samples": "measured links between nodes (rtt, bandwidth)",
    "worker_samples_minute": "per-worker rollup of samples per minute",
    "worker_samples_hour": "per-worker rollup of samples per hour",
}


def _extra_ddl() -> list[str]:
    """Tables owned by other storage modules (alerts, layouts, results), created with the rest."""
    from storage import alerts, layouts, results  # imported late: they import this package's store
    return [*alerts.DDL, *layouts.DDL, *results.DDL]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Create or upgrade the schema and return its version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] or 0
    for statement in BASE_DDL + _extra_ddl():
        con.execute(statement)
    if current < SCHEMA_VERSION:
        con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
    return SCHEMA_VERSION


SCHEMA_VERSION = 2
