"""The schema as people writing ad-hoc SQL need it: tables, columns, one line of meaning each."""

from __future__ import annotations

from typing import Any

import duckdb

from storage import alerts, results
from storage.sql_allowlist import DATA_TABLES
from storage.schema import TABLE_DESCRIPTIONS

ROLLUP_COLUMNS = {
    "bucket": "start of the bucket (UTC)", "worker_id": "worker", "samples": "heartbeats in the bucket",
    "cpu_avg": "average CPU %", "cpu_max": "maximum CPU %", "mem_pct_avg": "average memory % of total",
    "mem_pct_max": "maximum memory % of total", "mem_used_avg_gb": "average memory used (GB)",
    "rtt_avg_ms": "average round trip to the coordinator (ms)",
}
COLUMN_MEANINGS: dict[str, dict[str, str]] = {
    "workers": {
        "worker_id": "worker id as reported", "hostname": "host name", "hardware": "hardware types (list)",
        "capabilities": "reported capabilities (JSON)",
        "status": "active, busy, offline (went silent), stopped (left cleanly) or removed (by an admin)",
        "offline_reason": "shutdown or timeout", "health": "healthy, warning, critical or unknown",
        "registered_at": "first registration (UTC)", "last_seen": "last contact of any kind (UTC)",
        "last_heartbeat": "newest heartbeat (UTC)",
        "offline_at": "last explicit worker_offline (UTC)", "cpu_percent": "CPU % at the last heartbeat",
        "memory_used_gb": "memory used (GB)", "memory_total_gb": "memory installed (GB)",
        "memory_percent": "memory used % of total", "gpus": "GPUs at the last heartbeat (JSON)",
        "rtt_ms": "round trip to the coordinator (ms)", "running_tasks": "tasks running now",
        "hb_gap_avg": "average seconds between heartbeats", "hb_gap_dev": "deviation of heartbeat gaps (s)",
        "tasks_completed": "tasks completed so far", "tasks_failed": "tasks failed, timed out or canceled",
        "removed_at": "when an admin removed it from the live views (UTC)", "removed_by": "admin who removed it",
    },
    "tasks": {
        "task_id": "task id", "type": "task type (default test)", "status": "pending, running, completed, failed, timed_out, canceled",
        "priority": "higher is more urgent", "requirements": "hardware the task needs (list)",
        "worker_id": "worker that ran it", "submitted_at": "submitted (UTC)", "started_at": "started (UTC)",
        "finished_at": "finished (UTC)", "duration_s": "run time in seconds", "error": "error text when it failed",
    },
    "worker_samples": {
        "ts": "heartbeat time (UTC)", "worker_id": "worker", "cpu_percent": "CPU %",
        "memory_used_gb": "memory used (GB)", "memory_total_gb": "memory installed (GB)",
        "memory_percent": "memory used %", "rtt_ms": "round trip (ms)", "running_tasks": "tasks running",
        "gpus": "GPU readings (JSON)",
    },
    "task_events": {
        "ts": "event time (UTC)", "task_id": "task", "kind": "task_submitted, task_started or task_finished",
        "worker_id": "worker involved", "status": "status reported", "error": "error text",
    },
    "link_samples": {
        "ts": "measurement time (UTC)", "source": "node id", "target": "node id",
        "rtt_ms": "round trip (ms)", "bandwidth_bps": "bandwidth (bits/s)",
    },
    "worker_samples_minute": ROLLUP_COLUMNS,
    "worker_samples_hour": ROLLUP_COLUMNS,
    "alert_rules": {
        "id": "rule id", "name": "rule name", "metric": "what is measured (see Alerts)",
        "comparison": "> >= < <= == !=", "threshold": "value compared with", "for_seconds": "how long it must hold",
        "window_seconds": "window of rate metrics", "scope_kind": "all, worker, hardware or type",
        "scope_value": "the worker, hardware or type", "severity": "info, warning or critical",
        "enabled": "evaluated or not", "webhook_url": "where firing/resolved events are POSTed",
        "created_at": "created (UTC)", "updated_at": "last changed (UTC)",
    },
    "alerts": {
        "id": "alert id", "rule_id": "rule that fired", "rule_name": "rule name then", "severity": "severity then",
        "scope": "cluster, worker:<id>, hardware:<type> or type:<type>", "state": "firing or resolved",
        "started_at": "fired (UTC)", "ended_at": "resolved (UTC)",
        "value": "current value while firing (updated each evaluation), last value once resolved",
        "message": "readable summary with the value, its unit and the rule's window",
        "acknowledged_by": "user who acknowledged", "acknowledged_at": "when (UTC)",
    },
    "alert_deliveries": {
        "id": "delivery id", "alert_id": "alert", "rule_id": "rule", "event": "firing or resolved",
        "url": "webhook URL", "attempts": "tries made", "ok": "delivered", "status_code": "last HTTP status",
        "error": "last error", "ts": "recorded (UTC)",
    },
} | results.COLUMN_MEANINGS

