"""The overview's panels, each drawn by one function, in the order the viewer's layout lists them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from ui import charts, data
from ui.fmt import ago, escape_markdown, health_mark, number, percent, status_mark, trend_delta
from ui.tables import coloured, task_frame

WINDOWS = ["1h", "6h", "24h", "7d", "30d"]
HEALTH_BADGE_COLOURS = {"healthy": "green", "warning": "orange", "critical": "red"}
HEALTH_HELP = "Score 0-100 from availability, failure rate, resource pressure and stale heartbeats."
HALF_WIDTH = {"cpu", "memory", "tasks_by_status", "hardware"}  # charts that may share a row on wide screens


class Panels:
    """Draws panels for one viewer; fetches are shared between panels of the same run."""

    def __init__(self, target: data.Backend, token: str, cluster: dict) -> None:
        self.target, self.token, self.cluster = target, token, cluster
        self._resources: tuple[str, list] | None = None

    def draw(self, panel: str) -> None:
        """One panel by its layout name."""
        drawers: dict[str, Callable[[], None]] = {
            "health": self.health, "cpu": lambda: self.resource("cpu", "CPU usage across workers"),
            "memory": lambda: self.resource("memory", "Memory usage across workers"),
            "tasks_by_status": self.tasks_by_status, "hardware": self.hardware, "alerts": self.alerts,
            "attention": self.attention, "failed_tasks": self.failed_tasks,
        }
        drawers[panel]()

    def health(self) -> None:
        """The four headline cards; a horizontal container wraps them two by two on a phone."""
        cluster, trends = self.cluster, self.cluster.get("trends") or {}
        health = cluster.get("health") or {}
        status = health.get("status", "unknown")
        with st.container(horizontal=True, gap="small"):
            card("Cluster health", number(health.get("score")), health.get("trend"), help=HEALTH_HELP).badge(
                status, color=HEALTH_BADGE_COLOURS.get(status, "gray"))
            card("Active workers", number(cluster.get("active_workers")), trends.get("workers")).caption(
                f"{number(cluster.get('busy_workers'))} busy · {number(cluster.get('offline_workers'))} offline · "
                f"{number(cluster.get('stopped_workers'))} stopped")
            card("Total tasks", number(cluster.get("total_tasks")), trends.get("tasks"))
            card("Success rate", percent(cluster.get("success_rate")), trends.get("success_rate"), " pts").caption(
                "of every finished task on record (alert rules use their own window)")

    def window(self) -> tuple[str, list]:
        """The chart window (one control for both resource charts) and its points, fetched once."""
        if self._resources is None:
            chosen = st.segmented_control("Window", WINDOWS, default="1h", key="dtmon_window") or "1h"
            params = None if chosen == "1h" else {"range": chosen}
            resources = data.load(data.section, self.target, self.token, "resources", params)
            self._resources = (chosen, resources.get("points") or [])
        return self._resources

    def resource(self, metric: str, title: str) -> None:
        """CPU or memory, average and maximum across workers."""
        chosen, points = self.window()
        if points:
            st.altair_chart(charts.resource_chart(points, metric, title), width="stretch")
        else:
            st.info(f"No {metric} samples in the last {chosen}: workers report them with each heartbeat.")

    def tasks_by_status(self) -> None:
        st.altair_chart(charts.tasks_by_status_chart(self.cluster.get("tasks_by_status") or {}), width="stretch")

    def hardware(self) -> None:
        rows = data.load(data.section, self.target, self.token, "hardware") or []
        if rows:
            st.altair_chart(charts.hardware_chart(rows), width="stretch")
        else:
            st.caption("No hardware is known yet.")

    def alerts(self) -> None:
        """Firing alerts, newest first, each on one line."""
        st.markdown("**Firing alerts**")
        firing = data.load(data.fetch, self.target, self.token, "/api/alerts", {"state": "firing", "limit": 20})
        if not firing:
            st.caption("No alert is firing.")
        for alert in firing or []:
            st.markdown(f"{escape_markdown(alert.get('severity', ''))} · **{escape_markdown(alert['rule_name'])}** "
                        f"· {escape_markdown(alert.get('scope', ''))} · since {ago(alert.get('started_at'))}")

    def attention(self) -> None:
        """Workers whose health is critical or warning, worst first."""
        st.markdown("**Workers needing attention**")
        rows = [row for health in ("critical", "warning") for row in data.load(
            data.fetch, self.target, self.token, "/api/monitoring/workers", {"health": health, "limit": 10})]
        if not rows:
            st.caption("Every worker is healthy.")
            return
        frame = pd.DataFrame([{"id": r["id"], "health": health_mark(r.get("health")),
                               "status": status_mark(r.get("status")), "cpu": r.get("cpu"),
                               "memory": r.get("memory_percent")} for r in rows])
        st.dataframe(coloured(frame, ["health", "status"]), hide_index=True, placeholder="—", key="overview_attention")

    def failed_tasks(self) -> None:
        """The latest failed tasks with their error text."""
        st.markdown("**Recent failed tasks**")
        rows = data.load(data.fetch, self.target, self.token, "/api/monitoring/tasks",
                         {"status": "failed", "limit": 10})
        if not rows:
            st.caption("No task has failed.")
            return
        frame = task_frame(rows)[["id", "status", "worker", "error"]]
        st.dataframe(coloured(frame, ["status"]), hide_index=True, placeholder="—", key="overview_failed")


def card(label: str, value: str, trend: dict | None, unit: str = "", help: str | None = None):
    """A bordered headline number with its change over the trend window; the box takes extras below it."""
    box = st.container(border=True)
    delta, colour = trend_delta(trend, unit)
    box.metric(label, value, delta, delta_color=colour, help=help)
    return box


def rows(panels: list[str]) -> list[list[str]]:
    """Neighbouring charts share a row (two columns, stacked on a phone); other panels take a row."""
    grouped: list[list[str]] = []
    for panel in panels:
        if panel in HALF_WIDTH and grouped and len(grouped[-1]) == 1 and grouped[-1][0] in HALF_WIDTH:
            grouped[-1].append(panel)
        else:
            grouped.append([panel])
    return grouped


def draw_all(panels: Panels, names: list[str]) -> None:
    """Every panel of the layout in order."""
    for row in rows(names):
        if {"cpu", "memory"} & set(row):
            panels.window()  # drawn once, above the first resource chart rather than inside its column
        if len(row) == 1:
            panels.draw(row[0])
            continue
        for column, panel in zip(st.columns(2), row):
            with column:
                panels.draw(panel)
