"""Test and benchmark results: their tables, Arrow shapes and set-based inserts (two ingest groups)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

TS = pa.timestamp("us")
S = pa.string()

ARROW_SCHEMAS = {
    "test_result": pa.schema([("ts", TS), ("run_id", S), ("test_id", S), ("outcome", S), ("duration_s", pa.float64()),
                              ("worker_id", S), ("hardware", S), ("commit", S), ("branch", S),
                              ("attempt", pa.int32()), ("error", S)]),
    "benchmark_result": pa.schema([("ts", TS), ("run_id", S), ("benchmark", S), ("value", pa.float64()),
                                   ("unit", S), ("lower_is_better", pa.bool_()), ("worker_id", S), ("hardware", S),
                                   ("commit", S)]),
}

DDL = [
    """CREATE TABLE IF NOT EXISTS test_results (
        ts TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL, test_id VARCHAR NOT NULL, outcome VARCHAR NOT NULL,
        duration_s DOUBLE, worker_id VARCHAR NOT NULL, hardware VARCHAR NOT NULL, "commit" VARCHAR,
        branch VARCHAR, attempt INTEGER NOT NULL, error VARCHAR, error_signature VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS benchmark_results (
        ts TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL, benchmark VARCHAR NOT NULL, value DOUBLE NOT NULL,
        unit VARCHAR NOT NULL, lower_is_better BOOLEAN NOT NULL, worker_id VARCHAR NOT NULL,
        hardware VARCHAR NOT NULL, "commit" VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        test_id VARCHAR NOT NULL, hardware VARCHAR NOT NULL, quarantined_by VARCHAR NOT NULL,
        quarantined_at TIMESTAMP NOT NULL, reason VARCHAR NOT NULL, released_at TIMESTAMP,
        released_by VARCHAR, release_reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS worker_drains (
        worker_id VARCHAR PRIMARY KEY, drained_by VARCHAR NOT NULL, drained_at TIMESTAMP NOT NULL,
        reason VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS benchmark_triage (
        benchmark VARCHAR NOT NULL, hardware VARCHAR NOT NULL, change_run VARCHAR NOT NULL,
        state VARCHAR NOT NULL, triaged_by VARCHAR NOT NULL, triaged_at TIMESTAMP NOT NULL, direction VARCHAR,
        PRIMARY KEY (benchmark, hardware, change_run))""",
    # Older databases gain the column (CREATE TABLE IF NOT EXISTS leaves them as they were).
    "ALTER TABLE benchmark_triage ADD COLUMN IF NOT EXISTS direction VARCHAR",
]

# Default alert rules of the analytics, seeded once (after storage.alerts created alert_rules);
# deleting them later is respected.
ANALYTICS_RULES = [
    ("New suspect worker", "suspect_worker", ">=", 1.0, 0, 900, "warning"),
    ("Benchmark regression", "benchmark_regression", ">", 0.0, 0, 900, "warning"),
]
_SEED = ", ".join(f"('{name}', '{metric}', '{op}', {threshold}, {for_s}, {window}, '{severity}')"
                  for name, metric, op, threshold, for_s, window, severity in ANALYTICS_RULES)
DDL += [
    "CREATE TABLE IF NOT EXISTS analytics_seed (seeded_at TIMESTAMP NOT NULL)",
    f"""INSERT INTO alert_rules (name, metric, comparison, threshold, for_seconds, window_seconds, severity)
        SELECT * FROM (VALUES {_SEED}) WHERE NOT EXISTS (SELECT 1 FROM analytics_seed)""",
    "INSERT INTO analytics_seed SELECT now()::TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM analytics_seed)",
]

TABLE_DESCRIPTIONS = {
    "test_results": "one row per test attempt: run, test, outcome, duration, worker, hardware, commit",
    "benchmark_results": "one row per benchmark measurement: run, benchmark, value, unit, worker, hardware",
    "quarantine": "tests quarantined by an admin (optionally per hardware), and their release",
    "worker_drains": "workers an admin drained: run-tests schedules nothing on them",
    "benchmark_triage": "triage state an admin gave a detected benchmark change",
}

COLUMN_MEANINGS = {
    "test_results": {
        "ts": "when the attempt finished (UTC)", "run_id": "test run (suite invocation) id", "test_id": "test id",
        "outcome": "passed, failed, error, skipped or timed_out", "duration_s": "run time in seconds",
        "worker_id": "worker that ran it", "hardware": "backend it ran on", "commit": "git commit of the suite",
        "branch": "git branch of the suite", "attempt": "1 for the first run, 2+ for reruns",
        "error": "failure text", "error_signature": "last line of the failure, numbers and addresses blanked",
    },
    "benchmark_results": {
        "ts": "measurement time (UTC)", "run_id": "benchmark run id", "benchmark": "benchmark name",
        "value": "measured value", "unit": "unit of the value", "lower_is_better": "true for times, false for rates",
        "worker_id": "worker that measured it", "hardware": "backend measured", "commit": "git commit measured",
    },
    "quarantine": {
        "test_id": "test", "hardware": "backend, or empty for every backend", "quarantined_by": "admin",
        "quarantined_at": "when (UTC)", "reason": "why", "released_at": "when released (UTC)",
        "released_by": "admin, or auto after clean runs", "release_reason": "why released",
    },
    "worker_drains": {
        "worker_id": "worker", "drained_by": "admin", "drained_at": "when (UTC)", "reason": "why",
    },
    "benchmark_triage": {
        "benchmark": "benchmark", "hardware": "backend", "change_run": "first run after the change",
        "state": "untriaged, expected or regression", "triaged_by": "admin", "triaged_at": "when (UTC)",
        "direction": "worse or better: the triage follows a change in this direction",
    },
}

# The last non-empty line of a failure (where the exception usually is) with addresses, quoted
# values and numbers blanked, so "timeout after 31.2 s" and "after 30.9 s" group together; computed
# once at insert, so grouping a million results reads one plain column.
SIGNATURE = r"""CASE WHEN e.outcome IN ('failed', 'error', 'timed_out') THEN left(regexp_replace(regexp_replace(
  regexp_replace(list_last(list_filter(string_split(trim(coalesce(e.error, e.outcome)), chr(10)),
  lambda x: trim(x) <> '')), '0x[0-9a-fA-F]+', '<addr>', 'g'), '''[^'']*''|"[^"]*"', '"?"', 'g'),
  '[0-9]+(\.[0-9]+)?', 'N', 'g'), 240) END"""

# A client retrying a batch it never saw acknowledged must not count an attempt twice.
INSERT_TEST_RESULTS = f"""
INSERT INTO test_results SELECT e.*, {SIGNATURE} FROM ev_test_result e ANTI JOIN (
  SELECT run_id, test_id, hardware, worker_id, attempt FROM test_results
  WHERE run_id IN (SELECT DISTINCT run_id FROM ev_test_result)
) seen USING (run_id, test_id, hardware, worker_id, attempt)"""

INSERT_BENCHMARK_RESULTS = """
INSERT INTO benchmark_results SELECT e.* FROM ev_benchmark_result e ANTI JOIN (
  SELECT ts, run_id, benchmark, hardware, worker_id FROM benchmark_results
  WHERE run_id IN (SELECT DISTINCT run_id FROM ev_benchmark_result)
) seen USING (ts, run_id, benchmark, hardware, worker_id)"""

STEPS: list[tuple[str, str, list[str]]] = [
    ("test_result", "ev_test_result", [INSERT_TEST_RESULTS]),
    ("benchmark_result", "ev_benchmark_result", [INSERT_BENCHMARK_RESULTS]),
]


def prune(now: datetime, retention_s: float) -> Callable[[duckdb.DuckDBPyConnection], int]:
    """Delete test and benchmark results older than DTMON_RESULT_RETENTION; returns how many."""
    def write(con: duckdb.DuckDBPyConnection) -> int:
        cut = now - timedelta(seconds=retention_s)
        return sum(con.execute(f"DELETE FROM {table} WHERE ts < ?", [cut]).fetchone()[0]
                   for table in ("test_results", "benchmark_results"))
    return write
