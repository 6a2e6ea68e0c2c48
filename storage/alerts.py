"""Alert rules, alerts (fire/resolve history) and webhook deliveries in DuckDB."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import duckdb
import pyarrow as pa

from storage.sandbox import to_json_value

# Built-in rules, seeded once: deleting them later is respected (see alert_seed).
DEFAULT_RULES = [
    ("Worker offline", "worker_offline", ">=", 1.0, 60, 900, "critical"),
    ("CPU above 95 %", "worker_cpu", ">", 95.0, 300, 900, "warning"),
    ("Memory above 90 %", "worker_memory", ">", 90.0, 300, 900, "warning"),
    ("Success rate below 80 %", "cluster_success_rate", "<", 80.0, 0, 900, "critical"),
]

_SEED_VALUES = ", ".join(
    f"('{name}', '{metric}', '{op}', {threshold}, {for_s}, {window}, '{severity}')"
    for name, metric, op, threshold, for_s, window, severity in DEFAULT_RULES
)

DDL = [
    "CREATE SEQUENCE IF NOT EXISTS alert_rules_id_seq START 1",
    """CREATE TABLE IF NOT EXISTS alert_rules (
        id BIGINT PRIMARY KEY DEFAULT nextval('alert_rules_id_seq'), name VARCHAR NOT NULL,
        metric VARCHAR NOT NULL, comparison VARCHAR NOT NULL, threshold DOUBLE NOT NULL,
        for_seconds DOUBLE NOT NULL DEFAULT 0, window_seconds DOUBLE NOT NULL DEFAULT 900,
        scope_kind VARCHAR NOT NULL DEFAULT 'all', scope_value VARCHAR,
        severity VARCHAR NOT NULL DEFAULT 'warning', enabled BOOLEAN NOT NULL DEFAULT true,
        webhook_url VARCHAR, created_at TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP),
        updated_at TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP))""",
    "CREATE SEQUENCE IF NOT EXISTS alerts_id_seq START 1",
    """CREATE TABLE IF NOT EXISTS alerts (
        id BIGINT PRIMARY KEY DEFAULT nextval('alerts_id_seq'), rule_id BIGINT NOT NULL,
        rule_name VARCHAR NOT NULL, severity VARCHAR NOT NULL, scope VARCHAR NOT NULL,
        state VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP,
        value DOUBLE, message VARCHAR, acknowledged_by VARCHAR, acknowledged_at TIMESTAMP)""",
    "CREATE SEQUENCE IF NOT EXISTS alert_deliveries_id_seq START 1",
    """CREATE TABLE IF NOT EXISTS alert_deliveries (
        id BIGINT PRIMARY KEY DEFAULT nextval('alert_deliveries_id_seq'), alert_id BIGINT,
        rule_id BIGINT, event VARCHAR NOT NULL, url VARCHAR NOT NULL, attempts INTEGER NOT NULL,
        ok BOOLEAN NOT NULL, status_code INTEGER, error VARCHAR, ts TIMESTAMP NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS alert_seed (seeded_at TIMESTAMP NOT NULL)",
    f"""INSERT INTO alert_rules (name, metric, comparison, threshold, for_seconds, window_seconds, severity)
        SELECT * FROM (VALUES {_SEED_VALUES}) WHERE NOT EXISTS (SELECT 1 FROM alert_seed)""",
    """INSERT INTO alert_seed SELECT now()::TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM alert_seed)""",
]

TABLE_DESCRIPTIONS = {
    "alert_rules": "alert rules: metric, comparison, threshold, for (s), window (s), scope, severity, webhook",
    "alerts": "alerts fired by rules, with start/end (resolved) times and acknowledgement",
    "alert_deliveries": "webhook deliveries of alert events: attempts, outcome, error",
}

RULE_COLUMNS = [
    "id", "name", "metric", "comparison", "threshold", "for_seconds", "window_seconds",
    "scope_kind", "scope_value", "severity", "enabled", "webhook_url", "created_at", "updated_at",
]
EDITABLE_RULE_COLUMNS = RULE_COLUMNS[1:12]
_VALUES_SCHEMA = pa.schema([("rule_id", pa.int64()), ("scope", pa.string()), ("value", pa.float64()),
                           ("message", pa.string())])
ALERT_COLUMNS = [
    "id", "rule_id", "rule_name", "severity", "state", "scope", "started_at", "ended_at",
    "acknowledged_by", "acknowledged_at", "message", "value",
]


def _rows(cursor: duckdb.DuckDBPyConnection, columns: list[str]) -> list[dict[str, Any]]:
    """Fetch all rows as dicts with JSON-ready values (UTC times with a Z)."""
    return [
        {name: _json(value) for name, value in zip(columns, row)} for row in cursor.fetchall()
    ]


def _json(value: Any) -> Any:
    """Naive UTC timestamps become ISO strings ending in Z; the rest as the sandbox does."""
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    return to_json_value(value)


