"""History widgets and charts: the time-range control (also for worker detail) and Altair builders."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui.charts import time_x

PRESETS = ["1h", "6h", "24h", "7d", "30d"]
CUSTOM = "custom"
TIER_NAMES = {"raw": "raw samples", "minute": "minute rollups", "hour": "hour rollups"}


def range_control(key: str, default: str = "1h") -> dict[str, str]:
    """Preset or custom start/end; returns the query parameters every history route takes."""
    choice = st.segmented_control("Time range", PRESETS + [CUSTOM], default=default, key=f"{key}_range",
                                  format_func=lambda value: "Custom" if value == CUSTOM else value) or default
    if choice != CUSTOM:
        return {"range": choice}
    now = datetime.now(timezone.utc)
    cols = st.columns(4)
    start_day = cols[0].date_input("Start date (UTC)", now.date() - timedelta(days=1), key=f"{key}_start_day")
    start_time = cols[1].time_input("Start time", time(now.hour, 0), key=f"{key}_start_time")
    end_day = cols[2].date_input("End date (UTC)", now.date(), key=f"{key}_end_day")
    end_time = cols[3].time_input("End time", time(now.hour, now.minute), key=f"{key}_end_time")
    return {"start": utc_iso(start_day, start_time), "end": utc_iso(end_day, end_time)}


def utc_iso(day: date, moment: time) -> str:
    """A date and time picked in UTC as the API's ISO form."""
    return datetime.combine(day, moment, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


def describe_bucket(seconds: int) -> str:
    """'10-minute buckets' reads better than '600 s'."""
    if seconds % 86400 == 0:
        return f"{seconds // 86400}-day buckets"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour buckets"
    if seconds % 60 == 0:
        return f"{seconds // 60}-minute buckets"
    return f"{seconds}-second buckets"


def points_frame(points: list[dict[str, Any]]) -> pd.DataFrame:
    """History points as a frame with real timestamps."""
    frame = pd.DataFrame(points)
    if not frame.empty:
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def outcome_chart(points: list[dict[str, Any]]) -> alt.Chart:
    """Completed and failed tasks per bucket, stacked."""
    rows = [{"ts": p["ts"], "outcome": name, "tasks": p.get(name) or 0}
            for p in points for name in ("completed", "failed")]
    frame = points_frame(rows)
    colours = alt.Scale(domain=["completed", "failed"], range=["#2e9e5b", "#d64545"])
    return (alt.Chart(frame, title="Tasks finished per bucket").mark_bar()
            .encode(x=time_x(), y=alt.Y("tasks:Q", title="tasks", stack=True),
                    color=alt.Color("outcome:N", scale=colours, title=None),
                    tooltip=[alt.Tooltip("ts:T", format="%Y-%m-%d %H:%M"), "outcome:N", "tasks:Q"])
            .properties(height=240))


def line_chart(points: list[dict[str, Any]], field: str, title: str, axis: str,
               domain: list[float] | None = None) -> alt.Chart:
    """One series over time (success rate, worker count)."""
    frame = points_frame([{"ts": p["ts"], field: p.get(field)} for p in points]).dropna(subset=[field])
    scale = alt.Scale(domain=domain) if domain else alt.Undefined
    return (alt.Chart(frame, title=title).mark_line(point=len(frame) < 40, interpolate="monotone")
            .encode(x=time_x(), y=alt.Y(f"{field}:Q", title=axis, scale=scale),
                    tooltip=[alt.Tooltip("ts:T", format="%Y-%m-%d %H:%M"), alt.Tooltip(f"{field}:Q", format=".1f")])
            .properties(height=240))


def hardware_frame(rows: list[dict[str, Any]], label: Any) -> pd.DataFrame:
    """Per-hardware breakdown as a table (labels via the shared vocabulary)."""
    return pd.DataFrame([{
        "hardware": label(row["type"]), "workers": row.get("workers"), "CPU avg %": row.get("cpu_avg"),
        "CPU max %": row.get("cpu_max"), "memory avg %": row.get("memory_avg"),
        "memory max %": row.get("memory_max"), "completed": row.get("completed"), "failed": row.get("failed"),
        "success %": row.get("success_rate"),
    } for row in rows])


def result_chart(frame: pd.DataFrame, x: str, y: str, kind: str) -> alt.Chart:
    """Quick chart of a SQL result: line or bars of y over x (column names shown, not parsed)."""
    data = frame[[x, y]].head(5000).set_axis(["x", "y"], axis=1)
    x_type = "T" if pd.api.types.is_datetime64_any_dtype(data["x"]) else (
        "Q" if pd.api.types.is_numeric_dtype(data["x"]) else "N")
    base = alt.Chart(data)
    mark = base.mark_line(point=len(data) < 200) if kind == "line" else base.mark_bar()
    return mark.encode(x=alt.X(f"x:{x_type}", title=str(x)), y=alt.Y("y:Q", title=str(y)),
                       tooltip=[alt.Tooltip("x", title=str(x)), alt.Tooltip("y", title=str(y))]).properties(height=300)
