"""The viewer's dashboard layout: read once per refresh, saved and reset through /api/layout."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from ui import data
from ui.api import ApiError

PANEL_LABELS = {
    "health": "Health cards", "cpu": "CPU chart", "memory": "Memory chart",
    "tasks_by_status": "Tasks by status", "hardware": "Hardware availability", "alerts": "Firing alerts",
    "attention": "Workers needing attention", "failed_tasks": "Recent failed tasks",
}
COLUMN_LABELS = {
    "id": "ID", "status": "Status", "health": "Health", "cpu": "CPU", "memory_percent": "Memory",
    "hardware": "Hardware", "hostname": "Hostname", "tasks_completed": "Completed",
    "success_rate": "Success %", "last_seen": "Last seen", "type": "Type", "priority": "Priority",
    "worker": "Worker", "duration": "Duration", "submitted": "Submitted", "error": "Error",
}


@st.cache_data(ttl=60, max_entries=1000, show_spinner=False)
def _cached_layout(base_url: str, path: str, _token: str, viewer_key: str) -> dict[str, Any]:
    """One layout read per viewer and minute; saving clears it."""
    return data.connect(base_url).client.get(path, _token)


def current(target: data.Backend, token: str) -> dict[str, Any]:
    """{"layout", "source", "choices"} for this viewer; a page without it cannot draw."""
    return data.load(_cached_layout, target.base_url, "/api/layout", token, _key(token))


def default(target: data.Backend, token: str) -> dict[str, Any]:
    """The layout everyone gets until they save their own."""
    return data.load(_cached_layout, target.base_url, "/api/layout/default", token, _key(token))


def _key(token: str) -> str:
    """Caches are keyed per viewer without keeping the token itself in the key."""
    return hashlib.sha256(token.encode()).hexdigest()


def change(target: data.Backend, token: str, method: str, path: str, layout: dict | None = None) -> bool:
    """PUT or DELETE a layout; True when the server took it, else the error is shown."""
    try:
        target.client.action(method, path, token, layout)
    except ApiError as exc:
        st.error(f"The layout was not saved: {exc.message}")
        return False
    _cached_layout.clear()
    return True


def table_columns(layout: dict[str, Any], table: str) -> list[str]:
    """The columns a table shows, in the viewer's order."""
    return list(layout["layout"][f"{table}_columns"])
