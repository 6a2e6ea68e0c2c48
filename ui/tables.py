"""Table shapes shared by pages, so a task looks the same on the Workers and Tasks pages."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.fmt import mark_colour, plural, priority_mark, status_mark

TASK_COLUMNS = {
    "id": st.column_config.TextColumn("ID", pinned=True),
    "priority": st.column_config.TextColumn("Priority", help="Higher is more urgent"),
    "duration": st.column_config.NumberColumn("Duration (s)", format="%.2f"),
}


def task_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Task rows as a table; ids, types and errors stay plain text."""
    return pd.DataFrame([{
        "id": row["id"], "type": row.get("type"), "status": status_mark(row.get("status")),
        "priority": priority_mark(row.get("priority")), "worker": row.get("worker_id"),
        "submitted": row.get("submitted"), "duration": row.get("duration"),
        "error": (row.get("error") or "")[:200],
    } for row in rows], columns=["id", "type", "status", "priority", "worker", "submitted", "duration", "error"])


def task_table(container: Any, rows: list[dict[str, Any]], empty_text: str, key: str | None = None) -> None:
    """Draw task rows in a container, or a caption saying why there are none."""
    if not rows:
        container.caption(empty_text)
        return
    container.dataframe(coloured(task_frame(rows), ["status"]), hide_index=True, placeholder="—",
                        column_config=TASK_COLUMNS, key=key)


def coloured(frame: pd.DataFrame, columns: list[str]):
    """Colour health and status words in the given columns (the text itself stays plain)."""
    present = [c for c in columns if c in frame.columns]
    return frame.style.map(mark_colour, subset=present) if present and len(frame) else frame


def event_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    """A task's event history, oldest first as the API sends it."""
    return pd.DataFrame([{
        "time": event.get("ts"), "event": event.get("kind"), "worker": event.get("worker_id"),
        "status": event.get("status"), "error": event.get("error"),
    } for event in events], columns=["time", "event", "worker", "status", "error"])


def count_caption(total: int, shown: int, page: int, pages: int, noun: str) -> str:
    """'1,234 tasks · showing 50 on page 2 of 25'; the noun is given singular."""
    return f"{plural(total, noun)} · showing {shown} on page {page} of {pages}"
