"""Ad-hoc SQL sandbox: exactly one read-only SELECT, time- and row-limited."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Any

import duckdb

# Credentials stay out of reach even for admins' ad-hoc queries and snapshots.
PRIVATE_TABLES = frozenset({"users", "api_tokens", "sessions", "dashboard_layouts"})  # usernames, like users
# query/query_table take SQL as a string (would bypass the table check); pragma_storage_info
# exposes min/max statistics of any table; checkpoints are the server's maintenance, not a read.
FORBIDDEN_TABLE_FUNCTIONS = frozenset({"query", "query_table", "pragma_storage_info", "checkpoint",
                                       "force_checkpoint"})

DEFAULT_ROW_LIMIT = 1000
MAX_ROW_LIMIT = 100_000
DEFAULT_TIMEOUT_S = 10.0


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
    truncated: bool
    elapsed_ms: float
    limit: int = field(default=DEFAULT_ROW_LIMIT)

    def as_dict(self) -> dict[str, Any]:
        """Shape answered by POST /api/sql."""
        return {
            "columns": self.columns,
            "types": self.types,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "limit": self.limit,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def check_select(sql: str) -> None:
    """Raise SqlRejected unless `sql` is exactly one SELECT touching no private data."""
    if not sql or not sql.strip():
        raise SqlRejected("empty query")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise SqlRejected(str(error)) from error
    if len(statements) != 1:
        raise SqlRejected(f"exactly one statement allowed, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SqlRejected(f"only SELECT statements are allowed, got {kind.name}")
    _check_references(sql)


def _check_references(sql: str) -> None:
    """Walk DuckDB's own parse tree for private tables and SQL-string table functions."""
    tree = _parse_tree(sql)
    for node in _walk(tree):
        table = str(node.get("table_name", "")).lower() if node.get("type") == "BASE_TABLE" else ""
        if table in PRIVATE_TABLES:
            raise SqlRejected(f"table {table!r} is not available to ad-hoc SQL")
        function = node.get("function") if node.get("type") == "TABLE_FUNCTION" else None
        name = str(function.get("function_name", "")).lower() if isinstance(function, dict) else ""
        if name in FORBIDDEN_TABLE_FUNCTIONS:
            raise SqlRejected(f"table function {name!r} is not allowed")


def _parse_tree(sql: str) -> dict[str, Any]:
    """Serialise the statement with DuckDB's parser (an in-memory connection, no data)."""
    with duckdb.connect(":memory:", config={"enable_external_access": False}) as con:
        text = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0]
    tree = json.loads(text)
    if tree.get("error"):
        raise SqlRejected(tree.get("error_message") or "statement cannot be analysed")
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
) -> SqlResult:
    """Check, then run `sql` in a read-only transaction on its own cursor, interrupted at the limit."""
    check_select(sql)
    row_limit = clamp_limit(limit)
    started = time.perf_counter()
    timer = threading.Timer(timeout_s, cursor.interrupt)
    cursor.execute("BEGIN TRANSACTION READ ONLY")
    timer.start()
    try:
        cursor.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        types = [str(column[1]) for column in cursor.description or []]
        fetched = cursor.fetchmany(row_limit + 1)
    except duckdb.InterruptException as error:
        raise SqlTimedOut(f"query interrupted after the {timeout_s:g} s time limit") from error
    except duckdb.Error as error:
        raise SqlFailed(str(error)) from error
    finally:
        timer.cancel()
        _rollback(cursor)
    elapsed_ms = (time.perf_counter() - started) * 1000
    rows = [[to_json_value(value) for value in row] for row in fetched[:row_limit]]
    return SqlResult(columns, types, rows, len(fetched) > row_limit, elapsed_ms, row_limit)


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