EXAMPLE_QUERIES = [
    {"title": "Busiest workers in the last hour",
     "sql": "SELECT worker_id, avg(cpu_percent) AS cpu_avg, max(cpu_percent) AS cpu_max\nFROM worker_samples\n"
            "WHERE ts > now()::TIMESTAMP - INTERVAL 1 HOUR\nGROUP BY worker_id ORDER BY cpu_avg DESC LIMIT 20"},
    {"title": "Failure rate per task type (7 days)",
     "sql": "SELECT type, count(*) AS finished,\n  round(100.0 * count(*) FILTER (WHERE status <> 'completed') / count(*), 1) AS failure_pct\n"
            "FROM tasks WHERE finished_at > now()::TIMESTAMP - INTERVAL 7 DAY\nGROUP BY type ORDER BY failure_pct DESC"},
    {"title": "Daily CPU per hardware type (30 days, hour rollups)",
     "sql": "SELECT time_bucket(INTERVAL 1 DAY, h.bucket) AS day, hw, sum(h.cpu_avg * h.samples) / sum(h.samples) AS cpu_avg\n"
            "FROM worker_samples_hour h JOIN (SELECT worker_id, unnest(hardware) AS hw FROM workers) w USING (worker_id)\n"
            "GROUP BY ALL ORDER BY day, hw"},
    {"title": "Slowest task types",
     "sql": "SELECT type, count(*) AS runs, quantile_cont(duration_s, 0.5) AS p50_s, quantile_cont(duration_s, 0.95) AS p95_s\n"
            "FROM tasks WHERE duration_s IS NOT NULL GROUP BY type ORDER BY p95_s DESC"},
    {"title": "Alert history", "sql": "SELECT rule_name, scope, started_at, ended_at, ended_at - started_at AS lasted\n"
                                       "FROM alerts ORDER BY started_at DESC LIMIT 50"},
]


def describe_schema(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Tables readable by ad-hoc SQL with their columns, types and meanings, as the database has them."""
    rows = cursor.execute(
        """SELECT table_name, column_name, data_type FROM duckdb_columns()
           WHERE schema_name = 'main' AND table_oid IN (SELECT table_oid FROM duckdb_tables())
           ORDER BY table_name, column_index"""
    ).fetchall()
    descriptions = {**TABLE_DESCRIPTIONS, **alerts.TABLE_DESCRIPTIONS, **results.TABLE_DESCRIPTIONS}
    tables: dict[str, dict[str, Any]] = {}
    for table, column, kind in rows:
        if table not in DATA_TABLES:
            continue
        entry = tables.setdefault(table, {"table": table, "description": descriptions.get(table, ""), "columns": []})
        meaning = COLUMN_MEANINGS.get(table, {}).get(column, "")
        entry["columns"].append({"name": column, "type": kind, "meaning": meaning})
    return sorted(tables.values(), key=lambda entry: _reading_order(entry["table"]))


def _reading_order(table: str) -> tuple[int, str]:
    """Fleet tables first, in the order people usually query them; the rest by name."""
    known = list(COLUMN_MEANINGS)
    return (known.index(table), table) if table in known else (len(known), table)


def markdown(tables: list[dict[str, Any]]) -> str:
    """The schema reference of docs/HISTORY_SQL_ALERTS.md, generated from the database."""
    lines: list[str] = []
    for table in tables:
        lines += [f"### {table['table']}", "", table["description"], "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| {c['name']} | {c['type']} | {c['meaning']} |" for c in table["columns"]]
        lines.append("")
    return "\n".join(lines)


def rewrite_doc(path: str = "docs/HISTORY_SQL_ALERTS.md") -> None:
    """Regenerate the doc's schema reference (everything after its marker line) from a fresh schema."""
    from pathlib import Path

    from storage.store import Store

    store = Store(":memory:").open()
    try:
        reference = markdown(store.read_sync(describe_schema))
    finally:
        store.close()
    doc = Path(path).read_text()
    head = doc[: doc.index(DOC_MARKER) + len(DOC_MARKER)]
    Path(path).write_text(head + "\n" + reference)


DOC_MARKER = "Timestamps are `TIMESTAMP` in UTC (no time zone type). Rates are percents.\n"

if __name__ == "__main__":
    rewrite_doc()  # python -m storage.schema_doc, after adding a column and its meaning above