def list_rules(cursor: duckdb.DuckDBPyConnection, enabled_only: bool = False) -> list[dict[str, Any]]:
    """All rules (or only enabled ones) ordered by id."""
    where = "WHERE enabled" if enabled_only else ""
    cursor.execute(f"SELECT {', '.join(RULE_COLUMNS)} FROM alert_rules {where} ORDER BY id")
    return _rows(cursor, RULE_COLUMNS)


def get_rule(cursor: duckdb.DuckDBPyConnection, rule_id: int) -> dict[str, Any] | None:
    """One rule by id, or None."""
    cursor.execute(f"SELECT {', '.join(RULE_COLUMNS)} FROM alert_rules WHERE id = ?", [rule_id])
    rows = _rows(cursor, RULE_COLUMNS)
    return rows[0] if rows else None


def insert_rule(con: duckdb.DuckDBPyConnection, rule: dict[str, Any]) -> int:
    """Store a new (already validated) rule and return its id."""
    names = [name for name in EDITABLE_RULE_COLUMNS if name in rule]
    placeholders = ", ".join("?" for _ in names)
    sql = f"INSERT INTO alert_rules ({', '.join(names)}) VALUES ({placeholders}) RETURNING id"
    return int(con.execute(sql, [rule[name] for name in names]).fetchone()[0])


def update_rule(con: duckdb.DuckDBPyConnection, rule_id: int, changes: dict[str, Any]) -> bool:
    """Apply validated changes to a rule; False when it does not exist."""
    names = [name for name in EDITABLE_RULE_COLUMNS if name in changes]
    assignments = ", ".join(f"{name} = ?" for name in names + ["updated_at"])
    values = [changes[name] for name in names] + [utc_now(), rule_id]
    sql = f"UPDATE alert_rules SET {assignments} WHERE id = ? RETURNING id"
    return con.execute(sql, values).fetchone() is not None


def delete_rule(con: duckdb.DuckDBPyConnection, rule_id: int) -> bool:
    """Delete a rule; its alerts stay as history and open ones are resolved."""
    now = utc_now()
    con.execute(
        "UPDATE alerts SET state = 'resolved', ended_at = ? WHERE rule_id = ? AND state = 'firing'",
        [now, rule_id],
    )
    return con.execute("DELETE FROM alert_rules WHERE id = ? RETURNING id", [rule_id]).fetchone() is not None


def utc_now() -> datetime:
    """Naive UTC now, the convention of every timestamp column."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# Alerts with their rule's metric, which the banner words its counts by ("4 workers offline").
_ALERTS = (f"SELECT {', '.join(f'a.{name}' for name in ALERT_COLUMNS)}, r.metric "
           "FROM alerts a LEFT JOIN alert_rules r ON r.id = a.rule_id")
_ALERT_KEYS = ALERT_COLUMNS + ["metric"]


def active_alerts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Firing alerts, most severe and newest first: the "alerts" section of the live snapshot."""
    cursor.execute(
        f"""{_ALERTS} WHERE a.state = 'firing'
            ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                     a.started_at DESC, a.id DESC"""
    )
    return _rows(cursor, _ALERT_KEYS)


