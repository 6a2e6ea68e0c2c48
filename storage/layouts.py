"""Dashboard layouts: each user's own and the admin's default, stored as JSON documents."""

from __future__ import annotations

import json
from typing import Any

from storage.queries import ts
from storage.store import Cursor

DEFAULT_OWNER = ""  # no username is empty, so the default can never collide with a user's row

DDL = [
    """CREATE TABLE IF NOT EXISTS dashboard_layouts (
        owner VARCHAR PRIMARY KEY, layout JSON NOT NULL, updated_at TIMESTAMP NOT NULL)""",
]


def saved(cur: Cursor, owner: str) -> dict[str, Any] | None:
    """The stored layout of one owner (a username, or DEFAULT_OWNER), or None."""
    row = cur.execute("SELECT layout FROM dashboard_layouts WHERE owner = $o", {"o": owner}).fetchone()
    return json.loads(row[0]) if row else None


def save(owner: str, layout: dict[str, Any], now: float):
    """Write (or replace) one owner's layout."""
    def write(con: Cursor) -> None:
        con.execute("INSERT OR REPLACE INTO dashboard_layouts VALUES ($o, $l, $now)",
                    {"o": owner, "l": json.dumps(layout), "now": ts(now)})
    return write


def remove(owner: str):
    """Forget one owner's layout, so the default applies again."""
    def write(con: Cursor) -> int:
        return con.execute("DELETE FROM dashboard_layouts WHERE owner = $o", {"o": owner}).fetchone()[0]
    return write
