"""Tasks: status, type, worker and text filters with paging; choosing a task shows its events and error."""

from urllib.parse import quote

import streamlit as st

from ui import data, layouts, paging, session
from ui.fmt import number, priority_mark, status_mark
from ui.tables import TASK_COLUMNS, coloured, event_frame, task_frame

STATUSES = ["all", "pending", "running", "completed", "failed"]
SORTS = {"submitted": "Submitted", "priority": "Priority", "status": "Status", "duration": "Duration"}


def filters() -> dict:
    """Status choice, type, worker and search as API query parameters."""
    status = st.radio("Status", STATUSES, horizontal=True, key="tasks_status")
    cols = st.columns([2, 2, 3, 2, 1])
    return {
        "status": status,
        "type": cols[0].text_input("Type", key="tasks_type").strip(),
        "worker": cols[1].text_input("Worker", key="tasks_worker").strip(),
        "search": cols[2].text_input("Search", placeholder="task id, type or error text",
                                     key="tasks_search").strip(),
        "sort": cols[3].selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="tasks_sort"),
        "order": "desc",
        "limit": cols[4].selectbox("Rows", [25, 50, 100, 200], index=1, key="tasks_limit"),
    }


def task_detail(target: data.Backend, token: str, task_id: str) -> None:
    """One task: its fields, event history and full error text (shown as text, never markup)."""
    detail = data.load(data.fetch, target, token, f"/api/monitoring/tasks/{quote(task_id, safe='')}")
    task = detail.get("task") or {}
    st.subheader("Task detail")
    st.text(f"{task.get('id')} · type {task.get('type') or '—'} · worker {task.get('worker_id') or '—'}")
    cols = st.columns(4)
    cols[0].metric("Status", status_mark(task.get("status")))
    cols[1].metric("Priority", priority_mark(task.get("priority")))
    cols[2].metric("Duration", "—" if task.get("duration") is None else f"{number(task['duration'], 2)} s")
    cols[3].metric("Requirements", ", ".join(task.get("requirements") or []) or "none")
    if task.get("error"):
        st.markdown("**Error**")
        st.code(task["error"], language=None)
    st.markdown("**Event history**")
    st.dataframe(event_frame(detail.get("events") or []), hide_index=True, placeholder="—", key="task_events")


target, viewer = session.backend(), session.viewer()
st.title("Tasks")
params = filters()
result, page_number = paging.fetch(target, viewer.token, "/api/monitoring/tasks", params, "tasks_page")
if result.total == 0:
    filtered = any(params[k] not in ("", "all") for k in ("status", "type", "worker", "search"))
    st.info("No task matches these filters." if filtered else
            "No tasks yet — tasks appear when the coordinator or the Dask plugin reports them.")
    st.stop()

pages = paging.caption(result, page_number, params["limit"], "task")
st.dataframe(coloured(task_frame(result.rows), ["status"]), hide_index=True, placeholder="—",
             column_config=TASK_COLUMNS, key="tasks_table",
             column_order=layouts.table_columns(layouts.current(target, viewer.token), "task"))
paging.page_input(pages, "tasks_page")
chosen = st.selectbox("Open task", [None, *[row["id"] for row in result.rows]], key="tasks_open",
                      format_func=lambda t: "choose a task…" if t is None else t)
if chosen:
    task_detail(target, viewer.token, chosen)
