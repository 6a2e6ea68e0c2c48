"""Overview: the panels of the viewer's layout (health cards, charts, alerts...), in their order."""

import streamlit as st

from ui import data, layouts, session
from ui.api import ApiError
from ui.overview_panels import Panels, draw_all


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


target, viewer = session.backend(), session.viewer()
st.title("Cluster overview")
cluster = data.load(data.section, target, viewer.token, "cluster")
if not cluster.get("total_workers") and not cluster.get("total_tasks"):
    empty_state(target, viewer)
    st.stop()

draw_all(Panels(target, viewer.token, cluster), layouts.current(target, viewer.token)["layout"]["overview"])
if viewer.is_admin and demo_running(target, viewer):
    demo_controls(target, viewer, running=True)
