"""Workers: search, filters, server-side paging and sorting; choosing a worker opens its detail."""

from urllib.parse import quote

import pandas as pd
import streamlit as st

from ui import alerts_banner, charts, data, layouts, paging, session, worker_tests
from ui.api import ApiError
from ui.history_view import range_control
from ui.fmt import (HARDWARE_LABELS, ago, escape_markdown, gigabytes, hardware_label, health_mark, percent,
                    status_mark)
from ui.tables import coloured, task_table

SORTS = {"id": "ID", "hostname": "Hostname", "status": "Status", "health": "Health", "cpu": "CPU",
         "memory_percent": "Memory %", "tasks_completed": "Tasks completed",
         "success_rate": "Success rate", "last_seen": "Last seen", "rtt_ms": "Round trip"}
COLUMNS = {
    "id": st.column_config.TextColumn("ID", pinned=True),
    "status": st.column_config.TextColumn("Status"),
    "health": st.column_config.TextColumn("Health"),
    "cpu": st.column_config.ProgressColumn("CPU", format="%.0f%%", min_value=0, max_value=100),
    "memory_percent": st.column_config.ProgressColumn("Memory", format="%.0f%%", min_value=0, max_value=100),
    "hardware": st.column_config.ListColumn("Hardware"),
    "success_rate": st.column_config.NumberColumn("Success %", format="%.1f"),
    "tasks_completed": st.column_config.NumberColumn("Completed"),
}


def filters(hardware_types: list[str]) -> dict:
    """Search box and filters as API query parameters."""
    search = st.text_input("Search", placeholder="worker id, hostname, status or hardware",
                           key="workers_search")
    cols = st.columns(6)
    params = {
        "search": search.strip(),
        "status": cols[0].selectbox("Status", ["all", "active", "busy", "offline", "stopped", "removed"],
                                    key="workers_status"),
        "health": cols[1].selectbox("Health", ["all", "healthy", "warning", "critical", "unknown"],
                                    key="workers_health"),
        "hardware": cols[2].selectbox("Hardware", ["all", *hardware_types], key="workers_hardware",
                                      format_func=lambda h: "all" if h == "all" else hardware_label(h)),
        "sort": cols[3].selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="workers_sort"),
        "order": cols[4].selectbox("Order", ["asc", "desc"], key="workers_order"),
        "limit": cols[5].selectbox("Rows", [25, 50, 100, 200], index=1, key="workers_limit"),
    }
    return params


