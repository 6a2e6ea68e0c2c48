"""Ad-hoc SQL sandbox: exactly one read-only SELECT over the data tables, time-, row- and byte-limited."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import msgspec

from storage.sql_allowlist import DATA_TABLES, FUNCTIONS, TABLE_FUNCTIONS

DEFAULT_ROW_LIMIT = 1000
MAX_ROW_LIMIT = 100_000
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
MAX_SQL_CHARS = 100_000  # parsing and checking cost grows with the text: a cap keeps both short
FETCH_ROWS = 64  # rows converted to Python at a time, so the byte cap stops a wide result early
ENCODE = msgspec.json.encode


class SqlRejected(ValueError):
    """The statement is not a single read-only SELECT this sandbox accepts."""


class SqlFailed(RuntimeError):
    """DuckDB refused or aborted the query; the message is DuckDB's own."""


class SqlTimedOut(SqlFailed):
    """The query ran past the time limit and was interrupted."""


@dataclass(frozen=True)
class SqlResult:
    """Result of one sandboxed query, ready to serialise as JSON."""

    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated_by: str | None
    elapsed_ms: float
    limit: int = field(default=DEFAULT_ROW_LIMIT)
    max_bytes: int = field(default=DEFAULT_MAX_BYTES)

    @property
    def truncated(self) -> bool:
        return self.truncated_by is not None

    def as_dict(self) -> dict[str, Any]:
        """Shape answered by POST /api/sql."""
        return {
            "columns": self.columns,
            "types": self.types,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "truncated_by": self.truncated_by,
            "limit": self.limit,
            "max_bytes": self.max_bytes,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def check_select(sql: str, cursor: duckdb.DuckDBPyConnection | None = None) -> None:
    """Raise SqlRejected unless `sql` is exactly one SELECT naming only allowed tables and table functions."""
    if not sql or not sql.strip():
        raise SqlRejected("empty query")
    if len(sql) > MAX_SQL_CHARS:
        raise SqlRejected(f"the query has {len(sql):,} characters; at most {MAX_SQL_CHARS:,} are accepted")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise SqlRejected(str(error)) from error
    if len(statements) != 1:
        raise SqlRejected(f"exactly one statement allowed, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SqlRejected(f"only SELECT statements are allowed, got {kind.name}")
    _check_references(_serialized(cursor, "json_serialize_sql", sql))


def _check_references(tree: dict[str, Any]) -> None:
    """Before anything is bound: table functions on the allowlist, tables that are data or a CTE."""
    ctes = {str(entry.get("key", "")).lower() for node in _walk(tree) if isinstance(node.get("cte_map"), dict)
            for entry in node["cte_map"].get("map", [])}
    for node in _walk(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            _require(str(function.get("function_name", "")).lower(), TABLE_FUNCTIONS, "table function")
        elif kind in ("BASE_TABLE", "SHOW_REF") and node.get("table_name"):
            if node.get("catalog_name") or str(node.get("schema_name", "")).lower() not in ("", "main"):
                raise SqlRejected("only the data tables of the main schema are available to ad-hoc SQL")
            _require(str(node["table_name"]).lower(), DATA_TABLES | ctes, "table")


def check_plan(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    """After binding (macros expanded, CTEs resolved): every scan and every function is on the allowlist."""
    for node in _walk(_serialized(cursor, "json_serialize_plan", sql)):
        path = (node.get("qname") or {}).get("path") if isinstance(node.get("qname"), dict) else None
        if not path:
            continue
        name = str(path[-1])
        if node.get("type") != "LOGICAL_GET":
            _require(name, FUNCTIONS, "function")
        elif name == "seq_scan":
            scanned = node.get("function_data") or {}
            if scanned.get("schema") != "main" or scanned.get("catalog") in ("system", "temp"):
                raise SqlRejected("only the data tables of the main schema are available to ad-hoc SQL")
            _require(str(scanned.get("table", "")).lower(), DATA_TABLES, "table")
        else:
            _require(name, TABLE_FUNCTIONS, "table function")


def _require(name: str, allowed: frozenset[str] | set[str], what: str) -> None:
    if name not in allowed:
        raise SqlRejected(f"{what} {name!r} is not available to ad-hoc SQL")


def _serialized(cursor: duckdb.DuckDBPyConnection | None, function: str, sql: str) -> dict[str, Any]:
    """DuckDB's own parse tree or bound plan as JSON; runs on `cursor`, so the time limit covers it."""
    if cursor is None:
        with duckdb.connect(":memory:", config={"enable_external_access": False}) as con:
            return _serialized(con, function, sql)
    try:
        text = cursor.execute(f"SELECT {function}(?)", [sql]).fetchone()[0]
    except duckdb.InterruptException:
        raise
    except duckdb.Error as error:
        raise SqlFailed(str(error)) from error
    tree = json.loads(text)
    if tree.get("error"):
        message = tree.get("error_message") or "statement cannot be analysed"
        raise (SqlRejected if tree.get("error_type") == "parser" else SqlFailed)(message)
    return tree


def _walk(node: Any):
    """Yield every dict inside a JSON tree, depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def clamp_limit(limit: int | None) -> int:
    """Keep the requested row limit within the sandbox's bounds."""
    if limit is None:
        return DEFAULT_ROW_LIMIT
    return max(1, min(int(limit), MAX_ROW_LIMIT))


def run_select(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    limit: int | None = DEFAULT_ROW_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SqlResult:
    """Check, bind-check and run `sql` in a read-only transaction; the time limit covers all three."""
    row_limit = clamp_limit(limit)
    started = time.perf_counter()
    watchdog = Watchdog(cursor, timeout_s)
    try:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        check_select(sql, cursor)
        check_plan(cursor, sql)
        if time.perf_counter() - started > timeout_s:  # the check itself used up the time
            raise duckdb.InterruptException("time limit reached while checking")
        cursor.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        types = [str(column[1]) for column in cursor.description or []]
        rows, truncated_by = _fetch(cursor, row_limit, max_bytes)
    except duckdb.InterruptException as error:
        raise SqlTimedOut(f"query interrupted after the {timeout_s:g} s time limit") from error
    except duckdb.Error as error:
        raise SqlFailed(str(error)) from error
    finally:
        watchdog.stop()
        _rollback(cursor)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return SqlResult(columns, types, rows, truncated_by, elapsed_ms, row_limit, max_bytes)


class Watchdog:
    """Interrupts the cursor from the deadline on until stopped: DuckDB drops an interrupt that
    arrives between two statements, so one call could miss the query that follows."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        self._cursor, self._timeout_s, self._done = cursor, timeout_s, threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sql-watchdog", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        if self._done.wait(self._timeout_s):
            return
        while not self._done.wait(0.05):
            self._cursor.interrupt()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _fetch(cursor: duckdb.DuckDBPyConnection, row_limit: int, max_bytes: int) -> tuple[list[list[Any]], str | None]:
    """At most `row_limit` rows whose JSON fits in `max_bytes`, and which limit cut the result short."""
    rows: list[list[Any]] = []
    size = 2
    while chunk := cursor.fetchmany(min(FETCH_ROWS, row_limit + 1 - len(rows))):
        for row in chunk:
            if len(rows) == row_limit:
                return rows, "rows"
            converted = [to_json_value(value) for value in row]
            size += len(ENCODE(converted)) + 1
            if size > max_bytes:
                return rows, "bytes"
            rows.append(converted)
    return rows, None


def _rollback(cursor: duckdb.DuckDBPyConnection) -> None:
    """End the read-only transaction whatever state the query left it in."""
    try:
        cursor.execute("ROLLBACK")
    except duckdb.Error:
        pass


def to_json_value(value: Any) -> Any:
    """Turn DuckDB's Python values into JSON-friendly ones (ISO times, str for the rest)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)
