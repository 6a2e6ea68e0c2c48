"""Quarantined tests and drained workers: what an admin decided, who, when and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

ACTIVE = "released_at IS NULL"
# Consecutive clean runs since quarantine, newest backwards: a run is clean when some attempt
# passed and none failed; runs before the newest unclean one do not count.
STREAKS = f"""
WITH q AS (SELECT test_id, hardware, quarantined_at FROM quarantine WHERE {ACTIVE}),
runs AS (
  SELECT q.test_id, q.hardware, r.run_id, min(r.ts) AS ts,
    bool_or(r.outcome = 'passed') AND NOT bool_or(r.outcome IN ('failed', 'error', 'timed_out')) AS clean
  FROM q JOIN test_results r ON r.test_id = q.test_id AND (q.hardware = '' OR r.hardware = q.hardware)
    AND r.ts >= q.quarantined_at
  GROUP BY ALL
), last_unclean AS (
  SELECT test_id, hardware, max(ts) FILTER (NOT clean) AS since FROM runs GROUP BY ALL
)
SELECT q.test_id, q.hardware, count(r.run_id) FILTER (r.clean AND r.ts > coalesce(u.since, TIMESTAMP '1970-01-01'))
FROM q LEFT JOIN runs r USING (test_id, hardware) LEFT JOIN last_unclean u USING (test_id, hardware)
GROUP BY ALL"""
COLUMNS = ["test_id", "hardware", "quarantined_by", "quarantined_at", "reason", "released_at", "released_by",
           "release_reason"]
ISO = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"


def clean_streaks(cur: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """(test_id, hardware) of each active quarantine -> its current run of clean runs."""
    return {(test, hardware): streak for test, hardware, streak in cur.execute(STREAKS).fetchall()}


def quarantine_list(cur: duckdb.DuckDBPyConnection, state: str) -> list[dict[str, Any]]:
    """Quarantines (active, released or all), newest first, with their clean streak when active."""
    where = {"active": f"WHERE {ACTIVE}", "released": f"WHERE NOT ({ACTIVE})"}.get(state, "")
    columns = [ISO.format(c) if c.endswith("_at") else c for c in COLUMNS]
    rows = cur.execute(f"SELECT {', '.join(columns)} FROM quarantine {where} ORDER BY quarantined_at DESC").fetchall()
    streaks = clean_streaks(cur)
    return [dict(zip(COLUMNS, row)) | {"clean_runs": streaks.get((row[0], row[1]))} for row in rows]


def add(test_id: str, hardware: str, by: str, at: datetime, reason: str):
    """Quarantine a test ('' = every hardware); False when that quarantine is already active."""
    def write(con: duckdb.DuckDBPyConnection) -> bool:
        if con.execute(f"SELECT 1 FROM quarantine WHERE test_id = ? AND hardware = ? AND {ACTIVE}",
                       [test_id, hardware]).fetchone():
            return False
        con.execute("INSERT INTO quarantine (test_id, hardware, quarantined_by, quarantined_at, reason) "
                    "VALUES (?, ?, ?, ?, ?)", [test_id, hardware, by, at, reason])
        return True
    return write


def release(test_id: str, hardware: str, by: str, at: datetime, reason: str):
    """End an active quarantine; False when there was none."""
    def write(con: duckdb.DuckDBPyConnection) -> bool:
        return con.execute(f"""UPDATE quarantine SET released_at = ?, released_by = ?, release_reason = ?
            WHERE test_id = ? AND hardware = ? AND {ACTIVE} RETURNING 1""",
                           [at, by, reason, test_id, hardware]).fetchone() is not None
    return write


def auto_release(clean_runs: int, at: datetime):
    """Release every quarantine whose latest `clean_runs` runs were all clean; returns how many."""
    def write(con: duckdb.DuckDBPyConnection) -> int:
        due = [key for key, streak in clean_streaks(con).items() if streak >= clean_runs]
        for test_id, hardware in due:
            release(test_id, hardware, "auto", at, f"{clean_runs} consecutive clean runs")(con)
        return len(due)
    return write


def drains(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Drained workers by id."""
    rows = cur.execute(f"SELECT worker_id, drained_by, {ISO.format('drained_at')}, reason FROM worker_drains").fetchall()
    return {row[0]: {"drained_by": row[1], "drained_at": row[2], "reason": row[3]} for row in rows}


def drain(worker_id: str, by: str, at: datetime, reason: str):
    def write(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT OR REPLACE INTO worker_drains VALUES (?, ?, ?, ?)", [worker_id, by, at, reason])
    return write


def undrain(worker_id: str):
    def write(con: duckdb.DuckDBPyConnection) -> bool:
        return con.execute("DELETE FROM worker_drains WHERE worker_id = ? RETURNING 1", [worker_id]).fetchone() is not None
    return write


def runner_plan(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What run-tests needs before scheduling: workers to avoid and tests whose failure is forgiven."""
    quarantined = cur.execute(f"SELECT test_id, hardware FROM quarantine WHERE {ACTIVE} ORDER BY 1, 2").fetchall()
    return {"drained": sorted(drains(cur)),
            "quarantined": [{"test_id": test, "hardware": hardware or None} for test, hardware in quarantined]}
