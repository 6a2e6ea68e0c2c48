"""Current value of each alert metric per scope, measured from the stored fleet state."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

import duckdb

from storage.health import ONLINE

log = logging.getLogger(__name__)

FAILED_STATUSES = ("failed", "timed_out", "canceled")
FINISHED_STATUSES = ("completed",) + FAILED_STATUSES

METRICS = {
    "worker_cpu": "worker CPU %",
    "worker_memory": "worker memory %",
    "worker_offline": "worker offline (1 = offline)",
    "cluster_success_rate": "cluster success rate % over the window",
    "cluster_health": "cluster health score (0-100)",
    "pending_tasks": "pending tasks",
    "task_failure_rate_by_type": "task failure rate % per task type over the window",
    "task_failure_rate_by_hardware": "task failure rate % per hardware type over the window",
    "suspect_worker": "worker fails tests its hardware peers pass (1 = suspect, Fisher's exact test)",
    "benchmark_regression": "benchmark change for the worse, in percent (untriaged or marked regression)",
}
WORKER_METRICS = {"worker_cpu", "worker_memory", "worker_offline"}
SCOPE_KINDS = {
    "worker_cpu": {"all", "worker", "hardware"},
    "worker_memory": {"all", "worker", "hardware"},
    "worker_offline": {"all", "worker", "hardware"},
    "cluster_success_rate": {"all"},
    "cluster_health": {"all"},
    "pending_tasks": {"all", "type", "hardware"},
    "task_failure_rate_by_type": {"all", "type"},
    "task_failure_rate_by_hardware": {"all", "hardware"},
    "suspect_worker": {"all", "worker", "hardware"},
    "benchmark_regression": {"all", "hardware"},
}

Observation = dict[str, float | None]
# Metrics measured by the analytics (they need the server's settings), handed in by the evaluator.
Observers = Mapping[str, Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], Observation]]
_IN_FAILED = "('" + "', '".join(FAILED_STATUSES) + "')"
_IN_FINISHED = "('" + "', '".join(FINISHED_STATUSES) + "')"


def _worker_filter(rule: dict[str, Any]) -> tuple[str, list[Any]]:
    """SQL condition on workers for the rule's scope."""
    kind, value = rule.get("scope_kind") or "all", rule.get("scope_value")
    if kind == "worker":
        return "worker_id = ?", [value]
    if kind == "hardware":
        return "list_contains(hardware, ?)", [str(value).lower()]
    return "true", []


def _worker_values(cursor: duckdb.DuckDBPyConnection, rule: dict[str, Any], value_sql: str,
                   online_only: bool) -> Observation:
    """One value per worker in scope, keyed 'worker:<id>'."""
    condition, params = _worker_filter(rule)
    online = f"AND {ONLINE}" if online_only else "AND status <> 'removed'"
    rows = cursor.execute(
        f"SELECT worker_id, {value_sql} FROM workers WHERE {condition} {online}", params
    ).fetchall()
    return {f"worker:{worker_id}": value for worker_id, value in rows}


def _success_rate(cursor: duckdb.DuckDBPyConnection, since: datetime) -> Observation:
    """Percent of tasks finished since `since` that completed (None when none finished)."""
    row = cursor.execute(
        f"""SELECT count(*) FILTER (WHERE status = 'completed'), count(*)
            FROM tasks WHERE status IN {_IN_FINISHED} AND finished_at >= ?""",
        [since],
    ).fetchone()
    return {"cluster": 100.0 * row[0] / row[1] if row[1] else None}


def _pending(cursor: duckdb.DuckDBPyConnection, rule: dict[str, Any]) -> Observation:
    """Pending tasks in scope (all, one type, or requiring one hardware)."""
    kind, value = rule.get("scope_kind") or "all", rule.get("scope_value")
    condition, params, scope = "true", [], "cluster"
    if kind == "type":
        condition, params, scope = "type = ?", [value], f"type:{value}"
    elif kind == "hardware":
        condition, params, scope = "list_contains(requirements, ?)", [str(value).lower()], f"hardware:{value}"
    count = cursor.execute(
        f"SELECT count(*) FROM tasks WHERE status = 'pending' AND {condition}", params
    ).fetchone()[0]
    return {scope: float(count)}


def _failure_rate_by(cursor: duckdb.DuckDBPyConnection, rule: dict[str, Any], since: datetime,
                     group: str) -> Observation:
    """Failure percent per task type or per hardware of the executing worker."""
    if group == "type":
        source = "SELECT coalesce(type, 'test') AS grp, status FROM tasks t"
    else:
        source = "SELECT unnest(w.hardware) AS grp, t.status FROM tasks t JOIN workers w USING (worker_id)"
    rows = cursor.execute(
        f"""SELECT grp, 100.0 * count(*) FILTER (WHERE status IN {_IN_FAILED}) / count(*)
            FROM ({source} WHERE t.status IN {_IN_FINISHED} AND t.finished_at >= ?)
            GROUP BY grp""",
        [since],
    ).fetchall()
    wanted = rule.get("scope_value") if rule.get("scope_kind") == group else None
    return {f"{group}:{name}": rate for name, rate in rows if wanted is None or name == wanted}


def observe_rule(cursor: duckdb.DuckDBPyConnection, rule: dict[str, Any], now: datetime,
                 health: Callable[[duckdb.DuckDBPyConnection], float | None] | None = None,
                 observers: Observers | None = None) -> Observation:
    """Measure the rule's metric now: {scope: value} (a None value never breaches)."""
    metric = rule["metric"]
    if observers and metric in observers:
        return observers[metric](cursor, rule)
    since = now - timedelta(seconds=float(rule.get("window_seconds") or 900))
    if metric == "worker_cpu":
        return _worker_values(cursor, rule, "cpu_percent", online_only=True)
    if metric == "worker_memory":
        return _worker_values(cursor, rule, "memory_percent", online_only=True)
    if metric == "worker_offline":
        return _worker_values(cursor, rule, "CASE WHEN status = 'offline' THEN 1.0 ELSE 0.0 END", False)
    if metric == "cluster_success_rate":
        return _success_rate(cursor, since)
    if metric == "cluster_health":
        return {"cluster": health(cursor) if health else None}
    if metric == "pending_tasks":
        return _pending(cursor, rule)
    if metric == "task_failure_rate_by_type":
        return _failure_rate_by(cursor, rule, since, "type")
    if metric == "task_failure_rate_by_hardware":
        return _failure_rate_by(cursor, rule, since, "hardware")
    return {}


def observe(cursor: duckdb.DuckDBPyConnection, rules: list[dict[str, Any]], now: datetime,
            health: Callable[[duckdb.DuckDBPyConnection], float | None] | None = None,
            observers: Observers | None = None) -> dict[int, Observation]:
    """Observations keyed by rule id; a rule that cannot be measured is left out, never stops the rest."""
    observed = {}
    for rule in rules:
        try:
            observed[rule["id"]] = observe_rule(cursor, rule, now, health, observers)
        except (OverflowError, ValueError, TypeError, duckdb.Error):
            log.exception("alert rule %s could not be measured", rule.get("id"))
    return observed
