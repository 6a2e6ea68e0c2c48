"""History: any time range of the fleet from raw samples or rollups, per hardware, with export."""

import httpx
import streamlit as st

from ui import charts, data, session
from ui.fmt import HARDWARE_LABELS, hardware_label, parse_time, percent
from ui.history_view import (TIER_NAMES, describe_bucket, hardware_frame, line_chart, outcome_chart,
                             range_control)

EXPORTS = [("samples", "Samples"), ("tasks", "Tasks"), ("workers", "Workers")]


def export_loader(base_url: str, token: str, dataset: str, fmt: str, window: dict):
    """Deferred download: fetched from the streamed export route only when clicked."""
    def load() -> bytes:
        with httpx.Client(base_url=base_url, timeout=300) as http:
            response = http.get(f"/api/export/{dataset}", params={"format": fmt, **window},
                                headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            return response.content

    return load


def when(value: str) -> str:
    """Range ends to the minute; the seconds of 'now' are noise on this page."""
    return parse_time(value).strftime("%Y-%m-%d %H:%M UTC")


def export_window(answer: dict) -> dict:
    """Export exactly the range the page shows."""
    return {"start": answer["start"], "end": answer["end"]}


target, viewer = session.backend(), session.viewer()
st.title("History")
params = range_control("history")
cols = st.columns(2)
worker = cols[0].text_input("Worker (optional)", key="history_worker", placeholder="worker id").strip()
fleet_types = [row["type"] for row in data.load(data.section, target, viewer.token, "hardware") or []]
hardware = cols[1].selectbox("Hardware", ["all", *sorted(set(fleet_types) | set(HARDWARE_LABELS))],
                             key="history_hardware",
                             format_func=lambda h: "all" if h == "all" else hardware_label(h))
query = {**params, "worker": worker or None, "hardware": None if hardware == "all" else hardware}
answer = data.load(data.fetch, target, viewer.token, "/api/history", query)
points = answer.get("points") or []
st.caption(f"{when(answer['start'])} → {when(answer['end'])} · served from {TIER_NAMES.get(answer['tier'], answer['tier'])}, "
           f"{describe_bucket(answer['bucket_seconds'])}")
if not points:
    st.info("Nothing was recorded in this range" + (" for this filter." if worker or hardware != "all" else "."))
    st.stop()

completed = sum(p.get("completed") or 0 for p in points)
failed = sum(p.get("failed") or 0 for p in points)
cpu = [p["cpu_avg"] for p in points if p.get("cpu_avg") is not None]
metrics = st.columns(5)
metrics[0].metric("Average CPU", percent(sum(cpu) / len(cpu)) if cpu else "–")
metrics[1].metric("Peak CPU", percent(max((p.get("cpu_max") or 0) for p in points)))
metrics[2].metric("Tasks completed", f"{completed:,}")
metrics[3].metric("Tasks failed", f"{failed:,}")
metrics[4].metric("Success rate", percent(100.0 * completed / (completed + failed)) if completed + failed else "–")

left, right = st.columns(2)
left.altair_chart(charts.resource_chart(points, "cpu", "CPU across workers"), width="stretch")
right.altair_chart(charts.resource_chart(points, "memory", "Memory across workers"), width="stretch")
left, right = st.columns(2)
left.altair_chart(outcome_chart(points), width="stretch")
right.altair_chart(line_chart(points, "success_rate", "Success rate", "%", [0, 100]), width="stretch")
st.altair_chart(line_chart(points, "workers", "Workers reporting", "workers"), width="stretch")

if answer.get("hardware"):
    st.subheader("Per hardware type")
    st.dataframe(hardware_frame(answer["hardware"], hardware_label), hide_index=True, placeholder="—",
                 key="history_hardware_table")

st.subheader("Export this range")
st.caption("Streamed by the API: scripts can call GET /api/export/{samples|tasks|workers}?format=csv|parquet&start&end.")
buttons = st.columns(len(EXPORTS) * 2)
for index, (dataset, title) in enumerate(EXPORTS):
    for offset, fmt in enumerate(("csv", "parquet")):
        buttons[index * 2 + offset].download_button(
            f"{title} ({fmt.upper()})", export_loader(target.base_url, viewer.token, dataset, fmt, export_window(answer)),
            file_name=f"{dataset}.{fmt}", key=f"history_export_{dataset}_{fmt}", on_click="ignore")