def worker_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows shaped for the table; every worker-supplied string stays plain text."""
    return pd.DataFrame([{
        "id": row["id"], "hostname": row.get("hostname"), "status": status_mark(row.get("status")),
        "health": health_mark(row.get("health")), "cpu": row.get("cpu"),
        "memory_percent": row.get("memory_percent"), "tasks_completed": row.get("tasks_completed"),
        "success_rate": row.get("success_rate"),
        "hardware": [hardware_label(h) for h in row.get("hardware") or []],
        "last_seen": ago(row.get("last_seen")),
    } for row in rows])


def remove_worker(target: data.Backend, token: str, worker_id: str) -> None:
    """Button callback: remove the worker, close its detail, and draw this run without it."""
    try:
        target.client.action("DELETE", worker_path(worker_id), token)
    except ApiError as exc:
        st.session_state["workers_message"] = ("error", exc.message)
        return
    st.session_state["workers_message"] = ("success", f"Removed {escape_markdown(worker_id)}: its alerts are "
                                           "resolved, its history stays (list it with Status: removed).")
    st.session_state["workers_open"] = None
    scope = f"worker:{worker_id}"
    alerts_banner.await_snapshot(target, lambda alerts: all(alert.get("scope") != scope for alert in alerts))


def removal_controls(target: data.Backend, viewer: session.Viewer, worker: dict) -> None:
    """Admins remove a worker that is gone for good; a removed one says when and by whom."""
    if worker.get("status") == "removed":
        by = escape_markdown(worker.get("removed_by") or "an admin")
        st.caption(f"Removed {ago(worker.get('removed_at'))} by {by}; it returns to the live views if it reports again.")
    elif viewer.is_admin:
        with st.popover("Remove worker", icon=":material/delete:"):
            st.caption("Hides it from the live views (workers, map, hardware, counts) and resolves its alerts; "
                       "its samples and tasks stay queryable. It returns if it reports again.")
            st.button("Remove", type="primary", key="worker_remove", on_click=remove_worker,
                      args=(target, viewer.token, worker["id"]))


def worker_path(worker_id: str) -> str:
    return f"/api/monitoring/workers/{quote(worker_id, safe='')}"


def worker_detail(target: data.Backend, viewer: session.Viewer, worker_id: str) -> None:
    """One worker: headline numbers, CPU/memory history, its tasks, hardware and capabilities."""
    window = range_control("worker_detail")  # the History page's control: same presets, same custom range
    detail = data.load(data.fetch, target, viewer.token, worker_path(worker_id), window)
    worker = detail.get("worker") or {}
    st.subheader("Worker detail")
    st.text(f"{worker.get('id')} on {worker.get('hostname') or 'unknown host'}")
    removal_controls(target, viewer, worker)
    cols = st.columns(5)
    cols[0].metric("Status", status_mark(worker.get("status")))
    cols[1].metric("Health", health_mark(worker.get("health")))
    cols[2].metric("CPU", percent(worker.get("cpu")))
    cols[3].metric("Memory", gigabytes(worker.get("memory")))  # the total goes below: both did not fit
    cols[3].caption(f"of {gigabytes(worker.get('memory_total'))}")
    cols[4].metric("Success rate", percent(worker.get("success_rate")))
    series = detail.get("series") or []
    if series:
        st.altair_chart(charts.worker_series_chart(series), width="stretch")
    else:
        st.caption("No heartbeat samples in this time range.")
    left, right = st.columns(2)
    left.markdown("**Running tasks**")
    task_table(left, detail.get("running") or [], "No task is running on this worker.")
    right.markdown("**Recent tasks**")
    task_table(right, detail.get("recent") or [], "This worker has not finished a task yet.")
    hardware_and_capabilities(worker)


def hardware_and_capabilities(worker: dict) -> None:
    """Hardware badges, GPUs and the capabilities object the worker registered with."""
    st.markdown("**Hardware**")
    badges = [hardware_label(h) for h in worker.get("hardware") or []]
    st.pills("Hardware", badges, key="worker_hw_badges", disabled=True, label_visibility="collapsed")
    gpus = worker.get("gpus") or []
    if gpus:
        st.dataframe(pd.DataFrame(gpus), hide_index=True, placeholder="—")
    st.markdown("**Capabilities**")
    st.json(worker.get("capabilities") or {}, expanded=False)


target, viewer = session.backend(), session.viewer()
st.title("Workers")
if message := st.session_state.pop("workers_message", None):
    getattr(st, message[0])(message[1])
fleet_types = [row["type"] for row in data.load(data.section, target, viewer.token, "hardware") or []]
params = filters(sorted(set(fleet_types) | set(HARDWARE_LABELS)))
result, page_number = paging.fetch(target, viewer.token, "/api/monitoring/workers", params, "workers_page")
if result.total == 0:
    filtered = any(params[k] not in ("", "all") for k in ("search", "status", "health", "hardware"))
    st.info("No worker matches these filters." if filtered else
            f"No workers have reported yet — start an agent on a worker host: {data.agent_command()}.")
    st.stop()

pages = paging.caption(result, page_number, params["limit"], "worker")
st.dataframe(coloured(worker_frame(result.rows), ["status", "health"]), hide_index=True, placeholder="—",
             column_config=COLUMNS, key="workers_table",
             column_order=layouts.table_columns(layouts.current(target, viewer.token), "worker"))
paging.page_input(pages, "workers_page")
chosen = st.selectbox("Open worker", [None, *[row["id"] for row in result.rows]], key="workers_open",
                      format_func=lambda w: "choose a worker…" if w is None else w)
if chosen:
    worker_detail(target, viewer, chosen)
    worker_tests.verdict(target, viewer.token, viewer.is_admin, chosen)
