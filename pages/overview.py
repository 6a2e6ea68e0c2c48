"""Overview: cluster health, workers, tasks, success rate with trends; CPU and memory; tasks by status."""

import streamlit as st

from ui import charts, data, session
from ui.api import ApiError
from ui.fmt import number, percent, trend_delta

WINDOWS = ["1h", "6h", "24h", "7d", "30d"]
HEALTH_BADGE_COLOURS = {"healthy": "green", "warning": "orange", "critical": "red"}


def demo_controls(target: data.Backend, viewer: session.Viewer, running: bool) -> None:
    """Admin-only start/stop of the demo fleet; a backend without the demo routes says so."""
    label, path = ("Stop demo", "/api/demo/stop") if running else ("Start demo fleet", "/api/demo/start")
    if not st.button(label, key="dtmon_demo", type="secondary" if running else "primary"):
        return
    try:
        target.client.post(path, viewer.token)
    except ApiError as exc:
        missing = exc.status_code in (404, 405)
        st.error("This backend has no demo fleet." if missing else f"Demo request failed: {exc.message}")
        return
    st.cache_data.clear()
    st.rerun()


def demo_running(target: data.Backend, viewer: session.Viewer) -> bool:
    """Whether the backend's demo fleet runs; False when the backend has no demo routes."""
    try:
        status = data.fetch_optional(target, viewer.token, "/api/demo")
    except ApiError:
        return False
    return bool(status and status.get("running"))


def empty_state(target: data.Backend, viewer: session.Viewer) -> None:
    """Nothing reported yet: say how to connect a worker, and offer admins the demo fleet."""
    st.info(
        f"No workers have reported yet — start an agent on each worker host with {data.agent_command()} "
        "(an admin creates ingest tokens with `POST /api/auth/tokens`), or load the Dask "
        "scheduler plugin; the README's Monitor your fleet section shows both."
    )
    if viewer.is_admin:
        demo_controls(target, viewer, demo_running(target, viewer))


def health_metric(cluster: dict) -> None:
    """Health score with its trend and a coloured status badge."""
    health = cluster.get("health") or {}
    delta, colour = trend_delta(health.get("trend"))
    st.metric("Cluster health", number(health.get("score")), delta, delta_color=colour,
              help="Score 0-100 from availability, failure rate, resource pressure and stale heartbeats.")
    status = health.get("status", "unknown")
    st.badge(status, color=HEALTH_BADGE_COLOURS.get(status, "gray"))


def headline_metrics(cluster: dict) -> None:
    """The four headline numbers, each with its change against one trend window ago."""
    trends = cluster.get("trends") or {}
    columns = st.columns(4, border=True)
    with columns[0]:
        health_metric(cluster)
    delta, colour = trend_delta(trends.get("workers"))
    columns[1].metric("Active workers", number(cluster.get("active_workers")), delta, delta_color=colour)
    columns[1].caption(f"{number(cluster.get('busy_workers'))} busy · "
                       f"{number(cluster.get('offline_workers'))} offline")
    delta, colour = trend_delta(trends.get("tasks"))
    columns[2].metric("Total tasks", number(cluster.get("total_tasks")), delta, delta_color=colour)
    delta, colour = trend_delta(trends.get("success_rate"), " pts")
    columns[3].metric("Success rate", percent(cluster.get("success_rate")), delta, delta_color=colour)


target, viewer = session.backend(), session.viewer()
st.title("Cluster overview")
cluster = data.load(data.section, target, viewer.token, "cluster")
if not cluster.get("total_workers") and not cluster.get("total_tasks"):
    empty_state(target, viewer)
    st.stop()

headline_metrics(cluster)
if viewer.is_admin and demo_running(target, viewer):
    demo_controls(target, viewer, running=True)

window = st.segmented_control("Window", WINDOWS, default="1h", key="dtmon_window") or "1h"
params = None if window == "1h" else {"range": window}
resources = data.load(data.section, target, viewer.token, "resources", params)
points = resources.get("points") or []
left, right = st.columns(2)
if points:
    left.altair_chart(charts.resource_chart(points, "cpu", "CPU usage across workers"), width="stretch")
    right.altair_chart(charts.resource_chart(points, "memory", "Memory usage across workers"),
                       width="stretch")
else:
    st.info(f"No CPU or memory samples in the last {window}: workers report them with each heartbeat.")
st.altair_chart(charts.tasks_by_status_chart(cluster.get("tasks_by_status") or {}), width="stretch")