def list_alerts(
    cursor: duckdb.DuckDBPyConnection, state: str = "all", limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Alert history (firing and resolved), newest first, with the total count."""
    where, params = ("WHERE a.state = ?", [state]) if state in ("firing", "resolved") else ("", [])
    total = cursor.execute(f"SELECT count(*) FROM alerts a {where}", params).fetchone()[0]
    cursor.execute(f"{_ALERTS} {where} ORDER BY a.started_at DESC, a.id DESC "
                   "LIMIT ? OFFSET ?", params + [limit, offset])
    return _rows(cursor, _ALERT_KEYS), int(total)


def get_alert(cursor: duckdb.DuckDBPyConnection, alert_id: int) -> dict[str, Any] | None:
    """One alert by id, or None."""
    cursor.execute(f"{_ALERTS} WHERE a.id = ?", [alert_id])
    rows = _rows(cursor, _ALERT_KEYS)
    return rows[0] if rows else None


def acknowledge(con: duckdb.DuckDBPyConnection, alert_id: int, username: str) -> bool:
    """Mark an alert acknowledged by `username` (first acknowledgement wins)."""
    row = con.execute(
        """UPDATE alerts SET acknowledged_by = coalesce(acknowledged_by, ?),
           acknowledged_at = coalesce(acknowledged_at, ?) WHERE id = ? RETURNING id""",
        [username, utc_now(), alert_id],
    ).fetchone()
    return row is not None


_OPENING = pa.schema([("rule_id", pa.int64()), ("rule_name", pa.string()), ("severity", pa.string()),
                      ("scope", pa.string()), ("started_at", pa.timestamp("us")), ("value", pa.float64()),
                      ("message", pa.string())])
_CLOSING = pa.schema([("rule_id", pa.int64()), ("scope", pa.string()), ("ended_at", pa.timestamp("us")),
                      ("value", pa.float64())])
Key = tuple[int, str]


def _register(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple], schema: pa.Schema) -> None:
    """Rows as an Arrow view; observed values may be DECIMAL (a SQL literal), stored as DOUBLE."""
    columns = [[None if v is None else float(v) for v in column] if field.type == pa.float64() else list(column)
               for field, column in zip(schema, zip(*rows))]
    con.register(name, pa.table(dict(zip(schema.names, columns)), schema=schema))


def open_alerts(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str, str, str, datetime, float | None, str]]
                ) -> dict[Key, int]:
    """Record firing alerts (rule_id, rule_name, severity, scope, started_at, value, message) in one
    statement however many fire at once (10,000 workers going offline); returns their ids by (rule, scope)."""
    if not rows:
        return {}
    _register(con, "opening_alerts", rows, _OPENING)
    try:
        created = con.execute("""INSERT INTO alerts (rule_id, rule_name, severity, scope, state, started_at, value, message)
            SELECT rule_id, rule_name, severity, scope, 'firing', started_at, value, message FROM opening_alerts
            RETURNING rule_id, scope, id""").fetchall()
    finally:
        con.unregister("opening_alerts")
    return {(rule_id, scope): alert_id for rule_id, scope, alert_id in created}


def close_alerts(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str, datetime, float | None]]) -> dict[Key, int]:
    """Resolve the firing alerts of (rule_id, scope, ended_at, value) in one statement; returns the ids
    resolved by (rule, scope) (none for a pair that was not firing)."""
    if not rows:
        return {}
    _register(con, "closing_alerts", rows, _CLOSING)
    try:
        closed = con.execute("""UPDATE alerts SET state = 'resolved', ended_at = c.ended_at, value = coalesce(c.value, alerts.value)
            FROM closing_alerts c WHERE alerts.rule_id = c.rule_id AND alerts.scope = c.scope AND alerts.state = 'firing'
            RETURNING alerts.rule_id, alerts.scope, alerts.id""").fetchall()
    finally:
        con.unregister("closing_alerts")
    return {(rule_id, scope): alert_id for rule_id, scope, alert_id in closed}


def alerts_by_id(cursor: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Many alerts in one query, for the webhooks of an evaluation."""
    if not ids:
        return {}
    cursor.execute(f"{_ALERTS} WHERE a.id IN (SELECT unnest($ids::BIGINT[]))", {"ids": ids})
    return {alert["id"]: alert for alert in _rows(cursor, _ALERT_KEYS)}


def update_values(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str, float | None, str]]) -> None:
    """Keep firing alerts' (rule_id, scope, value, message) current, in one statement however many moved."""
    if not rows:
        return
    _register(con, "alert_values", rows, _VALUES_SCHEMA)
    con.execute("""UPDATE alerts SET value = v.value, message = v.message FROM alert_values v
                   WHERE alerts.rule_id = v.rule_id AND alerts.scope = v.scope AND alerts.state = 'firing'""")
    con.unregister("alert_values")


def firing_keys(cursor: duckdb.DuckDBPyConnection) -> list[tuple[int, str, datetime, float | None]]:
    """(rule_id, scope, started_at, value) of every firing alert, to resume after a restart."""
    return cursor.execute("SELECT rule_id, scope, started_at, value FROM alerts WHERE state = 'firing'").fetchall()


def firing_scopes(cursor: duckdb.DuckDBPyConnection, rule_id: int | None, prefix: str) -> list[str]:
    """Scopes of one rule's firing alerts that start with `prefix`."""
    rows = cursor.execute("SELECT scope FROM alerts WHERE rule_id = ? AND state = 'firing' AND starts_with(scope, ?)",
                          [rule_id, prefix]).fetchall()
    return [scope for (scope,) in rows]


def record_delivery(con: duckdb.DuckDBPyConnection, delivery: dict[str, Any]) -> None:
    """Keep the outcome of one webhook delivery (after all its attempts)."""
    con.execute(
        """INSERT INTO alert_deliveries (alert_id, rule_id, event, url, attempts, ok, status_code, error, ts)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [delivery.get("alert_id"), delivery.get("rule_id"), delivery["event"], delivery["url"],
         delivery["attempts"], delivery["ok"], delivery.get("status_code"), delivery.get("error"),
         delivery.get("ts") or utc_now()],
    )


def list_deliveries(cursor: duckdb.DuckDBPyConnection, limit: int = 100) -> list[dict[str, Any]]:
    """Newest webhook deliveries first."""
    columns = ["id", "alert_id", "rule_id", "event", "url", "attempts", "ok", "status_code", "error", "ts"]
    cursor.execute(f"SELECT {', '.join(columns)} FROM alert_deliveries ORDER BY id DESC LIMIT ?", [limit])
    return _rows(cursor, columns)
